//! The storage of one box (`Node`): its queue, its link, its limit, and
//! the owner it wakes; what sending, receiving and linking do to it.

use std::cell::{Cell, UnsafeCell};
use std::ptr::NonNull;

use super::super::proc::{Id, Proc, ProcRc, DEAD, F_HOLD, F_KEEPER, F_WAITERS};
use super::super::ring::Ring;
use super::block::{retain, spec_of, NodeRc};
use super::owner::{block_owner, owner_of, set_owner_of};
use super::spec::{bump_epoch, Spec, DEFAULT_SPECS};
use super::{BoxLabel, Dir, Full, LinkError, LinkErrorKind, LinkKind};

/// `Node::slot` of a node alone in its block.
pub(super) const ALONE: u8 = 4;

/// `Node::bits`: some box has been linked to this one, so routes may pass
/// through it (see `close`).
pub(super) const LINKED_INTO: u8 = 1;
/// `Node::bits`: closed (its component has finished, or it was a run-time
/// box since removed).
pub(super) const CLOSED: u8 = 2;
/// `Node::bits`: the owner is the one its block keeps for its nodes.
pub(super) const OWN_BLOCK: u8 = 4;
/// `Node::bits`: the owner is its own, in a side table (see `block.rs`).
pub(super) const OWN_SIDE: u8 = 8;
/// `Node::bits`: an inbox (`dir` is `Dir::In`), so that a send and a
/// receive find with one test both that the owner is to be told and where
/// it is (`inbox_owner`).
pub(super) const INBOX: u8 = 16;
/// `Node::bits`: `INBOX` and `OWN_BLOCK` on its block's first node (every
/// inbox but `control`), in one bit, for `inbox_owner`'s one test (kept so
/// by `set_owner_of`).
pub(super) const TELL_BLOCK: u8 = 32;

/// One box: 24 bytes, the same for every message type (`repr(C)`, and
/// its messages are behind its ring's pointer), in a block (see
/// `block.rs`) that keeps its handle count and its owner.
#[repr(C)]
pub(crate) struct Node<T: 'static> {
    pub(super) ring: UnsafeCell<Ring<T>>,
    /// The direct destination of a link from this box.
    pub(super) next: UnsafeCell<Option<NodeRc<T>>>,
    /// Most messages this box stores before refusing; `u32::MAX` = no limit.
    pub(super) limit: Cell<u32>,
    pub(super) dir: Dir,
    /// `LINKED_INTO`, `CLOSED`, `OWN_BLOCK`, `OWN_SIDE`.
    pub(super) bits: Cell<u8>,
    /// Which default box this is (an index into `DEFAULT_SPECS`, and its
    /// count's place in its block), or `ALONE`: then its spec is in its
    /// block.
    pub(super) slot: u8,
    /// Bytes from the start of this node's block to this node.
    pub(super) off: u8,
}

