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

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use super::proc::{Id, Proc, DEAD, F_HOLD};
use super::ring::Ring;

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

// ---------------------------------------------------------------------------
// Link epoch: bumped on every change of any link in this thread. An outbox's
// cached route is valid while its epoch matches.

/// Interning key of a static spec: the addresses and lengths of its strings.
type SpecKey = (usize, usize, usize, usize);

thread_local! {
    static EPOCH: Cell<u32> = const { Cell::new(1) };
    static SPECS: RefCell<HashMap<SpecKey, Rc<Spec>>> = RefCell::new(HashMap::new());
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
    name: Cow<'static, str>,
    desc: Cow<'static, str>,
}

fn static_spec(name: &'static str, desc: &'static str) -> Rc<Spec> {
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

fn owned_spec(name: String, desc: String) -> Rc<Spec> {
    Rc::new(Spec {
        name: Cow::Owned(name),
        desc: Cow::Owned(desc),
    })
}

// ---------------------------------------------------------------------------

/// One box. Layout is kept to 56 bytes of payload (see `ring.rs`).
pub(crate) struct Node<T> {
    ring: UnsafeCell<Ring<T>>,
    /// Most messages this box stores before refusing; `u32::MAX` = no limit.
    limit: Cell<u32>,
    dir: Dir,
    /// The component whose box this is; a tombstone once it has finished.
    owner: UnsafeCell<Option<Rc<Proc>>>,
    /// The direct destination of a link from this box.
    next: UnsafeCell<Option<Rc<Node<T>>>>,
    spec: Rc<Spec>,
}

impl<T: 'static> Node<T> {
    fn new(dir: Dir, spec: Rc<Spec>) -> Rc<Self> {
        Rc::new(Node {
            ring: UnsafeCell::new(Ring::new()),
            limit: Cell::new(u32::MAX),
            dir,
            owner: UnsafeCell::new(None),
            next: UnsafeCell::new(None),
            spec,
        })
    }

    // SAFETY for the accessors below: nodes are !Send (they hold Rc), and no
    // reference returned here is kept across a call that replaces the field.
    // Every mutation of `owner`/`next`/`ring` happens in short, non-reentrant
    // crate functions that run no user code while a borrow is alive.

    // The ring is only borrowed inside this module, never while user code
    // (a message's Drop, a callback) can run, so two borrows never overlap.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    fn ring(&self) -> &mut Ring<T> {
        unsafe { &mut *self.ring.get() }
    }

    #[inline]
    fn owner(&self) -> Option<&Rc<Proc>> {
        unsafe { (*self.owner.get()).as_ref() }
    }

    fn set_owner(&self, p: Option<Rc<Proc>>) {
        unsafe { *self.owner.get() = p }
    }

    fn next(&self) -> Option<Rc<Node<T>>> {
        unsafe { (*self.next.get()).clone() }
    }

    fn set_next(&self, n: Option<Rc<Node<T>>>) -> Option<Rc<Node<T>>> {
        unsafe { std::mem::replace(&mut *self.next.get(), n) }
    }

    fn is_closed(&self) -> bool {
        self.owner().is_some_and(|p| p.state.get() == DEAD)
    }

    /// Stores a message here, or refuses it if full, registering the
    /// sender's owner to be woken when room appears.
    #[inline(always)]
    fn push(&self, msg: T, from: &Node<T>) -> Result<(), Full<T>> {
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

    #[cold]
    fn refuse(&self, from: &Node<T>) {
        if let Some(producer) = from.owner() {
            producer.set(F_HOLD);
            if self.owner().is_none() {
                // An inbox no component owns (one a test or a program holds
                // directly) still needs somewhere to keep its waiters, so
                // that taking a message wakes the refused sender.
                let keeper = Proc::detached(producer.core.clone());
                keeper.pending.set(self.ring().len() as u32);
                self.set_owner(Some(keeper));
            }
            if let Some(consumer) = self.owner() {
                consumer.add_waiter(producer);
            }
        }
    }

    #[inline]
    fn pop(&self) -> Option<T> {
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
    fn resolve(self: &Rc<Self>) -> Rc<Node<T>> {
        let mut cur = self.clone();
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
    fn move_all(&self, to: &Node<T>) {
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

    fn link_to(self: &Rc<Self>, dst: &Rc<Node<T>>) -> Result<LinkKind, LinkError> {
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
        let mut cur = Some(dst.clone());
        while let Some(n) = cur {
            if Rc::ptr_eq(&n, self) {
                return Err(LinkError::new(
                    LinkErrorKind::Cycle,
                    self.label(),
                    dst.label(),
                ));
            }
            cur = n.next();
        }
        self.set_next(Some(dst.clone()));
        bump_epoch();
        let fin = dst.resolve();
        self.move_all(&fin);
        Ok(kind)
    }

    fn unlink(self: &Rc<Self>) -> bool {
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

    fn label(&self) -> BoxLabel {
        BoxLabel {
            owner: self.owner().map(|p| p.id).filter(|id| *id != Id::DETACHED),
            component: None,
            name: self.spec.name.to_string(),
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
    fn unlink_dyn(self: Rc<Self>) -> bool;
    fn link_dyn(self: Rc<Self>, dst: &BoxRef) -> Result<LinkKind, LinkError>;
    fn as_any_rc(self: Rc<Self>) -> Rc<dyn Any>;
    fn attach(&self, proc: &Rc<Proc>) -> Result<(), Id>;
    fn close(&self, tombstone: &Rc<Proc>) -> usize;
    fn set_limit_dyn(&self, limit: Option<usize>);
    fn label(&self) -> BoxLabel;
    fn addr(&self) -> *const ();
    fn new_like(&self, dir: Dir, name: Cow<'static, str>, desc: Cow<'static, str>) -> BoxRef;
}

impl<T: 'static> NodeDyn for Node<T> {
    fn name(&self) -> &str {
        &self.spec.name
    }
    fn description(&self) -> &str {
        &self.spec.desc
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
            .map(|n| BoxRef(n as Rc<dyn NodeDyn>))
    }
    fn unlink_dyn(self: Rc<Self>) -> bool {
        self.unlink()
    }
    fn link_dyn(self: Rc<Self>, dst: &BoxRef) -> Result<LinkKind, LinkError> {
        let d = dst
            .0
            .clone()
            .as_any_rc()
            .downcast::<Node<T>>()
            .map_err(|_| {
                LinkError::new(LinkErrorKind::TypeMismatch, self.label(), dst.0.label())
            })?;
        self.link_to(&d)
    }
    fn as_any_rc(self: Rc<Self>) -> Rc<dyn Any> {
        self
    }
    fn attach(&self, proc: &Rc<Proc>) -> Result<(), Id> {
        if let Some(o) = self.owner() {
            if !Rc::ptr_eq(o, proc) && o.state.get() != DEAD {
                return Err(o.id);
            }
            if Rc::ptr_eq(o, proc) {
                return Ok(());
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
        self.set_next(None);
        drop(left);
        n
    }
    fn set_limit_dyn(&self, limit: Option<usize>) {
        set_limit(&self.limit, limit)
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
        BoxRef(Node::<T>::new(dir, spec) as Rc<dyn NodeDyn>)
    }
}

fn set_limit(cell: &Cell<u32>, limit: Option<usize>) {
    cell.set(match limit {
        None => u32::MAX,
        Some(n) => n.min(u32::MAX as usize - 1) as u32,
    })
}

/// A type-erased handle to a box: found by name, linked by name (with the
/// message types checked), listed by introspection.
#[derive(Clone)]
pub struct BoxRef(pub(crate) Rc<dyn NodeDyn>);

impl BoxRef {
    /// The box's name, unique within its component.
    pub fn name(&self) -> &str {
        self.0.name()
    }
    /// The one-line description given when the box was made.
    pub fn description(&self) -> &str {
        self.0.description()
    }
    /// Inbox or outbox.
    pub fn direction(&self) -> Dir {
        self.0.dir()
    }
    /// The Rust type of the messages it carries.
    pub fn type_name(&self) -> &'static str {
        self.0.type_name()
    }
    /// The `TypeId` of the messages it carries.
    pub fn message_type(&self) -> TypeId {
        self.0.msg_type()
    }
    /// Messages stored in this box itself.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when the box itself stores nothing.
    pub fn is_empty(&self) -> bool {
        self.0.len() == 0
    }
    /// The limit on stored messages, if any.
    pub fn limit(&self) -> Option<usize> {
        self.0.limit()
    }
    /// Sets (or with `None` removes) the limit on stored messages.
    pub fn set_limit(&self, limit: Option<usize>) {
        self.0.set_limit_dyn(limit)
    }
    /// The component the box belongs to, once it has been spawned.
    pub fn owner(&self) -> Option<Id> {
        self.0.owner_id()
    }
    /// The box this one is linked to, if any.
    pub fn destination(&self) -> Option<BoxRef> {
        self.0.next_dyn()
    }
    /// Removes this box's outgoing link. Returns whether there was one.
    pub fn unlink(&self) -> bool {
        self.0.clone().unlink_dyn()
    }
    /// Whether two handles name the same box.
    pub fn same(&self, other: &BoxRef) -> bool {
        self.0.addr() == other.0.addr()
    }
    /// Downcasts to a typed address for direct delivery (used by services
    /// such as the timer service).
    pub fn address<T: 'static>(&self) -> Option<Address<T>> {
        self.0
            .clone()
            .as_any_rc()
            .downcast::<Node<T>>()
            .ok()
            .map(Address)
    }
    /// A new, unlinked box carrying the same message type as this one.
    /// Containers use it to give themselves boxes typed like their
    /// children's (a pipeline's `inbox` is typed like its first child's).
    pub fn new_like(
        &self,
        dir: Dir,
        name: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
    ) -> BoxRef {
        self.0.new_like(dir, name.into(), description.into())
    }
    pub(crate) fn label(&self) -> BoxLabel {
        self.0.label()
    }
}

impl fmt::Debug for BoxRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.label())
    }
}

/// Links two boxes found by name. The message types are checked here; a
/// mismatch is an error naming both ends and both types.
pub fn link_refs(src: &BoxRef, dst: &BoxRef) -> Result<LinkKind, LinkError> {
    if src.message_type() != dst.message_type() {
        return Err(LinkError::new(
            LinkErrorKind::TypeMismatch,
            src.label(),
            dst.label(),
        ));
    }
    src.0.clone().link_dyn(dst)
}

// ---------------------------------------------------------------------------
// Errors

/// One end of a link, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoxLabel {
    /// The owning component, if the box has been spawned with one.
    pub owner: Option<Id>,
    /// The owning component's name, where the caller knew it.
    pub component: Option<String>,
    /// The box's name.
    pub name: String,
    /// Inbox or outbox.
    pub dir: Dir,
    /// The Rust type of its messages.
    pub type_name: &'static str,
}

impl fmt::Display for BoxLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.dir {
            Dir::In => "inbox",
            Dir::Out => "outbox",
        };
        match (&self.component, self.owner) {
            (Some(c), _) => write!(f, "{c}.{} ({kind} of {})", self.name, self.type_name),
            (None, Some(id)) => write!(f, "{id}.{} ({kind} of {})", self.name, self.type_name),
            (None, None) => write!(f, "{} ({kind} of {})", self.name, self.type_name),
        }
    }
}

