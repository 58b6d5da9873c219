//! Routes answered by the connection itself ([`Router::fixed`],
//! [`Router::respond`]): the same bytes as a `Fixed` resource component
//! would have sent, in order with component answers on the same
//! connection, HEAD, HTTP/1.0, request bodies skipped, 100-continue,
//! method limits, and a client that pipelines without reading holding a
//! bounded amount. Scripted connections on virtual time; every answer is
//! compared byte for byte (the Date field is off, except where it is the
//! subject).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use bytes::Bytes;
use kamaelia::protocol::http::{Fixed, HttpServer, Request, ResponseHead, Router, ServerConfig};
use kamaelia::testing::scripted::{ConnLog, ScriptedAcceptor, ScriptedConn};
use kamaelia::testing::Harness;

fn config() -> ServerConfig {
    ServerConfig {
        date: false,
        ..ServerConfig::default()
    }
}

fn router(calls: Rc<Cell<usize>>) -> Router {
    Router::new()
        .fixed("/hello", Fixed::text(200, "hello\n"))
        .route("/component", |_r| {
            Box::new(Fixed::text(200, "hello\n")) as _
        })
        .fixed("/empty", Fixed::new(ResponseHead::new(204), Bytes::new()))
        .respond(
            "/echo-path",
            Some(&["GET", "HEAD"]),
            move |r: &Request, _now| {
                calls.set(calls.get() + 1);
                let text = format!("{} {} {:?}\n", r.path, r.rest(), r.query);
                (
                    ResponseHead::new(200).header("X-Seen", r.prefix.clone()),
                    Bytes::from(text),
                )
            },
        )
}

fn serve_with(cfg: ServerConfig, conn: ScriptedConn) -> (Harness, Rc<RefCell<ConnLog>>, usize) {
    let acceptor = ScriptedAcceptor::new();
    let log = conn.log();
    acceptor.connect(conn);
    let calls = Rc::new(Cell::new(0));
    let mut h = Harness::new();
    h.spawn(HttpServer::with_acceptor(
        Box::new(acceptor),
        router(calls.clone()),
        cfg,
    ));
    h.run_until_idle();
    let n = calls.get();
    (h, log, n)
}

fn written(log: &Rc<RefCell<ConnLog>>) -> String {
    String::from_utf8_lossy(&log.borrow().written).into_owned()
}

const HELLO: &str =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\n\r\nhello\n";
const HELLO_HEAD: &str =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\n\r\n";

#[test]
fn a_fixed_route_answers_as_the_component_does_and_in_order_with_it() {
    let (_h, log, _) = serve_with(
        config(),
        ScriptedConn::new().reply(
            b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n\
              GET /component HTTP/1.1\r\nHost: a\r\n\r\n\
              HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n\
              GET /hello/deeper HTTP/1.1\r\nHost: a\r\n\r\n\
              GET /empty HTTP/1.1\r\nHost: a\r\n\r\n\
              GET /hello HTTP/1.1\r\nHost: a\r\n\r\n",
        ),
    );
    assert_eq!(
        written(&log),
        format!("{HELLO}{HELLO}{HELLO_HEAD}{HELLO}HTTP/1.1 204 No Content\r\n\r\n{HELLO}")
    );
    assert!(!log.borrow().write_closed);
}

#[test]
fn http10_gets_keep_alive_or_close_as_it_asked() {
    let (_h, log, _) = serve_with(
        config(),
        ScriptedConn::new().reply(
            b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n\
              GET /hello HTTP/1.0\r\n\r\n\
              GET /hello HTTP/1.1\r\nHost: a\r\n\r\n",
        ),
    );
    assert_eq!(
        written(&log),
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\nConnection: keep-alive\r\n\r\nhello\n\
         HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n"
    );
    assert!(log.borrow().write_closed);
}

