//! Hand-offs (`Cx::run_receiver`): a producer whose send met a full inbox
//! runs the consumer's step at once, inside its own, and goes on. Order
//! and content of what arrives; receivers a hand-off must refuse (asleep,
//! running, inside a hand-off, an inbox a test holds, another scheduler's
//! component); a consumer that ends or panics in one; and a TCP connection
//! draining a scripted socket through a 4-message inbox in one step.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use kamaelia::axon::{link, Ended, Full, Scheduler, Step, StepResult as R};
use kamaelia::internet::{ServerCore, PROTOCOL_INBOX, READ_CHUNK};
use kamaelia::testing::scripted::{ScriptedAcceptor, ScriptedConn};
use kamaelia::testing::Harness;

fn sched() -> Scheduler {
    let mut s = Scheduler::with_virtual_time();
    s.enable_trace();
    s
}

/// Sends 1..=n on `outbox`, handing off to the receiver whenever its inbox
/// is full; pauses if a hand-off makes no room.
fn producer(n: u32, handed: &Shared<Vec<bool>>) -> Script {
    let handed = handed.clone();
    let mut next = 1;
    Script::new("P", move |io, cx| {
        while next <= n {
            match io.outbox.send(next) {
                Ok(()) => next += 1,
                Err(Full(_)) => {
                    let ran = cx.run_receiver(&io.outbox);
                    handed.borrow_mut().push(ran);
                    if !ran {
                        return Step::Pause;
                    }
                }
            }
        }
        Step::Done
    })
}

/// Takes everything waiting, then pauses.
fn collect(name: &str, got: &Shared<Vec<u32>>) -> Script {
    let got = got.clone();
    Script::new(name, move |io, _| {
        while let Some(v) = io.inbox.recv() {
            got.borrow_mut().push(v);
        }
        Step::Pause
    })
}

#[test]
fn a_full_inbox_hands_off_to_its_receiver_inside_the_producers_step() {
    let mut s = sched();
    let got = shared(Vec::new());
    let handed = shared(Vec::new());
    let c = collect("C", &got);
    c.io.inbox.set_limit(Some(2));
    let p = producer(10, &handed);
    link(&p.io.outbox, &c.io.inbox).unwrap();
    s.spawn(c);
    s.spawn(p);
    s.run_until_idle();
    assert_eq!(*got.borrow(), (1..=10).collect::<Vec<_>>());
    assert_eq!(*handed.borrow(), vec![true; 4]);
    assert_eq!(s.stats().hand_offs, 4);
    // Round 1: C sleeps; P fills the inbox five times, C runs inside P's
    // step after each of the first four; P ends. C keeps its own turn in
    // round 2 and takes the last two.
    let mut want = vec![(1, "C", R::Sleep)];
    want.extend([(1, "C", R::Pause); 4]);
    want.extend([(1, "P", R::Done), (2, "C", R::Sleep)]);
    assert_eq!(trace_of(s.trace()), tr(&want));
    assert_eq!(s.stats().steps, 7);
}

#[test]
fn no_hand_off_to_a_sleeper_an_unlinked_box_itself_or_inside_a_hand_off() {
    let mut s = sched();
    let answers = shared(Vec::new());
    // A: asks about an unlinked outbox, then about B while B sleeps, then
    // sends to B and hands off. B, inside that hand-off, asks to hand off
    // to C, and asks about its own inbox through a loop link on `signal`.
    let a = {
        let answers = answers.clone();
        let mut round = 0;
        Script::new("A", move |io, cx| {
            round += 1;
            let unlinked = kamaelia::axon::Outbox::<u32>::outbox();
            if round == 1 {
                let ran = cx.run_receiver(&unlinked);
                answers.borrow_mut().push(("A unlinked", ran));
                return Step::Yield;
            }
            let ran = cx.run_receiver(&io.outbox);
            answers.borrow_mut().push(("A to sleeping B", ran));
            io.outbox.send(1).unwrap();
            let ran = cx.run_receiver(&io.outbox);
            answers.borrow_mut().push(("A to queued B", ran));
            Step::Done
        })
    };
    let b = {
        let answers = answers.clone();
        Script::new("B", move |io, cx| {
            if let Some(v) = io.inbox.recv() {
                io.outbox.send(v).unwrap();
                let ran = cx.run_receiver(&io.outbox);
                answers.borrow_mut().push(("B inside a hand-off", ran));
                return Step::Done;
            }
            Step::Pause
        })
    };
    let got = shared(Vec::new());
    let c = collect("C", &got);
    link(&a.io.outbox, &b.io.inbox).unwrap();
    link(&b.io.outbox, &c.io.inbox).unwrap();
    s.spawn(b);
    s.spawn(c);
    let aid = s.spawn(a);
    s.run_until_idle();
    assert_eq!(
        *answers.borrow(),
        vec![
            ("A unlinked", false),
            ("A to sleeping B", false),
            ("B inside a hand-off", false),
            ("A to queued B", true),
        ]
    );
    assert_eq!(*got.borrow(), vec![1]);
    assert!(!s.is_alive(aid));

    // A component handing off to itself (its outbox linked to its own
    // inbox) is running, so it is refused too.
    let mut s = sched();
    let answer = shared(None);
    let me = {
        let answer = answer.clone();
        Script::new("Self", move |io, cx| {
            io.outbox.send(7).unwrap();
            *answer.borrow_mut() = Some(cx.run_receiver(&io.outbox));
            Step::Done
        })
    };
    link(&me.io.outbox, &me.io.inbox).unwrap();
    s.spawn(me);
    s.run_until_idle();
    assert_eq!(*answer.borrow(), Some(false));
    assert_eq!(s.stats().hand_offs, 0);
}

