//! The TCP server and client under load and when clients misbehave, on real
//! sockets (127.0.0.1 only). Every test ends by itself: a tally component
//! stops the server once every client has reported, and a deadline stops
//! the whole system (failing the test) if that never happens.
//!
//! * many clients as kamaelia components (a `TcpClient` and a driver per
//!   client, in the same scheduler as the server), each doing sequential
//!   round trips with every byte checked;
//! * the same against independent blocking `std::net` clients on a few
//!   threads (the server on the test's thread);
//! * clients that vanish in the middle of a message (closed, or reset with
//!   `SO_LINGER` 0) while others carry on;
//! * a server stopped with clients attached: they see a clean close;
//! * a client that never reads: the flooding protocol is held back, the
//!   connection's inbox stays within its CONNECTION_INBOX messages, and heap and RSS
//!   growth stay bounded.
//!
//! Scale: the load tests run the full 1,000 concurrent clients x 100 round
//! trips in debug builds too (CI runs `cargo test` in debug): on 2 cores
//! the component clients take about 4 s in debug and 3 s in release, the
//! std clients about 2 s and 1.5 s (the time goes to system calls), and the
//! whole file 6 to 8 s in debug, so no reduced debug scale was needed.
//! [`LOAD`] is the one place to change it. Both ends of every connection
//! are in this process, so the tests raise the soft limit on open files to
//! the hard limit (and say so if even that is too low). The tests take a lock, so they run one at a time:
//! the memory readings are process-wide, and load tests would only compete
//! for the same cores. A test that hangs is stopped by its deadline
//! ([`DEADLINE`], 30 s) and fails.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender};
use kamaelia::axon::*;
use kamaelia::internet::{EndReason, NetError, ServerCore, TcpClient, READ_CHUNK, WRITE_BUFFER};

// ---------------------------------------------------------------------------
// Heap accounting (for the memory test) and test serialisation

/// Counts the bytes currently allocated on the heap.
struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Relaxed);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Relaxed);
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Relaxed);
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size, Relaxed);
        LIVE_BYTES.fetch_sub(layout.size(), Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn heap_bytes() -> usize {
    LIVE_BYTES.load(Relaxed)
}

/// Resident set size in bytes (VmRSS of /proc/self/status).
fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let kb: usize = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/self/status");
    kb * 1024
}

#[repr(C)]
struct Rlimit {
    cur: u64,
    max: u64,
}

extern "C" {
    fn getrlimit(resource: std::os::raw::c_int, rlim: *mut Rlimit) -> std::os::raw::c_int;
    fn setrlimit(resource: std::os::raw::c_int, rlim: *const Rlimit) -> std::os::raw::c_int;
}

/// Raises the soft limit on open files to the hard limit; panics with a
/// clear message if that is below `need`.
fn raise_fd_limit(need: usize) {
    const RLIMIT_NOFILE: std::os::raw::c_int = 7; // Linux
    let mut l = Rlimit { cur: 0, max: 0 };
    // SAFETY: `l` is a valid, writable rlimit for the call's duration.
    if unsafe { getrlimit(RLIMIT_NOFILE, &mut l) } != 0 {
        return;
    }
    if l.cur < l.max {
        l.cur = l.max;
        // SAFETY: `l` is a valid rlimit; raising the soft limit up to the
        // hard one needs no privilege.
        unsafe { setrlimit(RLIMIT_NOFILE, &l) };
    }
    assert!(
        l.max >= need as u64,
        "these tests need {need} open files; the hard limit is {}",
        l.max
    );
}

/// One test at a time: memory readings are process-wide, and the load
/// tests would only compete for the same cores.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    raise_fd_limit(2 * LOAD.clients + 256);
    let _ = log::set_logger(&Stderr);
    log::set_max_level(log::LevelFilter::Warn);
    let g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    LOGGED.lock().unwrap().clear();
    g
}

/// Warnings and errors from the library: on stderr (shown for a failed
/// test) and kept in `LOGGED` for the test to look at.
struct Stderr;

static LOGGED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The "finished with n message(s) undelivered in 'box'" warnings so far,
/// as (component name, box name, count).
fn undelivered_warnings() -> Vec<(String, String, u64)> {
    LOGGED
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| {
            let (who, rest) = l.split_once(" finished with ")?;
            let (n, rest) = rest.split_once(" message(s) undelivered in '")?;
            let name = who.split('#').next()?.to_string();
            Some((
                name,
                rest.trim_end_matches('\'').to_string(),
                n.parse().ok()?,
            ))
        })
        .collect()
}

impl log::Log for Stderr {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Warn
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            eprintln!("{} {}: {}", r.level(), r.target(), r.args());
            LOGGED.lock().unwrap().push(r.args().to_string());
        }
    }
    fn flush(&self) {}
}

