//! TorrentService: one BitTorrent client shared by many users
//! ([`TorrentPatron`](super::TorrentPatron)s), found by name through the
//! services registry (`"torrentsrv"` → its `inbox`, `"torrentsrvshutdown"`
//! → its `control`), started by the first patron that looks for it.
//!
//! | box      | carries          | meaning                                        |
//! |----------|------------------|------------------------------------------------|
//! | inbox    | `ServiceRequest` | patrons registering (`Add`, with their reply inbox), passing requests on (`PassOn`), leaving (`Remove`) |
//! | control  | `Signal`         | any signal: tell every patron [`PatronReply::Ended`], stop the client, end once it has |
//! | signal   | `Signal`         | sent once, when it ends: the control signal, `ProducerFinished` after the last patron left, `Failed(ServiceEnd)` when the client died |
//! | *patron* | `PatronReply`    | one run-time outbox per registered patron, linked to its reply inbox |
//!
//! It owns the client as its child, made by the [`ClientFactory`] it is
//! given (tests give a [`FakeClient`](super::FakeClient); programs give
//! [`real_client_factory`](super::real_client_factory)). Each patron's
//! `Create` goes to the client with a token of the service's own, and the
//! answer goes back, with the patron's token, to that patron: by token,
//! never by the order of requests (the original's defect). Later events go
//! to the patrons holding the torrent; `service_routes.rs` lists every
//! rule, `Close` of a torrent shared between holders included.
//!
//! Shutdown (the original never ended): once it has had a patron and the
//! last one leaves, it deregisters its names at once (so a patron that
//! comes next starts a fresh service rather than joining a closing one),
//! tells the client to shut down, waits for the client to end (at most
//! [`STOP_TIMEOUT`], on the scheduler's clock), and ends: the scheduler
//! can then exit. A patron whose `Add` reaches it while it closes is
//! answered [`PatronReply::Retry`] and looks again. A client that ends on
//! its own is reported to every patron as [`ServiceEnd::ClientEnded`],
//! and the service ends. A `TorrentPatron` dropped without leaving (a
//! caught panic) still sends `Remove`; any other patron that ends without
//! leaving is noticed at the service's next wake (its reply inbox is
//! closed) and treated as having left.
//!
//! Requests from a patron that is not registered (never, or no longer) and
//! `AddPeer` for a torrent the patron does not hold are logged and dropped;
//! `Close` of a torrent the patron does not hold is answered
//! `Closed { existed: false }`.
//!
//! ```
//! use kamaelia::axon::Scheduler;
//! use kamaelia::protocol::torrent::client::{fake_client_factory, TorrentPatron};
//! let mut s = Scheduler::new();
//! // Two users; the first starts the service, the second finds it.
//! let (a, b) = (TorrentPatron::new(fake_client_factory()), TorrentPatron::new(fake_client_factory()));
//! let (ctl_a, ctl_b) = (a.control.address(), b.control.address());
//! s.spawn(a);
//! s.spawn(b);
//! s.run_until_idle();
//! assert_eq!(s.services(), vec!["torrentsrv".to_string(), "torrentsrvshutdown".to_string()]);
//! // Both leave: the service stops its client and ends; so does the run.
//! ctl_a.deliver(kamaelia::axon::Signal::Shutdown).unwrap();
//! ctl_b.deliver(kamaelia::axon::Signal::Shutdown).unwrap();
//! assert_eq!(s.run(), kamaelia::axon::Ended::Completed);
//! assert!(s.services().is_empty());
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::axon::{
    link_refs, AdaptiveBoxes, Alarm, BoxRef, BoxSet, Component, Cx, Id, Inbox, Outbox, Service,
    ServiceError, Signal, Step,
};

use super::messages::{ClientEvent, ClientRequest};
use super::service_parts::{ClientFactory, PatronReply, ServiceEnd, ServiceEnds, ServiceRequest};
use super::service_routes::{CloseAction, Route, Routes};

/// The name the service's `inbox` is registered under.
pub const SERVICE_NAME: &str = "torrentsrv";
/// The name the service's `control` is registered under.
pub const SHUTDOWN_NAME: &str = "torrentsrvshutdown";
/// How long a closing service waits for its client to end.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Messages taken from one inbox in one step.
const BATCH: usize = 256;

enum Phase {
    /// Not run yet: registers its names and starts the client.
    Starting,
    Running,
    /// The client was told to stop; waiting for it to end.
    Stopping {
        /// What to send on `signal` at the end.
        last: Signal,
        deadline: Instant,
    },
}

