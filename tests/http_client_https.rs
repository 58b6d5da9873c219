//! SingleShotHttpsClient against a local TLS server (rustls, on
//! 127.0.0.1) whose certificate is signed by a CA the test makes with
//! `openssl` and trusts explicitly; curl, given the same CA, is the
//! reference for the body. Verification is never turned off: without the
//! test's CA the request is a typed TLS failure.

use std::process::Command;

use std::time::Duration;

use bytes::Bytes;
use kamaelia::axon::*;
use kamaelia::protocol::http::client::{
    ClientError, ClientEvent, ErrorKind, Request, SingleShotHttpsClient, Url, UrlError,
};

mod tls_support;
use tls_support::{make_pki, tls_server};

struct Got {
    events: Vec<ClientEvent>,
    signals: Vec<Signal>,
}

fn fetch(client: Threaded<(), ClientEvent>) -> Got {
    let out: Inbox<ClientEvent> = Inbox::inbox();
    let sig: Inbox<Signal> = Inbox::inbox();
    link(&client.outbox, &out).unwrap();
    link(&client.signal, &sig).unwrap();
    let mut s = Scheduler::new();
    s.spawn(client);
    assert_eq!(s.run(), Ended::Completed);
    Got {
        events: std::iter::from_fn(|| out.recv()).collect(),
        signals: std::iter::from_fn(|| sig.recv()).collect(),
    }
}

