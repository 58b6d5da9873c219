//! The client's connections: accepting, dialling, reading and writing,
//! and what each peer event does to the torrent (picker, buffers, disk).

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};

use super::component::TorrentClient;
use super::conn::{read_greeting, Conn, Greeting, Stage, TransportReader, GREETING_LEN};
use super::messages::TorrentState;
use super::metafetch::{MetaFetch, MetaOutcome};
use crate::axon::Cx;
use crate::internet::Transport;
use crate::protocol::torrent::peer::{DisconnectReason, PeerConfig, PeerEvent, PeerSession};
use crate::protocol::torrent::pieces::{BlockRef, BLOCK_SIZE};
use crate::protocol::torrent::storage::{Added, DiskRequest};
use crate::protocol::torrent::swarm::{PeerKey, RateLimit};
use crate::protocol::torrent::wire::{serve_metadata, MetadataMsg, DEFAULT_READ_CHUNK};

/// Accepts taken in one step.
const ACCEPTS_PER_STEP: usize = 64;
/// Reads from one connection in one step before the others get a turn.
const READS_PER_STEP: usize = 16;
/// Bytes read at a time (four blocks and their headers).
const READ_SIZE: usize = DEFAULT_READ_CHUNK;
/// Slices of a session's output given to one vectored write: a block and
/// its header are two, so up to 32 blocks go in one `writev`.
const WRITE_SLICES: usize = 64;
/// Blocks asked of the disk for one peer at a time.
const READS_PER_PEER: u32 = 64;
/// The most bytes read from disk in one request for a peer's blocks.
const READ_RUN: u32 = 256 * 1024;
/// An accepted connection must name its torrent within this.
const GREETING_TIMEOUT: Duration = Duration::from_secs(10);

/// What serving a connection left it as.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Served {
    /// Waiting for readiness.
    Wait,
    /// More to read: serve again next step.
    Busy,
    /// To be closed.
    Close,
}

impl TorrentClient {
    /// Takes new connections; true if more may be waiting.
    pub(super) fn accept(&mut self, cx: &mut Cx) -> bool {
        for _ in 0..ACCEPTS_PER_STEP {
            let Some(acceptor) = self.acceptor.as_mut() else {
                return false;
            };
            let mut t = match acceptor.accept(cx) {
                Ok(Some(t)) => t,
                Ok(None) => return false,
                Err(e) => {
                    log::warn!("torrent client: accept failed: {e}");
                    cx.wake_after(Duration::from_millis(10));
                    return false;
                }
            };
            if self.open >= self.config.max_connections {
                continue; // dropped: closed
            }
            let Some(addr) = t.peer() else { continue };
            if let Err(e) = t.register(cx) {
                log::warn!("torrent client: connection not registered: {e}");
                continue;
            }
            let now = cx.now();
            let stage = Stage::Greeting {
                since: now,
                buf: [0; GREETING_LEN],
                len: 0,
            };
            self.insert_conn(t, addr, stage, usize::MAX, false, now);
        }
        true
    }

    fn insert_conn(
        &mut self,
        t: Box<dyn Transport>,
        addr: SocketAddr,
        stage: Stage,
        torrent: usize,
        magnet: bool,
        now: Instant,
    ) -> usize {
        let key = PeerKey(self.next_key);
        self.next_key = self.next_key.wrapping_add(1).max(1);
        let c = Conn {
            t,
            addr,
            stage,
            torrent,
            magnet,
            key,
            connected_at: now,
            last_block_at: None,
            greeted: false,
            counted: false,
            reading: 0,
        };
        self.open += 1;
        let slot = match self.free.pop() {
            Some(i) => {
                self.conns[i] = Some(c);
                i
            }
            None => {
                self.conns.push(Some(c));
                self.conns.len() - 1
            }
        };
        self.keys.insert(key.0, slot);
        let book = if magnet {
            self.pendings
                .get_mut(torrent)
                .and_then(Option::as_mut)
                .map(|p| &mut p.peers)
        } else {
            self.torrents
                .get_mut(torrent)
                .and_then(Option::as_mut)
                .map(|t| &mut t.peers)
        };
        if let Some(b) = book {
            b.conns.push(slot);
        }
        slot
    }

