//! OneShot, TriggeredOneShot and TriggeredSource.

use kamaelia::axon::{link, Component, Id, Outbox, Signal, StepResult};
use kamaelia::testing::{Collector, Feeder, Harness};
use kamaelia::util::{OneShot, TriggeredOneShot, TriggeredSource};

/// A triggered component with `u32` triggers, its control, its output and
/// its signal.
struct Rig<T: 'static> {
    h: Harness,
    id: Id,
    input: Feeder<u32>,
    ctl: Feeder<Signal>,
    out: Collector<T>,
    sig: Collector<Signal>,
}

fn rig<T: 'static>(c: impl Component) -> Rig<T> {
    let mut h = Harness::new();
    let id = h.spawn(c);
    Rig {
        input: h.feeder(id, "inbox").unwrap(),
        ctl: h.feeder(id, "control").unwrap(),
        out: h.collector(id, "outbox").unwrap(),
        sig: h.collector(id, "signal").unwrap(),
        h,
        id,
    }
}

/// A trigger and a shutdown arrive together: shutdown wins, nothing is sent.
fn shutdown_with_a_trigger_waiting(c: impl Component) {
    let mut r = rig::<u8>(c);
    r.input.send(0).unwrap();
    r.ctl.send(Signal::Shutdown).unwrap();
    r.h.run_until_idle();
    assert!(r.out.is_empty());
    assert_eq!(r.sig.drain(), [Signal::Shutdown]);
    assert!(!r.h.is_alive(r.id));
}

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
    let mut r = rig::<&str>(TriggeredOneShot::<u32, &str>::new("go"));
    r.h.run_until_idle();
    assert!(r.out.is_empty());
    assert!(r.h.is_sleeping(r.id));
    r.input.send(1).unwrap();
    r.input.send(2).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), ["go"]);
    assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
    assert!(!r.h.is_alive(r.id));
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
    let mut r = rig::<u8>(TriggeredOneShot::<u32, u8>::new(1));
    r.ctl.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert!(r.out.is_empty());
    assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
    assert!(!r.h.is_alive(r.id));
}

#[test]
fn triggered_one_shot_trigger_and_finish_together_still_fires() {
    let mut r = rig::<u8>(TriggeredOneShot::<u32, u8>::new(1));
    r.input.send(0).unwrap();
    r.ctl.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), [1]);
    assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
    assert!(!r.h.is_alive(r.id));
}

#[test]
fn triggered_one_shot_shutdown() {
    shutdown_with_a_trigger_waiting(TriggeredOneShot::<u32, u8>::new(1));
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
    let mut got = Vec::new();
    while let Some(m) = out.recv() {
        got.push(m);
        h.run_until_idle();
    }
    assert_eq!(got, ["tick"; 5]);
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
    assert!(!h.is_alive(id));
}

#[test]
fn triggered_source_shutdown() {
    shutdown_with_a_trigger_waiting(TriggeredSource::<u32, u8>::new(1));
}
