//! The HTTP tracker client and BEP 12 tiers, step by step on virtual time
//! over scripted connections: the request written byte for byte, replies
//! and every kind of failure as typed results, the tier order with its
//! seeded shuffle, back-off, move-to-front and re-announce at the
//! interval.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use kamaelia::axon::{Component, Signal};
use kamaelia::internet::{Connector, Transport};
use kamaelia::protocol::http::client::ErrorKind;
use kamaelia::protocol::torrent::tracker::http_client::{
    HttpTrackerClient, HttpTrackerReply, HttpTrackerResult, TrackerError, MAX_REPLY,
};
use kamaelia::protocol::torrent::tracker::http_wire::WireError;
use kamaelia::protocol::torrent::tracker::tiers::{
    AnnounceOutcome, Next, TierConfig, Tiers, TrackerAnnouncer,
};
use kamaelia::protocol::torrent::tracker::{AnnounceEvent, AnnounceRequest, Peer, ScrapeEntry};
use kamaelia::testing::scripted::{scripted_connector, ConnLog, ScriptedConn};
use kamaelia::testing::Harness;

fn request() -> AnnounceRequest {
    AnnounceRequest {
        info_hash: [0xaa; 20],
        peer_id: *b"-KM0001-123456789012",
        port: 6881,
        uploaded: 0,
        downloaded: 0,
        left: 10,
        event: AnnounceEvent::Started,
        numwant: Some(5),
        key: None,
        ip: None,
        compact: true,
        tracker_id: None,
    }
}

