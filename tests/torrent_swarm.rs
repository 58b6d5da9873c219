//! The tracker server's state (`Swarms`): who is in a swarm, what a reply
//! holds, fairness, limits, expiry. Pure data, a fixed clock.

use kamaelia::protocol::torrent::tracker::swarm::{Refusal, SwarmConfig, Swarms};
use kamaelia::protocol::torrent::tracker::{AnnounceEvent, AnnounceRequest, InfoHash};
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

const T: InfoHash = [0xAB; 20];

fn req(port: u16, left: u64, event: AnnounceEvent) -> AnnounceRequest {
    AnnounceRequest {
        info_hash: T,
        peer_id: [port as u8; 20],
        port,
        uploaded: 0,
        downloaded: 0,
        left,
        event,
        numwant: None,
        key: None,
        ip: None,
        compact: true,
        tracker_id: None,
    }
}

fn ip(n: u8) -> IpAddr {
    IpAddr::from([192, 0, 2, n])
}

fn ports(reply: &kamaelia::protocol::torrent::tracker::AnnounceReply) -> Vec<u16> {
    reply.peers.iter().map(|p| p.addr.port()).collect()
}

#[test]
fn the_second_announcer_sees_the_first_and_not_itself() {
    let now = Instant::now();
    let mut s = Swarms::new(SwarmConfig::default());
    let first = s
        .announce(&req(1000, 5, AnnounceEvent::Started), ip(1), now)
        .unwrap();
    assert!(first.peers.is_empty());
    assert_eq!((first.complete, first.incomplete), (Some(0), Some(1)));
    assert_eq!((first.interval, first.min_interval), (1800, Some(900)));
    let second = s
        .announce(&req(2000, 0, AnnounceEvent::Started), ip(2), now)
        .unwrap();
    assert_eq!(second.peers.len(), 1);
    assert_eq!(
        second.peers[0].addr,
        SocketAddr::new(ip(1), 1000),
        "the IP is the source's"
    );
    assert_eq!(second.peers[0].id, Some([1000u16 as u8; 20]));
    assert_eq!((second.complete, second.incomplete), (Some(1), Some(1)));
    assert_eq!((s.torrents(), s.peers()), (1, 2));
}

#[test]
fn a_claimed_ip_counts_only_from_loopback() {
    let now = Instant::now();
    let mut s = Swarms::new(SwarmConfig::default());
    let mut r = req(1000, 5, AnnounceEvent::Started);
    r.ip = Some(ip(9));
    s.announce(&r, ip(1), now).unwrap();
    r.port = 1001;
    s.announce(&r, IpAddr::from([127, 0, 0, 1]), now).unwrap();
    let mut look = req(3000, 5, AnnounceEvent::None);
    look.numwant = Some(10);
    let mut seen: Vec<SocketAddr> = s
        .announce(&look, ip(3), now)
        .unwrap()
        .peers
        .iter()
        .map(|p| p.addr)
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![SocketAddr::new(ip(1), 1000), SocketAddr::new(ip(9), 1001)]
    );
}

#[test]
fn an_ipv4_mapped_source_is_stored_as_ipv4() {
    let now = Instant::now();
    let mut s = Swarms::new(SwarmConfig::default());
    let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
    s.announce(&req(1000, 5, AnnounceEvent::Started), mapped, now)
        .unwrap();
    let reply = s
        .announce(&req(2000, 5, AnnounceEvent::Started), ip(2), now)
        .unwrap();
    assert_eq!(reply.peers[0].addr, SocketAddr::new(ip(7), 1000));
}

#[test]
fn seeders_get_no_seeders_but_leechers_get_both() {
    let now = Instant::now();
    let mut s = Swarms::new(SwarmConfig::default());
    s.announce(&req(1, 0, AnnounceEvent::Started), ip(1), now)
        .unwrap();
    s.announce(&req(2, 7, AnnounceEvent::Started), ip(2), now)
        .unwrap();
    s.announce(&req(3, 0, AnnounceEvent::Started), ip(3), now)
        .unwrap();
    let seeder = s
        .announce(&req(1, 0, AnnounceEvent::None), ip(1), now)
        .unwrap();
    assert_eq!(ports(&seeder), vec![2]);
    let mut leecher = ports(
        &s.announce(&req(2, 7, AnnounceEvent::None), ip(2), now)
            .unwrap(),
    );
    leecher.sort();
    assert_eq!(leecher, vec![1, 3]);
}

