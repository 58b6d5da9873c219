//! Carousel, Seq and Par (reference §2.3-2.5 and §8, Chassis).

use std::cell::RefCell;
use std::rc::Rc;

use kamaelia::axon::*;
use kamaelia::chassis::{Carousel, Par, Seq, SeqItem};
use kamaelia::testing::Harness;
use kamaelia::util::{Choose, DataSource};

type Log = Rc<RefCell<Vec<String>>>;

/// Tags and forwards data; ends on any control signal or on "die".
///
/// | box     | carries  | meaning                          |
/// |---------|----------|----------------------------------|
/// | inbox   | `String` | data; "die" ends it              |
/// | control | `Signal` | any signal: forward it, end      |
/// | outbox  | `String` | "<tag>:<data>"                   |
/// | signal  | `Signal` | the signal, or finished          |
struct Child {
    b: DefaultBoxes<String, String>,
    tag: String,
    log: Log,
}

impl Component for Child {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(m) = self.b.inbox.recv() {
            if m == "die" {
                self.log.borrow_mut().push(format!("{} died", self.tag));
                let _ = self.b.signal.send(Signal::ProducerFinished);
                return Step::Done;
            }
            self.b.outbox.send(format!("{}:{m}", self.tag)).unwrap();
        }
        if let Some(sig) = self.b.control.recv() {
            self.log
                .borrow_mut()
                .push(format!("{} control {sig:?}", self.tag));
            let _ = self.b.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        self.b.list(set)
    }
}

struct Rig {
    h: Harness,
    id: Id,
    log: Log,
    made: Rc<RefCell<Vec<String>>>,
}

fn carousel(first_request: bool) -> Rig {
    let log = Log::default();
    let made = Rc::new(RefCell::new(Vec::new()));
    let (l, m) = (log.clone(), made.clone());
    let c = Carousel::<String, String, String>::new(move |tag: String| {
        m.borrow_mut().push(tag.clone());
        Box::new(Child {
            b: DefaultBoxes::new(),
            tag,
            log: l.clone(),
        })
    })
    .make_first_request(first_request);
    let mut h = Harness::new();
    let id = h.spawn(c);
    Rig { h, id, log, made }
}

#[test]
fn carousel_is_idle_by_default_and_can_ask_first() {
    let mut r = carousel(false);
    let req = r.h.collector::<Choose>(r.id, "requestNext").unwrap();
    r.h.run_until_idle();
    assert!(req.is_empty());
    assert!(r.made.borrow().is_empty());
    assert!(r.h.is_sleeping(r.id));

    let mut r = carousel(true);
    let req = r.h.collector::<Choose>(r.id, "requestNext").unwrap();
    r.h.run_until_idle();
    assert_eq!(req.drain(), vec![Choose::Next]);
}

#[test]
fn carousel_shuts_down_when_idle() {
    let mut r = carousel(false);
    let ctl = r.h.feeder::<Signal>(r.id, "control").unwrap();
    let sig = r.h.collector::<Signal>(r.id, "signal").unwrap();
    ctl.send(Signal::Shutdown).unwrap();
    r.h.run_until_idle();
    assert_eq!(sig.drain(), vec![Signal::Shutdown]);
    assert!(!r.h.is_alive(r.id));
}

#[test]
fn carousel_makes_a_child_per_next_and_plumbs_it() {
    let mut r = carousel(false);
    let next = r.h.feeder::<String>(r.id, "next").unwrap();
    let input = r.h.feeder::<String>(r.id, "inbox").unwrap();
    let out = r.h.collector::<String>(r.id, "outbox").unwrap();
    let req = r.h.collector::<Choose>(r.id, "requestNext").unwrap();
    let sig = r.h.collector::<Signal>(r.id, "signal").unwrap();
    input.send("early".into()).unwrap(); // waits for the child
    next.send("one".into()).unwrap();
    r.h.run_until_idle();
    assert_eq!(*r.made.borrow(), vec!["one"]);
    input.send("x".into()).unwrap();
    r.h.run_until_idle();
    assert_eq!(out.drain(), vec!["one:early", "one:x"]);
    // The child ending (its signal is not passed on) asks for the next.
    input.send("die".into()).unwrap();
    r.h.run_until_idle();
    assert_eq!(req.drain(), vec![Choose::Next]);
    assert!(sig.is_empty(), "a child's end is not the carousel's");
    assert!(r.h.is_alive(r.id));
    next.send("two".into()).unwrap();
    input.send("y".into()).unwrap();
    r.h.run_until_idle();
    assert_eq!(out.drain(), vec!["two:y"]);
}

