//! Benchmarks of the composition layer (`kamaelia::chassis`) and the
//! backplane. Run with `cargo bench --bench chassis`; `BENCH_QUICK=1` makes
//! a run that takes a few seconds (smaller sizes, fewer repetitions).
//!
//! Every measurement is printed as one JSON line on stdout; times are
//! medians over the repetitions (fields ending in `_min`: the best
//! repetition), on a real `Scheduler::new()`.
//!
//! * `graphline_build`: a `Graphline` of `n` `util::PassThrough<u64>`
//!   children `C0..`, built with `GraphlineBuilder`: `C(i).outbox ->
//!   C(i+1).inbox`, the graphline's own `inbox` passed to `C0.inbox` and
//!   the last child's `outbox` out as the graphline's `outbox`. Two
//!   teardown variants (`teardown`):
//!   - `shutdown_copied`: only the data is chained; `Shutdown` sent to the
//!     graphline's `control` is copied by the graphline to every child's
//!     `control`, and all children end in the same round;
//!   - `finished_chained`: `C(i).signal -> C(i+1).control` is chained too
//!     and the last child's `signal` comes out as the graphline's `signal`;
//!     `ProducerFinished` goes to `C0` only and ripples down the chain, one
//!     child per round.
//!
//!   `build_us`: making the children and `build()` (the link table checked
//!   and linked). `start_us`: `spawn` plus `run_until_idle` until the
//!   graphline and all its children have taken their first step (asserted:
//!   `1 + n` steps, `1 + n` alive). Then, untimed, one message is sent into
//!   the graphline's `inbox` and checked to come out of its `outbox`.
//!   `teardown_us`: sending the signal to the graphline's `control` and
//!   `run()` until it returns `Completed` (asserted, with the graphline's
//!   own `signal` checked). `total_us` is the median of the per-repetition
//!   sums (so it need not equal the sum of the medians). `teardown_rounds`
//!   is the scheduler rounds the teardown took; `undelivered` is the
//!   scheduler's count of messages left in boxes of finished components
//!   (`Stats::undelivered`; in `shutdown_copied` each child's unlinked
//!   `signal` outbox keeps the `Shutdown` it passed on).
//! * `backplane`: a `Backplane<u64>` with `subscribers` `SubscribeTo`s, each
//!   linked to a tiny sink that counts and checks the order of what it
//!   gets; all join before timing starts (`run_until_idle`). Then a source
//!   sends `0..m` into one `PublishTo`, `per_step` messages per step (then
//!   `Yield`), for `per_step` = 1 and 64. Timed from `run()` until the last
//!   sink has seen message `m - 1` (the sink notes the time, then stops the
//!   system, so dropping the components is not timed). Every sink must get
//!   every message in order (panics otherwise). `ns_per_delivery` =
//!   elapsed / (`m` * `subscribers`); `steps_per_delivery` counts component
//!   steps in the timed run. `join_us` (setup, not in `ns_per_delivery`)
//!   is the `run_until_idle` in which every component takes its first step
//!   and the backplane takes in all the subscriptions.
//! * `pipeline_transformers`: the core bench's `pipeline` row for `k` = 10,
//!   `per_step` = 1 (same `n` = hops / 11, same source and order-checking
//!   sink, whole `run()` timed), but the 10 stages are a
//!   `chassis::Pipeline` of `util::PureTransformer::new(|x: u64| Some(x))`,
//!   linked to the source and sink through the pipeline's own `inbox` and
//!   `outbox`. The core bench's plain pass-through pipeline (its `Pass`
//!   component, shared through `benches/common`) runs the same
//!   workload, interleaved with it, for `core_ns_per_hop`;
//!   `ratio_to_core_pipeline` = `ns_per_hop` / `core_ns_per_hop` (goal:
//!   <= 1.5). A hop is one message crossing one link (11 per message);
//!   `steps_per_msg` counts component steps per message.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use kamaelia::axon::{
    link, link_refs, BoxSet, Component, Cx, Ended, Inbox, Outbox, Scheduler, Signal, Step,
};
use kamaelia::chassis::{Graphline, Pipeline};
use kamaelia::util::{Backplane, PassThrough, PublishTo, PureTransformer, SubscribeTo};

mod common;
use common::{median, min, pass_chain, Json, Source};

// ---------------------------------------------------------------------------
// Configuration and output

struct Config {
    quick: bool,
    /// Children of the graphline.
    graphline_n: usize,
    graphline_reps: usize,
    subscribers: usize,
    /// Messages published per backplane run.
    backplane_m: u64,
    backplane_reps: usize,
    /// Hops per pipeline run (n = hops / 11), as in the core bench.
    pipeline_hops: u64,
    pipeline_reps: usize,
}

