//! Property test: random interleavings of sends (from harness feeders, some
//! through pass-through links and bounded inboxes) and single steps, with
//! components that take a random number of messages per step and pause.
//! After every send and every step: no message lost or reordered, no message
//! duplicated, and no sleeping component has input waiting unless it holds
//! input back because a send of its was refused (and then the box it sends
//! to is really full, or it would never be woken).
//!
//! The graph:
//!
//! ```text
//! feeder0 ──────────────▶ R0.inbox ─R0─▶ R0.outbox ──────────────────┐
//! feeder1 ─▶ X.inbox ═pass═▶ R1.inbox ─R1─▶ R1.outbox ═pass═▶ X.outbox ─┤
//! feeder2 ───────────────────────────────────────────────────────────┴─▶ S.inbox
//! ```

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use kamaelia::axon::{BoxSet, Component, Cx, Full, Id, Inbox, LinkKind, Outbox, RunState, Step};
use kamaelia::testing::{Feeder, Harness};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Msg {
    src: usize,
    seq: u32,
}

/// Takes `plan[k]` messages at its k-th step (cycling) and forwards them;
/// keeps a refused one and stops until woken.
struct Relay {
    name: &'static str,
    inbox: Inbox<Msg>,
    outbox: Outbox<Msg>,
    held: Option<Msg>,
    holding: Rc<Cell<bool>>,
    plan: Vec<usize>,
    k: usize,
}

impl Component for Relay {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        let take = self.plan[self.k % self.plan.len()];
        self.k += 1;
        if let Some(m) = self.held.take() {
            if let Err(Full(m)) = self.outbox.send(m) {
                self.held = Some(m);
                return Step::Pause;
            }
        }
        for _ in 0..take {
            let Some(m) = self.inbox.recv() else { break };
            if let Err(Full(m)) = self.outbox.send(m) {
                self.held = Some(m);
                break;
            }
        }
        self.holding.set(self.held.is_some());
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        kamaelia::boxes!(set; self.inbox, self.outbox);
    }
    fn name(&self) -> &str {
        self.name
    }
}

/// A container: its inbox is passed through to R1, R1's outbox appears as
/// its outbox. It never does anything itself.
struct Container {
    inbox: Inbox<Msg>,
    outbox: Outbox<Msg>,
}

impl Component for Container {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        kamaelia::boxes!(set; self.inbox, self.outbox);
    }
}

/// Takes `plan[k]` messages at its k-th step and records them.
struct Sink {
    inbox: Inbox<Msg>,
    got: Rc<RefCell<Vec<Msg>>>,
    plan: Vec<usize>,
    k: usize,
}

impl Component for Sink {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        let take = self.plan[self.k % self.plan.len()];
        self.k += 1;
        for _ in 0..take {
            match self.inbox.recv() {
                Some(m) => self.got.borrow_mut().push(m),
                None => break,
            }
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox);
    }
}

#[derive(Debug, Clone)]
enum Action {
    Send { src: usize, n: u32 },
    Step { n: u32 },
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        (0..3usize, 1..6u32).prop_map(|(src, n)| Action::Send { src, n }),
        (1..6u32).prop_map(|n| Action::Step { n }),
    ]
}

/// A consumption plan that makes progress: at least its first entry is
/// non-zero (a zero means "take nothing this step").
fn plan() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..4usize, 1..6).prop_map(|mut v| {
        v[0] = v[0].max(1);
        v
    })
}

struct World {
    h: Harness,
    feeders: Vec<Feeder<Msg>>,
    accepted: [u32; 3],
    got: Rc<RefCell<Vec<Msg>>>,
    relays: HashMap<Id, Rc<Cell<bool>>>,
    sink: Id,
    sink_limit: Option<usize>,
}

