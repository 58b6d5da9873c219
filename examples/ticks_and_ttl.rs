//! Sketch 21 of the classic catalogue (`Examples/Contrib/Kamaelia.Apps.SA/`
//! `PeriodicTick.1.py` and `TTL.py`): drift-free periodic ticks, and a
//! time to live for components that behave well and for one that does not.
//!
//! ```text
//!   ticks:  Ttl(PeriodicTick(period), count * period + period / 2) ──tick──▶ TickLog
//!
//!   ttl:    Ttl(child, 1 s, grace 0.5 s) ──outbox──▶ Printer
//!                                        ──signal──▶
//! ```
//!
//! What it shows:
//!
//! * [`PeriodicTick`] sends its k-th tick at exactly `start + k * period`:
//!   the deadlines are computed from `k`, never accumulated, so a slow
//!   consumer or a late wake does not make later ticks drift (missed ticks
//!   are sent as soon as it runs, then it is back on the grid). `TickLog`
//!   notes when each tick arrived; on the real clock (`main`) it also
//!   spends `work` on each tick, the way a busy component would, and the
//!   ticks still land on the grid.
//! * [`Ttl`] gives a component a time to live. Here it also ends the
//!   ticker: when the time is up it sends `Shutdown` to the `PeriodicTick`,
//!   which stops, and the Ttl passes `Shutdown` on.
//! * [`Case::WellBehaved`]: a child that says "hello" every 300 ms until
//!   told to stop; at 1 s the Ttl tells it, it stops, and the Ttl ends with
//!   `Shutdown`.
//! * [`Case::EndsEarly`]: a child that says "hello" twice and finishes by
//!   itself at 600 ms; the Ttl cancels its timer and passes the child's
//!   own `ProducerFinished` on.
//! * [`Case::BadlyBehaved`]: a child that never reads its `control`. At
//!   1 s the Ttl sends it `Shutdown` anyway and waits the grace period
//!   (0.5 s). Nothing can kill a component (it ends only by returning
//!   `Done`), so at 1.5 s the Ttl gives up: it logs a warning, ends with
//!   `Shutdown`, and reports [`TtlEnd::Abandoned`]. The child is left to the
//!   system and runs on, unsupervised, until it ends by itself at 3 s; the
//!   `Shutdown` it never read is counted as undelivered when it ends. (The
//!   original escalated through four kinds of shutdown message and then
//!   called `stop()` on the child, which only marked it stopped.)
//!
//! Everything runs on virtual time unless asked otherwise, so the printed
//! times are exact.
//!
//! Run it with `cargo run --example ticks_and_ttl [-- --real]`.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

use kamaelia::axon::{
    link_refs, BoxSet, Component, Cx, Ended, Inbox, Outbox, Periodic, Scheduler, Signal, Stats,
    Step,
};
use kamaelia::chassis::Pipeline;
use kamaelia::util::{PeriodicTick, Ttl, TtlEnd};

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

    /// The time since the start.
    pub fn since(&self, cx: &Cx) -> Duration {
        cx.now().saturating_duration_since(self.t0)
    }

    /// Writes one stamped line.
    pub fn say(&self, cx: &Cx, text: &str) {
        let ms = self.since(cx).as_millis();
        let _ = writeln!(self.out.borrow_mut(), "[{ms:>5} ms] {text}");
    }
}

/// An inbox (owned by the caller) fed by the pipeline's `signal`.
fn signals_of(p: &Pipeline) -> Inbox<Signal> {
    let signals = Inbox::control();
    link_refs(&p.find("signal").expect("a signal box"), &signals.erased())
        .expect("signal carries Signal");
    signals
}

fn drain<T>(b: &Inbox<T>) -> Vec<T> {
    std::iter::from_fn(|| b.recv()).collect()
}

fn scheduler(virtual_time: bool) -> Scheduler {
    if virtual_time {
        Scheduler::with_virtual_time()
    } else {
        Scheduler::new()
    }
}

// ---------------------------------------------------------------------------
// Ticks

