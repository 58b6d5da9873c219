//! SingleShotHttpClient driven step by step over scripted connections on
//! virtual time (redirects, time-outs, bad responses, a fault walk over
//! every operation of a request and of a redirected one), and against
//! real servers on 127.0.0.1 with curl as the reference.

use std::time::Duration;

use kamaelia::axon::*;
use kamaelia::protocol::http::client::{
    ClientConfig, ClientError, ClientEvent, ErrorKind, Phase, Request, RequestError,
    SingleShotHttpClient, Url, UrlError,
};
use kamaelia::protocol::http::HttpError;
use kamaelia::testing::scripted::{scripted_connector, ConnLog, Fault, ScriptedConn};
use kamaelia::testing::Harness;

// ----- the single-shot client on scripted connections -----

struct Run {
    events: Vec<ClientEvent>,
    signals: Vec<Signal>,
    logs: Vec<ConnLog>,
    live: usize,
}

impl Run {
    /// The events in short: exact, and easy to write down.
    fn shown(&self) -> Vec<String> {
        show(&self.events)
    }
    fn error(&self) -> Option<ErrorKind> {
        error_of(&self.signals[0])
    }
    fn written(&self, i: usize) -> String {
        String::from_utf8_lossy(&self.logs[i].written).into_owned()
    }
}

fn show(events: &[ClientEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            ClientEvent::Redirect { status, to } => format!("redirect {status} {to}"),
            ClientEvent::Head(h) => format!("head {}", h.status),
            ClientEvent::Body(b) => format!("body {}", String::from_utf8_lossy(b)),
            ClientEvent::Trailers(t) => format!("trailers {}", t.len()),
            ClientEvent::End => "end".into(),
        })
        .collect()
}

fn error_of(sig: &Signal) -> Option<ErrorKind> {
    match sig {
        Signal::Failed(f) => Some(
            f.downcast_ref::<ClientError>()
                .expect("a ClientError")
                .kind
                .clone(),
        ),
        _ => None,
    }
}

fn run_for(client: SingleShotHttpClient, conns: Vec<ScriptedConn>, d: Duration) -> Run {
    let logs: Vec<_> = conns.iter().map(|c| c.log()).collect();
    let mut h = Harness::new();
    let id = h.spawn(client.with_connector(scripted_connector(conns)));
    let out = h.collector::<ClientEvent>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    // Harness::run_for, one step at a time: when the end signal appears,
    // the connection must have ended already (nothing left behind).
    let end = h.now() + d;
    let mut steps = 0;
    loop {
        while h.step().is_some() {
            steps += 1;
            assert!(steps < 100_000, "runaway");
            if !sig.is_empty() {
                assert_eq!(
                    h.scheduler().live(),
                    0,
                    "signalled while its connection runs"
                );
            }
        }
        match h.scheduler().next_deadline().filter(|t| *t <= end) {
            Some(t) => h.advance(t.saturating_duration_since(h.now())),
            None => break,
        }
    }
    Run {
        events: out.drain(),
        signals: sig.drain(),
        logs: logs.iter().map(|l| l.borrow().clone()).collect(),
        live: h.scheduler().live(),
    }
}

fn run(client: SingleShotHttpClient, conns: Vec<ScriptedConn>) -> Run {
    let r = run_for(client, conns, Duration::from_secs(300));
    assert_eq!(
        r.signals.len(),
        1,
        "exactly one end signal: {:?}",
        r.signals
    );
    assert_eq!(r.live, 0, "nothing left running");
    r
}

fn url(s: &str) -> Url {
    Url::parse(s).unwrap()
}

