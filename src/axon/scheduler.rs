//! The scheduler: one thread, a round-robin run queue, a `mio::Poll` as the
//! only place it blocks.
//!
//! Each round runs every runnable component once, in a stable order: those
//! that stayed runnable from the last round in the order they ran, then
//! those woken since, in the order they were woken. Between rounds it
//! fires due timers and, every few rounds while sockets or threads are in
//! play, looks for readiness without blocking. When nothing is runnable it
//! blocks in `mio::Poll` until a socket is ready, a timer is due or a thread
//! wakes it, so an idle system uses no CPU. It ends when no component is
//! left, when a component stops the system, or when every component sleeps
//! and nothing could ever wake one (it then says which are asleep).
//!
//! One exception to "once per round": a hand-off. A component whose send
//! met a full inbox may ask for the consumer's step to run at once, inside
//! its own ([`Cx::run_receiver`]), so it can go on producing; the consumer
//! still keeps its own turn. No hand-off nests inside another.
//!
//! Time comes from a clock the scheduler owns: real, or virtual, where it
//! jumps to the next timer deadline whenever nothing is runnable.
//!
//! A panicking component propagates its panic by default. With
//! [`Scheduler::immortalise`] the panic is caught, logged with the
//! component's name, the component is removed with its links, and the rest
//! runs on.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mio::{Events, Interest, Poll, Token, Waker};

use super::boxes::{bump_epoch, BoxRef, BoxSet, Dir, LinkError, LinkErrorKind, LinkKind};
use super::component::Component;
use super::cx::Cx;
use super::introspect::{BoxInfo, ComponentInfo, LinkInfo, RunState, Snapshot};
use super::proc::{Core, Id, Proc, Task, DEAD, F_HOLD, F_REWAKE, QUEUED, RUNNING, SLEEPING};
use super::signal::Step;

const WAKER_TOKEN: Token = Token(usize::MAX);
/// While busy, look at sockets and threads every this many rounds.
const POLL_EVERY_ROUNDS: u32 = 16;

/// What ended a wait for events.
enum Wait {
    /// Some component was woken.
    Woken,
    /// The time given came.
    Until,
    /// Nothing (no timer, socket or thread) can ever wake anything.
    Nothing,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// Every component finished.
    Completed,
    /// A component stopped the system; the rest were dropped.
    Stopped,
    /// Every component sleeps and nothing (no timer, socket or thread) can
    /// wake any of them. The sleepers are listed.
    Stalled(Vec<(Id, String)>),
}

/// What one component step did, as recorded in a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StepResult {
    /// Returned `Yield`.
    Yield,
    /// Returned `Pause` but stays runnable (input waiting, or woken meanwhile).
    Pause,
    /// Returned `Pause` and was put to sleep.
    Sleep,
    /// Returned `Done`.
    Done,
    /// Panicked (only seen with `immortalise`).
    Panicked,
}

/// One entry of a trace: which component ran in which round, and what it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    /// The round number, from 1.
    pub round: u64,
    /// The component.
    pub id: Id,
    /// Its name.
    pub name: String,
    /// What the step did.
    pub result: StepResult,
}

/// How a child ended, as its parent learns through [`Cx::next_exit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    /// The child.
    pub id: Id,
    /// Its name.
    pub name: String,
    /// Whether it finished or panicked.
    pub how: ExitKind,
}

/// The way a component ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// It returned `Done`.
    Finished,
    /// It panicked and was removed (with `immortalise`); the panic message.
    Panicked(String),
}

/// Counters kept by the scheduler.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Component steps run.
    pub steps: u64,
    /// Rounds begun.
    pub rounds: u64,
    /// Components spawned.
    pub spawned: u64,
    /// Components that finished (including panicked ones).
    pub finished: u64,
    /// Components removed after a panic.
    pub panicked: u64,
    /// Messages left in the boxes of finished components: counted and
    /// logged, never silently lost. (Removing a run-time box returns its
    /// count to the caller instead.)
    pub undelivered: u64,
    /// Times the scheduler blocked in `mio::Poll` waiting for an event.
    pub waits: u64,
    /// Steps run as hand-offs ([`Cx::run_receiver`]); also in `steps`.
    pub hand_offs: u64,
}

/// A registered service: a component and one of its inboxes, found by name.
#[derive(Clone, Debug)]
pub struct Service {
    /// The component providing the service.
    pub component: Id,
    /// The inbox requests go to.
    pub inbox: BoxRef,
}

/// Why a service call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceError {
    /// A service of that name is already registered.
    AlreadyExists(String),
    /// No service of that name is registered.
    NotFound(String),
    /// The component is not alive (or the box belongs to none).
    BadComponent,
    /// The box is not an inbox, or the component has no inbox of that name.
    BadInbox(String),
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceError::AlreadyExists(n) => write!(f, "service '{n}' already exists"),
            ServiceError::NotFound(n) => write!(f, "no service named '{n}'"),
            ServiceError::BadComponent => f.write_str("service component is not alive"),
            ServiceError::BadInbox(n) => write!(f, "'{n}' is not an inbox of the component"),
        }
    }
}

impl std::error::Error for ServiceError {}

/// Wakes components from other threads. Cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct Remote {
    inner: Arc<RemoteInner>,
}

struct RemoteInner {
    tx: Sender<Id>,
    waker: Waker,
    /// Set by every wake; cleared by the scheduler before it drains.
    pending: AtomicBool,
}

impl Remote {
    /// Puts `id` back on the run queue; wakes the scheduler if it blocks.
    pub fn wake(&self, id: Id) {
        if self.inner.tx.send(id).is_ok() {
            self.inner.pending.store(true, Ordering::Release);
            let _ = self.inner.waker.wake();
        }
    }
}

