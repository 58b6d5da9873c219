//! Benchmarks of the Axon core. Run with
//! `cargo bench --bench core`; `BENCH_QUICK=1` makes a run that takes a few
//! seconds (smaller sizes, shorter idle period, fewer repetitions).
//! `BENCH_ROWS=pipeline10x1,idle` (of `idle`, `pipeline1x1`,
//! `pipeline1x64`, `pipeline10x1`, `pipeline10x64`, `allocs`, `refusals`,
//! `churn`, `wake`) runs only those rows, for profiling.
//!
//! Every measurement is printed as one JSON line on stdout:
//!
//! * `pipeline`: a source sends `n` `u64`s through `k` pass-through
//!   components to a sink that checks their order (and panics on a
//!   mismatch), for `k` = 1 and 10, with the source sending 1 message per
//!   step (then `Yield`) or 64 per step. A hop is one message crossing one
//!   link, so a message makes `k + 1` hops. The whole `Scheduler::run` is
//!   timed; `ns_per_hop` and `msgs_per_s` are medians over the repetitions.
//!   `steps_per_msg` is the scheduler's component steps per message (from
//!   `Scheduler::stats`). The same workload also runs on a hand-written
//!   single-threaded "floor" (one `VecDeque` inbox per stage, a sleeping
//!   flag, a run queue rebuilt each round from the stages that yielded plus
//!   the stages woken by a push while asleep, one dynamic call per stage
//!   step): `floor_ns_per_hop` and `ratio_to_floor` (scheduler / floor).
//! * `allocs`: heap allocations per hop in steady state for `k` = 10, 1 per
//!   step, counted by a counting global allocator between the sink seeing
//!   10% and 90% of the messages, after the timed runs warmed up;
//!   `allocs_incl_setup_and_teardown` counts the whole run for comparison.
//! * `idle`: `n` components that hold nothing but the default boxes
//!   (`DefaultBoxes<u64, u64>`, `component_bytes` each), linked in a ring
//!   (outbox -> next inbox, signal -> next control), all asleep.
//!   `bytes_per_component` is the growth of VmRSS over spawning, linking
//!   and the first round (which puts them all to sleep), divided by `n`;
//!   `heap_bytes_per_component` is the same growth as counted by the
//!   allocator (requested bytes, without malloc's rounding), and where it
//!   goes, per component: `boxes_bytes` (its `DefaultBoxes`), `task_bytes`
//!   (spawning: the boxed component, its proc, its scheduler table entries,
//!   with the `reserve` of the run queues), `links_bytes` (its two ring
//!   links) and `round_bytes` (the change over the first round, up to the
//!   probe's measurement); the probe's own boxes and task are only in the
//!   total, a few hundredths of a byte per component. As built now (see
//!   `box_sizes_stay_small` in src/axon/boxes/mod.rs): boxes 112 (one
//!   block: the owner the four share, four 2-byte handle counts, four
//!   24-byte nodes), task 136 (the 56-byte component, whose outbox handles
//!   are 20 bytes each; its 48-byte proc, which counts its own handles; an
//!   8-byte slot and three 8-byte run-queue entries), links 0 (a link is
//!   a pointer in its source node). Then nothing
//!   happens until a timer ends the idle period: `idle_cpu_ms_per_s` is the
//!   process CPU time used over that period (`CLOCK_PROCESS_CPUTIME_ID`, ns
//!   resolution; it includes the one wake-up at the end) per second,
//!   `idle_cpu_ticks` the same from utime + stime in `/proc/self/stat`
//!   (clock ticks, a coarse cross-check), `poll_waits` how often the
//!   scheduler blocked in `mio::Poll`. `ring_round_trip_ms` is the time one
//!   message then takes to go round the whole ring.
//! * `refusals`: heap allocations per refused send in steady state: a
//!   source that always has more sends into a 4-message inbox whose
//!   consumer takes one message a step, so it is refused and woken again
//!   and again; counted between 10% and 90% of the messages.
//! * `churn`: connection churn in process. A long-lived parent shaped like
//!   `ServerCore` makes connections one after another: each gets a run-time
//!   outbox on the parent (`AdaptiveBoxes`) linked to its `control`, its
//!   `outbox` linked to the parent's `inbox`, is spawned as a child,
//!   registers a socket (an unbound Unix datagram socket) in its first
//!   step and ends; the parent learns of the exit and removes the run-time
//!   outbox. `us_per_conn` is the time per connection (median of `reps`
//!   runs of `cycles` connections) with `idle` = 0, 1,000, 4,000 and 8,000
//!   other connections alive (asleep, each with its socket registered and
//!   its run-time outbox); `ratio_to_0` compares with no idle ones.
//! * `idle_parts` (with `idle`): where an idle component's heap goes,
//!   from the allocator's count (requested bytes) in stages on a fresh
//!   scheduler: `boxes_bytes` (its four default boxes, made with it, in
//!   one block), `task_bytes` (spawning: the boxed component of
//!   `component_bytes`, its proc, its scheduler table entries, grown
//!   as needed rather than reserved), `links_bytes` (the ring's links)
//!   and `round_bytes` (the run queues' change over the first round:
//!   negative, as the wake list that spawning grew is given back).
//! * `wake`: latency from another thread's send to the receiving
//!   component's step, with the scheduler asleep in `mio::Poll` before each
//!   send (the thread waits for an ack, then a short gap). Via a `Threaded`
//!   component (thread -> bridge -> receiver) and via a raw thread that
//!   uses `Remote::wake`. Median and p99 in ns.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use kamaelia::axon::{
    link, AdaptiveBoxes, BoxSet, Component, Cx, DefaultBoxes, Ended, Id, Inbox, Scheduler, Signal,
    Step, Threaded,
};