fn body_of(events: &[ClientEvent]) -> Vec<u8> {
    events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Body(b) => Some(b.to_vec()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn error_of(sig: &Signal) -> Option<ErrorKind> {
    match sig {
        Signal::Failed(f) => Some(
            f.downcast_ref::<ClientError>()
                .expect("ClientError")
                .kind
                .clone(),
        ),
        _ => None,
    }
}

#[test]
fn an_https_body_equals_what_curl_saves_with_the_same_trust() {
    let pki = make_pki("body");
    let body: Vec<u8> = (0..70_000u32).map(|i| (i * 13 + i / 97) as u8).collect();
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Test: tls\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    let (port, server) = tls_server(&pki, answer, 2);
    let u = format!("https://127.0.0.1:{port}/secret?x=1");

    let req =
        Request::post(Url::parse(&u).unwrap(), Bytes::from_static(b"sent")).header("X-Req", "yes");
    let got = fetch(
        SingleShotHttpsClient::new(req)
            .trust_der(pki.ca_der.clone())
            .build(),
    );
    assert_eq!(got.signals, [Signal::ProducerFinished]);
    let ClientEvent::Head(head) = &got.events[0] else {
        panic!("a head first: {:?}", got.events.first())
    };
    assert_eq!(head.status, 200);
    assert_eq!(
        head.headers.get("x-test").map(|v| &v[..]),
        Some(&b"tls"[..])
    );
    assert_eq!(got.events.last(), Some(&ClientEvent::End));
    let ours = body_of(&got.events);

    let saved = pki.dir.join("curl.bin");
    let status = Command::new("/usr/bin/curl")
        .args(["-s", "--max-time", "10", "--cacert"])
        .arg(pki.dir.join("ca.pem"))
        .arg("-o")
        .arg(&saved)
        .arg(&u)
        .status()
        .unwrap();
    assert!(status.success());
    let theirs = std::fs::read(&saved).unwrap();
    assert_eq!(theirs.len(), body.len());
    assert_eq!(ours, theirs);
    assert_eq!(ours, body);

    let requests = server.join().unwrap();
    let ours_req = String::from_utf8_lossy(&requests[0]).to_ascii_lowercase();
    assert!(
        ours_req.starts_with("post /secret?x=1 http/1.1\r\n"),
        "{ours_req}"
    );
    assert!(ours_req.contains("\r\nx-req: yes\r\n"), "{ours_req}");
    assert!(
        ours_req.contains("\r\nuser-agent: kamaelia-rs/0.1\r\n"),
        "{ours_req}"
    );
    assert!(ours_req.ends_with("\r\n\r\nsent"), "{ours_req}");
}

#[test]
fn an_untrusted_certificate_is_a_typed_tls_failure() {
    let pki = make_pki("untrusted");
    let other = make_pki("other-ca");
    let (port, server) = tls_server(&pki, b"HTTP/1.1 200 OK\r\n\r\n".to_vec(), 2);
    let u = Url::parse(&format!("https://127.0.0.1:{port}/")).unwrap();
    // Mozilla's roots, and then another CA: neither signed this server's
    // certificate.
    for client in [
        SingleShotHttpsClient::new(Request::get(u.clone())),
        SingleShotHttpsClient::new(Request::get(u.clone())).trust_der(other.ca_der.clone()),
    ] {
        let got = fetch(client.build());
        assert_eq!(got.events, []);
        assert_eq!(got.signals.len(), 1);
        assert_eq!(
            error_of(&got.signals[0]),
            Some(ErrorKind::Tls),
            "{:?}",
            got.signals
        );
    }
    assert_eq!(server.join().unwrap().len(), 0, "no request got through");
}

#[test]
fn https_failures_are_typed() {
    let pki = make_pki("fail");
    // An error status: head and body passed on, then the status.
    let (port, server) = tls_server(
        &pki,
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope".to_vec(),
        1,
    );
    let u = Url::parse(&format!("https://127.0.0.1:{port}/x")).unwrap();
    let got = fetch(
        SingleShotHttpsClient::new(Request::get(u))
            .trust_der(pki.ca_der.clone())
            .build(),
    );
    assert_eq!(body_of(&got.events), b"nope");
    assert_eq!(got.events.len(), 3);
    assert_eq!(error_of(&got.signals[0]), Some(ErrorKind::Status(404)));
    server.join().unwrap();
    // A closed port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let u = Url::parse(&format!("https://127.0.0.1:{port}/")).unwrap();
    let got = fetch(SingleShotHttpsClient::new(Request::get(u)).build());
    assert_eq!(
        error_of(&got.signals[0]),
        Some(ErrorKind::Refused),
        "{:?}",
        got.signals
    );
    // A plain URL is not this client's.
    let got = fetch(
        SingleShotHttpsClient::new(Request::get(Url::parse("http://127.0.0.1/").unwrap())).build(),
    );
    assert_eq!(
        error_of(&got.signals[0]),
        Some(ErrorKind::BadUrl(UrlError::UnsupportedScheme(
            "http".into()
        )))
    );
}

/// Runs a plain client (which hands `https://` to its HTTPS child) on a
/// real scheduler.
fn fetch_plain(client: kamaelia::protocol::http::client::SingleShotHttpClient) -> Got {
    let out: Inbox<ClientEvent> = Inbox::inbox();
    let sig: Inbox<Signal> = Inbox::inbox();
    link(&client.outbox, &out).unwrap();
    link(&client.signal, &sig).unwrap();
    let mut s = Scheduler::new();
    s.spawn(client);
    assert_eq!(s.run(), Ended::Completed);
    assert_eq!(s.live(), 0);
    Got {
        events: std::iter::from_fn(|| out.recv()).collect(),
        signals: std::iter::from_fn(|| sig.recv()).collect(),
    }
}

#[test]
fn the_plain_client_fetches_https_urls_and_follows_redirects_to_them() {
    use kamaelia::protocol::http::client::SingleShotHttpClient;
    use kamaelia::testing::scripted::{scripted_connector, ScriptedConn};
    let pki = make_pki("plain");
    let (port, server) = tls_server(
        &pki,
        b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure".to_vec(),
        2,
    );
    let target = format!("https://127.0.0.1:{port}/s");
    let shown = |g: &Got| -> Vec<String> {
        g.events
            .iter()
            .map(|e| match e {
                ClientEvent::Redirect { status, to } => format!("redirect {status} {to}"),
                ClientEvent::Head(h) => format!("head {}", h.status),
                ClientEvent::Body(b) => format!("body {}", String::from_utf8_lossy(b)),
                ClientEvent::Trailers(_) => "trailers".into(),
                ClientEvent::End => "end".into(),
            })
            .collect()
    };
    // Given at once.
    let got = fetch_plain(SingleShotHttpClient::get(&target).trust_der(pki.ca_der.clone()));
    assert_eq!(shown(&got), ["head 200", "body secure", "end"]);
    assert_eq!(got.signals, [Signal::ProducerFinished]);
    // From a plain server's redirect (a scripted connection).
    let plain = ScriptedConn::new()
        .reply(
            format!("HTTP/1.1 302 Found\r\nLocation: {target}\r\nContent-Length: 0\r\n\r\n")
                .as_bytes(),
        )
        .eof();
    let log = plain.log();
    let got = fetch_plain(
        SingleShotHttpClient::get("http://10.0.0.1/start")
            .with_connector(scripted_connector(vec![plain]))
            .trust_der(pki.ca_der.clone()),
    );
    assert_eq!(
        shown(&got),
        [
            format!("redirect 302 {target}"),
            "head 200".into(),
            "body secure".into(),
            "end".into()
        ]
    );
    assert_eq!(got.signals, [Signal::ProducerFinished]);
    assert!(log.borrow().dropped);
    assert_eq!(server.join().unwrap().len(), 2);
}

#[test]
fn the_simple_client_fetches_https_jobs_in_their_turn() {
    use kamaelia::protocol::http::client::{Fetched, HttpJob, SimpleHttpClient};
    let pki = make_pki("simple");
    let (port, server) = tls_server(
        &pki,
        b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure".to_vec(),
        2,
    );
    let client = SimpleHttpClient::new().trust_der(pki.ca_der.clone());
    let jobs = Outbox::<HttpJob>::new("jobs", "to fetch");
    let ctl = Outbox::<Signal>::new("ctl", "done");
    let got: Inbox<Fetched> = Inbox::inbox();
    let sig: Inbox<Signal> = Inbox::inbox();
    link(&jobs, &client.inbox).unwrap();
    link(&ctl, &client.control).unwrap();
    link(&client.outbox, &got).unwrap();
    link(&client.signal, &sig).unwrap();
    jobs.send(format!("https://127.0.0.1:{port}/1").into())
        .unwrap();
    jobs.send("nonsense".into()).unwrap();
    jobs.send(format!("https://127.0.0.1:{port}/2").into())
        .unwrap();
    ctl.send(Signal::ProducerFinished).unwrap();
    let mut s = Scheduler::new();
    s.spawn(client);
    assert_eq!(s.run(), Ended::Completed);
    assert_eq!(s.live(), 0);
    let results: Vec<String> = std::iter::from_fn(|| got.recv())
        .map(|r| match r {
            Ok(resp) => format!(
                "{} {} {}",
                resp.url,
                resp.head.status,
                String::from_utf8_lossy(&resp.body)
            ),
            Err(e) => format!("{}: {:?}", e.url, e.kind),
        })
        .collect();
    assert_eq!(
        results,
        [
            format!("https://127.0.0.1:{port}/1 200 secure"),
            "nonsense: BadUrl(MissingScheme)".to_string(),
            format!("https://127.0.0.1:{port}/2 200 secure"),
        ]
    );
    assert_eq!(sig.recv(), Some(Signal::ProducerFinished));
    let requests = server.join().unwrap();
    assert!(requests[0].starts_with(b"GET /1 HTTP/1.1\r\n"));
    assert!(requests[1].starts_with(b"GET /2 HTTP/1.1\r\n"));
}

#[test]
fn redirects_over_https_count_against_the_same_limit() {
    use kamaelia::protocol::http::client::SingleShotHttpClient;
    use kamaelia::testing::scripted::{scripted_connector, ScriptedConn};
    let pki = make_pki("loop");
    // Every answer redirects again; at most 10 connections are served.
    let (port, server) = tls_server(
        &pki,
        b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .to_vec(),
        10,
    );
    let plain = ScriptedConn::new()
        .reply(
            format!(
                "HTTP/1.1 301 Moved\r\nLocation: https://127.0.0.1:{port}/loop\r\n\
                 Content-Length: 0\r\n\r\n"
            )
            .as_bytes(),
        )
        .eof();
    let got = fetch_plain(
        SingleShotHttpClient::get("http://10.0.0.1/")
            .with_connector(scripted_connector(vec![plain]))
            .max_redirects(3)
            .trust_der(pki.ca_der.clone()),
    );
    assert_eq!(got.signals.len(), 1);
    assert_eq!(
        error_of(&got.signals[0]),
        Some(ErrorKind::TooManyRedirects(3)),
        "{:?}",
        got.signals
    );
    // Let the server thread go: connections that send nothing end it.
    for _ in 0..10 {
        if server.is_finished() {
            break;
        }
        drop(std::net::TcpStream::connect(("127.0.0.1", port)));
    }
    // One redirect on the plain connection, two more over TLS, and the
    // third TLS answer is one too many: three requests over TLS.
    assert_eq!(server.join().unwrap().len(), 3);
}

#[test]
fn shutdown_ends_the_https_client_at_once_while_its_thread_is_blocked() {
    // A server that accepts and never says anything: the handshake hangs.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let u = Url::parse(&format!("https://127.0.0.1:{port}/")).unwrap();
    let config = kamaelia::protocol::http::client::ClientConfig {
        connect_timeout: Duration::from_secs(2),
        head_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(2),
        ..Default::default()
    };
    let client = SingleShotHttpsClient::new(Request::get(u))
        .config(config)
        .build();
    let ctl = Outbox::<Signal>::new("ctl", "stop");
    link(&ctl, &client.control).unwrap();
    let got_sig: Inbox<Signal> = Inbox::inbox();
    let got: Inbox<ClientEvent> = Inbox::inbox();
    link(&client.signal, &got_sig).unwrap();
    link(&client.outbox, &got).unwrap();
    let mut s = Scheduler::new();
    s.spawn(client);
    // The thread starts at the first step and blocks; the shutdown,
    // already waiting, ends the component in that same step.
    ctl.send(Signal::Shutdown).unwrap();
    let started = std::time::Instant::now();
    assert_eq!(s.run(), Ended::Completed);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "did not wait for the thread"
    );
    assert_eq!(got_sig.recv(), Some(Signal::Shutdown));
    assert!(got_sig.recv().is_none());
    assert!(got.recv().is_none());
    drop(listener);
}