    /// Dials `addr` for the torrent in `slot` (of the magnet links
    /// waiting for metadata when `magnet`).
    pub(super) fn dial(&mut self, cx: &mut Cx, torrent: usize, magnet: bool, addr: SocketAddr) {
        let mut t = match (self.connector)(addr) {
            Ok(t) => t,
            Err(e) => {
                log::debug!("torrent client: dialling {addr} failed: {e}");
                return;
            }
        };
        if let Err(e) = t.register(cx) {
            log::warn!("torrent client: connection not registered: {e}");
            return;
        }
        let now = cx.now();
        self.insert_conn(
            t,
            addr,
            Stage::Connecting { since: now },
            torrent,
            magnet,
            now,
        );
    }

    /// A session for the torrent in `slot`, our handshake written.
    fn new_session(&self, torrent: usize, now: Instant) -> Option<Box<PeerSession>> {
        let t = self.torrents.get(torrent)?.as_ref()?;
        let config = PeerConfig {
            metadata_size: Some(t.info.len() as u64),
            ..self.config.peer.clone()
        };
        Some(Box::new(PeerSession::new(
            self.config.peer_id,
            t.info_hash,
            t.layout,
            t.picker.have().clone(),
            config,
            now,
        )))
    }

    /// Serves every connection; true if one has more to read.
    pub(super) fn serve_all(&mut self, cx: &mut Cx) -> bool {
        let mut busy = false;
        for slot in 0..self.conns.len() {
            let Some(mut c) = self.conns[slot].take() else {
                continue;
            };
            let served = self.serve(cx, slot, &mut c);
            self.conns[slot] = Some(c);
            match served {
                Served::Close => self.close_conn(cx, slot),
                Served::Busy => busy = true,
                Served::Wait => {}
            }
        }
        busy
    }

    /// Serves one connection (taken out of its slot meanwhile).
    fn serve(&mut self, cx: &mut Cx, slot: usize, c: &mut Conn) -> Served {
        let now = cx.now();
        match &mut c.stage {
            Stage::Connecting { since } => match c.t.poll_connect(cx) {
                Ok(true) if c.magnet => {
                    let Some(p) = self.pendings.get(c.torrent).and_then(Option::as_ref) else {
                        return Served::Close;
                    };
                    c.stage =
                        Stage::Meta(Box::new(MetaFetch::new(p.info_hash, self.config.peer_id)));
                    return self.serve_meta(cx, slot, c);
                }
                Ok(true) => match self.new_session(c.torrent, now) {
                    Some(s) => {
                        c.stage = Stage::Open(s);
                        c.note_round_trip();
                    }
                    None => return Served::Close,
                },
                Ok(false) if now.duration_since(*since) < self.config.connect_timeout => {
                    return Served::Wait
                }
                _ => return Served::Close,
            },
            Stage::Greeting { since, buf, len } => {
                if now.duration_since(*since) >= GREETING_TIMEOUT {
                    return Served::Close;
                }
                while *len < GREETING_LEN {
                    match c.t.read(cx, &mut buf[*len..]) {
                        Ok(0) => return Served::Close,
                        Ok(n) => *len += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Served::Wait,
                        Err(_) => return Served::Close,
                    }
                    if read_greeting(&buf[..*len]) == Greeting::NotBitTorrent {
                        return Served::Close;
                    }
                }
                let Greeting::For(hash) = read_greeting(&buf[..]) else {
                    return Served::Close;
                };
                let greeting = *buf;
                let Some(torrent) = self.torrents.iter().position(|t| {
                    t.as_ref().is_some_and(|t| {
                        t.info_hash == hash
                            && !t.closing
                            && matches!(t.state, TorrentState::Downloading | TorrentState::Seeding)
                    })
                }) else {
                    return Served::Close;
                };
                if self.torrents[torrent]
                    .as_ref()
                    .map_or(0, |t| t.peers.conns.len())
                    >= self.config.max_peers
                {
                    return Served::Close;
                }
                let Some(mut s) = self.new_session(torrent, now) else {
                    return Served::Close;
                };
                s.on_bytes(&greeting, now);
                c.stage = Stage::Open(s);
                c.note_round_trip();
                c.torrent = torrent;
                if let Some(t) = self.torrents[torrent].as_mut() {
                    t.peers.conns.push(slot);
                }
                self.on_events(cx, c);
            }
            Stage::Open(_) => {}
            Stage::Meta(_) => return self.serve_meta(cx, slot, c),
        }
        self.serve_open(cx, slot, c)
    }

