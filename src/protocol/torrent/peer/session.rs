//! The session's state, what the owner asks of it, and what it says back.
//! Reading the peer's bytes is in `incoming.rs`, the timers and the
//! pipeline's depth in `timers.rs`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};

use super::out_queue::OutQueue;
use super::timers::blocks_in;
use super::types::{DisconnectReason, PeerConfig, PeerEvent};
use crate::protocol::torrent::pieces::{Bitfield, BlockRef, Layout, BLOCK_SIZE};
use crate::protocol::torrent::swarm::RateMeter;
use crate::protocol::torrent::tracker::{InfoHash, PeerId};
use crate::protocol::torrent::wire::{
    encode, encode_metadata, encode_piece_header, Decoder, ExtHandshake, Handshake, Limits,
    Message, MetadataMsg, DEFAULT_READ_CHUNK,
};

/// Most allowed-fast pieces kept from one peer (BEP 6 suggests 10).
pub(super) const MAX_ALLOWED_FAST: usize = 64;

/// One peer connection's protocol state. See the [module documentation](super).
#[derive(Debug)]
pub struct PeerSession {
    pub(super) config: PeerConfig,
    pub(super) our_id: PeerId,
    pub(super) info_hash: InfoHash,
    pub(super) layout: Layout,
    pub(super) decoder: Decoder,
    pub(super) out: OutQueue,
    pub(super) events: VecDeque<PeerEvent>,
    /// The latest time the owner gave.
    pub(super) now: Instant,
    pub(super) started: Instant,
    pub(super) last_recv: Instant,
    pub(super) last_sent: Instant,
    pub(super) peer_id: Option<PeerId>,
    pub(super) fast: bool,
    pub(super) extended: bool,
    pub(super) closed: bool,
    /// A bitfield, have-all or have-none came.
    pub(super) announced: bool,
    pub(super) our_have: Bitfield,
    pub(super) peer_has: Bitfield,
    pub(super) peer_ext: Option<ExtHandshake>,
    pub(super) peer_reqq: u32,
    pub(super) am_choking: bool,
    pub(super) am_interested: bool,
    pub(super) peer_choking: bool,
    pub(super) peer_interested: bool,
    pub(super) choked_at: Option<Instant>,
    /// Our requests the peer has not answered, oldest first.
    pub(super) outstanding: VecDeque<BlockRef>,
    /// Requests we withdrew lately (cancel, time-out, a choke without the
    /// fast extension): their blocks are taken as late, not unsolicited.
    pub(super) cancelled: VecDeque<BlockRef>,
    /// Requests kept in flight now (slow start up to the rate's worth).
    pub(super) depth: u32,
    /// The connection's round-trip time, when the owner knows it.
    pub(super) round_trip: Option<Duration>,
    pub(super) down: RateMeter,
    pub(super) up: RateMeter,
    /// The last block, or the time requests went out after none were.
    pub(super) progress_at: Instant,
    /// The last request time-out (they come one per `request_timeout`).
    pub(super) timeout_at: Instant,
    pub(super) snubbed: bool,
    pub(super) unsolicited: u32,
    pub(super) unservable: u32,
    /// Pieces the peer lets us request while choked.
    pub(super) allowed_in: Vec<u32>,
    /// Pieces we let the peer request while it is choked.
    pub(super) allowed_out: Vec<u32>,
    /// The peer's requests not yet handed to the owner.
    pub(super) queued: VecDeque<BlockRef>,
    /// The peer's requests handed to the owner, their blocks not yet sent.
    pub(super) serving: VecDeque<BlockRef>,
}

