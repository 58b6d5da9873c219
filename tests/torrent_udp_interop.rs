//! UDP trackers (BEP 15) against real programs on 127.0.0.1:
//!
//! * our [`UdpTrackerClient`] against `opentracker` (Debian's build is
//!   whitelist-only: it is started with `-w` on a file listing the test's
//!   info-hash in hex): two announces from different peer ids and ports,
//!   the second's peer list holds the first, and a scrape counts one seeder
//!   and one leecher;
//! * `aria2c` against our [`UdpTrackerServer`]: a torrent made by
//!   `mktorrent` with a `udp://127.0.0.1:PORT/announce` tracker, one aria2c
//!   seeding the file and a second downloading it; the leecher can only
//!   find the seeder through our tracker (no DHT nodes, no LPD, no PEX), so
//!   a whole, equal download shows the swarm handed out the right address.
//!   The swarm must have held both peers at their listen ports, counted the
//!   download as completed, and dropped the leecher when it stopped.
//!
//! Every process started is killed by its pid and reaped when the test
//! ends, however it ends; every wait is bounded (about 10 s for the first
//! test, 40 s for the second at most; a few seconds when all goes well).
//!
//! Skipped, with the reason printed, when a program is missing; with
//! `KAMAELIA_REQUIRE_INTEROP=1` a skip is a failure (set on CI, where the
//! Debian packages `opentracker aria2 mktorrent` are installed).

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

mod interop_support;
use interop_support::{free_port, wait_listening, Proc, TempDir};

use kamaelia::axon::{link, Inbox, Outbox, Scheduler, Signal};
use kamaelia::protocol::torrent::tracker::swarm::{SwarmConfig, Swarms};
use kamaelia::protocol::torrent::tracker::udp_client::{
    UdpClientConfig, UdpTrackerClient, UdpTrackerRequest,
};
use kamaelia::protocol::torrent::tracker::udp_server::{UdpServerConfig, UdpTrackerServer};
use kamaelia::protocol::torrent::tracker::{
    AnnounceEvent, AnnounceReply, AnnounceRequest, InfoHash, ScrapeEntry,
};

