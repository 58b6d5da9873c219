//! SimLink: a simulated network link, for testing protocols on a bad
//! network deterministically.
//!
//! Messages arriving on `inbox` come out of `outbox` after the link has
//! done to them what a network does: lose some, duplicate some, delay them
//! (fixed latency plus random jitter), hold some back so later ones
//! overtake them, and pass no more than a given number of bytes a second
//! (messages queue behind each other for transmission, and with a queue
//! limit the ones that do not fit are dropped). Every random choice comes
//! from a seeded [`SplitMix64`] and every delay from timers on the
//! scheduler's clock, so on virtual time the same seed gives the same
//! losses, the same order and the same times, every run.
//!
//! Each message draws the same six random numbers whatever the settings
//! (loss, duplicate, reorder and jitter for the message, reorder and
//! jitter for its duplicate), so which messages are lost depends only on
//! the seed, the loss rate and the message's position, not on the other
//! settings.
//!
//! The link is generic over the message type `T: Clone` (duplicates are
//! clones); the bandwidth limit needs a message's size, given by a function
//! ([`SimLink::new`] is for `Bytes`, sized by their length).
//!
//! | box     | carries  | meaning                                              |
//! |---------|----------|------------------------------------------------------|
//! | inbox   | `T`      | messages to carry                                    |
//! | control | `Signal` | producer finished: deliver everything in flight (at its time), then end; shutdown: end now, dropping what is in flight |
//! | outbox  | `T`      | the messages that made it, when they arrive          |
//! | dropped | `T`      | the messages lost or dropped by a full queue (sent only while this box is linked) |
//! | signal  | `Signal` | the control signal that ended it, passed on          |
//!
//! Counts are kept in [`LinkStats`], read through the handle from
//! [`SimLink::stats`]. A message refused by a full destination is kept
//! (and delivered late); no input is read until the consumer takes one.
//!
//! ```
//! use std::time::Duration;
//! use bytes::Bytes;
//! use kamaelia::internet::simulate::{LinkConfig, SimLink};
//! use kamaelia::testing::Harness;
//!
//! let mut h = Harness::new();
//! let link = SimLink::new(LinkConfig::new().latency(Duration::from_millis(20)).loss(0.5), 7);
//! let stats = link.stats();
//! let id = h.spawn(link);
//! let input = h.feeder::<Bytes>(id, "inbox").unwrap();
//! let out = h.collector::<Bytes>(id, "outbox").unwrap();
//! for i in 0..100u8 {
//!     input.send(Bytes::from(vec![i])).unwrap();
//! }
//! h.run_for(Duration::from_millis(19));
//! assert!(out.is_empty()); // still on the wire
//! h.run_for(Duration::from_millis(1));
//! let s = stats.get();
//! assert_eq!(out.len() as u64, s.delivered);
//! assert_eq!(s.delivered + s.lost, 100);
//! ```

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::axon::{Alarm, BoxSet, Component, Cx, Full, Inbox, Outbox, Signal, Step};

/// Most input messages taken in one step before yielding.
const BATCH: usize = 256;

/// SplitMix64: a small, fast, seedable pseudo-random generator (Steele,
/// Lea and Flood), good enough for simulations; not for cryptography.
///
/// ```
/// use kamaelia::internet::simulate::SplitMix64;
/// let mut a = SplitMix64::new(1);
/// let mut b = SplitMix64::new(1);
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!(a.next_f64() < 1.0);
/// assert!(a.below(10) < 10);
/// ```
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A number in `[0, n)` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        // Lemire's multiply-shift; the tiny bias does not matter here.
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }
}

/// What the link does to messages; all off by default (a perfect link
/// with no delay). Build it with the chained setters.
///
/// ```
/// use std::time::Duration;
/// use kamaelia::internet::simulate::LinkConfig;
/// let c = LinkConfig::new()
///     .loss(0.1)
///     .duplicate(0.01)
///     .reorder(0.05, Duration::from_millis(30))
///     .latency(Duration::from_millis(10))
///     .jitter(Duration::from_millis(2))
///     .bandwidth(125_000)
///     .queue_limit(64 * 1024);
/// assert_eq!(c.loss, 0.1);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkConfig {
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a delivered message arrives twice.
    pub duplicate: f64,
    /// Probability that a message is held back by `reorder_delay` (so
    /// later ones overtake it).
    pub reorder: f64,
    /// The extra delay of a held-back message.
    pub reorder_delay: Duration,
    /// The fixed delay of every message.
    pub latency: Duration,
    /// An extra delay, uniform in `[0, jitter]`, drawn per message.
    pub jitter: Duration,
    /// Bytes per second the link carries (`None`: no limit). Messages are
    /// sent one after another, each taking `size / bandwidth`.
    pub bandwidth: Option<u64>,
    /// With a bandwidth limit, the most bytes waiting to be sent; a message
    /// that does not fit is dropped (`None`: no limit).
    pub queue_limit: Option<usize>,
}

