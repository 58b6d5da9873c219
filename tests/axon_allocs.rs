//! Heap allocations on the core's steady-state paths, counted per thread by
//! a counting global allocator (this test binary's own): a refused send and
//! the wake that follows, and arming and cancelling a timer.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use kamaelia::axon::{link, BoxSet, Component, Cx, Inbox, Outbox, Scheduler, Step};

mod alloc_counter;
use alloc_counter::allocs;

/// Sends 0, 1, 2, ... into a 1-message inbox until refused, then pauses.
struct Producer {
    outbox: Outbox<u64>,
    next: u64,
    refusals: Rc<Cell<u64>>,
}

impl Component for Producer {
    fn step(&mut self, _cx: &mut Cx<'_>) -> Step {
        while self.outbox.send(self.next).is_ok() {
            self.next += 1;
        }
        self.refusals.set(self.refusals.get() + 1);
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.outbox);
    }
}

/// Takes one message a step.
struct Consumer {
    inbox: Inbox<u64>,
}

impl Component for Consumer {
    fn step(&mut self, _cx: &mut Cx<'_>) -> Step {
        self.inbox.recv();
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox);
    }
}

#[test]
fn a_refused_send_and_its_wake_allocate_nothing_in_steady_state() {
    let mut s = Scheduler::new();
    let refusals = Rc::new(Cell::new(0));
    let p = Producer {
        outbox: Outbox::outbox(),
        next: 0,
        refusals: refusals.clone(),
    };
    let c = Consumer {
        inbox: Inbox::bounded("inbox", "one at a time", 1),
    };
    link(&p.outbox, &c.inbox).unwrap();
    let pid = s.spawn(p);
    s.spawn(c);
    // Warm up: queues and the waiter list reach their size.
    for _ in 0..1_000 {
        s.step();
    }
    let (before, refused_before) = (allocs(), refusals.get());
    for _ in 0..10_000 {
        s.step();
    }
    let after = allocs();
    assert!(s.is_alive(pid));
    // Producer and consumer take turns; each producer step is refused.
    assert_eq!(refusals.get() - refused_before, 5_000);
    assert_eq!(after - before, 0, "allocations in 5,000 refusals");
}

/// Keeps 1,000 timers armed (set on its first step), and then, every step,
/// arms a long time-out and cancels it `n` times, as a component
/// re-arming a per-message time-out does.
struct Rearms {
    n: usize,
    first: bool,
}

impl Component for Rearms {
    fn step(&mut self, cx: &mut Cx<'_>) -> Step {
        if self.first {
            self.first = false;
            for i in 0..1_000 {
                cx.wake_after(Duration::from_secs(60 + i));
            }
        }
        for _ in 0..self.n {
            let key = cx.wake_after(Duration::from_secs(30));
            cx.cancel_timer(key);
        }
        Step::Yield
    }
    fn boxes(&self, _set: &mut BoxSet) {}
}

#[test]
fn arming_and_cancelling_a_timer_allocates_nothing_in_steady_state() {
    let mut s = Scheduler::with_virtual_time();
    s.spawn(Rearms {
        n: 100,
        first: true,
    });
    for _ in 0..100 {
        s.step();
    }
    let before = allocs();
    for _ in 0..100 {
        s.step();
    }
    assert_eq!(allocs() - before, 0, "allocations in 10,000 arm+cancel");
}