fn http_reply(status: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// Runs `c` until it and its children end (at most 10 virtual minutes).
fn drive<C: Component>(c: C) -> (Vec<HttpTrackerResult>, Vec<Signal>, usize) {
    let mut h = Harness::new();
    let id = h.spawn(c);
    let out = h.collector::<HttpTrackerResult>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_for(Duration::from_secs(600));
    (out.drain(), sig.drain(), h.scheduler().live())
}

fn announce_with(conn: ScriptedConn) -> (HttpTrackerResult, Rc<RefCell<ConnLog>>) {
    let log = conn.log();
    let c = HttpTrackerClient::announce("http://10.0.0.1:6969/announce", &request())
        .with_connector(scripted_connector(vec![conn]));
    let (mut out, sig, live) = drive(c);
    assert_eq!(out.len(), 1, "exactly one result");
    assert_eq!(sig, [Signal::ProducerFinished]);
    assert_eq!(live, 0, "nothing left running");
    (out.remove(0), log)
}

#[test]
fn an_announce_writes_the_query_and_reads_the_reply() {
    let body = b"d8:intervali900e5:peers6:\x0a\x00\x00\x02\x1a\xe16:peers618:\
        \x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x50e";
    let (r, log) = announce_with(ScriptedConn::new().reply(&http_reply("200 OK", body)).eof());
    let written = String::from_utf8(log.borrow().written.clone()).unwrap();
    assert_eq!(
        written,
        format!(
            "GET /announce?info_hash={}&peer_id=-KM0001-123456789012&port=6881&uploaded=0\
             &downloaded=0&left=10&compact=1&event=started&numwant=5 HTTP/1.1\r\n\
             Host: 10.0.0.1:6969\r\nUser-Agent: kamaelia-rs/0.1\r\nConnection: close\r\n\r\n",
            "%AA".repeat(20)
        )
    );
    let Ok(HttpTrackerReply::Announce(reply)) = r else {
        panic!("{r:?}")
    };
    assert_eq!(reply.interval, 900);
    let peers: Vec<SocketAddr> = reply.peers.iter().map(|p: &Peer| p.addr).collect();
    assert_eq!(
        peers,
        [
            "10.0.0.2:6881".parse().unwrap(),
            "[::1]:80".parse::<SocketAddr>().unwrap()
        ]
    );
}

#[test]
fn failures_come_out_typed() {
    let cases: Vec<(ScriptedConn, TrackerError)> = vec![
        (
            ScriptedConn::new()
                .reply(&http_reply("200 OK", b"d14:failure reason7:go awaye"))
                .eof(),
            TrackerError::Reply(WireError::Failure("go away".into())),
        ),
        // A refusal with an error status: the reason is what matters.
        (
            ScriptedConn::new()
                .reply(&http_reply("403 Forbidden", b"d14:failure reason2:noe"))
                .eof(),
            TrackerError::Reply(WireError::Failure("no".into())),
        ),
        (
            ScriptedConn::new()
                .reply(&http_reply("404 Not Found", b"<html>"))
                .eof(),
            TrackerError::Status(404),
        ),
        (
            ScriptedConn::new()
                .reply(&http_reply("200 OK", b"d8:intervali1e5:peers7:1234567e"))
                .eof(),
            TrackerError::Reply(WireError::PeersLength(7)),
        ),
        (
            ScriptedConn::new()
                .reply(&http_reply("200 OK", b"d5:peers0:e"))
                .eof(),
            TrackerError::Reply(WireError::Missing("interval")),
        ),
        (
            ScriptedConn::new()
                .reply(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nd8:inte")
                .eof(),
            TrackerError::Http(ErrorKind::BadResponse(
                kamaelia::protocol::http::HttpError::Truncated,
            )),
        ),
        (
            ScriptedConn::new().read_error(io::ErrorKind::ConnectionReset),
            TrackerError::Http(ErrorKind::Reset),
        ),
    ];
    for (conn, want) in cases {
        let (r, _) = announce_with(conn);
        assert_eq!(r, Err(want));
    }
    // Bad bencode.
    let (r, _) = announce_with(
        ScriptedConn::new()
            .reply(&http_reply("200 OK", b"d8:intervali1e5:peers"))
            .eof(),
    );
    assert!(
        matches!(r, Err(TrackerError::Reply(WireError::Bencode(_)))),
        "{r:?}"
    );
    // Too big: cut off at MAX_REPLY, not kept.
    let mut head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
        MAX_REPLY + 10
    )
    .into_bytes();
    head.extend(vec![b'x'; 64 << 10]);
    let mut conn = ScriptedConn::new().reply(&head);
    for _ in 0..4 {
        conn = conn.reply(&vec![b'x'; 64 << 10]);
    }
    let (r, _) = announce_with(conn.reply(b"0123456789").eof());
    assert_eq!(r, Err(TrackerError::TooBig));
    // Refused outright.
    let c = HttpTrackerClient::announce("http://10.0.0.1/announce", &request())
        .with_connector(scripted_connector(vec![]));
    let (out, _, live) = drive(c);
    assert_eq!(out, [Err(TrackerError::Http(ErrorKind::Refused))]);
    assert_eq!(live, 0);
}

#[test]
fn a_scrape_goes_to_the_bep_48_url() {
    let mut body = b"d5:filesd20:".to_vec();
    body.extend_from_slice(&[0xaa; 20]);
    body.extend_from_slice(b"d8:completei5e10:downloadedi50e10:incompletei10eeee");
    let conn = ScriptedConn::new()
        .reply(&http_reply("200 OK", &body))
        .eof();
    let log = conn.log();
    let c = HttpTrackerClient::scrape("http://10.0.0.1/x/announce.php?k=1", &[[0xaa; 20]])
        .with_connector(scripted_connector(vec![conn]));
    let (out, sig, live) = drive(c);
    assert_eq!(
        out,
        [Ok(HttpTrackerReply::Scrape(vec![ScrapeEntry {
            info_hash: [0xaa; 20],
            complete: 5,
            downloaded: 50,
            incomplete: 10
        }]))]
    );
    assert_eq!((sig, live), (vec![Signal::ProducerFinished], 0));
    let written = String::from_utf8(log.borrow().written.clone()).unwrap();
    assert!(written.starts_with(&format!(
        "GET /x/scrape.php?k=1&info_hash={} HTTP/1.1\r\n",
        "%AA".repeat(20)
    )));
    // No scrape URL: a typed error at once, no connection.
    let c = HttpTrackerClient::scrape("http://10.0.0.1/tracker", &[[0xaa; 20]]);
    let (out, _, _) = drive(c);
    assert_eq!(out, [Err(TrackerError::NoScrape)]);
}

#[test]
fn a_shutdown_abandons_the_request_and_ends_cleanly() {
    // A tracker that never answers.
    let c = HttpTrackerClient::announce("http://10.0.0.1/announce", &request())
        .with_connector(scripted_connector(vec![ScriptedConn::new()]));
    let mut h = Harness::new();
    let id = h.spawn(c);
    let out = h.collector::<HttpTrackerResult>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    h.run_for(Duration::from_secs(5));
    assert!(sig.is_empty());
    ctl.send(Signal::Shutdown).unwrap();
    h.run_for(Duration::from_secs(1));
    assert!(out.is_empty());
    assert_eq!(sig.drain(), [Signal::Shutdown]);
    assert_eq!(h.scheduler().live(), 0);
}

// ----- tiers -----

fn urls(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| s.to_string()).collect()
}

