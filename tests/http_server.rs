//! HttpServer driven step by step over scripted connections, on virtual
//! time: keep-alive and pipelining in order, HEAD, chunked and
//! close-delimited bodies, request bodies, errors and time-outs. Every
//! answer is compared byte for byte (the Date field is turned off).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use kamaelia::protocol::http::{
    Fixed, HttpServer, Limits, Part, Request, ResponseHead, Router, ServerConfig,
};
use kamaelia::testing::scripted::{ConnLog, ScriptedAcceptor, ScriptedConn};
use kamaelia::testing::Harness;

mod http_support;
use http_support::{Echo, Stream};

fn config() -> ServerConfig {
    ServerConfig {
        date: false,
        ..ServerConfig::default()
    }
}

fn router() -> Router {
    Router::new()
        .route("/hello", |_r| Box::new(Fixed::text(200, "hello\n")) as _)
        .route_methods("/only-get", &["GET", "HEAD"], |_r| {
            Box::new(Fixed::text(200, "got\n")) as _
        })
        .route("/stream", |_r| {
            Box::new(Stream::new(vec![
                Part::Head(ResponseHead::new(200).header("Content-Type", "text/plain")),
                Part::Body(Bytes::from_static(b"one ")),
                Part::Body(Bytes::from_static(b"two ")),
                Part::Body(Bytes::from_static(b"three")),
                Part::End,
            ])) as _
        })
        .route("/short", |_r| {
            Box::new(Stream::new(vec![
                Part::Head(ResponseHead::new(200).length(10)),
                Part::Body(Bytes::from_static(b"abc")),
                Part::End,
            ])) as _
        })
        .route("/headless", |_r| Box::new(Stream::new(vec![])) as _)
        .route("/after-end", |_r| {
            Box::new(Stream::new(vec![
                Part::Head(ResponseHead::new(200).length(3)),
                Part::Body(Bytes::from_static(b"abc")),
                Part::End,
                Part::Head(ResponseHead::new(500)),
                Part::Body(Bytes::from_static(b"stray")),
                Part::End,
            ])) as _
        })
        .route("/echo", |_r| Box::new(Echo::new()) as _)
        .route("/path", |r: &Request| {
            let text = format!(
                "{} {} rest={} query={:?}\n",
                String::from_utf8_lossy(&r.method),
                r.path,
                r.rest(),
                r.query
            );
            Box::new(Fixed::text(200, text)) as _
        })
}

/// A server with one scripted client; returns the harness and its log.
fn serve_with(cfg: ServerConfig, conn: ScriptedConn) -> (Harness, Rc<RefCell<ConnLog>>) {
    let acceptor = ScriptedAcceptor::new();
    let log = conn.log();
    acceptor.connect(conn);
    let mut h = Harness::new();
    h.spawn(HttpServer::with_acceptor(Box::new(acceptor), router(), cfg));
    h.run_until_idle();
    (h, log)
}

fn serve(conn: ScriptedConn) -> (Harness, Rc<RefCell<ConnLog>>) {
    serve_with(config(), conn)
}

fn written(log: &Rc<RefCell<ConnLog>>) -> String {
    String::from_utf8_lossy(&log.borrow().written).into_owned()
}

const HELLO: &str =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\n\r\nhello\n";
const HELLO_HEAD: &str =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\n\r\n";

fn error(status: &str, extra: &str, close: bool) -> String {
    let body = format!("{status}\n");
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n{extra}Content-Length: {}\r\n{}\r\n{body}",
        body.len(),
        if close { "Connection: close\r\n" } else { "" }
    )
}

#[test]
fn pipelined_requests_are_answered_in_order_on_a_kept_connection() {
    let (_h, log) = serve(ScriptedConn::new().reply(
        b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n\
          HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /missing HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /path/x%2Fy?q=1 HTTP/1.1\r\nHost: a\r\n\r\n",
    ));
    let path = "GET /path/x%2Fy rest=/x%2Fy query=Some(\"q=1\")\n";
    let want = format!(
        "{HELLO}{HELLO_HEAD}{}HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n{path}",
        error("404 Not Found", "", false),
        path.len()
    );
    assert_eq!(written(&log), want);
    let l = log.borrow();
    assert!(!l.write_closed && !l.dropped, "kept alive");
}

#[test]
fn requests_cut_into_single_bytes_get_the_same_answers() {
    let req = b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\nHEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n";
    let mut conn = ScriptedConn::new();
    for b in req.chunks(1) {
        conn = conn.reply(b);
    }
    let (_h, log) = serve(conn);
    assert_eq!(written(&log), format!("{HELLO}{HELLO_HEAD}"));
}

