//! Fairness of the network components: a busy one does a bounded amount
//! per step and then lets the others (timers included) run.
//!
//! The stated bounds: `SingleServer` and `ServerCore` accept at most 64
//! connections per step, then yield; a `TcpClient` whose sending side is
//! closed does not run again for input it can no longer write.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use kamaelia::axon::{
    link, BoxSet, Component, Cx, Id, Inbox, Outbox, Scheduler, Signal, Step, StepResult,
};
use kamaelia::internet::{SingleServer, TcpClient};
use kamaelia::testing::scripted::{scripted_connector, ConnLog, ScriptedAcceptor, ScriptedConn};

/// Sets a timer 1 ms ahead on its first step; records each later step.
///
/// | box | carries | meaning |
/// |-----|---------|---------|
/// | (none) | | woken by its timer |
struct Ticker {
    armed: bool,
    fired: Rc<RefCell<u32>>,
}

impl Component for Ticker {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if !self.armed {
            self.armed = true;
            cx.wake_after(Duration::from_millis(1));
            return Step::Pause;
        }
        *self.fired.borrow_mut() += 1;
        Step::Done
    }
    fn boxes(&self, _set: &mut BoxSet) {}
}

/// 1,000 connections waiting at once: the single server takes the first as
/// its client and closes 63 others in its first step, then yields; a
/// timer that falls due meanwhile runs before the server's next step.
#[test]
fn single_server_accepts_64_per_step_and_a_due_timer_runs_in_between() {
    let acceptor = ScriptedAcceptor::new();
    let logs: Vec<Rc<RefCell<ConnLog>>> = (0..1000)
        .map(|_| {
            let c = ScriptedConn::new();
            let log = c.log();
            acceptor.connect(c);
            log
        })
        .collect();
    let server = SingleServer::with_acceptor(Box::new(acceptor));
    let fired = Rc::new(RefCell::new(0));
    let mut s = Scheduler::with_virtual_time();
    let ticker = s.spawn(Ticker {
        armed: false,
        fired: fired.clone(),
    });
    let sid = s.spawn(server);
    assert_eq!(s.step(), Some((ticker, StepResult::Sleep)));
    assert_eq!(s.step(), Some((sid, StepResult::Yield)));
    let dropped =
        |logs: &[Rc<RefCell<ConnLog>>]| logs.iter().filter(|l| l.borrow().dropped).count();
    assert!(!logs[0].borrow().dropped, "the first is the client");
    assert_eq!(dropped(&logs), 63, "63 closed in the first step");
    assert!(logs[64..].iter().all(|l| !l.borrow().dropped));

    // The timer falls due: the ticker runs before the server's next step
    // ends its turn (the server is in the round already, then the ticker).
    s.advance(Duration::from_millis(1));
    let mut server_steps = 0;
    let mut order: Vec<Id> = Vec::new();
    while *fired.borrow() == 0 {
        let (id, _) = s.step().expect("something is runnable");
        order.push(id);
        if id == sid {
            server_steps += 1;
            assert_eq!(dropped(&logs), 63 + 64 * server_steps);
        }
        assert!(order.len() < 20, "the ticker never ran: {order:?}");
    }
    assert!(
        server_steps <= 1,
        "{server_steps} server steps before the timer's"
    );
    // The rest are closed, 64 a step.
    let mut guard = 0;
    while dropped(&logs) < 999 {
        let (id, r) = s.step().expect("the server runs on");
        guard += 1;
        assert!(guard < 100);
        if id == sid && dropped(&logs) < 999 {
            assert_eq!(r, StepResult::Yield);
        }
    }
    assert_eq!(dropped(&logs), 999);
}

