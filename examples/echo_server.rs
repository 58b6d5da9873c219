//! Sketch 6 of the classic catalogue
//! (`Examples/Introspection/IntrospectionTutorial/EchoServer.py`): a TCP
//! echo server, tracing what it echoes.
//!
//! ```text
//!   ServerCore on ADDR: for each connection it accepts, two children
//!
//!     TcpClient (the connection) ──outbox──▶ inbox    echo protocol
//!                                ◀──inbox─── outbox   (PureTransformer:
//!                                ──signal──▶ control   the same bytes back,
//!                                ◀─control── signal    and a trace line)
//! ```
//!
//! What it shows:
//!
//! * [`ServerCore`] makes one protocol component per connection with a
//!   factory, which is told the connection's number and peer;
//! * the protocol is a [`PureTransformer`] that passes each chunk back
//!   unchanged and writes a trace line for it (the original piped
//!   `EchoProtocol` through `TraceAllSends`);
//! * a client that sends and then half-closes gets everything back and a
//!   clean close: the connection tells the protocol its input is over
//!   (producer finished), the protocol forwards that on `signal`, and the
//!   connection then closes its sending side;
//! * in [`run`], scripted clients in the same scheduler: a [`Watcher`]
//!   stops the server once every client has ended, and a [`Deadline`]
//!   stops the whole system if that has not happened in time, so the run
//!   ends by itself.
//!
//! Run it with `cargo run --example echo_server [ADDR]` (ADDR defaults to
//! 127.0.0.1:1500; a bare port means 127.0.0.1:PORT), then talk to it with
//! `nc 127.0.0.1 1500`. It serves until killed.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use kamaelia::axon::{link, Component, Ended, Inbox, Outbox, Scheduler, Signal};
use kamaelia::internet::{ConnInfo, ServerCore, TcpClient};
use kamaelia::util::PureTransformer;

#[path = "support/mod.rs"]
mod support;
pub use support::{address, blocks_to, Deadline, Sink, Watcher, TRACE_FLUSH_AFTER};

/// The echo protocol for one connection: each chunk goes back unchanged,
/// and a line `#N echoed K bytes` is written to `trace`.
///
/// | box     | carries  | meaning                                         |
/// |---------|----------|-------------------------------------------------|
/// | inbox   | `Bytes`  | what the client sent                            |
/// | control | `Signal` | producer finished: echo what waits, then end; shutdown: end now |
/// | outbox  | `Bytes`  | the same bytes, back to the client              |
/// | signal  | `Signal` | the control signal, passed on (closes the connection) |
pub fn echo_protocol(info: &ConnInfo, trace: Sink) -> Box<dyn Component> {
    let n = info.number;
    Box::new(PureTransformer::new(move |chunk: Bytes| {
        let _ = trace.borrow_mut().write_all(&echo_line(n, chunk.len()));
        Some(chunk)
    }))
}

/// The trace line `#N echoed K bytes\n`, written out by hand: through
/// `writeln!` it cost more than the rest of an echo's work in user space.
pub fn echo_line(n: u64, k: usize) -> LineBuf {
    let mut line = LineBuf::default();
    line.push(b"#");
    line.push_num(n);
    line.push(b" echoed ");
    line.push_num(k as u64);
    line.push(b" bytes\n");
    line
}

/// A short line built on the stack (room for the longest trace line).
pub struct LineBuf {
    buf: [u8; 64],
    len: usize,
}

impl Default for LineBuf {
    fn default() -> Self {
        LineBuf {
            buf: [0; 64],
            len: 0,
        }
    }
}

impl LineBuf {
    fn push(&mut self, b: &[u8]) {
        self.buf[self.len..self.len + b.len()].copy_from_slice(b);
        self.len += b.len();
    }

    fn push_num(&mut self, mut v: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }
}