#[test]
fn carousel_replaces_a_running_child_only_after_it_ended() {
    let mut r = carousel(false);
    let next = r.h.feeder::<String>(r.id, "next").unwrap();
    let req = r.h.collector::<Choose>(r.id, "requestNext").unwrap();
    next.send("one".into()).unwrap();
    r.h.run_until_idle();
    next.send("two".into()).unwrap();
    r.h.run_until_idle();
    assert_eq!(*r.made.borrow(), vec!["one", "two"]);
    // "one" was told to stop before "two" was made.
    assert_eq!(*r.log.borrow(), vec!["one control Shutdown"]);
    assert!(req.is_empty(), "a queued next is not a request for one");
}

#[test]
fn carousel_forwards_control_and_waits_for_its_child() {
    let mut r = carousel(false);
    let next = r.h.feeder::<String>(r.id, "next").unwrap();
    let ctl = r.h.feeder::<Signal>(r.id, "control").unwrap();
    let sig = r.h.collector::<Signal>(r.id, "signal").unwrap();
    next.send("one".into()).unwrap();
    r.h.run_until_idle();
    ctl.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(*r.log.borrow(), vec!["one control ProducerFinished"]);
    assert_eq!(sig.drain(), vec![Signal::ProducerFinished]);
    assert!(!r.h.is_alive(r.id));
}

#[test]
fn producer_finished_runs_queued_nexts_shutdown_drops_them() {
    // Finished: every queued item still gets its child, in order.
    let mut r = carousel(false);
    let next = r.h.feeder::<String>(r.id, "next").unwrap();
    let ctl = r.h.feeder::<Signal>(r.id, "control").unwrap();
    for t in ["a", "b", "c"] {
        next.send(t.into()).unwrap();
    }
    ctl.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(*r.made.borrow(), vec!["a", "b", "c"]);
    assert!(!r.h.is_alive(r.id));

    // Shutdown: the running child is stopped, the queue dropped.
    let mut r = carousel(false);
    let next = r.h.feeder::<String>(r.id, "next").unwrap();
    let ctl = r.h.feeder::<Signal>(r.id, "control").unwrap();
    next.send("a".into()).unwrap();
    r.h.run_until_idle();
    for t in ["b", "c"] {
        next.send(t.into()).unwrap();
    }
    ctl.send(Signal::Shutdown).unwrap();
    r.h.run_until_idle();
    assert_eq!(*r.made.borrow(), vec!["a"]);
    assert!(!r.h.is_alive(r.id));
}

#[test]
fn seq_runs_items_one_after_another() {
    let seq = Seq::<(), u32>::new(vec![
        SeqItem::component(DataSource::new(vec![1u32, 2])),
        SeqItem::say("between"),
        SeqItem::component(DataSource::new(vec![3u32])),
        SeqItem::say("end"),
    ]);
    let mut h = Harness::new();
    let id = h.spawn(seq);
    let out = h.collector::<u32>(id, "outbox").unwrap();
    let say = h.collector::<String>(id, "say").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), vec![1, 2, 3]);
    assert_eq!(say.drain(), vec!["between", "end"]);
    // One finish at the very end, none from the items in between.
    assert_eq!(sig.drain(), vec![Signal::ProducerFinished]);
    assert!(!h.is_alive(id));
    // The second source first ran only after the first had ended.
    let sources: Vec<&TraceEntry> = h
        .trace()
        .iter()
        .filter(|t| t.name == "DataSource")
        .collect();
    let first = sources[0].id;
    let first_done = sources
        .iter()
        .position(|t| t.id == first && t.result == StepResult::Done)
        .unwrap();
    let second_start = sources.iter().position(|t| t.id != first).unwrap();
    assert!(second_start > first_done, "{sources:?}");
}

#[test]
fn seq_shutdown_skips_the_rest() {
    let log = Log::default();
    let seq = Seq::<String, String>::new(vec![
        SeqItem::Component(Box::new(Child {
            b: DefaultBoxes::new(),
            tag: "first".into(),
            log: log.clone(),
        })),
        SeqItem::component(DataSource::new(vec!["never".to_string()])),
    ]);
    let mut h = Harness::new();
    let id = h.spawn(seq);
    let input = h.feeder::<String>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<String>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input.send("a".into()).unwrap();
    h.run_until_idle();
    ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), vec!["first:a"]);
    assert_eq!(*log.borrow(), vec!["first control Shutdown"]);
    assert_eq!(sig.drain(), vec![Signal::Shutdown]);
    assert!(!h.is_alive(id));
}

