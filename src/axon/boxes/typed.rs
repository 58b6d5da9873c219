//! The typed handles a component holds: [`Inbox`], [`Outbox`], [`Address`],
//! and [`link`] between them.

use std::cell::UnsafeCell;
use std::ptr::NonNull;

use super::super::proc::ProcRc;
use super::super::signal::Signal;
use super::block::{default_four, NodeRc};
use super::erased::NodeDyn;
use super::spec::{epoch, owned_spec, static_spec, DEFAULT_NAMES};
use super::{BoxRef, Dir, Full, LinkError, LinkKind, Node};

// ---------------------------------------------------------------------------
// Typed handles

/// A box a component receives messages on.
///
/// ```
/// use kamaelia::axon::Inbox;
/// let inbox: Inbox<String> = Inbox::new("inbox", "text to convert");
/// assert_eq!(inbox.recv(), None);
/// ```
pub struct Inbox<T: 'static> {
    node: NodeRc<T>,
}

impl<T: 'static> Inbox<T> {
    /// An unbounded inbox.
    pub fn new(name: &'static str, description: &'static str) -> Self {
        Inbox {
            node: NodeRc::new(Dir::In, static_spec(name, description)),
        }
    }

    /// An inbox that stores at most `limit` messages; a send beyond that is
    /// refused and handed back to the sender.
    pub fn bounded(name: &'static str, description: &'static str, limit: usize) -> Self {
        let b = Self::new(name, description);
        b.set_limit(Some(limit));
        b
    }

    /// An inbox with a name made at run time (see [`AdaptiveBoxes`](crate::axon::AdaptiveBoxes)).
    pub fn named(name: String, description: String) -> Self {
        Inbox {
            node: NodeRc::new(Dir::In, owned_spec(name, description)),
        }
    }

    /// The default data inbox, `inbox` (named after Kamaelia's box).
    #[allow(clippy::self_named_constructors)]
    pub fn inbox() -> Self {
        Self::new(INBOX.0, INBOX.1)
    }

    /// Takes the oldest message, if any.
    #[inline]
    pub fn recv(&self) -> Option<T> {
        self.node.pop()
    }

    /// Messages waiting in this inbox. A container's inbox that is
    /// pass-through linked to a child holds nothing itself: its messages go
    /// straight to the child.
    pub fn len(&self) -> usize {
        self.node.ring().len()
    }

    /// True when no message waits here.
    pub fn is_empty(&self) -> bool {
        self.node.ring().is_empty()
    }

    /// Sets (or with `None` removes) the limit on waiting messages.
    pub fn set_limit(&self, limit: Option<usize>) {
        self.node.set_limit(limit)
    }

    /// The limit on waiting messages, if any.
    pub fn limit(&self) -> Option<usize> {
        NodeDyn::limit(&*self.node)
    }

    /// This box's name.
    pub fn name(&self) -> &str {
        &self.node.spec().name
    }

    /// An erased handle, for linking by name and introspection.
    pub fn erased(&self) -> BoxRef {
        BoxRef(self.node.clone().erase())
    }

    /// A handle others can deliver to directly (timer and service replies).
    pub fn address(&self) -> Address<T> {
        Address(self.node.clone())
    }

    /// Gives back the buffer of an emptied inbox that grew past `keep` slots.
    pub fn shrink(&self, keep: usize) {
        self.node.ring().shrink_if_empty(keep)
    }
}

impl Inbox<Signal> {
    /// The default control inbox, `control`.
    pub fn control() -> Self {
        Self::new(CONTROL.0, CONTROL.1)
    }
}

/// A box a component sends messages on.
///
/// ```
/// use kamaelia::axon::{link, Inbox, Outbox};
/// let out: Outbox<u32> = Outbox::new("outbox", "numbers");
/// let inbox: Inbox<u32> = Inbox::new("inbox", "numbers");
/// out.send(1).unwrap(); // kept in the outbox until it is linked
/// link(&out, &inbox).unwrap();
/// out.send(2).unwrap();
/// assert_eq!(inbox.recv(), Some(1));
/// assert_eq!(inbox.recv(), Some(2));
/// ```
///
/// 20 bytes, aligned to 4 (`packed(4)`): two node pointers and the epoch
/// of the route cached, without the 4 bytes of padding that aligning the
/// pointers to 8 would add (a component's default boxes then take 56
/// bytes, not 64: see `benches/core.rs`, `idle`). A packed field cannot be
/// borrowed, so the pointers are kept raw (`Copy`, read by value) and
/// counted by hand: each holds one count of its node, given back in
/// `Drop`.
#[repr(C, packed(4))]
pub struct Outbox<T: 'static> {
    /// This box: a handle (`NodeRc::into_raw`), read with `node()`.
    node: NonNull<Node<T>>,
    route: UnsafeCell<Route<T>>,
}