mod common;
use common::{
    clock_ns, median, min, pass_chain, status_bytes, Json, Source, CLOCK_PROCESS_CPUTIME_ID,
};

// ---------------------------------------------------------------------------
// Counting allocator

/// Counts allocations and the bytes currently allocated.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        LIVE_BYTES.fetch_add(layout.size(), Relaxed);
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        LIVE_BYTES.fetch_add(layout.size(), Relaxed);
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Relaxed);
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        LIVE_BYTES.fetch_add(new_size, Relaxed);
        LIVE_BYTES.fetch_sub(layout.size(), Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.load(Relaxed)
}

fn live_bytes() -> usize {
    LIVE_BYTES.load(Relaxed)
}

// ---------------------------------------------------------------------------
// Configuration and output

struct Config {
    quick: bool,
    /// Repetitions of each pipeline variant (the median is reported).
    reps: usize,
    /// Hops per pipeline run (n = hops / (k + 1)).
    pipeline_hops: u64,
    idle_n: usize,
    idle_for: Duration,
    wake_samples: usize,
    wake_gap: Duration,
}

impl Config {
    fn from_env() -> Self {
        let quick = common::quick();
        if quick {
            Config {
                quick,
                reps: 3,
                pipeline_hops: 1_000_000,
                idle_n: 10_000,
                // Not shorter: the ~0.1 ms an idle period costs to enter
                // and leave would read as 0.5 ms/s over 0.2 s (the goal's
                // bound), which is not the cost of staying idle.
                idle_for: Duration::from_secs(1),
                wake_samples: 200,
                wake_gap: Duration::from_micros(100),
            }
        } else {
            Config {
                quick,
                reps: 5,
                pipeline_hops: 10_000_000,
                idle_n: 100_000,
                idle_for: Duration::from_secs(2),
                wake_samples: 2_000,
                wake_gap: Duration::from_micros(100),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Memory and CPU readings

/// Process CPU time (utime + stime) in clock ticks.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = &stat[stat.rfind(')').expect("stat format") + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields[14 - 3].parse().expect("utime");
    let stime: u64 = fields[15 - 3].parse().expect("stime");
    utime + stime
}

/// Clock ticks per second, from `getconf CLK_TCK` (100 if that fails).
fn clock_ticks_per_s() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

// ---------------------------------------------------------------------------
// The order check (the scheduler's sink and the floor's)

/// What the order-checking sink saw.
#[derive(Clone, Copy, Default)]
struct SinkReport {
    received: u64,
    /// The allocation counter when `steady.start` messages had arrived.
    allocs_at_start: u64,
    /// The allocation counter when `steady.end` messages had arrived.
    allocs_at_end: u64,
}

/// Checks that `0..n` arrives in order, and notes the allocation counter at
/// the ends of the steady window: from 10% to 90% of the messages, away
/// from start-up (boxes and run queues growing) and from the end (the
/// source finishing).
struct OrderCheck {
    expected: u64,
    n: u64,
    steady: std::ops::Range<u64>,
    report: Rc<Cell<SinkReport>>,
}

impl OrderCheck {
    fn new(n: u64, report: Rc<Cell<SinkReport>>) -> Self {
        OrderCheck {
            expected: 0,
            n,
            steady: steady_window(n),
            report,
        }
    }

    /// Checks one message; true once the last one has arrived.
    #[inline]
    fn accept(&mut self, v: u64) -> bool {
        assert_eq!(v, self.expected, "pipeline delivered out of order");
        self.expected += 1;
        if self.expected == self.steady.start {
            let mut r = self.report.get();
            r.allocs_at_start = allocs();
            self.report.set(r);
        }
        if self.expected == self.steady.end {
            let mut r = self.report.get();
            r.allocs_at_end = allocs();
            self.report.set(r);
        }
        if self.expected == self.n {
            let mut r = self.report.get();
            r.received = self.n;
            self.report.set(r);
            return true;
        }
        false
    }
}

/// The messages counted as steady state: from 10% to 90% of `n`.
fn steady_window(n: u64) -> std::ops::Range<u64> {
    n / 10..n - n / 10
}

// ---------------------------------------------------------------------------
// pipeline on the scheduler

/// Checks the order of what arrives; stops the system after the last one.
struct Sink {
    inbox: Inbox<u64>,
    check: OrderCheck,
}

impl Component for Sink {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(v) = self.inbox.recv() {
            if self.check.accept(v) {
                cx.stop_system();
            }
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox);
    }
}

/// One timed pipeline run.
struct PipelineRun {
    elapsed: Duration,
    steps: u64,
    sink: SinkReport,
}

/// Runs source -> k passes -> sink on a fresh scheduler; times `run()`.
fn run_pipeline(k: usize, per_step: u64, n: u64) -> PipelineRun {
    let report = Rc::new(Cell::new(SinkReport::default()));
    let source = Source::new(n, per_step);
    let sink = Sink {
        inbox: Inbox::inbox(),
        check: OrderCheck::new(n, report.clone()),
    };
    let passes = pass_chain(&source.outbox, k, &sink.inbox);

    let mut s = Scheduler::new();
    s.spawn(source);
    for p in passes {
        s.spawn(p);
    }
    s.spawn(sink);
    let t0 = Instant::now();
    let ended = s.run();
    let elapsed = t0.elapsed();
    assert_eq!(ended, Ended::Stopped);
    assert_eq!(report.get().received, n, "sink did not get every message");
    PipelineRun {
        elapsed,
        steps: s.stats().steps,
        sink: report.get(),
    }
}

// ---------------------------------------------------------------------------
// pipeline on the hand-written floor

enum FloorStep {
    Yield,
    Pause,
    Done,
}

/// The floor's boxes and wake state, one entry per stage.
struct FloorWorld {
    inboxes: Vec<VecDeque<u64>>,
    sleeping: Vec<bool>,
    woken: Vec<usize>,
    stop: bool,
}

impl FloorWorld {
    /// Delivers `v` to stage `to`, waking it if it sleeps.
    #[inline]
    fn push(&mut self, to: usize, v: u64) {
        self.inboxes[to].push_back(v);
        if self.sleeping[to] {
            self.sleeping[to] = false;
            self.woken.push(to);
        }
    }
}

type FloorStage = Box<dyn FnMut(usize, &mut FloorWorld) -> FloorStep>;

fn floor_source(n: u64, per_step: u64) -> FloorStage {
    let mut next = 0;
    Box::new(move |me, w| {
        let end = (next + per_step).min(n);
        while next < end {
            w.push(me + 1, next);
            next += 1;
        }
        if next == n {
            FloorStep::Done
        } else {
            FloorStep::Yield
        }
    })
}

fn floor_pass() -> FloorStage {
    Box::new(|me, w| {
        while let Some(v) = w.inboxes[me].pop_front() {
            w.push(me + 1, v);
        }
        FloorStep::Pause
    })
}

fn floor_sink(mut check: OrderCheck) -> FloorStage {
    Box::new(move |me, w| {
        while let Some(v) = w.inboxes[me].pop_front() {
            if check.accept(v) {
                w.stop = true;
            }
        }
        FloorStep::Pause
    })
}

/// Runs the stages round by round until one sets `stop`.
fn run_floor_rounds(stages: &mut [FloorStage], w: &mut FloorWorld) {
    let mut current: Vec<usize> = (0..stages.len()).collect();
    let mut next = Vec::with_capacity(stages.len());
    while !current.is_empty() {
        for &i in &current {
            match stages[i](i, w) {
                FloorStep::Yield => next.push(i),
                FloorStep::Pause if w.inboxes[i].is_empty() => w.sleeping[i] = true,
                FloorStep::Pause => next.push(i),
                FloorStep::Done => {}
            }
            if w.stop {
                return;
            }
        }
        current.clear();
        std::mem::swap(&mut current, &mut next);
        current.append(&mut w.woken);
    }
}

/// The floor version of [`run_pipeline`].
fn run_floor(k: usize, per_step: u64, n: u64) -> Duration {
    let report = Rc::new(Cell::new(SinkReport::default()));
    let mut stages = vec![floor_source(n, per_step)];
    stages.extend((0..k).map(|_| floor_pass()));
    stages.push(floor_sink(OrderCheck::new(n, report.clone())));
    let mut w = FloorWorld {
        inboxes: (0..stages.len()).map(|_| VecDeque::new()).collect(),
        sleeping: vec![false; stages.len()],
        woken: Vec::with_capacity(stages.len()),
        stop: false,
    };
    let t0 = Instant::now();
    run_floor_rounds(&mut stages, &mut w);
    let elapsed = t0.elapsed();
    assert_eq!(
        report.get().received,
        n,
        "floor sink did not get every message"
    );
    elapsed
}

fn ns_per_hop(d: Duration, n: u64, k: usize) -> f64 {
    d.as_nanos() as f64 / (n * (k as u64 + 1)) as f64
}

fn bench_pipeline(cfg: &Config, k: usize, per_step: u64) {
    let n = cfg.pipeline_hops / (k as u64 + 1);
    let mut ours = Vec::new();
    let mut floor = Vec::new();
    let mut steps = 0;
    for _ in 0..cfg.reps {
        let run = run_pipeline(k, per_step, n);
        ours.push(ns_per_hop(run.elapsed, n, k));
        steps = run.steps;
        floor.push(ns_per_hop(run_floor(k, per_step, n), n, k));
    }
    let best = min(&ours);
    let ns = median(&mut ours);
    let floor_ns = median(&mut floor);
    let ratio = ns / floor_ns;
    let mut line = Json::new("pipeline")
        .int("k", k as u64)
        .int("per_step", per_step)
        .int("n", n)
        .int("reps", cfg.reps as u64)
        .num("ns_per_hop", ns)
        .num("ns_per_hop_min", best)
        .num("msgs_per_s", 1e9 / (ns * (k as f64 + 1.0)))
        .num("steps_per_msg", steps as f64 / n as f64)
        .num("floor_ns_per_hop", floor_ns)
        .num("ratio_to_floor", ratio);
    if k == 10 && per_step == 1 {
        line = line
            .text("goal", "ns_per_hop<=15 && ratio_to_floor<=1.5")
            .flag("goal_met", ns <= 15.0 && ratio <= 1.5);
    }
    line.print();
}

/// Allocations per hop in steady state (run after the timed runs).
fn bench_allocs(cfg: &Config) {
    let (k, per_step) = (10, 1);
    let n = cfg.pipeline_hops / (k as u64 + 1);
    let before = allocs();
    let r = run_pipeline(k, per_step, n).sink;
    let in_all = allocs() - before;
    let window = steady_window(n);
    let steady_hops = (window.end - window.start) * (k as u64 + 1);
    let steady = r.allocs_at_end - r.allocs_at_start;
    Json::new("allocs")
        .int("k", k as u64)
        .int("per_step", per_step)
        .int("n", n)
        .int("steady_hops", steady_hops)
        .int("steady_allocs", steady)
        .sci("allocs_per_hop", steady as f64 / steady_hops as f64)
        .int("allocs_incl_setup_and_teardown", in_all)
        .print();
}

// ---------------------------------------------------------------------------
// idle

/// A ring member that is nothing but the default boxes: forwards data,
/// passes a signal on and ends. The ring's inboxes are unbounded, so a send
/// is never refused (asserted: holding a refused message would need a field).
struct Relay {
    boxes: DefaultBoxes<u64, u64>,
}

impl Component for Relay {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(v) = self.boxes.inbox.recv() {
            self.boxes.outbox.send(v).expect("unbounded ring");
        }
        if let Some(sig) = self.boxes.control.recv() {
            self.boxes.signal.send(sig).expect("unbounded ring");
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        self.boxes.list(set);
    }
}

#[derive(Default)]
struct IdleReport {
    rss_after: u64,
    heap_after: usize,
    cpu_ns: u64,
    cpu_ticks: u64,
    idle_wall: Duration,
    ring_round_trip: Duration,
}

enum ProbePhase {
    /// First step, at the end of the first round: measure memory, start
    /// the idle period.
    Measure,
    /// Waiting for the timer that ends the idle period.
    Idle {
        deadline: Instant,
        cpu_ns: u64,
        ticks: u64,
        at: Instant,
    },
    /// A message is going round the ring.
    Ring { sent: Instant },
}

/// Closes the ring (its outbox feeds relay 0, the last relay feeds it) and
/// takes the idle measurements.
struct IdleProbe {
    boxes: DefaultBoxes<u64, u64>,
    phase: ProbePhase,
    idle_for: Duration,
    report: Rc<RefCell<IdleReport>>,
}

impl Component for IdleProbe {
    fn step(&mut self, cx: &mut Cx) -> Step {
        match self.phase {
            ProbePhase::Measure => {
                let mut r = self.report.borrow_mut();
                r.rss_after = status_bytes("VmRSS:");
                r.heap_after = live_bytes();
                let at = Instant::now();
                self.phase = ProbePhase::Idle {
                    deadline: at + self.idle_for,
                    cpu_ns: clock_ns(CLOCK_PROCESS_CPUTIME_ID),
                    ticks: cpu_ticks(),
                    at,
                };
                cx.wake_after(self.idle_for);
            }
            ProbePhase::Idle {
                deadline,
                cpu_ns,
                ticks,
                at,
            } => {
                if Instant::now() < deadline {
                    return Step::Pause;
                }
                let cpu_ns_now = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
                let ticks_now = cpu_ticks();
                let mut r = self.report.borrow_mut();
                r.idle_wall = at.elapsed();
                r.cpu_ns = cpu_ns_now - cpu_ns;
                r.cpu_ticks = ticks_now - ticks;
                self.phase = ProbePhase::Ring {
                    sent: Instant::now(),
                };
                self.boxes.outbox.send(0).expect("unbounded ring");
            }
            ProbePhase::Ring { sent } => {
                if self.boxes.inbox.recv().is_some() {
                    self.report.borrow_mut().ring_round_trip = sent.elapsed();
                    cx.stop_system();
                }
            }
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        self.boxes.list(set);
    }
}

/// Links `a`'s outbox to `b`'s inbox and `a`'s signal to `b`'s control.
fn link_ring_pair(s: &mut Scheduler, a: Id, b: Id) {
    s.link((a, "outbox"), (b, "inbox")).expect("link outbox");
    s.link((a, "signal"), (b, "control")).expect("link signal");
}

fn bench_idle(cfg: &Config) {
    let n = cfg.idle_n;
    let report = Rc::new(RefCell::new(IdleReport::default()));
    let mut s = Scheduler::new();
    let rss_before = status_bytes("VmRSS:");
    let heap_before = live_bytes();

    // Where the heap goes, counted by the allocator around each stage of
    // each component's making (a load of a counter: it changes nothing the
    // RSS figure sees).
    let (mut boxes, mut task, mut links) = (0usize, 0usize, 0usize);
    let h = live_bytes();
    s.reserve(n + 1);
    task += live_bytes() - h;
    let relay = || Relay {
        boxes: DefaultBoxes::new(),
    };
    let mut prev = None;
    let mut first = None;
    for _ in 0..n {
        let h0 = live_bytes();
        let r = relay();
        let h1 = live_bytes();
        let id = s.spawn(r);
        let h2 = live_bytes();
        match prev {
            Some(p) => link_ring_pair(&mut s, p, id),
            None => first = Some(id),
        }
        let h3 = live_bytes();
        boxes += h1 - h0;
        task += h2 - h1;
        links += h3 - h2;
        prev = Some(id);
    }
    let (first, prev) = (first.expect("n > 0"), prev.expect("n > 0"));
    // Spawned last, so its first step comes after every relay's first step.
    let probe = s.spawn(IdleProbe {
        boxes: DefaultBoxes::new(),
        phase: ProbePhase::Measure,
        idle_for: cfg.idle_for,
        report: report.clone(),
    });
    link_ring_pair(&mut s, prev, probe);
    link_ring_pair(&mut s, probe, first);
    let heap_setup = live_bytes();

    let ended = s.run();
    assert_eq!(ended, Ended::Stopped);
    let r = report.borrow();
    let secs = r.idle_wall.as_secs_f64();
    let cpu_per_s = r.cpu_ns as f64 / 1e6 / secs;
    let bytes = r.rss_after.saturating_sub(rss_before) as f64 / n as f64;
    let heap = r.heap_after.saturating_sub(heap_before) as f64 / n as f64;
    let per = |b: usize| b as f64 / n as f64;
    let round = (r.heap_after as f64 - heap_setup as f64) / n as f64;
    let waits = s.stats().waits;
    Json::new("idle")
        .int("n", n as u64)
        .int("component_bytes", std::mem::size_of::<Relay>() as u64)
        .num("bytes_per_component", bytes)
        .num("heap_bytes_per_component", heap)
        .num("boxes_bytes", per(boxes))
        .num("task_bytes", per(task))
        .num("links_bytes", per(links))
        .num("round_bytes", round)
        .text("heap_goal", "heap_bytes_per_component<=256")
        .flag("heap_goal_met", heap <= 256.0)
        .num("idle_s", secs)
        .num("idle_cpu_ms_per_s", cpu_per_s)
        .num("idle_cpu_us_total", r.cpu_ns as f64 / 1e3)
        .int("idle_cpu_ticks", r.cpu_ticks)
        .int("clk_tck", clock_ticks_per_s())
        .int("poll_waits", waits)
        .num("ring_round_trip_ms", r.ring_round_trip.as_secs_f64() * 1e3)
        .text(
            "goal",
            "bytes_per_component<=512 && idle_cpu_ms_per_s<0.5 && poll_waits==1",
        )
        .flag("goal_met", bytes <= 512.0 && cpu_per_s < 0.5 && waits == 1)
        .print();
}

/// Where an idle component's heap goes, counted by the allocator (exact,
/// requested bytes) in stages on a fresh scheduler: its boxes (made with
/// the component, before spawning), its task (spawning: the boxed
/// component, its proc, its entries in the scheduler's tables), its links
/// (ring links as in `bench_idle`), and the run queues' growth in the
/// first round (which puts them all to sleep).
fn bench_idle_parts(n: usize) {
    let mut relays: Vec<Relay> = Vec::with_capacity(n);
    let vec_bytes = n * std::mem::size_of::<Relay>();
    let h0 = live_bytes();
    for _ in 0..n {
        relays.push(Relay {
            boxes: DefaultBoxes::new(),
        });
    }
    let h1 = live_bytes();
    let mut s = Scheduler::new();
    let h_sched = live_bytes();
    let ids: Vec<Id> = relays.drain(..).map(|r| s.spawn(r)).collect();
    drop(relays);
    let id_bytes = n * std::mem::size_of::<Id>();
    let h2 = live_bytes();
    for w in ids.windows(2) {
        link_ring_pair(&mut s, w[0], w[1]);
    }
    link_ring_pair(&mut s, ids[n - 1], ids[0]);
    let h3 = live_bytes();
    let steps = s.run_until_idle();
    assert_eq!(steps, n);
    let h4 = live_bytes();
    let per = |b: isize| b as f64 / n as f64;
    let boxes = per((h1 - h0) as isize);
    // Spawning moved each component out of `relays` (freed) into a box.
    let task = per(h2 as isize - (h_sched - vec_bytes) as isize - id_bytes as isize);
    let links = per(h3 as isize - h2 as isize);
    let queues = per(h4 as isize - h3 as isize);
    Json::new("idle_parts")
        .int("n", n as u64)
        .int("component_bytes", std::mem::size_of::<Relay>() as u64)
        .num("boxes_bytes", boxes)
        .num("task_bytes", task)
        .num("links_bytes", links)
        .num("round_bytes", queues)
        .num("total_bytes", boxes + task + links + queues)
        .print();
}

// ---------------------------------------------------------------------------
// refusals

/// Sends `0..n` as fast as it may into a 4-message inbox, counting the
/// sends refused; notes the allocation count and refusals when 10% and 90%
/// of the messages have gone.
struct RefusedSource {
    outbox: kamaelia::axon::Outbox<u64>,
    next: u64,
    n: u64,
    refusals: u64,
    marks: Rc<RefCell<Vec<(u64, u64)>>>,
}

impl Component for RefusedSource {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while self.next < self.n {
            let mut marks = self.marks.borrow_mut();
            let at = [self.n / 10, self.n * 9 / 10];
            if marks.len() < 2 && self.next == at[marks.len()] {
                marks.push((allocs(), self.refusals));
            }
            drop(marks);
            if self.outbox.send(self.next).is_err() {
                self.refusals += 1;
                return Step::Pause;
            }
            self.next += 1;
        }
        Step::Done
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.outbox);
    }
}

/// Takes one message a step; stops the system after `n`.
struct SlowSink {
    inbox: Inbox<u64>,
    got: u64,
    n: u64,
}

impl Component for SlowSink {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if self.inbox.recv().is_some() {
            self.got += 1;
            if self.got == self.n {
                cx.stop_system();
            }
            return Step::Yield;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox);
    }
}