/// The shared client's owner; see the module documentation.
pub struct TorrentService {
    /// Patrons' requests.
    pub inbox: Inbox<ServiceRequest>,
    /// Any signal stops it.
    pub control: Inbox<Signal>,
    /// Sent once, when it ends.
    pub signal: Outbox<Signal>,
    to_client: Outbox<ClientRequest>,
    client_control: Outbox<Signal>,
    from_client: Inbox<ClientEvent>,
    client_signal: Inbox<Signal>,
    extra: AdaptiveBoxes,
    factory: ClientFactory,
    client: Option<Id>,
    patrons: BTreeMap<Id, Outbox<PatronReply>>,
    had_patron: bool,
    routes: Routes,
    phase: Phase,
    stop_timeout: Duration,
    alarm: Alarm,
}

impl TorrentService {
    /// A service whose client `factory` makes (usually started through
    /// [`TorrentService::get_or_create`] by a patron).
    pub fn new(factory: ClientFactory) -> Self {
        TorrentService {
            inbox: Inbox::new("inbox", "ServiceRequest: patrons joining, asking, leaving"),
            control: Inbox::control(),
            signal: Outbox::signal(),
            to_client: Outbox::new("_to_client", "requests to the client"),
            client_control: Outbox::new("_client_control", "shutdown to the client"),
            from_client: Inbox::new("_from_client", "the client's answers and events"),
            client_signal: Inbox::new("_client_signal", "the client's end"),
            extra: AdaptiveBoxes::new(),
            factory,
            client: None,
            patrons: BTreeMap::new(),
            had_patron: false,
            routes: Routes::default(),
            phase: Phase::Starting,
            stop_timeout: STOP_TIMEOUT,
            alarm: Alarm::default(),
        }
    }

    /// Sets how long a closing service waits for its client to end.
    pub fn stop_timeout(mut self, d: Duration) -> Self {
        self.stop_timeout = d;
        self
    }

    /// Finds the running service, or starts one with `factory`.
    pub fn get_or_create(cx: &mut Cx, factory: &ClientFactory) -> Result<Service, ServiceError> {
        let factory = factory.clone();
        cx.service_or_create(SERVICE_NAME, "inbox", move || TorrentService::new(factory))
    }

    /// Registers its names (the inbox's may already be, by
    /// `service_or_create`) and starts the client.
    fn start(&mut self, cx: &mut Cx) -> Result<(), ServiceEnd> {
        match cx.lookup_service(SERVICE_NAME) {
            Ok(s) if s.component == cx.id() => {}
            Ok(s) => {
                return Err(ServiceEnd::NoClient(format!(
                    "another torrent service ({}) is registered",
                    s.component
                )))
            }
            Err(_) => cx
                .register_service(SERVICE_NAME, self.inbox.erased())
                .map_err(|e| ServiceEnd::NoClient(e.to_string()))?,
        }
        if let Err(e) = cx.register_service(SHUTDOWN_NAME, self.control.erased()) {
            log::warn!("torrent service: {e}");
        }
        let ends = ServiceEnds {
            to_client: &self.to_client,
            client_control: &self.client_control,
            from_client: &self.from_client,
            client_signal: &self.client_signal,
        };
        let id = (self.factory)()
            .start(cx, &ends)
            .map_err(|e| ServiceEnd::NoClient(e.to_string()))?;
        self.client = Some(id);
        Ok(())
    }

    /// Removes its names if they are still its own (a fresh service may
    /// hold them by now).
    fn deregister(&self, cx: &mut Cx) {
        for name in [SERVICE_NAME, SHUTDOWN_NAME] {
            if cx
                .lookup_service(name)
                .is_ok_and(|s| s.component == cx.id())
            {
                let _ = cx.deregister_service(name);
            }
        }
    }

    fn send_to(&self, patron: Id, reply: PatronReply) {
        match self.patrons.get(&patron) {
            Some(out) => {
                if out.send(reply).is_err() {
                    log::warn!("torrent service: patron {patron} refused a reply");
                }
            }
            None => log::debug!("torrent service: no patron {patron} for {reply:?}"),
        }
    }

    /// Sends `ev` to each of `to`, cloning it for all but the last.
    fn send_to_all(&self, to: &[Id], ev: ClientEvent) {
        if let Some((last, rest)) = to.split_last() {
            for p in rest {
                self.send_to(*p, PatronReply::Event(ev.clone()));
            }
            self.send_to(*last, PatronReply::Event(ev));
        }
    }

