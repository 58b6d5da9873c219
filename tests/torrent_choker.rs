//! The choker on virtual time: regular slots by rate (download rate while
//! leeching, upload rate when seeding), snubbed peers left out, the
//! optimistic slot rotated every 30 s with new peers favoured 3 to 1,
//! only the changes sent, the same decisions from the same seed.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use kamaelia::protocol::torrent::swarm::{
    ChokeChange, Choker, ChokerConfig, PeerKey, PeerView, Role,
};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Peer `k`, connected long before `t0`, interested, choked, sending us
/// `down` and taking `up` bytes a second, a block just now.
fn peer(t0: Instant, k: u32, down: u64, up: u64) -> PeerView {
    PeerView {
        download_rate: down,
        upload_rate: up,
        last_block_at: Some(t0),
        ..PeerView::new(PeerKey(k), t0 - secs(600))
    }
}

fn keys(ks: &[u32]) -> Vec<PeerKey> {
    ks.iter().map(|&k| PeerKey(k)).collect()
}

/// Applies a decision to the views, as the caller would after sending it.
fn apply(peers: &mut [PeerView], changes: &[ChokeChange]) {
    for c in changes {
        let (k, choked) = match *c {
            ChokeChange::Choke(k) => (k, true),
            ChokeChange::Unchoke(k) => (k, false),
        };
        peers.iter_mut().find(|p| p.key == k).unwrap().choked = choked;
    }
}

#[test]
fn leeching_unchokes_the_four_fastest_senders_and_one_optimist() {
    let t0 = Instant::now() + secs(1_000);
    let mut peers: Vec<PeerView> = (0..8)
        .map(|k| peer(t0, k, u64::from(k) * 1_000, 0))
        .collect();
    peers[7].interested = false; // the fastest wants nothing from us
    let mut choker = Choker::new(ChokerConfig::default(), 1);
    let d = choker.rechoke(t0, &peers, Role::Leeching);
    assert_eq!(d.regular, keys(&[6, 5, 4, 3]));
    let opt = d.optimistic.unwrap();
    assert!([0, 1, 2].contains(&opt.0), "{opt:?}");
    let mut unchoked: Vec<PeerKey> = d
        .changes
        .iter()
        .map(|c| match c {
            ChokeChange::Unchoke(k) => *k,
            ChokeChange::Choke(k) => panic!("nobody was unchoked: {k:?}"),
        })
        .collect();
    unchoked.sort();
    let mut want = keys(&[6, 5, 4, 3]);
    want.push(opt);
    want.sort();
    assert_eq!(unchoked, want);

    // Rates change: only the differences go out.
    apply(&mut peers, &d.changes);
    peers[3].download_rate = 0;
    peers[2].download_rate = 9_000;
    let d2 = choker.rechoke(t0 + secs(10), &peers, Role::Leeching);
    assert_eq!(d2.regular, keys(&[2, 6, 5, 4]));
    if opt.0 != 2 {
        assert_eq!(d2.optimistic, Some(opt), "kept for 30 s");
    } else {
        assert!([0, 1, 3].contains(&d2.optimistic.unwrap().0), "re-chosen");
    }
    let expect_choke_3 = d2.optimistic != Some(PeerKey(3));
    assert_eq!(
        d2.changes.contains(&ChokeChange::Choke(PeerKey(3))),
        expect_choke_3
    );
    assert!(!d2
        .changes
        .iter()
        .any(|c| matches!(c, ChokeChange::Unchoke(k) if [4, 5, 6].contains(&k.0))));
}

#[test]
fn seeding_ranks_by_upload_rate() {
    let t0 = Instant::now() + secs(1_000);
    // Download rates say 0..5, upload rates the reverse.
    let peers: Vec<PeerView> = (0..6)
        .map(|k| peer(t0, k, u64::from(k) * 1_000, u64::from(6 - k) * 1_000))
        .collect();
    let mut choker = Choker::new(ChokerConfig::default(), 2);
    assert_eq!(
        choker.rechoke(t0, &peers, Role::Seeding).regular,
        keys(&[0, 1, 2, 3])
    );
    assert_eq!(
        choker.rechoke(t0, &peers, Role::Leeching).regular,
        keys(&[5, 4, 3, 2])
    );
}