#[test]
fn request_bodies_are_skipped_whatever_their_framing_and_the_next_request_answered() {
    let (_h, log, _) = serve_with(
        config(),
        ScriptedConn::new().reply(
            b"POST /hello HTTP/1.1\r\nHost: a\r\nContent-Length: 21\r\n\r\nGET /hello HTTP/1.1\r\n\
              POST /hello HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
              GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        ),
    );
    let close = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n";
    assert_eq!(written(&log), format!("{HELLO}{HELLO}{close}"));
    assert!(log.borrow().write_closed);
}

#[test]
fn a_body_waiting_for_100_continue_is_answered_and_the_connection_closes() {
    // The client may or may not send the body now: the next bytes cannot
    // be trusted to be a request.
    let (_h, log, _) = serve_with(
        config(),
        ScriptedConn::new().reply(
            b"POST /hello HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n\
              GET /hello HTTP/1.1\r\nHost: a\r\n\r\n",
        ),
    );
    let close = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n";
    assert_eq!(written(&log), close);
    assert!(log.borrow().write_closed);
}

#[test]
fn a_respond_route_sees_the_request_and_its_method_limit_holds() {
    let (_h, log, calls) = serve_with(
        config(),
        ScriptedConn::new().reply(
            b"GET /echo-path/a%20b?x=1 HTTP/1.1\r\nHost: a\r\n\r\n\
              HEAD /echo-path HTTP/1.1\r\nHost: a\r\n\r\n\
              POST /echo-path HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nzz\
              GET /hello HTTP/1.1\r\nHost: a\r\n\r\n",
        ),
    );
    let body = "/echo-path/a%20b /a%20b Some(\"x=1\")\n";
    let head_body = "/echo-path  None\n";
    let not_allowed = "405 Method Not Allowed\n";
    assert_eq!(
        written(&log),
        format!(
            "HTTP/1.1 200 OK\r\nX-Seen: /echo-path\r\nContent-Length: {}\r\n\r\n{body}\
             HTTP/1.1 200 OK\r\nX-Seen: /echo-path\r\nContent-Length: {}\r\n\r\n\
             HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\nAllow: GET, HEAD\r\nContent-Length: {}\r\n\r\n{not_allowed}\
             {HELLO}",
            body.len(),
            head_body.len(),
            not_allowed.len()
        )
    );
    assert_eq!(calls, 2, "the refused POST is not handed to the function");
}

#[test]
fn the_date_field_is_written_when_asked_for() {
    let (_h, log, _) = serve_with(
        ServerConfig::default(),
        ScriptedConn::new().reply(
            b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /echo-path HTTP/1.1\r\nHost: a\r\n\r\n",
        ),
    );
    let text = written(&log);
    let dates: Vec<&str> = text
        .split("\r\n")
        .filter_map(|l| l.strip_prefix("Date: "))
        .collect();
    assert_eq!(dates.len(), 2, "{text}");
    for d in dates {
        assert!(
            kamaelia::protocol::http::parse_http_date(d.as_bytes()).is_some(),
            "{d}"
        );
    }
    assert!(text.starts_with("HTTP/1.1 200 OK\r\nDate: "), "{text}");
}

#[test]
fn a_client_pipelining_without_reading_makes_the_server_hold_a_bounded_amount() {
    // 20 000 requests answered with about 100 bytes each would be 2 MB
    // held for a client that reads nothing; the connection stops reading
    // requests once its answers are not taken.
    const N: usize = 20_000;
    let one = b"GET /echo-path HTTP/1.1\r\nHost: a\r\n\r\n";
    // All in one read: the bound is the connection's, not the reads'.
    let conn = ScriptedConn::new().stalled_writes().reply(&one.repeat(N));
    let (_h, log, calls) = serve_with(config(), conn);
    assert!(log.borrow().written.is_empty());
    assert!(calls > 0, "some requests are answered");
    // What the connection's outbox and one 16 KiB gathering buffer hold
    // (about 850 answers of 96 bytes here); parsing on regardless would
    // answer every request of one 64 KiB read first (about 1 800).
    assert!(
        calls < 1_200,
        "{calls} requests answered for a client that reads nothing"
    );
}