    fn to_client(&self, req: ClientRequest) {
        if self.to_client.send(req).is_err() {
            log::warn!("torrent service: the client refused a request");
        }
    }

    /// Gives a patron a reply outbox linked to its reply inbox.
    fn add_patron(&mut self, patron: Id, reply: &BoxRef) -> Option<Outbox<PatronReply>> {
        let out = self
            .extra
            .add_outbox::<PatronReply>("patron", "replies to one patron");
        match link_refs(&out.erased(), reply) {
            Ok(_) => Some(out),
            Err(e) => {
                log::warn!("torrent service: patron {patron} cannot be linked: {e}");
                let _ = self.extra.remove(out.name());
                None
            }
        }
    }

    fn remove_patron(&mut self, patron: Id) {
        let Some(out) = self.patrons.remove(&patron) else {
            log::warn!("torrent service: Remove from {patron}, which is not registered");
            return;
        };
        let _ = self.extra.remove(out.name());
        for id in self.routes.remove_patron(patron) {
            self.to_client(ClientRequest::Close(id));
        }
    }

    fn handle_request(&mut self, cx: &mut Cx, req: ServiceRequest) {
        match req {
            ServiceRequest::Add { patron, reply } => {
                if let Phase::Stopping { .. } = self.phase {
                    // Answer through a link made for this one reply.
                    if let Some(out) = self.add_patron(patron, &reply) {
                        let _ = out.send(PatronReply::Retry);
                        let _ = self.extra.remove(out.name());
                    }
                    return;
                }
                if self.patrons.contains_key(&patron) {
                    log::warn!("torrent service: patron {patron} registered twice");
                    self.send_to(patron, PatronReply::Joined);
                    return;
                }
                if let Some(out) = self.add_patron(patron, &reply) {
                    let _ = out.send(PatronReply::Joined);
                    self.patrons.insert(patron, out);
                    self.had_patron = true;
                }
            }
            ServiceRequest::Remove { patron } => self.remove_patron(patron),
            ServiceRequest::PassOn { patron, request } => {
                if !self.patrons.contains_key(&patron) {
                    log::warn!(
                        "torrent service {}: request from {patron}, which is not registered, dropped: {request:?}",
                        cx.id()
                    );
                    return;
                }
                self.pass_on(patron, request);
            }
        }
    }

    fn pass_on(&mut self, patron: Id, request: ClientRequest) {
        match request {
            ClientRequest::Create {
                token,
                source,
                save_dir,
                peers,
            } => {
                let token = self.routes.create(patron, token);
                self.to_client(ClientRequest::Create {
                    token,
                    source,
                    save_dir,
                    peers,
                });
            }
            ClientRequest::AddPeer(id, addr) => {
                if self.routes.holds(patron, id) {
                    self.to_client(ClientRequest::AddPeer(id, addr));
                } else {
                    log::warn!("torrent service: AddPeer from {patron} for torrent {id}, which it does not hold");
                }
            }
            // A torrent's limits from a patron that holds it; the shared
            // client's own limits from any patron.
            ClientRequest::SetLimits { id: Some(id), .. } if !self.routes.holds(patron, id) => {
                log::warn!("torrent service: SetLimits from {patron} for torrent {id}, which it does not hold");
            }
            ClientRequest::SetLimits { .. } => self.to_client(request),
            ClientRequest::Close(id) => match self.routes.close(patron, id) {
                CloseAction::Answer(ev) => self.send_to(patron, PatronReply::Event(ev)),
                CloseAction::Forward => self.to_client(ClientRequest::Close(id)),
            },
        }
    }

    fn handle_event(&mut self, ev: ClientEvent) {
        match self.routes.route(ev) {
            Route::One(p, ev) => self.send_to(p, PatronReply::Event(ev)),
            Route::Holders(ev) => {
                let holders = self.routes.holders(ev.torrent().unwrap_or_default());
                self.send_to_all(holders, ev);
            }
            Route::Some(to, ev) => self.send_to_all(&to, ev),
            Route::CloseOrphan(id) => {
                log::debug!(
                    "torrent service: torrent {id} started for a patron that left; closing it"
                );
                self.to_client(ClientRequest::Close(id));
            }
            Route::Nobody(ev) => log::debug!("torrent service: nobody wants {ev:?}"),
        }
    }

    /// Patrons that ended without leaving: their reply inbox is closed.
    /// (A patron's end wakes nobody, so this is seen at the next wake; a
    /// [`TorrentPatron`](super::TorrentPatron) dropped without leaving
    /// sends `Remove` itself.) One look per patron per step.
    fn forget_ended_patrons(&mut self) {
        let gone: Vec<Id> = self
            .patrons
            .iter()
            .filter(|(_, out)| !out.is_linked())
            .map(|(id, _)| *id)
            .collect();
        for p in gone {
            log::info!("torrent service: patron {p} ended without leaving");
            self.remove_patron(p);
        }
    }

