//! The UDP tracker client, step by step on virtual time, against a
//! scripted tracker: the test reads each datagram the client sends, checks
//! its bytes, and answers (or not) as the case needs.

use bytes::Bytes;
use kamaelia::axon::Signal;
use kamaelia::internet::udp::Datagram;
use kamaelia::protocol::torrent::tracker::udp_client::{
    UdpClientConfig, UdpTrackerClient, UdpTrackerError, UdpTrackerRequest,
};
use kamaelia::protocol::torrent::tracker::udp_wire::{self, Request};
use kamaelia::protocol::torrent::tracker::{
    AnnounceEvent, AnnounceReply, AnnounceRequest, Peer, ScrapeEntry,
};
use kamaelia::testing::{Collector, Feeder, Harness};
use std::net::SocketAddr;
use std::time::Duration;

const TRACKER: &str = "192.0.2.1:6969";

struct Rig {
    h: Harness,
    id: kamaelia::axon::Id,
    ask: Feeder<UdpTrackerRequest>,
    net_in: Feeder<Datagram>,
    control: Feeder<Signal>,
    net_out: Collector<Bytes>,
    replies: Collector<AnnounceReply>,
    scrapes: Collector<Vec<ScrapeEntry>>,
    signal: Collector<Signal>,
    socket: Collector<Signal>,
    stats: kamaelia::internet::simulate::StatsHandle<
        kamaelia::protocol::torrent::tracker::udp_client::UdpClientStats,
    >,
}

fn tracker() -> SocketAddr {
    TRACKER.parse().unwrap()
}

fn rig(config: UdpClientConfig) -> Rig {
    let mut h = Harness::new();
    let client = UdpTrackerClient::new(tracker(), config);
    let stats = client.stats();
    let id = h.spawn(client);
    Rig {
        ask: h.feeder(id, "request").unwrap(),
        net_in: h.feeder(id, "from_net").unwrap(),
        control: h.feeder(id, "control").unwrap(),
        net_out: h.collector(id, "to_net").unwrap(),
        replies: h.collector(id, "outbox").unwrap(),
        scrapes: h.collector(id, "scrape").unwrap(),
        signal: h.collector(id, "signal").unwrap(),
        socket: h.collector(id, "socket_control").unwrap(),
        stats,
        id,
        h,
    }
}

fn seeded() -> UdpClientConfig {
    UdpClientConfig {
        seed: Some(42),
        ..UdpClientConfig::default()
    }
}

fn announce() -> AnnounceRequest {
    AnnounceRequest {
        info_hash: [0x11; 20],
        peer_id: [0x22; 20],
        port: 6881,
        uploaded: 0,
        downloaded: 0,
        left: 100,
        event: AnnounceEvent::Started,
        numwant: Some(10),
        key: Some(7),
        ip: None,
        compact: true,
        tracker_id: None,
    }
}

impl Rig {
    /// The one datagram the client sent since the last look.
    fn sent(&mut self) -> Bytes {
        self.h.run_until_idle();
        let mut all = self.net_out.drain();
        assert_eq!(all.len(), 1, "expected one datagram, got {all:?}");
        all.pop().unwrap()
    }

    fn nothing_sent(&mut self) {
        self.h.run_until_idle();
        assert!(self.net_out.is_empty());
    }

    fn reply(&mut self, bytes: Vec<u8>) {
        self.net_in.send((tracker(), Bytes::from(bytes))).unwrap();
        self.h.run_until_idle();
    }

    /// Reads a connect request and answers it with `id`.
    fn connect(&mut self, id: u64) {
        let d = self.sent();
        let Ok(Request::Connect { tid }) = udp_wire::parse_request(&d) else {
            panic!("not a connect request: {d:?}")
        };
        assert_eq!(
            &d[..12],
            &[0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0]
        );
        let mut out = Vec::new();
        udp_wire::encode_connect_response(&mut out, tid, id);
        self.reply(out);
    }

    /// Reads an announce request on `id`; returns its transaction id.
    fn announce_tid(&mut self, id: u64) -> u32 {
        let d = self.sent();
        let Ok(Request::Announce {
            connection_id,
            tid,
            req,
        }) = udp_wire::parse_request(&d)
        else {
            panic!("not an announce: {d:?}")
        };
        assert_eq!(connection_id, id);
        assert_eq!(req, announce());
        tid
    }

