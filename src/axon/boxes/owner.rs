//! Who owns a box node: the proc its block keeps for its nodes (the four
//! default boxes almost always belong to one component), or, for a node
//! owned by some other proc while a sibling uses the block's (default
//! boxes split between components, an inbox given a keeper), one of its
//! own in a side table. See `block.rs` for the blocks and how a node
//! reaches its block's header.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use super::super::proc::ProcRc;
use super::block::{block_of, owner_at, BITS, FIRST, FOUR_NODES, NODE_BYTES};
use super::node::{ALONE, INBOX, OWN_BLOCK, OWN_SIDE, TELL_BLOCK};
use super::spec::WordHash;
use super::Node;

thread_local! {
    /// The owners of nodes that cannot use their block's, by address;
    /// boxed, so that a reference to one stays valid while others come
    /// and go.
    static SIDE_OWNERS: RefCell<HashMap<usize, Box<ProcRc>, WordHash>> =
        RefCell::new(HashMap::default());
}

/// The owner of `node`, by its `OWN_*` bits.
#[inline(always)]
pub(super) fn owner_of<T: 'static>(node: &Node<T>) -> Option<&ProcRc> {
    let bits = node.bits.get();
    if bits & OWN_BLOCK != 0 {
        // SAFETY: the block is alive while its node is. The shared owner
        // is replaced only by `set_owner_of` of a node when no other node
        // of the block uses it, and this one does (`OWN_BLOCK`); its own
        // callers hold no reference from here across their `set_owner`.
        unsafe { (*owner_at(block_of(node))).as_ref() }
    } else if bits & OWN_SIDE != 0 {
        side_owner(node as *const Node<T> as usize)
    } else {
        None
    }
}

/// The owner of a node marked `TELL_BLOCK`: its block's, never `None`.
#[inline(always)]
pub(super) fn block_owner<T: 'static>(node: &Node<T>) -> &ProcRc {
    debug_assert!(node.bits.get() & OWN_BLOCK != 0 && node.off as usize == FIRST);
    let addr = node as *const Node<T> as usize - FIRST;
    // SAFETY: as in `owner_of`, with the block's provenance taken as in
    // `block_of`: a node marked `TELL_BLOCK` is its block's first (see
    // `set_owner_of`). It is marked `OWN_BLOCK` only when the shared owner
    // is `Some` (`set_owner_of` sets it so first), and that is cleared
    // only when no node is marked (`set_owner_of` with `None`).
    unsafe {
        (*owner_at(std::ptr::with_exposed_provenance_mut(addr)))
            .as_ref()
            .unwrap_unchecked()
    }
}

#[cold]
fn side_owner<'a>(addr: usize) -> Option<&'a ProcRc> {
    let p = SIDE_OWNERS.with(|s| s.borrow().get(&addr).map(|b| &**b as *const ProcRc))?;
    // SAFETY: the entry is boxed, so the handle stays where it is while
    // other entries come and go; it is removed only by `set_owner_of` of
    // this node (or its drop), which the caller does not reach while it
    // uses the reference (see `owner_of`).
    Some(unsafe { &*p })
}

/// Whether a node of `block` (a `Four`) other than the one at `slot`
/// uses the shared owner.
fn siblings_use_block(block: *mut u8, slot: u8) -> bool {
    (0..4u8).filter(|&i| i != slot).any(|i| {
        // SAFETY: node `i` of a `Four` sits `FOUR_NODES + i * NODE_BYTES`
        // into it, its `bits` `BITS` into the node, for any message type;
        // read through a `Cell` (others may hold references to that node,
        // which allow this). A node already dropped cleared its bits'
        // owner marks first, and its bytes stay until the block is freed.
        let bits = unsafe {
            &*block
                .add(FOUR_NODES + i as usize * NODE_BYTES + BITS)
                .cast::<Cell<u8>>()
        };
        bits.get() & OWN_BLOCK != 0
    })
}

/// Sets (or with `None` clears) the owner of `node`: the block's if it is
/// that one already or no other node uses the block's, else one of its
/// own in `SIDE_OWNERS`. The handles replaced are dropped last, once no
/// table is borrowed (dropping one may free a proc; no user code runs).
#[inline]
pub(super) fn set_owner_of<T: 'static>(node: &Node<T>, p: Option<ProcRc>) {
    // Clearing a node that has no owner (one closed, then dropped) changes
    // nothing: the shared owner is `Some` only while some node uses it.
    if p.is_none() && node.bits.get() & (OWN_BLOCK | OWN_SIDE) == 0 {
        return;
    }
    // SAFETY: the block is alive while its node is.
    let block = unsafe { block_of(node) };
    set_owner_at(&node.bits, node.slot, node.off, block, p);
}

