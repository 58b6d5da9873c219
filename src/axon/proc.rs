//! The per-component wake state and the shared wake list: the postman's half
//! of the scheduler.
//!
//! Every inbox knows the [`Proc`] of the component that owns it. Delivering a
//! message bumps the owner's `pending` count and, if the owner sleeps, puts
//! it on the wake list exactly once. The scheduler reads `pending` when a
//! component returns `Pause`: a component is only put to sleep with an empty
//! inbox set (unless it is deliberately holding input back, see
//! [`Cx::hold_input`](crate::axon::Cx::hold_input)), so no wake-up is lost.

use std::cell::{Cell, UnsafeCell};
use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::ptr::NonNull;
use std::rc::Rc;

use super::boxes::WordHash;

/// Identifies a component in one scheduler. The generation makes an id of a
/// finished component never match the component that later reuses its slot.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id {
    pub(crate) index: u32,
    pub(crate) gen: u32,
}

impl Id {
    /// The slot number (stable for the component's life, reused afterwards).
    pub fn index(self) -> u32 {
        self.index
    }
    pub(crate) const DETACHED: Id = Id {
        index: u32::MAX,
        gen: 0,
    };
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.index)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.index)
    }
}

pub(crate) const SLEEPING: u8 = 0;
pub(crate) const QUEUED: u8 = 1;
pub(crate) const RUNNING: u8 = 2;
pub(crate) const DEAD: u8 = 3;

/// A proc's `name` when the scheduler keeps none for it.
pub(crate) const NO_NAME: u16 = u16::MAX;

pub(crate) const F_REWAKE: u8 = 1; // woken while running: run again
pub(crate) const F_HOLD: u8 = 2; // holds input back this step (refused send or asked)
pub(crate) const F_WAITERS: u8 = 4; // some producer waits for room in our inboxes
pub(crate) const F_KEEPER: u8 = 8; // keeps waiters for an inbox no component owns yet
const F_LISTED: u8 = 16; // has an entry (a waiter list, kept for reuse) in `Core::waiters`

/// Shared by the scheduler and every [`Proc`]: the list of components woken
/// since the current round began.
pub(crate) struct Core {
    pub(crate) woken: WakeList,
    /// The last number given to a run-time box name (`AdaptiveBoxes`), so
    /// that names depend only on what ran in this scheduler.
    pub(crate) box_suffix: Cell<u64>,
    /// The producers waiting for room in some proc's inboxes, by the
    /// proc's address: a side table, so that a proc (one per component)
    /// pays nothing for a list most never need. An entry is made by the
    /// first refusal and kept, with its allocation, until the proc is
    /// dropped (`F_LISTED` says it has one), so a producer refused again
    /// and again costs no allocation per refusal.
    waiters: UnsafeCell<HashMap<usize, Vec<ProcRc>, WordHash>>,
}

impl Core {
    pub(crate) fn new() -> Rc<Core> {
        Rc::new(Core {
            woken: WakeList(UnsafeCell::new(Vec::new())),
            box_suffix: Cell::new(0),
            waiters: UnsafeCell::new(HashMap::default()),
        })
    }

    /// Runs `f` on the waiter table. `f` must run no user code and drop no
    /// `ProcRc` (a proc's `Drop` reaches this table): every caller below
    /// only looks up, inserts, moves a list out or in, or removes an entry
    /// it drops after this returns.
    fn with_waiters<R>(
        &self,
        f: impl FnOnce(&mut HashMap<usize, Vec<ProcRc>, WordHash>) -> R,
    ) -> R {
        // SAFETY: single-threaded (`Core` is reached through `Rc`s, so it
        // is `!Sync`), and by the contract above nothing inside `f` reaches
        // the table again, so this is the only reference to it in use.
        f(unsafe { &mut *self.waiters.get() })
    }
}

/// A queued component, as the run queues and the wake list hold it: a
/// pointer straight to its [`Proc`], so running it needs no slot lookup.
///
/// Valid while queued: the scheduler's slot keeps an `Rc` to every live
/// proc and replaces it only after the component has finished; a component
/// finishes in its own step (when it is running, so not queued), and dead
/// procs are never queued (`wake` ignores them). The one exception is a
/// component that ends in a hand-off step while it has a queue entry: the
/// scheduler keeps an `Rc` to its proc until that entry has been passed,
/// and the entry, finding no component, is skipped. Stopping the system
/// clears every queue.
pub(crate) type Task = NonNull<Proc>;

