//! The wake-up matrix (reference §1.5, §8 "Component" wake-up matrix): who is
//! woken by a delivery, a send, a take, a link change.

mod common;

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use common::*;
use kamaelia::axon::{
    link, link_refs, link_with_limit, unlink, Full, LinkKind, RunState, Step, StepResult as R,
};
use kamaelia::testing::Harness;

#[test]
fn nothing_happens_so_a_sleeper_stays_asleep() {
    let mut h = Harness::new();
    let got = shared(Vec::new());
    let c = h.spawn(taker("C", usize::MAX, &got));
    let _f = h.feeder::<u32>(c, "inbox").unwrap();
    assert_eq!(h.step(), Some((c, R::Sleep)));
    for _ in 0..3 {
        assert_eq!(h.step(), None);
    }
    h.advance(Duration::from_secs(60));
    assert_eq!(h.run_until_idle(), 0);
    assert!(h.is_sleeping(c));
    assert_eq!(h.trace().len(), 1);
}

#[test]
fn a_delivery_wakes_the_consumer_exactly_once() {
    let mut h = Harness::new();
    let got = shared(Vec::new());
    let c = h.spawn(taker("C", usize::MAX, &got));
    let f = h.feeder::<u32>(c, "inbox").unwrap();
    assert_eq!(h.step(), Some((c, R::Sleep)));
    f.send(1).unwrap();
    assert!(!h.is_sleeping(c));
    f.send(2).unwrap();
    f.send(3).unwrap();
    // Three deliveries, one run.
    assert_eq!(h.step(), Some((c, R::Sleep)));
    assert_eq!(h.step(), None);
    assert_eq!(*got.borrow(), vec![1, 2, 3]);
    assert_eq!(h.scheduler().stats().steps, 2);
}

#[test]
fn pausing_with_input_waiting_keeps_a_component_runnable() {
    let mut h = Harness::new();
    let got = shared(Vec::new());
    let c = h.spawn(taker("C", 1, &got));
    let f = h.feeder::<u32>(c, "inbox").unwrap();
    for v in [1, 2, 3] {
        f.send(v).unwrap();
    }
    assert_eq!(h.step(), Some((c, R::Pause)));
    assert_eq!(h.step(), Some((c, R::Pause)));
    assert_eq!(h.step(), Some((c, R::Sleep)));
    assert_eq!(h.step(), None);
    assert_eq!(*got.borrow(), vec![1, 2, 3]);
    let rounds: Vec<u64> = h.trace().iter().map(|e| e.round).collect();
    assert_eq!(rounds, vec![1, 2, 3]);
}

#[test]
fn sending_does_not_wake_the_producer_nor_does_an_unrefused_take() {
    let mut h = Harness::new();
    let runs = Rc::new(Cell::new(0));
    let r = runs.clone();
    let p = Script::new("P", move |io, _| {
        r.set(r.get() + 1);
        if r.get() == 1 {
            io.outbox.send(10).unwrap();
            io.outbox.send(11).unwrap();
        }
        Step::Pause
    });
    let got = shared(Vec::new());
    let c = taker("C", usize::MAX, &got);
    link(&p.io.outbox, &c.io.inbox).unwrap();
    let pid = h.spawn(p);
    let cid = h.spawn(c);
    assert_eq!(h.step(), Some((pid, R::Sleep)));
    assert_eq!(h.step(), Some((cid, R::Sleep)));
    assert_eq!(h.step(), None);
    assert_eq!(runs.get(), 1);
    assert!(h.is_sleeping(pid));
    assert_eq!(*got.borrow(), vec![10, 11]);
}

#[test]
fn a_refused_producer_is_woken_when_the_consumer_takes() {
    let mut h = Harness::new();
    let fulls = Rc::new(Cell::new(0));
    let fl = fulls.clone();
    let mut queue: VecDeque<u32> = (0..3).collect();
    let p = Script::new("P", move |io, _| {
        while let Some(v) = queue.pop_front() {
            if let Err(Full(v)) = io.outbox.send(v) {
                queue.push_front(v);
                fl.set(fl.get() + 1);
                return Step::Pause;
            }
        }
        Step::Done
    });
    let got = shared(Vec::new());
    let c = taker("C", 1, &got);
    assert_eq!(
        link_with_limit(&p.io.outbox, &c.io.inbox, 1),
        Ok(LinkKind::Normal)
    );
    h.spawn(p);
    h.spawn(c);
    h.run_until_idle();
    assert_eq!(
        trace_of(h.trace()),
        tr(&[
            (1, "P", R::Sleep),
            (1, "C", R::Sleep),
            (2, "P", R::Sleep),
            (3, "C", R::Sleep),
            (4, "P", R::Done),
            (5, "C", R::Sleep),
        ])
    );
    assert_eq!(*got.borrow(), vec![0, 1, 2]);
    assert_eq!(fulls.get(), 2);
}

