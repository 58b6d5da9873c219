//! OneShot, TriggeredOneShot and TriggeredSource: send a fixed message
//! once, once on a trigger, or on every trigger.
//!
//! [`OneShot`] sends its message as soon as it runs, then producer finished.
//!
//! | box     | carries  | meaning                                            |
//! |---------|----------|----------------------------------------------------|
//! | control | `Signal` | shutdown before it has sent: end without sending (forwarded); producer finished is ignored (a source has nothing upstream) |
//! | outbox  | `T`      | the message, once                                  |
//! | signal  | `Signal` | producer finished after the message                |
//!
//! [`TriggeredOneShot`] sends its message when the first message of any
//! kind arrives on `inbox`, then producer finished.
//!
//! | box     | carries  | meaning                                            |
//! |---------|----------|----------------------------------------------------|
//! | inbox   | `X`      | triggers (only the first counts)                   |
//! | control | `Signal` | shutdown: end now; producer finished before any trigger: end without sending (nothing can trigger it any more); both forwarded |
//! | outbox  | `T`      | the message, once                                  |
//! | signal  | `Signal` | producer finished after the message, or the control signal that ended it |
//!
//! [`TriggeredSource`] sends a clone of its message for every message on
//! `inbox`.
//!
//! | box     | carries  | meaning                                            |
//! |---------|----------|----------------------------------------------------|
//! | inbox   | `X`      | triggers                                           |
//! | control | `Signal` | producer finished: answer the triggers that wait, then end; shutdown: end now |
//! | outbox  | `T`      | one clone of the message per trigger               |
//! | signal  | `Signal` | the control signal that ended it, passed on        |
//!
//! All three keep a message refused by a full destination and pause until
//! the consumer takes one.
//!
//! ```
//! use kamaelia::axon::{link_refs, Inbox, Scheduler};
//! use kamaelia::pipeline;
//! use kamaelia::util::{DataSource, TriggeredSource};
//! // One "go" per input.
//! let p = pipeline![DataSource::new(vec![1, 2, 3]), TriggeredSource::<i32, _>::new("go")].unwrap();
//! let out: Inbox<&str> = Inbox::inbox();
//! link_refs(&p.outbox().unwrap(), &out.erased()).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(p);
//! s.run();
//! assert_eq!(out.len(), 3);
//! ```

use crate::axon::{BoxSet, Component, Cx, Full, Inbox, Outbox, Signal, Step};

use super::relay::{shutdown_now, Relay};

/// Sends one message, then producer finished; see the module documentation.
pub struct OneShot<T: 'static> {
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// The message, once.
    pub outbox: Outbox<T>,
    /// Producer finished after the message.
    pub signal: Outbox<Signal>,
    msg: Option<T>,
}

impl<T: 'static> OneShot<T> {
    /// Sends `msg` once.
    pub fn new(msg: T) -> Self {
        OneShot {
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "the message, once"),
            signal: Outbox::signal(),
            msg: Some(msg),
        }
    }
}

impl<T: 'static> Component for OneShot<T> {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                let _ = self.signal.send(sig);
                return Step::Done;
            }
        }
        if let Some(m) = self.msg.take() {
            if let Err(Full(m)) = self.outbox.send(m) {
                self.msg = Some(m);
                return Step::Pause;
            }
        }
        let _ = self.signal.send(Signal::ProducerFinished);
        Step::Done
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.control, self.outbox, self.signal);
    }
}

/// Sends one message on the first trigger; see the module documentation.
pub struct TriggeredOneShot<X: 'static, T: 'static> {
    /// Triggers.
    pub inbox: Inbox<X>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// The message, once.
    pub outbox: Outbox<T>,
    /// Producer finished after the message.
    pub signal: Outbox<Signal>,
    msg: Option<T>,
    triggered: bool,
    finishing: Option<Signal>,
}

impl<X: 'static, T: 'static> TriggeredOneShot<X, T> {
    /// Sends `msg` when the first trigger arrives.
    pub fn new(msg: T) -> Self {
        TriggeredOneShot {
            inbox: Inbox::new("inbox", "triggers (only the first counts)"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "the message, once"),
            signal: Outbox::signal(),
            msg: Some(msg),
            triggered: false,
            finishing: None,
        }
    }
}

impl<X: 'static, T: 'static> Component for TriggeredOneShot<X, T> {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        if shutdown_now(&self.control, &mut self.finishing, &self.signal) {
            return Step::Done;
        }
        if !self.triggered && self.inbox.recv().is_some() {
            self.triggered = true;
        }
        if self.triggered {
            if let Some(m) = self.msg.take() {
                if let Err(Full(m)) = self.outbox.send(m) {
                    self.msg = Some(m);
                    return Step::Pause;
                }
            }
            let _ = self.signal.send(Signal::ProducerFinished);
            return Step::Done;
        }
        if let Some(sig) = self.finishing.take() {
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}

/// Sends a clone of its message for every trigger; see the module
/// documentation.
pub struct TriggeredSource<X: 'static, T: Clone + 'static> {
    /// Triggers.
    pub inbox: Inbox<X>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// One message per trigger.
    pub outbox: Outbox<T>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    msg: T,
    relay: Relay<T>,
}

impl<X: 'static, T: Clone + 'static> TriggeredSource<X, T> {
    /// Sends a clone of `msg` for every trigger.
    pub fn new(msg: T) -> Self {
        TriggeredSource {
            inbox: Inbox::new("inbox", "triggers"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "one message per trigger"),
            signal: Outbox::signal(),
            msg,
            relay: Relay::new(),
        }
    }
}

impl<X: 'static, T: Clone + 'static> Component for TriggeredSource<X, T> {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        let msg = &self.msg;
        self.relay.step(
            &self.inbox,
            &self.control,
            &self.outbox,
            &self.signal,
            |_| Some(msg.clone()),
        )
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}