    /// Reads, acts, asks, serves and writes for a connection talking
    /// BitTorrent.
    fn serve_open(&mut self, cx: &mut Cx, slot: usize, c: &mut Conn) -> Served {
        let mut served = Served::Wait;
        for reads in 0..=READS_PER_STEP {
            let Stage::Open(s) = &mut c.stage else {
                return Served::Close;
            };
            if s.is_closed() || !c.t.read_ready(cx) {
                break;
            }
            if reads == READS_PER_STEP {
                served = Served::Busy;
                break;
            }
            let now = cx.now();
            let Some(t) = self.torrents.get_mut(c.torrent).and_then(Option::as_mut) else {
                return Served::Close;
            };
            let limits = &mut [&mut self.down_limit, &mut t.down_limit];
            let max = READ_SIZE.min(
                limits
                    .iter_mut()
                    .map(|l| l.available(now))
                    .min()
                    .unwrap_or(0) as usize,
            );
            if max == 0 {
                // Past the rate: read again when the buckets allow a block.
                let at = RateLimit::ready_at_all(limits, now, u64::from(BLOCK_SIZE));
                self.limit_wake = Some(self.limit_wake.map_or(at, |w| w.min(at)));
                break;
            }
            let mut r = TransportReader {
                t: c.t.as_mut(),
                cx: &mut *cx,
            };
            match s.read_uninit_from(&mut r, max, now) {
                Ok(0) => s.on_eof(),
                Ok(n) => {
                    if let Some(t) = self.torrents.get_mut(c.torrent).and_then(Option::as_mut) {
                        RateLimit::take_all(
                            &mut [&mut self.down_limit, &mut t.down_limit],
                            now,
                            n as u64,
                        );
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => s.on_eof(),
            }
            self.on_events(cx, c);
        }
        self.on_events(cx, c);
        self.ask(c);
        self.upload(cx, slot, c);
        if !self.write_out(cx, c) {
            return Served::Close;
        }
        match c.session_ref() {
            Some(s) if s.is_closed() => Served::Close,
            Some(_) => served,
            None => Served::Close,
        }
    }

    /// Reads and writes for a connection asking for metadata; a
    /// dictionary that checks out is kept for the end of the step.
    fn serve_meta(&mut self, cx: &mut Cx, _slot: usize, c: &mut Conn) -> Served {
        let Stage::Meta(f) = &mut c.stage else {
            return Served::Close;
        };
        let mut served = Served::Wait;
        for reads in 0..=READS_PER_STEP {
            if f.outcome() != &MetaOutcome::Pending || !c.t.read_ready(cx) {
                break;
            }
            if reads == READS_PER_STEP {
                served = Served::Busy;
                break;
            }
            let mut r = TransportReader {
                t: c.t.as_mut(),
                cx: &mut *cx,
            };
            match f.read_from(&mut r, READ_SIZE) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    log::debug!("metadata from {}: {e}", c.addr);
                    return Served::Close;
                }
            }
        }
        while !f.output_mut().is_empty() {
            match c.t.write(cx, f.output_mut()) {
                Ok(0) => return Served::Close,
                Ok(n) => f.output_mut().advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return Served::Close,
            }
        }
        match f.outcome() {
            MetaOutcome::Pending => served,
            MetaOutcome::Done(info) => {
                c.greeted = true;
                self.fetched.push((c.torrent, info.clone()));
                Served::Close
            }
            MetaOutcome::Failed(why) => {
                log::debug!("metadata from {}: {why}", c.addr);
                Served::Close
            }
        }
    }

    /// Writes every connection's pending output (after work done outside
    /// `serve_all`, such as a rechoke); a socket that fails is closed.
    pub(super) fn flush_all(&mut self, cx: &mut Cx) {
        for slot in 0..self.conns.len() {
            let Some(mut c) = self.conns[slot].take() else {
                continue;
            };
            let pending = c.session_ref().is_some_and(|s| !s.output().is_empty());
            let ok = !pending || self.write_out(cx, &mut c);
            self.conns[slot] = Some(c);
            if !ok {
                self.close_conn(cx, slot);
            }
        }
    }

