//! The scheduler (reference §1.4/§1.5, §8 "Scheduler" and "Microprocess"):
//! termination, pause and wake, `is_sleeping`, round order, blocking on a
//! pending timer, stalls, `stop_system`, ids, wakes from other threads.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::*;
use kamaelia::axon::{link, Ended, Scheduler, Step, StepResult as R};
use kamaelia::testing::Harness;

fn sched() -> Scheduler {
    let mut s = Scheduler::with_virtual_time();
    s.enable_trace();
    s
}

#[test]
fn terminates_immediately_with_nothing() {
    let mut s = sched();
    assert_eq!(s.run(), Ended::Completed);
    assert_eq!(s.stats().steps, 0);
    assert_eq!(s.stats().rounds, 0);
    assert_eq!(s.stats().waits, 0);
    assert_eq!(s.live(), 0);
    assert!(s.trace().is_empty());
    // Real clock too.
    assert_eq!(Scheduler::new().run(), Ended::Completed);
}

#[test]
fn runs_one_to_completion() {
    let mut s = sched();
    let a = s.spawn(steps("A", &[Step::Yield, Step::Yield, Step::Done]));
    assert_eq!(s.live(), 1);
    assert!(s.is_alive(a));
    assert_eq!(s.run(), Ended::Completed);
    assert_eq!(
        trace_of(s.trace()),
        tr(&[(1, "A", R::Yield), (2, "A", R::Yield), (3, "A", R::Done)])
    );
    let st = s.stats();
    assert_eq!((st.steps, st.rounds, st.spawned, st.finished), (3, 3, 1, 1));
    assert_eq!(s.live(), 0);
    assert!(!s.is_alive(a));
}

#[test]
fn runs_many_to_completion_with_unique_ids() {
    let mut s = sched();
    let a = s.spawn(steps("A", &[Step::Done]));
    let b = s.spawn(steps("B", &[Step::Yield, Step::Done]));
    let c = s.spawn(steps("C", &[Step::Yield, Step::Yield, Step::Done]));
    assert!(a != b && b != c && a != c);
    assert_eq!(s.run(), Ended::Completed);
    assert_eq!(
        trace_of(s.trace()),
        tr(&[
            (1, "A", R::Done),
            (1, "B", R::Yield),
            (1, "C", R::Yield),
            (2, "B", R::Done),
            (2, "C", R::Yield),
            (3, "C", R::Done),
        ])
    );
    assert_eq!((s.stats().steps, s.stats().finished), (6, 3));
}

#[test]
fn paused_component_is_not_run_while_others_run_and_wake_restarts_only_it() {
    let mut s = sched();
    let a = s.spawn(sleeper("A"));
    let b = s.spawn(sleeper("B"));
    let mut n = 0;
    s.spawn(Script::new("C", move |_, cx| {
        n += 1;
        if n == 2 {
            cx.wake(a);
        }
        if n == 4 {
            Step::Done
        } else {
            Step::Yield
        }
    }));
    assert_eq!(
        s.run(),
        Ended::Stalled(vec![(a, "A".into()), (b, "B".into())])
    );
    assert_eq!(
        trace_of(s.trace()),
        tr(&[
            (1, "A", R::Sleep),
            (1, "B", R::Sleep),
            (1, "C", R::Yield),
            (2, "C", R::Yield),
            // A was woken during round 2: it runs in round 3, after C.
            (3, "C", R::Yield),
            (3, "A", R::Sleep),
            (4, "C", R::Done),
        ])
    );
    assert_eq!((s.stats().steps, s.stats().rounds), (7, 4));
    assert!(s.is_alive(a) && s.is_alive(b));
}

#[test]
fn waking_awake_running_or_finished_components_has_no_effect() {
    let mut s = sched();
    let b = s.spawn(steps("B", &[Step::Yield, Step::Yield, Step::Done]));
    let d_slot: Rc<Cell<Option<kamaelia::axon::Id>>> = Rc::new(Cell::new(None));
    let d_for_c = d_slot.clone();
    let mut n = 0;
    s.spawn(Script::new("C", move |_, cx| {
        n += 1;
        // B ran before C this round (queued for the next), D is queued for
        // this round, C itself is running; in round 3 B has finished.
        cx.wake(b);
        cx.wake(d_for_c.get().unwrap());
        let me = cx.id();
        cx.wake(me);
        if n == 3 {
            Step::Done
        } else {
            Step::Yield
        }
    }));
    d_slot.set(Some(
        s.spawn(steps("D", &[Step::Yield, Step::Yield, Step::Done])),
    ));
    assert_eq!(s.run(), Ended::Completed);
    let mut expected = Vec::new();
    for r in 1..=3 {
        let res = if r == 3 { R::Done } else { R::Yield };
        expected.extend([(r, "B", res), (r, "C", res), (r, "D", res)]);
    }
    assert_eq!(trace_of(s.trace()), tr(&expected));
    assert_eq!((s.stats().steps, s.stats().rounds), (9, 3));
}

