//! The unsafe core of the boxes (blocks, counts, shared and side owners,
//! packed outbox handles) driven without a scheduler, so that these tests
//! run under Miri as well as ASan:
//! `cargo +nightly miri test --lib axon::boxes`.

use std::rc::Rc;

use super::*;
use crate::axon::component::DefaultBoxes;
use crate::axon::proc::{Core, Id, Proc, ProcRc, DEAD, SLEEPING};

/// A sleeping proc numbered `index`, as the scheduler would make one.
fn sleeping(core: &Rc<Core>, index: u32) -> ProcRc {
    let p = Proc::new(Id { index, gen: 0 }, core.clone());
    p.state.set(SLEEPING);
    p
}

/// Counts the messages alive, to check each is dropped once.
fn token() -> Rc<()> {
    Rc::new(())
}

#[test]
fn default_boxes_deliver_through_links_and_drop_in_any_order() {
    let t = token();
    for order in 0..4 {
        let a = DefaultBoxes::<Rc<()>, Rc<()>>::new();
        let b = DefaultBoxes::<Rc<()>, Rc<()>>::new();
        link(&a.outbox, &b.inbox).unwrap();
        link(&b.outbox, &a.inbox).unwrap();
        a.outbox.send(t.clone()).unwrap();
        b.outbox.send(t.clone()).unwrap();
        assert_eq!((a.inbox.len(), b.inbox.len()), (1, 1));
        let kept = b.inbox.address();
        let erased = a.outbox.erased();
        match order {
            0 => drop((a, b)),
            1 => drop((b, a)),
            2 => {
                let DefaultBoxes {
                    inbox,
                    control,
                    outbox,
                    signal,
                } = a;
                drop(b);
                drop(outbox);
                drop(inbox);
                drop((control, signal));
            }
            _ => {
                let DefaultBoxes {
                    inbox,
                    control,
                    outbox,
                    signal,
                } = b;
                drop((signal, control));
                drop(outbox);
                drop(a);
                drop(inbox);
            }
        }
        // `kept` holds b's inbox (one message); `erased` a's outbox,
        // whose link into b's inbox counts too.
        assert_eq!(Rc::strong_count(&t), 2, "order {order}");
        drop(erased);
        assert_eq!(Rc::strong_count(&t), 2, "order {order}");
        drop(kept);
        assert_eq!(Rc::strong_count(&t), 1, "order {order}");
    }
}

#[test]
fn an_outbox_reroutes_after_a_link_changes_and_drops_its_route() {
    let t = token();
    let out: Outbox<Rc<()>> = Outbox::new("o", "test");
    let first: Inbox<Rc<()>> = Inbox::new("first", "test");
    let second: Inbox<Rc<()>> = Inbox::new("second", "test");
    out.send(t.clone()).unwrap(); // kept: not linked
    link(&out, &first).unwrap();
    out.send(t.clone()).unwrap();
    assert_eq!(first.len(), 2);
    assert!(unlink(&out));
    link(&out, &second).unwrap();
    out.send(t.clone()).unwrap();
    assert_eq!((first.len(), second.len()), (2, 1));
    // The route still holds `second` once its own handle is gone.
    drop(second);
    out.send(t.clone()).unwrap();
    assert_eq!(Rc::strong_count(&t), 5);
    drop(out);
    assert_eq!(Rc::strong_count(&t), 3);
    drop(first);
    assert_eq!(Rc::strong_count(&t), 1);
}

#[test]
fn boxes_of_one_block_owned_by_two_procs_wake_their_own() {
    let core = Core::new();
    let (a, b) = (sleeping(&core, 0), sleeping(&core, 1));
    let boxes = DefaultBoxes::<u32, u32>::new();
    let (inbox, control) = (boxes.inbox.erased(), boxes.control.erased());
    assert_eq!(inbox.0.attach(&a), Ok(()));
    // `b` takes the control inbox: its owner goes to the side table.
    assert_eq!(control.0.attach(&b), Ok(()));
    // The inbox is `a`'s: another proc may not take it.
    assert_eq!(inbox.0.attach(&b), Err(a.id));
    boxes.inbox.address().deliver(1).unwrap();
    assert_eq!((a.pending.get(), b.pending.get()), (1, 0));
    boxes
        .control
        .address()
        .deliver(crate::axon::Signal::Shutdown)
        .unwrap();
    assert_eq!((a.pending.get(), b.pending.get()), (1, 1));
    assert_eq!(core.woken.len(), 2);
    // Closing `a`'s box leaves `b`'s open and owned.
    assert_eq!(inbox.0.close(), 1);
    assert!(boxes.inbox.address().is_closed());
    assert!(!boxes.control.address().is_closed());
    assert_eq!(control.owner(), Some(b.id));
    assert_eq!(a.pending.get(), 0);
    // Once `b` is done, its box counts as closed too.
    b.state.set(DEAD);
    assert!(boxes.control.address().is_closed());
    drop(boxes);
    drop((inbox, control));
}

#[test]
fn a_keeper_holds_refused_producers_until_an_owner_attaches() {
    let core = Core::new();
    let producer = sleeping(&core, 0);
    let consumer = sleeping(&core, 1);
    let src = DefaultBoxes::<u32, u32>::new();
    let dst = DefaultBoxes::<u32, u32>::new();
    src.outbox.erased().0.attach(&producer).unwrap();
    link_with_limit(&src.outbox, &dst.inbox, 1).unwrap();
    src.outbox.send(0).unwrap();
    assert!(src.outbox.send(1).is_err());
    // The producer waits on a keeper the unowned inbox's block now holds.
    assert_eq!(dst.inbox.erased().owner(), None);
    assert_eq!(core.woken.len(), 0);
    dst.control.erased().0.attach(&consumer).unwrap();
    dst.inbox.erased().0.attach(&consumer).unwrap();
    // Attaching woke the producer, and the consumer counts the message.
    assert_eq!(core.woken.len(), 1);
    assert_eq!(consumer.pending.get(), 1);
    assert_eq!(dst.inbox.recv(), Some(0));
    assert_eq!(consumer.pending.get(), 0);
}

#[test]
fn counts_past_u16_spill_and_come_back() {
    let t = token();
    let inbox: Inbox<Rc<()>> = Inbox::new("i", "test");
    inbox.address().deliver(t.clone()).unwrap();
    let n = super::block::SPILLED as usize + 10;
    let mut handles: Vec<_> = (0..n).map(|_| inbox.address()).collect();
    drop(inbox);
    handles.truncate(5);
    let first = handles[0].clone();
    handles.extend((0..n).map(|_| first.clone()));
    drop(first);
    handles.truncate(1);
    assert_eq!(Rc::strong_count(&t), 2);
    drop(handles);
    assert_eq!(Rc::strong_count(&t), 1);
}

#[test]
fn a_proc_keeps_its_waiter_list_and_frees_it_with_itself() {
    let core = Core::new();
    let consumer = sleeping(&core, 0);
    let producer = sleeping(&core, 1);
    for _ in 0..3 {
        consumer.add_waiter(&producer);
        consumer.add_waiter(&producer); // once only
        consumer.wake_waiters();
        assert_eq!(core.woken.len(), 1);
        core.woken.with(Vec::clear);
        producer.state.set(SLEEPING);
    }
    // A waiter that is only held by the list goes with the consumer.
    let other = sleeping(&core, 2);
    consumer.add_waiter(&other);
    drop(other);
    drop(consumer);
    drop(producer);
}