#[test]
fn stopped_removes_the_peer_and_empties_the_torrent() {
    let now = Instant::now();
    let mut s = Swarms::new(SwarmConfig::default());
    s.announce(&req(1, 5, AnnounceEvent::Started), ip(1), now)
        .unwrap();
    s.announce(&req(2, 5, AnnounceEvent::Started), ip(2), now)
        .unwrap();
    let gone = s
        .announce(&req(1, 5, AnnounceEvent::Stopped), ip(1), now)
        .unwrap();
    assert!(gone.peers.is_empty());
    assert_eq!(gone.incomplete, Some(1));
    assert_eq!(s.peers(), 1);
    // A stop from another address does not remove peer 2 (keyed by address).
    s.announce(&req(2, 5, AnnounceEvent::Stopped), ip(9), now)
        .unwrap();
    assert_eq!(s.peers(), 1);
    s.announce(&req(2, 5, AnnounceEvent::Stopped), ip(2), now)
        .unwrap();
    assert_eq!((s.torrents(), s.peers()), (0, 0));
    // A stop for a torrent nobody announced creates nothing.
    let mut other = req(3, 5, AnnounceEvent::Stopped);
    other.info_hash = [1; 20];
    s.announce(&other, ip(3), now).unwrap();
    assert_eq!(s.torrents(), 0);
}

#[test]
fn completed_counts_once_per_peer_and_makes_a_seeder() {
    let now = Instant::now();
    let mut s = Swarms::new(SwarmConfig::default());
    s.announce(&req(1, 5, AnnounceEvent::Started), ip(1), now)
        .unwrap();
    assert_eq!(s.scrape(&T).incomplete, 1);
    s.announce(&req(1, 0, AnnounceEvent::Completed), ip(1), now)
        .unwrap();
    s.announce(&req(1, 0, AnnounceEvent::Completed), ip(1), now)
        .unwrap();
    let e = s.scrape(&T);
    assert_eq!((e.complete, e.incomplete, e.downloaded), (1, 0, 1));
    assert_eq!(e.info_hash, T);
    s.announce(&req(2, 0, AnnounceEvent::Completed), ip(2), now)
        .unwrap();
    assert_eq!(s.scrape(&T).downloaded, 2);
    let unknown = s.scrape(&[0; 20]);
    assert_eq!(unknown.info_hash, [0; 20]);
    assert_eq!(
        (unknown.complete, unknown.incomplete, unknown.downloaded),
        (0, 0, 0)
    );
}

#[test]
fn the_start_index_rotates_so_every_peer_gets_its_turn() {
    let now = Instant::now();
    let mut s = Swarms::new(SwarmConfig::default());
    for port in 1..=10u16 {
        s.announce(&req(port, 5, AnnounceEvent::Started), ip(port as u8), now)
            .unwrap();
    }
    let mut asker = req(100, 5, AnnounceEvent::Started);
    asker.numwant = Some(3);
    let mut counts = [0u32; 11];
    // 11 peers including the asker; 10 others, 3 per reply: 10 replies
    // hand out 30 places, 3 to each other peer exactly.
    for _ in 0..10 {
        let reply = s.announce(&asker, ip(100), now).unwrap();
        assert_eq!(reply.peers.len(), 3);
        for p in &reply.peers {
            assert_ne!(p.addr.port(), 100);
            counts[p.addr.port() as usize] += 1;
        }
    }
    assert_eq!(&counts[1..], &[3; 10]);
}

