//! What a [`TorrentClient`](super::TorrentClient) is asked and what it
//! answers: the typed form of the original's `TIPCCreateNewTorrent`,
//! `TIPCCloseTorrent`, `TIPCNewTorrentCreated`,
//! `TIPCTorrentAlreadyDownloading`, `TIPCTorrentStartFail` (declared but
//! never sent there; sent here, with a reason) and
//! `TIPCTorrentStatusUpdate`.
//!
//! Every answer to a request names the request's `token` (the asker's own
//! number), so a service shared by many users routes answers by token and
//! by torrent id, never by the order requests were made in.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use bytes::Bytes;

use crate::protocol::torrent::tracker::InfoHash;

/// A torrent's number in one client: 1, 2, 3, ... in the order started.
pub type TorrentId = u32;

/// Where a torrent comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TorrentSource {
    /// A `.torrent` file's bytes.
    Metainfo(Bytes),
    /// A magnet link (its info dictionary is fetched from peers, BEP 9).
    Magnet(String),
}

/// A request to the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientRequest {
    /// Start a torrent: download what is missing, then seed.
    Create {
        /// The asker's number for this request, named in the answer.
        token: u64,
        /// The torrent.
        source: TorrentSource,
        /// The folder its files go in (`None`: the client's default).
        save_dir: Option<PathBuf>,
        /// Peers to connect to besides those the trackers list.
        peers: Vec<SocketAddr>,
    },
    /// Connect to this peer for a running torrent.
    AddPeer(TorrentId, SocketAddr),
    /// Limits the rates, in bytes a second (0: no limit), of one torrent
    /// (on top of the client's limits) or, with `id` `None`, of the
    /// whole client. No answer.
    SetLimits {
        /// The torrent, or `None` for the client.
        id: Option<TorrentId>,
        /// Bytes a second sent.
        upload: u64,
        /// Bytes a second received.
        download: u64,
    },
    /// Stop a torrent: its connections close, it leaves its trackers, its
    /// files stay. Answered with [`ClientEvent::Closed`].
    Close(TorrentId),
}

/// Why a torrent could not start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartError {
    /// The metainfo does not parse (the reason as text).
    BadMetainfo(String),
    /// The magnet link does not parse.
    BadMagnet(String),
    /// Its files cannot be laid out under the save folder (an unsafe path,
    /// a bad piece length).
    Storage(String),
    /// The metadata a magnet link names could not be had from any peer
    /// in time.
    NoMetadata,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::BadMetainfo(e) => write!(f, "bad metainfo: {e}"),
            StartError::BadMagnet(e) => write!(f, "bad magnet link: {e}"),
            StartError::Storage(e) => write!(f, "storage: {e}"),
            StartError::NoMetadata => write!(f, "no peer gave the metadata in time"),
        }
    }
}

impl std::error::Error for StartError {}

/// What a torrent is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TorrentState {
    /// Fetching the info dictionary of a magnet link.
    Metadata,
    /// Checking the data already on disk.
    Checking,
    /// Downloading.
    Downloading,
    /// Every piece verified: uploading only.
    Seeding,
    /// The disk failed: nothing more is written (the reason was logged and
    /// sent as [`ClientEvent::Error`]).
    Failed,
}

/// One torrent's figures, sent every `status_every` (and when it
/// completes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorrentStatus {
    /// The torrent.
    pub id: TorrentId,
    /// Its info-hash.
    pub info_hash: InfoHash,
    /// Its name (the magnet link's `dn`, or the hash, until the metadata
    /// comes).
    pub name: String,
    /// What it is doing.
    pub state: TorrentState,
    /// Its size in bytes (0 until a magnet link's metadata comes).
    pub total_bytes: u64,
    /// Bytes of verified pieces.
    pub have_bytes: u64,
    /// Verified pieces.
    pub pieces_have: u32,
    /// Pieces in all.
    pub pieces_total: u32,
    /// Block bytes received since it started (wasted ones included).
    pub downloaded: u64,
    /// Block bytes sent since it started.
    pub uploaded: u64,
    /// Bytes a second received, over the last seconds.
    pub download_rate: u64,
    /// Bytes a second sent, over the last seconds.
    pub upload_rate: u64,
    /// Peers connected (handshake done).
    pub peers: u32,
    /// Of those, peers that have every piece.
    pub seeds: u32,
}