#[test]
fn two_wakes_of_a_sleeper_in_one_round_run_it_once() {
    let mut s = sched();
    let a = s.spawn(sleeper("A"));
    s.spawn(Script::new("C", move |_, cx| {
        cx.wake(a);
        cx.wake(a);
        Step::Done
    }));
    assert_eq!(s.run(), Ended::Stalled(vec![(a, "A".into())]));
    assert_eq!(
        trace_of(s.trace()),
        tr(&[(1, "A", R::Sleep), (1, "C", R::Done), (2, "A", R::Sleep)])
    );
}

#[test]
fn a_component_woken_while_running_stays_runnable_when_it_pauses() {
    let mut h = Harness::new();
    let mut n = 0;
    let a = h.spawn(Script::new("A", move |_, cx| {
        n += 1;
        if n == 1 {
            let me = cx.id();
            cx.wake(me);
        }
        Step::Pause
    }));
    assert_eq!(h.step(), Some((a, R::Pause)));
    assert!(!h.is_sleeping(a));
    assert_eq!(h.step(), Some((a, R::Sleep)));
    assert_eq!(h.step(), None);
}

#[test]
fn is_sleeping_for_paused_runnable_finished_and_unknown_ids() {
    let mut h = Harness::new();
    let a = h.spawn(sleeper("A"));
    let b = h.spawn(steps("B", &[Step::Yield, Step::Done]));
    // Just spawned: queued, not asleep.
    assert!(!h.is_sleeping(a));
    assert!(!h.is_sleeping(b));
    assert_eq!(h.step(), Some((a, R::Sleep)));
    assert!(h.is_sleeping(a));
    assert_eq!(h.step(), Some((b, R::Yield)));
    assert!(!h.is_sleeping(b));
    assert_eq!(h.step(), Some((b, R::Done)));
    // Finished: counts as asleep, and is not alive.
    assert!(h.is_sleeping(b));
    assert!(!h.is_alive(b));
    assert_eq!(h.step(), None);
    // Unknown: an id this scheduler never issued.
    let other = Scheduler::with_virtual_time();
    assert!(other.is_sleeping(a));
    assert!(!other.is_alive(a));
    // A new component reuses B's slot, but B's id never matches it.
    let c = h.spawn(sleeper("C"));
    assert_eq!(c.index(), b.index());
    assert_ne!(c, b);
    assert!(!h.is_sleeping(c));
    assert!(h.is_sleeping(b));
    assert!(!h.is_alive(b));
    assert!(h.is_alive(c));
    // Waking the finished id does not wake the slot's new owner.
    assert_eq!(h.step(), Some((c, R::Sleep)));
    h.scheduler().remote().wake(b);
    assert_eq!(h.run_until_idle(), 0);
    assert!(h.is_sleeping(c));
}

#[test]
fn pause_then_termination_terminates() {
    let mut h = Harness::new();
    let mut n = 0;
    let a = h.spawn(Script::new("A", move |_, _| {
        n += 1;
        if n == 1 {
            Step::Pause
        } else {
            Step::Done
        }
    }));
    let f = h.feeder::<u32>(a, "inbox").unwrap();
    assert_eq!(h.step(), Some((a, R::Sleep)));
    f.send(1).unwrap();
    assert_eq!(h.step(), Some((a, R::Done)));
    assert!(!h.is_alive(a));
    // The message it never read is counted, not silently lost.
    assert_eq!(h.scheduler().stats().undelivered, 1);
    assert_eq!(h.scheduler().run(), Ended::Completed);
}