#[test]
fn numwant_is_capped_and_zero_means_none() {
    let now = Instant::now();
    let config = SwarmConfig {
        max_numwant: 4,
        default_numwant: 2,
        max_peers_per_ip: 100,
        ..SwarmConfig::default()
    };
    let mut s = Swarms::new(config);
    for port in 1..=10u16 {
        s.announce(&req(port, 5, AnnounceEvent::Started), ip(1), now)
            .unwrap();
    }
    let mut r = req(50, 5, AnnounceEvent::None);
    assert_eq!(s.announce(&r, ip(2), now).unwrap().peers.len(), 2);
    r.numwant = Some(1000);
    assert_eq!(s.announce(&r, ip(2), now).unwrap().peers.len(), 4);
    r.numwant = Some(0);
    assert_eq!(s.announce(&r, ip(2), now).unwrap().peers.len(), 0);
}

#[test]
fn the_per_ip_limit_refuses_new_entries_but_not_re_announces() {
    let now = Instant::now();
    let config = SwarmConfig {
        max_peers_per_ip: 2,
        ..SwarmConfig::default()
    };
    let mut s = Swarms::new(config);
    s.announce(&req(1, 5, AnnounceEvent::Started), ip(1), now)
        .unwrap();
    s.announce(&req(2, 5, AnnounceEvent::Started), ip(1), now)
        .unwrap();
    assert_eq!(
        s.announce(&req(3, 5, AnnounceEvent::Started), ip(1), now),
        Err(Refusal::TooManyPeersFromIp)
    );
    assert!(s
        .announce(&req(2, 5, AnnounceEvent::None), ip(1), now)
        .is_ok());
    assert!(s
        .announce(&req(3, 5, AnnounceEvent::Started), ip(2), now)
        .is_ok());
    s.announce(&req(1, 5, AnnounceEvent::Stopped), ip(1), now)
        .unwrap();
    assert!(
        s.announce(&req(3, 5, AnnounceEvent::Started), ip(1), now)
            .is_ok(),
        "a stop frees the slot"
    );
    assert_eq!(s.peers(), 3);
}

#[test]
fn the_whitelist_and_the_torrent_limit_refuse_with_reasons() {
    let now = Instant::now();
    let config = SwarmConfig {
        whitelist: Some(HashSet::from([T, [1; 20]])),
        max_torrents: 1,
        ..SwarmConfig::default()
    };
    let mut s = Swarms::new(config);
    let mut r = req(1, 5, AnnounceEvent::Started);
    r.info_hash = [2; 20];
    let refused = s.announce(&r, ip(1), now).unwrap_err();
    assert_eq!(refused, Refusal::NotWhitelisted);
    assert_eq!(refused.reason(), "torrent not tracked here");
    s.announce(&req(1, 5, AnnounceEvent::Started), ip(1), now)
        .unwrap();
    r.info_hash = [1; 20];
    assert_eq!(s.announce(&r, ip(1), now), Err(Refusal::TooManyTorrents));
    assert_eq!(s.torrents(), 1);
    assert_eq!(
        s.announce(&req(0, 5, AnnounceEvent::Started), ip(1), now),
        Err(Refusal::BadRequest("port 0"))
    );
}

#[test]
fn expiry_drops_silent_peers_and_empty_torrents() {
    let t0 = Instant::now();
    let config = SwarmConfig {
        peer_ttl: Duration::from_secs(100),
        ..SwarmConfig::default()
    };
    let mut s = Swarms::new(config);
    for port in 1..=5u16 {
        s.announce(&req(port, 5, AnnounceEvent::Started), ip(1), t0)
            .unwrap();
    }
    let mut other = req(9, 0, AnnounceEvent::Started);
    other.info_hash = [7; 20];
    s.announce(&other, ip(2), t0).unwrap();
    let t1 = t0 + Duration::from_secs(60);
    s.announce(&req(2, 5, AnnounceEvent::None), ip(1), t1)
        .unwrap();
    s.announce(&req(4, 0, AnnounceEvent::None), ip(1), t1)
        .unwrap();
    assert_eq!(s.expire(t0 + Duration::from_secs(99)), 0);
    assert_eq!(s.expire(t0 + Duration::from_secs(100)), 4);
    assert_eq!((s.torrents(), s.peers()), (1, 2));
    let e = s.scrape(&T);
    assert_eq!((e.complete, e.incomplete), (1, 1));
    // The survivors are still reachable by address after the swaps.
    let mut r = req(2, 5, AnnounceEvent::Stopped);
    s.announce(&r, ip(1), t1).unwrap();
    r.port = 4;
    s.announce(&r, ip(1), t1).unwrap();
    assert_eq!((s.torrents(), s.peers()), (0, 0));
}