    fn failure(&self) -> UdpTrackerError {
        let Some(Signal::Failed(f)) = self.signal.recv() else {
            panic!("no failure signal")
        };
        f.downcast_ref::<UdpTrackerError>().unwrap().clone()
    }
}

fn announce_reply(tid: u32, peers: &[&str]) -> Vec<u8> {
    let peers: Vec<Peer> = peers
        .iter()
        .map(|p| Peer {
            addr: p.parse().unwrap(),
            id: None,
        })
        .collect();
    let mut out = Vec::new();
    udp_wire::encode_announce_response(&mut out, tid, 1800, 3, 4, &peers, false);
    out
}

#[test]
fn connect_then_announce_gives_the_reply_on_the_outbox() {
    let mut r = rig(seeded());
    r.ask.send(UdpTrackerRequest::Announce(announce())).unwrap();
    r.connect(0xC0FFEE);
    let tid = r.announce_tid(0xC0FFEE);
    r.reply(announce_reply(tid, &["10.0.0.1:1000", "10.0.0.2:2000"]));
    let got = r.replies.drain();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].interval, 1800);
    assert_eq!((got[0].complete, got[0].incomplete), (Some(4), Some(3)));
    let addrs: Vec<SocketAddr> = got[0].peers.iter().map(|p| p.addr).collect();
    assert_eq!(
        addrs,
        vec![
            "10.0.0.1:1000".parse().unwrap(),
            "10.0.0.2:2000".parse().unwrap()
        ]
    );
    let s = r.stats.get();
    assert_eq!(
        (s.sent, s.retransmits, s.connects, s.wrong_tid),
        (2, 0, 1, 0)
    );
    assert!(r.signal.is_empty());
}

#[test]
fn the_connection_id_is_kept_for_a_minute_then_renewed() {
    let mut r = rig(seeded());
    r.ask.send(UdpTrackerRequest::Announce(announce())).unwrap();
    r.connect(1);
    let tid = r.announce_tid(1);
    r.reply(announce_reply(tid, &[]));
    r.h.advance(Duration::from_secs(59));
    r.ask.send(UdpTrackerRequest::Announce(announce())).unwrap();
    let tid = r.announce_tid(1); // no connect: the id is 59 s old
    r.reply(announce_reply(tid, &[]));
    r.h.advance(Duration::from_secs(1));
    r.ask.send(UdpTrackerRequest::Announce(announce())).unwrap();
    r.connect(2); // 60 s: a new id first
    let tid = r.announce_tid(2);
    r.reply(announce_reply(tid, &[]));
    assert_eq!(r.replies.drain().len(), 3);
    assert_eq!(r.stats.get().connects, 2);
}

#[test]
fn lost_replies_are_retransmitted_at_15_times_2_to_the_n_then_fail() {
    let mut r = rig(seeded());
    r.ask.send(UdpTrackerRequest::Announce(announce())).unwrap();
    let first = r.sent();
    let mut at = 0u64;
    for n in 0..=8u32 {
        let wait = 15u64 << n;
        r.h.advance(Duration::from_secs(wait) - Duration::from_millis(1));
        if n < 8 {
            r.nothing_sent();
            r.h.advance(Duration::from_millis(1));
            assert_eq!(
                r.sent(),
                first,
                "the same datagram, same tid, after {wait} s"
            );
        } else {
            r.nothing_sent();
            assert!(r.signal.is_empty());
            r.h.advance(Duration::from_millis(1));
            r.h.run_until_idle();
        }
        at += wait;
    }
    assert_eq!(at, 7665);
    assert_eq!(r.failure(), UdpTrackerError::TimedOut { sends: 9 });
    assert!(matches!(r.socket.recv(), Some(Signal::Failed(_))));
    assert_eq!(r.stats.get().retransmits, 8);
}

#[test]
fn a_lost_announce_reply_reconnects_once_the_id_has_aged_out() {
    let mut r = rig(seeded());
    r.ask.send(UdpTrackerRequest::Announce(announce())).unwrap();
    r.connect(5);
    let first = r.sent();
    r.h.advance(Duration::from_secs(15));
    assert_eq!(r.sent(), first);
    r.h.advance(Duration::from_secs(30)); // 45 s: the id is still good
    assert_eq!(r.sent(), first);
    r.h.advance(Duration::from_secs(60)); // 105 s: connect again
    r.connect(6);
    let tid = r.announce_tid(6);
    r.reply(announce_reply(tid, &[]));
    assert_eq!(r.replies.drain().len(), 1);
}

