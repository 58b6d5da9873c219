//! The piece picker on crafted swarms: rarest-first order, the seeded
//! tie-break, partial pieces first, sequential and deadline order,
//! endgame duplicates and cancels, failed pieces, bad input, and a
//! 10,000-piece download timed. (Random event sequences checking the
//! invariants are in torrent_picker_props.rs.)

use std::collections::HashSet;
use std::time::Instant;

use kamaelia::internet::simulate::SplitMix64;
use kamaelia::protocol::torrent::pieces::{Bitfield, BlockRef, Layout, BLOCK_SIZE};
use kamaelia::protocol::torrent::swarm::{
    Accepted, BlockStatus, Deadline, PeerKey, PickMode, Picker, PickerError, Rejected,
};

/// `pieces` pieces of `blocks` full blocks each.
fn layout(pieces: u32, blocks: u32) -> Layout {
    let plen = u64::from(blocks * BLOCK_SIZE);
    Layout::new(u64::from(pieces) * plen, plen).unwrap()
}

fn bits(n: u32, ones: &[u32]) -> Bitfield {
    let mut b = Bitfield::new(n);
    for &i in ones {
        b.set(i);
    }
    b
}

const A: PeerKey = PeerKey(1);
const B: PeerKey = PeerKey(2);
const C: PeerKey = PeerKey(3);
const S: PeerKey = PeerKey(100);

/// A picker whose piece `p` is had by `counts[p]` peers (keys 10, 11, ...).
fn crafted(counts: &[u32], blocks: u32, seed: u64) -> Picker {
    let n = counts.len() as u32;
    let mut picker = Picker::new(layout(n, blocks), seed);
    let peers = counts.iter().copied().max().unwrap_or(0);
    for i in 0..peers {
        let ones: Vec<u32> = (0..n).filter(|&p| counts[p as usize] > i).collect();
        picker
            .on_bitfield(PeerKey(10 + i), &bits(n, &ones))
            .unwrap();
    }
    picker
}

/// Pieces in the order a seed is given them, one block at a time.
fn seed_order(picker: &mut Picker) -> Vec<u32> {
    let full = Bitfield::full(picker.layout().piece_count());
    let mut order = Vec::new();
    loop {
        let got = picker.pick(S, &full, 1);
        let Some(block) = got.first() else { break };
        if order.last() != Some(&block.piece) {
            order.push(block.piece);
        }
        picker
            .on_block_received(S, *block, &mut Vec::new())
            .unwrap();
    }
    order
}

#[test]
fn rarest_first_follows_a_crafted_availability() {
    let counts = [3, 1, 4, 7, 5, 2, 6, 8];
    let mut picker = crafted(&counts, 2, 1);
    picker.on_have_all(S).unwrap();
    for (p, &c) in counts.iter().enumerate() {
        assert_eq!(picker.availability(p as u32), c + 1, "piece {p}");
    }
    assert_eq!(seed_order(&mut picker), [1, 5, 0, 2, 4, 6, 3, 7]);
    picker.audit().unwrap();
}

#[test]
fn have_and_departures_reorder_the_pieces() {
    // counts 3, 2, 1, 0: piece 3 only from the seed.
    let mut picker = crafted(&[3, 2, 1, 0], 1, 5);
    picker.on_have_all(S).unwrap();
    let full = Bitfield::full(4);
    let first = |p: &mut Picker| {
        let b = p.pick(S, &full, 1)[0];
        assert!(p.on_request_cancelled(S, b));
        b.piece
    };
    assert_eq!(first(&mut picker), 3);
    for peer in 10..13 {
        picker.on_have(PeerKey(peer), 3).unwrap(); // piece 3 now 3 + seed
    }
    assert_eq!(picker.availability(3), 4);
    assert_eq!(first(&mut picker), 2);
    // Peer 10 had 0, 1 and 2 in its bitfield, and 3 by a have.
    picker.on_peer_gone(PeerKey(10), &bits(4, &[0, 1, 2, 3]));
    assert_eq!(
        (0..4).map(|p| picker.availability(p)).collect::<Vec<_>>(),
        [3, 2, 1, 3]
    );
    picker.on_peer_gone(S, &Bitfield::new(4)); // a seed: its bitfield is not needed
    assert_eq!(
        (0..4).map(|p| picker.availability(p)).collect::<Vec<_>>(),
        [2, 1, 0, 2]
    );
    // Without the seed, piece 2 (nobody) is never offered; 1 is rarest.
    let b = picker.pick(A, &full, 1);
    assert_eq!(b[0].piece, 1);
    picker.audit().unwrap();
}