#[test]
fn a_peer_turning_leecher_again_moves_between_counts() {
    let now = Instant::now();
    let mut s = Swarms::new(SwarmConfig::default());
    s.announce(&req(1, 0, AnnounceEvent::Started), ip(1), now)
        .unwrap();
    let r = s
        .announce(&req(1, 10, AnnounceEvent::None), ip(1), now)
        .unwrap();
    assert_eq!((r.complete, r.incomplete), (Some(0), Some(1)));
}

#[test]
fn announce_into_reuses_the_reply_and_matches_announce() {
    let now = Instant::now();
    let mut s = Swarms::new(SwarmConfig::default());
    for port in 1..=5u16 {
        s.announce(&req(port, 5, AnnounceEvent::Started), ip(1), now)
            .unwrap();
    }
    let mut reply = kamaelia::protocol::torrent::tracker::AnnounceReply::default();
    s.announce_into(&req(9, 5, AnnounceEvent::Started), ip(2), now, &mut reply)
        .unwrap();
    assert_eq!(reply.peers.len(), 5);
    let buffer = reply.peers.as_ptr();
    s.announce_into(&req(9, 0, AnnounceEvent::Completed), ip(2), now, &mut reply)
        .unwrap();
    assert_eq!(reply.peers.as_ptr(), buffer, "the peer list was reused");
    assert_eq!(reply.peers.len(), 5);
    assert_eq!((reply.complete, reply.incomplete), (Some(1), Some(5)));
    s.announce_into(&req(9, 0, AnnounceEvent::Stopped), ip(2), now, &mut reply)
        .unwrap();
    assert!(reply.peers.is_empty());
}

#[test]
fn ipv6_addresses_count_by_their_64_for_the_per_ip_limit() {
    let now = Instant::now();
    let mut s = Swarms::new(SwarmConfig {
        max_peers_per_ip: 2,
        ..SwarmConfig::default()
    });
    let host = |last: u16| IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, last]);
    s.announce(&req(1, 5, AnnounceEvent::Started), host(1), now)
        .unwrap();
    s.announce(&req(1, 5, AnnounceEvent::Started), host(2), now)
        .unwrap();
    assert_eq!(
        s.announce(&req(1, 5, AnnounceEvent::Started), host(3), now),
        Err(Refusal::TooManyPeersFromIp),
        "a third address of the same /64 is the same host"
    );
    let other_64 = IpAddr::from([0x2001, 0xdb8, 0, 2, 0, 0, 0, 3]);
    assert!(s
        .announce(&req(1, 5, AnnounceEvent::Started), other_64, now)
        .is_ok());
    assert_eq!(s.peers(), 3);
}

#[test]
fn the_peer_limits_bound_a_swarm_and_the_tracker() {
    let now = Instant::now();
    let mut s = Swarms::new(SwarmConfig {
        max_peers_per_torrent: 3,
        max_peers: 4,
        ..SwarmConfig::default()
    });
    for n in 1..=3 {
        s.announce(&req(1, 5, AnnounceEvent::Started), ip(n), now)
            .unwrap();
    }
    assert_eq!(
        s.announce(&req(1, 5, AnnounceEvent::Started), ip(4), now),
        Err(Refusal::TooManyPeers)
    );
    assert!(
        s.announce(&req(1, 5, AnnounceEvent::None), ip(3), now)
            .is_ok(),
        "a peer already in may re-announce"
    );
    let mut other = req(1, 5, AnnounceEvent::Started);
    other.info_hash = [0xCD; 20];
    s.announce(&other, ip(9), now).unwrap();
    other.port = 2;
    assert_eq!(
        s.announce(&other, ip(9), now),
        Err(Refusal::TooManyPeers),
        "4 peers in all"
    );
    assert_eq!((s.peers(), s.torrents()), (4, 2));
    assert_eq!(Refusal::TooManyPeers.reason(), "swarm full");
}

