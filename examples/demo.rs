//! The demo: the core doing a small piece of real work with no outside
//! services. It counts the words of a text (an embedded one about Kamaelia
//! by default, or the file named on the command line) with a chain of
//! components:
//!
//! ```text
//!   LineSource ──lines──▶ [limit 2] WordSplitter ──words──▶ [limit 8] WordCounter ──status──▶ Reporter
//!   (a few lines per         (one line per step)               (a few words per     ──counts──▶ (progress on a
//!    5 ms tick)                                                  step)                            timer, final top 10)
//! ```
//!
//! What it shows:
//!
//! * a rate-limited source on a drift-free [`Periodic`] timer that sends at
//!   most `batch` lines per tick, one line per step, and honours
//!   back-pressure: a refused line comes back in `Err(Full(line))`, is kept,
//!   and the source sleeps until the splitter takes a line;
//! * bounded inboxes all along the chain, so a slow stage holds the faster
//!   ones back instead of letting queues grow: the splitter keeps the words
//!   the counter has no room for and stops taking lines meanwhile;
//! * Kamaelia's shutdown convention: `ProducerFinished` travels down the
//!   chain behind the data, and each stage finishes its work before passing
//!   it on and ending;
//! * a progress reporter that prints only when its timer ticks, an
//!   introspection picture of the running system (`Snapshot::render`) taken
//!   mid-run, and the scheduler's counters at the end.
//!
//! It finishes by itself in about a tenth of a second.
//!
//! Run it with `cargo run --example demo`, or `cargo run --example demo --
//! some/file.txt` to count another file.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

use kamaelia::axon::{
    link, link_with_limit, BoxSet, Component, Cx, Ended, Full, Inbox, Outbox, Periodic, Scheduler,
    Signal, Stats, Step,
};
use kamaelia::boxes;

/// The text counted when no file is named.
pub const KAMAELIA_TEXT: &str = "\
Kamaelia grew out of BBC Research and Development in the early 2000s,
at a time when the people there wanted to try new ways of delivering
audio and video to very large audiences over the network. Building a
streaming server, a multicast relay or a small game meant writing a
lot of code that had to do many things at once, and the usual tools
for that, threads and callbacks, made such code hard to read and
harder to change.

The answer they settled on was a model that a newcomer could grasp in
a few minutes. A system is made of components. Each component is a
small worker with named inboxes and outboxes, like a clerk at a desk
with trays for incoming and outgoing post. A component only ever
reads from its own inboxes and writes to its own outboxes; it does not
know who sent the messages or who will receive the ones it produces.
Somebody else draws the lines between the trays, and the postman
carries the messages along those lines.

Because a component knows nothing about its neighbours, it can be
tested on its own and reused in another system without change. A file
reader, a rate limiter, a line splitter or a network socket can be
plugged together the way commands are plugged together in a Unix
pipeline. The default boxes follow a convention: data arrives on the
inbox and leaves on the outbox, while control and signal carry the
messages that tell a component to finish its work or to stop at once.

Concurrency in Kamaelia is cooperative. In the Python original every
component was a generator, and each yield handed control back to a
simple scheduler that ran the components one after another. A
component with nothing to do could pause, and the arrival of a message
woke it again. Components that had to block, for example to read the
console, could run in a thread of their own and talk to the rest of
the system through the same boxes.

This Rust rebuild keeps the model and the vocabulary. A component is a
struct with typed boxes and a step method that does a little work and
then says whether it wants to run again, to sleep until something
arrives, or to finish. A scheduler on a single thread runs the steps in
rounds and waits in the operating system when nobody has work to do.
Bounded inboxes give back pressure: when a box is full the message is
handed back to its sender, which keeps it and sleeps until the
receiver takes something. Nothing is lost and nothing waits forever.

The words you are reading are flowing through such a system right
now. One component reads them line by line, another splits the lines
into words, a third counts the words, and a fourth reports on the
progress every few milliseconds and prints the most common words at
the end.
";

/// Where the demo writes what happens.
pub type Sink = Rc<RefCell<dyn Write>>;

