//! TestResult and Comparator.

use kamaelia::axon::{link, Ended, Id, Outbox, Scheduler, Signal, StepResult};
use kamaelia::graphline;
use kamaelia::testing::{Collector, Feeder, Harness};
use kamaelia::util::{Comparator, DataSource, StopSystem, TestResult};

#[test]
fn true_verdicts_pass() {
    let mut h = Harness::new();
    let tr = TestResult::new();
    let results = tr.results();
    let id = h.spawn(tr);
    let input = h.feeder::<bool>(id, "inbox").unwrap();
    for _ in 0..4 {
        input.send(true).unwrap();
    }
    h.run_until_idle();
    assert_eq!(results.checked(), 4);
    assert!(results.passed());
    results.assert_passed();
    assert!(h.is_sleeping(id));
}

#[test]
fn a_false_verdict_is_recorded_by_position() {
    let mut h = Harness::new();
    let tr = TestResult::new();
    let results = tr.results();
    let id = h.spawn(tr);
    let input = h.feeder::<bool>(id, "inbox").unwrap();
    for v in [true, false, true, false] {
        input.send(v).unwrap();
    }
    h.run_until_idle();
    assert_eq!(results.checked(), 4);
    assert_eq!(results.failures(), [1, 3]);
    assert!(!results.passed());
    assert!(
        h.is_alive(id),
        "recording a failure does not stop it by default"
    );
}

#[test]
#[should_panic(expected = "1 of 2 verdicts false")]
fn assert_passed_reports_failures() {
    let mut h = Harness::new();
    let tr = TestResult::new();
    let results = tr.results();
    let id = h.spawn(tr);
    let input = h.feeder::<bool>(id, "inbox").unwrap();
    input.send(false).unwrap();
    input.send(true).unwrap();
    h.run_until_idle();
    results.assert_passed();
}

#[test]
#[should_panic(expected = "no verdicts")]
fn assert_passed_needs_verdicts() {
    TestResult::new().results().assert_passed();
}

#[test]
fn stop_system_message_stops_everything() {
    let mut s = Scheduler::with_virtual_time();
    let tr = TestResult::new();
    let results = tr.results();
    let stop = Outbox::new("stop", "test");
    link(&stop, &tr.stop).unwrap();
    s.spawn(tr);
    // Something that would run forever.
    s.spawn(kamaelia::util::PeriodicTick::new(
        std::time::Duration::from_secs(1),
        (),
    ));
    stop.send(StopSystem).unwrap();
    assert_eq!(s.run(), Ended::Stopped);
    assert!(results.stopped_system());
}

#[test]
fn stop_on_failure_stops_at_the_first_false() {
    let mut s = Scheduler::new();
    let src = DataSource::new(vec![true, true, false, true]);
    let tr = TestResult::new().stop_on_failure(true);
    let results = tr.results();
    link(&src.outbox, &tr.inbox).unwrap();
    s.spawn(src);
    s.spawn(tr);
    assert_eq!(s.run(), Ended::Stopped);
    assert_eq!(results.failures(), [2]);
    assert_eq!(results.checked(), 3);
    assert!(results.stopped_system());
}

#[test]
fn control_ends_it_and_is_forwarded() {
    let mut h = Harness::new();
    let tr = TestResult::new();
    let results = tr.results();
    let id = h.spawn(tr);
    let input = h.feeder::<bool>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input.send(true).unwrap();
    ctl.send(Signal::ProducerFinished).unwrap();
    assert_eq!(h.step(), Some((id, StepResult::Done)));
    assert_eq!(
        results.checked(),
        1,
        "verdicts already waiting are recorded"
    );
    assert_eq!(results.ended(), Some(Signal::ProducerFinished));
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
    assert!(!results.stopped_system());
}

#[test]
fn stop_system_on_finish() {
    let mut s = Scheduler::with_virtual_time();
    let src = DataSource::new(vec![true]);
    let tr = TestResult::new().stop_system_on_finish(true);
    let results = tr.results();
    link(&src.outbox, &tr.inbox).unwrap();
    link(&src.signal, &tr.control).unwrap();
    s.spawn(src);
    s.spawn(tr);
    s.spawn(kamaelia::util::PeriodicTick::new(
        std::time::Duration::from_secs(1),
        (),
    ));
    assert_eq!(s.run(), Ended::Stopped);
    results.assert_passed();
}

