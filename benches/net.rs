//! Benchmarks of the TCP server: `ServerCore` with a protocol component per
//! connection, against a "floor": a hand-written single-threaded `mio`
//! server (edge-triggered, one 16 KiB read buffer, the same read size as
//! `TcpClient`'s, reads until `WouldBlock`, stops reading a connection
//! while its output is blocked), doing the same work for the same clients.
//! Run with `cargo bench --bench net`; `BENCH_QUICK=1` makes a run of a few
//! seconds (smaller workloads, one repetition); `BENCH_ROWS=bulk100,rt1`
//! (of `bulk1`, `bulk100`, `rt1`, `rt100`) runs only those rows, for
//! profiling. Client threads are named `client<n>`, so a profile can tell
//! them from the server (the main thread); `BENCH_SERVERS=ours` (or
//! `floor`) runs only that server.
//!
//! The server under test runs on the main thread; the load comes from
//! separate threads with blocking `std::net` clients, the same for both
//! servers. The clients connect first, then start together; the timed
//! window runs from their start until the last one has finished its work
//! (connection set-up and tear-down are outside it). Every measurement is
//! printed as one JSON line on stdout; rates are medians over the
//! repetitions (5; ours and the floor alternate), and `ratio_to_floor` is
//! our rate / the floor's rate (goal: >= 0.9 on every row). On 2 cores a
//! single repetition moves by 5% or more with where the kernel puts the
//! threads; the median of 5 moved by about 1% between whole runs.
//!
//! * `net_rt`: echo round trips. Each connection does sequential round trips
//!   of a 64-byte message (send it, read its echo, check every byte, next),
//!   with 1 and with 100 connections. The 100 connections are driven by
//!   2 client threads, 50 each, in lock step (write one message on each of
//!   its connections, then read each echo), so every connection has one
//!   message in flight at a time. The server echoes (our `Echo` protocol
//!   component: what arrives on `inbox` goes out of `outbox`).
//!   `rt_per_s` is round trips per second over all connections.
//!   `server_cpu_ns_per_rt` is the CPU time of the server thread (its
//!   `pthread_getcpuclockid` clock, read at the ends of the window) per
//!   round trip: the cost of the server alone, which the rate can hide when
//!   the clients are the bottleneck; `server_cpu_ratio_to_floor` is ours /
//!   the floor's (lower is better, 1 = as cheap as the floor).
//! * `net_bulk`: each connection (one client thread per connection, 1 and
//!   100 connections) sends `mb_per_conn` MiB in 64 KiB writes, then
//!   half-closes; the server discards what arrives, counting it, and when
//!   the client's side closes it replies with the count (8 bytes, little
//!   endian) and closes; the client checks the count. Discarding rather
//!   than echoing keeps the clients simple (blocking writes only) and
//!   measures the server's receive path; the echo path is what `net_rt`
//!   measures. `mb_per_s` is MiB received by the server per second over all
//!   connections; `server_cpu_ns_per_kib` as above, per KiB.
//!   `rss_growth_kib` is the growth of the process's resident set during
//!   the window: peak RSS (VmHWM, reset through /proc/self/clear_refs when
//!   the window starts) minus VmRSS at the start, the largest over the
//!   repetitions (the first, as a rule: later ones reuse memory the
//!   allocator kept). The bulk rows run first, while the heap is small. The
//!   client threads and
//!   their buffers exist before the window starts, so the growth is the
//!   server's (plus the clients' stacks deepening a little).
//!
//! A run whose clients fail (a wrong byte, a time-out after `IO_TIMEOUT`)
//! is reported with an `error` field instead of its rates, and the bench
//! goes on.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kamaelia::axon::{
    link, BoxSet, Component, Cx, DefaultBoxes, Ended, Full, Outbox, Scheduler, Signal, Step,
};
use kamaelia::internet::{ServerCore, READ_CHUNK};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};

mod common;
use common::{clock_ns, median, status_bytes, ClockId, Json};

