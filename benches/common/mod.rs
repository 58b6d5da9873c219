//! Pieces the benches share: the `BENCH_QUICK` switch, the one-line JSON
//! output, medians, CPU clocks and `/proc/self/status` readings, and the
//! pipeline stages (a counting source and a pass-through) that the core and
//! chassis benches both time.
//!
//! Each bench is a crate of its own and includes this file with
//! `mod common;` (it is not a bench: it has no `main`).

#![allow(dead_code)]

pub mod procs;

use std::fmt::Write as _;

use kamaelia::axon::{link, BoxSet, Component, Cx, Full, Inbox, Outbox, Step};

// ---------------------------------------------------------------------------
// Configuration and output

/// Whether `BENCH_QUICK` asks for a quick run (set, not empty, not `0`).
pub fn quick() -> bool {
    std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Whether to run `row`: `BENCH_ROWS` (a comma-separated list of row
/// names) picks rows for profiling; unset or empty runs them all.
pub fn want(row: &str) -> bool {
    let rows = std::env::var("BENCH_ROWS").unwrap_or_default();
    rows.trim().is_empty() || rows.split(',').any(|r| r.trim() == row)
}

/// One JSON object on one line.
pub struct Json(String);

impl Json {
    pub fn new(bench: &str) -> Self {
        Json(format!("{{\"bench\":\"{bench}\""))
    }

    pub fn int(mut self, key: &str, v: u64) -> Self {
        let _ = write!(self.0, ",\"{key}\":{v}");
        self
    }

    pub fn num(mut self, key: &str, v: f64) -> Self {
        let v = if v.is_finite() { v } else { -1.0 };
        let _ = write!(self.0, ",\"{key}\":{v:.3}");
        self
    }

    /// A number in scientific notation (for values near zero).
    pub fn sci(mut self, key: &str, v: f64) -> Self {
        let v = if v.is_finite() { v } else { -1.0 };
        let _ = write!(self.0, ",\"{key}\":{v:.3e}");
        self
    }

    pub fn flag(mut self, key: &str, v: bool) -> Self {
        let _ = write!(self.0, ",\"{key}\":{v}");
        self
    }

    pub fn text(mut self, key: &str, v: &str) -> Self {
        let v = v.replace('\\', "\\\\").replace('"', "\\\"");
        let _ = write!(self.0, ",\"{key}\":\"{v}\"");
        self
    }

    pub fn print(self) {
        println!("{}}}", self.0);
    }
}

/// The median (the upper one of an even count); sorts `v`.
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The smallest value (infinity for none).
pub fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

// ---------------------------------------------------------------------------
// Readings

/// A `clockid_t`.
pub type ClockId = std::os::raw::c_int;

/// The process's CPU clock.
pub const CLOCK_PROCESS_CPUTIME_ID: ClockId = 2;

/// The calling thread's CPU clock.
pub const CLOCK_THREAD_CPUTIME_ID: ClockId = 3;

#[repr(C)]
struct Timespec {
    tv_sec: std::os::raw::c_long,
    tv_nsec: std::os::raw::c_long,
}

extern "C" {
    fn clock_gettime(clock: ClockId, tp: *mut Timespec) -> std::os::raw::c_int;
}

/// The time of `clock` in ns (a CPU clock: the CPU time used so far).
pub fn clock_ns(clock: ClockId) -> u64 {
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    let rc = unsafe { clock_gettime(clock, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime({clock}) failed");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A value in kB from /proc/self/status (`key` with its colon, such as
/// `"VmRSS:"`), in bytes.
pub fn status_bytes(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{key} in /proc/self/status"));
    kb * 1024
}

// ---------------------------------------------------------------------------
// Pipeline stages

/// Sends `0..n`, `per_step` per step (then `Yield`), then ends.
pub struct Source {
    pub outbox: Outbox<u64>,
    next: u64,
    n: u64,
    per_step: u64,
}

impl Source {
    pub fn new(n: u64, per_step: u64) -> Self {
        Source {
            outbox: Outbox::outbox(),
            next: 0,
            n,
            per_step,
        }
    }
}

impl Component for Source {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        let end = (self.next + self.per_step).min(self.n);
        while self.next < end {
            if self.outbox.send(self.next).is_err() {
                // Refused: woken when there is room; `next` is sent again.
                return Step::Pause;
            }
            self.next += 1;
        }
        if self.next == self.n {
            Step::Done
        } else {
            Step::Yield
        }
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.outbox);
    }
}

/// Forwards its inbox to its outbox. A refused message is kept in `held`
/// and goes first next time (the refusal makes the scheduler hold our
/// input until the consumer takes a message).
pub struct Pass {
    pub inbox: Inbox<u64>,
    pub outbox: Outbox<u64>,
    held: Option<u64>,
}

impl Pass {
    pub fn new() -> Self {
        Pass {
            inbox: Inbox::inbox(),
            outbox: Outbox::outbox(),
            held: None,
        }
    }
}

impl Component for Pass {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        if let Some(m) = self.held.take() {
            if let Err(Full(m)) = self.outbox.send(m) {
                self.held = Some(m);
                return Step::Pause;
            }
        }
        while let Some(m) = self.inbox.recv() {
            if let Err(Full(m)) = self.outbox.send(m) {
                self.held = Some(m);
                break;
            }
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox).add(&self.outbox);
    }
}

/// `k` passes linked in a chain from `first` to `last`.
pub fn pass_chain(first: &Outbox<u64>, k: usize, last: &Inbox<u64>) -> Vec<Pass> {
    let passes: Vec<Pass> = (0..k).map(|_| Pass::new()).collect();
    let outs = std::iter::once(first).chain(passes.iter().map(|p| &p.outbox));
    let ins = passes.iter().map(|p| &p.inbox).chain(std::iter::once(last));
    for (o, i) in outs.zip(ins) {
        link(o, i).expect("link pipeline");
    }
    passes
}
