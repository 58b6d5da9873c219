//! The child processes of the client rows (`client.rs`): each started
//! with its stdout and stderr read line by line (every line stamped with
//! the time it came), and reaped by a thread of its own with `wait4`, so
//! the moment it ended and its CPU time (all threads, user + system) are
//! exact; its peak resident set is `VmHWM` read every 20 ms while it runs
//! (not `ru_maxrss`: see [`sample_hwm`]). Nothing is left running: a
//! child still alive when its [`Proc`] is dropped is killed and reaped.
//!
//! Only the reaper thread waits for the child (a `try_wait` elsewhere
//! could reap it first and lose its figures), so the child is signalled
//! with `kill` here rather than with `procs::terminate`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::raw::{c_int, c_long};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

#[repr(C)]
struct Timeval {
    sec: c_long,
    usec: c_long,
}

/// `struct rusage`: two timevals, `ru_maxrss` (KiB), then 13 longs we do
/// not read.
#[repr(C)]
struct Rusage {
    utime: Timeval,
    stime: Timeval,
    maxrss: c_long,
    rest: [c_long; 13],
}

extern "C" {
    fn wait4(pid: c_int, status: *mut c_int, options: c_int, usage: *mut Rusage) -> c_int;
    fn kill(pid: c_int, sig: c_int) -> c_int;
    fn sysconf(name: c_int) -> c_long;
}

const SIGKILL: c_int = 9;
const SIGTERM: c_int = 15;
const SC_CLK_TCK: c_int = 2;

/// How a child ended.
#[derive(Clone, Copy, Debug)]
pub struct Exit {
    /// When the reaper saw it end.
    pub at: Instant,
    /// Its exit status, or `None` when a signal ended it.
    pub code: Option<i32>,
    /// CPU time of all its threads, user and system (ns).
    pub cpu_ns: u64,
    /// Its peak resident set (bytes).
    pub max_rss: u64,
}

impl Exit {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

/// Each thread's latest (on-CPU ns, runqueue-wait ns), by thread id.
type Sched = Arc<Mutex<HashMap<u32, (u64, u64)>>>;

/// How often a child's threads' scheduler times are read.
const SAMPLE_EVERY: Duration = Duration::from_millis(20);

/// Reads `/proc/PID/task/*/schedstat` into `into` (a figure never goes
/// down: a thread that ended keeps its last one).
fn sample_sched(pid: u32, into: &Sched) {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return;
    };
    let mut m = into.lock().expect("not poisoned");
    for e in dir.flatten() {
        let Ok(tid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(s) = std::fs::read_to_string(e.path().join("schedstat")) else {
            continue;
        };
        let mut f = s.split_whitespace().map(|v| v.parse::<u64>().unwrap_or(0));
        if let (Some(run), Some(wait)) = (f.next(), f.next()) {
            let old = m.entry(tid).or_insert((0, 0));
            *old = (old.0.max(run), old.1.max(wait));
        }
    }
}

/// The child's peak resident set so far (`VmHWM` of `/proc/PID/status`),
/// in bytes. `wait4`'s `ru_maxrss` cannot serve: a child spawned with
/// vfork keeps the high-water mark of the parent's memory it ran in until
/// its exec, so every child would read as the bench's own peak.
fn sample_hwm(pid: u32, into: &AtomicU64) {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return;
    };
    let kib = s
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(kib) = kib {
        into.fetch_max(kib * 1024, Ordering::Relaxed);
    }
}

/// A running child; see the module documentation.
pub struct Proc {
    name: String,
    pid: u32,
    /// Kept for its stdin (closed on drop: a libtorrent seeder ends then).
    child: Child,
    /// Just before the spawn.
    pub started: Instant,
    exit_rx: Receiver<Exit>,
    exit: Option<Exit>,
    sched: Sched,
    lines: Receiver<(Instant, String)>,
    /// Lines read and not yet taken by [`Proc::lines`].
    got: Vec<(Instant, String)>,
    /// The last lines read, for error messages.
    tail: Vec<String>,
    threads: Vec<JoinHandle<()>>,
}

fn read_lines(from: impl Read + Send + 'static, to: Sender<(Instant, String)>) -> JoinHandle<()> {
    thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { return };
            if to.send((Instant::now(), line)).is_err() {
                return;
            }
        }
    })
}

