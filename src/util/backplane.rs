//! Backplane, PublishTo and SubscribeTo: a named many-to-many bus.
//!
//! A [`Backplane`] registers two services under its name: one for
//! publishers to send into, one for subscribers to join. Each message
//! published is copied to every subscriber (so `T: Clone`); a subscriber
//! only sees what is published after it joined. A slow subscriber with a
//! bounded inbox slows the backplane down (nothing is dropped); a
//! subscriber that ends is forgotten.
//!
//! | Backplane box | carries  | meaning                                              |
//! |---------------|----------|------------------------------------------------------|
//! | inbox         | `T`      | published messages (publishers link here)            |
//! | config        | `Join<T>`| subscribers joining and leaving                      |
//! | control       | `Signal` | producer finished: copy out what was published, pass it to every subscriber, end; shutdown: the same without copying |
//! | signal        | `Signal` | the signal that ended it                             |
//!
//! [`PublishTo`]: its `inbox` is linked straight into the backplane (no copy,
//! no step per message); with `forwarder(true)` it also copies each message
//! to its own `outbox`. [`SubscribeTo`]: what is published comes out of its
//! `outbox`; anything arriving on its own `inbox` is passed to `outbox` too,
//! so it can sit mid-pipeline. Both end on producer finished or shutdown on
//! `control` (forwarded on `signal`), leaving the backplane running; a
//! subscriber also ends when the backplane does. Neither finds a backplane
//! that does not exist: after a few rounds of looking they end with
//! `Signal::Failed`.
//!
//! ```
//! use kamaelia::axon::{link, Inbox, Outbox, Scheduler, Signal};
//! use kamaelia::util::{Backplane, PublishTo, SubscribeTo};
//! let mut s = Scheduler::new();
//! let bp = s.spawn(Backplane::<String>::new("chat"));
//! let a = SubscribeTo::<String>::new("chat");
//! let got = Inbox::inbox();
//! link(&a.outbox, &got).unwrap();
//! s.spawn(a);
//! s.run_until_idle(); // the subscriber joins
//! let p = PublishTo::<String>::new("chat");
//! let say = Outbox::new("say", "lines");
//! link(&say, &p.inbox).unwrap();
//! s.spawn(p);
//! say.send("hello".to_string()).unwrap();
//! s.run_until_idle();
//! assert_eq!(got.recv().as_deref(), Some("hello"));
//! ```

use super::relay::{copy_to_all, flush_all, Copy, BATCH};
use crate::axon::{
    link_refs, AdaptiveBoxes, BoxRef, BoxSet, Component, Cx, Full, Id, Inbox, Outbox, Service,
    Signal, Step,
};

/// How many steps publishers and subscribers look for a backplane before
/// giving up (the backplane may be started in the same round).
const LOOKUPS: u32 = 4;

/// Looks a backplane's service up for a publisher or subscriber: `Ok(Some)`
/// when found, `Ok(None)` to look again next round (the backplane may be
/// starting in this one), `Err` with the failure signal once it has looked
/// `LOOKUPS` times.
fn look_up(cx: &mut Cx, service: &str, lookups: &mut u32) -> Result<Option<Service>, Signal> {
    match cx.lookup_service(service) {
        Ok(svc) => Ok(Some(svc)),
        Err(e) => {
            *lookups += 1;
            if *lookups >= LOOKUPS {
                return Err(Signal::failed(e));
            }
            cx.hold_input();
            Ok(None)
        }
    }
}

fn data_service(name: &str) -> String {
    format!("Backplane_I_{name}")
}

fn join_service(name: &str) -> String {
    format!("Backplane_O_{name}")
}

/// A subscriber joining or leaving a [`Backplane`].
pub enum Join<T: 'static> {
    /// Send published messages to `data` and control signals to `control`.
    Add {
        /// The subscriber.
        id: Id,
        /// Where its copies go (a box carrying `T`).
        data: BoxRef,
        /// Where the backplane's end is signalled.
        control: BoxRef,
    },
    /// Forget the subscriber.
    Remove(Id),
    #[doc(hidden)]
    _Type(std::marker::PhantomData<T>),
}

struct Sink<T: 'static> {
    id: Id,
    data: Copy<T>,
    control: Outbox<Signal>,
}

/// The bus; see the module documentation.
pub struct Backplane<T: Clone + 'static> {
    /// Published messages.
    pub inbox: Inbox<T>,
    /// Subscribers joining and leaving.
    pub config: Inbox<Join<T>>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    name: String,
    extra: AdaptiveBoxes,
    sinks: Vec<Sink<T>>,
    registered: bool,
    /// A finish signal waiting for what was published before it.
    ending: Option<Signal>,
    /// Link epoch at the last look for ended subscribers (a subscriber's
    /// end changes it, so nothing is missed by looking only then).
    seen_epoch: u32,
    /// Some subscriber holds a refused copy (so input waits).
    blocked: bool,
}

