//! RecentPieces: the blocks of the pieces a torrent verified last, kept in
//! memory so that peers asking for them (as the other downloaders of a
//! swarm do as soon as our `have` reaches them) are served without a disk
//! read: the block goes to the socket from the buffer it arrived in.
//!
//! A piece's blocks (`Bytes` handles, no copy) are noted when the piece
//! goes to the disk worker, kept once it is verified (the newest
//! `ClientConfig::recent_pieces` bytes' worth, at least one piece; none if
//! that is 0) and dropped if it fails. A
//! request that is not one block as it arrived (an odd offset or length
//! across two blocks) is read from disk as before.
//!
//! ```text
//! recent.sent_to_disk(4, &blocks);   // DiskRequest::Piece sent
//! recent.verified(4);           // DiskEvent::Verified(4)
//! recent.block(&BlockRef { piece: 4, offset: 0, len: 16_384 })  // Some(blocks[0])
//! ```

use std::collections::VecDeque;

use bytes::Bytes;

use crate::protocol::torrent::pieces::{BlockRef, BLOCK_SIZE};

/// A piece's blocks, as they came (16 KiB each but the last).
struct Kept {
    piece: u32,
    blocks: Vec<Bytes>,
    bytes: usize,
}

/// Pieces at the disk and pieces verified lately.
pub(super) struct RecentPieces {
    at_disk: Vec<Kept>,
    verified: VecDeque<Kept>,
    verified_bytes: usize,
    budget: usize,
}

impl RecentPieces {
    /// Keeps the newest `budget` bytes of verified pieces (at least one
    /// piece; 0: none).
    pub fn new(budget: usize) -> RecentPieces {
        RecentPieces {
            at_disk: Vec::new(),
            verified: VecDeque::new(),
            verified_bytes: 0,
            budget,
        }
    }

    /// `piece` went to the disk as `blocks`.
    pub fn sent_to_disk(&mut self, piece: u32, blocks: &[Bytes]) {
        if self.budget == 0 {
            return;
        }
        let bytes = blocks.iter().map(Bytes::len).sum();
        self.at_disk.push(Kept {
            piece,
            blocks: blocks.to_vec(),
            bytes,
        });
    }

    /// The disk verified and wrote `piece`: its blocks are kept, the oldest
    /// let go past the budget.
    pub fn verified(&mut self, piece: u32) {
        let Some(kept) = self.take_at_disk(piece) else {
            return;
        };
        self.verified_bytes += kept.bytes;
        self.verified.push_back(kept);
        while self.verified_bytes > self.budget && self.verified.len() > 1 {
            if let Some(old) = self.verified.pop_front() {
                self.verified_bytes -= old.bytes;
            }
        }
    }

    /// The disk failed `piece` (bad hash, or it could not be written).
    pub fn dropped(&mut self, piece: u32) {
        self.take_at_disk(piece);
    }

    fn take_at_disk(&mut self, piece: u32) -> Option<Kept> {
        let i = self.at_disk.iter().position(|k| k.piece == piece)?;
        Some(self.at_disk.swap_remove(i))
    }

    /// The bytes of `block` if it is one block of a piece kept, as it came.
    pub fn block(&self, block: &BlockRef) -> Option<Bytes> {
        if block.offset % BLOCK_SIZE != 0 {
            return None;
        }
        let kept = self
            .verified
            .iter()
            .rev()
            .find(|k| k.piece == block.piece)?;
        let data = kept.blocks.get((block.offset / BLOCK_SIZE) as usize)?;
        (data.len() == block.len as usize).then(|| data.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece_blocks(fill: u8, len: usize) -> Vec<Bytes> {
        (0..len.div_ceil(BLOCK_SIZE as usize))
            .map(|i| {
                let n = (len - i * BLOCK_SIZE as usize).min(BLOCK_SIZE as usize);
                Bytes::from(vec![fill + i as u8; n])
            })
            .collect()
    }

    fn b(piece: u32, offset: u32, len: u32) -> BlockRef {
        BlockRef { piece, offset, len }
    }

    #[test]
    fn only_verified_pieces_serve_and_only_whole_blocks() {
        let mut r = RecentPieces::new(1 << 20);
        let blocks = piece_blocks(10, 40_000);
        r.sent_to_disk(3, &blocks);
        assert_eq!(r.block(&b(3, 0, 16_384)), None, "not verified yet");
        r.verified(3);
        assert_eq!(r.block(&b(3, 16_384, 16_384)), Some(blocks[1].clone()));
        assert_eq!(r.block(&b(3, 32_768, 7_232)), Some(blocks[2].clone()));
        assert_eq!(r.block(&b(3, 100, 16_384)), None, "odd offset");
        assert_eq!(r.block(&b(3, 0, 1_000)), None, "part of a block");
        assert_eq!(r.block(&b(3, 49_152, 16_384)), None, "past the piece");
        assert_eq!(r.block(&b(4, 0, 16_384)), None, "another piece");
        r.sent_to_disk(5, &piece_blocks(1, 16_384));
        r.dropped(5);
        r.verified(5);
        assert_eq!(r.block(&b(5, 0, 16_384)), None, "failed: not kept");
    }

    #[test]
    fn the_newest_pieces_are_kept_within_the_budget() {
        let budget = 4 << 20;
        let mut r = RecentPieces::new(budget);
        let piece_len = 1 << 20;
        let per = budget / piece_len;
        for p in 0..(per as u32 + 3) {
            r.sent_to_disk(p, &piece_blocks(0, piece_len));
            r.verified(p);
        }
        let kept: Vec<u32> = r.verified.iter().map(|k| k.piece).collect();
        assert_eq!(kept, (3..per as u32 + 3).collect::<Vec<_>>());
        // One piece larger than the budget is still kept, alone.
        r.sent_to_disk(99, &piece_blocks(0, budget + 1));
        r.verified(99);
        assert_eq!(r.verified.len(), 1);
        assert!(r.block(&b(99, 0, 16_384)).is_some());
        // A budget of 0 keeps nothing.
        let mut none = RecentPieces::new(0);
        none.sent_to_disk(1, &piece_blocks(0, 16_384));
        none.verified(1);
        assert_eq!(none.block(&b(1, 0, 16_384)), None);
    }
}
