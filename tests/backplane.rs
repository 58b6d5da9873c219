//! Backplane, PublishTo, SubscribeTo (reference §2.7).

use std::time::Duration;

use kamaelia::axon::*;
use kamaelia::testing::Harness;
use kamaelia::util::{Backplane, PublishTo, SubscribeTo};

fn publisher(h: &mut Harness, name: &str) -> (Id, kamaelia::testing::Feeder<u32>) {
    let id = h.spawn(PublishTo::<u32>::new(name));
    let f = h.feeder::<u32>(id, "inbox").unwrap();
    (id, f)
}

fn subscriber(h: &mut Harness, name: &str) -> (Id, kamaelia::testing::Collector<u32>) {
    let id = h.spawn(SubscribeTo::<u32>::new(name));
    let c = h.collector::<u32>(id, "outbox").unwrap();
    (id, c)
}

#[test]
fn every_subscriber_gets_every_message_in_order() {
    let mut h = Harness::new();
    h.spawn(Backplane::<u32>::new("bus"));
    let subs: Vec<_> = (0..5).map(|_| subscriber(&mut h, "bus")).collect();
    let (_, p1) = publisher(&mut h, "bus");
    let (_, p2) = publisher(&mut h, "bus");
    h.run_until_idle();
    for i in 0..10 {
        p1.send(i).unwrap();
    }
    h.run_until_idle();
    for i in 10..20 {
        p2.send(i).unwrap();
    }
    h.run_until_idle();
    for (_, c) in &subs {
        assert_eq!(c.drain(), (0..20).collect::<Vec<_>>());
    }
}

#[test]
fn a_late_subscriber_sees_only_what_follows() {
    let mut h = Harness::new();
    h.spawn(Backplane::<u32>::new("bus"));
    let (_, p) = publisher(&mut h, "bus");
    let (_, early) = subscriber(&mut h, "bus");
    h.run_until_idle();
    p.send(1).unwrap();
    h.run_until_idle();
    let (_, late) = subscriber(&mut h, "bus");
    h.run_until_idle();
    p.send(2).unwrap();
    h.run_until_idle();
    assert_eq!(early.drain(), vec![1, 2]);
    assert_eq!(late.drain(), vec![2]);
}

#[test]
fn subscribers_leave_and_end_without_disturbing_others() {
    let mut h = Harness::new();
    let bp = h.spawn(Backplane::<u32>::new("bus"));
    let (_, p) = publisher(&mut h, "bus");
    let (a, ca) = subscriber(&mut h, "bus");
    let (_, cb) = subscriber(&mut h, "bus");
    let a_ctl = h.feeder::<Signal>(a, "control").unwrap();
    let a_sig = h.collector::<Signal>(a, "signal").unwrap();
    h.run_until_idle();
    a_ctl.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert_eq!(a_sig.drain(), vec![Signal::ProducerFinished]);
    assert!(!h.is_alive(a));
    p.send(7).unwrap();
    h.run_until_idle();
    assert!(ca.is_empty());
    assert_eq!(cb.drain(), vec![7]);
    assert!(h.is_alive(bp));
    let snap = h.scheduler().snapshot();
    let bp_boxes = &snap.component(bp).unwrap().boxes;
    assert_eq!(
        bp_boxes
            .iter()
            .filter(|b| b.name.starts_with("_data"))
            .count(),
        1,
        "the leaver's run-time boxes are gone"
    );
    assert_eq!(h.scheduler().stats().undelivered, 0);
}

#[test]
fn shutting_the_backplane_down_ends_its_subscribers_and_frees_the_name() {
    let mut h = Harness::new();
    let bp = h.spawn(Backplane::<u32>::new("bus"));
    let (a, _) = subscriber(&mut h, "bus");
    let a_sig = h.collector::<Signal>(a, "signal").unwrap();
    let ctl = h.feeder::<Signal>(bp, "control").unwrap();
    let bp_sig = h.collector::<Signal>(bp, "signal").unwrap();
    h.run_until_idle();
    assert_eq!(
        h.scheduler().services(),
        vec!["Backplane_I_bus", "Backplane_O_bus"]
    );
    ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    assert_eq!(bp_sig.drain(), vec![Signal::Shutdown]);
    assert_eq!(a_sig.drain(), vec![Signal::Shutdown]);
    assert!(!h.is_alive(bp) && !h.is_alive(a));
    assert!(h.scheduler().services().is_empty());
    // The name can be used again.
    let again = h.spawn(Backplane::<u32>::new("bus"));
    h.run_until_idle();
    assert!(h.is_alive(again));
}

