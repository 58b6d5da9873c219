//! What travels on `control` and `signal` boxes, and what `step` returns.

use std::fmt;
use std::sync::Arc;

/// What a component's `step` returns to the scheduler.
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// "I have more to do": run me again next round.
    Yield,
    /// "Nothing to do until a message, timer, socket or thread wakes me."
    /// A component that pauses while one of its inboxes holds a message is
    /// not put to sleep (unless it holds its input back on purpose).
    Pause,
    /// "I have finished": the component is removed with its links.
    Done,
}

/// The small message of Kamaelia's shutdown convention, carried by `control`
/// inboxes and `signal` outboxes.
///
/// * `ProducerFinished`: "finish what you have, pass it on, then stop".
/// * `Shutdown`: "stop now".
/// * `Failed`: the producer ended because of an error; treat it as producer
///   finished, and pass the reason on.
#[derive(Clone, Debug)]
pub enum Signal {
    /// The producer has sent its last message.
    ProducerFinished,
    /// Stop now, without flushing.
    Shutdown,
    /// The producer ended with an error.
    Failed(Failure),
}

impl Signal {
    /// True for `Shutdown`: stop without flushing.
    pub fn is_shutdown(&self) -> bool {
        matches!(self, Signal::Shutdown)
    }
    /// True for `ProducerFinished` and `Failed`: flush, then stop.
    pub fn is_finish(&self) -> bool {
        !self.is_shutdown()
    }
    /// A failure signal carrying `err`.
    pub fn failed<E: std::error::Error + Send + Sync + 'static>(err: E) -> Signal {
        Signal::Failed(Failure(Arc::new(err)))
    }
}

impl PartialEq for Signal {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Signal::ProducerFinished, Signal::ProducerFinished) => true,
            (Signal::Shutdown, Signal::Shutdown) => true,
            (Signal::Failed(a), Signal::Failed(b)) => a.to_string() == b.to_string(),
            _ => false,
        }
    }
}

/// The reason carried by [`Signal::Failed`]; cheap to clone, can cross threads.
#[derive(Clone)]
pub struct Failure(pub Arc<dyn std::error::Error + Send + Sync + 'static>);

impl Failure {
    /// The error as its concrete type, if it is one.
    pub fn downcast_ref<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.0.downcast_ref::<E>()
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Failure({})", self.0)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}