/// 100 torrents of 1,000 peers each, every peer from its own address.
/// Torrents 0..10 heard from only at `t0` (all expire); in the others the
/// even peers (leechers) were heard at `t0`, the odd ones (seeders) at
/// `t0 + 50 s`. With a TTL of 100 s, at `t0 + 100 s` exactly 55,000 peers
/// have expired.
const TORRENTS: usize = 100;
const PER_TORRENT: usize = 1000;
const EXPIRED: usize = 10 * PER_TORRENT + 90 * PER_TORRENT / 2;

fn torrent(t: usize) -> InfoHash {
    let mut h = [0; 20];
    h[0] = t as u8 + 1;
    h
}

fn big_swarms(t0: Instant) -> Swarms {
    let mut s = Swarms::new(SwarmConfig {
        peer_ttl: Duration::from_secs(100),
        ..SwarmConfig::default()
    });
    for t in 0..TORRENTS {
        for p in 0..PER_TORRENT {
            let old = t < 10 || p % 2 == 0;
            let mut r = req(6881, if old { 5 } else { 0 }, AnnounceEvent::Started);
            r.info_hash = torrent(t);
            r.numwant = Some(0);
            let n = (t * PER_TORRENT + p) as u32;
            let from = IpAddr::from((0x0a00_0000 | n).to_be_bytes());
            let at = if old {
                t0
            } else {
                t0 + Duration::from_secs(50)
            };
            s.announce(&r, from, at).unwrap();
        }
    }
    assert_eq!(
        (s.torrents(), s.peers()),
        (TORRENTS, TORRENTS * PER_TORRENT)
    );
    s
}

/// Exactly the expired peers are gone: the old torrents whole, the
/// leechers (all heard at `t0`) of the others; every seeder is left.
fn only_the_fresh_are_left(s: &Swarms) {
    assert_eq!(s.peers(), TORRENTS * PER_TORRENT - EXPIRED);
    assert_eq!(s.torrents(), TORRENTS - 10);
    for t in 0..TORRENTS {
        let e = s.scrape(&torrent(t));
        let want = if t < 10 { 0 } else { PER_TORRENT as u32 / 2 };
        assert_eq!((e.complete, e.incomplete), (want, 0), "torrent {t}");
    }
}

#[test]
fn expiry_in_slices_looks_at_no_more_than_the_budget_per_call() {
    let t0 = Instant::now();
    let mut s = big_swarms(t0);
    let now = t0 + Duration::from_secs(100);
    let (mut calls, mut dropped) = (0, 0);
    loop {
        let before = s.expire_examined();
        let p = s.expire_some(now, 1000);
        let work = s.expire_examined() - before;
        assert!(work <= 1000, "call {calls} looked at {work}");
        assert_eq!(p.examined as u64, work);
        dropped += p.dropped;
        calls += 1;
        if p.done {
            break;
        }
        assert!(calls < 1000, "the sweep never ends");
    }
    // 100,000 peers and 100 torrents looked at once each.
    assert_eq!(s.expire_examined(), 100_100);
    assert_eq!(calls, 101);
    assert_eq!(dropped, EXPIRED);
    only_the_fresh_are_left(&s);
    // The next sweep starts afresh and finds nothing more.
    let p = s.expire_some(now, usize::MAX);
    assert!(p.done);
    assert_eq!(p.dropped, 0);
}

