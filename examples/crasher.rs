//! Sketch 4 of the classic catalogue (Axon's `Examples/Immortalise/Crasher.py`):
//! components that crash, under a scheduler that survives them.
//!
//! A `Supervisor` starts several `Crasher` children. Each one works for a
//! number of steps and then either finishes or panics. The numbers come
//! from a tiny seeded xorshift generator, so a given seed always gives the
//! same story. With `Scheduler::immortalise(true)` a panic in a component is
//! caught: the component is removed with its links, its parent learns of
//! the crash through `cx.next_exit()` (with the panic message), and the
//! rest of the system runs on. (In the Python original `immortalise()` had
//! no effect: the first exception ended the whole scheduler.)
//!
//! Run it with `cargo run --example crasher` (optionally with a seed:
//! `cargo run --example crasher -- 7`).

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use kamaelia::axon::{BoxSet, Component, Cx, Ended, ExitKind, Scheduler, Stats, Step};

/// Where the example writes what happens.
pub type Sink = Rc<RefCell<dyn Write>>;

/// Every panic message of a crasher starts with this, so the panic hook
/// installed by [`quiet_crash_reports`] can recognise them.
pub const CRASH_MARK: &str = "[crasher]";

/// A tiny xorshift64 generator: deterministic, no dependency.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from `seed` (0 is replaced, xorshift needs a non-zero state).
    pub fn new(seed: u64) -> Self {
        XorShift(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// What one crasher will do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Steps it runs before its fate.
    pub steps: u32,
    /// Whether it panics (otherwise it finishes normally).
    pub crash: bool,
}

/// The plans of `n` crashers for `seed`: 1 to 8 steps each, a crash with
/// probability 1/3 (roughly).
pub fn plan(seed: u64, n: usize) -> Vec<Plan> {
    let mut rng = XorShift::new(seed);
    (0..n)
        .map(|_| {
            let r = rng.next_u64();
            Plan {
                steps: 1 + (r % 8) as u32,
                crash: (r >> 32) % 3 == 0,
            }
        })
        .collect()
}

/// Works for `plan.steps` steps, then finishes or panics.
///
/// | box | carries | meaning |
/// |-----|---------|---------|
/// | (none) |      | it only works and then ends |
pub struct Crasher {
    name: String,
    plan: Plan,
    done: u32,
    out: Sink,
}

impl Component for Crasher {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        self.done += 1;
        if self.done < self.plan.steps {
            return Step::Yield;
        }
        if self.plan.crash {
            panic!("{CRASH_MARK} {} gave up at step {}", self.name, self.done);
        }
        let _ = writeln!(
            self.out.borrow_mut(),
            "{}: finished normally after {} step(s)",
            self.name,
            self.done
        );
        Step::Done
    }

    fn boxes(&self, _set: &mut BoxSet) {}

    fn name(&self) -> &str {
        &self.name
    }
}

/// One crasher's fate, as the supervisor learned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fate {
    /// The crasher's name.
    pub name: String,
    /// How it ended (for a crash, with the panic message).
    pub how: ExitKind,
}

/// Starts one `Crasher` child per plan and collects how each one ended.
///
/// | box | carries | meaning |
/// |-----|---------|---------|
/// | (none) |      | children's ends arrive through `cx.next_exit()` |
pub struct Supervisor {
    plans: Vec<Plan>,
    started: bool,
    fates: Rc<RefCell<Vec<Fate>>>,
    out: Sink,
}

impl Component for Supervisor {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if !self.started {
            self.started = true;
            for (i, p) in self.plans.iter().enumerate() {
                cx.spawn_child(Crasher {
                    name: format!("Crasher{i}"),
                    plan: *p,
                    done: 0,
                    out: self.out.clone(),
                });
            }
            let _ = writeln!(
                self.out.borrow_mut(),
                "supervisor: started {} crashers",
                self.plans.len()
            );
            return Step::Pause;
        }
        while let Some(exit) = cx.next_exit() {
            if let ExitKind::Panicked(_) = &exit.how {
                let _ = writeln!(
                    self.out.borrow_mut(),
                    "supervisor: {} crashed and was removed; the rest runs on",
                    exit.name
                );
            }
            self.fates.borrow_mut().push(Fate {
                name: exit.name,
                how: exit.how,
            });
        }
        if cx.children().is_empty() {
            let _ = writeln!(self.out.borrow_mut(), "supervisor: every child has ended");
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, _set: &mut BoxSet) {}
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The plans the crashers followed.
    pub plans: Vec<Plan>,
    /// Each crasher's fate, in the order the supervisor learned of them.
    pub fates: Vec<Fate>,
    /// How the run ended.
    pub ended: Ended,
    /// The scheduler's counters.
    pub stats: Stats,
}

impl Outcome {
    /// Names of the crashers that panicked, sorted.
    pub fn crashed(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .fates
            .iter()
            .filter(|f| matches!(f.how, ExitKind::Panicked(_)))
            .map(|f| f.name.clone())
            .collect();
        v.sort();
        v
    }

    /// Names of the crashers that finished normally, sorted.
    pub fn survived(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .fates
            .iter()
            .filter(|f| f.how == ExitKind::Finished)
            .map(|f| f.name.clone())
            .collect();
        v.sort();
        v
    }
}

/// Installs (once) a panic hook that keeps quiet about crashers' panics and
/// passes every other panic to the hook that was there before.
pub fn quiet_crash_reports() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let msg = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("");
            if !msg.starts_with(CRASH_MARK) {
                previous(info);
            }
        }));
    });
}

/// Runs `n` crashers planned from `seed` under an immortal scheduler.
pub fn run(seed: u64, n: usize, out: Sink) -> Outcome {
    let plans = plan(seed, n);
    for (i, p) in plans.iter().enumerate() {
        let _ = writeln!(
            out.borrow_mut(),
            "plan: Crasher{i} runs {} step(s), then {}",
            p.steps,
            if p.crash { "panics" } else { "finishes" }
        );
    }
    let fates = Rc::new(RefCell::new(Vec::new()));
    let mut sched = Scheduler::new();
    sched.immortalise(true);
    sched.spawn(Supervisor {
        plans: plans.clone(),
        started: false,
        fates: fates.clone(),
        out: out.clone(),
    });
    let ended = sched.run();
    let outcome = Outcome {
        plans,
        fates: fates.take(),
        ended,
        stats: sched.stats().clone(),
    };
    let _ = writeln!(
        out.borrow_mut(),
        "run ended: {:?}; crashed: {:?}; survived: {:?}; stats: {} spawned, {} finished, {} panicked",
        outcome.ended,
        outcome.crashed(),
        outcome.survived(),
        outcome.stats.spawned,
        outcome.stats.finished,
        outcome.stats.panicked
    );
    outcome
}

fn main() {
    let seed = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2024);
    quiet_crash_reports();
    run(seed, 6, Rc::new(RefCell::new(std::io::stdout())));
}