#[test]
fn a_receiver_that_ends_in_a_hand_off_is_not_run_again_and_its_slot_is_reused_safely() {
    let mut s = sched();
    let got = shared(Vec::new());
    // C takes what waits and ends. P hands off once, then starts N, which
    // takes C's freed slot while C's old run-queue entry is still queued.
    let c = {
        let got = got.clone();
        Script::new("C", move |io, _| {
            while let Some(v) = io.inbox.recv() {
                got.borrow_mut().push(v);
            }
            if got.borrow().is_empty() {
                Step::Pause
            } else {
                Step::Done
            }
        })
    };
    c.io.inbox.set_limit(Some(1));
    let slot = shared(None);
    let p = {
        let slot = slot.clone();
        Script::new("P", move |io, cx| {
            io.outbox.send(1).unwrap();
            assert!(io.outbox.send(2).is_err());
            assert!(cx.run_receiver(&io.outbox));
            let n = cx.spawn(steps("N", &[Step::Yield, Step::Done]));
            *slot.borrow_mut() = Some(n);
            Step::Done
        })
    };
    link(&p.io.outbox, &c.io.inbox).unwrap();
    let cid = s.spawn(c);
    s.spawn(p);
    assert_eq!(s.run(), Ended::Completed);
    assert_eq!(*got.borrow(), vec![1]);
    let n = slot.borrow().unwrap();
    assert_eq!(n.index(), cid.index(), "N reuses C's slot");
    assert_ne!(n, cid);
    assert_eq!(
        trace_of(s.trace()),
        tr(&[
            (1, "C", R::Sleep),
            (1, "C", R::Done),
            (1, "P", R::Done),
            (2, "N", R::Yield),
            (3, "N", R::Done),
        ])
    );
    let st = s.stats();
    assert_eq!((st.spawned, st.finished, st.hand_offs), (3, 3, 1));
    // C's old entry in round 2 was passed over, not counted as a step.
    assert_eq!(st.steps, 5);
    assert_eq!(s.live(), 0);
}

#[test]
fn a_receiver_that_panics_in_a_hand_off_is_removed_when_immortalised() {
    let mut s = sched();
    s.immortalise(true);
    let c = Script::new("C", |io, _| {
        if io.inbox.recv().is_some() {
            panic!("bad input");
        }
        Step::Pause
    });
    c.io.inbox.set_limit(Some(1));
    let after = shared(None);
    let p = {
        let after = after.clone();
        Script::new("P", move |io, cx| {
            io.outbox.send(1).unwrap();
            let ran = cx.run_receiver(&io.outbox);
            // The receiver is gone: its inbox no longer takes anything.
            *after.borrow_mut() = Some((ran, io.outbox.is_linked()));
            Step::Done
        })
    };
    link(&p.io.outbox, &c.io.inbox).unwrap();
    s.spawn(c);
    s.spawn(p);
    assert_eq!(s.run(), Ended::Completed);
    assert_eq!(*after.borrow(), Some((true, false)));
    assert_eq!(
        trace_of(s.trace()),
        tr(&[(1, "C", R::Sleep), (1, "C", R::Panicked), (1, "P", R::Done)])
    );
    assert_eq!(s.stats().panicked, 1);
}

