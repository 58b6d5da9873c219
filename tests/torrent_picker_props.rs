//! The picker under random event sequences (joins, haves, picks,
//! blocks arriving from the asked peer or another, cancels, chokes,
//! departures, verified and failed pieces, mode and deadline changes),
//! checked after every event against a plain model: every block is in
//! exactly one state, a received block is never requested again, a
//! verified piece is never picked, no block goes to two peers outside
//! endgame nor to more than the endgame cap, a pick that comes back short
//! left nothing the peer could have had, and the availability counts match
//! the peers present. The seed is fixed, so every run is the same.

use std::collections::{BTreeMap, BTreeSet};

use kamaelia::protocol::torrent::pieces::{Bitfield, BlockRef, Layout, BLOCK_SIZE};
use kamaelia::protocol::torrent::swarm::{
    Accepted, BlockStatus, Deadline, PeerKey, PickMode, Picker, Rejected,
};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

#[derive(Default)]
struct PeerModel {
    connected: bool,
    seed: bool,
    bits: Option<Bitfield>,
}

struct Model {
    layout: Layout,
    have: Vec<bool>,
    requested: BTreeMap<BlockRef, BTreeSet<PeerKey>>,
    received: BTreeMap<BlockRef, PeerKey>,
    peers: Vec<PeerModel>,
    /// The most peers asked for one block (endgame).
    cap: usize,
}

impl Model {
    fn blocks(&self) -> Vec<BlockRef> {
        let l = &self.layout;
        (0..l.piece_count())
            .flat_map(|p| (0..l.blocks_in_piece(p)).map(move |b| l.block(p, b).unwrap()))
            .collect()
    }

    fn has(&self, k: usize) -> Bitfield {
        let m = &self.peers[k];
        if m.seed {
            Bitfield::full(self.layout.piece_count())
        } else {
            m.bits
                .clone()
                .unwrap_or_else(|| Bitfield::new(self.layout.piece_count()))
        }
    }

    fn outstanding(&self) -> Vec<(BlockRef, PeerKey)> {
        self.requested
            .iter()
            .flat_map(|(b, ps)| ps.iter().map(move |p| (*b, *p)))
            .collect()
    }

    fn complete_pieces(&self) -> Vec<u32> {
        (0..self.layout.piece_count())
            .filter(|&p| {
                !self.have[p as usize]
                    && (0..self.layout.blocks_in_piece(p)).all(|b| {
                        self.received
                            .contains_key(&self.layout.block(p, b).unwrap())
                    })
            })
            .collect()
    }
}

fn check(picker: &Picker, m: &Model) -> Result<(), TestCaseError> {
    picker.audit().map_err(TestCaseError::fail)?;
    for block in m.blocks() {
        let want = if m.have[block.piece as usize] {
            BlockStatus::Have
        } else if let Some(p) = m.received.get(&block) {
            BlockStatus::Received(*p)
        } else if let Some(ps) = m.requested.get(&block) {
            BlockStatus::Requested(ps.iter().copied().collect())
        } else {
            BlockStatus::Free
        };
        let mut got = picker.block_status(&block).unwrap();
        if let BlockStatus::Requested(ps) = &mut got {
            ps.sort();
        }
        prop_assert_eq!(got, want, "{:?}", block);
        prop_assert!(!(m.received.contains_key(&block) && m.requested.contains_key(&block)));
    }
    for p in 0..m.layout.piece_count() {
        let count = m
            .peers
            .iter()
            .filter(|pm| pm.connected && (pm.seed || pm.bits.as_ref().is_some_and(|b| b.get(p))))
            .count() as u32;
        prop_assert_eq!(picker.availability(p), count, "availability of {}", p);
    }
    Ok(())
}

