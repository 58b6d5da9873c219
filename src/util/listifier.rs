//! TwoSourceListifier: pairs up the messages of two inboxes.
//!
//! The n-th message on `a` and the n-th message on `b` go out together as
//! `(A, B)` on `outbox`, in arrival order, as soon as both have arrived.
//!
//! | box     | carries   | meaning                                           |
//! |---------|-----------|---------------------------------------------------|
//! | a       | `A`       | first members of the pairs                        |
//! | b       | `B`       | second members of the pairs                       |
//! | control | `Signal`  | producer finished: send the pairs that can be made, then end; shutdown: end now |
//! | outbox  | `(A, B)`  | the pairs, in order                               |
//! | signal  | `Signal`  | the control signal that ended it, passed on       |
//!
//! A message waiting for its partner stays in its inbox; the component
//! sleeps until the partner is delivered (it never spins on the waiting
//! side, and a bounded `a` or `b` keeps slowing its producer). Messages
//! still unpaired when it ends are counted as undelivered by the scheduler.
//! A pair refused by a full destination is kept and the component pauses
//! until the consumer takes one.
//!
//! ```
//! use kamaelia::testing::Harness;
//! use kamaelia::util::TwoSourceListifier;
//! let mut h = Harness::new();
//! let id = h.spawn(TwoSourceListifier::<&str, u32>::new());
//! let a = h.feeder::<&str>(id, "a").unwrap();
//! let b = h.feeder::<u32>(id, "b").unwrap();
//! let out = h.collector::<(&str, u32)>(id, "outbox").unwrap();
//! a.send("x").unwrap();
//! a.send("y").unwrap();
//! b.send(1).unwrap();
//! h.run_until_idle();
//! assert_eq!(out.drain(), [("x", 1)]);
//! b.send(2).unwrap();
//! h.run_until_idle();
//! assert_eq!(out.drain(), [("y", 2)]);
//! ```

use crate::axon::{BoxSet, Component, Cx, Inbox, Outbox, Signal, Step};

use super::relay::Pairer;

/// Pairs up two inboxes; see the module documentation.
pub struct TwoSourceListifier<A: 'static, B: 'static> {
    /// First members.
    pub a: Inbox<A>,
    /// Second members.
    pub b: Inbox<B>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// The pairs.
    pub outbox: Outbox<(A, B)>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    pairer: Pairer<(A, B)>,
}

impl<A: 'static, B: 'static> TwoSourceListifier<A, B> {
    /// A new pairer.
    pub fn new() -> Self {
        TwoSourceListifier {
            a: Inbox::new("a", "first members of the pairs"),
            b: Inbox::new("b", "second members of the pairs"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "(a, b) pairs, in order"),
            signal: Outbox::signal(),
            pairer: Pairer::new(),
        }
    }
}

impl<A: 'static, B: 'static> Default for TwoSourceListifier<A, B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: 'static, B: 'static> Component for TwoSourceListifier<A, B> {
    fn step(&mut self, cx: &mut Cx) -> Step {
        self.pairer.step(
            cx,
            &self.a,
            &self.b,
            &self.control,
            &self.outbox,
            &self.signal,
            |x, y| (x, y),
        )
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.a, self.b, self.control, self.outbox, self.signal);
    }
}