/// What travels from the splitter to the counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// One word, lower-cased.
    Word(String),
    /// The end of a line.
    EndOfLine,
}

/// Running totals, from the counter to the reporter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Lines counted.
    pub lines: u64,
    /// Words counted.
    pub words: u64,
    /// Different words seen.
    pub distinct: u64,
}

/// The final counts, sent once by the counter.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// Lines counted.
    pub lines: u64,
    /// Words counted.
    pub words: u64,
    /// How often each word occurred.
    pub per_word: HashMap<String, u64>,
}

/// The words of a line: runs of letters, digits and apostrophes, with
/// apostrophes trimmed from both ends, lower-cased.
pub fn words(line: &str) -> impl Iterator<Item = String> + '_ {
    line.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// Settings of a run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Run on a virtual clock (deterministic, takes no real time).
    pub virtual_time: bool,
    /// The source's tick.
    pub tick: Duration,
    /// The source spreads the text over about this many ticks.
    pub ticks: usize,
    /// Limit of the splitter's inbox (lines).
    pub line_limit: usize,
    /// Limit of the counter's inbox (words).
    pub word_limit: usize,
    /// Words the counter takes per step.
    pub words_per_step: usize,
    /// The reporter's period.
    pub report_every: Duration,
    /// The reporter's tick at which to take the introspection snapshot.
    pub snapshot_at: u64,
    /// How many of the most common words to report.
    pub top: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            virtual_time: false,
            tick: Duration::from_millis(5),
            ticks: 12,
            line_limit: 2,
            word_limit: 8,
            words_per_step: 4,
            report_every: Duration::from_millis(15),
            snapshot_at: 2,
            top: 10,
        }
    }
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct Report {
    /// Lines counted.
    pub lines: u64,
    /// Words counted.
    pub words: u64,
    /// Different words.
    pub distinct: u64,
    /// The most common words, most common first (ties alphabetical).
    pub top: Vec<(String, u64)>,
    /// Progress lines the reporter printed.
    pub progress_reports: u64,
    /// The introspection picture, if the run lasted long enough to take it.
    pub snapshot: Option<String>,
    /// Lines the source had refused (splitter's inbox full).
    pub source_refusals: u64,
    /// Words the splitter had refused (counter's inbox full).
    pub splitter_refusals: u64,
    /// The scheduler's counters.
    pub stats: Stats,
    /// How the run ended.
    pub ended: Ended,
    /// Scheduler time from start to end.
    pub elapsed: Duration,
}

fn stamp(now: Instant, t0: Instant) -> String {
    format!("[{:>4} ms]", now.duration_since(t0).as_millis())
}

/// Sends the lines of a text, at most `batch` per tick and one per step,
/// holding a refused line until there is room.
///
/// | box    | carries  | meaning                                  |
/// |--------|----------|------------------------------------------|
/// | outbox | `String` | one line of text (without its newline)   |
/// | signal | `Signal` | `ProducerFinished` after the last line   |
pub struct LineSource {
    outbox: Outbox<String>,
    signal: Outbox<Signal>,
    lines: VecDeque<String>,
    held: Option<String>,
    tick: Duration,
    batch: u64,
    budget: u64,
    pace: Option<Periodic>,
    refusals: Rc<Cell<u64>>,
}

impl Component for LineSource {
    fn step(&mut self, cx: &mut Cx) -> Step {
        let pace = match &mut self.pace {
            Some(p) => {
                // A tick refills the budget; unused budget does not pile
                // up while we are held back.
                let due = p.due(cx);
                if due > 0 {
                    self.budget = self.batch;
                }
                p
            }
            None => {
                self.budget = self.batch;
                self.pace.insert(Periodic::start(cx, self.tick))
            }
        };
        while self.budget > 0 {
            let Some(line) = self.held.take().or_else(|| self.lines.pop_front()) else {
                break;
            };
            match self.outbox.send(line) {
                Ok(()) => {
                    self.budget -= 1;
                    if self.budget > 0 && !self.lines.is_empty() {
                        return Step::Yield; // one line per step
                    }
                }
                Err(Full(line)) => {
                    // The splitter is busy: keep the line, sleep until it
                    // takes one (or until the next tick).
                    self.held = Some(line);
                    self.refusals.set(self.refusals.get() + 1);
                    return Step::Pause;
                }
            }
        }
        if self.held.is_none() && self.lines.is_empty() {
            pace.stop(cx);
            let _ = self.signal.send(Signal::ProducerFinished);
            return Step::Done;
        }
        Step::Pause // until the next tick
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.outbox, self.signal);
    }
}