#[test]
fn unknown_length_is_chunked_for_http11_and_close_delimited_for_http10() {
    let (_h, log) = serve(ScriptedConn::new().reply(b"GET /stream HTTP/1.1\r\nHost: a\r\n\r\n"));
    assert_eq!(
        written(&log),
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n\
         4\r\none \r\n4\r\ntwo \r\n5\r\nthree\r\n0\r\n\r\n"
    );
    assert!(!log.borrow().write_closed);

    let (_h, log) = serve(ScriptedConn::new().reply(b"GET /stream HTTP/1.0\r\n\r\n"));
    assert_eq!(
        written(&log),
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\none two three"
    );
    assert!(log.borrow().write_closed, "the close ends the body");

    // HEAD of a stream: the head alone, the connection kept.
    let (_h, log) =
        serve(ScriptedConn::new().reply(
            b"HEAD /stream HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n",
        ));
    assert_eq!(
        written(&log),
        format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n{HELLO}")
    );
}

#[test]
fn http10_keep_alive_is_honoured_and_connection_close_is_obeyed() {
    let (_h, log) = serve(ScriptedConn::new().reply(
        b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n\
          GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n\
          GET /hello HTTP/1.1\r\nHost: a\r\n\r\n",
    ));
    assert_eq!(
        written(&log),
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\nConnection: keep-alive\r\n\r\nhello\n\
         HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n"
    );
    assert!(log.borrow().write_closed);
}

#[test]
fn request_bodies_reach_the_resource_whatever_their_framing() {
    let (_h, log) = serve(ScriptedConn::new().reply(
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\
          POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n\x00\xff\x01\r\n2\r\nzz\r\n0\r\n\r\n\
          POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nok",
    ));
    let l = log.borrow();
    assert_eq!(
        l.written,
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello\
          HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n\x00\xff\x01zz\
          HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    );
}

#[test]
fn a_body_sent_to_a_route_that_ignores_it_is_skipped_and_the_next_request_answered() {
    let (_h, log) = serve(ScriptedConn::new().reply(
        b"POST /hello HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n\r\nignored\
          POST /nowhere HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz\
          GET /hello HTTP/1.1\r\nHost: a\r\n\r\n",
    ));
    assert_eq!(
        written(&log),
        format!("{HELLO}{}{HELLO}", error("404 Not Found", "", false))
    );
}

#[test]
fn method_not_allowed_names_the_allowed_ones() {
    let (_h, log) = serve(ScriptedConn::new().reply(
        b"DELETE /only-get HTTP/1.1\r\nHost: a\r\n\r\nGET /only-get HTTP/1.1\r\nHost: a\r\n\r\n",
    ));
    assert_eq!(
        written(&log),
        format!(
            "{}HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 4\r\n\r\ngot\n",
            error("405 Method Not Allowed", "Allow: GET, HEAD\r\n", false)
        )
    );
}

