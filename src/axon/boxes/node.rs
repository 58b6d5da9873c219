//! The storage of one box, the erased view of it, and the link epoch that
//! tells an outbox its cached route may be stale.

use std::alloc::Layout;
use std::any::TypeId;
use std::borrow::Cow;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::mem::offset_of;
use std::ops::Deref;
use std::ptr::NonNull;
use std::rc::Rc;

use super::super::proc::{Id, Proc, DEAD, F_HOLD, F_KEEPER, F_WAITERS};
use super::super::ring::Ring;
use super::super::signal::Signal;
use super::{BoxLabel, BoxRef, Dir, Full, LinkError, LinkErrorKind, LinkKind};

// ---------------------------------------------------------------------------
// Link epoch: bumped on every change of any link in this thread. An outbox's
// cached route is valid while its epoch matches.

/// Interning key of a static spec: the addresses and lengths of its strings.
type SpecKey = (usize, usize, usize, usize);

/// A multiply-rotate (Fx-style) hasher: a few instructions a word where
/// SipHash takes hundreds. For the axon's own tables of spec keys (our own
/// addresses) and box and component names (chosen by the program, not
/// outside input), so no flooding resistance is needed. Every map using it
/// is only looked up, never iterated, so its order reaches nothing.
#[derive(Default)]
pub(crate) struct WordHasher(u64);

/// Builds [`WordHasher`]s.
pub(crate) type WordHash = BuildHasherDefault<WordHasher>;

impl WordHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.add(u64::from_le_bytes(w.try_into().expect("8 bytes")));
        }
        for &b in words.remainder() {
            self.add(u64::from(b));
        }
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type SpecMap = HashMap<SpecKey, Rc<Spec>, WordHash>;

thread_local! {
    static EPOCH: Cell<u32> = const { Cell::new(1) };
    static SPECS: RefCell<SpecMap> = RefCell::new(SpecMap::default());
}

#[inline]
pub(crate) fn epoch() -> u32 {
    EPOCH.with(|e| e.get())
}

pub(crate) fn bump_epoch() {
    EPOCH.with(|e| {
        let next = e.get().wrapping_add(1);
        // 0 is reserved for "never resolved".
        e.set(if next == 0 { 1 } else { next })
    });
}

/// Name and description of a box. Static pairs are interned, so the four
/// default boxes of every component share four `Spec`s.
pub(crate) struct Spec {
    pub(super) name: Cow<'static, str>,
    pub(super) desc: Cow<'static, str>,
}

pub(super) fn static_spec(name: &'static str, desc: &'static str) -> Rc<Spec> {
    let key = (
        name.as_ptr() as usize,
        name.len(),
        desc.as_ptr() as usize,
        desc.len(),
    );
    SPECS.with(|s| {
        s.borrow_mut()
            .entry(key)
            .or_insert_with(|| {
                Rc::new(Spec {
                    name: Cow::Borrowed(name),
                    desc: Cow::Borrowed(desc),
                })
            })
            .clone()
    })
}

/// Names and descriptions of the default boxes, in block order: `inbox`,
/// `control`, `outbox`, `signal`.
pub(super) const DEFAULT_NAMES: [(&str, &str); 4] = [
    ("inbox", "data to process"),
    ("control", "shutdown signals: producer finished / shutdown"),
    ("outbox", "data produced"),
    ("signal", "sent once when this component ends"),
];

/// The specs of the default boxes: a node in a block of four finds its
/// own here by its place in the block, so it stores none.
static DEFAULT_SPECS: [Spec; 4] = {
    const fn spec(i: usize) -> Spec {
        Spec {
            name: Cow::Borrowed(DEFAULT_NAMES[i].0),
            desc: Cow::Borrowed(DEFAULT_NAMES[i].1),
        }
    }
    [spec(0), spec(1), spec(2), spec(3)]
};

pub(super) fn owned_spec(name: String, desc: String) -> Rc<Spec> {
    Rc::new(Spec {
        name: Cow::Owned(name),
        desc: Cow::Owned(desc),
    })
}

