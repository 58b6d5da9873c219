//! Blocks: box nodes share one allocation with their handle counts and
//! their owner, and the counted handles to them (`NodeRc`, `DynRc`).
//!
//! A box node lives in a block: one allocation that holds one node (a box
//! made on its own, `One`) or the four default boxes of a component
//! (`default_four`, `Four`). A block starts with a header: the owner its
//! nodes share (the `Proc` of the component whose boxes they are), then,
//! for each node, how many handles (`NodeRc`, `DynRc`) it has, as `u16`s.
//! The four default boxes thus cost one allocation of 112 bytes (it was
//! 152 with an owner pointer in each node and 4-byte counts; see
//! `benches/core.rs`, `idle`).
//!
//! Each node keeps its own count, so a node is dropped (its messages, its
//! link) when its last handle goes, as an `Rc` would be: one count for the
//! whole block would let a link from one block's outbox into another's
//! inbox keep every box of the other component alive, and two components
//! linked both ways would then keep each other forever. The memory is freed
//! when no node of the block has a handle left. A count that reaches
//! `u16::MAX` goes on in a side table (`SPILL`): a box with 65,535 handles
//! is rare, and the common case stays two bytes.
//!
//! The owner is shared: the four default boxes almost always belong to one
//! component. A node marks whether it uses the block's owner (`OWN_BLOCK`);
//! one owned by some other proc while a sibling uses the block's (the
//! default boxes split between components, or an inbox given a keeper)
//! keeps its owner in a side table (`OWN_SIDE`; see `owner.rs`), so
//! every node still has its own owner, as before.
//!
//! # Reaching the block from a node
//!
//! A node finds its block by the byte offset it stores (`off`) and its count
//! by its place (`slot`). Code holding a `&Node` (a reference retagged to
//! the node's bytes alone) must not reach the header through it: under
//! Stacked Borrows a pointer derived from that reference may only touch the
//! node. So each block's pointer, as `Box::into_raw` returned it (its
//! provenance covers the whole allocation), is exposed when the block is
//! made (`expose_provenance`), and every way to the header, a sibling or
//! the block itself (`block_of`) takes that provenance back from the
//! address (`with_exposed_provenance_mut`), never the node reference's.

use std::alloc::Layout;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::HashMap;
use std::mem::offset_of;
use std::ops::Deref;
use std::ptr::NonNull;
use std::rc::Rc;

use super::super::proc::ProcRc;
use super::super::signal::Signal;
use super::erased::NodeDyn;
use super::node::ALONE;
use super::spec::{Spec, WordHash};
use super::{Dir, Node};

/// The start of every block: the owner its nodes share, and one count of
/// handles per node, in slot order.
#[repr(C)]
struct Head<const N: usize> {
    owner: UnsafeCell<Option<ProcRc>>,
    counts: [Cell<u16>; N],
}

/// A block holding one node: a box made on its own, with its name (after
/// the node, so that the node sits where a `Four`'s first one does).
#[repr(C)]
struct One<T: 'static> {
    head: Head<1>,
    node: Node<T>,
    spec: Rc<Spec>,
}

/// A block holding the four default boxes of a component.
#[repr(C)]
struct Four<I: 'static, O: 'static> {
    head: Head<4>,
    inbox: Node<I>,
    control: Node<Signal>,
    outbox: Node<O>,
    signal: Node<Signal>,
}

/// The size of a block of four default boxes (checked by a test in
/// `boxes/mod.rs`).
#[cfg(test)]
pub(super) const FOUR_BYTES: usize = std::mem::size_of::<Four<u64, u64>>();

/// Where the counts start, in either kind of block.
const COUNTS: usize = offset_of!(Head<1>, counts);
const _: () = assert!(COUNTS == offset_of!(Head<4>, counts));
/// Where the first node of a `Four` starts, and the size of a node (the
/// same for every message type: a node holds its messages only behind
/// pointers; checked in `default_four`).
pub(super) const FOUR_NODES: usize = offset_of!(Four<(), ()>, inbox);
pub(super) const NODE_BYTES: usize = std::mem::size_of::<Node<()>>();
/// Where a block's first node starts: a `One`'s node and a `Four`'s
/// `inbox` find the shared owner `FIRST` bytes before them, without
/// reading their `off` (`block_owner`, on every send and receive).
pub(super) const FIRST: usize = offset_of!(One<()>, node);
const _: () = assert!(FIRST == FOUR_NODES);
/// Where a node's `bits` are, for any message type (`Node` is `repr(C)`
/// and its fields before `bits` hold no `T` inline).
pub(super) const BITS: usize = offset_of!(Node<()>, bits);

/// A count at this value goes on in `SPILL`. Under Miri, which tracks
/// every reference to a node, 65,535 handles take too long: the spill
/// path is tested there with a low threshold (the logic is the same).
pub(super) const SPILLED: u16 = if cfg!(miri) { 8 } else { u16::MAX };

thread_local! {
    /// Handles beyond `u16::MAX` to a node, by its address.
    static SPILL: RefCell<HashMap<usize, u64, WordHash>> = RefCell::new(HashMap::default());
}