#[test]
fn a_reply_with_the_wrong_transaction_id_is_dropped_and_counted() {
    let mut r = rig(seeded());
    r.ask.send(UdpTrackerRequest::Announce(announce())).unwrap();
    r.connect(9);
    let tid = r.announce_tid(9);
    r.reply(announce_reply(tid.wrapping_add(1), &["6.6.6.6:666"]));
    assert!(r.replies.is_empty());
    assert_eq!(r.stats.get().wrong_tid, 1);
    // A forged connect reply is no better.
    let mut forged = Vec::new();
    udp_wire::encode_connect_response(&mut forged, tid ^ 0x8000_0000, 1);
    r.reply(forged);
    assert_eq!(r.stats.get().wrong_tid, 2);
    r.reply(announce_reply(tid, &["1.1.1.1:1"]));
    let got = r.replies.drain();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].peers[0].addr, "1.1.1.1:1".parse().unwrap());
    // A late duplicate after the answer: no request waits, so dropped.
    r.reply(announce_reply(tid, &["1.1.1.1:1"]));
    assert!(r.replies.is_empty());
    assert_eq!(r.stats.get().wrong_tid, 3);
}

#[test]
fn short_odd_foreign_and_mismatched_datagrams_are_dropped_and_counted() {
    let mut r = rig(seeded());
    r.ask.send(UdpTrackerRequest::Announce(announce())).unwrap();
    r.connect(9);
    let tid = r.announce_tid(9);
    r.reply(vec![0, 0, 0, 1, 0]); // short
    let mut odd = announce_reply(tid, &["1.1.1.1:1"]);
    odd.push(0); // a peer list of 7 bytes
    r.reply(odd);
    let mut wrong_kind = Vec::new();
    udp_wire::encode_connect_response(&mut wrong_kind, tid, 3);
    r.reply(wrong_kind); // right tid, but a connect reply
    r.net_in
        .send((
            "192.0.2.99:6969".parse().unwrap(),
            Bytes::from(announce_reply(tid, &[])),
        ))
        .unwrap();
    r.h.run_until_idle();
    assert!(r.replies.is_empty());
    let s = r.stats.get();
    assert_eq!((s.malformed, s.foreign, s.wrong_tid), (3, 1, 0));
    // Still waiting: the real answer is taken.
    r.reply(announce_reply(tid, &[]));
    assert_eq!(r.replies.drain().len(), 1);
}

#[test]
fn an_error_reply_fails_the_client_with_its_text() {
    let mut r = rig(seeded());
    r.ask.send(UdpTrackerRequest::Announce(announce())).unwrap();
    r.ask.send(UdpTrackerRequest::Announce(announce())).unwrap();
    r.connect(9);
    let tid = r.announce_tid(9);
    let mut out = Vec::new();
    udp_wire::encode_error(&mut out, tid, "torrent not tracked here");
    r.reply(out);
    assert_eq!(
        r.failure(),
        UdpTrackerError::Tracker("torrent not tracked here".into())
    );
    assert!(matches!(r.socket.recv(), Some(Signal::Failed(_))));
    r.nothing_sent();
}

/// opentracker answers an announce for a torrent not on its whitelist with
/// the bare 8-byte header (action 1, the transaction id): a refusal at
/// once, not a malformed reply retried until the time-outs run out.
#[test]
fn a_bare_announce_header_is_a_refusal() {
    let mut r = rig(seeded());
    r.ask.send(UdpTrackerRequest::Announce(announce())).unwrap();
    r.connect(9);
    let tid = r.announce_tid(9);
    let mut bare = vec![0, 0, 0, 1];
    bare.extend_from_slice(&tid.to_be_bytes());
    r.reply(bare);
    let text = String::from_utf8_lossy(udp_wire::BARE_ANNOUNCE_REFUSAL).into_owned();
    assert_eq!(r.failure(), UdpTrackerError::Tracker(text));
    assert_eq!(r.stats.get().malformed, 0);
    r.nothing_sent();
}

/// The bare header answering a connect (not an announce) is malformed,
/// not a refusal: the client goes on and takes the real answer.
#[test]
fn a_bare_announce_header_while_connecting_is_malformed() {
    let mut r = rig(seeded());
    r.ask.send(UdpTrackerRequest::Announce(announce())).unwrap();
    r.h.run_until_idle();
    let connect = r.sent();
    let tid = u32::from_be_bytes(connect[12..16].try_into().unwrap());
    let mut bare = vec![0, 0, 0, 1];
    bare.extend_from_slice(&tid.to_be_bytes());
    r.reply(bare);
    assert_eq!(r.stats.get().malformed, 1);
    assert!(r.socket.recv().is_none(), "the client goes on");
}

