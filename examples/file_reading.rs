//! Sketch 15 of the classic catalogue (`Examples/Files/SimpleReading.py`):
//! read a file line by line, then the same through a rate limiter with
//! different buffer sizes and inbox limits.
//!
//! ```text
//!   plain:    SimpleReader ──Bytes──▶ ToText ──String──▶ ConsoleEchoer
//!
//!   limited:  SimpleReader ──▶ Tap "read" ──▶ MessageRateLimit(rate, buffer) ──▶ Tap "released"
//!             (or a paced      (stamps each    (inbox optionally bounded:          (stamps and
//!              ReadFileAdaptor) line as the      the original's "hard limit")       prints it)
//!                               limiter takes it)
//! ```
//!
//! What it shows:
//!
//! * [`SimpleReader`] sends a file's lines (each with its `\n`), one per
//!   step, and `ProducerFinished` at the end; the echoed lines give the
//!   file back byte for byte;
//! * [`MessageRateLimit`] collects `buffer` messages, then releases them
//!   no faster than `rate` a second, sleeping on a timer between releases
//!   (the original spun in a timing loop); at the end of input it releases
//!   what is left at the same rate, then ends;
//! * a bounded inbox in front of the limiter (the original sketch's
//!   `hardlimit`) holds the reader back: lines are taken from the reader
//!   only as the limiter makes room, instead of all at once;
//! * a reader paced by `steptime` ([`ReadFileAdaptor`]), to show what the
//!   buffer does: with `buffer = 3` nothing comes out until three lines
//!   have arrived.
//!
//! On virtual time (`Scheduler::with_virtual_time`) the release times are
//! exact and the run takes no time at all, which is how the tests check
//! them and how `main` shows them unless given `--real`.
//!
//! Run it with `cargo run --example file_reading [-- [--real] [FILE]]`. The
//! default file is `/etc/fstab` if there is one, else this example's own
//! source.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kamaelia::axon::{
    link_refs, BoxSet, Component, Cx, Ended, Full, Inbox, Outbox, Scheduler, Signal, Stats, Step,
};
use kamaelia::chassis::Pipeline;
use kamaelia::file::{ReadFileAdaptor, ReadMode, SimpleReader};
use kamaelia::pipeline;
use kamaelia::util::{ConsoleEchoer, MessageRateLimit, PureTransformer};

#[path = "support/mod.rs"]
mod support;
pub use support::{Sink, SinkWriter};

/// The file read when none is named: `/etc/fstab` if there is one, else
/// this example's own source.
pub fn default_file() -> PathBuf {
    let fstab = Path::new("/etc/fstab");
    if fstab.is_file() {
        fstab.to_path_buf()
    } else {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/file_reading.rs"
        ))
    }
}

/// A line as text, without its line ending.
fn text_of(line: &Bytes) -> String {
    String::from_utf8_lossy(line)
        .trim_end_matches(['\n', '\r'])
        .to_string()
}

/// One stamped line: when it passed a [`Tap`] (since the start) and what
/// it said.
pub type Stamped = (Duration, String);

/// Passes lines on unchanged, noting when each one was passed on (and
/// optionally printing it with the time).
///
/// | box     | carries  | meaning                                          |
/// |---------|----------|--------------------------------------------------|
/// | inbox   | `Bytes`  | lines                                            |
/// | control | `Signal` | producer finished: pass on what waits, then the signal, and end; shutdown: pass it on and end now |
/// | outbox  | `Bytes`  | the same lines; a line is stamped when its send succeeds |
/// | signal  | `Signal` | the control signal, passed on                    |
///
/// A line refused by a full destination is kept and no more are taken
/// until the consumer takes one, so a bounded inbox downstream holds the
/// whole chain back.
pub struct Tap {
    /// Lines.
    pub inbox: Inbox<Bytes>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// The same lines.
    pub outbox: Outbox<Bytes>,
    /// The control signal, passed on.
    pub signal: Outbox<Signal>,
    t0: Instant,
    log: Rc<RefCell<Vec<Stamped>>>,
    print: Option<Sink>,
    held: Option<Bytes>,
    finishing: Option<Signal>,
}

impl Tap {
    /// Stamps relative to `t0` into `log`; prints too if `print` is given.
    pub fn new(t0: Instant, log: Rc<RefCell<Vec<Stamped>>>, print: Option<Sink>) -> Self {
        Tap {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::outbox(),
            signal: Outbox::signal(),
            t0,
            log,
            print,
            held: None,
            finishing: None,
        }
    }

    fn stamp(&self, cx: &Cx, line: &Bytes) {
        let at = cx.now().saturating_duration_since(self.t0);
        let text = text_of(line);
        if let Some(out) = &self.print {
            let _ = writeln!(out.borrow_mut(), "[{:>6} ms] {text}", at.as_millis());
        }
        self.log.borrow_mut().push((at, text));
    }
}