/// The programs, or why the test is skipped.
fn tools(test: &str, need: &[&str]) -> bool {
    interop_support::tools(test, need, "opentracker aria2 mktorrent")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn announce(info_hash: InfoHash, id: u8, port: u16, left: u64) -> AnnounceRequest {
    AnnounceRequest {
        info_hash,
        peer_id: [id; 20],
        port,
        uploaded: 0,
        downloaded: 0,
        left,
        event: AnnounceEvent::Started,
        numwant: Some(50),
        key: Some(u32::from(id)),
        ip: None,
        compact: true,
        tracker_id: None,
    }
}

/// Waits (at most 10 s) until opentracker's UDP tracker takes announces
/// for `hash`: a throwaway peer announces until the reply is a whole
/// announce reply rather than the bare header opentracker sends for a
/// torrent not (yet) on its whitelist, then leaves (`stopped`).
fn wait_whitelisted(port: u16, hash: InfoHash) {
    use kamaelia::protocol::torrent::tracker::udp_wire::{
        encode_announce_request, encode_connect_request, parse_response, Response,
    };
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    // A `started` announce (a `stopped` one is answered whole even for a
    // torrent not on the list), taken back with `stopped` once accepted.
    let probe = announce(hash, b'Z', 1, 1);
    let mut leave = probe.clone();
    leave.event = AnnounceEvent::Stopped;
    let end = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 1024];
    while Instant::now() < end {
        let mut d = Vec::new();
        encode_connect_request(&mut d, 1);
        s.send(&d).unwrap();
        let Ok(n) = s.recv(&mut buf) else { continue };
        let Ok(Response::Connect { connection_id, .. }) = parse_response(&buf[..n], false) else {
            continue;
        };
        d.clear();
        encode_announce_request(&mut d, connection_id, 2, &probe);
        s.send(&d).unwrap();
        if let Ok(n) = s.recv(&mut buf) {
            if matches!(
                parse_response(&buf[..n], false),
                Ok(Response::Announce { .. })
            ) {
                d.clear();
                encode_announce_request(&mut d, connection_id, 3, &leave);
                s.send(&d).unwrap();
                let left = s
                    .recv(&mut buf)
                    .map(|n| parse_response(&buf[..n], false).is_ok());
                assert!(matches!(left, Ok(true)), "the probe peer left");
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("opentracker never took announces for the whitelisted torrent");
}

#[test]
fn our_udp_client_against_opentracker() {
    if !tools("our_udp_client_against_opentracker", &["opentracker"]) {
        return;
    }
    let dir = TempDir::new("udp-opentracker");
    let info_hash: InfoHash = [0x5A; 20];
    std::fs::write(dir.0.join("whitelist"), format!("{}\n", hex(&info_hash))).unwrap();
    let port = free_port();
    let port_s = port.to_string();
    // As root opentracker chroots to -d and reads the whitelist there, so
    // the path is relative to the folder it runs in.
    let _tracker = Proc(
        Command::new("opentracker")
            .args(["-i", "127.0.0.1", "-p", &port_s, "-P", &port_s])
            .args(["-w", "whitelist", "-d"])
            .arg(&dir.0)
            .current_dir(&dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    // It opens its TCP and UDP sockets together: once TCP answers, UDP is
    // bound too. It reads its whitelist on a thread of its own after that,
    // and refuses every torrent until then.
    wait_listening(port);
    wait_whitelisted(port, info_hash);
    // Short time-outs: a datagram lost on a loaded machine is sent again.
    let config = UdpClientConfig {
        base_timeout: Duration::from_millis(250),
        max_doublings: 4,
        ..UdpClientConfig::default()
    };
    let tracker = SocketAddr::from(([127, 0, 0, 1], port));
    let (client, socket) = UdpTrackerClient::bind(tracker, config).unwrap();
    let stats = client.stats();
    let ask: Outbox<UdpTrackerRequest> = Outbox::outbox();
    let finish: Outbox<Signal> = Outbox::signal();
    let replies: Inbox<AnnounceReply> = Inbox::inbox();
    let scrapes: Inbox<Vec<ScrapeEntry>> = Inbox::inbox();
    let ended: Inbox<Signal> = Inbox::inbox();
    link(&ask, &client.request).unwrap();
    link(&finish, &client.control).unwrap();
    link(&client.outbox, &replies).unwrap();
    link(&client.scrape, &scrapes).unwrap();
    link(&client.signal, &ended).unwrap();
    for r in [
        UdpTrackerRequest::Announce(announce(info_hash, b'A', 41001, 1000)),
        UdpTrackerRequest::Announce(announce(info_hash, b'B', 41002, 0)),
        UdpTrackerRequest::Scrape(vec![info_hash]),
    ] {
        ask.send(r).unwrap();
    }
    finish.send(Signal::ProducerFinished).unwrap();
    let mut s = Scheduler::new();
    s.spawn(client);
    s.spawn(socket);
    let deadline = Instant::now() + Duration::from_secs(10);
    while ended.is_empty() && Instant::now() < deadline {
        let _ = s.run_for(Duration::from_millis(50));
    }
    assert_eq!(
        ended.recv(),
        Some(Signal::ProducerFinished),
        "client stats: {:?}",
        stats.get()
    );

    let first = replies.recv().expect("first announce answered");
    let second = replies.recv().expect("second announce answered");
    assert!(first.interval > 0);
    let a = SocketAddr::from(([127, 0, 0, 1], 41001));
    assert!(
        second.peers.iter().any(|p| p.addr == a),
        "the second announce sees the first: {second:?}"
    );
    assert_eq!((second.complete, second.incomplete), (Some(1), Some(1)));
    let scrape = scrapes.recv().expect("scrape answered");
    assert_eq!(
        scrape,
        vec![ScrapeEntry {
            info_hash,
            complete: 1,
            downloaded: 0,
            incomplete: 1
        }]
    );
    let st = stats.get();
    assert_eq!((st.wrong_tid, st.malformed), (0, 0));
}

/// Runs `aria2c` with the options every run here shares.
fn aria2c(dir: &Path, name: &str, torrent: &Path, listen: u16, dht: u16) -> Command {
    let mut c = Command::new("aria2c");
    c.current_dir(dir)
        .arg(format!("--dir={}", dir.join(name).display()))
        .arg(format!("--listen-port={listen}"))
        // The DHT's UDP socket is also aria2's UDP tracker socket.
        .arg("--enable-dht=true")
        .arg(format!("--dht-listen-port={dht}"))
        .arg(format!(
            "--dht-file-path={}",
            dir.join(format!("{name}.dht")).display()
        ))
        .args(["--bt-enable-lpd=false", "--enable-peer-exchange=false"])
        .args(["--file-allocation=none", "--summary-interval=0"])
        .args(["--console-log-level=warn", "--no-conf=true"])
        .args(["--bt-tracker-connect-timeout=5", "--bt-tracker-timeout=5"])
        .arg(torrent)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

#[test]
fn aria2c_seeder_and_leecher_against_our_udp_server() {
    if !tools(
        "aria2c_seeder_and_leecher_against_our_udp_server",
        &["aria2c", "mktorrent"],
    ) {
        return;
    }
    let dir = TempDir::new("udp-aria2c");
    let port = free_port();
    let seed_dir = dir.0.join("seeder");
    std::fs::create_dir_all(&seed_dir).unwrap();
    // 700 KB of varied bytes: several pieces, and nothing that compresses.
    let data: Vec<u8> = (0..700_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(seed_dir.join("data.bin"), &data).unwrap();
    let torrent = dir.0.join("t.torrent");
    let out = Command::new("mktorrent")
        .arg("-a")
        .arg(format!("udp://127.0.0.1:{port}/announce"))
        .args(["-l", "16", "-o"])
        .arg(&torrent)
        .arg(seed_dir.join("data.bin"))
        .output()
        .unwrap();
    assert!(out.status.success(), "mktorrent: {out:?}");
    // The info-hash as aria2c itself reads it.
    let shown = Command::new("aria2c")
        .arg("-S")
        .arg(&torrent)
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    let line = shown
        .lines()
        .find_map(|l| l.strip_prefix("Info Hash: "))
        .expect("aria2c -S prints the info hash");
    let info_hash: InfoHash = unhex(line.trim()).try_into().unwrap();

    let swarms = Rc::new(RefCell::new(Swarms::new(SwarmConfig {
        whitelist: Some([info_hash].into()),
        ..SwarmConfig::default()
    })));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let (server, socket) =
        UdpTrackerServer::bind(addr, swarms.clone(), UdpServerConfig::default()).unwrap();
    let stats = server.stats();
    let stop: Outbox<Signal> = Outbox::signal();
    link(&stop, &server.control).unwrap();
    let mut s = Scheduler::new();
    s.spawn(server);
    s.spawn(socket);

    let (seed_port, seed_dht) = (free_port(), free_port());
    let (leech_port, leech_dht) = (free_port(), free_port());
    let _seeder = Proc(
        aria2c(&dir.0, "seeder", &torrent, seed_port, seed_dht)
            .args(["--check-integrity=true", "--seed-ratio=0.0"])
            .spawn()
            .unwrap(),
    );
    // Wait for the seeder to be in the swarm, then start the leecher, so
    // its first announce already lists the seeder.
    let seeder_in = |sw: &Swarms| sw.scrape(&info_hash).complete == 1;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !seeder_in(&swarms.borrow()) && Instant::now() < deadline {
        let _ = s.run_for(Duration::from_millis(50));
    }
    assert!(
        seeder_in(&swarms.borrow()),
        "the seeder announced: {:?}",
        stats.get()
    );
    let mut leecher = Proc(
        aria2c(&dir.0, "leecher", &torrent, leech_port, leech_dht)
            // Seeds 3 s after the download: with --seed-time=0 aria2c
            // sends `stopped` without `completed`.
            .arg("--seed-time=0.05")
            .spawn()
            .unwrap(),
    );
    // While the leecher runs: the swarm must hold both, at their ports.
    let mut both_seen = false;
    let mut leecher_exit = None;
    let deadline = Instant::now() + Duration::from_secs(25);
    while leecher_exit.is_none() && Instant::now() < deadline {
        let _ = s.run_for(Duration::from_millis(50));
        if !both_seen && swarms.borrow().peers() == 2 {
            // Look at the swarm as a third peer would (then leave it).
            let mut sw = swarms.borrow_mut();
            let probe_from = IpAddr::from([127, 0, 0, 2]);
            let now = Instant::now();
            let look = sw
                .announce(&announce(info_hash, b'Z', 9, 5), probe_from, now)
                .unwrap();
            let mut stop_req = announce(info_hash, b'Z', 9, 5);
            stop_req.event = AnnounceEvent::Stopped;
            sw.announce(&stop_req, probe_from, now).unwrap();
            let mut ports: Vec<u16> = look.peers.iter().map(|p| p.addr.port()).collect();
            ports.sort();
            let mut want = vec![seed_port, leech_port];
            want.sort();
            assert_eq!(ports, want, "the swarm: {look:?}");
            assert!(look.peers.iter().all(|p| p.addr.ip().is_loopback()));
            both_seen = true;
        }
        leecher_exit = leecher.0.try_wait().unwrap();
    }
    let exit = leecher_exit.expect("the leecher finished within 25 s");
    assert!(exit.success(), "leecher: {exit:?}");
    assert!(both_seen, "the swarm held seeder and leecher at once");
    let got = std::fs::read(dir.0.join("leecher").join("data.bin")).unwrap();
    assert!(got == data, "the leecher's file is the seeder's");
    // The leecher's completed and stopped announces (sent before it exits).
    let deadline = Instant::now() + Duration::from_secs(5);
    let done = |sw: &Swarms| {
        let e = sw.scrape(&info_hash);
        e.downloaded >= 1 && e.incomplete == 0 && sw.peers() == 1
    };
    while !done(&swarms.borrow()) && Instant::now() < deadline {
        let _ = s.run_for(Duration::from_millis(50));
    }
    let e = swarms.borrow().scrape(&info_hash);
    assert!(done(&swarms.borrow()), "after the leecher left: {e:?}");
    let st = stats.get();
    assert!(st.connects >= 2 && st.announces >= 3, "{st:?}");
    assert_eq!(st.malformed, 0, "{st:?}");
    stop.send(Signal::Shutdown).unwrap();
    let _ = s.run_for(Duration::from_millis(100));
}
