//! The peer's bytes: its handshake, then each message against the rules.

use std::io;
use std::time::Instant;

use bytes::Bytes;

use super::session::{PeerSession, MAX_ALLOWED_FAST};
use super::types::{DisconnectReason as D, PeerEvent, OUR_UT_METADATA_ID};
use crate::protocol::torrent::pieces::{Bitfield, BlockRef};
use crate::protocol::torrent::wire::{
    check_request, ExtHandshake, Handshake, Message, MessageId, MetadataMsg, ReadUninit, WireError,
    EXT_HANDSHAKE_ID,
};

impl PeerSession {
    /// Bytes from the peer, at `now`: decoded and acted on. Events and
    /// output follow; nothing is kept of bytes after a `Disconnect`.
    pub fn on_bytes(&mut self, bytes: &[u8], now: Instant) {
        if self.closed {
            return;
        }
        self.now = now;
        if !bytes.is_empty() {
            self.last_recv = now;
        }
        self.decoder.push(bytes);
        self.decode();
    }

    /// Reads once from `r` (at most `max` bytes) straight into the
    /// decoder's buffer, saving [`on_bytes`](Self::on_bytes)' copy, and
    /// acts on what came. `Ok(0)` is the end of the stream: call
    /// [`on_eof`](Self::on_eof). A closed session reads nothing.
    pub fn read_from(
        &mut self,
        r: &mut impl io::Read,
        max: usize,
        now: Instant,
    ) -> io::Result<usize> {
        if self.closed {
            return Ok(0);
        }
        self.now = now;
        let n = self.decoder.read_from(r, max)?;
        Ok(self.after_read(n, now))
    }

    /// As [`read_from`](Self::read_from), from a source that writes into
    /// memory not yet initialised (a socket): the read buffer is not
    /// zero-filled before each read.
    pub fn read_uninit_from(
        &mut self,
        r: &mut impl ReadUninit,
        max: usize,
        now: Instant,
    ) -> io::Result<usize> {
        if self.closed {
            return Ok(0);
        }
        self.now = now;
        let n = self.decoder.read_uninit_from(r, max)?;
        Ok(self.after_read(n, now))
    }

    /// `n` bytes were read at `now`: decoded and acted on.
    fn after_read(&mut self, n: usize, now: Instant) -> usize {
        if n > 0 {
            self.last_recv = now;
            self.decode();
        }
        n
    }

    fn decode(&mut self) {
        if self.peer_id.is_none() && !self.read_handshake() {
            return;
        }
        while !self.closed {
            match self.decoder.next() {
                Ok(Some(m)) => self.on_message(m),
                Ok(None) => break,
                Err(e) => self.close(D::Wire(e)),
            }
        }
    }

    /// The stream ended (the peer closed): a `Disconnect`, `PeerClosed`
    /// between messages or `Wire(Truncated)` inside one, if the session
    /// had not ended.
    pub fn on_eof(&mut self) {
        let reason = match self.decoder.finish() {
            Err(e) => D::Wire(e),
            Ok(()) => D::PeerClosed,
        };
        self.close(reason);
    }

    /// A bitfield (or have-all) after the first, or after haves (already
    /// counted one by one): aria2c sends its bitfield again as it gets
    /// pieces. What it adds is taken
    /// as haves; what it leaves out is ignored (a peer does not lose
    /// pieces, and the picker counts each piece of a peer once).
    fn merge(&mut self, b: &Bitfield) {
        for p in b.ones() {
            if self.peer_has.set(p) {
                self.events.push_back(PeerEvent::Have(p));
            }
        }
    }

    /// Whether the handshake is in (and right).
    fn read_handshake(&mut self) -> bool {
        // The info-hash is judged as soon as it is in.
        match self.decoder.peek_info_hash() {
            Ok(Some(h)) if h != self.info_hash => {
                self.close(D::WrongInfoHash);
                return false;
            }
            Err(e) => {
                self.close(D::Wire(e));
                return false;
            }
            _ => {}
        }
        match self.decoder.take_handshake() {
            Ok(Some(hs)) => self.on_handshake(hs),
            Ok(None) => false,
            Err(e) => {
                self.close(D::Wire(e));
                false
            }
        }
    }