/// Notes when each tick arrives (and, if asked, works a while on each).
///
/// | box     | carries        | meaning                                    |
/// |---------|----------------|--------------------------------------------|
/// | inbox   | `&'static str` | ticks                                      |
/// | control | `Signal`       | any signal: note what waits, pass it on, end |
/// | signal  | `Signal`       | the control signal, passed on              |
pub struct TickLog {
    /// Ticks.
    pub inbox: Inbox<&'static str>,
    /// Any signal ends it.
    pub control: Inbox<Signal>,
    /// The control signal, passed on.
    pub signal: Outbox<Signal>,
    period: Duration,
    work: Duration,
    seen: Rc<RefCell<Vec<Duration>>>,
    log: Log,
}

impl TickLog {
    /// Notes ticks of a ticker with `period` into `seen`, blocking for
    /// `work` on each (zero for none).
    pub fn new(
        period: Duration,
        work: Duration,
        seen: Rc<RefCell<Vec<Duration>>>,
        log: Log,
    ) -> Self {
        TickLog {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            signal: Outbox::signal(),
            period,
            work,
            seen,
            log,
        }
    }
}

impl Component for TickLog {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(msg) = self.inbox.recv() {
            let at = self.log.since(cx);
            let k = self.seen.borrow().len() as u32 + 1;
            let grid = self.period * k;
            self.log.say(
                cx,
                &format!(
                    "{msg} {k} (due at {} ms, {} us late)",
                    grid.as_millis(),
                    at.saturating_sub(grid).as_micros()
                ),
            );
            self.seen.borrow_mut().push(at);
            if !self.work.is_zero() {
                // A busy component: this holds up the whole scheduler.
                std::thread::sleep(self.work);
            }
        }
        if let Some(sig) = self.control.recv() {
            self.log.say(cx, &format!("ticker ended: {sig:?}"));
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox).add(&self.control).add(&self.signal);
    }
}

/// What a ticking run produced.
#[derive(Debug)]
pub struct Ticks {
    /// How the run ended.
    pub ended: Ended,
    /// When each tick arrived, since the start.
    pub at: Vec<Duration>,
    /// How the Ttl round the ticker ended.
    pub ttl: Option<TtlEnd>,
    /// What came out of the pipeline's `signal` at the end.
    pub signals: Vec<Signal>,
    /// The scheduler's counters.
    pub stats: Stats,
}

/// `count` ticks `period` apart (the ticker is stopped by a [`Ttl`] half a
/// period after the last one), each costing `work` to handle.
pub fn run_ticks(
    period: Duration,
    count: u32,
    work: Duration,
    virtual_time: bool,
    out: Sink,
) -> Ticks {
    let mut sched = scheduler(virtual_time);
    let log = Log::new(sched.now(), out);
    let seen = Rc::new(RefCell::new(Vec::new()));
    let ttl = Ttl::new(
        PeriodicTick::new(period, "tick"),
        period * count + period / 2,
    )
    .expect("a fresh ticker's boxes can be mirrored")
    .grace(period);
    let report = ttl.report();
    let p = Pipeline::new(vec![
        Box::new(ttl),
        Box::new(TickLog::new(period, work, seen.clone(), log)),
    ])
    .expect("ticks into the log");
    let signals = signals_of(&p);
    sched.spawn(p);
    let ended = sched.run();
    Ticks {
        ended,
        at: seen.take(),
        ttl: report.get(),
        signals: drain(&signals),
        stats: sched.stats().clone(),
    }
}

// ---------------------------------------------------------------------------
// Ttl

/// Says "hello" every 300 ms; with `stop_after`, finishes by itself after
/// that many; any control signal stops it.
///
/// | box     | carries  | meaning                                          |
/// |---------|----------|--------------------------------------------------|
/// | control | `Signal` | any signal: say so, pass it on, end              |
/// | outbox  | `String` | "hello"                                          |
/// | signal  | `Signal` | the control signal, or producer finished when it finishes by itself |
pub struct WellBehaved {
    /// Stops it.
    pub control: Inbox<Signal>,
    /// The hellos.
    pub outbox: Outbox<String>,
    /// How it ended.
    pub signal: Outbox<Signal>,
    stop_after: Option<u64>,
    ticker: Option<Periodic>,
    said: u64,
    log: Log,
}

