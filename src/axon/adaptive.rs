//! Boxes added and removed while a component runs (Kamaelia's
//! AdaptiveCommsComponent): a server gives each connection its own outbox,
//! a shared service gives each user its own reply box.
//!
//! A component keeps an [`AdaptiveBoxes`] and lists it in `boxes`
//! (`set.adaptive(&self.extra)`). Names are unique within the component: a
//! name already taken gets a numeric suffix, and the name actually used is
//! the box's `name()`.
//!
//! ```
//! use kamaelia::axon::{AdaptiveBoxes, Inbox};
//! let extra = AdaptiveBoxes::new();
//! let a: Inbox<u8> = extra.add_inbox("reply", "replies for client A");
//! let b: Inbox<u8> = extra.add_inbox("reply", "replies for client B");
//! assert_eq!(a.name(), "reply");
//! assert_ne!(b.name(), "reply");
//! assert!(extra.remove(b.name()).is_ok());
//! assert!(extra.remove("nonesuch").is_err());
//! ```

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

use super::boxes::{BoxRef, Inbox, Outbox};
use super::proc::Proc;

thread_local! {
    static SUFFIX: Cell<u64> = const { Cell::new(1) };
}

/// The run-time boxes of one component.
#[derive(Default)]
pub struct AdaptiveBoxes {
    inner: Rc<AdaptiveInner>,
}

#[derive(Default)]
pub(crate) struct AdaptiveInner {
    boxes: RefCell<Vec<BoxRef>>,
    reserved: RefCell<Vec<String>>,
    owner: RefCell<Option<Rc<Proc>>>,
}

/// `remove` found no run-time box of that name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoSuchBox(pub String);

impl fmt::Display for NoSuchBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no run-time box named '{}'", self.0)
    }
}

impl std::error::Error for NoSuchBox {}

impl AdaptiveInner {
    /// Called when the component is spawned: learns its owner and the names
    /// of its fixed boxes, and attaches boxes added before spawning.
    pub(crate) fn bind(&self, proc: &Rc<Proc>, names: Vec<String>) {
        *self.owner.borrow_mut() = Some(proc.clone());
        let own: Vec<String> = self
            .boxes
            .borrow()
            .iter()
            .map(|b| b.name().to_string())
            .collect();
        *self.reserved.borrow_mut() = names.into_iter().filter(|n| !own.contains(n)).collect();
        for b in self.boxes.borrow().iter() {
            let _ = b.0.attach(proc);
        }
    }

    fn taken(&self, name: &str) -> bool {
        self.reserved.borrow().iter().any(|n| n == name)
            || self.boxes.borrow().iter().any(|b| b.name() == name)
    }

    fn unique(&self, base: &str) -> String {
        if !self.taken(base) {
            return base.to_string();
        }
        loop {
            let n = SUFFIX.with(|s| {
                let v = s.get();
                s.set(v + 1);
                v
            });
            let name = format!("{base}{n}");
            if !self.taken(&name) {
                return name;
            }
        }
    }

    fn adopt(&self, b: BoxRef) {
        if let Some(p) = self.owner.borrow().as_ref() {
            let _ = b.0.attach(p);
        }
        self.boxes.borrow_mut().push(b);
    }
}

impl AdaptiveBoxes {
    /// No run-time boxes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an inbox named `base` (or `base` plus a number if taken).
    pub fn add_inbox<T: 'static>(&self, base: &str, description: &str) -> Inbox<T> {
        let b = Inbox::named(self.inner.unique(base), description.to_string());
        self.inner.adopt(b.erased());
        b
    }

    /// Adds an outbox named `base` (or `base` plus a number if taken).
    pub fn add_outbox<T: 'static>(&self, base: &str, description: &str) -> Outbox<T> {
        let b = Outbox::named(self.inner.unique(base), description.to_string());
        self.inner.adopt(b.erased());
        b
    }

    /// Removes a run-time box: its outgoing link is cut, links into it are
    /// cut on their next use (senders then keep their messages, as for any
    /// unlinked outbox), and it stops counting as one of the component's
    /// boxes. Messages still waiting in it are dropped; their number is
    /// returned (and logged), so nothing disappears unnoticed.
    pub fn remove(&self, name: &str) -> Result<usize, NoSuchBox> {
        let mut boxes = self.inner.boxes.borrow_mut();
        let i = boxes
            .iter()
            .position(|b| b.name() == name)
            .ok_or_else(|| NoSuchBox(name.to_string()))?;
        let b = boxes.remove(i);
        drop(boxes);
        b.unlink();
        let owner = self.inner.owner.borrow().clone();
        let core = match owner {
            Some(p) => p.core.clone(),
            None => super::proc::Core::new(),
        };
        let left = b.0.close(&Proc::tombstone(core));
        super::boxes::bump_epoch();
        if left > 0 {
            log::warn!("run-time box '{name}' removed with {left} message(s) in it");
        }
        Ok(left)
    }

    /// The names of the run-time boxes, in the order added.
    pub fn names(&self) -> Vec<String> {
        self.inner
            .boxes
            .borrow()
            .iter()
            .map(|b| b.name().to_string())
            .collect()
    }

    /// Finds a run-time box by name.
    pub fn get(&self, name: &str) -> Option<BoxRef> {
        self.inner
            .boxes
            .borrow()
            .iter()
            .find(|b| b.name() == name)
            .cloned()
    }

    pub(crate) fn list(&self) -> Vec<BoxRef> {
        self.inner.boxes.borrow().clone()
    }

    pub(crate) fn inner(&self) -> Rc<AdaptiveInner> {
        self.inner.clone()
    }
}