    /// Writes what the session has to send; false if the socket failed.
    pub(super) fn write_out(&mut self, cx: &mut Cx, c: &mut Conn) -> bool {
        let Stage::Open(s) = &mut c.stage else {
            return true;
        };
        while !s.output().is_empty() {
            let mut slices = [io::IoSlice::new(&[]); WRITE_SLICES];
            let n = s.output().slices(&mut slices);
            match c.t.write_vectored(cx, &slices[..n]) {
                Ok(0) => return false,
                Ok(n) => s.output_mut().advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(_) => return false,
            }
        }
        true
    }

    /// Acts on what the session says.
    pub(super) fn on_events(&mut self, cx: &mut Cx, c: &mut Conn) {
        let now = cx.now();
        let key = c.key;
        loop {
            let Stage::Open(s) = &mut c.stage else { return };
            let Some(ev) = s.poll_event() else { return };
            let Some(t) = self.torrents.get_mut(c.torrent).and_then(Option::as_mut) else {
                return;
            };
            match ev {
                PeerEvent::HandshakeDone { peer_id, .. } => {
                    c.greeted = true;
                    t.peers.greeted(c.addr);
                    // A second connection to the same peer (it dialled us
                    // as we dialled it): the newer one goes.
                    let dup = t.peers.conns.iter().any(|&o| {
                        self.conns[o].as_ref().is_some_and(|o| {
                            o.greeted && o.session_ref().and_then(|s| s.peer_id()) == Some(peer_id)
                        })
                    });
                    if dup || t.peers.is_banned_id(&peer_id) {
                        s.close_session();
                    }
                }
                PeerEvent::Bitfield => {
                    c.counted = t.picker.on_bitfield(key, s.peer_has()).is_ok();
                    self.after_availability(c);
                }
                PeerEvent::HaveAll => {
                    c.counted = t.picker.on_have_all(key).is_ok();
                    self.after_availability(c);
                }
                PeerEvent::HaveNone => {
                    c.counted = t.picker.on_have_none(key).is_ok();
                    self.after_availability(c);
                }
                PeerEvent::Have(p) => {
                    let _ = t.picker.on_have(key, p);
                    if t.state == TorrentState::Downloading && !t.picker.have().get(p) {
                        s.set_interested(true);
                    }
                }
                PeerEvent::Choked => {
                    if !s.is_fast() {
                        t.picker.on_peer_choked(key);
                    }
                }
                PeerEvent::Returned(b) => {
                    t.picker.on_request_cancelled(key, b);
                }
                PeerEvent::Block { block, data, .. } => {
                    c.last_block_at = Some(now);
                    self.on_block(c.torrent, key, block, data, now);
                }
                PeerEvent::Interest(true) => t.rechoke_soon = true,
                PeerEvent::Metadata(MetadataMsg::Request { piece }) => {
                    let info = t.info.clone();
                    s.send_metadata(&serve_metadata(&info, piece));
                }
                PeerEvent::Disconnect(reason) => {
                    log::debug!("torrent {}: peer {} gone: {reason}", t.id, c.addr);
                    if reason == DisconnectReason::BadData {
                        t.peers.ban(c.addr, s.peer_id());
                    }
                }
                PeerEvent::Unchoked
                | PeerEvent::ExtHandshake
                | PeerEvent::Interest(false)
                | PeerEvent::Snubbed(_)
                | PeerEvent::Suggest(_)
                | PeerEvent::AllowedFast(_)
                | PeerEvent::Metadata(_) => {}
            }
        }
    }

    /// The peer said what it has: are we interested; two seeds part.
    fn after_availability(&mut self, c: &mut Conn) {
        let Some(t) = self.torrents.get(c.torrent).and_then(Option::as_ref) else {
            return;
        };
        let Stage::Open(s) = &mut c.stage else { return };
        if t.picker.is_complete() && s.peer_has().is_full() {
            s.close_session();
            return;
        }
        let want = t.state == TorrentState::Downloading && t.picker.is_interesting(s.peer_has());
        s.set_interested(want);
    }

