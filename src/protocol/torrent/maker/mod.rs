//! Making `.torrent` files: the pure part ([`make`]: walk, hash, encode)
//! and the [`TorrentMaker`] component that runs it off the scheduler's
//! thread (Kamaelia's `TorrentMaker` and its `TIPCMakeTorrent` request).
//!
//! The output matches `mktorrent` 1.1 for the same input and options: the
//! same files in the same order ([`walk`] says how mktorrent orders and
//! filters them), the same piece length, the same info dictionary and so
//! the same info-hash. The whole file is byte for byte mktorrent's when
//! `created_by` is set to `"mktorrent 1.1"` and the date is left out
//! (`mktorrent -d`): keys `announce`, `announce-list` (only with more than
//! one tracker URL), `comment`, `created by`, `creation date`, `info`
//! {`files` (a folder) or `length` (a file), `name`, `piece length`,
//! `pieces`, `private` (only when asked)}.
//!
//! The default piece length is mktorrent 1.1's: 2^18 = 256 KiB whatever
//! the size (the size-based choice in mktorrent's repository came after
//! 1.1 and is not in any release Debian ships). Piece lengths must be
//! powers of two from 2^15 to 2^28, mktorrent's `-l 15` to `-l 28`.
//!
//! ```
//! use kamaelia::protocol::torrent::maker::{make, MakeTorrent};
//! let dir = std::env::temp_dir().join(format!("maker-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! std::fs::write(dir.join("a.txt"), b"hello").unwrap();
//! let req = MakeTorrent::new(&dir)
//!     .announce("http://tracker.example/announce")
//!     .creation_date(None);
//! let made = make(&req).unwrap();
//! assert_eq!(made.total_length, 5);
//! assert_eq!(made.piece_length, 262_144);
//! assert!(made.torrent.starts_with(b"d8:announce31:http://tracker.example/announce"));
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

mod build;
mod component;
pub mod hash;
pub mod walk;

pub use build::encode_torrent;
pub use component::{MakerEvent, Progress, TorrentMaker};
pub use hash::{hash_files, PieceHasher};
pub use walk::{scan, FileEntry, Layout};

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::tracker::InfoHash;

/// mktorrent 1.1's piece length when none is given: 2^18 bytes.
pub const DEFAULT_PIECE_LENGTH: u64 = 1 << 18;
/// The smallest piece length accepted (mktorrent's `-l 15`).
pub const MIN_PIECE_LENGTH: u64 = 1 << 15;
/// The largest piece length accepted (mktorrent's `-l 28`).
pub const MAX_PIECE_LENGTH: u64 = 1 << 28;

/// The piece length chosen when a request gives none. mktorrent 1.1 does
/// not look at the size (its help: "default is 18"), and neither do we,
/// so that the same input gives the same info-hash with both.
pub fn default_piece_length(_total_length: u64) -> u64 {
    DEFAULT_PIECE_LENGTH
}

/// Seconds since 1970 now (0 if the clock is before it).
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A request to make a torrent (Kamaelia's `TIPCMakeTorrent`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MakeTorrent {
    /// A file, or a folder.
    pub path: PathBuf,
    /// Tracker URLs in tiers (BEP 12): `announce` is the first URL of the
    /// first tier; `announce-list` is written when there is more than one
    /// URL in all. Empty: a trackerless torrent.
    pub trackers: Vec<Vec<String>>,
    /// Bytes per piece (`None`: [`default_piece_length`]).
    pub piece_length: Option<u64>,
    /// The torrent's `name` (`None`: the last component of `path`).
    pub name: Option<String>,
    /// `comment`, if any.
    pub comment: Option<String>,
    /// Sets `private` to 1 in the info dictionary (BEP 27).
    pub private: bool,
    /// `creation date` in seconds since 1970 (`None`: left out, as
    /// `mktorrent -d` does, for reproducible output).
    pub creation_date: Option<i64>,
    /// `created by` (`None`: left out).
    pub created_by: Option<String>,
    /// Threads hashing at once (at least 1).
    pub threads: usize,
}

