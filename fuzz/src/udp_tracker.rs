//! UDP tracker datagrams (BEP 15): the codec both ways, and the server
//! and client state machines fed scripted datagrams.
//!
//! The input is a script of chunks: `[flags] [len] [len bytes]`, repeated.
//! Every chunk's bytes are
//!
//! * parsed as a request and as a response (IPv4 and IPv6 peer lists):
//!   whatever parses must encode back to the same bytes (or, where the wire
//!   has two spellings of one value, parse back to the same value);
//! * sent to a [`UdpTrackerServer`] from the source `flags & 3` picks
//!   (two IPv4 addresses, an IPv6 one, an IPv4-mapped one), with bit 2 set
//!   its first 8 bytes replaced by a connection id the server gave that
//!   source, and bits 4..7 moving time on by that many 40 s: each reply
//!   must go to the sender, answer a request that parses, carry its
//!   transaction id, parse itself, and stay within BEP 15's sizes;
//! * sent to a [`UdpTrackerClient`] (which announces, then scrapes, on
//!   repeat) as if from the tracker, with bit 2 set its transaction id
//!   replaced by the one the client waits for, and bit 3 sending it from
//!   elsewhere: every datagram is accounted for (taken, or dropped and
//!   counted as foreign, wrong tid or malformed), and no reply is taken
//!   without the awaited transaction id.
//!
//! Run with `cargo fuzz run udp_tracker`.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use kamaelia::axon::Signal;
use kamaelia::protocol::torrent::tracker::swarm::{SwarmConfig, Swarms};
use kamaelia::protocol::torrent::tracker::udp_client::{
    UdpClientConfig, UdpTrackerClient, UdpTrackerError, UdpTrackerRequest,
};
use kamaelia::protocol::torrent::tracker::udp_server::{UdpServerConfig, UdpTrackerServer};
use kamaelia::protocol::torrent::tracker::udp_wire::{self, Request, Response};
use kamaelia::protocol::torrent::tracker::{
    AnnounceEvent, AnnounceReply, AnnounceRequest, Peer, ScrapeEntry,
};
use kamaelia::testing::Harness;

/// What one run saw, for tests to assert on.
#[derive(Clone, Copy, Debug, Default)]
pub struct UdpSummary {
    /// Chunks in the script.
    pub chunks: usize,
    /// Chunks that parsed as a request.
    pub requests: usize,
    /// Replies the server sent.
    pub server_replies: usize,
    /// Announce and scrape answers the client took.
    pub client_answers: usize,
}

fn chunks(data: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 2 <= data.len() {
        let flags = data[at];
        let len = (data[at + 1] as usize).min(data.len() - at - 2);
        out.push((flags, &data[at + 2..at + 2 + len]));
        at += 2 + len;
    }
    out
}

