//! Looking into the [`Picker`]: one block's state, and a full check of
//! its books that the tests run after every event.

use super::blocks::Slot;
use super::picker::{Picker, IDLE};
use super::picker_types::BlockStatus;
use crate::protocol::torrent::pieces::BlockRef;

impl Picker {
    /// Where one block stands (`None`: not a block of this torrent).
    pub fn block_status(&self, block: &BlockRef) -> Option<BlockStatus> {
        let b = self.block_index(block)?;
        if self.have.get(block.piece) {
            return Some(BlockStatus::Have);
        }
        let i = self.slot_of[block.piece as usize];
        if i == IDLE {
            return Some(BlockStatus::Free);
        }
        let a = &self.active[i as usize];
        Some(match a.blocks[b as usize] {
            Slot::Free => BlockStatus::Free,
            Slot::Received(p) => BlockStatus::Received(p),
            Slot::Requested { peer, .. } => {
                let mut peers = vec![peer];
                peers.extend(a.dups.iter().filter(|d| d.0 == b).map(|d| d.1));
                BlockStatus::Requested(peers)
            }
        })
    }

    /// Checks every internal invariant (for tests; O(pieces + blocks)).
    pub fn audit(&self) -> Result<(), String> {
        self.avail.audit()?;
        let mut free = 0u64;
        for p in 0..self.layout.piece_count() {
            let slot = self.slot_of[p as usize];
            let candidate = self.avail.is_candidate(p);
            let states = [self.have.get(p), slot != IDLE, candidate];
            if states.iter().filter(|s| **s).count() != 1 {
                return Err(format!("piece {p}: had/active/candidate = {states:?}"));
            }
            if candidate {
                free += u64::from(self.layout.blocks_in_piece(p));
            }
            if slot != IDLE {
                let a = self.active.get(slot as usize).ok_or("slot past active")?;
                if a.piece != p || a.blocks.len() as u32 != self.layout.blocks_in_piece(p) {
                    return Err(format!("piece {p}: slot {slot} holds piece {}", a.piece));
                }
                a.audit()?;
                if a.is_idle() {
                    return Err(format!("piece {p}: active with nothing requested"));
                }
                free += u64::from(a.free);
            }
        }
        if free != self.free_blocks {
            return Err(format!("free blocks {} counted {free}", self.free_blocks));
        }
        Ok(())
    }
}
