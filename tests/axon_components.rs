//! Components (reference §1.2/§1.4/§1.6/§1.13, §8 "Microprocess" and
//! "Component"): default boxes and names, children and their exits, panics
//! with and without immortalise, introspection, deterministic traces.

mod common;

use std::cell::Cell;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::Duration;

use common::*;
use kamaelia::axon::{
    link, link_with_limit, BoxInfo, BoxSet, Component, Cx, DefaultBoxes, Dir, Ended, Exit,
    ExitKind, Full, Id, LinkInfo, LinkKind, Periodic, RunState, Scheduler, Signal, Stats, Step,
    StepResult as R, TraceEntry,
};
use kamaelia::testing::Harness;

struct Plain {
    io: DefaultBoxes<u32, String>,
}
impl Component for Plain {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        Step::Done
    }
    fn boxes(&self, set: &mut BoxSet) {
        self.io.list(set)
    }
}

struct Wrapper<T: 'static>(Option<T>);
impl<T: 'static> Component for Wrapper<T> {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        Step::Done
    }
    fn boxes(&self, _set: &mut BoxSet) {}
}

fn info(name: &str, description: &str, dir: Dir, type_name: &'static str) -> BoxInfo {
    BoxInfo {
        name: name.into(),
        description: description.into(),
        dir,
        type_name,
        len: 0,
        limit: None,
    }
}

#[test]
fn default_boxes_and_default_names() {
    let mut s = Scheduler::with_virtual_time();
    let a = s.spawn(Plain {
        io: DefaultBoxes::new(),
    });
    let b = s.spawn(Wrapper::<u8>(None));
    let snap = s.snapshot();
    let pa = snap.component(a).unwrap();
    assert_eq!(pa.name, "Plain");
    assert_eq!(
        pa.boxes,
        vec![
            info("inbox", "data to process", Dir::In, "u32"),
            info(
                "control",
                "shutdown signals: producer finished / shutdown",
                Dir::In,
                "kamaelia::axon::signal::Signal"
            ),
            info("outbox", "data produced", Dir::Out, "alloc::string::String"),
            info(
                "signal",
                "sent once when this component ends",
                Dir::Out,
                "kamaelia::axon::signal::Signal"
            ),
        ]
    );
    assert_eq!(snap.component(b).unwrap().name, "Wrapper");
    assert!(snap.component(b).unwrap().boxes.is_empty());
    assert_eq!(s.run(), Ended::Completed);
}

#[test]
fn a_child_finishing_wakes_its_parent_which_learns_how_it_ended() {
    let mut s = Scheduler::with_virtual_time();
    s.enable_trace();
    let exits: Shared<Vec<Exit>> = shared(Vec::new());
    let seen: Shared<Vec<Vec<Id>>> = shared(Vec::new());
    let kid: Rc<Cell<Option<Id>>> = Rc::new(Cell::new(None));
    let (e, sn, k) = (exits.clone(), seen.clone(), kid.clone());
    let p = s.spawn(Script::new("Parent", move |_, cx| {
        if k.get().is_none() {
            k.set(Some(
                cx.spawn_child(steps("Kid", &[Step::Yield, Step::Done])),
            ));
            sn.borrow_mut().push(cx.children());
            return Step::Pause;
        }
        while let Some(x) = cx.next_exit() {
            e.borrow_mut().push(x);
        }
        sn.borrow_mut().push(cx.children());
        Step::Done
    }));
    assert!(s.step().is_some());
    let c = kid.get().unwrap();
    assert_eq!(s.snapshot().component(c).unwrap().parent, Some(p));
    assert_eq!(s.snapshot().component(p).unwrap().parent, None);
    assert_eq!(s.run(), Ended::Completed);
    assert_eq!(
        trace_of(s.trace()),
        tr(&[
            (1, "Parent", R::Sleep),
            (2, "Kid", R::Yield),
            (3, "Kid", R::Done),
            (4, "Parent", R::Done),
        ])
    );
    assert_eq!(
        *exits.borrow(),
        vec![Exit {
            id: c,
            name: "Kid".into(),
            how: ExitKind::Finished
        }]
    );
    assert_eq!(*seen.borrow(), vec![vec![c], vec![]]);
}