impl<T: Clone + 'static> Backplane<T> {
    /// A backplane named `name`.
    pub fn new(name: &str) -> Self {
        Backplane {
            inbox: Inbox::new("inbox", "published messages"),
            config: Inbox::new("config", "subscribers joining and leaving"),
            control: Inbox::control(),
            signal: Outbox::signal(),
            name: name.to_string(),
            extra: AdaptiveBoxes::new(),
            sinks: Vec::new(),
            registered: false,
            ending: None,
            seen_epoch: 0,
            blocked: false,
        }
    }

    /// Subscribers currently joined.
    pub fn subscribers(&self) -> usize {
        self.sinks.len()
    }

    fn register(&mut self, cx: &mut Cx) -> Result<(), Signal> {
        let d = data_service(&self.name);
        let j = join_service(&self.name);
        cx.register_service(&d, self.inbox.erased())
            .map_err(Signal::failed)?;
        if let Err(e) = cx.register_service(&j, self.config.erased()) {
            let _ = cx.deregister_service(&d);
            return Err(Signal::failed(e));
        }
        Ok(())
    }

    fn end(&mut self, cx: &mut Cx, sig: Signal) -> Step {
        for s in &self.sinks {
            let _ = s.control.send(sig.clone());
        }
        if self.registered {
            let _ = cx.deregister_service(&data_service(&self.name));
            let _ = cx.deregister_service(&join_service(&self.name));
        }
        let _ = self.signal.send(sig);
        Step::Done
    }

    fn join(&mut self, id: Id, data: BoxRef, control: BoxRef) {
        let d = self
            .extra
            .add_outbox::<T>("_data", "copies for one subscriber");
        let c = self
            .extra
            .add_outbox::<Signal>("_control", "end of the backplane for one subscriber");
        let linked = link_refs(&d.erased(), &data).and_then(|_| link_refs(&c.erased(), &control));
        match linked {
            Ok(_) => self.sinks.push(Sink {
                id,
                data: Copy::new(d),
                control: c,
            }),
            Err(e) => {
                log::error!("backplane {}: subscriber {id} cannot join: {e}", self.name);
                let _ = self.extra.remove(d.name());
                let _ = self.extra.remove(c.name());
            }
        }
    }

    fn leave(&mut self, i: usize) {
        let s = self.sinks.swap_remove(i);
        let _ = self.extra.remove(s.data.out.name());
        let _ = self.extra.remove(s.control.name());
    }
}

impl<T: Clone + 'static> Component for Backplane<T> {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if !self.registered {
            if let Err(sig) = self.register(cx) {
                log::error!("backplane {}: {sig:?}", self.name);
                let _ = self.signal.send(sig);
                return Step::Done;
            }
            self.registered = true;
        }
        while let Some(j) = self.config.recv() {
            match j {
                Join::Add { id, data, control } => self.join(id, data, control),
                Join::Remove(id) => {
                    if let Some(i) = self.sinks.iter().position(|s| s.id == id) {
                        self.leave(i);
                    }
                }
                Join::_Type(_) => {}
            }
        }
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                return self.end(cx, sig);
            }
            // Finish what was published first.
            self.ending.get_or_insert(sig);
        }
        // Subscribers that ended are forgotten (looked for only when some
        // link changed, not on every step).
        if crate::axon::epoch() != self.seen_epoch {
            let mut i = 0;
            while i < self.sinks.len() {
                if self.sinks[i].data.out.is_linked() {
                    i += 1;
                } else {
                    self.leave(i);
                }
            }
            self.seen_epoch = crate::axon::epoch();
        }
        // Copy out: first what slow subscribers were refused, then new
        // input, stopping (back-pressure) while any subscriber is full.
        if self.blocked {
            self.blocked = !flush_all(self.sinks.iter_mut().map(|s| &mut s.data));
        }
        for _ in 0..BATCH {
            if self.blocked {
                break;
            }
            let Some(m) = self.inbox.recv() else { break };
            self.blocked = !copy_to_all(self.sinks.iter_mut().map(|s| &mut s.data), m);
        }
        if self.blocked {
            cx.hold_input();
        } else if !self.inbox.is_empty() {
            return Step::Yield;
        } else if let Some(sig) = self.ending.take() {
            // Everything published has been copied out.
            return self.end(cx, sig);
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox)
            .add(&self.config)
            .add(&self.control)
            .add(&self.signal)
            .adaptive(&self.extra);
    }
}