impl Config {
    fn from_env() -> Self {
        let quick = common::quick();
        if quick {
            Config {
                quick,
                graphline_n: 1_000,
                graphline_reps: 9,
                subscribers: 1_000,
                backplane_m: 300,
                backplane_reps: 5,
                pipeline_hops: 1_000_000,
                pipeline_reps: 5,
            }
        } else {
            Config {
                quick,
                graphline_n: 1_000,
                graphline_reps: 31,
                subscribers: 1_000,
                backplane_m: 3_000,
                backplane_reps: 9,
                pipeline_hops: 10_000_000,
                pipeline_reps: 15,
            }
        }
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

// ---------------------------------------------------------------------------
// The order-checking sink (the source and the pass-through stage are the
// core bench's, in `common`)

/// Checks that `0..n` arrives in order; stops the system after the last.
struct OrderSink {
    inbox: Inbox<u64>,
    expected: u64,
    n: u64,
    received: Rc<Cell<u64>>,
}

impl OrderSink {
    fn new(n: u64, received: Rc<Cell<u64>>) -> Self {
        OrderSink {
            inbox: Inbox::inbox(),
            expected: 0,
            n,
            received,
        }
    }
}

impl Component for OrderSink {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(v) = self.inbox.recv() {
            assert_eq!(v, self.expected, "pipeline delivered out of order");
            self.expected += 1;
            if self.expected == self.n {
                self.received.set(self.n);
                cx.stop_system();
            }
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox);
    }
}

// ---------------------------------------------------------------------------
// graphline_build

#[derive(Clone, Copy, PartialEq)]
enum Teardown {
    /// Data chained; the graphline copies `Shutdown` to every child.
    ShutdownCopied,
    /// Data and signals chained; `ProducerFinished` ripples from `C0`.
    FinishedChained,
}

impl Teardown {
    fn label(self) -> &'static str {
        match self {
            Teardown::ShutdownCopied => "shutdown_copied",
            Teardown::FinishedChained => "finished_chained",
        }
    }

    fn signal(self) -> Signal {
        match self {
            Teardown::ShutdownCopied => Signal::Shutdown,
            Teardown::FinishedChained => Signal::ProducerFinished,
        }
    }
}

struct GraphlineRun {
    build: Duration,
    start: Duration,
    teardown: Duration,
    rounds_to_teardown: u64,
    undelivered: u64,
}

fn child_name(i: usize) -> String {
    format!("C{i}")
}

/// Builds, starts and tears down one graphline of `n` pass-throughs.
fn run_graphline(n: usize, how: Teardown) -> GraphlineRun {
    let names: Vec<String> = (0..n).map(child_name).collect();

    let t0 = Instant::now();
    let mut b = Graphline::builder();
    for name in &names {
        b = b.child(name, PassThrough::<u64>::new());
    }
    b = b
        .link(("self", "inbox"), (&names[0], "inbox"))
        .link((&names[n - 1], "outbox"), ("self", "outbox"));
    for w in names.windows(2) {
        b = b.link((&w[0], "outbox"), (&w[1], "inbox"));
        if how == Teardown::FinishedChained {
            b = b.link((&w[0], "signal"), (&w[1], "control"));
        }
    }
    if how == Teardown::FinishedChained {
        b = b.link((&names[n - 1], "signal"), ("self", "signal"));
    }
    let g = b.build().expect("graphline builds");
    let build = t0.elapsed();

    // Untimed: the outside world's ends of the graphline's boxes.
    let feed: Outbox<u64> = Outbox::outbox();
    let out: Inbox<u64> = Inbox::inbox();
    let ctl: Outbox<Signal> = Outbox::signal();
    let sig: Inbox<Signal> = Inbox::control();
    link_refs(&feed.erased(), &g.find("inbox").expect("graphline inbox")).expect("link inbox");
    link_refs(&g.find("outbox").expect("graphline outbox"), &out.erased()).expect("link outbox");
    link_refs(&ctl.erased(), &g.find("control").expect("control")).expect("link control");
    link_refs(&g.find("signal").expect("signal"), &sig.erased()).expect("link signal");

    let mut s = Scheduler::new();
    let t1 = Instant::now();
    s.spawn(g);
    s.run_until_idle();
    let start = t1.elapsed();
    assert_eq!(s.stats().steps, 1 + n as u64, "not every child started");
    assert_eq!(s.live(), 1 + n, "not every child is alive");

    // Untimed: the wiring carries a message end to end.
    feed.send(42).expect("unbounded");
    s.run_until_idle();
    assert_eq!(out.recv(), Some(42), "message did not cross the graphline");

    let rounds_before = s.stats().rounds;
    let t2 = Instant::now();
    ctl.send(how.signal()).expect("unbounded");
    let ended = s.run();
    let teardown = t2.elapsed();
    assert_eq!(ended, Ended::Completed);
    assert_eq!(s.live(), 0);
    assert_eq!(sig.recv(), Some(how.signal()), "graphline's own signal");
    GraphlineRun {
        build,
        start,
        teardown,
        rounds_to_teardown: s.stats().rounds - rounds_before,
        undelivered: s.stats().undelivered,
    }
}