/// Where this outbox's messages end up, as last resolved.
#[repr(C, packed(4))]
struct Route<T: 'static> {
    /// The link epoch it was resolved at; 0: never.
    epoch: u32,
    /// The final box, if not this one: a handle (`NodeRc::into_raw`).
    target: Option<NonNull<Node<T>>>,
}

impl<T: 'static> Drop for Outbox<T> {
    fn drop(&mut self) {
        let target = self.route.get_mut().target;
        // SAFETY: each pointer is a handle this outbox owns (made by
        // `NodeRc::into_raw`), given back once, here: its own node first,
        // then its route's, as the fields of an unpacked struct would be.
        unsafe {
            drop(NodeRc::from_raw(self.node));
            if let Some(t) = target {
                drop(NodeRc::from_raw(t));
            }
        }
    }
}

impl<T: 'static> Outbox<T> {
    /// A new outbox.
    pub fn new(name: &'static str, description: &'static str) -> Self {
        Self::from_node(NodeRc::new(Dir::Out, static_spec(name, description)))
    }

    /// An outbox with a name made at run time.
    pub fn named(name: String, description: String) -> Self {
        Self::from_node(NodeRc::new(Dir::Out, owned_spec(name, description)))
    }

    fn from_node(node: NodeRc<T>) -> Self {
        Outbox {
            node: NodeRc::into_raw(node),
            route: UnsafeCell::new(Route {
                epoch: 0,
                target: None,
            }),
        }
    }

    /// This box's node.
    #[inline(always)]
    fn node(&self) -> &Node<T> {
        let node = self.node;
        // SAFETY: the outbox holds a count of its node (see `node`), so the
        // node lives as long as `self`.
        unsafe { node.as_ref() }
    }

    /// The default data outbox, `outbox` (named after Kamaelia's box).
    #[allow(clippy::self_named_constructors)]
    pub fn outbox() -> Self {
        Self::new(OUTBOX.0, OUTBOX.1)
    }

    /// Sends a message along this box's link. If the final inbox is full,
    /// the message comes back in `Err(Full(msg))` and this component will be
    /// woken when the consumer takes a message. If the outbox is not linked,
    /// the message is kept here until it is. If the final inbox's component
    /// has finished, the link is cut and the message kept here, as for an
    /// unlinked outbox. An outbox that is itself closed (its component has
    /// finished, or it was a run-time box since removed) keeps nothing: the
    /// message comes back in `Err(Full(msg))`, and no wake will follow.
    #[inline(always)]
    pub fn send(&self, msg: T) -> Result<(), Full<T>> {
        // SAFETY: a shared borrow of the route, for this push only. The
        // route is written only by `reroute`, which is not reached while
        // this borrow lives: `push` runs no user code (it stores or refuses
        // the message and wakes a proc; nothing is dropped), and the
        // refusal path below takes its own borrow after this one's last use.
        let route = unsafe { &*self.route.get() };
        if route.epoch != epoch() {
            return self.send_rerouted(msg);
        }
        match route.target {
            Some(t) => {
                // SAFETY: the route holds a count of its target (see
                // `Route`), which it keeps at least while this borrow of
                // the route lives.
                let t = unsafe { t.as_ref() };
                match t.push(msg) {
                    Ok(()) => Ok(()),
                    Err(Full(msg)) => {
                        t.refuse(self.node());
                        self.refused(msg)
                    }
                }
            }
            // A refusal here is by this outbox itself: full, or closed (its
            // component has finished), when nothing will ever move the
            // message on, so it is handed back either way.
            None => self.keep(msg),
        }
    }

    /// A send on an outbox with no route: kept here, or refused if full
    /// (then its owner waits for room here, as for any refusal).
    #[inline]
    fn keep(&self, msg: T) -> Result<(), Full<T>> {
        let node = self.node();
        node.push(msg).inspect_err(|_| node.refuse(node))
    }

    /// A send refused by the destination (which has registered this
    /// outbox's owner to be woken): if that is because its
    /// component has finished, resolve again, which cuts the link (then
    /// the message is kept here); otherwise hand the message back.
    #[cold]
    #[inline(never)]
    fn refused(&self, msg: T) -> Result<(), Full<T>> {
        // SAFETY: as in `send`: a shared borrow, ended before `reroute`.
        let target = unsafe { &*self.route.get() }.target;
        // SAFETY: the route holds a count of its target, and nothing has
        // changed it since `send` (this runs no user code before here).
        let closed = target.is_some_and(|t| unsafe { t.as_ref() }.is_closed());
        if closed {
            self.send_rerouted(msg)
        } else {
            Err(Full(msg))
        }
    }

    /// A send after some link changed or the destination's owner finished:
    /// re-resolves first. The old route is dropped only after the push, so
    /// a send made by user code that dropping it runs (a message's `Drop`
    /// in a box only the route still held) comes after this one.
    #[cold]
    #[inline(never)]
    fn send_rerouted(&self, msg: T) -> Result<(), Full<T>> {
        let old = self.reroute();
        let sent = self.send(msg);
        drop(old);
        sent
    }

    /// Follows the link again and caches where it ends; returns the old
    /// destination for the caller to drop when no borrow of the route or
    /// of any box is live (dropping a box may drop messages, and so run
    /// user code).
    #[cold]
    fn reroute(&self) -> Option<NodeRc<T>> {
        // Read before resolving: if user code run by `resolve` (dropping a
        // box it cuts) changes a link, the route stays stale and the next
        // use resolves again.
        let e = epoch();
        let node = self.node();
        let fin = node.resolve();
        node.move_all(&fin);
        let target = if std::ptr::eq(&*fin, node) {
            None
        } else {
            Some(NodeRc::into_raw(fin))
        };
        // SAFETY: no other borrow of the route is live: `send` and
        // `receiver` end theirs before calling here, nothing above holds
        // one, and this one ends with the statement (the old target is
        // returned, not dropped, so no user code runs while it lives).
        let route = unsafe { &mut *self.route.get() };
        route.epoch = e;
        let old = route.target;
        route.target = target;
        // SAFETY: the old target was a handle the route owned; it is given
        // back to the caller as one.
        old.map(|t| unsafe { NodeRc::from_raw(t) })
    }

    /// The proc of the component at the end of this outbox's link, if a
    /// component owns that inbox (for `Cx::run_receiver`).
    pub(crate) fn receiver(&self) -> Option<ProcRc> {
        // SAFETY: reads a `Copy` field; the borrow ends at once.
        if unsafe { (*self.route.get()).epoch } != epoch() {
            drop(self.reroute());
        }
        // SAFETY: a shared borrow for reading; `owner().cloned()` runs no
        // user code, and the borrow ends before this returns.
        let target = unsafe { &*self.route.get() }.target?;
        // SAFETY: the route holds a count of its target; reading its owner
        // runs no user code, so the route does not change meanwhile.
        unsafe { target.as_ref() }.owner().cloned()
    }

    /// Messages kept in this outbox because it is not linked.
    pub fn held(&self) -> usize {
        self.node().ring().len()
    }

    /// Whether this outbox currently leads somewhere.
    pub fn is_linked(&self) -> bool {
        self.node().next().is_some_and(|n| !n.is_closed())
    }

    /// Whether a send now would be refused for lack of room.
    pub fn is_full(&self) -> bool {
        let fin = self.node().resolve();
        fin.ring().len() as u32 >= fin.limit.get()
    }

    /// Limits how many unlinked sends this outbox keeps (default: no limit).
    pub fn set_limit(&self, limit: Option<usize>) {
        self.node().set_limit(limit)
    }

    /// This box's name.
    pub fn name(&self) -> &str {
        &self.node().spec().name
    }

    /// An erased handle, for linking by name and introspection.
    pub fn erased(&self) -> BoxRef {
        BoxRef(self.node().rc().erase())
    }
}

