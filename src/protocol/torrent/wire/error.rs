//! Why a peer's bytes were refused. Every variant is a reason to close the
//! connection (a [`WireError`]), ban the sender (a [`MetadataError`] that
//! says so) or refuse one request (a [`RequestError`]).

use std::fmt;

use crate::protocol::torrent::bencode::BencodeError;
use crate::protocol::torrent::pieces::PiecesError;

/// The peer wire stream cannot go on: close the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The handshake's first byte is not 19.
    BadProtocolLength(u8),
    /// The handshake does not name "BitTorrent protocol".
    BadProtocol,
    /// The stream ended inside a handshake or a message.
    Truncated {
        /// Bytes of the unfinished handshake or message that had arrived.
        buffered: usize,
    },
    /// A length prefix larger than any message may be (checked before the
    /// message is read, so nothing of it is buffered).
    Oversize {
        /// The message id, when it had arrived (`None`: judged on the
        /// length alone, against the largest message of any kind).
        id: Option<u8>,
        /// The length prefix.
        len: u32,
        /// The most that kind of message may have.
        max: u32,
    },
    /// A message of fixed size with another length (a `have` of 6 bytes).
    WrongLength {
        /// The message id.
        id: u8,
        /// The length prefix.
        len: u32,
        /// The length that message has.
        expected: u32,
    },
    /// A message id this codec does not know.
    UnknownMessage(u8),
    /// A bitfield that does not fit the torrent (wrong length, spare bits).
    Bitfield(PiecesError),
    /// A `piece` message with more data than a `u32` can say (encoding).
    TooLong(usize),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::BadProtocolLength(n) => {
                write!(f, "peer wire: handshake protocol length {n}, not 19")
            }
            WireError::BadProtocol => {
                write!(f, "peer wire: handshake is not \"BitTorrent protocol\"")
            }
            WireError::Truncated { buffered } => {
                write!(
                    f,
                    "peer wire: stream ended inside a message ({buffered} bytes)"
                )
            }
            WireError::Oversize { id, len, max } => match id {
                Some(id) => write!(f, "peer wire: message {id} of {len} bytes, max {max}"),
                None => write!(f, "peer wire: length prefix {len}, max {max}"),
            },
            WireError::WrongLength { id, len, expected } => write!(
                f,
                "peer wire: message {id} of {len} bytes, it has {expected}"
            ),
            WireError::UnknownMessage(id) => write!(f, "peer wire: unknown message id {id}"),
            WireError::Bitfield(e) => write!(f, "peer wire: {e}"),
            WireError::TooLong(n) => write!(f, "peer wire: {n} bytes is too long for a message"),
        }
    }
}

impl std::error::Error for WireError {}

impl From<PiecesError> for WireError {
    fn from(e: PiecesError) -> Self {
        WireError::Bitfield(e)
    }
}

/// Why a `request` is refused (the connection may go on, with a BEP 6
/// `reject` where the peer speaks the fast extension).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// Longer than we serve.
    TooLong {
        /// The length asked for.
        len: u32,
        /// The most we serve.
        max: u32,
    },
    /// Not wholly inside one piece of the torrent, or empty.
    OutsideTorrent,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::TooLong { len, max } => {
                write!(f, "request of {len} bytes, max {max}")
            }
            RequestError::OutsideTorrent => write!(f, "request outside the torrent"),
        }
    }
}

impl std::error::Error for RequestError {}

/// A BEP 10 extension handshake that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExtError {
    /// The payload is not bencode.
    Bencode(BencodeError),
    /// The payload is not a dictionary.
    NotADictionary,
    /// A key we read holds the wrong kind of value.
    WrongType {
        /// The key (`m.<name>` for an entry of `m`).
        field: &'static str,
        /// What it should hold.
        expected: &'static str,
    },
    /// A key we read holds a value out of range.
    OutOfRange(&'static str),
}

impl fmt::Display for ExtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtError::Bencode(e) => write!(f, "extension handshake: {e}"),
            ExtError::NotADictionary => write!(f, "extension handshake: not a dictionary"),
            ExtError::WrongType { field, expected } => {
                write!(f, "extension handshake: `{field}` is not {expected}")
            }
            ExtError::OutOfRange(field) => {
                write!(f, "extension handshake: `{field}` out of range")
            }
        }
    }
}

impl std::error::Error for ExtError {}

impl From<BencodeError> for ExtError {
    fn from(e: BencodeError) -> Self {
        ExtError::Bencode(e)
    }
}

/// A `ut_metadata` message, or what it brought, refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetadataError {
    /// The dictionary is not bencode.
    Bencode(BencodeError),
    /// The payload does not start with a dictionary.
    NotADictionary,
    /// A key is missing or holds the wrong kind of value.
    BadField(&'static str),
    /// A request or reject with bytes after its dictionary.
    TrailingBytes,
    /// A metadata size of zero or over the limit we accept.
    BadSize {
        /// The size the peer said.
        size: u64,
        /// The most we accept.
        max: u32,
    },
    /// A data message whose `total_size` is not the size being fetched.
    WrongTotalSize {
        /// The size being fetched.
        expected: u32,
        /// The size the message said.
        got: u64,
    },
    /// A piece index past the metadata's end.
    PieceOutOfRange(u32),
    /// A data piece of the wrong length for its index.
    WrongPieceLength {
        /// The piece.
        piece: u32,
        /// Its length.
        expected: usize,
        /// The length that came.
        got: usize,
    },
    /// The whole metadata does not hash to the info-hash: the assembler was
    /// reset, and whoever sent its pieces may be banned.
    HashMismatch,
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataError::Bencode(e) => write!(f, "ut_metadata: {e}"),
            MetadataError::NotADictionary => write!(f, "ut_metadata: not a dictionary"),
            MetadataError::BadField(k) => write!(f, "ut_metadata: `{k}` missing or malformed"),
            MetadataError::TrailingBytes => write!(f, "ut_metadata: bytes after the dictionary"),
            MetadataError::BadSize { size, max } => {
                write!(f, "ut_metadata: metadata size {size} (1 to {max} accepted)")
            }
            MetadataError::WrongTotalSize { expected, got } => {
                write!(f, "ut_metadata: total_size {got}, expected {expected}")
            }
            MetadataError::PieceOutOfRange(p) => write!(f, "ut_metadata: no piece {p}"),
            MetadataError::WrongPieceLength {
                piece,
                expected,
                got,
            } => write!(
                f,
                "ut_metadata: piece {piece} of {got} bytes, expected {expected}"
            ),
            MetadataError::HashMismatch => {
                write!(f, "ut_metadata: metadata does not match the info-hash")
            }
        }
    }
}

impl std::error::Error for MetadataError {}

impl From<BencodeError> for MetadataError {
    fn from(e: BencodeError) -> Self {
        MetadataError::Bencode(e)
    }
}