fn get(u: &str) -> SingleShotHttpClient {
    SingleShotHttpClient::new(Request::get(url(u)))
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Y: z\r\n\r\nhello";

#[test]
fn a_get_writes_the_request_and_passes_on_head_body_end() {
    let r = run(
        get("http://10.0.0.1:8080/a?b"),
        vec![ScriptedConn::new().reply(OK).eof()],
    );
    assert_eq!(
        r.written(0),
        "GET /a?b HTTP/1.1\r\nHost: 10.0.0.1:8080\r\nUser-Agent: kamaelia-rs/0.1\r\n\
         Connection: close\r\n\r\n"
    );
    assert_eq!(r.shown(), ["head 200", "body hello", "end"]);
    let ClientEvent::Head(head) = &r.events[0] else {
        unreachable!()
    };
    assert_eq!(&head.reason[..], b"OK");
    assert_eq!(head.headers.get("x-y").map(|v| &v[..]), Some(&b"z"[..]));
    assert_eq!(r.signals, [Signal::ProducerFinished]);
    assert!(r.logs[0].dropped);
}

#[test]
fn a_chunked_body_cut_anywhere_comes_out_whole_with_interim_heads_skipped() {
    let resp: &[u8] =
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
        3\r\nabc\r\n4;x=y\r\n\x00\xffde\r\n0\r\nT: 1\r\n\r\n";
    for cut in 1..resp.len() {
        let conn = ScriptedConn::new()
            .reply(&resp[..cut])
            .reply(&resp[cut..])
            .eof();
        let r = run(
            SingleShotHttpClient::new(Request::post(url("http://10.0.0.1/"), "up")),
            vec![conn],
        );
        let heads: Vec<u16> = r
            .events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Head(h) => Some(h.status),
                _ => None,
            })
            .collect();
        assert_eq!(heads, [200], "cut {cut}");
        let body: Vec<u8> = r
            .events
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Body(b) => Some(b.to_vec()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(body, b"abc\x00\xffde", "cut {cut}");
        assert_eq!(
            show(&r.events[r.events.len() - 2..]),
            ["trailers 1", "end"],
            "cut {cut}"
        );
        assert_eq!(r.signals, [Signal::ProducerFinished], "cut {cut}");
        assert!(r
            .written(0)
            .ends_with("Content-Length: 2\r\nConnection: close\r\n\r\nup"));
    }
}

