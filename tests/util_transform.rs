//! PureTransformer, Detuple, PassThrough and TwoSourceListifier.

use std::io;

use kamaelia::axon::{link_refs, Id, Inbox, Scheduler, Signal, StepResult};
use kamaelia::pipeline;
use kamaelia::testing::{Collector, Feeder, Harness};
use kamaelia::util::{DataSource, Detuple, PassThrough, PureTransformer, TwoSourceListifier};

// ---------------------------------------------------------------- PureTransformer

#[test]
fn transformer_maps_and_filters_in_order() {
    let mut h = Harness::new();
    let id = h.spawn(PureTransformer::new(|x: u32| {
        (x % 3 != 0).then(|| format!("<{x}>"))
    }));
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let out = h.collector::<String>(id, "outbox").unwrap();
    for i in 0..7 {
        input.send(i).unwrap();
    }
    h.run_until_idle();
    assert_eq!(out.drain(), ["<1>", "<2>", "<4>", "<5>"]);
    assert!(h.is_sleeping(id));
}

#[test]
fn transformer_closure_may_keep_state() {
    let mut h = Harness::new();
    let mut total = 0;
    let id = h.spawn(PureTransformer::new(move |x: u32| {
        total += x;
        Some(total)
    }));
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let out = h.collector::<u32>(id, "outbox").unwrap();
    for i in 1..=4 {
        input.send(i).unwrap();
    }
    h.run_until_idle();
    assert_eq!(out.drain(), [1, 3, 6, 10]);
}

#[test]
fn transformer_back_pressure_keeps_everything_in_order() {
    let mut h = Harness::new();
    let id = h.spawn(PureTransformer::new(|x: u32| Some(x * 2)));
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.bounded_collector::<u32>(id, "outbox", 3).unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    for i in 0..50 {
        input.send(i).unwrap();
    }
    ctl.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert_eq!(out.len(), 3);
    assert!(h.is_sleeping(id), "sleeps while its consumer is full");
    let steps = h.scheduler().stats().steps;
    h.run_until_idle();
    assert_eq!(h.scheduler().stats().steps, steps, "no busy waiting");
    assert!(sig.is_empty(), "not finished while input waits");

    let mut got = Vec::new();
    loop {
        let batch = out.drain();
        if batch.is_empty() {
            break;
        }
        got.extend(batch);
        h.run_until_idle();
    }
    assert_eq!(got, (0..50).map(|x| x * 2).collect::<Vec<_>>());
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
    assert!(!h.is_alive(id));
}

#[test]
fn transformer_finish_drains_input_first_and_forwards_the_signal_it_got() {
    let mut h = Harness::new();
    let id = h.spawn(PureTransformer::new(|x: u8| Some(x + 1)));
    let input = h.feeder::<u8>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<u8>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input.send(1).unwrap();
    input.send(2).unwrap();
    let failure = Signal::failed(io::Error::other("upstream broke"));
    ctl.send(failure.clone()).unwrap();
    assert_eq!(h.step(), Some((id, StepResult::Done)));
    assert_eq!(out.drain(), [2, 3]);
    assert_eq!(sig.drain(), [failure]);
}

#[test]
fn transformer_shutdown_stops_at_once() {
    let mut h = Harness::new();
    let id = h.spawn(PureTransformer::new(|x: u8| Some(x)));
    let input = h.feeder::<u8>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<u8>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input.send(1).unwrap();
    ctl.send(Signal::Shutdown).unwrap();
    assert_eq!(h.step(), Some((id, StepResult::Done)));
    assert!(out.is_empty());
    assert_eq!(sig.drain(), [Signal::Shutdown]);
    assert_eq!(h.scheduler().stats().undelivered, 1);
}

#[test]
fn transformer_long_input_is_split_across_steps() {
    let mut h = Harness::new();
    let id = h.spawn(PureTransformer::new(|x: u32| Some(x)));
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let out = h.collector::<u32>(id, "outbox").unwrap();
    for i in 0..1000 {
        input.send(i).unwrap();
    }
    assert_eq!(h.step(), Some((id, StepResult::Yield)));
    assert!(out.len() < 1000, "one step does a bounded amount of work");
    h.run_until_idle();
    assert_eq!(out.drain(), (0..1000).collect::<Vec<_>>());
}

