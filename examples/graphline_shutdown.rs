//! Sketch 17 of the classic catalogue (`Examples/UsingChassis/Graphline/`
//! `DemoShutdown.py`, `LinkedShutdown.py` and `FailShutdown.py`): how a
//! shutdown signal reaches the children of a [`Graphline`].
//!
//! ```text
//!   Pipeline(
//!       Pinger ──signal──▶ Graphline { TO_SHUTDOWN1, TO_SHUTDOWN2[, TO_SHUTDOWN3] } ──signal──▶ Whinger
//!   )
//! ```
//!
//! The `Pinger` sends `ProducerFinished` on its `signal` after a while; the
//! pipeline carries it to the graphline's `control`. Each `Waiter` waits
//! for a signal on its `control`, then passes it on and ends. The `Whinger`
//! complains periodically until a signal reaches it. Four wirings:
//!
//! * [`Case::Demo`] (`DemoShutdown.py`): no links at all. The graphline
//!   copies what arrives on its `control` to every child whose `control`
//!   is not linked: all three waiters end, the graphline ends and sends the
//!   signal on, the whinger stops. Everything ends.
//! * [`Case::Linked`] (`LinkedShutdown.py`): `TO_SHUTDOWN1.signal ->
//!   TO_SHUTDOWN2.control`, `TO_SHUTDOWN2.signal -> TO_SHUTDOWN3.control`.
//!   Only the first waiter's `control` is free, so only it gets the copy;
//!   the others hear it down the user's chain, one after the other.
//! * [`Case::FailAsShipped`] (`FailShutdown.py`): `self.control ->
//!   TO_SHUTDOWN1.control`. The user took over the graphline's `control`
//!   and gave it to one child that tells nobody: TO_SHUTDOWN2 waits for
//!   ever, so the graphline never ends and the whinger whinges for ever.
//!   That is the documented hang of the original, kept here as it was but
//!   bounded: a `Watchdog` stops the system after a while and reports who
//!   was still running.
//! * [`Case::FailFixed`]: the same wiring, made to end. **The fix chosen is
//!   to route the signal on**, the rule the hang teaches: whoever takes
//!   over the graphline's `control` must pass the signal on. Two more
//!   links do it: `TO_SHUTDOWN1.signal -> TO_SHUTDOWN2.control`, and
//!   `TO_SHUTDOWN2.signal -> self.signal`, so the graphline's own signal
//!   comes from the last child that hears the news. A time-out (a
//!   [`Ttl`](kamaelia::util::Ttl) round TO_SHUTDOWN2) would also end it,
//!   but only after the time-out, and by force rather than by design.
//!
//! Every case runs under the `Watchdog`, which ends as soon as the system
//! does, so only the hang ever meets it. On virtual time (the tests) the
//! printed story is exact; `main` runs all four on the real clock.
//!
//! Run it with `cargo run --example graphline_shutdown`.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

use kamaelia::axon::{
    link_refs, BoxSet, Component, Cx, Ended, Inbox, Outbox, Periodic, Scheduler, Signal, Stats,
    Step, TimerKey,
};
use kamaelia::chassis::{Graphline, Pipeline};

/// Where the example writes what happens.
pub type Sink = Rc<RefCell<dyn Write>>;

/// Writes lines stamped with the scheduler's time since the start.
#[derive(Clone)]
pub struct Log {
    t0: Instant,
    out: Sink,
}

impl Log {
    /// A log counting time from `t0`.
    pub fn new(t0: Instant, out: Sink) -> Self {
        Log { t0, out }
    }

    /// Writes one stamped line.
    pub fn say(&self, cx: &Cx, text: &str) {
        let ms = cx.now().saturating_duration_since(self.t0).as_millis();
        let _ = writeln!(self.out.borrow_mut(), "[{ms:>5} ms] {text}");
    }
}

/// Sends `ProducerFinished` on `signal` once, `delay` after it starts,
/// then ends.
///
/// | box     | carries  | meaning                                          |
/// |---------|----------|--------------------------------------------------|
/// | control | `Signal` | any signal before the ping: pass it on and end   |
/// | signal  | `Signal` | producer finished, after the delay               |
pub struct Pinger {
    /// Ends it early.
    pub control: Inbox<Signal>,
    /// The ping.
    pub signal: Outbox<Signal>,
    delay: Duration,
    deadline: Option<(Instant, TimerKey)>,
    log: Log,
}

