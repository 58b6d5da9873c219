//! Bencode, BitTorrent's serialisation: integers `i42e`, byte strings
//! `4:spam`, lists `l...e` and dictionaries `d...e` with byte-string keys.
//!
//! [`decode`] reads a whole buffer into a [`Value`] that borrows from it
//! (byte strings are slices of the input, never copies). Two modes:
//!
//! * [`Mode::Strict`]: the canonical form BEP 3 asks for. Dictionary keys
//!   sorted bytewise and unique, integers without leading zeros or `-0`,
//!   string lengths without leading zeros. What `bendy` (the design card's
//!   bencode crate) accepts, and what the differential tests check it
//!   against.
//! * [`Mode::Lenient`] (the default for files from the wild): unsorted
//!   dictionaries and leading zeros are read as written. Duplicate keys are
//!   still an error in both modes: two readers could pick different values.
//!
//! [`Limits`] bound the nesting depth and the number of values, so hostile
//! input (a 10,000-deep list, a 2 GiB length prefix) is a typed
//! [`BencodeError`] with the byte offset where it was found, never a stack
//! overflow or a huge allocation: a string's length is checked against the
//! bytes that are really there before anything is read.
//!
//! A dictionary keeps its raw bytes as found ([`Dict::raw`]): the info-hash
//! of a torrent is the SHA-1 of the info dictionary's bytes in the file,
//! never of a re-encoding (which would differ for an unsorted file).
//!
//! Encoding: [`Owned`] builds values whose dictionaries are `BTreeMap`s and
//! so always come out canonical; [`encode::int`] and [`encode::bytes`]
//! write single items into a buffer for hot paths (tracker replies).
//!
//! Decoding and encoding are our own code rather than `bendy`'s: `bendy`
//! rejects unsorted keys, cannot read a prefix of a buffer (the `ut_metadata`
//! extension message carries data after its dictionary) and reports no byte
//! offsets. `bendy` is the oracle in the tests and the fuzz target instead
//! (`tests/torrent_bencode_oracle.rs`, `fuzz/src/torrent.rs`): on every
//! input, strict mode and `bendy` accept the same and read the same values.
//! What `bendy` itself does differently (it ignores bytes after a value when
//! asked through `FromBencode`, and its `Value` declares nesting depth 0) is
//! written down in `fuzz/src/torrent.rs` and pinned by a test.
//!
//! # Example
//!
//! ```
//! use kamaelia::protocol::torrent::bencode::{decode, Owned};
//!
//! let v = decode(b"d3:cow3:moo4:spaml1:a1:bee").unwrap();
//! let d = v.as_dict().unwrap();
//! assert_eq!(d.get(b"cow").and_then(|v| v.as_str()), Some("moo"));
//! assert_eq!(d.get(b"spam").and_then(|v| v.as_list()).map(|l| l.len()), Some(2));
//! assert_eq!(d.raw(), &b"d3:cow3:moo4:spaml1:a1:bee"[..]);
//!
//! let mut o = Owned::dict();
//! o.insert("b", 1);
//! o.insert("a", "x");
//! assert_eq!(o.encode(), b"d1:a1:x1:bi1ee");
//! ```

mod decode;
pub mod encode;
mod value;

pub use decode::{decode, decode_prefix, decode_strict, decode_with};
pub use encode::Owned;
pub use value::{Dict, Value};

use std::fmt;

/// How strictly [`decode_with`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Canonical bencode only (sorted unique keys, canonical numbers).
    Strict,
    /// Real-world files: unsorted keys and leading zeros accepted.
    #[default]
    Lenient,
}

/// Bounds on what one decode may build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of lists and dictionaries (default 64; the decoder
    /// recurses once per level, so keep this in the hundreds at most).
    pub max_depth: usize,
    /// Most values (integers, strings, lists, dictionaries, keys not
    /// counted) in one decode (default 4,000,000).
    pub max_items: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 64,
            max_items: 4_000_000,
        }
    }
}

/// What went wrong, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BencodeError {
    /// Byte offset in the input where the problem was found.
    pub offset: usize,
    /// The problem.
    pub kind: ErrorKind,
}

/// The kinds of [`BencodeError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input ended inside a value.
    UnexpectedEnd,
    /// A byte that cannot start or continue a value here.
    UnexpectedByte(u8),
    /// An integer or length with no digits, or a stray sign.
    BadNumber,
    /// An integer outside `i64`, or a length outside `usize`.
    NumberOverflow,
    /// A string's length prefix runs past the end of the input.
    LengthBeyondInput,
    /// Nesting deeper than [`Limits::max_depth`].
    TooDeep,
    /// More values than [`Limits::max_items`].
    TooManyItems,
    /// A dictionary key that is not a byte string.
    KeyNotString,
    /// The same key twice in one dictionary.
    DuplicateKey,
    /// Strict mode: a key not after the one before it.
    UnsortedKeys,
    /// Strict mode: a leading zero or `-0`.
    NonCanonicalNumber,
    /// Bytes after the value in a whole-buffer decode.
    TrailingBytes,
}

impl fmt::Display for BencodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::UnexpectedEnd => "input ends inside a value".to_string(),
            ErrorKind::UnexpectedByte(b) => format!("unexpected byte 0x{b:02x}"),
            ErrorKind::BadNumber => "malformed number".to_string(),
            ErrorKind::NumberOverflow => "number too large".to_string(),
            ErrorKind::LengthBeyondInput => "string length runs past the input".to_string(),
            ErrorKind::TooDeep => "nesting too deep".to_string(),
            ErrorKind::TooManyItems => "too many values".to_string(),
            ErrorKind::KeyNotString => "dictionary key is not a string".to_string(),
            ErrorKind::DuplicateKey => "duplicate dictionary key".to_string(),
            ErrorKind::UnsortedKeys => "dictionary keys not sorted".to_string(),
            ErrorKind::NonCanonicalNumber => "non-canonical number".to_string(),
            ErrorKind::TrailingBytes => "bytes after the value".to_string(),
        };
        write!(f, "bencode: {what} at byte {}", self.offset)
    }
}

impl std::error::Error for BencodeError {}