    /// Tells every patron the service has ended and forgets them.
    fn dismiss_patrons(&mut self, why: ServiceEnd) {
        for (_, out) in std::mem::take(&mut self.patrons) {
            let _ = out.send(PatronReply::Ended(why.clone()));
            let _ = self.extra.remove(out.name());
        }
    }

    /// Deregisters, tells the client to stop, and waits for it.
    fn begin_stop(&mut self, cx: &mut Cx, last: Signal) -> Step {
        self.deregister(cx);
        let _ = self.client_control.send(Signal::Shutdown);
        let deadline = cx.now() + self.stop_timeout;
        self.alarm.set(cx, deadline);
        self.phase = Phase::Stopping { last, deadline };
        self.stopping(cx)
    }

    /// Ends at once (the client is gone, or never started).
    fn finish(&mut self, cx: &mut Cx, last: Signal) -> Step {
        self.deregister(cx);
        self.alarm.clear(cx);
        let _ = self.signal.send(last);
        Step::Done
    }

    /// True once the client has ended (its exit, or its signal).
    fn client_ended(&mut self, cx: &mut Cx) -> Option<String> {
        let mut how = None;
        while let Some(exit) = cx.next_exit() {
            if Some(exit.id) == self.client {
                how = Some(format!("{:?}", exit.how));
            }
        }
        if let Some(sig) = self.client_signal.recv() {
            how = Some(format!("{sig:?}"));
        }
        if how.is_some() {
            self.client = None;
        }
        how
    }

    fn stopping(&mut self, cx: &mut Cx) -> Step {
        for _ in 0..BATCH {
            let Some(req) = self.inbox.recv() else { break };
            self.handle_request(cx, req);
        }
        while self.from_client.recv().is_some() {}
        while self.control.recv().is_some() {}
        let Phase::Stopping { last, deadline } = &self.phase else {
            unreachable!("called while stopping")
        };
        let (last, deadline) = (last.clone(), *deadline);
        if self.client_ended(cx).is_some() || self.client.is_none_or(|c| !cx.is_alive(c)) {
            return self.finish(cx, last);
        }
        if cx.now() >= deadline {
            log::error!(
                "torrent service: the client did not end within {:?}; ending without it",
                self.stop_timeout
            );
            return self.finish(cx, last);
        }
        if !self.inbox.is_empty() {
            return Step::Yield;
        }
        Step::Pause
    }
}

impl Component for TorrentService {
    fn step(&mut self, cx: &mut Cx) -> Step {
        match self.phase {
            Phase::Starting => {
                if let Err(why) = self.start(cx) {
                    log::error!("torrent service: {why}");
                    while let Some(req) = self.inbox.recv() {
                        if let ServiceRequest::Add { patron, reply } = req {
                            if let Some(out) = self.add_patron(patron, &reply) {
                                self.patrons.insert(patron, out);
                            }
                        }
                    }
                    self.dismiss_patrons(why.clone());
                    return self.finish(cx, Signal::failed(why));
                }
                self.phase = Phase::Running;
            }
            Phase::Running => {}
            Phase::Stopping { .. } => return self.stopping(cx),
        }
        if let Some(sig) = self.control.recv() {
            self.dismiss_patrons(ServiceEnd::Stopped(format!("{sig:?}")));
            return self.begin_stop(cx, sig);
        }
        if let Some(how) = self.client_ended(cx) {
            let why = ServiceEnd::ClientEnded(how);
            log::error!("torrent service: {why}");
            self.dismiss_patrons(why.clone());
            return self.finish(cx, Signal::failed(why));
        }
        for _ in 0..BATCH {
            let Some(ev) = self.from_client.recv() else {
                break;
            };
            self.handle_event(ev);
        }
        for _ in 0..BATCH {
            let Some(req) = self.inbox.recv() else { break };
            self.handle_request(cx, req);
        }
        self.forget_ended_patrons();
        if self.had_patron && self.patrons.is_empty() {
            return self.begin_stop(cx, Signal::ProducerFinished);
        }
        if !self.inbox.is_empty() || !self.from_client.is_empty() {
            return Step::Yield;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.signal, self.to_client,
            self.client_control, self.from_client, self.client_signal);
        set.adaptive(&self.extra);
    }
}