impl Outbox<Signal> {
    /// The default signal outbox, `signal`.
    pub fn signal() -> Self {
        Self::new(SIGNAL.0, SIGNAL.1)
    }
}

/// The four default boxes of a component, `inbox`, `control`, `outbox` and
/// `signal`, made in one block (one allocation, one count; see `node.rs`).
pub(crate) fn default_boxes<I: 'static, O: 'static>(
) -> (Inbox<I>, Inbox<Signal>, Outbox<O>, Outbox<Signal>) {
    let (i, c, o, s) = default_four::<I, O>();
    (
        Inbox { node: i },
        Inbox { node: c },
        Outbox::from_node(o),
        Outbox::from_node(s),
    )
}

const INBOX: (&str, &str) = DEFAULT_NAMES[0];
const CONTROL: (&str, &str) = DEFAULT_NAMES[1];
const OUTBOX: (&str, &str) = DEFAULT_NAMES[2];
const SIGNAL: (&str, &str) = DEFAULT_NAMES[3];

/// A cloneable handle that delivers straight to an inbox (following any
/// pass-through links it has). Used where the target is named in a message,
/// as in the seed's timer service: `(delay, (component, "control"))`.
pub struct Address<T: 'static>(NodeRc<T>);

impl<T: 'static> Clone for Address<T> {
    fn clone(&self) -> Self {
        Address(self.0.clone())
    }
}