/// Why a link could not be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkErrorKind {
    /// The two boxes carry different message types.
    TypeMismatch,
    /// The source already has a destination (one source, one destination).
    AlreadyLinked {
        /// Where the source already goes.
        to: Box<BoxLabel>,
    },
    /// An inbox cannot be linked to an outbox.
    Direction,
    /// The link would make a chain that leads back to its start.
    Cycle,
    /// One end belongs to a component that has finished.
    Finished,
    /// No component with that id is alive.
    NoSuchComponent(Id),
    /// The component has no box of that name.
    NoSuchBox {
        /// The component searched.
        component: String,
        /// The missing box name.
        name: String,
    },
}

/// A link that could not be made, naming both ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkError {
    /// What went wrong.
    pub kind: LinkErrorKind,
    /// The source end (absent when the box could not be found).
    pub src: Option<Box<BoxLabel>>,
    /// The destination end (absent when the box could not be found).
    pub dst: Option<Box<BoxLabel>>,
}

impl LinkError {
    pub(crate) fn new(kind: LinkErrorKind, src: BoxLabel, dst: BoxLabel) -> Self {
        LinkError {
            kind,
            src: Some(Box::new(src)),
            dst: Some(Box::new(dst)),
        }
    }
    pub(crate) fn lookup(kind: LinkErrorKind) -> Self {
        LinkError {
            kind,
            src: None,
            dst: None,
        }
    }
    /// Fills in component names for error messages.
    pub fn with_names(mut self, src: Option<&str>, dst: Option<&str>) -> Self {
        if let (Some(l), Some(n)) = (self.src.as_mut(), src) {
            l.component = Some(n.to_string());
        }
        if let (Some(l), Some(n)) = (self.dst.as_mut(), dst) {
            l.component = Some(n.to_string());
        }
        self
    }
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ends = |f: &mut fmt::Formatter<'_>| match (&self.src, &self.dst) {
            (Some(s), Some(d)) => write!(f, " from {s} to {d}"),
            _ => Ok(()),
        };
        match &self.kind {
            LinkErrorKind::TypeMismatch => {
                f.write_str("cannot link: message types differ")?;
                ends(f)
            }
            LinkErrorKind::AlreadyLinked { to } => {
                f.write_str("cannot link: source already linked")?;
                ends(f)?;
                write!(f, "; it already goes to {to}")
            }
            LinkErrorKind::Direction => {
                f.write_str("cannot link an inbox to an outbox")?;
                ends(f)
            }
            LinkErrorKind::Cycle => {
                f.write_str("cannot link: the chain would lead back to its start")?;
                ends(f)
            }
            LinkErrorKind::Finished => {
                f.write_str("cannot link: a component at one end has finished")?;
                ends(f)
            }
            LinkErrorKind::NoSuchComponent(id) => write!(f, "no live component {id}"),
            LinkErrorKind::NoSuchBox { component, name } => {
                write!(f, "component {component} has no box named '{name}'")
            }
        }
    }
}

