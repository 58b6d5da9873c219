//! Errors from building containers.

use std::fmt;

use crate::axon::LinkError;

/// Why a container could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// A container needs at least one child.
    Empty,
    /// Two children share a name.
    DuplicateChild(String),
    /// A link names a child that does not exist.
    NoSuchChild(String),
    /// A link names a box the child does not have.
    NoSuchBox {
        /// The child (or "self").
        child: String,
        /// The missing box.
        name: String,
    },
    /// A link joins the container to itself.
    SelfLink(String),
    /// The link could not be made (types differ, already linked, ...).
    Link(LinkError),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Empty => f.write_str("a container needs at least one child"),
            BuildError::DuplicateChild(n) => write!(f, "two children are named '{n}'"),
            BuildError::NoSuchChild(n) => write!(f, "no child named '{n}'"),
            BuildError::NoSuchBox { child, name } => {
                write!(f, "child '{child}' has no box named '{name}'")
            }
            BuildError::SelfLink(b) => {
                write!(f, "cannot link the container's own box '{b}' to itself")
            }
            BuildError::Link(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for BuildError {}

impl From<LinkError> for BuildError {
    fn from(e: LinkError) -> Self {
        BuildError::Link(e)
    }
}
