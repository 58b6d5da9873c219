//! PureTransformer: applies a function to each message; `None` drops it.
//!
//! Kamaelia's `PureTransformer(fn)`: each message on `inbox` becomes
//! `f(msg)` on `outbox`, unless `f` returns `None`, which filters the
//! message out. Order is kept.
//!
//! | box     | carries  | meaning                                             |
//! |---------|----------|-----------------------------------------------------|
//! | inbox   | `I`      | messages to transform                               |
//! | control | `Signal` | producer finished: transform what waits, then end; shutdown: end now |
//! | outbox  | `O`      | `f(msg)` for every message where it is `Some`       |
//! | signal  | `Signal` | the control signal that ended it, passed on         |
//!
//! A full destination keeps the transformed message in the component, which
//! stops reading until the consumer takes one: nothing is dropped or
//! reordered. Unlike the original (which emitted a fresh producer-finished
//! and ignored Axon's shutdown), it forwards the signal it received and
//! honours both.
//!
//! ```
//! use kamaelia::axon::{link_refs, Inbox, Scheduler};
//! use kamaelia::pipeline;
//! use kamaelia::util::{DataSource, PureTransformer};
//! let p = pipeline![
//!     DataSource::new(1..=6),
//!     PureTransformer::new(|x: i32| (x % 2 == 0).then(|| x * 10)),
//! ]
//! .unwrap();
//! let out: Inbox<i32> = Inbox::inbox();
//! link_refs(&p.outbox().unwrap(), &out.erased()).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(p);
//! s.run();
//! assert_eq!(std::iter::from_fn(|| out.recv()).collect::<Vec<_>>(), [20, 40, 60]);
//! ```

use crate::axon::{BoxSet, Component, Cx, Inbox, Outbox, Signal, Step};

use super::relay::Relay;

/// Applies a function to each message; see the module documentation.
pub struct PureTransformer<I: 'static, O: 'static, F> {
    /// Messages to transform.
    pub inbox: Inbox<I>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Transformed messages.
    pub outbox: Outbox<O>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    f: F,
    relay: Relay<O>,
}

impl<I: 'static, O: 'static, F: FnMut(I) -> Option<O> + 'static> PureTransformer<I, O, F> {
    /// Emits `f(msg)` for each message, dropping those where it is `None`.
    pub fn new(f: F) -> Self {
        PureTransformer {
            inbox: Inbox::new("inbox", "messages to transform"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "transformed messages"),
            signal: Outbox::signal(),
            f,
            relay: Relay::new(),
        }
    }
}

impl<I: 'static, O: 'static, F: FnMut(I) -> Option<O> + 'static> Component
    for PureTransformer<I, O, F>
{
    fn step(&mut self, _cx: &mut Cx) -> Step {
        self.relay.step(
            &self.inbox,
            &self.control,
            &self.outbox,
            &self.signal,
            &mut self.f,
        )
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}
