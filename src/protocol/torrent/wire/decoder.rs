//! The stream decoder: bytes in at any boundary, the handshake and then
//! messages out.
//!
//! Bytes land in one read buffer. A message whose bytes have all come is
//! taken off its front: small ones are read in place, and the payload of a
//! `piece`, `bitfield` or `extended` message is cut off as a `Bytes` that
//! shares the buffer (`split_to` + `freeze`: no copy). When the buffer is
//! full, it is taken back whole if every block cut from it has been
//! dropped, or a set-aside one whose blocks are all gone is used, so a
//! peer connection in steady state allocates nothing per block even when
//! the caller keeps blocks a while ([`Decoder::spare_buffers`] says how
//! long: by default a dozen blocks).
//!
//! A read is also cut to end where a message would end if the ones still
//! to come are whole 16 KiB blocks ([`Decoder::read_uninit_from`] and
//! [`Decoder::read_from`] alike): when the socket holds that much, as it
//! does while a peer sends fast, the buffer ends on a message boundary
//! and nothing is left over to move to the next one. Without this, the unfinished block at the end of nearly
//! every read (8 KiB on average) was copied into the next buffer.

use std::io;

use bytes::{Buf, Bytes, BytesMut};

use super::assembler::MAX_METADATA_SIZE;
use super::handshake::{Handshake, HANDSHAKE_LEN};
use super::message::{Message, MessageId, PIECE_HEADER_LEN};
use super::WireError;
use crate::protocol::torrent::pieces::{Bitfield, BlockRef, BLOCK_SIZE};
use crate::protocol::torrent::tracker::InfoHash;

/// The read buffer's size: room for four `piece` messages of a 16 KiB
/// block (with their 13-byte headers), so a read of this size can end on
/// a message boundary.
pub const DEFAULT_READ_CHUNK: usize = 4 * (PIECE_HEADER_LEN + BLOCK_SIZE as usize);

/// Read buffers kept aside by default while blocks cut from them are
/// still held.
pub const DEFAULT_SPARE_BUFFERS: usize = 4;

/// A source that reads into memory not yet initialised, as a socket's
/// `recv` does, so a reader need not zero its buffer before each read.
///
/// # Safety
///
/// `read_uninit` returning `Ok(n)` promises that `n <= buf.len()` and that
/// it has written the first `n` bytes of `buf`.
pub unsafe trait ReadUninit {
    /// Reads what has arrived into `buf`; `Ok(0)` is the end of the stream.
    fn read_uninit(&mut self, buf: &mut [std::mem::MaybeUninit<u8>]) -> io::Result<usize>;
}

/// What one connection's messages may be. See the [module
/// documentation](super) for why these defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest block a `piece` message may carry (default 16 KiB).
    pub max_block: u32,
    /// The most bytes an `extended` message may have after its length
    /// prefix (default 128 KiB).
    pub max_extended: u32,
    /// The torrent's piece count, once known: a bitfield must then be
    /// exactly its size with no spare bit set. `None` (a magnet link
    /// before the metadata came): any bitfield up to what an info
    /// dictionary of [`MAX_METADATA_SIZE`] could describe.
    pub piece_count: Option<u32>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_block: BLOCK_SIZE,
            max_extended: 128 * 1024,
            piece_count: None,
        }
    }
}

impl Limits {
    /// The most bytes a bitfield's payload may have.
    fn max_bitfield(&self) -> u32 {
        let pieces = self.piece_count.unwrap_or(MAX_METADATA_SIZE / 20);
        Bitfield::byte_len(pieces) as u32
    }

    /// The largest length prefix of any message.
    pub fn largest(&self) -> u32 {
        let piece = self.max_block.saturating_add(9);
        let bitfield = self.max_bitfield().saturating_add(1);
        piece.max(bitfield).max(self.max_extended).max(13)
    }