#[test]
fn snubbed_peers_get_no_regular_slot_while_leeching() {
    let t0 = Instant::now() + secs(1_000);
    let mut peers: Vec<PeerView> = (0..6)
        .map(|k| peer(t0, k, u64::from(k) * 1_000, 0))
        .collect();
    // Peer 5 is the fastest on paper but sent nothing for 60 s; peer 4
    // for 59 s (not yet snubbed); peer 3 never sent a block since it
    // connected 61 s ago.
    peers[5].last_block_at = Some(t0 - secs(60));
    peers[4].last_block_at = Some(t0 - secs(59));
    peers[3].last_block_at = None;
    peers[3].connected_at = t0 - secs(61);
    let config = ChokerConfig {
        regular_slots: 3,
        ..ChokerConfig::default()
    };
    let mut choker = Choker::new(config, 3);
    assert!(choker.is_snubbed(&peers[5], t0) && !choker.is_snubbed(&peers[4], t0));
    assert_eq!(
        choker.rechoke(t0, &peers, Role::Leeching).regular,
        keys(&[4, 2, 1])
    );
    // A peer we want nothing from is not snubbing us.
    peers[5].am_interested = false;
    assert_eq!(
        choker.rechoke(t0, &peers, Role::Leeching).regular,
        keys(&[5, 4, 2])
    );
    // Seeding, nobody is snubbed: we download nothing.
    peers[5].am_interested = true;
    let seeding: Vec<PeerView> = peers
        .iter()
        .map(|p| PeerView {
            upload_rate: p.download_rate,
            ..*p
        })
        .collect();
    assert_eq!(
        choker.rechoke(t0, &seeding, Role::Seeding).regular,
        keys(&[5, 4, 3])
    );
}

#[test]
fn equal_rates_keep_the_peers_already_unchoked() {
    let t0 = Instant::now() + secs(1_000);
    let mut peers: Vec<PeerView> = (0..6).map(|k| peer(t0, k, 500, 0)).collect();
    peers[5].choked = false;
    peers[4].choked = false;
    let config = ChokerConfig {
        regular_slots: 3,
        ..ChokerConfig::default()
    };
    let d = Choker::new(config, 4).rechoke(t0, &peers, Role::Leeching);
    assert_eq!(d.regular, keys(&[4, 5, 0]));
}

#[test]
fn the_optimistic_slot_rotates_every_30_seconds() {
    let t0 = Instant::now() + secs(1_000);
    // Four fast peers hold the regular slots; six slow ones share the
    // optimistic slot.
    let mut peers: Vec<PeerView> = (0..10)
        .map(|k| peer(t0, k, if k < 4 { 10_000 } else { 0 }, 0))
        .collect();
    let mut choker = Choker::new(ChokerConfig::default(), 5);
    let mut history = Vec::new();
    let mut t = t0;
    for round in 0..30 {
        assert!(choker.due(t), "round {round}");
        let d = choker.rechoke(t, &peers, Role::Leeching);
        assert_eq!(d.regular, keys(&[0, 1, 2, 3]));
        apply(&mut peers, &d.changes);
        let unchoked = peers.iter().filter(|p| !p.choked).count();
        assert_eq!(unchoked, 5, "four regular and one optimistic");
        history.push(d.optimistic.unwrap());
        assert_eq!(choker.next_at(), Some(t + secs(10)));
        assert!(!choker.due(t + secs(9)));
        for p in &mut peers {
            p.last_block_at = Some(t);
        }
        t += secs(10);
    }
    for (round, pair) in history.windows(2).enumerate() {
        let round = round + 1; // pair[1] is this round's
        if round % 3 == 0 {
            assert_ne!(pair[0], pair[1], "rotated at {} s", round * 10);
        } else {
            assert_eq!(pair[0], pair[1], "kept at {} s", round * 10);
        }
    }
    let distinct: HashSet<PeerKey> = history.iter().copied().collect();
    assert!(distinct.len() >= 4, "{distinct:?}");
    assert!(distinct.iter().all(|k| k.0 >= 4));
}

