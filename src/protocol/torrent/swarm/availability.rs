//! How many peers have each piece, and the pieces not yet started kept in
//! rarest-first order, so the picker never sorts and never scans pieces
//! nobody has.
//!
//! The candidates (pieces we lack and have not started) sit in one vector
//! grouped into buckets by availability, rarest bucket first:
//! `order[starts[a]..starts[a + 1]]` holds the candidates that `a` peers
//! have. A piece moves up or down one bucket by a swap with the bucket's
//! edge and a shift of that edge (O(1)), then a swap with a random member
//! of its new bucket so equally rare pieces stay in a seeded random order
//! (the tie-break). Taking a candidate out or putting it back walks the
//! bucket edges above it (O(buckets), at most the number of peers + 1).
//!
//! Seeds (have-all, or a full bitfield) are counted once in `seeds`, not
//! per piece: a seed raises every piece equally, which changes no order,
//! so a seed arriving or leaving is O(1).

use crate::internet::simulate::SplitMix64;

/// `pos` of a piece that is not a candidate.
const ABSENT: u32 = u32::MAX;

/// Availability counts and the rarest-first order of the candidates.
#[derive(Clone, Debug)]
pub(crate) struct Availability {
    /// Per piece: peers that have it, seeds not counted.
    count: Vec<u32>,
    /// Peers counted as seeds (they have every piece).
    seeds: u32,
    /// Candidate pieces, grouped by `count`, rarest first.
    order: Vec<u32>,
    /// Per piece: its index in `order`, or `ABSENT`.
    pos: Vec<u32>,
    /// `starts[a]`: where bucket `a` begins in `order`; the last entry is
    /// `order.len()`, so there are `starts.len() - 1` buckets.
    starts: Vec<u32>,
    rng: SplitMix64,
}

impl Availability {
    /// `pieces` pieces, every one a candidate with no peer, in a random
    /// order drawn from `seed`.
    pub(crate) fn new(pieces: u32, seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let mut order: Vec<u32> = (0..pieces).collect();
        for i in (1..order.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            order.swap(i, j);
        }
        let mut pos = vec![ABSENT; pieces as usize];
        for (i, &p) in order.iter().enumerate() {
            pos[p as usize] = i as u32;
        }
        Availability {
            count: vec![0; pieces as usize],
            seeds: 0,
            order,
            pos,
            starts: vec![0, pieces],
            rng,
        }
    }

    /// How many peers have `piece` (seeds included).
    pub(crate) fn of(&self, piece: u32) -> u32 {
        self.count[piece as usize] + self.seeds
    }

    pub(crate) fn add_seed(&mut self) {
        self.seeds += 1;
    }

    pub(crate) fn remove_seed(&mut self) {
        self.seeds = self.seeds.saturating_sub(1);
    }

    /// Whether `piece` is a candidate (lacked and not started).
    pub(crate) fn is_candidate(&self, piece: u32) -> bool {
        self.pos[piece as usize] != ABSENT
    }

    /// How many candidates.
    #[cfg(test)]
    pub(crate) fn candidates(&self) -> usize {
        self.order.len()
    }

    /// The candidate at `index` of the rarest-first order.
    pub(crate) fn at(&self, index: usize) -> Option<u32> {
        self.order.get(index).copied()
    }

    /// Where a rarest-first scan starts: past the pieces nobody has
    /// (bucket 0), unless a seed has them all.
    pub(crate) fn scan_start(&self) -> usize {
        if self.seeds > 0 {
            0
        } else {
            self.starts.get(1).copied().unwrap_or(0) as usize
        }
    }

    /// One more peer has `piece`. O(1).
    pub(crate) fn increment(&mut self, piece: u32) {
        let a = self.count[piece as usize] as usize;
        self.count[piece as usize] += 1;
        if !self.is_candidate(piece) {
            return;
        }
        self.ensure_bucket(a + 1);
        // To the last slot of bucket a, then shift the edge down: it is now
        // the first of bucket a + 1.
        let last = self.starts[a + 1] as usize - 1;
        self.swap(self.pos[piece as usize] as usize, last);
        self.starts[a + 1] -= 1;
        self.shuffle_into(last, a + 1);
    }

    /// One peer fewer has `piece` (a count already 0 stays 0). O(1).
    pub(crate) fn decrement(&mut self, piece: u32) {
        let a = self.count[piece as usize] as usize;
        if a == 0 {
            return;
        }
        self.count[piece as usize] -= 1;
        if !self.is_candidate(piece) {
            return;
        }
        // To the first slot of bucket a, then shift the edge up: it is now
        // the last of bucket a - 1.
        let first = self.starts[a] as usize;
        self.swap(self.pos[piece as usize] as usize, first);
        self.starts[a] += 1;
        self.shuffle_into(first, a - 1);
    }

