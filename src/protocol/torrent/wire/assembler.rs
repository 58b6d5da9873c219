//! Fetching the info dictionary from peers (BEP 9) and serving it.
//!
//! [`MetadataAssembler`] is pure state: it says which 16 KiB piece to ask
//! for next, takes the pieces that come (checking each one's index, length
//! and the total size it claims), and when it has them all checks that
//! their SHA-1 is the info-hash. A mismatch resets it to empty and says
//! so; the caller, which knows who sent what, bans the senders.

use bytes::Bytes;
use sha1::{Digest, Sha1};

use super::metadata::{MetadataMsg, METADATA_PIECE_SIZE};
use super::MetadataError;
use crate::protocol::torrent::tracker::InfoHash;

/// The largest info dictionary fetched or served: 8 MiB. An info
/// dictionary is about 20 bytes a piece plus the file list, so this is
/// some 400,000 pieces (100 GiB in 256 KiB pieces) with room for a long
/// file list, while a peer that claims more cannot make us hold more.
pub const MAX_METADATA_SIZE: u32 = 8 * 1024 * 1024;

/// What [`MetadataAssembler::accept`] came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetadataProgress {
    /// Pieces are still missing.
    NeedMore,
    /// All here, and their SHA-1 is the info-hash: the info dictionary.
    Complete(Bytes),
}

/// The fetching side. See the module documentation.
#[derive(Clone, Debug)]
pub struct MetadataAssembler {
    info_hash: InfoHash,
    size: u32,
    /// Allocated at the first piece, not on a peer's word alone.
    buf: Vec<u8>,
    have: Vec<bool>,
    asked: Vec<bool>,
    missing: u32,
    done: bool,
}

impl MetadataAssembler {
    /// An assembler for `metadata_size` bytes (a peer's `metadata_size`),
    /// refused when zero or over [`MAX_METADATA_SIZE`].
    pub fn new(info_hash: InfoHash, metadata_size: u64) -> Result<Self, MetadataError> {
        let size = u32::try_from(metadata_size)
            .ok()
            .filter(|&s| s > 0 && s <= MAX_METADATA_SIZE)
            .ok_or(MetadataError::BadSize {
                size: metadata_size,
                max: MAX_METADATA_SIZE,
            })?;
        let pieces = (size as usize).div_ceil(METADATA_PIECE_SIZE);
        Ok(MetadataAssembler {
            info_hash,
            size,
            buf: Vec::new(),
            have: vec![false; pieces],
            asked: vec![false; pieces],
            missing: pieces as u32,
            done: false,
        })
    }

    /// The metadata's size.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// How many pieces it has.
    pub fn piece_count(&self) -> u32 {
        self.have.len() as u32
    }

    /// How many pieces are still missing.
    pub fn missing(&self) -> u32 {
        self.missing
    }

    /// The length of piece `i` (the last one may be short).
    fn piece_len(&self, i: u32) -> usize {
        let start = i as usize * METADATA_PIECE_SIZE;
        (self.size as usize - start).min(METADATA_PIECE_SIZE)
    }

    /// A piece neither had nor asked for (marked asked), lowest first;
    /// `None` when every missing piece is out with someone.
    pub fn next_request(&mut self) -> Option<u32> {
        if self.done {
            return None;
        }
        let i = (0..self.have.len()).find(|&i| !self.have[i] && !self.asked[i])?;
        self.asked[i] = true;
        Some(i as u32)
    }

    /// Piece `piece` will not come from whoever was asked (a reject, a
    /// disconnect, a time-out): it may be asked of someone else.
    pub fn release(&mut self, piece: u32) {
        if let Some(a) = self.asked.get_mut(piece as usize) {
            *a = false;
        }
    }

    /// Takes a data message's piece. A piece already had is ignored.
    pub fn accept(
        &mut self,
        piece: u32,
        total_size: u64,
        data: &[u8],
    ) -> Result<MetadataProgress, MetadataError> {
        if total_size != u64::from(self.size) {
            return Err(MetadataError::WrongTotalSize {
                expected: self.size,
                got: total_size,
            });
        }
        if piece >= self.piece_count() {
            return Err(MetadataError::PieceOutOfRange(piece));
        }
        let expected = self.piece_len(piece);
        if data.len() != expected {
            return Err(MetadataError::WrongPieceLength {
                piece,
                expected,
                got: data.len(),
            });
        }
        let i = piece as usize;
        if self.done || self.have[i] {
            return Ok(MetadataProgress::NeedMore);
        }
        if self.buf.is_empty() {
            self.buf = vec![0; self.size as usize];
        }
        let start = i * METADATA_PIECE_SIZE;
        self.buf[start..start + expected].copy_from_slice(data);
        self.have[i] = true;
        self.asked[i] = true;
        self.missing -= 1;
        if self.missing > 0 {
            return Ok(MetadataProgress::NeedMore);
        }
        let hash: [u8; 20] = Sha1::digest(&self.buf).into();
        if hash != self.info_hash {
            self.reset();
            return Err(MetadataError::HashMismatch);
        }
        self.done = true;
        Ok(MetadataProgress::Complete(Bytes::from(std::mem::take(
            &mut self.buf,
        ))))
    }

    /// Back to empty: every piece missing and unasked, the buffer freed.
    pub fn reset(&mut self) {
        self.buf = Vec::new();
        self.have.iter_mut().for_each(|h| *h = false);
        self.asked.iter_mut().for_each(|a| *a = false);
        self.missing = self.have.len() as u32;
        self.done = false;
    }
}

/// The answer to a request for piece `piece` of `info` (the raw info
/// dictionary): the piece, sliced from `info` without a copy, or a reject
/// past its end (or for an info dictionary too large to serve).
pub fn serve_metadata(info: &Bytes, piece: u32) -> MetadataMsg {
    let start = (piece as usize).saturating_mul(METADATA_PIECE_SIZE);
    if info.len() > MAX_METADATA_SIZE as usize || start >= info.len() {
        return MetadataMsg::Reject { piece };
    }
    let end = (start + METADATA_PIECE_SIZE).min(info.len());
    MetadataMsg::Data {
        piece,
        total_size: info.len() as u64,
        data: info.slice(start..end),
    }
}