impl LinkConfig {
    /// A perfect link.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loses each message with probability `p`.
    pub fn loss(mut self, p: f64) -> Self {
        self.loss = p;
        self
    }

    /// Delivers each message twice with probability `p`.
    pub fn duplicate(mut self, p: f64) -> Self {
        self.duplicate = p;
        self
    }

    /// Holds each message back by `extra` with probability `p`.
    pub fn reorder(mut self, p: f64, extra: Duration) -> Self {
        self.reorder = p;
        self.reorder_delay = extra;
        self
    }

    /// Delays every message by `d`.
    pub fn latency(mut self, d: Duration) -> Self {
        self.latency = d;
        self
    }

    /// Adds a random delay in `[0, d]` to each message.
    pub fn jitter(mut self, d: Duration) -> Self {
        self.jitter = d;
        self
    }

    /// Carries at most `bytes_per_second`.
    pub fn bandwidth(mut self, bytes_per_second: u64) -> Self {
        assert!(bytes_per_second > 0, "a bandwidth must be above zero");
        self.bandwidth = Some(bytes_per_second);
        self
    }

    /// Drops messages that find more than `bytes` waiting to be sent.
    pub fn queue_limit(mut self, bytes: usize) -> Self {
        self.queue_limit = Some(bytes);
        self
    }
}

/// What a [`SimLink`] has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LinkStats {
    /// Messages taken in.
    pub received: u64,
    /// Bytes taken in.
    pub bytes_received: u64,
    /// Messages sent out (duplicates included).
    pub delivered: u64,
    /// Bytes sent out (duplicates included).
    pub bytes_delivered: u64,
    /// Messages lost at random.
    pub lost: u64,
    /// Messages dropped because the send queue was full.
    pub overflowed: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Messages (or copies) held back to be overtaken.
    pub reordered: u64,
}

/// A shared handle on a component's counters (`S`, a `Copy` struct of
/// them), usable after the component is spawned: the link's
/// ([`LinkStatsHandle`]) and the SRM sender's and receiver's.
#[derive(Debug, Default)]
pub struct StatsHandle<S: Copy>(Rc<Cell<S>>);

impl<S: Copy> Clone for StatsHandle<S> {
    fn clone(&self) -> Self {
        StatsHandle(self.0.clone())
    }
}

impl<S: Copy> StatsHandle<S> {
    /// The counters now.
    pub fn get(&self) -> S {
        self.0.get()
    }

    /// Changes the counters (for the component that keeps them).
    pub(crate) fn update(&self, f: impl FnOnce(&mut S)) {
        let mut s = self.0.get();
        f(&mut s);
        self.0.set(s);
    }
}

/// A handle on a [`SimLink`]'s counters, usable after it is spawned.
pub type LinkStatsHandle = StatsHandle<LinkStats>;

/// A simulated network link; see the module documentation.
pub struct SimLink<T: 'static> {
    /// Messages to carry.
    pub inbox: Inbox<T>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Messages that made it, when they arrive.
    pub outbox: Outbox<T>,
    /// Messages lost or dropped (sent only while linked).
    pub dropped: Outbox<T>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    cfg: LinkConfig,
    rng: SplitMix64,
    size: Box<dyn Fn(&T) -> usize>,
    in_flight: BTreeMap<(Instant, u64), T>,
    count: u64,
    busy_until: Option<Instant>,
    held: Option<T>,
    finishing: Option<Signal>,
    alarm: Alarm,
    stats: LinkStatsHandle,
}

impl SimLink<Bytes> {
    /// A link for byte messages, seeded with `seed`.
    pub fn new(cfg: LinkConfig, seed: u64) -> Self {
        Self::with_size(cfg, seed, Bytes::len)
    }
}

