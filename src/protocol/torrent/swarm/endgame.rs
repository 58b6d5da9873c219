//! Endgame: when every missing block is already requested, a peer with
//! nothing new to give is asked for blocks others were asked for, fewest
//! requesters first, never twice the same peer for one block, and at most
//! the picker's `endgame_requesters` peers a block. The first copy to
//! arrive wins; [`Picker::on_block_received`] names the other peers so the
//! caller sends them `cancel`.

use super::picker::{block_ref, Picker};
use super::PeerKey;
use crate::protocol::torrent::pieces::{Bitfield, BlockRef};

impl Picker {
    pub(super) fn pick_endgame(
        &mut self,
        peer: PeerKey,
        has: &Bitfield,
        left: &mut usize,
        out: &mut Vec<BlockRef>,
    ) {
        for level in 1..self.endgame_requesters {
            for a in self.active.iter_mut() {
                if !has.get(a.piece) {
                    continue;
                }
                for b in 0..a.blocks.len() as u32 {
                    if *left == 0 {
                        return;
                    }
                    if a.requesters(b) == level
                        && !a.requested_by(b, peer)
                        && a.request_again(b, peer)
                    {
                        out.push(block_ref(&self.layout, a.piece, b));
                        *left -= 1;
                    }
                }
            }
        }
    }
}