/// Heap allocations per refused send in steady state: a source that
/// always has more to send, a consumer that takes one message a step from
/// a 4-message inbox, so most sends after the first few are refused and
/// the source is woken by each take.
fn bench_refusals(cfg: &Config) {
    let n = if cfg.quick { 100_000 } else { 1_000_000 };
    // Room for both marks, so taking the first allocates nothing.
    let marks = Rc::new(RefCell::new(Vec::with_capacity(2)));
    let src = RefusedSource {
        outbox: kamaelia::axon::Outbox::outbox(),
        next: 0,
        n,
        refusals: 0,
        marks: marks.clone(),
    };
    let sink = SlowSink {
        inbox: Inbox::bounded("inbox", "data", 4),
        got: 0,
        n,
    };
    link(&src.outbox, &sink.inbox).expect("link");
    let mut s = Scheduler::new();
    s.spawn(src);
    s.spawn(sink);
    assert_eq!(s.run(), Ended::Stopped);
    let m = marks.borrow();
    let (a0, r0) = m[0];
    let (a1, r1) = *m.last().expect("two marks");
    let refusals = r1 - r0;
    let steady = a1 - a0;
    let per = steady as f64 / refusals.max(1) as f64;
    Json::new("refusals")
        .int("n", n)
        .int("steady_refusals", refusals)
        .int("steady_allocs", steady)
        .sci("allocs_per_refusal", per)
        .text("goal", "allocs_per_refusal==0")
        .flag("goal_met", steady == 0 && refusals > 0)
        .print();
}

