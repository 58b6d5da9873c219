//! Re-checking data already on disk (to resume, or to seed a folder that
//! is said to be complete): every piece read and SHA-1 compared with the
//! torrent's hash. A missing file or one shorter than the torrent says
//! makes the pieces it holds missing, not an error; any other failure
//! (permissions, a device error) is reported for that piece.
//!
//! [`RecheckProgress`] goes one piece at a time so the
//! [`DiskWorker`](super::DiskWorker) can report progress and stop on a
//! shutdown between pieces; [`recheck`] runs it through.
//!
//! Each file's length is looked up once, at the first piece: a piece that
//! reaches into a file that is missing or too short is missing without a
//! read. A new download re-checks a folder where nothing exists yet, and
//! that costs one `stat` per file rather than a failed open per piece.

use sha1::{Digest, Sha1};

use super::{Storage, StorageError};
use crate::protocol::torrent::pieces::Bitfield;

/// A re-check under way: which piece is next and which were good.
#[derive(Clone, Debug)]
pub struct RecheckProgress {
    next: u32,
    have: Bitfield,
    buf: Vec<u8>,
    /// Each file's length on disk (0: missing), taken at the first piece.
    on_disk: Option<Vec<u64>>,
}

impl RecheckProgress {
    /// A re-check of `pieces` pieces, none checked yet.
    pub fn new(pieces: u32) -> RecheckProgress {
        RecheckProgress {
            next: 0,
            have: Bitfield::new(pieces),
            buf: Vec::new(),
            on_disk: None,
        }
    }

    /// Checks the next piece: `Some((piece, Ok(good)))`, or the error of a
    /// piece that could not be read for a reason other than missing data
    /// (it counts as missing); `None` once every piece is checked.
    pub fn check_next(
        &mut self,
        storage: &mut Storage,
        hashes: &[[u8; 20]],
    ) -> Option<(u32, Result<bool, StorageError>)> {
        let piece = self.next;
        if piece >= self.have.len() {
            return None;
        }
        self.next += 1;
        let expected = match hashes.get(piece as usize) {
            Some(h) => h,
            None => {
                return Some((
                    piece,
                    Err(StorageError::HashCount {
                        pieces: self.have.len(),
                        hashes: hashes.len(),
                    }),
                ))
            }
        };
        if !self.on_disk(storage, piece) {
            return Some((piece, Ok(false)));
        }
        let result = match storage.read_piece(piece, &mut self.buf) {
            Ok(()) => Ok(Sha1::digest(&self.buf)[..] == expected[..]),
            Err(e) if e.is_missing() => Ok(false),
            Err(e) => Err(e),
        };
        if let Ok(true) = result {
            self.have.set(piece);
        }
        Some((piece, result))
    }

    /// Whether every byte of `piece` lies within its files' lengths on
    /// disk (padding files are never on disk and always count). A file
    /// that cannot be looked up counts as there, so its read reports why.
    fn on_disk(&mut self, storage: &Storage, piece: u32) -> bool {
        let lengths = self.on_disk.get_or_insert_with(|| {
            (0..storage.file_map().files().len())
                .map(|i| match std::fs::metadata(storage.file_path(i)) {
                    Ok(m) => m.len(),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
                    Err(_) => u64::MAX,
                })
                .collect()
        });
        let layout = storage.layout();
        let (offset, len) = (layout.piece_offset(piece), layout.piece_len(piece));
        storage
            .file_map()
            .spans(offset, u64::from(len))
            .all(|s| s.padding || s.file_offset + s.len <= lengths[s.file])
    }

    /// Pieces checked so far.
    pub fn checked(&self) -> u32 {
        self.next
    }

    /// Pieces in all.
    pub fn total(&self) -> u32 {
        self.have.len()
    }

    /// The good pieces so far.
    pub fn have(&self) -> &Bitfield {
        &self.have
    }

    /// The good pieces (all checked once `check_next` has said `None`).
    pub fn into_bitfield(self) -> Bitfield {
        self.have
    }
}

/// Re-checks every piece of `storage` against `hashes` and returns the good
/// ones. Missing or short files make missing pieces; the first other error
/// ends the re-check.
pub fn recheck(storage: &mut Storage, hashes: &[[u8; 20]]) -> Result<Bitfield, StorageError> {
    let pieces = storage.layout().piece_count();
    if hashes.len() != pieces as usize {
        return Err(StorageError::HashCount {
            pieces,
            hashes: hashes.len(),
        });
    }
    // Files may have changed since they were opened.
    storage.close_all();
    let mut r = RecheckProgress::new(pieces);
    while let Some((_, result)) = r.check_next(storage, hashes) {
        result?;
    }
    Ok(r.into_bitfield())
}
