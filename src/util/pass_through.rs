//! PassThrough: passes `inbox` to `outbox` and `control` to `signal`.
//!
//! A do-nothing stage, useful as a placeholder in a pipeline or graphline
//! and as the simplest example of the shutdown convention.
//!
//! | box     | carries  | meaning                                           |
//! |---------|----------|---------------------------------------------------|
//! | inbox   | `T`      | messages                                          |
//! | control | `Signal` | producer finished: pass on what waits, then end; shutdown: end now |
//! | outbox  | `T`      | the same messages, in order                       |
//! | signal  | `Signal` | the control signal that ended it, passed on       |
//!
//! A full destination pauses it until the consumer takes a message.
//!
//! ```
//! use kamaelia::axon::{link_refs, Inbox, Scheduler, Signal};
//! use kamaelia::pipeline;
//! use kamaelia::util::{DataSource, PassThrough};
//! let p = pipeline![DataSource::new(vec!["x", "y"]), PassThrough::<&str>::new()].unwrap();
//! let out: Inbox<&str> = Inbox::inbox();
//! let sig: Inbox<Signal> = Inbox::control();
//! link_refs(&p.outbox().unwrap(), &out.erased()).unwrap();
//! link_refs(&p.find("signal").unwrap(), &sig.erased()).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(p);
//! s.run();
//! assert_eq!((out.recv(), out.recv()), (Some("x"), Some("y")));
//! assert_eq!(sig.recv(), Some(Signal::ProducerFinished));
//! ```

use crate::axon::{BoxSet, Component, Cx, Inbox, Outbox, Signal, Step};

use super::relay::Relay;

/// Passes messages and signals on; see the module documentation.
pub struct PassThrough<T: 'static> {
    /// Messages in.
    pub inbox: Inbox<T>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Messages out.
    pub outbox: Outbox<T>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    relay: Relay<T>,
}

impl<T: 'static> PassThrough<T> {
    /// A pass-through stage.
    pub fn new() -> Self {
        PassThrough {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "the messages from inbox"),
            signal: Outbox::signal(),
            relay: Relay::new(),
        }
    }
}

impl<T: 'static> Default for PassThrough<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: 'static> Component for PassThrough<T> {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        self.relay
            .step(&self.inbox, &self.control, &self.outbox, &self.signal, Some)
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}
