//! Ttl: a time to live for a component (Kamaelia's `Apps/SA/Chassis.py`
//! `TTL`).
//!
//! A [`Ttl`] wraps one child component. It mirrors the child's public
//! boxes (every box but `control`, `signal` and private ones whose names
//! start with `_`) by pass-through, so it can stand wherever the child
//! could: in a pipeline, a graphline, or linked by hand. It starts the
//! child and a timer. Then:
//!
//! * the child ends before the timer fires: the timer is cancelled and the
//!   Ttl ends, passing on the last signal the child sent (or
//!   `ProducerFinished` if it sent none);
//! * the timer fires: the Ttl sends `Shutdown` to the child's `control` and
//!   waits up to a grace period (default one second, [`Ttl::grace`]) for
//!   the child to end. Either way it then sends `Shutdown` on `signal` and
//!   ends.
//!
//! A Ttl cannot kill a component (nothing can: a component ends only by
//! returning `Done`). A child that ignores its `control` (or has none) is
//! left to the system when the grace period is over: it keeps running,
//! no longer a child of anyone, and this is logged as a warning. Its links
//! through the Ttl's boxes are cut when the Ttl ends, so what it sends
//! afterwards stays in its own outboxes. The original escalated through
//! four kinds of shutdown message and finally called `stop()` on the
//! child; here there is one `Shutdown` and an honest report
//! ([`TtlReport`]).
//!
//! | box        | carries        | meaning                                          |
//! |------------|----------------|--------------------------------------------------|
//! | control    | `Signal`       | passed to the child's `control`; a `Shutdown` also starts the grace period at once |
//! | signal     | `Signal`       | once, when the Ttl ends: the child's last signal if it ended in time by itself, otherwise `Shutdown` |
//! | (mirrored) | as the child's | the child's other public boxes, passed through   |
//!
//! ```
//! use std::time::Duration;
//! use kamaelia::testing::Harness;
//! use kamaelia::axon::Signal;
//! use kamaelia::util::{PeriodicTick, Ttl, TtlEnd};
//! let mut h = Harness::new();
//! let ttl = Ttl::new(PeriodicTick::new(Duration::from_millis(300), "tick"), Duration::from_secs(1))
//!     .unwrap();
//! let report = ttl.report();
//! let id = h.spawn(ttl);
//! let ticks = h.collector::<&str>(id, "outbox").unwrap();
//! let sig = h.collector::<Signal>(id, "signal").unwrap();
//! h.run_for(Duration::from_secs(2));
//! assert_eq!(ticks.drain(), ["tick"; 3]); // at 300, 600 and 900 ms
//! assert_eq!(sig.drain(), [Signal::Shutdown]);
//! assert_eq!(report.get(), Some(TtlEnd::Stopped));
//! assert!(!h.is_alive(id));
//! ```

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::axon::{
    link_refs, Alarm, BoxRef, BoxSet, Component, Cx, Dir, Inbox, Outbox, Signal, Step,
};
use crate::chassis::BuildError;

/// How a [`Ttl`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtlEnd {
    /// The child ended by itself before its time was up.
    Finished,
    /// The time was up (or a shutdown came); the child ended when told to.
    Stopped,
    /// The child did not end within the grace period; it was left running.
    Abandoned,
}

/// A handle to read how a [`Ttl`] ended, from outside the scheduler.
#[derive(Clone, Debug, Default)]
pub struct TtlReport(Rc<Cell<Option<TtlEnd>>>);

impl TtlReport {
    /// How the Ttl ended; `None` while it runs.
    pub fn get(&self) -> Option<TtlEnd> {
        self.0.get()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Not started yet.
    New,
    /// The child runs; the deadline is ahead.
    Running(Instant),
    /// `Shutdown` went to the child; waiting until the grace period ends.
    Stopping(Instant),
}

/// A time to live for one child; see the module documentation.
pub struct Ttl {
    /// Passed to the child.
    pub control: Inbox<Signal>,
    /// Once, when the Ttl ends.
    pub signal: Outbox<Signal>,
    to_child: Outbox<Signal>,
    from_child: Inbox<Signal>,
    own: Vec<BoxRef>,
    child: Option<Box<dyn Component>>,
    child_name: String,
    name: String,
    ttl: Duration,
    grace: Duration,
    state: State,
    alarm: Alarm,
    child_said: Option<Signal>,
    report: TtlReport,
}

impl Ttl {
    /// Gives `child` `ttl` to live. Fails if one of the child's boxes is
    /// already linked in a way that stops the Ttl from mirroring it.
    pub fn new<C: Component>(child: C, ttl: Duration) -> Result<Self, BuildError> {
        Self::boxed(Box::new(child), ttl)
    }