#[test]
fn several_children_exits_arrive_in_the_order_they_ended() {
    let mut s = Scheduler::with_virtual_time();
    s.immortalise(true);
    let exits: Shared<Vec<(String, ExitKind)>> = shared(Vec::new());
    let e = exits.clone();
    let mut started = false;
    s.spawn(Script::new("Parent", move |_, cx| {
        if !started {
            started = true;
            cx.spawn_child(steps("Slow", &[Step::Yield, Step::Yield, Step::Done]));
            cx.spawn_child(Script::new("Crasher", |_, _| panic!("kid failed")));
            cx.spawn_child(steps("Quick", &[Step::Done]));
            return Step::Pause;
        }
        while let Some(x) = cx.next_exit() {
            e.borrow_mut().push((x.name, x.how));
        }
        if cx.children().is_empty() {
            Step::Done
        } else {
            Step::Pause
        }
    }));
    assert_eq!(s.run(), Ended::Completed);
    assert_eq!(
        *exits.borrow(),
        vec![
            (
                "Crasher".to_string(),
                ExitKind::Panicked("kid failed".into())
            ),
            ("Quick".to_string(), ExitKind::Finished),
            ("Slow".to_string(), ExitKind::Finished),
        ]
    );
    assert_eq!((s.stats().panicked, s.stats().finished), (1, 4));
}

#[test]
fn a_panic_propagates_out_of_run_by_default() {
    let mut s = Scheduler::with_virtual_time();
    s.spawn(steps("Fine", &[Step::Yield, Step::Yield, Step::Done]));
    let mut n = 0;
    s.spawn(Script::new("Bomb", move |_, _| {
        n += 1;
        if n == 2 {
            panic!("boom");
        }
        Step::Yield
    }));
    let r = catch_unwind(AssertUnwindSafe(|| s.run()));
    let payload = r.expect_err("the panic was swallowed");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    // It propagated, and the component ended as panicked on the way out.
    assert_eq!(s.stats().panicked, 1);
    assert_eq!(s.live(), 1);
}

#[test]
fn with_immortalise_a_panicking_component_is_removed_with_its_links() {
    let mut h = Harness::new();
    h.scheduler().immortalise(true);
    let mut n = 0;
    let bomb = h.spawn(Script::new("Bomb", move |io, _| {
        n += 1;
        if n == 2 {
            panic!("boom at step 2");
        }
        while let Some(v) = io.inbox.recv() {
            io.outbox.send(v).unwrap();
        }
        Step::Pause
    }));
    let got = shared(Vec::new());
    let g = got.clone();
    let sink = h.spawn(Script::new("Sink", move |io, _| {
        while let Some(v) = io.inbox.recv() {
            g.borrow_mut().push(v);
        }
        if g.borrow().len() == 2 {
            Step::Done
        } else {
            Step::Pause
        }
    }));
    let other = h.spawn(steps(
        "Other",
        &[Step::Yield, Step::Yield, Step::Yield, Step::Done],
    ));
    h.scheduler()
        .link((bomb, "outbox"), (sink, "inbox"))
        .unwrap();
    let f = h.feeder::<u32>(bomb, "inbox").unwrap();
    f.send(1).unwrap();
    f.send(2).unwrap();
    assert_eq!(h.step(), Some((bomb, R::Sleep)));
    f.send(3).unwrap(); // wakes Bomb, which panics with it unread
    assert_eq!(h.step(), Some((sink, R::Done)));
    assert_eq!(h.step(), Some((other, R::Yield)));
    assert_eq!(h.step(), Some((other, R::Yield)));
    assert_eq!(h.step(), Some((bomb, R::Panicked)));
    assert!(!h.is_alive(bomb));
    let st = h.scheduler().stats().clone();
    assert_eq!((st.panicked, st.finished, st.undelivered), (1, 2, 1));
    assert!(h.scheduler().snapshot().links.is_empty());
    assert!(!f.outbox().is_linked());
    f.send(4).unwrap();
    assert_eq!(f.outbox().held(), 1);
    // The rest runs to completion.
    assert_eq!(h.scheduler().run(), Ended::Completed);
    assert_eq!(*got.borrow(), vec![1, 2]);
    assert_eq!(h.scheduler().stats().finished, 3);
    let last: Vec<R> = h
        .trace()
        .iter()
        .filter(|e| e.id == other)
        .map(|e| e.result)
        .collect();
    assert_eq!(last, vec![R::Yield, R::Yield, R::Yield, R::Done]);
}

