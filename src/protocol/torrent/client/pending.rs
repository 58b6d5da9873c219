//! A magnet link's torrent before its info dictionary is known: its
//! trackers and peers, and the connections asking them for the metadata
//! (each a [`MetaFetch`](super::metafetch::MetaFetch)). When one peer's
//! dictionary checks out, the client starts the torrent proper under the
//! same id, with the same announcer and the peers met so far.

use std::path::PathBuf;
use std::time::Instant;

use super::messages::{TorrentId, TorrentState, TorrentStatus};
use super::torrent::{PeerBook, TrackerLink};
use crate::protocol::torrent::metainfo::hex;
use crate::protocol::torrent::tracker::{AnnounceEvent, AnnounceRequest, InfoHash, PeerId};

/// What a tracker is told is left before the size is known: something,
/// so it lists us as a downloader.
const UNKNOWN_LEFT: u64 = 1 << 30;

/// One magnet link waiting for its metadata.
pub(super) struct Pending {
    pub id: TorrentId,
    pub info_hash: InfoHash,
    pub name: String,
    pub save_dir: PathBuf,
    pub tiers: Vec<Vec<String>>,
    pub peers: PeerBook,
    pub tracker: Option<TrackerLink>,
    pub started: Instant,
    pub closing: bool,
}

impl Pending {
    /// A magnet link's torrent: named by its `dn`, or its hash.
    pub fn new(
        id: TorrentId,
        info_hash: InfoHash,
        name: Option<String>,
        save_dir: PathBuf,
        trackers: &[String],
        now: Instant,
    ) -> Pending {
        Pending {
            id,
            info_hash,
            name: name.unwrap_or_else(|| hex(&info_hash)),
            save_dir,
            // Each `tr` a tier of its own, in order (BEP 9 says nothing
            // more; BEP 12 order then tries them one after another).
            tiers: trackers.iter().map(|t| vec![t.clone()]).collect(),
            peers: PeerBook::default(),
            tracker: None,
            started: now,
            closing: false,
        }
    }

    /// The first announce.
    pub fn announce(&self, peer_id: PeerId, port: u16, numwant: u32) -> AnnounceRequest {
        AnnounceRequest {
            info_hash: self.info_hash,
            peer_id,
            port,
            uploaded: 0,
            downloaded: 0,
            left: UNKNOWN_LEFT,
            event: AnnounceEvent::Started,
            numwant: Some(numwant),
            key: None,
            ip: None,
            compact: true,
            tracker_id: None,
        }
    }

    /// Its figures: nothing known yet but the peers asked.
    pub fn status(&self, peers: u32) -> TorrentStatus {
        TorrentStatus {
            id: self.id,
            info_hash: self.info_hash,
            name: self.name.clone(),
            state: TorrentState::Metadata,
            total_bytes: 0,
            have_bytes: 0,
            pieces_have: 0,
            pieces_total: 0,
            downloaded: 0,
            uploaded: 0,
            download_rate: 0,
            upload_rate: 0,
            peers,
            seeds: 0,
        }
    }
}