impl PeerSession {
    /// A session for a connection to or from a peer of torrent
    /// `info_hash` (of this `layout`), at `now`. Our handshake is written
    /// to the output at once; `our_have` is what we have (sent after the
    /// peer's handshake as a bitfield, have-all or have-none).
    pub fn new(
        our_id: PeerId,
        info_hash: InfoHash,
        layout: Layout,
        our_have: Bitfield,
        config: PeerConfig,
        now: Instant,
    ) -> PeerSession {
        let pieces = layout.piece_count();
        let limits = Limits {
            max_block: config.max_block,
            piece_count: Some(pieces),
            ..Limits::default()
        };
        // The owner keeps a piece's blocks until it is hashed: enough read
        // buffers set aside for one piece, at most 8 (512 KiB).
        let spares = (layout.piece_length() as usize / DEFAULT_READ_CHUNK + 2).min(8);
        let mut out = OutQueue::with_capacity(64 * 1024);
        Handshake::new(info_hash, our_id).encode(out.tail_mut());
        let ring = config.max_requests.max(1) as usize;
        let our_have = if our_have.len() == pieces {
            our_have
        } else {
            Bitfield::new(pieces)
        };
        let window = std::time::Duration::from_secs(4);
        PeerSession {
            decoder: Decoder::new(limits).spare_buffers(spares),
            out,
            events: VecDeque::with_capacity(64),
            now,
            started: now,
            last_recv: now,
            last_sent: now,
            peer_id: None,
            fast: false,
            extended: false,
            closed: false,
            announced: false,
            our_have,
            peer_has: Bitfield::new(pieces),
            peer_ext: None,
            peer_reqq: config.max_requests,
            am_choking: true,
            am_interested: false,
            peer_choking: true,
            peer_interested: false,
            choked_at: None,
            outstanding: VecDeque::with_capacity(ring),
            cancelled: VecDeque::with_capacity(ring),
            depth: config.initial_requests.max(1),
            round_trip: None,
            down: RateMeter::new(window, 20, now),
            up: RateMeter::new(window, 20, now),
            progress_at: now,
            timeout_at: now,
            snubbed: false,
            unsolicited: 0,
            unservable: 0,
            allowed_in: Vec::new(),
            allowed_out: Vec::new(),
            queued: VecDeque::with_capacity(config.our_reqq as usize),
            serving: VecDeque::with_capacity(config.our_reqq as usize),
            config,
            our_id,
            info_hash,
            layout,
        }
    }

    // ---- what the owner reads ----

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<PeerEvent> {
        self.events.pop_front()
    }

    /// Bytes to send to the peer. Write what the socket takes (its
    /// [`slices`](OutQueue::slices), vectored) and
    /// [`advance`](OutQueue::advance) past it (or
    /// [`take_output`](Self::take_output)).
    pub fn output_mut(&mut self) -> &mut OutQueue {
        &mut self.out
    }

    /// Bytes to send to the peer, not yet taken.
    pub fn output(&self) -> &OutQueue {
        &self.out
    }

    /// All the bytes to send, taken out as one buffer (a copy only when
    /// blocks given as `Bytes` are queued).
    pub fn take_output(&mut self) -> BytesMut {
        self.out.take_all()
    }

    /// The peer's id, once its handshake came.
    pub fn peer_id(&self) -> Option<PeerId> {
        self.peer_id
    }

    /// Both sides speak the fast extension.
    pub fn is_fast(&self) -> bool {
        self.fast
    }

    /// Both sides speak the extension protocol.
    pub fn is_extended(&self) -> bool {
        self.extended
    }

    /// What the peer has (kept from its bitfield and haves).
    pub fn peer_has(&self) -> &Bitfield {
        &self.peer_has
    }

    /// What we have, as the peer was told.
    pub fn our_have(&self) -> &Bitfield {
        &self.our_have
    }

    /// The peer's extension handshake.
    pub fn peer_ext(&self) -> Option<&ExtHandshake> {
        self.peer_ext.as_ref()
    }

    /// The peer chokes us.
    pub fn is_choked(&self) -> bool {
        self.peer_choking
    }

    /// We choke the peer.
    pub fn am_choking(&self) -> bool {
        self.am_choking
    }

