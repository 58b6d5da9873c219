//! Sketch 19 of the classic catalogue
//! (`Examples/UsingChassis/Pipeline/Feedback.py`): a circular pipeline in
//! which an L-system grows a string and a "damage" stage prunes it before
//! feeding it back.
//!
//! ```text
//!        ┌──────────────────────────────────────────────────────────┐
//!        ▼                                                          │
//!   LSystem ──model──▶ ConsoleEchoer (forwarder) ──model──▶ Damage ─┘
//!   (B -> BTL, L -> B)  (prints each generation)      (drops letters at random,
//!                                                       many once it is long)
//! ```
//!
//! [`Pipeline::circular`] links the last stage's `outbox` and `signal` back
//! to the first stage's `inbox` and `control`.
//!
//! The L-system starts from `B` and rewrites every `B` as `BTL` and every
//! `L` as `B` (other letters stay). Each generation goes round the ring:
//! the echoer prints it and passes it on, the damage stage drops each
//! letter with probability 1/101 while the model is at most 60 letters
//! long, and with probability 51/101 once it is longer (the original's
//! `random.randint(0, 100) > dratio`), and the damaged model comes back to
//! be grown into the next generation.
//!
//! Differences from the original, so that a run is repeatable and ends:
//!
//! * the random numbers come from a seeded xorshift generator, so a seed
//!   always gives the same generations;
//! * the L-system works in lock-step with the ring (it grows the model
//!   that comes back, rather than whatever it finds in its inbox every
//!   0.4 s), so no generation is skipped or repeated;
//! * it stops after `n` generations (the original never ended): it sends
//!   `ProducerFinished` on its `signal`, which goes round the ring behind
//!   the last generation, through the echoer and the damage stage, each
//!   passing it on and ending; when it comes back to the L-system's
//!   `control` the L-system ends too, and so the pipeline. The last damaged
//!   model, which arrives just before it, is not grown any more.
//!
//! Run it with `cargo run --example feedback [-- GENERATIONS [SEED]]`.

use std::cell::RefCell;
use std::rc::Rc;

use kamaelia::axon::{BoxSet, Component, Cx, Ended, Inbox, Outbox, Scheduler, Signal, Stats, Step};
use kamaelia::chassis::Pipeline;
use kamaelia::util::ConsoleEchoer;

#[path = "support/mod.rs"]
mod support;
pub use support::{Sink, SinkWriter};

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

    /// A number from `0..=100`, like Python's `random.randint(0, 100)`.
    pub fn percentish(&mut self) -> u64 {
        self.next_u64() % 101
    }
}

/// The L-system's start.
pub const AXIOM: &str = "B";

/// One rewriting step: `B -> BTL`, `L -> B`, anything else unchanged.
pub fn grow(model: &str) -> String {
    let mut out = String::with_capacity(model.len() * 2);
    for c in model.chars() {
        match c {
            'B' => out.push_str("BTL"),
            'L' => out.push('B'),
            other => out.push(other),
        }
    }
    out
}

/// The damage: each letter survives if a draw from `0..=100` is above the
/// ratio, 0 for models of at most 60 letters, 50 for longer ones. One draw
/// per letter.
pub fn damage(model: &str, rng: &mut XorShift) -> String {
    let ratio = if model.chars().count() > 60 { 50 } else { 0 };
    model.chars().filter(|_| rng.percentish() > ratio).collect()
}

/// The generations a run with `n` generations and `seed` prints, worked out
/// without components (to check the components against).
pub fn expected(n: usize, seed: u64) -> Vec<String> {
    let mut rng = XorShift::new(seed);
    let mut out = Vec::new();
    let mut model = AXIOM.to_string();
    for i in 0..n {
        if i > 0 {
            model = grow(&damage(&model, &mut rng));
        }
        out.push(model.clone());
    }
    out
}

/// Grows the model that comes back round the ring, `n` generations in all.
///
/// | box     | carries  | meaning                                          |
/// |---------|----------|--------------------------------------------------|
/// | inbox   | `String` | the damaged model, back from the ring            |
/// | control | `Signal` | its own finish, back from the ring: end; any other signal: send it round the ring, end when it is back |
/// | outbox  | `String` | each generation, starting with the axiom         |
/// | signal  | `Signal` | producer finished after the last generation      |
pub struct LSystem {
    /// Damaged models coming back.
    pub inbox: Inbox<String>,
    /// The finish coming back round the ring.
    pub control: Inbox<Signal>,
    /// Each generation.
    pub outbox: Outbox<String>,
    /// Producer finished after the last generation.
    pub signal: Outbox<Signal>,
    generations: usize,
    sent: usize,
    finish_sent: bool,
    history: Rc<RefCell<Vec<String>>>,
}

