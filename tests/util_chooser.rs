//! Chooser and ForwardIteratingChooser (the checks of the original
//! test_Chooser.py and test_ForwardIteratingChooser.py, as behaviour).

use kamaelia::axon::{Id, Signal, StepResult};
use kamaelia::testing::{Collector, Feeder, Harness};
use kamaelia::util::{Choose, Chooser, ForwardIteratingChooser};

use Choose::*;

struct Rig {
    h: Harness,
    id: Id,
    cmd: Feeder<Choose>,
    ctl: Feeder<Signal>,
    out: Collector<&'static str>,
    sig: Collector<Signal>,
}

fn chooser(items: &[&'static str], looping: bool) -> Rig {
    rig(Chooser::new(items.to_vec(), looping))
}

fn rig(c: impl kamaelia::axon::Component) -> Rig {
    let mut h = Harness::new();
    let id = h.spawn(c);
    let cmd = h.feeder(id, "inbox").unwrap();
    let ctl = h.feeder(id, "control").unwrap();
    let out = h.collector(id, "outbox").unwrap();
    let sig = h.collector(id, "signal").unwrap();
    Rig {
        h,
        id,
        cmd,
        ctl,
        out,
        sig,
    }
}

impl Rig {
    /// Sends commands one at a time; what each one made it send.
    fn each(&mut self, cmds: &[Choose]) -> Vec<Vec<&'static str>> {
        cmds.iter()
            .map(|c| {
                self.cmd.send(*c).unwrap();
                self.h.run_until_idle();
                self.out.drain()
            })
            .collect()
    }
}

const FRUIT: [&str; 3] = ["apple", "banana", "cherry"];

#[test]
fn sends_the_first_item_at_start() {
    let mut r = chooser(&FRUIT, false);
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), ["apple"]);
    assert!(r.h.is_sleeping(r.id));
}

#[test]
fn empty_sends_nothing_ever() {
    let mut r = chooser(&[], false);
    r.h.run_until_idle();
    let got = r.each(&[Next, Prev, First, Last, Same]);
    assert!(got.iter().all(Vec::is_empty));
    assert!(r.out.is_empty());
}

#[test]
fn forwards_backwards_forwards() {
    let mut r = chooser(&FRUIT, false);
    r.h.run_until_idle();
    r.out.drain();
    let got = r.each(&[Next, Next, Prev, Prev, Next]);
    assert_eq!(
        got,
        [
            vec!["banana"],
            vec!["cherry"],
            vec!["banana"],
            vec!["apple"],
            vec!["banana"]
        ]
    );
}

#[test]
fn blocked_at_either_end_without_looping_sends_nothing() {
    let mut r = chooser(&FRUIT, false);
    r.h.run_until_idle();
    r.out.drain();
    // Prev at the start: stays on apple, nothing sent.
    assert_eq!(r.each(&[Prev]), [Vec::<&str>::new()]);
    assert_eq!(r.each(&[Same]), [vec!["apple"]]);
    // Past the end: stays on cherry, nothing sent.
    let got = r.each(&[Next, Next, Next, Next]);
    assert_eq!(got, [vec!["banana"], vec!["cherry"], vec![], vec![]]);
    assert_eq!(r.each(&[Same]), [vec!["cherry"]]);
}

#[test]
fn first_last_same_always_send() {
    let mut r = chooser(&FRUIT, false);
    r.h.run_until_idle();
    r.out.drain();
    let got = r.each(&[Last, Last, First, First, Same]);
    assert_eq!(
        got,
        [
            vec!["cherry"],
            vec!["cherry"],
            vec!["apple"],
            vec!["apple"],
            vec!["apple"]
        ]
    );
}

#[test]
fn looping_wraps_both_ways() {
    let mut r = chooser(&FRUIT, true);
    r.h.run_until_idle();
    r.out.drain();
    let got = r.each(&[Prev, Prev, Prev, Prev, Next, Next, Next]);
    assert_eq!(
        got,
        [
            vec!["cherry"],
            vec!["banana"],
            vec!["apple"],
            vec!["cherry"],
            vec!["apple"],
            vec!["banana"],
            vec!["cherry"]
        ]
    );
}

#[test]
fn looping_with_one_item() {
    let mut r = chooser(&["only"], true);
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), ["only"]);
    assert_eq!(r.each(&[Next, Prev]), [vec!["only"], vec!["only"]]);
}

#[test]
fn many_commands_at_once_are_obeyed_in_order() {
    let mut r = chooser(&FRUIT, false);
    for c in [Next, Next, Next, Prev, First] {
        r.cmd.send(c).unwrap();
    }
    r.h.run_until_idle();
    assert_eq!(
        r.out.drain(),
        ["apple", "banana", "cherry", "banana", "apple"]
    );
}

#[test]
fn back_pressure_keeps_every_choice() {
    let mut h = Harness::new();
    let id = h.spawn(Chooser::new(0..10, false));
    let cmd = h.feeder::<Choose>(id, "inbox").unwrap();
    let out = h.bounded_collector::<i32>(id, "outbox", 1).unwrap();
    for _ in 0..12 {
        cmd.send(Next).unwrap();
    }
    h.run_until_idle();
    assert!(h.is_sleeping(id));
    let mut got = Vec::new();
    while let Some(v) = out.recv() {
        got.push(v);
        h.run_until_idle();
    }
    assert_eq!(got, (0..10).collect::<Vec<_>>());
}

