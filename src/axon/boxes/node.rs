//! The storage of one box, the erased view of it, and the link epoch that
//! tells an outbox its cached route may be stale.

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

// ---------------------------------------------------------------------------
// Blocks: nodes share one allocation and one reference count.
//
// A box node lives in a block: one allocation that starts with a `Block`
// header (the count of handles to any node in it, and how to free it) and
// holds one node (a box made on its own) or the four default boxes of a
// component (`default_four`): one allocation and one count instead of four
// `Rc`s of their own, which is 48 bytes of counts and three malloc chunks
// less for every component (see `benches/core.rs`, `idle`). A node finds its
// block by the byte offset it stores (`off`). The block, and every node in
// it, lives while any `NodeRc` or `DynRc` to any of its nodes does, as a
// group of `Rc`s would.

/// The header at the start of every block of nodes.
pub(crate) struct Block {
    /// Handles (`NodeRc`, `DynRc`) to any node of this block.
    count: Cell<usize>,
    /// Drops the block's nodes and frees it: made for the block's type by
    /// whoever allocated it (`free_block`).
    free: unsafe fn(NonNull<Block>),
}

/// Drops and frees a block made as a `Box<B>`.
///
/// # Safety
/// `b` must be the pointer `Box::into_raw` gave for a `Box<B>` (cast), and
/// no handle to any of its nodes may be left.
unsafe fn free_block<B>(b: NonNull<Block>) {
    // SAFETY: by the contract, this is the block's own box, used by nothing.
    drop(unsafe { Box::from_raw(b.as_ptr().cast::<B>()) })
}

/// A block holding one node: a box made on its own, with its name.
#[repr(C)]
struct One<T: 'static> {
    block: Block,
    spec: Rc<Spec>,
    node: Node<T>,
}

/// A block holding the four default boxes of a component.
#[repr(C)]
struct Four<I: 'static, O: 'static> {
    block: Block,
    inbox: Node<I>,
    control: Node<Signal>,
    outbox: Node<O>,
    signal: Node<Signal>,
}

/// The block a node lives in.
///
/// # Safety
/// `node` must point to a live node (one placed in its block by `NodeRc::new`
/// or `default_four`, the only places nodes are made) and be derived from
/// the block's allocation, and `off` must be that node's `off`.
#[inline]
unsafe fn block_of(node: NonNull<u8>, off: u8) -> NonNull<Block> {
    // SAFETY: the node sits `off` bytes after the start of its block, inside
    // the same allocation, and a block starts with its `Block` header.
    unsafe { NonNull::new_unchecked(node.as_ptr().sub(off as usize)).cast::<Block>() }
}

/// Counts one more handle to a block.
#[inline]
fn retain(b: &Block) {
    let n = b.count.get();
    // As `Rc`: a count that would wrap is a leak gone mad; stop.
    if n == usize::MAX {
        std::process::abort();
    }
    b.count.set(n + 1);
}

/// Counts one handle fewer; frees the block when it was the last.
///
/// # Safety
/// `b` must be the live block of a handle being dropped, not used after.
#[inline]
unsafe fn release(b: NonNull<Block>) {
    // SAFETY: the block is live: the handle being dropped counted in it.
    let hdr = unsafe { b.as_ref() };
    let n = hdr.count.get() - 1;
    hdr.count.set(n);
    if n == 0 {
        let free = hdr.free;
        // SAFETY: that was the last handle; `free` is the block's own.
        unsafe { free(b) }
    }
}

/// A counted handle to a typed box node (what `Rc<Node<T>>` was): keeps the
/// node's whole block alive.
pub(crate) struct NodeRc<T: 'static>(NonNull<Node<T>>);

impl<T: 'static> NodeRc<T> {
    /// A box on its own, in a block of one.
    pub(super) fn new(dir: Dir, spec: Rc<Spec>) -> Self {
        let one = Box::into_raw(Box::new(One {
            block: Block {
                count: Cell::new(1),
                free: free_block::<One<T>>,
            },
            spec,
            node: Node::fields(dir, ALONE, offset_of!(One<T>, node)),
        }));
        // SAFETY: `one` is a live allocation just made; the node pointer is
        // derived from it, so `block_of` may step back to its start.
        NodeRc(unsafe { NonNull::new_unchecked(&raw mut (*one).node) })
    }

    /// Whether two handles name the same node.
    #[inline]
    pub(super) fn ptr_eq(a: &Self, b: &Self) -> bool {
        a.0 == b.0
    }

    fn block(&self) -> NonNull<Block> {
        // SAFETY: `self.0` is a node placed in its block (see `block_of`),
        // alive while this handle is.
        unsafe { block_of(self.0.cast(), self.off) }
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
        self.rc()
    }
}