#[test]
fn bad_requests_get_their_status_and_the_connection_closes() {
    let small = ServerConfig {
        limits: Limits {
            max_start_line: 64,
            max_head_bytes: 256,
            max_body: Some(4),
            ..Limits::default()
        },
        ..config()
    };
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(100));
    let big_head = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
        "b".repeat(300)
    );
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n".to_vec(), "400 Bad Request"),
        (b"GET / HTTP/1.1\r\n\r\n".to_vec(), "400 Bad Request"),
        (
            b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
            "400 Bad Request",
        ),
        (long_target.into_bytes(), "414 URI Too Long"),
        (big_head.into_bytes(), "431 Request Header Fields Too Large"),
        (
            b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
            "413 Content Too Large",
        ),
        (b"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), "501 Not Implemented"),
        (b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n".to_vec(), "501 Not Implemented"),
        (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n".to_vec(), "505 HTTP Version Not Supported"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(), "400 Bad Request"),
    ];
    for (req, status) in cases {
        // A request after the bad one must not be answered.
        let mut all = req.clone();
        all.extend_from_slice(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
        let (_h, log) = serve_with(small.clone(), ScriptedConn::new().reply(&all));
        assert_eq!(
            written(&log),
            error(status, "", true),
            "for {:?}",
            String::from_utf8_lossy(&req)
        );
        assert!(log.borrow().write_closed, "closed after {status}");
    }
}

#[test]
fn a_request_body_that_breaks_mid_way_aborts_the_resource_and_closes() {
    let (_h, log) =
        serve(ScriptedConn::new().reply(
            b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX",
        ));
    assert_eq!(written(&log), error("400 Bad Request", "", true));
    assert!(log.borrow().write_closed);
}

#[test]
fn resource_faults_close_the_connection() {
    // Shorter than its Content-Length: what was sent goes, then the close.
    let (_h, log) = serve(
        ScriptedConn::new()
            .reply(b"GET /short HTTP/1.1\r\nHost: a\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n"),
    );
    assert_eq!(
        written(&log),
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
    );
    assert!(log.borrow().write_closed);
    // Ended without a head: 500.
    let (_h, log) = serve(ScriptedConn::new().reply(b"GET /headless HTTP/1.1\r\nHost: a\r\n\r\n"));
    assert_eq!(written(&log), error("500 Internal Server Error", "", true));
    assert!(log.borrow().write_closed);
}

#[test]
fn a_slow_head_is_answered_408_at_the_head_timeout() {
    let (mut h, log) = serve(ScriptedConn::new().reply(b"GET /hello HTTP/1.1\r\nHo"));
    h.run_for(Duration::from_millis(9_999));
    assert_eq!(written(&log), "");
    assert!(!log.borrow().write_closed);
    h.run_for(Duration::from_millis(1));
    assert_eq!(written(&log), error("408 Request Timeout", "", true));
    assert!(log.borrow().write_closed);
}

#[test]
fn an_idle_kept_alive_connection_closes_at_the_idle_timeout() {
    let (mut h, log) = serve(ScriptedConn::new().reply(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"));
    assert_eq!(written(&log), HELLO);
    h.run_for(Duration::from_millis(4_999));
    assert!(!log.borrow().write_closed);
    h.run_for(Duration::from_millis(1));
    assert_eq!(written(&log), HELLO, "closed without a word");
    assert!(log.borrow().write_closed);
}

#[test]
fn a_client_that_half_closes_gets_its_answers_then_the_close() {
    let (_h, log) = serve(
        ScriptedConn::new()
            .reply(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /stream HTTP/1.1\r\nHost: a\r\n\r\n")
            .eof(),
    );
    assert_eq!(
        written(&log),
        format!(
            "{HELLO}HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n\
             4\r\none \r\n4\r\ntwo \r\n5\r\nthree\r\n0\r\n\r\n"
        )
    );
    assert!(log.borrow().write_closed);
}

#[test]
fn a_client_gone_mid_request_is_closed_without_an_answer() {
    let (_h, log) = serve(
        ScriptedConn::new()
            .reply(b"GET /hello HTTP/1.1\r\nHo")
            .eof(),
    );
    assert_eq!(written(&log), "");
    assert!(log.borrow().write_closed || log.borrow().dropped);
}

#[test]
fn a_refused_request_waiting_for_100_continue_closes_the_connection() {
    // The client may never send the body: the next bytes cannot be
    // trusted to be a request.
    let (_h, log) = serve(ScriptedConn::new().reply(
        b"POST /nowhere HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n\
          GET /hello HTTP/1.1\r\nHost: a\r\n\r\n",
    ));
    assert_eq!(written(&log), error("404 Not Found", "", true));
    assert!(log.borrow().write_closed);
}

/// A deterministic generator (no dependency): xorshift.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mangled_requests_never_panic_or_hang_and_every_answer_is_well_formed() {
    let seeds: &[&[u8]] = &[
        b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        b"HEAD /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        b"GET /path/a?b=c HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..400 {
        let mut req = Vec::new();
        for _ in 0..1 + rng.below(3) {
            req.extend_from_slice(seeds[rng.below(seeds.len())]);
        }
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(req.len());
            match rng.below(4) {
                0 => req[i] = rng.next() as u8,
                1 => {
                    req.remove(i);
                }
                2 => req.insert(i, b"\r\n: \t0-;"[rng.below(8)]),
                _ => req.truncate(i),
            }
            if req.is_empty() {
                req.push(b'G');
            }
        }
        let mut conn = ScriptedConn::new();
        let cut = 1 + rng.below(req.len());
        for piece in req.chunks(cut) {
            conn = conn.reply(piece);
        }
        if rng.below(2) == 0 {
            conn = conn.eof();
        }
        let (mut h, log) = serve(conn);
        // Bounded: time-outs end whatever is left.
        h.run_for(Duration::from_secs(130));
        let l = log.borrow();
        assert!(
            l.write_closed || l.dropped,
            "round {round}: the connection ended ({:?})",
            String::from_utf8_lossy(&req)
        );
        // Every status line the server wrote starts a response.
        let text = String::from_utf8_lossy(&l.written);
        for line in text.split("\r\n").filter(|s| s.starts_with("HTTP/")) {
            let code: u16 = line[9..12].parse().unwrap();
            assert!(
                [100, 200, 400, 404, 405, 408, 413, 414, 431, 500, 501, 505].contains(&code),
                "round {round}: {line}"
            );
        }
    }
}

/// Kamaelia's HTTPServer (reference §4.3): 401 was "403 Forbidden", every
/// status line said HTTP/1.0, and a response without a length never
/// signalled its end. Each fixed, through the server.
#[test]
fn the_original_defects_are_fixed() {
    let acceptor = ScriptedAcceptor::new();
    let conn = ScriptedConn::new().reply(
        b"GET /private HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /stream HTTP/1.0\r\n\r\n",
    );
    let log = conn.log();
    acceptor.connect(conn);
    let mut h = Harness::new();
    h.spawn(HttpServer::with_acceptor(
        Box::new(acceptor),
        Router::new()
            .route("/private", |_r| Box::new(Fixed::text(401, "no\n")) as _)
            .route("/stream", |_r| {
                Box::new(Stream::new(vec![
                    Part::Head(ResponseHead::new(200)),
                    Part::Body(Bytes::from_static(b"open-ended")),
                    Part::End,
                ])) as _
            }),
        config(),
    ));
    h.run_until_idle();
    assert_eq!(
        written(&log),
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nno\n\
         HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nopen-ended"
    );
    // The end of the close-delimited body is signalled: the close.
    assert!(log.borrow().write_closed);
}

/// Answers "late" a second after it starts; has no inbox (and no
/// control), so it never reads a request body.
struct Later {
    outbox: kamaelia::axon::Outbox<Part>,
    signal: kamaelia::axon::Outbox<kamaelia::axon::Signal>,
    started: bool,
}

impl kamaelia::axon::Component for Later {
    fn step(&mut self, cx: &mut kamaelia::axon::Cx) -> kamaelia::axon::Step {
        if !self.started {
            self.started = true;
            cx.wake_after(Duration::from_secs(1));
            return kamaelia::axon::Step::Pause;
        }
        let _ = self
            .outbox
            .send(Part::Head(ResponseHead::new(200).length(5)));
        let _ = self.outbox.send(Part::Body(Bytes::from_static(b"late\n")));
        let _ = self.outbox.send(Part::End);
        let _ = self.signal.send(kamaelia::axon::Signal::ProducerFinished);
        kamaelia::axon::Step::Done
    }
    fn boxes(&self, set: &mut kamaelia::axon::BoxSet) {
        set.add(&self.outbox).add(&self.signal);
    }
}

#[test]
fn a_body_for_a_resource_without_an_inbox_is_dropped_not_kept() {
    let mut conn = ScriptedConn::new()
        .reply(b"POST /later HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    let chunk = format!("4000\r\n{}\r\n", "x".repeat(0x4000));
    for _ in 0..64 {
        conn = conn.reply(chunk.as_bytes());
    }
    conn = conn.reply(b"0\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n");
    let acceptor = ScriptedAcceptor::new();
    let log = conn.log();
    acceptor.connect(conn);
    let mut h = Harness::new();
    h.spawn(HttpServer::with_acceptor(
        Box::new(acceptor),
        router().route("/later", |_r| {
            Box::new(Later {
                outbox: kamaelia::axon::Outbox::outbox(),
                signal: kamaelia::axon::Outbox::signal(),
                started: false,
            }) as _
        }),
        config(),
    ));
    h.run_until_idle();
    // The whole megabyte came in while the resource waits; none of it is
    // kept in any box.
    let stored: usize = h
        .scheduler()
        .snapshot()
        .components
        .iter()
        .flat_map(|c| c.boxes.iter())
        .map(|b| b.len)
        .sum();
    assert!(stored <= 2, "{stored} messages kept");
    assert_eq!(written(&log), "");
    h.run_for(Duration::from_secs(1));
    assert_eq!(
        written(&log),
        format!("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nlate\n{HELLO}")
    );
}

#[test]
fn absolute_form_targets_are_routed_by_their_path() {
    let (_h, log) = serve(ScriptedConn::new().reply(
        b"GET http://a/hello HTTP/1.1\r\nHost: a\r\n\r\n\
          GET HTTP://a:80/path/z?k=v HTTP/1.1\r\nHost: a\r\n\r\n\
          GET hTtPs://a/hello HTTP/1.1\r\nHost: a\r\n\r\n",
    ));
    let path = "GET /path/z rest=/z query=Some(\"k=v\")\n";
    assert_eq!(
        written(&log),
        format!(
            "{HELLO}HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n{path}{HELLO}",
            path.len()
        )
    );
}

/// Parts a resource sends after its End are dropped: the next response on
/// the connection (whose boxes from the resource are reused) starts clean.
#[test]
fn parts_after_the_end_do_not_reach_the_next_response() {
    let (_h, log) = serve(ScriptedConn::new().reply(
        b"GET /after-end HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /hello HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /after-end HTTP/1.1\r\nHost: a\r\n\r\n\
          GET /hello HTTP/1.1\r\nHost: a\r\n\r\n",
    ));
    let abc = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
    assert_eq!(written(&log), format!("{abc}{HELLO}{abc}{HELLO}"));
}
