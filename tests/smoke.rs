use kamaelia::axon::*;
use kamaelia::testing::Harness;

struct Source {
    n: u64,
    i: u64,
    out: Outbox<u64>,
    signal: Outbox<Signal>,
    held: Option<u64>,
}
impl Component for Source {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while self.i < self.n || self.held.is_some() {
            let v = self.held.take().unwrap_or_else(|| {
                self.i += 1;
                self.i - 1
            });
            if let Err(Full(v)) = self.out.send(v) {
                self.held = Some(v);
                return Step::Pause;
            }
            if self.i % 7 == 0 {
                return Step::Yield;
            }
        }
        let _ = self.signal.send(Signal::ProducerFinished);
        Step::Done
    }
    fn boxes(&self, set: &mut BoxSet) {
        kamaelia::boxes!(set; self.out, self.signal);
    }
}

struct Sink {
    inbox: Inbox<u64>,
    control: Inbox<Signal>,
    got: std::rc::Rc<std::cell::RefCell<Vec<u64>>>,
}
impl Component for Sink {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        if let Some(v) = self.inbox.recv() {
            self.got.borrow_mut().push(v);
            return Step::Pause;
        }
        if self.control.recv().is_some() {
            return Step::Done;
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        kamaelia::boxes!(set; self.inbox, self.control);
    }
}

#[test]
fn backpressure_end_to_end() {
    let got = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let src = Source {
        n: 100,
        i: 0,
        out: Outbox::new("outbox", "n"),
        signal: Outbox::signal(),
        held: None,
    };
    let sink = Sink {
        inbox: Inbox::bounded("inbox", "n", 1),
        control: Inbox::control(),
        got: got.clone(),
    };
    link(&src.out, &sink.inbox).unwrap();
    link(&src.signal, &sink.control).unwrap();
    let mut s = Scheduler::new();
    s.spawn(src);
    s.spawn(sink);
    assert_eq!(s.run(), Ended::Completed);
    assert_eq!(*got.borrow(), (0..100).collect::<Vec<_>>());
}

#[test]
fn type_mismatch_by_name() {
    let mut s = Scheduler::new();
    let a = s.spawn(Source {
        n: 1,
        i: 0,
        out: Outbox::new("outbox", "n"),
        signal: Outbox::signal(),
        held: None,
    });
    let b = s.spawn(Sink {
        inbox: Inbox::inbox(),
        control: Inbox::control(),
        got: Default::default(),
    });
    let e = s.link((a, "signal"), (b, "inbox")).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("Signal")
            && msg.contains("u64")
            && msg.contains("signal")
            && msg.contains("inbox"),
        "{msg}"
    );
}

#[test]
fn harness_basics() {
    let mut h = Harness::new();
    let got = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let id = h.spawn(Sink {
        inbox: Inbox::inbox(),
        control: Inbox::control(),
        got: got.clone(),
    });
    let f = h.feeder::<u64>(id, "inbox").unwrap();
    f.send(5).unwrap();
    f.send(6).unwrap();
    assert_eq!(h.step(), Some((id, StepResult::Pause)));
    assert_eq!(h.step(), Some((id, StepResult::Sleep)));
    assert_eq!(h.step(), None);
    assert_eq!(*got.borrow(), vec![5, 6]);
}

#[test]
fn immortal_panic_reaches_the_parent_with_its_message() {
    struct Boom;
    impl Component for Boom {
        fn step(&mut self, _cx: &mut Cx) -> Step {
            panic!("boom");
        }
        fn boxes(&self, _set: &mut BoxSet) {}
    }
    struct Parent(Option<Exit>, std::rc::Rc<std::cell::RefCell<Option<Exit>>>);
    impl Component for Parent {
        fn step(&mut self, cx: &mut Cx) -> Step {
            if self.0.is_none() && cx.children().is_empty() && self.1.borrow().is_none() {
                cx.spawn_child(Boom);
                self.0 = Some(Exit {
                    id: cx.id(),
                    name: String::new(),
                    how: ExitKind::Finished,
                });
                return Step::Pause;
            }
            if let Some(e) = cx.next_exit() {
                *self.1.borrow_mut() = Some(e);
                return Step::Done;
            }
            Step::Pause
        }
        fn boxes(&self, _set: &mut BoxSet) {}
    }
    let seen = std::rc::Rc::new(std::cell::RefCell::new(None));
    let mut s = Scheduler::new();
    s.immortalise(true);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    s.spawn(Parent(None, seen.clone()));
    let ended = s.run();
    std::panic::set_hook(hook);
    assert_eq!(ended, Ended::Completed);
    let exit = seen.borrow().clone().unwrap();
    assert_eq!(exit.name, "Boom");
    assert_eq!(exit.how, ExitKind::Panicked("boom".to_string()));
    assert_eq!(s.stats().panicked, 1);
}

#[test]
fn a_sender_refused_by_an_unowned_bounded_inbox_is_woken_when_it_is_read() {
    let got = Inbox::bounded("got", "held by the test", 1);
    let src = Source {
        n: 5,
        i: 0,
        out: Outbox::new("outbox", "n"),
        signal: Outbox::signal(),
        held: None,
    };
    link(&src.out, &got).unwrap();
    let mut s = Scheduler::new();
    let id = s.spawn(src);
    s.run_until_idle();
    assert!(s.is_sleeping(id), "refused, asleep");
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let v = got.recv().expect("the sender was woken and sent again");
        seen.push(v);
        s.run_until_idle();
    }
    assert_eq!(seen, vec![0, 1, 2, 3, 4]);
}

#[test]
fn run_for_runs_a_while_then_hands_back() {
    /// Counts timer wake-ups every 100 ms, `left` times, then ends.
    struct Ticker(Option<Periodic>, std::rc::Rc<std::cell::Cell<u64>>, u64);
    impl Component for Ticker {
        fn step(&mut self, cx: &mut Cx) -> Step {
            let p = self.0.get_or_insert_with(|| {
                Periodic::new(cx.now(), std::time::Duration::from_millis(100))
            });
            let n = p.due(cx);
            self.1.set(self.1.get() + n);
            if self.1.get() >= self.2 {
                return Step::Done;
            }
            Step::Pause
        }
        fn boxes(&self, _set: &mut BoxSet) {}
    }
    let ticks = std::rc::Rc::new(std::cell::Cell::new(0));
    let mut s = Scheduler::with_virtual_time();
    s.spawn(Ticker(None, ticks.clone(), 10));
    let t0 = s.now();
    // Not over yet: hands back at exactly the time asked for.
    assert_eq!(s.run_for(std::time::Duration::from_millis(350)), None);
    assert_eq!(ticks.get(), 3);
    assert_eq!(s.now() - t0, std::time::Duration::from_millis(350));
    // Over sooner than asked: says how it ended.
    assert_eq!(
        s.run_for(std::time::Duration::from_secs(60)),
        Some(Ended::Completed)
    );
    assert_eq!(ticks.get(), 10);
    assert_eq!(s.now() - t0, std::time::Duration::from_millis(1000));
}