/// Clients and round trips per client for the load tests.
struct Scale {
    clients: usize,
    rounds: usize,
}

/// The same in debug and release: see the top of the file.
const LOAD: Scale = Scale {
    clients: 1_000,
    rounds: 100,
};

/// The safety net: a test that has not ended by then has hung.
const DEADLINE: Duration = Duration::from_secs(30);

/// The connection inbox limit `ServerCore` sets (server.rs, not exported).
use kamaelia::internet::CONNECTION_INBOX;

fn local() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// The message client `c` sends in round `r`: 1 to 200 bytes, contents
/// depending on both, so a byte from another client or round shows.
fn message(c: usize, r: usize) -> Vec<u8> {
    let len = 1 + (c * 31 + r * 17) % 200;
    let mut x = ((c as u64) << 32 | r as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn reason(sig: &Signal) -> Option<EndReason> {
    match sig {
        Signal::Failed(f) => f.downcast_ref::<NetError>().map(|e| e.reason),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Server side: a recording echo protocol

/// How a server-side protocol component ended.
#[derive(Clone, Debug)]
struct End {
    peer: Option<SocketAddr>,
    bytes: usize,
    signal: Signal,
}

/// How the protocol components ended, shared with client threads, which
/// can wait (blocking, not polling) for a number of ends.
#[derive(Clone, Default)]
struct Ends(Arc<(Mutex<Vec<End>>, Condvar)>);

impl Ends {
    fn lock(&self) -> MutexGuard<'_, Vec<End>> {
        self.0 .0.lock().unwrap()
    }

    fn push(&self, end: End) {
        self.lock().push(end);
        self.0 .1.notify_all();
    }

    /// Waits until at least `n` have ended, at most `limit`; whether they did.
    fn wait_for(&self, n: usize, limit: Duration) -> bool {
        let guard = self.lock();
        let (guard, _) = self
            .0
             .1
            .wait_timeout_while(guard, limit, |ends| ends.len() < n)
            .unwrap();
        guard.len() >= n
    }
}

/// Echoes bytes back; on a control signal, forwards it and ends, noting
/// how it ended in `ends`.
///
/// | box     | carries  | meaning                          |
/// |---------|----------|----------------------------------|
/// | inbox   | `Bytes`  | bytes from the client            |
/// | control | `Signal` | ends it (after what is waiting)  |
/// | outbox  | `Bytes`  | the same bytes back              |
/// | signal  | `Signal` | the control signal               |
struct Echo {
    b: DefaultBoxes<Bytes, Bytes>,
    held: Option<Bytes>,
    peer: Option<SocketAddr>,
    bytes: usize,
    ends: Ends,
}

fn echo_factory(ends: &Ends) -> impl FnMut(&kamaelia::internet::ConnInfo) -> Box<dyn Component> {
    let ends = ends.clone();
    move |info| {
        Box::new(Echo {
            b: DefaultBoxes::new(),
            held: None,
            peer: info.peer,
            bytes: 0,
            ends: ends.clone(),
        }) as Box<dyn Component>
    }
}

impl Component for Echo {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(b) = self.held.take().or_else(|| self.b.inbox.recv()) {
            let n = b.len();
            if let Err(Full(b)) = self.b.outbox.send(b) {
                self.held = Some(b); // woken when the connection takes one
                return Step::Pause;
            }
            self.bytes += n;
        }
        if let Some(s) = self.b.control.recv() {
            self.ends.push(End {
                peer: self.peer,
                bytes: self.bytes,
                signal: s.clone(),
            });
            let _ = self.b.signal.send(s);
            return Step::Done;
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        self.b.list(set)
    }
}

// ---------------------------------------------------------------------------
// Client side: drivers, the tally, the deadline

/// What clients report to the tally.
#[derive(Clone, Debug)]
enum Note {
    /// Done its round trips and staying connected (a lingering client).
    Ready,
    /// Finished: how many round trips, how the connection ended, and the
    /// first thing that went wrong, if anything did.
    Ended {
        who: usize,
        rounds: usize,
        end: Signal,
        error: Option<String>,
    },
}

/// Drives one `TcpClient`: sends message `(who, 0)`, checks every byte of
/// its echo, sends the next, ... After `rounds` round trips it finishes the
/// connection (producer finished: the client half-closes and reads to the
/// end), or, if `linger`, reports `Ready` and waits for the server to
/// close. Reports `Ended` when the client's end signal comes.
///
/// | box     | carries  | meaning                                   |
/// |---------|----------|-------------------------------------------|
/// | inbox   | `Bytes`  | from the client's outbox                  |
/// | control | `Signal` | the client's end signal                   |
/// | outbox  | `Bytes`  | to the client's inbox                     |
/// | signal  | `Signal` | to the client's control                   |
/// | report  | `Note`   | to the tally                              |
struct Driver {
    b: DefaultBoxes<Bytes, Bytes>,
    report: Outbox<Note>,
    who: usize,
    rounds: usize,
    done: usize,
    linger: bool,
    started: bool,
    expect: Vec<u8>,
    matched: usize,
    error: Option<String>,
}

/// A client and its driver, linked.
fn client_pair(addr: SocketAddr, who: usize, rounds: usize, linger: bool) -> (TcpClient, Driver) {
    let client = TcpClient::to_addr(addr);
    let d = Driver {
        b: DefaultBoxes::new(),
        report: Outbox::new("report", "to the tally"),
        who,
        rounds,
        done: 0,
        linger,
        started: false,
        expect: Vec::new(),
        matched: 0,
        error: None,
    };
    link(&d.b.outbox, &client.inbox).unwrap();
    link(&d.b.signal, &client.control).unwrap();
    link(&client.outbox, &d.b.inbox).unwrap();
    link(&client.signal, &d.b.control).unwrap();
    (client, d)
}

impl Driver {
    fn send_next(&mut self) {
        self.expect = message(self.who, self.done);
        self.matched = 0;
        let _ = self.b.outbox.send(Bytes::from(self.expect.clone()));
    }

    fn fail(&mut self, what: String) {
        if self.error.is_none() {
            self.error = Some(what);
            let _ = self.b.signal.send(Signal::Shutdown);
        }
    }
}

impl Component for Driver {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        if !self.started {
            self.started = true;
            self.send_next();
        }
        while let Some(chunk) = self.b.inbox.recv() {
            if self.error.is_some() {
                continue;
            }
            let want = &self.expect[self.matched..];
            if chunk.len() > want.len() || chunk[..] != want[..chunk.len()] {
                let what = format!(
                    "client {} round {}: bytes {}..{} differ from what was sent",
                    self.who,
                    self.done,
                    self.matched,
                    self.matched + chunk.len()
                );
                self.fail(what);
                continue;
            }
            self.matched += chunk.len();
            if self.matched == self.expect.len() {
                self.done += 1;
                if self.done < self.rounds {
                    self.send_next();
                } else if self.linger {
                    let _ = self.report.send(Note::Ready);
                } else {
                    let _ = self.b.signal.send(Signal::ProducerFinished);
                }
            }
        }
        if let Some(end) = self.b.control.recv() {
            if self.done < self.rounds {
                self.fail(format!(
                    "client {} ended after {} of {} round trips: {end:?}",
                    self.who, self.done, self.rounds
                ));
            }
            let _ = self.report.send(Note::Ended {
                who: self.who,
                rounds: self.done,
                end,
                error: self.error.take(),
            });
            return Step::Done;
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        self.b.list(set);
        set.add(&self.report);
    }
}

type Notes = Rc<RefCell<Vec<Note>>>;

/// Collects notes from drivers (`inbox`) and from client threads (a
/// channel; they wake it with `Remote::wake`). Stops the server (Shutdown
/// on `outbox`) once all `want` clients have ended or, with
/// `stop_when_ready`, once all are ready; ends when all have ended.
///
/// | box     | carries  | meaning                        |
/// |---------|----------|--------------------------------|
/// | inbox   | `Note`   | from drivers                   |
/// | outbox  | `Signal` | shutdown for the server        |
struct Tally {
    inbox: Inbox<Note>,
    outbox: Outbox<Signal>,
    threads: Option<Receiver<Note>>,
    want: usize,
    stop_when_ready: bool,
    ready: usize,
    ended: usize,
    stopped: bool,
    notes: Notes,
}

fn tally(want: usize, stop_when_ready: bool, threads: Option<Receiver<Note>>) -> (Tally, Notes) {
    let notes = Notes::default();
    let t = Tally {
        inbox: Inbox::inbox(),
        outbox: Outbox::outbox(),
        threads,
        want,
        stop_when_ready,
        ready: 0,
        ended: 0,
        stopped: false,
        notes: notes.clone(),
    };
    (t, notes)
}

impl Component for Tally {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        loop {
            let note = match self.inbox.recv() {
                Some(n) => n,
                None => match self.threads.as_ref().map(|r| r.try_recv()) {
                    Some(Ok(n)) => n,
                    _ => break,
                },
            };
            match note {
                Note::Ready => self.ready += 1,
                Note::Ended { .. } => self.ended += 1,
            }
            self.notes.borrow_mut().push(note);
        }
        let stop = self.ended >= self.want || (self.stop_when_ready && self.ready >= self.want);
        if stop && !self.stopped {
            self.stopped = true;
            let _ = self.outbox.send(Signal::Shutdown);
        }
        if self.ended >= self.want {
            return Step::Done;
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox).add(&self.outbox);
    }
}

/// The safety net: stops the whole system after `DEADLINE` unless the
/// server's end signal arrives first (kept in `got`). When it stops the
/// system it first notes what was still alive, for the failure message.
///
/// | box   | carries  | meaning                     |
/// |-------|----------|-----------------------------|
/// | inbox | `Signal` | the server's end signal     |
struct Deadline {
    inbox: Inbox<Signal>,
    armed: bool,
    got: Rc<RefCell<Option<Signal>>>,
    hung: Rc<RefCell<String>>,
}

type Got = (Rc<RefCell<Option<Signal>>>, Rc<RefCell<String>>);

fn deadline() -> (Deadline, Got) {
    let (got, hung) = Got::default();
    let d = Deadline {
        inbox: Inbox::inbox(),
        armed: false,
        got: got.clone(),
        hung: hung.clone(),
    };
    (d, (got, hung))
}

/// Components by name and run state, and the input waiting for them.
fn summary(snap: &Snapshot) -> String {
    let mut by: std::collections::BTreeMap<(String, String), (usize, usize)> = Default::default();
    for c in &snap.components {
        let e = by
            .entry((c.name.clone(), format!("{:?}", c.state)))
            .or_default();
        e.0 += 1;
        e.1 += c.pending;
    }
    by.iter()
        .map(|((name, state), (n, pending))| format!("{n} {name} {state} ({pending} pending)"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Component for Deadline {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if let Some(s) = self.inbox.recv() {
            *self.got.borrow_mut() = Some(s);
            return Step::Done;
        }
        if !self.armed {
            self.armed = true;
            cx.wake_after(DEADLINE);
            return Step::Pause;
        }
        *self.hung.borrow_mut() = summary(&cx.snapshot());
        cx.stop_system(); // time is up: the test has hung
        Step::Done
    }
    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox);
    }
}

/// A server with the recording echo, its tally and deadline, spawned.
struct Rig {
    s: Scheduler,
    addr: SocketAddr,
    ends: Ends,
    notes: Notes,
    server_end: Got,
    tally: Id,
}

fn rig(want: usize, stop_when_ready: bool, threads: Option<Receiver<Note>>) -> Rig {
    let ends = Ends::default();
    let server = ServerCore::bind(local(), echo_factory(&ends)).unwrap();
    let addr = server.local_addr().unwrap();
    let (t, notes) = tally(want, stop_when_ready, threads);
    let (d, server_end) = deadline();
    link(&t.outbox, &server.control).unwrap();
    link(&server.signal, &d.inbox).unwrap();
    let mut s = Scheduler::new();
    s.spawn(server);
    let tally = s.spawn(t);
    s.spawn(d);
    Rig {
        s,
        addr,
        ends,
        notes,
        server_end,
        tally,
    }
}

impl Rig {
    /// Runs to the end; asserts the server stopped cleanly (not the
    /// deadline).
    fn run(&mut self) -> Duration {
        let t0 = Instant::now();
        let ended = self.s.run();
        let took = t0.elapsed();
        assert_eq!(
            ended,
            Ended::Completed,
            "the deadline stopped the system: {} client notes so far; alive then: {}",
            self.notes.borrow().len(),
            self.server_end.1.borrow()
        );
        assert_eq!(*self.server_end.0.borrow(), Some(Signal::Shutdown));
        took
    }

    /// Spawns a client and its driver, the driver reporting to the tally.
    fn spawn_pair(&mut self, client: TcpClient, driver: Driver) {
        self.s.spawn(client);
        let d = self.s.spawn(driver);
        self.s.link((d, "report"), (self.tally, "inbox")).unwrap();
    }

    fn ended_notes(&self) -> Vec<(usize, usize, Signal, Option<String>)> {
        self.notes
            .borrow()
            .iter()
            .filter_map(|n| match n {
                Note::Ended {
                    who,
                    rounds,
                    end,
                    error,
                } => Some((*who, *rounds, end.clone(), error.clone())),
                Note::Ready => None,
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------
// Blocking std clients on threads

/// Opens `count` connections (clients `first..first + count`), does
/// `rounds` round trips on all of them in step (each connection one
/// message at a time, every byte checked), then half-closes each and
/// expects a clean end of stream.
fn std_clients(addr: SocketAddr, first: usize, count: usize, rounds: usize) -> Result<(), String> {
    let mut conns = Vec::with_capacity(count);
    for _ in 0..count {
        let s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
        s.set_nodelay(true).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(DEADLINE))
            .map_err(|e| e.to_string())?;
        conns.push(s);
    }
    round_trips(&mut conns, first, 0..rounds)?;
    for s in &conns {
        s.shutdown(Shutdown::Write).map_err(|e| e.to_string())?;
    }
    for (i, s) in conns.iter_mut().enumerate() {
        let mut b = [0u8; 1];
        match s.read(&mut b) {
            Ok(0) => {}
            Ok(_) => return Err(format!("client {}: bytes after the last echo", first + i)),
            Err(e) => return Err(format!("client {}: not a clean close: {e}", first + i)),
        }
    }
    Ok(())
}

fn round_trips(
    conns: &mut [TcpStream],
    first: usize,
    rounds: std::ops::Range<usize>,
) -> Result<(), String> {
    let mut buf = vec![0u8; 256];
    for r in rounds {
        for (i, s) in conns.iter_mut().enumerate() {
            s.write_all(&message(first + i, r))
                .map_err(|e| format!("client {} round {r}: write: {e}", first + i))?;
        }
        for (i, s) in conns.iter_mut().enumerate() {
            let m = message(first + i, r);
            let got = &mut buf[..m.len()];
            s.read_exact(got)
                .map_err(|e| format!("client {} round {r}: read: {e}", first + i))?;
            if *got != m[..] {
                return Err(format!("client {} round {r}: echo differs", first + i));
            }
        }
    }
    Ok(())
}

/// Runs `f` on a thread that reports its result to the tally.
fn reporting_thread(
    who: usize,
    tx: Sender<Note>,
    remote: Remote,
    tally: Id,
    f: impl FnOnce() -> Result<(), String> + Send + 'static,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let r = f();
        let _ = tx.send(Note::Ended {
            who,
            rounds: 0,
            end: Signal::ProducerFinished,
            error: r.err(),
        });
        remote.wake(tally);
    })
}

// ---------------------------------------------------------------------------
// The tests

#[test]
fn many_component_clients_each_do_their_round_trips() {
    let _g = serial();
    let Scale { clients, rounds } = LOAD;
    let mut rig = rig(clients, false, None);
    rig.s.reserve(2 * clients + 2 * clients + 8);
    for c in 0..clients {
        let (client, driver) = client_pair(rig.addr, c, rounds, false);
        rig.spawn_pair(client, driver);
    }
    let took = rig.run();
    assert_eq!(rig.s.stats().undelivered, 0, "{:?}", undelivered_warnings());
    let notes = rig.ended_notes();
    assert_eq!(notes.len(), clients);
    for (who, done, end, error) in &notes {
        assert_eq!(error, &None, "client {who}");
        assert_eq!(*done, rounds, "client {who}");
        assert_eq!(*end, Signal::ProducerFinished, "client {who}: a clean end");
    }
    let ends = rig.ends.lock();
    assert_eq!(ends.len(), clients, "every protocol component ended");
    assert!(ends.iter().all(|e| e.signal == Signal::ProducerFinished));
    let sent: usize = (0..clients)
        .flat_map(|c| (0..rounds).map(move |r| message(c, r).len()))
        .sum();
    assert_eq!(ends.iter().map(|e| e.bytes).sum::<usize>(), sent);
    eprintln!(
        "{clients} component clients x {rounds} round trips: {:.2} s ({:.0} round trips/s)",
        took.as_secs_f64(),
        (clients * rounds) as f64 / took.as_secs_f64()
    );
}

#[test]
fn many_independent_std_clients_each_do_their_round_trips() {
    let _g = serial();
    let Scale { clients, rounds } = LOAD;
    let threads = 4;
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut rig = rig(threads, false, Some(rx));
    let remote = rig.s.remote();
    let per = clients.div_ceil(threads);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (addr, first) = (rig.addr, t * per);
            let count = per.min(clients - first);
            reporting_thread(t, tx.clone(), remote.clone(), rig.tally, move || {
                std_clients(addr, first, count, rounds)
            })
        })
        .collect();
    let took = rig.run();
    for h in handles {
        h.join().expect("client thread");
    }
    assert_eq!(rig.s.stats().undelivered, 0, "{:?}", undelivered_warnings());
    let notes = rig.ended_notes();
    assert_eq!(notes.len(), threads);
    for (who, _, _, error) in &notes {
        assert_eq!(error, &None, "client thread {who}");
    }
    let ends = rig.ends.lock();
    assert_eq!(ends.len(), clients, "every protocol component ended");
    assert!(ends.iter().all(|e| e.signal == Signal::ProducerFinished));
    let sent: usize = (0..clients)
        .flat_map(|c| (0..rounds).map(move |r| message(c, r).len()))
        .sum();
    assert_eq!(ends.iter().map(|e| e.bytes).sum::<usize>(), sent);
    eprintln!(
        "{clients} std clients on {threads} threads x {rounds} round trips: {:.2} s ({:.0} round trips/s)",
        took.as_secs_f64(),
        (clients * rounds) as f64 / took.as_secs_f64()
    );
}

/// A client that connects, writes the first half of a message and goes:
/// closed normally (FIN) or, with `reset`, with `SO_LINGER` 0 (RST). With
/// `settled`, it first waits for the echo of its half message, so the
/// server is surely in the middle of its connection (otherwise it may go
/// before the server has even accepted it).
fn vanish(addr: SocketAddr, who: usize, reset: bool, settled: bool) -> Result<SocketAddr, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let me = s.local_addr().map_err(|e| e.to_string())?;
    let m = message(who, 0);
    let half = &m[..m.len() / 2];
    s.write_all(half).map_err(|e| e.to_string())?;
    if settled {
        s.set_read_timeout(Some(DEADLINE))
            .map_err(|e| e.to_string())?;
        let mut back = vec![0u8; half.len()];
        s.read_exact(&mut back).map_err(|e| e.to_string())?;
        if back != half {
            return Err("the half message came back changed".into());
        }
    }
    let s = socket2::Socket::from(s);
    if reset {
        s.set_linger(Some(Duration::ZERO))
            .map_err(|e| e.to_string())?;
    }
    drop(s);
    Ok(me)
}