// ---------------------------------------------------------------------------
// churn

/// One short-lived or idle "connection": registers a socket (as a TCP
/// connection does) in its first step; then, if short-lived, ends; if
/// idle, sleeps until it is told to stop on `control`.
struct Conn {
    boxes: DefaultBoxes<u64, u64>,
    short: bool,
    socket: Option<mio::net::UnixDatagram>,
    registered: Rc<Cell<usize>>,
}

impl Component for Conn {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if self.socket.is_none() {
            let mut sock = mio::net::UnixDatagram::unbound().expect("a socket (fd limit?)");
            cx.register(&mut sock, mio::Interest::READABLE)
                .expect("register a socket");
            self.socket = Some(sock);
            self.registered.set(self.registered.get() + 1);
        }
        if self.short || self.boxes.control.recv().is_some() {
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        self.boxes.list(set);
    }
}

enum ChurnPhase {
    /// Spawning the idle connections, a batch a step.
    Fill,
    /// Waiting for every idle one to have registered its socket.
    Settle,
    /// Timing `cycles` connections made and finished one after another.
    Churn { t0: Instant },
}

/// A long-lived parent, shaped like `ServerCore`: for each connection it
/// adds a run-time outbox linked to the connection's `control`, links the
/// connection's `outbox` to its own `inbox`, spawns it as a child, and on
/// its exit removes the run-time outbox.
struct ChurnParent {
    boxes: DefaultBoxes<u64, u64>,
    extra: AdaptiveBoxes,
    phase: ChurnPhase,
    idle: usize,
    made: usize,
    cycles: usize,
    done: usize,
    to_conn: BTreeMap<Id, String>,
    registered: Rc<Cell<usize>>,
    elapsed: Rc<Cell<Duration>>,
}

