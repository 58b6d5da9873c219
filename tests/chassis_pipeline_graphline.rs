//! Pipeline and Graphline, after the original chassis test suites
//! (reference §8, Chassis): wiring, activation, pass-through boxes,
//! termination, signal rules, control dissemination, build-time checks.

use std::cell::RefCell;
use std::rc::Rc;

use kamaelia::axon::*;
use kamaelia::chassis::{BuildError, Graphline, Pipeline};
use kamaelia::testing::Harness;
use kamaelia::{graphline, pipeline};

type Log = Rc<RefCell<Vec<String>>>;

/// A scriptable child: tags and forwards data; records what it sees;
/// ends on any control signal (forwarding it) or on the data "die".
///
/// | box     | carries  | meaning                              |
/// |---------|----------|--------------------------------------|
/// | inbox   | `String` | data; "die" ends it                  |
/// | control | `Signal` | any signal: forward it, end          |
/// | outbox  | `String` | "<tag>:<data>"                       |
/// | signal  | `Signal` | the control signal, or finished      |
struct Mock {
    b: DefaultBoxes<String, String>,
    tag: &'static str,
    log: Log,
    started: bool,
}

fn mock(tag: &'static str, log: &Log) -> Mock {
    Mock {
        b: DefaultBoxes::new(),
        tag,
        log: log.clone(),
        started: false,
    }
}

impl Component for Mock {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        if !self.started {
            self.started = true;
            self.log.borrow_mut().push(format!("{} start", self.tag));
        }
        while let Some(m) = self.b.inbox.recv() {
            self.log.borrow_mut().push(format!("{} got {m}", self.tag));
            if m == "die" {
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
    fn name(&self) -> &str {
        self.tag
    }
}

/// Emits numbers (a different type from Mock), for type-mismatch checks.
struct Numbers(Outbox<u32>);
impl Component for Numbers {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        Step::Done
    }
    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.0);
    }
}

fn started(log: &Log) -> Vec<String> {
    log.borrow()
        .iter()
        .filter(|l| l.ends_with("start"))
        .cloned()
        .collect()
}

#[test]
fn pipeline_children_start_only_with_the_pipeline() {
    let log = Log::default();
    let p = pipeline![mock("a", &log), mock("b", &log)].unwrap();
    assert!(started(&log).is_empty(), "building starts nothing");
    let mut h = Harness::new();
    let id = h.spawn(p);
    assert_eq!(h.step(), Some((id, StepResult::Sleep)));
    assert!(started(&log).is_empty(), "children run from the next round");
    h.run_until_idle();
    assert_eq!(started(&log), vec!["a start", "b start"]);
}

#[test]
fn pipeline_wires_data_and_signals_in_order_and_ends_after_all_children() {
    let log = Log::default();
    let p = pipeline![mock("a", &log), mock("b", &log), mock("c", &log)].unwrap();
    let mut h = Harness::new();
    let id = h.spawn(p);
    let input = h.feeder::<String>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<String>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input.send("x".into()).unwrap();
    input.send("y".into()).unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), vec!["c:b:a:x", "c:b:a:y"]);
    assert!(h.is_alive(id));
    ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    // One shutdown tears the chain down front to back, then comes out.
    let controls: Vec<String> = log
        .borrow()
        .iter()
        .filter(|l| l.contains("control"))
        .cloned()
        .collect();
    assert_eq!(
        controls,
        vec![
            "a control Shutdown",
            "b control Shutdown",
            "c control Shutdown"
        ]
    );
    assert_eq!(sig.drain(), vec![Signal::Shutdown]);
    assert!(!h.is_alive(id), "the pipeline ends once all children have");
}

#[test]
fn pipeline_waits_for_every_child() {
    let log = Log::default();
    let p = pipeline![mock("a", &log), mock("b", &log)].unwrap();
    let mut h = Harness::new();
    let id = h.spawn(p);
    let input = h.feeder::<String>(id, "inbox").unwrap();
    input.send("die".into()).unwrap(); // a ends, and its finish ends b
    h.run_until_idle();
    assert!(!h.is_alive(id));
    assert!(log
        .borrow()
        .contains(&"b control ProducerFinished".to_string()));
}