/// A protocol that records every chunk and ends when told.
struct Recorder {
    b: kamaelia::axon::DefaultBoxes<Bytes, Bytes>,
    got: Shared<Vec<Bytes>>,
}

impl kamaelia::axon::Component for Recorder {
    fn step(&mut self, _cx: &mut kamaelia::axon::Cx) -> Step {
        while let Some(b) = self.b.inbox.recv() {
            self.got.borrow_mut().push(b);
        }
        if let Some(s) = self.b.control.recv() {
            let _ = self.b.signal.send(s);
            return Step::Done;
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut kamaelia::axon::BoxSet) {
        self.b.list(set)
    }
    fn name(&self) -> &str {
        "Recorder"
    }
}

#[test]
fn a_connection_drains_its_socket_through_a_small_inbox_in_one_step() {
    const CHUNKS: usize = 40;
    let mut conn = ScriptedConn::new();
    for i in 0..CHUNKS {
        conn = conn.reply(&vec![i as u8; READ_CHUNK]);
    }
    let conn = conn.eof();
    let acceptor = ScriptedAcceptor::new();
    acceptor.connect(conn);
    let got = shared(Vec::new());
    let g = got.clone();
    let server = ServerCore::with_acceptor(Box::new(acceptor), move |_| {
        Box::new(Recorder {
            b: kamaelia::axon::DefaultBoxes::new(),
            got: g.clone(),
        })
    });
    let mut h = Harness::new();
    h.spawn(server);
    h.run_for(Duration::from_secs(1));
    let got = got.borrow();
    assert_eq!(got.len(), CHUNKS);
    for (i, b) in got.iter().enumerate() {
        assert_eq!(b.len(), READ_CHUNK);
        assert!(
            b.iter().all(|&x| x == i as u8),
            "chunk {i} intact, in order"
        );
    }
    // Every full inbox was handed off: all but the last inbox-full went
    // to the protocol inside the connection's reading step.
    let hand_offs = (CHUNKS / PROTOCOL_INBOX - 1) as u64;
    assert_eq!(h.scheduler().stats().hand_offs, hand_offs);
    // The protocol's hand-off steps all ran in one round, before the step
    // of the connection that read everything.
    let trace = h.trace();
    let first = trace
        .iter()
        .position(|e| e.name == "Recorder" && e.result == R::Pause)
        .expect("a hand-off step");
    let round = trace[first].round;
    let in_round: Vec<&str> = trace[first..]
        .iter()
        .take_while(|e| e.round == round)
        .map(|e| e.name.as_str())
        .collect();
    let mut want = vec!["Recorder"; hand_offs as usize];
    want.push("TcpClient");
    assert_eq!(in_round[..want.len()], want[..]);
}

#[test]
fn no_hand_off_to_an_inbox_a_test_holds_or_to_another_schedulers_component() {
    // An inbox owned by no component (a harness collector).
    let mut h = Harness::new();
    let answer = shared(None);
    let p = {
        let answer = answer.clone();
        Script::new("P", move |io, cx| {
            io.outbox.send(1).unwrap();
            let ran = cx.run_receiver(&io.outbox);
            *answer.borrow_mut() = Some(ran);
            Step::Done
        })
    };
    let id = h.spawn(p);
    let got = h.collector::<u32>(id, "outbox").unwrap();
    h.run_until_idle();
    assert_eq!(*answer.borrow(), Some(false));
    assert_eq!(got.drain(), vec![1]);
    assert_eq!(h.scheduler().stats().hand_offs, 0);

    // A queued component of another scheduler.
    let other_got = shared(Vec::new());
    let c = collect("C", &other_got);
    let answer = shared(None);
    let p = {
        let answer = answer.clone();
        Script::new("P", move |io, cx| {
            io.outbox.send(2).unwrap();
            let ran = cx.run_receiver(&io.outbox);
            *answer.borrow_mut() = Some(ran);
            Step::Done
        })
    };
    link(&p.io.outbox, &c.io.inbox).unwrap();
    let mut other = sched();
    other.spawn(c);
    let mut s = sched();
    s.spawn(p);
    s.run_until_idle();
    assert_eq!(*answer.borrow(), Some(false));
    assert!(other_got.borrow().is_empty(), "C did not run in s");
    other.run_until_idle();
    assert_eq!(*other_got.borrow(), vec![2]);
    assert_eq!(s.stats().hand_offs + other.stats().hand_offs, 0);
}
