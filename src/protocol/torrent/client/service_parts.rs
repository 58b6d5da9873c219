//! What passes between a [`TorrentPatron`](super::TorrentPatron) and the
//! [`TorrentService`](super::TorrentService) (the typed form of the
//! original's `TIPCServiceAdd`, `TIPCServicePassOn`, `TIPCServiceRemove`),
//! and how the service makes its one client: a [`ClientFactory`] giving
//! [`ClientParts`] built from any [`ClientComponent`].
//!
//! A client component is anything with the client's four standard boxes:
//! `inbox: Inbox<ClientRequest>`, `control: Inbox<Signal>`,
//! `outbox: Outbox<ClientEvent>`, `signal: Outbox<Signal>`. It says where
//! they are by implementing [`ClientComponent`]:
//!
//! ```
//! use std::rc::Rc;
//! use kamaelia::axon::{BoxSet, Component, Cx, DefaultBoxes, Step};
//! use kamaelia::protocol::torrent::client::{
//!     ClientComponent, ClientEvent, ClientFactory, ClientParts, ClientPorts, ClientRequest,
//! };
//!
//! /// A client that ignores every request (for the example only).
//! struct Deaf(DefaultBoxes<ClientRequest, ClientEvent>);
//! impl Component for Deaf {
//!     fn step(&mut self, _cx: &mut Cx) -> Step {
//!         while self.0.inbox.recv().is_some() {}
//!         if let Some(s) = self.0.control.recv() {
//!             let _ = self.0.signal.send(s);
//!             return Step::Done;
//!         }
//!         Step::Pause
//!     }
//!     fn boxes(&self, set: &mut BoxSet) { self.0.list(set) }
//! }
//! impl ClientComponent for Deaf {
//!     fn client_ports(&self) -> ClientPorts<'_> {
//!         ClientPorts {
//!             inbox: &self.0.inbox,
//!             control: &self.0.control,
//!             outbox: &self.0.outbox,
//!             signal: &self.0.signal,
//!         }
//!     }
//! }
//! let factory: ClientFactory = Rc::new(|| ClientParts::new(Deaf(DefaultBoxes::new())));
//! # drop(factory);
//! ```

use std::fmt;
use std::rc::Rc;

use crate::axon::{
    link, BoxRef, Component, Cx, Id, Inbox, LinkError, Outbox, ServiceError, Signal,
};

use super::messages::{ClientEvent, ClientRequest};

/// The client's four standard boxes, borrowed so the service can link to
/// them before it starts the client.
pub struct ClientPorts<'a> {
    /// Requests in.
    pub inbox: &'a Inbox<ClientRequest>,
    /// Shutdown in: the client closes its torrents, sends the signal on
    /// `signal` and ends.
    pub control: &'a Inbox<Signal>,
    /// Events out.
    pub outbox: &'a Outbox<ClientEvent>,
    /// Sent once, when the client ends.
    pub signal: &'a Outbox<Signal>,
}

/// A component that speaks the client's protocol on its standard boxes.
pub trait ClientComponent: Component {
    /// Where its four standard boxes are.
    fn client_ports(&self) -> ClientPorts<'_>;
}

/// The service's ends of the links to its client.
pub(crate) struct ServiceEnds<'a> {
    pub to_client: &'a Outbox<ClientRequest>,
    pub client_control: &'a Outbox<Signal>,
    pub from_client: &'a Inbox<ClientEvent>,
    pub client_signal: &'a Inbox<Signal>,
}

/// Starts one client: links its boxes to the service's, then spawns it as
/// the service's child.
trait StartClient {
    fn start(self: Box<Self>, cx: &mut Cx<'_>, ends: &ServiceEnds<'_>) -> Result<Id, LinkError>;
}

struct Holder<C: ClientComponent>(C);

