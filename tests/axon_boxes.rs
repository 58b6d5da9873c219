//! Boxes and links (reference §1.7/§1.8, §8 "Postoffice / boxes"): the three
//! link kinds, link errors, chains in every creation order, size limits,
//! link by name, finished components, and back-pressure end to end.

mod common;

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;

use common::*;
use kamaelia::axon::{
    link, link_refs, link_with_limit, unlink, BoxLabel, Dir, Ended, Full, Id, Inbox, LinkErrorKind,
    LinkInfo, LinkKind, Outbox, Signal, Step, StepResult as R,
};
use kamaelia::testing::Harness;

fn out(name: &'static str) -> Outbox<u32> {
    Outbox::new(name, "test outbox")
}
fn inb(name: &'static str) -> Inbox<u32> {
    Inbox::new(name, "test inbox")
}
fn drain(i: &Inbox<u32>) -> Vec<u32> {
    std::iter::from_fn(|| i.recv()).collect()
}
/// The parts of a label, for comparisons that do not depend on how the
/// error stores it.
fn parts(l: &BoxLabel) -> (Option<Id>, Option<String>, String, Dir, &'static str) {
    (
        l.owner,
        l.component.clone(),
        l.name.clone(),
        l.dir,
        l.type_name,
    )
}
fn unowned(name: &str, dir: Dir) -> (Option<Id>, Option<String>, String, Dir, &'static str) {
    (None, None, name.to_string(), dir, "u32")
}

#[test]
fn link_and_unlink_for_all_three_kinds() {
    let (o, o2, i, i2) = (out("o"), out("o2"), inb("i"), inb("i2"));

    // outbox -> inbox
    assert_eq!(link(&o, &i), Ok(LinkKind::Normal));
    assert!(o.is_linked());
    assert!(o.erased().destination().unwrap().same(&i.erased()));
    o.send(1).unwrap();
    assert_eq!((o.held(), i.len()), (0, 1));
    assert!(unlink(&o));
    assert!(!unlink(&o));
    assert!(!o.is_linked());
    assert!(o.erased().destination().is_none());
    o.send(2).unwrap();
    assert_eq!((o.held(), i.len()), (1, 1));

    // inbox -> inbox: what waits in `i` moves to `i2`.
    assert_eq!(link(&i, &i2), Ok(LinkKind::PassIn));
    assert_eq!((i.len(), drain(&i2)), (0, vec![1]));
    assert!(unlink(&i));
    assert!(i.erased().destination().is_none());

    // outbox -> outbox: the held message moves on.
    assert_eq!(link(&o, &o2), Ok(LinkKind::PassOut));
    assert_eq!((o.held(), o2.held()), (0, 1));
    assert!(unlink(&o));
    assert!(!o.is_linked());
}

#[test]
fn a_second_destination_is_refused_naming_the_first() {
    let (o, i, i2) = (out("o"), inb("i"), inb("i2"));
    link(&o, &i).unwrap();
    let e = link(&o, &i2).unwrap_err();
    match &e.kind {
        LinkErrorKind::AlreadyLinked { to } => assert_eq!(parts(to), unowned("i", Dir::In)),
        other => panic!("expected AlreadyLinked, got {other:?}"),
    }
    assert_eq!(parts(e.src.as_ref().unwrap()), unowned("o", Dir::Out));
    assert_eq!(parts(e.dst.as_ref().unwrap()), unowned("i2", Dir::In));
    assert_eq!(
        e.to_string(),
        "cannot link: source already linked from o (outbox of u32) to i2 (inbox of u32); \
         it already goes to i (inbox of u32)"
    );
    // The first link still stands.
    o.send(1).unwrap();
    assert_eq!((drain(&i), i2.len()), (vec![1], 0));
    // Many sources may share one destination.
    let o2 = out("o2");
    assert_eq!(link(&o2, &i), Ok(LinkKind::Normal));
}