/// The wake list. Every wake pushes onto it, so it avoids `RefCell`'s two
/// extra stores per push: it is `!Sync` (inside an `Rc`), and each method
/// below finishes its access before returning and calls no user code, so
/// no two accesses ever overlap.
pub(crate) struct WakeList(UnsafeCell<Vec<Task>>);

impl WakeList {
    #[inline]
    pub(crate) fn push(&self, task: Task) {
        // SAFETY: single-threaded (`Rc`-held, `!Sync`), and the mutable
        // reference lives only for this push, which calls no code that
        // could reach the list again.
        unsafe { (*self.0.get()).push(task) }
    }
    pub(crate) fn len(&self) -> usize {
        // SAFETY: as in `push`: a read for the length of this call.
        unsafe { (*self.0.get()).len() }
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Moves every woken task onto the end of `to`, in wake order.
    pub(crate) fn drain_into(&self, to: &mut Vec<Task>) {
        // SAFETY: as in `push`; `to` is a `&mut` held by the caller, so it
        // cannot be this list (reached only through `&self` methods).
        unsafe { to.append(&mut *self.0.get()) }
    }
    /// Runs `f` on the list itself (for reserving and shrinking).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Vec<Task>) -> R) -> R {
        // SAFETY: as in `push`, provided `f` does not wake a component (a
        // wake pushes onto this list): its callers pass `Vec::reserve`,
        // `Vec::clear` and `shrink_idle`, which only resize the list.
        unsafe { f(&mut *self.0.get()) }
    }
}

/// The scheduler-visible state of one component. Kept small (48 bytes, one
/// allocation with its count: see [`ProcRc`]): one per component, pointed
/// to by its boxes.
pub(crate) struct Proc {
    pub(crate) id: Id,
    pub(crate) state: Cell<u8>,
    pub(crate) flags: Cell<u8>,
    /// The scheduler's number for this component's name as it was at
    /// spawn (`NO_NAME` if it has none); it sits in what would be padding.
    pub(crate) name: Cell<u16>,
    /// Messages waiting in this component's own inboxes.
    pub(crate) pending: Cell<u32>,
    /// Handles (`ProcRc`) to this proc; it is freed when the last goes.
    refs: Cell<u32>,
    pub(crate) core: Rc<Core>,
    /// The component itself while it lives (a `Box` the scheduler owns and
    /// frees); kept here, beside its wake state, so a step reaches both
    /// through one pointer (a separate table cost a dependent load per
    /// step: 1 ns a hop in `benches/core.rs`).
    pub(crate) comp: Cell<Option<ErasedComp>>,
}

/// A component as its proc holds it: the scheduler's `NonNull<dyn
/// Component>` as its two words, so that this layer (and the boxes above
/// it, which point to procs) need not know what a component is. Only the
/// scheduler makes and reads one (`erase` and `unerase` in
/// `scheduler/lifecycle.rs`); here it is only stored and copied.
#[derive(Clone, Copy)]
pub(crate) struct ErasedComp(pub(crate) [NonNull<()>; 2]);

/// A counted handle to a [`Proc`] (what `Rc<Proc>` was). The count is a
/// `u32` in what was the proc's padding, so a proc is one 48-byte
/// allocation, where an `Rc` added 16 bytes of counts.
pub(crate) struct ProcRc(NonNull<Proc>);

impl ProcRc {
    fn new(proc: Proc) -> ProcRc {
        debug_assert_eq!(proc.refs.get(), 1);
        ProcRc(NonNull::from(Box::leak(Box::new(proc))))
    }

    /// Whether two handles name the same proc.
    #[inline]
    pub(crate) fn ptr_eq(a: &ProcRc, b: &ProcRc) -> bool {
        a.0 == b.0
    }
}

impl Clone for ProcRc {
    #[inline]
    fn clone(&self) -> ProcRc {
        let refs = &self.refs;
        // As `Rc`: a count that would wrap is a leak gone mad; stop.
        if refs.get() == u32::MAX {
            std::process::abort();
        }
        refs.set(refs.get() + 1);
        ProcRc(self.0)
    }
}