    fn on_handshake(&mut self, hs: Handshake) -> bool {
        if hs.peer_id == self.our_id {
            self.close(D::OwnPeerId);
            return false;
        }
        self.peer_id = Some(hs.peer_id);
        self.fast = hs.supports_fast();
        self.extended = hs.supports_extensions();
        self.events.push_back(PeerEvent::HandshakeDone {
            peer_id: hs.peer_id,
            fast: self.fast,
            extended: self.extended,
        });
        // BEP 3: the bitfield first; then the extension handshake.
        let have = &self.our_have;
        let opening = if self.fast && have.is_full() && !have.is_empty() {
            Some(Message::HaveAll)
        } else if self.fast && have.count() == 0 {
            Some(Message::HaveNone)
        } else if have.count() > 0 {
            Some(Message::Bitfield(Bytes::copy_from_slice(have.as_bytes())))
        } else {
            None
        };
        if let Some(m) = opening {
            self.send(&m);
        }
        if self.extended {
            let ext = self.our_ext();
            let _ = ext.encode(self.out.tail_mut());
        }
        // What the owner said before the peer's handshake came.
        if !self.am_choking {
            self.send(&Message::Unchoke);
        }
        if self.am_interested {
            self.send(&Message::Interested);
        }
        !self.closed
    }

    fn on_message(&mut self, m: Message) {
        let id = m.id();
        if let Some(id) = id {
            if !self.negotiated(id) {
                return self.close(D::NotNegotiated(id as u8));
            }
        }
        let pieces = self.layout.piece_count();
        match m {
            Message::KeepAlive | Message::Port(_) => {}
            Message::Choke => {
                if !self.peer_choking {
                    self.peer_choking = true;
                    if !self.fast {
                        // BEP 3: a choke drops every pending request.
                        while let Some(b) = self.outstanding.pop_front() {
                            self.remember_cancelled(b);
                        }
                    }
                    self.events.push_back(PeerEvent::Choked);
                }
            }
            Message::Unchoke => {
                if self.peer_choking {
                    self.peer_choking = false;
                    self.progress_at = self.now;
                    self.timeout_at = self.now;
                    self.events.push_back(PeerEvent::Unchoked);
                }
            }
            Message::Interested | Message::NotInterested => {
                let yes = m == Message::Interested;
                if yes != self.peer_interested {
                    self.peer_interested = yes;
                    self.events.push_back(PeerEvent::Interest(yes));
                }
            }
            Message::Have(p) => {
                if p >= pieces {
                    return self.close(D::HaveOutOfRange(p));
                }
                if self.peer_has.set(p) {
                    self.events.push_back(PeerEvent::Have(p));
                }
            }
            Message::Bitfield(bits) => match Bitfield::from_bytes(&bits, pieces) {
                Ok(b) if self.announced || self.peer_has.count() > 0 => {
                    self.announced = true;
                    self.merge(&b);
                }
                Ok(b) => {
                    self.announced = true;
                    self.peer_has = b;
                    self.events.push_back(PeerEvent::Bitfield);
                }
                Err(e) => self.close(D::Wire(WireError::Bitfield(e))),
            },
            Message::HaveAll if self.announced || self.peer_has.count() > 0 => {
                self.announced = true;
                self.merge(&Bitfield::full(pieces));
            }
            Message::HaveAll => {
                self.announced = true;
                self.peer_has = Bitfield::full(pieces);
                self.events.push_back(PeerEvent::HaveAll);
            }
            Message::HaveNone if self.announced => {}
            Message::HaveNone => {
                self.announced = true;
                self.events.push_back(PeerEvent::HaveNone);
            }
            Message::Request(r) => self.on_request(r),
            Message::Piece {
                piece,
                offset,
                data,
            } => self.on_piece(piece, offset, data),
            Message::Cancel(r) => {
                let dropped = if let Some(i) = self.queued.iter().position(|q| *q == r) {
                    self.queued.remove(i)
                } else if let Some(i) = self.serving.iter().position(|q| *q == r) {
                    self.serving.remove(i)
                } else {
                    None
                };
                // BEP 6: a cancelled request is answered, by the block
                // (if it went already) or a reject.
                if dropped.is_some() && self.fast {
                    self.send(&Message::Reject(r));
                }
            }
            Message::Suggest(p) => {
                if p < pieces {
                    self.events.push_back(PeerEvent::Suggest(p));
                }
            }
            Message::Reject(r) => {
                if let Some(i) = self.outstanding.iter().position(|b| *b == r) {
                    self.outstanding.remove(i);
                    self.events.push_back(PeerEvent::Returned(r));
                } else if let Some(i) = self.cancelled.iter().position(|b| *b == r) {
                    // The answer to our cancel: that block will not come.
                    self.cancelled.remove(i);
                }
            }
            Message::AllowedFast(p) => {
                if p < pieces
                    && !self.allowed_in.contains(&p)
                    && self.allowed_in.len() < MAX_ALLOWED_FAST
                {
                    self.allowed_in.push(p);
                    self.events.push_back(PeerEvent::AllowedFast(p));
                }
            }
            Message::Extended { id, payload } => self.on_extended(id, payload),
        }
    }