#[test]
fn a_scrape_maps_entries_to_hashes_in_order() {
    let mut r = rig(seeded());
    let hashes = vec![[1; 20], [2; 20]];
    r.ask
        .send(UdpTrackerRequest::Scrape(hashes.clone()))
        .unwrap();
    r.connect(4);
    let d = r.sent();
    let Ok(Request::Scrape {
        connection_id,
        tid,
        hashes: asked,
    }) = udp_wire::parse_request(&d)
    else {
        panic!("not a scrape")
    };
    assert_eq!(connection_id, 4);
    assert_eq!(asked.iter().collect::<Vec<_>>(), hashes);
    // One entry for two hashes: not an answer.
    let mut short = Vec::new();
    udp_wire::encode_scrape_response_header(&mut short, tid);
    udp_wire::encode_scrape_entry(&mut short, &ScrapeEntry::default());
    r.reply(short);
    assert_eq!(r.stats.get().malformed, 1);
    let mut out = Vec::new();
    udp_wire::encode_scrape_response_header(&mut out, tid);
    for (i, h) in hashes.iter().enumerate() {
        let n = i as u32;
        udp_wire::encode_scrape_entry(
            &mut out,
            &ScrapeEntry {
                info_hash: *h,
                complete: n + 1,
                downloaded: n + 2,
                incomplete: n + 3,
            },
        );
    }
    r.reply(out);
    let got = r.scrapes.drain();
    assert_eq!(
        got,
        vec![vec![
            ScrapeEntry {
                info_hash: [1; 20],
                complete: 1,
                downloaded: 2,
                incomplete: 3
            },
            ScrapeEntry {
                info_hash: [2; 20],
                complete: 2,
                downloaded: 3,
                incomplete: 4
            },
        ]]
    );
}

#[test]
fn a_scrape_of_no_hashes_is_a_typed_failure() {
    let mut r = rig(seeded());
    r.ask.send(UdpTrackerRequest::Scrape(Vec::new())).unwrap();
    r.nothing_sent();
    assert_eq!(r.failure(), UdpTrackerError::BadScrape(0));
}

