//! ByteRateRequestControl: says "read n units now" at a steady rate
//! (Kamaelia's `ByteRate_RequestControl`).
//!
//! It drives a prompted reader (one that reads n bytes or lines per
//! request) at `rate` units per second, in requests of `chunk_size` units
//! (or `chunk_rate` requests per second). The first request goes out when
//! it starts, then one every period (`chunk_size / rate` seconds), on
//! drift-free deadlines (the k-th at `start + k * period`, never accumulated
//! from late wakes). It sleeps between requests (the original busy-waited).
//!
//! **Exact amounts.** A fractional chunk size is honoured over time by
//! carrying the remainder: after k requests the total asked for is exactly
//! `floor(k * chunk_size)`, so with `rate = 100` and `chunk_rate = 3` the
//! requests go 33, 33, 34, 33, 33, 34, ... Nothing is lost or invented: over
//! T seconds the sum is `floor(rate * T)` plus at most one chunk (the
//! request made at the start). A request that would be 0 (chunk sizes
//! below 1) is not sent; its share is carried.
//!
//! **Catching up.** If the component wakes late (a busy system) or its
//! destination was full, the requests that fell due meanwhile are made at
//! once: as one request for their total when aggregation is allowed, or as
//! several requests of their own sizes otherwise.
//!
//! | box     | carries  | meaning                                           |
//! |---------|----------|---------------------------------------------------|
//! | control | `Signal` | producer finished or shutdown: stop, passing the signal on |
//! | outbox  | `usize`  | "read n units now"                                |
//! | signal  | `Signal` | the control signal that ended it                  |
//!
//! A request refused by a full destination is not lost: it is made again
//! (folded into the catch-up) when there is room.
//!
//! ```
//! use std::time::Duration;
//! use kamaelia::testing::Harness;
//! use kamaelia::util::ByteRateRequestControl;
//! let mut h = Harness::new();
//! let id = h.spawn(ByteRateRequestControl::with_chunk_rate(100.0, 3.0));
//! let out = h.collector::<usize>(id, "outbox").unwrap();
//! h.run_for(Duration::from_secs(2));
//! assert_eq!(out.drain(), [33, 33, 34, 33, 33, 34, 33]); // at 0, 1/3, 2/3, ... 2 s
//! ```

use std::time::Duration;

use crate::axon::{BoxSet, Component, Cx, Inbox, Outbox, Periodic, Signal, Step};

use super::relay::BATCH;

/// Emits "read n units" requests at a steady rate; see the module
/// documentation.
pub struct ByteRateRequestControl {
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Requests: how many units to read now.
    pub outbox: Outbox<usize>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    // Units asked for after k requests: floor(k * num / den).
    num: f64,
    den: f64,
    period: Duration,
    aggregate: bool,
    ticker: Option<Periodic>,
    /// Requests fallen due (the one at the start included).
    due: u64,
    /// Requests made.
    sent: u64,
}

fn check(what: &str, v: f64) {
    assert!(
        v.is_finite() && v > 0.0,
        "ByteRateRequestControl needs a positive {what}, not {v}"
    );
}

impl ByteRateRequestControl {
    /// `rate` units per second in requests of `chunk_size` units (which may
    /// be fractional).
    ///
    /// # Panics
    ///
    /// If either is not a positive finite number.
    pub fn with_chunk_size(rate: f64, chunk_size: f64) -> Self {
        check("rate", rate);
        check("chunk size", chunk_size);
        Self::build(chunk_size / rate, chunk_size, 1.0)
    }

    /// `rate` units per second in `chunk_rate` requests per second
    /// (Kamaelia's default is 10).
    ///
    /// # Panics
    ///
    /// If either is not a positive finite number.
    pub fn with_chunk_rate(rate: f64, chunk_rate: f64) -> Self {
        check("rate", rate);
        check("chunk rate", chunk_rate);
        Self::build(1.0 / chunk_rate, rate, chunk_rate)
    }

    fn build(period_secs: f64, num: f64, den: f64) -> Self {
        ByteRateRequestControl {
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "requests: read n units now"),
            signal: Outbox::signal(),
            num,
            den,
            period: Duration::from_secs_f64(period_secs).max(Duration::from_nanos(1)),
            aggregate: false,
            ticker: None,
            due: 0,
            sent: 0,
        }
    }

    /// Catch up with one request for the total (true) or with one request
    /// per missed period (false, the default).
    pub fn allow_aggregation(mut self, on: bool) -> Self {
        self.aggregate = on;
        self
    }

    /// Units per request (possibly fractional).
    pub fn chunk_size(&self) -> f64 {
        self.num / self.den
    }

    /// Time between requests.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Units asked for by the first `k` requests.
    fn total(&self, k: u64) -> usize {
        ((k as f64) * self.num / self.den).floor() as usize
    }

    /// Makes the requests that are due: `Pause` when done or refused by a
    /// full destination (which wakes us when it has room), `Yield` when
    /// stopped by the batch limit.
    fn emit(&mut self) -> Step {
        if self.aggregate {
            if self.sent < self.due {
                let n = self.total(self.due) - self.total(self.sent);
                if n > 0 && self.outbox.send(n).is_err() {
                    return Step::Pause;
                }
                self.sent = self.due;
            }
            return Step::Pause;
        }
        let mut made = 0;
        while self.sent < self.due {
            if made == BATCH {
                return Step::Yield;
            }
            let n = self.total(self.sent + 1) - self.total(self.sent);
            if n > 0 {
                if self.outbox.send(n).is_err() {
                    return Step::Pause;
                }
                made += 1;
            }
            self.sent += 1;
        }
        Step::Pause
    }
}

impl Component for ByteRateRequestControl {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if let Some(sig) = self.control.recv() {
            if let Some(t) = self.ticker.as_mut() {
                t.stop(cx);
            }
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        match self.ticker.as_mut() {
            None => {
                self.ticker = Some(Periodic::start(cx, self.period));
                self.due = 1;
            }
            Some(t) => self.due += t.due(cx),
        }
        self.emit()
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.control, self.outbox, self.signal);
    }
}