impl Drop for ProcRc {
    #[inline]
    fn drop(&mut self) {
        let n = self.refs.get() - 1;
        self.refs.set(n);
        if n == 0 {
            // SAFETY: the pointer came from `Box::leak` in `ProcRc::new`
            // (so it carries the whole allocation's provenance), and this
            // was the last handle: nothing refers to the proc any more.
            drop(unsafe { Box::from_raw(self.0.as_ptr()) });
        }
    }
}

impl Deref for ProcRc {
    type Target = Proc;
    #[inline]
    fn deref(&self) -> &Proc {
        // SAFETY: the handle keeps the proc alive.
        unsafe { self.0.as_ref() }
    }
}

impl fmt::Debug for ProcRc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Proc({})", self.id)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.has(F_LISTED) {
            let key = self as *const Proc as usize;
            // Dropped after the table is released: the list's procs may be
            // the last handles to others, whose drops reach the table.
            let list = self.core.with_waiters(|w| w.remove(&key));
            drop(list);
        }
    }
}

impl Proc {
    /// A new proc, behind its first handle (a proc lives only behind its
    /// counted handles).
    #[allow(clippy::new_ret_no_self)]
    pub(crate) fn new(id: Id, core: Rc<Core>) -> ProcRc {
        ProcRc::new(Proc {
            id,
            state: Cell::new(QUEUED),
            flags: Cell::new(0),
            name: Cell::new(NO_NAME),
            pending: Cell::new(0),
            refs: Cell::new(1),
            core,
            comp: Cell::new(None),
        })
    }

    /// A proc for boxes that belong to no scheduled component (test feeders
    /// and collectors). It is always "running", so waking it does nothing.
    pub(crate) fn detached(core: Rc<Core>) -> ProcRc {
        let p = Proc::new(Id::DETACHED, core);
        p.state.set(RUNNING);
        p
    }

    #[inline]
    pub(crate) fn has(&self, flag: u8) -> bool {
        self.flags.get() & flag != 0
    }

    #[inline]
    pub(crate) fn set(&self, flag: u8) {
        self.flags.set(self.flags.get() | flag);
    }

    #[inline]
    pub(crate) fn clear(&self, flag: u8) {
        self.flags.set(self.flags.get() & !flag);
    }

    /// Puts a sleeping component back on the run queue (once); notes a wake
    /// for a running one so it runs again; ignores queued and dead ones.
    #[inline]
    pub(crate) fn wake(&self) {
        match self.state.get() {
            SLEEPING => {
                self.state.set(QUEUED);
                self.core.woken.push(NonNull::from(self));
            }
            RUNNING => self.set(F_REWAKE),
            _ => {}
        }
    }

    #[inline]
    pub(crate) fn delivered(&self, n: u32) {
        self.pending.set(self.pending.get() + n);
        self.wake();
    }

    #[inline]
    pub(crate) fn taken(&self) {
        self.pending.set(self.pending.get() - 1);
        if self.has(F_WAITERS) {
            self.wake_waiters();
        }
    }

    pub(crate) fn add_waiter(&self, producer: &ProcRc) {
        let key = self as *const Proc as usize;
        // Clones a handle (no user code) into the list; drops nothing.
        self.core.with_waiters(|w| {
            let list = w.entry(key).or_default();
            if !list.iter().any(|p| ProcRc::ptr_eq(p, producer)) {
                list.push(producer.clone());
            }
        });
        self.set(F_WAITERS | F_LISTED);
    }

    /// Wakes every producer waiting for room in our inboxes. The list
    /// keeps its allocation for the next refusal: a producer refused again
    /// and again by a slow consumer costs no allocation per refusal.
    #[cold]
    pub(crate) fn wake_waiters(&self) {
        self.clear(F_WAITERS);
        if !self.has(F_LISTED) {
            return;
        }
        let key = self as *const Proc as usize;
        // Moved out while the producers are woken and their handles
        // dropped (a drop may free a proc, whose `Drop` reaches the
        // table); waking runs no user code and never adds a waiter.
        let mut list = self
            .core
            .with_waiters(|w| w.get_mut(&key).map(std::mem::take))
            .unwrap_or_default();
        for p in list.drain(..) {
            p.clear(F_HOLD);
            p.wake();
        }
        self.core.with_waiters(|w| {
            if let Some(slot) = w.get_mut(&key) {
                // The empty list moved in above: nothing is dropped.
                *slot = list;
            }
        });
    }
}