impl Proc {
    /// Starts `cmd` (stdin, stdout and stderr piped).
    pub fn spawn(name: &str, cmd: &mut Command) -> Result<Proc, String> {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd.spawn().map_err(|e| format!("start {name}: {e}"))?;
        let pid = child.id();
        let (line_tx, lines) = mpsc::channel();
        let mut threads = vec![
            read_lines(child.stdout.take().expect("piped"), line_tx.clone()),
            read_lines(child.stderr.take().expect("piped"), line_tx),
        ];
        let (exit_tx, exit_rx) = mpsc::channel();
        let sched: Sched = Arc::default();
        let ended = Arc::new(AtomicBool::new(false));
        let hwm = Arc::new(AtomicU64::new(0));
        threads.push({
            let (sched, ended, hwm) = (sched.clone(), ended.clone(), hwm.clone());
            thread::spawn(move || {
                while !ended.load(Ordering::Acquire) {
                    sample_sched(pid, &sched);
                    sample_hwm(pid, &hwm);
                    thread::sleep(SAMPLE_EVERY);
                }
            })
        });
        threads.push(thread::spawn(move || {
            let mut status: c_int = 0;
            let mut ru = Rusage {
                utime: Timeval { sec: 0, usec: 0 },
                stime: Timeval { sec: 0, usec: 0 },
                maxrss: 0,
                rest: [0; 13],
            };
            loop {
                // SAFETY: `status` and `ru` are valid and writable for the
                // call; `pid` is our own child, reaped only here.
                let rc = unsafe { wait4(pid as c_int, &mut status, 0, &mut ru) };
                if rc == pid as c_int {
                    break;
                }
                if rc == -1
                    && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
                {
                    continue;
                }
                return; // ECHILD: cannot happen, nobody else waits.
            }
            let at = Instant::now();
            ended.store(true, Ordering::Release);
            let ns = |t: &Timeval| t.sec as u64 * 1_000_000_000 + t.usec as u64 * 1000;
            let code = (status & 0x7f == 0).then_some((status >> 8) & 0xff);
            let _ = exit_tx.send(Exit {
                at,
                code,
                cpu_ns: ns(&ru.utime) + ns(&ru.stime),
                // The last sample (at most SAMPLE_EVERY old); ru_maxrss
                // only if none was taken.
                max_rss: match hwm.load(Ordering::Relaxed) {
                    0 => ru.maxrss as u64 * 1024,
                    h => h,
                },
            });
        }));
        Ok(Proc {
            name: name.to_string(),
            pid,
            child,
            started,
            exit_rx,
            exit: None,
            sched,
            lines,
            got: Vec::new(),
            tail: Vec::new(),
            threads,
        })
    }

    /// How it ended, if it has.
    pub fn exited(&mut self) -> Option<Exit> {
        if self.exit.is_none() {
            self.exit = self.exit_rx.try_recv().ok();
        }
        self.exit
    }

