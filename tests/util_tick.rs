//! PeriodicTick and OneShotTick on virtual time.

use std::time::Duration;

use kamaelia::axon::{Signal, StepResult};
use kamaelia::testing::Harness;
use kamaelia::util::{OneShotTick, PeriodicTick};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn ticks_every_period_on_exact_deadlines() {
    let mut h = Harness::new();
    let id = h.spawn(PeriodicTick::new(ms(250), 'T'));
    let out = h.collector::<char>(id, "outbox").unwrap();
    let start = h.now();
    h.run_until_idle();
    assert!(
        out.is_empty(),
        "the first tick is one period after the start"
    );
    let mut times = Vec::new();
    for _ in 0..4 {
        let d = h.scheduler().next_deadline().unwrap();
        h.advance(d - h.now());
        h.run_until_idle();
        assert_eq!(out.drain(), ['T']);
        times.push(h.now() - start);
    }
    assert_eq!(times, [ms(250), ms(500), ms(750), ms(1000)]);
    assert!(h.is_sleeping(id));
}

#[test]
fn a_late_wake_catches_up_without_drifting() {
    let mut h = Harness::new();
    let id = h.spawn(PeriodicTick::new(ms(100), 1u8));
    let out = h.collector::<u8>(id, "outbox").unwrap();
    let start = h.now();
    h.run_until_idle();
    // Frozen for 350 ms: three ticks fell due.
    h.advance(ms(350));
    h.run_until_idle();
    assert_eq!(out.drain(), [1, 1, 1]);
    // The next one is still on the original grid (400 ms), not 450 ms.
    assert_eq!(h.scheduler().next_deadline(), Some(start + ms(400)));
    h.run_for(ms(50));
    assert_eq!(out.drain(), [1]);
}

#[test]
fn tick_count_and_no_busy_waiting() {
    let mut h = Harness::new();
    let id = h.spawn(PeriodicTick::new(ms(10), ()));
    let out = h.collector::<()>(id, "outbox").unwrap();
    h.run_for(Duration::from_secs(1));
    assert_eq!(out.drain().len(), 100);
    assert!(h.scheduler().stats().steps <= 102);
}

#[test]
fn control_stops_it_and_is_forwarded() {
    let mut h = Harness::new();
    let id = h.spawn(PeriodicTick::new(ms(100), 1u8));
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<u8>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_for(ms(250));
    assert_eq!(out.drain(), [1, 1]);
    ctl.send(Signal::Shutdown).unwrap();
    assert_eq!(h.step(), Some((id, StepResult::Done)));
    assert_eq!(sig.drain(), [Signal::Shutdown]);
    h.run_for(ms(1000));
    assert!(out.is_empty());
}

#[test]
fn ticks_owed_to_a_full_consumer_are_kept() {
    let mut h = Harness::new();
    let id = h.spawn(PeriodicTick::new(ms(100), 7u8));
    let out = h.bounded_collector::<u8>(id, "outbox", 1).unwrap();
    h.run_for(ms(550));
    assert_eq!(out.len(), 1);
    let mut n = 0;
    while out.recv().is_some() {
        n += 1;
        h.run_until_idle();
    }
    assert_eq!(n, 5);
}

#[test]
#[should_panic(expected = "non-zero period")]
fn zero_period_is_refused() {
    let _ = PeriodicTick::new(Duration::ZERO, ());
}

#[test]
fn one_shot_tick_fires_once_after_the_delay() {
    let mut h = Harness::new();
    let id = h.spawn(OneShotTick::new(ms(2500), "ding"));
    let out = h.collector::<&str>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_for(ms(2499));
    assert!(out.is_empty());
    assert!(h.is_sleeping(id));
    h.run_for(ms(1));
    assert_eq!(out.drain(), ["ding"]);
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
    assert!(!h.is_alive(id));
}

#[test]
fn one_shot_tick_with_no_delay_fires_at_once() {
    let mut h = Harness::new();
    let id = h.spawn(OneShotTick::new(Duration::ZERO, 1u8));
    let out = h.collector::<u8>(id, "outbox").unwrap();
    assert_eq!(h.step(), Some((id, StepResult::Done)));
    assert_eq!(out.drain(), [1]);
}

#[test]
fn one_shot_tick_can_be_cancelled() {
    let mut h = Harness::new();
    let id = h.spawn(OneShotTick::new(ms(100), 1u8));
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<u8>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_for(ms(50));
    ctl.send(Signal::ProducerFinished).unwrap();
    h.run_for(ms(1000));
    assert!(out.is_empty());
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
    assert!(!h.is_alive(id));
}

#[test]
fn one_shot_tick_waits_for_room() {
    let mut h = Harness::new();
    let a = h.spawn(OneShotTick::new(ms(10), 1u8));
    let out = h.bounded_collector::<u8>(a, "outbox", 1).unwrap();
    let b = h.spawn(OneShotTick::new(ms(10), 2u8));
    // b shares a's consumer: link b's outbox to the same collector inbox.
    let b_out = h.scheduler().find_box(b, "outbox").unwrap();
    kamaelia::axon::link_refs(&b_out, &out.inbox().erased()).unwrap();
    let sig_b = h.collector::<Signal>(b, "signal").unwrap();
    h.run_for(ms(20));
    assert_eq!(out.len(), 1);
    assert!(h.is_alive(b) && h.is_sleeping(b));
    assert!(sig_b.is_empty());
    assert_eq!(out.recv(), Some(1));
    h.run_until_idle();
    assert_eq!(out.drain(), [2]);
    assert_eq!(sig_b.drain(), [Signal::ProducerFinished]);
}