impl std::error::Error for LinkError {}

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
    node: Rc<Node<T>>,
}

impl<T: 'static> Inbox<T> {
    /// An unbounded inbox.
    pub fn new(name: &'static str, description: &'static str) -> Self {
        Inbox {
            node: Node::new(Dir::In, static_spec(name, description)),
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
            node: Node::new(Dir::In, owned_spec(name, description)),
        }
    }

    /// The default data inbox, `inbox` (named after Kamaelia's box).
    #[allow(clippy::self_named_constructors)]
    pub fn inbox() -> Self {
        Self::new("inbox", "data to process")
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
        set_limit(&self.node.limit, limit)
    }

    /// The limit on waiting messages, if any.
    pub fn limit(&self) -> Option<usize> {
        NodeDyn::limit(&*self.node)
    }

    /// This box's name.
    pub fn name(&self) -> &str {
        &self.node.spec.name
    }

    /// An erased handle, for linking by name and introspection.
    pub fn erased(&self) -> BoxRef {
        BoxRef(self.node.clone() as Rc<dyn NodeDyn>)
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

impl Inbox<super::Signal> {
    /// The default control inbox, `control`.
    pub fn control() -> Self {
        Self::new("control", "shutdown signals: producer finished / shutdown")
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
pub struct Outbox<T: 'static> {
    node: Rc<Node<T>>,
    route: UnsafeCell<Route<T>>,
}

struct Route<T> {
    epoch: u32,
    target: Option<Rc<Node<T>>>,
}

impl<T: 'static> Outbox<T> {
    /// A new outbox.
    pub fn new(name: &'static str, description: &'static str) -> Self {
        Self::from_node(Node::new(Dir::Out, static_spec(name, description)))
    }

    /// An outbox with a name made at run time.
    pub fn named(name: String, description: String) -> Self {
        Self::from_node(Node::new(Dir::Out, owned_spec(name, description)))
    }

    fn from_node(node: Rc<Node<T>>) -> Self {
        Outbox {
            node,
            route: UnsafeCell::new(Route {
                epoch: 0,
                target: None,
            }),
        }
    }

    /// The default data outbox, `outbox` (named after Kamaelia's box).
    #[allow(clippy::self_named_constructors)]
    pub fn outbox() -> Self {
        Self::new("outbox", "data produced")
    }

    /// Sends a message along this box's link. If the final inbox is full,
    /// the message comes back in `Err(Full(msg))` and this component will be
    /// woken when the consumer takes a message. If the outbox is not linked,
    /// the message is kept here until it is.
    #[inline(always)]
    pub fn send(&self, msg: T) -> Result<(), Full<T>> {
        // SAFETY: the route is only touched here and in `reroute`, neither of
        // which can be re-entered while this borrow lives (no user code runs).
        let route = unsafe { &mut *self.route.get() };
        if route.epoch != epoch() {
            self.reroute(route);
        }
        match &route.target {
            Some(t) => t.push(msg, &self.node),
            None => self.node.push(msg, &self.node),
        }
    }

    #[cold]
    fn reroute(&self, route: &mut Route<T>) {
        let fin = self.node.resolve();
        self.node.move_all(&fin);
        route.target = if Rc::ptr_eq(&fin, &self.node) {
            None
        } else {
            Some(fin)
        };
        route.epoch = epoch();
    }

    /// The proc of the component at the end of this outbox's link, if a
    /// component owns that inbox (for `Cx::run_receiver`).
    pub(crate) fn receiver(&self) -> Option<Rc<Proc>> {
        // SAFETY: as in `send`.
        let route = unsafe { &mut *self.route.get() };
        if route.epoch != epoch() {
            self.reroute(route);
        }
        route.target.as_ref()?.owner().cloned()
    }

    /// Messages kept in this outbox because it is not linked.
    pub fn held(&self) -> usize {
        self.node.ring().len()
    }

    /// Whether this outbox currently leads somewhere.
    pub fn is_linked(&self) -> bool {
        self.node.next().is_some_and(|n| !n.is_closed())
    }

    /// Whether a send now would be refused for lack of room.
    pub fn is_full(&self) -> bool {
        let fin = self.node.resolve();
        fin.ring().len() as u32 >= fin.limit.get()
    }

    /// Limits how many unlinked sends this outbox keeps (default: no limit).
    pub fn set_limit(&self, limit: Option<usize>) {
        set_limit(&self.node.limit, limit)
    }

    /// This box's name.
    pub fn name(&self) -> &str {
        &self.node.spec.name
    }

    /// An erased handle, for linking by name and introspection.
    pub fn erased(&self) -> BoxRef {
        BoxRef(self.node.clone() as Rc<dyn NodeDyn>)
    }
}

impl Outbox<super::Signal> {
    /// The default signal outbox, `signal`.
    pub fn signal() -> Self {
        Self::new("signal", "sent once when this component ends")
    }
}

/// A cloneable handle that delivers straight to an inbox (following any
/// pass-through links it has). Used where the target is named in a message,
/// as in the seed's timer service: `(delay, (component, "control"))`.
pub struct Address<T: 'static>(Rc<Node<T>>);

impl<T: 'static> Clone for Address<T> {
    fn clone(&self) -> Self {
        Address(self.0.clone())
    }
}