    /// We told the peer we are interested.
    pub fn am_interested(&self) -> bool {
        self.am_interested
    }

    /// The peer is interested in our data.
    pub fn peer_interested(&self) -> bool {
        self.peer_interested
    }

    /// No block for `snub_after` while requests were out.
    pub fn is_snubbed(&self) -> bool {
        self.snubbed
    }

    /// The session ended (a `Disconnect` event was queued).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Our requests in flight, oldest first.
    pub fn outstanding(&self) -> impl Iterator<Item = &BlockRef> {
        self.outstanding.iter()
    }

    /// How many of our requests are in flight.
    pub fn outstanding_len(&self) -> usize {
        self.outstanding.len()
    }

    /// The connection's round-trip time (the owner reads it from the
    /// socket: `Transport::round_trip`); under `near_round_trip`, the
    /// pipeline is capped at `near_max_requests`.
    pub fn set_round_trip(&mut self, rtt: Duration) {
        self.round_trip = Some(rtt);
    }

    /// Requests kept in flight now (the pipeline's depth).
    pub fn pipeline_depth(&self) -> u32 {
        self.depth
    }

    /// The peer's requests waiting for us (queued and being served).
    pub fn peer_requests(&self) -> usize {
        self.queued.len() + self.serving.len()
    }

    /// Bytes a second of blocks from the peer over the last seconds.
    pub fn download_rate(&self, now: Instant) -> u64 {
        self.down.rate(now)
    }

    /// Bytes a second of blocks to the peer over the last seconds.
    pub fn upload_rate(&self, now: Instant) -> u64 {
        self.up.rate(now)
    }

    /// The pieces the peer lets us request while choked.
    pub fn allowed_fast(&self) -> &[u32] {
        &self.allowed_in
    }

    /// Bytes buffered by the decoder (a message not yet whole).
    pub fn buffered(&self) -> usize {
        self.decoder.buffered()
    }

    // ---- what the owner does ----

    /// Tells the peer whether we want its data.
    pub fn set_interested(&mut self, yes: bool) {
        if self.closed || yes == self.am_interested {
            return;
        }
        self.am_interested = yes;
        if self.peer_id.is_none() {
            return; // said after the opening messages
        }
        let m = if yes {
            Message::Interested
        } else {
            Message::NotInterested
        };
        self.send(&m);
    }

    /// Requests these blocks (picked for this peer). Takes them in order
    /// while it can and returns how many it took: a block the peer lacks,
    /// one outside the torrent or already out, one of a piece not allowed
    /// fast while the peer chokes us, or the pipeline's cap ends the run;
    /// the rest go back to the picker.
    pub fn request(&mut self, blocks: &[BlockRef]) -> usize {
        if self.closed || self.peer_id.is_none() {
            return 0;
        }
        let cap = self.cap() as usize;
        let mut taken = 0;
        for b in blocks {
            let ok = self.layout.contains(b)
                && b.len <= self.config.max_block
                && self.peer_has.get(b.piece)
                && (!self.peer_choking || self.allowed_in.contains(&b.piece))
                && self.outstanding.len() < cap
                && !self.outstanding.contains(b);
            if !ok {
                break;
            }
            if self.outstanding.is_empty() {
                self.progress_at = self.now;
                self.timeout_at = self.now;
            }
            if let Some(i) = self.cancelled.iter().position(|c| c == b) {
                self.cancelled.remove(i);
            }
            self.outstanding.push_back(*b);
            self.send(&Message::Request(*b));
            taken += 1;
        }
        taken
    }

    /// Withdraws a request (endgame: another peer sent the block). Its
    /// block, if it comes anyway, is a `late` one. Returns whether it was out.
    pub fn cancel(&mut self, block: BlockRef) -> bool {
        let Some(i) = self.outstanding.iter().position(|b| *b == block) else {
            return false;
        };
        self.outstanding.remove(i);
        self.remember_cancelled(block);
        self.send(&Message::Cancel(block));
        true
    }