#[test]
fn transformer_in_a_pipeline() {
    let p = pipeline![
        DataSource::new(vec!["a", "bb", "ccc"]),
        PureTransformer::new(|s: &str| Some(s.len())),
    ]
    .unwrap();
    let out: Inbox<usize> = Inbox::inbox();
    let sig: Inbox<Signal> = Inbox::control();
    link_refs(&p.outbox().unwrap(), &out.erased()).unwrap();
    link_refs(&p.find("signal").unwrap(), &sig.erased()).unwrap();
    let mut s = Scheduler::new();
    s.spawn(p);
    s.run();
    assert_eq!(
        std::iter::from_fn(|| out.recv()).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(sig.recv(), Some(Signal::ProducerFinished));
}

// ---------------------------------------------------------------- Detuple

#[test]
fn detuple_first_second_and_closure() {
    let mut h = Harness::new();
    let first = h.spawn(Detuple::<(u8, &str), u8, _>::first());
    let second = h.spawn(Detuple::<(u8, &str), &str, _>::second());
    let third = h.spawn(Detuple::new(|t: (u8, u8, u8)| t.2));
    let f_in = h.feeder::<(u8, &str)>(first, "inbox").unwrap();
    let s_in = h.feeder::<(u8, &str)>(second, "inbox").unwrap();
    let t_in = h.feeder::<(u8, u8, u8)>(third, "inbox").unwrap();
    let f_out = h.collector::<u8>(first, "outbox").unwrap();
    let s_out = h.collector::<&str>(second, "outbox").unwrap();
    let t_out = h.collector::<u8>(third, "outbox").unwrap();
    for (n, w) in [(1, "one"), (2, "two")] {
        f_in.send((n, w)).unwrap();
        s_in.send((n, w)).unwrap();
    }
    t_in.send((1, 2, 3)).unwrap();
    h.run_until_idle();
    assert_eq!(f_out.drain(), [1, 2]);
    assert_eq!(s_out.drain(), ["one", "two"]);
    assert_eq!(t_out.drain(), [3]);
}

#[test]
fn detuple_forwards_control_after_emptying_its_input() {
    let mut h = Harness::new();
    let id = h.spawn(Detuple::<(u8, u8), u8, _>::second());
    let input = h.feeder::<(u8, u8)>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.bounded_collector::<u8>(id, "outbox", 1).unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input.send((0, 10)).unwrap();
    input.send((0, 20)).unwrap();
    ctl.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), [10]);
    assert!(sig.is_empty());
    h.run_until_idle();
    assert_eq!(out.drain(), [20]);
    h.run_until_idle();
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
    assert!(!h.is_alive(id));
}

#[test]
fn detuple_shutdown_stops_at_once() {
    let mut h = Harness::new();
    let id = h.spawn(Detuple::<(u8, u8), u8, _>::first());
    let input = h.feeder::<(u8, u8)>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<u8>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input.send((1, 2)).unwrap();
    ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    assert!(out.is_empty());
    assert_eq!(sig.drain(), [Signal::Shutdown]);
}

// ---------------------------------------------------------------- PassThrough

#[test]
fn pass_through_passes_data_and_signal() {
    let mut h = Harness::new();
    let id = h.spawn(PassThrough::<String>::new());
    let input = h.feeder::<String>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<String>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input.send("a".into()).unwrap();
    input.send("b".into()).unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), ["a", "b"]);
    input.send("c".into()).unwrap();
    ctl.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), ["c"]);
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
    assert!(!h.is_alive(id));
}