#[test]
fn an_inbox_cannot_link_to_an_outbox() {
    let (o, i) = (out("o"), inb("i"));
    let e = link(&i, &o).unwrap_err();
    assert_eq!(e.kind, LinkErrorKind::Direction);
    assert_eq!(
        e.to_string(),
        "cannot link an inbox to an outbox from i (inbox of u32) to o (outbox of u32)"
    );
    assert!(i.erased().destination().is_none());
}

#[test]
fn cycles_are_refused() {
    let (a, b, c) = (inb("a"), inb("b"), inb("c"));
    assert_eq!(link(&a, &a).unwrap_err().kind, LinkErrorKind::Cycle);
    link(&a, &b).unwrap();
    link(&b, &c).unwrap();
    let e = link(&c, &a).unwrap_err();
    assert_eq!(e.kind, LinkErrorKind::Cycle);
    assert_eq!(
        e.to_string(),
        "cannot link: the chain would lead back to its start from c (inbox of u32) to a (inbox of u32)"
    );
    assert!(c.erased().destination().is_none());
    let (o1, o2) = (out("o1"), out("o2"));
    link(&o1, &o2).unwrap();
    assert_eq!(link(&o2, &o1).unwrap_err().kind, LinkErrorKind::Cycle);
    // The chain still delivers.
    o1.send(3).unwrap();
    assert_eq!(o2.held(), 1);
}

#[test]
fn normal_plus_inbox_pass_through_in_both_orders() {
    for first_normal in [true, false] {
        let (o, a, b) = (out("o"), inb("a"), inb("b"));
        o.send(0).unwrap();
        if first_normal {
            link(&o, &a).unwrap();
            o.send(1).unwrap();
            assert_eq!(a.len(), 2);
            link(&a, &b).unwrap();
        } else {
            link(&a, &b).unwrap();
            o.send(1).unwrap();
            assert_eq!(o.held(), 2);
            link(&o, &a).unwrap();
        }
        o.send(2).unwrap();
        assert_eq!((o.held(), a.len()), (0, 0));
        assert_eq!(drain(&b), vec![0, 1, 2], "first_normal = {first_normal}");
    }
}

#[test]
fn outbox_pass_through_plus_normal_in_both_orders() {
    for pass_first in [true, false] {
        let (child, container, i) = (out("child"), out("container"), inb("i"));
        child.send(0).unwrap();
        if pass_first {
            link(&child, &container).unwrap();
            child.send(1).unwrap();
            assert_eq!((child.held(), container.held()), (0, 2));
            link(&container, &i).unwrap();
        } else {
            link(&container, &i).unwrap();
            child.send(1).unwrap();
            assert_eq!(child.held(), 2);
            link(&child, &container).unwrap();
        }
        child.send(2).unwrap();
        assert_eq!((child.held(), container.held()), (0, 0));
        assert_eq!(drain(&i), vec![0, 1, 2], "pass_first = {pass_first}");
    }
}

#[test]
fn a_four_box_chain_built_in_every_order_delivers_everything_in_order() {
    // o1 -> o2 (pass-out), o2 -> i1 (normal), i1 -> i2 (pass-in); one send
    // before anything is linked and one after each link.
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for order in orders {
        let (o1, o2, i1, i2) = (out("o1"), out("o2"), inb("i1"), inb("i2"));
        o1.send(0).unwrap();
        for (k, which) in order.iter().enumerate() {
            let kind = match which {
                0 => link(&o1, &o2),
                1 => link(&o2, &i1),
                _ => link(&i1, &i2),
            };
            let expected = [LinkKind::PassOut, LinkKind::Normal, LinkKind::PassIn][*which];
            assert_eq!(kind, Ok(expected));
            o1.send(k as u32 + 1).unwrap();
        }
        assert_eq!((o1.held(), o2.held(), i1.len()), (0, 0, 0), "{order:?}");
        assert_eq!(drain(&i2), vec![0, 1, 2, 3], "{order:?}");
    }
}