/// Splits lines into words, one line per step; keeps the words the counter
/// has no room for and takes no new line until they are sent.
///
/// | box     | carries  | meaning                                        |
/// |---------|----------|------------------------------------------------|
/// | inbox   | `String` | lines of text                                  |
/// | control | `Signal` | producer finished: send what is left, pass on  |
/// | outbox  | `Token`  | the words of each line, then `EndOfLine`       |
/// | signal  | `Signal` | the producer-finished signal, passed on        |
pub struct WordSplitter {
    inbox: Inbox<String>,
    control: Inbox<Signal>,
    outbox: Outbox<Token>,
    signal: Outbox<Signal>,
    pending: VecDeque<Token>,
    refusals: Rc<Cell<u64>>,
}

impl WordSplitter {
    /// Sends what is pending; false if the counter refused a word.
    fn flush(&mut self) -> bool {
        while let Some(t) = self.pending.pop_front() {
            if let Err(Full(t)) = self.outbox.send(t) {
                self.pending.push_front(t);
                self.refusals.set(self.refusals.get() + 1);
                return false;
            }
        }
        true
    }
}

impl Component for WordSplitter {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        // A refused send makes the scheduler let us sleep even though lines
        // wait in our inbox; the counter wakes us when it takes a word.
        if !self.flush() {
            return Step::Pause;
        }
        if let Some(line) = self.inbox.recv() {
            self.pending.extend(words(&line).map(Token::Word));
            self.pending.push_back(Token::EndOfLine);
            if !self.flush() {
                return Step::Pause;
            }
            return Step::Yield;
        }
        if let Some(sig) = self.control.recv() {
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}

/// Counts words and lines, a few tokens per step, reporting its running
/// totals after each step that counted something.
///
/// | box     | carries    | meaning                                       |
/// |---------|------------|-----------------------------------------------|
/// | inbox   | `Token`    | words and line ends                           |
/// | control | `Signal`   | producer finished: send the counts, pass on   |
/// | status  | `Progress` | running totals                                |
/// | outbox  | `Counts`   | the final counts, once                        |
/// | signal  | `Signal`   | `ProducerFinished` after the counts           |
pub struct WordCounter {
    inbox: Inbox<Token>,
    control: Inbox<Signal>,
    status: Outbox<Progress>,
    outbox: Outbox<Counts>,
    signal: Outbox<Signal>,
    per_step: usize,
    counts: Counts,
}

impl Component for WordCounter {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        let mut n = 0;
        while n < self.per_step {
            match self.inbox.recv() {
                Some(Token::Word(w)) => {
                    *self.counts.per_word.entry(w).or_insert(0) += 1;
                    self.counts.words += 1;
                }
                Some(Token::EndOfLine) => self.counts.lines += 1,
                None => break,
            }
            n += 1;
        }
        if n > 0 {
            let _ = self.status.send(Progress {
                lines: self.counts.lines,
                words: self.counts.words,
                distinct: self.counts.per_word.len() as u64,
            });
        }
        if !self.inbox.is_empty() {
            return Step::Yield;
        }
        if let Some(sig) = self.control.recv() {
            let _ = self.outbox.send(std::mem::take(&mut self.counts));
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.inbox, self.control, self.status, self.outbox, self.signal);
    }
}

