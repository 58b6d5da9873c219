//! Timers beyond `Cx::wake_at`: drift-free periodic ticks, and the seed's
//! timer service.
//!
//! # TimerService
//!
//! A shared component, found by name through the services registry, that
//! delivers a message to a given inbox after a delay: the shape sketched in
//! the seeds (`send((delay, (component, "control")), "timerbox")`).
//!
//! | box     | carries        | meaning                                  |
//! |---------|----------------|------------------------------------------|
//! | inbox   | `TimerRequest` | deliver this message there after a delay |
//! | control | `Signal`       | shutdown: stop now; producer finished: stop once every pending timer has fired |
//! | signal  | `Signal`       | sent once when it ends                   |
//!
//! ```
//! use std::time::Duration;
//! use kamaelia::axon::{Inbox, TimerRequest};
//! let wakeup: Inbox<&'static str> = Inbox::new("wakeup", "timer deliveries");
//! let req = TimerRequest::new(Duration::from_secs(5), &wakeup.address(), "ding");
//! // link an outbox to the service's "inbox" and send `req` on it.
//! # drop(req);
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::boxes::{Address, Inbox, Outbox};
use super::component::BoxSet;
use super::component::Component;
use super::cx::Cx;
use super::scheduler::{Service, ServiceError, TimerKey};
use super::signal::{Signal, Step};

/// One timer for a component that wants waking at one time, a time that
/// changes as it works: `set` moves the timer (cancelling the old one) only
/// when the time differs from the one armed; `clear` cancels it.
///
/// ```
/// use kamaelia::axon::Alarm;
/// let alarm = Alarm::default();
/// assert_eq!(alarm.deadline(), None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Alarm(Option<(Instant, TimerKey)>);

impl Alarm {
    /// Wakes the component at `at` (one timer, moved if it was armed for
    /// another time).
    pub fn set(&mut self, cx: &mut Cx, at: Instant) {
        self.set_to(cx, Some(at));
    }

    /// Like [`Alarm::set`]; `None` clears it.
    pub fn set_to(&mut self, cx: &mut Cx, at: Option<Instant>) {
        if self.deadline() == at {
            return;
        }
        self.clear(cx);
        if let Some(t) = at {
            self.0 = Some((t, cx.wake_at(t)));
        }
    }

    /// Cancels the timer, if armed.
    pub fn clear(&mut self, cx: &mut Cx) {
        if let Some((_, k)) = self.0.take() {
            cx.cancel_timer(k);
        }
    }

    /// The time it is armed for (it may have fired already).
    pub fn deadline(&self) -> Option<Instant> {
        self.0.map(|(t, _)| t)
    }
}

/// Drift-free periodic ticks: the k-th tick falls due at `start + k *
/// period`, however late the component got to run, so ticks never drift.
/// The period need not be a whole number of nanoseconds
/// ([`Periodic::per_second`]: 24 ticks a second fall at 41,666,666 ns,
/// 83,333,333 ns, ..., and exactly 1 s for the 24th).
///
/// ```
/// use std::time::{Duration, Instant};
/// use kamaelia::axon::Periodic;
/// let t0 = Instant::now();
/// let mut p = Periodic::new(t0, Duration::from_millis(100));
/// assert_eq!(p.due_at(t0 + Duration::from_millis(99)), 0);
/// assert_eq!(p.due_at(t0 + Duration::from_millis(350)), 3); // ticks 1..=3
/// assert_eq!(p.next_deadline(), t0 + Duration::from_millis(400));
///
/// let mut f = Periodic::per_second(t0, 24);
/// assert_eq!(f.next_deadline(), t0 + Duration::from_nanos(41_666_666));
/// assert_eq!(f.due_at(t0 + Duration::from_secs(1)), 24);
/// ```
#[derive(Clone, Debug)]
pub struct Periodic {
    start: Instant,
    /// The period is `num / den` nanoseconds.
    num: u128,
    den: u128,
    ticks: u64,
    alarm: Alarm,
}

impl Periodic {
    /// Ticks every `period` after `start` (the first at `start + period`).
    pub fn new(start: Instant, period: Duration) -> Self {
        assert!(!period.is_zero(), "a periodic tick needs a non-zero period");
        Periodic::ratio(start, period.as_nanos(), 1)
    }

    /// Ticks `per_second` times a second after `start`, each tick at the
    /// whole nanosecond at or before its exact time.
    pub fn per_second(start: Instant, per_second: u32) -> Self {
        assert!(per_second > 0, "a periodic tick needs a non-zero rate");
        Periodic::ratio(start, 1_000_000_000, u128::from(per_second))
    }

    fn ratio(start: Instant, num: u128, den: u128) -> Self {
        Periodic {
            start,
            num,
            den,
            ticks: 0,
            alarm: Alarm::default(),
        }
    }