impl MakeTorrent {
    /// A request for `path` with the defaults: no tracker, the default
    /// piece length, the path's name, dated now, created by this crate,
    /// hashed on as many threads as the machine has cores (at most 8).
    pub fn new(path: impl AsRef<Path>) -> Self {
        let now = unix_now();
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(8);
        MakeTorrent {
            path: path.as_ref().to_path_buf(),
            trackers: Vec::new(),
            piece_length: None,
            name: None,
            comment: None,
            private: false,
            creation_date: Some(now),
            created_by: Some(concat!("kamaelia ", env!("CARGO_PKG_VERSION")).to_string()),
            threads,
        }
    }

    /// Adds `url` as a tier of its own (mktorrent's `-a URL`).
    pub fn announce(mut self, url: impl Into<String>) -> Self {
        self.trackers.push(vec![url.into()]);
        self
    }

    /// Adds a tier of several URLs (mktorrent's `-a URL,URL`).
    pub fn tier(mut self, urls: Vec<String>) -> Self {
        self.trackers.push(urls);
        self
    }

    /// Sets the piece length in bytes.
    pub fn piece_length(mut self, bytes: u64) -> Self {
        self.piece_length = Some(bytes);
        self
    }

    /// Sets the torrent's name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the comment.
    pub fn comment(mut self, text: impl Into<String>) -> Self {
        self.comment = Some(text.into());
        self
    }

    /// Sets the private flag.
    pub fn private(mut self, on: bool) -> Self {
        self.private = on;
        self
    }

    /// Sets (or with `None` leaves out) the creation date.
    pub fn creation_date(mut self, secs: Option<i64>) -> Self {
        self.creation_date = secs;
        self
    }

    /// Sets (or with `None` leaves out) `created by`.
    pub fn created_by(mut self, by: Option<String>) -> Self {
        self.created_by = by;
        self
    }

    /// Sets how many threads hash at once.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// The piece length this request will use for `total_length` bytes,
    /// checked.
    pub fn effective_piece_length(&self, total_length: u64) -> Result<u64, MakeError> {
        let pl = self
            .piece_length
            .unwrap_or_else(|| default_piece_length(total_length));
        if !pl.is_power_of_two() || !(MIN_PIECE_LENGTH..=MAX_PIECE_LENGTH).contains(&pl) {
            return Err(MakeError::BadPieceLength(pl));
        }
        Ok(pl)
    }

    /// The torrent's name: the one given, or the path's last component.
    pub fn effective_name(&self) -> Result<Vec<u8>, MakeError> {
        if let Some(n) = &self.name {
            return if n.is_empty() || n.contains('/') || n == "." || n == ".." {
                Err(MakeError::BadName(self.path.clone()))
            } else {
                Ok(n.as_bytes().to_vec())
            };
        }
        // "dir/" and "dir" name the same folder; "." and ".." have no name
        // of their own, so take the folder's real one.
        let named = match self.path.file_name() {
            Some(n) => Some(n.to_os_string()),
            None => std::fs::canonicalize(&self.path)
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_os_string())),
        };
        match named {
            Some(n) if !n.is_empty() => Ok(n.as_encoded_bytes().to_vec()),
            _ => Err(MakeError::BadName(self.path.clone())),
        }
    }
}

impl From<PathBuf> for MakeTorrent {
    fn from(p: PathBuf) -> Self {
        MakeTorrent::new(p)
    }
}

impl From<&Path> for MakeTorrent {
    fn from(p: &Path) -> Self {
        MakeTorrent::new(p)
    }
}

/// A torrent made: the `.torrent` file's bytes and what identifies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MadeTorrent {
    /// The whole bencoded `.torrent` file.
    pub torrent: Bytes,
    /// SHA-1 of the info dictionary's bytes in `torrent`.
    pub info_hash: InfoHash,
    /// The request's path.
    pub path: PathBuf,
    /// The sum of the files' lengths.
    pub total_length: u64,
    /// Bytes per piece.
    pub piece_length: u64,
    /// Number of pieces.
    pub pieces: usize,
    /// Number of files.
    pub files: usize,
}