// ---------------------------------------------------------------- Comparator

#[test]
fn comparator_says_whether_pairs_are_equal() {
    let mut h = Harness::new();
    let id = h.spawn(Comparator::<&str>::new());
    let a = h.feeder::<&str>(id, "inA").unwrap();
    let b = h.feeder::<&str>(id, "inB").unwrap();
    let out = h.collector::<bool>(id, "outbox").unwrap();
    for v in ["x", "y", "z"] {
        a.send(v).unwrap();
    }
    h.run_until_idle();
    assert!(out.is_empty());
    assert!(h.is_sleeping(id), "waits for partners without spinning");
    for v in ["x", "Y"] {
        b.send(v).unwrap();
    }
    h.run_until_idle();
    assert_eq!(out.drain(), [true, false]);
    b.send("z").unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), [true]);
}

#[test]
fn comparator_back_pressure() {
    let mut h = Harness::new();
    let id = h.spawn(Comparator::<u32>::new());
    let a = h.feeder::<u32>(id, "inA").unwrap();
    let b = h.feeder::<u32>(id, "inB").unwrap();
    let out = h.bounded_collector::<bool>(id, "outbox", 1).unwrap();
    for i in 0..6 {
        a.send(i).unwrap();
        b.send(if i % 2 == 0 { i } else { 99 }).unwrap();
    }
    h.run_until_idle();
    assert!(h.is_sleeping(id));
    let mut got = Vec::new();
    while let Some(v) = out.recv() {
        got.push(v);
        h.run_until_idle();
    }
    assert_eq!(got, [true, false, true, false, true, false]);
}

/// A `Comparator<u8>` with feeders on `inA`, `inB` and `control`.
struct Cmp {
    h: Harness,
    id: Id,
    a: Feeder<u8>,
    b: Feeder<u8>,
    ctl: Feeder<Signal>,
    out: Collector<bool>,
    sig: Collector<Signal>,
}

fn comparator() -> Cmp {
    let mut h = Harness::new();
    let id = h.spawn(Comparator::<u8>::new());
    Cmp {
        a: h.feeder(id, "inA").unwrap(),
        b: h.feeder(id, "inB").unwrap(),
        ctl: h.feeder(id, "control").unwrap(),
        out: h.collector(id, "outbox").unwrap(),
        sig: h.collector(id, "signal").unwrap(),
        h,
        id,
    }
}

#[test]
fn comparator_finish_compares_the_pairs_it_can_then_ends() {
    let mut c = comparator();
    c.a.send(1).unwrap();
    c.b.send(1).unwrap();
    c.a.send(2).unwrap();
    c.ctl.send(Signal::ProducerFinished).unwrap();
    c.h.run_until_idle();
    assert_eq!(c.out.drain(), [true]);
    assert_eq!(c.sig.drain(), [Signal::ProducerFinished]);
    assert!(!c.h.is_alive(c.id));
}

#[test]
fn comparator_shutdown_stops_at_once() {
    let mut c = comparator();
    c.a.send(1).unwrap();
    c.b.send(1).unwrap();
    c.ctl.send(Signal::Shutdown).unwrap();
    c.h.run_until_idle();
    assert!(c.out.is_empty());
    assert_eq!(c.sig.drain(), [Signal::Shutdown]);
    assert!(!c.h.is_alive(c.id));
}

#[test]
fn a_whole_test_system_in_a_graphline() {
    let tr = TestResult::new();
    let results = tr.results();
    let g = graphline! {
        "expected" => DataSource::new(vec![1, 2, 3]),
        "actual" => DataSource::new(vec![1, 2, 3]),
        "cmp" => Comparator::<i32>::new(),
        "result" => tr;
        ("expected", "outbox") => ("cmp", "inA"),
        ("actual", "outbox") => ("cmp", "inB"),
        ("actual", "signal") => ("cmp", "control"),
        ("cmp", "outbox") => ("result", "inbox"),
        ("cmp", "signal") => ("result", "control"),
    }
    .unwrap();
    let mut s = Scheduler::new();
    s.spawn(g);
    assert_eq!(s.run(), Ended::Completed);
    assert_eq!(results.checked(), 3);
    results.assert_passed();
    assert_eq!(results.ended(), Some(Signal::ProducerFinished));
}