#[test]
fn tiers_shuffle_once_with_the_seed_back_off_and_move_answers_to_the_front() {
    let list = vec![
        urls(&["a", "b", "c", "d"]),
        urls(&["e"]),
        vec![],
        urls(&["f", "g"]),
    ];
    let t1 = Tiers::new(&list, 7, TierConfig::default());
    let t2 = Tiers::new(&list, 7, TierConfig::default());
    assert_eq!(t1.order(), t2.order(), "same seed, same order");
    let mut orders: Vec<Vec<Vec<&str>>> = Vec::new();
    let made: Vec<Tiers> = (0..20)
        .map(|s| Tiers::new(&list, s, TierConfig::default()))
        .collect();
    for t in &made {
        let o = t.order();
        assert_eq!(o.len(), 3, "the empty tier is dropped");
        let mut first = o[0].clone();
        first.sort();
        assert_eq!(first, ["a", "b", "c", "d"], "a permutation");
        assert_eq!(o[1], ["e"]);
        if !orders.contains(&o) {
            orders.push(o);
        }
    }
    assert!(orders.len() > 5, "seeds give different orders");

    let mut t = Tiers::new(&list, 7, TierConfig::default());
    let order = t.order()[0]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>();
    let now = Instant::now();
    assert_eq!(t.next(now), Next::Try(0, 0, order[0].clone()));
    // The first fails: back-off 15 s; the second is next.
    assert_eq!(t.failed(0, 0, now), now + Duration::from_secs(15));
    assert_eq!(t.next(now), Next::Try(0, 1, order[1].clone()));
    // The second answers: it moves to the front of its tier.
    t.succeeded(0, 1, Some(b"id".to_vec()));
    assert_eq!(t.order()[0][0], order[1]);
    assert_eq!(t.order()[0][1], order[0]);
    assert_eq!(t.tracker_id(0, 0), Some(&b"id"[..]));
    // Every tracker failing: back-offs double per tracker and cap at 30 min.
    let mut t = Tiers::new(&[urls(&["x"])], 1, TierConfig::default());
    let waits: Vec<u64> = (0..10)
        .map(|_| t.failed(0, 0, now).duration_since(now).as_secs())
        .collect();
    assert_eq!(waits, [15, 30, 60, 120, 240, 480, 960, 1800, 1800, 1800]);
    assert_eq!(
        t.next(now),
        Next::WaitUntil(now + Duration::from_secs(1800))
    );
    assert_eq!(
        t.next(now + Duration::from_secs(1800)),
        Next::Try(0, 0, "x".into())
    );
    assert_eq!(
        Tiers::new(&[], 1, TierConfig::default()).next(now),
        Next::Empty
    );
}

/// What each tracker (by IP) does, connection after connection.
enum Act {
    Refuse,
    Reply(Vec<u8>),
    /// Connects, reads the request, never answers.
    Silent,
}

struct Net {
    script: HashMap<IpAddr, VecDeque<Act>>,
    /// (IP, what the client wrote) per connection made.
    log: Vec<(IpAddr, Rc<RefCell<ConnLog>>)>,
}

fn net_connector(net: Rc<RefCell<Net>>) -> Connector {
    Box::new(move |addr: SocketAddr| {
        let mut n = net.borrow_mut();
        let act = n.script.get_mut(&addr.ip()).and_then(|q| q.pop_front());
        match act {
            Some(Act::Reply(bytes)) => {
                let conn = ScriptedConn::new().reply(&bytes).eof();
                n.log.push((addr.ip(), conn.log()));
                Ok(Box::new(conn) as Box<dyn Transport>)
            }
            Some(Act::Silent) => {
                let conn = ScriptedConn::new();
                n.log.push((addr.ip(), conn.log()));
                Ok(Box::new(conn) as Box<dyn Transport>)
            }
            Some(Act::Refuse) | None => Err(io::ErrorKind::ConnectionRefused.into()),
        }
    })
}

