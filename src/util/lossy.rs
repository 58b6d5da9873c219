//! LossyConnector: passes `inbox` to `outbox`, dropping what a full
//! destination refuses (Kamaelia's `KA/Util/LossyConnector.py`).
//!
//! Put it in front of a consumer that may fall behind (a bounded inbox, or
//! a link made with `link_with_limit`) when losing messages is better than
//! slowing the producer down: it never holds a message back and never
//! sleeps on a full destination, so its producer is never pushed back.
//!
//! **Counted, not silent.** Every dropped message is counted in a shared
//! [`Counter`] that can be read during or after the run
//! ([`LossyConnector::dropped`]), and logged at `debug` level. The original
//! dropped them without a trace.
//!
//! | box     | carries  | meaning                                           |
//! |---------|----------|---------------------------------------------------|
//! | inbox   | `T`      | messages                                          |
//! | control | `Signal` | producer finished (or failed): pass on (or drop) what waits, then end; shutdown: end now |
//! | outbox  | `T`      | the messages the destination had room for, in order |
//! | signal  | `Signal` | the control signal that ended it, passed on       |
//!
//! A message either goes through at once or is dropped: nothing is kept
//! or reordered. Finishing never waits for room either, so `ProducerFinished`
//! ends it in the step that takes it (after the input already waiting has
//! been passed on or dropped). `Shutdown` ends it at once; input still
//! waiting is then counted by the scheduler as undelivered, not as dropped.
//! (The original answered either signal with a fresh `producerFinished`.)
//!
//! An unlinked outbox keeps what is sent to it (the usual rule), so
//! nothing is dropped until the outbox leads to a box with a limit.
//!
//! ```
//! use kamaelia::axon::{link, Inbox, Scheduler, Signal};
//! use kamaelia::util::{DataSource, LossyConnector};
//! let source = DataSource::new(vec![1, 2, 3, 4, 5]);
//! let lossy = LossyConnector::<i32>::new();
//! let dropped = lossy.dropped();
//! let slow = Inbox::bounded("inbox", "a consumer that reads nothing yet", 2);
//! let sig = Inbox::control();
//! link(&source.outbox, &lossy.inbox).unwrap();
//! link(&source.signal, &lossy.control).unwrap();
//! link(&lossy.outbox, &slow).unwrap();
//! link(&lossy.signal, &sig).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(source);
//! s.spawn(lossy);
//! s.run(); // the source was never held up
//! assert_eq!((slow.recv(), slow.recv(), slow.recv()), (Some(1), Some(2), None));
//! assert_eq!(dropped.get(), 3);
//! assert_eq!(sig.recv(), Some(Signal::ProducerFinished));
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::axon::{BoxSet, Component, Cx, Inbox, Outbox, Signal, Step};

use super::relay::{finish_or_pause, shutdown_now, BATCH};

/// A count shared between a component and whoever wants to read it: a
/// clone reads the same number, during the run or after it (the component
/// may be gone by then). It can be read from another thread.
#[derive(Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// The count now.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Adds one; returns the new count.
    pub(crate) fn bump(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }
}

impl fmt::Debug for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counter({})", self.get())
    }
}

/// Passes messages on, dropping (and counting) those a full destination
/// refuses; see the module documentation.
pub struct LossyConnector<T: 'static> {
    /// Messages in.
    pub inbox: Inbox<T>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// The messages the destination had room for.
    pub outbox: Outbox<T>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    dropped: Counter,
    finishing: Option<Signal>,
}

impl<T: 'static> LossyConnector<T> {
    /// A connector that drops what does not fit.
    pub fn new() -> Self {
        LossyConnector {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "the messages the destination had room for"),
            signal: Outbox::signal(),
            dropped: Counter::new(),
            finishing: None,
        }
    }

    /// A handle on the number of messages dropped so far.
    pub fn dropped(&self) -> Counter {
        self.dropped.clone()
    }
}

impl<T: 'static> Default for LossyConnector<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: 'static> Component for LossyConnector<T> {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        if shutdown_now(&self.control, &mut self.finishing, &self.signal) {
            return Step::Done;
        }
        for _ in 0..BATCH {
            let Some(m) = self.inbox.recv() else { break };
            if self.outbox.send(m).is_err() {
                let n = self.dropped.bump();
                log::debug!("LossyConnector: destination full, message dropped ({n} so far)");
            }
        }
        // A refusal this step does not matter: if the inbox is empty we
        // pause, and a delivery wakes us as usual.
        finish_or_pause(&self.inbox, &mut self.finishing, &self.signal)
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}
