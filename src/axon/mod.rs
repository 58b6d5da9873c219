//! Axon, the core: components with named, typed boxes, stepped round-robin
//! by a single-threaded scheduler on a `mio` poll loop.
//!
//! Start with [`Component`], [`Inbox`], [`Outbox`], [`link`] and
//! [`Scheduler`].

mod adaptive;
mod boxes;
mod component;
mod cx;
mod introspect;
mod proc;
mod ring;
mod scheduler;
mod signal;
mod threaded;
mod timer;

pub use adaptive::{AdaptiveBoxes, NoSuchBox};
pub(crate) use boxes::epoch;
pub use boxes::{
    link, link_refs, link_with_limit, unlink, Address, BoxLabel, BoxRef, BoxSet, Dir, Full, Inbox,
    LinkError, LinkErrorKind, LinkKind, Outbox, Port,
};
pub use component::{Component, DefaultBoxes};
pub use cx::Cx;
pub use introspect::{BoxInfo, ComponentInfo, LinkInfo, RunState, Snapshot};
pub use proc::Id;
pub use scheduler::{
    Ended, Exit, ExitKind, Readiness, Remote, Scheduler, Service, ServiceError, Stats, StepResult,
    TimerKey, TraceEntry,
};
pub use signal::{Failure, Signal, Step};
pub use threaded::{console_reader, line_reader, Closed, ThreadBoxes, Threaded, DEFAULT_QUEUE_LEN};
pub use timer::{Alarm, Periodic, TimerRequest, TimerService};