impl std::ops::Deref for LineBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The echo server on `addr` (port 0 picks a free port), tracing to
/// `trace`: a line `#N connected from PEER` per connection, and one per
/// chunk echoed.
pub fn server(addr: SocketAddr, trace: Sink) -> io::Result<ServerCore> {
    Ok(ServerCore::with_acceptor(
        support::listen(addr)?,
        move |info| {
            let peer = info.peer.map(|p| p.to_string()).unwrap_or_default();
            let _ = writeln!(trace.borrow_mut(), "#{} connected from {peer}", info.number);
            echo_protocol(info, trace.clone())
        },
    ))
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The address the server listened on.
    pub addr: SocketAddr,
    /// What each client got back, in the order the clients were given.
    pub echoes: Vec<Vec<u8>>,
    /// How the clients' connections ended, in the order they ended
    /// (`ProducerFinished`: a clean close by the server after the echo).
    pub client_ends: Vec<Signal>,
    /// The server's end signal (`Shutdown`, from the watcher).
    pub server_end: Option<Signal>,
    /// Whether the deadline stopped the system.
    pub timed_out: bool,
    /// How the scheduler's run ended.
    pub ended: Ended,
}

/// Runs the echo server on `addr` with one scripted client per message in
/// `clients`: each connects, sends its message, half-closes and collects
/// what comes back. When every client has ended the server is stopped; if
/// that takes longer than `limit` the system is stopped. With no clients
/// and no limit the server runs until the process is killed.
pub fn run(
    addr: SocketAddr,
    clients: &[Vec<u8>],
    limit: Option<Duration>,
    trace: Sink,
) -> io::Result<Outcome> {
    run_with(addr, clients, limit, trace, Vec::new())
}

/// [`run`], with `beside` spawned too (`main` passes the trace's flusher).
pub fn run_with(
    addr: SocketAddr,
    clients: &[Vec<u8>],
    limit: Option<Duration>,
    trace: Sink,
    beside: Vec<Box<dyn Component>>,
) -> io::Result<Outcome> {
    let server = server(addr, trace.clone())?;
    let addr = server
        .local_addr()
        .expect("a bound listener has an address");
    let _ = writeln!(trace.borrow_mut(), "echo server listening on {addr}");
    // Out now, whatever the trace's buffering: a script waits for it.
    let _ = trace.borrow_mut().flush();
    let mut s = Scheduler::new();
    let mut report = None;
    if let Some(after) = limit {
        let (deadline, r) = Deadline::new(after);
        link(&server.signal, &deadline.control).expect("fresh boxes link");
        s.spawn(deadline);
        report = Some(r);
    }
    let mut echoes = Vec::new();
    let mut ends = None;
    if !clients.is_empty() {
        let (watcher, e) = Watcher::new(clients.len());
        link(&watcher.outbox, &server.control).expect("fresh boxes link");
        for msg in clients {
            let client = TcpClient::to_addr(addr);
            let echo: Inbox<Bytes> = Inbox::inbox();
            let say: Outbox<Bytes> = Outbox::new("say", "to the server");
            let ctl: Outbox<Signal> = Outbox::new("ctl", "to the client");
            let linked = [
                link(&client.outbox, &echo),
                link(&client.signal, &watcher.inbox),
                link(&say, &client.inbox),
                link(&ctl, &client.control),
            ];
            for l in linked {
                l.expect("fresh boxes link");
            }
            let _ = say.send(Bytes::copy_from_slice(msg));
            // Send it all, close our sending side, read to the end.
            let _ = ctl.send(Signal::ProducerFinished);
            s.spawn(client);
            echoes.push(echo);
        }
        s.spawn(watcher);
        ends = Some(e);
    }
    s.spawn(server);
    for c in beside {
        s.spawn_boxed(c);
    }
    let ended = s.run();
    let echoes = echoes
        .iter()
        .map(|e| std::iter::from_fn(|| e.recv()).flatten().collect())
        .collect();
    let client_ends = ends
        .map(|e| e.borrow().iter().map(|(_, s)| s.clone()).collect())
        .unwrap_or_default();
    let report = report.map(|r| r.borrow().clone()).unwrap_or_default();
    Ok(Outcome {
        addr,
        echoes,
        client_ends,
        server_end: report.end,
        timed_out: report.fired,
        ended,
    })
}

fn main() {
    let addr = support::address_or_exit("echo_server", std::env::args().nth(1).as_deref());
    // The trace goes out line by line on a terminal, in blocks otherwise
    // (a line written on its own cost a write call per echo).
    let (trace, flusher) = support::trace_stdout();
    let beside = flusher
        .map(|f| vec![Box::new(f) as Box<dyn Component>])
        .unwrap_or_default();
    if let Err(e) = run_with(addr, &[], None, trace, beside) {
        eprintln!("echo_server: cannot listen on {addr}: {e}");
        std::process::exit(1);
    }
}