#[test]
fn run_blocks_without_spinning_when_all_paused_but_a_timer_is_pending() {
    let mut s = sched();
    let t0 = s.now();
    let woke: Shared<Vec<(&str, Duration)>> = shared(Vec::new());
    for (name, delay) in [("A", 10_000u64), ("B", 3_000)] {
        let woke = woke.clone();
        let mut n = 0;
        s.spawn(Script::new(name, move |_, cx| {
            n += 1;
            if n == 1 {
                cx.wake_after(Duration::from_millis(delay));
                return Step::Pause;
            }
            woke.borrow_mut().push((name, cx.now() - t0));
            Step::Done
        }));
    }
    assert_eq!(s.run(), Ended::Completed);
    assert_eq!(
        *woke.borrow(),
        vec![
            ("B", Duration::from_secs(3)),
            ("A", Duration::from_secs(10))
        ]
    );
    // Exactly one step per wake: no busy rounds while waiting.
    assert_eq!((s.stats().steps, s.stats().rounds), (4, 3));
    assert_eq!(
        trace_of(s.trace()),
        tr(&[
            (1, "A", R::Sleep),
            (1, "B", R::Sleep),
            (2, "B", R::Done),
            (3, "A", R::Done)
        ])
    );
    assert_eq!(s.now() - t0, Duration::from_secs(10));
}

#[test]
fn run_blocks_in_poll_on_a_real_clock() {
    let mut s = Scheduler::new();
    let mut n = 0;
    s.spawn(Script::new("A", move |_, cx| {
        n += 1;
        if n == 1 {
            // Long enough that even under valgrind on a loaded machine the
            // scheduler reaches its poll before the timer is due (with
            // 30 ms it once found the timer already due, and never waited).
            cx.wake_after(Duration::from_millis(200));
            Step::Pause
        } else {
            Step::Done
        }
    }));
    let start = Instant::now();
    assert_eq!(s.run(), Ended::Completed);
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert_eq!((s.stats().steps, s.stats().rounds), (2, 2));
    let waits = s.stats().waits;
    assert!((1..=3).contains(&waits), "waits = {waits}");
}

#[test]
fn stalled_lists_the_sleepers() {
    let mut s = sched();
    let a = s.spawn(sleeper("Left"));
    s.spawn(steps("Middle", &[Step::Yield, Step::Done]));
    let b = s.spawn(sleeper("Right"));
    assert_eq!(
        s.run(),
        Ended::Stalled(vec![(a, "Left".to_string()), (b, "Right".to_string())])
    );
    assert!(s.is_alive(a) && s.is_alive(b));
    assert_eq!(s.live(), 2);
    assert_eq!(s.stats().steps, 4);
}

#[test]
fn stop_system_from_a_component_ends_stopped_and_drops_everything() {
    let drops = Rc::new(Cell::new(0));
    let mut s = sched();
    let mut n = 0;
    let c = s.spawn(
        Script::new("C", move |_, cx| {
            n += 1;
            if n == 3 {
                cx.stop_system();
            }
            Step::Yield
        })
        .counting_drops(&drops),
    );
    let a = s.spawn(Script::new("A", |_, _| Step::Yield).counting_drops(&drops));
    let b = s.spawn(sleeper("B").counting_drops(&drops));
    assert_eq!(s.run(), Ended::Stopped);
    assert_eq!(drops.get(), 3);
    assert_eq!(s.live(), 0);
    assert!(!s.is_alive(a) && !s.is_alive(b) && !s.is_alive(c));
    // The system stops right after C's step: A does not run in round 3.
    assert_eq!(
        trace_of(s.trace()),
        tr(&[
            (1, "C", R::Yield),
            (1, "A", R::Yield),
            (1, "B", R::Sleep),
            (2, "C", R::Yield),
            (2, "A", R::Yield),
            (3, "C", R::Yield),
        ])
    );
}