#[test]
fn deleting_a_middle_link_delivers_to_the_new_end_of_the_chain() {
    let (o1, o2, i1, i2, i3) = (out("o1"), out("o2"), inb("i1"), inb("i2"), inb("i3"));
    link(&o1, &o2).unwrap();
    link(&o2, &i1).unwrap();
    link(&i1, &i2).unwrap();
    o1.send(1).unwrap();
    assert_eq!(drain(&i2), vec![1]);

    // Cut i1 -> i2: sends stop at i1.
    assert!(unlink(&i1));
    o1.send(2).unwrap();
    assert_eq!((i1.len(), i2.len()), (1, 0));

    // Cut o2 -> i1: sends stop in o2.
    assert!(unlink(&o2));
    o1.send(3).unwrap();
    assert_eq!((o1.held(), o2.held(), i1.len()), (0, 1, 1));

    // o2 -> i3: the held message moves there, later sends follow.
    link(&o2, &i3).unwrap();
    o1.send(4).unwrap();
    assert_eq!(drain(&i3), vec![3, 4]);
    assert_eq!(drain(&i1), vec![2]);

    // Cut the first link: o1 keeps its own sends.
    assert!(unlink(&o1));
    o1.send(5).unwrap();
    assert_eq!((o1.held(), o2.held(), i3.len()), (1, 0, 0));
}

/// A message that cannot be cloned, to show a refused send hands back the
/// very message.
#[derive(Debug, PartialEq)]
struct Token(String);

#[test]
fn size_limit_n_accepts_n_refuses_the_next_and_taking_k_frees_k() {
    let o: Outbox<Token> = Outbox::new("o", "");
    let i: Inbox<Token> = Inbox::bounded("i", "", 3);
    assert_eq!(i.limit(), Some(3));
    link(&o, &i).unwrap();
    for k in 0..3 {
        o.send(Token(format!("m{k}"))).unwrap();
    }
    assert!(o.is_full());
    match o.send(Token("m3".into())) {
        Err(Full(t)) => assert_eq!(t, Token("m3".into())),
        Ok(()) => panic!("the 4th send into a box of 3 was accepted"),
    }
    assert_eq!(i.len(), 3);
    assert_eq!(i.recv(), Some(Token("m0".into())));
    assert_eq!(i.recv(), Some(Token("m1".into())));
    assert!(!o.is_full());
    o.send(Token("m3".into())).unwrap();
    o.send(Token("m4".into())).unwrap();
    assert!(o.send(Token("m5".into())).is_err());
    let rest: Vec<String> = std::iter::from_fn(|| i.recv()).map(|t| t.0).collect();
    assert_eq!(rest, vec!["m2", "m3", "m4"]);
    // None = unlimited.
    i.set_limit(None);
    assert_eq!(i.limit(), None);
    for k in 0..10_000 {
        o.send(Token(k.to_string())).unwrap();
    }
    assert_eq!(i.len(), 10_000);
}

#[test]
fn link_with_limit_sets_the_destination_limit() {
    let (o, i) = (out("o"), inb("i"));
    assert_eq!(link_with_limit(&o, &i, 1), Ok(LinkKind::Normal));
    assert_eq!(i.limit(), Some(1));
    o.send(1).unwrap();
    assert_eq!(o.send(2).map_err(Full::into_inner), Err(2));
}

#[test]
fn a_limit_on_an_intermediate_box_is_ignored_until_the_chain_is_broken() {
    let o = out("o");
    let a: Inbox<u32> = Inbox::bounded("a", "", 1);
    let b = inb("b");
    link(&o, &a).unwrap();
    link(&a, &b).unwrap();
    for v in 0..5 {
        o.send(v).unwrap();
    }
    assert_eq!((a.len(), b.len()), (0, 5));
    // Break the chain: now `a` is the final box and its limit counts.
    unlink(&a);
    o.send(5).unwrap();
    assert_eq!(o.send(6).map_err(Full::into_inner), Err(6));
    // Re-join with b limited to 6: the waiting message moves along (moves
    // ignore limits), which fills b, and from then on b's limit counts.
    b.set_limit(Some(6));
    link(&a, &b).unwrap();
    assert_eq!((a.len(), b.len()), (0, 6));
    assert_eq!(o.send(6).map_err(Full::into_inner), Err(6));
    assert_eq!(drain(&b), vec![0, 1, 2, 3, 4, 5]);
}

