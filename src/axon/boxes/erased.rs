//! The erased view of a box node (`NodeDyn`), for linking by name,
//! introspection and the scheduler, which know a box without its message
//! type.

use std::any::TypeId;
use std::borrow::Cow;
use std::ptr::NonNull;

use super::super::proc::{Id, ProcRc, DEAD, F_KEEPER};
use super::super::ring::Ring;
use super::block::{release_erased, retain, NodeRc};
use super::node::{Node, CLOSED, LINKED_INTO};
use super::spec::{bump_epoch, owned_spec, static_spec};
use super::{BoxLabel, BoxRef, Dir, LinkError, LinkErrorKind, LinkKind};

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
    fn attach(&self, proc: &ProcRc) -> Result<(), Id>;
    /// Closes the box for good (its component has finished, or it was a
    /// run-time box removed): drops what it holds, returns how many.
    fn close(&self) -> usize;
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
    fn attach(&self, proc: &ProcRc) -> Result<(), Id> {
        if let Some(o) = self.owner() {
            if ProcRc::ptr_eq(o, proc) {
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
        // Owned by a live component again, it is no longer closed (as
        // before its owner was kept here: closed meant a finished owner).
        self.mark(CLOSED, false);
        self.set_owner(Some(proc.clone()));
        Ok(())
    }
    fn close(&self) -> usize {
        let mut left = Ring::new();
        std::mem::swap(self.ring(), &mut left);
        let n = left.len();
        if let Some(o) = self.owner() {
            if self.dir == Dir::In {
                o.pending.set(o.pending.get() - n as u32);
            }
            o.wake_waiters();
        }
        self.set_owner(None);
        self.mark(CLOSED, true);
        self.limit.set(0);
        // A route that ends here is seen to be closed by the sender itself
        // (`Outbox::send` checks its destination's owner), so only a route
        // that passes through this box, one some box links into and that
        // links on, must be re-resolved: then every outbox looks again.
        // Most boxes are not on such a route, and a finish then costs no
        // re-resolving elsewhere.
        if self.set_next(None).is_some() && self.has(LINKED_INTO) {
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