impl ChurnParent {
    fn start(&mut self, cx: &mut Cx, short: bool) {
        let conn = Conn {
            boxes: DefaultBoxes::new(),
            short,
            socket: None,
            registered: self.registered.clone(),
        };
        let out = self
            .extra
            .add_outbox::<Signal>("_conn", "shutdown for one connection");
        link(&out, &conn.boxes.control).expect("link to_conn");
        link(&conn.boxes.outbox, &self.boxes.inbox).expect("link conn outbox");
        let id = cx.spawn_child(conn);
        self.to_conn.insert(id, out.name().to_string());
    }
}

impl Component for ChurnParent {
    fn step(&mut self, cx: &mut Cx) -> Step {
        match self.phase {
            ChurnPhase::Fill => {
                let end = (self.made + 256).min(self.idle);
                while self.made < end {
                    self.start(cx, false);
                    self.made += 1;
                }
                if self.made == self.idle {
                    self.phase = ChurnPhase::Settle;
                }
                Step::Yield
            }
            ChurnPhase::Settle => {
                if self.registered.get() < self.idle {
                    return Step::Yield;
                }
                self.phase = ChurnPhase::Churn { t0: Instant::now() };
                self.start(cx, true);
                Step::Pause
            }
            ChurnPhase::Churn { t0 } => {
                while let Some(exit) = cx.next_exit() {
                    let name = self.to_conn.remove(&exit.id).expect("a child of ours");
                    self.extra.remove(&name).expect("its run-time outbox");
                    self.done += 1;
                    if self.done == self.cycles {
                        self.elapsed.set(t0.elapsed());
                        cx.stop_system();
                        return Step::Pause;
                    }
                    self.start(cx, true);
                }
                Step::Pause
            }
        }
    }