    /// Checks a length prefix against its message's id.
    fn check(&self, id: MessageId, len: u32) -> Result<(), WireError> {
        let raw = id as u8;
        if let Some(expected) = id.fixed_len() {
            if len != expected {
                return Err(WireError::WrongLength {
                    id: raw,
                    len,
                    expected,
                });
            }
            return Ok(());
        }
        let (min, max) = match id {
            MessageId::Piece => (9, self.max_block.saturating_add(9)),
            MessageId::Extended => (2, self.max_extended),
            _ => {
                let bytes = self.max_bitfield();
                if let Some(count) = self.piece_count {
                    if len - 1 != bytes {
                        let e = crate::protocol::torrent::pieces::PiecesError::BitfieldLength {
                            expected: Bitfield::byte_len(count),
                            got: (len - 1) as usize,
                        };
                        return Err(WireError::Bitfield(e));
                    }
                }
                (1, bytes.saturating_add(1))
            }
        };
        if len < min {
            return Err(WireError::WrongLength {
                id: raw,
                len,
                expected: min,
            });
        }
        if len > max {
            return Err(WireError::Oversize {
                id: Some(raw),
                len,
                max,
            });
        }
        Ok(())
    }
}

/// The stream decoder. See the module documentation.
///
/// An error is final: the decoder keeps returning it, and the connection
/// should be closed.
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    limits: Limits,
    chunk: usize,
    spare: Vec<BytesMut>,
    spares: usize,
    /// `buf` is a buffer made here, not the empty one it starts as.
    made: bool,
    /// The handshake is behind us: the buffer holds length-prefixed
    /// messages (reads are then planned to end on their boundaries).
    framed: bool,
    failed: Option<WireError>,
}

