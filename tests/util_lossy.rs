//! LossyConnector: what gets through a full destination, what is dropped
//! and counted, and the shutdown convention (the original's
//! test_LossyConnector: "drops messages when the destination is full").

use kamaelia::axon::{link, link_with_limit, Inbox, Scheduler, Signal, StepResult};
use kamaelia::testing::{Collector, Feeder, Harness};
use kamaelia::util::{Counter, DataSource, LossyConnector};

struct Rig {
    h: Harness,
    id: kamaelia::axon::Id,
    input: Feeder<u32>,
    ctl: Feeder<Signal>,
    out: Collector<u32>,
    sig: Collector<Signal>,
    dropped: Counter,
}

/// A LossyConnector whose outbox leads to a collector holding at most
/// `limit` messages (`None`: no limit).
fn rig(limit: Option<usize>) -> Rig {
    let mut h = Harness::new();
    let lossy = LossyConnector::<u32>::new();
    let dropped = lossy.dropped();
    let id = h.spawn(lossy);
    let out = match limit {
        Some(n) => h.bounded_collector(id, "outbox", n).unwrap(),
        None => h.collector(id, "outbox").unwrap(),
    };
    Rig {
        input: h.feeder(id, "inbox").unwrap(),
        ctl: h.feeder(id, "control").unwrap(),
        sig: h.collector(id, "signal").unwrap(),
        out,
        dropped,
        h,
        id,
    }
}

#[test]
fn with_room_everything_goes_through_in_order() {
    let mut r = rig(None);
    for i in 1..=5 {
        r.input.send(i).unwrap();
    }
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), [1, 2, 3, 4, 5]);
    assert_eq!(r.dropped.get(), 0);
    assert!(r.h.is_sleeping(r.id));
}

#[test]
fn a_full_destination_drops_the_rest_and_counts_them() {
    let mut r = rig(Some(3));
    for i in 1..=6 {
        r.input.send(i).unwrap();
    }
    assert_eq!(r.h.step(), Some((r.id, StepResult::Sleep)), "one step");
    assert_eq!(r.out.len(), 3);
    assert_eq!(r.dropped.get(), 3);
    assert_eq!(r.out.drain(), [1, 2, 3], "the first ones got through");
    // Room again: the next messages go through.
    r.input.send(7).unwrap();
    r.input.send(8).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), [7, 8]);
    assert_eq!(r.dropped.get(), 3);
}

#[test]
fn messages_go_through_whenever_there_is_room() {
    let mut r = rig(Some(2));
    for i in 1..=3 {
        r.input.send(i).unwrap();
    }
    r.h.run_until_idle();
    assert_eq!(r.dropped.get(), 1, "3 dropped");
    // The consumer takes one: one more fits.
    assert_eq!(r.out.recv(), Some(1));
    r.input.send(4).unwrap();
    r.input.send(5).unwrap();
    r.h.run_until_idle();
    assert!(r.h.is_sleeping(r.id));
    assert_eq!(r.out.drain(), [2, 4]);
    assert_eq!(r.dropped.get(), 2, "3 and 5 dropped");
    // A refusal does not put it to sleep on the consumer: a new message
    // wakes it and goes through.
    r.input.send(6).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), [6]);
}

#[test]
fn the_producer_is_never_pushed_back() {
    let mut r = rig(Some(1));
    for i in 0..100 {
        assert!(r.input.send(i).is_ok());
        r.h.run_until_idle();
    }
    assert_eq!(r.out.drain(), [0]);
    assert_eq!(r.dropped.get(), 99);
}

#[test]
fn a_long_queue_is_handled_in_batches() {
    let mut r = rig(Some(10));
    for i in 0..1000 {
        r.input.send(i).unwrap();
    }
    let mut results = Vec::new();
    while let Some((_, res)) = r.h.step() {
        results.push(res);
    }
    assert_eq!(results.last(), Some(&StepResult::Sleep));
    assert!(results.len() > 1, "yields between batches: {results:?}");
    assert!(results[..results.len() - 1]
        .iter()
        .all(|s| *s == StepResult::Yield));
    assert_eq!(r.out.drain(), (0..10).collect::<Vec<_>>());
    assert_eq!(r.dropped.get(), 990);
}

