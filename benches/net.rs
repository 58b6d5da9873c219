//! Benchmarks of the TCP server against a "floor": a hand-written
//! single-threaded `mio` server (edge-triggered, one 16 KiB read buffer,
//! the same read size as `TcpClient`'s, reads until `WouldBlock`, stops
//! reading a connection while its output is blocked), doing the same work
//! for the same clients. Run with `cargo bench --bench net`;
//! `BENCH_QUICK=1` makes a run of a few seconds (smaller workloads, one
//! repetition or round); `BENCH_ROWS=bulk100,rt1` (of `bulk1`, `bulk100`,
//! `rt1`, `rt100`, `rt100_instr`, `churn`, `read_allocs`) runs only those
//! rows. Every
//! measurement is printed as one JSON line on stdout.
//!
//! The echo rows (`net_rt`, `net_rt_instr`, `net_churn`) measure what a
//! user sees: the server is the real `examples/echo_server` binary (built
//! here with `cargo build --profile bench --example echo_server`, then run
//! as a child process on a free port, its trace read and thrown away), the
//! floor is a plain mio echo server in a process of its own, and the load
//! client is a third process (this bench binary re-run in a role, see
//! `net_procs/mod.rs`). Each round starts fresh server processes; rounds
//! interleave ours and the floor (alternating which goes first), and the
//! rows print medians with the smallest and largest values, and the
//! per-round ratios (median, min, max), because on 2 cores a single run
//! moves by 10% or more.
//!
//! * `net_rt`: echo round trips. Each connection does sequential round trips
//!   of a 64-byte message (send it, read its echo, check every byte, next),
//!   with 1 and with 100 connections. The 100 connections are driven by
//!   2 client threads, 50 each, in lock step (write one message on each of
//!   its connections, then read each echo), so every connection has one
//!   message in flight at a time. `rt_per_s` is round trips per second
//!   over all connections (connection set-up and tear-down outside the
//!   window); `ratio_to_floor` is the median of ours over the median of
//!   the floor (goal >= 0.95 with 100 connections).
//!   `server_cpu_ns_per_rt` is the server process's CPU time (its
//!   `/proc/PID/schedstat`, read when the client starts and when it says
//!   it is done) per round trip.
//! * `net_rt_instr`: user-space instructions per round trip of each server
//!   process, under callgrind (the server only; the client runs natively),
//!   100 connections: two runs of different lengths per server, and the
//!   difference over the extra round trips, so start-up and connection
//!   set-up cancel out. Immune to machine noise; kernel time (the
//!   syscalls) is not in it. Skipped, saying so, without valgrind.
//! * `net_churn`: with N idle connections held open (each echoed once, so
//!   the server has accepted it), one connect + 64-byte echo + half-close
//!   and wait for the server's close at a time, each timed; `us_per_op` is
//!   the median over rounds of each run's median. Goal: flat, at most 1.3x
//!   the time with the fewest idle connections. N = 0, 1,000, 4,000, 8,000
//!   (100 and 400 in a quick run); the descriptor limit is raised to the
//!   hard limit first.
//!
//! * `net_read_allocs`: heap allocations per read of a `TcpClient` in
//!   steady state (a counting global allocator; goal 0), over a loopback
//!   socket to a peer thread, in this process: `small` is 64-byte round
//!   trips (the client's outbox is linked back to its inbox through a
//!   counter, so the message is echoed; one read per message), `bulk` is
//!   64 KiB writes read in chunks of up to 16 KiB and dropped. The
//!   counter's inbox holds at most `PROTOCOL_INBOX` chunks, as
//!   `ServerCore` sets a protocol's, so the client hands off to it. Counted
//!   from the `warm`-th chunk to the last; `reads` is chunks read.
//!
//! The bulk rows run the server in the bench process, on the main thread;
//! the load comes from separate threads with blocking `std::net` clients,
//! the same for both servers. The clients connect first, then start
//! together; the timed window runs from their start until the last one has
//! finished its work. Rates are medians over the repetitions (5; ours and
//! the floor alternate). Client threads are named `client<n>`, so a
//! profile can tell them from the server (the main thread);
//! `BENCH_SERVERS=ours` (or `floor`) runs only that server.
//!
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
    link, BoxSet, Component, Cx, DefaultBoxes, Ended, Outbox, Scheduler, Signal, Step,
};
use kamaelia::internet::{ServerCore, READ_CHUNK};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};

mod common;

/// Counts heap allocations (all threads), for `net_read_allocs`.
struct CountingAlloc;

static ALLOCS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