    /// Ticks every `period` from now, and arms the first wake-up.
    pub fn start(cx: &mut Cx, period: Duration) -> Self {
        let mut p = Periodic::new(cx.now(), period);
        p.arm(cx);
        p
    }

    /// When tick `k` falls due: computed from `k` each time (exact integer
    /// arithmetic, never accumulated).
    fn at(&self, k: u64) -> Instant {
        let ns = u128::from(k) * self.num / self.den;
        self.start + Duration::new((ns / 1_000_000_000) as u64, (ns % 1_000_000_000) as u32)
    }

    /// The deadline of the next tick not yet counted.
    pub fn next_deadline(&self) -> Instant {
        self.at(self.ticks + 1)
    }

    /// Ticks counted so far.
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// Counts the ticks that fell due by `now` and not yet counted.
    pub fn due_at(&mut self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.start).as_nanos();
        // `at` rounds each deadline down to a whole nanosecond, so the
        // quotient can fall one short of the ticks due: step past it.
        let mut total = (elapsed * self.den / self.num) as u64;
        while self.at(total + 1) <= now {
            total += 1;
        }
        let new = total.saturating_sub(self.ticks);
        self.ticks = self.ticks.max(total);
        new
    }

    /// Counts the ticks due now and arms a wake-up for the next one.
    pub fn due(&mut self, cx: &mut Cx) -> u64 {
        let n = self.due_at(cx.now());
        self.arm(cx);
        n
    }

    fn arm(&mut self, cx: &mut Cx) {
        let next = self.next_deadline();
        self.alarm.set(cx, next);
    }

    /// Stops ticking: cancels the armed wake-up.
    pub fn stop(&mut self, cx: &mut Cx) {
        self.alarm.clear(cx);
    }
}

/// A request to the [`TimerService`]: deliver a message to an inbox after a
/// delay.
pub struct TimerRequest {
    delay: Duration,
    fire: Box<dyn FnMut() -> bool>,
}

impl TimerRequest {
    /// Deliver `msg` to `target` after `delay`.
    pub fn new<T: 'static>(delay: Duration, target: &Address<T>, msg: T) -> Self {
        let target = target.clone();
        let mut msg = Some(msg);
        TimerRequest {
            delay,
            fire: Box::new(move || match msg.take() {
                None => true,
                Some(m) => match target.deliver(m) {
                    Ok(()) => true,
                    Err(full) if target.is_closed() => {
                        drop(full);
                        true
                    }
                    Err(full) => {
                        msg = Some(full.into_inner());
                        false
                    }
                },
            }),
        }
    }
}

/// The shared timer service; see the module documentation.
pub struct TimerService {
    inbox: Inbox<TimerRequest>,
    control: Inbox<Signal>,
    signal: Outbox<Signal>,
    pending: BTreeMap<(Instant, u64), Box<dyn FnMut() -> bool>>,
    seq: u64,
    alarm: Alarm,
    finishing: bool,
}

/// How long to wait before retrying a delivery refused by a full inbox.
const RETRY: Duration = Duration::from_millis(1);

impl TimerService {
    /// The name it is registered under by [`TimerService::get`].
    pub const SERVICE: &'static str = "kamaelia.timer";

    /// A new timer service (usually reached through [`TimerService::get`]).
    pub fn new() -> Self {
        TimerService {
            inbox: Inbox::new("inbox", "TimerRequest: deliver a message after a delay"),
            control: Inbox::control(),
            signal: Outbox::signal(),
            pending: BTreeMap::new(),
            seq: 0,
            alarm: Alarm::default(),
            finishing: false,
        }
    }

    /// Finds the shared timer service, starting it on first use.
    pub fn get(cx: &mut Cx) -> Result<Service, ServiceError> {
        cx.service_or_create(Self::SERVICE, "inbox", TimerService::new)
    }

    /// Timers waiting to fire.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

impl Default for TimerService {
    fn default() -> Self {
        Self::new()
    }
}

impl Component for TimerService {
    fn step(&mut self, cx: &mut Cx) -> Step {
        let now = cx.now();
        while let Some(req) = self.inbox.recv() {
            self.seq += 1;
            self.pending.insert((now + req.delay, self.seq), req.fire);
        }
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                let _ = self.signal.send(sig);
                return Step::Done;
            }
            self.finishing = true;
        }
        let due: Vec<(Instant, u64)> = self
            .pending
            .range(..=(now, u64::MAX))
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            let mut fire = self.pending.remove(&key).expect("listed above");
            if !fire() {
                // Refused by a full inbox: try again shortly.
                self.seq += 1;
                self.pending.insert((now + RETRY, self.seq), fire);
            }
        }
        if self.finishing && self.pending.is_empty() {
            let _ = self.signal.send(Signal::ProducerFinished);
            return Step::Done;
        }
        if let Some((&(next, _), _)) = self.pending.iter().next() {
            self.alarm.set(cx, next);
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.signal);
    }
}
