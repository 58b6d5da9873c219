//! Server-Sent Events and long-poll responses fed from a Backplane,
//! through HttpServer over scripted connections on virtual time.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use kamaelia::axon::{Id, Signal};
use kamaelia::protocol::http::{EventStream, HttpServer, LongPoll, Router, ServerConfig, SseEvent};
use kamaelia::testing::scripted::{ConnLog, ScriptedAcceptor, ScriptedConn};
use kamaelia::testing::{Feeder, Harness};
use kamaelia::util::{Backplane, PublishTo};

struct World {
    h: Harness,
    acceptor: ScriptedAcceptor,
    publish: Feeder<String>,
    stop_bus: Feeder<Signal>,
    server: Id,
}

fn world() -> World {
    let mut h = Harness::new();
    let bus = h.spawn(Backplane::<String>::new("news"));
    let stop_bus = h.feeder::<Signal>(bus, "control").unwrap();
    let p = h.spawn(PublishTo::<String>::new("news"));
    let publish = h.feeder::<String>(p, "inbox").unwrap();
    let router = Router::new()
        .route(
            "/events",
            EventStream::<String>::factory_with(
                "news",
                |s: &String| SseEvent {
                    id: Some(format!("{}", s.len())),
                    event: None,
                    data: s.clone(),
                },
                Duration::from_secs(15),
                8,
            ),
        )
        .route(
            "/poll",
            LongPoll::<String>::factory(
                "news",
                |s: &String| ("text/plain".to_string(), Bytes::from(s.clone())),
                Duration::from_secs(30),
            ),
        )
        .route(
            "/nobus",
            LongPoll::<String>::factory(
                "missing",
                |s: &String| ("text/plain".to_string(), Bytes::from(s.clone())),
                Duration::from_secs(30),
            ),
        );
    let acceptor = ScriptedAcceptor::new();
    let server = h.spawn(HttpServer::with_acceptor(
        Box::new(acceptor.clone()),
        router,
        ServerConfig {
            date: false,
            idle_timeout: Duration::from_secs(120),
            head_timeout: Duration::from_secs(120),
            ..ServerConfig::default()
        },
    ));
    h.run_until_idle();
    World {
        h,
        acceptor,
        publish,
        stop_bus,
        server,
    }
}

impl World {
    fn client(&mut self, request: &str) -> Rc<RefCell<ConnLog>> {
        let conn = ScriptedConn::new().reply(request.as_bytes());
        let log = conn.log();
        self.connect(conn);
        log
    }

    /// Queues a client and wakes the server to take it (a scripted
    /// acceptor has no readiness to wake it).
    fn connect(&mut self, conn: ScriptedConn) {
        self.acceptor.connect(conn);
        let server = self.server;
        self.h.scheduler().wake(server);
        self.h.run_until_idle();
    }
}

fn written(log: &Rc<RefCell<ConnLog>>) -> String {
    String::from_utf8_lossy(&log.borrow().written).into_owned()
}

const SSE_HEAD: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n";

