//! The UDP tracker server, step by step on virtual time: datagrams in from
//! several addresses, replies checked byte for byte.

use bytes::Bytes;
use kamaelia::axon::{Signal, StepResult};
use kamaelia::internet::udp::Datagram;
use kamaelia::protocol::torrent::tracker::swarm::{SwarmConfig, Swarms};
use kamaelia::protocol::torrent::tracker::udp_server::{
    siphash24, UdpServerConfig, UdpTrackerServer,
};
use kamaelia::protocol::torrent::tracker::udp_wire::{self, Response};
use kamaelia::protocol::torrent::tracker::{AnnounceEvent, AnnounceRequest, InfoHash};
use kamaelia::testing::{Collector, Feeder, Harness};
use std::cell::RefCell;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

const T: InfoHash = [0x33; 20];

struct Rig {
    h: Harness,
    id: kamaelia::axon::Id,
    input: Feeder<Datagram>,
    control: Feeder<Signal>,
    replies: Collector<Datagram>,
    signal: Collector<Signal>,
    swarms: Rc<RefCell<Swarms>>,
    stats: kamaelia::internet::simulate::StatsHandle<
        kamaelia::protocol::torrent::tracker::udp_server::UdpServerStats,
    >,
}

fn rig(config: SwarmConfig) -> Rig {
    let mut h = Harness::new();
    let swarms = Rc::new(RefCell::new(Swarms::new(config)));
    let server = UdpTrackerServer::new(
        swarms.clone(),
        UdpServerConfig {
            secret: Some([1, 2]),
            ..UdpServerConfig::default()
        },
    );
    let stats = server.stats();
    let id = h.spawn(server);
    Rig {
        input: h.feeder(id, "inbox").unwrap(),
        control: h.feeder(id, "control").unwrap(),
        replies: h.collector(id, "outbox").unwrap(),
        signal: h.collector(id, "signal").unwrap(),
        id,
        swarms,
        stats,
        h,
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn announce(port: u16, left: u64) -> AnnounceRequest {
    AnnounceRequest {
        info_hash: T,
        peer_id: [port as u8; 20],
        port,
        uploaded: 0,
        downloaded: 0,
        left,
        event: AnnounceEvent::Started,
        numwant: None,
        key: Some(1),
        ip: None,
        compact: true,
        tracker_id: None,
    }
}

impl Rig {
    /// Sends one datagram from `from`; returns the one reply (to `from`).
    fn ask(&mut self, from: SocketAddr, bytes: Vec<u8>) -> Option<Bytes> {
        self.input.send((from, Bytes::from(bytes))).unwrap();
        self.h.run_until_idle();
        let mut got = self.replies.drain();
        assert!(got.len() <= 1);
        let (to, reply) = got.pop()?;
        assert_eq!(to, from, "a reply goes back to the sender");
        Some(reply)
    }

    fn connect(&mut self, from: SocketAddr) -> u64 {
        let mut out = Vec::new();
        udp_wire::encode_connect_request(&mut out, 77);
        let reply = self.ask(from, out).unwrap();
        assert_eq!(reply.len(), 16);
        match udp_wire::parse_response(&reply, false) {
            Ok(Response::Connect {
                tid: 77,
                connection_id,
            }) => connection_id,
            other => panic!("not a connect reply: {other:?}"),
        }
    }

    fn announce(&mut self, from: SocketAddr, id: u64, req: &AnnounceRequest) -> Bytes {
        let mut out = Vec::new();
        udp_wire::encode_announce_request(&mut out, id, 5, req);
        self.ask(from, out).unwrap()
    }
}

fn error_text(reply: &[u8]) -> String {
    match udp_wire::parse_response(reply, false) {
        Ok(Response::Error { message, .. }) => String::from_utf8(message.to_vec()).unwrap(),
        other => panic!("not an error reply: {other:?}"),
    }
}

#[test]
fn siphash_matches_the_reference_vectors() {
    let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
    let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
    let msg: Vec<u8> = (0..15).collect();
    assert_eq!(siphash24(k0, k1, &[]), 0x726f_db47_dd0e_0e31);
    assert_eq!(siphash24(k0, k1, &msg), 0xa129_ca61_49be_45e5);
}

#[test]
fn a_second_announcer_gets_the_first_as_a_6_byte_entry() {
    let mut r = rig(SwarmConfig::default());
    let a = addr("10.0.0.1:40000");
    let b = addr("10.0.0.2:40001");
    let id_a = r.connect(a);
    let first = r.announce(a, id_a, &announce(6881, 10));
    // action 1, tid 5, interval 1800, leechers 1, seeders 0, no peers.
    assert_eq!(
        &first[..],
        &[0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 7, 8, 0, 0, 0, 1, 0, 0, 0, 0]
    );
    let id_b = r.connect(b);
    assert_ne!(id_a, id_b, "ids depend on the address");
    let second = r.announce(b, id_b, &announce(6882, 0));
    assert_eq!(
        &second[..],
        &[0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 7, 8, 0, 0, 0, 1, 0, 0, 0, 1, 10, 0, 0, 1, 0x1A, 0xE1]
    );
    assert_eq!(r.swarms.borrow().peers(), 2);
    let s = r.stats.get();
    assert_eq!((s.connects, s.announces, s.errors), (2, 2, 0));
}

#[test]
fn an_ipv6_announcer_gets_18_byte_entries_and_a_mapped_one_6_byte_ones() {
    let mut r = rig(SwarmConfig::default());
    let v6a = addr("[2001:db8::1]:1000");
    let v6b = addr("[2001:db8::2]:1000");
    let mapped = addr("[::ffff:10.0.0.9]:1000");
    let v4 = addr("10.0.0.1:1000");
    let id = r.connect(v4);
    r.announce(v4, id, &announce(7000, 5));
    let id = r.connect(v6a);
    r.announce(v6a, id, &announce(7001, 5));
    let id = r.connect(v6b);
    let reply = r.announce(v6b, id, &announce(7002, 5));
    assert_eq!(reply.len(), 20 + 18, "only the IPv6 peer: {reply:?}");
    let Ok(Response::Announce { peers, .. }) = udp_wire::parse_response(&reply, true) else {
        panic!("not an announce reply")
    };
    assert_eq!(
        peers.iter().collect::<Vec<_>>(),
        vec![addr("[2001:db8::1]:7001")]
    );
    let id = r.connect(mapped);
    let reply = r.announce(mapped, id, &announce(7003, 5));
    let Ok(Response::Announce { peers, .. }) = udp_wire::parse_response(&reply, false) else {
        panic!("not an announce reply")
    };
    assert_eq!(
        peers.iter().collect::<Vec<_>>(),
        vec![addr("10.0.0.1:7000")]
    );
}

#[test]
fn connection_ids_are_checked_by_address_and_age() {
    let mut r = rig(SwarmConfig::default());
    let a = addr("10.0.0.1:40000");
    let b = addr("10.0.0.2:40000");
    let id = r.connect(a);
    // Someone else's id, or a made-up one: refused.
    let reply = r.announce(b, id, &announce(1, 1));
    assert_eq!(error_text(&reply), "bad connection id");
    let reply = r.announce(a, id ^ 1, &announce(1, 1));
    assert_eq!(error_text(&reply), "bad connection id");
    assert_eq!(r.swarms.borrow().peers(), 0);
    // Good for the rest of its 120 s slot and the next one.
    r.h.advance(Duration::from_secs(239));
    let reply = r.announce(a, id, &announce(1, 1));
    assert_eq!(reply.len(), 20);
    r.h.advance(Duration::from_secs(1));
    let reply = r.announce(a, id, &announce(1, 1));
    assert_eq!(error_text(&reply), "bad connection id");
    assert_eq!(r.stats.get().bad_connection, 3);
}

#[test]
fn refusals_are_error_replies_with_the_reason() {
    let mut r = rig(SwarmConfig {
        whitelist: Some(HashSet::from([[9; 20]])),
        ..SwarmConfig::default()
    });
    let a = addr("10.0.0.1:40000");
    let id = r.connect(a);
    let reply = r.announce(a, id, &announce(1, 1));
    assert_eq!(&reply[..8], &[0, 0, 0, 3, 0, 0, 0, 5]);
    assert_eq!(error_text(&reply), "torrent not tracked here");
    assert_eq!(r.stats.get().errors, 1);
}

#[test]
fn a_scrape_answers_each_hash_and_at_most_74() {
    let mut r = rig(SwarmConfig::default());
    let a = addr("10.0.0.1:40000");
    let id = r.connect(a);
    r.announce(a, id, &announce(1, 0));
    let mut req = announce(2, 0);
    req.event = AnnounceEvent::Completed;
    let id_b = r.connect(addr("10.0.0.2:1"));
    r.announce(addr("10.0.0.2:1"), id_b, &req);
    let mut out = Vec::new();
    udp_wire::encode_scrape_request(&mut out, id, 8, &[T, [0; 20]]);
    let reply = r.ask(a, out).unwrap();
    assert_eq!(
        &reply[..],
        &[
            0, 0, 0, 2, 0, 0, 0, 8, // action, tid
            0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, // T: 2 seeders, 1 completed, 0 leechers
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // unknown: zeros
        ]
    );
    // A huge scrape (3,000 hashes in 60 KB) is answered for the first 74.
    let many: Vec<InfoHash> = (0..3000).map(|_| T).collect();
    let mut out = Vec::new();
    udp_wire::encode_scrape_request(&mut out, id, 9, &many);
    let reply = r.ask(a, out).unwrap();
    assert_eq!(reply.len(), 8 + 74 * 12);
    assert_eq!(r.stats.get().scrapes, 2);
}

#[test]
fn junk_gets_no_reply_and_is_counted() {
    let mut r = rig(SwarmConfig::default());
    let a = addr("10.0.0.1:40000");
    let id = r.connect(a);
    assert_eq!(r.ask(a, vec![]), None);
    assert_eq!(r.ask(a, vec![0; 15]), None);
    let mut odd = Vec::new();
    udp_wire::encode_scrape_request(&mut odd, id, 1, &[T]);
    odd.push(0);
    assert_eq!(r.ask(a, odd), None);
    let mut short = Vec::new();
    udp_wire::encode_announce_request(&mut short, id, 1, &announce(1, 1));
    short.truncate(97);
    assert_eq!(r.ask(a, short), None);
    // A connect reply sent to the server is not a request.
    let mut reply = Vec::new();
    udp_wire::encode_connect_response(&mut reply, 1, 2);
    assert_eq!(r.ask(a, reply), None);
    assert_eq!(r.stats.get().malformed, 5);
}

#[test]
fn work_per_step_is_bounded() {
    let mut r = rig(SwarmConfig::default());
    let mut out = Vec::new();
    udp_wire::encode_connect_request(&mut out, 1);
    let packet = Bytes::from(out);
    for i in 0..200u16 {
        r.input
            .send((SocketAddr::from(([10, 0, 0, 1], i)), packet.clone()))
            .unwrap();
    }
    assert_eq!(r.h.step(), Some((r.id, StepResult::Yield)));
    assert_eq!(r.replies.len(), 64);
    r.h.run_until_idle();
    assert_eq!(r.replies.len(), 200);
}

#[test]
fn producer_finished_answers_what_waits_then_ends() {
    let mut r = rig(SwarmConfig::default());
    let mut out = Vec::new();
    udp_wire::encode_connect_request(&mut out, 1);
    r.input
        .send((addr("10.0.0.1:1"), Bytes::from(out)))
        .unwrap();
    r.control.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.replies.len(), 1);
    assert_eq!(r.signal.recv(), Some(Signal::ProducerFinished));
    assert!(!r.h.is_alive(r.id));
}