impl<T: Clone + 'static> SimLink<T> {
    /// A link for messages of any type; `size` tells a message's size in
    /// bytes (used only for the bandwidth limit).
    pub fn with_size(cfg: LinkConfig, seed: u64, size: impl Fn(&T) -> usize + 'static) -> Self {
        SimLink {
            inbox: Inbox::new("inbox", "messages to carry"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "messages that made it, when they arrive"),
            dropped: Outbox::new(
                "dropped",
                "messages lost or dropped (sent only while linked)",
            ),
            signal: Outbox::signal(),
            cfg,
            rng: SplitMix64::new(seed),
            size: Box::new(size),
            in_flight: BTreeMap::new(),
            count: 0,
            busy_until: None,
            held: None,
            finishing: None,
            alarm: Alarm::default(),
            stats: LinkStatsHandle::default(),
        }
    }

    /// A handle on the counters (keep it before spawning the link).
    pub fn stats(&self) -> LinkStatsHandle {
        self.stats.clone()
    }

    /// Messages on the wire now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len() + usize::from(self.held.is_some())
    }

    fn drop_msg(&self, m: T) {
        if self.dropped.is_linked() {
            let _ = self.dropped.send(m);
        }
    }

    fn schedule(&mut self, m: T, depart: Instant, reorder: f64, jitter: f64) {
        let mut at = depart + self.cfg.latency + self.cfg.jitter.mul_f64(jitter);
        if reorder < self.cfg.reorder {
            at += self.cfg.reorder_delay;
            self.stats.update(|s| s.reordered += 1);
        }
        self.count += 1;
        self.in_flight.insert((at, self.count), m);
    }

    /// Takes one message onto the link.
    fn admit(&mut self, m: T, now: Instant) {
        let size = (self.size)(&m);
        self.stats.update(|s| {
            s.received += 1;
            s.bytes_received += size as u64;
        });
        let r: [f64; 6] = std::array::from_fn(|_| self.rng.next_f64());
        let depart = match self.cfg.bandwidth {
            None => now,
            Some(bw) => {
                let start = self.busy_until.filter(|t| *t > now).unwrap_or(now);
                if let Some(limit) = self.cfg.queue_limit {
                    let backlog = (start - now).as_nanos() * bw as u128 / 1_000_000_000;
                    if backlog + size as u128 > limit as u128 {
                        self.stats.update(|s| s.overflowed += 1);
                        self.drop_msg(m);
                        return;
                    }
                }
                let tx_ns = (size as u128 * 1_000_000_000).div_ceil(bw as u128);
                let end = start + Duration::from_nanos(tx_ns.min(u64::MAX as u128) as u64);
                self.busy_until = Some(end);
                end
            }
        };
        if r[0] < self.cfg.loss {
            self.stats.update(|s| s.lost += 1);
            self.drop_msg(m);
            return;
        }
        if r[1] < self.cfg.duplicate {
            self.stats.update(|s| s.duplicated += 1);
            self.schedule(m.clone(), depart, r[4], r[5]);
        }
        self.schedule(m, depart, r[2], r[3]);
    }

    fn deliver(&mut self, m: T) -> bool {
        let size = (self.size)(&m);
        match self.outbox.send(m) {
            Ok(()) => {
                self.stats.update(|s| {
                    s.delivered += 1;
                    s.bytes_delivered += size as u64;
                });
                true
            }
            Err(Full(m)) => {
                self.held = Some(m);
                false
            }
        }
    }

    fn arm(&mut self, cx: &mut Cx) {
        let next = self.in_flight.keys().next().map(|(t, _)| *t);
        self.alarm.set_to(cx, next);
    }
}

impl<T: Clone + 'static> Component for SimLink<T> {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                self.alarm.clear(cx);
                let _ = self.signal.send(sig);
                return Step::Done;
            }
            if self.finishing.is_none() {
                self.finishing = Some(sig);
            }
        }
        let now = cx.now();
        let mut taken = 0;
        loop {
            if let Some(m) = self.held.take() {
                if !self.deliver(m) {
                    return Step::Pause;
                }
            }
            while let Some(entry) = self.in_flight.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let m = entry.remove();
                if !self.deliver(m) {
                    return Step::Pause;
                }
            }
            if taken == BATCH {
                self.arm(cx);
                return Step::Yield;
            }
            let Some(m) = self.inbox.recv() else { break };
            taken += 1;
            self.admit(m, now);
        }
        if self.in_flight.is_empty() {
            if let Some(sig) = self.finishing.take() {
                self.alarm.clear(cx);
                let _ = self.signal.send(sig);
                return Step::Done;
            }
        }
        self.arm(cx);
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.dropped, self.signal);
    }
}