/// The block holding `node`, with the provenance of the whole block.
///
/// # Safety
/// `node` must be a node placed in its block by `NodeRc::new` or
/// `default_four` (the only places nodes are made), whose block is still
/// allocated.
#[inline(always)]
pub(super) unsafe fn block_of<T: 'static>(node: &Node<T>) -> *mut u8 {
    let addr = node as *const Node<T> as usize - node.off as usize;
    // SAFETY (for the caller's use of the result): the block's pointer was
    // exposed when it was made, and the block is still allocated, so the
    // exposed provenance covers it; the node's own reference is not used
    // to reach outside the node.
    std::ptr::with_exposed_provenance_mut(addr)
}

/// The count of handles of the node at `slot` in `block`.
///
/// # Safety
/// `block` from `block_of`, and `slot` a node's slot in it.
#[inline(always)]
unsafe fn count_at<'a>(block: *mut u8, slot: u8) -> &'a Cell<u16> {
    // A node alone (`ALONE`, 4) has the one count, at 0.
    let i = (slot & 3) as usize;
    // SAFETY: a block starts with its header, whose counts are one per
    // node in slot order; the block lives while any of its nodes is
    // counted, which the caller's node is.
    unsafe { &*block.add(COUNTS).cast::<Cell<u16>>().add(i) }
}

/// The owner shared by the nodes of `block`.
///
/// # Safety
/// `block` from `block_of`; the caller keeps to the owner's contract (see
/// `Node::owner`, `Node::set_owner`).
#[inline(always)]
pub(super) unsafe fn owner_at(block: *mut u8) -> *mut Option<ProcRc> {
    // `Head::owner` is the first field of every block (`repr(C)`).
    UnsafeCell::raw_get(block.cast::<UnsafeCell<Option<ProcRc>>>())
}

/// Counts one more handle to a node.
#[inline]
pub(super) fn retain<T: 'static>(node: &Node<T>) {
    // SAFETY: the node is alive (a reference to it was reached through a
    // handle) and was placed in its block as `block_of` requires.
    let c = unsafe { count_at(block_of(node), node.slot) };
    match c.get() {
        SPILLED => spill_retain(node as *const Node<T> as usize),
        n => c.set(n + 1),
    }
}

#[cold]
fn spill_retain(addr: usize) {
    SPILL.with(|s| *s.borrow_mut().entry(addr).or_insert(0) += 1);
}

/// Counts one handle fewer, except the last: true when `c` counted only
/// the handle being dropped (then it stays at 1 while the node is dropped).
#[inline]
fn count_release(c: &Cell<u16>, addr: usize) -> bool {
    match c.get() {
        1 => true,
        SPILLED => {
            spill_release(c, addr);
            false
        }
        n => {
            c.set(n - 1);
            false
        }
    }
}

#[cold]
fn spill_release(c: &Cell<u16>, addr: usize) {
    let spilled = SPILL.with(|s| {
        let mut s = s.borrow_mut();
        match s.get_mut(&addr) {
            Some(extra) => {
                *extra -= 1;
                if *extra == 0 {
                    s.remove(&addr);
                }
                true
            }
            None => false,
        }
    });
    if !spilled {
        c.set(SPILLED - 1);
    }
}

/// Counts one handle fewer to a node; drops the node when that was its
/// last, and frees the block when no node of it has a handle left.
///
/// # Safety
/// `node` must be the node of a handle being dropped, which is not used
/// after.
#[inline]
unsafe fn release<T: 'static>(node: NonNull<Node<T>>) {
    // SAFETY: the node is alive: the handle being dropped counted on it.
    let n = unsafe { node.as_ref() };
    let (slot, off) = (n.slot, n.off);
    // SAFETY: as above; placed in its block by `NodeRc::new` or
    // `default_four`.
    let block = unsafe { block_of(n) };
    // SAFETY: `slot` is this node's.
    let count = unsafe { count_at(block, slot) };
    if count_release(count, node.as_ptr() as usize) {
        // SAFETY: the last handle of the node at `slot`, `off` in `block`.
        unsafe { drop_last::<T>(block, slot, off as usize) }
    }
}

