//! [`BoxRef`], the type-erased handle to a box (found and linked by name,
//! listed by introspection), and the errors a link can end in.

use std::any::TypeId;
use std::borrow::Cow;
use std::fmt;

use super::super::proc::Id;
use super::block::DynRc;
use super::{Address, Dir, LinkKind};

/// A type-erased handle to a box: found by name, linked by name (with the
/// message types checked), listed by introspection.
#[derive(Clone)]
pub struct BoxRef(pub(crate) DynRc);

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
        self.0.unlink_dyn()
    }
    /// Whether two handles name the same box.
    pub fn same(&self, other: &BoxRef) -> bool {
        self.0.addr() == other.0.addr()
    }
    /// Downcasts to a typed address for direct delivery (used by services
    /// such as the timer service).
    pub fn address<T: 'static>(&self) -> Option<Address<T>> {
        self.0.downcast::<T>().map(Address::from_node)
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
    src.0.link_dyn(dst)
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
