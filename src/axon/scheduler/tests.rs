//! Unit tests of the scheduler's internals that the public API cannot see:
//! what a finish costs the rest of the system.

use std::rc::Rc;

use crate::axon::boxes::epoch;
use crate::axon::{link, BoxSet, Component, Cx, DefaultBoxes, Scheduler, Step};

/// Ends on its first step.
struct Ends(DefaultBoxes<u32, u32>);

impl Component for Ends {
    fn step(&mut self, _cx: &mut Cx<'_>) -> Step {
        Step::Done
    }
    fn boxes(&self, set: &mut BoxSet) {
        self.0.list(set)
    }
}

#[test]
fn a_finish_off_any_pass_through_route_leaves_every_cached_route_valid() {
    let mut s = Scheduler::new();
    let sender = Rc::new(crate::axon::Outbox::<u32>::outbox());
    let c = Ends(DefaultBoxes::new());
    link(&*sender, &c.0.inbox).unwrap();
    let c_out = crate::axon::Inbox::<u32>::inbox();
    link(&c.0.outbox, &c_out).unwrap();
    s.spawn(c);
    sender.send(1).unwrap();
    let before = epoch();
    s.run();
    assert_eq!(s.stats().undelivered, 1);
    // The finished component's boxes are ends of routes, not parts of
    // one: no outbox anywhere has to re-resolve.
    assert_eq!(epoch(), before);
    // The sender finds out by itself: its next send is kept, not lost.
    sender.send(2).unwrap();
    assert_eq!(sender.held(), 1);
    assert_eq!(s.stats().undelivered, 1);
}

#[test]
fn a_finish_that_cuts_a_pass_through_route_makes_outboxes_re_resolve() {
    let mut s = Scheduler::new();
    let sender = crate::axon::Outbox::<u32>::outbox();
    let container = Ends(DefaultBoxes::new());
    let child = crate::axon::Inbox::<u32>::inbox();
    link(&sender, &container.0.inbox).unwrap();
    link(&container.0.inbox, &child).unwrap();
    sender.send(1).unwrap();
    assert_eq!(child.recv(), Some(1));
    s.spawn(container);
    let before = epoch();
    s.run();
    assert_ne!(epoch(), before);
    // The link through the finished container is cut: the child gets
    // nothing more, the sender keeps what it sends.
    sender.send(2).unwrap();
    assert_eq!(child.recv(), None);
    assert_eq!(sender.held(), 1);
}

/// Keeps one timer armed a minute ahead (the top of the heap), then arms
/// a timer an hour ahead and cancels it, `n` times in one step, as a
/// component re-arming a long time-out per message does.
struct ArmsAndCancels(usize);

impl Component for ArmsAndCancels {
    fn step(&mut self, cx: &mut Cx<'_>) -> Step {
        cx.wake_after(std::time::Duration::from_secs(60));
        for _ in 0..self.0 {
            let key = cx.wake_after(std::time::Duration::from_secs(3600));
            cx.cancel_timer(key);
        }
        Step::Pause
    }
    fn boxes(&self, _set: &mut BoxSet) {}
}

#[test]
fn cancelled_timers_do_not_pile_up_in_the_heap() {
    let mut s = Scheduler::with_virtual_time();
    s.spawn(ArmsAndCancels(10_000));
    s.step();
    let t = &s.inner().timers;
    assert_eq!(t.live.len(), 1);
    assert!(
        t.heap.len() <= 2 * t.live.len() + 16,
        "{} entries",
        t.heap.len()
    );
}
