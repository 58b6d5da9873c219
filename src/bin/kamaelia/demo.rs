//! `kamaelia` with no subcommand, or `kamaelia demo`: the project's main
//! job on an embedded default, with no outside services. The Kamaelia
//! text of `examples/demo.rs` is served from memory by our HttpServer on
//! 127.0.0.1 (a free port), fetched back by our SimpleHttpClient over a
//! real socket, and its words counted by a small pipeline, all on one
//! scheduler:
//!
//! ```text
//! HttpServer 127.0.0.1:0 ── "/kamaelia.txt" ──▶ RequestLog(Fixed: the text)
//!     ▲ TCP                                          │ (one log line)
//!     │
//! SimpleHttpClient ──Fetched──▶ Lines ──lines──▶ [limit 2] WordSplitter ──Token──▶ [limit 8] WordCounter
//!  ▲ url, then                  (body to lines)            (words of a line)                 │ (a picture of the
//!  │ ProducerFinished                                                                         │  graph on its first
//!  │                                                                                          │  words; counts at end)
//!  └ (sent before the run)         the end travels down the chain: signal → control ... ──────┴──▶ HttpServer.control
//! ```
//!
//! The counter's end stops the server, and then nothing is left: the
//! scheduler's run returns. It prints the fetch, the request log line, the
//! picture of the running graph, the top words and the scheduler's
//! counters, in a few milliseconds.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use kamaelia::axon::{
    link, link_with_limit, BoxSet, Component, Cx, Ended, Full, Inbox, Outbox, Scheduler, Signal,
    Step,
};
use kamaelia::boxes;
use kamaelia::protocol::http::client::{Fetched, HttpJob, SimpleHttpClient};
use kamaelia::protocol::http::{Fixed, HttpServer, Router, ServerConfig};

use crate::log::{logged, LogSink};

/// The demo example, for its embedded text and its notion of a word.
#[allow(dead_code)]
#[path = "../../../examples/demo.rs"]
mod example;

use example::{words, Token, KAMAELIA_TEXT};

/// Where the text is served.
pub const PATH: &str = "/kamaelia.txt";

/// Arguments of `kamaelia demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// How many of the most common words to print.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
}

impl Default for Args {
    fn default() -> Self {
        Args { top: 10 }
    }
}

/// What the pipeline found, filled in as it runs.
#[derive(Default)]
struct Found {
    status: Option<u16>,
    body_len: usize,
    failure: Option<String>,
    lines: u64,
    words: u64,
    per_word: HashMap<String, u64>,
    snapshot: Option<String>,
}

type Shared = Rc<RefCell<Found>>;

/// Turns the fetched response into lines of text.
///
/// | box     | carries   | meaning                                          |
/// |---------|-----------|--------------------------------------------------|
/// | inbox   | `Fetched` | a whole response (or why there is none)          |
/// | control | `Signal`  | the client's end: passed on after the last line  |
/// | outbox  | `String`  | lines, without their newlines                    |
/// | signal  | `Signal`  | the control signal, passed on                    |
struct Lines {
    inbox: Inbox<Fetched>,
    control: Inbox<Signal>,
    outbox: Outbox<String>,
    signal: Outbox<Signal>,
    pending: VecDeque<String>,
    found: Shared,
}