/// Drops the node at `slot`, `off` bytes into `block`, whose last handle
/// is being dropped (its count still 1), and frees the block if no node
/// of it has a handle left.
///
/// # Safety
/// As `release`, for the last handle.
#[inline(never)]
unsafe fn drop_last<T: 'static>(block: *mut u8, slot: u8, off: usize) {
    // SAFETY: as `release` found it.
    let count = unsafe { count_at(block, slot) };
    // The last handle. Its count stays 1 while the node is dropped, which
    // may run user code (a message's `Drop`) that releases other nodes,
    // of this block too: the block must not be freed under us meanwhile.
    // SAFETY: the node sits `off` bytes into the block; this pointer has
    // the block's provenance, so dropping the node through it does not
    // depend on any reference to the node (none is left in use).
    let node = unsafe { block.add(off) }.cast::<Node<T>>();
    // SAFETY: as above; the node is alive until the drop below.
    unsafe { (*node).set_owner(None) };
    // SAFETY: no handle to the node is left, so nothing uses it again; it
    // is dropped once, here.
    unsafe { std::ptr::drop_in_place(node) };
    count.set(0);
    let alone = slot == ALONE;
    let nodes = if alone { 1 } else { 4 };
    // SAFETY: the block is still allocated (this node kept it), and every
    // slot below `nodes` is one of its counts.
    if (0..nodes).any(|i| unsafe { count_at(block, i) }.get() != 0) {
        return;
    }
    // SAFETY: no node of the block has a handle, every one has been
    // dropped (each cleared its owner: the shared one is gone), and
    // nothing refers to the block. It was made by `Box::new` of a `One<T>`
    // (for a node alone, which carries this node's `T`) or of a `Four<_,
    // _>`, whose layout does not depend on its types (checked in
    // `default_four`); a `One`'s spec lives outside its node and is
    // dropped here.
    unsafe {
        debug_assert!((*owner_at(block)).is_none());
        if alone {
            std::ptr::drop_in_place(&raw mut (*block.cast::<One<T>>()).spec);
            std::alloc::dealloc(block, Layout::new::<One<T>>());
        } else {
            std::alloc::dealloc(block, Layout::new::<Four<(), ()>>());
        }
    }
}

/// `release` for a node known by an erased pointer, as a `DynRc` holds it.
///
/// # Safety
/// As `release`; `node` must point to a `Node<T>`.
pub(super) unsafe fn release_erased<T: 'static>(node: NonNull<u8>) {
    // SAFETY: by the contract.
    unsafe { release(node.cast::<Node<T>>()) }
}

/// The name and description of a node alone in its block.
pub(super) fn spec_of<T: 'static>(node: &Node<T>) -> &Spec {
    debug_assert_eq!(node.slot, ALONE);
    // SAFETY: a node alone was placed by `NodeRc::new` in a `One<T>`,
    // which lives while the node does; the spec is read-only until the
    // block is freed.
    unsafe { &(*block_of(node).cast::<One<T>>()).spec }
}

// ---------------------------------------------------------------------------
// Handles

/// A counted handle to a typed box node (what `Rc<Node<T>>` was).
pub(crate) struct NodeRc<T: 'static>(pub(super) NonNull<Node<T>>);

impl<T: 'static> NodeRc<T> {
    /// A box on its own, in a block of one.
    pub(super) fn new(dir: Dir, spec: Rc<Spec>) -> Self {
        let one = Box::into_raw(Box::new(One {
            head: Head {
                owner: UnsafeCell::new(None),
                counts: [Cell::new(1)],
            },
            spec,
            node: Node::fields(dir, ALONE, offset_of!(One<T>, node)),
        }));
        // Exposed so that the node can reach its block (see the module
        // comment).
        one.expose_provenance();
        // SAFETY: `one` is a live allocation just made, counted for the
        // handle returned; the node pointer is derived from it.
        NodeRc(unsafe { NonNull::new_unchecked(&raw mut (*one).node) })
    }

    /// The handle as a raw pointer that still holds its count (for an
    /// `Outbox`, whose packed fields cannot be borrowed).
    #[inline]
    pub(super) fn into_raw(self) -> NonNull<Node<T>> {
        let p = self.0;
        std::mem::forget(self);
        p
    }

    /// The handle back from `into_raw`.
    ///
    /// # Safety
    /// `p` must come from `into_raw`, and its count be given back once.
    #[inline]
    pub(super) unsafe fn from_raw(p: NonNull<Node<T>>) -> Self {
        NodeRc(p)
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
    // `release` frees a block of four knowing neither type, and
    // `siblings_use_block` finds nodes by place: the layout must not
    // depend on them (a node's types are only behind pointers).
    const {
        assert!(
            std::mem::size_of::<Four<I, O>>() == std::mem::size_of::<Four<(), ()>>()
                && std::mem::align_of::<Four<I, O>>() == std::mem::align_of::<Four<(), ()>>()
                && std::mem::size_of::<Node<I>>() == NODE_BYTES
                && std::mem::size_of::<Node<O>>() == NODE_BYTES
                && offset_of!(Node<I>, bits) == BITS
                && offset_of!(Node<O>, bits) == BITS
                && offset_of!(Four<I, O>, signal) == FOUR_NODES + 3 * NODE_BYTES
        )
    };
    let four = Box::into_raw(Box::new(Four::<I, O> {
        head: Head {
            owner: UnsafeCell::new(None),
            counts: [1, 1, 1, 1].map(Cell::new),
        },
        inbox: Node::fields(Dir::In, 0, offset_of!(Four<I, O>, inbox)),
        control: Node::fields(Dir::In, 1, offset_of!(Four<I, O>, control)),
        outbox: Node::fields(Dir::Out, 2, offset_of!(Four<I, O>, outbox)),
        signal: Node::fields(Dir::Out, 3, offset_of!(Four<I, O>, signal)),
    }));
    // Exposed so that the nodes can reach their block (see the module
    // comment).
    four.expose_provenance();
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
        (self.msg_type() == std::any::TypeId::of::<T>())
            .then(|| unsafe { self.0.cast::<Node<T>>().as_ref() })
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
