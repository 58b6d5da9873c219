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
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::rc::Rc;

use super::boxes::{BoxRef, Inbox, Outbox, WordHash};
use super::proc::ProcRc;

/// The run-time boxes of one component.
pub struct AdaptiveBoxes {
    inner: Rc<AdaptiveInner>,
}

#[derive(Default)]
pub(crate) struct AdaptiveInner {
    /// Our boxes by the order they were added (a sequence number), so
    /// listing keeps that order and removing one is O(log n).
    boxes: RefCell<BTreeMap<u64, BoxRef>>,
    /// The sequence number of each of our boxes, by name.
    by_name: RefCell<HashMap<String, u64, WordHash>>,
    next_seq: Cell<u64>,
    /// The last number given to a name before the component was spawned;
    /// afterwards the scheduler's counter is used.
    suffix: Cell<u64>,
    /// Every name taken: the component's fixed boxes and ours.
    taken: RefCell<HashSet<String, WordHash>>,
    owner: RefCell<Option<ProcRc>>,
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
    pub(crate) fn bind(&self, proc: &ProcRc, names: Vec<String>) {
        *self.owner.borrow_mut() = Some(proc.clone());
        // `names` lists every box, ours included: the fixed ones are what
        // is left after taking ours out once each.
        let mut fixed = names;
        for b in self.boxes.borrow().values() {
            if let Some(i) = fixed.iter().position(|n| n == b.name()) {
                fixed.remove(i);
            }
        }
        for b in self.boxes.borrow().values() {
            if fixed.iter().any(|n| n == b.name()) {
                log::error!(
                    "run-time box '{}' was added before spawning with the name of a fixed box; \
                     it cannot be found by name (add it after spawning, or use AdaptiveBoxes::reserving)",
                    b.name()
                );
            }
            let _ = b.0.attach(proc);
        }
        self.taken.borrow_mut().extend(fixed);
    }

    fn is_taken(&self, name: &str) -> bool {
        self.taken.borrow().contains(name)
    }

    fn unique(&self, base: &str) -> String {
        if !self.is_taken(base) {
            return base.to_string();
        }
        // The counter is the scheduler's once spawned (so names do not
        // depend on what ran before on this thread), ours before.
        let owner = self.owner.borrow().clone();
        let counter = match &owner {
            Some(p) => &p.core.box_suffix,
            None => &self.suffix,
        };
        loop {
            let n = counter.get() + 1;
            counter.set(n);
            let name = format!("{base}{n}");
            if !self.is_taken(&name) {
                return name;
            }
        }
    }

    fn adopt(&self, b: BoxRef) {
        if let Some(p) = self.owner.borrow().as_ref() {
            let _ = b.0.attach(p);
        }
        self.taken.borrow_mut().insert(b.name().to_string());
        let seq = self.next_seq.get();
        self.next_seq.set(seq + 1);
        self.by_name.borrow_mut().insert(b.name().to_string(), seq);
        self.boxes.borrow_mut().insert(seq, b);
    }
}

impl Default for AdaptiveBoxes {
    fn default() -> Self {
        Self::new()
    }
}

impl AdaptiveBoxes {
    /// No run-time boxes yet. The four default box names (`inbox`,
    /// `control`, `outbox`, `signal`) count as taken even before the
    /// component is spawned, so a run-time box never shadows them.
    pub fn new() -> Self {
        Self::reserving(&["inbox", "control", "outbox", "signal"])
    }

    /// No run-time boxes yet, and these names (the component's fixed
    /// boxes) are taken already: for boxes added before spawning, when the
    /// fixed names are not known yet.
    pub fn reserving(names: &[&str]) -> Self {
        let a = AdaptiveBoxes {
            inner: Rc::default(),
        };
        a.inner
            .taken
            .borrow_mut()
            .extend(names.iter().map(|n| n.to_string()));
        a
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
        let seq = self
            .inner
            .by_name
            .borrow_mut()
            .remove(name)
            .ok_or_else(|| NoSuchBox(name.to_string()))?;
        let b = self
            .inner
            .boxes
            .borrow_mut()
            .remove(&seq)
            .expect("indexed by name");
        self.inner.taken.borrow_mut().remove(name);
        b.unlink();
        // `close` re-resolves routes only if some pass through this box; a
        // sender whose route ends here sees it closed on its next send.
        // (The `unlink` above still bumps the epoch whenever the box had a
        // link, so removing a linked run-time box makes every outbox
        // re-resolve once: unlink should bump only when a route can pass
        // through the box, as `close` does.)
        let left = b.0.close();
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
            .values()
            .map(|b| b.name().to_string())
            .collect()
    }

    /// Finds a run-time box by name.
    pub fn get(&self, name: &str) -> Option<BoxRef> {
        let seq = *self.inner.by_name.borrow().get(name)?;
        self.inner.boxes.borrow().get(&seq).cloned()
    }

    pub(crate) fn list(&self) -> Vec<BoxRef> {
        self.inner.boxes.borrow().values().cloned().collect()
    }

    pub(crate) fn inner(&self) -> Rc<AdaptiveInner> {
        self.inner.clone()
    }
}