#[test]
fn a_head_request_reads_no_body_and_a_close_delimited_body_ends_at_eof() {
    let r = run(
        SingleShotHttpClient::new(Request::new("HEAD", url("http://10.0.0.1/"))),
        vec![ScriptedConn::new()
            .reply(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n")
            .eof()],
    );
    assert_eq!(r.shown(), ["head 200", "end"]);
    assert_eq!(r.signals, [Signal::ProducerFinished]);
    let r = run(
        get("http://10.0.0.1/"),
        vec![ScriptedConn::new()
            .reply(b"HTTP/1.0 200 OK\r\n\r\nab")
            .reply(b"cd")
            .eof()],
    );
    assert_eq!(r.shown(), ["head 200", "body ab", "body cd", "end"]);
    assert_eq!(r.signals, [Signal::ProducerFinished]);
}

#[test]
fn an_error_status_passes_head_and_body_on_then_fails_with_the_status() {
    let r = run(
        get("http://10.0.0.1/missing"),
        vec![ScriptedConn::new()
            .reply(b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope")
            .eof()],
    );
    assert_eq!(r.shown(), ["head 404", "body nope", "end"]);
    assert_eq!(r.error(), Some(ErrorKind::Status(404)));
    let Signal::Failed(f) = &r.signals[0] else {
        unreachable!()
    };
    assert_eq!(
        f.to_string(),
        "fetching http://10.0.0.1/missing: status 404"
    );
}

fn redirect(status: u16, location: &str) -> Vec<u8> {
    format!("HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 3\r\n\r\nbye")
        .into_bytes()
}

#[test]
fn redirects_are_followed_with_the_method_rules_of_rfc_9110() {
    // (status, method in, method out, body kept)
    let cases: &[(u16, &str, &str, bool)] = &[
        (301, "GET", "GET", true),
        (301, "POST", "GET", false),
        (302, "POST", "GET", false),
        (302, "PUT", "PUT", true),
        (303, "POST", "GET", false),
        (303, "PUT", "GET", false),
        (303, "HEAD", "HEAD", false),
        (307, "POST", "POST", true),
        (308, "PUT", "PUT", true),
        (308, "DELETE", "DELETE", true),
    ];
    for &(status, method, after, kept) in cases {
        let req = Request::new(method, url("http://10.0.0.1/form"))
            .with_body("data")
            .header("Content-Type", "text/plain")
            .header("Authorization", "secret");
        let final_resp: &[u8] = if after == "HEAD" {
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
        } else {
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        };
        let r = run(
            SingleShotHttpClient::new(req),
            vec![
                ScriptedConn::new().reply(&redirect(status, "done")).eof(),
                ScriptedConn::new().reply(final_resp).eof(),
            ],
        );
        let ctx = format!("{status} after {method}");
        let mut want = vec![
            format!("redirect {status} http://10.0.0.1/done"),
            "head 200".into(),
        ];
        if after != "HEAD" {
            want.push("body ok".into());
        }
        want.push("end".into());
        assert_eq!(r.shown(), want, "{ctx}");
        assert_eq!(r.signals, [Signal::ProducerFinished], "{ctx}");
        let second = r.written(1);
        let mut expected = format!("{after} /done HTTP/1.1\r\nHost: 10.0.0.1\r\n");
        if kept {
            expected += "Content-Type: text/plain\r\n";
        }
        // Same origin: the credentials stay.
        expected += "Authorization: secret\r\nUser-Agent: kamaelia-rs/0.1\r\n";
        if kept {
            expected += "Content-Length: 4\r\nConnection: close\r\n\r\ndata";
        } else {
            expected += "Connection: close\r\n\r\n";
        }
        assert_eq!(second, expected, "{ctx}");
        assert!(r.logs[0].dropped && r.logs[1].dropped, "{ctx}");
    }
}

#[test]
fn a_redirect_to_another_origin_drops_credentials() {
    let req = Request::get(url("http://10.0.0.1/"))
        .header("Authorization", "a")
        .header("Cookie", "c")
        .header("Accept", "*/*");
    let r = run(
        SingleShotHttpClient::new(req),
        vec![
            ScriptedConn::new()
                .reply(&redirect(302, "http://10.0.0.2:81/x"))
                .eof(),
            ScriptedConn::new().reply(OK).eof(),
        ],
    );
    assert_eq!(
        r.written(1),
        "GET /x HTTP/1.1\r\nHost: 10.0.0.2:81\r\nAccept: */*\r\nUser-Agent: kamaelia-rs/0.1\r\n\
         Connection: close\r\n\r\n"
    );
    assert_eq!(r.signals, [Signal::ProducerFinished]);
}

#[test]
fn too_many_redirects_is_a_typed_failure_after_the_limit() {
    let conns = |n: usize| -> Vec<ScriptedConn> {
        (0..n)
            .map(|i| {
                ScriptedConn::new()
                    .reply(&redirect(307, &format!("/{}", i + 1)))
                    .eof()
            })
            .collect()
    };
    // The default limit, 5: five redirects followed, the sixth refused.
    let r = run(get("http://10.0.0.1/0"), conns(6));
    assert_eq!(
        r.shown(),
        (1..=5)
            .map(|i| format!("redirect 307 http://10.0.0.1/{i}"))
            .collect::<Vec<_>>()
    );
    assert_eq!(r.error(), Some(ErrorKind::TooManyRedirects(5)));
    assert!(r.logs.iter().all(|l| l.dropped));
    // A limit of 0: none followed, and a redirect without Location is a
    // final response.
    let r = run(get("http://10.0.0.1/0").max_redirects(0), conns(1));
    assert_eq!(r.shown(), Vec::<String>::new());
    assert_eq!(r.error(), Some(ErrorKind::TooManyRedirects(0)));
    let r = run(
        get("http://10.0.0.1/"),
        vec![ScriptedConn::new()
            .reply(b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n")
            .eof()],
    );
    assert_eq!(r.shown(), ["head 302", "end"]);
    assert_eq!(r.signals, [Signal::ProducerFinished]);
}

#[test]
fn urls_and_redirects_it_cannot_fetch_are_typed_failures() {
    // (https:// is fetched over TLS: tests/http_client_https.rs.)
    let r = run(SingleShotHttpClient::get("ftp://x/"), vec![]);
    assert_eq!(
        r.error(),
        Some(ErrorKind::BadUrl(UrlError::UnsupportedScheme("ftp".into())))
    );
    let r = run(
        get("http://10.0.0.1/"),
        vec![ScriptedConn::new()
            .reply(&redirect(301, "http://u@h/"))
            .eof()],
    );
    assert_eq!(r.error(), Some(ErrorKind::BadUrl(UrlError::UserInfo)));
    let r = run(
        SingleShotHttpClient::new(Request::get(url("http://10.0.0.1/")).header("A\n", "b")),
        vec![],
    );
    assert_eq!(
        r.error(),
        Some(ErrorKind::BadRequest(RequestError::BadHeaderName(
            "A\n".into()
        )))
    );
}

#[test]
fn bad_and_truncated_responses_are_typed_failures() {
    let cases: &[(&[u8], HttpError)] = &[
        (b"SSH-2.0-OpenSSH\r\n\r\n", HttpError::BadStartLine),
        (b"HTTP/2.0 200 OK\r\n\r\n", HttpError::BadVersion),
        (b"", HttpError::Truncated),
        (b"HTTP/1.1 200 OK\r\n", HttpError::Truncated),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort",
            HttpError::Truncated,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            HttpError::TransferEncodingWithContentLength,
        ),
    ];
    for (resp, want) in cases {
        let r = run(
            get("http://10.0.0.1/"),
            vec![ScriptedConn::new().reply(resp).eof()],
        );
        assert_eq!(r.error(), Some(ErrorKind::BadResponse(*want)), "{resp:?}");
    }
    let r = run(
        get("http://10.0.0.1/"),
        vec![ScriptedConn::new()
            .reply(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n")
            .eof()],
    );
    assert_eq!(r.error(), Some(ErrorKind::Status(101)));
}

#[test]
fn connect_head_and_idle_time_outs_fire_on_virtual_time_exactly() {
    let config = ClientConfig {
        max_redirects: 5,
        connect_timeout: Duration::from_secs(5),
        head_timeout: Duration::from_secs(7),
        idle_timeout: Duration::from_secs(3),
    };
    type Script = Box<dyn Fn() -> ScriptedConn>;
    let cases: Vec<(Script, Duration, Phase, Vec<&str>)> = vec![
        (
            Box::new(|| ScriptedConn::new().slow_connect(usize::MAX)),
            Duration::from_secs(5),
            Phase::Connect,
            vec![],
        ),
        // Connected, the request written, no answer.
        (
            Box::new(ScriptedConn::new),
            Duration::from_secs(7),
            Phase::Head,
            vec![],
        ),
        // Half a head, then silence: still the head time-out.
        (
            Box::new(|| ScriptedConn::new().reply(b"HTTP/1.1 200 OK\r\n")),
            Duration::from_secs(7),
            Phase::Head,
            vec![],
        ),
        // A head and part of the body, then silence.
        (
            Box::new(|| {
                ScriptedConn::new().reply(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc")
            }),
            Duration::from_secs(3),
            Phase::Idle,
            vec!["head 200", "body abc"],
        ),
    ];
    for (conn, after, phase, shown) in cases {
        let client = || get("http://10.0.0.1/").config(config);
        // Just before: still waiting, nothing signalled.
        let r = run_for(client(), vec![conn()], after - Duration::from_millis(1));
        assert_eq!(r.signals, [], "{phase:?} not yet");
        let r = run(client(), vec![conn()]);
        assert_eq!(r.error(), Some(ErrorKind::TimedOut(phase)));
        assert_eq!(r.shown(), shown, "{phase:?}");
        assert!(r.logs[0].dropped, "{phase:?}");
    }
}

// ----- the fault walk -----

const WALK_RESPONSE: [&[u8]; 3] = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
    b"01234",
    b"56789",
];

/// A POST whose connection connects after one "still connecting", takes
/// the request, and answers in three reads, then closes.
fn walk_run(fault: Option<(usize, Fault)>) -> Run {
    let mut conn = ScriptedConn::new().slow_connect(1);
    for chunk in WALK_RESPONSE {
        conn = conn.reply(chunk);
    }
    conn = conn.eof();
    if let Some((n, f)) = fault {
        conn = conn.fault_at(n, f);
    }
    let client = SingleShotHttpClient::new(Request::post(url("http://10.0.0.1/w"), "payload"));
    run(client, vec![conn])
}

#[test]
fn every_step_of_a_request_fails_with_its_typed_reason_or_completes_exactly() {
    let clean = walk_run(None);
    let clean_events = clean.shown();
    assert_eq!(
        clean_events,
        ["head 200", "body 01234", "body 56789", "end"]
    );
    assert_eq!(clean.signals, [Signal::ProducerFinished]);
    let request = clean.logs[0].written.clone();
    assert!(request.ends_with(b"\r\n\r\npayload"));
    // Two connect checks, one write, four reads (three chunks and the end).
    let total = clean.logs[0].ops;
    assert_eq!(total, 7);
    let mut failed_at = Vec::new();
    for n in 1..=total {
        for fault in [
            Fault::Refused,
            Fault::Reset,
            Fault::ShortWrite,
            Fault::WouldBlock,
        ] {
            let r = walk_run(Some((n, fault)));
            let ctx = format!("{fault:?} at op {n} of {total}");
            assert!(r.logs[0].dropped, "{ctx}: the connection was closed");
            assert!(request.starts_with(&r.logs[0].written), "{ctx}");
            let shown = r.shown();
            assert!(clean_events.starts_with(&shown), "{ctx}: {shown:?}");
            match (fault, r.error()) {
                (Fault::ShortWrite | Fault::WouldBlock, e) => {
                    assert_eq!(e, None, "{ctx}: harmless");
                    assert_eq!(shown, clean_events, "{ctx}");
                    assert_eq!(r.logs[0].written, request, "{ctx}");
                }
                (_, None) => assert_eq!(shown, clean_events, "{ctx}: complete"),
                (f, Some(e)) => {
                    let want = if f == Fault::Refused {
                        ErrorKind::Refused
                    } else {
                        ErrorKind::Reset
                    };
                    assert_eq!(e, want, "{ctx}");
                    assert_ne!(shown, clean_events, "{ctx}: a failure comes before the end");
                    if fault == Fault::Reset {
                        failed_at.push(n);
                    }
                }
            }
        }
    }
    // Every operation up to the read of the last byte fails the request;
    // a reset in place of the final end of stream comes after the whole
    // response, which is then complete.
    assert_eq!(failed_at, (1..total).collect::<Vec<_>>());
}

#[test]
fn shutdown_on_control_stops_at_once_and_closes_the_connection() {
    let conn = ScriptedConn::new().reply(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc");
    let log = conn.log();
    let mut h = Harness::new();
    let id = h.spawn(get("http://10.0.0.1/").with_connector(scripted_connector(vec![conn])));
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<ClientEvent>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_for(Duration::from_secs(1));
    assert_eq!(show(&out.drain()), ["head 200", "body abc"]);
    assert!(sig.is_empty());
    ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    assert_eq!(sig.drain(), [Signal::Shutdown]);
    assert!(out.is_empty());
    assert_eq!(h.scheduler().live(), 0);
    assert!(log.borrow().dropped);
}

#[test]
fn a_consumer_that_takes_one_event_at_a_time_gets_every_byte_in_order() {
    let body: Vec<u8> = (0..200u8).collect();
    let mut conn = ScriptedConn::new().reply(b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n");
    for piece in body.chunks(10) {
        conn = conn.reply(piece);
    }
    let conn = conn.eof();
    let mut h = Harness::new();
    let id = h.spawn(get("http://10.0.0.1/").with_connector(scripted_connector(vec![conn])));
    let out = h.bounded_collector::<ClientEvent>(id, "outbox", 1).unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    let mut got = Vec::new();
    let mut events = 0;
    for _ in 0..1000 {
        h.run_until_idle();
        match out.recv() {
            Some(ClientEvent::Body(b)) => got.extend_from_slice(&b),
            Some(_) => {}
            None if !sig.is_empty() => break,
            None => panic!("stalled with nothing to take"),
        }
        events += 1;
        // Never more than the one event the consumer has room for.
        assert!(out.len() <= 1);
    }
    assert_eq!(got, body);
    assert_eq!(events, 22, "head, 20 chunks, end");
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
    assert_eq!(h.scheduler().live(), 0);
}

// ----- a real server on 127.0.0.1, with curl as the reference -----

/// A blocking server thread: for each of `answers`, accepts a connection,
/// reads the request head (and a body of the Content-Length it gives),
/// writes the answer and closes. Returns the port and the requests read.
fn scripted_server(answers: Vec<Vec<u8>>) -> (u16, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut requests = Vec::new();
        for answer in answers {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            // Bounded: a head of at most 64 KiB.
            while req.len() < 65536 {
                let n = s.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                req.extend_from_slice(&buf[..n]);
                if let Some(end) = req.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&req[..end]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    if req.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            requests.push(req);
            s.write_all(&answer).unwrap();
        }
        requests
    });
    (port, handle)
}

#[test]
fn a_real_server_body_equals_what_curl_saves() {
    // A binary body, chunked, in uneven chunks.
    let body: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut answer =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for piece in body.chunks(7001) {
        answer.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        answer.extend_from_slice(piece);
        answer.extend_from_slice(b"\r\n");
    }
    answer.extend_from_slice(b"0\r\n\r\n");
    let (port, server) = scripted_server(vec![answer.clone(), answer]);

    let u = format!("http://127.0.0.1:{port}/file.bin");
    let client = SingleShotHttpClient::new(Request::get(url(&u)))
        .head_timeout(Duration::from_secs(10))
        .idle_timeout(Duration::from_secs(10));
    let out: Inbox<ClientEvent> = Inbox::inbox();
    let sig: Inbox<Signal> = Inbox::inbox();
    link(&client.outbox, &out).unwrap();
    link(&client.signal, &sig).unwrap();
    let mut s = Scheduler::new();
    s.spawn(client);
    assert_eq!(s.run(), Ended::Completed);
    let ours: Vec<u8> = std::iter::from_fn(|| out.recv())
        .filter_map(|e| match e {
            ClientEvent::Body(b) => Some(b.to_vec()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(sig.recv(), Some(Signal::ProducerFinished));

    let dir = std::env::temp_dir().join(format!("kamaelia-http-client-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let saved = dir.join("curl.bin");
    let status = std::process::Command::new("/usr/bin/curl")
        .args(["-s", "--max-time", "10", "-o"])
        .arg(&saved)
        .arg(&u)
        .status()
        .unwrap();
    assert!(status.success());
    let theirs = std::fs::read(&saved).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(theirs.len(), body.len());
    assert_eq!(ours, theirs);
    assert_eq!(ours, body);

    let requests = server.join().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&requests[0]),
        format!(
            "GET /file.bin HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: kamaelia-rs/0.1\r\n\
             Connection: close\r\n\r\n"
        )
    );
}

#[test]
fn a_closed_port_on_127_0_0_1_is_refused() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = get(&format!("http://127.0.0.1:{port}/"));
    let sig: Inbox<Signal> = Inbox::inbox();
    link(&client.signal, &sig).unwrap();
    let mut s = Scheduler::new();
    s.spawn(client);
    assert_eq!(s.run(), Ended::Completed);
    assert_eq!(error_of(&sig.recv().unwrap()), Some(ErrorKind::Refused));
}

#[test]
fn a_head_time_out_that_runs_out_while_connecting_says_connect() {
    let config = ClientConfig {
        max_redirects: 5,
        connect_timeout: Duration::from_secs(20),
        head_timeout: Duration::from_secs(4),
        idle_timeout: Duration::from_secs(3),
    };
    let client = || get("http://10.0.0.1/").config(config);
    let conn = || ScriptedConn::new().slow_connect(usize::MAX);
    let r = run_for(client(), vec![conn()], Duration::from_millis(3999));
    assert_eq!(r.signals, []);
    let r = run(client(), vec![conn()]);
    assert_eq!(r.error(), Some(ErrorKind::TimedOut(Phase::Connect)));
    assert!(r.logs[0].dropped);
    // Connected in time (after 2 ms), no answer: the head time-out.
    let r = run(client(), vec![ScriptedConn::new().slow_connect(2)]);
    assert_eq!(r.error(), Some(ErrorKind::TimedOut(Phase::Head)));
    assert!(r.written(0).starts_with("GET / HTTP/1.1\r\n"));
}

/// A redirect conversation: connection 1 answers 307, connection 2 the
/// final response; `fault` goes on connection `which` (0 or 1).
fn redirect_walk_run(which: usize, fault: Option<(usize, Fault)>) -> Run {
    let mut conns = vec![
        ScriptedConn::new().reply(&redirect(307, "/next")).eof(),
        ScriptedConn::new()
            .reply(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n")
            .reply(b"done")
            .eof(),
    ];
    if let Some((n, f)) = fault {
        let c = conns.remove(which);
        conns.insert(which, c.fault_at(n, f));
    }
    run(
        SingleShotHttpClient::new(Request::post(url("http://10.0.0.1/first"), "body")),
        conns,
    )
}

#[test]
fn every_step_of_both_connections_of_a_redirect_fails_cleanly() {
    let clean = redirect_walk_run(0, None);
    let clean_events = clean.shown();
    assert_eq!(
        clean_events,
        [
            "redirect 307 http://10.0.0.1/next",
            "head 200",
            "body done",
            "end"
        ]
    );
    for which in 0..2 {
        let total = clean.logs[which].ops;
        assert!(total >= 3, "connection {which}: {total} operations");
        for n in 1..=total {
            for fault in [
                Fault::Refused,
                Fault::Reset,
                Fault::ShortWrite,
                Fault::WouldBlock,
            ] {
                let ctx = format!("{fault:?} at op {n} of {total} on connection {which}");
                let r = redirect_walk_run(which, Some((n, fault)));
                let shown = r.shown();
                assert!(clean_events.starts_with(&shown), "{ctx}: {shown:?}");
                assert!(r.logs.iter().all(|l| l.dropped || l.ops == 0), "{ctx}");
                match r.error() {
                    None => {
                        assert_eq!(shown, clean_events, "{ctx}");
                        assert_eq!(r.written(1), clean.written(1), "{ctx}");
                    }
                    Some(e) => {
                        assert!(
                            matches!(fault, Fault::Refused | Fault::Reset),
                            "{ctx}: harmless faults end cleanly, got {e:?}"
                        );
                        let want = if fault == Fault::Refused {
                            ErrorKind::Refused
                        } else {
                            ErrorKind::Reset
                        };
                        assert_eq!(e, want, "{ctx}");
                        // A failure on the first connection comes before
                        // the redirect; on the second, after it.
                        assert_eq!(!shown.is_empty(), which == 1, "{ctx}: {shown:?}");
                    }
                }
            }
        }
    }
}
