//! The HTTP tracker server (TrackerServer's HTTP part and SwarmExpiry)
//! driven step by step with scripted clients on virtual time: replies
//! byte for byte, the second announce seeing the first, dictionary
//! replies, scrape, refusals and bad queries as `failure reason`, numwant
//! capped, peers expired on the timer, shutdown.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::time::Duration;

use kamaelia::axon::Signal;
use kamaelia::protocol::torrent::tracker::http_wire::{announce_query, parse_announce_reply};
use kamaelia::protocol::torrent::tracker::server::{TrackerConfig, TrackerServer};
use kamaelia::protocol::torrent::tracker::swarm::Swarms;
use kamaelia::protocol::torrent::tracker::{AnnounceEvent, AnnounceRequest};
use kamaelia::testing::scripted::{ConnLog, ScriptedAcceptor, ScriptedConn};
use kamaelia::testing::Harness;

const HASH: [u8; 20] = [0x11; 20];

fn req(ip: &str, port: u16, left: u64) -> AnnounceRequest {
    let mut peer_id = *b"-KM0001-000000000000";
    peer_id[19] = port as u8;
    AnnounceRequest {
        info_hash: HASH,
        peer_id,
        port,
        uploaded: 0,
        downloaded: 0,
        left,
        event: AnnounceEvent::Started,
        numwant: None,
        key: None,
        ip: Some(ip.parse().unwrap()),
        compact: true,
        tracker_id: None,
    }
}

fn get(path: &str, query: &str) -> String {
    format!("GET {path}?{query} HTTP/1.1\r\nHost: t\r\n\r\n")
}

fn announce(r: &AnnounceRequest) -> String {
    let mut q = String::new();
    announce_query(&mut q, r);
    get("/announce", &q)
}

fn response(body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

struct Tracker {
    h: Harness,
    acceptor: ScriptedAcceptor,
    swarms: Rc<RefCell<Swarms>>,
    id: kamaelia::axon::Id,
}

impl Tracker {
    fn new(config: TrackerConfig) -> Self {
        let acceptor = ScriptedAcceptor::new();
        let server = TrackerServer::with_http_acceptor(Box::new(acceptor.clone()), config);
        let swarms = server.swarms();
        let mut h = Harness::new();
        let id = h.spawn(server);
        h.run_until_idle();
        Tracker {
            h,
            acceptor,
            swarms,
            id,
        }
    }

    /// One client sends `requests` (pipelined) and closes; what it got.
    fn client(&mut self, requests: &str) -> Vec<u8> {
        let conn = ScriptedConn::new().reply(requests.as_bytes()).eof();
        let log: Rc<RefCell<ConnLog>> = conn.log();
        self.acceptor.connect(conn);
        // A listener's readiness wakes the server core: do what it would.
        let snap = self.h.scheduler().snapshot();
        let core = snap
            .components
            .iter()
            .find(|c| c.name.contains("HttpTrackerServer"));
        let core = core.expect("the HTTP tracker runs").id;
        self.h.scheduler().wake(core);
        self.h.run_until_idle();
        let written = log.borrow().written.clone();
        written
    }
}

fn reply_body(b: &[u8]) -> Vec<u8> {
    let s = b.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    b[s..].to_vec()
}

#[test]
fn the_second_announce_sees_the_first_byte_for_byte() {
    let mut t = Tracker::new(TrackerConfig::default());
    let two = announce(&req("10.0.0.1", 0x0457, 100)) + &announce(&req("10.0.0.2", 2222, 0));
    let got = t.client(&two);
    let mut want =
        response(b"d8:completei0e10:incompletei1e8:intervali1800e12:min intervali900e5:peers0:e");
    want.extend(response(
        b"d8:completei1e10:incompletei1e8:intervali1800e12:min intervali900e5:peers6:\x0a\x00\x00\x01\x04\x57e",
    ));
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want)
    );
    assert_eq!(got, want);
    assert_eq!(
        (t.swarms.borrow().torrents(), t.swarms.borrow().peers()),
        (1, 2)
    );

    // Not compact: the dictionary list with the first peer's id.
    let mut r = req("10.0.0.3", 3333, 5);
    r.compact = false;
    let body = reply_body(&t.client(&announce(&r)));
    let parsed = parse_announce_reply(&body).unwrap();
    let mut addrs: Vec<_> = parsed.peers.iter().map(|p| p.addr.to_string()).collect();
    addrs.sort();
    assert_eq!(addrs, ["10.0.0.1:1111", "10.0.0.2:2222"]);
    let first = parsed.peers.iter().find(|p| p.addr.port() == 1111).unwrap();
    assert_eq!(first.id, Some(req("10.0.0.1", 1111, 0).peer_id));
    assert!(body.windows(7).any(|w| w == b"peer id"));

    // Scrape: two leechers and a seeder; an unknown torrent is zeros.
    let q = format!(
        "info_hash={}&info_hash={}",
        "%11".repeat(20),
        "%22".repeat(20)
    );
    let body = reply_body(&t.client(&get("/scrape", &q)));
    let mut want = b"d5:filesd20:".to_vec();
    want.extend_from_slice(&HASH);
    want.extend_from_slice(b"d8:completei1e10:downloadedi0e10:incompletei2ee20:");
    want.extend_from_slice(&[0x22; 20]);
    want.extend_from_slice(b"d8:completei0e10:downloadedi0e10:incompletei0eeee");
    assert_eq!(body, want);
}

