//! Sketch 14 of the classic catalogue (`Examples/Backplane/Forwarding.py`):
//! two publishers in forwarder mode and one subscriber on the backplane
//! "broadcast".
//!
//! ```text
//!   Source (thread) ──▶ PublishTo("broadcast", forwarder) ──▶ ConsoleEchoer "[source, forwarded] "
//!                                  │
//!   ConsoleReader   ──▶ PublishTo("broadcast", forwarder) ──▶ ConsoleEchoer "[console, forwarded] "
//!                                  │
//!                                  ▼
//!                      Backplane("broadcast")
//!                                  │
//!                                  ▼
//!                      SubscribeTo("broadcast") ──▶ ConsoleEchoer "[subscriber] "
//!
//!   both publishing pipelines' signals ──▶ WhenAllDone ──▶ Backplane control
//! ```
//!
//! What it shows:
//!
//! * a [`Backplane`] is a named bus found through the services registry:
//!   publishers and subscribers only know its name;
//! * [`PublishTo`] in forwarder mode both publishes each message and
//!   passes a copy on along its own pipeline, so each publisher's echoer
//!   shows what it published;
//! * one subscriber receives everything both publishers published, each
//!   message exactly once, in each publisher's order (the two streams
//!   interleave as the threads happen to run);
//! * a system of threads that ends by itself: the source thread stops
//!   after a few messages, the console reader at the end of input; each
//!   publishing pipeline then ends, and a small `WhenAllDone` component,
//!   told by both, sends `ProducerFinished` to the backplane, which passes
//!   it to its subscriber and ends; the subscriber's pipeline follows.
//!
//! The original's source ran for ever and sent its numbers into the
//! subscriber's pipeline rather than publishing them; here both sides
//! publish, as the catalogue describes, and everything ends.
//!
//! Run it with `cargo run --example backplane_forwarding`, type a few
//! lines, and end with Ctrl-D (the source sends one message a second,
//! five in all).

use std::io::BufRead;
use std::time::Duration;

use kamaelia::axon::{
    line_reader, link, link_refs, BoxSet, Component, Cx, Ended, Inbox, Outbox, Scheduler, Signal,
    Stats, Step, ThreadBoxes, Threaded,
};
use kamaelia::chassis::Pipeline;
use kamaelia::pipeline;
use kamaelia::util::{Backplane, ConsoleEchoer, PublishTo, SubscribeTo};

#[path = "support/mod.rs"]
mod support;
pub use support::{Sink, SinkWriter};

/// The backplane's name.
pub const BUS: &str = "broadcast";

/// The `k`-th message (from 1) of a source of `n`.
pub fn source_line(k: usize, n: usize) -> String {
    format!("source: message {k} of {n}")
}

/// A threaded source: sends [`source_line`]s `1..=n`, `pace` apart (no
/// pause when `pace` is zero), then `ProducerFinished`. A signal on its
/// `control` stops it early (and is passed on).
///
/// | box     | carries  | meaning                                          |
/// |---------|----------|--------------------------------------------------|
/// | inbox   | `()`     | unused                                           |
/// | control | `Signal` | any signal: stop, pass it on                     |
/// | outbox  | `String` | the messages                                     |
/// | signal  | `Signal` | producer finished after the last one             |
pub fn source(n: usize, pace: Duration) -> Threaded<(), String> {
    Threaded::new("Source", move |t: ThreadBoxes<(), String>| {
        for k in 1..=n {
            if t.send(source_line(k, n)).is_err() {
                return;
            }
            if !pace.is_zero() {
                t.wait(Some(pace));
            }
            if let Some(sig) = t.control() {
                t.signal(sig);
                return;
            }
        }
        t.signal(Signal::ProducerFinished);
    })
}

/// Counts finishing signals; once `expect` have come, sends
/// `ProducerFinished` on `outbox` and ends.
///
/// | box     | carries  | meaning                                          |
/// |---------|----------|--------------------------------------------------|
/// | inbox   | `Signal` | one signal from each thing it waits for          |
/// | control | `Signal` | any signal: end at once, passing it on `outbox`  |
/// | outbox  | `Signal` | `ProducerFinished`, once all have signalled      |
pub struct WhenAllDone {
    /// One signal from each thing it waits for.
    pub inbox: Inbox<Signal>,
    /// Ends it early.
    pub control: Inbox<Signal>,
    /// The signal it sends when all are done.
    pub outbox: Outbox<Signal>,
    expect: usize,
    seen: usize,
}

