//! Trackers: what a client tells a tracker and what it hears back, the
//! same for HTTP (BEP 3, 23, 48) and UDP (BEP 15) trackers, clients and
//! the server. The wire formats live beside this in their own files.

use std::net::SocketAddr;

/// The SHA-1 of a torrent's info dictionary.
pub type InfoHash = [u8; 20];

/// A peer's 20-byte id.
pub type PeerId = [u8; 20];

/// The event of an announce. The numbering is BEP 15's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum AnnounceEvent {
    /// A regular announce.
    #[default]
    None = 0,
    /// The download finished.
    Completed = 1,
    /// The first announce.
    Started = 2,
    /// The peer is leaving.
    Stopped = 3,
}

/// One announce, as a client sends it and a server reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceRequest {
    /// The torrent.
    pub info_hash: InfoHash,
    /// The announcing peer.
    pub peer_id: PeerId,
    /// The port the peer listens on.
    pub port: u16,
    /// Bytes uploaded since `Started`.
    pub uploaded: u64,
    /// Bytes downloaded since `Started`.
    pub downloaded: u64,
    /// Bytes still wanted (0: a seeder).
    pub left: u64,
    /// Why this announce.
    pub event: AnnounceEvent,
    /// How many peers the client wants (`None`: the tracker's default).
    pub numwant: Option<u32>,
    /// The `key` that lets a tracker recognise a peer whose address changed.
    pub key: Option<u32>,
    /// The address the client says it has (a tracker may ignore it).
    pub ip: Option<std::net::IpAddr>,
    /// HTTP only: ask for the compact peer list (BEP 23).
    pub compact: bool,
    /// HTTP only: the `tracker id` a previous reply gave.
    pub tracker_id: Option<Vec<u8>>,
}

/// A peer in an announce reply. The dictionary form of HTTP replies
/// carries the peer id; compact and UDP replies do not.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Where the peer listens.
    pub addr: SocketAddr,
    /// Its id, where the reply gave one.
    pub id: Option<PeerId>,
}

/// A successful announce reply.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AnnounceReply {
    /// Seconds the client should wait before the next regular announce.
    pub interval: u32,
    /// Seconds the client must wait at least.
    pub min_interval: Option<u32>,
    /// HTTP only: to be sent back in later announces.
    pub tracker_id: Option<Vec<u8>>,
    /// Seeders.
    pub complete: Option<u32>,
    /// Leechers.
    pub incomplete: Option<u32>,
    /// IPv4 and IPv6 peers together.
    pub peers: Vec<Peer>,
    /// HTTP only: a `warning message` (the reply is still good).
    pub warning: Option<String>,
}

/// What a tracker knows of one torrent, from a scrape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ScrapeEntry {
    /// The torrent.
    pub info_hash: InfoHash,
    /// Seeders.
    pub complete: u32,
    /// Completed downloads ever.
    pub downloaded: u32,
    /// Leechers.
    pub incomplete: u32,
}

// The HTTP tracker (bt-http).
pub mod http_client;
pub mod http_direct;
pub mod http_reply;
pub mod http_server;
pub mod http_wire;
pub mod server;
pub mod swarm;
pub mod tiers;
pub mod udp_client;
pub mod udp_server;
pub mod udp_wire;
