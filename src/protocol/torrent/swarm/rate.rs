//! Rates on caller time: [`RateMeter`] measures bytes a second over a
//! sliding window (the choker ranks peers by it), [`RateLimit`] is a token
//! bucket that says how many bytes may go now and when to try again
//! (global and per-torrent limits are two buckets asked together with
//! [`RateLimit::take_all`]).
//!
//! Both take the time as an argument (`Instant`s from the scheduler's
//! clock, so virtual time in tests) and neither allocates after it is made.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use kamaelia::protocol::torrent::swarm::{RateLimit, RateMeter};
//! let t0 = Instant::now();
//! let mut meter = RateMeter::new(Duration::from_secs(20), 20, t0);
//! for s in 0..20 {
//!     meter.record(t0 + Duration::from_secs(s), 100_000);
//! }
//! assert_eq!(meter.rate(t0 + Duration::from_secs(20)), 100_000);
//!
//! let mut limit = RateLimit::new(1_000_000, 16_384, t0); // 1 MB/s, 16 KiB burst
//! assert_eq!(limit.take(t0, 50_000), 16_384);            // the burst at once
//! assert_eq!(limit.take(t0, 50_000), 0);                 // then nothing,
//! let later = limit.ready_at(t0, 16_384);                // until then
//! assert_eq!(later - t0, Duration::from_nanos(16_384_000));
//! assert_eq!(limit.take(later, 50_000), 16_384);
//! ```

use std::time::{Duration, Instant};

const NANOS: u128 = 1_000_000_000;

/// Bytes a second over a sliding window of fixed slots.
///
/// The window is cut into `slots` equal slots; bytes are added to the slot
/// of their time and a slot is cleared when the window slides past it. The
/// rate divides the bytes in the window by the time the window covers (the
/// full slots plus the elapsed part of the current one, and never more than
/// the time since the meter began, so a new peer is not underrated).
#[derive(Clone, Debug)]
pub struct RateMeter {
    origin: Instant,
    slot: Duration,
    counts: Vec<u64>,
    /// The absolute number of the newest slot written.
    head: u64,
    total: u64,
}

impl RateMeter {
    /// A meter over `window`, in `slots` slots (at least 1), starting at
    /// `now`.
    pub fn new(window: Duration, slots: usize, now: Instant) -> Self {
        let slots = slots.max(1);
        let slot = (window / slots as u32).max(Duration::from_nanos(1));
        RateMeter {
            origin: now,
            slot,
            counts: vec![0; slots],
            head: 0,
            total: 0,
        }
    }

    /// `bytes` moved at `now` (a time before the newest one recorded
    /// counts in the newest slot).
    pub fn record(&mut self, now: Instant, bytes: u64) {
        let at = self.slot_index(now).max(self.head);
        self.advance(at);
        let n = self.counts.len() as u64;
        self.counts[(at % n) as usize] += bytes;
        self.total += bytes;
    }

    /// Bytes a second over the window ending at `now`.
    pub fn rate(&self, now: Instant) -> u64 {
        let now_slot = self.slot_index(now).max(self.head);
        let n = self.counts.len() as u64;
        let mut sum: u128 = 0;
        for k in 0..n.min(self.head + 1) {
            let abs = self.head - k;
            if abs + n > now_slot {
                sum += u128::from(self.counts[(abs % n) as usize]);
            }
        }
        let since = now.saturating_duration_since(self.origin).as_nanos();
        let slot = self.slot.as_nanos();
        let into_current = since.saturating_sub(u128::from(now_slot) * slot);
        let covered = ((n as u128 - 1) * slot + into_current).min(since).max(slot);
        (sum * NANOS / covered) as u64
    }

    /// Every byte ever recorded.
    pub fn total(&self) -> u64 {
        self.total
    }

    fn slot_index(&self, now: Instant) -> u64 {
        (now.saturating_duration_since(self.origin).as_nanos() / self.slot.as_nanos()) as u64
    }

