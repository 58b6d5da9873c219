//! HttpTrackerServer (the HTTP tracker that keeps its connections in one
//! table) driven step by step with scripted clients on virtual time:
//! keep-alive and pipelined requests answered in order, HTTP/1.0, HEAD,
//! requests cut anywhere, each error status and the close after it, the
//! connection limit, the deadline, and shutdown.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use kamaelia::axon::{Id, Outbox, Signal};
use kamaelia::protocol::torrent::tracker::http_direct::{
    DirectConfig, DirectStats, HttpTrackerServer,
};
use kamaelia::protocol::torrent::tracker::http_wire::parse_announce_reply;
use kamaelia::protocol::torrent::tracker::swarm::{SwarmConfig, Swarms};
use kamaelia::testing::scripted::{ConnLog, ScriptedAcceptor, ScriptedConn};
use kamaelia::testing::Harness;

const HASH_Q: &str = "info_hash=%11%11%11%11%11%11%11%11%11%11%11%11%11%11%11%11%11%11%11%11";

fn announce(port: u16, extra: &str) -> String {
    format!(
        "GET /announce?{HASH_Q}&peer_id=-KM0001-0000000000{:02}&port={port}&left=5 HTTP/1.1\r\n\
         Host: t\r\n{extra}\r\n",
        port % 100
    )
}

struct Rig {
    h: Harness,
    acceptor: ScriptedAcceptor,
    id: Id,
    stats: Rc<std::cell::Cell<DirectStats>>,
    ctl: Outbox<Signal>,
}

fn rig(config: DirectConfig) -> Rig {
    let acceptor = ScriptedAcceptor::new();
    let swarms = Rc::new(RefCell::new(Swarms::new(SwarmConfig::default())));
    let server = HttpTrackerServer::new(Box::new(acceptor.clone()), swarms, config);
    let stats = server.stats();
    let mut h = Harness::new();
    let ctl: Outbox<Signal> = Outbox::signal();
    kamaelia::axon::link(&ctl, &server.control).unwrap();
    let id = h.spawn(server);
    h.run_until_idle();
    Rig {
        h,
        acceptor,
        id,
        stats,
        ctl,
    }
}

impl Rig {
    /// Queues `conn`, wakes the server (as its listener's readiness
    /// would) and runs it until idle; what was written, and the log.
    fn client(&mut self, conn: ScriptedConn) -> Rc<RefCell<ConnLog>> {
        let log = conn.log();
        self.acceptor.connect(conn);
        self.h.scheduler().wake(self.id);
        self.h.run_until_idle();
        log
    }
}

fn text(log: &Rc<RefCell<ConnLog>>) -> String {
    String::from_utf8_lossy(&log.borrow().written).into_owned()
}

/// The bodies of the responses in `wire`, in order; a response whose body
/// has not all come yet (a socket read may end inside it) is left out.
fn bodies(wire: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = wire;
    while let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&rest[..end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .map_or(0, |v| v.trim().parse().unwrap());
        let start = end + 4;
        if rest.len() < start + len {
            break;
        }
        out.push(rest[start..start + len].to_vec());
        rest = &rest[start + len..];
    }
    out
}

