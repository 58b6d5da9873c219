//! What the benches that run their parties as separate processes share
//! (`benches/net_procs`, `benches/http_procs`): the descriptor limit, a
//! SIGTERM to a child, a child's CPU time and resident set from `/proc`,
//! whether a tool runs, and callgrind's instruction total. Small pieces of
//! libc are declared here: the crate has no libc dependency.

use std::path::Path;
use std::process::{Child, Command, Stdio};

#[repr(C)]
struct RLimit {
    cur: u64,
    max: u64,
}

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
    fn getrlimit(resource: i32, rlim: *mut RLimit) -> i32;
    fn setrlimit(resource: i32, rlim: *const RLimit) -> i32;
}

const RLIMIT_NOFILE: i32 = 7;
const SIGTERM: i32 = 15;

/// Raises this process's soft descriptor limit to its hard limit (children
/// inherit it); returns the soft limit now.
pub fn raise_fd_limit() -> u64 {
    let mut r = RLimit { cur: 0, max: 0 };
    // SAFETY: `r` is a valid, writable rlimit for both calls.
    unsafe {
        if getrlimit(RLIMIT_NOFILE, &mut r) != 0 {
            return 0;
        }
        let want = RLimit {
            cur: r.max,
            max: r.max,
        };
        if setrlimit(RLIMIT_NOFILE, &want) == 0 {
            r.cur = r.max;
        }
    }
    r.cur
}

/// Sends SIGTERM to `child` if it is still running (it is not waited for).
pub fn terminate(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        // SAFETY: a plain syscall on our own child's pid, not yet reaped
        // (try_wait just saw it running), so the pid is still ours.
        unsafe { kill(child.id() as i32, SIGTERM) };
    }
}

/// CPU time process `pid` has used so far (ns), from `/proc/PID/schedstat`
/// (its main thread).
pub fn cpu_ns(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Resident set of process `pid` (bytes), from `/proc/PID/status`.
pub fn rss(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Whether `prog --version` runs.
pub fn have(prog: &str) -> bool {
    Command::new(prog)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The instruction count (`summary:` line) of a callgrind output file.
pub fn callgrind_total(file: &Path) -> Result<u64, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("{}: no summary line", file.display()))
}

#[repr(C)]
struct Timeval {
    sec: std::os::raw::c_long,
    usec: std::os::raw::c_long,
}

/// `struct rusage`: two timevals, then 14 longs we do not read.
#[repr(C)]
struct Rusage {
    utime: Timeval,
    stime: Timeval,
    rest: [std::os::raw::c_long; 14],
}

extern "C" {
    fn getrusage(who: std::os::raw::c_int, usage: *mut Rusage) -> std::os::raw::c_int;
}

const RUSAGE_CHILDREN: std::os::raw::c_int = -1;

/// CPU time (user + system, ns) of the child processes waited for so far
/// (a reference program timed in the same run: mktorrent, oggdec).
pub fn children_cpu_ns() -> u64 {
    let mut r = Rusage {
        utime: Timeval { sec: 0, usec: 0 },
        stime: Timeval { sec: 0, usec: 0 },
        rest: [0; 14],
    };
    // SAFETY: `r` is a valid, writable rusage for the call's duration.
    let rc = unsafe { getrusage(RUSAGE_CHILDREN, &mut r) };
    assert_eq!(rc, 0, "getrusage failed");
    let ns = |t: &Timeval| t.sec as u64 * 1_000_000_000 + t.usec as u64 * 1000;
    ns(&r.utime) + ns(&r.stime)
}

/// The 1-minute load average (how busy the machine was: on a shared
/// machine wall-clock rates fall while CPU-time rates hold).
pub fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(-1.0)
}