    /// Chokes the peer: its requests are dropped (with a BEP 6 `reject`
    /// each when it speaks the fast extension), but for allowed-fast pieces.
    pub fn choke(&mut self) {
        if self.closed || self.am_choking {
            return;
        }
        self.am_choking = true;
        self.choked_at = Some(self.now);
        if self.peer_id.is_none() {
            return; // nothing was said yet, nothing asked
        }
        self.send(&Message::Choke);
        for list in [0, 1] {
            let mut i = 0;
            loop {
                let q = if list == 0 {
                    &mut self.queued
                } else {
                    &mut self.serving
                };
                let Some(&r) = q.get(i) else { break };
                if self.allowed_out.contains(&r.piece) {
                    i += 1;
                    continue;
                }
                q.remove(i);
                if self.fast {
                    self.send(&Message::Reject(r));
                }
            }
        }
    }

    /// Unchokes the peer: its requests will be served.
    pub fn unchoke(&mut self) {
        if self.closed || !self.am_choking {
            return;
        }
        self.am_choking = false;
        if self.peer_id.is_some() {
            self.send(&Message::Unchoke); // else after the opening messages
        }
    }

    /// Lets a fast peer request `piece` while choked (BEP 6 allowed-fast).
    /// Returns whether it was sent.
    pub fn allow_fast(&mut self, piece: u32) -> bool {
        if self.closed
            || !self.fast
            || piece >= self.layout.piece_count()
            || self.allowed_out.contains(&piece)
            || self.allowed_out.len() >= MAX_ALLOWED_FAST
        {
            return false;
        }
        self.allowed_out.push(piece);
        self.send(&Message::AllowedFast(piece));
        true
    }

    /// We have `piece` now (verified): the peer is told.
    pub fn send_have(&mut self, piece: u32) {
        if self.closed || !self.our_have.set(piece) {
            return;
        }
        if self.peer_id.is_some() {
            self.send(&Message::Have(piece));
        }
    }

    /// The next request of the peer's to serve: read the block and give
    /// it to [`send_block`](Self::send_block). `None` while the output
    /// holds `upload_window` bytes (counting blocks being read), so a peer
    /// that reads slowly gets no more than that ahead.
    pub fn pop_upload(&mut self) -> Option<BlockRef> {
        if self.closed {
            return None;
        }
        let ahead = self.out.len() + self.serving.len() * BLOCK_SIZE as usize;
        if ahead >= self.config.upload_window {
            return None;
        }
        let r = self.queued.pop_front()?;
        self.serving.push_back(r);
        Some(r)
    }

    /// Sends a block handed out by [`pop_upload`](Self::pop_upload),
    /// copying `data` into the output. Returns false (nothing sent) when
    /// the peer cancelled it or was choked meanwhile, or `data` is not the
    /// block's length.
    pub fn send_block(&mut self, block: BlockRef, data: &[u8]) -> bool {
        if !self.take_serving(block, data.len()) {
            return false;
        }
        self.out.tail_mut().put_slice(data);
        self.block_sent(block);
        true
    }

    /// [`send_block`](Self::send_block) without the copy: `data` is queued
    /// as it is and written to the socket from where it lies.
    pub fn send_block_bytes(&mut self, block: BlockRef, data: Bytes) -> bool {
        if !self.take_serving(block, data.len()) {
            return false;
        }
        self.out.push_chunk(data);
        self.block_sent(block);
        true
    }

    /// Takes `block` off the blocks being served and queues its message's
    /// header; false if it is not being served or `len` is wrong.
    fn take_serving(&mut self, block: BlockRef, len: usize) -> bool {
        if self.closed || len != block.len as usize {
            return false;
        }
        let Some(i) = self.serving.iter().position(|b| *b == block) else {
            return false;
        };
        self.serving.remove(i);
        encode_piece_header(block.piece, block.offset, block.len, self.out.tail_mut());
        true
    }

