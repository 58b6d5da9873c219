//! The BitTorrent client: many torrents in one component on one listening
//! port ([`TorrentClient`]), and the service that shares one client among
//! many users.
//!
//! # TorrentClient
//!
//! One component owns the listener and every peer connection, as
//! [`HttpTrackerServer`](crate::protocol::torrent::tracker::http_direct)
//! owns its HTTP connections: a connection is a slot of its table holding
//! a socket and a [`PeerSession`](crate::protocol::torrent::peer) (the
//! protocol as a pure state machine), not a pair of components. Each
//! torrent has two children, reached through run-time boxes: a
//! [`DiskWorker`](crate::protocol::torrent::storage::DiskWorker) (SHA-1
//! of each piece from the blocks still in memory on a hashing thread,
//! writes, reads for uploads and the first check on its own) and a
//! [`TrackerAnnouncer`](crate::protocol::torrent::tracker::tiers). The
//! network loop stays on the scheduler's thread.
//!
//! | box     | carries         | meaning                                              |
//! |---------|-----------------|------------------------------------------------------|
//! | inbox   | `ClientRequest` | `Create` (metainfo bytes or a magnet link, a save folder, extra peers), `AddPeer`, `Close` |
//! | control | `Signal`        | shutdown or producer finished: every torrent closed (its announcer says `stopped` to its tracker, bounded by 5 s), then it ends |
//! | outbox  | `ClientEvent`   | `Created`/`AlreadyDownloading`/`StartFailed` (each naming the request's token), `MetadataReceived`, `Status` every `status_every`, `Complete`, `Error`, `Closed` |
//! | signal  | `Signal`        | the control signal, once, when it ends                |
//!
//! A torrent's life: `Create` → `Created`; its disk worker checks what is
//! on disk (state `Checking`); then it announces and dials (`Downloading`,
//! or `Seeding` when every piece checked out: `Complete` at once). A
//! magnet link first asks its trackers and `x.pe` peers for the info
//! dictionary (state `Metadata`, BEP 9); once one peer's copy hashes to
//! the link's info-hash the torrent goes on under the same id
//! (`MetadataReceived`). Blocks go to the [`Picker`](crate::protocol::torrent::swarm::Picker)
//! and, a piece whole, to the disk worker; a verified piece is announced
//! (`have`) to every peer; a failed one bans the peers that sent it (never
//! dialled again, dropped by peer id). Choking is the
//! [`Choker`](crate::protocol::torrent::swarm::Choker)'s (tit-for-tat every
//! 10 s, an optimistic unchoke every 30 s, by upload rate when seeding),
//! run at once when a peer becomes interested.
//!
//! Bounded: `max_connections` in all and `max_peers` per torrent; per peer,
//! what [`PeerSession`](crate::protocol::torrent::peer) bounds, plus at
//! most 64 blocks being read for it; per torrent, `max_pieces_in_flight`
//! pieces collected, and `max_buffered` bytes of blocks held (collected,
//! or waiting for the disk) past which no new blocks are requested: the
//! network never outruns the disk by more, whatever the piece size; and
//! the newest `recent_pieces` bytes (4 MiB) of verified pieces, from
//! which requests for them are served without a disk read (a swarm's
//! other downloaders ask for a piece as soon as our `have` reaches them).
//! Blocks go to the socket in one vectored write from the buffer they
//! were read or received into. Idle, it wakes once per `status_every`
//! (1 s) for its timers and status.
//!
//! ```no_run
//! use kamaelia::axon::{link, Inbox, Scheduler};
//! use kamaelia::internet::{Acceptor, TcpAcceptor};
//! use kamaelia::protocol::torrent::client::{
//!     ClientConfig, ClientEvent, ClientRequest, TorrentClient, TorrentSource,
//! };
//! let listener = TcpAcceptor::bind("0.0.0.0:6881".parse().unwrap(), 128).unwrap();
//! let client = TorrentClient::new(ClientConfig::default(), Some(Box::new(listener) as Box<dyn Acceptor>));
//! let events: Inbox<ClientEvent> = Inbox::inbox();
//! link(&client.outbox, &events).unwrap();
//! let torrent = std::fs::read("file.torrent").unwrap();
//! client.inbox.address().deliver(ClientRequest::Create {
//!     token: 1,
//!     source: TorrentSource::Metainfo(torrent.into()),
//!     save_dir: None,
//!     peers: vec![],
//! }).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(client);
//! s.run(); // runs until shut down; `events` has its news
//! ```

mod answers;
mod component;
pub mod config;
mod conn;
pub mod messages;
pub mod metafetch;
mod peers;
mod pending;
mod recent;
mod tick;
mod torrent;

pub use component::TorrentClient;
pub use config::{peer_id_from, ClientConfig};
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
