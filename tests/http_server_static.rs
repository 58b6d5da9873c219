//! Static files through HttpServer over scripted connections: exact
//! bodies, validators and 304, ranges (206, 416), and no way out of the
//! served root (`..`, percent-encoded, symlinks).

mod http_support;

use std::cell::RefCell;
use std::rc::Rc;

use http_support::{data_bin, responses, Resp, Site, HELLO};
use kamaelia::protocol::http::{HttpServer, Router, ServerConfig, StaticFiles};
use kamaelia::testing::scripted::{ConnLog, ScriptedAcceptor, ScriptedConn};
use kamaelia::testing::Harness;

fn run(site: &Site, request: &[u8]) -> Rc<RefCell<ConnLog>> {
    let files = StaticFiles::new(site.root()).unwrap();
    let router = Router::new().route("/files", files.factory());
    let acceptor = ScriptedAcceptor::new();
    let conn = ScriptedConn::new().reply(request);
    let log = conn.log();
    acceptor.connect(conn);
    let mut h = Harness::new();
    h.spawn(HttpServer::with_acceptor(
        Box::new(acceptor),
        router,
        ServerConfig {
            date: false,
            ..ServerConfig::default()
        },
    ));
    // Bounded: a 200 kB file goes in 64 KiB reads.
    for _ in 0..1000 {
        if h.run_until_idle() == 0 {
            break;
        }
    }
    log
}

fn get(site: &Site, path: &str, extra: &str) -> Resp {
    let req = format!("GET {path} HTTP/1.1\r\nHost: a\r\n{extra}\r\n");
    let log = run(site, req.as_bytes());
    let l = log.borrow();
    let mut r = responses(&l.written, &["GET"], l.write_closed);
    assert_eq!(r.len(), 1, "one response to {path}");
    r.pop().unwrap()
}

#[test]
fn files_are_served_byte_exact_with_validators() {
    let site = Site::new("exact");
    let r = get(&site, "/files/hello.txt", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, HELLO);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(r.header("content-length").as_deref(), Some("14"));
    assert_eq!(r.header("accept-ranges").as_deref(), Some("bytes"));
    assert!(r.header("etag").unwrap().starts_with("\"e-"));
    assert!(r.header("last-modified").unwrap().ends_with(" GMT"));

    let r = get(&site, "/files/data.bin", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, data_bin());
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/octet-stream")
    );

    let r = get(&site, "/files/a%20b.txt", "");
    assert_eq!((r.status, &r.body[..]), (200, &b"spaced\n"[..]));
    let r = get(&site, "/files/sub/", "");
    assert_eq!((r.status, &r.body[..]), (200, &b"<p>sub</p>\n"[..]));
    let r = get(&site, "/files/link-in", "");
    assert_eq!((r.status, &r.body[..]), (200, HELLO));
    let r = get(&site, "/files/empty.txt", "");
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(r.header("content-length").as_deref(), Some("0"));
}

#[test]
fn head_gets_the_length_and_no_body_and_the_connection_goes_on() {
    let site = Site::new("head");
    let log = run(
        &site,
        b"HEAD /files/data.bin HTTP/1.1\r\nHost: a\r\n\r\nGET /files/hello.txt HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    let l = log.borrow();
    let r = responses(&l.written, &["HEAD", "GET"], false);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].status, 200);
    assert_eq!(r[0].header("content-length").as_deref(), Some("200000"));
    assert!(r[0].body.is_empty());
    assert_eq!(r[1].body, HELLO);
    assert!(!l.write_closed);
}

#[test]
fn conditional_requests_get_304() {
    let site = Site::new("cond");
    let first = get(&site, "/files/hello.txt", "");
    let etag = first.header("etag").unwrap();
    let lm = first.header("last-modified").unwrap();
    let r = get(
        &site,
        "/files/hello.txt",
        &format!("If-None-Match: \"x\", {etag}\r\n"),
    );
    assert_eq!((r.status, r.body.len()), (304, 0));
    assert_eq!(r.header("etag"), Some(etag.clone()));
    let r = get(
        &site,
        "/files/hello.txt",
        &format!("If-None-Match: W/{etag}\r\n"),
    );
    assert_eq!(r.status, 304);
    let r = get(&site, "/files/hello.txt", "If-None-Match: \"other\"\r\n");
    assert_eq!((r.status, &r.body[..]), (200, HELLO));
    let r = get(
        &site,
        "/files/hello.txt",
        &format!("If-Modified-Since: {lm}\r\n"),
    );
    assert_eq!(r.status, 304);
    let r = get(
        &site,
        "/files/hello.txt",
        "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n",
    );
    assert_eq!(r.status, 200);
    // If-None-Match wins over If-Modified-Since.
    let r = get(
        &site,
        "/files/hello.txt",
        &format!("If-None-Match: \"other\"\r\nIf-Modified-Since: {lm}\r\n"),
    );
    assert_eq!(r.status, 200);
}