/// Prints progress when its timer ticks (taking an introspection picture on
/// one tick), and the final report when the counts arrive.
///
/// | box     | carries    | meaning                                   |
/// |---------|------------|-------------------------------------------|
/// | status  | `Progress` | running totals (the latest one counts)    |
/// | inbox   | `Counts`   | the final counts                          |
/// | control | `Signal`   | the counter has finished                  |
pub struct Reporter {
    status: Inbox<Progress>,
    inbox: Inbox<Counts>,
    control: Inbox<Signal>,
    every: Duration,
    ticker: Option<Periodic>,
    latest: Progress,
    snapshot_at: u64,
    snapshot_due: bool,
    top: usize,
    t0: Instant,
    out: Sink,
    report: Rc<RefCell<Option<Report>>>,
}

impl Reporter {
    fn final_report(&mut self, counts: Counts) {
        let mut ranked: Vec<(String, u64)> = counts.per_word.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let distinct = ranked.len() as u64;
        ranked.truncate(self.top);
        let mut out = self.out.borrow_mut();
        let _ = writeln!(out, "--- final report ---");
        let _ = writeln!(
            out,
            "{} lines, {} words, {} different words",
            counts.lines, counts.words, distinct
        );
        let _ = writeln!(out, "top {}:", ranked.len());
        for (i, (w, n)) in ranked.iter().enumerate() {
            let _ = writeln!(out, "  {:>2}. {w:<12} {n:>4}", i + 1);
        }
        let mut r = self.report.borrow_mut();
        let r = r.as_mut().expect("report is set up before the run");
        r.lines = counts.lines;
        r.words = counts.words;
        r.distinct = distinct;
        r.top = ranked;
    }
}

impl Component for Reporter {
    fn step(&mut self, cx: &mut Cx) -> Step {
        let ticker = self
            .ticker
            .get_or_insert_with(|| Periodic::new(cx.now(), self.every));
        while let Some(p) = self.status.recv() {
            self.latest = p;
        }
        if self.snapshot_due {
            // One step after the tick, so the components woken with us have
            // run and there is work in flight to see.
            self.snapshot_due = false;
            let picture = cx.snapshot().render();
            let _ = write!(
                self.out.borrow_mut(),
                "--- introspection at {} ---\n{picture}---\n",
                stamp(cx.now(), self.t0)
            );
            if let Some(r) = self.report.borrow_mut().as_mut() {
                r.snapshot = Some(picture);
            }
        }
        if let Some(counts) = self.inbox.recv() {
            ticker.stop(cx);
            while self.control.recv().is_some() {}
            self.final_report(counts);
            return Step::Done;
        }
        if ticker.due(cx) > 0 {
            let p = self.latest;
            let _ = writeln!(
                self.out.borrow_mut(),
                "{} progress: {:>5} lines, {:>6} words, {:>5} different",
                stamp(cx.now(), self.t0),
                p.lines,
                p.words,
                p.distinct
            );
            let ticks = ticker.ticks();
            if let Some(r) = self.report.borrow_mut().as_mut() {
                r.progress_reports += 1;
            }
            if ticks == self.snapshot_at {
                self.snapshot_due = true;
                return Step::Yield;
            }
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.status, self.inbox, self.control);
    }
}