impl MadeTorrent {
    /// The info-hash as 40 lower-case hex digits.
    pub fn info_hash_hex(&self) -> String {
        hex(&self.info_hash)
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Why a torrent could not be made.
#[derive(Debug)]
pub enum MakeError {
    /// The path (or a link under it) leads nowhere.
    NotFound(PathBuf),
    /// A folder with no regular file under it.
    EmptyFolder(PathBuf),
    /// The path is neither a regular file nor a folder.
    NotFileOrFolder(PathBuf),
    /// A file or folder that cannot be read.
    Unreadable {
        /// Which.
        path: PathBuf,
        /// The I/O error.
        error: io::Error,
    },
    /// A folder contains itself through a symbolic link.
    LinkLoop(PathBuf),
    /// A file got shorter between the walk and the hashing.
    Changed(PathBuf),
    /// Not a power of two from 2^15 to 2^28.
    BadPieceLength(u64),
    /// No usable name (empty, `.`, `..`, or with a `/`).
    BadName(PathBuf),
    /// Stopped by a shutdown.
    Cancelled,
    /// The worker thread could not be started.
    NoThread(io::Error),
}

impl MakeError {
    fn unreadable(path: &Path, error: io::Error) -> Self {
        MakeError::Unreadable {
            path: path.to_path_buf(),
            error,
        }
    }

    /// The I/O error kind behind this error, if there is one.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            MakeError::Unreadable { error, .. } => Some(error.kind()),
            MakeError::NotFound(_) => Some(io::ErrorKind::NotFound),
            _ => None,
        }
    }
}

impl fmt::Display for MakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MakeError::NotFound(p) => write!(f, "{}: no such file or folder", p.display()),
            MakeError::EmptyFolder(p) => write!(f, "{}: no files in the folder", p.display()),
            MakeError::NotFileOrFolder(p) => {
                write!(f, "{}: neither a regular file nor a folder", p.display())
            }
            MakeError::Unreadable { path, error } => {
                write!(f, "{}: cannot read: {error}", path.display())
            }
            MakeError::LinkLoop(p) => write!(f, "{}: folder loops back on itself", p.display()),
            MakeError::Changed(p) => write!(f, "{}: file shrank while being hashed", p.display()),
            MakeError::BadPieceLength(n) => write!(
                f,
                "piece length {n}: must be a power of two from {MIN_PIECE_LENGTH} to {MAX_PIECE_LENGTH}"
            ),
            MakeError::BadName(p) => write!(f, "{}: no usable torrent name", p.display()),
            MakeError::Cancelled => f.write_str("cancelled"),
            MakeError::NoThread(e) => write!(f, "cannot start the hashing thread: {e}"),
        }
    }
}

impl std::error::Error for MakeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MakeError::Unreadable { error, .. } | MakeError::NoThread(error) => Some(error),
            _ => None,
        }
    }
}

/// Makes the torrent `req` asks for, on the calling thread (it blocks
/// while reading and hashing every file).
pub fn make(req: &MakeTorrent) -> Result<MadeTorrent, MakeError> {
    make_with_progress(req, &mut |_, _| true)
}

/// [`make`], calling `progress(hashed, total)` after each read buffer;
/// returning false cancels ([`MakeError::Cancelled`]).
pub fn make_with_progress(
    req: &MakeTorrent,
    progress: &mut dyn FnMut(u64, u64) -> bool,
) -> Result<MadeTorrent, MakeError> {
    let name = req.effective_name()?;
    let layout = scan(&req.path)?;
    let piece_length = req.effective_piece_length(layout.total_length)?;
    let total = layout.total_length;
    let pieces = hash_files(&layout, piece_length, req.threads, &mut |h| {
        progress(h, total)
    })?;
    let count = pieces.len() / 20;
    let (torrent, info_hash) = encode_torrent(req, &name, &layout, piece_length, pieces);
    Ok(MadeTorrent {
        torrent: Bytes::from(torrent),
        info_hash,
        path: req.path.clone(),
        total_length: total,
        piece_length,
        pieces: count,
        files: layout.files.len(),
    })
}