#[test]
fn circular_pipeline_feeds_back() {
    /// Counts down: emits n-1 for each n > 0, finishes at 0.
    struct Down(DefaultBoxes<u32, u32>, Rc<RefCell<Vec<u32>>>);
    impl Component for Down {
        fn step(&mut self, _cx: &mut Cx) -> Step {
            while let Some(n) = self.0.inbox.recv() {
                self.1.borrow_mut().push(n);
                if n == 0 {
                    let _ = self.0.signal.send(Signal::ProducerFinished);
                    return Step::Done;
                }
                self.0.outbox.send(n - 1).unwrap();
            }
            if self.0.control.recv().is_some() {
                return Step::Done;
            }
            Step::Pause
        }
        fn boxes(&self, set: &mut BoxSet) {
            self.0.list(set)
        }
    }
    let seen = Rc::new(RefCell::new(Vec::new()));
    let p = Pipeline::circular(vec![
        Box::new(Down(DefaultBoxes::new(), seen.clone())),
        Box::new(Down(DefaultBoxes::new(), seen.clone())),
    ])
    .unwrap();
    assert!(p.outbox().is_none(), "a ring has no way out");
    let mut h = Harness::new();
    let id = h.spawn(p);
    h.feeder::<u32>(id, "inbox").unwrap().send(5).unwrap();
    h.run_until_idle();
    assert_eq!(*seen.borrow(), vec![5, 4, 3, 2, 1, 0]);
    assert!(!h.is_alive(id));
}

#[test]
fn pipeline_build_errors_name_the_stage_and_types() {
    let log = Log::default();
    let e = pipeline![Numbers(Outbox::outbox()), mock("b", &log)].unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("stage 1") && msg.contains("stage 2"), "{msg}");
    assert!(msg.contains("u32") && msg.contains("String"), "{msg}");
    assert!(matches!(Pipeline::new(vec![]), Err(BuildError::Empty)));
}

#[test]
fn graphline_checks_its_table_when_built() {
    let log = Log::default();
    let unknown_child = graphline! { "A" => mock("a", &log); ("A", "outbox") => ("B", "inbox"), };
    assert_eq!(
        unknown_child.err(),
        Some(BuildError::NoSuchChild("B".into()))
    );
    let unknown_box = graphline! { "A" => mock("a", &log); ("A", "nope") => ("self", "outbox"), };
    assert_eq!(
        unknown_box.err(),
        Some(BuildError::NoSuchBox {
            child: "A".into(),
            name: "nope".into()
        })
    );
    let mismatch = graphline! {
        "N" => Numbers(Outbox::outbox()), "A" => mock("a", &log);
        ("N", "outbox") => ("A", "inbox"),
    }
    .err()
    .unwrap();
    let msg = mismatch.to_string();
    assert!(msg.contains("N.outbox") && msg.contains("A.inbox"), "{msg}");
    assert!(msg.contains("u32") && msg.contains("String"), "{msg}");
    let dup = Graphline::builder()
        .child("A", mock("a", &log))
        .child("A", mock("b", &log))
        .build();
    assert_eq!(dup.err(), Some(BuildError::DuplicateChild("A".into())));
    let selfie = graphline! { "A" => mock("a", &log); ("self", "inbox") => ("self", "outbox"), };
    assert!(matches!(selfie, Err(BuildError::SelfLink(_))));
    assert!(started(&log).is_empty());
}

#[test]
fn graphline_passes_through_in_and_out_with_boxes_made_as_needed() {
    let log = Log::default();
    let g = graphline! {
        "A" => mock("a", &log), "B" => mock("b", &log);
        ("self", "inbox") => ("A", "inbox"),
        ("A", "outbox") => ("B", "inbox"),
        ("B", "outbox") => ("self", "outbox"),
        ("self", "extra") => ("B", "inbox"),
        ("A", "signal") => ("self", "side"),
    }
    .unwrap();
    for name in ["inbox", "outbox", "extra", "side", "control", "signal"] {
        assert!(g.find(name).is_some(), "{name}");
    }
    assert_eq!(g.find("extra").unwrap().direction(), Dir::In);
    assert_eq!(g.find("side").unwrap().direction(), Dir::Out);
    assert!(g.find("side").unwrap().type_name().contains("Signal"));
    let mut h = Harness::new();
    let id = h.spawn(g);
    let input = h.feeder::<String>(id, "inbox").unwrap();
    let extra = h.feeder::<String>(id, "extra").unwrap();
    let out = h.collector::<String>(id, "outbox").unwrap();
    input.send("1".into()).unwrap();
    extra.send("2".into()).unwrap();
    h.run_until_idle();
    // "2" goes straight into B; "1" takes one more hop through A.
    assert_eq!(out.drain(), vec!["b:2", "b:a:1"]);
}