/// Counts the words of `text`, writing progress and the report to `out`.
pub fn run(text: &str, opts: &Options, out: Sink) -> Report {
    let mut sched = if opts.virtual_time {
        Scheduler::with_virtual_time()
    } else {
        Scheduler::new()
    };
    let t0 = sched.now();
    let lines: VecDeque<String> = text.lines().map(str::to_string).collect();
    let batch = lines.len().div_ceil(opts.ticks.max(1)).max(1) as u64;
    let source_refusals = Rc::new(Cell::new(0));
    let splitter_refusals = Rc::new(Cell::new(0));
    let report = Rc::new(RefCell::new(Some(Report {
        lines: 0,
        words: 0,
        distinct: 0,
        top: Vec::new(),
        progress_reports: 0,
        snapshot: None,
        source_refusals: 0,
        splitter_refusals: 0,
        stats: Stats::default(),
        ended: Ended::Completed,
        elapsed: Duration::ZERO,
    })));
    let _ = writeln!(
        out.borrow_mut(),
        "counting {} bytes, {} lines: {batch} line(s) every {} ms, progress every {} ms",
        text.len(),
        lines.len(),
        opts.tick.as_millis(),
        opts.report_every.as_millis()
    );

    let source = LineSource {
        outbox: Outbox::new("outbox", "lines of text"),
        signal: Outbox::signal(),
        lines,
        held: None,
        tick: opts.tick,
        batch,
        budget: 0,
        pace: None,
        refusals: source_refusals.clone(),
    };
    let splitter = WordSplitter {
        inbox: Inbox::new("inbox", "lines of text"),
        control: Inbox::control(),
        outbox: Outbox::new("outbox", "words and line ends"),
        signal: Outbox::signal(),
        pending: VecDeque::new(),
        refusals: splitter_refusals.clone(),
    };
    let counter = WordCounter {
        inbox: Inbox::new("inbox", "words and line ends"),
        control: Inbox::control(),
        status: Outbox::new("status", "running totals"),
        outbox: Outbox::new("outbox", "the final counts"),
        signal: Outbox::signal(),
        per_step: opts.words_per_step.max(1),
        counts: Counts::default(),
    };
    let reporter = Reporter {
        status: Inbox::new("status", "running totals"),
        inbox: Inbox::new("inbox", "the final counts"),
        control: Inbox::control(),
        every: opts.report_every,
        ticker: None,
        latest: Progress::default(),
        snapshot_at: opts.snapshot_at,
        snapshot_due: false,
        top: opts.top,
        t0,
        out: out.clone(),
        report: report.clone(),
    };
    let fresh = "fresh boxes link";
    link_with_limit(&source.outbox, &splitter.inbox, opts.line_limit.max(1)).expect(fresh);
    link(&source.signal, &splitter.control).expect(fresh);
    link_with_limit(&splitter.outbox, &counter.inbox, opts.word_limit.max(1)).expect(fresh);
    link(&splitter.signal, &counter.control).expect(fresh);
    link(&counter.status, &reporter.status).expect(fresh);
    link(&counter.outbox, &reporter.inbox).expect(fresh);
    link(&counter.signal, &reporter.control).expect(fresh);
    sched.spawn(source);
    sched.spawn(splitter);
    sched.spawn(counter);
    sched.spawn(reporter);

    let ended = sched.run();

    let mut r = report.take().expect("set up above");
    r.ended = ended;
    r.elapsed = sched.now().duration_since(t0);
    r.stats = sched.stats().clone();
    r.source_refusals = source_refusals.get();
    r.splitter_refusals = splitter_refusals.get();
    let s = &r.stats;
    let mut o = out.borrow_mut();
    let _ = writeln!(o, "--- scheduler ---");
    let _ = writeln!(
        o,
        "ended {:?} after {} ms: {} steps in {} rounds, {} components spawned, {} finished, {} panicked, {} undelivered, {} waits",
        r.ended,
        r.elapsed.as_millis(),
        s.steps,
        s.rounds,
        s.spawned,
        s.finished,
        s.panicked,
        s.undelivered,
        s.waits
    );
    let _ = writeln!(
        o,
        "back-pressure: the source was held back {} time(s), the splitter {} time(s)",
        r.source_refusals, r.splitter_refusals
    );
    r
}

/// The text to count: the file at `path` (bytes that are not UTF-8 are
/// replaced), or the embedded text.
pub fn load(path: Option<&std::path::Path>) -> std::io::Result<String> {
    match path {
        Some(p) => Ok(String::from_utf8_lossy(&std::fs::read(p)?).into_owned()),
        None => Ok(KAMAELIA_TEXT.to_string()),
    }
}

fn main() {
    let path = std::env::args_os().nth(1).map(std::path::PathBuf::from);
    let text = match load(path.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            let shown = path
                .as_deref()
                .unwrap_or(std::path::Path::new(""))
                .display();
            eprintln!("demo: cannot read {shown}: {e}");
            std::process::exit(1);
        }
    };
    let started = Instant::now();
    run(
        &text,
        &Options::default(),
        Rc::new(RefCell::new(std::io::stdout())),
    );
    println!(
        "(wall clock: {:.1} ms)",
        started.elapsed().as_secs_f64() * 1e3
    );
}
