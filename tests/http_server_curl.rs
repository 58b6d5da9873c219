//! Real curl against HttpServer on 127.0.0.1 (ephemeral port): a static
//! file byte-exact, HEAD, Range, keep-alive over one connection, a chunked
//! response, 404, and a request body. Each curl is bounded by --max-time
//! and the test's own loop by a deadline.

mod http_support;

use std::cell::Cell;
use std::fs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_support::{data_bin, Echo, Site, Stream, HELLO};
use kamaelia::axon::Scheduler;
use kamaelia::internet::ServerCore;
use kamaelia::protocol::http::{
    parse_http_date, HttpConnection, Part, ResponseHead, Router, ServerConfig, StaticFiles,
};

const CURL: &str = "/usr/bin/curl";

struct Run {
    stdout: String,
    status: Option<i32>,
    connections: u64,
}

/// Serves `site` (under /files) and two routes, runs curl with `args`
/// (`{}` in an argument is replaced by the server's base URL) until it
/// exits, and returns what it printed and how many connections came.
fn curl(site: &Site, args: &[&str]) -> Run {
    let files = StaticFiles::new(site.root()).unwrap();
    let router = Rc::new(
        Router::new()
            .route_methods("/files", &["GET", "HEAD"], files.factory())
            .route("/stream", |_r| {
                Box::new(Stream::new(vec![
                    Part::Head(ResponseHead::new(200).header("Content-Type", "text/plain")),
                    Part::Body(Bytes::from_static(b"one ")),
                    Part::Body(Bytes::from_static(b"two ")),
                    Part::Body(Bytes::from_static(b"three")),
                    Part::End,
                ])) as _
            })
            .route("/echo", |_r| Box::new(Echo::new()) as _),
    );
    let config = Rc::new(ServerConfig::default());
    let count = Rc::new(Cell::new(0u64));
    let seen = count.clone();
    let server = ServerCore::bind("127.0.0.1:0".parse().unwrap(), move |info| {
        seen.set(seen.get() + 1);
        Box::new(HttpConnection::new(router.clone(), config.clone(), info)) as _
    })
    .unwrap();
    let addr: SocketAddr = server.local_addr().unwrap();
    let base = format!("http://{addr}");
    let mut s = Scheduler::new();
    s.spawn(server);
    let args: Vec<String> = args.iter().map(|a| a.replace("{}", &base)).collect();
    let out_path = site.base.join(format!("curl-stdout-{}", args.len()));
    let out = fs::File::create(&out_path).unwrap();
    let mut child = Command::new(CURL)
        .args(["-s", "--max-time", "10"])
        .args(&args)
        .stdout(Stdio::from(out))
        .stderr(Stdio::null())
        .spawn()
        .expect("curl runs");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        let _ = s.run_for(Duration::from_millis(5));
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
    };
    Run {
        stdout: fs::read_to_string(&out_path).unwrap_or_default(),
        status,
        connections: count.get(),
    }
}

fn file(site: &Site, name: &str) -> PathBuf {
    site.base.join(name)
}

#[test]
fn curl_gets_a_static_file_byte_exact() {
    let site = Site::new("curl-get");
    let o = file(&site, "got.bin");
    let r = curl(
        &site,
        &[
            "-o",
            o.to_str().unwrap(),
            "-w",
            "%{http_code}",
            "{}/files/data.bin",
        ],
    );
    assert_eq!(r.status, Some(0));
    assert_eq!(r.stdout, "200");
    assert_eq!(fs::read(&o).unwrap(), data_bin());
}

#[test]
fn curl_head_gets_the_head_alone() {
    let site = Site::new("curl-head");
    let r = curl(&site, &["-I", "{}/files/hello.txt"]);
    assert_eq!(r.status, Some(0));
    let lines: Vec<&str> = r.stdout.split("\r\n").collect();
    assert_eq!(lines[0], "HTTP/1.1 200 OK");
    assert!(lines.contains(&"Content-Length: 14"), "{lines:?}");
    assert!(lines.contains(&"Accept-Ranges: bytes"), "{lines:?}");
    assert!(lines.contains(&"Content-Type: text/plain; charset=utf-8"));
    assert!(r.stdout.ends_with("\r\n\r\n"), "no body after the head");
    // A Date field (IMF-fixdate) within a minute of now.
    let date = lines
        .iter()
        .find_map(|l| l.strip_prefix("Date: "))
        .expect("a Date field");
    let t = parse_http_date(date.as_bytes()).expect("an IMF-fixdate");
    let now = std::time::SystemTime::now();
    let off = now.duration_since(t).unwrap_or_else(|e| e.duration());
    assert!(off < Duration::from_secs(60), "{date}");
}

