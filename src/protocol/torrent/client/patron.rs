//! TorrentPatron: a user's handle on the shared BitTorrent client. From the
//! user's side it has the client's own boxes and protocol; behind them it
//! finds (or starts) the [`TorrentService`], registers, passes requests
//! on and passes the answers back.
//!
//! | box     | carries         | meaning                                            |
//! |---------|-----------------|----------------------------------------------------|
//! | inbox   | `ClientRequest` | requests, with the user's own tokens               |
//! | control | `Signal`        | producer finished: pass on the requests already waiting, wait for the answers to its `Create`s and `Close`s, then leave the service and end; shutdown: leave at once and end; the signal is forwarded on `signal` |
//! | outbox  | `ClientEvent`   | answers to this patron's `Create`s (by its tokens), and the events of the torrents it holds |
//! | signal  | `Signal`        | the forwarded control signal; `Failed(PatronError)` when the service could not be had or ended under it |
//!
//! On its first step it looks the service up by name, starting one with
//! its [`ClientFactory`] if there is none, and registers; requests wait in
//! its inbox until the service has answered the registration, so none
//! can go to a service that is closing (such a service answers `Retry`
//! and the patron looks again, at most [`MAX_RETRIES`] times). When it
//! leaves, the torrents it alone held are closed; when the last patron
//! leaves, the service stops the client and ends.
//!
//! A user that reads slowly (its inbox full) does not make the patron's
//! memory grow with each status update: the patron keeps taking the
//! service's replies, and of a torrent's `Status` events waiting for the
//! user only the newest is kept. Every other event is passed on.
//!
//! ```
//! use kamaelia::axon::{link, Inbox, Outbox, Scheduler, Signal};
//! use kamaelia::protocol::torrent::client::{
//!     fake_client_factory, ClientEvent, ClientRequest, TorrentPatron,
//! };
//! let patron = TorrentPatron::new(fake_client_factory());
//! let (ask, ctl) = (Outbox::new("ask", "requests"), Outbox::new("ctl", "end"));
//! let answers = Inbox::inbox();
//! link(&ask, &patron.inbox).unwrap();
//! link(&ctl, &patron.control).unwrap();
//! link(&patron.outbox, &answers).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(patron);
//! ask.send(ClientRequest::Close(7)).unwrap();
//! ctl.send(Signal::ProducerFinished).unwrap();
//! s.run();
//! // Torrent 7 was never this patron's.
//! assert_eq!(answers.recv(), Some(ClientEvent::Closed { id: 7, existed: false }));
//! ```

use std::collections::VecDeque;

use crate::axon::{
    link_refs, Address, BoxSet, Component, Cx, Full, Id, Inbox, Outbox, Signal, Step,
};

use super::messages::{ClientEvent, ClientRequest};
use super::service::TorrentService;
use super::service_parts::{ClientFactory, PatronError, PatronReply, ServiceRequest};

/// How many times a patron looks for the service again when told to
/// retry, before it gives up.
pub const MAX_RETRIES: u32 = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Has not looked for the service yet (or was told to look again).
    Looking,
    /// Registered; waiting for `Joined`.
    Joining,
    /// Requests flow.
    Joined,
}

/// A user's handle on the shared client; see the module documentation.
pub struct TorrentPatron {
    /// Requests.
    pub inbox: Inbox<ClientRequest>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Answers and events.
    pub outbox: Outbox<ClientEvent>,
    /// Sent once, when it ends.
    pub signal: Outbox<Signal>,
    replies: Inbox<PatronReply>,
    to_service: Outbox<ServiceRequest>,
    factory: ClientFactory,
    state: State,
    retries: u32,
    /// Events not yet taken by a full outbox, oldest first; a torrent's
    /// newer `Status` replaces its older one here, so for a user that
    /// stops reading it holds at most one status per torrent besides the
    /// answers and one-off events (the service's replies are drained every
    /// step, never left to pile up in `replies`).
    pending: VecDeque<ClientEvent>,
    /// A producer-finished waiting for the inbox to be passed on and
    /// its answers to come.
    finishing: Option<Signal>,
    /// `Create`s and `Close`s passed on and not answered yet.
    awaiting: u64,
    /// While registered: the service's inbox and this patron's id, so that
    /// a patron dropped without leaving (a panic caught by the scheduler,
    /// a stopped system) still leaves.
    registered: Option<(Address<ServiceRequest>, Id)>,
}

impl TorrentPatron {
    /// A patron that starts the service with `factory` if it has to.
    pub fn new(factory: ClientFactory) -> Self {
        TorrentPatron {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::outbox(),
            signal: Outbox::signal(),
            replies: Inbox::new("_replies", "PatronReply: the service's answers"),
            to_service: Outbox::new("_service", "ServiceRequest: to the torrent service"),
            factory,
            state: State::Looking,
            retries: 0,
            pending: VecDeque::new(),
            finishing: None,
            awaiting: 0,
            registered: None,
        }
    }