impl Component for Lines {
    fn step(&mut self, cx: &mut Cx) -> Step {
        loop {
            while let Some(line) = self.pending.pop_front() {
                if let Err(Full(line)) = self.outbox.send(line) {
                    self.pending.push_front(line);
                    cx.hold_input();
                    return Step::Pause;
                }
            }
            match self.inbox.recv() {
                Some(Ok(resp)) => {
                    let mut f = self.found.borrow_mut();
                    f.status = Some(resp.head.status);
                    f.body_len = resp.body.len();
                    let text = String::from_utf8_lossy(&resp.body);
                    self.pending.extend(text.lines().map(str::to_string));
                }
                Some(Err(e)) => self.found.borrow_mut().failure = Some(e.to_string()),
                None => break,
            }
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

/// Splits lines into words, one line per step, holding the words the
/// counter has no room for.
///
/// | box     | carries  | meaning                                         |
/// |---------|----------|-------------------------------------------------|
/// | inbox   | `String` | lines                                           |
/// | control | `Signal` | producer finished: send what is left, pass on   |
/// | outbox  | `Token`  | the words of each line, then `EndOfLine`        |
/// | signal  | `Signal` | the control signal, passed on                   |
struct WordSplitter {
    inbox: Inbox<String>,
    control: Inbox<Signal>,
    outbox: Outbox<Token>,
    signal: Outbox<Signal>,
    pending: VecDeque<Token>,
}

impl Component for WordSplitter {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(t) = self.pending.pop_front() {
            if let Err(Full(t)) = self.outbox.send(t) {
                self.pending.push_front(t);
                cx.hold_input();
                return Step::Pause;
            }
        }
        if let Some(line) = self.inbox.recv() {
            self.pending.extend(words(&line).map(Token::Word));
            self.pending.push_back(Token::EndOfLine);
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

/// Counts words and lines, a few tokens per step; takes a picture of the
/// running graph when its first words arrive.
///
/// | box     | carries  | meaning                                          |
/// |---------|----------|--------------------------------------------------|
/// | inbox   | `Token`  | words and line ends                              |
/// | control | `Signal` | producer finished: the counts are final, pass on |
/// | signal  | `Signal` | the control signal, passed on (it stops the server) |
struct WordCounter {
    inbox: Inbox<Token>,
    control: Inbox<Signal>,
    signal: Outbox<Signal>,
    found: Shared,
}

impl Component for WordCounter {
    fn step(&mut self, cx: &mut Cx) -> Step {
        let mut f = self.found.borrow_mut();
        if f.snapshot.is_none() && !self.inbox.is_empty() {
            f.snapshot = Some(cx.snapshot().render());
        }
        for _ in 0..4 {
            match self.inbox.recv() {
                Some(Token::Word(w)) => {
                    f.words += 1;
                    *f.per_word.entry(w).or_insert(0) += 1;
                }
                Some(Token::EndOfLine) => f.lines += 1,
                None => break,
            }
        }
        if !self.inbox.is_empty() {
            return Step::Yield;
        }
        if let Some(sig) = self.control.recv() {
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.inbox, self.control, self.signal);
    }
}

/// Runs the demo, writing its report to stdout.
pub fn run(args: Args) -> Result<(), String> {
    let started = Instant::now();
    let log: Rc<RefCell<Vec<String>>> = Rc::default();
    let sink: LogSink = {
        let log = log.clone();
        Rc::new(move |line| log.borrow_mut().push(line))
    };
    let router = Router::new().route(
        PATH,
        logged(|_req| Box::new(Fixed::text(200, KAMAELIA_TEXT)) as _, sink),
    );
    let any_port: SocketAddr = ([127, 0, 0, 1], 0).into();
    let server = HttpServer::bind(any_port, router, ServerConfig::default())
        .map_err(|e| format!("cannot listen on {any_port}: {e}"))?;
    let addr = server.local_addr().ok_or("the server has no address")?;
    let url = format!("http://{addr}{PATH}");

    let found: Shared = Rc::default();
    let client = SimpleHttpClient::new();
    let lines = Lines {
        inbox: Inbox::inbox(),
        control: Inbox::control(),
        outbox: Outbox::new("outbox", "lines of text"),
        signal: Outbox::signal(),
        pending: VecDeque::new(),
        found: found.clone(),
    };
    let splitter = WordSplitter {
        inbox: Inbox::new("inbox", "lines of text"),
        control: Inbox::control(),
        outbox: Outbox::new("outbox", "words and line ends"),
        signal: Outbox::signal(),
        pending: VecDeque::new(),
    };
    let counter = WordCounter {
        inbox: Inbox::new("inbox", "words and line ends"),
        control: Inbox::control(),
        signal: Outbox::signal(),
        found: found.clone(),
    };
    let jobs: Outbox<HttpJob> = Outbox::new("jobs", "the URL to fetch");
    let end: Outbox<Signal> = Outbox::new("end", "no more URLs");
    let fresh = "fresh boxes link";
    link(&jobs, &client.inbox).expect(fresh);
    link(&end, &client.control).expect(fresh);
    link(&client.outbox, &lines.inbox).expect(fresh);
    link(&client.signal, &lines.control).expect(fresh);
    link_with_limit(&lines.outbox, &splitter.inbox, 2).expect(fresh);
    link(&lines.signal, &splitter.control).expect(fresh);
    link_with_limit(&splitter.outbox, &counter.inbox, 8).expect(fresh);
    link(&splitter.signal, &counter.control).expect(fresh);
    link(&counter.signal, &server.control).expect(fresh);
    let server_end: Inbox<Signal> = Inbox::new("serverend", "the server's end");
    link(&server.signal, &server_end).expect(fresh);
    jobs.send(HttpJob::Url(url.clone())).expect("linked");
    end.send(Signal::ProducerFinished).expect("linked");

    let mut s = Scheduler::new();
    s.spawn(server);
    s.spawn(client);
    s.spawn(lines);
    s.spawn(splitter);
    s.spawn(counter);
    let ended = s.run();

    let f = found.borrow();
    if let Some(e) = &f.failure {
        return Err(e.clone());
    }
    if ended != Ended::Completed || server_end.recv().is_none() {
        return Err(format!("the demo's run ended {ended:?}"));
    }
    let mut ranked: Vec<(&String, &u64)> = f.per_word.iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    ranked.truncate(args.top);

    let mut o = std::io::stdout().lock();
    let status = f.status.map(|s| s.to_string()).unwrap_or("-".into());
    let report = (|| -> std::io::Result<()> {
        writeln!(
            o,
            "served {} bytes of text on http://{addr}/ and fetched {url}: status {status}, {} bytes",
            KAMAELIA_TEXT.len(),
            f.body_len
        )?;
        writeln!(o, "--- request log ---")?;
        for line in log.borrow().iter() {
            writeln!(o, "{line}")?;
        }
        writeln!(o, "--- the running graph, as the first words arrived ---")?;
        write!(o, "{}", f.snapshot.as_deref().unwrap_or("(not taken)\n"))?;
        writeln!(o, "--- words ---")?;
        writeln!(
            o,
            "{} lines, {} words, {} different words",
            f.lines,
            f.words,
            f.per_word.len()
        )?;
        writeln!(o, "top {}:", ranked.len())?;
        for (i, (w, n)) in ranked.iter().enumerate() {
            writeln!(o, "  {:>2}. {w:<12} {n:>4}", i + 1)?;
        }
        let st = s.stats();
        writeln!(o, "--- scheduler ---")?;
        writeln!(
            o,
            "ended {ended:?}: {} steps in {} rounds, {} components spawned, {} finished, {} panicked, {} undelivered, {} waits, {} hand-offs",
            st.steps, st.rounds, st.spawned, st.finished, st.panicked, st.undelivered, st.waits, st.hand_offs
        )?;
        writeln!(
            o,
            "(wall clock: {:.1} ms)",
            started.elapsed().as_secs_f64() * 1e3
        )
    })();
    report.map_err(|e| format!("writing the report: {e}"))
}
