//! The seeds' presentation tool: slides chosen by commands typed on the
//! console.
//!
//! ```text
//!   ConsoleReader ──line──▶ Commands ──Choose──▶ Chooser(slides) ──slide──▶ ConsoleEchoer
//!   (line_reader)           (PureTransformer:     (sends the first slide     (shows the
//!                            Choose::parse, unknown at once, then the one     chosen slide)
//!                            words dropped)         each command lands on)
//! ```
//!
//! What it shows: a [`Chooser`] as the heart of a small interactive tool,
//! driven by words typed on the console: `NEXT`, `PREV`, `FIRST`, `LAST`
//! (and `SAME` to show the current slide again), in any case. A
//! [`PureTransformer`] turns each line into a [`Choose`] command with
//! [`Choose::parse`], dropping lines that are not commands. The chooser
//! does not loop: `NEXT` on the last slide (or `PREV` on the first) shows
//! nothing. At the end of input `ProducerFinished` runs down the pipeline:
//! the chooser obeys the commands still waiting, then everything ends.
//!
//! Run it with `cargo run --example presentation`, type commands, end with
//! Ctrl-D.

use std::io::BufRead;

use kamaelia::axon::{line_reader, link_refs, Ended, Inbox, Scheduler, Signal, Stats};
use kamaelia::pipeline;
use kamaelia::util::{Choose, Chooser, ConsoleEchoer, PureTransformer};

#[path = "support/mod.rs"]
mod support;
pub use support::{Sink, SinkWriter};

/// The slides `main` shows.
pub const SLIDES: [&str; 4] = [
    "Kamaelia\n  components with inboxes and outboxes, wired together",
    "Components\n  a struct, some boxes, and a step that does a little work",
    "Composition\n  Pipeline, Graphline, Carousel, Seq, Par",
    "Questions?\n  (type FIRST to start again)",
];

/// A slide as shown: a rule with its number, then the slide.
pub fn frame(k: usize, n: usize, slide: &str) -> String {
    format!("===== slide {k}/{n} =====\n{slide}")
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// How the run ended.
    pub ended: Ended,
    /// The slides shown, in order.
    pub shown: Vec<String>,
    /// What came out of the pipeline's `signal` at the end.
    pub signals: Vec<Signal>,
    /// The scheduler's counters.
    pub stats: Stats,
}

/// Shows `slides` as the commands in `input` choose them, writing them to
/// `out`.
pub fn run<R: BufRead + Send + 'static>(slides: &[&str], input: R, out: Sink) -> Outcome {
    let n = slides.len();
    let framed: Vec<String> = slides
        .iter()
        .enumerate()
        .map(|(i, s)| frame(i + 1, n, s))
        .collect();
    let p = pipeline![
        line_reader(input),
        PureTransformer::new(|line: String| Choose::parse(&line)),
        Chooser::new(framed, false),
        ConsoleEchoer::<String>::new()
            .newline(true)
            .forwarder(true)
            .writer(SinkWriter(out)),
    ]
    .expect("lines, commands, slides");
    let shown: Inbox<String> = Inbox::inbox();
    let signals: Inbox<Signal> = Inbox::control();
    link_refs(&p.outbox().expect("an outbox"), &shown.erased()).expect("String");
    link_refs(&p.find("signal").expect("a signal"), &signals.erased()).expect("Signal");
    let mut sched = Scheduler::new();
    sched.spawn(p);
    let ended = sched.run();
    Outcome {
        ended,
        shown: std::iter::from_fn(|| shown.recv()).collect(),
        signals: std::iter::from_fn(|| signals.recv()).collect(),
        stats: sched.stats().clone(),
    }
}

fn main() {
    eprintln!("commands: NEXT, PREV, FIRST, LAST, SAME; Ctrl-D to end");
    let out = support::stdout();
    let o = run(&SLIDES, std::io::BufReader::new(std::io::stdin()), out);
    eprintln!("run ended: {:?}, {} slide(s) shown", o.ended, o.shown.len());
}
