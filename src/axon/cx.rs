//! `Cx`: what a component can ask of the scheduler during its step.

use std::io;
use std::time::{Duration, Instant};

use mio::{Interest, Token};

use super::boxes::{BoxRef, LinkError, LinkKind};
use super::component::Component;
use super::introspect::Snapshot;
use super::proc::{Id, Proc, F_HOLD};
use super::scheduler::{Exit, Inner, Readiness, Remote, Service, ServiceError, TimerKey};

/// The context passed to [`Component::step`]: time, timers, sockets,
/// children, services, links by name, introspection.
pub struct Cx<'a> {
    pub(crate) inner: &'a mut Inner,
    pub(crate) me: Id,
    pub(crate) proc: &'a Proc,
}

impl Cx<'_> {
    /// This component's id.
    pub fn id(&self) -> Id {
        self.me
    }

    /// The scheduler's time (real or virtual).
    pub fn now(&self) -> Instant {
        self.inner.now()
    }

    /// Wakes this component at `at` (or at once if it has passed).
    pub fn wake_at(&mut self, at: Instant) -> TimerKey {
        self.inner.add_timer(at, self.me)
    }

    /// Wakes this component after `d`.
    pub fn wake_after(&mut self, d: Duration) -> TimerKey {
        let at = self.inner.now() + d;
        self.inner.add_timer(at, self.me)
    }

    /// Cancels a timer that has not fired yet.
    pub fn cancel_timer(&mut self, key: TimerKey) {
        self.inner.cancel_timer(key)
    }

    /// Says "I am leaving input waiting on purpose this step" (for example,
    /// waiting for room downstream, for a timer, or for a thread). Without
    /// it, a component that pauses with input waiting is run again at once.
    /// A send refused by a full inbox implies it.
    pub fn hold_input(&mut self) {
        self.proc.set(F_HOLD);
    }

    /// Runs the step of the component this outbox leads to, now, inside
    /// this step, if it is queued to run (it has input waiting): a
    /// hand-off. Returns whether it ran. A producer whose send was refused
    /// by a full inbox uses it to let the consumer make room at once, and
    /// so goes on producing within its own step, instead of stopping until
    /// the consumer's turn in the round. A TCP connection uses it to drain
    /// its socket in one visit, which keeps the kernel's data in the cache.
    ///
    /// The consumer keeps its own turn in the round too (it may then find
    /// nothing to do, as after any early wake). There is no hand-off
    /// inside a hand-off (`false`), nor to a component that sleeps, is
    /// running, has ended, or belongs to no component of this scheduler.
    ///
    /// ```
    /// use kamaelia::axon::*;
    /// struct Producer { outbox: Outbox<u32>, left: u32 }
    /// impl Component for Producer {
    ///     fn step(&mut self, cx: &mut Cx) -> Step {
    ///         while self.left > 0 {
    ///             match self.outbox.send(self.left) {
    ///                 Ok(()) => self.left -= 1,
    ///                 // Full: let the consumer run now, then try again.
    ///                 Err(Full(_)) if cx.run_receiver(&self.outbox) => {}
    ///                 Err(Full(_)) => return Step::Pause,
    ///             }
    ///         }
    ///         Step::Done
    ///     }
    ///     fn boxes(&self, set: &mut BoxSet) { set.add(&self.outbox); }
    /// }
    /// struct Sum { inbox: Inbox<u32>, total: u32 }
    /// impl Component for Sum {
    ///     fn step(&mut self, _cx: &mut Cx) -> Step {
    ///         while let Some(n) = self.inbox.recv() { self.total += n; }
    ///         Step::Pause
    ///     }
    ///     fn boxes(&self, set: &mut BoxSet) { set.add(&self.inbox); }
    /// }
    /// let p = Producer { outbox: Outbox::outbox(), left: 100 };
    /// let c = Sum { inbox: Inbox::inbox(), total: 0 };
    /// c.inbox.set_limit(Some(4));
    /// link(&p.outbox, &c.inbox).unwrap();
    /// let mut s = Scheduler::new();
    /// s.spawn(c);
    /// s.spawn(p);
    /// s.run_until_idle();
    /// // The producer sent all 100 in its first step, handing off 24 times.
    /// assert_eq!(s.stats().hand_offs, 24);
    /// ```
    pub fn run_receiver<T: 'static>(&mut self, outbox: &super::boxes::Outbox<T>) -> bool {
        match outbox.receiver() {
            Some(p) => self.inner.hand_off(&p),
            None => false,
        }
    }

    /// Starts an independent component; it runs from the next round.
    pub fn spawn<C: Component>(&mut self, c: C) -> Id {
        self.inner.spawn(Box::new(c), None)
    }

    /// Starts a boxed component.
    pub fn spawn_boxed(&mut self, c: Box<dyn Component>) -> Id {
        self.inner.spawn(c, None)
    }

    /// Starts a child: when it ends, this component is woken and learns it
    /// through [`Cx::next_exit`].
    pub fn spawn_child<C: Component>(&mut self, c: C) -> Id {
        self.inner.spawn(Box::new(c), Some(self.me))
    }

    /// Starts a boxed child.
    pub fn spawn_child_boxed(&mut self, c: Box<dyn Component>) -> Id {
        self.inner.spawn(c, Some(self.me))
    }

    /// The next child that has ended, if any.
    pub fn next_exit(&mut self) -> Option<Exit> {
        self.inner.next_exit(self.me)
    }

    /// This component's children still alive, in the order started.
    pub fn children(&self) -> Vec<Id> {
        self.inner.children_of(self.me)
    }

    /// Whether a component is alive.
    pub fn is_alive(&self, id: Id) -> bool {
        self.inner.is_alive(id)
    }

    /// Wakes another component (or this one, to run again).
    pub fn wake(&mut self, id: Id) {
        self.inner.wake(id)
    }

    /// Stops the whole system after this step: every component is dropped
    /// and `run` returns [`Ended::Stopped`](super::Ended::Stopped).
    pub fn stop_system(&mut self) {
        self.inner.request_stop()
    }

    /// Registers a mio source; readiness wakes this component.
    pub fn register(
        &mut self,
        source: &mut dyn mio::event::Source,
        interest: Interest,
    ) -> io::Result<Token> {
        self.inner.register_io(source, interest, self.me)
    }

    /// Changes the interest of a registered source.
    pub fn reregister(
        &mut self,
        source: &mut dyn mio::event::Source,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.inner.reregister_io(source, token, interest)
    }

    /// Deregisters a source (also done for you when the component ends).
    pub fn deregister(
        &mut self,
        source: &mut dyn mio::event::Source,
        token: Token,
    ) -> io::Result<()> {
        self.inner.deregister_io(source, token)
    }

    /// The readiness seen on `token` since the last call, then cleared.
    pub fn readiness(&mut self, token: Token) -> Readiness {
        self.inner.take_readiness(token)
    }

    /// A handle other threads use to wake components of this scheduler.
    pub fn remote(&self) -> Remote {
        self.inner.remote_handle()
    }

    /// Finds a box of another component by name (a component's own boxes
    /// are reached through its typed handles).
    pub fn find_box(&self, id: Id, name: &str) -> Result<BoxRef, LinkError> {
        self.inner.find_box(id, name)
    }

    /// Links two boxes of other components by name; types are checked.
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

    /// Looks the service up, or, if it does not exist, starts the component
    /// `make` builds and registers its inbox `inbox` under `name`.
    pub fn service_or_create<C: Component>(
        &mut self,
        name: &str,
        inbox: &str,
        make: impl FnOnce() -> C,
    ) -> Result<Service, ServiceError> {
        if let Ok(s) = self.inner.lookup_service(name) {
            return Ok(s);
        }
        let id = self.inner.spawn(Box::new(make()), None);
        let b = self
            .inner
            .find_box(id, inbox)
            .map_err(|_| ServiceError::BadInbox(inbox.to_string()))?;
        self.inner.register_service(name, b)?;
        self.inner.lookup_service(name)
    }

    /// A picture of the running system. This component is listed without
    /// its boxes (it is the one running).
    pub fn snapshot(&self) -> Snapshot {
        self.inner.snapshot()
    }
}