impl Decoder {
    /// A decoder with these limits and a [`DEFAULT_READ_CHUNK`] buffer.
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            buf: BytesMut::new(),
            limits,
            chunk: DEFAULT_READ_CHUNK,
            spare: Vec::new(),
            spares: DEFAULT_SPARE_BUFFERS,
            made: false,
            framed: false,
            failed: None,
        }
    }

    /// The read buffer's size (at least one largest message).
    pub fn read_chunk(mut self, bytes: usize) -> Decoder {
        self.chunk = bytes;
        self
    }

    /// How many read buffers to keep aside while the caller holds blocks
    /// cut from them (default [`DEFAULT_SPARE_BUFFERS`]). Reading allocates
    /// nothing while the blocks held fit in these and the current buffer,
    /// less one buffer's worth: with the defaults, up to 12 blocks of
    /// 16 KiB. A caller that keeps a whole piece until it is hashed wants
    /// `piece_length / read_chunk + 2`. Each kept buffer is memory the
    /// connection holds even when idle.
    pub fn spare_buffers(mut self, n: usize) -> Decoder {
        self.spares = n;
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The piece count is known now (the metadata came): bitfields from
    /// here on must fit it exactly.
    pub fn set_piece_count(&mut self, pieces: u32) {
        self.limits.piece_count = Some(pieces);
    }

    /// Bytes received and not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Appends bytes that arrived (dropped once the decoder has failed:
    /// nothing more will be decoded, so nothing more is kept).
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        self.make_room(bytes.len());
        self.buf.extend_from_slice(bytes);
    }

    /// Reads once from `r` (at most `max` bytes) straight into the
    /// buffer's spare room, which is not zero-filled first (a socket
    /// writes it: see [`ReadUninit`]); `Ok(0)` is the end of the stream.
    pub fn read_uninit_from(&mut self, r: &mut impl ReadUninit, max: usize) -> io::Result<usize> {
        let max = self.room_for_read(max);
        let start = self.buf.len();
        let room = &mut self.buf.spare_capacity_mut()[..max];
        let n = r.read_uninit(room)?;
        assert!(n <= max, "ReadUninit said {n} bytes of {max}");
        // SAFETY: `ReadUninit`'s contract: the first `n` bytes of the room
        // were written, and `n` is within it (checked above).
        unsafe { self.buf.set_len(start + n) };
        Ok(n)
    }

    /// Reads once from `r` (at most `max` bytes) straight into the buffer;
    /// `Ok(0)` is the end of the stream.
    pub fn read_from(&mut self, r: &mut impl io::Read, max: usize) -> io::Result<usize> {
        let room = self.room_for_read(max);
        let start = self.buf.len();
        // Zeroing the room costs a memset, not an allocation, and keeps
        // this free of unsafe code.
        self.buf.resize(start + room, 0);
        let got = r.read(&mut self.buf[start..]);
        let n = *got.as_ref().unwrap_or(&0);
        self.buf.truncate(start + n);
        got
    }

    /// Before either read: what a failed decoder held is dropped, room is
    /// made for `max`, and the answer is how much of it to read
    /// ([`planned`](Self::planned)).
    fn room_for_read(&mut self, max: usize) -> usize {
        if self.failed.is_some() {
            self.buf.clear();
        }
        self.make_room(max);
        self.planned(max)
    }

    /// Room for `want` more bytes: the buffer taken back whole when no
    /// block cut from it is alive, else a set-aside one that is free,
    /// else a new one (the bytes of the unfinished message moved over).
    fn make_room(&mut self, want: usize) {
        if self.buf.capacity() - self.buf.len() >= want {
            return;
        }
        let size = (self.buf.len() + want).max(self.chunk);
        if self.buf.try_reclaim(size - self.buf.len()) {
            return;
        }
        let free = self
            .spare
            .iter_mut()
            .position(|b| b.try_reclaim(size) && b.is_empty());
        let mut next = match free {
            Some(i) => self.spare.remove(i),
            None => BytesMut::with_capacity(size),
        };
        next.extend_from_slice(&self.buf);
        let mut old = std::mem::replace(&mut self.buf, next);
        old.clear();
        // The first buffer replaced is the empty one a decoder starts with.
        let was_made = std::mem::replace(&mut self.made, true);
        if was_made && self.spares > 0 {
            if self.spare.len() >= self.spares {
                // The oldest is let go: freed when its last block is.
                self.spare.remove(0);
            }
            self.spare.push(old);
        }
    }

    /// How much of `max` to read so that the read ends where a message
    /// would end if every message still to come is a `piece` of a whole
    /// block: `max` itself before the handshake is taken, when the length
    /// of the unfinished message is not in yet, when that message alone
    /// needs `max` or more, or when the cut would halve the read (more
    /// reads cost more than the copy they would save).
    fn planned(&self, max: usize) -> usize {
        if !self.framed {
            return max;
        }
        // Where the unfinished message starts: the caller decodes after
        // every read, so this is usually the front.
        let buf = &self.buf[..];
        let mut at = 0usize;
        let missing = loop {
            let Some(len) = length_prefix(&buf[at..]) else {
                if at < buf.len() {
                    return max; // a length prefix cut short
                }
                break 0;
            };
            let end = at.saturating_add(4).saturating_add(len as usize);
            if end > buf.len() {
                break end - buf.len();
            }
            at = end;
        };
        if missing >= max {
            return max;
        }
        let unit = PIECE_HEADER_LEN + self.limits.max_block as usize;
        let planned = missing + (max - missing) / unit * unit;
        if planned == 0 || planned < max / 2 {
            max
        } else {
            planned
        }
    }

    /// The info-hash of the peer's handshake once its first 48 bytes are
    /// in, before the rest (see [`Handshake::peek_info_hash`]).
    pub fn peek_info_hash(&self) -> Result<Option<InfoHash>, WireError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        Handshake::peek_info_hash(&self.buf)
    }

    /// Reads the peer's handshake from the front of the stream (call this
    /// until it gives one, then [`next`](Self::next)). A wrong protocol
    /// string fails as soon as its first wrong byte is in.
    pub fn take_handshake(&mut self) -> Result<Option<Handshake>, WireError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match Handshake::parse_prefix(&self.buf) {
            Ok(Some(hs)) => {
                self.buf.advance(HANDSHAKE_LEN);
                self.framed = true;
                Ok(Some(hs))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// The next whole message, `Ok(None)` until its bytes have all come.
    /// A length prefix over the limits fails as soon as it is in.
    #[allow(clippy::should_implement_trait)] // fallible: not an Iterator
    pub fn next(&mut self) -> Result<Option<Message>, WireError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.framed = true;
        let r = self.decode_one();
        if let Err(e) = &r {
            self.failed = Some(e.clone());
        }
        r
    }

    /// At the end of the stream: an error if it ended inside a handshake
    /// or a message (or the decoder had failed).
    pub fn finish(&self) -> Result<(), WireError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if !self.buf.is_empty() {
            return Err(WireError::Truncated {
                buffered: self.buf.len(),
            });
        }
        Ok(())
    }

    fn decode_one(&mut self) -> Result<Option<Message>, WireError> {
        let Some(len) = length_prefix(&self.buf) else {
            return Ok(None);
        };
        if len == 0 {
            self.buf.advance(4);
            return Ok(Some(Message::KeepAlive));
        }
        // Judged on the length alone first, so the error is the same
        // whether or not the id byte came with the prefix.
        let largest = self.limits.largest();
        if len > largest {
            return Err(WireError::Oversize {
                id: None,
                len,
                max: largest,
            });
        }
        let Some(&raw) = self.buf.get(4) else {
            return Ok(None);
        };
        let id = MessageId::from_u8(raw).ok_or(WireError::UnknownMessage(raw))?;
        self.limits.check(id, len)?;
        let total = 4 + len as usize;
        if self.buf.len() < total {
            return Ok(None);
        }
        self.buf.advance(5);
        let body = len as usize - 1;
        let msg = match id {
            MessageId::Choke => Message::Choke,
            MessageId::Unchoke => Message::Unchoke,
            MessageId::Interested => Message::Interested,
            MessageId::NotInterested => Message::NotInterested,
            MessageId::HaveAll => Message::HaveAll,
            MessageId::HaveNone => Message::HaveNone,
            MessageId::Have => Message::Have(self.buf.get_u32()),
            MessageId::Suggest => Message::Suggest(self.buf.get_u32()),
            MessageId::AllowedFast => Message::AllowedFast(self.buf.get_u32()),
            MessageId::Request => Message::Request(self.block()),
            MessageId::Cancel => Message::Cancel(self.block()),
            MessageId::Reject => Message::Reject(self.block()),
            MessageId::Port => Message::Port(self.buf.get_u16()),
            MessageId::Piece => {
                let piece = self.buf.get_u32();
                let offset = self.buf.get_u32();
                Message::Piece {
                    piece,
                    offset,
                    data: self.cut(body - 8),
                }
            }
            MessageId::Extended => {
                let ext = self.buf.get_u8();
                Message::Extended {
                    id: ext,
                    payload: self.cut(body - 1),
                }
            }
            MessageId::Bitfield => {
                let bits = self.cut(body);
                if let Some(count) = self.limits.piece_count {
                    // Once per connection, so the copy it makes is fine.
                    Bitfield::from_bytes(&bits, count)?;
                }
                Message::Bitfield(bits)
            }
        };
        Ok(Some(msg))
    }

    fn block(&mut self) -> BlockRef {
        BlockRef {
            piece: self.buf.get_u32(),
            offset: self.buf.get_u32(),
            len: self.buf.get_u32(),
        }
    }

    /// The next `n` bytes as a `Bytes` sharing the buffer.
    fn cut(&mut self, n: usize) -> Bytes {
        if n == 0 {
            return Bytes::new();
        }
        self.buf.split_to(n).freeze()
    }
}

