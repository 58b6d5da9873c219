//! Sketch 11 of the classic catalogue
//! (`Examples/TCP_Systems/FortuneCookie_ServerClient.py`): a fortune
//! cookie server and its client. The server sends each connection one
//! cookie, slowly (320 bit/s, like a teleprinter), then closes it; the
//! client prints what it receives.
//!
//! ```text
//!   ServerCore on ADDR, per connection:
//!     TcpClient (the connection) ◀──outbox── ReadFileAdaptor (bit-rate mode)
//!                                ◀─signal─── reading `fortune`, or one built-in cookie
//!
//!   Seq[ Pipeline[TcpClient ──▶ Printer], Pipeline[...], ... ]   clients, one after another
//!          each pipeline's signal ──▶ Watcher ──▶ server.control (stop once all are served)
//!   server.signal ──▶ Deadline (the run is over; or, after a while, stop everything)
//! ```
//!
//! What it shows:
//!
//! * a protocol that is just a source: the per-connection component is a
//!   [`ReadFileAdaptor`] in bit-rate mode, reading the output of the
//!   `fortune` program (the original ran `fortune -a` through it) or, where
//!   there is no `fortune` (or when asked), one of [`COOKIES`], chosen by
//!   the connection's number so the n-th connection gets `cookie(n)`;
//! * the cookie goes out at the set rate, `bitrate / 8 / chunkrate` bytes
//!   `chunkrate` times a second (320 bit/s = 10 bytes every 250 ms here);
//! * the clean close: at the end of the cookie the reader's
//!   `ProducerFinished` reaches the connection's `control`, the connection
//!   sends what is queued and closes its sending side, the client sees the
//!   end of the stream and ends with `ProducerFinished` (and closes), and
//!   the server's connection, seeing that, ends too;
//! * clients one after another with a [`Seq`], each a [`Pipeline`] of a
//!   `TcpClient` and a [`Printer`] (the original piped the client into a
//!   `ConsoleEchoer`); a [`Watcher`] stops the server once every client
//!   has ended, and a [`Deadline`] stops the whole system if something
//!   hangs.
//!
//! Plain `fortune` is run rather than `fortune -a`: `-a` adds the
//! offensive databases, where they are installed.
//!
//! Run it with `cargo run --example fortune [ADDR] [CLIENTS] [--builtin]`
//! (defaults 127.0.0.1:1500 and one client; `--builtin` uses the built-in
//! cookies even where `fortune` is installed).

use std::io;
use std::io::Cursor;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use kamaelia::axon::{link, link_refs, Component, Ended, Scheduler, Signal};
use kamaelia::chassis::{Pipeline, Seq, SeqItem};
use kamaelia::file::{ReadFileAdaptor, ReadMode};
use kamaelia::internet::{ConnInfo, ServerCore, TcpClient};
use kamaelia::pipeline;

#[path = "support/mod.rs"]
mod support;
pub use support::{Deadline, Printer, Sink, Watcher};

/// The rate of the original: 320 bit/s, as 10 bytes every 250 ms.
pub const RATE: ReadMode = ReadMode::Bitrate {
    bitrate: 320,
    chunkrate: 4,
};

/// The built-in cookies, for when there is no `fortune` program.
pub const COOKIES: &[&str] = &[
    "A component that never pauses is a component nobody else can hear.\n",
    "Every inbox is somebody's outbox, seen from the other end.\n",
    "Links are cheap. Shutdown messages are priceless.\n",
    "You will meet a stranger on port 1500.\n    -- the cookie server, on a good day\n",
    "The scheduler waits for no one, except when nobody is ready.\n",
];

/// The built-in cookie for connection number `n` (from 1): they are dealt
/// in order, starting again after the last.
pub fn cookie(n: u64) -> &'static str {
    COOKIES[(n.max(1) - 1) as usize % COOKIES.len()]
}

/// Where the cookies come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cookies {
    /// The `fortune` program at this path (or any program that prints a
    /// cookie), run once per connection.
    Fortune(PathBuf),
    /// [`cookie`]`(n)` for connection number `n`.
    BuiltIn,
}

impl Cookies {
    /// `Fortune` if there is a `fortune` program (see
    /// [`fortune_program`]), else `BuiltIn`.
    pub fn detect() -> Self {
        match fortune_program() {
            Some(p) => Cookies::Fortune(p),
            None => Cookies::BuiltIn,
        }
    }
}

/// The `fortune` program, if there is one: on the `PATH` (what `which
/// fortune` would say), or in `/usr/games`, where Debian puts it.
pub fn fortune_program() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/games")])
        .map(|dir| dir.join("fortune"))
        .find(|p| p.is_file())
}

