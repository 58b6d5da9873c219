//! Fanout: copies to the named outboxes only, per-outbox back-pressure,
//! shutdown rules.

use kamaelia::axon::{link, Inbox, Scheduler, Signal, StepResult};
use kamaelia::testing::Harness;
use kamaelia::util::{DataSource, Fanout};

#[test]
fn copies_every_message_to_each_named_outbox_in_order() {
    let mut h = Harness::new();
    let id = h.spawn(Fanout::<u32>::new(&["a", "b", "c"]));
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let outs: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|n| h.collector::<u32>(id, n).unwrap())
        .collect();
    for i in 0..10 {
        input.send(i).unwrap();
    }
    h.run_until_idle();
    for o in &outs {
        assert_eq!(o.drain(), (0..10).collect::<Vec<_>>());
    }
    assert!(h.is_sleeping(id));
}

#[test]
fn has_no_outbox_and_never_copies_data_to_signal() {
    let mut h = Harness::new();
    let id = h.spawn(Fanout::<u32>::new(&["x"]));
    assert!(h.scheduler().find_box(id, "outbox").is_err());
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let x = h.collector::<u32>(id, "x").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input.send(7).unwrap();
    h.run_until_idle();
    assert_eq!(x.drain(), [7]);
    assert!(sig.is_empty(), "data must not be copied to signal");
    ctl.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
    assert!(!h.is_alive(id));
}

#[test]
fn names_and_typed_handles() {
    let f = Fanout::<String>::new(&["left", "right"]);
    assert_eq!(f.names(), ["left", "right"]);
    assert_eq!(f.outbox("left").unwrap().name(), "left");
    assert!(f.outbox("middle").is_none());
}

#[test]
#[should_panic(expected = "clashes with a fixed box")]
fn a_fixed_box_name_is_refused() {
    let _ = Fanout::<u8>::new(&["a", "signal"]);
}

#[test]
#[should_panic(expected = "given twice")]
fn a_duplicate_name_is_refused() {
    let _ = Fanout::<u8>::new(&["a", "a"]);
}

#[test]
#[should_panic(expected = "no outbox names")]
fn no_outbox_names_are_refused() {
    let _ = Fanout::<u8>::new(&[]);
}

#[test]
fn slow_outbox_holds_back_without_loss_or_reordering() {
    let mut h = Harness::new();
    let id = h.spawn(Fanout::<u32>::new(&["fast", "slow"]));
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let fast = h.collector::<u32>(id, "fast").unwrap();
    let slow = h.bounded_collector::<u32>(id, "slow", 2).unwrap();
    for i in 0..20 {
        input.send(i).unwrap();
    }
    h.run_until_idle();
    // slow took 2, the third copy is kept; fast got at most one more.
    assert_eq!(slow.len(), 2);
    assert_eq!(fast.len(), 3);
    assert!(h.is_sleeping(id), "a blocked fanout sleeps");
    let steps = h.scheduler().stats().steps;
    h.run_until_idle();
    assert_eq!(h.scheduler().stats().steps, steps, "no busy waiting");

    let mut got_fast = fast.drain();
    let mut got_slow = Vec::new();
    while got_slow.len() < 20 {
        // The consumer takes one: the fanout is woken and sends on.
        let Some(v) = slow.recv() else {
            panic!("stalled after {got_slow:?}")
        };
        got_slow.push(v);
        h.run_until_idle();
        got_fast.extend(fast.drain());
        assert!(got_fast.len() <= got_slow.len() + 3);
    }
    assert_eq!(got_slow, (0..20).collect::<Vec<_>>());
    assert_eq!(got_fast, (0..20).collect::<Vec<_>>());
}

#[test]
fn finish_flushes_kept_copies_before_forwarding() {
    let mut h = Harness::new();
    let id = h.spawn(Fanout::<u32>::new(&["a", "b"]));
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let a = h.bounded_collector::<u32>(id, "a", 1).unwrap();
    let b = h.collector::<u32>(id, "b").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    for i in 0..4 {
        input.send(i).unwrap();
    }
    ctl.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert!(sig.is_empty(), "not finished while copies are pending");
    assert!(h.is_alive(id));
    let mut got = Vec::new();
    while let Some(v) = a.recv() {
        got.push(v);
        h.run_until_idle();
    }
    assert_eq!(got, [0, 1, 2, 3]);
    assert_eq!(b.drain(), [0, 1, 2, 3]);
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
    assert!(!h.is_alive(id));
}

#[test]
fn shutdown_stops_at_once_and_is_forwarded() {
    let mut h = Harness::new();
    let id = h.spawn(Fanout::<u32>::new(&["a"]));
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let a = h.collector::<u32>(id, "a").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input.send(1).unwrap();
    input.send(2).unwrap();
    ctl.send(Signal::Shutdown).unwrap();
    assert_eq!(h.step(), Some((id, StepResult::Done)));
    assert!(a.is_empty());
    assert_eq!(sig.drain(), [Signal::Shutdown]);
    assert_eq!(h.scheduler().stats().undelivered, 2);
}

#[test]
fn in_a_running_system() {
    let mut s = Scheduler::new();
    let src = DataSource::new(vec!["x", "y"]);
    let fan = Fanout::<&str>::new(&["one", "two"]);
    link(&src.outbox, &fan.inbox).unwrap();
    link(&src.signal, &fan.control).unwrap();
    let one = Inbox::inbox();
    let two = Inbox::inbox();
    let sig = Inbox::control();
    link(fan.outbox("one").unwrap(), &one).unwrap();
    link(fan.outbox("two").unwrap(), &two).unwrap();
    link(&fan.signal, &sig).unwrap();
    s.spawn(src);
    s.spawn(fan);
    s.run();
    assert_eq!(
        (one.recv(), one.recv(), one.recv()),
        (Some("x"), Some("y"), None)
    );
    assert_eq!(
        (two.recv(), two.recv(), two.recv()),
        (Some("x"), Some("y"), None)
    );
    assert_eq!(sig.recv(), Some(Signal::ProducerFinished));
}

#[test]
fn one_copy_may_be_called_outbox_to_sit_in_a_pipeline() {
    use kamaelia::axon::link_refs;
    use kamaelia::pipeline;
    use kamaelia::util::PassThrough;
    let fan = Fanout::<u32>::new(&["outbox", "tap"]);
    assert_eq!(fan.names(), ["outbox", "tap"]);
    let tap = Inbox::inbox();
    link(fan.outbox("tap").unwrap(), &tap).unwrap();
    let p = pipeline![
        DataSource::new(vec![1u32, 2]),
        fan,
        PassThrough::<u32>::new()
    ]
    .unwrap();
    let out: Inbox<u32> = Inbox::inbox();
    let sig: Inbox<Signal> = Inbox::control();
    link_refs(&p.outbox().unwrap(), &out.erased()).unwrap();
    link_refs(&p.find("signal").unwrap(), &sig.erased()).unwrap();
    let mut s = Scheduler::new();
    s.spawn(p);
    s.run();
    assert_eq!(
        (out.recv(), out.recv(), out.recv()),
        (Some(1), Some(2), None)
    );
    assert_eq!(
        (tap.recv(), tap.recv(), tap.recv()),
        (Some(1), Some(2), None)
    );
    assert_eq!(sig.recv(), Some(Signal::ProducerFinished));
}
