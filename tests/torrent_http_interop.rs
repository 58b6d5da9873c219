//! The HTTP tracker against real programs on 127.0.0.1:
//!
//! * our HTTP tracker client against `opentracker` (Debian's build is
//!   whitelist-only: started with `-w FILE`): two announces, the second
//!   seeing the first in its compact peer list; then a scrape;
//! * `curl` against `kamaelia tracker`: `/announce` and `/scrape`
//!   replies checked byte for byte, head included;
//! * `aria2c` seeding a file of a torrent made by `mktorrent -a
//!   http://127.0.0.1:PORT/announce`, announcing to `kamaelia tracker`:
//!   our swarm shows it (a scrape counts one seeder, an announce of a
//!   leecher gets aria2c's listening port), and when aria2c is stopped
//!   (SIGINT: it sends `stopped`) the swarm is empty again.
//!
//! Every process is started on free ports, killed by its pid when the test
//! ends (Drop guards), and every wait is bounded (10 s at most).
//!
//! Skipped, with the reason printed, when opentracker, curl, aria2c or
//! mktorrent is missing; with `KAMAELIA_REQUIRE_INTEROP=1` a skip is a
//! failure (CI installs the Debian packages `opentracker curl aria2
//! mktorrent`).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod interop_support;
use interop_support::{eventually, free_port, wait_listening, Proc, TempDir};

use kamaelia::axon::{link, Inbox, Scheduler};
use kamaelia::protocol::http::client::ClientConfig;
use kamaelia::protocol::torrent::tracker::http_client::{
    HttpTrackerClient, HttpTrackerReply, HttpTrackerResult, TrackerError,
};
use kamaelia::protocol::torrent::tracker::http_wire::{
    parse_announce_reply, parse_scrape_reply, percent_encode, WireError,
};
use kamaelia::protocol::torrent::tracker::{AnnounceEvent, AnnounceRequest, ScrapeEntry};

/// The programs, or why the test is skipped.
fn tools(test: &str, need: &[&str]) -> bool {
    interop_support::tools(test, need, "opentracker curl aria2 mktorrent")
}