    /// Takes `piece` out of the candidates (started, or had). The pieces
    /// before its old index keep their places, and the one now at that
    /// index came from after it, so a scan may go on from the same index.
    /// O(buckets).
    pub(crate) fn remove(&mut self, piece: u32) {
        if !self.is_candidate(piece) {
            return;
        }
        let a = self.count[piece as usize] as usize;
        // Walk it up to the very end, bucket by bucket, each bucket
        // giving up its last slot to the one below.
        for b in a..self.starts.len() - 1 {
            let last = self.starts[b + 1] as usize - 1;
            self.swap(self.pos[piece as usize] as usize, last);
            self.starts[b + 1] -= 1;
        }
        self.order.pop();
        self.pos[piece as usize] = ABSENT;
    }

    /// Puts `piece` back among the candidates at a random place in its
    /// bucket (a piece whose blocks all went back, or failed). O(buckets).
    pub(crate) fn insert(&mut self, piece: u32) {
        if self.is_candidate(piece) {
            return;
        }
        let a = self.count[piece as usize] as usize;
        self.ensure_bucket(a);
        let end = self.order.len();
        self.order.push(piece);
        self.pos[piece as usize] = end as u32;
        let top = self.starts.len() - 1;
        self.starts[top] += 1;
        // Now the last of the top bucket; walk it down to bucket a, each
        // bucket handing its first slot to the one below.
        for b in (a + 1..top).rev() {
            let first = self.starts[b] as usize;
            self.swap(self.pos[piece as usize] as usize, first);
            self.starts[b] += 1;
        }
        let at = self.pos[piece as usize] as usize;
        self.shuffle_into(at, a);
    }

    /// Makes sure bucket `a` exists (empty buckets added at the top).
    fn ensure_bucket(&mut self, a: usize) {
        while self.starts.len() < a + 2 {
            self.starts.push(self.order.len() as u32);
        }
    }

    /// The piece at `at` has just joined bucket `b`: swap it with a random
    /// member, so its place among equals is random.
    fn shuffle_into(&mut self, at: usize, b: usize) {
        let lo = self.starts[b] as u64;
        let hi = self.starts[b + 1] as u64;
        if hi - lo > 1 {
            let j = lo + self.rng.below(hi - lo);
            self.swap(at, j as usize);
        }
    }

    fn swap(&mut self, i: usize, j: usize) {
        if i == j {
            return;
        }
        self.order.swap(i, j);
        self.pos[self.order[i] as usize] = i as u32;
        self.pos[self.order[j] as usize] = j as u32;
    }

    /// Checks every structural invariant (for tests): O(pieces).
    pub(crate) fn audit(&self) -> Result<(), String> {
        if self.starts.first() != Some(&0)
            || *self.starts.last().unwrap_or(&0) as usize != self.order.len()
        {
            return Err(format!("bucket edges {:?}", self.starts));
        }
        for b in 0..self.starts.len() - 1 {
            let (lo, hi) = (self.starts[b], self.starts[b + 1]);
            if lo > hi {
                return Err(format!("bucket {b} runs backwards"));
            }
            for i in lo..hi {
                let p = self.order[i as usize];
                if self.pos[p as usize] != i {
                    return Err(format!("piece {p} at {i} thinks it is elsewhere"));
                }
                if self.count[p as usize] as usize != b {
                    return Err(format!(
                        "piece {p} in bucket {b}, count {}",
                        self.count[p as usize]
                    ));
                }
            }
        }
        let placed = self.pos.iter().filter(|&&p| p != ABSENT).count();
        if placed != self.order.len() {
            return Err(format!(
                "{placed} pieces placed, {} in order",
                self.order.len()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_stay_sorted_through_moves_removals_and_inserts() {
        let mut a = Availability::new(50, 7);
        let mut rng = SplitMix64::new(3);
        for _ in 0..5_000 {
            let p = rng.below(50) as u32;
            match rng.below(4) {
                0 => a.increment(p),
                1 => a.decrement(p),
                2 => a.remove(p),
                _ => a.insert(p),
            }
            a.audit().unwrap();
        }
        let mut last = 0;
        for i in 0..a.candidates() {
            let c = a.of(a.at(i).unwrap());
            assert!(c >= last);
            last = c;
        }
    }
}
