//! [`StorageError`]: why a read, a write or a request to the storage failed.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::protocol::torrent::pieces::{BlockRef, PiecesError};

/// Why a storage operation failed. I/O errors carry the file's path and
/// what was being done, so a report says which file and why.
#[derive(Debug)]
pub enum StorageError {
    /// The operating system refused: `op` is "open", "create folder",
    /// "read", "write" or "set length".
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The system's error.
        source: io::Error,
    },
    /// A file is shorter than the torrent says (reading past its end).
    ShortFile {
        /// The file.
        path: PathBuf,
        /// Where in the file the read that came short started.
        offset: u64,
    },
    /// A range outside the torrent's byte stream.
    OutOfRange {
        /// Its start.
        offset: u64,
        /// Its length.
        len: u64,
        /// The torrent's length.
        total: u64,
    },
    /// A block that is not inside its piece, or is empty.
    BadBlock(BlockRef),
    /// A piece index past the last piece.
    NoSuchPiece(u32),
    /// A piece's blocks add up to the wrong length.
    PieceLength {
        /// The piece.
        piece: u32,
        /// Its length in the torrent.
        expected: u32,
        /// The blocks' total length.
        got: u64,
    },
    /// The metainfo's sizes make no layout (piece length 0, too many pieces).
    Layout(PiecesError),
    /// A file path component that could leave the download folder (empty,
    /// `.`, `..`, or holding a separator or NUL). The metainfo parser
    /// refuses these already; storage made from other file lists checks too.
    UnsafePath(Vec<String>),
    /// The hash list does not have one SHA-1 per piece.
    HashCount {
        /// Pieces in the layout.
        pieces: u32,
        /// Hashes given.
        hashes: usize,
    },
}

impl StorageError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        StorageError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Whether the data simply is not there yet: a file that does not
    /// exist, or one shorter than the torrent says. A re-check counts such
    /// pieces as missing rather than as failures.
    pub fn is_missing(&self) -> bool {
        match self {
            StorageError::ShortFile { .. } => true,
            StorageError::Io { source, .. } => source.kind() == io::ErrorKind::NotFound,
            _ => false,
        }
    }

    /// The file concerned, when there is one.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            StorageError::Io { path, .. } | StorageError::ShortFile { path, .. } => Some(path),
            _ => None,
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::Io { op, path, source } => {
                write!(f, "{op} {}: {source}", path.display())
            }
            StorageError::ShortFile { path, offset } => {
                write!(f, "{} is too short for a read at {offset}", path.display())
            }
            StorageError::OutOfRange { offset, len, total } => write!(
                f,
                "{len} bytes at {offset} lie outside the torrent's {total} bytes"
            ),
            StorageError::BadBlock(b) => write!(
                f,
                "block of {} bytes at {} is not inside piece {}",
                b.len, b.offset, b.piece
            ),
            StorageError::NoSuchPiece(p) => write!(f, "no piece {p}"),
            StorageError::PieceLength {
                piece,
                expected,
                got,
            } => write!(f, "piece {piece} is {expected} bytes, got {got}"),
            StorageError::Layout(e) => write!(f, "bad layout: {e}"),
            StorageError::UnsafePath(p) => write!(f, "unsafe file path {p:?}"),
            StorageError::HashCount { pieces, hashes } => {
                write!(f, "{hashes} piece hashes for {pieces} pieces")
            }
        }
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StorageError::Io { source, .. } => Some(source),
            StorageError::Layout(e) => Some(e),
            _ => None,
        }
    }
}