#[test]
fn equal_pieces_are_ordered_by_the_seed() {
    let mut firsts = HashSet::new();
    let mut orders = HashSet::new();
    for seed in 0..32 {
        let mut picker = Picker::new(layout(64, 1), seed);
        picker.on_have_all(S).unwrap();
        let order = seed_order(&mut picker);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..64).collect::<Vec<_>>(), "a permutation");
        firsts.insert(order[0]);
        orders.insert(order);
    }
    assert_eq!(orders.len(), 32, "every seed a different order");
    assert!(firsts.len() >= 16, "first pieces spread: {}", firsts.len());

    // The same seed, the same order.
    let run = |seed| {
        let mut p = Picker::new(layout(64, 1), seed);
        p.on_have_all(S).unwrap();
        seed_order(&mut p)
    };
    assert_eq!(run(9), run(9));

    // Ties broken at random, but never across availability: the 8 pieces
    // two peers have come before the 8 that three have, whatever the seed.
    let counts: Vec<u32> = (0..16).map(|p| if p % 2 == 0 { 2 } else { 3 }).collect();
    let mut firsts = HashSet::new();
    for seed in 0..16 {
        let mut picker = crafted(&counts, 1, seed);
        picker.on_have_all(S).unwrap();
        let order = seed_order(&mut picker);
        assert!(order[..8].iter().all(|p| p % 2 == 0), "{order:?}");
        assert!(order[8..].iter().all(|p| p % 2 == 1), "{order:?}");
        firsts.insert(order[0]);
    }
    assert!(firsts.len() >= 4, "{firsts:?}");
}

#[test]
fn a_started_piece_is_finished_before_a_new_one() {
    // Piece 3 is the most common, yet once started it comes first.
    let mut picker = crafted(&[1, 1, 1, 4], 4, 2);
    let only3 = bits(4, &[3]);
    let a = picker.pick(A, &only3, 2);
    assert_eq!(
        a.iter().map(|b| (b.piece, b.offset)).collect::<Vec<_>>(),
        [(3, 0), (3, BLOCK_SIZE)]
    );
    let full = Bitfield::full(4);
    let b = picker.pick(B, &full, 3);
    assert_eq!(
        b.iter().map(|b| (b.piece, b.offset)).collect::<Vec<_>>(),
        [(3, 2 * BLOCK_SIZE), (3, 3 * BLOCK_SIZE), (b[2].piece, 0)]
    );
    assert_ne!(b[2].piece, 3);
    // A receives one block and leaves: its other block goes back and is
    // the next one given, before the rest of B's new piece... which is
    // itself partial, so both partials come first, oldest first.
    let accepted = picker.on_block_received(A, a[0], &mut Vec::new()).unwrap();
    assert_eq!(
        accepted,
        Accepted {
            piece_complete: false,
            solicited: true
        }
    );
    assert_eq!(picker.on_peer_gone(A, &only3), 1);
    let c = picker.pick(C, &full, 5);
    assert_eq!(c[0], a[1]);
    assert!(c[1..4].iter().all(|x| x.piece == b[2].piece));
    assert_ne!(c[4].piece, 3);
    assert_ne!(c[4].piece, b[2].piece);
    picker.audit().unwrap();
}

#[test]
fn a_piece_whose_requests_all_go_back_is_a_candidate_again() {
    let mut picker = crafted(&[1, 1], 2, 3);
    let full = Bitfield::full(2);
    let got = picker.pick(A, &full, 1);
    assert_eq!(picker.active_pieces(), 1);
    assert_eq!(picker.on_peer_choked(A), 1);
    assert_eq!(picker.active_pieces(), 0);
    assert_eq!(picker.block_status(&got[0]), Some(BlockStatus::Free));
    assert_eq!(picker.free_blocks(), 4);
    picker.audit().unwrap();
}

