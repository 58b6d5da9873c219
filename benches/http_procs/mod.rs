//! The processes of `benches/http.rs`: the bench binary re-run with
//! `HTTP_BENCH_ROLE` set plays one of them (see [`run_role`]):
//!
//! * `ours`: an [`HttpServer`] with one route (`/`, a [`Fixed`] text
//!   response served by the connection itself: [`Router::fixed`]), no
//!   `Date` field (so every response is the same bytes);
//! * `ours_stream`: the same, but the route makes a `Fixed` resource
//!   component per request ([`Router::route`], the path of streaming
//!   resources);
//! * `floor`: a hand-written single-threaded edge-triggered `mio`
//!   responder that answers every request head (`\r\n\r\n`) with those
//!   same bytes;
//! * `load`: the load client: keep-alive GETs, one outstanding request per
//!   connection;
//! * `idle`: opens connections, one request each, and holds them;
//! * `dl`: our [`SingleShotHttpClient`] fetching a URL, counting the body.
//!
//! A server says `listening on ADDR` on stdout and serves until killed. A
//! load client connects, says `ready`, waits for a line on stdin, works,
//! says `done ...` (or `error ...`) and exits.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use kamaelia::axon::{link, BoxSet, Component, Cx, Inbox, Scheduler, Signal, Step};
use kamaelia::protocol::http::client::{ClientEvent, SingleShotHttpClient};
use kamaelia::protocol::http::{Fixed, HttpServer, Router, ServerConfig};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};