impl<C: ClientComponent> StartClient for Holder<C> {
    fn start(self: Box<Self>, cx: &mut Cx<'_>, ends: &ServiceEnds<'_>) -> Result<Id, LinkError> {
        let client = self.0;
        {
            let p = client.client_ports();
            link(ends.to_client, p.inbox)?;
            link(ends.client_control, p.control)?;
            link(p.outbox, ends.from_client)?;
            link(p.signal, ends.client_signal)?;
        }
        Ok(cx.spawn_child(client))
    }
}

/// One client, made by a [`ClientFactory`], not yet started.
pub struct ClientParts {
    start: Box<dyn StartClient>,
}

impl ClientParts {
    /// Wraps a client component.
    pub fn new<C: ClientComponent>(client: C) -> Self {
        ClientParts {
            start: Box::new(Holder(client)),
        }
    }

    /// Links the client to the service and spawns it as the service's child.
    pub(crate) fn start(self, cx: &mut Cx<'_>, ends: &ServiceEnds<'_>) -> Result<Id, LinkError> {
        self.start.start(cx, ends)
    }
}

impl fmt::Debug for ClientParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientParts(..)")
    }
}

/// Makes the client a service owns. Shared (`Rc`) because every patron
/// carries it, in case it is the one that has to start the service; it is
/// called once per service.
pub type ClientFactory = Rc<dyn Fn() -> ClientParts>;

/// A patron to the service, on the service's `inbox`.
#[derive(Debug)]
pub enum ServiceRequest {
    /// Register: answers go to `reply` (an `Inbox<PatronReply>` of the
    /// patron), starting with [`PatronReply::Joined`].
    Add {
        /// The patron.
        patron: Id,
        /// Its reply inbox.
        reply: BoxRef,
    },
    /// Pass a request on to the client.
    PassOn {
        /// The patron.
        patron: Id,
        /// Its request (its own token; the service rewrites it).
        request: ClientRequest,
    },
    /// Unregister: the patron's torrents that nobody else holds are closed.
    Remove {
        /// The patron.
        patron: Id,
    },
}

/// The service to a patron, on the patron's reply inbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatronReply {
    /// The `Add` was taken: requests may follow.
    Joined,
    /// An answer or event from the client, with the patron's own token.
    Event(ClientEvent),
    /// The service was closing when the `Add` came: look the service up
    /// again (a fresh one is started).
    Retry,
    /// The service has ended (the reason); the patron is no longer
    /// registered.
    Ended(ServiceEnd),
}

/// Why a service ended while patrons were registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceEnd {
    /// It was told to stop on its `control` (the signal, as text).
    Stopped(String),
    /// Its client ended on its own (its signal, as text, or "no signal").
    ClientEnded(String),
    /// Its client could not be started (why).
    NoClient(String),
}

impl fmt::Display for ServiceEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceEnd::Stopped(s) => write!(f, "the torrent service was stopped ({s})"),
            ServiceEnd::ClientEnded(s) => write!(f, "the torrent client ended ({s})"),
            ServiceEnd::NoClient(s) => write!(f, "the torrent client could not start: {s}"),
        }
    }
}

impl std::error::Error for ServiceEnd {}

/// Why a patron ended other than by its `control` (sent as
/// `Signal::Failed` on its `signal`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatronError {
    /// The service could not be found or started.
    NoService(ServiceError),
    /// The service's inbox could not be linked to.
    Link(String),
    /// The service ended while the patron was registered.
    ServiceEnded(ServiceEnd),
    /// Told to retry more times than [`MAX_RETRIES`](super::patron::MAX_RETRIES).
    TooManyRetries,
}

impl fmt::Display for PatronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatronError::NoService(e) => write!(f, "no torrent service: {e}"),
            PatronError::Link(e) => write!(f, "cannot link to the torrent service: {e}"),
            PatronError::ServiceEnded(e) => write!(f, "{e}"),
            PatronError::TooManyRetries => f.write_str("the torrent service kept closing"),
        }
    }
}

impl std::error::Error for PatronError {}