#[test]
fn graphline_copies_control_to_children_without_their_own_control_link() {
    let log = Log::default();
    let g = graphline! {
        "A" => mock("a", &log), "B" => mock("b", &log), "C" => mock("c", &log);
        ("A", "signal") => ("B", "control"),
    }
    .unwrap();
    let mut h = Harness::new();
    let id = h.spawn(g);
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_until_idle();
    ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    let log = log.borrow();
    // A and C got it from the graphline; B only through A's signal.
    assert!(log.contains(&"a control Shutdown".to_string()));
    assert!(log.contains(&"c control Shutdown".to_string()));
    assert_eq!(log.iter().filter(|l| l.starts_with("b control")).count(), 1);
    // It passes on the shutdown it received, once, after all children ended.
    assert_eq!(sig.drain(), vec![Signal::Shutdown]);
    assert!(!h.is_alive(id));
}

#[test]
fn graphline_says_producer_finished_when_children_end_by_themselves() {
    let log = Log::default();
    let g = graphline! {
        "A" => mock("a", &log);
        ("self", "inbox") => ("A", "inbox"),
    }
    .unwrap();
    let mut h = Harness::new();
    let id = h.spawn(g);
    let input = h.feeder::<String>(id, "inbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input.send("die".into()).unwrap();
    h.run_until_idle();
    assert_eq!(sig.drain(), vec![Signal::ProducerFinished]);
    assert!(!h.is_alive(id));
}

#[test]
fn graphline_sends_nothing_itself_when_a_child_owns_its_signal() {
    let log = Log::default();
    let g = graphline! {
        "A" => mock("a", &log), "B" => mock("b", &log);
        ("A", "signal") => ("self", "signal"),
    }
    .unwrap();
    let mut h = Harness::new();
    let id = h.spawn(g);
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_until_idle();
    ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    // Exactly one: A's forwarded shutdown; the graphline adds none.
    assert_eq!(sig.drain(), vec![Signal::Shutdown]);
    assert!(!h.is_alive(id));
}

#[test]
fn graphline_control_passed_to_one_child_reaches_only_it() {
    let log = Log::default();
    let g = graphline! {
        "A" => mock("a", &log), "B" => mock("b", &log);
        ("self", "control") => ("A", "control"),
        ("A", "signal") => ("B", "control"),
    }
    .unwrap();
    let mut h = Harness::new();
    let id = h.spawn(g);
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    h.run_until_idle();
    ctl.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    let controls: Vec<String> = log
        .borrow()
        .iter()
        .filter(|l| l.contains("control"))
        .cloned()
        .collect();
    assert_eq!(
        controls,
        vec!["a control ProducerFinished", "b control ProducerFinished"]
    );
    assert!(!h.is_alive(id));
}

#[test]
fn graphline_does_not_spin_on_unrouted_input() {
    // The original busy-waits when data reaches a graphline inbox that
    // leads nowhere. Here it sleeps, and the data is counted at the end.
    let log = Log::default();
    let g = graphline! {
        "A" => mock("a", &log);
        ("self", "inbox") => ("A", "inbox"),
    }
    .unwrap();
    let mut h = Harness::new();
    let id = h.spawn(g);
    let input = h.feeder::<String>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    h.run_until_idle();
    ctl.send(Signal::Shutdown).unwrap(); // A ends; the inbox now leads nowhere
    h.run_until_idle();
    assert!(!h.is_alive(id));
    input.send("late".into()).unwrap();
    assert_eq!(input.outbox().held(), 1, "kept by the sender, not lost");
    assert_eq!(h.run_until_idle(), 0);
}

/// Takes one control signal per step (its control holds one), noting each;
/// ends on shutdown.
///
/// | box     | carries  | meaning                              |
/// |---------|----------|--------------------------------------|
/// | control | `Signal` | bounded to 1; shutdown ends it       |
pub struct OneAtATime {
    pub control: Inbox<Signal>,
    pub seen: Rc<RefCell<Vec<Signal>>>,
}

impl Component for OneAtATime {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        if let Some(s) = self.control.recv() {
            self.seen.borrow_mut().push(s.clone());
            if s.is_shutdown() {
                return Step::Done;
            }
            return Step::Yield;
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.control);
    }
}

#[test]
fn graphline_waits_for_a_full_child_control_instead_of_dropping_signals() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let g = graphline! {
        "A" => OneAtATime { control: Inbox::bounded("control", "one at a time", 1), seen: seen.clone() };
    }
    .unwrap();
    let mut h = Harness::new();
    let id = h.spawn(g);
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
    assert_eq!(h.scheduler().stats().undelivered, 0);
}
