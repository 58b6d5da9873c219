//! Everyday components: sources, transformers, fan-out, rate control,
//! ticks, console output, and test helpers.

mod backplane;
mod choose;
mod data_source;

pub use backplane::{Backplane, Join, PublishTo, SubscribeTo};
pub use choose::Choose;
pub use data_source::DataSource;
