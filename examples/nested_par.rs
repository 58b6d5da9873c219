//! Sketch 18 of the classic catalogue
//! (`Examples/UsingChassis/PAR/par_shutdown_simple.py`): nested [`Par`]s
//! of slow-shutting threaded children, all shut down by one
//! `ProducerFinished`.
//!
//! ```text
//!   Pipeline(
//!     timedShutdown,                      a thread: waits, then ProducerFinished
//!     Par(                                the outer Par
//!       C1,
//!       Par(
//!         C2, C3,
//!         Pipeline(Par(
//!           Pipeline(Par(C4, C5, C6)),
//!           Pipeline(Par(C7, C8, C9)),
//!         )),
//!       ),
//!     ),
//!     ConsoleEchoer,                      prints what the children say
//!   )
//! ```
//!
//! Each `C` is a `ChattySlowShutdown`: a [`Threaded`] component that says
//! "still waiting" now and then until a signal reaches its `control`, then
//! takes a few moments (three slow steps) to stop, and passes the signal
//! on. Its chatter goes out of its `outbox`, through every Par's `outbox`,
//! to the echoer.
//!
//! What it shows: one `ProducerFinished` on the outer Par's `control`
//! reaches all nine children, through Pars (which copy `control` to every
//! child) and Pipelines (which pass it to their first child). A Par waits
//! for all of its children, however slowly they stop, and only then sends
//! one signal; so the outer Par signals exactly once, after the last of
//! the nine has stopped, and the echoer, told by that signal, ends after
//! printing everything. (The original PAR passed each child's `signal`
//! straight out, so the first child to finish already told the echoer to
//! stop; and a shutdown made it leave without waiting for its children.)
//!
//! The children's threads really sleep (a few milliseconds in the tests);
//! the order in which the nine threads speak varies from run to run, but
//! each child's own story is always in order.
//!
//! Run it with `cargo run --example nested_par`.

use std::time::{Duration, Instant};

use kamaelia::axon::{
    link_refs, Component, Ended, Inbox, Scheduler, Signal, Stats, ThreadBoxes, Threaded,
};
use kamaelia::chassis::{Par, Pipeline};
use kamaelia::util::ConsoleEchoer;

#[path = "support/mod.rs"]
mod support;
pub use support::{Sink, SinkWriter};

/// The times a run uses (real time: the children are threads).
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// When `timedShutdown` sends its `ProducerFinished`.
    pub shutdown_after: Duration,
    /// How often a waiting child says it is still waiting.
    pub chatter_every: Duration,
    /// How long each of a child's three slow shutdown steps takes.
    pub slow_step: Duration,
}

/// The number of slow steps a child takes to stop.
pub const SLOW_STEPS: usize = 3;

