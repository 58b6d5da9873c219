//! What a [`TorrentClient`](super::TorrentClient) is set up with.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::protocol::torrent::peer::PeerConfig;
use crate::protocol::torrent::storage::StorageOptions;
use crate::protocol::torrent::swarm::ChokerConfig;
use crate::protocol::torrent::tracker::tiers::TierConfig;
use crate::protocol::torrent::tracker::PeerId;

/// A client's settings. The defaults suit a desktop client; tests shorten
/// the timers.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Our peer id: `-KM0100-` and twelve characters from `seed`, unless set.
    pub peer_id: PeerId,
    /// Where torrents are saved when a request names no folder.
    pub download_dir: PathBuf,
    /// The port told to trackers (`None`: the listener's, or 6881 without one).
    pub announce_port: Option<u16>,
    /// Connections at most per torrent (dialled and accepted).
    pub max_peers: usize,
    /// Connections at most in all.
    pub max_connections: usize,
    /// Peers asked of the trackers in each announce.
    pub numwant: u32,
    /// A status message per torrent this often (and the housekeeping tick:
    /// peer timers, rechoke, dialling).
    pub status_every: Duration,
    /// A connection still being made after this long is dropped.
    pub connect_timeout: Duration,
    /// A dialled peer that failed is not tried again for this long.
    pub redial_after: Duration,
    /// Each peer session's limits.
    pub peer: PeerConfig,
    /// The choker's slots and periods.
    pub choker: ChokerConfig,
    /// File handles and preallocation.
    pub storage: StorageOptions,
    /// Tracker back-off and the shortest re-announce.
    pub tiers: TierConfig,
    /// Bytes of blocks held per torrent (pieces being collected and pieces
    /// handed to the disk, not yet written) past which no new blocks are
    /// requested: the network never outruns the disk by more, whatever
    /// the piece size (the blocks already requested still come, at most
    /// `max_requests` blocks a peer).
    pub max_buffered: u64,
    /// Pieces being collected at once per torrent.
    pub max_pieces_in_flight: usize,
    /// Bytes of the pieces verified last kept in memory per torrent, so
    /// peers asking for them (a swarm's other downloaders, told by our
    /// `have`) are served without a disk read (at least one piece is kept;
    /// 0 keeps none).
    pub recent_pieces: usize,
    /// Bytes a second sent, over all torrents (`None`: unlimited).
    pub upload_limit: Option<u64>,
    /// Bytes a second received, over all torrents (`None`: unlimited).
    pub download_limit: Option<u64>,
    /// Seeds the picker's, choker's and trackers' generators: a run is
    /// repeatable.
    pub seed_rng: u64,
    /// Extra peers for every torrent, besides the trackers' lists.
    pub peers: Vec<SocketAddr>,
    /// A magnet link whose metadata no peer gave by then fails.
    pub metadata_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        let seed_rng = 0x6b61_6d61_656c_6961;
        let peer = PeerConfig {
            // Uploads are read on the disk thread: keep enough in flight
            // to cover its round trip at loopback rates.
            upload_window: 1024 * 1024,
            max_output: 4 * 1024 * 1024,
            ..PeerConfig::default()
        };
        ClientConfig {
            peer_id: peer_id_from(seed_rng),
            download_dir: PathBuf::from("."),
            announce_port: None,
            max_peers: 50,
            max_connections: 400,
            numwant: 50,
            status_every: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(10),
            redial_after: Duration::from_secs(30),
            peer,
            choker: ChokerConfig::default(),
            storage: StorageOptions::default(),
            tiers: TierConfig::default(),
            max_buffered: 16 * 1024 * 1024,
            max_pieces_in_flight: 512,
            recent_pieces: 4 * 1024 * 1024,
            upload_limit: None,
            download_limit: None,
            seed_rng,
            peers: Vec::new(),
            metadata_timeout: Duration::from_secs(300),
        }
    }
}

/// A peer id in the Azureus style, `-KM0100-` then twelve characters made
/// from `seed` (a program passes something of its own: the time, its pid).
pub fn peer_id_from(seed: u64) -> PeerId {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut id = *b"-KM0100-000000000000";
    let mut s = seed;
    for b in id[8..].iter_mut() {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        *b = ALPHABET[(s >> 33) as usize % ALPHABET.len()];
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_ids_differ_by_seed_and_keep_the_prefix() {
        let a = peer_id_from(1);
        let b = peer_id_from(2);
        assert_eq!(&a[..8], b"-KM0100-");
        assert_ne!(a, b);
        assert!(a[8..].iter().all(|c| c.is_ascii_alphanumeric()));
    }
}