fn step(picker: &mut Picker, m: &mut Model, op: u8, k: usize, x: u16) -> Result<(), TestCaseError> {
    let key = PeerKey(k as u32);
    let n = m.layout.piece_count();
    match op % 10 {
        0 if !m.peers[k].connected => {
            m.peers[k].connected = true;
            if x % 5 == 0 {
                m.peers[k].seed = true;
                picker.on_have_all(key).unwrap();
            } else {
                let mut b = Bitfield::new(n);
                for p in 0..n {
                    if x & (1 << (p % 16)) != 0 {
                        b.set(p);
                    }
                }
                picker.on_bitfield(key, &b).unwrap();
                m.peers[k].seed = b.is_full() && n > 0;
                m.peers[k].bits = Some(b);
            }
        }
        1 if m.peers[k].connected && !m.peers[k].seed => {
            let piece = u32::from(x) % n;
            let bits = m.peers[k].bits.as_mut().unwrap();
            if bits.set(piece) {
                picker.on_have(key, piece).unwrap();
            }
        }
        2 if m.peers[k].connected => {
            let has = m.has(k);
            let max = usize::from(x % 6) + 1;
            let picked = picker.pick(key, &has, max);
            prop_assert!(picked.len() <= max);
            let mut seen = BTreeSet::new();
            for b in &picked {
                prop_assert!(seen.insert(*b), "twice in one pick");
                prop_assert!(has.get(b.piece), "a piece the peer lacks");
                prop_assert!(!m.have[b.piece as usize], "verified piece picked");
                prop_assert!(!m.received.contains_key(b), "received block picked");
                let asked = m.requested.entry(*b).or_default();
                prop_assert!(!asked.contains(&key), "twice to one peer");
                if !asked.is_empty() {
                    prop_assert!(picker.in_endgame(), "double assignment outside endgame");
                }
                asked.insert(key);
                prop_assert!(asked.len() <= m.cap, "more requesters than the cap");
            }
            if picked.len() < max {
                for b in m.blocks() {
                    let free = !m.have[b.piece as usize]
                        && !m.received.contains_key(&b)
                        && !m.requested.contains_key(&b);
                    prop_assert!(!(free && has.get(b.piece)), "short pick left {:?}", b);
                }
            }
        }
        3 => {
            let out = m.outstanding();
            let (block, from) = if !out.is_empty() && x % 4 != 0 {
                out[usize::from(x) % out.len()]
            } else {
                let all = m.blocks();
                (all[usize::from(x) % all.len()], key)
            };
            let mut cancels = Vec::new();
            let got = picker.on_block_received(from, block, &mut cancels);
            if m.have[block.piece as usize] {
                prop_assert_eq!(got, Err(Rejected::AlreadyHave));
            } else if m.received.contains_key(&block) {
                prop_assert_eq!(got, Err(Rejected::Duplicate));
            } else {
                let asked = m.requested.remove(&block).unwrap_or_default();
                m.received.insert(block, from);
                let complete = (0..m.layout.blocks_in_piece(block.piece)).all(|b| {
                    m.received
                        .contains_key(&m.layout.block(block.piece, b).unwrap())
                });
                prop_assert_eq!(
                    got,
                    Ok(Accepted {
                        piece_complete: complete,
                        solicited: asked.contains(&from)
                    })
                );
                cancels.sort();
                let others: Vec<PeerKey> = asked.into_iter().filter(|p| *p != from).collect();
                prop_assert_eq!(cancels, others);
            }
        }
        4 => {
            let mine: Vec<BlockRef> = m
                .outstanding()
                .into_iter()
                .filter(|o| o.1 == key)
                .map(|o| o.0)
                .collect();
            let all = m.blocks();
            let block = if !mine.is_empty() && x % 3 != 0 {
                mine[usize::from(x) % mine.len()]
            } else {
                all[usize::from(x) % all.len()]
            };
            let was = m.requested.get(&block).is_some_and(|s| s.contains(&key));
            prop_assert_eq!(picker.on_request_cancelled(key, block), was);
            if was {
                let set = m.requested.get_mut(&block).unwrap();
                set.remove(&key);
                if set.is_empty() {
                    m.requested.remove(&block);
                }
            }
        }
        5 | 6 => {
            let gone = op % 10 == 6 && m.peers[k].connected;
            let returned = if gone {
                let has = m.has(k);
                m.peers[k] = PeerModel::default();
                picker.on_peer_gone(key, &has)
            } else {
                picker.on_peer_choked(key)
            };
            let mut count = 0;
            m.requested.retain(|_, set| {
                count += usize::from(set.remove(&key));
                !set.is_empty()
            });
            prop_assert_eq!(returned, count);
        }
        7 => {
            let complete = m.complete_pieces();
            if !complete.is_empty() && x % 5 != 0 {
                let piece = complete[usize::from(x) % complete.len()];
                let blocks: Vec<BlockRef> = (0..m.layout.blocks_in_piece(piece))
                    .map(|b| m.layout.block(piece, b).unwrap())
                    .collect();
                if x % 2 == 0 {
                    prop_assert_eq!(picker.on_piece_verified(piece), Ok(vec![]));
                    m.have[piece as usize] = true;
                } else {
                    let mut senders: Vec<PeerKey> = blocks.iter().map(|b| m.received[b]).collect();
                    senders.sort();
                    senders.dedup();
                    prop_assert_eq!(picker.on_piece_failed(piece), Ok(senders));
                }
                for b in &blocks {
                    m.received.remove(b);
                }
            } else if x % 7 == 0 {
                // An early verify (resume, or a hash of data from elsewhere).
                let piece = u32::from(x / 7) % n;
                let mut got = picker.on_piece_verified(piece).unwrap();
                got.sort();
                let mut want: Vec<(PeerKey, BlockRef)> = Vec::new();
                if !m.have[piece as usize] {
                    m.have[piece as usize] = true;
                    for (b, ps) in &m.requested {
                        if b.piece == piece {
                            want.extend(ps.iter().map(|p| (*p, *b)));
                        }
                    }
                }
                want.sort();
                prop_assert_eq!(got, want);
                m.requested.retain(|b, _| b.piece != piece);
                m.received.retain(|b, _| b.piece != piece);
            }
        }
        8 => picker.set_mode(if x % 2 == 0 {
            PickMode::RarestFirst
        } else {
            PickMode::Sequential
        }),
        9 => picker.set_deadline((x % 3 != 0).then(|| Deadline {
            cursor: u32::from(x >> 2) % (n + 1),
            window: u32::from(x >> 8) % 4,
        })),
        _ => {}
    }
    Ok(())
}