#[test]
fn producer_finished_passes_on_what_waits_then_ends() {
    let mut r = rig(Some(2));
    for i in 1..=4 {
        r.input.send(i).unwrap();
    }
    r.ctl.send(Signal::ProducerFinished).unwrap();
    assert_eq!(r.h.step(), Some((r.id, StepResult::Done)), "in one step");
    assert_eq!(r.out.drain(), [1, 2]);
    assert_eq!(r.dropped.get(), 2, "handled (dropped), not left waiting");
    assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
    assert!(!r.h.is_alive(r.id));
    assert_eq!(r.h.scheduler().stats().undelivered, 0);
    // The count stays readable after the component is gone.
    assert_eq!(r.dropped.get(), 2);
}

#[test]
fn a_failure_is_forwarded_like_producer_finished() {
    let mut r = rig(None);
    r.input.send(1).unwrap();
    let failure = Signal::failed(std::io::Error::other("upstream broke"));
    r.ctl.send(failure.clone()).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), [1]);
    assert_eq!(r.sig.drain(), [failure]);
    assert!(!r.h.is_alive(r.id));
}

#[test]
fn shutdown_ends_at_once() {
    let mut r = rig(Some(1));
    r.input.send(1).unwrap();
    r.input.send(2).unwrap();
    r.ctl.send(Signal::Shutdown).unwrap();
    assert_eq!(r.h.step(), Some((r.id, StepResult::Done)));
    assert!(r.out.is_empty());
    assert_eq!(r.sig.drain(), [Signal::Shutdown]);
    assert_eq!(r.dropped.get(), 0, "left waiting is not dropped");
    assert_eq!(r.h.scheduler().stats().undelivered, 2);
}

#[test]
fn shutdown_wins_over_an_earlier_producer_finished() {
    let mut r = rig(None);
    r.input.send(1).unwrap();
    r.ctl.send(Signal::ProducerFinished).unwrap();
    r.ctl.send(Signal::Shutdown).unwrap();
    r.h.run_until_idle();
    assert!(r.out.is_empty());
    assert_eq!(r.sig.drain(), [Signal::Shutdown]);
}

#[test]
fn in_a_system_behind_a_pipewidth_one_link() {
    // A source feeding a consumer that never reads, through a synchronous
    // (pipewidth 1) link: the source runs to the end, unhindered.
    let source = DataSource::new((1..=20).collect::<Vec<u32>>());
    let lossy = LossyConnector::<u32>::new();
    let dropped = lossy.dropped();
    let consumer: Inbox<u32> = Inbox::inbox();
    let sig: Inbox<Signal> = Inbox::control();
    link(&source.outbox, &lossy.inbox).unwrap();
    link(&source.signal, &lossy.control).unwrap();
    link_with_limit(&lossy.outbox, &consumer, 1).unwrap();
    link(&lossy.signal, &sig).unwrap();
    let mut s = Scheduler::with_virtual_time();
    s.spawn(source);
    s.spawn(lossy);
    assert_eq!(s.run(), kamaelia::axon::Ended::Completed);
    assert_eq!(consumer.recv(), Some(1));
    assert_eq!(consumer.recv(), None);
    assert_eq!(dropped.get(), 19);
    assert_eq!(sig.recv(), Some(Signal::ProducerFinished));
}

#[test]
fn counter_basics() {
    let c = Counter::new();
    assert_eq!(c.get(), 0);
    assert_eq!(format!("{c:?}"), "Counter(0)");
    let l = LossyConnector::<()>::default();
    let (a, b) = (l.dropped(), l.dropped());
    assert_eq!((a.get(), b.get()), (0, 0));
    // A handle can be read from another thread.
    let t = std::thread::spawn(move || a.get());
    assert_eq!(t.join().unwrap(), 0);
}
