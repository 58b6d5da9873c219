//! BEP 9 `ut_metadata` messages: a bencoded dictionary (`msg_type` 0
//! request, 1 data, 2 reject; `piece`; `total_size` in data) and, in a
//! data message, the piece's bytes after the dictionary.

use bytes::{BufMut, Bytes, BytesMut};

use super::message::MessageId;
use super::{MetadataError, WireError};
use crate::protocol::torrent::bencode::{decode_prefix, encode, Limits, Mode};

/// The size of every metadata piece but the last.
pub const METADATA_PIECE_SIZE: usize = 16 * 1024;

/// One `ut_metadata` message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetadataMsg {
    /// Send me this piece.
    Request {
        /// The piece.
        piece: u32,
    },
    /// A piece.
    Data {
        /// The piece.
        piece: u32,
        /// The whole metadata's size, as the sender says.
        total_size: u64,
        /// The piece's bytes (a slice of the message: not copied).
        data: Bytes,
    },
    /// I will not send this piece.
    Reject {
        /// The piece.
        piece: u32,
    },
}

impl MetadataMsg {
    /// The message's `piece`.
    pub fn piece(&self) -> u32 {
        match self {
            MetadataMsg::Request { piece }
            | MetadataMsg::Reject { piece }
            | MetadataMsg::Data { piece, .. } => *piece,
        }
    }

    /// Reads an extended message's payload. `Ok(None)`: a `msg_type` this
    /// codec does not know, which BEP 9 says to ignore.
    pub fn parse(payload: &Bytes) -> Result<Option<MetadataMsg>, MetadataError> {
        let limits = Limits {
            max_depth: 4,
            max_items: 256,
        };
        let (value, used) = decode_prefix(payload, Mode::Lenient, &limits)?;
        let d = value.as_dict().ok_or(MetadataError::NotADictionary)?;
        let field = |key: &'static str| {
            d.get(key.as_bytes())
                .and_then(|v| v.as_int())
                .ok_or(MetadataError::BadField(key))
        };
        let msg_type = field("msg_type")?;
        let piece = u32::try_from(field("piece")?).map_err(|_| MetadataError::BadField("piece"))?;
        let rest = payload.len() - used;
        let msg = match msg_type {
            0 | 2 if rest > 0 => return Err(MetadataError::TrailingBytes),
            0 => MetadataMsg::Request { piece },
            2 => MetadataMsg::Reject { piece },
            1 => {
                let total_size = u64::try_from(field("total_size")?)
                    .map_err(|_| MetadataError::BadField("total_size"))?;
                if rest > METADATA_PIECE_SIZE {
                    return Err(MetadataError::WrongPieceLength {
                        piece,
                        expected: METADATA_PIECE_SIZE,
                        got: rest,
                    });
                }
                MetadataMsg::Data {
                    piece,
                    total_size,
                    data: payload.slice(used..),
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(msg))
    }

    /// The payload: the dictionary, and the data after it.
    fn dict(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48);
        let (msg_type, piece) = match self {
            MetadataMsg::Request { piece } => (0, piece),
            MetadataMsg::Data { piece, .. } => (1, piece),
            MetadataMsg::Reject { piece } => (2, piece),
        };
        out.push(b'd');
        encode::bytes(&mut out, b"msg_type");
        encode::int(&mut out, msg_type);
        encode::bytes(&mut out, b"piece");
        encode::int(&mut out, i64::from(*piece));
        if let MetadataMsg::Data { total_size, .. } = self {
            encode::bytes(&mut out, b"total_size");
            encode::int(&mut out, i64::try_from(*total_size).unwrap_or(i64::MAX));
        }
        out.push(b'e');
        out
    }
}

/// Appends `msg` as a whole peer-wire message: extended (20), the id the
/// receiver gave `ut_metadata` in its `m`, the dictionary, the data.
pub fn encode_metadata(msg: &MetadataMsg, ext_id: u8, out: &mut BytesMut) -> Result<(), WireError> {
    let dict = msg.dict();
    let data: &[u8] = match msg {
        MetadataMsg::Data { data, .. } => data,
        _ => &[],
    };
    let body = 2 + dict.len() + data.len();
    let len = u32::try_from(body).map_err(|_| WireError::TooLong(body))?;
    out.reserve(4 + body);
    out.put_u32(len);
    out.put_u8(MessageId::Extended as u8);
    out.put_u8(ext_id);
    out.put_slice(&dict);
    out.put_slice(data);
    Ok(())
}
