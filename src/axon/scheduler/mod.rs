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
//! # What is deterministic on virtual time
//!
//! Outside events are messages and wakes from other threads (threaded
//! components, [`Remote`]) and socket readiness. Virtual time jumps only
//! when nothing is runnable, and only after a look (without waiting) for
//! outside events that have already arrived; one that has arrived is
//! always seen before the jump.
//!
//! * With no threads or sockets, a run is a function of the program: the
//!   same steps in the same order at the same virtual times, every time.
//! * With them, the run between two outside events is a function of the
//!   program and of the events so far; but *when*, in virtual time, an
//!   outside event is seen depends on how long its thread took in real
//!   time against how soon the scheduler reached its next jump. A thread
//!   still working when nothing else is runnable lets virtual time run on
//!   past its answer.
//!
//! So a test that mixes threads with timers waits for the thread before
//! moving time: [`Scheduler::wait_for_wake`] (and the harness's) waits in
//! real time for an outside event and never moves virtual time; then
//! [`Scheduler::advance`] or a run moves it. Done that way, what every
//! component sees (which messages, in which order, at which virtual
//! times) is the same on every run (`tests/axon_virtual_time.rs`). The
//! number of steps a threaded component's bridge takes can differ (its
//! thread wakes it in real time), and with it the round numbers in a
//! trace.
//!
//! A panicking component propagates its panic by default. With
//! [`Scheduler::immortalise`] the panic is caught, logged with the
//! component's name, the component is removed with its links, and the rest
//! runs on.
//!
//! Where to find what:
//!
//! | file           | what                                                  |
//! |----------------|-------------------------------------------------------|
//! | `mod.rs`       | the public [`Scheduler`] and the types it reports in  |
//! | `run.rs`       | the run loop: rounds, the fast step, waiting          |
//! | `trace.rs`     | traced and panic-catching steps, hand-offs            |
//! | `lifecycle.rs` | spawning, finishing, stopping; parents and children   |
//! | `poll.rs`      | sockets and readiness                                 |
//! | `timers.rs`    | the clock (real or virtual) and timers                |
//! | `remote.rs`    | wake-ups from other threads                           |
//! | `names.rs`     | boxes by name, services, the snapshot                 |
//! | `stats.rs`     | the counters                                          |

use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::{Events, Poll, Waker};

use super::boxes::{BoxRef, LinkError, LinkKind, WordHash};
use super::component::Component;
use super::introspect::Snapshot;
use super::proc::{Core, Id, Proc, ProcRc, Task, DEAD, SLEEPING};

mod lifecycle;
mod names;
mod poll;
mod remote;
mod run;
mod stats;
#[cfg(test)]
mod tests;
mod timers;
mod trace;

use poll::{IoReg, WAKER_TOKEN};
use remote::RemoteInner;
use timers::{Clock, Timers};

pub use names::{Service, ServiceError};
pub use poll::Readiness;
pub use remote::Remote;
pub use stats::Stats;
pub use timers::TimerKey;

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

/// How a child ended, as its parent learns through [`Cx::next_exit`](crate::axon::Cx::next_exit).
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

pub(crate) struct Inner {
    core: Rc<Core>,
    /// Every component's proc by slot number (the proc holds the component
    /// while it lives).
    slots: Vec<ProcRc>,
    /// The names live components had at spawn (for a snapshot taken while
    /// one runs), one entry per distinct name with a count of its users;
    /// a proc holds its entry's number in two bytes of its padding, so a
    /// component pays nothing for it.
    names: Vec<(Rc<str>, u32)>,
    name_index: HashMap<Rc<str>, u16, WordHash>,
    names_free: Vec<u16>,
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
    /// The I/O slots of each component that has any, so a finish frees its
    /// own without scanning every slot.
    io_by_owner: BTreeMap<Id, Vec<usize>>,
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
    ended_queued: Vec<(u64, ProcRc)>,
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
    ///
    /// Without threads or sockets a run on virtual time is the same every
    /// time. With them, an event from outside (a thread's message, socket
    /// readiness) that has arrived is always seen before the next jump,
    /// but virtual time does not wait for a thread still working: when it
    /// is seen depends on real time. A test waits for the thread with
    /// [`Scheduler::wait_for_wake`] (which never moves virtual time) before
    /// moving time: then what every component sees is the same on every run
    /// (though a threaded component's bridge may take a different number
    /// of steps); see the scheduler's module documentation in the source
    /// (`src/axon/scheduler/mod.rs`) for the full statement.
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
                core,
                slots: Vec::new(),
                names: Vec::new(),
                name_index: HashMap::default(),
                names_free: Vec::new(),
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
                io_by_owner: BTreeMap::new(),
                remote: Remote {
                    inner: Arc::new(RemoteInner {
                        tx,
                        waker,
                        pending: AtomicBool::new(false),
                        polling: AtomicBool::new(false),
                        signals: AtomicU64::new(0),
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
            .ending_unwound_steps(|inner| inner.run_until(None))
            .expect("a run without a time limit ends only when the system does")
    }

    /// Runs as [`Scheduler::run`] does (blocking in the poll when nothing is
    /// runnable) for `d` of the scheduler's time, then returns `None`; or
    /// returns how the system ended, if it ended sooner.
    pub fn run_for(&mut self, d: Duration) -> Option<Ended> {
        let until = self.inner.now() + d;
        self.inner
            .ending_unwound_steps(|inner| inner.run_until(Some(until)))
    }

    /// Runs one component step, if one is runnable now (starting a new round
    /// when the current one is over). Does not wait for events.
    pub fn step(&mut self) -> Option<(Id, StepResult)> {
        self.inner.ending_unwound_steps(Inner::step_one)
    }

    /// Runs steps until nothing is runnable, looking for already-arrived
    /// thread and socket events between rounds, but never waiting and never
    /// moving virtual time. Returns the number of steps run.
    pub fn run_until_idle(&mut self) -> usize {
        self.inner.ending_unwound_steps(|inner| {
            let mut n = 0;
            loop {
                while inner.step_one().is_some() {
                    n += 1;
                    if inner.stop {
                        return n;
                    }
                }
                if !inner.poll_events(Some(Duration::ZERO)) {
                    return n;
                }
            }
        })
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

    /// Wakes through a [`Remote`] that had to signal the poll (an
    /// `eventfd` write) because the scheduler was blocked in it, or about
    /// to be. A wake that finds the scheduler running costs no system
    /// call and is not counted.
    pub fn remote_signals(&self) -> u64 {
        self.inner.remote.inner.signals.load(Ordering::Relaxed)
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
    pub(crate) fn detached_proc(&self) -> ProcRc {
        Proc::detached(self.core.clone())
    }

    pub(crate) fn is_alive(&self, id: Id) -> bool {
        self.proc_of(id).is_some()
    }

    fn proc_of(&self, id: Id) -> Option<&ProcRc> {
        self.slots
            .get(id.index as usize)
            .filter(|p| p.id == id && p.state.get() != DEAD)
    }

    pub(crate) fn wake(&self, id: Id) {
        if let Some(p) = self.proc_of(id) {
            p.wake();
        }
    }

    pub(crate) fn request_stop(&mut self) {
        self.stop = true;
    }
}