    /// A block came from `key`.
    fn on_block(
        &mut self,
        torrent: usize,
        key: PeerKey,
        block: BlockRef,
        data: Bytes,
        now: Instant,
    ) {
        let Some(t) = self.torrents.get_mut(torrent).and_then(Option::as_mut) else {
            return;
        };
        t.down.record(now, u64::from(block.len));
        self.cancels.clear();
        if t.picker
            .on_block_received(key, block, &mut self.cancels)
            .is_err()
        {
            return; // not wanted (had, or another peer's copy came first)
        }
        let added = t
            .buffers
            .start(block.piece)
            .and_then(|_| t.buffers.add(block.piece, block.offset, data));
        match added {
            Ok(Added::Complete(blocks)) => {
                t.backlog += u64::from(t.layout.piece_len(block.piece));
                t.recent.sent_to_disk(block.piece, &blocks);
                t.disk.send(DiskRequest::Piece {
                    piece: block.piece,
                    blocks,
                });
            }
            Ok(Added::Partial { .. }) => {}
            Err(e) => log::warn!("torrent {}: block {block:?} not kept: {e}", t.id),
        }
        let cancels = std::mem::take(&mut self.cancels);
        for k in &cancels {
            if let Some(s) = self.session_of(*k) {
                s.cancel(block);
            }
        }
        self.cancels = cancels;
    }

    /// The session of the connection named `key`, if it is open (and not
    /// the one being served).
    pub(super) fn session_of(&mut self, key: PeerKey) -> Option<&mut PeerSession> {
        let slot = *self.keys.get(&key.0)?;
        self.conns.get_mut(slot)?.as_mut()?.session()
    }

    /// Requests blocks while the peer's pipeline and the disk have room.
    fn ask(&mut self, c: &mut Conn) {
        let budget = self.config.max_buffered;
        let room_for = self.config.max_pieces_in_flight;
        let Some(t) = self.torrents.get_mut(c.torrent).and_then(Option::as_mut) else {
            return;
        };
        let Stage::Open(s) = &mut c.stage else { return };
        if !t.wants_blocks(budget) {
            return;
        }
        // Never more new pieces than the buffers can start.
        let room = room_for.saturating_sub(t.picker.active_pieces());
        let n = s.wants_requests().min(room);
        if n == 0 {
            return;
        }
        self.picked.clear();
        t.picker.pick_into(c.key, s.peer_has(), n, &mut self.picked);
        let took = s.request(&self.picked);
        for b in &self.picked[took..] {
            t.picker.on_request_cancelled(c.key, *b);
        }
        if s.wants_requests() == 0 || !self.picked.is_empty() {
            return;
        }
        // Nothing to pick from this peer now.
        if !t.picker.is_interesting(s.peer_has()) {
            s.set_interested(false);
        }
    }

    /// Asks the disk for the blocks the peer requested. Requests for
    /// consecutive whole blocks of one piece (as a downloader asks, in
    /// order) go as one read of up to [`READ_RUN`] bytes: one message to
    /// the disk thread and back, and one wake, for many blocks.
    fn upload(&mut self, cx: &mut Cx, slot: usize, c: &mut Conn) {
        let Some(t) = self.torrents.get_mut(c.torrent).and_then(Option::as_mut) else {
            return;
        };
        let Stage::Open(s) = &mut c.stage else { return };
        let now = cx.now();
        let mut run: Option<BlockRef> = None;
        while c.reading < READS_PER_PEER {
            let limits = &mut [&mut self.up_limit, &mut t.up_limit];
            if limits
                .iter_mut()
                .any(|l| l.available(now) < u64::from(BLOCK_SIZE))
            {
                // Past the rate: serve again when the buckets allow a block.
                let at = RateLimit::ready_at_all(limits, now, u64::from(BLOCK_SIZE));
                self.limit_wake = Some(self.limit_wake.map_or(at, |w| w.min(at)));
                break;
            }
            let Some(r) = s.pop_upload() else { break };
            RateLimit::take_all(limits, now, u64::from(r.len));
            if let Some(data) = t.recent.block(&r) {
                // Verified lately: served from memory, no disk read.
                if s.send_block_bytes(r, data) {
                    t.up.record(now, u64::from(r.len));
                }
                continue;
            }
            c.reading += 1;
            match run.as_mut() {
                Some(x) if extends(x, &r, t.layout.piece_len(r.piece)) => x.len += r.len,
                _ => {
                    if let Some(x) = run.replace(r) {
                        t.disk.send(DiskRequest::Read(x));
                        t.reads.push_back((slot, c.key));
                    }
                }
            }
        }
        if let Some(x) = run {
            t.disk.send(DiskRequest::Read(x));
            t.reads.push_back((slot, c.key));
        }
    }

