//! One torrent of the client: its pieces, its picker and choker, its disk
//! worker and tracker announcer (children of the client, reached through
//! run-time boxes), the peers it knows of and its figures.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use super::messages::{TorrentId, TorrentState, TorrentStatus};
use super::recent::RecentPieces;
use crate::axon::{Full, Id, Inbox, Outbox, Signal};
use crate::protocol::torrent::metainfo::Metainfo;
use crate::protocol::torrent::pieces::Layout;
use crate::protocol::torrent::storage::{DiskEvent, DiskRequest, PieceBuffers};
use crate::protocol::torrent::swarm::{Choker, PeerKey, Picker, RateLimit, RateMeter};
use crate::protocol::torrent::tracker::tiers::AnnounceOutcome;
use crate::protocol::torrent::tracker::{AnnounceEvent, AnnounceRequest, InfoHash, PeerId};

/// The client's boxes to a torrent's disk worker.
pub(super) struct DiskLink {
    pub to: Outbox<DiskRequest>,
    pub from: Inbox<DiskEvent>,
    pub ctl: Outbox<Signal>,
    pub sig: Inbox<Signal>,
    /// Requests its full inbox refused, sent first when it has room.
    pub pending: VecDeque<DiskRequest>,
    /// The worker's id, once spawned.
    pub child: Option<Id>,
}

impl DiskLink {
    /// Sends `req` after those waiting; kept if the worker's inbox is full.
    pub fn send(&mut self, req: DiskRequest) {
        if !self.pending.is_empty() {
            self.pending.push_back(req);
            return;
        }
        if let Err(Full(req)) = self.to.send(req) {
            self.pending.push_back(req);
        }
    }

    /// Sends what waits while the worker takes it.
    pub fn flush(&mut self) {
        while let Some(req) = self.pending.pop_front() {
            if let Err(Full(req)) = self.to.send(req) {
                self.pending.push_front(req);
                return;
            }
        }
    }
}

/// The client's boxes to a torrent's tracker announcer.
pub(super) struct TrackerLink {
    pub to: Outbox<AnnounceRequest>,
    pub from: Inbox<AnnounceOutcome>,
    pub ctl: Outbox<Signal>,
    pub sig: Inbox<Signal>,
    /// The announcer's id, once spawned.
    pub child: Option<Id>,
}

/// A peer we dialled.
pub(super) struct Seen {
    /// When it was last dialled.
    pub at: Option<Instant>,
    /// Dials in a row that ended before its handshake.
    pub failures: u32,
}

/// A torrent's connections and the peers it may dial.
#[derive(Default)]
pub(super) struct PeerBook {
    /// Slots of its connections (from dialling on; accepted ones once
    /// their greeting named it).
    pub conns: Vec<usize>,
    /// Peers to dial, oldest first.
    pub candidates: VecDeque<SocketAddr>,
    /// The peers dialled: when, and how often in a row it failed.
    pub seen: HashMap<SocketAddr, Seen>,
    /// Peers that sent data failing its hash: never dialled again, and
    /// dropped if they connect (by their peer id).
    pub banned: Vec<(SocketAddr, PeerId)>,
}

impl PeerBook {
    /// Bans a peer that sent bad data.
    pub fn ban(&mut self, addr: SocketAddr, id: Option<PeerId>) {
        self.candidates.retain(|&a| a != addr);
        self.banned.push((addr, id.unwrap_or([0; 20])));
    }

    /// Whether this peer id was banned.
    pub fn is_banned_id(&self, id: &PeerId) -> bool {
        self.banned.iter().any(|(_, b)| b == id)
    }

    /// Adds peers to dial, skipping those known and ourselves.
    pub fn add(&mut self, addrs: impl IntoIterator<Item = SocketAddr>, own: Option<SocketAddr>) {
        for a in addrs {
            let banned = self.banned.iter().any(|(b, _)| *b == a);
            if banned || is_own(a, own) || self.candidates.contains(&a) {
                continue;
            }
            self.candidates.push_back(a);
        }
    }

    /// The next peer to dial now, if one is due: one dialled lately waits
    /// 1 s after a failure before its handshake, doubling up to `redial`.
    /// `connected(conns, addr)` tells a peer already connected among our
    /// connections' slots (it is dropped from the list).
    pub fn next_due(
        &mut self,
        now: Instant,
        redial: std::time::Duration,
        connected: impl Fn(&[usize], SocketAddr) -> bool,
    ) -> Option<SocketAddr> {
        for _ in 0..self.candidates.len() {
            let addr = self.candidates.pop_front()?;
            if connected(&self.conns, addr) {
                continue;
            }
            let seen = self.seen.entry(addr).or_insert(Seen {
                at: None,
                failures: 0,
            });
            if let Some(at) = seen.at {
                let doubling = seen.failures.saturating_sub(1).min(16);
                let wait = std::time::Duration::from_secs(1 << doubling).min(redial);
                if now.duration_since(at) < wait {
                    self.candidates.push_back(addr);
                    continue;
                }
            }
            seen.at = Some(now);
            return Some(addr);
        }
        None
    }