impl Pinger {
    /// Pings `delay` after it starts.
    pub fn new(delay: Duration, log: Log) -> Self {
        Pinger {
            control: Inbox::control(),
            signal: Outbox::signal(),
            delay,
            deadline: None,
            log,
        }
    }
}

impl Component for Pinger {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if let Some(sig) = self.control.recv() {
            if let Some((_, k)) = self.deadline {
                cx.cancel_timer(k);
            }
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        let at = match self.deadline {
            Some((at, _)) => at,
            None => {
                let at = cx.now() + self.delay;
                self.deadline = Some((at, cx.wake_at(at)));
                at
            }
        };
        if cx.now() < at {
            return Step::Pause;
        }
        let _ = self.signal.send(Signal::ProducerFinished);
        self.log.say(cx, "PINGER: sent ProducerFinished");
        Step::Done
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.control).add(&self.signal);
    }
}

/// Waits for a signal on `control`, says so, passes it on and ends.
///
/// | box     | carries  | meaning                                          |
/// |---------|----------|--------------------------------------------------|
/// | control | `Signal` | any signal: pass it on and end                   |
/// | signal  | `Signal` | the signal it received                           |
pub struct Waiter {
    /// What it waits for.
    pub control: Inbox<Signal>,
    /// The signal, passed on.
    pub signal: Outbox<Signal>,
    name: String,
    started: bool,
    log: Log,
}

impl Waiter {
    /// A waiter called `name`.
    pub fn new(name: &str, log: Log) -> Self {
        Waiter {
            control: Inbox::control(),
            signal: Outbox::signal(),
            name: name.to_string(),
            started: false,
            log,
        }
    }
}

impl Component for Waiter {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if !self.started {
            self.started = true;
            self.log.say(cx, &format!("WAITER {} waiting", self.name));
        }
        if let Some(sig) = self.control.recv() {
            self.log.say(
                cx,
                &format!(
                    "WAITER {} shutting down having received: {sig:?}",
                    self.name
                ),
            );
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.control).add(&self.signal);
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// Complains every `period` (and once at the start) until a signal comes.
///
/// | box     | carries  | meaning                                          |
/// |---------|----------|--------------------------------------------------|
/// | control | `Signal` | any signal: say so, pass it on, end              |
/// | signal  | `Signal` | the signal it received                           |
pub struct Whinger {
    /// What it waits for.
    pub control: Inbox<Signal>,
    /// The signal, passed on.
    pub signal: Outbox<Signal>,
    period: Duration,
    ticker: Option<Periodic>,
    log: Log,
}

impl Whinger {
    /// Complains every `period`.
    pub fn new(period: Duration, log: Log) -> Self {
        Whinger {
            control: Inbox::control(),
            signal: Outbox::signal(),
            period,
            ticker: None,
            log,
        }
    }
}

impl Component for Whinger {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if let Some(sig) = self.control.recv() {
            if let Some(t) = self.ticker.as_mut() {
                t.stop(cx);
            }
            self.log
                .say(cx, &format!("WHINGER: shutdown (received {sig:?})"));
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        let whinges = match self.ticker.as_mut() {
            None => {
                self.ticker = Some(Periodic::start(cx, self.period));
                1
            }
            Some(t) => t.due(cx),
        };
        for _ in 0..whinges {
            self.log.say(cx, "WHINGER: waiting for shutdown");
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.control).add(&self.signal);
    }
}

/// Runs one child (the system under watch). Ends when the child ends; if
/// the child is still running after `limit`, notes every component still
/// alive and stops the whole system.
///
/// | box    | carries | meaning                                          |
/// |--------|---------|--------------------------------------------------|
/// | (none) |         | the child's end arrives through `cx.next_exit()` |
pub struct Watchdog {
    child: Option<Box<dyn Component>>,
    limit: Duration,
    timer: Option<TimerKey>,
    survivors: Rc<RefCell<Vec<String>>>,
    log: Log,
}

impl Component for Watchdog {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if let Some(c) = self.child.take() {
            cx.spawn_child_boxed(c);
            self.timer = Some(cx.wake_after(self.limit));
            return Step::Pause;
        }
        if cx.next_exit().is_some() {
            if let Some(k) = self.timer.take() {
                cx.cancel_timer(k);
            }
            return Step::Done;
        }
        let me = cx.id();
        let alive: Vec<String> = cx
            .snapshot()
            .components
            .into_iter()
            .filter(|c| c.id != me)
            .map(|c| c.name)
            .collect();
        self.log.say(
            cx,
            &format!(
                "WATCHDOG: still running after {} ms: {}; stopping the system",
                self.limit.as_millis(),
                alive.join(", ")
            ),
        );
        *self.survivors.borrow_mut() = alive;
        cx.stop_system();
        Step::Done
    }

