//! Sketch 16 of the classic catalogue (`Examples/Files/DemoAppend.py`):
//! lines typed on the console are appended to a file and echoed.
//!
//! ```text
//!   ConsoleReader ──String──▶ AddNewline ──String──▶ Append(file) ──String──▶ ConsoleEchoer
//!   (line_reader)             (PureTransformer:      (writes each line,        (shows what was
//!                              line + "\n")           passes it on)             written)
//! ```
//!
//! What it shows: [`Append`] as a tap in the middle of a pipeline. Each
//! line is written to the end of the file (created if missing; what was
//! there is kept) and flushed in the step that took it, then passed on to
//! the echoer. At the end of input `ProducerFinished` runs down the chain:
//! `Append` writes what is still waiting, flushes and closes the file
//! before passing it on, so when the run is over the file holds every line.
//! (The original read lines without their newline and appended them so,
//! running them together in the file; here each line keeps one `\n`.)
//!
//! Run it with `cargo run --example demo_append [-- FILE]` (default
//! `demo.txt`), type some lines, end with Ctrl-D, and look at the file.

use std::io::BufRead;
use std::path::Path;

use kamaelia::axon::{line_reader, link_refs, Ended, Inbox, Scheduler, Signal, Stats};
use kamaelia::file::Append;
use kamaelia::pipeline;
use kamaelia::util::{ConsoleEchoer, PureTransformer};

#[path = "support/mod.rs"]
mod support;
pub use support::{Sink, SinkWriter};

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// How the run ended.
    pub ended: Ended,
    /// What came out of the pipeline's `signal` at the end.
    pub signals: Vec<Signal>,
    /// The scheduler's counters.
    pub stats: Stats,
}

/// Appends each line of `input` to the file at `path` and echoes it to
/// `out` (with `tag` before it).
pub fn run<R: BufRead + Send + 'static>(input: R, path: &Path, tag: &str, out: Sink) -> Outcome {
    let p = pipeline![
        line_reader(input),
        PureTransformer::new(|line: String| Some(line + "\n")),
        Append::<String>::typed(path),
        ConsoleEchoer::<String>::new()
            .tag(tag)
            .writer(SinkWriter(out)),
    ]
    .expect("every stage carries String");
    let signals: Inbox<Signal> = Inbox::control();
    link_refs(&p.find("signal").expect("a signal box"), &signals.erased())
        .expect("signal carries Signal");
    let mut sched = Scheduler::new();
    sched.spawn(p);
    let ended = sched.run();
    Outcome {
        ended,
        signals: std::iter::from_fn(|| signals.recv()).collect(),
        stats: sched.stats().clone(),
    }
}

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "demo.txt".to_string());
    let out = support::stdout();
    let o = run(
        std::io::BufReader::new(std::io::stdin()),
        Path::new(&path),
        "appended: ",
        out,
    );
    eprintln!("run ended: {:?}, final signal: {:?}", o.ended, o.signals);
}