// ---------------------------------------------------------------------------
// Blocks: nodes share one allocation.
//
// A box node lives in a block: one allocation that holds one node (a box
// made on its own, `One`) or the four default boxes of a component
// (`default_four`, `Four`). A block starts with its counts, `u32`s: how many
// of its nodes are still alive, then, for each node, how many handles
// (`NodeRc`, `DynRc`) it has. One allocation with 4-byte counts instead of
// four `Rc`s with 16 bytes each saves 40 bytes and three malloc chunks for
// every component (see `benches/core.rs`, `idle`).
//
// Each node keeps its own count, so a node is dropped (its messages, its
// owner, its link) when its last handle goes, as an `Rc` would be: one
// count for the whole block would let a link from one block's outbox into
// another's inbox keep every box of the other component alive, and two
// components linked both ways would then keep each other forever. The
// memory is freed with the last node. A node finds its block by the byte
// offset it stores (`off`) and its count by its place (`slot`).

/// The counts at the start of a block: `[0]` the nodes still alive, then
/// one count of handles per node.
type Counts<const N: usize> = [Cell<u32>; N];

/// A block holding one node: a box made on its own, with its name.
#[repr(C)]
struct One<T: 'static> {
    counts: Counts<2>,
    spec: Rc<Spec>,
    node: Node<T>,
}

/// A block holding the four default boxes of a component.
#[repr(C)]
struct Four<I: 'static, O: 'static> {
    counts: Counts<5>,
    inbox: Node<I>,
    control: Node<Signal>,
    outbox: Node<O>,
    signal: Node<Signal>,
}

/// The size of a block of four default boxes (checked by a test in
/// `boxes/mod.rs`).
#[cfg(test)]
pub(super) const FOUR_BYTES: usize = std::mem::size_of::<Four<u64, u64>>();

/// The count of nodes still alive in `node`'s block, and of handles to
/// `node` itself.
///
/// # Safety
/// `node` must point to a node still alive, placed in its block by
/// `NodeRc::new` or `default_four` (the only places nodes are made), and be
/// derived from the block's allocation.
#[inline]
unsafe fn counts_of<T: 'static>(
    node: NonNull<Node<T>>,
) -> (NonNull<Cell<u32>>, NonNull<Cell<u32>>) {
    // SAFETY: the node is alive, so its `off` and `slot` can be read.
    let (off, slot) = unsafe { ((*node.as_ptr()).off, (*node.as_ptr()).slot) };
    let i = if slot == ALONE { 0 } else { slot as usize };
    // SAFETY: the node sits `off` bytes after the start of its block, in
    // the same allocation, and a block starts with its counts: the live
    // count, then one per node, in slot order.
    unsafe {
        let live = NonNull::new_unchecked(node.as_ptr().cast::<u8>().sub(off as usize))
            .cast::<Cell<u32>>();
        (live, live.add(1 + i))
    }
}

/// Counts one more handle to a node.
#[inline]
fn retain<T: 'static>(node: &Node<T>) {
    // SAFETY: the node is alive (a reference to it was reached through a
    // handle), placed in its block as `counts_of` requires.
    let (_, count) = unsafe { counts_of(NonNull::from(node)) };
    // SAFETY: the block lives while the node does.
    let c = unsafe { count.as_ref() };
    // As `Rc`: a count that would wrap is a leak gone mad; stop.
    if c.get() == u32::MAX {
        std::process::abort();
    }
    c.set(c.get() + 1);
}