fn ok(interval: u32, tracker_id: Option<&str>) -> Act {
    let mut body = format!("d8:intervali{interval}e5:peers0:");
    if let Some(t) = tracker_id {
        body.push_str(&format!("10:tracker id{}:{t}", t.len()));
    }
    body.push('e');
    Act::Reply(http_reply("200 OK", body.as_bytes()))
}

#[test]
fn the_announcer_walks_the_tiers_backs_off_and_reannounces_at_the_interval() {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    // Tier 1: one dead tracker; tier 2: two trackers, the first (after
    // the shuffle) answering twice then failing, the other answering.
    let list = vec![
        urls(&["http://10.0.0.1/announce"]),
        urls(&["http://10.0.0.2/announce", "http://10.0.0.3/announce"]),
    ];
    let tiers = Tiers::new(&list, 3, TierConfig::default());
    let tier2: Vec<IpAddr> = tiers.order()[1].iter().map(|u| ip(&u[7..15])).collect();
    let (first, second) = (tier2[0], tier2[1]);
    let mut script = HashMap::new();
    script.insert(
        ip("10.0.0.1"),
        VecDeque::from([Act::Refuse, Act::Refuse, Act::Refuse]),
    );
    script.insert(
        first,
        VecDeque::from([ok(100, Some("T1")), ok(100, None), Act::Refuse]),
    );
    script.insert(second, VecDeque::from([ok(200, None), ok(200, None)]));
    let net = Rc::new(RefCell::new(Net {
        script,
        log: Vec::new(),
    }));
    let announcer =
        TrackerAnnouncer::new(tiers, request()).with_connector(net_connector(net.clone()));
    let mut h = Harness::new();
    let start = h.now();
    let id = h.spawn(announcer);
    let out = h.collector::<AnnounceOutcome>(id, "outbox").unwrap();
    let mut seen: Vec<(u64, String, bool)> = Vec::new();
    let end = start + Duration::from_secs(500);
    let mut steps = 0;
    loop {
        while h.step().is_some() {
            steps += 1;
            assert!(steps < 100_000, "runaway");
        }
        for o in out.drain() {
            let t = h.now().duration_since(start).as_secs();
            match o {
                AnnounceOutcome::Announced { url, .. } => seen.push((t, url[7..15].into(), true)),
                AnnounceOutcome::Failed { url, error, .. } => {
                    assert_eq!(error, TrackerError::Http(ErrorKind::Refused));
                    seen.push((t, url[7..15].into(), false))
                }
            }
        }
        match h.scheduler().next_deadline().filter(|t| *t <= end) {
            Some(t) => h.advance(t.saturating_duration_since(h.now())),
            None => break,
        }
    }
    let (f, s) = (first.to_string(), second.to_string());
    let want: Vec<(u64, String, bool)> = vec![
        (0, "10.0.0.1".into(), false), // tier 1 first: refused, backs off 15 s
        (0, f.clone(), true),          // then tier 2's first: interval 100
        (100, "10.0.0.1".into(), false), // tier 1 again (due), backs off 30 s
        (100, f.clone(), true),
        (200, "10.0.0.1".into(), false), // backs off 60 s
        (200, f.clone(), false),         // the first of tier 2 fails now
        (200, s.clone(), true),          // the other answers: interval 200
        (400, s.clone(), true),          // 10.0.0.1 has no script left: ...
    ];
    // ... at 400 s 10.0.0.1 (due since 260 s) is tried and refused before.
    let mut want = want;
    want.insert(7, (400, "10.0.0.1".into(), false));
    assert_eq!(seen, want);
    // The event went with the first answered announce only; the tracker
    // id went back to the tracker that gave it.
    let n = net.borrow();
    let written: Vec<(IpAddr, String)> = n
        .log
        .iter()
        .map(|(ip, l)| {
            (
                *ip,
                String::from_utf8_lossy(&l.borrow().written).into_owned(),
            )
        })
        .collect();
    assert_eq!(written.len(), 4);
    assert!(written[0].1.contains("&event=started"));
    assert!(!written[1].1.contains("event="));
    assert!(written[1].1.contains("&trackerid=T1 "), "{}", written[1].1);
    assert!(!written[3].1.contains("trackerid"));
    // The second of tier 2 answered and moved to the front.
    assert_eq!(written[2].0, second);
}