#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
/// Readiness seen on a registered source since the component last asked.
pub struct Readiness {
    /// Readable (or a peer closed its end).
    pub readable: bool,
    /// Writable.
    pub writable: bool,
    /// An error or hang-up was reported.
    pub closed: bool,
}

struct IoReg {
    owner: Id,
    ready: Readiness,
}

enum Clock {
    Real,
    Virtual { base: Instant, offset: Duration },
}

/// Timer deadlines. `live` holds the keys of timers not yet fired or
/// cancelled; a cancelled timer's heap entry is dropped when it reaches the
/// top, so cancelling is O(log n) and never leaves a phantom deadline.
struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u64, Id)>>,
    seq: u64,
    live: BTreeSet<u64>,
}

impl Timers {
    fn purge(&mut self) {
        while let Some(Reverse((_, seq, _))) = self.heap.peek() {
            if self.live.contains(seq) {
                break;
            }
            self.heap.pop();
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        // `purge` runs after every change, so the top is live.
        self.heap.peek().map(|Reverse((t, _, _))| *t)
    }

    fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
}

/// A timer set with [`Cx::wake_at`]; pass it to [`Cx::cancel_timer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerKey(u64);

pub(crate) struct Inner {
    core: Rc<Core>,
    tombstone: Rc<Proc>,
    /// Every component's proc by slot number (the proc holds the component
    /// while it lives).
    slots: Vec<Rc<Proc>>,
    free: Vec<u32>,
    live: usize,
    current: Vec<Task>,
    cursor: usize,
    next_run: Vec<Task>,
    round: u64,
    clock: Clock,
    timers: Timers,
    poll: Poll,
    events: Events,
    io: Vec<Option<IoReg>>,
    io_free: Vec<usize>,
    io_live: usize,
    remote: Remote,
    remote_rx: Receiver<Id>,
    services: BTreeMap<String, Service>,
    parents: BTreeMap<Id, Id>,
    children: BTreeMap<Id, (Vec<Id>, usize)>,
    exits: BTreeMap<Id, VecDeque<Exit>>,
    stop: bool,
    trace: Option<Vec<TraceEntry>>,
    immortal: bool,
    /// Tracing or catching panics: take the careful path for each step.
    careful: bool,
    /// Run-queue capacity asked for with `reserve`; never shrunk below.
    reserved: usize,
    stats: Stats,
    rounds_since_poll: u32,
    /// A hand-off step (`Cx::run_receiver`) is running: no second one
    /// inside it.
    handing_off: bool,
    /// Procs of components that ended in a hand-off step while they still
    /// had a run-queue entry, with the round it happened in; kept alive
    /// until that entry has certainly been passed (two rounds on).
    ended_queued: Vec<(u64, Rc<Proc>)>,
}

/// The scheduler. See the module documentation.
///
/// ```
/// use kamaelia::axon::{Scheduler, Ended};
/// let mut s = Scheduler::new();
/// assert_eq!(s.run(), Ended::Completed); // nothing to run
/// ```
pub struct Scheduler {
    inner: Inner,
}

impl Default for Scheduler {
    fn default() -> Self {
        Self::new()
    }
}

impl Scheduler {
    /// A scheduler on the real clock.
    pub fn new() -> Self {
        Self::build(Clock::Real)
    }

    /// A scheduler on a virtual clock: when nothing is runnable, time jumps
    /// to the next timer deadline, so a 30-second time-out takes no time.
    pub fn with_virtual_time() -> Self {
        Self::build(Clock::Virtual {
            base: Instant::now(),
            offset: Duration::ZERO,
        })
    }

    fn build(clock: Clock) -> Self {
        let poll = Poll::new().expect("cannot create the mio poll");
        let waker = Waker::new(poll.registry(), WAKER_TOKEN).expect("cannot create the mio waker");
        let (tx, rx) = crossbeam_channel::unbounded();
        let core = Core::new();
        Scheduler {
            inner: Inner {
                tombstone: Proc::tombstone(core.clone()),
                core,
                slots: Vec::new(),
                free: Vec::new(),
                live: 0,
                current: Vec::new(),
                cursor: 0,
                next_run: Vec::new(),
                round: 0,
                clock,
                timers: Timers {
                    heap: BinaryHeap::new(),
                    seq: 0,
                    live: BTreeSet::new(),
                },
                poll,
                events: Events::with_capacity(1024),
                io: Vec::new(),
                io_free: Vec::new(),
                io_live: 0,
                remote: Remote {
                    inner: Arc::new(RemoteInner {
                        tx,
                        waker,
                        pending: AtomicBool::new(false),
                    }),
                },
                remote_rx: rx,
                services: BTreeMap::new(),
                parents: BTreeMap::new(),
                children: BTreeMap::new(),
                exits: BTreeMap::new(),
                stop: false,
                trace: None,
                immortal: false,
                careful: false,
                reserved: 0,
                stats: Stats::default(),
                rounds_since_poll: 0,
                handing_off: false,
                ended_queued: Vec::new(),
            },
        }
    }

    /// Reserves room for `n` more components (avoids regrowth when building
    /// very large systems).
    pub fn reserve(&mut self, n: usize) {
        self.inner.reserved = self.inner.reserved.max(n);
        self.inner.slots.reserve_exact(n);
        self.inner.current.reserve(n);
        self.inner.next_run.reserve(n);
        self.inner.core.woken.with(|w| w.reserve(n));
    }

    /// Catch panics in components (Kamaelia's `immortalise`): the component
    /// is logged, removed with its links, and the rest runs on.
    pub fn immortalise(&mut self, on: bool) {
        self.inner.immortal = on;
        self.inner.careful = on || self.inner.trace.is_some();
    }