#[test]
fn shutdown_stops_it() {
    let mut r = chooser(&FRUIT, false);
    r.h.run_until_idle();
    r.cmd.send(Next).unwrap();
    r.ctl.send(Signal::Shutdown).unwrap();
    assert_eq!(r.h.step(), Some((r.id, StepResult::Done)));
    assert_eq!(r.out.drain(), ["apple"]);
    assert_eq!(r.sig.drain(), [Signal::Shutdown]);
}

#[test]
fn producer_finished_obeys_waiting_commands_then_stops() {
    let mut r = chooser(&FRUIT, false);
    r.h.run_until_idle();
    r.out.drain();
    r.cmd.send(Last).unwrap();
    r.ctl.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), ["cherry"]);
    assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
    assert!(!r.h.is_alive(r.id));
}

#[test]
fn current_item() {
    let c = Chooser::new(FRUIT, false);
    assert_eq!(c.current(), Some(&"apple"));
    let e = Chooser::<u8>::new([], true);
    assert_eq!(e.current(), None);
}

// ---------------------------------------------------------------- ForwardIteratingChooser

#[test]
fn forward_iterating_walks_an_endless_iterator() {
    let mut h = Harness::new();
    let id = h.spawn(ForwardIteratingChooser::new((1u64..).map(|i| i * i)));
    let cmd = h.feeder::<Choose>(id, "inbox").unwrap();
    let out = h.collector::<u64>(id, "outbox").unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), [1]);
    for c in [Next, Next, Same, Prev, First, Last, Next] {
        cmd.send(c).unwrap();
    }
    h.run_until_idle();
    assert_eq!(out.drain(), [4, 9, 9, 16], "Prev/First/Last are ignored");
    assert!(h.is_sleeping(id));
}

#[test]
fn forward_iterating_finishes_when_the_items_run_out() {
    let mut r = rig(ForwardIteratingChooser::new(FRUIT));
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), ["apple"]);
    assert_eq!(r.each(&[Next, Next]), [vec!["banana"], vec!["cherry"]]);
    assert!(r.sig.is_empty());
    assert_eq!(r.each(&[Next]), [Vec::<&str>::new()]);
    assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
    assert!(!r.h.is_alive(r.id));
}

#[test]
fn forward_iterating_empty() {
    let mut r = rig(ForwardIteratingChooser::new(Vec::<&'static str>::new()));
    r.h.run_until_idle();
    assert!(r.out.is_empty());
    assert_eq!(r.each(&[Same]), [Vec::<&str>::new()]);
    r.cmd.send(Next).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
}

#[test]
fn forward_iterating_shutdown_and_finish() {
    let mut r = rig(ForwardIteratingChooser::new(FRUIT));
    r.h.run_until_idle();
    r.ctl.send(Signal::Shutdown).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.sig.drain(), [Signal::Shutdown]);
    assert!(!r.h.is_alive(r.id));

    let mut r = rig(ForwardIteratingChooser::new(FRUIT));
    r.cmd.send(Next).unwrap();
    r.ctl.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), ["apple", "banana"]);
    assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
    assert!(!r.h.is_alive(r.id));
}

#[test]
fn forward_iterating_back_pressure() {
    let mut h = Harness::new();
    let id = h.spawn(ForwardIteratingChooser::new(0..5));
    let cmd = h.feeder::<Choose>(id, "inbox").unwrap();
    let out = h.bounded_collector::<i32>(id, "outbox", 1).unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    for _ in 0..5 {
        cmd.send(Next).unwrap();
    }
    h.run_until_idle();
    let mut got = Vec::new();
    while let Some(v) = out.recv() {
        got.push(v);
        h.run_until_idle();
    }
    assert_eq!(got, [0, 1, 2, 3, 4]);
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
}

#[test]
fn shutdown_before_the_start_sends_nothing() {
    let mut r = chooser(&FRUIT, false);
    r.ctl.send(Signal::Shutdown).unwrap();
    assert_eq!(r.h.step(), Some((r.id, StepResult::Done)));
    assert!(r.out.is_empty());
    assert_eq!(r.sig.drain(), [Signal::Shutdown]);

    // Nor does the iterator get pulled.
    let pulled = std::rc::Rc::new(std::cell::Cell::new(0));
    let count = pulled.clone();
    let mut r = rig(ForwardIteratingChooser::new(
        FRUIT
            .into_iter()
            .inspect(move |_| count.set(count.get() + 1)),
    ));
    r.ctl.send(Signal::Shutdown).unwrap();
    assert_eq!(r.h.step(), Some((r.id, StepResult::Done)));
    assert!(r.out.is_empty());
    assert_eq!(r.sig.drain(), [Signal::Shutdown]);
    assert_eq!(pulled.get(), 0);
}

#[test]
fn the_first_item_waits_for_room_too() {
    let mut h = Harness::new();
    let id = h.spawn(Chooser::new(["a", "b"], false));
    let cmd = h.feeder::<Choose>(id, "inbox").unwrap();
    let out = h.bounded_collector::<&str>(id, "outbox", 1).unwrap();
    let filler = kamaelia::axon::Outbox::new("filler", "fills the collector");
    kamaelia::axon::link(&filler, out.inbox()).unwrap();
    filler
        .send("x")
        .unwrap_or_else(|_| panic!("room for the filler"));
    cmd.send(Next).unwrap();
    h.run_until_idle();
    assert!(h.is_sleeping(id), "the first item was refused: sleeps");
    let mut got = Vec::new();
    while let Some(v) = out.recv() {
        got.push(v);
        h.run_until_idle();
    }
    assert_eq!(got, ["x", "a", "b"]);
}