#[test]
fn snapshot_lists_components_boxes_with_queue_lengths_and_links_with_kinds() {
    let mut h = Harness::new();
    let x = h.spawn(sleeper("Container"));
    let y = h.spawn(relay("Child"));
    let got = shared(Vec::new());
    let z = h.spawn(taker("Sink", usize::MAX, &got));
    let s = h.scheduler();
    assert_eq!(s.link((x, "inbox"), (y, "inbox")), Ok(LinkKind::PassIn));
    assert_eq!(s.link((y, "outbox"), (x, "outbox")), Ok(LinkKind::PassOut));
    assert_eq!(s.link((x, "outbox"), (z, "inbox")), Ok(LinkKind::Normal));
    s.find_box(z, "inbox").unwrap().set_limit(Some(3));
    let f = h.feeder::<u32>(x, "inbox").unwrap();
    f.send(1).unwrap();
    f.send(2).unwrap();
    let snap = h.scheduler().snapshot();
    assert_eq!(snap.round, 0);
    let summary: Vec<(Id, String, RunState, Option<Id>, usize)> = snap
        .components
        .iter()
        .map(|c| (c.id, c.name.clone(), c.state, c.parent, c.pending))
        .collect();
    assert_eq!(
        summary,
        vec![
            (x, "Container".into(), RunState::Runnable, None, 0),
            (y, "Child".into(), RunState::Runnable, None, 2),
            (z, "Sink".into(), RunState::Runnable, None, 0),
        ]
    );
    let lens = |id: Id| -> Vec<(String, usize, Option<usize>)> {
        snap.component(id)
            .unwrap()
            .boxes
            .iter()
            .map(|b| (b.name.clone(), b.len, b.limit))
            .collect()
    };
    let row = |n: &str, len: usize, limit: Option<usize>| (n.to_string(), len, limit);
    assert_eq!(
        lens(x),
        vec![
            row("inbox", 0, None),
            row("control", 0, None),
            row("outbox", 0, None),
            row("signal", 0, None)
        ]
    );
    assert_eq!(
        lens(y),
        vec![
            row("inbox", 2, None),
            row("control", 0, None),
            row("outbox", 0, None),
            row("signal", 0, None)
        ]
    );
    assert_eq!(
        lens(z),
        vec![
            row("inbox", 0, Some(3)),
            row("control", 0, None),
            row("outbox", 0, None),
            row("signal", 0, None)
        ]
    );
    let link = |a: Id, an: &str, b: Id, bn: &str, kind| LinkInfo {
        from: (Some(a), an.into()),
        to: (Some(b), bn.into()),
        kind,
    };
    assert_eq!(
        snap.links,
        vec![
            link(x, "inbox", y, "inbox", LinkKind::PassIn),
            link(x, "outbox", z, "inbox", LinkKind::Normal),
            link(y, "outbox", x, "outbox", LinkKind::PassOut),
        ]
    );
    let text = snap.render();
    assert!(text.starts_with("round 0: 3 components\n"), "{text}");
    assert!(text.contains("#0.inbox -> #1.inbox (PassIn)\n"), "{text}");
    assert!(
        text.contains("#1.outbox -> #0.outbox (PassOut)\n"),
        "{text}"
    );
    assert!(text.contains("#0.outbox -> #2.inbox (Normal)\n"), "{text}");

    // One round: Container sleeps, Child passes both on, Sink takes them.
    assert_eq!(h.run_until_idle(), 3);
    assert_eq!(*got.borrow(), vec![1, 2]);
    let snap = h.scheduler().snapshot();
    assert_eq!(snap.round, 1);
    for c in &snap.components {
        assert_eq!((c.state, c.pending), (RunState::Sleeping, 0), "{}", c.name);
    }
}