impl LSystem {
    /// Grows `generations` generations, noting each in `history`.
    pub fn new(generations: usize, history: Rc<RefCell<Vec<String>>>) -> Self {
        LSystem {
            inbox: Inbox::new("inbox", "the damaged model, back from the ring"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "each generation"),
            signal: Outbox::signal(),
            generations,
            sent: 0,
            finish_sent: false,
            history,
        }
    }

    fn emit(&mut self, model: String) {
        self.history.borrow_mut().push(model.clone());
        let _ = self.outbox.send(model);
        self.sent += 1;
    }
}

impl Component for LSystem {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        if self.sent == 0 && self.generations > 0 {
            self.emit(AXIOM.to_string());
        }
        while let Some(model) = self.inbox.recv() {
            if self.sent < self.generations && !self.finish_sent {
                self.emit(grow(&model));
            }
            // Otherwise: the last damaged model; the run is over.
        }
        if self.sent >= self.generations && !self.finish_sent {
            let _ = self.signal.send(Signal::ProducerFinished);
            self.finish_sent = true;
        }
        if let Some(sig) = self.control.recv() {
            if self.finish_sent {
                return Step::Done;
            }
            // A signal from outside: round the ring with it first.
            let _ = self.signal.send(sig);
            self.finish_sent = true;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        kamaelia::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}

/// Damages each model (see [`damage`]) and passes it on.
///
/// | box     | carries  | meaning                                          |
/// |---------|----------|--------------------------------------------------|
/// | inbox   | `String` | models                                           |
/// | control | `Signal` | producer finished: damage what waits, then pass it on and end; shutdown: pass it on and end now |
/// | outbox  | `String` | the damaged models                               |
/// | signal  | `Signal` | the control signal, passed on                    |
pub struct Damage {
    /// Models.
    pub inbox: Inbox<String>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Damaged models.
    pub outbox: Outbox<String>,
    /// The control signal, passed on.
    pub signal: Outbox<Signal>,
    rng: XorShift,
    finishing: Option<Signal>,
}

impl Damage {
    /// Damages with random numbers from `seed`.
    pub fn new(seed: u64) -> Self {
        Damage {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::outbox(),
            signal: Outbox::signal(),
            rng: XorShift::new(seed),
            finishing: None,
        }
    }
}

impl Component for Damage {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                let _ = self.signal.send(sig);
                return Step::Done;
            }
            self.finishing.get_or_insert(sig);
        }
        while let Some(model) = self.inbox.recv() {
            let _ = self.outbox.send(damage(&model, &mut self.rng));
        }
        if let Some(sig) = self.finishing.take() {
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        kamaelia::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// How the run ended.
    pub ended: Ended,
    /// The generations, in order.
    pub generations: Vec<String>,
    /// The scheduler's counters.
    pub stats: Stats,
}

/// Runs `n` generations with damage seeded by `seed`, printing each one.
pub fn run(n: usize, seed: u64, out: Sink) -> Outcome {
    let history = Rc::new(RefCell::new(Vec::new()));
    let ring = Pipeline::circular(vec![
        Box::new(LSystem::new(n, history.clone())),
        Box::new(
            ConsoleEchoer::<String>::new()
                .newline(true)
                .forwarder(true)
                .writer(SinkWriter(out)),
        ),
        Box::new(Damage::new(seed)),
    ])
    .expect("String all the way round");
    let mut sched = Scheduler::new();
    sched.spawn(ring);
    let ended = sched.run();
    Outcome {
        ended,
        generations: history.take(),
        stats: sched.stats().clone(),
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n = args.next().and_then(|s| s.parse().ok()).unwrap_or(12);
    let seed = args.next().and_then(|s| s.parse().ok()).unwrap_or(2024);
    let out = support::stdout();
    let o = run(n, seed, out);
    eprintln!(
        "run ended: {:?} after {} generations",
        o.ended,
        o.generations.len()
    );
}
