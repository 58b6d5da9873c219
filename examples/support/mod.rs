//! Pieces shared by the sketches: where they write ([`Sink`], and
//! [`SinkWriter`] to hand one to a `ConsoleEchoer`); and for the networked
//! ones (`echo_server`, `chat_server`, `fortune`, `single_server`,
//! `streaming_server`) the address argument, the listener, and the small
//! components that make a run with scripted clients end by itself.
//!
//! An example includes this file with `#[path = "support/mod.rs"] mod
//! support;` (it is not an example of its own: it has no `main`).
//!
//! | component   | what it does                                                 |
//! |-------------|--------------------------------------------------------------|
//! | [`Watcher`] | counts the clients' end signals, then stops the server       |
//! | [`Deadline`]| the safety net: stops the whole system if the run hangs      |
//! | [`Printer`] | a client's screen: writes what arrives, records it and when  |

#![allow(dead_code)]

use std::cell::RefCell;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kamaelia::axon::{BoxSet, Component, Cx, Inbox, Outbox, Signal, Step, TimerKey};
use kamaelia::boxes;
use kamaelia::internet::{Acceptor, TcpAcceptor, DEFAULT_BACKLOG};

/// Where an example writes (stdout in `main`, a buffer in the tests).
pub type Sink = Rc<RefCell<dyn Write>>;

/// Standard output as a [`Sink`].
pub fn stdout() -> Sink {
    Rc::new(RefCell::new(io::stdout()))
}

/// How long a line of a server's trace may wait in [`trace_stdout`]'s
/// buffer before it is written out.
pub const TRACE_FLUSH_AFTER: Duration = Duration::from_millis(20);

/// Standard output for a trace written line by line from a busy server:
/// on a terminal, each line at once (as [`stdout`]); otherwise (a pipe, a
/// file, as C's stdio does) in blocks, so a line costs no write of its
/// own. The [`TraceFlusher`], spawned beside the server, writes a block
/// out at most [`TRACE_FLUSH_AFTER`] after its first line (or at once when
/// 64 KiB wait), and costs nothing while nothing is traced.
pub fn trace_stdout() -> (Sink, Option<TraceFlusher>) {
    use std::io::IsTerminal;
    if io::stdout().is_terminal() {
        return (stdout(), None);
    }
    let (block, flusher) = blocks_to(Box::new(io::stdout()));
    (block, Some(flusher))
}

/// A [`Sink`] that collects what is written into blocks for `out`, and the
/// [`TraceFlusher`] that writes them out (see [`trace_stdout`]).
pub fn blocks_to(out: Box<dyn Write>) -> (Sink, TraceFlusher) {
    let block = Rc::new(RefCell::new(Block {
        buf: Vec::new(),
        out,
        flusher: None,
        told: false,
    }));
    let flusher = TraceFlusher {
        block: block.clone(),
        due: None,
    };
    (block, flusher)
}

/// Bytes of a trace waiting to be written; see [`trace_stdout`].
pub struct Block {
    buf: Vec<u8>,
    out: Box<dyn Write>,
    /// Who to wake when a block starts (set by the flusher's first step).
    flusher: Option<(kamaelia::axon::Remote, kamaelia::axon::Id)>,
    /// The flusher has been told about this block.
    told: bool,
}

/// The most a block holds before it is written at once.
const BLOCK: usize = 64 * 1024;

impl Block {
    fn write_out(&mut self) -> io::Result<()> {
        self.told = false;
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.out.flush()
    }
}

impl Write for Block {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= BLOCK {
            self.write_out()?;
        } else if !self.told {
            if let Some((remote, id)) = &self.flusher {
                self.told = true;
                remote.wake(*id);
            }
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.write_out()
    }
}

/// Writes [`trace_stdout`]'s blocks out: woken when a block starts, it
/// writes it [`TRACE_FLUSH_AFTER`] later. It never ends by itself (it
/// runs beside a server that serves until killed).
///
/// | box | carries | meaning |
/// |-----|---------|---------|
/// | (none) | | woken through a `Remote` and by its timer |
pub struct TraceFlusher {
    block: Rc<RefCell<Block>>,
    due: Option<Instant>,
}