/// `kamaelia tracker --http 127.0.0.1:0`, and the port it bound.
fn our_tracker() -> (Proc, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kamaelia"))
        .args(["tracker", "--http", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let proc = Proc(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let port = line
        .trim()
        .strip_prefix("http tracker on http://127.0.0.1:")
        .and_then(|r| r.strip_suffix("/announce"))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("first line: {line:?}"));
    (proc, port)
}

fn curl(url: &str) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-s", "-i", "--max-time", "10", url])
        .output()
        .unwrap();
    assert!(out.status.success(), "curl {url}");
    out.stdout
}

fn head_and_body(r: &[u8]) -> (String, Vec<u8>) {
    let i = r.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (
        String::from_utf8_lossy(&r[..i]).into_owned(),
        r[i + 4..].to_vec(),
    )
}

fn hex(h: &[u8; 20]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

fn request(hash: [u8; 20], n: u8, port: u16, left: u64) -> AnnounceRequest {
    let mut peer_id = *b"-KM0001-000000000000";
    peer_id[19] = b'0' + n;
    AnnounceRequest {
        info_hash: hash,
        peer_id,
        port,
        uploaded: 0,
        downloaded: 0,
        left,
        event: AnnounceEvent::Started,
        numwant: Some(50),
        key: Some(u32::from(n)),
        ip: None,
        compact: true,
        tracker_id: None,
    }
}

/// Runs one tracker client on its own scheduler (bounded by its
/// time-outs) and returns its result.
fn run_client(c: HttpTrackerClient) -> HttpTrackerResult {
    let quick = ClientConfig {
        connect_timeout: Duration::from_secs(5),
        head_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(5),
        ..ClientConfig::default()
    };
    let c = c.config(quick);
    let got: Inbox<HttpTrackerResult> = Inbox::inbox();
    link(&c.outbox, &got).unwrap();
    let mut s = Scheduler::new();
    s.spawn(c);
    s.run();
    got.recv().expect("one result")
}

#[test]
fn our_client_against_opentracker() {
    if !tools("our_client_against_opentracker", &["opentracker"]) {
        return;
    }
    let dir = TempDir::new("opentracker");
    let hash = [0x5a; 20];
    // opentracker changes to / before reading the list: the path must be
    // absolute.
    let list = dir.0.join("whitelist");
    std::fs::write(&list, format!("{}\n", hex(&hash))).unwrap();
    let port = free_port();
    let p = port.to_string();
    let ot = Command::new("opentracker")
        .args(["-i", "127.0.0.1", "-p", &p, "-P", &p, "-w"])
        .arg(&list)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _ot = Proc(ot);
    wait_listening(port);
    let url = format!("http://127.0.0.1:{port}/announce");

    // opentracker reads its whitelist on a thread of its own after it
    // starts listening: until then every torrent is refused (and a refused
    // announce adds no peer). Asked again for at most 10 s.
    let end = Instant::now() + Duration::from_secs(10);
    let first = loop {
        let r = run_client(HttpTrackerClient::announce(
            &url,
            &request(hash, 1, 7001, 0),
        ));
        let refused = matches!(&r, Err(TrackerError::Reply(WireError::Failure(_))));
        if !refused || Instant::now() > end {
            break r;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let Ok(HttpTrackerReply::Announce(first)) = first else {
        panic!("{first:?}")
    };
    assert!(first.interval > 0);
    assert_eq!(first.complete, Some(1));
    let second = run_client(HttpTrackerClient::announce(
        &url,
        &request(hash, 2, 7002, 9),
    ));
    let Ok(HttpTrackerReply::Announce(second)) = second else {
        panic!("{second:?}")
    };
    let ports: Vec<String> = second.peers.iter().map(|p| p.addr.to_string()).collect();
    assert!(
        ports.contains(&"127.0.0.1:7001".to_string()),
        "the second announce sees the first: {ports:?}"
    );
    assert_eq!((second.complete, second.incomplete), (Some(1), Some(1)));

    let scrape = run_client(HttpTrackerClient::scrape(&url, &[hash]));
    assert_eq!(
        scrape,
        Ok(HttpTrackerReply::Scrape(vec![ScrapeEntry {
            info_hash: hash,
            complete: 1,
            downloaded: 0,
            incomplete: 1
        }]))
    );
    // A torrent not on its whitelist: opentracker's failure reason, typed.
    let other = run_client(HttpTrackerClient::announce(
        &url,
        &request([1; 20], 3, 7003, 0),
    ));
    assert!(
        matches!(
            other,
            Err(
                kamaelia::protocol::torrent::tracker::http_client::TrackerError::Reply(
                    kamaelia::protocol::torrent::tracker::http_wire::WireError::Failure(_)
                )
            )
        ),
        "{other:?}"
    );
}

#[test]
fn curl_against_our_tracker_byte_for_byte() {
    if !tools("curl_against_our_tracker_byte_for_byte", &["curl"]) {
        return;
    }
    let (_t, port) = our_tracker();
    let mut h = String::new();
    percent_encode(&mut h, &[0x01; 20]);
    let base = format!("http://127.0.0.1:{port}");
    let a = curl(&format!(
        "{base}/announce?info_hash={h}&peer_id=-CU0001-000000000001&port=6881&left=0&event=started"
    ));
    let (head, body) = head_and_body(&a);
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 76"
    );
    assert_eq!(
        body,
        b"d8:completei1e10:incompletei0e8:intervali1800e12:min intervali900e5:peers0:e"
    );
    let b = curl(&format!(
        "{base}/announce?info_hash={h}&peer_id=-CU0001-000000000002&port=6882&left=10&numwant=5"
    ));
    assert_eq!(
        head_and_body(&b).1,
        b"d8:completei1e10:incompletei1e8:intervali1800e12:min intervali900e5:peers6:\x7f\x00\x00\x01\x1a\xe1e"
    );
    let s = curl(&format!("{base}/scrape?info_hash={h}"));
    let mut want = b"d5:filesd20:".to_vec();
    want.extend_from_slice(&[1; 20]);
    want.extend_from_slice(b"d8:completei1e10:downloadedi0e10:incompletei1eeee");
    assert_eq!(head_and_body(&s).1, want);
    let bad = curl(&format!("{base}/announce?info_hash=%01&peer_id=x&port=1"));
    assert_eq!(
        head_and_body(&bad).1,
        b"d14:failure reason26:info_hash must be 20 bytese"
    );
}

#[test]
fn aria2c_announces_to_our_tracker() {
    if !tools(
        "aria2c_announces_to_our_tracker",
        &["aria2c", "mktorrent", "curl"],
    ) {
        return;
    }
    let dir = TempDir::new("aria2c-tracker");
    let (_t, port) = our_tracker();
    let data = dir.0.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let file = data.join("payload.bin");
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();
    let torrent = dir.0.join("payload.torrent");
    let out = Command::new("mktorrent")
        .args(["-a", &format!("http://127.0.0.1:{port}/announce"), "-o"])
        .arg(&torrent)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listen = free_port();
    let aria = Command::new("aria2c")
        .arg("--dir")
        .arg(&data)
        .args([
            "--check-integrity=true",
            "--bt-seed-unverified=false",
            "--seed-ratio=0.0",
            "--seed-time=1",
            "--enable-dht=false",
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            &format!("--listen-port={listen}"),
            "--bt-tracker-connect-timeout=5",
            "--bt-tracker-timeout=5",
            "--summary-interval=0",
            "--quiet=true",
        ])
        .arg(&torrent)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut aria = Proc(aria);
    let info_hash = info_hash_of(&std::fs::read(&torrent).unwrap(), &dir.0);
    let mut h = String::new();
    percent_encode(&mut h, &info_hash);
    let base = format!("http://127.0.0.1:{port}");
    let scrape = |base: &str| -> ScrapeEntry {
        let r = curl(&format!("{base}/scrape?info_hash={h}"));
        parse_scrape_reply(&head_and_body(&r).1).unwrap()[0]
    };
    eventually("aria2c's announce", || scrape(&base).complete == 1);
    let r = curl(&format!(
        "{base}/announce?info_hash={h}&peer_id=-CU0001-000000000009&port=9&left=1&event=started"
    ));
    let reply = parse_announce_reply(&head_and_body(&r).1).unwrap();
    let peers: Vec<String> = reply.peers.iter().map(|p| p.addr.to_string()).collect();
    assert_eq!(peers, [format!("127.0.0.1:{listen}")]);
    assert_eq!((reply.complete, reply.incomplete), (Some(1), Some(1)));
    // SIGINT: aria2c shuts down gracefully and announces `stopped`.
    let pid = aria.0.id().to_string();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let end = Instant::now() + Duration::from_secs(10);
    while aria.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < end, "aria2c did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let after = scrape(&base);
    assert_eq!((after.complete, after.incomplete), (0, 1));
}

/// The info-hash of a .torrent: SHA-1 of its info dictionary's raw bytes
/// (by `sha1sum`: the library's SHA-1 belongs to another part).
fn info_hash_of(torrent: &[u8], dir: &std::path::Path) -> [u8; 20] {
    use kamaelia::protocol::torrent::bencode::decode;
    let v = decode(torrent).unwrap();
    let info = v
        .as_dict()
        .unwrap()
        .get(b"info")
        .unwrap()
        .as_dict()
        .unwrap();
    let path = dir.join("info.bin");
    std::fs::write(&path, info.raw()).unwrap();
    let out = Command::new("sha1sum").arg(&path).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut h = [0u8; 20];
    for (i, b) in h.iter_mut().enumerate() {
        *b = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
    }
    h
}
