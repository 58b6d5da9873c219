//! The per-block state of the pieces being downloaded (the "active"
//! pieces: at least one block requested or received). Pieces not started
//! carry no block state at all, so memory is O(blocks of active pieces),
//! which the request pipeline bounds.
//!
//! A block is free, requested from one peer (and, in endgame, from more:
//! the extra requesters sit in a short per-piece list), or received from
//! one peer (kept so a piece that fails its hash can name its senders).

use super::PeerKey;

/// One block's state inside an active piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    /// Nobody has been asked for it.
    Free,
    /// Asked of `peer`, and of `extra` more peers listed in
    /// [`Active::dups`] (endgame only).
    Requested { peer: PeerKey, extra: u16 },
    /// Its data came from this peer.
    Received(PeerKey),
}

/// A piece with some block requested or received.
#[derive(Clone, Debug)]
pub(crate) struct Active {
    pub(crate) piece: u32,
    pub(crate) blocks: Vec<Slot>,
    /// Blocks in [`Slot::Free`].
    pub(crate) free: u32,
    /// Blocks in [`Slot::Received`].
    pub(crate) received: u32,
    /// Endgame's extra requests: (block index, peer).
    pub(crate) dups: Vec<(u32, PeerKey)>,
}

impl Active {
    /// Whether `peer` has an outstanding request for block `b`.
    pub(crate) fn requested_by(&self, b: u32, peer: PeerKey) -> bool {
        match self.blocks[b as usize] {
            Slot::Requested { peer: p, extra } => {
                p == peer || (extra > 0 && self.dups.contains(&(b, peer)))
            }
            _ => false,
        }
    }

    /// How many peers were asked for block `b`.
    pub(crate) fn requesters(&self, b: u32) -> u32 {
        match self.blocks[b as usize] {
            Slot::Requested { extra, .. } => 1 + u32::from(extra),
            _ => 0,
        }
    }

    /// Asks `peer` for block `b` if it is free. Returns whether it was.
    pub(crate) fn request(&mut self, b: u32, peer: PeerKey) -> bool {
        if self.blocks[b as usize] != Slot::Free {
            return false;
        }
        self.blocks[b as usize] = Slot::Requested { peer, extra: 0 };
        self.free -= 1;
        true
    }

    /// Endgame: asks `peer` too for block `b`, already requested from
    /// others (the caller checked `peer` is not one of them). Returns
    /// whether it was added.
    pub(crate) fn request_again(&mut self, b: u32, peer: PeerKey) -> bool {
        let Slot::Requested { extra, .. } = &mut self.blocks[b as usize] else {
            return false;
        };
        *extra += 1;
        self.dups.push((b, peer));
        true
    }

    /// Drops `peer`'s request for block `b`. Returns whether the block is
    /// now free (it had no other requester).
    pub(crate) fn unrequest(&mut self, b: u32, peer: PeerKey) -> bool {
        let Slot::Requested { peer: first, extra } = self.blocks[b as usize] else {
            return false;
        };
        if first == peer {
            if extra == 0 {
                self.blocks[b as usize] = Slot::Free;
                self.free += 1;
                return true;
            }
            // Promote the first extra requester.
            let i = self
                .dups
                .iter()
                .position(|d| d.0 == b)
                .expect("extra listed");
            let (_, next) = self.dups.swap_remove(i);
            self.blocks[b as usize] = Slot::Requested {
                peer: next,
                extra: extra - 1,
            };
        } else if let Some(i) = self.dups.iter().position(|&d| d == (b, peer)) {
            self.dups.swap_remove(i);
            self.blocks[b as usize] = Slot::Requested {
                peer: first,
                extra: extra - 1,
            };
        }
        false
    }

    /// Marks block `b` received from `from`; every other peer that was
    /// asked for it goes into `cancels`. Returns whether `from` had been
    /// asked, or `None` if it was already received.
    pub(crate) fn receive(
        &mut self,
        b: u32,
        from: PeerKey,
        cancels: &mut Vec<PeerKey>,
    ) -> Option<bool> {
        let solicited = match self.blocks[b as usize] {
            Slot::Received(_) => return None,
            Slot::Free => {
                self.free -= 1;
                false
            }
            Slot::Requested { peer, extra } => {
                let mut asked = peer == from;
                if peer != from {
                    cancels.push(peer);
                }
                if extra > 0 {
                    self.dups.retain(|&(db, dp)| {
                        if db != b {
                            return true;
                        }
                        if dp == from {
                            asked = true;
                        } else {
                            cancels.push(dp);
                        }
                        false
                    });
                }
                asked
            }
        };
        self.blocks[b as usize] = Slot::Received(from);
        self.received += 1;
        Some(solicited)
    }

    /// Whether no block is requested or received (the piece can go back
    /// among the candidates).
    pub(crate) fn is_idle(&self) -> bool {
        self.free as usize == self.blocks.len()
    }

    /// Whether every block is received.
    pub(crate) fn is_complete(&self) -> bool {
        self.received as usize == self.blocks.len()
    }

    /// Checks the counts against the slots (for tests).
    pub(crate) fn audit(&self) -> Result<(), String> {
        let free = self.blocks.iter().filter(|s| **s == Slot::Free).count();
        let recv = self
            .blocks
            .iter()
            .filter(|s| matches!(s, Slot::Received(_)))
            .count();
        if free != self.free as usize || recv != self.received as usize {
            return Err(format!("piece {}: counts off", self.piece));
        }
        let extras: usize = self
            .blocks
            .iter()
            .map(|s| match s {
                Slot::Requested { extra, .. } => *extra as usize,
                _ => 0,
            })
            .sum();
        if extras != self.dups.len() {
            return Err(format!(
                "piece {}: extras {extras} vs {}",
                self.piece,
                self.dups.len()
            ));
        }
        for &(b, p) in &self.dups {
            match self.blocks[b as usize] {
                Slot::Requested { peer, .. } if peer != p => {}
                _ => return Err(format!("piece {}: stray extra request", self.piece)),
            }
        }
        Ok(())
    }
}
