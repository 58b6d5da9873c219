//! Sketch 1 of the classic catalogue (Axon's `Examples/Simple/README.py`):
//! a parent component starts a producer and a consumer as its children,
//! links them, and waits for the answer.
//!
//! ```text
//!   Parent ──starts──▶ Producer ──outbox──▶ Consumer ──result──▶ Parent._input
//!                               ──signal──▶          (one Tally)
//! ```
//!
//! What it shows:
//!
//! * a component building a little system at run time: it makes the
//!   children, links their boxes with the typed [`link`] (including one link
//!   into its own `_input` inbox), then starts them with `cx.spawn_child`
//!   (the Rust form of `yield newComponent(...)`);
//! * the shutdown convention: the producer sends `ProducerFinished` on its
//!   `signal` after its last message, the consumer finishes what it has and
//!   only then answers;
//! * a parent learning that its children ended through `cx.next_exit()`
//!   (the parent is woken for each one, so it never polls);
//! * a result travelling back to the parent as an ordinary message.
//!
//! Run it with `cargo run --example producer_consumer`.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use kamaelia::axon::{
    link, BoxSet, Component, Cx, Ended, ExitKind, Inbox, Outbox, Scheduler, Signal, Step,
};
use kamaelia::boxes;

/// Where the example writes what happens (stdout in `main`, a buffer in the
/// tests).
pub type Sink = Rc<RefCell<dyn Write>>;

/// What the consumer found, sent to the parent once at the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tally {
    /// Messages received.
    pub count: u64,
    /// Their sum.
    pub sum: u64,
}

/// What a run produced.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The consumer's answer, as the parent received it.
    pub tally: Option<Tally>,
    /// The children's exits, in the order the parent learned of them.
    pub exits: Vec<(String, ExitKind)>,
    /// How the scheduler's run ended.
    pub ended: Ended,
}

/// Sends the numbers `1..=n`, one per step, then says it has finished.
///
/// | box    | carries  | meaning                                  |
/// |--------|----------|------------------------------------------|
/// | outbox | `u64`    | the numbers 1, 2, ..., n                 |
/// | signal | `Signal` | `ProducerFinished` after the last number |
pub struct Producer {
    outbox: Outbox<u64>,
    signal: Outbox<Signal>,
    next: u64,
    n: u64,
}

impl Producer {
    /// A producer of `1..=n`.
    pub fn new(n: u64) -> Self {
        Producer {
            outbox: Outbox::new("outbox", "the numbers 1..=n, one per step"),
            signal: Outbox::signal(),
            next: 1,
            n,
        }
    }
}

impl Component for Producer {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        if self.next <= self.n {
            // The consumer's inbox is unbounded, so this is never refused.
            let _ = self.outbox.send(self.next);
            self.next += 1;
            return Step::Yield;
        }
        let _ = self.signal.send(Signal::ProducerFinished);
        Step::Done
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.outbox, self.signal);
    }
}

/// Counts and sums what arrives; when the producer has finished, sends one
/// [`Tally`] and ends.
///
/// | box     | carries  | meaning                                        |
/// |---------|----------|------------------------------------------------|
/// | source  | `u64`    | numbers to count                               |
/// | control | `Signal` | producer finished: answer, then end            |
/// | result  | `Tally`  | the answer, sent once                          |
pub struct Consumer {
    source: Inbox<u64>,
    control: Inbox<Signal>,
    result: Outbox<Tally>,
    tally: Tally,
}

impl Consumer {
    /// A consumer with nothing counted yet.
    pub fn new() -> Self {
        Consumer {
            source: Inbox::new("source", "numbers to count"),
            control: Inbox::control(),
            result: Outbox::new("result", "the final tally, sent once"),
            tally: Tally { count: 0, sum: 0 },
        }
    }
}

impl Default for Consumer {
    fn default() -> Self {
        Self::new()
    }
}

impl Component for Consumer {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(x) = self.source.recv() {
            self.tally.count += 1;
            self.tally.sum += x;
        }
        // Everything the producer sent arrived before its signal, and the
        // loop above has emptied `source`, so nothing is left behind.
        if self.control.recv().is_some() {
            let _ = self.result.send(self.tally);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.source, self.control, self.result);
    }
}

/// What the parent hands back when it ends: the answer and the exits.
type Answer = (Option<Tally>, Vec<(String, ExitKind)>);

/// Builds Producer → Consumer as its children, waits for the consumer's
/// answer and for both children to end, reports, and ends.
///
/// | box    | carries | meaning                                 |
/// |--------|---------|-----------------------------------------|
/// | _input | `Tally` | the consumer's answer (linked at start) |
pub struct Parent {
    input: Inbox<Tally>,
    n: u64,
    started: bool,
    tally: Option<Tally>,
    exits: Vec<(String, ExitKind)>,
    out: Sink,
    outcome: Rc<RefCell<Option<Answer>>>,
}

impl Component for Parent {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if !self.started {
            self.started = true;
            let producer = Producer::new(self.n);
            let consumer = Consumer::new();
            // Typed links, made before the children start: a type mismatch
            // here would not compile.
            link(&producer.outbox, &consumer.source).expect("fresh boxes link");
            link(&producer.signal, &consumer.control).expect("fresh boxes link");
            link(&consumer.result, &self.input).expect("fresh boxes link");
            let p = cx.spawn_child(producer);
            let c = cx.spawn_child(consumer);
            let _ = writeln!(
                self.out.borrow_mut(),
                "parent: started Producer{p} (n = {}) and Consumer{c}",
                self.n
            );
            return Step::Pause;
        }
        if let Some(t) = self.input.recv() {
            let _ = writeln!(
                self.out.borrow_mut(),
                "parent: consumer answered: {} messages, sum {}",
                t.count,
                t.sum
            );
            self.tally = Some(t);
        }
        while let Some(exit) = cx.next_exit() {
            let _ = writeln!(
                self.out.borrow_mut(),
                "parent: child {}{} ended: {:?}",
                exit.name,
                exit.id,
                exit.how
            );
            self.exits.push((exit.name, exit.how));
        }
        if self.tally.is_some() && cx.children().is_empty() {
            let _ = writeln!(self.out.borrow_mut(), "parent: all children done");
            *self.outcome.borrow_mut() = Some((self.tally, std::mem::take(&mut self.exits)));
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.input);
    }
}

/// Runs the system with a producer of `1..=n`, writing what happens to `out`.
pub fn run(n: u64, out: Sink) -> Outcome {
    let outcome = Rc::new(RefCell::new(None));
    let mut sched = Scheduler::new();
    sched.spawn(Parent {
        input: Inbox::new("_input", "the consumer's answer"),
        n,
        started: false,
        tally: None,
        exits: Vec::new(),
        out,
        outcome: outcome.clone(),
    });
    let ended = sched.run();
    let (tally, exits) = outcome.borrow_mut().take().unwrap_or_default();
    Outcome {
        tally,
        exits,
        ended,
    }
}

fn main() {
    let outcome = run(100, Rc::new(RefCell::new(std::io::stdout())));
    match outcome.tally {
        Some(t) => println!(
            "Consumer finished with result: {} ({} messages)!",
            t.sum, t.count
        ),
        None => println!("no result ({:?})", outcome.ended),
    }
}
