//! Metainfo: what a .torrent file says (BEP 3), read and written.
//!
//! [`Metainfo::from_bytes`] decodes the file leniently (real files have
//! unsorted keys) and checks every field it keeps; anything wrong is a
//! [`MetainfoError`] naming the field, never a panic. What it reads:
//!
//! * the info-hash: SHA-1 of the info dictionary's bytes *as found in the
//!   file* (never of a re-encoding, which differs for an unsorted file);
//! * `name`, `piece length`, `pieces` (20-byte SHA-1s; their count must be
//!   the total length divided by the piece length, rounded up);
//! * one file (`length`) or several (`files`: `length` and `path` each; the
//!   offset of each in the torrent's byte stream is computed), BEP 47
//!   padding files marked;
//! * `private` (BEP 27), `announce` and `announce-list` (tiers, BEP 12),
//!   `url-list` (web seeds, BEP 19: one string or a list), `creation date`,
//!   `comment`, `created by`, `encoding`;
//! * paths checked as [`paths`](self) says: no `..`, nothing absolute, no
//!   empty or NUL components, no separators inside a component, no two
//!   files on one place (exactly, or but for letter case);
//! * v1 only: a hybrid file (`meta version` 2 with `pieces`) is read for
//!   its v1 part, a v2-only one is [`MetainfoError::V2Only`].
//!
//! Names that are not UTF-8 are read from their `.utf-8` twin when there
//! is one, else refused ([`MetainfoError::NotUtf8`]); `comment` and the
//! like are only shown, so they are read lossily.
//!
//! [`Metainfo::to_bytes`] writes a file back: the info dictionary's raw
//! bytes untouched (so the info-hash stays), the other fields from what
//! was read (keys the reader does not know, such as `nodes`, are dropped).
//! [`MetainfoBuilder`] makes a new one from scratch.
//!
//! # Example
//!
//! ```
//! use kamaelia::protocol::torrent::metainfo::{Metainfo, MetainfoBuilder};
//!
//! let bytes = MetainfoBuilder::single_file("a.txt", 5, 16384, vec![[7; 20]])
//!     .announce("http://127.0.0.1:6969/announce")
//!     .build()
//!     .unwrap()
//!     .to_bytes();
//! let m = Metainfo::from_bytes(&bytes).unwrap();
//! assert_eq!(m.name(), "a.txt");
//! assert_eq!(m.total_length(), 5);
//! assert_eq!(m.piece_count(), 1);
//! assert!(m.magnet().to_string().starts_with("magnet:?xt=urn:btih:"));
//! ```

mod build;
mod error;
mod from_info;
mod parse;
mod paths;

pub use build::MetainfoBuilder;
pub use error::MetainfoError;

use super::bencode::encode;
use super::magnet::Magnet;
use super::tracker::InfoHash;

/// One file of a torrent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// The components of its path, the torrent's `name` first (for a
    /// single-file torrent, just the name). Each one checked: safe to join
    /// under a download folder.
    pub path: Vec<String>,
    /// Its length in bytes.
    pub length: u64,
    /// Where it starts in the torrent's byte stream (the files one after
    /// another, as the pieces hash them).
    pub offset: u64,
    /// A BEP 47 padding file (`attr` has `p`): zeros, never written.
    pub padding: bool,
}

/// A parsed .torrent file. See the [module documentation](self).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metainfo {
    info_hash: InfoHash,
    name: String,
    piece_length: u64,
    pieces: Vec<[u8; 20]>,
    files: Vec<FileEntry>,
    single_file: bool,
    private: bool,
    hybrid: bool,
    announce: Option<String>,
    announce_list: Vec<Vec<String>>,
    url_list: Vec<String>,
    creation_date: Option<i64>,
    comment: Option<String>,
    created_by: Option<String>,
    encoding: Option<String>,
    raw_info: Vec<u8>,
}

impl Metainfo {
    /// Reads a .torrent file. See the [module documentation](self).
    pub fn from_bytes(buf: &[u8]) -> Result<Metainfo, MetainfoError> {
        parse::from_bytes(buf)
    }

