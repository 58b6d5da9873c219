//! The echo rows of `benches/net.rs`, with every party in a process of its
//! own: the server under test is the real `examples/echo_server` binary,
//! the floor is a plain single-threaded edge-triggered `mio` echo server,
//! and the load client is a third process. The bench binary plays the
//! floor and the client itself, re-run with `NET_BENCH_ROLE` set (see
//! [`run_role`]); the bench proper only starts processes, reads their
//! lines and prints the rows.
//!
//! A load client connects, says `ready`, waits for `go` on stdin, does its
//! work, says `done ...` with what it timed, then tears its connections
//! down and exits. The parent reads the server's CPU time
//! (`/proc/PID/schedstat`) at `go` and at `done`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};

/// The environment variable that gives a re-run bench binary its role.
pub const ROLE: &str = "NET_BENCH_ROLE";
/// Round-trip message size.
pub const MSG: usize = 64;
/// A client read or write that takes longer than this fails the run
/// (generous: the server may be running under callgrind).
const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// Client threads driving many connections in lock step.
pub const RT_THREADS: usize = 2;
/// Size of the floor's one read buffer (`TcpClient`'s read size).
const READ_BUF: usize = 16 * 1024;

// ---------------------------------------------------------------------------
// Process helpers shared with the other benches (benches/common/procs.rs).

use crate::common::procs;
pub use crate::common::procs::{callgrind_total, have, raise_fd_limit};

// ---------------------------------------------------------------------------
// Roles: what a re-run bench binary does.

/// If `NET_BENCH_ROLE` is set, plays that role and returns true.
pub fn run_role() -> bool {
    let Ok(role) = std::env::var(ROLE) else {
        return false;
    };
    raise_fd_limit();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> usize {
        args.get(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("role {role}: argument {i} missing or not a number"))
    };
    match role.as_str() {
        "floor" => floor_echo_server(),
        "rt" => {
            let addr: SocketAddr = args[0].parse().expect("address");
            client_rt(addr, arg(1), arg(2));
        }
        "churn" => {
            let addr: SocketAddr = args[0].parse().expect("address");
            client_churn(addr, arg(1), arg(2));
        }
        other => panic!("unknown {ROLE} {other}"),
    }
    true
}

const LISTENER: Token = Token(usize::MAX - 1);