    /// Finds (or starts) the service and registers.
    fn join(&mut self, cx: &mut Cx) -> Result<(), PatronError> {
        let svc =
            TorrentService::get_or_create(cx, &self.factory).map_err(PatronError::NoService)?;
        crate::axon::unlink(&self.to_service);
        link_refs(&self.to_service.erased(), &svc.inbox)
            .map_err(|e| PatronError::Link(e.to_string()))?;
        let _ = self.to_service.send(ServiceRequest::Add {
            patron: cx.id(),
            reply: self.replies.erased(),
        });
        self.registered = svc.inbox.address().map(|a| (a, cx.id()));
        self.state = State::Joining;
        Ok(())
    }

    fn fail(&mut self, why: PatronError) -> Step {
        log::error!("torrent patron: {why}");
        let _ = self.signal.send(Signal::failed(why));
        Step::Done
    }

    /// Leaves the service (if joined) and ends with `sig`.
    fn leave(&mut self, cx: &mut Cx, sig: Signal) -> Step {
        if self.state != State::Looking && self.registered.take().is_some() {
            let _ = self
                .to_service
                .send(ServiceRequest::Remove { patron: cx.id() });
        }
        let _ = self.signal.send(sig);
        Step::Done
    }

    /// Takes the service's replies and passes events on to `outbox`;
    /// `Err` when the patron must end.
    fn take_replies(&mut self, cx: &mut Cx) -> Result<(), PatronError> {
        let taken = self.take_service_replies();
        self.pass_on(cx);
        taken
    }

    fn take_service_replies(&mut self) -> Result<(), PatronError> {
        while let Some(reply) = self.replies.recv() {
            match reply {
                PatronReply::Joined => self.state = State::Joined,
                PatronReply::Event(ev) => {
                    if ev.token().is_some() || matches!(ev, ClientEvent::Closed { .. }) {
                        self.awaiting = self.awaiting.saturating_sub(1);
                    }
                    self.queue(ev);
                }
                PatronReply::Retry => {
                    self.retries += 1;
                    if self.retries > MAX_RETRIES {
                        return Err(PatronError::TooManyRetries);
                    }
                    self.state = State::Looking;
                    self.registered = None;
                }
                PatronReply::Ended(why) => {
                    self.registered = None;
                    return Err(PatronError::ServiceEnded(why));
                }
            }
        }
        Ok(())
    }

    /// Queues an event for `outbox`: a `Status` takes the place of the
    /// same torrent's older one still waiting, which is dropped (the new
    /// one goes last, so it still follows the events before it).
    fn queue(&mut self, ev: ClientEvent) {
        if let ClientEvent::Status(new) = &ev {
            let older = self
                .pending
                .iter()
                .position(|e| matches!(e, ClientEvent::Status(old) if old.id == new.id));
            if let Some(i) = older {
                self.pending.remove(i);
            }
        }
        self.pending.push_back(ev);
    }

    /// Sends the waiting events until `outbox` is full.
    fn pass_on(&mut self, cx: &mut Cx) {
        while let Some(ev) = self.pending.pop_front() {
            if let Err(Full(ev)) = self.outbox.send(ev) {
                self.pending.push_front(ev);
                cx.hold_input();
                return;
            }
        }
    }
}

impl Drop for TorrentPatron {
    /// A patron dropped while registered (it did not end through its
    /// `control`) leaves the service, so its torrents are closed and the
    /// service can end.
    fn drop(&mut self) {
        if let Some((service, me)) = self.registered.take() {
            let _ = service.deliver(ServiceRequest::Remove { patron: me });
        }
    }
}

impl Component for TorrentPatron {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if let Err(why) = self.take_replies(cx) {
            return self.fail(why);
        }
        if let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                return self.leave(cx, sig);
            }
            self.finishing.get_or_insert(sig);
        }
        if self.state == State::Looking {
            if let Err(why) = self.join(cx) {
                return self.fail(why);
            }
        }
        if self.state != State::Joined {
            // Requests wait until the service has taken the registration.
            cx.hold_input();
            return Step::Pause;
        }
        while let Some(request) = self.inbox.recv() {
            if !matches!(request, ClientRequest::AddPeer(..)) {
                self.awaiting += 1;
            }
            let _ = self.to_service.send(ServiceRequest::PassOn {
                patron: cx.id(),
                request,
            });
        }
        if self.awaiting == 0 && self.pending.is_empty() {
            if let Some(sig) = self.finishing.take() {
                return self.leave(cx, sig);
            }
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal,
            self.replies, self.to_service);
    }
}