fn child(tag: &str, log: &Log) -> Box<dyn Component> {
    Box::new(Child {
        b: DefaultBoxes::new(),
        tag: tag.into(),
        log: log.clone(),
    })
}

#[test]
fn par_copies_input_to_every_child_and_merges_output() {
    let log = Log::default();
    let par = Par::<String, String>::new(vec![child("a", &log), child("b", &log)]);
    let mut h = Harness::new();
    let id = h.spawn(par);
    let input = h.feeder::<String>(id, "inbox").unwrap();
    let out = h.collector::<String>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input.send("x".into()).unwrap();
    h.run_until_idle();
    let mut got = out.drain();
    got.sort();
    assert_eq!(got, vec!["a:x", "b:x"]);
    // One child ending does not end the Par, nor signal downstream.
    input.send("die".into()).unwrap(); // both get it...
    h.run_until_idle();
    assert_eq!(sig.drain(), vec![Signal::ProducerFinished]); // ...one signal, at the end
    assert!(!h.is_alive(id));
}

#[test]
fn par_signals_once_after_the_last_child_and_waits_on_shutdown() {
    let log = Log::default();
    let par = Par::<String, String>::new(vec![child("a", &log), child("b", &log)]);
    let mut h = Harness::new();
    let id = h.spawn(par);
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_until_idle();
    ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    let mut l = log.borrow().clone();
    l.sort();
    assert_eq!(l, vec!["a control Shutdown", "b control Shutdown"]);
    assert_eq!(sig.drain(), vec![Signal::Shutdown]);
    assert!(!h.is_alive(id));
}

#[test]
fn par_holds_back_for_a_full_child_without_losing_order() {
    /// Takes one message per wake, on a timer, to be slow.
    struct Slow(Inbox<u32>, Rc<RefCell<Vec<u32>>>, usize);
    impl Component for Slow {
        fn step(&mut self, cx: &mut Cx) -> Step {
            if let Some(v) = self.0.recv() {
                self.1.borrow_mut().push(v);
                if self.1.borrow().len() == self.2 {
                    return Step::Done;
                }
                cx.wake_after(std::time::Duration::from_millis(10));
                cx.hold_input();
            }
            Step::Pause
        }
        fn boxes(&self, set: &mut BoxSet) {
            set.add(&self.0);
        }
    }
    let fast = Rc::new(RefCell::new(Vec::new()));
    let slow = Rc::new(RefCell::new(Vec::new()));
    let par = Par::<u32, ()>::new(vec![
        Box::new(Slow(Inbox::inbox(), fast.clone(), 50)),
        Box::new(Slow(Inbox::bounded("inbox", "slow", 1), slow.clone(), 50)),
    ]);
    let mut h = Harness::new();
    let id = h.spawn(par);
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    for i in 0..50 {
        input.send(i).unwrap();
    }
    h.run_for(std::time::Duration::from_secs(5));
    assert_eq!(*fast.borrow(), (0..50).collect::<Vec<_>>());
    assert_eq!(*slow.borrow(), (0..50).collect::<Vec<_>>());
    assert!(!h.is_alive(id));
}

#[test]
fn par_waits_for_a_full_child_control_instead_of_dropping_signals() {
    /// Takes one control signal per step (its control holds one); ends on
    /// shutdown.
    struct OneAtATime(Inbox<Signal>, Rc<RefCell<Vec<Signal>>>);
    impl Component for OneAtATime {
        fn step(&mut self, _cx: &mut Cx) -> Step {
            if let Some(s) = self.0.recv() {
                self.1.borrow_mut().push(s.clone());
                return if s.is_shutdown() {
                    Step::Done
                } else {
                    Step::Yield
                };
            }
            Step::Pause
        }
        fn boxes(&self, set: &mut BoxSet) {
            set.add(&self.0);
        }
    }
    let seen = Rc::new(RefCell::new(Vec::new()));
    let par = Par::<(), ()>::new(vec![Box::new(OneAtATime(
        Inbox::bounded("control", "one at a time", 1),
        seen.clone(),
    ))]);
    let mut h = Harness::new();
    let id = h.spawn(par);
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_until_idle();
    for s in [
        Signal::ProducerFinished,
        Signal::ProducerFinished,
        Signal::Shutdown,
    ] {
        ctl.send(s).unwrap();
    }
    h.run_until_idle();
    assert_eq!(
        *seen.borrow(),
        vec![
            Signal::ProducerFinished,
            Signal::ProducerFinished,
            Signal::Shutdown
        ]
    );
    assert_eq!(sig.drain(), vec![Signal::Shutdown]);
    assert!(!h.is_alive(id));
}