fn bench_graphline(cfg: &Config, how: Teardown) {
    let n = cfg.graphline_n;
    let (mut build, mut start, mut teardown, mut total) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut rounds, mut undelivered) = (0, 0);
    for _ in 0..cfg.graphline_reps {
        let r = run_graphline(n, how);
        build.push(us(r.build));
        start.push(us(r.start));
        teardown.push(us(r.teardown));
        total.push(us(r.build + r.start + r.teardown));
        rounds = r.rounds_to_teardown;
        undelivered = r.undelivered;
    }
    let min_total = min(&total);
    Json::new("graphline_build")
        .int("children", n as u64)
        .text("child", "PassThrough<u64>")
        .text("teardown", how.label())
        .int("reps", cfg.graphline_reps as u64)
        .num("build_us", median(&mut build))
        .num("start_us", median(&mut start))
        .num("teardown_us", median(&mut teardown))
        .num("total_us", median(&mut total))
        .num("total_us_min", min_total)
        .int("teardown_rounds", rounds)
        .int("undelivered", undelivered)
        .print();
}

// ---------------------------------------------------------------------------
// backplane

/// What the backplane's sinks share: how many have seen every message, and
/// when the last one did.
struct BpShared {
    done: Cell<usize>,
    end: Cell<Option<Instant>>,
}

/// Counts what one subscriber gets and checks its order.
struct BpSink {
    inbox: Inbox<u64>,
    expected: u64,
    m: u64,
    subscribers: usize,
    shared: Rc<BpShared>,
}

impl Component for BpSink {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(v) = self.inbox.recv() {
            assert_eq!(v, self.expected, "subscriber got a message out of order");
            self.expected += 1;
            if self.expected == self.m {
                let done = self.shared.done.get() + 1;
                self.shared.done.set(done);
                if done == self.subscribers {
                    self.shared.end.set(Some(Instant::now()));
                    cx.stop_system();
                }
            }
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox);
    }
}

struct BackplaneRun {
    join: Duration,
    elapsed: Duration,
    steps: u64,
}

fn run_backplane(subscribers: usize, m: u64, per_step: u64) -> BackplaneRun {
    const NAME: &str = "bench";
    let shared = Rc::new(BpShared {
        done: Cell::new(0),
        end: Cell::new(None),
    });
    let mut s = Scheduler::new();
    s.reserve(2 * subscribers + 3);
    s.spawn(Backplane::<u64>::new(NAME));
    for _ in 0..subscribers {
        let sub = SubscribeTo::<u64>::new(NAME);
        let sink = BpSink {
            inbox: Inbox::inbox(),
            expected: 0,
            m,
            subscribers,
            shared: shared.clone(),
        };
        link(&sub.outbox, &sink.inbox).expect("link subscriber");
        s.spawn(sub);
        s.spawn(sink);
    }
    let publisher = PublishTo::<u64>::new(NAME);
    let source = Source::new(m, per_step);
    link(&source.outbox, &publisher.inbox).expect("link publisher");
    s.spawn(publisher);
    // Everyone finds the backplane and joins.
    let tj = Instant::now();
    s.run_until_idle();
    let join = tj.elapsed();
    assert_eq!(s.live(), 2 + 2 * subscribers, "someone did not join");

    s.spawn(source);
    let steps_before = s.stats().steps;
    let t0 = Instant::now();
    let ended = s.run();
    let end = shared.end.get();
    assert_eq!(ended, Ended::Stopped, "not every subscriber got everything");
    assert_eq!(shared.done.get(), subscribers);
    let elapsed = end.expect("end time noted") - t0;
    BackplaneRun {
        join,
        elapsed,
        steps: s.stats().steps - steps_before,
    }
}