    /// Records a trace of every step from now on.
    pub fn enable_trace(&mut self) {
        self.inner.trace.get_or_insert_with(Vec::new);
        self.inner.careful = true;
    }

    /// The trace recorded so far (empty unless enabled).
    pub fn trace(&self) -> &[TraceEntry] {
        self.inner.trace.as_deref().unwrap_or(&[])
    }

    /// Takes the trace recorded so far, leaving it empty (still enabled).
    pub fn take_trace(&mut self) -> Vec<TraceEntry> {
        self.inner
            .trace
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Starts a component. It first runs in the next round.
    pub fn spawn<C: Component>(&mut self, c: C) -> Id {
        self.inner.spawn(Box::new(c), None)
    }

    /// Starts a boxed component.
    pub fn spawn_boxed(&mut self, c: Box<dyn Component>) -> Id {
        self.inner.spawn(c, None)
    }

    /// Runs until every component has finished, the system is stopped, or
    /// nothing can happen any more.
    pub fn run(&mut self) -> Ended {
        self.inner
            .run_until(None)
            .expect("a run without a time limit ends only when the system does")
    }

    /// Runs as [`Scheduler::run`] does (blocking in the poll when nothing is
    /// runnable) for `d` of the scheduler's time, then returns `None`; or
    /// returns how the system ended, if it ended sooner.
    pub fn run_for(&mut self, d: Duration) -> Option<Ended> {
        let until = self.inner.now() + d;
        self.inner.run_until(Some(until))
    }

    /// Runs one component step, if one is runnable now (starting a new round
    /// when the current one is over). Does not wait for events.
    pub fn step(&mut self) -> Option<(Id, StepResult)> {
        self.inner.step_one()
    }

    /// Runs steps until nothing is runnable, looking for already-arrived
    /// thread and socket events between rounds, but never waiting and never
    /// moving virtual time. Returns the number of steps run.
    pub fn run_until_idle(&mut self) -> usize {
        let mut n = 0;
        loop {
            while self.inner.step_one().is_some() {
                n += 1;
                if self.inner.stop {
                    return n;
                }
            }
            if !self.inner.poll_events(Some(Duration::ZERO)) {
                return n;
            }
        }
    }

    /// Waits in the poll, for at most `limit` of real time, until a socket
    /// or another thread wakes a component; returns whether one is runnable.
    /// Returns at once if one already is. Never moves virtual time: it is
    /// how a step-by-step test waits for a component fed by a thread or a
    /// socket, instead of sleeping.
    pub fn wait_for_wake(&mut self, limit: Duration) -> bool {
        if self.inner.has_runnable() {
            return true;
        }
        self.inner.stats.waits += 1;
        self.inner.poll_events(Some(limit))
    }

    /// Moves virtual time forward by `d`, firing the timers that fall due
    /// (it does not run the woken components). Panics on a real clock.
    pub fn advance(&mut self, d: Duration) {
        match &mut self.inner.clock {
            Clock::Virtual { offset, .. } => *offset += d,
            Clock::Real => panic!("advance() needs a scheduler with virtual time"),
        }
        self.inner.fire_timers();
    }

    /// The scheduler's current time.
    pub fn now(&self) -> Instant {
        self.inner.now()
    }

    /// The next timer deadline, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.inner.timers.next_deadline()
    }

    /// The current round number (rounds begun so far).
    pub fn round(&self) -> u64 {
        self.inner.round
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    /// Components alive.
    pub fn live(&self) -> usize {
        self.inner.live
    }

    /// Whether `id` is alive.
    pub fn is_alive(&self, id: Id) -> bool {
        self.inner.is_alive(id)
    }

    /// Whether `id` is asleep (paused and not woken since). Unknown or
    /// finished components count as asleep, as in Axon.
    pub fn is_sleeping(&self, id: Id) -> bool {
        !self.inner.is_alive(id) || self.inner.slots[id.index as usize].state.get() == SLEEPING
    }

    /// Wakes a component (from the thread that owns the scheduler).
    pub fn wake(&mut self, id: Id) {
        self.inner.wake(id)
    }

    /// A handle to wake components from other threads.
    pub fn remote(&self) -> Remote {
        self.inner.remote.clone()
    }

    /// Finds a box of a component by name.
    pub fn find_box(&self, id: Id, name: &str) -> Result<BoxRef, LinkError> {
        self.inner.find_box(id, name)
    }

    /// Links two boxes named by (component, box name). Types are checked.
    pub fn link(&mut self, src: (Id, &str), dst: (Id, &str)) -> Result<LinkKind, LinkError> {
        self.inner.link_by_name(src, dst)
    }

    /// Registers `inbox` as the service `name`.
    pub fn register_service(&mut self, name: &str, inbox: BoxRef) -> Result<(), ServiceError> {
        self.inner.register_service(name, inbox)
    }

    /// Looks a service up.
    pub fn lookup_service(&self, name: &str) -> Result<Service, ServiceError> {
        self.inner.lookup_service(name)
    }

    /// Removes a service registration.
    pub fn deregister_service(&mut self, name: &str) -> Result<Service, ServiceError> {
        self.inner.deregister_service(name)
    }

    /// The names of registered services, sorted.
    pub fn services(&self) -> Vec<String> {
        self.inner.services.keys().cloned().collect()
    }

    /// A picture of the running system as plain data.
    pub fn snapshot(&self) -> Snapshot {
        self.inner.snapshot()
    }

    /// Stops the system: every component is dropped at the next check.
    pub fn stop(&mut self) {
        self.inner.stop = true;
    }

    pub(crate) fn inner(&mut self) -> &mut Inner {
        &mut self.inner
    }
}

impl Inner {
    /// A proc for boxes owned by no component (test feeders and collectors).
    pub(crate) fn detached_proc(&self) -> Rc<Proc> {
        Proc::detached(self.core.clone())
    }

