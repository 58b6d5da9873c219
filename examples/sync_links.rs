//! Sketch 2 of the classic catalogue (Axon's
//! `Examples/SynchronousLinks/basic_syncLinksAcceptanceTest.py`): a fast
//! producer against a slow consumer over a bounded link.
//!
//! ```text
//!   Producer ──outbox──▶ [ limit 1 ] ──▶ Consumer (takes one message per
//!            ──signal──▶ control           `interval`, on a timer)
//! ```
//!
//! What it shows:
//!
//! * `link_with_limit(.., 1)` is Kamaelia's *synchronous* link: the
//!   consumer's inbox holds at most one message. A larger limit is the
//!   `pipewidth` variant.
//! * A send into a full inbox is refused and the message comes back in
//!   `Err(Full(msg))`: nothing is thrown away. The producer keeps it,
//!   returns `Step::Pause`, and is woken when the consumer *collects* a
//!   message (Axon's wake-on-pop). It never polls.
//! * A slow consumer that paces itself with `cx.wake_after`. While it waits
//!   for its timer it leaves input in its inbox on purpose, and says so with
//!   `cx.hold_input()`, so the scheduler lets it sleep instead of running it
//!   again at once.
//! * Virtual time: the tests run this on a virtual clock, where the
//!   scheduler jumps straight to the next timer whenever nothing is
//!   runnable, so seconds of "slow" consumer cost microseconds.
//!
//! Run it with `cargo run --example sync_links` (real time: about a second).

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

use kamaelia::axon::{
    link, link_with_limit, BoxSet, Component, Cx, Ended, Full, Inbox, Outbox, Scheduler, Signal,
    Step,
};
use kamaelia::boxes;

/// Where the example writes what happens.
pub type Sink = Rc<RefCell<dyn Write>>;

/// What a run produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Messages in the order the consumer took them.
    pub received: Vec<u32>,
    /// Sends refused because the consumer's inbox was full.
    pub refusals: u64,
    /// The longest queue the consumer ever saw in its inbox.
    pub max_queue: usize,
    /// The limit the consumer's inbox had while running.
    pub limit: Option<usize>,
    /// Scheduler time from start to end.
    pub elapsed: Duration,
    /// How the run ended.
    pub ended: Option<Ended>,
}

type Shared = Rc<RefCell<Outcome>>;

fn stamp(now: Instant, t0: Instant) -> String {
    format!("[{:>4} ms]", now.duration_since(t0).as_millis())
}

/// Sends `0..n` as fast as the link lets it: every message it can in one
/// step, then, when one is refused, keeps it and pauses until woken.
///
/// | box    | carries  | meaning                                  |
/// |--------|----------|------------------------------------------|
/// | outbox | `u32`    | the numbers 0, 1, ..., n-1               |
/// | signal | `Signal` | `ProducerFinished` after the last number |
pub struct Producer {
    outbox: Outbox<u32>,
    signal: Outbox<Signal>,
    next: u32,
    n: u32,
    held: Option<u32>,
    t0: Instant,
    out: Sink,
    shared: Shared,
}

impl Component for Producer {
    fn step(&mut self, cx: &mut Cx) -> Step {
        loop {
            let msg = match self.held.take() {
                Some(m) => m,
                None if self.next < self.n => {
                    self.next += 1;
                    self.next - 1
                }
                None => break,
            };
            match self.outbox.send(msg) {
                Ok(()) => {
                    let _ = writeln!(
                        self.out.borrow_mut(),
                        "{} producer: sent {msg}",
                        stamp(cx.now(), self.t0)
                    );
                }
                Err(Full(m)) => {
                    // Refused: the message is ours again. Keep it, and sleep
                    // until the consumer takes something.
                    let _ = writeln!(
                        self.out.borrow_mut(),
                        "{} producer: {m} refused (inbox full), pausing",
                        stamp(cx.now(), self.t0)
                    );
                    self.held = Some(m);
                    self.shared.borrow_mut().refusals += 1;
                    return Step::Pause;
                }
            }
        }
        let _ = writeln!(
            self.out.borrow_mut(),
            "{} producer: all {} sent, finished",
            stamp(cx.now(), self.t0),
            self.n
        );
        let _ = self.signal.send(Signal::ProducerFinished);
        Step::Done
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.outbox, self.signal);
    }
}

