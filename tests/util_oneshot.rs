//! OneShot, TriggeredOneShot and TriggeredSource.

use kamaelia::axon::{link, Outbox, Signal, StepResult};
use kamaelia::testing::{Collector, Harness};
use kamaelia::util::{OneShot, TriggeredOneShot, TriggeredSource};

#[test]
fn one_shot_sends_once_then_finishes() {
    let mut h = Harness::new();
    let id = h.spawn(OneShot::new("hello"));
    let out = h.collector::<&str>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    assert_eq!(h.step(), Some((id, StepResult::Done)));
    assert_eq!(out.drain(), ["hello"]);
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
}

/// Fills a collector's inbox from a test-owned outbox, so the component
/// under test finds it full.
fn fill<T: 'static>(c: &Collector<T>, msg: T) -> Outbox<T> {
    let filler = Outbox::new("filler", "fills the collector");
    link(&filler, c.inbox()).unwrap();
    filler
        .send(msg)
        .unwrap_or_else(|_| panic!("room for the filler"));
    filler
}

#[test]
fn one_shot_waits_for_room() {
    let mut h = Harness::new();
    let id = h.spawn(OneShot::new(2u8));
    let out = h.bounded_collector::<u8>(id, "outbox", 1).unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    let _filler = fill(&out, 1);
    h.run_until_idle();
    assert!(h.is_alive(id) && h.is_sleeping(id));
    assert!(sig.is_empty());
    let steps = h.scheduler().stats().steps;
    h.run_until_idle();
    assert_eq!(h.scheduler().stats().steps, steps, "no busy waiting");
    assert_eq!(out.recv(), Some(1)); // room: the one-shot is woken
    h.run_until_idle();
    assert_eq!(out.drain(), [2]);
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
    assert!(!h.is_alive(id));
}

#[test]
fn one_shot_shutdown_before_sending() {
    let mut h = Harness::new();
    let id = h.spawn(OneShot::new(1u8));
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<u8>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    assert!(out.is_empty());
    assert_eq!(sig.drain(), [Signal::Shutdown]);
}

#[test]
fn one_shot_ignores_producer_finished() {
    let mut h = Harness::new();
    let id = h.spawn(OneShot::new(1u8));
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<u8>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    ctl.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), [1]);
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
}

#[test]
fn triggered_one_shot_fires_on_the_first_trigger_only() {
    let mut h = Harness::new();
    let id = h.spawn(TriggeredOneShot::<u32, &str>::new("go"));
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let out = h.collector::<&str>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_until_idle();
    assert!(out.is_empty());
    assert!(h.is_sleeping(id));
    input.send(1).unwrap();
    input.send(2).unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), ["go"]);
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
    assert!(!h.is_alive(id));
}

#[test]
fn triggered_one_shot_waits_for_room() {
    let mut h = Harness::new();
    let id = h.spawn(TriggeredOneShot::<(), u8>::new(9));
    let input = h.feeder::<()>(id, "inbox").unwrap();
    let out = h.bounded_collector::<u8>(id, "outbox", 1).unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    let _filler = fill(&out, 0);
    input.send(()).unwrap();
    h.run_until_idle();
    assert!(h.is_alive(id) && h.is_sleeping(id));
    assert!(sig.is_empty());
    assert_eq!(out.recv(), Some(0));
    h.run_until_idle();
    assert_eq!(out.drain(), [9]);
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
}

#[test]
fn triggered_one_shot_finish_without_trigger_ends_quietly() {
    let mut h = Harness::new();
    let id = h.spawn(TriggeredOneShot::<u32, u8>::new(1));
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<u8>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    ctl.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert!(out.is_empty());
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
    assert!(!h.is_alive(id));
}

#[test]
fn triggered_one_shot_trigger_and_finish_together_still_fires() {
    let mut h = Harness::new();
    let id = h.spawn(TriggeredOneShot::<u32, u8>::new(1));
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<u8>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input.send(0).unwrap();
    ctl.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), [1]);
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
}

#[test]
fn triggered_one_shot_shutdown() {
    let mut h = Harness::new();
    let id = h.spawn(TriggeredOneShot::<u32, u8>::new(1));
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<u8>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input.send(0).unwrap();
    ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    assert!(out.is_empty());
    assert_eq!(sig.drain(), [Signal::Shutdown]);
}

#[test]
fn triggered_source_answers_every_trigger() {
    let mut h = Harness::new();
    let id = h.spawn(TriggeredSource::<u32, String>::new("tick".to_string()));
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.bounded_collector::<String>(id, "outbox", 2).unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    for i in 0..5 {
        input.send(i).unwrap();
    }
    ctl.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert_eq!(out.len(), 2);
    assert!(h.is_sleeping(id));
    let mut n = 0;
    while out.recv().is_some() {
        n += 1;
        h.run_until_idle();
    }
    assert_eq!(n, 5);
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
    assert!(!h.is_alive(id));
}

#[test]
fn triggered_source_shutdown() {
    let mut h = Harness::new();
    let id = h.spawn(TriggeredSource::<u32, u8>::new(1));
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<u8>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input.send(0).unwrap();
    ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    assert!(out.is_empty());
    assert_eq!(sig.drain(), [Signal::Shutdown]);
}
