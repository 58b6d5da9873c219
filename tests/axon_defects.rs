//! Defects found by reading the core (issue 10), each pinned by a test that
//! failed before its fix: lost wake-ups around linking and spawning,
//! deliveries to finished inboxes, panics in uncareful steps.

mod common;

use common::*;
use kamaelia::axon::{link, Ended, Full, Scheduler, Signal, Step, StepResult as R};
use kamaelia::testing::Harness;

/// Sends `1..=n` on its outbox, keeping a refused value until it is woken,
/// then sends `ProducerFinished` on its signal box and ends.
fn producer(name: &str, n: u32) -> Script {
    let mut next = 1;
    Script::new(name, move |io, _| {
        while next <= n {
            if let Err(Full(_)) = io.outbox.send(next) {
                return Step::Pause;
            }
            next += 1;
        }
        io.signal.send(Signal::ProducerFinished).unwrap();
        Step::Done
    })
}

#[test]
fn a_producer_refused_before_its_consumer_is_spawned_is_woken_once_it_is() {
    let mut s = Scheduler::new();
    let got = shared(Vec::new());
    let consumer = taker("C", 1, &got);
    consumer.io.inbox.set_limit(Some(1));
    let p = producer("P", 3);
    link(&p.io.outbox, &consumer.io.inbox).unwrap();
    link(&p.io.signal, &consumer.io.control).unwrap();
    let pid = s.spawn(p);
    // P sends 1, is refused 2 by the consumer's inbox (which has no owner
    // yet) and sleeps.
    assert_eq!(s.step(), Some((pid, R::Sleep)));
    let cid = s.spawn(consumer);
    assert_eq!(s.run(), Ended::Completed);
    assert_eq!(*got.borrow(), vec![1, 2, 3]);
    assert!(!s.is_alive(pid) && !s.is_alive(cid));
    assert_eq!(s.stats().undelivered, 0);
}

#[test]
fn a_producer_that_filled_its_unlinked_outbox_is_woken_when_it_is_linked() {
    let mut h = Harness::new();
    let got = shared(Vec::new());
    let p = producer("P", 3);
    p.io.outbox.set_limit(Some(2));
    let pid = h.spawn(p);
    let cid = h.spawn(taker("C", usize::MAX, &got));
    // P keeps 1 and 2 in its unlinked outbox, is refused 3 and sleeps.
    assert_eq!(h.step(), Some((pid, R::Sleep)));
    assert_eq!(h.step(), Some((cid, R::Sleep)));
    h.scheduler().link((pid, "outbox"), (cid, "inbox")).unwrap();
    h.scheduler()
        .link((pid, "signal"), (cid, "control"))
        .unwrap();
    // The link moved 1 and 2 on and must wake P as well as C.
    assert!(!h.is_sleeping(pid), "the producer was left asleep");
    h.run_until_idle();
    assert_eq!(*got.borrow(), vec![1, 2, 3]);
    assert!(!h.is_alive(pid) && !h.is_alive(cid));
}