/// A thread that waits `after` (or until a signal on its `control`), then
/// sends `ProducerFinished` (or that signal) on `signal`.
///
/// | box     | carries  | meaning                                          |
/// |---------|----------|--------------------------------------------------|
/// | inbox   | `()`     | unused                                           |
/// | control | `Signal` | any signal: send it on at once instead           |
/// | outbox  | `()`     | unused                                           |
/// | signal  | `Signal` | producer finished, after the wait                |
pub fn timed_shutdown(after: Duration) -> Threaded<(), ()> {
    Threaded::new("timedShutdown", move |t: ThreadBoxes<(), ()>| {
        let deadline = Instant::now() + after;
        loop {
            if let Some(sig) = t.control() {
                t.signal(sig);
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            t.wait(Some(deadline - now));
        }
        t.signal(Signal::ProducerFinished);
    })
}

/// A child that is slow to shut down (the original's
/// `ChattySlowShutdown`), on its own thread.
///
/// | box     | carries  | meaning                                          |
/// |---------|----------|--------------------------------------------------|
/// | inbox   | `()`     | unused                                           |
/// | control | `Signal` | any signal: stop, slowly ([`SLOW_STEPS`] steps of `slow_step`), then pass it on |
/// | outbox  | `String` | its chatter: "NAME: still waiting", "NAME: got SIGNAL", "NAME: shutting down slowly (k/3)", "NAME: stopped" |
/// | signal  | `Signal` | the signal it got, once it has stopped           |
pub fn chatty_slow_shutdown(name: &str, timing: Timing) -> Threaded<(), String> {
    let me = name.to_string();
    Threaded::new(name, move |t: ThreadBoxes<(), String>| {
        let say = |s: String| t.send(format!("{me}: {s}")).is_ok();
        let sig = loop {
            if let Some(sig) = t.control() {
                break sig;
            }
            if !say("still waiting".to_string()) {
                return;
            }
            t.wait(Some(timing.chatter_every));
        };
        say(format!("got {sig:?}"));
        for k in 1..=SLOW_STEPS {
            say(format!("shutting down slowly ({k}/{SLOW_STEPS})"));
            std::thread::sleep(timing.slow_step);
        }
        say("stopped".to_string());
        t.signal(sig);
    })
}

/// The names of the nine children, in the order they appear.
pub fn child_names() -> Vec<String> {
    (1..=9).map(|i| format!("C{i}")).collect()
}

fn par(children: Vec<Box<dyn Component>>) -> Box<dyn Component> {
    Box::new(Par::<(), String>::new(children))
}

fn in_pipeline(c: Box<dyn Component>) -> Box<dyn Component> {
    Box::new(Pipeline::new(vec![c]).expect("a pipeline of one"))
}

/// The nested Pars of the original, with the children named `C1`..`C9`.
pub fn nested(timing: Timing) -> Box<dyn Component> {
    let c = |i: usize| -> Box<dyn Component> {
        Box::new(chatty_slow_shutdown(&format!("C{i}"), timing))
    };
    par(vec![
        c(1),
        par(vec![
            c(2),
            c(3),
            in_pipeline(par(vec![
                in_pipeline(par(vec![c(4), c(5), c(6)])),
                in_pipeline(par(vec![c(7), c(8), c(9)])),
            ])),
        ]),
    ])
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// How the run ended.
    pub ended: Ended,
    /// Everything the children said, in the order the echoer printed it.
    pub chatter: Vec<String>,
    /// The signals that came out at the end (the outer Par's, passed on
    /// by the echoer).
    pub signals: Vec<Signal>,
    /// How long the run took.
    pub elapsed: Duration,
    /// The scheduler's counters.
    pub stats: Stats,
}

/// Runs the nested Pars with `timing`, printing the chatter to `out`.
pub fn run(timing: Timing, out: Sink) -> Outcome {
    let system = Pipeline::new(vec![
        Box::new(timed_shutdown(timing.shutdown_after)),
        nested(timing),
        Box::new(
            ConsoleEchoer::<String>::new()
                .newline(true)
                .forwarder(true)
                .writer(SinkWriter(out)),
        ),
    ])
    .expect("() into the Par, String out of it");
    let chatter: Inbox<String> = Inbox::inbox();
    let signals: Inbox<Signal> = Inbox::control();
    link_refs(&system.outbox().expect("an outbox"), &chatter.erased()).expect("String");
    link_refs(&system.find("signal").expect("a signal"), &signals.erased()).expect("Signal");
    let mut sched = Scheduler::new();
    let t0 = Instant::now();
    sched.spawn(system);
    let ended = sched.run();
    Outcome {
        ended,
        chatter: std::iter::from_fn(|| chatter.recv()).collect(),
        signals: std::iter::from_fn(|| signals.recv()).collect(),
        elapsed: t0.elapsed(),
        stats: sched.stats().clone(),
    }
}

fn main() {
    let out = support::stdout();
    let o = run(
        Timing {
            shutdown_after: Duration::from_secs(3),
            chatter_every: Duration::from_secs(1),
            slow_step: Duration::from_secs(1),
        },
        out,
    );
    println!(
        "run ended: {:?} after {:.1} s; the outer PAR signalled {:?}",
        o.ended,
        o.elapsed.as_secs_f64(),
        o.signals
    );
}