    /// Whether a message of this id may come on this connection.
    fn negotiated(&self, id: MessageId) -> bool {
        use MessageId as M;
        match id {
            M::Suggest | M::HaveAll | M::HaveNone | M::Reject | M::AllowedFast => self.fast,
            M::Extended => self.extended,
            _ => true,
        }
    }

    fn on_request(&mut self, r: BlockRef) {
        if let Err(e) = check_request(&self.layout, &r, self.config.max_block) {
            return self.close(D::BadRequest(e));
        }
        if self.peer_requests() >= self.config.our_reqq as usize {
            return self.close(D::TooManyRequests);
        }
        let servable =
            self.our_have.get(r.piece) && (!self.am_choking || self.allowed_out.contains(&r.piece));
        if !servable {
            if self.fast {
                self.send(&Message::Reject(r));
                return;
            }
            let crossed = self.am_choking
                && self.choked_at.is_some_and(|t| {
                    self.now.saturating_duration_since(t) < self.config.choke_grace
                });
            if !crossed {
                self.unservable += 1;
                if self.unservable > self.config.max_unservable {
                    self.close(D::UnservableRequests);
                }
            }
            return;
        }
        if !self.queued.contains(&r) && !self.serving.contains(&r) {
            self.queued.push_back(r);
        }
    }

    fn on_piece(&mut self, piece: u32, offset: u32, data: Bytes) {
        let block = BlockRef {
            piece,
            offset,
            len: data.len() as u32,
        };
        if let Some(i) = self.outstanding.iter().position(|b| *b == block) {
            self.outstanding.remove(i);
            self.down.record(self.now, u64::from(block.len));
            self.progress_at = self.now;
            self.timeout_at = self.now;
            if self.snubbed {
                self.snubbed = false;
                self.events.push_back(PeerEvent::Snubbed(false));
            }
            self.grow_pipeline();
            self.events.push_back(PeerEvent::Block {
                block,
                data,
                late: false,
            });
        } else if let Some(i) = self.cancelled.iter().position(|b| *b == block) {
            self.cancelled.remove(i);
            self.down.record(self.now, u64::from(block.len));
            self.events.push_back(PeerEvent::Block {
                block,
                data,
                late: true,
            });
        } else {
            self.unsolicited += 1;
            if self.unsolicited > self.config.max_unsolicited {
                self.close(D::UnsolicitedPieces);
            }
        }
    }

    fn on_extended(&mut self, id: u8, payload: Bytes) {
        if id == EXT_HANDSHAKE_ID {
            match ExtHandshake::parse(&payload) {
                Ok(ext) => {
                    if let Some(q) = ext.reqq {
                        self.peer_reqq = q.max(1);
                        self.depth = self.depth.min(self.cap());
                    }
                    self.peer_ext = Some(ext);
                    self.events.push_back(PeerEvent::ExtHandshake);
                }
                Err(e) => self.close(D::BadExtHandshake(e)),
            }
        } else if id == OUR_UT_METADATA_ID && self.config.ut_metadata {
            match MetadataMsg::parse(&payload) {
                Ok(Some(msg)) => self.events.push_back(PeerEvent::Metadata(msg)),
                Ok(None) => {}
                Err(e) => self.close(D::BadMetadata(e)),
            }
        }
        // Other extensions (PEX, ...) are not spoken: ignored.
    }
}