impl Component for Tap {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                let _ = self.signal.send(sig);
                return Step::Done;
            }
            self.finishing.get_or_insert(sig);
        }
        while let Some(line) = self.held.take().or_else(|| self.inbox.recv()) {
            match self.outbox.send(line.clone()) {
                Ok(()) => self.stamp(cx, &line),
                Err(Full(line)) => {
                    // Woken when the consumer takes one.
                    self.held = Some(line);
                    return Step::Pause;
                }
            }
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

/// An inbox (owned by the caller) fed by the pipeline's `signal`.
fn signals_of(p: &Pipeline) -> Inbox<Signal> {
    let signals = Inbox::control();
    link_refs(&p.find("signal").expect("a signal box"), &signals.erased())
        .expect("signal carries Signal");
    signals
}

fn drain<T>(b: &Inbox<T>) -> Vec<T> {
    std::iter::from_fn(|| b.recv()).collect()
}

fn scheduler(virtual_time: bool) -> Scheduler {
    if virtual_time {
        Scheduler::with_virtual_time()
    } else {
        Scheduler::new()
    }
}

/// What the plain reading produced.
#[derive(Debug)]
pub struct Plain {
    /// How the run ended.
    pub ended: Ended,
    /// What came out of the pipeline's `signal` at the end.
    pub signals: Vec<Signal>,
    /// The scheduler's counters.
    pub stats: Stats,
}

/// Reads `path` line by line and echoes it to `out`, unchanged.
pub fn read_plain(path: &Path, out: Sink) -> Plain {
    let p = pipeline![
        SimpleReader::new(path),
        PureTransformer::new(|b: Bytes| Some(String::from_utf8_lossy(&b).into_owned())),
        ConsoleEchoer::<String>::new().writer(SinkWriter(out)),
    ]
    .expect("reader, transformer and echoer fit");
    let signals = signals_of(&p);
    let mut sched = Scheduler::new();
    sched.spawn(p);
    let ended = sched.run();
    Plain {
        ended,
        signals: drain(&signals),
        stats: sched.stats().clone(),
    }
}

/// How a rate-limited reading is set up.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Messages released per second at most.
    pub rate: f64,
    /// Messages collected before releasing starts.
    pub buffer: usize,
    /// A limit on the limiter's inbox (the original's "hard limit").
    pub inbox_limit: Option<usize>,
    /// Read one line every this long (`ReadFileAdaptor::steptime`) instead
    /// of as fast as they are taken.
    pub read_every: Option<Duration>,
    /// Run on virtual time.
    pub virtual_time: bool,
}

/// What a rate-limited reading produced.
#[derive(Debug)]
pub struct Limited {
    /// How the run ended.
    pub ended: Ended,
    /// Each line, when the limiter took it from the reader.
    pub read: Vec<Stamped>,
    /// Each line, when the limiter released it.
    pub released: Vec<Stamped>,
    /// How long the run took (on the scheduler's clock).
    pub elapsed: Duration,
    /// What came out of the pipeline's `signal` at the end.
    pub signals: Vec<Signal>,
    /// The scheduler's counters.
    pub stats: Stats,
}

/// Reads `path` through a [`MessageRateLimit`] set up as `s`, printing
/// each released line with its time to `out`.
pub fn read_limited(path: &Path, s: Settings, out: Sink) -> Limited {
    let mut sched = scheduler(s.virtual_time);
    let t0 = sched.now();
    let read = Rc::new(RefCell::new(Vec::new()));
    let released = Rc::new(RefCell::new(Vec::new()));
    let limiter = MessageRateLimit::<Bytes>::new(s.rate, s.buffer);
    limiter.inbox.set_limit(s.inbox_limit);
    let _ = writeln!(
        out.borrow_mut(),
        "--- at most {} line(s) a second, after a buffer of {}{}{} ---",
        s.rate,
        s.buffer,
        s.inbox_limit
            .map(|n| format!(", limiter inbox limited to {n}"))
            .unwrap_or_default(),
        s.read_every
            .map(|d| format!(", one line read every {} ms", d.as_millis()))
            .unwrap_or_default(),
    );
    let source: Box<dyn Component> = match s.read_every {
        Some(d) => Box::new(ReadFileAdaptor::file(path, ReadMode::Line).steptime(d)),
        None => Box::new(SimpleReader::new(path)),
    };
    let p = Pipeline::new(vec![
        source,
        Box::new(Tap::new(t0, read.clone(), None)),
        Box::new(limiter),
        Box::new(Tap::new(t0, released.clone(), Some(out))),
    ])
    .expect("the stages all carry Bytes");
    let signals = signals_of(&p);
    // The released lines have been printed and stamped: let them go.
    let lines: Inbox<Bytes> = Inbox::inbox();
    link_refs(&p.outbox().expect("an outbox"), &lines.erased()).expect("Bytes");
    sched.spawn(p);
    let ended = sched.run();
    let elapsed = sched.now().saturating_duration_since(t0);
    Limited {
        ended,
        read: read.take(),
        released: released.take(),
        elapsed,
        signals: drain(&signals),
        stats: sched.stats().clone(),
    }
}

/// The settings `main` shows: the original sketch's two (2 a second, then
/// one every 2 s with a hard limit of one), and a buffer of three lines
/// with a reader that reads one line every 100 ms.
pub fn showcase(virtual_time: bool) -> Vec<Settings> {
    let s = |rate, buffer, inbox_limit, read_every| Settings {
        rate,
        buffer,
        inbox_limit,
        read_every,
        virtual_time,
    };
    vec![
        s(2.0, 1, None, None),
        s(0.5, 1, Some(1), None),
        s(5.0, 3, None, Some(Duration::from_millis(100))),
    ]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let real = args.iter().any(|a| a == "--real");
    let path = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(default_file);
    let out = support::stdout();
    println!("--- {} as it is ---", path.display());
    let p = read_plain(&path, out.clone());
    println!("--- ended: {:?} ---", p.ended);
    for s in showcase(!real) {
        let r = read_limited(&path, s, out.clone());
        println!(
            "--- ended: {:?} after {} ms ({}) ---",
            r.ended,
            r.elapsed.as_millis(),
            if real { "real time" } else { "virtual time" }
        );
    }
}