    pub(crate) fn now(&self) -> Instant {
        match self.clock {
            Clock::Real => Instant::now(),
            Clock::Virtual { base, offset } => base + offset,
        }
    }

    pub(crate) fn is_alive(&self, id: Id) -> bool {
        self.proc_of(id).is_some()
    }

    fn proc_of(&self, id: Id) -> Option<&Rc<Proc>> {
        self.slots
            .get(id.index as usize)
            .filter(|p| p.id == id && p.state.get() != DEAD)
    }

    pub(crate) fn wake(&self, id: Id) {
        if let Some(p) = self.proc_of(id) {
            p.wake();
        }
    }

    pub(crate) fn spawn(&mut self, comp: Box<dyn Component>, parent: Option<Id>) -> Id {
        let id = match self.free.pop() {
            Some(index) => {
                let gen = self.slots[index as usize].id.gen.wrapping_add(1);
                Id { index, gen }
            }
            None => {
                let index = u32::try_from(self.slots.len()).expect("too many components");
                Id { index, gen: 0 }
            }
        };
        let proc = Proc::new(id, self.core.clone());
        let mut set = BoxSet::default();
        comp.boxes(&mut set);
        let names: Vec<String> = if set.adaptive.is_empty() {
            Vec::new()
        } else {
            set.boxes.iter().map(|b| b.name().to_string()).collect()
        };
        for b in &set.boxes {
            if let Err(other) = b.0.attach(&proc) {
                log::error!(
                    "{}{id}: box '{}' already belongs to {other}; not attached",
                    comp.name(),
                    b.name()
                );
            }
        }
        for a in &set.adaptive {
            a.bind(&proc, names.clone());
        }
        proc.comp.set(Some(NonNull::from(Box::leak(comp))));
        // Activation is a wake: the component runs from the next round.
        self.core.woken.push(NonNull::from(&*proc));
        if (id.index as usize) < self.slots.len() {
            self.slots[id.index as usize] = proc;
        } else {
            self.slots.push(proc);
        }
        self.live += 1;
        self.stats.spawned += 1;
        if let Some(p) = parent {
            self.parents.insert(id, p);
            self.children.entry(p).or_default().0.push(id);
        }
        id
    }

    /// Whether some component is queued to run.
    fn has_runnable(&self) -> bool {
        self.cursor < self.current.len() || !self.next_run.is_empty() || !self.core.woken.is_empty()
    }

    fn begin_round(&mut self) -> bool {
        self.service_events_between_rounds();
        self.current.clear();
        std::mem::swap(&mut self.current, &mut self.next_run);
        {
            self.core.woken.drain_into(&mut self.current);
            let keep = self.reserved;
            self.core.woken.with(|w| shrink_idle(w, keep));
        }
        shrink_idle(&mut self.next_run, self.reserved);
        self.cursor = 0;
        if self.current.is_empty() {
            shrink_idle(&mut self.current, self.reserved);
            return false;
        }
        self.round += 1;
        self.stats.rounds += 1;
        if !self.ended_queued.is_empty() {
            // An entry queued in round r is passed by the end of round r+1.
            let round = self.round;
            self.ended_queued.retain(|(r, _)| r + 2 > round);
        }
        true
    }

    pub(crate) fn step_one(&mut self) -> Option<(Id, StepResult)> {
        loop {
            if self.cursor >= self.current.len() && !self.begin_round() {
                return None;
            }
            let task = self.current[self.cursor];
            self.cursor += 1;
            // SAFETY: a queued task is live (see `Task`).
            let id = unsafe { task.as_ref() }.id;
            if let Some(r) = self.run_component(task) {
                return Some((id, r));
            }
        }
    }

    /// Runs one step of a queued component.
    #[inline]
    fn run_component(&mut self, task: Task) -> Option<StepResult> {
        self.stats.steps += 1;
        if self.careful {
            self.step_slow(task)
        } else {
            self.step_fast(task)
        }
    }

    /// A step without tracing or panic catching. The common case (the
    /// component yields or pauses) stays in this small function.
    #[inline]
    fn step_fast(&mut self, task: Task) -> Option<StepResult> {
        // SAFETY: a queued task is live (see `Task`), and stays so for the
        // whole step: its slot is replaced only after it has finished.
        let proc: &Proc = unsafe { task.as_ref() };
        let Some(comp) = self.begin_step(proc) else {
            return self.skip_ended();
        };
        // SAFETY: the component is borrowed only here while it runs; every
        // other reader (`component_of`) skips a running component, and it
        // is freed only after its step, in `finish` or `stop_all`.
        let step = unsafe { &mut *comp.as_ptr() }.step(&mut Cx {
            inner: self,
            me: proc.id,
            proc,
        });
        match self.settle(task, proc, step) {
            Some(r) => Some(r),
            None => {
                self.finish(proc.id, take_component(proc), ExitKind::Finished);
                Some(StepResult::Done)
            }
        }
    }

    /// A run-queue entry of a component that ended in a hand-off: not a
    /// step, so not counted as one (the caller counted it).
    #[cold]
    fn skip_ended(&mut self) -> Option<StepResult> {
        self.stats.steps -= 1;
        None
    }

    /// Marks a queued component running; returns the component.
    #[inline(always)]
    fn begin_step(&mut self, proc: &Proc) -> Option<NonNull<dyn Component>> {
        // No component: it ended in a hand-off step after it was queued
        // (see `hand_off`); this entry is its last trace.
        let comp = proc.comp.get()?;
        // Every other task in the run queue is a live, queued component: it
        // is queued only on a SLEEPING -> QUEUED wake or after its own step.
        debug_assert!(
            proc.state.get() == QUEUED,
            "{:?} queued twice or dead",
            proc.id
        );
        // F_REWAKE and F_HOLD are clear: `settle` cleared them after the
        // last step, and only a running component gets them set.
        debug_assert!(!proc.has(F_REWAKE | F_HOLD));
        proc.state.set(RUNNING);
        Some(comp)
    }