/// The hash to ask for at `i`, and the counts the tracker gives it.
fn hash(i: usize) -> [u8; 20] {
    let mut h = [0; 20];
    h[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    h
}

fn counts(i: usize) -> ScrapeEntry {
    ScrapeEntry {
        info_hash: hash(i),
        complete: i as u32,
        downloaded: 1000 + i as u32,
        incomplete: 2000 + i as u32,
    }
}

#[test]
fn a_scrape_of_more_than_74_hashes_is_asked_in_parts_and_answered_as_one() {
    assert_eq!(udp_wire::MAX_SCRAPE_HASHES, 74);
    let mut r = rig(seeded());
    let hashes: Vec<[u8; 20]> = (0..150).map(hash).collect();
    r.ask
        .send(UdpTrackerRequest::Scrape(hashes.clone()))
        .unwrap();
    r.connect(4);
    let mut asked_so_far = 0;
    for (part, want) in [(0, 74), (1, 74), (2, 2)] {
        let d = r.sent();
        let Ok(Request::Scrape {
            connection_id,
            tid,
            hashes: asked,
        }) = udp_wire::parse_request(&d)
        else {
            panic!("part {part}: not a scrape: {d:?}")
        };
        assert_eq!(connection_id, 4, "part {part} on the same connection id");
        let asked: Vec<[u8; 20]> = asked.iter().collect();
        assert_eq!(asked, hashes[asked_so_far..asked_so_far + want]);
        if part == 1 {
            // A short answer to a part is not its answer; the part waits.
            let mut short = Vec::new();
            udp_wire::encode_scrape_response_header(&mut short, tid);
            udp_wire::encode_scrape_entry(&mut short, &ScrapeEntry::default());
            r.reply(short);
            assert_eq!(r.stats.get().malformed, 1);
            r.nothing_sent();
        }
        assert!(r.scrapes.is_empty(), "no answer before the last part");
        let mut out = Vec::new();
        udp_wire::encode_scrape_response_header(&mut out, tid);
        for i in asked_so_far..asked_so_far + want {
            udp_wire::encode_scrape_entry(&mut out, &counts(i));
        }
        r.reply(out);
        asked_so_far += want;
    }
    let got = r.scrapes.drain();
    assert_eq!(got.len(), 1, "one answer for the whole scrape");
    let want: Vec<ScrapeEntry> = (0..150).map(counts).collect();
    assert_eq!(got[0], want);
    r.nothing_sent();
    let s = r.stats.get();
    assert_eq!((s.sent, s.connects, s.retransmits), (4, 1, 0));
    assert!(r.signal.is_empty());
}

#[test]
fn a_lost_answer_to_a_later_scrape_part_is_retransmitted_from_15_s() {
    let mut r = rig(seeded());
    r.ask
        .send(UdpTrackerRequest::Scrape((0..80).map(hash).collect()))
        .unwrap();
    r.connect(4);
    let d = r.sent();
    let Ok(Request::Scrape { tid, .. }) = udp_wire::parse_request(&d) else {
        panic!("not a scrape")
    };
    // The first part is answered after one time-out (15 s, then 30 s
    // would be next) ...
    r.h.advance(Duration::from_secs(15));
    assert_eq!(r.sent(), d);
    let mut out = Vec::new();
    udp_wire::encode_scrape_response_header(&mut out, tid);
    for i in 0..74 {
        udp_wire::encode_scrape_entry(&mut out, &counts(i));
    }
    r.reply(out);
    // ... the second part starts its own count: its first time-out is 15 s
    // again, and the connection id (15 s old, 30 s at the resend) is kept.
    let second = r.sent();
    r.h.advance(Duration::from_secs(15) - Duration::from_millis(1));
    r.nothing_sent();
    r.h.advance(Duration::from_millis(1));
    assert_eq!(r.sent(), second);
}

#[test]
fn requests_over_the_waiting_limit_are_refused_back_to_the_sender() {
    let mut r = rig(UdpClientConfig {
        max_waiting: 2,
        ..seeded()
    });
    r.ask.send(UdpTrackerRequest::Announce(announce())).unwrap();
    r.connect(1); // the first is in flight, none waits
    r.ask.send(UdpTrackerRequest::Announce(announce())).unwrap();
    r.ask.send(UdpTrackerRequest::Announce(announce())).unwrap();
    // Two wait (in the inbox until the client runs): a third comes back.
    let third = UdpTrackerRequest::Scrape(vec![[3; 20]]);
    let Err(back) = r.ask.send(third.clone()) else {
        panic!("a third request was taken")
    };
    assert_eq!(back.0, third);
    r.h.run_until_idle();
    assert!(r.ask.send(third.clone()).is_err(), "still two waiting");
    // One answered: the next goes in flight, so there is room for one.
    let tid = r.announce_tid(1);
    r.reply(announce_reply(tid, &[]));
    assert_eq!(r.replies.drain().len(), 1);
    r.ask.send(third.clone()).unwrap();
    assert!(r.ask.send(third.clone()).is_err());
    // Everything taken is answered, in order.
    for _ in 0..2 {
        let tid = r.announce_tid(1);
        r.reply(announce_reply(tid, &[]));
    }
    assert_eq!(r.replies.drain().len(), 2);
    let d = r.sent();
    assert!(matches!(
        udp_wire::parse_request(&d),
        Ok(Request::Scrape { .. })
    ));
}

#[test]
fn producer_finished_ends_after_the_requests_waiting() {
    let mut r = rig(seeded());
    r.ask.send(UdpTrackerRequest::Announce(announce())).unwrap();
    r.control.send(Signal::ProducerFinished).unwrap();
    r.connect(1);
    assert!(r.signal.is_empty());
    let tid = r.announce_tid(1);
    r.reply(announce_reply(tid, &[]));
    assert_eq!(r.replies.drain().len(), 1);
    assert_eq!(r.signal.recv(), Some(Signal::ProducerFinished));
    assert_eq!(r.socket.recv(), Some(Signal::ProducerFinished));
}

#[test]
fn shutdown_stops_at_once() {
    let mut r = rig(seeded());
    r.ask.send(UdpTrackerRequest::Announce(announce())).unwrap();
    let _ = r.sent();
    r.control.send(Signal::Shutdown).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.signal.recv(), Some(Signal::Shutdown));
    r.h.advance(Duration::from_secs(100));
    r.nothing_sent();
}