#[test]
fn a_second_backplane_of_the_same_name_fails_cleanly() {
    let mut h = Harness::new();
    h.spawn(Backplane::<u32>::new("bus"));
    h.run_until_idle();
    let dup = h.spawn(Backplane::<u32>::new("bus"));
    let sig = h.collector::<Signal>(dup, "signal").unwrap();
    h.run_until_idle();
    let got = sig.drain();
    assert_eq!(got.len(), 1);
    let Signal::Failed(f) = &got[0] else {
        panic!("{got:?}")
    };
    assert_eq!(
        f.downcast_ref::<ServiceError>(),
        Some(&ServiceError::AlreadyExists("Backplane_I_bus".into()))
    );
    assert!(!h.is_alive(dup));
}

#[test]
fn publishing_to_no_backplane_fails_after_looking() {
    let mut h = Harness::new();
    let p = h.spawn(PublishTo::<u32>::new("nowhere"));
    let sig = h.collector::<Signal>(p, "signal").unwrap();
    h.run_until_idle();
    let got = sig.drain();
    assert!(matches!(&got[..], [Signal::Failed(f)]
        if f.downcast_ref::<ServiceError>() == Some(&ServiceError::NotFound("Backplane_I_nowhere".into()))));
    assert!(!h.is_alive(p));
}

#[test]
fn a_slow_subscriber_slows_the_bus_without_loss() {
    /// Takes one message per 10 ms of (virtual) time.
    struct Slow(Inbox<u32>, Vec<u32>, Outbox<Vec<u32>>);
    impl Component for Slow {
        fn step(&mut self, cx: &mut Cx) -> Step {
            if let Some(v) = self.0.recv() {
                self.1.push(v);
                if self.1.len() == 100 {
                    let _ = self.2.send(std::mem::take(&mut self.1));
                    return Step::Done;
                }
                cx.wake_after(Duration::from_millis(10));
                cx.hold_input();
            }
            Step::Pause
        }
        fn boxes(&self, set: &mut BoxSet) {
            set.add(&self.0).add(&self.2);
        }
    }
    let mut h = Harness::new();
    h.spawn(Backplane::<u32>::new("bus"));
    let (sub, fast) = subscriber(&mut h, "bus");
    let slow = Slow(
        Inbox::bounded("inbox", "slow", 2),
        Vec::new(),
        Outbox::outbox(),
    );
    let result = Inbox::<Vec<u32>>::inbox();
    link(&slow.2, &result).unwrap();
    // A second subscriber whose output goes into the slow consumer.
    let sub2 = SubscribeTo::<u32>::new("bus");
    link(&sub2.outbox, &slow.0).unwrap();
    h.spawn(sub2);
    h.spawn(slow);
    let (_, p) = publisher(&mut h, "bus");
    h.run_until_idle();
    for i in 0..100 {
        p.send(i).unwrap();
    }
    h.run_for(Duration::from_secs(10));
    assert_eq!(result.recv(), Some((0..100).collect::<Vec<_>>()));
    assert_eq!(fast.drain(), (0..100).collect::<Vec<_>>());
    assert!(h.is_alive(sub));
}

#[test]
fn forwarder_mode_also_copies_out() {
    let mut h = Harness::new();
    h.spawn(Backplane::<u32>::new("bus"));
    let (_, c) = subscriber(&mut h, "bus");
    let p = h.spawn(PublishTo::<u32>::new("bus").forwarder(true));
    let f = h.feeder::<u32>(p, "inbox").unwrap();
    let copy = h.collector::<u32>(p, "outbox").unwrap();
    h.run_until_idle();
    f.send(5).unwrap();
    f.send(6).unwrap();
    h.run_until_idle();
    assert_eq!(c.drain(), vec![5, 6]);
    assert_eq!(copy.drain(), vec![5, 6]);
}

#[test]
fn producer_finished_delivers_what_was_published_first() {
    let mut h = Harness::new();
    let bp = h.spawn(Backplane::<u32>::new("bus"));
    let (sub, got) = subscriber(&mut h, "bus");
    let sub_sig = h.collector::<Signal>(sub, "signal").unwrap();
    let input = h.feeder::<u32>(bp, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(bp, "control").unwrap();
    let bp_sig = h.collector::<Signal>(bp, "signal").unwrap();
    h.run_until_idle();
    input.send(1).unwrap();
    input.send(2).unwrap();
    ctl.send(Signal::ProducerFinished).unwrap(); // same step as the data
    h.run_until_idle();
    assert_eq!(got.drain(), vec![1, 2]);
    assert_eq!(sub_sig.drain(), vec![Signal::ProducerFinished]);
    assert_eq!(bp_sig.drain(), vec![Signal::ProducerFinished]);
    assert!(!h.is_alive(bp));
    assert_eq!(h.scheduler().stats().undelivered, 0);
}