    /// Queues or sleeps a component after a step that did not end it;
    /// `None` if it returned `Done`.
    #[inline(always)]
    fn settle(&mut self, task: Task, proc: &Proc, step: Step) -> Option<StepResult> {
        // This step's hold and re-wake are used up here.
        let flags = proc.flags.get();
        proc.flags.set(flags & !(F_REWAKE | F_HOLD));
        match step {
            Step::Yield => {
                proc.state.set(QUEUED);
                self.next_run.push(task);
                Some(StepResult::Yield)
            }
            Step::Pause => {
                let input_waiting = proc.pending.get() > 0 && flags & F_HOLD == 0;
                if input_waiting || flags & F_REWAKE != 0 {
                    proc.state.set(QUEUED);
                    self.next_run.push(task);
                    Some(StepResult::Pause)
                } else {
                    proc.state.set(SLEEPING);
                    Some(StepResult::Sleep)
                }
            }
            Step::Done => None,
        }
    }

    /// A step with tracing and, if asked for, panics caught.
    #[cold]
    #[inline(never)]
    fn step_slow(&mut self, task: Task) -> Option<StepResult> {
        // SAFETY: as in `run_component`.
        let proc: &Proc = unsafe { task.as_ref() };
        let id = proc.id;
        let Some(comp) = self.begin_step(proc) else {
            return self.skip_ended();
        };
        // SAFETY: as in `run_component`.
        let outcome = self.careful_step(id, proc, unsafe { &mut *comp.as_ptr() });
        let result = match &outcome {
            Ok(step) => self.settle(task, proc, *step).unwrap_or(StepResult::Done),
            Err(_) => StepResult::Panicked,
        };
        self.close_step(proc, comp, outcome, result);
        Some(result)
    }

    /// After a careful or hand-off step: traces it (if tracing), and
    /// removes the component if it ended or panicked.
    fn close_step(
        &mut self,
        proc: &Proc,
        comp: NonNull<dyn Component>,
        outcome: std::thread::Result<Step>,
        result: StepResult,
    ) {
        let id = proc.id;
        // SAFETY: the step is over and the component not yet freed; this
        // borrow ends before `take_component` below.
        let name = || unsafe { comp.as_ref() }.name().to_string();
        if let Some(t) = self.trace.as_mut() {
            t.push(TraceEntry {
                round: self.round,
                id,
                name: name(),
                result,
            });
        }
        match outcome {
            Ok(Step::Done) => self.finish(id, take_component(proc), ExitKind::Finished),
            Err(payload) => {
                let msg = panic_message(&*payload);
                log::error!("component {}{id} panicked: {msg}; removed", name());
                self.stats.panicked += 1;
                self.finish(id, take_component(proc), ExitKind::Panicked(msg));
            }
            Ok(_) => {}
        }
    }

    /// A step with panics caught (if asked for); traced steps come here too.
    #[cold]
    #[inline(never)]
    fn careful_step(
        &mut self,
        id: Id,
        proc: &Proc,
        comp: &mut dyn Component,
    ) -> std::thread::Result<Step> {
        let mut cx = Cx {
            inner: self,
            me: id,
            proc,
        };
        if cx.inner.immortal {
            panic::catch_unwind(AssertUnwindSafe(|| comp.step(&mut cx)))
        } else {
            Ok(comp.step(&mut cx))
        }
    }

    /// Runs one step of `proc`, a queued component, now, inside the step
    /// of the component that asked (see [`Cx::run_receiver`]); true if it
    /// ran. Its run-queue entry stays where it is, so it keeps its turn
    /// in the round too (where it may find nothing to do). If it ends
    /// here, its proc is kept until that entry has been passed.
    pub(crate) fn hand_off(&mut self, proc: &Rc<Proc>) -> bool {
        if self.handing_off || proc.state.get() != QUEUED || !Rc::ptr_eq(&proc.core, &self.core) {
            return false;
        }
        let Some(comp) = self.begin_step(proc) else {
            return false;
        };
        self.handing_off = true;
        self.stats.steps += 1;
        self.stats.hand_offs += 1;
        let id = proc.id;
        let outcome = if self.careful {
            // SAFETY: as in `step_fast`.
            self.careful_step(id, proc, unsafe { &mut *comp.as_ptr() })
        } else {
            // SAFETY: as in `step_fast`: the component is borrowed only
            // here while it runs, and freed only after its step.
            Ok(unsafe { &mut *comp.as_ptr() }.step(&mut Cx {
                inner: self,
                me: id,
                proc,
            }))
        };
        self.handing_off = false;
        // It is still in a run queue: whatever it asked for, it stays
        // queued (a wake it got while running is covered by that entry).
        proc.flags.set(proc.flags.get() & !(F_REWAKE | F_HOLD));
        let result = match &outcome {
            Ok(Step::Yield) => StepResult::Yield,
            Ok(Step::Pause) => StepResult::Pause,
            Ok(Step::Done) => StepResult::Done,
            Err(_) => StepResult::Panicked,
        };
        if matches!(result, StepResult::Done | StepResult::Panicked) {
            // Its queue entry outlives it: keep the proc for that entry.
            self.ended_queued.push((self.round, proc.clone()));
        } else {
            proc.state.set(QUEUED);
        }
        self.close_step(proc, comp, outcome, result);
        true
    }