#[test]
fn a_request_arriving_while_one_is_in_flight_waits_and_the_client_sleeps() {
    let mut r = rig(seeded());
    let id = r.id;
    r.ask.send(UdpTrackerRequest::Announce(announce())).unwrap();
    r.connect(1);
    let tid = r.announce_tid(1);
    r.ask
        .send(UdpTrackerRequest::Scrape(vec![[9; 20]]))
        .unwrap();
    // A bounded number of steps (a client that spun on the waiting
    // request would never sleep, and run_until_idle would not return).
    for _ in 0..3 {
        let _ = r.h.step();
    }
    assert!(r.h.is_sleeping(id), "it slept instead of spinning");
    r.nothing_sent();
    r.reply(announce_reply(tid, &[]));
    assert_eq!(r.replies.drain().len(), 1);
    // The scrape goes next, on the same connection id.
    let d = r.sent();
    assert!(matches!(
        udp_wire::parse_request(&d),
        Ok(Request::Scrape {
            connection_id: 1,
            ..
        })
    ));
}

/// Sends its requests as fast as the client takes them; keeps one refused
/// and tries it again when woken.
struct Producer {
    out: kamaelia::axon::Outbox<UdpTrackerRequest>,
    left: std::collections::VecDeque<UdpTrackerRequest>,
    refusals: std::rc::Rc<std::cell::Cell<u32>>,
    sent: std::rc::Rc<std::cell::Cell<u32>>,
}

impl kamaelia::axon::Component for Producer {
    fn step(&mut self, _cx: &mut kamaelia::axon::Cx<'_>) -> kamaelia::axon::Step {
        while let Some(r) = self.left.pop_front() {
            if let Err(back) = self.out.send(r) {
                self.left.push_front(back.0);
                self.refusals.set(self.refusals.get() + 1);
                return kamaelia::axon::Step::Pause;
            }
            self.sent.set(self.sent.get() + 1);
        }
        kamaelia::axon::Step::Done
    }
    fn boxes(&self, set: &mut kamaelia::axon::BoxSet) {
        set.add(&self.out);
    }
}

#[test]
fn a_refused_producer_is_woken_to_send_again_when_room_appears() {
    let mut h = Harness::new();
    let client = UdpTrackerClient::new(
        tracker(),
        UdpClientConfig {
            max_waiting: 1,
            ..seeded()
        },
    );
    let refusals = std::rc::Rc::new(std::cell::Cell::new(0));
    let sent = std::rc::Rc::new(std::cell::Cell::new(0));
    let producer = Producer {
        out: kamaelia::axon::Outbox::new("out", "requests"),
        left: (0..5)
            .map(|_| UdpTrackerRequest::Announce(announce()))
            .collect(),
        refusals: refusals.clone(),
        sent: sent.clone(),
    };
    kamaelia::axon::link(&producer.out, &client.request).unwrap();
    let id = h.spawn(client);
    let net_in = h.feeder::<Datagram>(id, "from_net").unwrap();
    let net_out = h.collector::<Bytes>(id, "to_net").unwrap();
    let replies = h.collector::<AnnounceReply>(id, "outbox").unwrap();
    let pid = h.spawn(producer);
    h.run_until_idle();
    // One in flight (connecting), one waiting: the third was refused, and
    // the producer sleeps until room appears.
    assert_eq!(sent.get(), 2);
    assert!(refusals.get() >= 1);
    assert!(h.is_alive(pid) && h.is_sleeping(pid));
    let mut answered = 0;
    while answered < 5 {
        let datagrams = net_out.drain();
        assert_eq!(datagrams.len(), 1, "one request at a time");
        let mut out = Vec::new();
        match udp_wire::parse_request(&datagrams[0]) {
            Ok(Request::Connect { tid }) => udp_wire::encode_connect_response(&mut out, tid, 1),
            Ok(Request::Announce { tid, .. }) => {
                // Never more than one in flight and one waiting.
                assert_eq!(sent.get(), (answered + 2).min(5));
                answered += 1;
                out = announce_reply(tid, &[]);
            }
            other => panic!("{other:?}"),
        }
        net_in.send((tracker(), Bytes::from(out))).unwrap();
        h.run_until_idle();
    }
    assert_eq!(replies.drain().len(), 5, "all five answered, none lost");
    assert!(!h.is_alive(pid), "the producer sent them all");
    assert_eq!(sent.get(), 5);
}