#[test]
fn ranges_give_206_and_416() {
    let site = Site::new("range");
    let data = data_bin();
    let r = get(&site, "/files/data.bin", "Range: bytes=100-199\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.body, &data[100..200]);
    assert_eq!(
        r.header("content-range").as_deref(),
        Some("bytes 100-199/200000")
    );
    let r = get(&site, "/files/data.bin", "Range: bytes=-5\r\n");
    assert_eq!((r.status, &r.body[..]), (206, &data[199_995..]));
    let r = get(&site, "/files/data.bin", "Range: bytes=70000-\r\n");
    assert_eq!((r.status, &r.body[..]), (206, &data[70_000..]));
    let r = get(&site, "/files/data.bin", "Range: bytes=200000-\r\n");
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range").as_deref(), Some("bytes */200000"));
    let r = get(&site, "/files/data.bin", "Range: bytes=0-1,5-6\r\n");
    assert_eq!((r.status, r.body.len()), (200, 200_000));
    let etag = r.header("etag").unwrap();
    let r = get(
        &site,
        "/files/data.bin",
        &format!("Range: bytes=0-9\r\nIf-Range: {etag}\r\n"),
    );
    assert_eq!((r.status, &r.body[..]), (206, &data[..10]));
    let r = get(
        &site,
        "/files/data.bin",
        "Range: bytes=0-9\r\nIf-Range: \"stale\"\r\n",
    );
    assert_eq!((r.status, r.body.len()), (200, 200_000));
}

#[test]
fn nothing_outside_the_root_is_ever_served() {
    let site = Site::new("escape");
    let cases = [
        ("/files/../secret.txt", 400),
        ("/files/sub/../../secret.txt", 400),
        ("/files/%2e%2e/secret.txt", 400),
        ("/files/%2E%2E%2Fsecret.txt", 400),
        ("/files/sub%2F..%2F..%2Fsecret.txt", 400),
        ("/files/..%5csecret.txt", 400),
        ("/files/hello.txt%00", 400),
        ("/files/%zz", 400),
        ("/files/link-out", 403),
        ("/files/dir-out/secret.txt", 403),
        ("/files/nope.txt", 404),
        ("/files/sub/nope/", 404),
    ];
    for (path, status) in cases {
        let r = get(&site, path, "");
        assert_eq!(r.status, status, "for {path}");
        assert!(!r.body.windows(6).any(|w| w == b"secret"), "for {path}");
    }
}

#[test]
fn other_methods_are_405() {
    let site = Site::new("method");
    let log = run(
        &site,
        b"DELETE /files/hello.txt HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    let r = responses(&log.borrow().written, &["DELETE"], false);
    assert_eq!(r[0].status, 405);
    assert_eq!(r[0].header("allow").as_deref(), Some("GET, HEAD"));
}

#[test]
fn a_client_that_does_not_read_holds_the_file_reader_back() {
    let site = Site::new("stall");
    let big = vec![7u8; 4 << 20];
    std::fs::write(site.root().join("big.bin"), &big).unwrap();
    let files = StaticFiles::new(site.root()).unwrap();
    let router = Router::new().route("/files", files.factory());
    let acceptor = ScriptedAcceptor::new();
    let conn = ScriptedConn::new()
        .reply(b"GET /files/big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
        .stalled_writes();
    let log = conn.log();
    acceptor.connect(conn);
    let mut h = Harness::new();
    h.spawn(HttpServer::with_acceptor(
        Box::new(acceptor),
        router,
        ServerConfig {
            date: false,
            ..ServerConfig::default()
        },
    ));
    let mut steps = 0;
    for _ in 0..1000 {
        let n = h.run_until_idle();
        steps += n;
        if n == 0 {
            break;
        }
    }
    // Reading all of it would take 16 steps of the reader alone (4 reads
    // of 64 KiB a step); held back, the whole run takes fewer.
    assert!(steps < 16, "held back, and idle, after {steps} steps");
    // Server, connection, protocol and the file resource, waiting.
    assert_eq!(h.scheduler().live(), 4);
    assert!(log.borrow().written.is_empty());
    // The stall time-out ends it all.
    h.run_for(std::time::Duration::from_secs(61));
    assert!(log.borrow().dropped);
    assert_eq!(h.scheduler().live(), 1);
}