#[test]
fn events_stream_as_published_with_heartbeats_until_the_backplane_ends() {
    let mut w = world();
    let log = w.client("GET /events HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(written(&log), SSE_HEAD);
    w.publish.send("hello".to_string()).unwrap();
    w.publish.send("two\nlines".to_string()).unwrap();
    w.h.run_until_idle();
    let e1 = "id: 5\ndata: hello\n\n";
    let e2 = "id: 9\ndata: two\ndata: lines\n\n";
    let mut want = format!(
        "{SSE_HEAD}{:x}\r\n{e1}\r\n{:x}\r\n{e2}\r\n",
        e1.len(),
        e2.len()
    );
    assert_eq!(written(&log), want);
    // Quiet for 15 s: one heartbeat comment.
    w.h.run_for(Duration::from_millis(14_999));
    assert_eq!(written(&log), want);
    w.h.run_for(Duration::from_millis(1));
    want.push_str("e\r\n: keep-alive\n\n\r\n");
    assert_eq!(written(&log), want);
    // The backplane ends: so does the response, with its last chunk; the
    // connection stays for the next request.
    w.stop_bus.send(Signal::ProducerFinished).unwrap();
    w.h.run_until_idle();
    want.push_str("0\r\n\r\n");
    assert_eq!(written(&log), want);
    assert!(!log.borrow().write_closed);
}

#[test]
fn a_stream_whose_client_goes_unsubscribes() {
    let mut w = world();
    let conn = ScriptedConn::new()
        .reply(b"GET /events HTTP/1.1\r\nHost: a\r\n\r\n")
        .read_error(std::io::ErrorKind::ConnectionReset);
    let log = conn.log();
    w.connect(conn);
    // Published after the client went: nothing is written, and nothing
    // is stuck (the run ends idle, the backplane can end).
    w.publish.send("late".to_string()).unwrap();
    w.h.run_until_idle();
    assert!(log.borrow().dropped, "the connection is closed");
    assert!(!written(&log).contains("late"));
    w.stop_bus.send(Signal::ProducerFinished).unwrap();
    w.h.run_until_idle();
}

#[test]
fn a_client_that_falls_behind_is_ended_not_waited_for() {
    let mut w = world();
    let conn = ScriptedConn::new()
        .reply(b"GET /events HTTP/1.1\r\nHost: a\r\n\r\n")
        .stalled_writes();
    let log = conn.log();
    w.connect(conn);
    // A second, healthy client keeps getting everything.
    let good = w.client("GET /events HTTP/1.1\r\nHost: a\r\n\r\n");
    for i in 0..2000 {
        w.publish.send(format!("{i:0>1000}")).unwrap();
        w.h.run_until_idle();
    }
    let text = written(&good);
    assert_eq!(text.matches("data: ").count(), 2000);
    assert!(text.contains(&format!("data: {:0>1000}\n", 1999)));
    assert!(
        log.borrow().written.is_empty(),
        "the stalled client took nothing"
    );
    // Its stream ended (with its subscriber): backplane, publisher,
    // server, two connections and their protocols, one stream and its
    // subscriber are left.
    assert_eq!(w.h.scheduler().live(), 9);
    // A minute without traffic ends the stalled connection; the healthy
    // one, with its heartbeats, stays.
    w.h.run_for(Duration::from_secs(61));
    assert!(log.borrow().dropped);
    assert!(!good.borrow().dropped);
    assert_eq!(w.h.scheduler().live(), 7);
}

#[test]
fn long_poll_answers_the_next_message_or_204() {
    let mut w = world();
    let log = w.client("GET /poll HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(written(&log), "");
    w.publish.send("news!".to_string()).unwrap();
    w.h.run_until_idle();
    assert_eq!(
        written(&log),
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: no-cache\r\nContent-Length: 5\r\n\r\nnews!"
    );
    let log = w.client("GET /poll HTTP/1.1\r\nHost: a\r\n\r\n");
    w.h.run_for(Duration::from_millis(29_990));
    assert_eq!(written(&log), "");
    w.h.run_for(Duration::from_millis(20));
    assert_eq!(
        written(&log),
        "HTTP/1.1 204 No Content\r\nCache-Control: no-cache\r\n\r\n"
    );
}

#[test]
fn long_poll_on_a_missing_backplane_is_503() {
    let mut w = world();
    let log = w.client("GET /nobus HTTP/1.1\r\nHost: a\r\n\r\n");
    w.h.run_for(Duration::from_secs(1));
    assert_eq!(
        written(&log),
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 24\r\n\r\n503 Service Unavailable\n"
    );
}

#[test]
fn head_of_an_event_stream_is_the_head_alone() {
    let mut w = world();
    let log =
        w.client("HEAD /events HTTP/1.1\r\nHost: a\r\n\r\nGET /poll HTTP/1.1\r\nHost: a\r\n\r\n");
    w.publish.send("x".to_string()).unwrap();
    w.h.run_until_idle();
    assert_eq!(
        written(&log),
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n\
         HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: no-cache\r\nContent-Length: 1\r\n\r\nx"
    );
}

/// A bare CR in `data` is a line end to a browser: it must start a new
/// `data:` line, never carry a forged `id:` (or `event:`) field.
#[test]
fn a_bare_cr_in_data_cannot_forge_a_field() {
    let ev = SseEvent {
        id: Some("7\r\nevent: x".into()),
        event: Some("tick".into()),
        data: "a\rid: 99\r\nb\nc".into(),
    };
    assert_eq!(
        &ev.encode()[..],
        b"id: 7event: x\nevent: tick\ndata: a\ndata: id: 99\ndata: b\ndata: c\n\n"
    );
}
