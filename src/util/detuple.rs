//! Detuple: picks one field out of each message (Kamaelia's SimpleDetupler).
//!
//! Each message on `inbox` is passed through a picker, typically a tuple
//! field: `Detuple::new(|t: (String, u32)| t.1)`, or the helpers
//! [`Detuple::first`] and [`Detuple::second`] for pairs. Order is kept.
//!
//! | box     | carries  | meaning                                           |
//! |---------|----------|---------------------------------------------------|
//! | inbox   | `I`      | messages (tuples) to pick from                    |
//! | control | `Signal` | producer finished: pick from what waits, then end; shutdown: end now |
//! | outbox  | `O`      | the picked field of each message                  |
//! | signal  | `Signal` | the control signal that ended it, passed on       |
//!
//! A full destination keeps the picked value and pauses the component until
//! the consumer takes one. The original also drained its inbox before
//! honouring a shutdown; here shutdown means "stop now", as everywhere in
//! this crate.
//!
//! ```
//! use kamaelia::axon::{link_refs, Inbox, Scheduler};
//! use kamaelia::pipeline;
//! use kamaelia::util::{DataSource, Detuple};
//! let p = pipeline![
//!     DataSource::new(vec![("a", 1), ("b", 2)]),
//!     Detuple::new(|t: (&str, i32)| t.1),
//! ]
//! .unwrap();
//! let out: Inbox<i32> = Inbox::inbox();
//! link_refs(&p.outbox().unwrap(), &out.erased()).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(p);
//! s.run();
//! assert_eq!((out.recv(), out.recv()), (Some(1), Some(2)));
//! ```

use crate::axon::{BoxSet, Component, Cx, Inbox, Outbox, Signal, Step};

use super::relay::Relay;

/// Picks one field out of each message; see the module documentation.
pub struct Detuple<I: 'static, O: 'static, F> {
    /// Messages to pick from.
    pub inbox: Inbox<I>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// The picked fields.
    pub outbox: Outbox<O>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    pick: F,
    relay: Relay<O>,
}

impl<I: 'static, O: 'static, F: FnMut(I) -> O + 'static> Detuple<I, O, F> {
    /// Emits `pick(msg)` for each message.
    pub fn new(pick: F) -> Self {
        Detuple {
            inbox: Inbox::new("inbox", "tuples to pick a field from"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "the picked field of each message"),
            signal: Outbox::signal(),
            pick,
            relay: Relay::new(),
        }
    }
}

impl<A: 'static, B: 'static> Detuple<(A, B), A, fn((A, B)) -> A> {
    /// Emits the first field of each pair.
    pub fn first() -> Self {
        Detuple::new(|(a, _)| a)
    }
}

impl<A: 'static, B: 'static> Detuple<(A, B), B, fn((A, B)) -> B> {
    /// Emits the second field of each pair.
    pub fn second() -> Self {
        Detuple::new(|(_, b)| b)
    }
}

impl<I: 'static, O: 'static, F: FnMut(I) -> O + 'static> Component for Detuple<I, O, F> {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        let pick = &mut self.pick;
        self.relay.step(
            &self.inbox,
            &self.control,
            &self.outbox,
            &self.signal,
            |m| Some(pick(m)),
        )
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}