/// Takes one message, then rests for `interval` (a timer) before taking the
/// next; ends when the producer has finished and its inbox is empty.
///
/// | box     | carries  | meaning                                      |
/// |---------|----------|----------------------------------------------|
/// | inbox   | `u32`    | numbers to take, slowly                      |
/// | control | `Signal` | producer finished: end once `inbox` is empty |
pub struct Consumer {
    inbox: Inbox<u32>,
    control: Inbox<Signal>,
    interval: Duration,
    ready_at: Option<Instant>,
    finishing: bool,
    t0: Instant,
    out: Sink,
    shared: Shared,
}

impl Component for Consumer {
    fn step(&mut self, cx: &mut Cx) -> Step {
        let now = cx.now();
        {
            let mut s = self.shared.borrow_mut();
            s.max_queue = s.max_queue.max(self.inbox.len());
            s.limit = self.inbox.limit();
        }
        if self.control.recv().is_some() {
            self.finishing = true;
        }
        if self.ready_at.is_some_and(|t| now < t) {
            // Woken by a delivery while resting: leave the message where it
            // is until the timer fires.
            cx.hold_input();
            return Step::Pause;
        }
        if let Some(m) = self.inbox.recv() {
            let _ = writeln!(
                self.out.borrow_mut(),
                "{} consumer: took {m}",
                stamp(now, self.t0)
            );
            self.shared.borrow_mut().received.push(m);
            self.ready_at = Some(now + self.interval);
            cx.wake_after(self.interval);
            cx.hold_input();
            return Step::Pause;
        }
        if self.finishing {
            let _ = writeln!(
                self.out.borrow_mut(),
                "{} consumer: producer finished and inbox empty, done",
                stamp(now, self.t0)
            );
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.inbox, self.control);
    }
}

/// Runs a producer of `n` messages against a consumer that takes one every
/// `interval`, over a link of width `limit` (1 = synchronous).
pub fn run(n: u32, limit: usize, interval: Duration, virtual_time: bool, out: Sink) -> Outcome {
    let mut sched = if virtual_time {
        Scheduler::with_virtual_time()
    } else {
        Scheduler::new()
    };
    let t0 = sched.now();
    let shared: Shared = Rc::default();
    let producer = Producer {
        outbox: Outbox::outbox(),
        signal: Outbox::signal(),
        next: 0,
        n,
        held: None,
        t0,
        out: out.clone(),
        shared: shared.clone(),
    };
    let consumer = Consumer {
        inbox: Inbox::inbox(),
        control: Inbox::control(),
        interval,
        ready_at: None,
        finishing: false,
        t0,
        out: out.clone(),
        shared: shared.clone(),
    };
    link_with_limit(&producer.outbox, &consumer.inbox, limit).expect("fresh boxes link");
    link(&producer.signal, &consumer.control).expect("fresh boxes link");
    let _ = writeln!(
        out.borrow_mut(),
        "--- {n} messages over a link of width {limit}, consumer takes one every {} ms ---",
        interval.as_millis()
    );
    sched.spawn(producer);
    sched.spawn(consumer);
    let ended = sched.run();
    let mut outcome = shared.take();
    outcome.elapsed = sched.now().duration_since(t0);
    outcome.ended = Some(ended);
    let _ = writeln!(
        out.borrow_mut(),
        "received {} in order: {}, refusals: {}, longest queue: {} (limit {limit})",
        outcome.received.len(),
        outcome.received.windows(2).all(|w| w[0] < w[1]),
        outcome.refusals,
        outcome.max_queue
    );
    outcome
}

fn main() {
    let out: Sink = Rc::new(RefCell::new(std::io::stdout()));
    let step = Duration::from_millis(50);
    run(8, 1, step, false, out.clone()); // synchronous link
    run(8, 3, step, false, out); // pipewidth 3
}