/// A client read or write that takes longer than this fails the run.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Round-trip message size.
const MSG: usize = 64;
/// Bulk clients' write size.
const BULK_WRITE: usize = 64 * 1024;
/// Client threads for the many-connection round-trip rows.
const RT_THREADS: usize = 2;

// ---------------------------------------------------------------------------
// Configuration and output

struct Config {
    quick: bool,
    reps: usize,
    /// Round trips per connection, for 1 and for 100 connections.
    rt_single: usize,
    rt_each_of_100: usize,
    /// MiB per connection, for 1 and for 100 connections.
    bulk_single_mib: usize,
    bulk_each_of_100_mib: usize,
}

impl Config {
    fn from_env() -> Self {
        let quick = common::quick();
        if quick {
            Config {
                quick,
                reps: 1,
                rt_single: 5_000,
                rt_each_of_100: 200,
                bulk_single_mib: 256,
                bulk_each_of_100_mib: 4,
            }
        } else {
            Config {
                quick,
                reps: 5,
                rt_single: 40_000,
                rt_each_of_100: 2_000,
                bulk_single_mib: 2_048,
                bulk_each_of_100_mib: 24,
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Readings: the server thread's CPU clock, RSS

extern "C" {
    fn pthread_self() -> std::os::raw::c_ulong;
    fn pthread_getcpuclockid(
        thread: std::os::raw::c_ulong,
        clock: *mut ClockId,
    ) -> std::os::raw::c_int;
}

/// The CPU clock of the thread running the server (set by that thread).
static SERVER_CLOCK: AtomicI32 = AtomicI32::new(-1);

/// Notes the calling thread as the server's.
fn mark_server_thread() {
    let mut id: ClockId = 0;
    // SAFETY: `id` is a valid, writable clockid_t; pthread_self is always valid.
    let rc = unsafe { pthread_getcpuclockid(pthread_self(), &mut id) };
    assert_eq!(rc, 0, "pthread_getcpuclockid failed");
    SERVER_CLOCK.store(id, Ordering::SeqCst);
}

/// CPU time used so far by the server thread, in ns (callable from any
/// thread while the server thread lives).
fn server_cpu_ns() -> u64 {
    clock_ns(SERVER_CLOCK.load(Ordering::SeqCst))
}

/// Resets the peak RSS (VmHWM) to the current RSS; false if not allowed.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

// ---------------------------------------------------------------------------
// Protocols for ServerCore

/// Echoes what arrives; on a control signal, forwards it and ends.
///
/// | box     | carries  | meaning                       |
/// |---------|----------|-------------------------------|
/// | inbox   | `Bytes`  | from the client               |
/// | control | `Signal` | ends it                       |
/// | outbox  | `Bytes`  | the same bytes back           |
/// | signal  | `Signal` | the control signal            |
struct Echo {
    b: DefaultBoxes<Bytes, Bytes>,
    held: Option<Bytes>,
}

impl Component for Echo {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(b) = self.held.take().or_else(|| self.b.inbox.recv()) {
            if let Err(Full(b)) = self.b.outbox.send(b) {
                self.held = Some(b);
                return Step::Pause;
            }
        }
        if let Some(s) = self.b.control.recv() {
            let _ = self.b.signal.send(s);
            return Step::Done;
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        self.b.list(set)
    }
}

/// Counts and drops what arrives; when the client's side closes (producer
/// finished on `control`), replies with the count and ends.
///
/// | box     | carries  | meaning                                     |
/// |---------|----------|---------------------------------------------|
/// | inbox   | `Bytes`  | from the client                             |
/// | control | `Signal` | producer finished: reply and end; shutdown: end |
/// | outbox  | `Bytes`  | the count, 8 bytes little endian            |
/// | signal  | `Signal` | the control signal                          |
struct Discard {
    b: DefaultBoxes<Bytes, Bytes>,
    count: u64,
}

impl Component for Discard {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(b) = self.b.inbox.recv() {
            self.count += b.len() as u64;
        }
        if let Some(s) = self.b.control.recv() {
            if s.is_finish() {
                let _ = self
                    .b
                    .outbox
                    .send(Bytes::copy_from_slice(&self.count.to_le_bytes()));
            }
            let _ = self.b.signal.send(s);
            return Step::Done;
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        self.b.list(set)
    }
}

/// Stops the server (Shutdown on `outbox`) once `flag` is set; the load
/// thread sets it and wakes this with `Remote::wake`.
///
/// | box    | carries  | meaning                  |
/// |--------|----------|--------------------------|
/// | outbox | `Signal` | shutdown for the server  |
struct Stopper {
    outbox: Outbox<Signal>,
    flag: Arc<AtomicBool>,
}

impl Component for Stopper {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        if self.flag.load(Ordering::SeqCst) {
            let _ = self.outbox.send(Signal::Shutdown);
            return Step::Done;
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.outbox);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Echo,
    Discard,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Server {
    Ours,
    Floor,
}

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Runs our server on this thread while `load` runs on another with the
/// server's address; returns what `load` returns once the server stopped.
fn with_ours<R: Send + 'static>(
    mode: Mode,
    load: impl FnOnce(SocketAddr) -> R + Send + 'static,
) -> R {
    let server = ServerCore::bind(local(), move |_| match mode {
        Mode::Echo => Box::new(Echo {
            b: DefaultBoxes::new(),
            held: None,
        }) as Box<dyn Component>,
        Mode::Discard => Box::new(Discard {
            b: DefaultBoxes::new(),
            count: 0,
        }),
    })
    .expect("bind");
    let addr = server.local_addr().expect("address");
    let flag = Arc::new(AtomicBool::new(false));
    let stopper = Stopper {
        outbox: Outbox::outbox(),
        flag: flag.clone(),
    };
    link(&stopper.outbox, &server.control).expect("link");
    let mut s = Scheduler::new();
    s.spawn(server);
    let sid = s.spawn(stopper);
    let remote = s.remote();
    mark_server_thread();
    let h = thread::spawn(move || {
        let r = load(addr);
        flag.store(true, Ordering::SeqCst);
        remote.wake(sid);
        r
    });
    assert_eq!(s.run(), Ended::Completed);
    h.join().expect("load thread")
}

// ---------------------------------------------------------------------------
// The floor: a hand-written edge-triggered mio server

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX);

struct FloorConn {
    s: mio::net::TcpStream,
    /// Output the socket did not take yet (reading stops meanwhile).
    out: Vec<u8>,
    count: u64,
    /// The client closed its side: close ours once `out` is written.
    closing: bool,
}

enum Next {
    Keep,
    Close,
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

/// Handles readiness on a connection: flush, then read until `WouldBlock`
/// (echoing or counting), unless output blocks.
fn floor_ready(c: &mut FloorConn, mode: Mode, buf: &mut [u8]) -> io::Result<Next> {
    if !flush(c)? {
        return Ok(Next::Keep);
    }
    while !c.closing {
        match c.s.read(buf) {
            Ok(0) => {
                c.closing = true;
                if mode == Mode::Discard {
                    c.out.extend_from_slice(&c.count.to_le_bytes());
                }
            }
            Ok(n) => match mode {
                Mode::Discard => c.count += n as u64,
                Mode::Echo => {
                    c.out.extend_from_slice(&buf[..n]);
                    if !flush(c)? {
                        return Ok(Next::Keep);
                    }
                }
            },
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Next::Keep),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if flush(c)? {
        return Ok(Next::Close);
    }
    Ok(Next::Keep)
}

/// Runs the floor server on this thread while `load` runs on another.
fn with_floor<R: Send + 'static>(
    mode: Mode,
    load: impl FnOnce(SocketAddr) -> R + Send + 'static,
) -> R {
    let mut poll = Poll::new().expect("poll");
    let mut listener = TcpListener::bind(local()).expect("bind");
    let addr = listener.local_addr().expect("address");
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .expect("register");
    let waker = Arc::new(Waker::new(poll.registry(), WAKER).expect("waker"));
    let flag = Arc::new(AtomicBool::new(false));
    mark_server_thread();
    let (f, w) = (flag.clone(), waker.clone());
    let h = thread::spawn(move || {
        let r = load(addr);
        f.store(true, Ordering::SeqCst);
        w.wake().expect("wake");
        r
    });
    let mut conns: HashMap<usize, FloorConn> = HashMap::new();
    let mut next_token = 0;
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; READ_CHUNK];
    while !flag.load(Ordering::SeqCst) {
        if let Err(e) = poll.poll(&mut events, None) {
            assert_eq!(e.kind(), io::ErrorKind::Interrupted, "poll: {e}");
            continue;
        }
        for ev in events.iter() {
            match ev.token() {
                WAKER => {}
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
                                    count: 0,
                                    closing: false,
                                },
                            );
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => panic!("accept: {e}"),
                    }
                },
                Token(t) => {
                    let Some(c) = conns.get_mut(&t) else { continue };
                    match floor_ready(c, mode, &mut buf) {
                        Ok(Next::Keep) => {}
                        Ok(Next::Close) | Err(_) => {
                            let mut c = conns.remove(&t).expect("present");
                            let _ = poll.registry().deregister(&mut c.s);
                        }
                    }
                }
            }
        }
    }
    h.join().expect("load thread")
}