#[test]
fn a_sweep_in_slices_survives_announces_and_stops_between_slices() {
    let t0 = Instant::now();
    let mut s = big_swarms(t0);
    let now = t0 + Duration::from_secs(100);
    let mut dropped = 0;
    let mut calls = 0u32;
    loop {
        let p = s.expire_some(now, 777);
        dropped += p.dropped;
        if p.done {
            break;
        }
        calls += 1;
        // Between slices: a fresh seeder leaves (swapping another into
        // its slot) and a new one joins, in a torrent chosen by the call.
        let t = 10 + (calls as usize * 7) % 90;
        let mut r = req(6881, 0, AnnounceEvent::Stopped);
        r.info_hash = torrent(t);
        let n = (t * PER_TORRENT + 2 * (calls as usize % 500) + 1) as u32;
        s.announce(&r, IpAddr::from((0x0a00_0000 | n).to_be_bytes()), now)
            .unwrap();
        r.event = AnnounceEvent::Started;
        r.numwant = Some(0);
        let n = 0x0b00_0000 | calls;
        s.announce(&r, IpAddr::from(n.to_be_bytes()), now).unwrap();
    }
    // Every leecher heard at t0 went, none of the fresh: one seeder left
    // and one came per slice, so the seeder count is unchanged.
    assert_eq!(dropped, EXPIRED);
    assert_eq!(s.peers(), TORRENTS * PER_TORRENT - EXPIRED);
    for t in 10..TORRENTS {
        assert_eq!(s.scrape(&torrent(t)).incomplete, 0, "torrent {t}");
    }
}

/// Torrents `1..=n` of 10 peers each (port 1..=10 from one address each):
/// the odd ports seeders heard at `t0 + 50 s`, the even leechers at `t0`.
fn small_swarms(t0: Instant, n: u8) -> Swarms {
    let mut s = Swarms::new(SwarmConfig {
        peer_ttl: Duration::from_secs(100),
        ..SwarmConfig::default()
    });
    for t in 1..=n {
        for port in 1..=10u16 {
            let fresh = port % 2 == 1;
            let mut r = req(port, u64::from(!fresh), AnnounceEvent::Started);
            r.info_hash = [t; 20];
            let at = t0 + Duration::from_secs(if fresh { 50 } else { 0 });
            s.announce(&r, ip(t), at).unwrap();
        }
    }
    s
}

fn stop_torrent(s: &mut Swarms, t: u8, now: Instant) {
    for port in 1..=10u16 {
        let mut r = req(port, 0, AnnounceEvent::Stopped);
        r.info_hash = [t; 20];
        s.announce(&r, ip(t), now).unwrap();
    }
}

fn sweep_rest(s: &mut Swarms, now: Instant, budget: usize) {
    for _ in 0..100 {
        if s.expire_some(now, budget).done {
            return;
        }
    }
    panic!("the sweep never ends");
}

#[test]
fn a_sweep_survives_whole_torrents_leaving_between_slices() {
    let t0 = Instant::now();
    let now = t0 + Duration::from_secs(100);
    let fresh_only = |s: &Swarms, left: &[u8]| {
        assert_eq!(s.torrents(), left.len());
        assert_eq!(s.peers(), 5 * left.len());
        for &t in left {
            let e = s.scrape(&[t; 20]);
            assert_eq!((e.complete, e.incomplete), (5, 0), "torrent {t}");
        }
    };

    // The torrent being swept leaves (it is the last slot), then the one
    // in the first slot does, moving the one being swept into its slot.
    let mut s = small_swarms(t0, 3);
    assert!(!s.expire_some(now, 3).done); // inside torrent 3
    stop_torrent(&mut s, 3, now);
    assert!(!s.expire_some(now, 3).done); // inside torrent 2
    stop_torrent(&mut s, 1, now);
    sweep_rest(&mut s, now, 3);
    fresh_only(&s, &[2]);

    // The torrent being swept leaves and the last (swept already) takes
    // its slot: the cursor inside it is not applied to the newcomer.
    let mut s = small_swarms(t0, 3);
    assert!(!s.expire_some(now, 14).done); // torrent 3 done, 3 of torrent 2
    stop_torrent(&mut s, 2, now);
    sweep_rest(&mut s, now, 3);
    fresh_only(&s, &[1, 3]);
}
