//! The messages after the handshake (BEP 3, 6 and 10) and their encoding:
//! `<u32 length><u8 id><payload>`, a length of zero being a keep-alive.

use bytes::{BufMut, Bytes, BytesMut};

use super::{RequestError, WireError};
use crate::protocol::torrent::pieces::{BlockRef, Layout};

/// The message ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum MessageId {
    /// BEP 3.
    Choke = 0,
    /// BEP 3.
    Unchoke = 1,
    /// BEP 3.
    Interested = 2,
    /// BEP 3.
    NotInterested = 3,
    /// BEP 3.
    Have = 4,
    /// BEP 3.
    Bitfield = 5,
    /// BEP 3.
    Request = 6,
    /// BEP 3.
    Piece = 7,
    /// BEP 3.
    Cancel = 8,
    /// BEP 5 (DHT port; read, then ignored by a client without DHT).
    Port = 9,
    /// BEP 6.
    Suggest = 0x0d,
    /// BEP 6.
    HaveAll = 0x0e,
    /// BEP 6.
    HaveNone = 0x0f,
    /// BEP 6.
    Reject = 0x10,
    /// BEP 6.
    AllowedFast = 0x11,
    /// BEP 10.
    Extended = 20,
}

impl MessageId {
    /// The id for a byte, if it is one we know.
    pub fn from_u8(b: u8) -> Option<MessageId> {
        use MessageId::*;
        Some(match b {
            0 => Choke,
            1 => Unchoke,
            2 => Interested,
            3 => NotInterested,
            4 => Have,
            5 => Bitfield,
            6 => Request,
            7 => Piece,
            8 => Cancel,
            9 => Port,
            0x0d => Suggest,
            0x0e => HaveAll,
            0x0f => HaveNone,
            0x10 => Reject,
            0x11 => AllowedFast,
            20 => Extended,
            _ => return None,
        })
    }

    /// The length prefix a message of this id must have, for those of a
    /// fixed size (`None`: bitfield, piece, extended).
    pub fn fixed_len(self) -> Option<u32> {
        use MessageId::*;
        match self {
            Choke | Unchoke | Interested | NotInterested | HaveAll | HaveNone => Some(1),
            Have | Suggest | AllowedFast => Some(5),
            Request | Cancel | Reject => Some(13),
            Port => Some(3),
            Bitfield | Piece | Extended => None,
        }
    }
}

/// One message after the handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A length prefix of zero.
    KeepAlive,
    /// We will not answer your requests.
    Choke,
    /// We will.
    Unchoke,
    /// We want something you have.
    Interested,
    /// We do not.
    NotInterested,
    /// We have this piece now.
    Have(u32),
    /// The pieces we have, as sent (checked against the torrent by the
    /// decoder once it knows the piece count; see
    /// [`pieces::Bitfield::from_bytes`](crate::protocol::torrent::pieces::Bitfield::from_bytes)).
    Bitfield(Bytes),
    /// Send us this block.
    Request(BlockRef),
    /// A block: cut from the decoder's read buffer, not copied.
    Piece {
        /// The piece.
        piece: u32,
        /// The block's offset inside it.
        offset: u32,
        /// The block.
        data: Bytes,
    },
    /// We no longer want this block.
    Cancel(BlockRef),
    /// Our DHT port (BEP 5).
    Port(u16),
    /// You may want this piece (BEP 6).
    Suggest(u32),
    /// We have every piece (BEP 6).
    HaveAll,
    /// We have none (BEP 6).
    HaveNone,
    /// We will not send this block (BEP 6).
    Reject(BlockRef),
    /// You may request this piece while choked (BEP 6).
    AllowedFast(u32),
    /// An extension message (BEP 10): the extension's id (0: the extension
    /// handshake) and its payload.
    Extended {
        /// The id the receiver gave the extension in its `m` dictionary.
        id: u8,
        /// The rest of the message.
        payload: Bytes,
    },
}