    fn block_sent(&mut self, block: BlockRef) {
        self.up.record(self.now, u64::from(block.len));
        self.sent();
    }

    /// Sends a `ut_metadata` message, if the peer speaks it. Returns
    /// whether it was sent.
    pub fn send_metadata(&mut self, msg: &MetadataMsg) -> bool {
        let Some(id) = self.peer_ext.as_ref().and_then(|e| e.id_of("ut_metadata")) else {
            return false;
        };
        if self.closed || encode_metadata(msg, id, self.out.tail_mut()).is_err() {
            return false;
        }
        self.sent();
        true
    }

    /// A piece the peer sent failed its hash: it is dropped (`BadData`).
    pub fn ban(&mut self) {
        self.close(DisconnectReason::BadData);
    }

    /// Ends the session (`Closed`).
    pub fn close_session(&mut self) {
        self.close(DisconnectReason::Closed);
    }

    // ---- inner ----

    /// Ends the session with `reason`, once.
    pub(super) fn close(&mut self, reason: DisconnectReason) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.queued.clear();
        self.serving.clear();
        self.events.push_back(PeerEvent::Disconnect(reason));
    }

    pub(super) fn send(&mut self, m: &Message) {
        // Only a payload over 4 GiB fails to encode; ours never are.
        let _ = encode(m, self.out.tail_mut());
        self.sent();
    }

    fn sent(&mut self) {
        self.last_sent = self.now;
        if self.out.len() > self.config.max_output {
            self.close(DisconnectReason::NotReading);
        }
    }

    pub(super) fn remember_cancelled(&mut self, block: BlockRef) {
        if self.cancelled.len() == self.cancelled.capacity().max(1) {
            self.cancelled.pop_front();
        }
        self.cancelled.push_back(block);
    }

    /// The most requests in flight: `max_requests`, and never more than
    /// the peer's `reqq`; for a near peer, `near_max_requests` or
    /// `near_pipeline_time` of its rate, whichever is more.
    ///
    /// Why a near peer gets fewer: it answers in well under a millisecond,
    /// so a few milliseconds of its rate in flight keep it busy, while two
    /// seconds of its rate (hundreds of blocks on loopback) sit in both
    /// kernels' socket buffers and in our unfinished pieces, memory that
    /// costs CPU to go through. In the one-seed, four-downloader row (each
    /// peer near, about 64 MiB/s each), 250 requests per peer against this:
    /// 1.82 against 1.69 CPU seconds per GiB delivered, 1,134 against
    /// 1,215 MB/s (means of 8 alternating runs); seed to one at 1 GiB/s,
    /// where 4 ms of the rate is over 250 blocks, no change.
    pub(super) fn cap(&self) -> u32 {
        self.cap_at(self.down.rate(self.now))
    }

    /// [`cap`](Self::cap) with the peer's rate already read.
    pub(super) fn cap_at(&self, rate: u64) -> u32 {
        let near = self
            .round_trip
            .is_some_and(|rtt| rtt < self.config.near_round_trip);
        let max = if near {
            let want =
                blocks_in(rate, self.config.near_pipeline_time).max(self.config.near_max_requests);
            want.min(self.config.max_requests)
        } else {
            self.config.max_requests
        };
        max.min(self.peer_reqq).max(1)
    }

    /// Our extension handshake.
    pub(super) fn our_ext(&self) -> ExtHandshake {
        let mut ext = ExtHandshake {
            reqq: Some(self.config.our_reqq),
            v: Some(self.config.client_name.to_string()),
            metadata_size: self.config.metadata_size,
            ..ExtHandshake::default()
        };
        if self.config.ut_metadata {
            ext.m
                .insert("ut_metadata".into(), super::types::OUR_UT_METADATA_ID);
        }
        ext
    }
}