fn torrent() -> impl Strategy<Value = Layout> {
    (1u32..8, 1u32..4, 0u32..BLOCK_SIZE * 2).prop_map(|(pieces, blocks, short)| {
        let plen = u64::from(blocks * BLOCK_SIZE);
        let total = (u64::from(pieces) * plen)
            .saturating_sub(u64::from(short))
            .max(1);
        Layout::new(total, plen).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        rng_seed: RngSeed::Fixed(0x5eed_0013),
        ..ProptestConfig::default()
    })]

    #[test]
    fn invariants_hold_under_random_events(
        layout in torrent(),
        seed in any::<u64>(),
        endgame in 1u32..4,
        ops in proptest::collection::vec((any::<u8>(), 0usize..4, any::<u16>()), 1..250),
    ) {
        let mut picker = Picker::new(layout, seed);
        picker.set_endgame_requesters(endgame);
        let mut m = Model {
            layout,
            have: vec![false; layout.piece_count() as usize],
            requested: BTreeMap::new(),
            received: BTreeMap::new(),
            peers: (0..4).map(|_| PeerModel::default()).collect(),
            cap: endgame as usize,
        };
        for (op, k, x) in ops {
            step(&mut picker, &mut m, op, k, x)?;
            check(&picker, &m)?;
        }
    }
}