#[test]
fn sequential_mode_goes_in_index_order() {
    // Rarity says 4, 3, 2, 1, 0; sequential ignores it.
    let mut picker = crafted(&[5, 4, 3, 2, 1], 2, 4);
    picker.set_mode(PickMode::Sequential);
    picker.on_have_all(S).unwrap();
    let got: Vec<(u32, u32)> = picker
        .pick(S, &Bitfield::full(5), 10)
        .iter()
        .map(|b| (b.piece, b.offset / BLOCK_SIZE))
        .collect();
    let want: Vec<(u32, u32)> = (0..5).flat_map(|p| [(p, 0), (p, 1)]).collect();
    assert_eq!(got, want);

    // A peer without piece 0 starts at the first piece it has.
    let mut picker = crafted(&[5, 4, 3, 2, 1], 1, 4);
    picker.set_mode(PickMode::Sequential);
    let got = picker.pick(A, &bits(5, &[1, 3]), 5);
    assert_eq!(got.iter().map(|b| b.piece).collect::<Vec<_>>(), [1, 3]);
    // A cancelled piece below the cursor is found again.
    assert!(picker.on_request_cancelled(A, got[0]));
    let again = picker.pick(B, &Bitfield::full(5), 2);
    assert_eq!(again.iter().map(|b| b.piece).collect::<Vec<_>>(), [0, 1]);
}

#[test]
fn the_deadline_window_comes_first_in_order_then_rarest() {
    let counts = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    let mut picker = crafted(&counts, 1, 6);
    picker.on_have_all(S).unwrap();
    picker.set_deadline(Some(Deadline {
        cursor: 5,
        window: 3,
    }));
    let full = Bitfield::full(10);
    let got: Vec<u32> = picker.pick(S, &full, 6).iter().map(|b| b.piece).collect();
    assert_eq!(got, [5, 6, 7, 0, 1, 2]);
    // The player moves on: the window runs past the end and is clipped.
    picker.set_deadline(Some(Deadline {
        cursor: 8,
        window: 5,
    }));
    let got: Vec<u32> = picker.pick(S, &full, 3).iter().map(|b| b.piece).collect();
    assert_eq!(got, [8, 9, 3]);

    // A partial piece outside the window waits for the window's pieces.
    let mut picker = crafted(&[1; 6], 2, 6);
    let first = picker.pick(A, &bits(6, &[0]), 1);
    assert_eq!(first[0].piece, 0);
    picker.set_deadline(Some(Deadline {
        cursor: 4,
        window: 2,
    }));
    let got: Vec<(u32, u32)> = picker
        .pick(B, &Bitfield::full(6), 6)
        .iter()
        .map(|b| (b.piece, b.offset / BLOCK_SIZE))
        .collect();
    assert_eq!(got[..5], [(4, 0), (4, 1), (5, 0), (5, 1), (0, 1)]);
    picker.audit().unwrap();
}

#[test]
fn endgame_duplicates_requests_and_names_peers_to_cancel() {
    let mut picker = Picker::new(layout(2, 2), 7);
    for p in [A, B, C] {
        picker.on_have_all(p).unwrap();
    }
    let full = Bitfield::full(2);
    let a = picker.pick(A, &full, 10);
    assert_eq!(a.len(), 4);
    assert!(picker.in_endgame());
    assert!(
        picker.pick(A, &full, 10).is_empty(),
        "never twice to one peer"
    );
    let b = picker.pick(B, &full, 10);
    assert_eq!(b.len(), 4, "every block a second time");
    picker.set_endgame_requesters(2);
    assert!(
        picker.pick(C, &full, 10).is_empty(),
        "capped at two requesters"
    );
    picker.set_endgame_requesters(3);
    let c = picker.pick(C, &full, 1);
    assert_eq!(
        picker.block_status(&c[0]),
        Some(BlockStatus::Requested(vec![A, B, C]))
    );

    let mut cancels = Vec::new();
    let got = picker.on_block_received(B, c[0], &mut cancels).unwrap();
    cancels.sort();
    assert_eq!(cancels, [A, C]);
    assert!(got.solicited && !got.piece_complete);
    assert_eq!(
        picker.on_block_received(A, c[0], &mut Vec::new()),
        Err(Rejected::Duplicate)
    );
    // B withdraws its copy of another block: A's request remains, and
    // A's data then cancels nobody.
    let other = b.iter().copied().find(|x| *x != c[0]).unwrap();
    assert!(picker.on_request_cancelled(B, other));
    assert_eq!(
        picker.block_status(&other),
        Some(BlockStatus::Requested(vec![A]))
    );
    cancels.clear();
    picker.on_block_received(A, other, &mut cancels).unwrap();
    assert!(cancels.is_empty());
    picker.audit().unwrap();

    // With one requester a block, no endgame at all.
    let mut picker = Picker::new(layout(1, 2), 7);
    picker.set_endgame_requesters(1);
    picker.on_have_all(A).unwrap();
    assert_eq!(picker.pick(A, &Bitfield::full(1), 4).len(), 2);
    assert!(picker.pick(B, &Bitfield::full(1), 4).is_empty());
}