/// The protocol for one connection: a reader of one cookie, sent at the
/// pace `mode` sets (use bit-rate mode).
///
/// | box     | carries  | meaning                                        |
/// |---------|----------|------------------------------------------------|
/// | control | `Signal` | shutdown: stop at once (from the server)       |
/// | outbox  | `Bytes`  | the cookie, a chunk at a time                  |
/// | signal  | `Signal` | producer finished after the cookie: the connection closes |
pub fn cookie_protocol(info: &ConnInfo, cookies: &Cookies, mode: ReadMode) -> Box<dyn Component> {
    match cookies {
        Cookies::Fortune(program) => {
            Box::new(ReadFileAdaptor::command(Command::new(program), mode))
        }
        Cookies::BuiltIn => {
            let name = format!("cookie for connection {}", info.number);
            let text = Cursor::new(cookie(info.number).as_bytes());
            Box::new(ReadFileAdaptor::reader(&name, text, mode))
        }
    }
}

/// The cookie server on `addr` (port 0 picks a free port).
pub fn server(addr: SocketAddr, cookies: Cookies, mode: ReadMode) -> io::Result<ServerCore> {
    Ok(ServerCore::with_acceptor(
        support::listen(addr)?,
        move |info| cookie_protocol(info, &cookies, mode),
    ))
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The address the server listened on.
    pub addr: SocketAddr,
    /// What each client received, in the order they ran.
    pub received: Vec<Vec<u8>>,
    /// How each client's connection ended (`ProducerFinished`: the server
    /// closed it cleanly after the cookie).
    pub client_ends: Vec<Option<Signal>>,
    /// The server's end signal (`Shutdown`, from the watcher).
    pub server_end: Option<Signal>,
    /// How long the run took.
    pub elapsed: Duration,
    /// Whether the deadline stopped the system.
    pub timed_out: bool,
    /// How the scheduler's run ended.
    pub ended: Ended,
}

/// Runs the cookie server on `addr` and `clients` clients, one after
/// another, each printing its cookie to `out`. Once every client has ended
/// the server is stopped; if that takes longer than `limit` the system is
/// stopped.
pub fn run(
    addr: SocketAddr,
    cookies: Cookies,
    mode: ReadMode,
    clients: usize,
    limit: Option<Duration>,
    out: Sink,
) -> io::Result<Outcome> {
    let server = server(addr, cookies, mode)?;
    let addr = server
        .local_addr()
        .expect("a bound listener has an address");
    let mut s = Scheduler::new();
    let start = s.now();
    let mut report = None;
    if let Some(after) = limit {
        let (deadline, r) = Deadline::new(after);
        link(&server.signal, &deadline.control).expect("fresh boxes link");
        s.spawn(deadline);
        report = Some(r);
    }
    let (watcher, _) = Watcher::new(clients);
    link(&watcher.outbox, &server.control).expect("fresh boxes link");
    let mut screens = Vec::new();
    let mut items = Vec::new();
    for _ in 0..clients {
        let (printer, screen) = Printer::new(out.clone());
        let p: Pipeline =
            pipeline![TcpClient::to_addr(addr), printer].expect("a client fits a printer");
        let signal = p.find("signal").expect("the printer has a signal box");
        link_refs(&signal, &watcher.inbox.erased()).expect("fresh boxes link");
        items.push(SeqItem::component(p));
        screens.push(screen);
    }
    s.spawn(server);
    s.spawn(watcher);
    s.spawn(Seq::<Bytes, ()>::new(items));
    let ended = s.run();
    let elapsed = s.now() - start;
    let (received, client_ends) = screens
        .iter()
        .map(|sc| {
            let sc = sc.borrow();
            (sc.bytes.clone(), sc.end.clone())
        })
        .unzip();
    let report = report.map(|r| r.borrow().clone()).unwrap_or_default();
    Ok(Outcome {
        addr,
        received,
        client_ends,
        server_end: report.end,
        elapsed,
        timed_out: report.fired,
        ended,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let builtin = args.iter().any(|a| a == "--builtin");
    let mut rest = args.iter().filter(|a| !a.starts_with("--"));
    let addr = support::address_or_exit("fortune", rest.next().map(String::as_str));
    let clients = rest.next().and_then(|n| n.parse().ok()).unwrap_or(1);
    let cookies = if builtin {
        Cookies::BuiltIn
    } else {
        Cookies::detect()
    };
    let source = format!("{cookies:?}");
    match run(addr, cookies, RATE, clients, None, support::stdout()) {
        Ok(o) => eprintln!(
            "({clients} cookie(s) from {source} in {:.1} s)",
            o.elapsed.as_secs_f64()
        ),
        Err(e) => {
            eprintln!("fortune: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    }
}