// SAFETY: defers to the system allocator; only counts.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        std::alloc::System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        std::alloc::System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        std::alloc::System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        std::alloc::System.realloc(ptr, layout, new)
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;
use common::{clock_ns, median, status_bytes, ClockId, Json};
#[path = "net_procs/mod.rs"]
mod procs;
use procs::{ClientProc, ServerProc, MSG, RT_THREADS};

/// A client read or write that takes longer than this fails the run.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Bulk clients' write size.
const BULK_WRITE: usize = 64 * 1024;

// ---------------------------------------------------------------------------
// Configuration and output

struct Config {
    quick: bool,
    reps: usize,
    /// Interleaved rounds (ours, floor) of the separate-process rows.
    rounds: usize,
    /// Round trips per connection, for 1 and for 100 connections.
    rt_single: usize,
    rt_each_of_100: usize,
    /// Round trips per connection of the two callgrind runs per server.
    instr_rounds: (usize, usize),
    /// Idle connections held open for the churn rows, and operations timed.
    churn_idle: Vec<usize>,
    churn_ops: usize,
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
                rounds: 1,
                rt_single: 2_000,
                rt_each_of_100: 100,
                instr_rounds: (10, 30),
                churn_idle: vec![0, 100, 400],
                churn_ops: 100,
                bulk_single_mib: 256,
                bulk_each_of_100_mib: 4,
            }
        } else {
            Config {
                quick,
                reps: 5,
                rounds: 7,
                rt_single: 20_000,
                rt_each_of_100: 1_000,
                instr_rounds: (50, 150),
                churn_idle: vec![0, 1_000, 4_000, 8_000],
                churn_ops: 1_000,
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
enum Server {
    Ours,
    Floor,
}

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Runs our server on this thread while `load` runs on another with the
/// server's address; returns what `load` returns once the server stopped.
fn with_ours<R: Send + 'static>(load: impl FnOnce(SocketAddr) -> R + Send + 'static) -> R {
    let server = ServerCore::bind(local(), move |_| {
        Box::new(Discard {
            b: DefaultBoxes::new(),
            count: 0,
        }) as Box<dyn Component>
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
/// (counting), unless output blocks.
fn floor_ready(c: &mut FloorConn, buf: &mut [u8]) -> io::Result<Next> {
    if !flush(c)? {
        return Ok(Next::Keep);
    }
    while !c.closing {
        match c.s.read(buf) {
            Ok(0) => {
                c.closing = true;
                c.out.extend_from_slice(&c.count.to_le_bytes());
            }
            Ok(n) => c.count += n as u64,
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
fn with_floor<R: Send + 'static>(load: impl FnOnce(SocketAddr) -> R + Send + 'static) -> R {
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
                    match floor_ready(c, &mut buf) {
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
    load: impl FnOnce(SocketAddr) -> R + Send + 'static,
) -> R {
    match server {
        Server::Ours => with_ours(load),
        Server::Floor => with_floor(load),
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

fn bench_bulk(cfg: &Config, conns: usize, mib: usize) {
    let bytes = (mib as u64) << 20;
    let work_mib = (conns * mib) as f64;
    let (mut ours, mut floor) = compare(cfg.reps, work_mib, |server| {
        with_server(server, move |addr| bulk_load(addr, conns, bytes))
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

// ---------------------------------------------------------------------------
// The separate-process rows: examples/echo_server against the floor

/// The largest value (-infinity for none).
fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// The order of the two servers in round `r`: alternating, so neither
/// always runs first.
fn order(r: usize) -> [procs::Server; 2] {
    use procs::Server::{Floor, Ours};
    if r % 2 == 0 {
        [Ours, Floor]
    } else {
        [Floor, Ours]
    }
}

/// One run: a fresh server process, a client process in `role` with
/// `args` after the address; returns the client's numbers and the
/// server's CPU ns over the work.
fn proc_run(
    server: procs::Server,
    echo: &std::path::Path,
    role: &str,
    args: &[String],
) -> Result<(Vec<f64>, f64), String> {
    let srv = ServerProc::start(server, echo, &[])?;
    let mut argv = vec![srv.addr.to_string()];
    argv.extend_from_slice(args);
    let mut client = ClientProc::start(role, &argv)?;
    let cpu0 = srv.cpu_ns();
    let nums = client.go()?;
    let cpu1 = srv.cpu_ns();
    client.finish()?;
    srv.stop();
    let cpu = match (cpu0, cpu1) {
        (Some(a), Some(b)) => (b - a) as f64,
        _ => -1.0,
    };
    Ok((nums, cpu))
}

/// `net_rt`: `conns` connections doing `n` round trips each against
/// `examples/echo_server` and against the floor, every party its own
/// process, `rounds` interleaved rounds.
fn bench_rt_procs(cfg: &Config, echo: &std::path::Path, conns: usize, n: usize) {
    let work = (conns * n) as f64;
    let mut rates = [Vec::new(), Vec::new()];
    let mut cpus = [Vec::new(), Vec::new()];
    let mut round_ratios = Vec::new();
    let mut error = None;
    let args = [conns.to_string(), n.to_string()];
    'rounds: for r in 0..cfg.rounds {
        let mut this = [0.0; 2];
        for server in order(r) {
            let k = (server == procs::Server::Floor) as usize;
            match proc_run(server, echo, "rt", &args) {
                Ok((nums, cpu)) => {
                    let rate = work / (nums[0] / 1e9);
                    this[k] = rate;
                    rates[k].push(rate);
                    cpus[k].push(cpu / work);
                }
                Err(e) => {
                    error = Some(format!("{}: {e}", server.name()));
                    break 'rounds;
                }
            }
        }
        round_ratios.push(this[0] / this[1]);
    }
    let line = Json::new("net_rt")
        .text("setup", "separate processes: examples/echo_server vs plain mio echo server, load client process")
        .int("conns", conns as u64)
        .int("client_threads", conns.clamp(1, RT_THREADS) as u64)
        .int("msg_bytes", MSG as u64)
        .int("round_trips", (conns * n) as u64)
        .int("rounds", cfg.rounds as u64);
    if let Some(e) = error {
        return line.text("error", &e).flag("goal_met", false).print();
    }
    let [ours, floor] = &mut rates;
    let (o, f) = (median(ours), median(floor));
    let [ocpu, fcpu] = &mut cpus;
    let (oc, fc) = (median(ocpu), median(fcpu));
    let ratio = o / f;
    line.num("rt_per_s", o)
        .num("rt_per_s_min", common::min(ours))
        .num("rt_per_s_max", max(ours))
        .num("floor_rt_per_s", f)
        .num("floor_rt_per_s_min", common::min(floor))
        .num("floor_rt_per_s_max", max(floor))
        .num("ratio_to_floor", ratio)
        .num("round_ratio_median", median(&mut round_ratios))
        .num("round_ratio_min", common::min(&round_ratios))
        .num("round_ratio_max", max(&round_ratios))
        .num("server_cpu_ns_per_rt", oc)
        .num("floor_server_cpu_ns_per_rt", fc)
        .num("server_cpu_ratio_to_floor", oc / fc)
        .text("goal", "ratio_to_floor>=0.95")
        .flag("goal_met", ratio >= 0.95)
        .print();
}

/// `net_rt_instr`: instructions per round trip of each server process
/// (callgrind on the server only), 100 connections: two runs of `n1` and
/// `n2` round trips per connection, and the difference over the extra
/// round trips, so start-up, connection set-up and tear-down cancel.
fn bench_rt_instr(cfg: &Config, echo: &std::path::Path, conns: usize) {
    let (n1, n2) = cfg.instr_rounds;
    let line = Json::new("net_rt_instr")
        .text(
            "setup",
            "callgrind on the server process only; separate load client process",
        )
        .int("conns", conns as u64)
        .int("msg_bytes", MSG as u64)
        .int("round_trips_per_conn_a", n1 as u64)
        .int("round_trips_per_conn_b", n2 as u64);
    if !procs::have("valgrind") {
        return line
            .text("skipped", "valgrind not found")
            .flag("goal_met", false)
            .print();
    }
    let dir = std::env::temp_dir().join(format!("kamaelia-net-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let one = |server: procs::Server, n: usize| -> Result<u64, String> {
        let file = dir.join(format!("callgrind.{}.{n}", server.name()));
        let wrap = [
            "valgrind".to_string(),
            "--tool=callgrind".into(),
            format!("--callgrind-out-file={}", file.display()),
        ];
        let srv = ServerProc::start(server, echo, &wrap)?;
        let mut client = ClientProc::start(
            "rt",
            &[srv.addr.to_string(), conns.to_string(), n.to_string()],
        )?;
        client.go()?;
        client.finish()?;
        srv.stop();
        procs::callgrind_total(&file)
    };
    let per_rt = |server| -> Result<f64, String> {
        let a = one(server, n1)?;
        let b = one(server, n2)?;
        Ok((b as f64 - a as f64) / (conns * (n2 - n1)) as f64)
    };
    let r = per_rt(procs::Server::Ours).and_then(|o| Ok((o, per_rt(procs::Server::Floor)?)));
    let _ = std::fs::remove_dir_all(&dir);
    match r {
        Ok((o, f)) => line
            .num("instr_per_rt", o)
            .num("floor_instr_per_rt", f)
            .num("instr_ratio_to_floor", o / f)
            .print(),
        Err(e) => line.text("error", &e).flag("goal_met", false).print(),
    }
}

/// `net_churn`: with `idle` connections held open, one connect + 64-byte
/// echo + close (half-close, then the server's close) at a time, timed
/// each; ours and the floor interleaved.
fn bench_churn(cfg: &Config, echo: &std::path::Path, idle: usize, base: &mut Option<f64>) {
    let mut med = [Vec::new(), Vec::new()];
    let mut error = None;
    let args = [idle.to_string(), cfg.churn_ops.to_string()];
    let rounds = cfg.rounds.clamp(1, 3);
    'rounds: for r in 0..rounds {
        for server in order(r) {
            let k = (server == procs::Server::Floor) as usize;
            match proc_run(server, echo, "churn", &args) {
                Ok((nums, _)) => med[k].push(nums[0] / 1e3),
                Err(e) => {
                    error = Some(format!("{}: {e}", server.name()));
                    break 'rounds;
                }
            }
        }
    }
    let line = Json::new("net_churn")
        .text("setup", "separate processes; connect + 64-byte echo + half-close + server's close, one at a time")
        .int("idle_conns", idle as u64)
        .int("ops", cfg.churn_ops as u64)
        .int("rounds", rounds as u64);
    if let Some(e) = error {
        return line.text("error", &e).flag("goal_met", false).print();
    }
    let [ours, floor] = &mut med;
    let (o, f) = (median(ours), median(floor));
    let b = *base.get_or_insert(o);
    let growth = o / b;
    line.num("us_per_op", o)
        .num("us_per_op_min", common::min(ours))
        .num("us_per_op_max", max(ours))
        .num("floor_us_per_op", f)
        .num("floor_us_per_op_min", common::min(floor))
        .num("floor_us_per_op_max", max(floor))
        .num("ratio_to_floor", o / f)
        .num("growth_from_fewest_idle", growth)
        .text("goal", "growth_from_fewest_idle<=1.3")
        .flag("goal_met", growth <= 1.3)
        .print();
}

// ---------------------------------------------------------------------------
// Allocations per read

/// Counts the chunks passing through (`inbox` to `outbox`, or dropped when
/// `outbox` is not linked), noting the allocation count at chunk `warm`
/// and at the last; ends after `bytes` bytes.
///
/// | box    | carries | meaning                          |
/// |--------|---------|----------------------------------|
/// | inbox  | `Bytes` | chunks read                      |
/// | outbox | `Bytes` | the same chunks (echo), if wanted |
struct ReadCounter {
    inbox: kamaelia::axon::Inbox<Bytes>,
    outbox: Outbox<Bytes>,
    echo: bool,
    warm: u64,
    bytes: u64,
    seen: u64,
    chunks: Arc<std::sync::atomic::AtomicU64>,
    at_warm: Arc<std::sync::atomic::AtomicU64>,
    at_end: Arc<std::sync::atomic::AtomicU64>,
}

impl Component for ReadCounter {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(b) = self.inbox.recv() {
            let n = self.chunks.fetch_add(1, Ordering::Relaxed) + 1;
            if n == self.warm {
                self.at_warm
                    .store(ALLOCS.load(Ordering::Relaxed), Ordering::Relaxed);
            }
            self.seen += b.len() as u64;
            if self.echo {
                let _ = self.outbox.send(b);
            }
            if self.seen >= self.bytes {
                self.at_end
                    .store(ALLOCS.load(Ordering::Relaxed), Ordering::Relaxed);
                return Step::Done;
            }
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox).add(&self.outbox);
    }
}

/// One `net_read_allocs` run: returns (allocations, reads) in the window.
fn read_allocs(small: bool, total: u64, warm: u64) -> Result<(u64, u64), String> {
    use std::sync::atomic::AtomicU64;
    let listener = std::net::TcpListener::bind(local()).map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let peer = thread::spawn(move || -> Result<(), String> {
        let (mut s, _) = listener.accept().map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(IO_TIMEOUT))
            .map_err(|e| e.to_string())?;
        if small {
            let mut msg = [0u8; 64];
            let mut back = [0u8; 64];
            for i in 0..total / 64 {
                msg.iter_mut().for_each(|b| *b = i as u8);
                s.write_all(&msg).map_err(|e| format!("write: {e}"))?;
                s.read_exact(&mut back).map_err(|e| format!("read: {e}"))?;
                if back != msg {
                    return Err(format!("echo {i} differs"));
                }
            }
        } else {
            let chunk = vec![7u8; BULK_WRITE];
            let mut left = total;
            while left > 0 {
                let n = left.min(BULK_WRITE as u64) as usize;
                s.write_all(&chunk[..n])
                    .map_err(|e| format!("write: {e}"))?;
                left -= n as u64;
            }
        }
        // Closing ends the client.
        Ok(())
    });
    let client = kamaelia::internet::TcpClient::to_addr(addr);
    let (chunks, at_warm, at_end) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let counter = ReadCounter {
        inbox: kamaelia::axon::Inbox::inbox(),
        outbox: Outbox::outbox(),
        echo: small,
        warm,
        bytes: total,
        seen: 0,
        chunks: chunks.clone(),
        at_warm: at_warm.clone(),
        at_end: at_end.clone(),
    };
    // As `ServerCore` sets a protocol's inbox: the connection hands off to
    // the counter when it is full.
    counter
        .inbox
        .set_limit(Some(kamaelia::internet::PROTOCOL_INBOX));
    link(&client.outbox, &counter.inbox).map_err(|e| e.to_string())?;
    if small {
        link(&counter.outbox, &client.inbox).map_err(|e| e.to_string())?;
    }
    let mut s = Scheduler::new();
    s.spawn(client);
    s.spawn(counter);
    let ended = s.run();
    peer.join().map_err(|_| "the peer panicked".to_string())??;
    if ended != Ended::Completed {
        return Err(format!("the run ended {ended:?}"));
    }
    let (n, a0, a1) = (
        chunks.load(Ordering::Relaxed),
        at_warm.load(Ordering::Relaxed),
        at_end.load(Ordering::Relaxed),
    );
    if n <= warm {
        return Err(format!("only {n} reads, warm-up {warm}"));
    }
    Ok((a1 - a0, n - warm))
}

fn bench_read_allocs(cfg: &Config) {
    let scale = if cfg.quick { 1 } else { 10 };
    for (name, small, total, warm) in [
        ("small", true, 64 * 2_000 * scale, 1_000),
        ("bulk", false, (64u64 << 20) * scale, 1_000),
    ] {
        let line = Json::new("net_read_allocs")
            .text("load", name)
            .int("bytes", total)
            .int("warm", warm);
        match read_allocs(small, total, warm) {
            Ok((allocs, reads)) => line
                .int("reads", reads)
                .int("allocs", allocs)
                .num("allocs_per_read", allocs as f64 / reads as f64)
                .text("goal", "allocs_per_read==0")
                .flag("goal_met", allocs == 0)
                .print(),
            Err(e) => line.text("error", &e).flag("goal_met", false).print(),
        }
    }
}

fn main() {
    if procs::run_role() {
        return;
    }
    let fd_limit = procs::raise_fd_limit();
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
    if want("read_allocs") {
        bench_read_allocs(&cfg);
    }
    let procs_rows = ["rt1", "rt100", "rt100_instr", "churn"];
    if procs_rows.iter().any(|r| want(r)) {
        match procs::build_echo_server() {
            Ok(echo) => {
                if want("rt1") {
                    bench_rt_procs(&cfg, &echo, 1, cfg.rt_single);
                }
                if want("rt100") {
                    bench_rt_procs(&cfg, &echo, 100, cfg.rt_each_of_100);
                }
                if want("rt100_instr") {
                    bench_rt_instr(&cfg, &echo, 100);
                }
                if want("churn") {
                    let mut base = None;
                    for &idle in &cfg.churn_idle {
                        // Each side holds `idle` + a few descriptors.
                        if (idle as u64) + 64 > fd_limit {
                            Json::new("net_churn")
                                .int("idle_conns", idle as u64)
                                .text("error", &format!("descriptor limit {fd_limit} too low"))
                                .flag("goal_met", false)
                                .print();
                            continue;
                        }
                        bench_churn(&cfg, &echo, idle, &mut base);
                    }
                }
            }
            Err(e) => Json::new("net_rt")
                .text("error", &format!("cannot build examples/echo_server: {e}"))
                .flag("goal_met", false)
                .print(),
        }
    }
    eprintln!(
        "net bench ({}) took {:.1} s",
        if cfg.quick { "quick" } else { "full" },
        t0.elapsed().as_secs_f64()
    );
}