#[test]
fn a_failed_piece_goes_back_and_names_its_senders() {
    let mut picker = Picker::new(layout(2, 3), 8);
    picker.on_have_all(A).unwrap();
    picker.on_have_all(B).unwrap();
    let full = Bitfield::full(2);
    let a = picker.pick(A, &full, 2);
    let b = picker.pick(B, &full, 1);
    let piece = a[0].piece;
    assert_eq!(b[0].piece, piece);
    assert_eq!(
        picker.on_piece_failed(piece),
        Err(PickerError::NotComplete(piece))
    );
    let mut done = None;
    for (peer, blk) in [(B, b[0]), (A, a[1]), (A, a[0])] {
        done = Some(
            picker
                .on_block_received(peer, blk, &mut Vec::new())
                .unwrap(),
        );
    }
    assert!(done.unwrap().piece_complete);
    assert_eq!(picker.on_piece_failed(piece), Ok(vec![A, B]));
    for blk in [a[0], a[1], b[0]] {
        assert_eq!(picker.block_status(&blk), Some(BlockStatus::Free));
    }
    assert_eq!(picker.free_blocks(), 6);
    picker.audit().unwrap();

    // Fetched again, then verified: never picked or taken again.
    let again = picker.pick(B, &bits(2, &[piece]), 10);
    assert_eq!(again.len(), 3);
    for blk in &again {
        picker.on_block_received(B, *blk, &mut Vec::new()).unwrap();
    }
    assert_eq!(picker.on_piece_verified(piece), Ok(vec![]));
    assert!(picker.pick(A, &bits(2, &[piece]), 10).is_empty());
    assert_eq!(
        picker.on_block_received(A, again[0], &mut Vec::new()),
        Err(Rejected::AlreadyHave)
    );
    assert_eq!(picker.block_status(&again[0]), Some(BlockStatus::Have));
    picker.audit().unwrap();
}

#[test]
fn resume_marks_pieces_had_and_an_early_verify_returns_requests() {
    let mut picker = Picker::new(layout(3, 2), 9);
    assert_eq!(picker.on_piece_verified(1), Ok(vec![]));
    assert_eq!(picker.free_blocks(), 4);
    picker.on_have_all(A).unwrap();
    let got = picker.pick(A, &Bitfield::full(3), 10);
    assert!(got.iter().all(|b| b.piece != 1));
    assert_eq!(got.len(), 4);
    let out = picker.on_piece_verified(got[0].piece).unwrap();
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|(p, b)| *p == A && b.piece == got[0].piece));
    assert!(!picker.is_complete());
    picker.on_piece_verified(got[3].piece).unwrap();
    assert!(picker.is_complete() && !picker.in_endgame());
    picker.audit().unwrap();
}