impl Message {
    /// The id this message goes by (`None` for a keep-alive).
    pub fn id(&self) -> Option<MessageId> {
        use Message as M;
        Some(match self {
            M::KeepAlive => return None,
            M::Choke => MessageId::Choke,
            M::Unchoke => MessageId::Unchoke,
            M::Interested => MessageId::Interested,
            M::NotInterested => MessageId::NotInterested,
            M::Have(_) => MessageId::Have,
            M::Bitfield(_) => MessageId::Bitfield,
            M::Request(_) => MessageId::Request,
            M::Piece { .. } => MessageId::Piece,
            M::Cancel(_) => MessageId::Cancel,
            M::Port(_) => MessageId::Port,
            M::Suggest(_) => MessageId::Suggest,
            M::HaveAll => MessageId::HaveAll,
            M::HaveNone => MessageId::HaveNone,
            M::Reject(_) => MessageId::Reject,
            M::AllowedFast(_) => MessageId::AllowedFast,
            M::Extended { .. } => MessageId::Extended,
        })
    }

    /// The length prefix of this message (bytes after the prefix).
    pub fn wire_len(&self) -> usize {
        match self {
            Message::KeepAlive => 0,
            Message::Bitfield(b) => 1 + b.len(),
            Message::Piece { data, .. } => 9 + data.len(),
            Message::Extended { payload, .. } => 2 + payload.len(),
            other => other
                .id()
                .and_then(MessageId::fixed_len)
                .map_or(0, |n| n as usize),
        }
    }
}

/// Appends `msg` to `out`: one `reserve`, so nothing is allocated when
/// `out` has room (a caller that keeps its write buffer allocates nothing
/// per message). Only a payload over 4 GiB is refused.
pub fn encode(msg: &Message, out: &mut BytesMut) -> Result<(), WireError> {
    let len = msg.wire_len();
    let prefix = u32::try_from(len).map_err(|_| WireError::TooLong(len))?;
    out.reserve(4 + len);
    out.put_u32(prefix);
    let Some(id) = msg.id() else {
        return Ok(());
    };
    out.put_u8(id as u8);
    match msg {
        Message::Have(i) | Message::Suggest(i) | Message::AllowedFast(i) => out.put_u32(*i),
        Message::Request(r) | Message::Cancel(r) | Message::Reject(r) => {
            out.put_u32(r.piece);
            out.put_u32(r.offset);
            out.put_u32(r.len);
        }
        Message::Port(p) => out.put_u16(*p),
        Message::Bitfield(b) => out.put_slice(b),
        Message::Piece {
            piece,
            offset,
            data,
        } => {
            out.put_u32(*piece);
            out.put_u32(*offset);
            out.put_slice(data);
        }
        Message::Extended { id, payload } => {
            out.put_u8(*id);
            out.put_slice(payload);
        }
        _ => {}
    }
    Ok(())
}

/// A `piece` message's bytes before its block: length prefix, id, piece
/// index and offset.
pub(crate) const PIECE_HEADER_LEN: usize = 4 + 1 + 4 + 4;

/// Appends only the 13-byte head of a `piece` message carrying `len`
/// bytes, for a sender that writes the block itself (a vectored write from
/// the block's own buffer, so the block is never copied into `out`).
pub fn encode_piece_header(piece: u32, offset: u32, len: u32, out: &mut BytesMut) {
    out.reserve(PIECE_HEADER_LEN);
    out.put_u32(len.saturating_add(9));
    out.put_u8(MessageId::Piece as u8);
    out.put_u32(piece);
    out.put_u32(offset);
}

/// Whether we serve `r`: at most `max_block` bytes, wholly inside one
/// piece of the torrent (what [`Layout::contains`] says), not empty.
pub fn check_request(layout: &Layout, r: &BlockRef, max_block: u32) -> Result<(), RequestError> {
    if r.len > max_block {
        return Err(RequestError::TooLong {
            len: r.len,
            max: max_block,
        });
    }
    if !layout.contains(r) {
        return Err(RequestError::OutsideTorrent);
    }
    Ok(())
}