#[test]
fn clients_that_vanish_mid_message_end_only_their_connections() {
    let _g = serial();
    let (good, rounds, vanishers) = (20, 10, 20);
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut rig = rig(2, false, Some(rx));
    let remote = rig.s.remote();
    let (go_tx, go_rx) = crossbeam_channel::bounded::<()>(1);
    let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(1);
    let addr = rig.addr;
    let good_addrs: Arc<Mutex<Vec<SocketAddr>>> = Arc::default();
    let g = good_addrs.clone();
    // Well-behaved clients: half their round trips, then wait while the
    // others vanish, then the rest.
    let good_thread = reporting_thread(0, tx.clone(), remote.clone(), rig.tally, move || {
        let mut conns = Vec::new();
        for _ in 0..good {
            let s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
            s.set_read_timeout(Some(DEADLINE))
                .map_err(|e| e.to_string())?;
            g.lock().unwrap().push(s.local_addr().unwrap());
            conns.push(s);
        }
        round_trips(&mut conns, 1000, 0..rounds / 2)?;
        go_tx.send(()).map_err(|e| e.to_string())?;
        done_rx.recv().map_err(|e| e.to_string())?;
        round_trips(&mut conns, 1000, rounds / 2..rounds)?;
        for s in &conns {
            s.shutdown(Shutdown::Write).map_err(|e| e.to_string())?;
        }
        for s in &mut conns {
            let mut b = [0u8; 1];
            if s.read(&mut b).map_err(|e| e.to_string())? != 0 {
                return Err("bytes after the last echo".into());
            }
        }
        Ok(())
    });
    // (address, reset, settled, bytes written)
    type Vanished = Vec<(SocketAddr, bool, bool, usize)>;
    let vanished: Arc<Mutex<Vanished>> = Arc::default();
    let (ends, v) = (rig.ends.clone(), vanished.clone());
    let vanish_thread = reporting_thread(1, tx, remote, rig.tally, move || {
        go_rx.recv().map_err(|e| e.to_string())?;
        for i in 0..vanishers {
            let (reset, settled) = (i % 2 == 1, i % 4 >= 2);
            let me = vanish(addr, 2001 + i, reset, settled)?;
            v.lock()
                .unwrap()
                .push((me, reset, settled, message(2001 + i, 0).len() / 2));
        }
        // Wait until the server has ended every one of them (the good
        // clients are all still connected), then let the good ones go on.
        if !ends.wait_for(vanishers, DEADLINE) {
            return Err("the server did not end the vanished connections".into());
        }
        done_tx.send(()).map_err(|e| e.to_string())?;
        Ok(())
    });
    rig.run();
    good_thread.join().unwrap();
    vanish_thread.join().unwrap();
    for (who, _, _, error) in rig.ended_notes() {
        assert_eq!(error, None, "client thread {who}");
    }
    let ends = rig.ends.lock();
    let vanished = vanished.lock().unwrap();
    let good_addrs = good_addrs.lock().unwrap();
    let is_good = |e: &End| e.peer.is_some_and(|p| good_addrs.contains(&p));
    assert_eq!(ends.len(), good + vanishers);
    let (good_ends, gone_ends): (Vec<&End>, Vec<&End>) = ends.iter().partition(|e| is_good(e));
    assert_eq!(good_ends.len(), good);
    assert!(good_ends
        .iter()
        .all(|e| e.signal == Signal::ProducerFinished));
    assert_eq!(gone_ends.len(), vanishers);
    for (peer, reset, settled, half) in vanished.iter() {
        let e = gone_ends.iter().find(|e| e.peer == Some(*peer));
        if *settled && !*reset {
            // It read its echo, then closed: nothing was left unread, so
            // the server saw a clean close (FIN) after all it had sent.
            let e = e.expect("a closed client's protocol component ended");
            assert_eq!(e.bytes, *half, "everything sent was passed on");
            assert_eq!(e.signal, Signal::ProducerFinished, "closed: a clean end");
        } else if let Some(e) = e {
            // Reset, or closed with its echo unread (which resets too), or
            // closed before the server accepted it.
            assert!(e.bytes <= *half);
        } else {
            // Gone before it was accepted: no peer address to match.
            assert!(*reset || !*settled);
        }
    }
    for e in &gone_ends {
        assert!(
            e.signal == Signal::ProducerFinished || reason(&e.signal) == Some(EndReason::Reset),
            "{:?}",
            e.signal
        );
    }
    // Only a connection that was reset can leave data behind: the echo of
    // its half message, sent after the connection had ended (nowhere to
    // go). Besides, an ended pair can leave redundant end signals: the
    // protocol's forwarded signal (its connection had ended) and a second
    // shutdown on its control (the connection's end signal, and the
    // server telling it to stop too).
    let resets = gone_ends
        .iter()
        .filter(|e| reason(&e.signal) == Some(EndReason::Reset))
        .count();
    let left = undelivered_warnings();
    assert_eq!(
        rig.s.stats().undelivered,
        left.iter().map(|l| l.2).sum::<u64>()
    );
    for (name, b, n) in &left {
        assert_eq!(name, "Echo", "{left:?}");
        assert!(
            ["outbox", "signal", "control"].contains(&b.as_str()),
            "{left:?}"
        );
        assert_eq!(*n, 1, "{left:?}");
    }
    let data = left.iter().filter(|l| l.1 == "outbox").count();
    assert!(data <= resets, "{left:?}");
    assert!(left.len() - data <= 2 * vanishers, "{left:?}");
    eprintln!(
        "{vanishers} vanished (half of them reset, half after their echo): \
         protocol ends (peer known, bytes, reason) {:?}",
        gone_ends
            .iter()
            .map(|e| (e.peer.is_some(), e.bytes, reason(&e.signal)))
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_server_stopped_with_clients_attached_closes_them_cleanly() {
    let _g = serial();
    let (components, std_conns, rounds) = (100, 100, 3);
    let (tx, rx) = crossbeam_channel::unbounded();
    let ready_tx = tx.clone();
    let mut rig = rig(components + 1, true, Some(rx));
    let remote = rig.s.remote();
    for c in 0..components {
        let (client, driver) = client_pair(rig.addr, c, rounds, true);
        rig.spawn_pair(client, driver);
    }
    let (addr, tally, r2) = (rig.addr, rig.tally, remote.clone());
    let std_thread = reporting_thread(components, tx, remote, rig.tally, move || {
        let mut conns = Vec::new();
        for _ in 0..std_conns {
            let s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
            s.set_read_timeout(Some(DEADLINE))
                .map_err(|e| e.to_string())?;
            conns.push(s);
        }
        round_trips(&mut conns, 5000, 0..rounds)?;
        let _ = ready_tx.send(Note::Ready);
        r2.wake(tally);
        for (i, s) in conns.iter_mut().enumerate() {
            let mut b = [0u8; 1];
            match s.read(&mut b) {
                Ok(0) => {}
                Ok(_) => return Err(format!("std client {i}: unexpected bytes")),
                Err(e) => return Err(format!("std client {i}: not a clean close: {e}")),
            }
        }
        Ok(())
    });
    rig.run();
    std_thread.join().unwrap();
    let notes = rig.ended_notes();
    assert_eq!(notes.len(), components + 1);
    for (who, done, end, error) in &notes {
        assert_eq!(error, &None, "client {who}");
        if *who < components {
            assert_eq!(*done, rounds, "client {who}");
            assert_eq!(
                *end,
                Signal::ProducerFinished,
                "client {who}: a clean close"
            );
        }
    }
    let ends = rig.ends.lock();
    assert_eq!(ends.len(), components + std_conns);
    assert!(ends.iter().all(|e| e.signal == Signal::Shutdown));
    // No data is left behind; each connection leaves two redundant end
    // signals (ServerCore tells both the connection and its protocol to
    // shut down, and each one's end signal then reaches the other after it
    // has ended).
    let left = undelivered_warnings();
    for (name, b, n) in &left {
        assert_eq!(name, "Echo", "{left:?}");
        assert!(b == "signal" || b == "control", "{left:?}");
        assert_eq!(*n, 1, "{left:?}");
    }
    assert!(left.len() <= 2 * (components + std_conns), "{left:?}");
}

/// Sends 8 KiB messages (each its own allocation) as fast as it may, up to
/// `cap` bytes, counting its steps and what it sent; ends on any control
/// signal.
///
/// | box     | carries  | meaning                    |
/// |---------|----------|----------------------------|
/// | inbox   | `Bytes`  | ignored                    |
/// | control | `Signal` | ends it                    |
/// | outbox  | `Bytes`  | the flood                  |
/// | signal  | `Signal` | the control signal         |
struct Flood {
    b: DefaultBoxes<Bytes, Bytes>,
    steps: Rc<Cell<u64>>,
    sent: Rc<Cell<usize>>,
    cap: usize,
}

const FLOOD_MSG: usize = 8 * 1024;

impl Component for Flood {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        self.steps.set(self.steps.get() + 1);
        while self.b.inbox.recv().is_some() {}
        if let Some(s) = self.b.control.recv() {
            let _ = self.b.signal.send(s);
            return Step::Done;
        }
        for _ in 0..64 {
            if self.sent.get() >= self.cap {
                return Step::Pause;
            }
            if self
                .b
                .outbox
                .send(Bytes::from(vec![7u8; FLOOD_MSG]))
                .is_err()
            {
                return Step::Pause; // held back: woken when there is room
            }
            self.sent.set(self.sent.get() + FLOOD_MSG);
        }
        Step::Yield
    }
    fn boxes(&self, set: &mut BoxSet) {
        self.b.list(set)
    }
}

#[test]
fn a_client_that_does_not_read_holds_the_protocol_back_with_bounded_memory() {
    let _g = serial();
    let cap = 64 << 20; // far more than the kernel's buffers take
    let (steps, sent) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let (st, se) = (steps.clone(), sent.clone());
    let server = ServerCore::bind(local(), move |_| {
        Box::new(Flood {
            b: DefaultBoxes::new(),
            steps: st.clone(),
            sent: se.clone(),
            cap,
        }) as Box<dyn Component>
    })
    .unwrap();
    let addr = server.local_addr().unwrap();
    let stop: Outbox<Signal> = Outbox::new("stop", "to the server");
    link(&stop, &server.control).unwrap();
    let mut s = Scheduler::new();
    let sid = s.spawn(server);
    s.run_until_idle();
    let (heap0, rss0) = (heap_bytes(), rss_bytes());

    let client = TcpStream::connect(addr).unwrap(); // never reads
                                                    // Run (blocking in the poll, as `run` does) until the flood has had no
                                                    // step for 200 ms; bounded: 20 s.
    let t0 = Instant::now();
    loop {
        assert!(t0.elapsed() < Duration::from_secs(20), "never held back");
        let before = steps.get();
        assert_eq!(s.run_for(Duration::from_millis(200)), None);
        if steps.get() == before && before > 0 {
            break;
        }
    }
    let (steps_held, sent_held) = (steps.get(), sent.get());
    assert!(sent_held < cap, "the flood was held back before its cap");
    // Held back: more time brings it no steps.
    assert_eq!(s.run_for(Duration::from_millis(300)), None);
    assert_eq!(
        steps.get(),
        steps_held,
        "a held-back protocol gets no steps"
    );
    let (heap1, rss1) = (heap_bytes(), rss_bytes());

    let snap = s.snapshot();
    let conn = snap
        .components
        .iter()
        .find(|c| c.parent == Some(sid) && c.name == "TcpClient")
        .expect("the connection");
    let inbox = conn.boxes.iter().find(|b| b.name == "inbox").unwrap();
    assert_eq!(inbox.limit, Some(CONNECTION_INBOX));
    assert!(inbox.len <= CONNECTION_INBOX, "{}", inbox.len);
    let flood = snap
        .components
        .iter()
        .find(|c| c.parent == Some(sid) && c.name == "Flood")
        .expect("the protocol");
    assert_eq!(flood.state, RunState::Sleeping);

    // What the process holds for this connection: at most the write
    // buffer (plus the message that crossed it), the inbox's messages, the
    // read buffer, and some change for the components themselves.
    let bound = WRITE_BUFFER + FLOOD_MSG + CONNECTION_INBOX * FLOOD_MSG + READ_CHUNK + (64 << 10);
    let heap_growth = heap1.saturating_sub(heap0);
    let rss_growth = rss1.saturating_sub(rss0);
    eprintln!(
        "flood held back after {steps_held} steps and {} KiB (the kernel holds the rest); \
         heap growth {} KiB (bound {} KiB), RSS growth {} KiB",
        sent_held >> 10,
        heap_growth >> 10,
        bound >> 10,
        rss_growth >> 10
    );
    assert!(heap_growth <= bound, "heap grew by {heap_growth}");
    assert!(rss_growth <= bound + (4 << 20), "RSS grew by {rss_growth}");

    stop.send(Signal::Shutdown).unwrap();
    assert_eq!(s.run(), Ended::Completed);
    drop(client);
}