#[test]
fn pass_through_back_pressure() {
    let mut h = Harness::new();
    let id = h.spawn(PassThrough::<u32>::new());
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let out = h.bounded_collector::<u32>(id, "outbox", 1).unwrap();
    for i in 0..5 {
        input.send(i).unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..5 {
        h.run_until_idle();
        assert!(h.is_sleeping(id));
        got.extend(out.recv());
    }
    assert_eq!(got, [0, 1, 2, 3, 4]);
}

#[test]
fn pass_through_shutdown() {
    let mut h = Harness::new();
    let id = h.spawn(PassThrough::<u32>::new());
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    ctl.send(Signal::Shutdown).unwrap();
    assert_eq!(h.step(), Some((id, StepResult::Done)));
    assert_eq!(sig.drain(), [Signal::Shutdown]);
}

// ---------------------------------------------------------------- TwoSourceListifier

/// A `TwoSourceListifier<u32, u32>` with feeders on `a`, `b` and `control`.
struct Listifier {
    h: Harness,
    id: Id,
    a: Feeder<u32>,
    b: Feeder<u32>,
    ctl: Feeder<Signal>,
    out: Collector<(u32, u32)>,
    sig: Collector<Signal>,
}

fn listifier() -> Listifier {
    let mut h = Harness::new();
    let id = h.spawn(TwoSourceListifier::<u32, u32>::new());
    Listifier {
        a: h.feeder(id, "a").unwrap(),
        b: h.feeder(id, "b").unwrap(),
        ctl: h.feeder(id, "control").unwrap(),
        out: h.collector(id, "outbox").unwrap(),
        sig: h.collector(id, "signal").unwrap(),
        h,
        id,
    }
}

#[test]
fn listifier_pairs_in_fifo_order_once_both_sides_have_data() {
    let mut h = Harness::new();
    let id = h.spawn(TwoSourceListifier::<u32, char>::new());
    let a = h.feeder::<u32>(id, "a").unwrap();
    let b = h.feeder::<char>(id, "b").unwrap();
    let out = h.collector::<(u32, char)>(id, "outbox").unwrap();
    for i in 0..3 {
        a.send(i).unwrap();
    }
    h.run_until_idle();
    assert!(out.is_empty());
    assert!(h.is_sleeping(id), "waiting input is not spun on");
    let steps = h.scheduler().stats().steps;
    h.run_until_idle();
    assert_eq!(h.scheduler().stats().steps, steps);

    b.send('x').unwrap();
    b.send('y').unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), [(0, 'x'), (1, 'y')]);
    assert!(h.is_sleeping(id));
    b.send('z').unwrap();
    b.send('w').unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), [(2, 'z')]);
    a.send(3).unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), [(3, 'w')]);
}

#[test]
fn listifier_bounded_side_pushes_back_on_its_producer() {
    let mut h = Harness::new();
    let l = TwoSourceListifier::<u32, u32>::new();
    l.a.set_limit(Some(2));
    let id = h.spawn(l);
    let a = h.feeder::<u32>(id, "a").unwrap();
    a.send(1).unwrap();
    a.send(2).unwrap();
    h.run_until_idle();
    assert!(h.is_sleeping(id), "waits for partners without spinning");
    assert!(
        a.send(3).is_err(),
        "unpaired input stays in the bounded inbox"
    );
}

#[test]
fn listifier_back_pressure_on_output() {
    let mut h = Harness::new();
    let id = h.spawn(TwoSourceListifier::<u32, u32>::new());
    let a = h.feeder::<u32>(id, "a").unwrap();
    let b = h.feeder::<u32>(id, "b").unwrap();
    let out = h.bounded_collector::<(u32, u32)>(id, "outbox", 2).unwrap();
    for i in 0..10 {
        a.send(i).unwrap();
        b.send(i * 10).unwrap();
    }
    h.run_until_idle();
    assert_eq!(out.len(), 2);
    assert!(h.is_sleeping(id));
    let mut got = Vec::new();
    while let Some(p) = out.recv() {
        got.push(p);
        h.run_until_idle();
    }
    assert_eq!(got, (0..10).map(|i| (i, i * 10)).collect::<Vec<_>>());
}

#[test]
fn listifier_finish_sends_possible_pairs_then_ends() {
    let mut r = listifier();
    r.a.send(1).unwrap();
    r.a.send(2).unwrap();
    r.b.send(10).unwrap();
    r.ctl.send(Signal::ProducerFinished).unwrap();
    assert_eq!(r.h.step(), Some((r.id, StepResult::Done)));
    assert_eq!(r.out.drain(), [(1, 10)]);
    assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
    assert_eq!(
        r.h.scheduler().stats().undelivered,
        1,
        "the unpaired one is counted"
    );
}

#[test]
fn listifier_shutdown_stops_at_once() {
    let mut r = listifier();
    r.a.send(1).unwrap();
    r.b.send(2).unwrap();
    r.ctl.send(Signal::Shutdown).unwrap();
    r.h.run_until_idle();
    assert!(r.out.is_empty());
    assert_eq!(r.sig.drain(), [Signal::Shutdown]);
    assert!(!r.h.is_alive(r.id));
}