/// Publishes to a backplane; see the module documentation.
///
/// | box     | carries  | meaning                                            |
/// |---------|----------|----------------------------------------------------|
/// | inbox   | `T`      | published (linked straight into the backplane)     |
/// | control | `Signal` | forwarded on `signal`; finished / shutdown end it  |
/// | outbox  | `T`      | a copy of each message, in forwarder mode          |
/// | signal  | `Signal` | the control signals it got                         |
pub struct PublishTo<T: Clone + 'static> {
    /// Messages to publish.
    pub inbox: Inbox<T>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Copies, in forwarder mode.
    pub outbox: Outbox<T>,
    /// Forwarded control signals.
    pub signal: Outbox<Signal>,
    to_bus: Outbox<T>,
    name: String,
    forwarder: bool,
    joined: bool,
    lookups: u32,
    held: Option<T>,
}

impl<T: Clone + 'static> PublishTo<T> {
    /// Publishes to the backplane `name`.
    pub fn new(name: &str) -> Self {
        PublishTo {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::outbox(),
            signal: Outbox::signal(),
            to_bus: Outbox::new("_bus", "copies to the backplane, in forwarder mode"),
            name: name.to_string(),
            forwarder: false,
            joined: false,
            lookups: 0,
            held: None,
        }
    }

    /// Also copies each message to `outbox`.
    pub fn forwarder(mut self, on: bool) -> Self {
        self.forwarder = on;
        self
    }
}

impl<T: Clone + 'static> Component for PublishTo<T> {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if !self.joined {
            match look_up(cx, &data_service(&self.name), &mut self.lookups) {
                Ok(Some(svc)) => {
                    let from = if self.forwarder {
                        self.to_bus.erased()
                    } else {
                        self.inbox.erased()
                    };
                    if let Err(e) = link_refs(&from, &svc.inbox) {
                        let _ = self.signal.send(Signal::failed(e));
                        return Step::Done;
                    }
                    self.joined = true;
                }
                Ok(None) => return Step::Yield,
                Err(sig) => {
                    let _ = self.signal.send(sig);
                    return Step::Done;
                }
            }
        }
        if self.forwarder {
            while let Some(m) = self.held.take().or_else(|| self.inbox.recv()) {
                if let Err(Full(m)) = self.to_bus.send(m.clone()) {
                    self.held = Some(m);
                    break;
                }
                let _ = self.outbox.send(m);
            }
        }
        if let Some(sig) = self.control.recv() {
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox)
            .add(&self.control)
            .add(&self.outbox)
            .add(&self.signal)
            .add(&self.to_bus);
    }
}

/// Subscribes to a backplane; see the module documentation.
///
/// | box     | carries  | meaning                                               |
/// |---------|----------|-------------------------------------------------------|
/// | inbox   | `T`      | passed to `outbox` (to sit mid-pipeline)              |
/// | control | `Signal` | finished / shutdown: leave the backplane, forward, end |
/// | outbox  | `T`      | everything published after joining, and `inbox`       |
/// | signal  | `Signal` | the signal that ended it                              |
pub struct SubscribeTo<T: Clone + 'static> {
    /// Passed to `outbox`.
    pub inbox: Inbox<T>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// What is published.
    pub outbox: Outbox<T>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    from_bus: Inbox<Signal>,
    to_config: Outbox<Join<T>>,
    name: String,
    joined: bool,
    lookups: u32,
    held: Option<T>,
}

impl<T: Clone + 'static> SubscribeTo<T> {
    /// Subscribes to the backplane `name`.
    pub fn new(name: &str) -> Self {
        SubscribeTo {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::outbox(),
            signal: Outbox::signal(),
            from_bus: Inbox::new("_bpcontrol", "the backplane's end"),
            to_config: Outbox::new("_config", "joining and leaving"),
            name: name.to_string(),
            joined: false,
            lookups: 0,
            held: None,
        }
    }
}

impl<T: Clone + 'static> Component for SubscribeTo<T> {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if !self.joined {
            match look_up(cx, &join_service(&self.name), &mut self.lookups) {
                Ok(Some(svc)) => {
                    if let Err(e) = link_refs(&self.to_config.erased(), &svc.inbox) {
                        let _ = self.signal.send(Signal::failed(e));
                        return Step::Done;
                    }
                    let _ = self.to_config.send(Join::Add {
                        id: cx.id(),
                        data: self.outbox.erased(),
                        control: self.from_bus.erased(),
                    });
                    self.joined = true;
                }
                Ok(None) => return Step::Yield,
                Err(sig) => {
                    let _ = self.signal.send(sig);
                    return Step::Done;
                }
            }
        }
        while let Some(m) = self.held.take().or_else(|| self.inbox.recv()) {
            if let Err(Full(m)) = self.outbox.send(m) {
                self.held = Some(m);
                break;
            }
        }
        if let Some(sig) = self.from_bus.recv() {
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        if let Some(sig) = self.control.recv() {
            let _ = self.to_config.send(Join::Remove(cx.id()));
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox)
            .add(&self.control)
            .add(&self.outbox)
            .add(&self.signal)
            .add(&self.from_bus)
            .add(&self.to_config);
    }
}
