//! Axon, the core: components with named, typed boxes, stepped round-robin
//! by a single-threaded scheduler on a `mio` poll loop.
//!
//! Start with [`Component`], [`Inbox`], [`Outbox`], [`link`] and
//! [`Scheduler`].
//!
//! Inside, the modules are layered; each uses only those on the lines
//! above it:
//!
//! 1. `signal`, `ring`: the step result and signals; the queue of a box.
//! 2. `proc`: a component's wake state (its [`Id`], whether it is queued,
//!    what waits in its inboxes), which is all a box knows of its owner.
//! 3. `boxes`: inboxes, outboxes, links.
//! 4. `adaptive`, `introspect`: boxes made at run time; the snapshot's data.
//! 5. `component`, `cx`, `scheduler`: the top layer, one unit by nature (a
//!    step gets a [`Cx`], a `Cx` reaches the scheduler, the scheduler runs
//!    components). The run loop is `scheduler/run.rs`.
//! 6. `threaded`, `timer`: components and services built on the above.

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
    link, link_refs, link_with_limit, unlink, Address, BoxLabel, BoxRef, Dir, Full, Inbox,
    LinkError, LinkErrorKind, LinkKind, Outbox, Port,
};
pub use component::{BoxSet, Component, DefaultBoxes};
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