struct FloorConn {
    s: mio::net::TcpStream,
    /// Output the socket did not take yet (reading stops meanwhile).
    out: Vec<u8>,
    /// The client closed its side: close ours once `out` is written.
    closing: bool,
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

/// Handles readiness: flush, then read until `WouldBlock`, echoing, unless
/// output blocks. True when the connection is over.
fn floor_ready(c: &mut FloorConn, buf: &mut [u8]) -> io::Result<bool> {
    if !flush(c)? {
        return Ok(false);
    }
    while !c.closing {
        match c.s.read(buf) {
            Ok(0) => c.closing = true,
            Ok(n) => {
                c.out.extend_from_slice(&buf[..n]);
                if !flush(c)? {
                    return Ok(false);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    flush(c)
}

/// The floor: a plain single-threaded edge-triggered mio echo server on a
/// free port of 127.0.0.1. Says `listening on ADDR` and serves until
/// killed. A connection whose client half-closes is echoed to the end and
/// closed, as `examples/echo_server` does.
fn floor_echo_server() {
    let mut poll = Poll::new().expect("poll");
    let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    let addr = listener.local_addr().expect("address");
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .expect("register");
    println!("listening on {addr}");
    io::stdout().flush().expect("stdout");
    let mut conns: HashMap<usize, FloorConn> = HashMap::new();
    let mut next_token = 0;
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; READ_BUF];
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
                            conns.insert(
                                t,
                                FloorConn {
                                    s,
                                    out: Vec::new(),
                                    closing: false,
                                },
                            );
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

/// One 64-byte round trip, checking every byte of the echo.
fn round_trip(s: &mut TcpStream, seed: usize) -> Result<(), String> {
    let mut msg = [0u8; MSG];
    for (j, b) in msg.iter_mut().enumerate() {
        *b = (seed * 7 + j) as u8;
    }
    s.write_all(&msg).map_err(|e| format!("write: {e}"))?;
    let mut back = [0u8; MSG];
    s.read_exact(&mut back).map_err(|e| format!("read: {e}"))?;
    if back != msg {
        return Err(format!("round trip {seed}: the echo differs"));
    }
    Ok(())
}

/// Half-closes and expects a clean end of stream.
fn finish(s: &mut TcpStream) -> Result<(), String> {
    s.shutdown(Shutdown::Write).map_err(|e| e.to_string())?;
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(0) => Ok(()),
        Ok(_) => Err("bytes after the end".into()),
        Err(e) => Err(format!("no clean end: {e}")),
    }
}

/// Says `ready`, waits for a line on stdin.
fn ready_then_wait() {
    println!("ready");
    io::stdout().flush().expect("stdout");
    let mut line = String::new();
    io::stdin().read_line(&mut line).expect("stdin");
}

fn report(r: Result<String, String>) {
    match r {
        Ok(line) => println!("done {line}"),
        Err(e) => println!("error {e}"),
    }
    io::stdout().flush().expect("stdout");
}

/// Load: `conns` connections, each doing `n` sequential 64-byte round
/// trips; `min(conns, 2)` threads drive them in lock step (write one
/// message on each of a thread's connections, then read each echo), so
/// every connection has one message in flight at a time. Reports the
/// elapsed ns of the work (connection set-up and tear-down excluded).
fn client_rt(addr: SocketAddr, conns: usize, n: usize) {
    let threads = conns.clamp(1, RT_THREADS);
    let mut groups: Vec<Vec<TcpStream>> = (0..threads).map(|_| Vec::new()).collect();
    for i in 0..conns {
        match connect(addr) {
            Ok(s) => groups[i % threads].push(s),
            Err(e) => return report(Err(format!("connect: {e}"))),
        }
    }
    ready_then_wait();
    let start = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = groups
        .into_iter()
        .enumerate()
        .map(|(t, mut conns)| {
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                let mut msg = [0u8; MSG];
                let mut back = [0u8; MSG];
                for round in 0..n {
                    for (i, s) in conns.iter_mut().enumerate() {
                        for (j, b) in msg.iter_mut().enumerate() {
                            *b = (round * 7 + i * 13 + t * 29 + j) as u8;
                        }
                        s.write_all(&msg).map_err(|e| format!("write: {e}"))?;
                    }
                    for (i, s) in conns.iter_mut().enumerate() {
                        s.read_exact(&mut back).map_err(|e| format!("read: {e}"))?;
                        for (j, b) in back.iter().enumerate() {
                            if *b != (round * 7 + i * 13 + t * 29 + j) as u8 {
                                return Err(format!("round {round}: the echo differs"));
                            }
                        }
                    }
                }
                let done = Instant::now();
                for s in &mut conns {
                    finish(s)?;
                }
                Ok::<Instant, String>(done)
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
        None => Ok(format!("{}", (last - t0).as_nanos())),
    });
}

/// Load: `idle` connections opened (each echoes once, so the server has
/// accepted it) and held open, then `ops` times in turn: connect, one
/// 64-byte round trip, half-close, wait for the server's close. Reports
/// the median and mean ns of one such operation.
fn client_churn(addr: SocketAddr, idle: usize, ops: usize) {
    let mut held = Vec::with_capacity(idle);
    for i in 0..idle {
        let r = connect(addr)
            .map_err(|e| format!("idle connect {i}: {e}"))
            .and_then(|mut s| round_trip(&mut s, i).map(|_| s));
        match r {
            Ok(s) => held.push(s),
            Err(e) => return report(Err(e)),
        }
    }
    ready_then_wait();
    let mut times = Vec::with_capacity(ops);
    for i in 0..ops {
        let t0 = Instant::now();
        let r = connect(addr)
            .map_err(|e| format!("connect: {e}"))
            .and_then(|mut s| {
                round_trip(&mut s, i)?;
                finish(&mut s)
            });
        if let Err(e) = r {
            return report(Err(format!("operation {i}: {e}")));
        }
        times.push(t0.elapsed().as_nanos() as f64);
    }
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or(0.0);
    report(Ok(format!("{median} {mean}")));
    for s in &mut held {
        let _ = finish(s);
    }
}

// ---------------------------------------------------------------------------
// The parent: starting servers and clients

/// Which server a run drives.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Server {
    /// `examples/echo_server`.
    Ours,
    /// The plain mio echo server.
    Floor,
}

impl Server {
    pub fn name(self) -> &'static str {
        match self {
            Server::Ours => "ours",
            Server::Floor => "floor",
        }
    }
}

/// Builds `examples/echo_server` with the profile the bench was built with
/// and returns its path; `NET_BENCH_ECHO=PATH` uses that binary instead
/// (to compare builds).
pub fn build_echo_server() -> Result<PathBuf, String> {
    if let Ok(p) = std::env::var("NET_BENCH_ECHO") {
        return Ok(PathBuf::from(p));
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    // `cargo bench` builds with the `bench` profile, whose output is
    // `target/release`; the example built with it shares the library.
    let status = Command::new(cargo)
        .args([
            "build",
            "-q",
            "--profile",
            "bench",
            "--example",
            "echo_server",
            "--manifest-path",
            manifest,
        ])
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cargo build: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build --example echo_server: {status}"));
    }
    // This binary is target/<dir>/deps/net-HASH; examples are beside deps.
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = me
        .parent()
        .and_then(Path::parent)
        .ok_or("no target directory")?;
    let exe = dir.join("examples").join("echo_server");
    if !exe.exists() {
        return Err(format!("{} not found after the build", exe.display()));
    }
    Ok(exe)
}

/// A server process, stopped (SIGTERM) and waited for when dropped.
pub struct ServerProc {
    pub child: Child,
    pub addr: SocketAddr,
}

impl ServerProc {
    /// Starts `server`: `echo` is the example's path; `wrap` runs it under
    /// a tool (valgrind and its arguments).
    pub fn start(server: Server, echo: &Path, wrap: &[String]) -> Result<ServerProc, String> {
        let me = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut argv: Vec<String> = wrap.to_vec();
        match server {
            Server::Ours => {
                argv.push(echo.display().to_string());
                argv.push("127.0.0.1:0".into());
            }
            Server::Floor => argv.push(me.display().to_string()),
        }
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(if wrap.is_empty() {
                Stdio::inherit()
            } else {
                Stdio::null()
            });
        if server == Server::Floor {
            cmd.env(ROLE, "floor");
        } else {
            cmd.env_remove(ROLE);
        }
        let mut child = cmd.spawn().map_err(|e| format!("start {}: {e}", argv[0]))?;
        let mut out = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        // "echo server listening on ADDR" (ours), "listening on ADDR" (floor).
        let addr = line.trim().rsplit(' ').next().and_then(|a| a.parse().ok());
        // The rest (our trace, a line per connection and per echo) is read
        // and thrown away, as a terminal or a log would take it.
        thread::spawn(move || io::copy(&mut out, &mut io::sink()));
        let mut p = ServerProc {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
        };
        match addr {
            Some(a) => p.addr = a,
            None => return Err(format!("{} said {line:?}", server.name())),
        }
        Ok(p)
    }

    /// CPU time the server has used so far (ns), from
    /// `/proc/PID/schedstat` (its main thread: both servers have one).
    pub fn cpu_ns(&self) -> Option<u64> {
        procs::cpu_ns(self.child.id())
    }

    /// Stops the server with SIGTERM and waits for it.
    pub fn stop(mut self) {
        self.term();
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

/// A load client process (the bench binary in a client role).
pub struct ClientProc {
    child: Child,
    stdin: Option<ChildStdin>,
    out: BufReader<ChildStdout>,
}

impl ClientProc {
    /// Starts a client in `role` with `args`, and waits for it to be ready
    /// (connected).
    pub fn start(role: &str, args: &[String]) -> Result<ClientProc, String> {
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
        let line = c.line()?;
        if line != "ready" {
            return Err(format!("client: {line}"));
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

    /// Starts the work; returns the numbers of its `done` line.
    pub fn go(&mut self) -> Result<Vec<f64>, String> {
        let mut stdin = self.stdin.take().ok_or("already started")?;
        writeln!(stdin, "go").map_err(|e| format!("client: {e}"))?;
        let line = self.line()?;
        match line.strip_prefix("done ") {
            Some(nums) => nums
                .split_whitespace()
                .map(|n| n.parse().map_err(|e| format!("client said {line:?}: {e}")))
                .collect(),
            None => Err(format!("client: {line}")),
        }
    }

    /// Waits for the client to tear down and exit.
    pub fn finish(mut self) -> Result<(), String> {
        let status = self.child.wait().map_err(|e| e.to_string())?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("client exited with {status}"))
        }
    }
}