/// The marks of a node that uses the shared owner: the first node of its
/// block, if an inbox, is marked `TELL_BLOCK` too.
#[inline]
fn block_bits(bits: u8, off: u8) -> u8 {
    if bits & INBOX != 0 && off as usize == FIRST {
        OWN_BLOCK | TELL_BLOCK
    } else {
        OWN_BLOCK
    }
}

/// `set_owner_of` for the node at `slot`, `off` bytes into `block` (not
/// generic: the message type plays no part): the common cases, a node
/// taking the shared owner when it is already that or unset, or clearing
/// it; the rest in `set_owner_slow`.
#[inline]
fn set_owner_at(bits_cell: &Cell<u8>, slot: u8, off: u8, block: *mut u8, p: Option<ProcRc>) {
    let bits = bits_cell.get();
    if bits & OWN_SIDE == 0 {
        // SAFETY: as in `set_owner_slow`: `block` is alive, and the shared
        // owner is written only when no node uses it.
        let shared = unsafe { owner_at(block) };
        let keep = !(OWN_BLOCK | TELL_BLOCK);
        match p {
            // `bits` has `OWN_BLOCK` (`set_owner_of` returned otherwise).
            None => {
                bits_cell.set(bits & keep);
                if slot == ALONE || !siblings_use_block(block, slot) {
                    // SAFETY: no node of the block uses it any more.
                    drop(unsafe { (*shared).take() });
                }
                return;
            }
            Some(p) => {
                // SAFETY: a read, for the comparison.
                match unsafe { (*shared).as_ref() } {
                    Some(q) if ProcRc::ptr_eq(q, &p) => {
                        bits_cell.set((bits & keep) | block_bits(bits, off));
                        return;
                    }
                    // Unset: then no node uses it (it is `Some` while one
                    // does), this one included.
                    None => {
                        // SAFETY: no node of the block uses it.
                        unsafe { *shared = Some(p) };
                        bits_cell.set(bits | block_bits(bits, off));
                        return;
                    }
                    Some(_) => return set_owner_slow(bits_cell, slot, off, block, Some(p)),
                }
            }
        }
    }
    set_owner_slow(bits_cell, slot, off, block, p)
}

/// `set_owner_at` in general: from or to a side owner, or a shared owner
/// replaced.
#[cold]
#[inline(never)]
fn set_owner_slow(bits_cell: &Cell<u8>, slot: u8, off: u8, block: *mut u8, p: Option<ProcRc>) {
    let bits = bits_cell.get();
    let addr = block as usize + off as usize;
    let old_side = if bits & OWN_SIDE != 0 {
        SIDE_OWNERS
            .try_with(|s| s.borrow_mut().remove(&addr))
            .ok()
            .flatten()
    } else {
        None
    };
    bits_cell.set(bits & !(OWN_BLOCK | OWN_SIDE | TELL_BLOCK));
    let block_bits = block_bits(bits, off);
    let siblings_use = || slot != ALONE && siblings_use_block(block, slot);
    // SAFETY: `block` is the node's, alive while the node is; see
    // `owner_of` for who holds references to the shared owner: a node
    // that uses it. The shared owner is replaced below only when no node
    // of the block uses it, so no such reference is in use.
    let shared = unsafe { owner_at(block) };
    let mut old_shared = None;
    match p {
        // SAFETY: reads the shared owner for the comparison (see above).
        Some(p) if unsafe { (*shared).as_ref() }.is_some_and(|q| ProcRc::ptr_eq(q, &p)) => {
            bits_cell.set(bits_cell.get() | block_bits);
        }
        Some(p) if !siblings_use() => {
            // SAFETY: no node of the block uses the shared owner (see above).
            old_shared = unsafe { (*shared).replace(p) };
            bits_cell.set(bits_cell.get() | block_bits);
        }
        Some(p) => {
            SIDE_OWNERS.with(|s| s.borrow_mut().insert(addr, Box::new(p)));
            bits_cell.set(bits_cell.get() | OWN_SIDE);
        }
        None => {
            if !siblings_use() {
                // SAFETY: no node of the block uses it (see above).
                old_shared = unsafe { (*shared).take() };
            }
        }
    }
    drop(old_side);
    drop(old_shared);
}