#[test]
fn unsolicited_and_bad_blocks_and_bad_reports_are_refused_or_flagged() {
    let l = Layout::new(40_000, 32_768).unwrap(); // piece 1: 7,232 bytes
    let mut picker = Picker::new(l, 10);
    assert_eq!(
        picker.on_bitfield(A, &Bitfield::new(3)),
        Err(PickerError::BitfieldLength {
            expected: 2,
            got: 3
        })
    );
    picker.on_bitfield(A, &bits(2, &[1])).unwrap();
    assert_eq!(picker.on_have_all(A), Err(PickerError::AlreadyAnnounced(A)));
    picker.on_have_none(C).unwrap();
    assert_eq!(
        picker.on_have_none(C),
        Err(PickerError::AlreadyAnnounced(C))
    );
    assert_eq!(
        picker.on_bitfield(C, &Bitfield::new(2)),
        Err(PickerError::AlreadyAnnounced(C))
    );
    assert_eq!((picker.availability(0), picker.availability(1)), (0, 1));
    assert_eq!(picker.on_have(A, 2), Err(PickerError::PieceOutOfRange(2)));
    assert_eq!(
        picker.on_piece_verified(9),
        Err(PickerError::PieceOutOfRange(9))
    );
    let r = |piece, offset, len| BlockRef { piece, offset, len };
    let mut c = Vec::new();
    for bad in [
        r(0, 1, BLOCK_SIZE),
        r(1, 0, BLOCK_SIZE),
        r(2, 0, 1),
        r(0, BLOCK_SIZE * 2, BLOCK_SIZE),
    ] {
        assert_eq!(
            picker.on_block_received(A, bad, &mut c),
            Err(Rejected::NotABlock),
            "{bad:?}"
        );
        assert!(!picker.on_request_cancelled(A, bad));
    }
    assert!(
        picker.pick(A, &Bitfield::new(5), 4).is_empty(),
        "wrong-size bitfield"
    );
    // A block nobody asked for is taken (it is missing) but flagged.
    let tail = r(1, 0, 7_232);
    let got = picker.on_block_received(B, tail, &mut c).unwrap();
    assert_eq!(
        got,
        Accepted {
            piece_complete: true,
            solicited: false
        }
    );
    assert!(!picker.on_request_cancelled(B, tail), "not requested");
    assert!(picker.is_interesting(&bits(2, &[0])));
    picker.on_piece_verified(1).unwrap();
    assert!(!picker.is_interesting(&bits(2, &[1])));
    assert!(!picker.is_interesting(&Bitfield::new(7)));
    picker.audit().unwrap();

    // An empty torrent: complete from the start, nothing to pick.
    let mut empty = Picker::new(Layout::new(0, 16_384).unwrap(), 1);
    assert!(empty.is_complete() && !empty.in_endgame());
    empty.on_bitfield(A, &Bitfield::new(0)).unwrap();
    assert!(empty.pick(A, &Bitfield::new(0), 4).is_empty());
    assert_eq!(empty.on_have(A, 0), Err(PickerError::PieceOutOfRange(0)));
    empty.audit().unwrap();
}

#[test]
fn ten_thousand_pieces_download_to_the_end() {
    // 10,000 pieces of 4 blocks, 40 peers with random halves, 4 seeds
    // joining late; each round every peer asks for up to 16 blocks and
    // answers them all. Timed, to see a pick does not scan the torrent.
    let n = 10_000;
    let mut picker = Picker::new(layout(n, 4), 11);
    let mut rng = SplitMix64::new(12);
    let mut peers: Vec<(PeerKey, Bitfield)> = Vec::new();
    for k in 0..40 {
        let mut b = Bitfield::new(n);
        for p in 0..n {
            if rng.below(2) == 0 {
                b.set(p);
            }
        }
        picker.on_bitfield(PeerKey(k), &b).unwrap();
        peers.push((PeerKey(k), b));
    }
    let started = Instant::now();
    let (mut picks, mut rounds, mut cancels) = (0u64, 0u32, Vec::new());
    let mut out = Vec::with_capacity(16);
    while !picker.is_complete() {
        rounds += 1;
        if rounds == 100 {
            for k in 40..44 {
                picker.on_have_all(PeerKey(k)).unwrap();
                peers.push((PeerKey(k), Bitfield::full(n)));
            }
        }
        for (key, has) in &peers {
            out.clear();
            picks += picker.pick_into(*key, has, 16, &mut out) as u64;
            for blk in &out {
                let got = picker.on_block_received(*key, *blk, &mut cancels).unwrap();
                assert!(got.solicited && cancels.is_empty());
                if got.piece_complete {
                    picker.on_piece_verified(blk.piece).unwrap();
                }
            }
        }
        assert!(rounds < 10_000, "no progress");
    }
    let took = started.elapsed();
    assert_eq!(picks, 40_000);
    picker.audit().unwrap();
    println!(
        "10,000 pieces x 4 blocks in {rounds} rounds: {picks} blocks picked in {:?} ({:.2} us a block)",
        took,
        took.as_secs_f64() * 1e6 / picks as f64
    );
}