    /// A connection ended: a peer we dialled goes back on the list (its
    /// failures counted if it never said its handshake).
    pub fn gone(&mut self, slot: usize, addr: SocketAddr, greeted: bool, closing: bool) {
        self.conns.retain(|&s| s != slot);
        if let Some(seen) = self.seen.get_mut(&addr) {
            if !greeted {
                seen.failures += 1;
            }
            let banned = self.banned.iter().any(|(b, _)| *b == addr);
            if !closing && !banned && !self.candidates.contains(&addr) {
                self.candidates.push_back(addr);
            }
        }
    }

    /// Its handshake came: its failures are forgotten.
    pub fn greeted(&mut self, addr: SocketAddr) {
        if let Some(seen) = self.seen.get_mut(&addr) {
            seen.failures = 0;
        }
    }
}

/// Whether `a` is our own listening address (a tracker lists us too).
fn is_own(a: SocketAddr, own: Option<SocketAddr>) -> bool {
    let Some(own) = own else { return false };
    a == own || (a.port() == own.port() && own.ip().is_unspecified() && a.ip().is_loopback())
}

/// One torrent.
pub(super) struct Torrent {
    pub id: TorrentId,
    pub info_hash: InfoHash,
    pub meta: Metainfo,
    /// The info dictionary, served to peers that ask (BEP 9).
    pub info: Bytes,
    pub layout: Layout,
    pub picker: Picker,
    pub choker: Choker,
    pub buffers: PieceBuffers,
    pub state: TorrentState,
    pub disk: DiskLink,
    pub tracker: Option<TrackerLink>,
    /// Its connections and the peers it may dial.
    pub peers: PeerBook,
    pub down: RateMeter,
    pub up: RateMeter,
    /// Reads asked of the disk for uploads, in order: the connection's
    /// slot and key (the answers come in the same order).
    pub reads: VecDeque<(usize, PeerKey)>,
    /// Bytes of the pieces given to the disk, not yet answered.
    pub backlog: u64,
    /// The pieces verified last, served to peers from memory.
    pub recent: RecentPieces,
    /// This torrent's limits (rate 0: none), on top of the client's.
    pub up_limit: RateLimit,
    pub down_limit: RateLimit,
    /// `Complete` was said.
    pub complete_said: bool,
    /// Closing: waiting for its children to end.
    pub closing: bool,
    /// A peer became interested: rechoke at the end of this step rather
    /// than at the next period (a new downloader starts at once).
    pub rechoke_soon: bool,
}

impl Torrent {
    /// Bytes of the pieces verified.
    pub fn have_bytes(&self) -> u64 {
        let have = self.picker.have();
        if have.is_full() {
            return self.layout.total_len();
        }
        have.ones()
            .map(|p| u64::from(self.layout.piece_len(p)))
            .sum()
    }

    /// Bytes still wanted.
    pub fn left(&self) -> u64 {
        self.layout.total_len() - self.have_bytes()
    }

    /// The figures, for a status message.
    pub fn status(&self, now: Instant, peers: u32, seeds: u32) -> TorrentStatus {
        TorrentStatus {
            id: self.id,
            info_hash: self.info_hash,
            name: self.meta.name().to_string(),
            state: self.state,
            total_bytes: self.layout.total_len(),
            have_bytes: self.have_bytes(),
            pieces_have: self.picker.have().count(),
            pieces_total: self.layout.piece_count(),
            downloaded: self.down.total(),
            uploaded: self.up.total(),
            download_rate: self.down.rate(now),
            upload_rate: self.up.rate(now),
            peers,
            seeds,
        }
    }

    /// What is announced next: the figures now, with `event`.
    pub fn announce(
        &self,
        peer_id: [u8; 20],
        port: u16,
        numwant: u32,
        event: AnnounceEvent,
    ) -> AnnounceRequest {
        AnnounceRequest {
            info_hash: self.info_hash,
            peer_id,
            port,
            uploaded: self.up.total(),
            downloaded: self.down.total(),
            left: self.left(),
            event,
            numwant: Some(numwant),
            key: None,
            ip: None,
            compact: true,
            tracker_id: None,
        }
    }

    /// Tells the announcer the figures now (it announces them at its next
    /// turn; an event other than `None` at once).
    pub fn tell_tracker(&mut self, req: AnnounceRequest) {
        if let Some(t) = &self.tracker {
            let _ = t.to.send(req);
        }
    }

    /// Pieces in flight the picker may still start (the buffers' room).
    pub fn may_start_pieces(&self) -> bool {
        self.buffers.in_flight() < self.buffers.max_pieces()
    }

    /// Whether new blocks may be requested now: downloading, and the
    /// blocks held (pieces being collected, pieces waiting for the disk)
    /// under `budget` bytes.
    pub fn wants_blocks(&self, budget: u64) -> bool {
        self.state == TorrentState::Downloading
            && self.backlog + self.buffers.bytes_held() < budget
            && self.may_start_pieces()
    }

    /// The disk answered for `piece`: its bytes leave the backlog.
    pub fn written(&mut self, piece: u32) {
        let len = u64::from(self.layout.piece_len(piece));
        self.backlog = self.backlog.saturating_sub(len);
    }
}