/// The codec both ways on one datagram; true if it parsed as a request.
fn codec(bytes: &[u8]) -> bool {
    let request = udp_wire::parse_request(bytes);
    match &request {
        Ok(Request::Connect { tid }) => {
            let mut out = Vec::new();
            udp_wire::encode_connect_request(&mut out, *tid);
            assert_eq!(&out[..], &bytes[..16]);
        }
        Ok(Request::Announce {
            connection_id,
            tid,
            req,
        }) => {
            let mut out = Vec::new();
            udp_wire::encode_announce_request(&mut out, *connection_id, *tid, req);
            assert_eq!(out.len(), udp_wire::ANNOUNCE_LEN);
            assert_eq!(udp_wire::parse_request(&out), request.clone());
        }
        Ok(Request::Scrape {
            connection_id,
            tid,
            hashes,
        }) => {
            let list: Vec<_> = hashes.iter().collect();
            let mut out = Vec::new();
            udp_wire::encode_scrape_request(&mut out, *connection_id, *tid, &list);
            assert_eq!(&out[..], bytes);
        }
        Err(_) => {}
    }
    for v6 in [false, true] {
        match udp_wire::parse_response(bytes, v6) {
            Ok(Response::Connect { tid, connection_id }) => {
                let mut out = Vec::new();
                udp_wire::encode_connect_response(&mut out, tid, connection_id);
                assert_eq!(&out[..], &bytes[..16]);
            }
            Ok(Response::Announce {
                tid,
                interval,
                leechers,
                seeders,
                peers,
            }) => {
                let list: Vec<Peer> = peers.iter().map(|addr| Peer { addr, id: None }).collect();
                let mut out = Vec::new();
                let n = udp_wire::encode_announce_response(
                    &mut out, tid, interval, leechers, seeders, &list, v6,
                );
                assert_eq!(n, list.len());
                assert_eq!(&out[..], bytes);
            }
            Ok(Response::Scrape { tid, entries }) => {
                assert_eq!(bytes.len(), 8 + 12 * entries.len());
                let mut out = Vec::new();
                udp_wire::encode_scrape_response_header(&mut out, tid);
                for (complete, downloaded, incomplete) in entries.iter() {
                    let e = ScrapeEntry {
                        info_hash: [0; 20],
                        complete,
                        downloaded,
                        incomplete,
                    };
                    udp_wire::encode_scrape_entry(&mut out, &e);
                }
                assert_eq!(&out[..], bytes);
            }
            Ok(Response::Error { tid, message }) => {
                assert_eq!(tid.to_be_bytes(), bytes[4..8]);
                // opentracker's bare 8-byte announce header reads as a
                // refusal with a message of ours; any other error carries
                // the datagram's own text.
                if bytes.len() == 8 && bytes[..4] == [0, 0, 0, 1] {
                    assert_eq!(message, udp_wire::BARE_ANNOUNCE_REFUSAL);
                } else {
                    assert_eq!(message, &bytes[8..]);
                }
            }
            Err(_) => {}
        }
    }
    request.is_ok()
}

const SOURCES: [&str; 4] = [
    "10.0.0.1:6881",
    "10.0.0.2:6882",
    "[2001:db8::7]:6883",
    "[::ffff:10.0.0.3]:6884",
];

fn server(script: &[(u8, &[u8])]) -> usize {
    let mut h = Harness::new();
    let swarms = Rc::new(RefCell::new(Swarms::new(SwarmConfig {
        max_peers_per_ip: 4,
        max_torrents: 8,
        ..SwarmConfig::default()
    })));
    let s = UdpTrackerServer::new(
        swarms.clone(),
        UdpServerConfig {
            secret: Some([3, 4]),
            ..UdpServerConfig::default()
        },
    );
    let id = h.spawn(s);
    let input = h.feeder(id, "inbox").expect("inbox");
    let output = h
        .collector::<(SocketAddr, Bytes)>(id, "outbox")
        .expect("outbox");
    let mut ids = [None::<u64>; 4];
    let mut replies = 0;
    for &(flags, bytes) in script {
        let from: SocketAddr = SOURCES[(flags & 3) as usize].parse().expect("address");
        h.advance(Duration::from_secs(40 * u64::from(flags >> 4)));
        let mut bytes = bytes.to_vec();
        if flags & 4 != 0 && bytes.len() >= 8 {
            let cid = match ids[(flags & 3) as usize] {
                Some(cid) => cid,
                None => {
                    let mut out = Vec::new();
                    udp_wire::encode_connect_request(&mut out, 0);
                    input.send((from, Bytes::from(out))).expect("unbounded");
                    h.run_until_idle();
                    let (_, reply) = output.recv().expect("a connect reply");
                    let Ok(Response::Connect { connection_id, .. }) =
                        udp_wire::parse_response(&reply, false)
                    else {
                        panic!("not a connect reply: {reply:?}")
                    };
                    ids[(flags & 3) as usize] = Some(connection_id);
                    connection_id
                }
            };
            bytes[..8].copy_from_slice(&cid.to_be_bytes());
        }
        let parsed = udp_wire::parse_request(&bytes).is_ok();
        input
            .send((from, Bytes::from(bytes.clone())))
            .expect("unbounded");
        h.run_until_idle();
        let got = output.drain();
        assert!(got.len() <= usize::from(parsed), "a reply to junk");
        for (to, reply) in got {
            replies += 1;
            assert_eq!(to, from);
            assert_eq!(reply[4..8], bytes[12..16], "the request's tid");
            let v6 = from.ip().to_canonical().is_ipv6();
            let parsed = udp_wire::parse_response(&reply, v6).expect("our reply parses");
            match parsed {
                Response::Announce { peers, .. } => assert!(peers.len() <= 200),
                Response::Scrape { entries, .. } => {
                    assert!(entries.len() <= udp_wire::MAX_SCRAPE_HASHES)
                }
                Response::Connect { .. } | Response::Error { .. } => {}
            }
        }
        assert!(swarms.borrow().torrents() <= 8);
    }
    replies
}