    fn boxes(&self, set: &mut BoxSet) {
        self.boxes.list(set);
        set.adaptive(&self.extra);
    }
}

/// Microseconds per connection made and finished with `idle` others alive.
fn run_churn(idle: usize, cycles: usize) -> f64 {
    let elapsed = Rc::new(Cell::new(Duration::ZERO));
    let mut s = Scheduler::new();
    s.spawn(ChurnParent {
        boxes: DefaultBoxes::new(),
        extra: AdaptiveBoxes::new(),
        phase: ChurnPhase::Fill,
        idle,
        made: 0,
        cycles,
        done: 0,
        to_conn: BTreeMap::new(),
        registered: Rc::new(Cell::new(0)),
        elapsed: elapsed.clone(),
    });
    assert_eq!(s.run(), Ended::Stopped);
    assert_eq!(s.stats().finished as usize, cycles);
    elapsed.get().as_secs_f64() * 1e6 / cycles as f64
}

/// Cost of one connection's life (spawn, link through run-time boxes of a
/// long-lived parent, register a socket, finish, remove the boxes) with
/// 0, 1,000, 4,000 and 8,000 idle connections alive; the median of
/// `reps` runs each, and its ratio to the 0 case.
fn bench_churn(cfg: &Config) {
    let cycles = if cfg.quick { 2_000 } else { 20_000 };
    let mut base = 0.0;
    for idle in [0, 1_000, 4_000, 8_000] {
        let mut v: Vec<f64> = (0..cfg.reps).map(|_| run_churn(idle, cycles)).collect();
        let us = median(&mut v);
        if idle == 0 {
            base = us;
        }
        let ratio = us / base;
        let mut line = Json::new("churn")
            .int("idle", idle as u64)
            .int("cycles", cycles as u64)
            .int("reps", cfg.reps as u64)
            .num("us_per_conn", us)
            .num("us_per_conn_min", min(&v))
            .num("ratio_to_0", ratio);
        if idle == 8_000 {
            line = line
                .text("goal", "ratio_to_0<=1.3")
                .flag("goal_met", ratio <= 1.3);
        }
        line.print();
    }
}