impl<T: 'static> Address<T> {
    /// Delivers a message, or hands it back if the inbox is full.
    pub fn deliver(&self, msg: T) -> Result<(), Full<T>> {
        let fin = self.0.resolve();
        if fin.ring().len() as u32 >= fin.limit.get() {
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
pub struct Port<'a, T: 'static>(&'a Rc<Node<T>>);

impl<'a, T: 'static> From<&'a Inbox<T>> for Port<'a, T> {
    fn from(b: &'a Inbox<T>) -> Self {
        Port(&b.node)
    }
}

impl<'a, T: 'static> From<&'a Outbox<T>> for Port<'a, T> {
    fn from(b: &'a Outbox<T>) -> Self {
        Port(&b.node)
    }
}

impl<T: 'static> Port<'_, T> {
    pub(crate) fn erased(&self) -> BoxRef {
        BoxRef(self.0.clone() as Rc<dyn NodeDyn>)
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
    set_limit(&dst.0.limit, Some(limit));
    Ok(kind)
}

/// Removes the outgoing link of `src`. Returns whether it had one.
pub fn unlink<'a, T: 'static>(src: impl Into<Port<'a, T>>) -> bool {
    src.into().0.unlink()
}

// ---------------------------------------------------------------------------

/// The list of a component's boxes, filled by [`Component::boxes`](crate::axon::Component::boxes).
#[derive(Default)]
pub struct BoxSet {
    pub(crate) boxes: Vec<BoxRef>,
    pub(crate) adaptive: Vec<Rc<super::adaptive::AdaptiveInner>>,
}

impl BoxSet {
    /// Lists one box.
    pub fn add<'a, T: 'static>(&mut self, b: impl Into<Port<'a, T>>) -> &mut Self {
        self.boxes.push(b.into().erased());
        self
    }

    /// Lists a box given by its erased handle (containers' own boxes).
    pub fn add_ref(&mut self, b: &BoxRef) -> &mut Self {
        self.boxes.push(b.clone());
        self
    }

    /// Lists the boxes added at run time through an [`AdaptiveBoxes`](crate::axon::AdaptiveBoxes).
    pub fn adaptive(&mut self, a: &super::AdaptiveBoxes) -> &mut Self {
        self.boxes.extend(a.list());
        self.adaptive.push(a.inner());
        self
    }

    /// Finds a listed box by name.
    pub fn find(&self, name: &str) -> Option<&BoxRef> {
        self.boxes.iter().find(|b| b.name() == name)
    }

    /// The listed boxes, in the order listed.
    pub fn iter(&self) -> impl Iterator<Item = &BoxRef> {
        self.boxes.iter()
    }
}

/// Lists boxes in [`Component::boxes`](crate::axon::Component::boxes):
/// `boxes!(set; self.inbox, self.control, self.outbox, self.signal)`.
#[macro_export]
macro_rules! boxes {
    ($set:expr; $($b:expr),* $(,)?) => {{
        $( $set.add(&$b); )*
    }};
}

#[cfg(test)]
mod layout {
    use super::*;

    /// The idle-component budget (512 bytes, see `benches/core.rs`) rests
    /// on these sizes: a box node fits a 96-byte malloc chunk with its
    /// `Rc` header, an outbox handle caches its route in 24 bytes, and a
    /// proc (which holds the component pointer, so the scheduler's slot is
    /// one 8-byte `Rc`) fits an 80-byte chunk.
    #[test]
    fn box_sizes_stay_small() {
        assert!(
            std::mem::size_of::<Node<u64>>() <= 56,
            "{}",
            std::mem::size_of::<Node<u64>>()
        );
        assert_eq!(std::mem::size_of::<Inbox<u64>>(), 8);
        assert!(std::mem::size_of::<Outbox<u64>>() <= 24);
        assert!(
            std::mem::size_of::<Proc>() <= 48,
            "{}",
            std::mem::size_of::<Proc>()
        );
    }
}
