//! The BitTorrent client: many torrents in one component on one listening
//! port, and the service that shares one client among many users.

pub mod messages;

pub use messages::{
    ClientEvent, ClientRequest, StartError, TorrentId, TorrentSource, TorrentState, TorrentStatus,
};

// The shared service and its patrons (branch btsvc).
pub mod factory;
pub mod patron;
pub mod service;
pub mod service_fake;
pub mod service_parts;
mod service_routes;

pub use factory::real_client_factory;
pub use patron::{TorrentPatron, MAX_RETRIES};
pub use service::{TorrentService, SERVICE_NAME, SHUTDOWN_NAME, STOP_TIMEOUT};
pub use service_fake::{fake_client_factory, FakeAction, FakeClient, FakeLog};
pub use service_parts::{
    ClientComponent, ClientFactory, ClientParts, ClientPorts, PatronError, PatronReply, ServiceEnd,
    ServiceRequest,
};