#[test]
fn round_order_is_stable_and_woken_or_spawned_components_run_next_round() {
    let mut s = sched();
    let mut na = 0;
    s.spawn(Script::new("A", move |_, cx| {
        na += 1;
        match na {
            1 => Step::Yield,
            2 => {
                cx.spawn(steps("D", &[Step::Done]));
                Step::Yield
            }
            _ => Step::Done,
        }
    }));
    let b = Script::new("B", |io, _| match io.inbox.recv() {
        Some(_) => Step::Done,
        None => Step::Pause,
    });
    let mut nc = 0;
    let c = Script::new("C", move |io, _| {
        nc += 1;
        match nc {
            1 => Step::Yield,
            2 => {
                io.outbox.send(7).unwrap();
                Step::Yield
            }
            _ => Step::Done,
        }
    });
    link(&c.io.outbox, &b.io.inbox).unwrap();
    s.spawn(b);
    s.spawn(c);
    assert_eq!(s.run(), Ended::Completed);
    assert_eq!(
        trace_of(s.trace()),
        tr(&[
            (1, "A", R::Yield),
            (1, "B", R::Sleep),
            (1, "C", R::Yield),
            (2, "A", R::Yield),
            (2, "C", R::Yield),
            // Still runnable from round 2 in run order, then D (spawned in
            // round 2) and B (woken in round 2) in wake order.
            (3, "A", R::Done),
            (3, "C", R::Done),
            (3, "D", R::Done),
            (3, "B", R::Done),
        ])
    );
    let st = s.stats();
    assert_eq!((st.steps, st.rounds, st.spawned, st.finished), (9, 3, 4, 4));
}

#[test]
fn a_component_spawned_between_steps_joins_the_next_round() {
    let mut h = Harness::new();
    let a = h.spawn(steps("A", &[Step::Yield, Step::Done]));
    let b = h.spawn(steps("B", &[Step::Yield, Step::Done]));
    assert_eq!(h.step(), Some((a, R::Yield)));
    let c = h.spawn(steps("C", &[Step::Done]));
    assert_eq!(h.step(), Some((b, R::Yield)));
    assert_eq!(h.step(), Some((a, R::Done)));
    assert_eq!(h.step(), Some((b, R::Done)));
    assert_eq!(h.step(), Some((c, R::Done)));
    assert_eq!(h.step(), None);
    let rounds: Vec<u64> = h.trace().iter().map(|e| e.round).collect();
    assert_eq!(rounds, vec![1, 1, 2, 2, 2]);
}

#[test]
fn remote_wake_from_another_thread_runs_a_sleeping_component() {
    let mut s = sched();
    let a = s.spawn(steps("A", &[Step::Pause, Step::Done]));
    assert_eq!(s.step(), Some((a, R::Sleep)));
    let remote = s.remote();
    let r = remote.clone();
    std::thread::spawn(move || r.wake(a)).join().unwrap();
    assert_eq!(s.run(), Ended::Completed);
    assert_eq!(s.stats().steps, 2);
    drop(remote);
}

#[test]
fn remote_wake_from_a_thread_that_has_ended_is_not_lost() {
    let mut s = sched();
    let a = s.spawn(steps("A", &[Step::Pause, Step::Done]));
    assert_eq!(s.step(), Some((a, R::Sleep)));
    let r = s.remote();
    std::thread::spawn(move || r.wake(a)).join().unwrap();
    assert_eq!(s.run(), Ended::Completed);
    assert_eq!(s.stats().steps, 2);
}

/// Wakes `target` through the scheduler's `Remote` `times` times in its
/// one step: a wake from "another thread" made while the scheduler runs.
struct RemoteWaker {
    target: kamaelia::axon::Id,
    times: usize,
}

impl kamaelia::axon::Component for RemoteWaker {
    fn step(&mut self, cx: &mut kamaelia::axon::Cx) -> Step {
        let remote = cx.remote();
        for _ in 0..self.times {
            remote.wake(self.target);
        }
        Step::Done
    }

    fn boxes(&self, _set: &mut kamaelia::axon::BoxSet) {}
}

#[test]
fn a_remote_wake_while_the_scheduler_runs_signals_no_poll() {
    let mut s = sched();
    let b = s.spawn(steps("B", &[Step::Pause, Step::Done]));
    assert_eq!(s.step(), Some((b, R::Sleep)));
    s.spawn(RemoteWaker {
        target: b,
        times: 100,
    });
    assert_eq!(s.run(), Ended::Completed);
    // B was woken (its second step ran), and no wake wrote the waker: the
    // scheduler drained them between rounds.
    assert_eq!(s.stats().steps, 3);
    assert_eq!(s.remote_signals(), 0);
}

/// Answers every number that comes with the same number, until `left` are
/// answered; sleeps in between (woken through a `Remote`).
struct Echo {
    rx: crossbeam_channel::Receiver<u32>,
    tx: crossbeam_channel::Sender<u32>,
    left: u32,
}