#[test]
fn moving_held_messages_ignores_the_limit_and_keeps_order() {
    let o = out("o");
    for v in 0..4 {
        o.send(v).unwrap();
    }
    let i: Inbox<u32> = Inbox::bounded("i", "", 2);
    link(&o, &i).unwrap();
    assert_eq!(i.len(), 4);
    assert!(o.send(4).is_err());
    assert_eq!(drain(&i), vec![0, 1, 2, 3]);
}

#[test]
fn every_producer_sharing_a_destination_sees_the_same_limit() {
    let i: Inbox<u32> = Inbox::bounded("i", "", 2);
    let (o1, o2, o3, o4, o5) = (out("o1"), out("o2"), out("o3"), out("o4"), out("o5"));
    let a = inb("a");
    link(&o1, &i).unwrap();
    link(&o2, &i).unwrap();
    link(&o3, &a).unwrap();
    link(&a, &i).unwrap();
    link(&o4, &o5).unwrap();
    link(&o5, &i).unwrap();
    o1.send(1).unwrap();
    o2.send(2).unwrap();
    assert!(o3.send(3).is_err());
    assert!(o4.send(4).is_err());
    assert!(o1.send(1).is_err());
    assert!(o1.is_full() && o2.is_full() && o3.is_full() && o4.is_full());
    assert_eq!(i.recv(), Some(1));
    o3.send(3).unwrap();
    assert!(o4.send(4).is_err());
    assert_eq!(i.recv(), Some(2));
    o4.send(4).unwrap();
    assert_eq!(drain(&i), vec![3, 4]);
    assert_eq!((a.len(), o5.held()), (0, 0));
}