#[test]
fn bad_queries_and_refusals_are_failure_reasons() {
    let mut config = TrackerConfig::default();
    config.swarm.whitelist = Some(HashSet::from([HASH]));
    let mut t = Tracker::new(config);
    let h20 = "%11".repeat(20);
    let cases = [
        (
            get(
                "/announce",
                &format!("info_hash={}&peer_id={h20}&port=1", "%11".repeat(19)),
            ),
            &b"d14:failure reason26:info_hash must be 20 bytese"[..],
        ),
        (
            get("/announce", &format!("info_hash={h20}&port=1")),
            b"d14:failure reason15:missing peer_ide",
        ),
        (
            get(
                "/announce",
                &format!("info_hash={h20}&peer_id={h20}&port=x"),
            ),
            b"d14:failure reason12:invalid porte",
        ),
        (
            get("/announce", ""),
            b"d14:failure reason17:missing info_hashe",
        ),
        (
            get("/scrape", "x=1"),
            b"d14:failure reason17:missing info_hashe",
        ),
        (
            announce(&AnnounceRequest {
                info_hash: [9; 20],
                ..req("10.0.0.1", 1, 1)
            }),
            b"d14:failure reason24:torrent not tracked heree",
        ),
    ];
    for (request, body) in cases {
        let got = t.client(&request);
        assert_eq!(got, response(body), "{request}");
    }
    assert_eq!(t.swarms.borrow().peers(), 0);
    // Other paths and methods are the HTTP server's own answers.
    let got = t.client("GET /other HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(got.starts_with(b"HTTP/1.1 404 "));
    let got = t.client("POST /announce HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    assert!(got.starts_with(b"HTTP/1.1 405 "));
}

#[test]
fn a_huge_numwant_is_capped_by_the_swarm() {
    let mut config = TrackerConfig::default();
    config.swarm.max_numwant = 2;
    let mut t = Tracker::new(config);
    for i in 1..=4 {
        t.client(&announce(&req(&format!("10.0.0.{i}"), 1000 + i, 1)));
    }
    let mut q = String::new();
    announce_query(&mut q, &req("10.0.0.9", 9, 1));
    q.push_str("&numwant=999999999999999999999999");
    let body = reply_body(&t.client(&get("/announce", &q)));
    assert_eq!(parse_announce_reply(&body).unwrap().peers.len(), 2);
}

#[test]
fn peers_expire_on_the_timer_and_shutdown_ends_everything() {
    let mut config = TrackerConfig::default();
    config.swarm.peer_ttl = Duration::from_secs(100);
    config.expire_every = Duration::from_secs(30);
    let mut t = Tracker::new(config);
    t.client(&announce(&req("10.0.0.1", 1, 1)));
    t.h.run_for(Duration::from_secs(50));
    t.client(&announce(&req("10.0.0.2", 2, 1)));
    assert_eq!(t.swarms.borrow().peers(), 2);
    // At 120 s the first (heard at 0 s) has expired, the second (50 s) not.
    t.h.run_for(Duration::from_secs(70));
    assert_eq!(t.swarms.borrow().peers(), 1);
    t.h.run_for(Duration::from_secs(60));
    assert_eq!(t.swarms.borrow().peers(), 0);
    assert_eq!(t.swarms.borrow().torrents(), 0);

    let ctl = t.h.feeder::<Signal>(t.id, "control").unwrap();
    ctl.send(Signal::Shutdown).unwrap();
    t.h.run_until_idle();
    assert!(!t.h.is_alive(t.id));
    assert_eq!(t.h.scheduler().live(), 0, "no child left running");
    assert!(t.acceptor.is_closed());
}

/// UDP and HTTP on one graph, real sockets on 127.0.0.1: a peer that
/// announced over UDP is in the HTTP announce's reply (one Swarms).
#[test]
fn udp_and_http_share_one_swarm() {
    use kamaelia::axon::Scheduler;
    use kamaelia::protocol::torrent::tracker::udp_wire::{
        encode_announce_request, encode_connect_request, parse_response, Response,
    };
    use std::io::{Read, Write};
    let config = TrackerConfig {
        http: Some("127.0.0.1:0".parse().unwrap()),
        udp: Some("127.0.0.1:0".parse().unwrap()),
        ..TrackerConfig::default()
    };
    let server = TrackerServer::bind(config).unwrap();
    let (http, udp) = (server.http_addr().unwrap(), server.udp_addr().unwrap());
    let swarms = server.swarms();
    let mut s = Scheduler::new();
    let id = s.spawn(server);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_nonblocking(true).unwrap();
    // Sends `msg`, runs the scheduler until the reply comes (at most 5 s).
    let exchange = |msg: &[u8], s: &mut Scheduler| -> Vec<u8> {
        sock.send_to(msg, udp).unwrap();
        let mut buf = [0u8; 2048];
        for _ in 0..500 {
            s.run_for(Duration::from_millis(10));
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                return buf[..n].to_vec();
            }
        }
        panic!("no UDP reply");
    };
    let mut out = Vec::new();
    encode_connect_request(&mut out, 7);
    let reply = exchange(&out, &mut s);
    let Ok(Response::Connect {
        tid: 7,
        connection_id,
    }) = parse_response(&reply, false)
    else {
        panic!("{reply:?}")
    };
    out.clear();
    let mut r = req("10.0.0.1", 5555, 0);
    r.ip = None;
    encode_announce_request(&mut out, connection_id, 8, &r);
    let reply = exchange(&out, &mut s);
    assert!(matches!(
        parse_response(&reply, false),
        Ok(Response::Announce { tid: 8, .. })
    ));
    assert_eq!(swarms.borrow().peers(), 1);

    // Now over HTTP (a blocking client on a thread; the scheduler here).
    let request = announce(&AnnounceRequest {
        ip: None,
        ..req("10.0.0.2", 6666, 10)
    })
    .replace("Host: t\r\n", "Host: t\r\nConnection: close\r\n");
    let client = std::thread::spawn(move || {
        let mut c = std::net::TcpStream::connect(http).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(request.as_bytes()).unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        got
    });
    for _ in 0..500 {
        if client.is_finished() {
            break;
        }
        s.run_for(Duration::from_millis(10));
    }
    let got = client.join().unwrap();
    let reply = parse_announce_reply(&reply_body(&got)).unwrap();
    let peers: Vec<String> = reply.peers.iter().map(|p| p.addr.to_string()).collect();
    assert_eq!(peers, ["127.0.0.1:5555"]);
    assert_eq!(swarms.borrow().peers(), 2);
    // Shutdown ends the whole graph, sockets included.
    let ctl: kamaelia::axon::Outbox<Signal> = kamaelia::axon::Outbox::new("o", "test");
    let target = s.find_box(id, "control").unwrap();
    kamaelia::axon::link_refs(&ctl.erased(), &target).unwrap();
    ctl.send(Signal::Shutdown).unwrap();
    s.run_for(Duration::from_millis(200));
    assert_eq!(s.live(), 0);
}

/// SwarmExpiry on 100,000 peers: the sweep is done in slices of at most
/// the budget, one a step (counted in peers and torrents looked at, not
/// timed), yielding between them, and leaves exactly the fresh peers.
#[test]
fn swarm_expiry_sweeps_100000_peers_in_bounded_steps() {
    use kamaelia::protocol::torrent::tracker::server::SwarmExpiry;
    use kamaelia::protocol::torrent::tracker::swarm::SwarmConfig;
    use std::net::IpAddr;
    let mut h = Harness::new();
    let t0 = h.now();
    let mut swarms = Swarms::new(SwarmConfig {
        peer_ttl: Duration::from_secs(100),
        ..SwarmConfig::default()
    });
    // 100 torrents of 1,000: the even peers heard at t0, the odd at 50 s.
    for n in 0..100_000u32 {
        let mut r = req("10.0.0.1", 6881, u64::from(n % 2 == 0));
        r.info_hash = [(n / 1000) as u8 + 1; 20];
        r.numwant = Some(0);
        let at = t0 + Duration::from_secs(50 * u64::from(n % 2));
        let from = IpAddr::from((0x0a00_0000 | n).to_be_bytes());
        swarms.announce(&r, from, at).unwrap();
    }
    let swarms = Rc::new(RefCell::new(swarms));
    let budget = 1000;
    let id = h.spawn(SwarmExpiry::new(swarms.clone(), Duration::from_secs(100)).slice(budget));
    let (mut steps, mut most) = (0, 0);
    loop {
        loop {
            let before = swarms.borrow().expire_examined();
            if h.step().is_none() {
                break;
            }
            let work = swarms.borrow().expire_examined() - before;
            most = most.max(work);
            steps += 1;
            assert!(steps < 10_000, "runaway");
        }
        match h.scheduler().next_deadline() {
            Some(t) if t <= t0 + Duration::from_secs(100) => h.advance(t - h.now()),
            _ => break,
        }
    }
    assert!(h.is_alive(id));
    assert!(most <= budget as u64, "a step looked at {most}");
    // 100,000 peers and 100 torrents in slices of 1,000: 101 slices, and
    // every one looked at once.
    assert_eq!(swarms.borrow().expire_examined(), 100_100);
    assert!(steps >= 101, "{steps} steps");
    let s = swarms.borrow();
    assert_eq!((s.peers(), s.torrents()), (50_000, 100));
    for t in 0..100u8 {
        let e = s.scrape(&[t + 1; 20]);
        assert_eq!((e.complete, e.incomplete), (500, 0), "torrent {t}");
    }
}
