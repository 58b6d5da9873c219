//! The step-by-step harness: drive one component or a small graph from a
//! test, with virtual time and a trace.
//!
//! Put messages into a component's inboxes with a [`Feeder`], read its
//! outboxes with a [`Collector`], run one step at a time and see what each
//! returned, run until idle, move virtual time, and compare traces.
//!
//! Virtual time makes a test of components deterministic, but not one
//! that races a thread (a threaded component, a socket) against a timer:
//! virtual time does not wait for threads. Wait for the thread's answer
//! with [`Harness::wait_for_wake`], which never moves virtual time, before
//! [`Harness::advance`] (see [`Scheduler::with_virtual_time`]).
//!
//! ```
//! use kamaelia::axon::{BoxSet, Component, Cx, DefaultBoxes, Signal, Step, StepResult};
//! use kamaelia::testing::Harness;
//!
//! struct Double(DefaultBoxes<u32, u32>);
//! impl Component for Double {
//!     fn step(&mut self, _cx: &mut Cx) -> Step {
//!         while let Some(x) = self.0.inbox.recv() {
//!             let _ = self.0.outbox.send(x * 2);
//!         }
//!         if let Some(s) = self.0.control.recv() {
//!             let _ = self.0.signal.send(s);
//!             return Step::Done;
//!         }
//!         Step::Pause
//!     }
//!     fn boxes(&self, set: &mut BoxSet) { self.0.list(set) }
//! }
//!
//! let mut h = Harness::new();
//! let id = h.spawn(Double(DefaultBoxes::new()));
//! let input = h.feeder::<u32>(id, "inbox").unwrap();
//! let output = h.collector::<u32>(id, "outbox").unwrap();
//! input.send(21).unwrap();
//! assert_eq!(h.step(), Some((id, StepResult::Sleep)));
//! assert_eq!(output.drain(), vec![42]);
//! ```

pub mod scripted;

use std::time::{Duration, Instant};

use crate::axon::{
    link_refs, BoxRef, Component, Full, Id, Inbox, LinkError, Outbox, Scheduler, StepResult,
    TraceEntry,
};

/// A scheduler on virtual time with tracing on, plus helpers to feed and
/// read boxes from a test.
pub struct Harness {
    sched: Scheduler,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    /// A harness on virtual time, recording a trace.
    pub fn new() -> Self {
        let mut sched = Scheduler::with_virtual_time();
        sched.enable_trace();
        Harness { sched }
    }

    /// The scheduler underneath.
    pub fn scheduler(&mut self) -> &mut Scheduler {
        &mut self.sched
    }

    /// Starts a component.
    pub fn spawn<C: Component>(&mut self, c: C) -> Id {
        self.sched.spawn(c)
    }

    /// An outbox owned by the test, linked to `id`'s inbox `name`.
    pub fn feeder<T: 'static>(&mut self, id: Id, name: &str) -> Result<Feeder<T>, LinkError> {
        let target = self.sched.find_box(id, name)?;
        let out = Outbox::new("test-feeder", "messages put in by the test");
        self.detach(&out.erased());
        link_refs(&out.erased(), &target)?;
        Ok(Feeder { out })
    }

    /// An inbox owned by the test, linked from `id`'s outbox `name`.
    pub fn collector<T: 'static>(&mut self, id: Id, name: &str) -> Result<Collector<T>, LinkError> {
        let source = self.sched.find_box(id, name)?;
        let inbox = Inbox::new("test-collector", "messages read by the test");
        self.detach(&inbox.erased());
        link_refs(&source, &inbox.erased())?;
        Ok(Collector { inbox })
    }

    /// Like [`Harness::collector`], with a limit on what it stores: a
    /// producer is refused once it holds `limit` messages.
    pub fn bounded_collector<T: 'static>(
        &mut self,
        id: Id,
        name: &str,
        limit: usize,
    ) -> Result<Collector<T>, LinkError> {
        let c = self.collector(id, name)?;
        c.inbox.set_limit(Some(limit));
        Ok(c)
    }

    fn detach(&mut self, b: &BoxRef) {
        let p = self.sched.inner().detached_proc();
        let _ = b.0.attach(&p);
    }

    /// Runs one component step; `None` if nothing is runnable.
    pub fn step(&mut self) -> Option<(Id, StepResult)> {
        self.sched.step()
    }

    /// Runs steps until nothing is runnable; returns how many ran.
    pub fn run_until_idle(&mut self) -> usize {
        self.sched.run_until_idle()
    }

    /// Moves virtual time forward by `d`, firing due timers (the woken
    /// components run on the next `step` or `run_until_idle`).
    pub fn advance(&mut self, d: Duration) {
        self.sched.advance(d)
    }

    /// Runs for `d` of virtual time: runs until idle, jumps to the next
    /// timer deadline inside the window, and so on; ends at exactly `now + d`.
    pub fn run_for(&mut self, d: Duration) -> usize {
        let end = self.sched.now() + d;
        let mut n = self.run_until_idle();
        while let Some(t) = self.sched.next_deadline().filter(|t| *t <= end) {
            let now = self.sched.now();
            self.sched.advance(t.saturating_duration_since(now));
            n += self.run_until_idle();
        }
        let now = self.sched.now();
        self.sched.advance(end.saturating_duration_since(now));
        n + self.run_until_idle()
    }

    /// Waits (real time, at most `limit`) until a thread or socket wakes a
    /// component; see [`Scheduler::wait_for_wake`]. Virtual time stays put.
    pub fn wait_for_wake(&mut self, limit: Duration) -> bool {
        self.sched.wait_for_wake(limit)
    }

    /// The virtual time now.
    pub fn now(&self) -> Instant {
        self.sched.now()
    }

    /// The trace so far.
    pub fn trace(&self) -> &[TraceEntry] {
        self.sched.trace()
    }

    /// Whether a component is alive.
    pub fn is_alive(&self, id: Id) -> bool {
        self.sched.is_alive(id)
    }

    /// Whether a component sleeps.
    pub fn is_sleeping(&self, id: Id) -> bool {
        self.sched.is_sleeping(id)
    }
}

/// Puts messages into a component's inbox.
pub struct Feeder<T: 'static> {
    out: Outbox<T>,
}

impl<T: 'static> Feeder<T> {
    /// Sends one message; a full inbox hands it back.
    pub fn send(&self, msg: T) -> Result<(), Full<T>> {
        self.out.send(msg)
    }
    /// The outbox itself, for linking elsewhere.
    pub fn outbox(&self) -> &Outbox<T> {
        &self.out
    }
}

/// Reads what a component sends on one outbox.
pub struct Collector<T: 'static> {
    inbox: Inbox<T>,
}

impl<T: 'static> Collector<T> {
    /// Takes the oldest message.
    pub fn recv(&self) -> Option<T> {
        self.inbox.recv()
    }
    /// Takes everything waiting, in order.
    pub fn drain(&self) -> Vec<T> {
        std::iter::from_fn(|| self.inbox.recv()).collect()
    }
    /// How many messages wait.
    pub fn len(&self) -> usize {
        self.inbox.len()
    }
    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.inbox.is_empty()
    }
    /// The inbox itself.
    pub fn inbox(&self) -> &Inbox<T> {
        &self.inbox
    }
}