impl TorrentStatus {
    /// Verified bytes over the size, from 0.0 to 1.0 (0.0 while the size
    /// is unknown).
    pub fn fraction(&self) -> f64 {
        if self.total_bytes == 0 {
            return 0.0;
        }
        self.have_bytes as f64 / self.total_bytes as f64
    }

    /// Whole percent done, rounded down (100 only when every piece is
    /// verified).
    pub fn percent(&self) -> u32 {
        if self.pieces_total > 0 && self.pieces_have == self.pieces_total {
            return 100;
        }
        ((self.fraction() * 100.0) as u32).min(99)
    }
}

/// What the client says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// A `Create` was taken: the torrent runs as `id`.
    Created {
        /// The request's token.
        token: u64,
        /// Its number.
        id: TorrentId,
        /// Its info-hash.
        info_hash: InfoHash,
        /// Its name (a magnet link's `dn` or the hash until the metadata
        /// comes).
        name: String,
        /// The folder its files go in.
        save_dir: PathBuf,
    },
    /// A `Create` named a torrent already running as `id`.
    AlreadyDownloading {
        /// The request's token.
        token: u64,
        /// The running torrent.
        id: TorrentId,
    },
    /// A `Create` could not start.
    StartFailed {
        /// The request's token.
        token: u64,
        /// Why.
        reason: StartError,
    },
    /// A magnet link's info dictionary came and checked out; the torrent
    /// goes on as if started from this metainfo.
    MetadataReceived {
        /// The torrent.
        id: TorrentId,
        /// The whole `.torrent` (the info dictionary and the link's
        /// trackers).
        metainfo: Bytes,
    },
    /// A torrent's figures.
    Status(TorrentStatus),
    /// Every piece is verified on disk (sent once, also for a torrent
    /// found complete by its first check).
    Complete(TorrentId),
    /// The disk failed for a torrent; it stops downloading.
    Error {
        /// The torrent.
        id: TorrentId,
        /// What failed.
        reason: String,
    },
    /// A `Close` was done (or named no torrent: `existed` false).
    Closed {
        /// The torrent.
        id: TorrentId,
        /// Whether it was running.
        existed: bool,
    },
}

impl ClientEvent {
    /// The torrent this event is about, if any (`StartFailed` has none).
    pub fn torrent(&self) -> Option<TorrentId> {
        match self {
            ClientEvent::Created { id, .. }
            | ClientEvent::AlreadyDownloading { id, .. }
            | ClientEvent::MetadataReceived { id, .. }
            | ClientEvent::Complete(id)
            | ClientEvent::Error { id, .. }
            | ClientEvent::Closed { id, .. } => Some(*id),
            ClientEvent::Status(s) => Some(s.id),
            ClientEvent::StartFailed { .. } => None,
        }
    }

    /// The token of the request this answers, if it answers one.
    pub fn token(&self) -> Option<u64> {
        match self {
            ClientEvent::Created { token, .. }
            | ClientEvent::AlreadyDownloading { token, .. }
            | ClientEvent::StartFailed { token, .. } => Some(*token),
            _ => None,
        }
    }
}

impl fmt::Display for ClientEvent {
    /// The original's wording where it had one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientEvent::Created { id, save_dir, .. } => {
                write!(f, "New torrent {id} created in {}", save_dir.display())
            }
            ClientEvent::AlreadyDownloading { id, .. } => {
                write!(f, "Torrent {id} already downloading")
            }
            ClientEvent::StartFailed { reason, .. } => write!(f, "Torrent start failed: {reason}"),
            ClientEvent::MetadataReceived { id, .. } => {
                write!(f, "Torrent {id} metadata received")
            }
            ClientEvent::Status(s) => write!(f, "Torrent {} status : {}%", s.id, s.percent()),
            ClientEvent::Complete(id) => write!(f, "Torrent {id} complete"),
            ClientEvent::Error { id, reason } => write!(f, "Torrent {id} failed: {reason}"),
            ClientEvent::Closed { id, .. } => write!(f, "Torrent {id} closed"),
        }
    }
}