/// A client told to finish writes what it had and closes its sending side;
/// input arriving after that does not make it run again and again: it
/// sleeps until something wakes it.
#[test]
fn a_client_whose_sending_side_closed_sleeps_with_input_waiting() {
    let conn = ScriptedConn::new(); // the peer says nothing: reads would block
    let log = conn.log();
    let client = TcpClient::to_addr("127.0.0.1:9".parse().unwrap())
        .with_connector(scripted_connector(vec![conn]));
    let say: Outbox<Bytes> = Outbox::new("say", "to the client");
    let ctl: Outbox<Signal> = Outbox::new("ctl", "to the client");
    let got: Inbox<Bytes> = Inbox::inbox();
    link(&say, &client.inbox).unwrap();
    link(&ctl, &client.control).unwrap();
    link(&client.outbox, &got).unwrap();
    let mut s = Scheduler::with_virtual_time();
    let id = s.spawn(client);
    say.send(Bytes::from_static(b"hello")).unwrap();
    ctl.send(Signal::ProducerFinished).unwrap();
    s.run_until_idle();
    assert_eq!(log.borrow().written, b"hello");
    assert!(log.borrow().write_closed);
    assert!(s.is_sleeping(id));

    // More input now: it can no longer be written.
    say.send(Bytes::from_static(b"late")).unwrap();
    let mut steps = 0;
    while let Some((who, _)) = s.step() {
        assert_eq!(who, id);
        steps += 1;
        assert!(
            steps <= 10,
            "the client keeps running for input it cannot write"
        );
    }
    assert_eq!(steps, 1, "one step for the delivery, then it sleeps");
    assert!(s.is_sleeping(id));
    assert!(s.is_alive(id));
    assert_eq!(
        log.borrow().written,
        b"hello",
        "nothing written after the close"
    );
}

/// A protocol component that does nothing until told to stop.
///
/// | box     | carries  | meaning            |
/// |---------|----------|--------------------|
/// | inbox   | `Bytes`  | ignored            |
/// | control | `Signal` | ends it            |
/// | outbox  | `Bytes`  | nothing            |
/// | signal  | `Signal` | the control signal |
struct Idle(kamaelia::axon::DefaultBoxes<Bytes, Bytes>);

impl Component for Idle {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while self.0.inbox.recv().is_some() {}
        if let Some(s) = self.0.control.recv() {
            let _ = self.0.signal.send(s);
            return Step::Done;
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        self.0.list(set)
    }
}

/// What a connection costs the server does not grow with the connections
/// open: with 500 open, the server has its own two boxes only (it had two
/// run-time outboxes per connection, whose removal, on each close, took
/// time in proportion to the connections open), and closing them all
/// leaves every connection and protocol component ended.
#[test]
fn server_core_keeps_no_boxes_per_connection() {
    let acceptor = ScriptedAcceptor::new();
    let logs: Vec<Rc<RefCell<ConnLog>>> = (0..500)
        .map(|_| {
            let c = ScriptedConn::new();
            let log = c.log();
            acceptor.connect(c);
            log
        })
        .collect();
    let server = kamaelia::internet::ServerCore::with_acceptor(Box::new(acceptor), |_| {
        Box::new(Idle(kamaelia::axon::DefaultBoxes::new())) as Box<dyn Component>
    });
    let stop: Outbox<Signal> = Outbox::new("stop", "to the server");
    link(&stop, &server.control).unwrap();
    let mut s = Scheduler::with_virtual_time();
    let sid = s.spawn(server);
    s.run_until_idle();
    let snap = s.snapshot();
    let me = snap.components.iter().find(|c| c.id == sid).unwrap();
    let names: Vec<&str> = me.boxes.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["control", "signal"]);
    assert_eq!(
        snap.components
            .iter()
            .filter(|c| c.parent == Some(sid))
            .count(),
        1000,
        "a connection and a protocol component per connection"
    );
    stop.send(Signal::Shutdown).unwrap();
    s.run_until_idle();
    assert!(!s.is_alive(sid));
    assert_eq!(s.live(), 0);
    assert!(logs.iter().all(|l| l.borrow().dropped));
}