/// The environment variable that gives a re-run bench binary its role.
pub const ROLE: &str = "HTTP_BENCH_ROLE";
/// The small response's body.
pub const BODY: &str = "hello, world\n";
/// What the floor answers: the bytes our server sends for `BODY` (checked
/// by the load client, which compares every response to the first one, and
/// by the bench, which compares the two servers' first responses).
pub const FLOOR_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 13\r\n\r\nhello, world\n";
/// The request the load client sends.
pub const REQUEST: &[u8] =
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: http-bench\r\nAccept: */*\r\n\r\n";
/// A client read or write that takes longer than this fails the run
/// (generous: a server may run under callgrind).
const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// Load client threads (at most).
pub const LOAD_THREADS: usize = 2;

// ---------------------------------------------------------------------------
// Process helpers shared with the other benches (benches/common/procs.rs).

use crate::common::procs;
pub use crate::common::procs::{callgrind_total, have, raise_fd_limit};

// ---------------------------------------------------------------------------
// Roles

/// If `HTTP_BENCH_ROLE` is set, plays that role and returns true.
pub fn run_role() -> bool {
    let Ok(role) = std::env::var(ROLE) else {
        return false;
    };
    raise_fd_limit();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> usize {
        args.get(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("role {role}: argument {i} missing or not a number"))
    };
    let addr = || -> SocketAddr { args[0].parse().expect("address") };
    match role.as_str() {
        "ours" => ours_server(false),
        "ours_stream" => ours_server(true),
        "floor" => floor_server(),
        "load" => client_load(addr(), num(1), num(2)),
        "idle" => client_idle(addr(), num(1)),
        "dl" => client_download(&args[0], num(1) as u64),
        other => panic!("unknown {ROLE} {other}"),
    }
    true
}

fn say(line: &str) {
    println!("{line}");
    io::stdout().flush().expect("stdout");
}

/// Our server: `HttpServer`, one route, `Fixed` text (answered by the
/// connection, or by a component per request when `stream`); no `Date`
/// (the floor answers fixed bytes); idle keep-alive connections kept 60 s
/// (the idle memory row holds them a few seconds).
fn ours_server(stream: bool) {
    let router = if stream {
        Router::new().route("/", |_req| Box::new(Fixed::text(200, BODY)) as _)
    } else {
        Router::new().fixed("/", Fixed::text(200, BODY))
    };
    let config = ServerConfig {
        date: false,
        idle_timeout: Duration::from_secs(60),
        ..ServerConfig::default()
    };
    let server =
        HttpServer::bind("127.0.0.1:0".parse().unwrap(), router, config).expect("bind ours");
    let addr = server.local_addr().expect("address");
    say(&format!("listening on {addr}"));
    let mut s = Scheduler::new();
    s.spawn(server);
    s.run();
}

const LISTENER: Token = Token(usize::MAX - 1);

struct FloorConn {
    s: mio::net::TcpStream,
    /// Bytes of a request head not complete yet.
    input: Vec<u8>,
    /// Output the socket did not take yet (reading stops meanwhile).
    out: Vec<u8>,
}

/// Writes what is pending; true when all of it went.
fn flush(c: &mut FloorConn) -> io::Result<bool> {
    while !c.out.is_empty() {
        match c.s.write(&c.out) {
            Ok(n) => {
                c.out.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// The end of the first request head in `b` (just past `\r\n\r\n`).
fn head_end(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Readiness on a floor connection: flush, then read until `WouldBlock`,
/// answering each complete request head. True when the connection is over.
fn floor_ready(c: &mut FloorConn, buf: &mut [u8]) -> io::Result<bool> {
    if !flush(c)? {
        return Ok(false);
    }
    loop {
        match c.s.read(buf) {
            Ok(0) => return Ok(true),
            Ok(n) => {
                let mut data = &buf[..n];
                if !c.input.is_empty() {
                    c.input.extend_from_slice(data);
                    data = &[];
                }
                // Answer every complete head, in the buffer or in `input`.
                let mut answered = false;
                let src: &mut Vec<u8> = &mut c.input;
                if data.is_empty() {
                    while let Some(e) = head_end(src) {
                        src.drain(..e);
                        c.out.extend_from_slice(FLOOR_RESPONSE);
                        answered = true;
                    }
                } else {
                    while let Some(e) = head_end(data) {
                        data = &data[e..];
                        c.out.extend_from_slice(FLOOR_RESPONSE);
                        answered = true;
                    }
                    src.extend_from_slice(data);
                }
                if answered && !flush(c)? {
                    return Ok(false);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// The floor: a plain single-threaded edge-triggered mio responder.
fn floor_server() {
    let mut poll = Poll::new().expect("poll");
    let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    let addr = listener.local_addr().expect("address");
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .expect("register");
    say(&format!("listening on {addr}"));
    let mut conns: HashMap<usize, FloorConn> = HashMap::new();
    let mut next_token = 0;
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            assert_eq!(e.kind(), io::ErrorKind::Interrupted, "poll: {e}");
            continue;
        }
        for ev in events.iter() {
            match ev.token() {
                LISTENER => loop {
                    match listener.accept() {
                        Ok((mut s, _)) => {
                            let _ = s.set_nodelay(true);
                            let t = next_token;
                            next_token += 1;
                            poll.registry()
                                .register(&mut s, Token(t), Interest::READABLE | Interest::WRITABLE)
                                .expect("register");
                            let c = FloorConn {
                                s,
                                input: Vec::new(),
                                out: Vec::new(),
                            };
                            conns.insert(t, c);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            eprintln!("floor: accept: {e}");
                            break;
                        }
                    }
                },
                Token(t) => {
                    let Some(c) = conns.get_mut(&t) else { continue };
                    if floor_ready(c, &mut buf).unwrap_or(true) {
                        let mut c = conns.remove(&t).expect("present");
                        let _ = poll.registry().deregister(&mut c.s);
                    }
                }
            }
        }
    }
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(s)
}

/// Sends one GET and reads its whole response (head, then a body of its
/// `content-length`); returns the response's bytes.
pub fn get_once(s: &mut TcpStream) -> Result<Vec<u8>, String> {
    s.write_all(REQUEST).map_err(|e| format!("write: {e}"))?;
    let mut got = Vec::new();
    let mut b = [0u8; 4096];
    let end = loop {
        if let Some(e) = head_end(&got) {
            break e;
        }
        let n = s.read(&mut b).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("closed before a response".into());
        }
        got.extend_from_slice(&b[..n]);
    };
    let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no content-length in {head:?}"))?;
    while got.len() < end + len {
        let n = s.read(&mut b).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("closed inside a body".into());
        }
        got.extend_from_slice(&b[..n]);
    }
    if got.len() != end + len {
        return Err("bytes after the response (unasked)".into());
    }
    Ok(got)
}

fn ready_then_wait() {
    say("ready");
    let mut line = String::new();
    io::stdin().read_line(&mut line).expect("stdin");
}

fn report(r: Result<String, String>) {
    match r {
        Ok(line) => say(&format!("done {line}")),
        Err(e) => say(&format!("error {e}")),
    }
}

/// FNV-1a of `b` (to compare the servers' responses).
pub fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325, |h, &x| {
        (h ^ x as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// Load: `conns` keep-alive connections, each first doing one GET (set-up,
/// untimed, its response kept as the expected bytes), then `n` more GETs
/// each, timed; `min(conns, 2)` threads drive them in lock step (write one
/// request on each of a thread's connections, then read each response), so
/// every connection has one request outstanding. Each response must equal
/// the first byte for byte. Says `done NS HASH` (elapsed ns of the timed
/// part; hash of the response).
fn client_load(addr: SocketAddr, conns: usize, n: usize) {
    let threads = conns.clamp(1, LOAD_THREADS);
    let mut groups: Vec<Vec<TcpStream>> = (0..threads).map(|_| Vec::new()).collect();
    let mut expected: Option<Vec<u8>> = None;
    for i in 0..conns {
        let r = connect(addr)
            .map_err(|e| format!("connect: {e}"))
            .and_then(|mut s| get_once(&mut s).map(|r| (s, r)));
        match r {
            Ok((s, resp)) => {
                if expected.as_ref().is_some_and(|e| *e != resp) {
                    return report(Err("responses differ between connections".into()));
                }
                expected.get_or_insert(resp);
                groups[i % threads].push(s);
            }
            Err(e) => return report(Err(e)),
        }
    }
    let expected = Arc::new(expected.unwrap_or_default());
    ready_then_wait();
    let start = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = groups
        .into_iter()
        .map(|mut conns| {
            let (start, expected) = (start.clone(), expected.clone());
            thread::spawn(move || {
                start.wait();
                let mut back = vec![0u8; expected.len()];
                for round in 0..n {
                    for s in conns.iter_mut() {
                        s.write_all(REQUEST).map_err(|e| format!("write: {e}"))?;
                    }
                    for s in conns.iter_mut() {
                        s.read_exact(&mut back)
                            .map_err(|e| format!("round {round}: read: {e}"))?;
                        if back[..] != expected[..] {
                            return Err(format!("round {round}: a response differs"));
                        }
                    }
                }
                Ok::<Instant, String>(Instant::now())
            })
        })
        .collect();
    let t0 = Instant::now();
    start.wait();
    let mut last = t0;
    let mut err = None;
    for h in handles {
        match h.join() {
            Ok(Ok(done)) => last = last.max(done),
            Ok(Err(e)) => {
                err.get_or_insert(e);
            }
            Err(_) => {
                err.get_or_insert("a client thread panicked".into());
            }
        }
    }
    report(match err {
        Some(e) => Err(e),
        None => Ok(format!("{} {}", (last - t0).as_nanos(), fnv(&expected))),
    });
}

/// Opens `n` connections, one GET each, says `ready` and holds them until
/// a line comes on stdin; then says `done 0` and exits.
fn client_idle(addr: SocketAddr, n: usize) {
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        let r = connect(addr)
            .map_err(|e| format!("connect {i}: {e}"))
            .and_then(|mut s| get_once(&mut s).map(|_| s));
        match r {
            Ok(s) => held.push(s),
            Err(e) => return report(Err(e)),
        }
    }
    ready_then_wait();
    report(Ok("0".into()));
}

/// Counts body bytes from a [`SingleShotHttpClient`]; ends at its signal.
///
/// | box     | carries       | meaning                        |
/// |---------|---------------|--------------------------------|
/// | inbox   | `ClientEvent` | head, body chunks, end         |
/// | control | `Signal`      | the client's end (or failure)  |
struct Counter {
    inbox: Inbox<ClientEvent>,
    control: Inbox<Signal>,
    bytes: u64,
    ended: bool,
    result: std::rc::Rc<std::cell::RefCell<Option<Result<u64, String>>>>,
}

impl Component for Counter {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(ev) = self.inbox.recv() {
            match ev {
                ClientEvent::Body(b) => self.bytes += b.len() as u64,
                ClientEvent::End => self.ended = true,
                _ => {}
            }
        }
        if let Some(s) = self.control.recv() {
            // The inbox is drained above; take what came with the signal.
            while let Some(ev) = self.inbox.recv() {
                if let ClientEvent::Body(b) = ev {
                    self.bytes += b.len() as u64;
                }
            }
            *self.result.borrow_mut() = Some(if s.is_finish() && self.ended {
                Ok(self.bytes)
            } else {
                Err(format!("the client ended with {s:?}"))
            });
            return Step::Done;
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox).add(&self.control);
    }
}

/// Fetches `url` with our `SingleShotHttpClient`, counting the body; says
/// `done BYTES` (checked against `expect`).
fn client_download(url: &str, expect: u64) {
    let client = SingleShotHttpClient::get(url);
    let result = std::rc::Rc::new(std::cell::RefCell::new(None));
    let counter = Counter {
        inbox: Inbox::inbox(),
        control: Inbox::control(),
        bytes: 0,
        ended: false,
        result: result.clone(),
    };
    link(&client.outbox, &counter.inbox).expect("link");
    link(&client.signal, &counter.control).expect("link");
    let mut s = Scheduler::new();
    s.spawn(client);
    s.spawn(counter);
    s.run();
    let r = result.borrow_mut().take();
    report(match r {
        Some(Ok(n)) if n == expect => Ok(n.to_string()),
        Some(Ok(n)) => Err(format!("{n} bytes of {expect}")),
        Some(Err(e)) => Err(e),
        None => Err("no end".into()),
    });
}

// ---------------------------------------------------------------------------
// The parent: processes

/// A server process (this binary in a role, maybe under a tool), stopped
/// with SIGTERM and waited for when dropped.
pub struct ServerProc {
    pub child: Child,
    pub addr: SocketAddr,
}

impl ServerProc {
    /// Starts this binary as `role` (`ours` or `floor`), under `wrap`
    /// (valgrind and its arguments) if not empty.
    pub fn start(role: &str, wrap: &[String]) -> Result<ServerProc, String> {
        let me = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut argv: Vec<String> = wrap.to_vec();
        argv.push(me.display().to_string());
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .env(ROLE, role)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(if wrap.is_empty() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .map_err(|e| format!("start {}: {e}", argv[0]))?;
        let mut out = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        thread::spawn(move || io::copy(&mut out, &mut io::sink()));
        let addr = line.trim().rsplit(' ').next().and_then(|a| a.parse().ok());
        let mut p = ServerProc {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
        };
        match addr {
            Some(a) => p.addr = a,
            None => return Err(format!("{role} said {line:?}")),
        }
        Ok(p)
    }

    /// CPU time used so far (ns), from `/proc/PID/schedstat`.
    pub fn cpu_ns(&self) -> Option<u64> {
        procs::cpu_ns(self.child.id())
    }

    /// Resident set (bytes), from `/proc/PID/status`.
    pub fn rss(&self) -> Option<u64> {
        procs::rss(self.child.id())
    }

    fn term(&mut self) {
        procs::terminate(&mut self.child);
        let _ = self.child.wait();
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        self.term();
    }
}

/// A client process (this binary in a client role); killed and waited for
/// when dropped.
pub struct ClientProc {
    child: Child,
    stdin: Option<ChildStdin>,
    out: BufReader<ChildStdout>,
}

impl ClientProc {
    /// Starts a client in `role` with `args`; with `ready`, waits for it
    /// to say `ready`.
    pub fn start(role: &str, args: &[String], ready: bool) -> Result<ClientProc, String> {
        let me = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut child = Command::new(me)
            .args(args)
            .env(ROLE, role)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("start the client: {e}"))?;
        let stdin = child.stdin.take();
        let out = BufReader::new(child.stdout.take().expect("piped"));
        let mut c = ClientProc { child, stdin, out };
        if ready {
            let line = c.line()?;
            if line != "ready" {
                return Err(format!("client: {line}"));
            }
        }
        Ok(c)
    }

    fn line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        self.out
            .read_line(&mut line)
            .map_err(|e| format!("client: {e}"))?;
        if line.is_empty() {
            return Err("the client ended without a word".into());
        }
        Ok(line.trim().to_string())
    }

    /// Says `go` (if it waits for it) and returns the numbers of its
    /// `done` line.
    pub fn go(&mut self) -> Result<Vec<f64>, String> {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = writeln!(stdin, "go");
        }
        let line = self.line()?;
        match line.strip_prefix("done ") {
            Some(nums) => nums
                .split_whitespace()
                .map(|n| n.parse().map_err(|e| format!("client said {line:?}: {e}")))
                .collect(),
            None => Err(format!("client: {line}")),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ClientProc {
    fn drop(&mut self) {
        self.stdin.take();
        procs::terminate(&mut self.child);
        let _ = self.child.wait();
    }
}

/// A blocking local server for the download row: each connection's
/// request head is read, then `len` bytes of body with a Content-Length
/// are written from one reused 64 KiB buffer, and the connection closed.
/// Runs on threads of this process until it exits; returns the address.
pub fn blob_server(len: u64) -> io::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            thread::spawn(move || {
                let _ = s.set_read_timeout(Some(IO_TIMEOUT));
                let _ = s.set_write_timeout(Some(IO_TIMEOUT));
                let mut got = Vec::new();
                let mut b = [0u8; 4096];
                while head_end(&got).is_none() {
                    match s.read(&mut b) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&b[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
                );
                if s.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let chunk: Vec<u8> = (0..64 * 1024).map(|i| i as u8).collect();
                let mut left = len;
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    if s.write_all(&chunk[..n]).is_err() {
                        return;
                    }
                    left -= n as u64;
                }
            });
        }
    });
    Ok(addr)
}
