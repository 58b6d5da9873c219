//! SimpleHttpClient: requests in, one whole response (or failure) each
//! out, in request order; kept-alive connections reused per host. Driven
//! step by step over scripted connections on virtual time, and against
//! real keep-alive servers on 127.0.0.1.

use std::time::Duration;

use kamaelia::axon::*;
use kamaelia::protocol::http::client::{
    ErrorKind, Fetched, HttpJob, Request, SimpleHttpClient, Url, UrlError,
};
use kamaelia::testing::scripted::{scripted_connector, ConnLog, Fault, ScriptedConn};
use kamaelia::testing::Harness;

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

/// A result in short: exact, and easy to write down.
fn show(r: &Fetched) -> String {
    match r {
        Ok(resp) => format!(
            "{} {} {}",
            resp.url,
            resp.head.status,
            String::from_utf8_lossy(&resp.body)
        ),
        Err(e) => format!("{}: {:?}", e.url, e.kind),
    }
}

struct Run {
    results: Vec<String>,
    signals: Vec<Signal>,
    logs: Vec<ConnLog>,
    live: usize,
}

impl Run {
    fn written(&self, i: usize) -> String {
        String::from_utf8_lossy(&self.logs[i].written).into_owned()
    }
}

/// Feeds `jobs`, then a producer-finished, and runs to the end.
fn run(client: SimpleHttpClient, jobs: Vec<HttpJob>, conns: Vec<ScriptedConn>) -> Run {
    let logs: Vec<_> = conns.iter().map(|c| c.log()).collect();
    let mut h = Harness::new();
    let id = h.spawn(client.with_connector(scripted_connector(conns)));
    let input = h.feeder::<HttpJob>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<Fetched>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    for j in jobs {
        input.send(j).unwrap();
    }
    ctl.send(Signal::ProducerFinished).unwrap();
    h.run_for(Duration::from_secs(600));
    Run {
        results: out.drain().iter().map(show).collect(),
        signals: sig.drain(),
        logs: logs.iter().map(|l| l.borrow().clone()).collect(),
        live: h.scheduler().live(),
    }
}