#[test]
fn a_component_sees_itself_running_in_its_own_snapshot() {
    let mut h = Harness::new();
    let other = h.spawn(sleeper("Other"));
    let seen: Shared<Vec<(RunState, usize, RunState)>> = shared(Vec::new());
    let sn = seen.clone();
    let me = h.spawn(Script::new("Me", move |_, cx| {
        let snap = cx.snapshot();
        let mine = snap.component(cx.id()).unwrap();
        let theirs = snap.component(other).unwrap();
        sn.borrow_mut()
            .push((mine.state, mine.boxes.len(), theirs.state));
        Step::Done
    }));
    h.run_until_idle();
    assert_eq!(
        *seen.borrow(),
        vec![(RunState::Running, 0, RunState::Sleeping)]
    );
    assert!(!h.is_alive(me));
}

/// A small system with back-pressure, a periodic ticker, a child and a
/// timer, run to completion on virtual time.
fn program() -> (Vec<TraceEntry>, Stats, Vec<u32>, Duration) {
    let mut h = Harness::new();
    let t0 = h.now();
    let mut queue: VecDeque<u32> = (0..200).collect();
    let producer = Script::new("Producer", move |io, _| {
        let mut sent = 0;
        while let Some(v) = queue.pop_front() {
            if let Err(Full(v)) = io.outbox.send(v) {
                queue.push_front(v);
                return Step::Pause;
            }
            sent += 1;
            if sent == 3 {
                return Step::Yield;
            }
        }
        io.signal.send(Signal::ProducerFinished).unwrap();
        Step::Done
    });
    let got = shared(Vec::new());
    let mut slow = false;
    let g = got.clone();
    let consumer = Script::new("Consumer", move |io, _| {
        slow = !slow;
        if slow {
            return Step::Yield;
        }
        if let Some(v) = io.inbox.recv() {
            g.borrow_mut().push(v);
            return Step::Pause;
        }
        if io.control.recv().is_some() {
            return Step::Done;
        }
        Step::Pause
    });
    link_with_limit(&producer.io.outbox, &consumer.io.inbox, 2).unwrap();
    link(&producer.io.signal, &consumer.io.control).unwrap();
    h.spawn(producer);
    h.spawn(consumer);
    let mut ticker: Option<Periodic> = None;
    h.spawn(Script::new("Ticker", move |_, cx| match ticker.as_mut() {
        None => {
            ticker = Some(Periodic::start(cx, Duration::from_millis(7)));
            Step::Pause
        }
        Some(p) => {
            p.due(cx);
            if p.ticks() >= 5 {
                p.stop(cx);
                Step::Done
            } else {
                Step::Pause
            }
        }
    }));
    let mut state = 0;
    h.spawn(Script::new("Parent", move |_, cx| {
        state += 1;
        match state {
            1 => {
                cx.spawn_child(steps("Kid", &[Step::Yield, Step::Done]));
                Step::Pause
            }
            2 => {
                assert!(cx.next_exit().is_some());
                cx.wake_after(Duration::from_millis(20));
                Step::Pause
            }
            _ => Step::Done,
        }
    }));
    assert_eq!(h.scheduler().run(), Ended::Completed);
    let trace = h.trace().to_vec();
    let stats = h.scheduler().stats().clone();
    let elapsed = h.now() - t0;
    let got = got.borrow().clone();
    (trace, stats, got, elapsed)
}

#[test]
fn two_runs_of_the_same_program_give_identical_traces() {
    let (t1, s1, g1, e1) = program();
    let (t2, s2, g2, e2) = program();
    assert!(t1.len() > 300, "trace too short to mean much: {}", t1.len());
    assert_eq!(t1, t2);
    assert_eq!(s1, s2);
    assert_eq!(g1, (0..200).collect::<Vec<_>>());
    assert_eq!(g1, g2);
    assert_eq!(e1, Duration::from_millis(35));
    assert_eq!(e1, e2);
    for name in ["Producer", "Consumer", "Ticker", "Parent", "Kid"] {
        assert!(t1.iter().any(|e| e.name == name), "{name} never ran");
    }
}