impl Component for TraceFlusher {
    fn step(&mut self, cx: &mut Cx) -> Step {
        let mut block = self.block.borrow_mut();
        if block.flusher.is_none() {
            block.flusher = Some((cx.remote(), cx.id()));
        }
        let now = cx.now();
        if self.due.is_some_and(|d| now >= d) {
            self.due = None;
            let _ = block.write_out();
        }
        if !block.buf.is_empty() && self.due.is_none() {
            block.told = true;
            let due = now + TRACE_FLUSH_AFTER;
            self.due = Some(due);
            cx.wake_at(due);
        }
        Step::Pause
    }

    fn boxes(&self, _set: &mut BoxSet) {}
}

/// A `Write` into a [`Sink`], for a component that owns its writer (a
/// `ConsoleEchoer`).
pub struct SinkWriter(pub Sink);

impl Write for SinkWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

/// The address a server listens on when none is given.
pub const DEFAULT_ADDR: &str = "127.0.0.1:1500";

/// The address from a command-line argument: an address
/// (`127.0.0.1:1500`, `[::1]:1500`), a bare port (on 127.0.0.1), or
/// nothing for [`DEFAULT_ADDR`].
pub fn address(arg: Option<&str>) -> Result<SocketAddr, std::net::AddrParseError> {
    match arg {
        None => DEFAULT_ADDR.parse(),
        Some(a) => match a.parse::<u16>() {
            Ok(port) => Ok(SocketAddr::from(([127, 0, 0, 1], port))),
            Err(_) => a.parse(),
        },
    }
}

/// [`address`] for `main`: a bad argument ends the program `example` with
/// a message and status 2.
pub fn address_or_exit(example: &str, arg: Option<&str>) -> SocketAddr {
    address(arg).unwrap_or_else(|e| {
        eprintln!("{example}: bad address {arg:?}: {e}");
        std::process::exit(2);
    })
}

// ---------------------------------------------------------------------------
// The listener

/// Listens on `addr`: a plain TCP acceptor (port 0 picks a free port).
pub fn listen(addr: SocketAddr) -> io::Result<Box<dyn Acceptor>> {
    Ok(Box::new(TcpAcceptor::bind(addr, DEFAULT_BACKLOG)?))
}

// ---------------------------------------------------------------------------
// Ending a run

/// The clients' end signals, each with the time it arrived.
pub type Ends = Rc<RefCell<Vec<(Instant, Signal)>>>;

/// Waits for `want` end signals (one per client) on `inbox`, records them
/// with the time each arrived, then sends `Shutdown` on `outbox` (to the
/// server) and ends.
///
/// | box    | carries  | meaning                                        |
/// |--------|----------|------------------------------------------------|
/// | inbox  | `Signal` | the clients' end signals                       |
/// | outbox | `Signal` | `Shutdown` for the server, once all have ended |
pub struct Watcher {
    /// The clients' end signals.
    pub inbox: Inbox<Signal>,
    /// Stops the server.
    pub outbox: Outbox<Signal>,
    want: usize,
    seen: Ends,
}

impl Watcher {
    /// A watcher of `want` clients, and where it records their ends.
    pub fn new(want: usize) -> (Self, Ends) {
        let seen = Ends::default();
        let w = Watcher {
            inbox: Inbox::new("inbox", "the clients' end signals"),
            outbox: Outbox::new("outbox", "shutdown for the server"),
            want,
            seen: seen.clone(),
        };
        (w, seen)
    }
}

impl Component for Watcher {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(s) = self.inbox.recv() {
            self.seen.borrow_mut().push((cx.now(), s));
        }
        if self.seen.borrow().len() < self.want {
            return Step::Pause;
        }
        let _ = self.outbox.send(Signal::Shutdown);
        Step::Done
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.inbox, self.outbox);
    }
}

