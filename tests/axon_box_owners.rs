//! Who owns a box, when the four default boxes share one block with one
//! owner slot (src/axon/boxes/block.rs): boxes of one block split between
//! components, an inbox given a keeper before its component exists, and a
//! box with more handles than its block's 16-bit count holds.

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::*;
use kamaelia::axon::{
    link_with_limit, BoxSet, Component, Cx, DefaultBoxes, Full, Inbox, LinkKind, Signal, Step,
    StepResult as R,
};
use kamaelia::testing::Harness;

/// Holds one inbox of some block and records what arrives; ends after
/// `end_after` messages.
struct Holder<T: 'static> {
    inbox: Inbox<T>,
    got: Shared<Vec<T>>,
    end_after: usize,
}

impl<T: 'static> Component for Holder<T> {
    fn step(&mut self, _cx: &mut Cx<'_>) -> Step {
        while let Some(v) = self.inbox.recv() {
            self.got.borrow_mut().push(v);
        }
        if self.got.borrow().len() >= self.end_after {
            Step::Done
        } else {
            Step::Pause
        }
    }
    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox);
    }
}

/// The `inbox` and `control` of one block held by two components: each
/// delivery wakes the component holding that box and no other, and when
/// one finishes only its own box closes.
#[test]
fn default_boxes_split_between_components_keep_their_own_owners() {
    let mut h = Harness::new();
    let DefaultBoxes::<u32, u32> {
        inbox,
        control,
        outbox,
        signal,
    } = DefaultBoxes::new();
    drop((outbox, signal));
    let to_a = inbox.address();
    let to_b = control.address();
    let got_a = shared(Vec::new());
    let got_b = shared(Vec::new());
    let a = h.spawn(Holder {
        inbox,
        got: got_a.clone(),
        end_after: 2,
    });
    let b = h.spawn(Holder {
        inbox: control,
        got: got_b.clone(),
        end_after: 3,
    });
    // Both attached: neither box is named as belonging to the other.
    let snap = h.scheduler().snapshot();
    assert_eq!(snap.component(a).unwrap().boxes.len(), 1);
    assert_eq!(snap.component(b).unwrap().boxes.len(), 1);
    assert_eq!(h.run_until_idle(), 2);
    assert!(h.is_sleeping(a) && h.is_sleeping(b));

    to_a.deliver(1).unwrap();
    assert_eq!(h.step(), Some((a, R::Sleep)));
    assert_eq!(h.step(), None, "only the inbox's holder was woken");
    to_b.deliver(Signal::Shutdown).unwrap();
    assert_eq!(h.step(), Some((b, R::Sleep)));
    assert_eq!(h.step(), None, "only the control's holder was woken");

    to_a.deliver(2).unwrap();
    assert_eq!(h.step(), Some((a, R::Done)));
    assert!(to_a.is_closed());
    assert_eq!(to_a.deliver(3).map_err(|Full(v)| v), Err(3));
    // The other box of the block is still open and still wakes its holder.
    assert!(!to_b.is_closed());
    to_b.deliver(Signal::ProducerFinished).unwrap();
    assert_eq!(h.step(), Some((b, R::Sleep)));
    to_b.deliver(Signal::Shutdown).unwrap();
    assert_eq!(h.step(), Some((b, R::Done)));
    assert!(to_b.is_closed());
    assert_eq!(*got_a.borrow(), vec![1, 2]);
    assert_eq!(
        *got_b.borrow(),
        vec![Signal::Shutdown, Signal::ProducerFinished, Signal::Shutdown]
    );
}

/// A producer refused by a default inbox whose component is not spawned
/// yet waits on a keeper the block holds; spawning the component hands
/// over and wakes the producer, and everything arrives in order.
#[test]
fn a_producer_refused_before_the_consumer_exists_is_woken_when_it_is_spawned() {
    let mut h = Harness::new();
    let fulls = Rc::new(Cell::new(0));
    let fl = fulls.clone();
    let mut next = 0u32;
    let p = Script::new("P", move |io, _| {
        while next < 4 {
            if let Err(Full(_)) = io.outbox.send(next) {
                fl.set(fl.get() + 1);
                return Step::Pause;
            }
            next += 1;
        }
        Step::Done
    });
    let got = shared(Vec::new());
    let c = taker("C", 1, &got);
    assert_eq!(
        link_with_limit(&p.io.outbox, &c.io.inbox, 1),
        Ok(LinkKind::Normal)
    );
    let pid = h.spawn(p);
    // P fills the inbox (one message) and is refused: it sleeps, waiting
    // on the keeper of C's still unowned inbox.
    assert_eq!(h.step(), Some((pid, R::Sleep)));
    assert_eq!(fulls.get(), 1);
    assert_eq!(h.step(), None);
    let cid = h.spawn(c);
    h.run_until_idle();
    assert_eq!(*got.borrow(), vec![0, 1, 2, 3]);
    assert!(!h.is_alive(pid));
    assert!(h.is_sleeping(cid));
}

/// Counts of handles past `u16::MAX` go on in a side table: the box and
/// what it holds live until the very last handle goes, for a box alone in
/// its block and for one of the four default boxes.
#[test]
fn a_box_with_more_than_65535_handles_lives_until_the_last() {
    const HANDLES: usize = 70_000;
    let token = Rc::new(());
    let alone: Inbox<Rc<()>> = Inbox::new("alone", "test inbox");
    let four = DefaultBoxes::<Rc<()>, u32>::new();
    for (k, inbox) in [&alone, &four.inbox].into_iter().enumerate() {
        let mut handles: Vec<_> = (0..HANDLES).map(|_| inbox.address()).collect();
        inbox.address().deliver(token.clone()).unwrap();
        handles.last().unwrap().deliver(token.clone()).unwrap();
        // Drop from both ends, across the spill point: the newest half
        // first, then the oldest quarter.
        handles.truncate(HANDLES / 2);
        handles.drain(..HANDLES / 4);
        assert_eq!(inbox.len(), 2);
        // Ours, and two in each box so far.
        assert_eq!(Rc::strong_count(&token), 1 + 2 * (k + 1));
        // Past the spill point once more; all dropped at the loop's end.
        handles.extend((0..HANDLES).map(|_| inbox.address()));
        assert_eq!(handles.len(), HANDLES / 4 + HANDLES);
        assert_eq!(inbox.len(), 2);
    }
    let to_alone = alone.address();
    let to_four = four.inbox.address();
    drop(alone);
    drop(four);
    // Each box is held now by its one address.
    assert_eq!(Rc::strong_count(&token), 5);
    to_alone.deliver(token.clone()).unwrap();
    assert_eq!(Rc::strong_count(&token), 6);
    drop(to_alone);
    assert_eq!(Rc::strong_count(&token), 3);
    drop(to_four);
    assert_eq!(Rc::strong_count(&token), 1);
}