impl World {
    fn new(limits: &[Option<usize>], plans: &[Vec<usize>]) -> World {
        let mut h = Harness::new();
        let bounded = |name: &'static str, limit: Option<usize>| {
            let b = Inbox::new(name, "messages");
            b.set_limit(limit);
            b
        };
        let mut relays = HashMap::new();
        let mut relay = |h: &mut Harness, name, limit, plan: &Vec<usize>| {
            let holding = Rc::new(Cell::new(false));
            let id = h.spawn(Relay {
                name,
                inbox: bounded("inbox", limit),
                outbox: Outbox::new("outbox", "messages"),
                held: None,
                holding: holding.clone(),
                plan: plan.clone(),
                k: 0,
            });
            relays.insert(id, holding);
            id
        };
        let r0 = relay(&mut h, "R0", limits[0], &plans[0]);
        // The container's own limit must be ignored: its inbox passes through.
        let x = h.spawn(Container {
            inbox: bounded("inbox", limits[3].map(|l| l.min(1))),
            outbox: Outbox::new("outbox", "messages"),
        });
        let r1 = relay(&mut h, "R1", limits[1], &plans[1]);
        let got = Rc::new(RefCell::new(Vec::new()));
        let sink = h.spawn(Sink {
            inbox: bounded("inbox", limits[2]),
            got: got.clone(),
            plan: plans[2].clone(),
            k: 0,
        });
        let s = h.scheduler();
        assert_eq!(
            s.link((r0, "outbox"), (sink, "inbox")),
            Ok(LinkKind::Normal)
        );
        assert_eq!(s.link((x, "inbox"), (r1, "inbox")), Ok(LinkKind::PassIn));
        assert_eq!(s.link((r1, "outbox"), (x, "outbox")), Ok(LinkKind::PassOut));
        assert_eq!(s.link((x, "outbox"), (sink, "inbox")), Ok(LinkKind::Normal));
        let feeders = vec![
            h.feeder::<Msg>(r0, "inbox").unwrap(),
            h.feeder::<Msg>(x, "inbox").unwrap(),
            h.feeder::<Msg>(sink, "inbox").unwrap(),
        ];
        World {
            h,
            feeders,
            accepted: [0; 3],
            got,
            relays,
            sink,
            sink_limit: limits[2],
        }
    }

    /// Sends up to `n` new messages from `src`; a refused one is sent again
    /// (same sequence number) next time.
    fn send(&mut self, src: usize, n: u32) -> Result<(), TestCaseError> {
        for _ in 0..n {
            let m = Msg {
                src,
                seq: self.accepted[src],
            };
            match self.feeders[src].send(m) {
                Ok(()) => self.accepted[src] += 1,
                Err(Full(back)) => {
                    prop_assert_eq!(back, m);
                    break;
                }
            }
            self.check()?;
        }
        Ok(())
    }

    fn check(&mut self) -> Result<(), TestCaseError> {
        // Per source: what arrived is exactly 0, 1, 2, ... (no loss in the
        // middle, no reordering, no duplicates).
        let got = self.got.borrow();
        for src in 0..3 {
            let seqs: Vec<u32> = got.iter().filter(|m| m.src == src).map(|m| m.seq).collect();
            let want: Vec<u32> = (0..seqs.len() as u32).collect();
            prop_assert_eq!(&seqs, &want, "source {}", src);
            prop_assert!(seqs.len() as u32 <= self.accepted[src]);
        }
        // Conservation: everything accepted is either received, waiting in
        // some box, or held by a relay whose send was refused.
        let snap = self.h.scheduler().snapshot();
        let in_boxes: usize = snap
            .components
            .iter()
            .flat_map(|c| c.boxes.iter())
            .map(|b| b.len)
            .sum();
        let held = self.relays.values().filter(|h| h.get()).count();
        let accepted: u32 = self.accepted.iter().sum();
        prop_assert_eq!(accepted as usize, got.len() + in_boxes + held);
        for f in &self.feeders {
            prop_assert_eq!(f.outbox().held(), 0);
        }
        // No lost wake-ups.
        let sink_len = snap
            .component(self.sink)
            .unwrap()
            .boxes
            .iter()
            .find(|b| b.name == "inbox")
            .unwrap()
            .len;
        for c in &snap.components {
            if c.state != RunState::Sleeping {
                continue;
            }
            let holding = self.relays.get(&c.id).is_some_and(|h| h.get());
            if c.pending > 0 {
                prop_assert!(
                    holding,
                    "{} sleeps with {} waiting and no refused send",
                    c.name,
                    c.pending
                );
            }
            if holding {
                let limit = self.sink_limit.expect("refused by an unbounded inbox");
                prop_assert!(
                    sink_len >= limit,
                    "{} sleeps holding a message while the sink has room ({}/{})",
                    c.name,
                    sink_len,
                    limit
                );
            }
        }
        Ok(())
    }
}

fn run_case(
    actions: &[Action],
    limits: &[Option<usize>],
    plans: &[Vec<usize>],
) -> Result<(), TestCaseError> {
    let mut w = World::new(limits, plans);
    w.check()?;
    for a in actions {
        match *a {
            Action::Send { src, n } => w.send(src, n)?,
            Action::Step { n } => {
                for _ in 0..n {
                    w.h.step();
                    w.check()?;
                }
            }
        }
    }
    // Quiesce: everything accepted arrives, in order.
    w.h.run_until_idle();
    w.check()?;
    let got = w.got.borrow();
    for src in 0..3 {
        let n = got.iter().filter(|m| m.src == src).count() as u32;
        prop_assert_eq!(n, w.accepted[src], "source {} after quiescing", src);
    }
    prop_assert_eq!(w.h.scheduler().stats().undelivered, 0);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn no_loss_no_reordering_no_lost_wakeups(
        actions in prop::collection::vec(action(), 1..80),
        limits in prop::collection::vec(prop::option::of(1..4usize), 4),
        plans in prop::collection::vec(plan(), 3),
    ) {
        run_case(&actions, &limits, &plans)?;
    }
}

#[test]
fn a_fixed_case_with_every_box_bounded() {
    let actions: Vec<Action> = (0..40)
        .flat_map(|k| {
            [
                Action::Send { src: k % 3, n: 4 },
                Action::Step {
                    n: 1 + (k as u32 % 3),
                },
            ]
        })
        .collect();
    run_case(
        &actions,
        &[Some(1), Some(2), Some(1), Some(1)],
        &[vec![2, 0, 1], vec![1], vec![1, 3, 0]],
    )
    .unwrap();
}