#[test]
fn link_by_name_reports_type_mismatch_naming_both_ends_and_types() {
    let mut h = Harness::new();
    let a = h.spawn(sleeper("Numbers"));
    struct Texts {
        inbox: Inbox<String>,
    }
    impl kamaelia::axon::Component for Texts {
        fn step(&mut self, _cx: &mut kamaelia::axon::Cx) -> Step {
            Step::Pause
        }
        fn boxes(&self, set: &mut kamaelia::axon::BoxSet) {
            set.add(&self.inbox);
        }
    }
    let b = h.spawn(Texts {
        inbox: Inbox::inbox(),
    });
    let s = h.scheduler();
    let e = s.link((a, "outbox"), (b, "inbox")).unwrap_err();
    assert_eq!(e.kind, LinkErrorKind::TypeMismatch);
    assert_eq!(
        e.to_string(),
        "cannot link: message types differ from Numbers#0.outbox (outbox of u32) \
         to Texts#1.inbox (inbox of alloc::string::String)"
    );
    assert_eq!(e.src.as_ref().unwrap().type_name, "u32");
    assert_eq!(e.dst.as_ref().unwrap().type_name, "alloc::string::String");
    // Erased handles, no names known: ids stand in.
    let e = link_refs(
        &s.find_box(a, "outbox").unwrap(),
        &s.find_box(b, "inbox").unwrap(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot link: message types differ from #0.outbox (outbox of u32) \
         to #1.inbox (inbox of alloc::string::String)"
    );
    // Missing box / component.
    let e = s.link((a, "nonesuch"), (b, "inbox")).unwrap_err();
    assert_eq!(
        e.kind,
        LinkErrorKind::NoSuchBox {
            component: "Numbers#0".into(),
            name: "nonesuch".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "component Numbers#0 has no box named 'nonesuch'"
    );
    // Nothing was linked by the failures.
    assert!(s.find_box(a, "outbox").unwrap().destination().is_none());
    assert!(s.snapshot().links.is_empty());
}

#[test]
fn a_finished_component_cuts_its_links_and_counts_what_it_left() {
    let mut h = Harness::new();
    let mut k = 0;
    let p = h.spawn(Script::new("P", move |io, _| {
        if k == 5 {
            return Step::Done;
        }
        io.outbox.send(k).unwrap();
        k += 1;
        Step::Yield
    }));
    let got = shared(Vec::new());
    let g = got.clone();
    let c = h.spawn(Script::new("C", move |io, _| match io.inbox.recv() {
        Some(v) => {
            g.borrow_mut().push(v);
            Step::Done
        }
        None => Step::Pause,
    }));
    let d = h.spawn(sleeper("D"));
    let s = h.scheduler();
    s.link((p, "outbox"), (c, "inbox")).unwrap();
    s.link((c, "outbox"), (d, "inbox")).unwrap();
    let c_in = s.find_box(c, "inbox").unwrap();
    let f = h.feeder::<u32>(c, "inbox").unwrap();
    assert_eq!(h.scheduler().snapshot().links.len(), 2);
    // Round 1: P sends 0, C takes it and finishes, D sleeps.
    assert_eq!(h.step(), Some((p, R::Yield)));
    f.send(100).unwrap(); // left behind in C's inbox
    assert_eq!(h.step(), Some((c, R::Done)));
    assert_eq!(*got.borrow(), vec![0]);
    assert_eq!(h.scheduler().stats().undelivered, 1);
    // Every link into and out of C is gone.
    assert_eq!(h.scheduler().snapshot().links, Vec::<LinkInfo>::new());
    assert!(!f.outbox().is_linked());
    f.send(101).unwrap();
    assert_eq!(f.outbox().held(), 1);
    assert_eq!(c_in.len(), 0);
    // P's later sends stay in P's outbox.
    assert_eq!(h.step(), Some((d, R::Sleep)));
    for _ in 0..4 {
        assert_eq!(h.step().map(|(id, _)| id), Some(p));
    }
    let snap = h.scheduler().snapshot();
    let p_out = snap
        .component(p)
        .unwrap()
        .boxes
        .iter()
        .find(|b| b.name == "outbox")
        .unwrap()
        .len;
    assert_eq!(p_out, 4);
    // Linking to the finished component is refused; looking it up fails.
    let e = link_refs(&f.outbox().erased(), &c_in).unwrap_err();
    assert_eq!(e.kind, LinkErrorKind::Finished);
    assert_eq!(
        h.scheduler().find_box(c, "inbox").unwrap_err().kind,
        LinkErrorKind::NoSuchComponent(c)
    );
    // P finishes holding 4 messages: they are counted too.
    assert_eq!(h.step(), Some((p, R::Done)));
    assert_eq!(h.scheduler().stats().undelivered, 5);
    assert_eq!(h.scheduler().run(), Ended::Stalled(vec![(d, "D".into())]));
}

#[test]
fn back_pressure_ten_thousand_messages_through_a_synchronous_link() {
    const N: u32 = 10_000;
    let mut h = Harness::new();
    let fulls = Rc::new(Cell::new(0u32));
    let fl = fulls.clone();
    let mut queue: VecDeque<u32> = (0..N).collect();
    let producer = Script::new("Producer", move |io, _| {
        // Fast: sends as much as it can in one step.
        while let Some(v) = queue.pop_front() {
            if let Err(Full(v)) = io.outbox.send(v) {
                queue.push_front(v);
                fl.set(fl.get() + 1);
                return Step::Pause;
            }
        }
        io.signal.send(Signal::ProducerFinished).unwrap();
        Step::Done
    });
    let got = shared(Vec::new());
    let consumer = taker("Consumer", 1, &got);
    assert_eq!(
        link_with_limit(&producer.io.outbox, &consumer.io.inbox, 1),
        Ok(LinkKind::Normal)
    );
    link(&producer.io.signal, &consumer.io.control).unwrap();
    let pid = h.spawn(producer);
    h.spawn(consumer);
    assert_eq!(h.scheduler().run(), Ended::Completed);
    assert_eq!(*got.borrow(), (0..N).collect::<Vec<_>>());
    // Every message but the last was refused once.
    assert_eq!(fulls.get(), N - 1);
    let sleeps = h
        .trace()
        .iter()
        .filter(|e| e.id == pid && e.result == R::Sleep)
        .count();
    assert_eq!(sleeps, (N - 1) as usize);
    assert_eq!(h.scheduler().stats().undelivered, 0);
}

/// The default boxes share one allocation: each box lives while any
/// handle to it does, whatever became of the other three, and what they
/// hold is dropped exactly once, when the last handle goes.
#[test]
fn a_default_box_outlives_its_siblings_and_drops_what_it_holds_once() {
    use kamaelia::axon::DefaultBoxes;
    let token = Rc::new(());
    let DefaultBoxes {
        inbox,
        control,
        outbox,
        signal,
    } = DefaultBoxes::<Rc<()>, Rc<()>>::new();
    let sink: Inbox<Rc<()>> = Inbox::new("sink", "test inbox");
    outbox.send(token.clone()).unwrap(); // held: not linked yet
    inbox.address().deliver(token.clone()).unwrap();
    let to_inbox = inbox.address();
    let by_name = outbox.erased();
    // Names and directions come from each box's place in the block.
    let named: Vec<(String, Dir)> = [
        inbox.erased(),
        control.erased(),
        by_name.clone(),
        signal.erased(),
    ]
    .iter()
    .map(|b| (b.name().to_string(), b.direction()))
    .collect();
    assert_eq!(
        named,
        [
            ("inbox", Dir::In),
            ("control", Dir::In),
            ("outbox", Dir::Out),
            ("signal", Dir::Out)
        ]
        .map(|(n, d)| (n.to_string(), d))
    );
    assert_eq!(by_name.description(), "data produced");
    drop((inbox, control, signal));
    // The inbox is reached through its address alone now.
    to_inbox.deliver(token.clone()).unwrap();
    drop(outbox);
    // The outbox only through its erased handle: linking it moves what it
    // held on.
    assert_eq!(link_refs(&by_name, &sink.erased()), Ok(LinkKind::Normal));
    assert!(Rc::ptr_eq(&sink.recv().unwrap(), &token));
    assert_eq!(Rc::strong_count(&token), 3); // two in the inbox, ours
    assert!(by_name.address::<u32>().is_none(), "wrong message type");
    let typed = by_name.address::<Rc<()>>();
    assert!(typed.is_some());
    drop(by_name);
    drop(typed);
    assert_eq!(Rc::strong_count(&token), 3);
    drop(to_inbox); // the last handle: the block goes, with the two messages
    assert_eq!(Rc::strong_count(&token), 1);
}

/// Each default box is dropped with its own last handle, as if it were
/// alone: two components' boxes linked both ways (and one linked to
/// itself) do not keep each other alive once their holders are gone.
#[test]
fn default_boxes_linked_both_ways_are_freed_with_their_holders() {
    use kamaelia::axon::DefaultBoxes;
    let token = Rc::new(());
    {
        let a = DefaultBoxes::<Rc<()>, Rc<()>>::new();
        let b = DefaultBoxes::<Rc<()>, Rc<()>>::new();
        link(&a.outbox, &b.inbox).unwrap();
        link(&b.outbox, &a.inbox).unwrap();
        link(&a.signal, &a.control).unwrap(); // a loop within one block
        a.outbox.send(token.clone()).unwrap();
        b.outbox.send(token.clone()).unwrap();
        a.signal.send(Signal::Shutdown).unwrap();
        assert_eq!(Rc::strong_count(&token), 3);
    }
    assert_eq!(Rc::strong_count(&token), 1, "a message outlived its boxes");
}