    /// Closes the connection in `slot`: the picker forgets the peer.
    pub(super) fn close_conn(&mut self, cx: &mut Cx, slot: usize) {
        let Some(mut c) = self.conns.get_mut(slot).and_then(Option::take) else {
            return;
        };
        c.t.deregister(cx);
        self.free.push(slot);
        self.open -= 1;
        self.keys.remove(&c.key.0);
        if c.magnet {
            if let Some(p) = self.pendings.get_mut(c.torrent).and_then(Option::as_mut) {
                p.peers.gone(slot, c.addr, c.greeted, p.closing);
            }
            return;
        }
        let Some(t) = self.torrents.get_mut(c.torrent).and_then(Option::as_mut) else {
            return;
        };
        t.peers.gone(slot, c.addr, c.greeted, t.closing);
        if let Some(s) = c.session() {
            let had = s.peer_has().clone();
            t.picker.on_peer_gone(c.key, &had);
        }
        t.rechoke_soon = true;
    }
}

/// Whether `next` continues the run `run` of whole, aligned blocks: the
/// next block of the same piece, itself whole (or the piece's last), and
/// the run not past [`READ_RUN`]. Such a run splits back into its blocks
/// exactly: 16 KiB each from its start, the last what is left.
fn extends(run: &BlockRef, next: &BlockRef, piece_len: u32) -> bool {
    run.offset % BLOCK_SIZE == 0
        && run.len % BLOCK_SIZE == 0
        && next.piece == run.piece
        && next.offset == run.offset + run.len
        && (next.len == BLOCK_SIZE || next.offset + next.len == piece_len)
        && run.len + next.len <= READ_RUN
}

/// The blocks of a run read for a peer: 16 KiB each from its start, the
/// last what is left (a single block of any size is itself).
pub(super) fn run_blocks(run: BlockRef) -> impl Iterator<Item = BlockRef> {
    let end = run.offset + run.len;
    (run.offset..end)
        .step_by(BLOCK_SIZE as usize)
        .map(move |offset| BlockRef {
            piece: run.piece,
            offset,
            len: (end - offset).min(BLOCK_SIZE),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(piece: u32, offset: u32, len: u32) -> BlockRef {
        BlockRef { piece, offset, len }
    }

    #[test]
    fn runs_take_whole_consecutive_blocks_and_split_back_exactly() {
        let k = BLOCK_SIZE;
        let piece_len = 3 * k + 100;
        assert!(extends(&b(0, 0, k), &b(0, k, k), piece_len));
        assert!(extends(&b(0, 0, 2 * k), &b(0, 2 * k, k), piece_len));
        // The piece's short last block ends a run.
        assert!(extends(&b(0, 0, 3 * k), &b(0, 3 * k, 100), piece_len));
        // Not: another piece, a gap, a short block mid-piece, a run
        // already holding a short block, past the run's size.
        assert!(!extends(&b(0, 0, k), &b(1, k, k), piece_len));
        assert!(!extends(&b(0, 0, k), &b(0, 2 * k, k), piece_len));
        assert!(!extends(&b(0, 0, k), &b(0, k, 100), piece_len));
        assert!(!extends(&b(0, 0, 100), &b(0, 100, k), piece_len));
        assert!(!extends(
            &b(0, 0, READ_RUN),
            &b(0, READ_RUN, k),
            2 * READ_RUN
        ));
        let split: Vec<_> = run_blocks(b(2, k, 2 * k + 100)).collect();
        assert_eq!(split, vec![b(2, k, k), b(2, 2 * k, k), b(2, 3 * k, 100)]);
        assert_eq!(
            run_blocks(b(5, 100, 8192)).collect::<Vec<_>>(),
            vec![b(5, 100, 8192)]
        );
    }
}