impl<T: 'static> Node<T> {
    /// The fields of a node placed `off` bytes into its block (only the
    /// block constructors above call this: a node is never made elsewhere).
    pub(super) fn fields(dir: Dir, slot: u8, off: usize) -> Self {
        Node {
            ring: UnsafeCell::new(Ring::new()),
            next: UnsafeCell::new(None),
            limit: Cell::new(u32::MAX),
            dir,
            bits: Cell::new(if dir == Dir::In { INBOX } else { 0 }),
            slot,
            off: u8::try_from(off).expect("a block of nodes is small"),
        }
    }

    #[inline]
    pub(super) fn has(&self, bit: u8) -> bool {
        self.bits.get() & bit != 0
    }

    pub(super) fn mark(&self, bit: u8, on: bool) {
        let b = self.bits.get();
        self.bits.set(if on { b | bit } else { b & !bit });
    }

    /// This box's name and description.
    pub(super) fn spec(&self) -> &Spec {
        match DEFAULT_SPECS.get(self.slot as usize) {
            Some(s) => s,
            None => spec_of(self),
        }
    }

    /// A new counted handle to this node.
    #[inline]
    pub(super) fn rc(&self) -> NodeRc<T> {
        retain(self);
        NodeRc(NonNull::from(self))
    }

    // The fields in `UnsafeCell`s are reached only through the accessors
    // below. Nodes are `!Send` and `!Sync` (they hold `Rc`s), so all access
    // is from one thread; what each accessor needs beyond that is stated on
    // it. ASan and valgrind check them through the box tests
    // (tests/axon_boxes.rs, axon_wake.rs, axon_defects.rs: links made,
    // cut and re-resolved, boxes closed with messages in them, messages
    // whose `Drop` sends while a route is re-resolved).

    /// The queue, borrowed mutably for a moment.
    ///
    /// Callers keep the reference only within one expression or a few
    /// statements that make no call into user code (a message's `Drop`, a
    /// component) and take no second reference from `ring()` of the same
    /// node while it is used (`move_all`, the one place that borrows two
    /// rings, returns early when they are the same node). So two mutable
    /// references to one ring are never in use at once.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub(super) fn ring(&self) -> &mut Ring<T> {
        // SAFETY: single-threaded (see above), and no other reference to
        // this ring is in use while the returned one is: see the contract.
        unsafe { &mut *self.ring.get() }
    }

    /// The component whose box this is, if any.
    ///
    /// Callers use the reference within a statement or to clone the
    /// handle, and hold none across a `set_owner` of this node (which may
    /// drop the handle it points to).
    #[inline(always)]
    pub(super) fn owner(&self) -> Option<&ProcRc> {
        owner_of(self)
    }

    /// The owner to tell of a message stored or taken: an inbox's; `None`
    /// for an outbox. The common case, an inbox first in its block and
    /// owned by its block's owner, is one test and one load (it is on
    /// every send and receive).
    #[inline(always)]
    pub(super) fn inbox_owner(&self) -> Option<&ProcRc> {
        if self.has(TELL_BLOCK) {
            Some(block_owner(self))
        } else {
            self.inbox_owner_slow()
        }
    }

    #[cold]
    #[inline(never)]
    fn inbox_owner_slow(&self) -> Option<&ProcRc> {
        if self.has(INBOX) {
            self.owner()
        } else {
            None
        }
    }

    /// Replaces the owner (see `block.rs` for where it is kept). The old
    /// handle is dropped here: at most a proc is freed, no user code runs.
    pub(super) fn set_owner(&self, p: Option<ProcRc>) {
        set_owner_of(self, p)
    }

    pub(super) fn next(&self) -> Option<NodeRc<T>> {
        // SAFETY: reads the field for the length of a clone; no reference
        // to it escapes, so it cannot overlap `set_next`'s write.
        unsafe { (*self.next.get()).clone() }
    }

    /// Replaces the link; returns the old one for the caller to drop
    /// (which may drop a node holding messages, so user code: the caller
    /// drops it when no borrow into any box is in use).
    pub(super) fn set_next(&self, n: Option<NodeRc<T>>) -> Option<NodeRc<T>> {
        // SAFETY: the only references to the field are these short ones
        // (`next` clones, `set_next` swaps); neither escapes, so this
        // mutable one is the only one in use. The old value is returned,
        // not dropped, so no user code runs while it is.
        unsafe { std::mem::replace(&mut *self.next.get(), n) }
    }

    /// Closed by `close`, or owned by a component that has finished.
    pub(super) fn is_closed(&self) -> bool {
        self.has(CLOSED) || self.owner().is_some_and(|p| p.state.get() == DEAD)
    }

    /// Stores a message here, or refuses it if full: then the caller
    /// registers the sender with `refuse` (kept out of this inlined path,
    /// which then needs no pointer to the sender).
    ///
    /// A closed box (its component has finished) has a limit of 0, so a
    /// push to one takes the refusal branch: that costs the common case
    /// nothing, and lets a sender whose cached route ends here find out
    /// (it checks `is_closed` on a refusal) without the finish
    /// re-resolving every route (see `close`). No waiter is registered
    /// with a closed box: nothing would ever wake it.
    #[inline(always)]
    pub(super) fn push(&self, msg: T) -> Result<(), Full<T>> {
        let ring = self.ring();
        if ring.len() as u32 >= self.limit.get() {
            return Err(Full(msg));
        }
        ring.push_back(msg);
        if let Some(o) = self.inbox_owner() {
            o.delivered(1);
        }
        Ok(())
    }

    /// Sets the limit, except on a closed box, whose limit stays 0 (see
    /// `push`).
    pub(super) fn set_limit(&self, limit: Option<usize>) {
        if !self.is_closed() {
            set_limit(&self.limit, limit)
        }
    }

    /// Registers the sender's owner to be woken when room appears; not
    /// with a closed box, which nothing will ever take from.
    #[cold]
    pub(super) fn refuse(&self, from: &Node<T>) {
        if self.is_closed() {
            return;
        }
        if let Some(producer) = from.owner() {
            producer.set(F_HOLD);
            if self.owner().is_none() {
                // An inbox no component owns (one a test or a program holds
                // directly) still needs somewhere to keep its waiters, so
                // that taking a message wakes the refused sender.
                let keeper = Proc::detached(producer.core.clone());
                keeper.pending.set(self.ring().len() as u32);
                // Marked, so that `attach` hands its waiters on to the
                // component that later owns this inbox.
                keeper.set(F_KEEPER);
                self.set_owner(Some(keeper));
            }
            if let Some(consumer) = self.owner() {
                consumer.add_waiter(producer);
            }
        }
    }

    #[inline]
    pub(super) fn pop(&self) -> Option<T> {
        let v = self.ring().pop_front()?;
        if let Some(o) = self.inbox_owner() {
            o.taken();
        }
        Some(v)
    }

    /// Follows the chain from here to the final storage, cutting links that
    /// lead into finished components on the way.
    pub(super) fn resolve(&self) -> NodeRc<T> {
        let mut cur = self.rc();
        while let Some(n) = cur.next() {
            if n.is_closed() {
                cur.set_next(None);
                break;
            }
            cur = n;
        }
        cur
    }

    /// Moves everything stored here to `to`, in order, ignoring its limit.
    pub(super) fn move_all(&self, to: &Node<T>) {
        let n = self.ring().len() as u32;
        if n == 0 || std::ptr::eq(self, to) {
            return;
        }
        let mut moved = Ring::new();
        std::mem::swap(self.ring(), &mut moved);
        if self.dir == Dir::In {
            if let Some(o) = self.owner() {
                o.pending.set(o.pending.get() - n);
            }
        }
        let dst = to.ring();
        while let Some(m) = moved.pop_front() {
            dst.push_back(m);
        }
        if to.dir == Dir::In {
            if let Some(o) = to.owner() {
                o.delivered(n);
            }
        }
    }

    pub(super) fn link_to(&self, dst: &Node<T>) -> Result<LinkKind, LinkError> {
        let kind = match (self.dir, dst.dir) {
            (Dir::Out, Dir::In) => LinkKind::Normal,
            (Dir::In, Dir::In) => LinkKind::PassIn,
            (Dir::Out, Dir::Out) => LinkKind::PassOut,
            (Dir::In, Dir::Out) => {
                return Err(LinkError::new(
                    LinkErrorKind::Direction,
                    self.label(),
                    dst.label(),
                ))
            }
        };
        if self.is_closed() || dst.is_closed() {
            return Err(LinkError::new(
                LinkErrorKind::Finished,
                self.label(),
                dst.label(),
            ));
        }
        if let Some(existing) = self.next() {
            if !existing.is_closed() {
                return Err(LinkError::new(
                    LinkErrorKind::AlreadyLinked {
                        to: Box::new(existing.label()),
                    },
                    self.label(),
                    dst.label(),
                ));
            }
        }
        // A chain that leads back to us would never end.
        let mut cur = Some(dst.rc());
        while let Some(n) = cur {
            if std::ptr::eq(&*n, self) {
                return Err(LinkError::new(
                    LinkErrorKind::Cycle,
                    self.label(),
                    dst.label(),
                ));
            }
            cur = n.next();
        }
        self.set_next(Some(dst.rc()));
        dst.mark(LINKED_INTO, true);
        bump_epoch();
        let fin = dst.resolve();
        self.move_all(&fin);
        // What this box held has moved on, so there is room in it now: a
        // producer refused by it (its owner, when a limited outbox filled
        // before it was linked) waits for exactly this.
        if let Some(o) = self.owner() {
            if o.has(F_WAITERS) {
                o.wake_waiters();
            }
        }
        Ok(kind)
    }

    pub(super) fn unlink(&self) -> bool {
        let Some(old) = self.set_next(None) else {
            return false;
        };
        bump_epoch();
        // Anyone waiting for room at the old end should look again.
        if let Some(o) = old.resolve().owner() {
            o.wake_waiters();
        }
        true
    }

    pub(super) fn label(&self) -> BoxLabel {
        BoxLabel {
            owner: self.owner().map(|p| p.id).filter(|id| *id != Id::DETACHED),
            component: None,
            name: self.spec().name.to_string(),
            dir: self.dir,
            type_name: std::any::type_name::<T>(),
        }
    }
}

pub(super) fn set_limit(cell: &Cell<u32>, limit: Option<usize>) {
    cell.set(match limit {
        None => u32::MAX,
        Some(n) => n.min(u32::MAX as usize - 1) as u32,
    })
}