fn with_server<R: Send + 'static>(
    server: Server,
    mode: Mode,
    load: impl FnOnce(SocketAddr) -> R + Send + 'static,
) -> R {
    match server {
        Server::Ours => with_ours(mode, load),
        Server::Floor => with_floor(mode, load),
    }
}

// ---------------------------------------------------------------------------
// Load: blocking std clients on threads

/// What one run measured.
struct Run {
    elapsed: Duration,
    server_cpu_ns: u64,
    rss_growth: Option<u64>,
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(s)
}

/// Half-closes (if not done yet) and expects a clean end of stream
/// (untimed tear-down).
fn finish(s: &mut TcpStream) -> Result<(), String> {
    let _ = s.shutdown(Shutdown::Write); // the bulk clients have already
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(0) => Ok(()),
        Ok(_) => Err("bytes after the end".into()),
        Err(e) => Err(format!("no clean end: {e}")),
    }
}

/// Runs `work` on one thread per group of connections, all starting
/// together; times from the start until the last has finished its work,
/// reading the server thread's CPU clock (and, with `rss`, the peak RSS)
/// at both ends. Each thread then tears its connections down.
fn timed_load(
    groups: Vec<Vec<TcpStream>>,
    rss: bool,
    work: impl Fn(usize, &mut [TcpStream]) -> Result<(), String> + Send + Sync + 'static,
) -> Result<Run, String> {
    let work = Arc::new(work);
    let start = Arc::new(Barrier::new(groups.len() + 1));
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    let threads: Vec<_> = groups
        .into_iter()
        .enumerate()
        .map(|(i, mut conns)| {
            let (work, start, done_tx) = (work.clone(), start.clone(), done_tx.clone());
            let client = thread::Builder::new().name(format!("client{i}"));
            client
                .spawn(move || {
                    start.wait();
                    let r = work(i, &mut conns);
                    let _ = done_tx.send(r.clone());
                    r?;
                    for s in &mut conns {
                        finish(s)?;
                    }
                    Ok::<(), String>(())
                })
                .expect("spawn a client thread")
        })
        .collect();
    let rss_start = if rss && reset_peak_rss() {
        Some(status_bytes("VmRSS:"))
    } else {
        None
    };
    let cpu0 = server_cpu_ns();
    let t0 = Instant::now();
    start.wait();
    drop(done_tx); // a thread that dies without reporting ends the wait
    let mut first_error = None;
    for _ in 0..threads.len() {
        match done_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(_) => {
                first_error.get_or_insert("a client thread died".into());
                break;
            }
        }
    }
    let elapsed = t0.elapsed();
    let server_cpu_ns = server_cpu_ns() - cpu0;
    let rss_growth = rss_start.map(|r0| status_bytes("VmHWM:").saturating_sub(r0));
    for t in threads {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(_) => {
                first_error.get_or_insert("a client thread panicked".into());
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(Run {
            elapsed,
            server_cpu_ns,
            rss_growth,
        }),
    }
}

