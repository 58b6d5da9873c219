//! Sketch 3 of the classic catalogue (Axon's `Examples/SystemShutdown.py`):
//! one component stops the whole system.
//!
//! A `Ticker` ticks every `period` on a drift-free [`Periodic`] timer and,
//! once `run_for` has passed, calls `cx.stop_system()`. Meanwhile a
//! `Sleeper` pauses forever: nothing will ever wake it, and it has no
//! `control` inbox to be told to stop. Stopping the system does not need
//! its co-operation: after the ticker's step the scheduler drops every
//! component, so the sleeper's `Drop` runs (the Rust counterpart of Axon
//! calling `stop()` on every remaining microprocess), and `run()` returns
//! `Ended::Stopped`.
//!
//! Run it with `cargo run --example system_shutdown` (two real seconds).
//! The tests run the same thing on virtual time, which takes no time.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

use kamaelia::axon::{BoxSet, Component, Cx, Ended, Periodic, Scheduler, Step};

/// Where the example writes what happens.
pub type Sink = Rc<RefCell<dyn Write>>;

/// What a run produced.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// How the run ended.
    pub ended: Ended,
    /// Ticks the ticker counted.
    pub ticks: u64,
    /// Whether the sleeper was dropped.
    pub sleeper_dropped: bool,
    /// Scheduler time from start to stop.
    pub elapsed: Duration,
}

/// Ticks every `period`; after `run_for` it stops the whole system.
///
/// It has no boxes: it talks to nobody, it only watches the clock.
///
/// | box | carries | meaning |
/// |-----|---------|---------|
/// | (none) |      |         |
pub struct Ticker {
    period: Duration,
    run_for: Duration,
    ticker: Option<Periodic>,
    start: Option<Instant>,
    ticks: Rc<Cell<u64>>,
    out: Sink,
}

impl Component for Ticker {
    fn step(&mut self, cx: &mut Cx) -> Step {
        let Some(p) = self.ticker.as_mut() else {
            // First step: start the clock; the first tick is one period on.
            self.start = Some(cx.now());
            self.ticker = Some(Periodic::start(cx, self.period));
            return Step::Pause;
        };
        let due = p.due(cx);
        if due == 0 {
            return Step::Pause; // woken early: nothing to do
        }
        self.ticks.set(self.ticks.get() + due);
        let elapsed = cx
            .now()
            .duration_since(self.start.expect("set on first step"));
        let _ = writeln!(
            self.out.borrow_mut(),
            "tick {:>2} at {:>4} ms",
            p.ticks(),
            elapsed.as_millis()
        );
        if elapsed >= self.run_for {
            let _ = writeln!(
                self.out.borrow_mut(),
                "ticker: {} ms have passed, stopping the system",
                self.run_for.as_millis()
            );
            p.stop(cx);
            cx.stop_system();
        }
        Step::Pause
    }

    fn boxes(&self, _set: &mut BoxSet) {}
}

/// Pauses forever. Nothing wakes it; it only ends when the system is
/// stopped, and says so when dropped.
///
/// | box | carries | meaning |
/// |-----|---------|---------|
/// | (none) |      |         |
pub struct Sleeper {
    steps: u64,
    dropped: Rc<Cell<bool>>,
    out: Sink,
}

impl Component for Sleeper {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        self.steps += 1;
        let _ = writeln!(self.out.borrow_mut(), "sleeper: going to sleep for ever");
        Step::Pause
    }

    fn boxes(&self, _set: &mut BoxSet) {}
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        self.dropped.set(true);
        let _ = writeln!(
            self.out.borrow_mut(),
            "sleeper: dropped by the scheduler after {} step(s)",
            self.steps
        );
    }
}

/// Runs the ticker (every `period`, stopping after `run_for`) next to the
/// sleeper.
pub fn run(period: Duration, run_for: Duration, virtual_time: bool, out: Sink) -> Outcome {
    let mut sched = if virtual_time {
        Scheduler::with_virtual_time()
    } else {
        Scheduler::new()
    };
    let t0 = sched.now();
    let ticks = Rc::new(Cell::new(0));
    let dropped = Rc::new(Cell::new(false));
    sched.spawn(Sleeper {
        steps: 0,
        dropped: dropped.clone(),
        out: out.clone(),
    });
    sched.spawn(Ticker {
        period,
        run_for,
        ticker: None,
        start: None,
        ticks: ticks.clone(),
        out: out.clone(),
    });
    let ended = sched.run();
    let outcome = Outcome {
        ended,
        ticks: ticks.get(),
        sleeper_dropped: dropped.get(),
        elapsed: sched.now().duration_since(t0),
    };
    let _ = writeln!(
        out.borrow_mut(),
        "run ended: {:?} after {} ticks; components left alive: {}",
        outcome.ended,
        outcome.ticks,
        sched.live()
    );
    outcome
}

fn main() {
    let out: Sink = Rc::new(RefCell::new(std::io::stdout()));
    let o = run(
        Duration::from_millis(250),
        Duration::from_secs(2),
        false,
        out,
    );
    println!(
        "elapsed {:.3} s, sleeper dropped: {}",
        o.elapsed.as_secs_f64(),
        o.sleeper_dropped
    );
}