    /// Slides the window so slot `to` is the newest, clearing the slots it
    /// passes.
    fn advance(&mut self, to: u64) {
        if to <= self.head {
            return;
        }
        let n = self.counts.len() as u64;
        // Past a whole window every slot is stale; `n` steps clear them all.
        for k in 1..=(to - self.head).min(n) {
            self.counts[((self.head + k) % n) as usize] = 0;
        }
        self.head = to;
    }
}

/// A token bucket: up to `burst` bytes at once, refilled at `rate` bytes a
/// second on caller time, exactly (tokens are kept in byte-nanoseconds,
/// so no rounding drifts over a long run). A rate of 0 means unlimited.
#[derive(Clone, Debug)]
pub struct RateLimit {
    rate: u64,
    burst: u64,
    /// Tokens, in bytes times 10^9.
    tokens: u128,
    last: Instant,
}

impl RateLimit {
    /// `rate` bytes a second (0: unlimited), at most `burst` (at least 1)
    /// at once; the bucket starts full.
    pub fn new(rate: u64, burst: u64, now: Instant) -> Self {
        let burst = burst.max(1);
        RateLimit {
            rate,
            burst,
            tokens: u128::from(burst) * NANOS,
            last: now,
        }
    }

    /// No limit.
    pub fn unlimited(now: Instant) -> Self {
        RateLimit::new(0, 1, now)
    }

    /// Changes the rate and burst, keeping the tokens earned so far (up to
    /// the new burst).
    pub fn set(&mut self, rate: u64, burst: u64, now: Instant) {
        self.refill(now);
        self.rate = rate;
        self.burst = burst.max(1);
        self.tokens = self.tokens.min(u128::from(self.burst) * NANOS);
    }

    /// The rate (0: unlimited).
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// Bytes that may go at `now`.
    pub fn available(&mut self, now: Instant) -> u64 {
        if self.rate == 0 {
            return u64::MAX;
        }
        self.refill(now);
        (self.tokens / NANOS) as u64
    }

    /// Takes up to `want` bytes at `now`; returns how many may go.
    pub fn take(&mut self, now: Instant, want: u64) -> u64 {
        let granted = want.min(self.available(now));
        self.consume(granted);
        granted
    }

    /// When `want` bytes (capped at the burst) will be available: `now`
    /// if they are already.
    pub fn ready_at(&mut self, now: Instant, want: u64) -> Instant {
        if self.rate == 0 {
            return now;
        }
        self.refill(now);
        let need = u128::from(want.min(self.burst)) * NANOS;
        if self.tokens >= need {
            return now;
        }
        let nanos = (need - self.tokens).div_ceil(u128::from(self.rate));
        now + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Takes up to `want` bytes from every bucket at once (a global and a
    /// per-torrent limit): the grant is what the tightest allows, taken
    /// from each.
    pub fn take_all(limits: &mut [&mut RateLimit], now: Instant, want: u64) -> u64 {
        let granted = limits
            .iter_mut()
            .map(|l| l.available(now))
            .fold(want, u64::min);
        for l in limits.iter_mut() {
            l.consume(granted);
        }
        granted
    }

    /// When `want` bytes will be available from every bucket.
    pub fn ready_at_all(limits: &mut [&mut RateLimit], now: Instant, want: u64) -> Instant {
        limits
            .iter_mut()
            .map(|l| l.ready_at(now, want))
            .max()
            .unwrap_or(now)
    }

    fn consume(&mut self, bytes: u64) {
        if self.rate != 0 {
            self.tokens -= u128::from(bytes) * NANOS;
        }
    }

    fn refill(&mut self, now: Instant) {
        let Some(elapsed) = now.checked_duration_since(self.last) else {
            return; // time never runs backwards for us
        };
        self.last = now;
        let cap = u128::from(self.burst) * NANOS;
        self.tokens = (self.tokens + elapsed.as_nanos() * u128::from(self.rate)).min(cap);
    }
}