    /// Removes a finished component: cuts its links, counts what it left
    /// undelivered, tells its parent.
    #[cold]
    #[inline(never)]
    fn finish(&mut self, id: Id, comp: Box<dyn Component>, how: ExitKind) {
        let name = comp.name().to_string();
        let mut set = BoxSet::default();
        comp.boxes(&mut set);
        for b in &set.boxes {
            let left = b.0.close(&self.tombstone);
            if left > 0 {
                self.stats.undelivered += left as u64;
                log::warn!(
                    "{name}{id} finished with {left} message(s) undelivered in '{}'",
                    b.name()
                );
            }
        }
        bump_epoch();
        let proc = self.slots[id.index as usize].clone();
        proc.state.set(DEAD);
        proc.wake_waiters();
        if self.io_live > 0 {
            for (i, r) in self.io.iter_mut().enumerate() {
                if r.as_ref().is_some_and(|r| r.owner == id) {
                    *r = None;
                    self.io_free.push(i);
                    self.io_live -= 1;
                }
            }
        }
        let gone: Vec<String> = self
            .services
            .iter()
            .filter(|(_, s)| s.component == id)
            .map(|(n, _)| n.clone())
            .collect();
        for n in gone {
            self.services.remove(&n);
        }
        self.free.push(id.index);
        self.live -= 1;
        self.stats.finished += 1;
        if let Some((kids, _)) = self.children.remove(&id) {
            for k in kids {
                self.parents.remove(&k);
            }
        }
        self.exits.remove(&id);
        if let Some(parent) = self.parents.remove(&id) {
            let slots = &self.slots;
            if let Some((kids, dead)) = self.children.get_mut(&parent) {
                *dead += 1;
                if *dead * 2 > kids.len() {
                    *dead = 0;
                    kids.retain(|k| {
                        slots
                            .get(k.index as usize)
                            .is_some_and(|p| p.id == *k && p.state.get() != DEAD)
                    });
                }
            }
            if self.is_alive(parent) {
                self.exits.entry(parent).or_default().push_back(Exit {
                    id,
                    name: name.clone(),
                    how,
                });
                self.wake(parent);
            }
        }
        drop(set);
        if self.immortal {
            if let Err(p) = panic::catch_unwind(AssertUnwindSafe(move || drop(comp))) {
                log::error!(
                    "{name}{id} panicked while being dropped: {}",
                    panic_message(&*p)
                );
            }
        } else {
            drop(comp);
        }
    }

    /// Runs until the system ends (`Some(how)`) or, given `until`, until
    /// that time has come (`None`), blocking in the poll meanwhile.
    fn run_until(&mut self, until: Option<Instant>) -> Option<Ended> {
        loop {
            if self.stop {
                self.stop_all();
                self.stop = false;
                return Some(Ended::Stopped);
            }
            if self.live == 0 {
                return Some(Ended::Completed);
            }
            if until.is_some_and(|t| self.now() >= t) {
                return None;
            }
            if self.cursor < self.current.len() || self.begin_round() {
                // The rest of this round, without coming back out per step;
                // the careful/fast choice is made once for the round.
                if self.careful {
                    self.run_rest_of_round(Self::step_slow);
                } else {
                    self.run_rest_of_round(Self::step_fast);
                }
                continue;
            }
            match self.wait_for_events(until) {
                Wait::Woken => {}
                Wait::Until => return None,
                Wait::Nothing if self.live == 0 => {}
                Wait::Nothing => return Some(Ended::Stalled(self.sleepers())),
            }
        }
    }

    /// Runs the rest of the current round with `step`; counts the steps
    /// once for the round.
    #[inline(always)]
    fn run_rest_of_round(&mut self, step: impl Fn(&mut Self, Task) -> Option<StepResult>) {
        let first = self.cursor;
        while self.cursor < self.current.len() && !self.stop {
            let task = self.current[self.cursor];
            self.cursor += 1;
            step(self, task);
        }
        self.stats.steps += (self.cursor - first) as u64;
    }

    fn sleepers(&self) -> Vec<(Id, String)> {
        self.slots
            .iter()
            .filter(|p| p.state.get() == SLEEPING)
            .map(|p| {
                let name = component_of(p)
                    .map(|c| c.name().to_string())
                    .unwrap_or_default();
                (p.id, name)
            })
            .collect()
    }

    fn stop_all(&mut self) {
        for i in 0..self.slots.len() {
            let proc = self.slots[i].clone();
            if proc.comp.get().is_none() {
                continue;
            }
            let comp = take_component(&proc);
            let mut set = BoxSet::default();
            comp.boxes(&mut set);
            for b in &set.boxes {
                b.0.close(&self.tombstone);
            }
            proc.state.set(DEAD);
            self.live -= 1;
            drop(set);
            drop(comp);
        }
        bump_epoch();
        self.current.clear();
        self.next_run.clear();
        self.core.woken.with(Vec::clear);
        self.ended_queued.clear();
    }

    /// Whether some other thread holds a [`Remote`] (threaded components
    /// hold one while their thread runs).
    fn remote_in_use(&self) -> bool {
        Arc::strong_count(&self.remote.inner) > 1
    }

    fn has_wake_sources(&self) -> bool {
        self.io_live > 0 || self.remote_in_use() || !self.timers.is_empty()
    }

