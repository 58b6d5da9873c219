//! MessageRateLimit: lets messages through no faster than a given rate,
//! after first collecting a buffer of them.
//!
//! Kamaelia's `MessageRateLimit(messages_per_second, buffer)`: messages
//! wait in `inbox` until `buffer` of them have arrived (or the producer has
//! finished), then they are released one at a time, at most
//! `messages_per_second` of them per second. When the inbox runs dry it
//! goes back to collecting a buffer. Between releases the component sleeps
//! on a timer (the original spun in a timing loop).
//!
//! Releases are never closer together than one period: a release held up
//! by a late wake or a full destination delays the following ones rather
//! than letting a burst through. With a bounded `inbox` smaller than
//! `buffer`, a full inbox counts as a full buffer.
//!
//! | box     | carries  | meaning                                           |
//! |---------|----------|---------------------------------------------------|
//! | inbox   | `T`      | messages to release                               |
//! | control | `Signal` | producer finished: release what waits (at the rate, without waiting for a full buffer), then end; shutdown: end now |
//! | outbox  | `T`      | the messages, in order, at most `messages_per_second` a second |
//! | signal  | `Signal` | the control signal that ended it, passed on       |
//!
//! A message refused by a full destination is kept and sent as soon as the
//! consumer takes one.
//!
//! ```
//! use std::time::Duration;
//! use kamaelia::testing::Harness;
//! use kamaelia::util::MessageRateLimit;
//! let mut h = Harness::new();
//! let id = h.spawn(MessageRateLimit::<u32>::new(10.0, 3));
//! let input = h.feeder::<u32>(id, "inbox").unwrap();
//! let out = h.collector::<u32>(id, "outbox").unwrap();
//! for i in 0..3 {
//!     input.send(i).unwrap();
//! }
//! h.run_until_idle();
//! assert_eq!(out.drain(), [0]); // the first at once,
//! h.run_for(Duration::from_millis(100));
//! assert_eq!(out.drain(), [1]); // the next 100 ms later
//! ```

use std::time::{Duration, Instant};

use crate::axon::{Alarm, BoxSet, Component, Cx, Full, Inbox, Outbox, Signal, Step};

use super::relay::shutdown_now;

/// Releases messages at a limited rate; see the module documentation.
pub struct MessageRateLimit<T: 'static> {
    /// Messages to release.
    pub inbox: Inbox<T>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// The released messages.
    pub outbox: Outbox<T>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    period: Duration,
    buffer: usize,
    releasing: bool,
    next_at: Option<Instant>,
    alarm: Alarm,
    held: Option<T>,
    finishing: Option<Signal>,
}

impl<T: 'static> MessageRateLimit<T> {
    /// At most `messages_per_second`, once `buffer` messages have arrived
    /// (Kamaelia's default buffer is 60; 0 counts as 1).
    ///
    /// # Panics
    ///
    /// If `messages_per_second` is not a positive finite number.
    pub fn new(messages_per_second: f64, buffer: usize) -> Self {
        assert!(
            messages_per_second.is_finite() && messages_per_second > 0.0,
            "MessageRateLimit needs a positive rate, not {messages_per_second}"
        );
        MessageRateLimit {
            inbox: Inbox::new("inbox", "messages to release"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "the messages, at a limited rate"),
            signal: Outbox::signal(),
            period: Duration::from_secs_f64(1.0 / messages_per_second).max(Duration::from_nanos(1)),
            buffer: buffer.max(1),
            releasing: false,
            next_at: None,
            alarm: Alarm::default(),
            held: None,
            finishing: None,
        }
    }

    /// The shortest time between two releases.
    pub fn period(&self) -> Duration {
        self.period
    }

    fn arm(&mut self, cx: &mut Cx, at: Instant) {
        self.alarm.set(cx, at);
    }

    fn stop_timer(&mut self, cx: &mut Cx) {
        self.alarm.clear(cx);
    }
}

impl<T: 'static> Component for MessageRateLimit<T> {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if shutdown_now(&self.control, &mut self.finishing, &self.signal) {
            self.stop_timer(cx);
            return Step::Done;
        }
        let now = cx.now();
        if let Some(m) = self.held.take() {
            if let Err(Full(m)) = self.outbox.send(m) {
                self.held = Some(m);
                return Step::Pause;
            }
            self.next_at = Some(now + self.period);
        }
        loop {
            if !self.releasing {
                let want = self
                    .buffer
                    .min(self.inbox.limit().unwrap_or(usize::MAX))
                    .max(1);
                let finishing = self.finishing.is_some() && !self.inbox.is_empty();
                if self.inbox.len() >= want || finishing {
                    self.releasing = true;
                } else {
                    break;
                }
            }
            if self.inbox.is_empty() {
                // Run dry: collect a new buffer.
                self.releasing = false;
                break;
            }
            if let Some(at) = self.next_at.filter(|at| *at > now) {
                self.arm(cx, at);
                cx.hold_input();
                return Step::Pause;
            }
            let m = self.inbox.recv().expect("checked non-empty");
            if let Err(Full(m)) = self.outbox.send(m) {
                self.held = Some(m);
                return Step::Pause;
            }
            self.next_at = Some(now + self.period);
        }
        if self.inbox.is_empty() {
            if let Some(sig) = self.finishing.take() {
                self.stop_timer(cx);
                let _ = self.signal.send(sig);
                return Step::Done;
            }
        } else {
            // Collecting a buffer: the input waits on purpose.
            cx.hold_input();
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}