#[test]
fn a_new_event_is_announced_at_once_and_shutdown_ends_the_announcer() {
    let net = Rc::new(RefCell::new(Net {
        script: HashMap::from([(
            "10.0.0.1".parse().unwrap(),
            VecDeque::from([ok(1000, None), ok(1000, None)]),
        )]),
        log: Vec::new(),
    }));
    let tiers = Tiers::new(
        &[urls(&["http://10.0.0.1/announce"])],
        0,
        TierConfig::default(),
    );
    let a = TrackerAnnouncer::new(tiers, request()).with_connector(net_connector(net.clone()));
    let mut h = Harness::new();
    let id = h.spawn(a);
    let out = h.collector::<AnnounceOutcome>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    let inbox = h.feeder::<AnnounceRequest>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    h.run_for(Duration::from_secs(10));
    assert_eq!(out.drain().len(), 1);
    let mut done = request();
    done.event = AnnounceEvent::Completed;
    done.left = 0;
    inbox.send(done).unwrap();
    h.run_for(Duration::from_secs(10));
    assert_eq!(out.drain().len(), 1, "announced at once, not at 1000 s");
    let last = String::from_utf8_lossy(&net.borrow().log[1].1.borrow().written).into_owned();
    assert!(last.contains("&left=0&compact=1&event=completed"), "{last}");
    ctl.send(Signal::Shutdown).unwrap();
    h.run_for(Duration::from_secs(1));
    assert_eq!(sig.drain(), [Signal::Shutdown]);
    assert_eq!(h.scheduler().live(), 0);
}

/// An announcer for one tracker (10.0.0.1) doing `acts`, started and run
/// until its first announce is over.
struct Leaving {
    h: Harness,
    id: kamaelia::axon::Id,
    net: Rc<RefCell<Net>>,
    out: kamaelia::testing::Collector<AnnounceOutcome>,
    sig: kamaelia::testing::Collector<Signal>,
    ctl: kamaelia::testing::Feeder<Signal>,
}

fn leaving(acts: Vec<Act>, stop_timeout: Duration) -> Leaving {
    let net = Rc::new(RefCell::new(Net {
        script: HashMap::from([("10.0.0.1".parse().unwrap(), VecDeque::from(acts))]),
        log: Vec::new(),
    }));
    let tiers = Tiers::new(
        &[urls(&["http://10.0.0.1/announce"])],
        0,
        TierConfig::default(),
    );
    let a = TrackerAnnouncer::new(tiers, request())
        .with_connector(net_connector(net.clone()))
        .stop_timeout(stop_timeout);
    let mut h = Harness::new();
    let id = h.spawn(a);
    let out = h.collector::<AnnounceOutcome>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    h.run_until_idle();
    Leaving {
        h,
        id,
        net,
        out,
        sig,
        ctl,
    }
}

impl Leaving {
    /// What the client wrote on connection `n`.
    fn written(&self, n: usize) -> String {
        String::from_utf8_lossy(&self.net.borrow().log[n].1.borrow().written).into_owned()
    }
}

#[test]
fn leaving_announces_stopped_once_to_the_tracker_that_answered_then_ends() {
    for end in [Signal::Shutdown, Signal::ProducerFinished] {
        let mut l = leaving(
            vec![ok(1000, Some("T1")), ok(1000, None)],
            Duration::from_secs(5),
        );
        assert!(matches!(
            &l.out.drain()[..],
            [AnnounceOutcome::Announced { .. }]
        ));
        assert!(l.written(0).contains("&event=started"));
        l.h.run_for(Duration::from_secs(10));
        l.ctl.send(end.clone()).unwrap();
        // No virtual time passes: the tracker answers at once.
        l.h.run_until_idle();
        assert_eq!(l.net.borrow().log.len(), 2, "one stopped announce");
        let stopped = l.written(1);
        assert!(stopped.starts_with("GET /announce?"), "{stopped}");
        assert!(stopped.contains("&event=stopped"), "{stopped}");
        assert!(stopped.contains("&numwant=0"), "{stopped}");
        assert!(stopped.contains("&trackerid=T1 "), "{stopped}");
        assert!(matches!(
            &l.out.drain()[..],
            [AnnounceOutcome::Announced { url, .. }] if url == "http://10.0.0.1/announce"
        ));
        assert_eq!(l.sig.drain(), [Signal::Shutdown], "after {end:?}");
        assert!(!l.h.is_alive(l.id));
        assert_eq!(l.h.scheduler().live(), 0);
    }
}