/// `conns` connections doing `n` sequential 64-byte round trips each.
fn rt_load(addr: SocketAddr, conns: usize, n: usize) -> Result<Run, String> {
    let threads = conns.min(RT_THREADS);
    let mut groups: Vec<Vec<TcpStream>> = (0..threads).map(|_| Vec::new()).collect();
    for i in 0..conns {
        groups[i % threads].push(connect(addr).map_err(|e| format!("connect: {e}"))?);
    }
    timed_load(groups, false, move |t, conns| {
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
        Ok(())
    })
}

/// `conns` connections, one thread each, sending `bytes` each; the server
/// replies with the count it received, which is checked.
fn bulk_load(addr: SocketAddr, conns: usize, bytes: u64) -> Result<Run, String> {
    let mut groups = Vec::new();
    for _ in 0..conns {
        groups.push(vec![connect(addr).map_err(|e| format!("connect: {e}"))?]);
    }
    // The clients' buffers exist (and are touched) before the window.
    let chunk: Arc<Vec<u8>> = Arc::new((0..BULK_WRITE).map(|i| i as u8).collect());
    timed_load(groups, true, move |_, conns| {
        let s = &mut conns[0];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(BULK_WRITE as u64) as usize;
            s.write_all(&chunk[..n])
                .map_err(|e| format!("write: {e}"))?;
            left -= n as u64;
        }
        s.shutdown(Shutdown::Write).map_err(|e| e.to_string())?;
        let mut count = [0u8; 8];
        s.read_exact(&mut count)
            .map_err(|e| format!("read the count: {e}"))?;
        if u64::from_le_bytes(count) != bytes {
            return Err(format!(
                "the server counted {} of {bytes} bytes",
                u64::from_le_bytes(count)
            ));
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// The rows

/// Medians over the repetitions for one server.
#[derive(Default)]
struct Tally {
    rates: Vec<f64>,
    cpu: Vec<f64>,
    rss: Vec<f64>,
    error: Option<String>,
}

impl Tally {
    fn add(&mut self, r: Result<Run, String>, work: f64) {
        match r {
            Ok(run) => {
                self.rates.push(work / run.elapsed.as_secs_f64());
                self.cpu.push(run.server_cpu_ns as f64 / work);
                if let Some(g) = run.rss_growth {
                    self.rss.push(g as f64);
                }
            }
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
    }

    fn rate(&mut self) -> f64 {
        median(&mut self.rates)
    }

    fn cpu(&mut self) -> f64 {
        median(&mut self.cpu)
    }

    /// The largest growth seen (KiB), if measured.
    fn rss_kib(&self) -> Option<f64> {
        self.rss
            .iter()
            .copied()
            .reduce(f64::max)
            .map(|b| b / 1024.0)
    }
}

/// Runs `one` for both servers, alternating, `reps` times (a server whose
/// run failed is not run again).
fn compare(reps: usize, work: f64, one: impl Fn(Server) -> Result<Run, String>) -> (Tally, Tally) {
    let (mut ours, mut floor) = (Tally::default(), Tally::default());
    // `BENCH_SERVERS=ours` (or `floor`) runs only that one (for profiling).
    let servers = std::env::var("BENCH_SERVERS").unwrap_or_default();
    let skip = |name: &str| !servers.is_empty() && !servers.contains(name);
    for t in [(&mut ours, "ours"), (&mut floor, "floor")] {
        if skip(t.1) {
            t.0.error = Some("skipped (BENCH_SERVERS)".into());
        }
    }
    for _ in 0..reps {
        if ours.error.is_none() {
            ours.add(one(Server::Ours), work);
        }
        if floor.error.is_none() {
            floor.add(one(Server::Floor), work);
        }
    }
    (ours, floor)
}

fn print_row(line: Json, unit: &str, cpu_unit: &str, mut ours: Tally, mut floor: Tally) {
    let mut line = line;
    if let Some(e) = ours.error.as_ref().or(floor.error.as_ref()) {
        let who = if ours.error.is_some() {
            "ours"
        } else {
            "floor"
        };
        line.text("error", &format!("{who}: {e}"))
            .flag("goal_met", false)
            .print();
        return;
    }
    let (rate, floor_rate) = (ours.rate(), floor.rate());
    let ratio = rate / floor_rate;
    let (cpu, floor_cpu) = (ours.cpu(), floor.cpu());
    line = line
        .num(unit, rate)
        .num(&format!("floor_{unit}"), floor_rate)
        .num("ratio_to_floor", ratio)
        .num(&format!("server_cpu_ns_per_{cpu_unit}"), cpu)
        .num(&format!("floor_server_cpu_ns_per_{cpu_unit}"), floor_cpu)
        .num("server_cpu_ratio_to_floor", cpu / floor_cpu);
    if let (Some(a), Some(b)) = (ours.rss_kib(), floor.rss_kib()) {
        line = line.num("rss_growth_kib", a).num("floor_rss_growth_kib", b);
    }
    line.text("goal", "ratio_to_floor>=0.9")
        .flag("goal_met", ratio >= 0.9)
        .print();
}

fn bench_rt(cfg: &Config, conns: usize, n: usize) {
    let work = (conns * n) as f64;
    let (ours, floor) = compare(cfg.reps, work, |server| {
        with_server(server, Mode::Echo, move |addr| rt_load(addr, conns, n))
    });
    let line = Json::new("net_rt")
        .int("conns", conns as u64)
        .int("client_threads", conns.min(RT_THREADS) as u64)
        .int("msg_bytes", MSG as u64)
        .int("round_trips", (conns * n) as u64)
        .int("reps", cfg.reps as u64);
    print_row(line, "rt_per_s", "rt", ours, floor);
}

fn bench_bulk(cfg: &Config, conns: usize, mib: usize) {
    let bytes = (mib as u64) << 20;
    let work_mib = (conns * mib) as f64;
    let (mut ours, mut floor) = compare(cfg.reps, work_mib, |server| {
        with_server(server, Mode::Discard, move |addr| {
            bulk_load(addr, conns, bytes)
        })
    });
    // CPU per KiB rather than per MiB.
    for t in [&mut ours, &mut floor] {
        for c in &mut t.cpu {
            *c /= 1024.0;
        }
    }
    let line = Json::new("net_bulk")
        .int("conns", conns as u64)
        .int("client_threads", conns as u64)
        .int("mb_per_conn", mib as u64)
        .int("write_bytes", BULK_WRITE as u64)
        .int("reps", cfg.reps as u64);
    print_row(line, "mb_per_s", "kib", ours, floor);
}

fn main() {
    let cfg = Config::from_env();
    // `BENCH_ROWS=bulk100,rt1` runs only those rows (for profiling).
    let want = common::want;
    let t0 = Instant::now();
    // Bulk first, while the heap is small, so RSS growth is the server's.
    if want("bulk1") {
        bench_bulk(&cfg, 1, cfg.bulk_single_mib);
    }
    if want("bulk100") {
        bench_bulk(&cfg, 100, cfg.bulk_each_of_100_mib);
    }
    if want("rt1") {
        bench_rt(&cfg, 1, cfg.rt_single);
    }
    if want("rt100") {
        bench_rt(&cfg, 100, cfg.rt_each_of_100);
    }
    eprintln!(
        "net bench ({}) took {:.1} s",
        if cfg.quick { "quick" } else { "full" },
        t0.elapsed().as_secs_f64()
    );
}