/// Counts one handle fewer to a node; drops the node when that was its
/// last, and frees the block when that was its last live node.
///
/// # Safety
/// `node` must be the node of a handle being dropped, which is not used
/// after.
unsafe fn release<T: 'static>(node: NonNull<Node<T>>) {
    // SAFETY: the node is alive: the handle being dropped counted on it.
    let (live, count) = unsafe { counts_of(node) };
    // SAFETY: the block lives while the node does.
    let c = unsafe { count.as_ref() };
    let n = c.get() - 1;
    c.set(n);
    if n > 0 {
        return;
    }
    // SAFETY: as above; read before the node is dropped.
    let alone = unsafe { node.as_ref() }.slot == ALONE;
    // The last handle: drop what the node holds. That may run user code (a
    // message's `Drop`) and release other nodes, this block's too; this
    // node still counts as live meanwhile, so the block stays.
    // SAFETY: no handle to the node is left, so nothing uses it again; it
    // is dropped once, here.
    unsafe { std::ptr::drop_in_place(node.as_ptr()) };
    // SAFETY: the block is still allocated (this node counted as live).
    let l = unsafe { live.as_ref() };
    l.set(l.get() - 1);
    if l.get() > 0 {
        return;
    }
    let block = live.cast::<u8>();
    // SAFETY: every node of the block has been dropped and nothing refers
    // to it. The block was made by `Box::new` of a `One<T>` (for a node
    // alone, which carries this node's `T`) or of a `Four<_, _>`, whose
    // layout does not depend on its types (checked in `default_four`);
    // a `One`'s spec lives outside its node and is dropped here.
    unsafe {
        if alone {
            std::ptr::drop_in_place(&raw mut (*block.as_ptr().cast::<One<T>>()).spec);
            std::alloc::dealloc(block.as_ptr(), Layout::new::<One<T>>());
        } else {
            std::alloc::dealloc(block.as_ptr(), Layout::new::<Four<(), ()>>());
        }
    }
}

/// `release` for a node known by an erased pointer, as a `DynRc` holds it.
///
/// # Safety
/// As `release`; `node` must point to a `Node<T>`.
unsafe fn release_erased<T: 'static>(node: NonNull<u8>) {
    // SAFETY: by the contract.
    unsafe { release(node.cast::<Node<T>>()) }
}

/// A counted handle to a typed box node (what `Rc<Node<T>>` was).
pub(crate) struct NodeRc<T: 'static>(NonNull<Node<T>>);

impl<T: 'static> NodeRc<T> {
    /// A box on its own, in a block of one.
    pub(super) fn new(dir: Dir, spec: Rc<Spec>) -> Self {
        let one = Box::into_raw(Box::new(One {
            counts: [Cell::new(1), Cell::new(1)],
            spec,
            node: Node::fields(dir, ALONE, offset_of!(One<T>, node)),
        }));
        // SAFETY: `one` is a live allocation just made, counted for the
        // handle returned; the node pointer is derived from it.
        NodeRc(unsafe { NonNull::new_unchecked(&raw mut (*one).node) })
    }

    /// Whether two handles name the same node.
    #[inline]
    pub(super) fn ptr_eq(a: &Self, b: &Self) -> bool {
        a.0 == b.0
    }

    /// The erased handle to the same node.
    pub(super) fn erase(self) -> DynRc {
        let p: NonNull<dyn NodeDyn> = self.0;
        std::mem::forget(self);
        DynRc(p)
    }
}

impl<T: 'static> Clone for NodeRc<T> {
    #[inline]
    fn clone(&self) -> Self {
        Node::rc(self)
    }
}

impl<T: 'static> Drop for NodeRc<T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the node of this handle, which is not used after.
        unsafe { release(self.0) }
    }
}

impl<T: 'static> Deref for NodeRc<T> {
    type Target = Node<T>;
    #[inline]
    fn deref(&self) -> &Node<T> {
        // SAFETY: the handle keeps the node alive.
        unsafe { self.0.as_ref() }
    }
}