impl<T: 'static> Address<T> {
    pub(super) fn from_node(node: NodeRc<T>) -> Self {
        Address(node)
    }

    /// Delivers a message, or hands it back if the inbox is full or its
    /// component has finished ([`Address::is_closed`] tells which): a
    /// finished inbox is never read again, so a message stored there would
    /// be lost uncounted.
    pub fn deliver(&self, msg: T) -> Result<(), Full<T>> {
        let fin = self.0.resolve();
        if fin.is_closed() || fin.ring().len() as u32 >= fin.limit.get() {
            return Err(Full(msg));
        }
        fin.ring().push_back(msg);
        if fin.dir == Dir::In {
            if let Some(o) = fin.owner() {
                o.delivered(1);
            }
        }
        Ok(())
    }
    /// Whether the component owning the inbox has finished.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// A borrowed typed box, inbox or outbox, as accepted by [`link`].
pub struct Port<'a, T: 'static>(&'a Node<T>);

impl<'a, T: 'static> From<&'a Inbox<T>> for Port<'a, T> {
    fn from(b: &'a Inbox<T>) -> Self {
        Port(&*b.node)
    }
}

impl<'a, T: 'static> From<&'a Outbox<T>> for Port<'a, T> {
    fn from(b: &'a Outbox<T>) -> Self {
        Port(b.node())
    }
}

impl<T: 'static> Port<'_, T> {
    pub(crate) fn erased(&self) -> BoxRef {
        BoxRef(self.0.rc().erase())
    }
}

/// Links `src` to `dst`: outbox to inbox, or a pass-through (inbox to inbox,
/// outbox to outbox). Messages waiting in `src` move along at once. The
/// types are checked by the compiler.
pub fn link<'a, 'b, T: 'static>(
    src: impl Into<Port<'a, T>>,
    dst: impl Into<Port<'b, T>>,
) -> Result<LinkKind, LinkError> {
    src.into().0.link_to(dst.into().0)
}

/// Like [`link`], and sets the destination inbox's limit to `limit`
/// (Kamaelia's `pipewidth`; `1` is a synchronous link).
pub fn link_with_limit<'a, 'b, T: 'static>(
    src: impl Into<Port<'a, T>>,
    dst: impl Into<Port<'b, T>>,
    limit: usize,
) -> Result<LinkKind, LinkError> {
    let dst = dst.into();
    let kind = src.into().0.link_to(dst.0)?;
    dst.0.set_limit(Some(limit));
    Ok(kind)
}

/// Removes the outgoing link of `src`. Returns whether it had one.
pub fn unlink<'a, T: 'static>(src: impl Into<Port<'a, T>>) -> bool {
    src.into().0.unlink()
}
