//! Everyday components: sources, transformers, fan-out, rate control,
//! ticks, console output, lossy connection, marshalling, and test helpers.

mod backplane;
mod choose;
mod chooser;
mod chunkifier;
mod console;
mod data_source;
mod detuple;
mod fanout;
mod listifier;
mod lossy;
mod marshalling;
mod one_shot;
mod pass_through;
mod rate_control;
mod rate_limit;
pub(crate) mod relay;
mod testing_helpers;
mod tick;
mod transformer;
mod ttl;

pub use backplane::{Backplane, Join, PublishTo, SubscribeTo};
pub use choose::Choose;
pub use chooser::{Chooser, ForwardIteratingChooser};
pub use chunkifier::{ChunkNamer, Chunkifier};
pub use console::ConsoleEchoer;
pub use data_source::DataSource;
pub use detuple::Detuple;
pub use fanout::Fanout;
pub use listifier::TwoSourceListifier;
pub use lossy::{Counter, LossyConnector};
pub use marshalling::{
    DeMarshaller, Decode, DemarshalError, Encode, Func, LengthError, Marshal, Marshaller, Standard,
};
pub use one_shot::{OneShot, TriggeredOneShot, TriggeredSource};
pub use pass_through::PassThrough;
pub use rate_control::ByteRateRequestControl;
pub use rate_limit::MessageRateLimit;
pub use testing_helpers::{Comparator, SharedBuffer, StopSystem, TestResult, TestResults};
pub use tick::{OneShotTick, PeriodicTick};
pub use transformer::PureTransformer;
pub use ttl::{Ttl, TtlEnd, TtlReport};