fn client(script: &[(u8, &[u8])]) -> usize {
    let tracker: SocketAddr = "192.0.2.1:6969".parse().expect("address");
    let mut h = Harness::new();
    let c = UdpTrackerClient::new(
        tracker,
        UdpClientConfig {
            seed: Some(5),
            base_timeout: Duration::from_secs(1),
            max_doublings: 2,
            ..UdpClientConfig::default()
        },
    );
    let stats = c.stats();
    let id = h.spawn(c);
    let ask = h.feeder(id, "request").expect("request");
    let input = h.feeder(id, "from_net").expect("from_net");
    let sent = h.collector::<Bytes>(id, "to_net").expect("to_net");
    let answers = h.collector::<AnnounceReply>(id, "outbox").expect("outbox");
    let scrapes = h
        .collector::<Vec<ScrapeEntry>>(id, "scrape")
        .expect("scrape");
    let signal = h.collector::<Signal>(id, "signal").expect("signal");
    let req = AnnounceRequest {
        info_hash: [1; 20],
        peer_id: [2; 20],
        port: 1,
        uploaded: 0,
        downloaded: 0,
        left: 0,
        event: AnnounceEvent::None,
        numwant: None,
        key: None,
        ip: None,
        compact: true,
        tracker_id: None,
    };
    let mut last_tid = 0u32;
    let mut fed = 0u64;
    let mut taken = 0;
    for (n, &(flags, bytes)) in script.iter().enumerate() {
        if !h.is_alive(id) {
            break;
        }
        if n % 4 == 0 {
            let r = if flags & 0x80 != 0 {
                UdpTrackerRequest::Scrape(vec![[1; 20], [2; 20]])
            } else {
                UdpTrackerRequest::Announce(req.clone())
            };
            ask.send(r).expect("unbounded");
        }
        h.run_until_idle();
        for d in sent.drain() {
            let tid = match udp_wire::parse_request(&d).expect("the client's request parses") {
                Request::Connect { tid }
                | Request::Announce { tid, .. }
                | Request::Scrape { tid, .. } => tid,
            };
            last_tid = tid;
        }
        let mut bytes = bytes.to_vec();
        if flags & 4 != 0 && bytes.len() >= 8 {
            bytes[4..8].copy_from_slice(&last_tid.to_be_bytes());
        }
        let from = if flags & 8 != 0 {
            "192.0.2.2:6969".parse().expect("address")
        } else {
            tracker
        };
        let right_tid = bytes.len() >= 8 && bytes[4..8] == last_tid.to_be_bytes();
        input.send((from, Bytes::from(bytes))).expect("unbounded");
        fed += 1;
        h.run_until_idle();
        let got = answers.drain().len() + scrapes.drain().len();
        assert!(
            got == 0 || (right_tid && from == tracker),
            "taken without the tid"
        );
        taken += got;
        if flags & 0x70 == 0x70 {
            h.advance(Duration::from_secs(2));
            h.run_until_idle();
        }
    }
    let s = stats.get();
    // An error reply that ended it was taken; a time-out takes no datagram.
    let by_error = match signal.recv() {
        Some(Signal::Failed(f)) => matches!(
            f.downcast_ref::<UdpTrackerError>(),
            Some(UdpTrackerError::Tracker(_))
        ),
        _ => false,
    };
    // Every datagram fed is accounted for: dropped and counted, or taken
    // (a connect reply, an answer, or the error reply that ended it).
    let accounted = s.foreign + s.wrong_tid + s.malformed + s.connects + taken as u64;
    assert_eq!(accounted + u64::from(by_error), fed, "{s:?}");
    taken
}

/// Runs the whole check on one input.
pub fn udp_tracker(data: &[u8]) -> UdpSummary {
    let script = chunks(data);
    let requests = script.iter().filter(|(_, b)| codec(b)).count();
    UdpSummary {
        chunks: script.len(),
        requests,
        server_replies: server(&script),
        client_answers: client(&script),
    }
}