// ---------------------------------------------------------------------------
// wake

/// Where the timestamps arrive.
enum Arrivals {
    Inbox(Inbox<Instant>),
    Channel(Receiver<Instant>),
}

/// Records `now - sent` for each timestamp and acks it; stops the system
/// after `m` samples.
struct LatencyProbe {
    arrivals: Arrivals,
    ack: Sender<()>,
    m: usize,
    samples: Rc<RefCell<Vec<u64>>>,
}

impl Component for LatencyProbe {
    fn step(&mut self, cx: &mut Cx) -> Step {
        loop {
            let sent = match &self.arrivals {
                Arrivals::Inbox(i) => i.recv(),
                Arrivals::Channel(c) => c.try_recv().ok(),
            };
            let Some(sent) = sent else { break };
            let mut samples = self.samples.borrow_mut();
            samples.push(sent.elapsed().as_nanos() as u64);
            if samples.len() >= self.m {
                cx.stop_system();
            }
            let _ = self.ack.send(());
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        if let Arrivals::Inbox(i) = &self.arrivals {
            set.add(i);
        }
    }
}

/// The sending thread: `m` times, wait `gap`, send a timestamp, wait for
/// the ack.
fn pinger(m: usize, gap: Duration, acks: Receiver<()>, mut send: impl FnMut(Instant)) {
    for _ in 0..m {
        thread::sleep(gap);
        send(Instant::now());
        if acks.recv().is_err() {
            return;
        }
    }
}

fn wake_via_threaded(cfg: &Config) -> Vec<u64> {
    let (m, gap) = (cfg.wake_samples, cfg.wake_gap);
    let (ack_tx, ack_rx) = crossbeam_channel::unbounded();
    let samples = Rc::new(RefCell::new(Vec::with_capacity(m)));
    let bridge = Threaded::<(), Instant>::new("Pinger", move |t| {
        pinger(m, gap, ack_rx, |at| {
            let _ = t.send(at);
        })
    });
    let probe = LatencyProbe {
        arrivals: Arrivals::Inbox(Inbox::inbox()),
        ack: ack_tx,
        m,
        samples: samples.clone(),
    };
    if let Arrivals::Inbox(i) = &probe.arrivals {
        link(&bridge.outbox, i).expect("link bridge");
    }
    let mut s = Scheduler::new();
    s.spawn(bridge);
    s.spawn(probe);
    assert_eq!(s.run(), Ended::Stopped);
    let v = samples.borrow().clone();
    v
}

fn wake_via_remote(cfg: &Config) -> Vec<u64> {
    let (m, gap) = (cfg.wake_samples, cfg.wake_gap);
    let (ack_tx, ack_rx) = crossbeam_channel::unbounded();
    let (tx, rx) = crossbeam_channel::unbounded();
    let samples = Rc::new(RefCell::new(Vec::with_capacity(m)));
    let mut s = Scheduler::new();
    let id = s.spawn(LatencyProbe {
        arrivals: Arrivals::Channel(rx),
        ack: ack_tx,
        m,
        samples: samples.clone(),
    });
    let remote = s.remote();
    let thread = thread::spawn(move || {
        pinger(m, gap, ack_rx, |at| {
            tx.send(at).expect("probe alive");
            remote.wake(id);
        })
    });
    assert_eq!(s.run(), Ended::Stopped);
    drop(s);
    thread.join().expect("pinger thread");
    let v = samples.borrow().clone();
    v
}

fn print_wake(via: &str, mut samples: Vec<u64>) {
    samples.sort_unstable();
    let at = |q: usize| samples[(samples.len() * q / 100).min(samples.len() - 1)];
    Json::new("wake")
        .text("via", via)
        .int("samples", samples.len() as u64)
        .int("wake_median_ns", at(50))
        .int("wake_p99_ns", at(99))
        .int("wake_min_ns", samples[0])
        .print();
}

// ---------------------------------------------------------------------------

fn main() {
    let cfg = Config::from_env();
    let t0 = Instant::now();
    // First, while the heap is still small, so RSS growth is all its own.
    if common::want("idle") {
        bench_idle(&cfg);
        bench_idle_parts(if cfg.quick { 10_000 } else { 100_000 });
    }
    for k in [1, 10] {
        for per_step in [1, 64] {
            if common::want(&format!("pipeline{k}x{per_step}")) {
                bench_pipeline(&cfg, k, per_step);
            }
        }
    }
    if common::want("allocs") {
        bench_allocs(&cfg);
    }
    if common::want("refusals") {
        bench_refusals(&cfg);
    }
    if common::want("churn") {
        bench_churn(&cfg);
    }
    if common::want("wake") {
        print_wake("threaded", wake_via_threaded(&cfg));
        print_wake("remote", wake_via_remote(&cfg));
    }
    eprintln!(
        "core bench ({}) took {:.1} s",
        if cfg.quick { "quick" } else { "full" },
        t0.elapsed().as_secs_f64()
    );
}