#[test]
fn curl_range_gets_206_and_the_exact_bytes() {
    let site = Site::new("curl-range");
    let o = file(&site, "part.bin");
    let r = curl(
        &site,
        &[
            "-r",
            "1000-70999",
            "-o",
            o.to_str().unwrap(),
            "-w",
            "%{http_code}",
            "{}/files/data.bin",
        ],
    );
    assert_eq!(r.stdout, "206");
    assert_eq!(fs::read(&o).unwrap(), &data_bin()[1000..71000]);
    let r = curl(
        &site,
        &[
            "-r",
            "300000-",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "{}/files/data.bin",
        ],
    );
    assert_eq!(r.stdout, "416");
}

#[test]
fn curl_fetching_two_urls_reuses_one_connection() {
    let site = Site::new("curl-keep");
    let (a, b) = (file(&site, "a"), file(&site, "b"));
    let r = curl(
        &site,
        &[
            "-o",
            a.to_str().unwrap(),
            "-o",
            b.to_str().unwrap(),
            "-w",
            "%{http_code}:%{num_connects} ",
            "{}/files/hello.txt",
            "{}/files/data.bin",
        ],
    );
    assert_eq!(r.status, Some(0));
    assert_eq!(r.stdout, "200:1 200:0 ");
    assert_eq!(r.connections, 1, "the server saw one connection");
    assert_eq!(fs::read(&a).unwrap(), HELLO);
    assert_eq!(fs::read(&b).unwrap(), data_bin());
}

#[test]
fn curl_reads_a_chunked_response() {
    let site = Site::new("curl-chunked");
    let h = file(&site, "headers");
    let r = curl(&site, &["-D", h.to_str().unwrap(), "{}/stream"]);
    assert_eq!(r.status, Some(0));
    assert_eq!(r.stdout, "one two three");
    let headers = fs::read_to_string(&h).unwrap();
    assert!(headers.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(
        headers.contains("\r\nTransfer-Encoding: chunked\r\n"),
        "{headers}"
    );
    assert!(!headers.to_ascii_lowercase().contains("content-length"));
}

#[test]
fn curl_gets_404_for_nothing_there() {
    let site = Site::new("curl-404");
    let r = curl(
        &site,
        &["-w", "%{http_code}", "{}/files/none.txt", "-o", "/dev/null"],
    );
    assert_eq!(r.stdout, "404");
    let r = curl(
        &site,
        &["-w", "%{http_code}", "{}/elsewhere", "-o", "/dev/null"],
    );
    assert_eq!(r.stdout, "404");
}

#[test]
fn curl_posts_a_body_and_gets_it_back() {
    let site = Site::new("curl-post");
    let body = file(&site, "body.bin");
    fs::write(&body, data_bin()).unwrap();
    let o = file(&site, "echoed.bin");
    let at = format!("@{}", body.to_str().unwrap());
    let r = curl(
        &site,
        &[
            "--data-binary",
            &at,
            "-H",
            "Content-Type: application/octet-stream",
            "-o",
            o.to_str().unwrap(),
            "-w",
            "%{http_code}",
            "{}/echo",
        ],
    );
    assert_eq!(r.stdout, "200");
    assert_eq!(fs::read(&o).unwrap(), data_bin());
}

#[test]
fn curl_in_parallel_gets_every_file_byte_exact() {
    let site = Site::new("curl-parallel");
    let outs: Vec<PathBuf> = (0..12).map(|i| file(&site, &format!("p{i}"))).collect();
    // --parallel-immediate: open connections at once rather than wait to
    // see whether the first can multiplex (HTTP/1.1 cannot).
    let mut args: Vec<String> = vec![
        "-Z".into(),
        "--parallel-immediate".into(),
        "--parallel-max".into(),
        "6".into(),
    ];
    for o in &outs {
        args.push("-o".into());
        args.push(o.to_str().unwrap().into());
        args.push("{}/files/data.bin".into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = curl(&site, &args);
    assert_eq!(r.status, Some(0));
    assert!(
        (2..=12).contains(&r.connections),
        "parallel transfers use several connections: {}",
        r.connections
    );
    let data = data_bin();
    for o in &outs {
        assert_eq!(fs::read(o).unwrap(), data, "{o:?}");
    }
}

#[test]
fn curl_speaking_http10_gets_a_close_delimited_stream() {
    let site = Site::new("curl-http10");
    let h = file(&site, "headers");
    let r = curl(
        &site,
        &["--http1.0", "-D", h.to_str().unwrap(), "{}/stream"],
    );
    assert_eq!(r.status, Some(0));
    assert_eq!(r.stdout, "one two three");
    let headers = fs::read_to_string(&h).unwrap();
    assert!(headers.contains("\r\nConnection: close\r\n"), "{headers}");
    assert!(!headers.to_ascii_lowercase().contains("transfer-encoding"));
}
