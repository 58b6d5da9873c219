//! Sketch 5 of the classic catalogue (`CommandLineEchoExample.py` from the
//! introspection tutorial): echo every line typed on the console.
//!
//! ```text
//!   ConsoleReader ──lines──▶ ConsoleEchoer
//!   (line_reader,             (writes each line
//!    on its own thread)        and a newline)
//! ```
//!
//! What it shows: the smallest useful [`pipeline!`]. The reader is a
//! [`Threaded`](kamaelia::axon::Threaded) component (reading standard input
//! blocks, so it runs on a thread of its own and hands each line to the
//! scheduler); the echoer is an ordinary component. At the end of input
//! the reader sends `ProducerFinished` down the pipeline's signal chain,
//! the echoer writes what is still waiting, passes the signal on and ends,
//! and with every child gone the pipeline ends too, so the run is over.
//! (In the original, end of input raised an exception inside the reader's
//! thread and brought the whole system down.)
//!
//! Run it with `cargo run --example console_echo`, type some lines, and
//! end with Ctrl-D.

use std::io::BufRead;

use kamaelia::axon::{line_reader, link_refs, Ended, Inbox, Scheduler, Signal, Stats};
use kamaelia::pipeline;
use kamaelia::util::ConsoleEchoer;

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

/// Echoes every line of `input` to `out`, until the end of input.
pub fn run<R: BufRead + Send + 'static>(input: R, out: Sink) -> Outcome {
    let echo = pipeline![
        line_reader(input),
        ConsoleEchoer::<String>::new()
            .newline(true)
            .writer(SinkWriter(out)),
    ]
    .expect("the reader's boxes fit the echoer's");
    let signals: Inbox<Signal> = Inbox::control();
    link_refs(
        &echo.find("signal").expect("a signal box"),
        &signals.erased(),
    )
    .expect("signal carries Signal");
    let mut sched = Scheduler::new();
    sched.spawn(echo);
    let ended = sched.run();
    Outcome {
        ended,
        signals: std::iter::from_fn(|| signals.recv()).collect(),
        stats: sched.stats().clone(),
    }
}

fn main() {
    let out = support::stdout();
    let o = run(std::io::BufReader::new(std::io::stdin()), out);
    eprintln!("run ended: {:?}, final signal: {:?}", o.ended, o.signals);
}