#[test]
fn pipelined_keep_alive_requests_are_answered_in_order_and_the_connection_stays() {
    let mut r = rig(DirectConfig::default());
    let two = format!("{}{}", announce(6001, ""), announce(6002, ""));
    let log = r.client(ScriptedConn::new().reply(two.as_bytes()));
    let wire = log.borrow().written.clone();
    let b = bodies(&wire);
    assert_eq!(b.len(), 2, "{}", text(&log));
    // The second announce sees the first peer; the first saw nobody.
    assert!(parse_announce_reply(&b[0]).unwrap().peers.is_empty());
    let second = parse_announce_reply(&b[1]).unwrap();
    let ports: Vec<u16> = second.peers.iter().map(|p| p.addr.port()).collect();
    assert_eq!(ports, vec![6001]);
    assert!(text(&log).starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(!text(&log).contains("Connection: close"));
    assert!(!log.borrow().dropped, "kept alive");
    let s = r.stats.get();
    assert_eq!((s.accepted, s.answered, s.errors), (1, 2, 0));
}

#[test]
fn connection_close_and_http_1_0_close_after_the_answer() {
    let mut r = rig(DirectConfig::default());
    let log =
        r.client(ScriptedConn::new().reply(announce(6001, "Connection: close\r\n").as_bytes()));
    assert!(text(&log).contains("Connection: close\r\n"));
    assert!(log.borrow().dropped);
    let req = format!("GET /scrape?{HASH_Q} HTTP/1.0\r\n\r\n");
    let log = r.client(ScriptedConn::new().reply(req.as_bytes()));
    let t = text(&log);
    assert!(t.ends_with("d5:filesd20:\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11d8:completei0e10:downloadedi0e10:incompletei1eeee"), "{t}");
    assert!(log.borrow().dropped, "HTTP/1.0 without keep-alive closes");
}

#[test]
fn a_request_cut_anywhere_is_answered_once_whole() {
    let req = announce(6001, "Connection: close\r\n");
    let mut whole = rig(DirectConfig::default());
    let expected = text(&whole.client(ScriptedConn::new().reply(req.as_bytes())));
    for cut in [1, 5, 40, req.len() - 2, req.len() - 1] {
        let mut r = rig(DirectConfig::default());
        let conn = ScriptedConn::new()
            .reply(&req.as_bytes()[..cut])
            .reply(&req.as_bytes()[cut..]);
        let log = r.client(conn);
        assert_eq!(text(&log), expected, "cut at {cut}");
    }
}

#[test]
fn head_gets_the_head_alone() {
    let mut r = rig(DirectConfig::default());
    let req = announce(6001, "").replacen("GET", "HEAD", 1);
    let log = r.client(ScriptedConn::new().reply(req.as_bytes()));
    let t = text(&log);
    assert!(
        t.starts_with("HTTP/1.1 200 OK\r\n") && t.ends_with("\r\n\r\n"),
        "{t}"
    );
    assert!(t.contains("Content-Length: "));
}

#[test]
fn errors_have_their_status_and_close_the_connection() {
    let cases: [(&str, &str); 6] = [
        ("GET /other HTTP/1.1\r\nHost: t\r\n\r\n", "HTTP/1.1 404 "),
        (
            "POST /announce HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 405 ",
        ),
        (
            "GET /announce HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
            "HTTP/1.1 413 ",
        ),
        (
            "GET /announce HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n",
            "HTTP/1.1 400 ",
        ),
        // HTTP/1.1 without Host (RFC 9112 §3.2).
        ("GET /announce HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "),
        ("GET /announce HTTP/7.0\r\nHost: t\r\n\r\n", "HTTP/1.1 505 "),
    ];
    for (req, status) in cases {
        let mut r = rig(DirectConfig::default());
        // A request after the bad one is not answered.
        let two = format!("{req}{}", announce(6001, ""));
        let log = r.client(ScriptedConn::new().reply(two.as_bytes()));
        let t = text(&log);
        assert!(t.starts_with(status), "{req:?}: {t:?}");
        assert_eq!(t.matches("HTTP/1.1").count(), 1, "{req:?}: {t:?}");
        assert!(log.borrow().dropped, "{req:?}");
        assert_eq!(r.stats.get().errors, 1);
    }
    let mut r = rig(DirectConfig::default());
    let log = r.client(ScriptedConn::new().reply(b"POST /announce HTTP/1.1\r\nHost: t\r\n\r\n"));
    assert!(text(&log).contains("Allow: GET, HEAD\r\n"));
}

#[test]
fn a_head_over_the_limit_is_refused_with_bounded_memory() {
    let mut r = rig(DirectConfig::default());
    let mut conn = ScriptedConn::new().reply(b"GET /announce?");
    // 1 MiB of query in 4 KiB pieces: the parser's head limit stops it.
    let piece = vec![b'a'; 4096];
    for _ in 0..256 {
        conn = conn.reply(&piece);
    }
    let log = r.client(conn);
    let t = text(&log);
    assert!(
        t.starts_with("HTTP/1.1 414 ") || t.starts_with("HTTP/1.1 431 "),
        "{t}"
    );
    assert!(log.borrow().dropped);
}

#[test]
fn connections_over_the_limit_are_closed_at_once() {
    let mut r = rig(DirectConfig {
        max_connections: 2,
        ..DirectConfig::default()
    });
    let idle: Vec<_> = (0..3).map(|_| ScriptedConn::new()).collect();
    let logs: Vec<_> = idle.iter().map(ScriptedConn::log).collect();
    for c in idle {
        r.acceptor.connect(c);
    }
    r.h.scheduler().wake(r.id);
    r.h.run_until_idle();
    let dropped: Vec<bool> = logs.iter().map(|l| l.borrow().dropped).collect();
    assert_eq!(dropped, vec![false, false, true]);
    let s = r.stats.get();
    assert_eq!((s.accepted, s.refused), (2, 1));
}

#[test]
fn a_silent_connection_is_closed_at_its_deadline_on_virtual_time() {
    let mut r = rig(DirectConfig {
        timeout: Duration::from_secs(10),
        ..DirectConfig::default()
    });
    let silent = r.client(ScriptedConn::new());
    let talker = r.client(ScriptedConn::new().reply(announce(6001, "").as_bytes()));
    r.h.run_for(Duration::from_secs(9));
    assert!(!silent.borrow().dropped && !talker.borrow().dropped);
    r.h.run_for(Duration::from_secs(2));
    assert!(silent.borrow().dropped && talker.borrow().dropped);
    assert_eq!(r.stats.get().timed_out, 2);
}

/// A good request before a malformed one in the same read is answered
/// (and applied to the swarm) before the error status.
#[test]
fn a_request_before_a_malformed_one_is_answered_first() {
    let mut r = rig(DirectConfig::default());
    let two = format!(
        "{}GET /announce HTTP/1.1\r\nBad Header\r\n\r\n",
        announce(6001, "")
    );
    let log = r.client(ScriptedConn::new().reply(two.as_bytes()));
    let t = text(&log);
    assert!(t.starts_with("HTTP/1.1 200 OK\r\n"), "{t}");
    let second = t.find("HTTP/1.1 400 ").expect("then the error");
    assert_eq!(t.matches("HTTP/1.1").count(), 2, "{t}");
    assert!(second > 0 && log.borrow().dropped);
    let s = r.stats.get();
    assert_eq!((s.answered, s.errors), (1, 1));
}

/// `Content-Length: 0` on a GET is no body (some libraries send it).
#[test]
fn a_get_with_content_length_0_is_answered() {
    let mut r = rig(DirectConfig::default());
    let log =
        r.client(ScriptedConn::new().reply(announce(6001, "Content-Length: 0\r\n").as_bytes()));
    assert!(
        text(&log).starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        text(&log)
    );
    assert_eq!(r.stats.get().errors, 0);
}

/// A client that keeps pipelining gets at most 16 reads in one step, then
/// the tracker yields (and goes on next step): it cannot hold the
/// scheduler.
#[test]
fn a_pipelining_client_yields_after_16_reads_a_step() {
    let mut r = rig(DirectConfig::default());
    let mut conn = ScriptedConn::new();
    for i in 0..40u16 {
        conn = conn.reply(announce(6000 + i, "").as_bytes());
    }
    let log = conn.log();
    r.acceptor.connect(conn);
    r.h.scheduler().wake(r.id);
    let mut steps = Vec::new();
    while let Some((id, result)) = r.h.step() {
        if id == r.id {
            steps.push((result, r.stats.get().answered));
        }
    }
    let answered: Vec<u64> = steps.iter().map(|s| s.1).collect();
    assert_eq!(
        &answered[..3],
        &[16, 32, 40],
        "answers after each step: {steps:?}"
    );
    assert!(matches!(steps[0].0, kamaelia::axon::StepResult::Yield));
    assert_eq!(bodies(&log.borrow().written).len(), 40);
}

/// A client that sends requests but never reads the answers is closed
/// at its deadline too, with its answer still unsent.
#[test]
fn a_client_that_does_not_read_is_closed_at_its_deadline() {
    let mut r = rig(DirectConfig {
        timeout: Duration::from_secs(10),
        ..DirectConfig::default()
    });
    let stalled = r.client(
        ScriptedConn::new()
            .reply(announce(6001, "").as_bytes())
            .stalled_writes(),
    );
    assert_eq!(r.stats.get().answered, 1);
    r.h.run_for(Duration::from_secs(9));
    assert!(!stalled.borrow().dropped);
    r.h.run_for(Duration::from_secs(2));
    assert!(stalled.borrow().dropped, "closed at its deadline");
    assert!(stalled.borrow().written.is_empty());
    assert_eq!(r.stats.get().timed_out, 1);
}

#[test]
fn shutdown_closes_every_connection_and_the_listener() {
    let mut r = rig(DirectConfig::default());
    let open = r.client(ScriptedConn::new());
    r.ctl.send(Signal::Shutdown).unwrap();
    r.h.run_until_idle();
    assert!(!r.h.is_alive(r.id));
    assert!(open.borrow().dropped);
    assert!(r.acceptor.is_closed());
}

/// Over a real socket on 127.0.0.1 (edge-triggered readiness, reads
/// shorter and longer than a request, answers written as the socket takes
/// them): 300 keep-alive announces pipelined in one write, every one
/// answered, in order.
#[test]
fn three_hundred_pipelined_announces_over_real_tcp() {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let acceptor =
        kamaelia::internet::TcpAcceptor::bind("127.0.0.1:0".parse().unwrap(), 64).unwrap();
    let addr = kamaelia::internet::Acceptor::local_addr(&acceptor).unwrap();
    // Every announce comes from 127.0.0.1: no per-IP limit here.
    let config = SwarmConfig {
        max_peers_per_ip: u32::MAX,
        ..SwarmConfig::default()
    };
    let swarms = Rc::new(RefCell::new(Swarms::new(config)));
    let server = HttpTrackerServer::new(Box::new(acceptor), swarms, DirectConfig::default());
    let stats = server.stats();
    let mut s = kamaelia::axon::Scheduler::new();
    s.spawn(server);
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let client = std::thread::spawn(move || {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let all: String = (0..300u16).map(|i| announce(7000 + i, "")).collect();
        c.write_all(all.as_bytes()).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 65536];
        while bodies(&got).len() < 300 {
            let n = c.read(&mut buf).unwrap();
            assert!(n > 0, "closed after {} answers", bodies(&got).len());
            got.extend_from_slice(&buf[..n]);
        }
        d.store(true, Ordering::SeqCst);
        got
    });
    let limit = std::time::Instant::now() + Duration::from_secs(30);
    while !done.load(Ordering::SeqCst) {
        assert!(
            std::time::Instant::now() < limit,
            "not all answered in 30 s"
        );
        s.run_until_idle();
        s.wait_for_wake(Duration::from_millis(50));
    }
    let got = client.join().unwrap();
    let answers = bodies(&got);
    assert_eq!(answers.len(), 300);
    // In order: the n-th answer lists the peers of the announces before
    // it (up to the default numwant), so its peer count is min(n, 50).
    for (n, body) in answers.iter().enumerate() {
        let reply = parse_announce_reply(body).unwrap();
        assert_eq!(reply.peers.len(), n.min(50), "answer {n}");
    }
    assert_eq!(stats.get().answered, 300);
}