    /// The file again: the info dictionary's raw bytes as read, the other
    /// fields from this value, keys sorted.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode_file(
            &self.raw_info,
            &Outer {
                announce: self.announce.as_deref(),
                announce_list: &self.announce_list,
                url_list: &self.url_list,
                creation_date: self.creation_date,
                comment: self.comment.as_deref(),
                created_by: self.created_by.as_deref(),
                encoding: self.encoding.as_deref(),
            },
        )
    }

    /// SHA-1 of the info dictionary's bytes as found in the file.
    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }

    /// The info-hash in lower-case hex (40 characters).
    pub fn info_hash_hex(&self) -> String {
        hex(&self.info_hash)
    }

    /// `info.name`: the file's name, or the folder's for several files.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `info.piece length` (non-zero).
    pub fn piece_length(&self) -> u64 {
        self.piece_length
    }

    /// The pieces' SHA-1s, in order.
    pub fn pieces(&self) -> &[[u8; 20]] {
        &self.pieces
    }

    /// How many pieces.
    pub fn piece_count(&self) -> usize {
        self.pieces.len()
    }

    /// The files, in the torrent's order (one for a single-file torrent).
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// Whether this is a single-file torrent (`info.length`).
    pub fn is_single_file(&self) -> bool {
        self.single_file
    }

    /// The sum of the files' lengths.
    pub fn total_length(&self) -> u64 {
        self.files.iter().map(|f| f.length).sum()
    }

    /// `info.private` is 1 (BEP 27: trackers only, no DHT or PEX).
    pub fn is_private(&self) -> bool {
        self.private
    }

    /// A hybrid v1/v2 file, of which the v1 part was read.
    pub fn is_hybrid(&self) -> bool {
        self.hybrid
    }

    /// `announce`.
    pub fn announce(&self) -> Option<&str> {
        self.announce.as_deref()
    }

    /// `announce-list`: tiers of tracker URLs (BEP 12), empty tiers dropped.
    pub fn announce_list(&self) -> &[Vec<String>] {
        &self.announce_list
    }

    /// The trackers to use, by tier: `announce-list` when it has any, else
    /// `announce` alone (BEP 12).
    pub fn tiers(&self) -> Vec<Vec<String>> {
        if !self.announce_list.is_empty() {
            self.announce_list.clone()
        } else {
            self.announce.iter().map(|a| vec![a.clone()]).collect()
        }
    }

    /// `url-list`: web seeds (BEP 19).
    pub fn url_list(&self) -> &[String] {
        &self.url_list
    }

    /// `creation date`, seconds since 1970.
    pub fn creation_date(&self) -> Option<i64> {
        self.creation_date
    }

    /// `comment`.
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// `created by`.
    pub fn created_by(&self) -> Option<&str> {
        self.created_by.as_deref()
    }

    /// `encoding`.
    pub fn encoding(&self) -> Option<&str> {
        self.encoding.as_deref()
    }

    /// The info dictionary's bytes as found in the file.
    pub fn raw_info(&self) -> &[u8] {
        &self.raw_info
    }

    /// A magnet link: info-hash, name, and every tracker once, by tier.
    pub fn magnet(&self) -> Magnet {
        let mut trackers: Vec<String> = Vec::new();
        for t in self.tiers().into_iter().flatten() {
            if !trackers.contains(&t) {
                trackers.push(t);
            }
        }
        Magnet {
            info_hash: self.info_hash,
            display_name: Some(self.name.clone()),
            trackers,
            peers: Vec::new(),
        }
    }
}

/// Lower-case hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// The fields outside the info dictionary.
struct Outer<'a> {
    announce: Option<&'a str>,
    announce_list: &'a [Vec<String>],
    url_list: &'a [String],
    creation_date: Option<i64>,
    comment: Option<&'a str>,
    created_by: Option<&'a str>,
    encoding: Option<&'a str>,
}

/// A whole file: `outer`'s fields and the info dictionary's bytes, keys in
/// bytewise order (written by hand: `Owned` cannot hold raw bytes).
fn encode_file(raw_info: &[u8], o: &Outer<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw_info.len() + 256);
    out.push(b'd');
    if let Some(a) = o.announce {
        encode::bytes(&mut out, b"announce");
        encode::bytes(&mut out, a.as_bytes());
    }
    if !o.announce_list.is_empty() {
        encode::bytes(&mut out, b"announce-list");
        out.push(b'l');
        for tier in o.announce_list {
            out.push(b'l');
            for u in tier {
                encode::bytes(&mut out, u.as_bytes());
            }
            out.push(b'e');
        }
        out.push(b'e');
    }
    if let Some(c) = o.comment {
        encode::bytes(&mut out, b"comment");
        encode::bytes(&mut out, c.as_bytes());
    }
    if let Some(c) = o.created_by {
        encode::bytes(&mut out, b"created by");
        encode::bytes(&mut out, c.as_bytes());
    }
    if let Some(d) = o.creation_date {
        encode::bytes(&mut out, b"creation date");
        encode::int(&mut out, d);
    }
    if let Some(e) = o.encoding {
        encode::bytes(&mut out, b"encoding");
        encode::bytes(&mut out, e.as_bytes());
    }
    encode::bytes(&mut out, b"info");
    out.extend_from_slice(raw_info);
    if !o.url_list.is_empty() {
        encode::bytes(&mut out, b"url-list");
        out.push(b'l');
        for u in o.url_list {
            encode::bytes(&mut out, u.as_bytes());
        }
        out.push(b'e');
    }
    out.push(b'e');
    out
}