impl kamaelia::axon::Component for Echo {
    fn step(&mut self, _cx: &mut kamaelia::axon::Cx) -> Step {
        while let Ok(v) = self.rx.try_recv() {
            self.tx.send(v).unwrap();
            self.left -= 1;
        }
        if self.left == 0 {
            Step::Done
        } else {
            Step::Pause
        }
    }

    fn boxes(&self, _set: &mut kamaelia::axon::BoxSet) {}
}

/// Many round trips between a thread and a component it wakes through a
/// `Remote`: each needs its wake to reach the scheduler, whether that
/// finds it running, about to block, or blocked. A lost wake leaves the
/// scheduler in its poll with nothing to wake it: `wait_for_wake` then
/// returns false and the test fails (instead of hanging).
#[test]
fn no_remote_wake_is_lost_around_the_poll() {
    const ROUNDS: u32 = 10_000;
    let (ping_tx, ping_rx) = crossbeam_channel::unbounded();
    let (pong_tx, pong_rx) = crossbeam_channel::unbounded();
    let mut s = Scheduler::new();
    let echo = s.spawn(Echo {
        rx: ping_rx,
        tx: pong_tx,
        left: ROUNDS,
    });
    let remote = s.remote();
    let pinger = std::thread::spawn(move || {
        for i in 0..ROUNDS {
            ping_tx.send(i).unwrap();
            remote.wake(echo);
            let got = pong_rx
                .recv_timeout(Duration::from_secs(10))
                .expect("the echo answered");
            assert_eq!(got, i);
        }
    });
    while s.is_alive(echo) {
        s.run_until_idle();
        if s.is_alive(echo) {
            assert!(
                s.wait_for_wake(Duration::from_secs(10)),
                "a wake was lost: the scheduler slept with the echo's number waiting"
            );
        }
    }
    pinger.join().unwrap();
    // Some wakes found the scheduler blocked (or about to be) and wrote
    // the waker; never more than one per wake.
    assert!(s.remote_signals() <= u64::from(ROUNDS));
}

#[test]
fn wait_for_wake_returns_when_another_thread_wakes_a_component() {
    let mut h = Harness::new();
    let a = h.spawn(steps("A", &[Step::Pause, Step::Done]));
    assert_eq!(h.step(), Some((a, R::Sleep)));
    let r = h.scheduler().remote();
    let (go_tx, go_rx) = crossbeam_channel::bounded::<()>(0);
    let waker = std::thread::spawn(move || {
        go_rx.recv().unwrap();
        r.wake(a);
    });
    let virtual_now = h.now();
    go_tx.send(()).unwrap();
    // Blocks in the poll until the thread's wake arrives (well within 10 s).
    assert!(h.wait_for_wake(Duration::from_secs(10)));
    waker.join().unwrap();
    assert_eq!(h.now(), virtual_now, "virtual time stays put");
    assert_eq!(h.step(), Some((a, R::Done)));
}

#[test]
fn wait_for_wake_returns_at_once_when_something_is_runnable_and_times_out_otherwise() {
    let mut h = Harness::new();
    let a = h.spawn(steps("A", &[Step::Pause, Step::Done]));
    // Just spawned: runnable, so no wait.
    assert!(h.wait_for_wake(Duration::from_secs(10)));
    assert_eq!(h.step(), Some((a, R::Sleep)));
    // Asleep with nothing that could wake it: the limit ends the wait.
    assert!(!h.wait_for_wake(Duration::from_millis(5)));
    assert!(h.is_sleeping(a));
}

#[test]
fn a_sleeping_component_is_woken_by_nothing_but_its_wake_sources() {
    // Time passing, other components running and finishing do not wake it.
    let mut h = Harness::new();
    let a = h.spawn(sleeper("A"));
    let log: Shared<Vec<u32>> = shared(Vec::new());
    let l = log.clone();
    h.spawn(Script::new("B", move |_, _| {
        l.borrow_mut().push(1);
        if l.borrow().len() == 5 {
            Step::Done
        } else {
            Step::Yield
        }
    }));
    assert_eq!(h.run_until_idle(), 6);
    h.advance(Duration::from_secs(3600));
    assert_eq!(h.step(), None);
    assert!(h.is_sleeping(a));
    let a_runs = h.trace().iter().filter(|e| e.id == a).count();
    assert_eq!(a_runs, 1);
}
