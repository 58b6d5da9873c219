//! Pipelining over a real socket on 127.0.0.1: a plain TCP client (on its
//! own thread) writes many requests at once, half-closes, and reads every
//! answer, in order, until the server closes.

mod http_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use http_support::{data_bin, responses, Site, HELLO};
use kamaelia::axon::Scheduler;
use kamaelia::protocol::http::{HttpServer, Router, ServerConfig, StaticFiles};

#[test]
fn fifty_pipelined_requests_over_a_socket_are_answered_in_order() {
    let site = Site::new("tcp-pipeline");
    let files = StaticFiles::new(site.root()).unwrap();
    let router = Router::new().route_methods("/", &["GET", "HEAD"], files.factory());
    let server = HttpServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        router,
        ServerConfig::default(),
    )
    .unwrap();
    let addr = server.local_addr().unwrap();
    let mut s = Scheduler::new();
    s.spawn(server);
    let mut methods = Vec::new();
    let mut requests = Vec::new();
    for i in 0..50 {
        let (m, path) = match i % 4 {
            0 => ("GET", "/hello.txt"),
            1 => ("GET", "/data.bin"),
            2 => ("HEAD", "/data.bin"),
            _ => ("GET", "/none"),
        };
        methods.push(m);
        requests.extend_from_slice(format!("{m} {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
    }
    let client = std::thread::spawn(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(&requests).unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        got
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    while !client.is_finished() && Instant::now() < deadline {
        let _ = s.run_for(Duration::from_millis(5));
    }
    let got = client.join().unwrap();
    let r = responses(&got, &methods, true);
    assert_eq!(r.len(), 50);
    let data = data_bin();
    for (i, resp) in r.iter().enumerate() {
        match i % 4 {
            0 => assert_eq!((resp.status, &resp.body[..]), (200, HELLO), "#{i}"),
            1 => assert_eq!((resp.status, &resp.body[..]), (200, &data[..]), "#{i}"),
            2 => {
                assert_eq!((resp.status, resp.body.len()), (200, 0), "#{i}");
                assert_eq!(resp.header("content-length").as_deref(), Some("200000"));
            }
            _ => assert_eq!(resp.status, 404, "#{i}"),
        }
    }
}

/// The idle time-out counts from the last response: a request inside it
/// moves it on (the timer set for the first deadline is kept, and when it
/// fires the connection sets one for the deadline then in force).
#[test]
fn a_request_inside_the_idle_timeout_moves_it_on() {
    let router = Router::new().route("/", |_r| {
        Box::new(kamaelia::protocol::http::Fixed::text(200, "hi\n")) as _
    });
    let config = ServerConfig {
        idle_timeout: Duration::from_millis(1_000),
        ..ServerConfig::default()
    };
    let server = HttpServer::bind("127.0.0.1:0".parse().unwrap(), router, config).unwrap();
    let addr = server.local_addr().unwrap();
    let mut s = Scheduler::new();
    s.spawn(server);
    let client = std::thread::spawn(move || {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let get = |c: &mut TcpStream| {
            c.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
            let mut got = Vec::new();
            let mut b = [0u8; 1024];
            while !got.ends_with(b"hi\n") {
                let n = c.read(&mut b).unwrap();
                assert!(n > 0, "closed before the answer");
                got.extend_from_slice(&b[..n]);
            }
        };
        get(&mut c);
        std::thread::sleep(Duration::from_millis(600));
        get(&mut c);
        let answered = Instant::now();
        let mut b = [0u8; 16];
        let n = c.read(&mut b).unwrap();
        (n, answered.elapsed())
    });
    let deadline = Instant::now() + Duration::from_secs(15);
    while !client.is_finished() && Instant::now() < deadline {
        let _ = s.run_for(Duration::from_millis(5));
    }
    let (n, after) = client.join().unwrap();
    assert_eq!(n, 0, "the server closed");
    assert!(
        after >= Duration::from_millis(800),
        "closed {after:?} after the second answer, before its idle time-out"
    );
}