    /// Like [`Ttl::new`], for a boxed child.
    pub fn boxed(child: Box<dyn Component>, ttl: Duration) -> Result<Self, BuildError> {
        let mut set = BoxSet::default();
        child.boxes(&mut set);
        let child_name = child.name().to_string();
        let to_child = Outbox::new("_child_control", "shutdown for the child");
        let signal_in = Inbox::new("_child_signal", "the child's signals");
        let mut own = Vec::new();
        // The TTL's box is the source of a link into the child's inbox,
        // the destination of a link from the child's outbox.
        let into_child = |mine: &BoxRef, b: &BoxRef| {
            link_refs(mine, b)
                .map(drop)
                .map_err(|e| e.with_names(Some("TTL"), Some(&child_name)))
        };
        let from_child = |b: &BoxRef, mine: &BoxRef| {
            link_refs(b, mine)
                .map(drop)
                .map_err(|e| e.with_names(Some(&child_name), Some("TTL")))
        };
        for b in set.iter() {
            match b.name() {
                "control" => into_child(&to_child.erased(), b)?,
                "signal" => from_child(b, &signal_in.erased())?,
                n if n.starts_with('_') => {}
                n => {
                    let mine =
                        b.new_like(b.direction(), n.to_string(), b.description().to_string());
                    match b.direction() {
                        Dir::In => into_child(&mine, b)?,
                        Dir::Out => from_child(b, &mine)?,
                    }
                    own.push(mine);
                }
            }
        }
        Ok(Ttl {
            control: Inbox::control(),
            signal: Outbox::signal(),
            to_child,
            from_child: signal_in,
            own,
            name: format!("TTL({child_name})"),
            child: Some(child),
            child_name,
            ttl,
            grace: Duration::from_secs(1),
            state: State::New,
            alarm: Alarm::default(),
            child_said: None,
            report: TtlReport::default(),
        })
    }

    /// How long to wait for the child after telling it to shut down
    /// (default one second).
    pub fn grace(mut self, d: Duration) -> Self {
        self.grace = d;
        self
    }

    /// A handle to read how the Ttl ended.
    pub fn report(&self) -> TtlReport {
        self.report.clone()
    }

    /// The Ttl's own box `name` (a mirrored one, `control` or `signal`).
    pub fn find(&self, name: &str) -> Option<BoxRef> {
        match name {
            "control" => Some(self.control.erased()),
            "signal" => Some(self.signal.erased()),
            _ => self.own.iter().find(|b| b.name() == name).cloned(),
        }
    }

    fn arm(&mut self, cx: &mut Cx, at: Instant) {
        self.alarm.set(cx, at);
    }

    fn stop_child(&mut self, cx: &mut Cx, already_told: bool) {
        if !already_told && self.to_child.is_linked() {
            let _ = self.to_child.send(Signal::Shutdown);
        }
        let until = cx.now() + self.grace;
        self.state = State::Stopping(until);
        self.arm(cx, until);
    }

    fn end(&mut self, cx: &mut Cx, how: TtlEnd, sig: Signal) -> Step {
        self.alarm.clear(cx);
        self.report.0.set(Some(how));
        let _ = self.signal.send(sig);
        Step::Done
    }
}

impl Component for Ttl {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if let Some(child) = self.child.take() {
            cx.spawn_child_boxed(child);
            let deadline = cx.now() + self.ttl;
            self.state = State::Running(deadline);
            self.arm(cx, deadline);
        }
        while let Some(sig) = self.from_child.recv() {
            self.child_said = Some(sig);
        }
        while let Some(sig) = self.control.recv() {
            let shutdown = sig.is_shutdown();
            if self.to_child.is_linked() {
                let _ = self.to_child.send(sig);
            }
            if shutdown && matches!(self.state, State::Running(_)) {
                self.stop_child(cx, true);
            }
        }
        let mut child_ended = false;
        while cx.next_exit().is_some() {
            child_ended = true;
        }
        if child_ended {
            return match self.state {
                State::Stopping(_) => self.end(cx, TtlEnd::Stopped, Signal::Shutdown),
                _ => {
                    let sig = self.child_said.take().unwrap_or(Signal::ProducerFinished);
                    self.end(cx, TtlEnd::Finished, sig)
                }
            };
        }
        let now = cx.now();
        match self.state {
            State::Running(deadline) if now >= deadline => self.stop_child(cx, false),
            State::Stopping(until) if now >= until => {
                log::warn!(
                    "{}: the child did not end within {:?} of being told to shut down; \
                     it is left running, no longer supervised",
                    self.name,
                    self.grace
                );
                return self.end(cx, TtlEnd::Abandoned, Signal::Shutdown);
            }
            _ => {}
        }
        // Our own boxes only pass through; anything stranded in them is
        // counted when we end, not spun on.
        cx.hold_input();
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.control)
            .add(&self.signal)
            .add(&self.to_child)
            .add(&self.from_child);
        for b in &self.own {
            set.add_ref(b);
        }
    }

    fn name(&self) -> &str {
        &self.name
    }
}

impl std::fmt::Debug for Ttl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ttl")
            .field("child", &self.child_name)
            .field("ttl", &self.ttl)
            .field("grace", &self.grace)
            .field("boxes", &self.own)
            .finish()
    }
}