/// The four default boxes of a component in one block: `inbox`, `control`,
/// `outbox`, `signal`.
#[allow(clippy::type_complexity)]
pub(super) fn default_four<I: 'static, O: 'static>(
) -> (NodeRc<I>, NodeRc<Signal>, NodeRc<O>, NodeRc<Signal>) {
    // `release` frees a block of four knowing neither type: its layout must
    // not depend on them (a node's types are only behind pointers).
    const {
        assert!(
            std::mem::size_of::<Four<I, O>>() == std::mem::size_of::<Four<(), ()>>()
                && std::mem::align_of::<Four<I, O>>() == std::mem::align_of::<Four<(), ()>>()
        )
    };
    let four = Box::into_raw(Box::new(Four::<I, O> {
        counts: [4, 1, 1, 1, 1].map(Cell::new),
        inbox: Node::fields(Dir::In, 0, offset_of!(Four<I, O>, inbox)),
        control: Node::fields(Dir::In, 1, offset_of!(Four<I, O>, control)),
        outbox: Node::fields(Dir::Out, 2, offset_of!(Four<I, O>, outbox)),
        signal: Node::fields(Dir::Out, 3, offset_of!(Four<I, O>, signal)),
    }));
    // SAFETY: `four` is a live allocation just made, each node counted for
    // the handle returned; each node pointer is derived from it.
    unsafe {
        (
            NodeRc(NonNull::new_unchecked(&raw mut (*four).inbox)),
            NodeRc(NonNull::new_unchecked(&raw mut (*four).control)),
            NodeRc(NonNull::new_unchecked(&raw mut (*four).outbox)),
            NodeRc(NonNull::new_unchecked(&raw mut (*four).signal)),
        )
    }
}

/// A counted, type-erased handle to a box node (what `Rc<dyn NodeDyn>`
/// was).
pub(crate) struct DynRc(NonNull<dyn NodeDyn>);

impl DynRc {
    /// The typed handle, if the node carries `T`.
    pub(super) fn downcast<T: 'static>(&self) -> Option<NodeRc<T>> {
        self.downcast_ref::<T>().map(Node::rc)
    }

    /// The typed node, if it carries `T`.
    pub(super) fn downcast_ref<T: 'static>(&self) -> Option<&Node<T>> {
        // SAFETY: `NodeDyn` is implemented for `Node<T>` alone, so the
        // message type says the node is a `Node<T>`; it lives while `self`
        // does.
        (self.msg_type() == TypeId::of::<T>()).then(|| unsafe { self.0.cast::<Node<T>>().as_ref() })
    }
}

impl Clone for DynRc {
    fn clone(&self) -> Self {
        self.retain();
        DynRc(self.0)
    }
}

impl Drop for DynRc {
    fn drop(&mut self) {
        let release = self.release_fn();
        // SAFETY: the node of this handle, of the type `release` was made
        // for; the handle is not used after.
        unsafe { release(self.0.cast()) }
    }
}

impl Deref for DynRc {
    type Target = dyn NodeDyn;
    #[inline]
    fn deref(&self) -> &(dyn NodeDyn + 'static) {
        // SAFETY: the handle keeps the node alive.
        unsafe { self.0.as_ref() }
    }
}

// ---------------------------------------------------------------------------

/// `Node::slot` of a node alone in its block.
const ALONE: u8 = u8::MAX;

/// One box. Its payload is 32 bytes; it lives in a block (see above).
pub(crate) struct Node<T: 'static> {
    pub(super) ring: UnsafeCell<Ring<T>>,
    /// Most messages this box stores before refusing; `u32::MAX` = no limit.
    pub(super) limit: Cell<u32>,
    pub(super) dir: Dir,
    /// Some box has been linked to this one, so routes may pass through it
    /// (see `close`).
    pub(super) linked_into: Cell<bool>,
    /// Which default box this is (an index into `DEFAULT_SPECS`), or
    /// `ALONE`: then its spec is in its block (`One::spec`).
    slot: u8,
    /// Bytes from the start of this node's block to this node.
    off: u8,
    /// The component whose box this is; a tombstone once it has finished.
    pub(super) owner: UnsafeCell<Option<Rc<Proc>>>,
    /// The direct destination of a link from this box.
    pub(super) next: UnsafeCell<Option<NodeRc<T>>>,
}