    /// The next line that `pick` accepts, with the time it came; an error
    /// if the child ends (its pipes close) or `deadline` passes first.
    pub fn wait_line(
        &mut self,
        deadline: Instant,
        mut pick: impl FnMut(&str) -> bool,
    ) -> Result<(Instant, String), String> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((at, line)) => {
                    self.keep(line.clone());
                    if pick(&line) {
                        return Ok((at, line));
                    }
                    self.got.push((at, line));
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("{}: timed out; {}", self.name, self.last_lines()))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("{}: ended; {}", self.name, self.last_lines()))
                }
            }
        }
    }

    /// The lines read so far and not yet taken (those [`Proc::wait_line`]
    /// passed over included).
    pub fn lines(&mut self) -> Vec<(Instant, String)> {
        while let Ok(l) = self.lines.try_recv() {
            self.keep(l.1.clone());
            self.got.push(l);
        }
        std::mem::take(&mut self.got)
    }

    /// Reads lines until both pipes close (they do as the child ends) or
    /// `deadline` passes: the reaper may see the end before the readers
    /// have the last lines.
    fn read_to_close(&mut self, deadline: Instant) {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.keep(l.1.clone());
                    self.got.push(l);
                }
                Err(_) => return,
            }
        }
    }

    fn keep(&mut self, line: String) {
        if self.tail.len() == 4 {
            self.tail.remove(0);
        }
        self.tail.push(line);
    }

    /// Its last lines, for an error message.
    pub fn last_lines(&self) -> String {
        format!("last lines: {:?}", self.tail)
    }

    /// Waits for it to end; past `deadline` it is killed and that is an
    /// error.
    pub fn wait_exit(&mut self, deadline: Instant) -> Result<Exit, String> {
        let exit = match self.exited() {
            Some(e) => e,
            None => {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.exit_rx.recv_timeout(left) {
                    Ok(e) => e,
                    Err(_) => {
                        self.signal(SIGKILL);
                        let _ = self.lines();
                        return Err(format!(
                            "{}: still running at its deadline, killed; {}",
                            self.name,
                            self.last_lines()
                        ));
                    }
                }
            }
        };
        self.exit = Some(exit);
        self.read_to_close(Instant::now() + Duration::from_secs(2));
        Ok(exit)
    }

    /// Sends `sig` unless it has been seen to end.
    fn signal(&mut self, sig: c_int) {
        if self.exited().is_none() {
            // SAFETY: a plain syscall on our own child, not yet reaped by
            // the reaper thread when `exited` looked (its pid is ours).
            unsafe { kill(self.pid as c_int, sig) };
        }
    }

    /// Ends it: SIGTERM, then SIGKILL if it is still there after 5 s.
    pub fn stop(&mut self) -> Option<Exit> {
        self.signal(SIGTERM);
        if let Ok(e) = self.exit_rx.recv_timeout(Duration::from_secs(5)) {
            self.exit = Some(e);
        }
        self.signal(SIGKILL);
        if self.exit.is_none() {
            self.exit = self.exit_rx.recv().ok();
        }
        self.exit
    }

    /// Time (ns) its threads spent runnable but waiting for a CPU (the
    /// second figure of each `/proc/PID/task/TID/schedstat`), read now
    /// while it runs, else as last sampled (every 20 ms: the last moments
    /// are missed). Large when other programs kept the CPUs busy.
    pub fn runqueue_wait_ns(&mut self) -> u64 {
        if self.exited().is_none() {
            sample_sched(self.pid, &self.sched);
        }
        let m = self.sched.lock().expect("not poisoned");
        m.values().map(|&(_, wait)| wait).sum()
    }

    /// CPU time (ns) of all its threads so far, from `/proc/PID/stat`
    /// (clock ticks, 10 ms each at the usual 100 Hz).
    pub fn cpu_ns(&self) -> Option<u64> {
        let s = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        // The fields after the command name (which may hold spaces).
        let rest = &s[s.rfind(')')? + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
        // SAFETY: sysconf only reads a configuration value.
        let hz = unsafe { sysconf(SC_CLK_TCK) }.max(1) as u64;
        Some(ticks * 1_000_000_000 / hz)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        if self.exited().is_none() {
            self.signal(SIGKILL);
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// `n` different ports of 127.0.0.1, free just now (all bound at once,
/// then let go).
pub fn free_ports(n: usize) -> Result<Vec<u16>, String> {
    let held: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("a free port: {e}"))?;
    held.iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("a free port: {e}"))
}

/// Writes `size` pseudo-random bytes (xorshift, from `seed`) to `path`.
pub fn write_payload(path: &Path, size: u64, seed: u64) -> Result<(), String> {
    let mut f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut x = seed | 1;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for w in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            w.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n])
            .map_err(|e| format!("{}: {e}", path.display()))?;
        left -= n as u64;
    }
    Ok(())
}

/// Whether files `a` and `b` hold the same bytes.
pub fn same_bytes(a: &Path, b: &Path) -> bool {
    let (Ok(fa), Ok(fb)) = (std::fs::File::open(a), std::fs::File::open(b)) else {
        return false;
    };
    let (mut ra, mut rb) = (
        BufReader::with_capacity(1 << 20, fa),
        BufReader::with_capacity(1 << 20, fb),
    );
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let (na, nb) = (read_full(&mut ra, &mut ba), read_full(&mut rb, &mut bb));
        match (na, nb) {
            (Ok(na), Ok(nb)) if na == nb && ba[..na] == bb[..nb] => {
                if na == 0 {
                    return true;
                }
            }
            _ => return false,
        }
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