impl WellBehaved {
    /// Says hello every [`HELLO_EVERY`], `stop_after` times or until told.
    pub fn new(stop_after: Option<u64>, log: Log) -> Self {
        WellBehaved {
            control: Inbox::control(),
            outbox: Outbox::outbox(),
            signal: Outbox::signal(),
            stop_after,
            ticker: None,
            said: 0,
            log,
        }
    }
}

/// How often the children of the Ttl cases speak.
pub const HELLO_EVERY: Duration = Duration::from_millis(300);

impl Component for WellBehaved {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if let Some(sig) = self.control.recv() {
            if let Some(t) = self.ticker.as_mut() {
                t.stop(cx);
            }
            self.log
                .say(cx, &format!("WellBehaved: received {sig:?}, stopping"));
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        let due = match self.ticker.as_mut() {
            None => {
                self.ticker = Some(Periodic::start(cx, HELLO_EVERY));
                0
            }
            Some(t) => t.due(cx),
        };
        for _ in 0..due {
            let _ = self.outbox.send("hello".to_string());
            self.said += 1;
            if Some(self.said) == self.stop_after {
                if let Some(t) = self.ticker.as_mut() {
                    t.stop(cx);
                }
                self.log.say(
                    cx,
                    &format!("WellBehaved: said hello {} times, finished", self.said),
                );
                let _ = self.signal.send(Signal::ProducerFinished);
                return Step::Done;
            }
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.control).add(&self.outbox).add(&self.signal);
    }
}

/// Says "still here" every 300 ms and never reads its `control`; ends by
/// itself after `lifetime` remarks.
///
/// | box     | carries  | meaning                                          |
/// |---------|----------|--------------------------------------------------|
/// | control | `Signal` | never read: whatever arrives is left there       |
pub struct BadlyBehaved {
    /// Never read.
    pub control: Inbox<Signal>,
    lifetime: u64,
    ticker: Option<Periodic>,
    said: u64,
    log: Log,
}

impl BadlyBehaved {
    /// Runs for `lifetime` remarks, whatever it is told.
    pub fn new(lifetime: u64, log: Log) -> Self {
        BadlyBehaved {
            control: Inbox::control(),
            lifetime,
            ticker: None,
            said: 0,
            log,
        }
    }
}

impl Component for BadlyBehaved {
    fn step(&mut self, cx: &mut Cx) -> Step {
        let due = match self.ticker.as_mut() {
            None => {
                self.ticker = Some(Periodic::start(cx, HELLO_EVERY));
                0
            }
            Some(t) => t.due(cx),
        };
        for _ in 0..due {
            self.said += 1;
            if self.said == self.lifetime {
                if let Some(t) = self.ticker.as_mut() {
                    t.stop(cx);
                }
                self.log.say(
                    cx,
                    &format!(
                        "BadlyBehaved: done after {} remarks, by itself ({} signal(s) never read)",
                        self.said,
                        self.control.len()
                    ),
                );
                return Step::Done;
            }
            self.log.say(cx, "BadlyBehaved: still here");
        }
        // Deliberately ignores its control inbox.
        cx.hold_input();
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.control);
    }
}

/// Prints what comes out of the Ttl.
///
/// | box     | carries  | meaning                                          |
/// |---------|----------|--------------------------------------------------|
/// | inbox   | `String` | messages to print                                |
/// | control | `Signal` | any signal: print it, pass it on, end            |
/// | signal  | `Signal` | the control signal, passed on                    |
pub struct Printer {
    /// Messages to print.
    pub inbox: Inbox<String>,
    /// Any signal ends it.
    pub control: Inbox<Signal>,
    /// The control signal, passed on.
    pub signal: Outbox<Signal>,
    log: Log,
}

impl Printer {
    /// Prints to `log`.
    pub fn new(log: Log) -> Self {
        Printer {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            signal: Outbox::signal(),
            log,
        }
    }
}