#[test]
fn an_unanswered_stopped_announce_is_given_up_after_the_stop_timeout() {
    let mut l = leaving(
        vec![ok(1000, None), Act::Silent, ok(1000, None)],
        Duration::from_secs(2),
    );
    assert_eq!(l.out.drain().len(), 1);
    l.ctl.send(Signal::Shutdown).unwrap();
    l.h.run_until_idle();
    assert_eq!(l.net.borrow().log.len(), 2);
    assert!(l.written(1).contains("&event=stopped"));
    l.h.run_for(Duration::from_secs(2) - Duration::from_millis(1));
    assert!(l.sig.is_empty(), "still waiting for the tracker");
    assert!(l.h.is_alive(l.id));
    l.h.run_for(Duration::from_millis(1));
    let outcomes = l.out.drain();
    assert!(
        matches!(
            &outcomes[..],
            [AnnounceOutcome::Failed {
                error: TrackerError::Http(ErrorKind::TimedOut(_)),
                ..
            }]
        ),
        "{outcomes:?}"
    );
    assert_eq!(l.sig.drain(), [Signal::Shutdown]);
    assert_eq!(l.h.scheduler().live(), 0, "the attempt was shut down too");
    // One try: the tracker's next script is never asked for.
    l.h.run_for(Duration::from_secs(60));
    assert_eq!(l.net.borrow().log.len(), 2);
}

#[test]
fn a_failed_stopped_announce_is_not_retried_and_the_announcer_ends() {
    // The tracker answered `started`, then refuses: one try, then the end.
    let mut l = leaving(vec![ok(1000, None)], Duration::from_secs(5));
    assert_eq!(l.out.drain().len(), 1);
    l.ctl.send(Signal::Shutdown).unwrap();
    l.h.run_until_idle();
    assert!(matches!(
        &l.out.drain()[..],
        [AnnounceOutcome::Failed {
            error: TrackerError::Http(ErrorKind::Refused),
            ..
        }]
    ));
    assert_eq!(l.sig.drain(), [Signal::Shutdown]);
    assert_eq!(l.h.scheduler().live(), 0);
}

#[test]
fn a_torrent_no_tracker_answered_leaves_without_a_stopped_announce() {
    // The started announce is in flight (no answer) when shutdown comes:
    // it is abandoned, and no tracker heard of the torrent, so no stopped.
    let mut l = leaving(vec![Act::Silent, ok(1000, None)], Duration::from_secs(5));
    assert!(l.out.is_empty());
    l.ctl.send(Signal::Shutdown).unwrap();
    l.h.run_until_idle();
    assert_eq!(l.sig.drain(), [Signal::Shutdown]);
    assert_eq!(l.h.scheduler().live(), 0);
    assert_eq!(l.net.borrow().log.len(), 1);
    assert!(l.out.is_empty());
}

#[test]
fn a_shutdown_in_the_same_step_as_the_first_answer_still_says_stopped() {
    let net = Rc::new(RefCell::new(Net {
        script: HashMap::from([(
            "10.0.0.1".parse().unwrap(),
            VecDeque::from([ok(1000, None), ok(1000, None)]),
        )]),
        log: Vec::new(),
    }));
    let tiers = Tiers::new(
        &[urls(&["http://10.0.0.1/announce"])],
        0,
        TierConfig::default(),
    );
    let a = TrackerAnnouncer::new(tiers, request()).with_connector(net_connector(net.clone()));
    let mut h = Harness::new();
    let id = h.spawn(a);
    let out = h.collector::<AnnounceOutcome>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    // Step until the started announce's client has answered and ended,
    // before the announcer has taken its answer: then shut down.
    let mut steps = 0;
    while !(h.scheduler().live() == 1 && net.borrow().log.len() == 1) {
        assert!(h.step().is_some(), "idle before the answer");
        steps += 1;
        assert!(steps < 1000);
    }
    assert!(out.is_empty(), "the answer is not taken yet");
    ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    assert_eq!(net.borrow().log.len(), 2);
    let stopped = String::from_utf8_lossy(&net.borrow().log[1].1.borrow().written).into_owned();
    assert!(stopped.contains("&event=stopped"), "{stopped}");
    let outcomes = out.drain();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, AnnounceOutcome::Announced { .. })));
    assert_eq!(sig.drain(), [Signal::Shutdown]);
    assert_eq!(h.scheduler().live(), 0);
}