    /// Blocks until something wakes a component, `until` comes, or it is
    /// clear that nothing can ever wake one.
    fn wait_for_events(&mut self, until: Option<Instant>) -> Wait {
        loop {
            self.drain_remote();
            if !self.core.woken.is_empty() {
                return Wait::Woken;
            }
            if !self.has_wake_sources() {
                return Wait::Nothing;
            }
            if until.is_some_and(|t| self.now() >= t) {
                return Wait::Until;
            }
            let outside = self.io_live > 0 || self.remote_in_use();
            let deadline = match (self.timers.next_deadline(), until) {
                (Some(d), Some(u)) => Some(d.min(u)),
                (d, u) => d.or(u),
            };
            match self.clock {
                Clock::Virtual { .. } => {
                    if outside && self.poll_events(Some(Duration::ZERO)) {
                        return Wait::Woken;
                    }
                    if let Some(d) = deadline {
                        if let Clock::Virtual { base, offset } = &mut self.clock {
                            let target = d.saturating_duration_since(*base);
                            if target > *offset {
                                *offset = target;
                            }
                        }
                        self.fire_timers();
                    } else {
                        self.stats.waits += 1;
                        self.poll_events(None);
                    }
                }
                Clock::Real => {
                    let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                    self.stats.waits += 1;
                    self.poll_events(timeout);
                    self.fire_timers();
                }
            }
        }
    }

    fn service_events_between_rounds(&mut self) {
        if !self.timers.is_empty() {
            self.fire_timers();
        }
        self.drain_remote();
        if self.io_live > 0 {
            self.rounds_since_poll += 1;
            if self.rounds_since_poll >= POLL_EVERY_ROUNDS {
                self.poll_events(Some(Duration::ZERO));
            }
        }
    }

    fn fire_timers(&mut self) {
        let now = self.now();
        while let Some(Reverse((t, seq, id))) = self.timers.heap.peek().copied() {
            if t > now {
                break;
            }
            self.timers.heap.pop();
            if self.timers.live.remove(&seq) {
                self.wake(id);
            }
        }
        self.timers.purge();
    }

    /// Wakes what other threads asked to wake. Cheap when nothing came: one
    /// atomic load.
    #[inline]
    fn drain_remote(&mut self) {
        if self.remote.inner.pending.load(Ordering::Acquire) {
            self.drain_remote_now();
        }
    }

    #[cold]
    #[inline(never)]
    fn drain_remote_now(&mut self) {
        self.remote.inner.pending.store(false, Ordering::Release);
        while let Ok(id) = self.remote_rx.try_recv() {
            self.wake(id);
        }
    }

    /// Polls once; returns whether anything was woken.
    pub(crate) fn poll_events(&mut self, timeout: Option<Duration>) -> bool {
        self.rounds_since_poll = 0;
        let before = self.core.woken.len();
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => log::error!("mio poll failed: {e}"),
        }
        for ev in self.events.iter() {
            if ev.token() == WAKER_TOKEN {
                continue; // remote wakes are drained below
            }
            if let Some(Some(reg)) = self.io.get_mut(ev.token().0) {
                reg.ready.readable |= ev.is_readable() || ev.is_read_closed();
                reg.ready.writable |= ev.is_writable() || ev.is_write_closed();
                reg.ready.closed |= ev.is_error() || (ev.is_read_closed() && ev.is_write_closed());
                let owner = reg.owner;
                self.wake(owner);
            }
        }
        self.drain_remote();
        self.core.woken.len() > before
    }

    // ----- timers -----

    pub(crate) fn add_timer(&mut self, at: Instant, id: Id) -> TimerKey {
        self.timers.seq += 1;
        let seq = self.timers.seq;
        self.timers.heap.push(Reverse((at, seq, id)));
        self.timers.live.insert(seq);
        TimerKey(seq)
    }

    pub(crate) fn cancel_timer(&mut self, key: TimerKey) {
        if self.timers.live.remove(&key.0) {
            self.timers.purge();
        }
    }

    // ----- io -----

    pub(crate) fn register_io(
        &mut self,
        source: &mut dyn mio::event::Source,
        interest: Interest,
        owner: Id,
    ) -> io::Result<Token> {
        let index = match self.io_free.pop() {
            Some(i) => i,
            None => {
                self.io.push(None);
                self.io.len() - 1
            }
        };
        let token = Token(index);
        if let Err(e) = self.poll.registry().register(source, token, interest) {
            self.io_free.push(index);
            return Err(e);
        }
        self.io[index] = Some(IoReg {
            owner,
            ready: Readiness::default(),
        });
        self.io_live += 1;
        Ok(token)
    }

    pub(crate) fn reregister_io(
        &mut self,
        source: &mut dyn mio::event::Source,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.poll.registry().reregister(source, token, interest)
    }

    pub(crate) fn deregister_io(
        &mut self,
        source: &mut dyn mio::event::Source,
        token: Token,
    ) -> io::Result<()> {
        let r = self.poll.registry().deregister(source);
        if let Some(slot) = self.io.get_mut(token.0) {
            if slot.take().is_some() {
                self.io_free.push(token.0);
                self.io_live -= 1;
            }
        }
        r
    }

    pub(crate) fn take_readiness(&mut self, token: Token) -> Readiness {
        match self.io.get_mut(token.0) {
            Some(Some(r)) => std::mem::take(&mut r.ready),
            _ => Readiness::default(),
        }
    }

    // ----- children -----

    pub(crate) fn next_exit(&mut self, parent: Id) -> Option<Exit> {
        let q = self.exits.get_mut(&parent)?;
        let e = q.pop_front();
        if q.is_empty() {
            self.exits.remove(&parent);
        }
        e
    }

    pub(crate) fn children_of(&self, parent: Id) -> Vec<Id> {
        self.children
            .get(&parent)
            .map(|(v, _)| v.iter().copied().filter(|k| self.is_alive(*k)).collect())
            .unwrap_or_default()
    }

    pub(crate) fn request_stop(&mut self) {
        self.stop = true;
    }

    pub(crate) fn remote_handle(&self) -> Remote {
        self.remote.clone()
    }

    // ----- boxes by name -----