#[test]
fn a_refused_producer_sleeps_even_with_its_own_input_waiting() {
    let mut h = Harness::new();
    let r = relay("R");
    let got = shared(Vec::new());
    let c = taker("C", 1, &got);
    link_with_limit(&r.io.outbox, &c.io.inbox, 1).unwrap();
    let rid = h.spawn(r);
    let cid = h.spawn(c);
    let f = h.feeder::<u32>(rid, "inbox").unwrap();
    for v in [1, 2, 3] {
        f.send(v).unwrap();
    }
    assert_eq!(h.step(), Some((rid, R::Sleep)));
    let snap = h.scheduler().snapshot();
    let ri = snap.component(rid).unwrap();
    assert_eq!((ri.state, ri.pending), (RunState::Sleeping, 1));
    assert_eq!(h.step(), Some((cid, R::Sleep))); // takes 1: wakes R
    assert!(!h.is_sleeping(rid));
    h.run_until_idle();
    assert_eq!(
        trace_of(h.trace()),
        tr(&[
            (1, "R", R::Sleep),
            (1, "C", R::Sleep),
            (2, "R", R::Sleep),
            (3, "C", R::Sleep),
            (4, "R", R::Sleep),
            (5, "C", R::Sleep),
        ])
    );
    assert_eq!(*got.borrow(), vec![1, 2, 3]);
}

#[test]
fn only_the_final_destination_owner_is_woken_along_a_pass_through_chain() {
    let mut h = Harness::new();
    let x = h.spawn(sleeper("X"));
    let y = h.spawn(relay("Y"));
    let got = shared(Vec::new());
    let z = h.spawn(taker("Z", usize::MAX, &got));
    let s = h.scheduler();
    assert_eq!(s.link((x, "inbox"), (y, "inbox")), Ok(LinkKind::PassIn));
    assert_eq!(s.link((y, "outbox"), (x, "outbox")), Ok(LinkKind::PassOut));
    assert_eq!(s.link((x, "outbox"), (z, "inbox")), Ok(LinkKind::Normal));
    let f = h.feeder::<u32>(x, "inbox").unwrap();
    assert_eq!(h.run_until_idle(), 3);
    f.send(5).unwrap();
    assert!(h.is_sleeping(x));
    assert!(!h.is_sleeping(y));
    assert!(h.is_sleeping(z));
    assert_eq!(h.step(), Some((y, R::Sleep)));
    assert!(h.is_sleeping(x));
    assert!(!h.is_sleeping(z));
    assert_eq!(h.step(), Some((z, R::Sleep)));
    assert_eq!(h.step(), None);
    assert_eq!(*got.borrow(), vec![5]);
    assert_eq!(h.trace().iter().filter(|e| e.id == x).count(), 1);
}

#[test]
fn a_broken_link_stops_wakes_and_relinking_moves_held_messages_and_wakes() {
    let mut h = Harness::new();
    let got1 = shared(Vec::new());
    let got2 = shared(Vec::new());
    let c1 = h.spawn(taker("C1", usize::MAX, &got1));
    let c2 = h.spawn(taker("C2", usize::MAX, &got2));
    let f = h.feeder::<u32>(c1, "inbox").unwrap();
    h.run_until_idle();
    f.send(1).unwrap();
    assert_eq!(h.step(), Some((c1, R::Sleep)));
    assert!(unlink(f.outbox()));
    assert!(!unlink(f.outbox()));
    f.send(2).unwrap();
    f.send(3).unwrap();
    assert_eq!(f.outbox().held(), 2);
    assert!(h.is_sleeping(c1) && h.is_sleeping(c2));
    assert_eq!(h.step(), None);
    // Link elsewhere: the held messages move, in order, and wake only C2.
    let c2_in = h.scheduler().find_box(c2, "inbox").unwrap();
    assert_eq!(
        link_refs(&f.outbox().erased(), &c2_in),
        Ok(LinkKind::Normal)
    );
    assert_eq!(f.outbox().held(), 0);
    assert!(h.is_sleeping(c1));
    assert!(!h.is_sleeping(c2));
    f.send(4).unwrap();
    assert_eq!(h.step(), Some((c2, R::Sleep)));
    assert_eq!(h.step(), None);
    // And back again.
    assert!(unlink(f.outbox()));
    f.send(5).unwrap();
    let c1_in = h.scheduler().find_box(c1, "inbox").unwrap();
    link_refs(&f.outbox().erased(), &c1_in).unwrap();
    assert_eq!(h.step(), Some((c1, R::Sleep)));
    assert_eq!(h.step(), None);
    assert_eq!(*got1.borrow(), vec![1, 5]);
    assert_eq!(*got2.borrow(), vec![2, 3, 4]);
}

#[test]
fn a_components_unlinked_sends_move_when_linked_by_name() {
    let mut h = Harness::new();
    let mut first = true;
    let p = h.spawn(Script::new("P", move |io, _| {
        if first {
            first = false;
            for v in [7, 8, 9] {
                io.outbox.send(v).unwrap();
            }
        }
        Step::Pause
    }));
    let got = shared(Vec::new());
    let c = h.spawn(taker("C", usize::MAX, &got));
    h.run_until_idle();
    let outbox_len = |h: &mut Harness| {
        let snap = h.scheduler().snapshot();
        let info = snap.component(p).unwrap();
        info.boxes.iter().find(|b| b.name == "outbox").unwrap().len
    };
    assert_eq!(outbox_len(&mut h), 3);
    assert_eq!(
        h.scheduler().link((p, "outbox"), (c, "inbox")),
        Ok(LinkKind::Normal)
    );
    assert_eq!(outbox_len(&mut h), 0);
    assert!(!h.is_sleeping(c));
    assert!(h.is_sleeping(p));
    assert_eq!(h.step(), Some((c, R::Sleep)));
    assert_eq!(h.step(), None);
    assert_eq!(*got.borrow(), vec![7, 8, 9]);
}
