//! Run-time boxes (reference §1.9, §8 "AdaptiveComms") and the services
//! registry (§1.11, §8 "CAT").

mod common;

use std::cell::Cell;
use std::collections::{HashSet, VecDeque};
use std::rc::Rc;

use common::*;
use kamaelia::axon::{
    AdaptiveBoxes, BoxSet, Component, Cx, Ended, Inbox, LinkErrorKind, NoSuchBox, Outbox,
    Scheduler, ServiceError, Step, StepResult as R,
};
use kamaelia::testing::Harness;

enum Cmd {
    AddIn(&'static str),
    AddOut(&'static str),
    Remove(String),
    Send(String, u32),
}

/// A component that adds and removes run-time boxes on command. `inbox`
/// pokes it; it logs what it did and everything its run-time inboxes got.
struct Dyn {
    io: Io,
    extra: AdaptiveBoxes,
    ins: Vec<Inbox<u32>>,
    outs: Vec<Outbox<u32>>,
    cmds: Shared<VecDeque<Cmd>>,
    log: Shared<Vec<String>>,
}

impl Dyn {
    fn new(cmds: &Shared<VecDeque<Cmd>>, log: &Shared<Vec<String>>) -> Self {
        Dyn {
            io: Io::new(),
            extra: AdaptiveBoxes::new(),
            ins: Vec::new(),
            outs: Vec::new(),
            cmds: cmds.clone(),
            log: log.clone(),
        }
    }
}

impl Component for Dyn {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while self.io.inbox.recv().is_some() {}
        let cmds: Vec<Cmd> = self.cmds.borrow_mut().drain(..).collect();
        let mut log = self.log.borrow_mut();
        for c in cmds {
            match c {
                Cmd::AddIn(base) => {
                    let b = self.extra.add_inbox::<u32>(base, "run-time inbox");
                    log.push(format!("in {}", b.name()));
                    self.ins.push(b);
                }
                Cmd::AddOut(base) => {
                    let b = self.extra.add_outbox::<u32>(base, "run-time outbox");
                    log.push(format!("out {}", b.name()));
                    self.outs.push(b);
                }
                Cmd::Remove(name) => match self.extra.remove(&name) {
                    Ok(dropped) => {
                        log.push(format!("removed {name} ({dropped} dropped)"));
                        self.ins.retain(|i| i.name() != name);
                        self.outs.retain(|o| o.name() != name);
                    }
                    Err(e) => log.push(format!("error {e}")),
                },
                Cmd::Send(name, v) => {
                    let o = self.outs.iter().find(|o| o.name() == name).unwrap();
                    log.push(format!("send {name} {v} {}", o.send(v).is_ok()));
                }
            }
        }
        for i in &self.ins {
            while let Some(v) = i.recv() {
                log.push(format!("got {} {v}", i.name()));
            }
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        self.io.list(set);
        set.adaptive(&self.extra);
    }
    fn name(&self) -> &str {
        "Dyn"
    }
}

struct Rig {
    h: Harness,
    id: kamaelia::axon::Id,
    cmds: Shared<VecDeque<Cmd>>,
    log: Shared<Vec<String>>,
    poke: kamaelia::testing::Feeder<u32>,
}

impl Rig {
    fn new() -> Rig {
        let cmds = shared(VecDeque::new());
        let log = shared(Vec::new());
        let mut h = Harness::new();
        let id = h.spawn(Dyn::new(&cmds, &log));
        let poke = h.feeder::<u32>(id, "inbox").unwrap();
        assert_eq!(h.step(), Some((id, R::Sleep)));
        Rig {
            h,
            id,
            cmds,
            log,
            poke,
        }
    }
    /// Runs the commands in one step of the component; returns its log lines.
    fn run(&mut self, cmds: Vec<Cmd>) -> Vec<String> {
        self.cmds.borrow_mut().extend(cmds);
        self.poke.send(0).unwrap();
        assert_eq!(self.h.step(), Some((self.id, R::Sleep)));
        assert_eq!(self.h.step(), None);
        self.log.borrow_mut().drain(..).collect()
    }
    fn box_names(&mut self) -> Vec<String> {
        let snap = self.h.scheduler().snapshot();
        snap.component(self.id)
            .unwrap()
            .boxes
            .iter()
            .map(|b| b.name.clone())
            .collect()
    }
}

/// `name` is `base` followed by a number.
fn suffixed(name: &str, base: &str) -> bool {
    name.strip_prefix(base)
        .is_some_and(|n| !n.is_empty() && n.parse::<u64>().is_ok())
}

#[test]
fn added_boxes_get_their_name_or_a_numbered_one_when_it_is_taken() {
    let mut r = Rig::new();
    let log = r.run(vec![
        Cmd::AddIn("reply"),
        Cmd::AddIn("reply"),
        Cmd::AddIn("inbox"),
        Cmd::AddOut("signal"),
        Cmd::AddOut("reply"),
    ]);
    assert_eq!(log.len(), 5);
    assert_eq!(log[0], "in reply");
    let names: Vec<&str> = log.iter().map(|l| l.split(' ').nth(1).unwrap()).collect();
    assert!(suffixed(names[1], "reply"), "{log:?}");
    assert!(suffixed(names[2], "inbox"), "{log:?}");
    assert!(suffixed(names[3], "signal"), "{log:?}");
    assert!(suffixed(names[4], "reply"), "{log:?}");
    let all = r.box_names();
    assert_eq!(all.len(), 9);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 9, "{all:?}");
    assert_eq!(&all[..4], &["inbox", "control", "outbox", "signal"]);
}

#[test]
fn a_box_added_before_spawning_does_not_take_a_fixed_box_name() {
    let cmds = shared(VecDeque::new());
    let log = shared(Vec::new());
    let mut d = Dyn::new(&cmds, &log);
    let early = d.extra.add_inbox::<u32>("inbox", "added before spawning");
    d.ins.push(early);
    let mut h = Harness::new();
    let id = h.spawn(d);
    let snap = h.scheduler().snapshot();
    let names: Vec<String> = snap
        .component(id)
        .unwrap()
        .boxes
        .iter()
        .map(|b| b.name.clone())
        .collect();
    assert_eq!(names.len(), 5);
    assert_eq!(
        names.iter().collect::<HashSet<_>>().len(),
        5,
        "duplicate box names: {names:?}"
    );
}

#[test]
fn removing_a_box_that_exists_and_one_that_does_not() {
    let mut r = Rig::new();
    let log = r.run(vec![Cmd::AddIn("a"), Cmd::AddOut("b")]);
    assert_eq!(log, vec!["in a", "out b"]);
    let log = r.run(vec![
        Cmd::Remove("a".into()),
        Cmd::Remove("b".into()),
        Cmd::Remove("a".into()),
        Cmd::Remove("inbox".into()),
    ]);
    assert_eq!(
        log,
        vec![
            "removed a (0 dropped)",
            "removed b (0 dropped)",
            "error no run-time box named 'a'",
            "error no run-time box named 'inbox'",
        ]
    );
    assert_eq!(r.box_names(), vec!["inbox", "control", "outbox", "signal"]);
    assert_eq!(
        NoSuchBox("x".into()).to_string(),
        "no run-time box named 'x'"
    );
}

#[test]
fn a_run_time_inbox_receives_messages_and_wakes_its_owner() {
    let mut r = Rig::new();
    assert_eq!(r.run(vec![Cmd::AddIn("reply")]), vec!["in reply"]);
    let f = r.h.feeder::<u32>(r.id, "reply").unwrap();
    assert!(r.h.is_sleeping(r.id));
    f.send(42).unwrap();
    assert!(!r.h.is_sleeping(r.id));
    f.send(43).unwrap();
    assert_eq!(r.h.step(), Some((r.id, R::Sleep)));
    assert_eq!(r.h.step(), None);
    assert_eq!(*r.log.borrow(), vec!["got reply 42", "got reply 43"]);
}

#[test]
fn a_run_time_outbox_can_be_linked_and_removal_cuts_links_both_ways() {
    let mut r = Rig::new();
    assert_eq!(
        r.run(vec![Cmd::AddIn("in"), Cmd::AddOut("out")]),
        vec!["in in", "out out"]
    );
    let f = r.h.feeder::<u32>(r.id, "in").unwrap();
    let c = r.h.collector::<u32>(r.id, "out").unwrap();
    assert_eq!(
        r.run(vec![Cmd::Send("out".into(), 7)]),
        vec!["send out 7 true"]
    );
    assert_eq!(c.drain(), vec![7]);
    let log = r.run(vec![Cmd::Remove("in".into()), Cmd::Remove("out".into())]);
    assert_eq!(
        log,
        vec!["removed in (0 dropped)", "removed out (0 dropped)"]
    );
    // The feeder's link into the removed inbox is cut: its sends are kept.
    assert!(!f.outbox().is_linked());
    f.send(1).unwrap();
    assert_eq!(f.outbox().held(), 1);
    assert!(r.h.is_sleeping(r.id));
    assert_eq!(
        r.h.scheduler().find_box(r.id, "in").unwrap_err().kind,
        LinkErrorKind::NoSuchBox {
            component: format!("Dyn{}", r.id),
            name: "in".into()
        }
    );
    assert!(r.h.scheduler().snapshot().links.is_empty());
}

#[test]
fn messages_waiting_in_a_removed_inbox_are_counted_not_silently_lost() {
    let mut r = Rig::new();
    r.run(vec![Cmd::AddIn("reply")]);
    let f = r.h.feeder::<u32>(r.id, "reply").unwrap();
    f.send(1).unwrap();
    f.send(2).unwrap();
    // Removed in the same step, before the component reads them.
    let log = r.run(vec![Cmd::Remove("reply".into())]);
    assert_eq!(log, vec!["removed reply (2 dropped)"]);
    // Nothing of it is left pending for the component.
    let snap = r.h.scheduler().snapshot();
    assert_eq!(snap.component(r.id).unwrap().pending, 0);
    assert!(r.h.is_sleeping(r.id));
}

// ---------------------------------------------------------------------------
// Services

#[test]
fn service_register_lookup_and_deregister() {
    let mut s = Scheduler::with_virtual_time();
    let a = s.spawn(sleeper("Svc"));
    let inbox = s.find_box(a, "inbox").unwrap();
    assert_eq!(s.register_service("svc", inbox.clone()), Ok(()));
    assert_eq!(
        s.register_service("svc", inbox.clone()),
        Err(ServiceError::AlreadyExists("svc".into()))
    );
    // A box of no spawned component.
    let loose: Inbox<u32> = Inbox::inbox();
    assert_eq!(
        s.register_service("other", loose.erased()),
        Err(ServiceError::BadComponent)
    );
    // An outbox is no inbox.
    let outbox = s.find_box(a, "outbox").unwrap();
    assert_eq!(
        s.register_service("other", outbox),
        Err(ServiceError::BadInbox("outbox".into()))
    );
    let found = s.lookup_service("svc").unwrap();
    assert_eq!(found.component, a);
    assert!(found.inbox.same(&inbox));
    assert_eq!(
        s.lookup_service("nope").unwrap_err(),
        ServiceError::NotFound("nope".into())
    );
    assert_eq!(s.services(), vec!["svc".to_string()]);
    // A service delivers to the component's inbox and wakes it.
    assert_eq!(s.step(), Some((a, R::Sleep)));
    found.inbox.address::<u32>().unwrap().deliver(5).unwrap();
    assert!(!s.is_sleeping(a));
    assert!(found.inbox.address::<String>().is_none());
    let gone = s.deregister_service("svc").unwrap();
    assert_eq!(gone.component, a);
    assert_eq!(
        s.lookup_service("svc").unwrap_err(),
        ServiceError::NotFound("svc".into())
    );
    assert_eq!(
        s.deregister_service("svc").unwrap_err(),
        ServiceError::NotFound("svc".into())
    );
    assert!(s.services().is_empty());
    assert_eq!(
        ServiceError::AlreadyExists("x".into()).to_string(),
        "service 'x' already exists"
    );
    assert_eq!(
        ServiceError::NotFound("x".into()).to_string(),
        "no service named 'x'"
    );
    assert_eq!(
        ServiceError::BadComponent.to_string(),
        "service component is not alive"
    );
    assert_eq!(
        ServiceError::BadInbox("x".into()).to_string(),
        "'x' is not an inbox of the component"
    );
}

#[test]
fn a_finished_component_cannot_register_and_its_registrations_disappear() {
    let mut s = Scheduler::with_virtual_time();
    let a = s.spawn(steps("Svc", &[Step::Yield, Step::Done]));
    let b = s.spawn(steps("Short", &[Step::Done]));
    let a_in = s.find_box(a, "inbox").unwrap();
    let a_ctl = s.find_box(a, "control").unwrap();
    let b_in = s.find_box(b, "inbox").unwrap();
    s.register_service("svc", a_in).unwrap();
    s.register_service("svc.control", a_ctl).unwrap();
    assert_eq!(s.step(), Some((a, R::Yield)));
    assert_eq!(s.step(), Some((b, R::Done)));
    assert_eq!(
        s.register_service("short", b_in),
        Err(ServiceError::BadComponent)
    );
    assert_eq!(
        s.services(),
        vec!["svc".to_string(), "svc.control".to_string()]
    );
    assert_eq!(s.run(), Ended::Completed);
    assert!(s.services().is_empty());
    assert_eq!(
        s.lookup_service("svc").unwrap_err(),
        ServiceError::NotFound("svc".into())
    );
}

#[test]
fn service_or_create_creates_once_then_returns_the_same() {
    let mut s = Scheduler::with_virtual_time();
    let made = Rc::new(Cell::new(0));
    let got = shared(Vec::new());
    let found: Shared<Vec<kamaelia::axon::Id>> = shared(Vec::new());
    for (name, v) in [("Client1", 10u32), ("Client2", 20)] {
        let (made, got, found) = (made.clone(), got.clone(), found.clone());
        s.spawn(Script::new(name, move |_, cx| {
            let svc = cx
                .service_or_create("echo", "inbox", || {
                    made.set(made.get() + 1);
                    taker("Echo", usize::MAX, &got)
                })
                .unwrap();
            found.borrow_mut().push(svc.component);
            svc.inbox.address::<u32>().unwrap().deliver(v).unwrap();
            Step::Done
        }));
    }
    assert_eq!(
        s.run(),
        Ended::Stalled(vec![(found.borrow()[0], "Echo".to_string())])
    );
    assert_eq!(made.get(), 1);
    assert_eq!(found.borrow().len(), 2);
    assert_eq!(found.borrow()[0], found.borrow()[1]);
    assert_eq!(*got.borrow(), vec![10, 20]);
    assert_eq!(s.stats().spawned, 3);
    assert_eq!(s.services(), vec!["echo".to_string()]);
}