/// The length prefix at the front of `bytes`, once its 4 bytes are in.
fn length_prefix(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::MaybeUninit;

    /// Writes its bytes a few at a time into whatever room it is given,
    /// touching nothing past what it reports.
    struct Trickle(Vec<u8>, usize);

    // SAFETY: it writes exactly the first `n` bytes it returns.
    unsafe impl ReadUninit for Trickle {
        fn read_uninit(&mut self, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            for (slot, b) in buf.iter_mut().zip(self.0.drain(..n)) {
                slot.write(b);
            }
            Ok(n)
        }
    }

    #[test]
    fn reads_into_uninitialised_room_decode_like_pushed_bytes() {
        let mut wire = BytesMut::new();
        Handshake::new([7; 20], [8; 20]).encode(&mut wire);
        crate::protocol::torrent::wire::encode(&Message::Have(3), &mut wire).unwrap();
        crate::protocol::torrent::wire::encode(&Message::Interested, &mut wire).unwrap();
        let mut d = Decoder::new(Limits::default());
        let mut src = Trickle(wire.to_vec(), 7);
        let mut got = 0;
        loop {
            let n = d.read_uninit_from(&mut src, 64).unwrap();
            if n == 0 {
                break;
            }
            got += n;
        }
        assert_eq!(got, wire.len());
        assert_eq!(d.take_handshake().unwrap().unwrap().info_hash, [7; 20]);
        assert_eq!(d.next().unwrap(), Some(Message::Have(3)));
        assert_eq!(d.next().unwrap(), Some(Message::Interested));
        assert_eq!(d.next().unwrap(), None);
    }

    fn piece(i: u32) -> Message {
        Message::Piece {
            piece: i,
            offset: 0,
            data: Bytes::from(vec![i as u8; BLOCK_SIZE as usize]),
        }
    }

    /// Reads of `max` from `src` until it is dry, decoding after each as
    /// a session does; every message in order, and what was left
    /// undecoded after each read.
    fn drain(d: &mut Decoder, src: &mut Trickle, max: usize) -> (Vec<Message>, Vec<usize>) {
        let (mut got, mut left) = (Vec::new(), Vec::new());
        while d.read_uninit_from(src, max).unwrap() > 0 {
            if !d.framed {
                d.take_handshake().unwrap().unwrap();
            }
            while let Some(m) = d.next().unwrap() {
                got.push(m);
            }
            left.push(d.buffered());
        }
        (got, left)
    }

    #[test]
    fn reads_of_a_fast_peer_end_on_message_boundaries() {
        let mut sent: Vec<Message> = (0..12).map(piece).collect();
        sent.insert(8, Message::Have(9));
        let mut wire = BytesMut::new();
        Handshake::new([7; 20], [8; 20]).encode(&mut wire);
        for m in &sent {
            crate::protocol::torrent::wire::encode(m, &mut wire).unwrap();
        }
        let mut d = Decoder::new(Limits::default());
        // A socket that always holds more than is asked for.
        let mut src = Trickle(wire.to_vec(), usize::MAX);
        let (got, left) = drain(&mut d, &mut src, DEFAULT_READ_CHUNK);
        assert_eq!(got, sent);
        // Read 1 takes the handshake and most of four blocks (not yet
        // framed: a whole chunk). Read 2 finishes the unfinished block and
        // takes three more whole. Read 3 takes four messages' length, but
        // a `have` (9 bytes) is among them: its last block is left over.
        // Read 4 takes the rest, which ends on a boundary.
        assert_eq!(left, [DEFAULT_READ_CHUNK - 68 - 3 * 16_397, 0, 16_388, 0]);
    }

    #[test]
    fn a_read_is_cut_only_where_it_keeps_most_of_its_length() {
        let mut wire = BytesMut::new();
        for i in 0..8 {
            crate::protocol::torrent::wire::encode(&piece(i), &mut wire).unwrap();
        }
        let mut d = Decoder::new(Limits::default());
        d.push(&wire[..100]);
        assert_eq!(d.next().unwrap(), None);
        let mut src = Trickle(wire[100..].to_vec(), usize::MAX);
        // 16,297 bytes finish the first block, then three whole messages.
        assert_eq!(
            d.read_uninit_from(&mut src, DEFAULT_READ_CHUNK).unwrap(),
            16_297 + 3 * 16_397
        );
        // Less than one message asked for (a rate limit): not cut to 0.
        assert_eq!(d.read_uninit_from(&mut src, 1_000).unwrap(), 1_000);
        // 20,000 asked: cut to finish the block begun (15,397).
        assert_eq!(d.read_uninit_from(&mut src, 20_000).unwrap(), 15_397);
        assert_eq!(d.read_uninit_from(&mut src, 16_300).unwrap(), 16_300);
        // 97 bytes would end the block begun, but cutting 16,000 to 97
        // would cost more reads than the copy it saves: read it all.
        assert_eq!(d.read_uninit_from(&mut src, 16_000).unwrap(), 16_000);
        let mut got = 0;
        while let Some(m) = d.next().unwrap() {
            assert_eq!(m, piece(got));
            got += 1;
        }
        assert_eq!(got, 6);
        assert_eq!(d.buffered(), 16_000 - 97);
    }

    #[test]
    fn a_zero_filled_read_is_cut_the_same_way() {
        let mut wire = BytesMut::new();
        for i in 0..8 {
            crate::protocol::torrent::wire::encode(&piece(i), &mut wire).unwrap();
        }
        let mut d = Decoder::new(Limits::default());
        d.push(&wire[..100]);
        assert_eq!(d.next().unwrap(), None);
        let mut src = &wire[100..];
        assert_eq!(
            d.read_from(&mut src, DEFAULT_READ_CHUNK).unwrap(),
            16_297 + 3 * 16_397
        );
        for i in 0..4 {
            assert_eq!(d.next().unwrap(), Some(piece(i)));
        }
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn a_hostile_length_prefix_does_not_steer_the_read() {
        let mut d = Decoder::new(Limits::default());
        d.push(&[0xff, 0xff, 0xff, 0xff]);
        d.framed = true;
        assert_eq!(d.planned(DEFAULT_READ_CHUNK), DEFAULT_READ_CHUNK);
        assert!(matches!(d.next(), Err(WireError::Oversize { .. })));
    }
}