fn keep_alive(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn closing(status: u16, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn results_come_out_one_per_request_in_order_failures_included() {
    let r = run(
        SimpleHttpClient::new(),
        vec![
            "http://10.0.0.1/a".into(),
            "nonsense".into(),
            "http://10.0.0.1/missing".into(),
            "http://10.0.0.2/refused".into(),
            Request::post(url("http://10.0.0.1/b"), "xyz").into(),
            "http://10.0.0.1:8080/big".into(),
        ],
        vec![
            ScriptedConn::new().reply(&closing(200, "first")).eof(),
            ScriptedConn::new().reply(&closing(404, "not here")).eof(),
            ScriptedConn::new().fault_at(1, Fault::Refused),
            ScriptedConn::new().reply(&closing(201, "made")).eof(),
            ScriptedConn::new()
                .reply(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n")
                .reply(b"0123456789a")
                .eof(),
        ],
    );
    assert_eq!(
        r.results,
        [
            "http://10.0.0.1/a 200 first",
            "nonsense: BadUrl(MissingScheme)",
            "http://10.0.0.1/missing 404 not here",
            "http://10.0.0.2/refused: Refused",
            "http://10.0.0.1/b 201 made",
            "http://10.0.0.1:8080/big 200 0123456789a",
        ]
    );
    assert_eq!(r.signals, [Signal::ProducerFinished]);
    assert_eq!(r.live, 0);
    assert!(r.logs.iter().all(|l| l.dropped));
    assert_eq!(
        r.written(3),
        "POST /b HTTP/1.1\r\nHost: 10.0.0.1\r\nUser-Agent: kamaelia-rs/0.1\r\n\
         Content-Length: 3\r\nConnection: keep-alive\r\n\r\nxyz"
    );
}

#[test]
fn a_body_over_the_limit_is_a_typed_failure_and_the_next_request_goes_on() {
    let r = run(
        SimpleHttpClient::new().max_body(10),
        vec!["http://10.0.0.1/big".into(), "http://10.0.0.1/ok".into()],
        vec![
            ScriptedConn::new()
                .reply(&closing(200, "0123456789a"))
                .eof(),
            ScriptedConn::new().reply(&closing(200, "0123456789")).eof(),
        ],
    );
    assert_eq!(
        r.results,
        [
            "http://10.0.0.1/big: BadResponse(BodyTooLarge)",
            "http://10.0.0.1/ok 200 0123456789",
        ]
    );
    assert_eq!(r.live, 0);
}

#[test]
fn an_idle_connection_that_ended_is_not_reused() {
    // The server answers the first request keeping the connection alive,
    // then resets it while it is idle: the second request goes on a new
    // connection.
    let r = run(
        SimpleHttpClient::new(),
        vec!["http://10.0.0.1/1".into(), "http://10.0.0.1/2".into()],
        vec![
            ScriptedConn::new()
                .reply(&keep_alive("one"))
                .read_error(std::io::ErrorKind::ConnectionReset),
            ScriptedConn::new().reply(&closing(200, "two")).eof(),
        ],
    );
    assert_eq!(
        r.results,
        ["http://10.0.0.1/1 200 one", "http://10.0.0.1/2 200 two"]
    );
    assert!(r.written(0).starts_with("GET /1 "));
    assert!(!r.written(0).contains("GET /2 "));
    assert!(r.written(1).starts_with("GET /2 "));
    assert_eq!(r.live, 0);
}

#[test]
fn a_request_lost_on_a_reused_connection_is_tried_once_more_if_idempotent() {
    // The clean run: one connection carries both.
    let script = || ScriptedConn::new().reply(&keep_alive("one"));
    let clean = run(
        SimpleHttpClient::new(),
        vec!["http://10.0.0.1/1".into(), "http://10.0.0.1/2".into()],
        vec![script()],
    );
    // Both went on the one connection; the second waits for an answer
    // that never comes, and times out.
    assert_eq!(
        clean.results,
        [
            "http://10.0.0.1/1 200 one",
            "http://10.0.0.1/2: TimedOut(Head)"
        ]
    );
    assert!(clean.written(0).contains("GET /2 "));
    // Operation 5 is the write of request 2 (connect check, write 1,
    // read 1, a read that would block, write 2): reset it. That it is the
    // write is checked below: request 2's bytes never reach connection 1.
    for (method, retried) in [("GET", true), ("POST", false)] {
        let second = Request::new(method, url("http://10.0.0.1/2"));
        let r = run(
            SimpleHttpClient::new(),
            vec!["http://10.0.0.1/1".into(), second.into()],
            vec![
                script().fault_at(5, Fault::Reset),
                ScriptedConn::new().reply(&closing(200, "two")).eof(),
            ],
        );
        let want_second = if retried {
            "http://10.0.0.1/2 200 two".to_string()
        } else {
            "http://10.0.0.1/2: Reset".to_string()
        };
        assert_eq!(
            r.results,
            ["http://10.0.0.1/1 200 one".to_string(), want_second],
            "{method}"
        );
        assert!(!r.written(0).contains(" /2 "), "{method}");
        assert_eq!(r.logs[1].written.is_empty(), !retried, "{method}");
        assert_eq!(r.live, 0, "{method}");
    }
}

#[test]
fn shutdown_stops_at_once_and_closes_every_connection() {
    let conns = vec![
        ScriptedConn::new().reply(&keep_alive("one")),
        ScriptedConn::new().reply(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc"),
    ];
    let logs: Vec<_> = conns.iter().map(|c| c.log()).collect();
    let mut h = Harness::new();
    let id = h.spawn(SimpleHttpClient::new().with_connector(scripted_connector(conns)));
    let input = h.feeder::<HttpJob>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<Fetched>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input.send("http://10.0.0.1/1".into()).unwrap();
    input.send("http://10.0.0.2/2".into()).unwrap();
    input.send("http://10.0.0.3/3".into()).unwrap();
    h.run_for(Duration::from_secs(1));
    // One result; the second request is half-answered; one connection idle.
    assert_eq!(
        out.drain().iter().map(show).collect::<Vec<_>>(),
        ["http://10.0.0.1/1 200 one"]
    );
    assert_eq!(h.scheduler().live(), 3, "the client and two connections");
    ctl.send(Signal::Shutdown).unwrap();
    h.run_for(Duration::from_secs(1));
    assert_eq!(sig.drain(), [Signal::Shutdown]);
    assert!(out.is_empty());
    assert_eq!(h.scheduler().live(), 0);
    assert!(logs.iter().all(|l| l.borrow().dropped));
}

#[test]
fn a_bad_url_string_is_answered_in_its_turn() {
    let r = run(
        SimpleHttpClient::new(),
        vec!["ftp://x/".into(), "http://a b/".into()],
        vec![],
    );
    assert_eq!(
        r.results,
        [
            format!(
                "ftp://x/: {:?}",
                ErrorKind::BadUrl(UrlError::UnsupportedScheme("ftp".into()))
            ),
            "http://a b/: BadUrl(BadChar)".to_string(),
        ]
    );
    assert_eq!(r.signals, [Signal::ProducerFinished]);
}

/// A blocking keep-alive server thread on 127.0.0.1: serves connections
/// one after another, each until the client closes it, answering each GET
/// with the body `c{connection}:{path}`. When a connection ends it counts
/// the connections waiting (none, unless the client opened another while
/// this one was in use) and stops. Returns the port and the number of
/// connections seen.
fn keep_alive_server() -> (u16, std::thread::JoinHandle<usize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // Bounded: at most 100 reads.
        for _ in 0..100 {
            let n = s.read(&mut chunk).unwrap_or(0);
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                buf.drain(..end + 4);
                let path = head.split(' ').nth(1).unwrap_or("?").to_string();
                let body = format!("c0:{path}");
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                s.write_all(resp.as_bytes()).unwrap();
            }
        }
        listener.set_nonblocking(true).unwrap();
        let mut more = 0;
        while listener.accept().is_ok() {
            more += 1;
        }
        1 + more
    });
    (port, handle)
}

#[test]
fn kept_alive_connections_are_reused_per_host_on_real_servers() {
    let (a, server_a) = keep_alive_server();
    let (b, server_b) = keep_alive_server();
    let client = SimpleHttpClient::new();
    let jobs = Outbox::<HttpJob>::new("jobs", "to fetch");
    let ctl = Outbox::<Signal>::new("ctl", "done");
    let got: Inbox<Fetched> = Inbox::inbox();
    let sig: Inbox<Signal> = Inbox::inbox();
    link(&jobs, &client.inbox).unwrap();
    link(&ctl, &client.control).unwrap();
    link(&client.outbox, &got).unwrap();
    link(&client.signal, &sig).unwrap();
    for (port, path) in [(a, "/1"), (a, "/2"), (b, "/1"), (a, "/3"), (b, "/2")] {
        jobs.send(format!("http://127.0.0.1:{port}{path}").into())
            .unwrap();
    }
    ctl.send(Signal::ProducerFinished).unwrap();
    let mut s = Scheduler::new();
    s.spawn(
        client.config(kamaelia::protocol::http::client::ClientConfig {
            head_timeout: Duration::from_secs(5),
            ..Default::default()
        }),
    );
    assert_eq!(s.run(), Ended::Completed);
    let results: Vec<String> = std::iter::from_fn(|| got.recv())
        .map(|r| show(&r))
        .collect();
    assert_eq!(
        results,
        [
            format!("http://127.0.0.1:{a}/1 200 c0:/1"),
            format!("http://127.0.0.1:{a}/2 200 c0:/2"),
            format!("http://127.0.0.1:{b}/1 200 c0:/1"),
            format!("http://127.0.0.1:{a}/3 200 c0:/3"),
            format!("http://127.0.0.1:{b}/2 200 c0:/2"),
        ]
    );
    assert_eq!(sig.recv(), Some(Signal::ProducerFinished));
    // One connection to each host carried all of its requests.
    assert_eq!(server_a.join().unwrap(), 1);
    assert_eq!(server_b.join().unwrap(), 1);
}

#[test]
fn at_most_max_idle_connections_wait_and_the_least_recently_used_goes() {
    use kamaelia::protocol::http::client::MAX_IDLE;
    let n = MAX_IDLE + 1;
    let conns: Vec<ScriptedConn> = (0..n)
        .map(|i| ScriptedConn::new().reply(&keep_alive(&format!("h{i}"))))
        .collect();
    let logs: Vec<_> = conns.iter().map(|c| c.log()).collect();
    let mut h = Harness::new();
    let id = h.spawn(SimpleHttpClient::new().with_connector(scripted_connector(conns)));
    let input = h.feeder::<HttpJob>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<Fetched>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    // Hosts in descending order, so the least recently used is not the
    // first in any sorted order.
    for i in 0..n {
        input
            .send(format!("http://10.0.0.{}/", n - i).into())
            .unwrap();
    }
    h.run_for(Duration::from_secs(1));
    let results: Vec<String> = out.drain().iter().map(show).collect();
    let want: Vec<String> = (0..n)
        .map(|i| format!("http://10.0.0.{}/ 200 h{i}", n - i))
        .collect();
    assert_eq!(results, want);
    let dropped: Vec<bool> = logs.iter().map(|l| l.borrow().dropped).collect();
    let mut want_dropped = vec![false; n];
    want_dropped[0] = true;
    assert_eq!(dropped, want_dropped, "only the least recently used closed");
    assert_eq!(h.scheduler().live(), 1 + MAX_IDLE);
    ctl.send(Signal::Shutdown).unwrap();
    h.run_for(Duration::from_secs(1));
    assert_eq!(sig.drain(), [Signal::Shutdown]);
    assert_eq!(h.scheduler().live(), 0);
    assert!(logs.iter().all(|l| l.borrow().dropped));
}
