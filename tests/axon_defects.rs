//! Defects found by reading the core (issue 10), each pinned by a test that
//! failed before its fix: lost wake-ups around linking and spawning,
//! deliveries to finished inboxes, panics in uncareful steps.

mod common;

use std::rc::Rc;

use common::*;
use kamaelia::axon::{
    link, unlink, Ended, Full, Inbox, Outbox, Scheduler, Signal, Step, StepResult as R,
};
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

/// A message that, when dropped, sends a message of its own on `on`.
struct SendsOnDrop {
    value: u32,
    on: Option<Rc<Outbox<SendsOnDrop>>>,
}

impl Drop for SendsOnDrop {
    fn drop(&mut self) {
        if let Some(o) = self.on.take() {
            o.send(SendsOnDrop {
                value: 99,
                on: None,
            })
            .unwrap();
        }
    }
}

#[test]
fn a_send_from_a_message_dropped_while_rerouting_comes_after_the_send_that_dropped_it() {
    let out = Rc::new(Outbox::<SendsOnDrop>::new("outbox", "test"));
    let first: Inbox<SendsOnDrop> = Inbox::new("inbox", "test");
    link(&*out, &first).unwrap();
    out.send(SendsOnDrop {
        value: 1,
        on: Some(out.clone()),
    })
    .unwrap();
    // The outbox's cached route still holds `first` after it is unlinked
    // and its handle is gone: the next send re-routes, and dropping that
    // route drops `first` with the message in it, whose Drop sends again.
    assert!(unlink(&*out));
    drop(first);
    out.send(SendsOnDrop { value: 2, on: None }).unwrap();
    let next: Inbox<SendsOnDrop> = Inbox::new("inbox", "test");
    link(&*out, &next).unwrap();
    let got: Vec<u32> = std::iter::from_fn(|| next.recv().map(|m| m.value)).collect();
    assert_eq!(got, vec![2, 99]);
}

#[test]
fn delivering_to_a_finished_inbox_hands_the_message_back() {
    let mut s = Scheduler::new();
    let c = sleeper("C");
    let addr = c.io.inbox.address();
    let id = s.spawn(c);
    assert_eq!(s.step(), Some((id, R::Sleep)));
    s.stop();
    assert_eq!(s.run(), Ended::Stopped);
    assert!(addr.is_closed());
    match addr.deliver(7) {
        Err(Full(v)) => assert_eq!(v, 7),
        Ok(()) => panic!("a delivery to a finished inbox was accepted"),
    }
}

/// Panics on its first step.
fn panicker(name: &str) -> Script {
    Script::new(name, |_, _| panic!("boom"))
}

#[test]
fn a_panic_without_immortalise_propagates_and_the_component_ends_as_panicked() {
    let mut s = Scheduler::new();
    let a = s.spawn(panicker("A"));
    let b = s.spawn(steps("B", &[Step::Yield, Step::Yield]));
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.run()));
    assert!(caught.is_err(), "the panic did not propagate");
    assert!(!s.is_alive(a), "the panicked component is still alive");
    assert_eq!(s.stats().panicked, 1);
    assert_eq!(s.live(), 1);
    // The rest runs on, as after a caught panic.
    assert_eq!(s.run(), Ended::Completed);
    assert!(!s.is_alive(b));
    assert_eq!(s.stats().finished, 2);
}

#[test]
fn a_panic_inside_a_hand_off_ends_both_steps_it_unwound_and_hand_offs_work_after() {
    let mut s = Scheduler::new();
    let c = panicker("C");
    c.io.inbox.set_limit(Some(1));
    let p = Script::new("P", |io, cx| {
        io.outbox.send(1).unwrap();
        if io.outbox.send(2).is_err() {
            cx.run_receiver(&io.outbox);
        }
        Step::Done
    });
    link(&p.io.outbox, &c.io.inbox).unwrap();
    // C is queued behind P, so P's hand-off runs C's first step.
    let pid = s.spawn(p);
    let cid = s.spawn(c);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.run()));
    assert!(caught.is_err());
    assert_eq!(s.stats().hand_offs, 1);
    assert!(!s.is_alive(pid) && !s.is_alive(cid));
    assert_eq!(s.stats().panicked, 2);
    assert_eq!(s.live(), 0);
    // A later hand-off is not refused as "inside a hand-off".
    let got = shared(Vec::new());
    let got2 = got.clone();
    let c2 = Script::new("C2", move |io, _| {
        while let Some(v) = io.inbox.recv() {
            got2.borrow_mut().push(v);
        }
        Step::Pause
    });
    c2.io.inbox.set_limit(Some(1));
    let p2 = Script::new("P2", |io, cx| {
        io.outbox.send(1).unwrap();
        assert!(io.outbox.send(2).is_err());
        assert!(cx.run_receiver(&io.outbox), "hand-off refused");
        io.outbox.send(2).unwrap();
        Step::Done
    });
    link(&p2.io.outbox, &c2.io.inbox).unwrap();
    s.spawn(p2);
    s.spawn(c2);
    s.run_until_idle();
    assert_eq!(*got.borrow(), vec![1, 2]);
    assert_eq!(s.stats().hand_offs, 2);
}

/// Adds three outboxes named "reply" in its first step, records their
/// names, and ends.
struct AddsReplies {
    extra: kamaelia::axon::AdaptiveBoxes,
    names: common::Shared<Vec<String>>,
}

impl kamaelia::axon::Component for AddsReplies {
    fn step(&mut self, _cx: &mut kamaelia::axon::Cx<'_>) -> Step {
        for _ in 0..3 {
            let b = self.extra.add_outbox::<u32>("reply", "a reply box");
            self.names.borrow_mut().push(b.name().to_string());
        }
        Step::Done
    }
    fn boxes(&self, set: &mut kamaelia::axon::BoxSet) {
        set.adaptive(&self.extra);
    }
}

fn reply_names_in_a_fresh_scheduler() -> Vec<String> {
    let names = shared(Vec::new());
    let mut s = Scheduler::new();
    s.spawn(AddsReplies {
        extra: kamaelia::axon::AdaptiveBoxes::new(),
        names: names.clone(),
    });
    assert_eq!(s.run(), Ended::Completed);
    let v = names.borrow().clone();
    v
}

#[test]
fn run_time_box_names_depend_only_on_their_own_scheduler() {
    let first = reply_names_in_a_fresh_scheduler();
    let second = reply_names_in_a_fresh_scheduler();
    assert_eq!(first, vec!["reply", "reply1", "reply2"]);
    assert_eq!(second, first);
}

#[test]
fn a_snapshot_taken_by_a_component_names_that_component() {
    let mut s = Scheduler::new();
    let seen = shared(Vec::new());
    let seen2 = seen.clone();
    let looker = s.spawn(Script::new("Looker", move |_, cx| {
        let snap = cx.snapshot();
        let me = snap.component(cx.id()).expect("the caller is listed");
        seen2.borrow_mut().push((me.name.clone(), me.state));
        Step::Done
    }));
    let other = s.spawn(sleeper("Other"));
    assert_eq!(s.step(), Some((looker, R::Done)));
    assert_eq!(
        *seen.borrow(),
        vec![("Looker".to_string(), kamaelia::axon::RunState::Running)]
    );
    assert_eq!(s.snapshot().component(other).unwrap().name, "Other");
}