    pub(crate) fn name_of(&self, id: Id) -> Option<String> {
        if !self.is_alive(id) {
            return None;
        }
        component_of(&self.slots[id.index as usize]).map(|c| c.name().to_string())
    }

    pub(crate) fn find_box(&self, id: Id, name: &str) -> Result<BoxRef, LinkError> {
        if !self.is_alive(id) {
            return Err(LinkError::lookup(LinkErrorKind::NoSuchComponent(id)));
        }
        let Some(comp) = component_of(&self.slots[id.index as usize]) else {
            // The caller itself is running and cannot be searched by name:
            // it should use its own typed handles.
            return Err(LinkError::lookup(LinkErrorKind::NoSuchBox {
                component: format!("{id} (running)"),
                name: name.to_string(),
            }));
        };
        let mut set = BoxSet::default();
        comp.boxes(&mut set);
        set.find(name).cloned().ok_or_else(|| {
            LinkError::lookup(LinkErrorKind::NoSuchBox {
                component: format!("{}{id}", comp.name()),
                name: name.to_string(),
            })
        })
    }

    pub(crate) fn link_by_name(
        &mut self,
        src: (Id, &str),
        dst: (Id, &str),
    ) -> Result<LinkKind, LinkError> {
        let s = self.find_box(src.0, src.1)?;
        let d = self.find_box(dst.0, dst.1)?;
        let sname = self.name_of(src.0).map(|n| format!("{n}{}", src.0));
        let dname = self.name_of(dst.0).map(|n| format!("{n}{}", dst.0));
        super::boxes::link_refs(&s, &d)
            .map_err(|e| e.with_names(sname.as_deref(), dname.as_deref()))
    }

    // ----- services -----

    pub(crate) fn register_service(
        &mut self,
        name: &str,
        inbox: BoxRef,
    ) -> Result<(), ServiceError> {
        if self.services.contains_key(name) {
            return Err(ServiceError::AlreadyExists(name.to_string()));
        }
        let Some(owner) = inbox.owner().filter(|id| self.is_alive(*id)) else {
            return Err(ServiceError::BadComponent);
        };
        if inbox.direction() != Dir::In {
            return Err(ServiceError::BadInbox(inbox.name().to_string()));
        }
        self.services.insert(
            name.to_string(),
            Service {
                component: owner,
                inbox,
            },
        );
        Ok(())
    }

    pub(crate) fn lookup_service(&self, name: &str) -> Result<Service, ServiceError> {
        self.services
            .get(name)
            .cloned()
            .ok_or_else(|| ServiceError::NotFound(name.to_string()))
    }

    pub(crate) fn deregister_service(&mut self, name: &str) -> Result<Service, ServiceError> {
        self.services
            .remove(name)
            .ok_or_else(|| ServiceError::NotFound(name.to_string()))
    }

    // ----- introspection -----

    pub(crate) fn snapshot(&self) -> Snapshot {
        let mut components = Vec::new();
        let mut links = Vec::new();
        for p in &self.slots {
            let state = match p.state.get() {
                DEAD => continue,
                SLEEPING => RunState::Sleeping,
                RUNNING => RunState::Running,
                _ => RunState::Runnable,
            };
            let id = p.id;
            let mut boxes = Vec::new();
            let name = match component_of(p) {
                Some(c) => {
                    let mut set = BoxSet::default();
                    c.boxes(&mut set);
                    for b in set.iter() {
                        boxes.push(BoxInfo {
                            name: b.name().to_string(),
                            description: b.description().to_string(),
                            dir: b.direction(),
                            type_name: b.type_name(),
                            len: b.len(),
                            limit: b.limit(),
                        });
                        if let Some(d) = b.destination() {
                            links.push(LinkInfo {
                                from: (Some(id), b.name().to_string()),
                                to: (d.owner(), d.name().to_string()),
                                kind: link_kind(b.direction(), d.direction()),
                            });
                        }
                    }
                    c.name().to_string()
                }
                None => "(running)".to_string(),
            };
            components.push(ComponentInfo {
                id,
                name,
                state,
                parent: self.parents.get(&id).copied(),
                pending: p.pending.get() as usize,
                boxes,
            });
        }
        Snapshot {
            round: self.round,
            components,
            links,
        }
    }
}

/// A component that is not running, to look at (`None` while it runs or
/// once it has finished).
fn component_of(p: &Proc) -> Option<&dyn Component> {
    if p.state.get() == RUNNING {
        return None;
    }
    // SAFETY: only a running component is borrowed mutably (by its step),
    // and the component lives as long as the proc holds it.
    p.comp.get().map(|c| unsafe { &*c.as_ptr() })
}

/// Takes a finished component out of its proc, to drop it.
fn take_component(p: &Proc) -> Box<dyn Component> {
    let c = p.comp.take().expect("a live component");
    // SAFETY: the pointer came from `Box::leak` in `spawn` and is taken
    // out once; no borrow of the component outlives this (its step is over).
    unsafe { Box::from_raw(c.as_ptr()) }
}

impl Drop for Inner {
    /// Frees the components still alive (the procs hold them by pointer).
    fn drop(&mut self) {
        for p in &self.slots {
            if p.comp.get().is_some() {
                drop(take_component(p));
            }
        }
    }
}

fn link_kind(a: Dir, b: Dir) -> LinkKind {
    match (a, b) {
        (Dir::In, _) => LinkKind::PassIn,
        (Dir::Out, Dir::Out) => LinkKind::PassOut,
        (Dir::Out, Dir::In) => LinkKind::Normal,
    }
}

/// Gives back memory of run queues that once held many entries.
fn shrink_idle(v: &mut Vec<Task>, keep: usize) {
    if v.capacity() > 4096.max(keep) && v.len() < v.capacity() / 8 {
        v.shrink_to(v.len().max(1024).max(keep));
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}
