//! [`MetainfoError`]: why a .torrent was refused, naming the field.

use std::fmt;

use crate::protocol::torrent::bencode::BencodeError;

/// Why [`Metainfo::from_bytes`](super::Metainfo::from_bytes) refused a
/// file. Fields are named as in the file, `info.` for the info
/// dictionary's keys, `[i]` for the index of a list item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetainfoError {
    /// Not bencode (or past the decoder's limits), with the byte offset.
    Bencode(BencodeError),
    /// The file is not a dictionary.
    NotADictionary,
    /// A required field is missing.
    Missing(&'static str),
    /// A field holds the wrong kind of value.
    WrongType {
        /// The field.
        field: &'static str,
        /// What it should hold.
        expected: &'static str,
    },
    /// A field's value is out of range or malformed.
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A text field that is not UTF-8 (and has no `.utf-8` twin that is).
    NotUtf8(&'static str),
    /// A file path that could escape the download folder or cannot be
    /// written: `file` is the index in `info.files` (0 for `info.name`).
    BadPath {
        /// The file's index.
        file: usize,
        /// What is wrong with the path.
        reason: &'static str,
    },
    /// Two files that would be written to the same place: the same path,
    /// the same path but for letter case (`case_only`), or one file's path
    /// is a folder on another's.
    DuplicatePath {
        /// The earlier file's index in `info.files`.
        first: usize,
        /// The later file's index.
        second: usize,
        /// The paths differ, but only in letter case.
        case_only: bool,
    },
    /// A BitTorrent v2-only file (`meta version` 2, no `pieces`): only v1
    /// torrents (and the v1 part of hybrids) are read.
    V2Only,
}

impl fmt::Display for MetainfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetainfoError::Bencode(e) => write!(f, "metainfo: {e}"),
            MetainfoError::NotADictionary => write!(f, "metainfo: not a dictionary"),
            MetainfoError::Missing(field) => write!(f, "metainfo: missing `{field}`"),
            MetainfoError::WrongType { field, expected } => {
                write!(f, "metainfo: `{field}` is not {expected}")
            }
            MetainfoError::Invalid { field, reason } => {
                write!(f, "metainfo: `{field}`: {reason}")
            }
            MetainfoError::NotUtf8(field) => write!(f, "metainfo: `{field}` is not UTF-8"),
            MetainfoError::BadPath { file, reason } => {
                write!(f, "metainfo: path of file {file}: {reason}")
            }
            MetainfoError::DuplicatePath {
                first,
                second,
                case_only,
            } => {
                let how = if *case_only {
                    " (differing only in letter case)"
                } else {
                    ""
                };
                write!(f, "metainfo: files {first} and {second} collide{how}")
            }
            MetainfoError::V2Only => write!(
                f,
                "metainfo: a BitTorrent v2-only file (no v1 `pieces`); only v1 is supported"
            ),
        }
    }
}

impl std::error::Error for MetainfoError {}

impl From<BencodeError> for MetainfoError {
    fn from(e: BencodeError) -> Self {
        MetainfoError::Bencode(e)
    }
}