/// What a [`Deadline`] saw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeadlineReport {
    /// The end signal that arrived in time, if one did.
    pub end: Option<Signal>,
    /// Whether the time ran out (and the system was stopped).
    pub fired: bool,
}

/// A safety net: stops the whole system if the run is not over `after`
/// it started, so a bug cannot hang it; ends quietly, recording it, when
/// the run's last end signal (a server's, a backplane's) arrives on
/// `control`.
///
/// | box     | carries  | meaning                           |
/// |---------|----------|-----------------------------------|
/// | control | `Signal` | the last end: the run is over     |
pub struct Deadline {
    /// The run's last end signal.
    pub control: Inbox<Signal>,
    after: Duration,
    timer: Option<(TimerKey, Instant)>,
    report: Rc<RefCell<DeadlineReport>>,
}

impl Deadline {
    /// A deadline `after` its first step, and where it reports.
    pub fn new(after: Duration) -> (Self, Rc<RefCell<DeadlineReport>>) {
        let report = Rc::new(RefCell::new(DeadlineReport::default()));
        let d = Deadline {
            control: Inbox::control(),
            after,
            timer: None,
            report: report.clone(),
        };
        (d, report)
    }
}

impl Component for Deadline {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if let Some(sig) = self.control.recv() {
            if let Some((k, _)) = self.timer.take() {
                cx.cancel_timer(k);
            }
            self.report.borrow_mut().end = Some(sig);
            return Step::Done;
        }
        match self.timer {
            None => {
                let at = cx.now() + self.after;
                self.timer = Some((cx.wake_at(at), at));
                Step::Pause
            }
            Some((_, at)) if cx.now() >= at => {
                self.report.borrow_mut().fired = true;
                cx.stop_system();
                Step::Done
            }
            Some(_) => Step::Pause,
        }
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.control);
    }
}

// ---------------------------------------------------------------------------
// A client's screen

/// What a [`Printer`] received.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Screen {
    /// Every byte, in order.
    pub bytes: Vec<u8>,
    /// When each chunk arrived, and its size.
    pub chunks: Vec<(Instant, usize)>,
    /// The signal that ended it (the connection's end).
    pub end: Option<Signal>,
}

/// A client's screen: writes each chunk to a [`Sink`] as it is (bytes,
/// not text, so a character split between chunks is not mangled) and
/// records it; on any control signal it records it, passes it on and
/// ends.
///
/// | box     | carries  | meaning                                        |
/// |---------|----------|------------------------------------------------|
/// | inbox   | `Bytes`  | what the connection received                   |
/// | control | `Signal` | the connection's end: recorded, passed on, end |
/// | signal  | `Signal` | the control signal                             |
pub struct Printer {
    /// What to print.
    pub inbox: Inbox<Bytes>,
    /// The connection's end.
    pub control: Inbox<Signal>,
    /// The end, passed on.
    pub signal: Outbox<Signal>,
    out: Sink,
    screen: Rc<RefCell<Screen>>,
}

impl Printer {
    /// A printer writing to `out`, and where it records.
    pub fn new(out: Sink) -> (Self, Rc<RefCell<Screen>>) {
        let screen = Rc::new(RefCell::new(Screen::default()));
        let p = Printer {
            inbox: Inbox::new("inbox", "bytes to print"),
            control: Inbox::control(),
            signal: Outbox::signal(),
            out,
            screen: screen.clone(),
        };
        (p, screen)
    }
}

impl Component for Printer {
    fn step(&mut self, cx: &mut Cx) -> Step {
        let mut wrote = false;
        while let Some(b) = self.inbox.recv() {
            let _ = self.out.borrow_mut().write_all(&b);
            let mut s = self.screen.borrow_mut();
            s.bytes.extend_from_slice(&b);
            s.chunks.push((cx.now(), b.len()));
            wrote = true;
        }
        if wrote {
            let _ = self.out.borrow_mut().flush();
        }
        if let Some(sig) = self.control.recv() {
            self.screen.borrow_mut().end = Some(sig.clone());
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.inbox, self.control, self.signal);
    }
}