impl<T: 'static> Node<T> {
    /// The fields of a node placed `off` bytes into its block (only the
    /// block constructors above call this: a node is never made elsewhere).
    fn fields(dir: Dir, slot: u8, off: usize) -> Self {
        Node {
            ring: UnsafeCell::new(Ring::new()),
            limit: Cell::new(u32::MAX),
            dir,
            linked_into: Cell::new(false),
            slot,
            off: u8::try_from(off).expect("a block of nodes is small"),
            owner: UnsafeCell::new(None),
            next: UnsafeCell::new(None),
        }
    }

    /// This box's name and description.
    pub(super) fn spec(&self) -> &Spec {
        match DEFAULT_SPECS.get(self.slot as usize) {
            Some(s) => s,
            None => {
                let node = NonNull::from(self).cast::<u8>();
                // SAFETY: a node alone was placed by `NodeRc::new` in a
                // `One<T>`, `off` bytes into it, which lives while the node
                // does; the pointer is derived from the block's allocation.
                unsafe { &(*node.as_ptr().sub(self.off as usize).cast::<One<T>>()).spec }
            }
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

    #[inline]
    pub(super) fn owner(&self) -> Option<&Rc<Proc>> {
        // SAFETY: a shared reference to the field; it is written only by
        // `set_owner`, and no caller holds the reference returned here
        // across a call to `set_owner` (each uses it within the statement
        // or to clone the `Rc`).
        unsafe { (*self.owner.get()).as_ref() }
    }

    pub(super) fn set_owner(&self, p: Option<Rc<Proc>>) {
        // SAFETY: no reference from `owner()` is in use (see there); the
        // old value is dropped here, which drops at most an `Rc<Proc>`
        // (no user code: a proc holds no messages or components).
        unsafe { *self.owner.get() = p }
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

    pub(super) fn is_closed(&self) -> bool {
        self.owner().is_some_and(|p| p.state.get() == DEAD)
    }

    /// Stores a message here, or refuses it if full, registering the
    /// sender's owner to be woken when room appears.
    ///
    /// A closed box (its component has finished) has a limit of 0, so a
    /// push to one takes the refusal branch: that costs the common case
    /// nothing, and lets a sender whose cached route ends here find out
    /// (it checks `is_closed` on a refusal) without the finish
    /// re-resolving every route (see `close`). No waiter is registered
    /// with a closed box: nothing would ever wake it.
    #[inline(always)]
    pub(super) fn push(&self, msg: T, from: &Node<T>) -> Result<(), Full<T>> {
        let ring = self.ring();
        if ring.len() as u32 >= self.limit.get() {
            self.refuse(from);
            return Err(Full(msg));
        }
        ring.push_back(msg);
        if self.dir == Dir::In {
            if let Some(o) = self.owner() {
                o.delivered(1);
            }
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
        if self.dir == Dir::In {
            if let Some(o) = self.owner() {
                o.taken();
            }
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
        dst.linked_into.set(true);
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

// ---------------------------------------------------------------------------
// Erased access, for linking by name, introspection and the scheduler.

pub(crate) trait NodeDyn {
    fn name(&self) -> &str;
    fn description(&self) -> &str;
    fn dir(&self) -> Dir;
    fn type_name(&self) -> &'static str;
    fn msg_type(&self) -> TypeId;
    fn len(&self) -> usize;
    fn limit(&self) -> Option<usize>;
    fn owner_id(&self) -> Option<Id>;
    fn next_dyn(&self) -> Option<BoxRef>;
    fn unlink_dyn(&self) -> bool;
    fn link_dyn(&self, dst: &BoxRef) -> Result<LinkKind, LinkError>;
    /// Counts one more handle to the node.
    fn retain(&self);
    /// How to count one handle fewer (`release` for the node's type).
    fn release_fn(&self) -> unsafe fn(NonNull<u8>);
    fn attach(&self, proc: &Rc<Proc>) -> Result<(), Id>;
    fn close(&self, tombstone: &Rc<Proc>) -> usize;
    fn set_limit_dyn(&self, limit: Option<usize>);
    fn label(&self) -> BoxLabel;
    fn addr(&self) -> *const ();
    fn new_like(&self, dir: Dir, name: Cow<'static, str>, desc: Cow<'static, str>) -> BoxRef;
}

impl<T: 'static> NodeDyn for Node<T> {
    fn name(&self) -> &str {
        &self.spec().name
    }
    fn description(&self) -> &str {
        &self.spec().desc
    }
    fn dir(&self) -> Dir {
        self.dir
    }
    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
    fn msg_type(&self) -> TypeId {
        TypeId::of::<T>()
    }
    fn len(&self) -> usize {
        self.ring().len()
    }
    fn limit(&self) -> Option<usize> {
        let l = self.limit.get();
        (l != u32::MAX).then_some(l as usize)
    }
    fn owner_id(&self) -> Option<Id> {
        self.owner().map(|p| p.id).filter(|id| *id != Id::DETACHED)
    }
    fn next_dyn(&self) -> Option<BoxRef> {
        self.next()
            .filter(|n| !n.is_closed())
            .map(|n| BoxRef(n.erase()))
    }
    fn unlink_dyn(&self) -> bool {
        self.unlink()
    }
    fn link_dyn(&self, dst: &BoxRef) -> Result<LinkKind, LinkError> {
        let d = dst.0.downcast_ref::<T>().ok_or_else(|| {
            LinkError::new(LinkErrorKind::TypeMismatch, self.label(), dst.0.label())
        })?;
        self.link_to(d)
    }
    fn retain(&self) {
        retain(self)
    }
    fn release_fn(&self) -> unsafe fn(NonNull<u8>) {
        release_erased::<T>
    }
    fn attach(&self, proc: &Rc<Proc>) -> Result<(), Id> {
        if let Some(o) = self.owner() {
            if Rc::ptr_eq(o, proc) {
                return Ok(());
            }
            if o.has(F_KEEPER) {
                // Producers refused while no component owned this inbox
                // wait on the keeper, which nothing will ever wake once the
                // owner takes over: wake them now. Each retries its send,
                // and one still refused waits on the new owner.
                o.wake_waiters();
            } else if o.state.get() != DEAD {
                return Err(o.id);
            }
        }
        if self.dir == Dir::In {
            proc.pending
                .set(proc.pending.get() + self.ring().len() as u32);
        }
        self.set_owner(Some(proc.clone()));
        Ok(())
    }
    fn close(&self, tombstone: &Rc<Proc>) -> usize {
        let mut left = Ring::new();
        std::mem::swap(self.ring(), &mut left);
        let n = left.len();
        if let Some(o) = self.owner() {
            if self.dir == Dir::In {
                o.pending.set(o.pending.get() - n as u32);
            }
            o.wake_waiters();
        }
        self.set_owner(Some(tombstone.clone()));
        self.limit.set(0);
        // A route that ends here is seen to be closed by the sender itself
        // (`Outbox::send` checks its destination's owner), so only a route
        // that passes through this box, one some box links into and that
        // links on, must be re-resolved: then every outbox looks again.
        // Most boxes are not on such a route, and a finish then costs no
        // re-resolving elsewhere.
        if self.set_next(None).is_some() && self.linked_into.get() {
            bump_epoch();
        }
        drop(left);
        n
    }
    fn set_limit_dyn(&self, limit: Option<usize>) {
        Node::set_limit(self, limit)
    }
    fn label(&self) -> BoxLabel {
        Node::label(self)
    }
    fn addr(&self) -> *const () {
        self as *const Self as *const ()
    }
    fn new_like(&self, dir: Dir, name: Cow<'static, str>, desc: Cow<'static, str>) -> BoxRef {
        let spec = match (name, desc) {
            (Cow::Borrowed(n), Cow::Borrowed(d)) => static_spec(n, d),
            (n, d) => owned_spec(n.into_owned(), d.into_owned()),
        };
        BoxRef(NodeRc::<T>::new(dir, spec).erase())
    }
}

pub(super) fn set_limit(cell: &Cell<u32>, limit: Option<usize>) {
    cell.set(match limit {
        None => u32::MAX,
        Some(n) => n.min(u32::MAX as usize - 1) as u32,
    })
}