    fn boxes(&self, _set: &mut BoxSet) {}
}

/// Which wiring of the graphline to run; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    /// No links: the graphline passes its `control` to every child.
    Demo,
    /// A user chain of signals from TO_SHUTDOWN1 to TO_SHUTDOWN3.
    Linked,
    /// The graphline's `control` given to TO_SHUTDOWN1 alone: hangs.
    FailAsShipped,
    /// The same, with the signal routed on: ends.
    FailFixed,
}

/// The times a run uses.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// When the pinger pings.
    pub ping_after: Duration,
    /// How often the whinger whinges.
    pub whinge_every: Duration,
    /// When the watchdog gives up.
    pub give_up_after: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            ping_after: Duration::from_millis(2500),
            whinge_every: Duration::from_millis(1000),
            give_up_after: Duration::from_millis(9500),
        }
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// How the run ended.
    pub ended: Ended,
    /// The signals that came out of the pipeline (from the whinger).
    pub signals: Vec<Signal>,
    /// Components the watchdog found still running (empty if it was not
    /// needed).
    pub survivors: Vec<String>,
    /// The scheduler's counters.
    pub stats: Stats,
}

/// The graphline of `case`.
pub fn graphline(case: Case, log: &Log) -> Graphline {
    let mut g = Graphline::builder()
        .child("TO_SHUTDOWN1", Waiter::new("TO_SHUTDOWN1", log.clone()))
        .child("TO_SHUTDOWN2", Waiter::new("TO_SHUTDOWN2", log.clone()));
    if matches!(case, Case::Demo | Case::Linked) {
        g = g.child("TO_SHUTDOWN3", Waiter::new("TO_SHUTDOWN3", log.clone()));
    }
    g = match case {
        Case::Demo => g,
        Case::Linked => g
            .link(("TO_SHUTDOWN1", "signal"), ("TO_SHUTDOWN2", "control"))
            .link(("TO_SHUTDOWN2", "signal"), ("TO_SHUTDOWN3", "control")),
        Case::FailAsShipped => g.link(("self", "control"), ("TO_SHUTDOWN1", "control")),
        Case::FailFixed => g
            .link(("self", "control"), ("TO_SHUTDOWN1", "control"))
            .link(("TO_SHUTDOWN1", "signal"), ("TO_SHUTDOWN2", "control"))
            .link(("TO_SHUTDOWN2", "signal"), ("self", "signal")),
    };
    g.build().expect("the table names real children and boxes")
}

/// Runs `case` with `timing`, writing the story to `out`.
pub fn run(case: Case, timing: Timing, virtual_time: bool, out: Sink) -> Outcome {
    let mut sched = if virtual_time {
        Scheduler::with_virtual_time()
    } else {
        Scheduler::new()
    };
    let log = Log::new(sched.now(), out.clone());
    let _ = writeln!(out.borrow_mut(), "--- {case:?} ---");
    let system = Pipeline::new(vec![
        Box::new(Pinger::new(timing.ping_after, log.clone())),
        Box::new(graphline(case, &log)),
        Box::new(Whinger::new(timing.whinge_every, log.clone())),
    ])
    .expect("signal links to control all the way");
    let signals: Inbox<Signal> = Inbox::control();
    link_refs(
        &system.find("signal").expect("a signal box"),
        &signals.erased(),
    )
    .expect("signal carries Signal");
    let survivors = Rc::new(RefCell::new(Vec::new()));
    sched.spawn(Watchdog {
        child: Some(Box::new(system)),
        limit: timing.give_up_after,
        timer: None,
        survivors: survivors.clone(),
        log,
    });
    let ended = sched.run();
    let _ = writeln!(out.borrow_mut(), "run ended: {ended:?}");
    Outcome {
        ended,
        signals: std::iter::from_fn(|| signals.recv()).collect(),
        survivors: survivors.take(),
        stats: sched.stats().clone(),
    }
}

fn main() {
    let out: Sink = Rc::new(RefCell::new(std::io::stdout()));
    let timing = Timing {
        ping_after: Duration::from_millis(1250),
        whinge_every: Duration::from_millis(500),
        give_up_after: Duration::from_millis(4250),
    };
    for case in [
        Case::Demo,
        Case::Linked,
        Case::FailAsShipped,
        Case::FailFixed,
    ] {
        run(case, timing, false, out.clone());
    }
}