impl Component for Printer {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(m) = self.inbox.recv() {
            self.log.say(cx, &format!("printer: {m}"));
        }
        if let Some(sig) = self.control.recv() {
            self.log
                .say(cx, &format!("printer: the TTL signalled {sig:?}"));
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox).add(&self.control).add(&self.signal);
    }
}

/// Which child the Ttl looks after; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Case {
    /// Stops when told.
    WellBehaved,
    /// Finishes by itself before its time is up.
    EndsEarly,
    /// Never reads its control; ends by itself much later.
    BadlyBehaved,
}

/// The Ttl's time to live in the cases.
pub const TIME_TO_LIVE: Duration = Duration::from_millis(1000);
/// The Ttl's grace period in the cases.
pub const GRACE: Duration = Duration::from_millis(500);
/// How many remarks the badly behaved child makes (the last at 3 s).
pub const BADLY_BEHAVED_LIFETIME: u64 = 10;

/// What a Ttl case produced.
#[derive(Debug)]
pub struct TtlRun {
    /// How the run ended.
    pub ended: Ended,
    /// How the Ttl ended.
    pub ttl: Option<TtlEnd>,
    /// How long the run took on the scheduler's clock.
    pub elapsed: Duration,
    /// What came out of the pipeline's `signal` at the end.
    pub signals: Vec<Signal>,
    /// The scheduler's counters.
    pub stats: Stats,
}

/// Runs one Ttl case, writing the story to `out`.
pub fn run_ttl(case: Case, virtual_time: bool, out: Sink) -> TtlRun {
    let mut sched = scheduler(virtual_time);
    let t0 = sched.now();
    let log = Log::new(t0, out.clone());
    let _ = writeln!(
        out.borrow_mut(),
        "--- TTL of {} ms: {case:?} ---",
        TIME_TO_LIVE.as_millis()
    );
    let child: Box<dyn Component> = match case {
        Case::WellBehaved => Box::new(WellBehaved::new(None, log.clone())),
        Case::EndsEarly => Box::new(WellBehaved::new(Some(2), log.clone())),
        Case::BadlyBehaved => Box::new(BadlyBehaved::new(BADLY_BEHAVED_LIFETIME, log.clone())),
    };
    let ttl = Ttl::boxed(child, TIME_TO_LIVE)
        .expect("a fresh child's boxes can be mirrored")
        .grace(GRACE);
    let report = ttl.report();
    let p = Pipeline::new(vec![Box::new(ttl), Box::new(Printer::new(log))])
        .expect("the Ttl's outbox (if any) and signal into the printer");
    let signals = signals_of(&p);
    sched.spawn(p);
    let ended = sched.run();
    let elapsed = sched.now().saturating_duration_since(t0);
    let ttl = report.get();
    let _ = writeln!(
        out.borrow_mut(),
        "run ended: {ended:?} at {} ms; the TTL ended as {ttl:?}",
        elapsed.as_millis()
    );
    TtlRun {
        ended,
        ttl,
        elapsed,
        signals: drain(&signals),
        stats: sched.stats().clone(),
    }
}

fn main() {
    let real = std::env::args().any(|a| a == "--real");
    let out: Sink = Rc::new(RefCell::new(std::io::stdout()));
    let _ = writeln!(out.borrow_mut(), "--- 8 ticks, 250 ms apart ---");
    // On the real clock each tick costs 40 ms of work: a naive "sleep a
    // period after each tick" would fall 40 ms further behind every time.
    let work = if real {
        Duration::from_millis(40)
    } else {
        Duration::ZERO
    };
    let t = run_ticks(Duration::from_millis(250), 8, work, !real, out.clone());
    let _ = writeln!(
        out.borrow_mut(),
        "run ended: {:?}, {} ticks",
        t.ended,
        t.at.len()
    );
    for case in [Case::WellBehaved, Case::EndsEarly, Case::BadlyBehaved] {
        run_ttl(case, !real, out.clone());
    }
}
