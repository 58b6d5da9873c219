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
use std::fmt;
use std::ptr::NonNull;
use std::rc::Rc;

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

/// Shared by the scheduler and every [`Proc`]: the list of components woken
/// since the current round began.
pub(crate) struct Core {
    pub(crate) woken: WakeList,
    /// The last number given to a run-time box name (`AdaptiveBoxes`), so
    /// that names depend only on what ran in this scheduler.
    pub(crate) box_suffix: Cell<u64>,
}

impl Core {
    pub(crate) fn new() -> Rc<Core> {
        Rc::new(Core {
            woken: WakeList(UnsafeCell::new(Vec::new())),
            box_suffix: Cell::new(0),
        })
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

/// The scheduler-visible state of one component. Kept small: one per
/// component, pointed to by each of its boxes.
pub(crate) struct Proc {
    pub(crate) id: Id,
    pub(crate) state: Cell<u8>,
    pub(crate) flags: Cell<u8>,
    /// The scheduler's number for this component's name as it was at
    /// spawn (`NO_NAME` if it has none); it sits in what would be padding.
    pub(crate) name: Cell<u16>,
    /// Messages waiting in this component's own inboxes.
    pub(crate) pending: Cell<u32>,
    pub(crate) core: Rc<Core>,
    /// Producers refused by one of our full inboxes; woken on our next pop.
    /// Boxed so an idle component pays 8 bytes for it, not 24.
    #[allow(clippy::box_collection)]
    waiters: Cell<Option<Box<Vec<Rc<Proc>>>>>,
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

impl Proc {
    pub(crate) fn new(id: Id, core: Rc<Core>) -> Rc<Proc> {
        Rc::new(Proc {
            id,
            state: Cell::new(QUEUED),
            flags: Cell::new(0),
            name: Cell::new(NO_NAME),
            pending: Cell::new(0),
            core,
            waiters: Cell::new(None),
            comp: Cell::new(None),
        })
    }

    /// A proc for boxes that belong to no scheduled component (test feeders
    /// and collectors). It is always "running", so waking it does nothing.
    pub(crate) fn detached(core: Rc<Core>) -> Rc<Proc> {
        let p = Proc::new(Id::DETACHED, core);
        p.state.set(RUNNING);
        p
    }

    /// A proc that stands for "the owner has finished": boxes of finished
    /// components point to one of these.
    pub(crate) fn tombstone(core: Rc<Core>) -> Rc<Proc> {
        let p = Proc::new(Id::DETACHED, core);
        p.state.set(DEAD);
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

    pub(crate) fn add_waiter(&self, producer: &Rc<Proc>) {
        let mut list = self.waiters.take().unwrap_or_default();
        if !list.iter().any(|p| Rc::ptr_eq(p, producer)) {
            list.push(producer.clone());
        }
        self.waiters.set(Some(list));
        self.set(F_WAITERS);
    }

    /// Wakes every producer waiting for room in our inboxes. The list
    /// keeps its allocation for the next refusal: a producer refused again
    /// and again by a slow consumer costs no allocation per refusal.
    #[cold]
    pub(crate) fn wake_waiters(&self) {
        self.clear(F_WAITERS);
        if let Some(mut list) = self.waiters.take() {
            // Waking queues a proc and sets flags; it runs no user code and
            // never adds a waiter, so nothing else sees the list meanwhile.
            for p in list.drain(..) {
                p.clear(F_HOLD);
                p.wake();
            }
            self.waiters.set(Some(list));
        }
    }
}