fn bench_backplane(cfg: &Config, per_step: u64) {
    let (subs, m) = (cfg.subscribers, cfg.backplane_m);
    let deliveries = m * subs as u64;
    let (mut ns, mut join) = (Vec::new(), Vec::new());
    let mut steps = 0;
    for _ in 0..cfg.backplane_reps {
        let r = run_backplane(subs, m, per_step);
        ns.push(r.elapsed.as_nanos() as f64 / deliveries as f64);
        join.push(us(r.join));
        steps = r.steps;
    }
    let best = min(&ns);
    Json::new("backplane")
        .int("subscribers", subs as u64)
        .int("m", m)
        .int("per_step", per_step)
        .int("reps", cfg.backplane_reps as u64)
        .num("ns_per_delivery", median(&mut ns))
        .num("ns_per_delivery_min", best)
        .num("steps_per_delivery", steps as f64 / deliveries as f64)
        .flag("all_in_order", true)
        .num("join_us", median(&mut join))
        .print();
}

// ---------------------------------------------------------------------------
// pipeline_transformers

struct PipelineRun {
    elapsed: Duration,
    steps: u64,
}

/// source -> `stages` -> sink, where the stages are `k` `Pass`es (`core`)
/// or a `Pipeline` of `k` `PureTransformer`s; times the whole `run()`.
fn run_pipeline(k: usize, per_step: u64, n: u64, core: bool) -> PipelineRun {
    let received = Rc::new(Cell::new(0));
    let source = Source::new(n, per_step);
    let sink = OrderSink::new(n, received.clone());
    let mut s = Scheduler::new();
    if core {
        let passes = pass_chain(&source.outbox, k, &sink.inbox);
        s.spawn(source);
        for p in passes {
            s.spawn(p);
        }
    } else {
        let stages: Vec<Box<dyn Component>> = (0..k)
            .map(|_| Box::new(PureTransformer::new(|x: u64| Some(x))) as Box<dyn Component>)
            .collect();
        let p = Pipeline::new(stages).expect("pipeline builds");
        link_refs(&source.outbox.erased(), &p.inbox().expect("inbox")).expect("link in");
        link_refs(&p.outbox().expect("outbox"), &sink.inbox.erased()).expect("link out");
        s.spawn(source);
        s.spawn(p);
    }
    s.spawn(sink);
    let t0 = Instant::now();
    let ended = s.run();
    let elapsed = t0.elapsed();
    assert_eq!(ended, Ended::Stopped);
    assert_eq!(received.get(), n, "sink did not get every message");
    PipelineRun {
        elapsed,
        steps: s.stats().steps,
    }
}

fn bench_pipeline_transformers(cfg: &Config) {
    let (k, per_step) = (10, 1);
    let hops_per_msg = k as u64 + 1;
    let n = cfg.pipeline_hops / hops_per_msg;
    let per_hop = |d: Duration| d.as_nanos() as f64 / (n * hops_per_msg) as f64;
    let (mut ours, mut core) = (Vec::new(), Vec::new());
    let (mut steps, mut core_steps) = (0, 0);
    for _ in 0..cfg.pipeline_reps {
        let r = run_pipeline(k, per_step, n, false);
        ours.push(per_hop(r.elapsed));
        steps = r.steps;
        let c = run_pipeline(k, per_step, n, true);
        core.push(per_hop(c.elapsed));
        core_steps = c.steps;
    }
    let best = min(&ours);
    let ns = median(&mut ours);
    let core_ns = median(&mut core);
    let ratio = ns / core_ns;
    Json::new("pipeline_transformers")
        .int("k", k as u64)
        .int("per_step", per_step)
        .int("n", n)
        .int("reps", cfg.pipeline_reps as u64)
        .num("ns_per_hop", ns)
        .num("ns_per_hop_min", best)
        .num("msgs_per_s", 1e9 / (ns * hops_per_msg as f64))
        .num("steps_per_msg", steps as f64 / n as f64)
        .num("core_ns_per_hop", core_ns)
        .num("core_steps_per_msg", core_steps as f64 / n as f64)
        .num("ratio_to_core_pipeline", ratio)
        .text("goal", "ratio_to_core_pipeline<=1.5")
        .flag("goal_met", ratio <= 1.5)
        .print();
}

// ---------------------------------------------------------------------------

fn main() {
    let cfg = Config::from_env();
    let t0 = Instant::now();
    for how in [Teardown::ShutdownCopied, Teardown::FinishedChained] {
        bench_graphline(&cfg, how);
    }
    for per_step in [1, 64] {
        bench_backplane(&cfg, per_step);
    }
    bench_pipeline_transformers(&cfg);
    eprintln!(
        "chassis bench ({}) took {:.1} s",
        if cfg.quick { "quick" } else { "full" },
        t0.elapsed().as_secs_f64()
    );
}
