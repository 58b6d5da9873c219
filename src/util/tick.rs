//! PeriodicTick and OneShotTick: a message every period, or once after a
//! delay (Kamaelia's `PeriodicTick` and `SingleTick`).
//!
//! [`PeriodicTick`] sends a clone of its message every `period`, the k-th
//! at `start + k * period` (drift-free: a late wake does not shift the
//! following ticks). Ticks that fell due while it could not run, or while
//! its destination was full, are all sent when it can (none is lost).
//!
//! | box     | carries  | meaning                                           |
//! |---------|----------|---------------------------------------------------|
//! | control | `Signal` | any signal: stop ticking, pass it on, end         |
//! | outbox  | `T`      | the message, once per period                      |
//! | signal  | `Signal` | the control signal that ended it                  |
//!
//! [`OneShotTick`] sends its message once, `delay` after it starts, then
//! producer finished.
//!
//! | box     | carries  | meaning                                           |
//! |---------|----------|---------------------------------------------------|
//! | control | `Signal` | any signal before the tick: cancel it, pass the signal on, end |
//! | outbox  | `T`      | the message, once                                 |
//! | signal  | `Signal` | producer finished after the tick, or the control signal that ended it |
//!
//! Both sleep on the scheduler's timers (the originals ran a thread each).
//!
//! ```
//! use std::time::Duration;
//! use kamaelia::testing::Harness;
//! use kamaelia::util::{OneShotTick, PeriodicTick};
//! let mut h = Harness::new();
//! let p = h.spawn(PeriodicTick::new(Duration::from_secs(1), "tick"));
//! let o = h.spawn(OneShotTick::new(Duration::from_millis(2500), "ding"));
//! let ticks = h.collector::<&str>(p, "outbox").unwrap();
//! let ding = h.collector::<&str>(o, "outbox").unwrap();
//! h.run_for(Duration::from_secs(3));
//! assert_eq!(ticks.drain(), ["tick"; 3]);
//! assert_eq!(ding.drain(), ["ding"]);
//! ```

use std::time::Duration;

use crate::axon::{Alarm, BoxSet, Component, Cx, Full, Inbox, Outbox, Periodic, Signal, Step};

use super::relay::BATCH;

/// A message every period; see the module documentation.
pub struct PeriodicTick<T: Clone + 'static> {
    /// Stops it.
    pub control: Inbox<Signal>,
    /// The ticks.
    pub outbox: Outbox<T>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    period: Duration,
    msg: T,
    ticker: Option<Periodic>,
    owed: u64,
}

impl<T: Clone + 'static> PeriodicTick<T> {
    /// Sends `msg` every `period`, the first one `period` after it starts.
    ///
    /// # Panics
    ///
    /// If `period` is zero.
    pub fn new(period: Duration, msg: T) -> Self {
        assert!(!period.is_zero(), "PeriodicTick needs a non-zero period");
        PeriodicTick {
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "the message, once per period"),
            signal: Outbox::signal(),
            period,
            msg,
            ticker: None,
            owed: 0,
        }
    }

    /// Ticks counted so far (sent or still owed).
    pub fn ticks(&self) -> u64 {
        self.ticker.as_ref().map_or(0, Periodic::ticks)
    }
}

impl<T: Clone + 'static> Component for PeriodicTick<T> {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if let Some(sig) = self.control.recv() {
            if let Some(t) = self.ticker.as_mut() {
                t.stop(cx);
            }
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        match self.ticker.as_mut() {
            None => self.ticker = Some(Periodic::start(cx, self.period)),
            Some(t) => self.owed += t.due(cx),
        }
        let mut sent = 0;
        while self.owed > 0 {
            if sent == BATCH {
                return Step::Yield;
            }
            if self.outbox.send(self.msg.clone()).is_err() {
                // Woken when the consumer takes one (or by the next tick).
                return Step::Pause;
            }
            self.owed -= 1;
            sent += 1;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.control, self.outbox, self.signal);
    }
}

/// A message once, after a delay; see the module documentation.
pub struct OneShotTick<T: 'static> {
    /// Cancels it.
    pub control: Inbox<Signal>,
    /// The message, once.
    pub outbox: Outbox<T>,
    /// Producer finished after the message.
    pub signal: Outbox<Signal>,
    delay: Duration,
    msg: Option<T>,
    alarm: Alarm,
}

impl<T: 'static> OneShotTick<T> {
    /// Sends `msg` once, `delay` after it starts.
    pub fn new(delay: Duration, msg: T) -> Self {
        OneShotTick {
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "the message, once"),
            signal: Outbox::signal(),
            delay,
            msg: Some(msg),
            alarm: Alarm::default(),
        }
    }
}

impl<T: 'static> Component for OneShotTick<T> {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if let Some(sig) = self.control.recv() {
            self.alarm.clear(cx);
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        let now = cx.now();
        let at = match self.alarm.deadline() {
            Some(at) => at,
            None => {
                let at = now + self.delay;
                self.alarm.set(cx, at);
                at
            }
        };
        if now < at {
            return Step::Pause;
        }
        if let Some(m) = self.msg.take() {
            if let Err(Full(m)) = self.outbox.send(m) {
                self.msg = Some(m);
                return Step::Pause;
            }
        }
        // Fired already, unless the delay was zero.
        self.alarm.clear(cx);
        let _ = self.signal.send(Signal::ProducerFinished);
        Step::Done
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.control, self.outbox, self.signal);
    }
}
