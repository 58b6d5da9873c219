//! Typed inboxes and outboxes, links between them, and the erased handles
//! used to link boxes by name.
//!
//! # The model
//!
//! Every box is a node with its own storage. An [`Inbox`] stores what is
//! delivered to it; an [`Outbox`] stores what is sent on it while it is not
//! linked anywhere, and hands that on the moment it is linked. A link joins a
//! source box to one destination box of the same message type:
//!
//! | link             | meaning                                                  |
//! |------------------|----------------------------------------------------------|
//! | outbox -> inbox  | ordinary link                                            |
//! | inbox -> inbox   | pass-through: a container's inbox forwarded to a child's |
//! | outbox -> outbox | pass-through: a child's outbox appears as its container's|
//!
//! A box has at most one destination; many sources may share one. Chains are
//! resolved to their final storage: an outbox caches where its messages end
//! up, and re-resolves (following the chain once) only after some link in the
//! process changed. So a send is a push onto the final queue plus a wake of
//! its owner: no lookup, no allocation, no copy.
//!
//! # What is never lost
//!
//! * A send on an unlinked outbox is kept in the outbox and moves on, in
//!   order, when the outbox is linked.
//! * A full inbox refuses the message and hands it back ([`Full`]); the
//!   sender is woken when the consumer takes a message.
//! * When a component finishes, links into it are cut: later sends are kept
//!   in the sender's outbox (as for any unlinked outbox). Messages still
//!   waiting in the finished component's inboxes cannot be delivered; they
//!   are counted in [`Stats::undelivered`](crate::axon::Stats) and logged at
//!   `warn` level.
//! * Messages moved along by a new link are never refused: a box's limit
//!   applies to sends, so order is kept.
//!
//! # Layout of this module
//!
//! * `node`: the storage of one box ([`Node`](node::Node)) and what
//!   sending, receiving and linking do to it.
//! * `block`: the allocations nodes live in, with their handle counts and
//!   their owner, and the counted handles to nodes.
//! * `owner`: which proc owns a node (its block's, or its own).
//! * `erased`: the view of a node without its message type, which the
//!   scheduler and linking by name use.
//! * `spec`: box names and descriptions, and the link epoch.
//! * `handle`: [`BoxRef`], the erased handle, and the link errors.
//! * `typed`: the typed handles a component holds ([`Inbox`], [`Outbox`],
//!   [`Address`]) and [`link`].
//!
//! Boxes sit below the scheduler: they know a component only by its
//! [`Proc`](super::proc::Proc) (its wake state), never the component itself.

mod block;
mod erased;
mod handle;
mod node;
mod owner;
mod spec;
#[cfg(test)]
mod tests;
mod typed;

use std::fmt;

pub use handle::{link_refs, BoxLabel, BoxRef, LinkError, LinkErrorKind};
use node::Node;
pub(crate) use spec::{bump_epoch, epoch, WordHash};
pub(crate) use typed::default_boxes;
pub use typed::{link, link_with_limit, unlink, Address, Inbox, Outbox, Port};

/// Which way a box faces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Messages are delivered to it and the owner receives them.
    In,
    /// The owner sends messages on it.
    Out,
}

/// The kind of a link, by the directions of its two ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkKind {
    /// outbox -> inbox
    Normal,
    /// inbox -> inbox (a container forwards its inbox into a child)
    PassIn,
    /// outbox -> outbox (a child's outbox appears as its container's)
    PassOut,
}

/// A message handed back by a full inbox.
pub struct Full<T>(pub T);

impl<T> Full<T> {
    /// The refused message.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Full(..)")
    }
}

impl<T> fmt::Display for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("destination inbox is full")
    }
}

impl<T> std::error::Error for Full<T> {}

#[cfg(test)]
mod layout {
    use super::node::Node;
    use super::*;
    use crate::axon::proc::Proc;

    /// The idle-component budget (see `benches/core.rs`) rests on these
    /// sizes: a box node is 24 bytes (its ring one pointer, its name found
    /// by its place, its owner and count kept by its block), so the four
    /// default boxes with their block header take 112 bytes in one
    /// allocation; an outbox handle caches its route in 20 bytes (packed
    /// to 4, so a component's four handles take 56), and a proc (which
    /// holds the component pointer and its own count, so the scheduler's
    /// slot is one 8-byte pointer) is one 48-byte allocation.
    #[test]
    fn box_sizes_stay_small() {
        assert!(
            std::mem::size_of::<Node<u64>>() <= 24,
            "{}",
            std::mem::size_of::<Node<u64>>()
        );
        const { assert!(block::FOUR_BYTES <= 112) };
        assert_eq!(std::mem::size_of::<Inbox<u64>>(), 8);
        assert_eq!(std::mem::size_of::<Outbox<u64>>(), 20);
        assert_eq!(
            std::mem::size_of::<crate::axon::DefaultBoxes<u64, u64>>(),
            56
        );
        assert!(
            std::mem::size_of::<Proc>() <= 48,
            "{}",
            std::mem::size_of::<Proc>()
        );
    }
}