impl WhenAllDone {
    /// Waits for `expect` signals.
    pub fn new(expect: usize) -> Self {
        WhenAllDone {
            inbox: Inbox::new("inbox", "one signal from each thing it waits for"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "producer finished once all are done"),
            expect,
            seen: 0,
        }
    }
}

impl Component for WhenAllDone {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        if let Some(sig) = self.control.recv() {
            let _ = self.outbox.send(sig);
            return Step::Done;
        }
        while self.inbox.recv().is_some() {
            self.seen += 1;
        }
        if self.seen >= self.expect {
            let _ = self.outbox.send(Signal::ProducerFinished);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox).add(&self.control).add(&self.outbox);
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// How the run ended.
    pub ended: Ended,
    /// What the subscriber received, in order.
    pub subscribed: Vec<String>,
    /// The copies the source's publisher passed on.
    pub forwarded_source: Vec<String>,
    /// The copies the console's publisher passed on.
    pub forwarded_console: Vec<String>,
    /// The signals that ended the subscriber's pipeline.
    pub subscriber_signals: Vec<Signal>,
    /// The scheduler's counters.
    pub stats: Stats,
}

fn drain<T>(b: &Inbox<T>) -> Vec<T> {
    std::iter::from_fn(|| b.recv()).collect()
}

fn echoer(tag: &str, out: &Sink) -> ConsoleEchoer<String> {
    ConsoleEchoer::new()
        .tag(tag)
        .newline(true)
        .forwarder(true)
        .writer(SinkWriter(out.clone()))
}

fn tap<T: 'static>(p: &Pipeline, name: &str, to: &Inbox<T>) {
    link_refs(&p.find(name).expect("pipeline box"), &to.erased()).expect("types match");
}

/// Runs the system: a source of `n` lines `pace` apart and the lines of
/// `console` both published on the bus, one subscriber echoing them.
pub fn run<R: BufRead + Send + 'static>(
    n: usize,
    pace: Duration,
    console: R,
    out: Sink,
) -> Outcome {
    let bus = Backplane::<String>::new(BUS);
    // The bus is told to finish only once both publishing pipelines have
    // ended, by which time it has passed on everything they published.
    // (That matters: a Backplane ends as soon as a signal reaches its
    // control, and whatever still waits in its inbox then is not passed
    // on.)
    let done = WhenAllDone::new(2);
    link(&done.outbox, &bus.control).expect("signal to control");

    let subscriber = pipeline![
        SubscribeTo::<String>::new(BUS),
        echoer("[subscriber] ", &out)
    ]
    .expect("subscriber pipeline");
    let from_source = pipeline![
        source(n, pace),
        PublishTo::<String>::new(BUS).forwarder(true),
        echoer("[source, forwarded] ", &out),
    ]
    .expect("source pipeline");
    let from_console = pipeline![
        line_reader(console),
        PublishTo::<String>::new(BUS).forwarder(true),
        echoer("[console, forwarded] ", &out),
    ]
    .expect("console pipeline");

    let subscribed = Inbox::<String>::inbox();
    let subscriber_signals = Inbox::<Signal>::control();
    let forwarded_source = Inbox::<String>::inbox();
    let forwarded_console = Inbox::<String>::inbox();
    tap(&subscriber, "outbox", &subscribed);
    tap(&subscriber, "signal", &subscriber_signals);
    tap(&from_source, "outbox", &forwarded_source);
    tap(&from_console, "outbox", &forwarded_console);
    tap(&from_source, "signal", &done.inbox);
    tap(&from_console, "signal", &done.inbox);

    let mut sched = Scheduler::new();
    // The bus first, so it is registered when the others look for it; the
    // subscriber before the publishers, so it has joined before anything
    // is published (a subscriber only sees what is published after it
    // joined).
    sched.spawn(bus);
    sched.spawn(subscriber);
    sched.spawn(from_source);
    sched.spawn(from_console);
    sched.spawn(done);
    let ended = sched.run();
    Outcome {
        ended,
        subscribed: drain(&subscribed),
        forwarded_source: drain(&forwarded_source),
        forwarded_console: drain(&forwarded_console),
        subscriber_signals: drain(&subscriber_signals),
        stats: sched.stats().clone(),
    }
}

fn main() {
    let out = support::stdout();
    let o = run(
        5,
        Duration::from_secs(1),
        std::io::BufReader::new(std::io::stdin()),
        out,
    );
    eprintln!(
        "run ended: {:?}; the subscriber got {} message(s), then {:?}",
        o.ended,
        o.subscribed.len(),
        o.subscriber_signals
    );
}