#[test]
fn the_optimistic_slot_is_refilled_when_its_peer_goes() {
    let t0 = Instant::now() + secs(1_000);
    let mut peers: Vec<PeerView> = (0..7)
        .map(|k| peer(t0, k, if k < 4 { 10_000 } else { 0 }, 0))
        .collect();
    let mut choker = Choker::new(ChokerConfig::default(), 6);
    let first = choker
        .rechoke(t0, &peers, Role::Leeching)
        .optimistic
        .unwrap();
    // It loses interest 10 s later: another takes the slot at once.
    peers
        .iter_mut()
        .find(|p| p.key == first)
        .unwrap()
        .interested = false;
    let second = choker
        .rechoke(t0 + secs(10), &peers, Role::Leeching)
        .optimistic
        .unwrap();
    assert_ne!(second, first);
    // It leaves: the same.
    peers.retain(|p| p.key != second);
    let third = choker
        .rechoke(t0 + secs(20), &peers, Role::Leeching)
        .optimistic
        .unwrap();
    assert!(third != first && third != second);
    // It earns a regular slot, pushing peer 3 out of them: the optimistic
    // slot goes to the only one left outside, peer 3.
    peers
        .iter_mut()
        .find(|p| p.key == third)
        .unwrap()
        .download_rate = 50_000;
    let d = choker.rechoke(t0 + secs(25), &peers, Role::Leeching);
    assert_eq!(d.regular, vec![third, PeerKey(0), PeerKey(1), PeerKey(2)]);
    assert_eq!(d.optimistic, Some(PeerKey(3)));
    // Nobody interested: nobody unchoked, and the ones that were are choked.
    let mut idle = peers.clone();
    for p in &mut idle {
        p.interested = false;
        p.choked = false;
    }
    let d = choker.rechoke(t0 + secs(30), &idle, Role::Leeching);
    assert!(d.regular.is_empty() && d.optimistic.is_none());
    assert_eq!(d.changes.len(), idle.len());
    assert!(d.changes.iter().all(|c| matches!(c, ChokeChange::Choke(_))));
}

#[test]
fn new_peers_are_three_times_as_likely_to_be_the_optimist() {
    let t0 = Instant::now() + secs(1_000);
    let old = peer(t0, 1, 0, 0);
    let new = PeerView::new(PeerKey(2), t0 - secs(5));
    let config = ChokerConfig {
        regular_slots: 0,
        ..ChokerConfig::default()
    };
    let trials = 4_000;
    let mut new_won = 0;
    for seed in 0..trials {
        let d = Choker::new(config, seed).rechoke(t0, &[old, new], Role::Leeching);
        if d.optimistic == Some(PeerKey(2)) {
            new_won += 1;
        }
    }
    let share = f64::from(new_won) / trials as f64;
    assert!((0.72..0.78).contains(&share), "new peer chosen {share}");
}

#[test]
fn decisions_are_a_function_of_the_seed_peers_and_clock() {
    let t0 = Instant::now() + secs(1_000);
    let peers: Vec<PeerView> = (0..12)
        .map(|k| peer(t0, k, u64::from(k % 3) * 100, 0))
        .collect();
    let run = |seed| {
        let mut choker = Choker::new(ChokerConfig::default(), seed);
        (0..20)
            .map(|i| choker.rechoke(t0 + secs(10 * i), &peers, Role::Leeching))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(77), run(77));
    let optimists = |seed| run(seed).iter().map(|d| d.optimistic).collect::<Vec<_>>();
    assert_ne!(optimists(77), optimists(78));
}