impl<T: 'static> Drop for NodeRc<T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the block of this handle, which is not used after.
        unsafe { release(self.block()) }
    }
}

impl<T: 'static> Deref for NodeRc<T> {
    type Target = Node<T>;
    #[inline]
    fn deref(&self) -> &Node<T> {
        // SAFETY: the handle keeps the node's block, so the node, alive.
        unsafe { self.0.as_ref() }
    }
}

/// The size of a block of four default boxes (checked by a test in
/// `boxes/mod.rs`).
#[cfg(test)]
pub(super) const FOUR_BYTES: usize = std::mem::size_of::<Four<u64, u64>>();

/// The four default boxes of a component in one block: `inbox`, `control`,
/// `outbox`, `signal`.
#[allow(clippy::type_complexity)]
pub(super) fn default_four<I: 'static, O: 'static>(
) -> (NodeRc<I>, NodeRc<Signal>, NodeRc<O>, NodeRc<Signal>) {
    let four = Box::into_raw(Box::new(Four::<I, O> {
        block: Block {
            count: Cell::new(4),
            free: free_block::<Four<I, O>>,
        },
        inbox: Node::fields(Dir::In, 0, offset_of!(Four<I, O>, inbox)),
        control: Node::fields(Dir::In, 1, offset_of!(Four<I, O>, control)),
        outbox: Node::fields(Dir::Out, 2, offset_of!(Four<I, O>, outbox)),
        signal: Node::fields(Dir::Out, 3, offset_of!(Four<I, O>, signal)),
    }));
    // SAFETY: `four` is a live allocation just made, counted for the four
    // handles returned; each node pointer is derived from it.
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
/// was): keeps the node's whole block alive.
pub(crate) struct DynRc(NonNull<dyn NodeDyn>);

impl DynRc {
    fn block(&self) -> NonNull<Block> {
        // SAFETY: as in `NodeRc::block`; the offset is the node's own.
        unsafe { block_of(self.0.cast(), self.off()) }
    }

    /// The typed handle, if the node carries `T`.
    pub(super) fn downcast<T: 'static>(&self) -> Option<NodeRc<T>> {
        self.downcast_ref::<T>().map(Node::rc)
    }

    /// The typed node, if it carries `T`.
    pub(super) fn downcast_ref<T: 'static>(&self) -> Option<&Node<T>> {
        // SAFETY: the message type says the node is a `Node<T>`, and it
        // lives while `self` does.
        (self.msg_type() == TypeId::of::<T>()).then(|| unsafe { self.0.cast::<Node<T>>().as_ref() })
    }
}

impl Clone for DynRc {
    fn clone(&self) -> Self {
        // SAFETY: the handle keeps the block alive.
        retain(unsafe { self.block().as_ref() });
        DynRc(self.0)
    }
}

impl Drop for DynRc {
    fn drop(&mut self) {
        // SAFETY: the block of this handle, which is not used after.
        unsafe { release(self.block()) }
    }
}

impl Deref for DynRc {
    type Target = dyn NodeDyn;
    #[inline]
    fn deref(&self) -> &(dyn NodeDyn + 'static) {
        // SAFETY: the handle keeps the node's block, so the node, alive.
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
                // SAFETY: a node alone in its block was placed there by
                // `NodeRc::new`, in a `One<T>` (see `block_of`), live while
                // `self` is.
                let one = unsafe { block_of(NonNull::from(self).cast(), self.off) };
                unsafe { &one.cast::<One<T>>().as_ref().spec }
            }
        }
    }

    /// A new counted handle to this node.
    #[inline]
    pub(super) fn rc(&self) -> NodeRc<T> {
        let p = NonNull::from(self);
        // SAFETY: every node lives in a block (see `block_of`), alive while
        // the reference is: the caller reached the node through a handle.
        retain(unsafe { block_of(p.cast(), self.off).as_ref() });
        NodeRc(p)
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
    /// Bytes from the start of the node's block to the node.
    fn off(&self) -> u8;
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
    fn off(&self) -> u8 {
        self.off
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
