//! Tracker rows of `benches/torrent.rs`: HTTP announces per second of our
//! tracker and of `opentracker` under the same load in the same run.
//!
//! Every party is a process of its own (the machinery of
//! `benches/http_procs`: this bench binary re-run with `HTTP_BENCH_ROLE`
//! set):
//!
//! * `tracker_ours`: the [`TrackerServer`] graph that `kamaelia tracker`
//!   runs (HTTP on 127.0.0.1, the bench's torrents whitelisted, no per-IP
//!   limit: every bench peer comes from 127.0.0.1), saying `listening on
//!   ADDR`;
//! * `opentracker -i 127.0.0.1 -p PORT -P PORT -w FILE` (Debian's build,
//!   whitelist-only), the same torrents in its whitelist;
//! * `tracker_http_load ADDR N`: the load client. 2 threads, each keeping
//!   32 announces outstanding: 32 connections opened, a GET announce written
//!   on each (`Connection: close`: opentracker closes after each reply, as
//!   trackers do, so every announce is a connection of its own, as from
//!   real clients), then each reply read to the close and checked (`200`,
//!   a bencoded reply with `peers`, no `failure reason`). Announces cycle
//!   over 64 torrents and 16,384 peers (ports), a third of them seeders.
//!   It checks one announce, says `ready`, waits for `go`, runs `N`
//!   announces and says `done NS`.
//!
//! Rows:
//! * `tracker_http_announces`: rounds alternate ours and opentracker
//!   (fresh processes each round, the order flipped every round);
//!   medians, smallest and largest, per-round ratios, servers' CPU time
//!   per announce (`/proc/PID/schedstat`). Goal: ratio >= 1.0.
//! * `tracker_http_instr`: user-space instructions per announce of each
//!   server under callgrind (the server only), two runs of different
//!   lengths and the difference over the extra announces. Skipped without
//!   valgrind.
//!
//! * `tracker_udp_announces`, `tracker_udp_instr`: the same over UDP
//!   (BEP 15): our `TrackerServer` with only its UDP tracker
//!   (`tracker_ours_udp`) against opentracker's UDP port, driven by
//!   `tracker_udp_load` (see `tracker_udp.rs`).

use std::collections::HashSet;
use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use kamaelia::axon::Scheduler;
use kamaelia::protocol::torrent::tracker::http_wire::percent_encode;
use kamaelia::protocol::torrent::tracker::server::{TrackerConfig, TrackerServer};
use kamaelia::protocol::torrent::tracker::InfoHash;

use crate::common::{median, procs, quick, want, Json};
use crate::http_procs::{ClientProc, ServerProc, ROLE};

pub(crate) const TORRENTS: usize = 64;
pub(crate) const PEERS: usize = 16_384;
pub(crate) const THREADS: usize = 2;
pub(crate) const OUTSTANDING: usize = 32;

pub(crate) fn torrent(i: usize) -> InfoHash {
    let mut h = [0u8; 20];
    for (j, b) in h.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(j as u8 * 7) ^ 0x5a;
    }
    h
}

fn whitelist() -> HashSet<InfoHash> {
    (0..TORRENTS).map(torrent).collect()
}

/// If `HTTP_BENCH_ROLE` names one of the tracker roles, plays it and
/// returns true.
pub fn run_role() -> bool {
    let Ok(role) = std::env::var(ROLE) else {
        return false;
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    match role.as_str() {
        "tracker_ours" => ours(false),
        "tracker_ours_udp" => ours(true),
        "tracker_udp_load" => {
            let addr: SocketAddr = args[0].parse().expect("address");
            let n: usize = args[1].parse().expect("count");
            crate::tracker_udp::udp_load(addr, n);
        }
        "tracker_http_load" => {
            let addr: SocketAddr = args[0].parse().expect("address");
            let n: usize = args[1].parse().expect("count");
            http_load(addr, n);
        }
        _ => return false,
    }
    true
}

pub(crate) fn say(line: &str) {
    println!("{line}");
    io::stdout().flush().expect("stdout");
}

/// Our tracker, HTTP only or (`udp`) UDP only, on a free port of
/// 127.0.0.1.
fn ours(udp: bool) {
    procs::raise_fd_limit();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut config = TrackerConfig {
        http: (!udp).then_some(any),
        udp: udp.then_some(any),
        ..TrackerConfig::default()
    };
    config.swarm.whitelist = Some(whitelist());
    config.swarm.max_peers_per_ip = u32::MAX;
    let server = TrackerServer::bind(config).expect("bind the tracker");
    let addr = if udp {
        server.udp_addr()
    } else {
        server.http_addr()
    };
    say(&format!("listening on {}", addr.expect("bound")));
    let mut s = Scheduler::new();
    s.spawn(server);
    s.run();
}

/// The `k`-th announce request of the load.
fn request(k: usize) -> Vec<u8> {
    let t = k % TORRENTS;
    let p = (k / TORRENTS) % PEERS;
    let mut q = String::with_capacity(300);
    q.push_str("GET /announce?info_hash=");
    percent_encode(&mut q, &torrent(t));
    let mut id = *b"-LD0001-000000000000";
    id[12..20].copy_from_slice(format!("{:08}", k % 100_000_000).as_bytes());
    q.push_str("&peer_id=");
    percent_encode(&mut q, &id);
    let left = if p % 3 == 0 { 0 } else { 1000 };
    q.push_str(&format!(
        "&port={}&uploaded=0&downloaded=0&left={left}&compact=1&numwant=50 HTTP/1.1\r\n\
         Host: 127.0.0.1\r\nConnection: close\r\n\r\n",
        1024 + p
    ));
    q.into_bytes()
}

/// One announce's reply, read to the close; an error unless it is a
/// `200` with a bencoded peer list.
fn check_reply(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<(), String> {
    buf.clear();
    s.read_to_end(buf).map_err(|e| format!("read: {e}"))?;
    let ok = buf.starts_with(b"HTTP/1.1 200")
        && buf.windows(7).any(|w| w == b"5:peers")
        && !buf.windows(14).any(|w| w == b"failure reason");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "bad reply: {:?}",
            String::from_utf8_lossy(&buf[..buf.len().min(200)])
        ))
    }
}

fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    let _ = s.set_nodelay(true);
    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
    Ok(s)
}

fn http_load(addr: SocketAddr, n: usize) {
    procs::raise_fd_limit();
    let requests: Arc<Vec<Vec<u8>>> = Arc::new((0..TORRENTS * PEERS / 64).map(request).collect());
    // One announce to see that the server works before the clock starts.
    let first = connect(addr).and_then(|mut s| {
        s.write_all(&requests[0]).map_err(|e| e.to_string())?;
        check_reply(&mut s, &mut Vec::new())
    });
    if let Err(e) = first {
        return say(&format!("error {e}"));
    }
    say("ready");
    let mut line = String::new();
    let _ = io::stdin().lock().read_line(&mut line);
    let start = Arc::new(Barrier::new(THREADS + 1));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (start, requests) = (start.clone(), requests.clone());
            thread::spawn(move || -> Result<(), String> {
                start.wait();
                let mut buf = Vec::with_capacity(1024);
                let mut conns = Vec::with_capacity(OUTSTANDING);
                let mine = n / THREADS + usize::from(t < n % THREADS);
                let mut k = t;
                let mut done = 0;
                while done < mine {
                    let batch = OUTSTANDING.min(mine - done);
                    for _ in 0..batch {
                        let mut s = connect(addr)?;
                        let r = &requests[k % requests.len()];
                        s.write_all(r).map_err(|e| format!("write: {e}"))?;
                        conns.push(s);
                        k += THREADS;
                    }
                    for mut s in conns.drain(..) {
                        check_reply(&mut s, &mut buf)?;
                    }
                    done += batch;
                }
                Ok(())
            })
        })
        .collect();
    let t0 = Instant::now();
    start.wait();
    let mut err = None;
    for h in handles {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                err.get_or_insert(e);
            }
            Err(_) => {
                err.get_or_insert("a load thread panicked".into());
            }
        }
    }
    match err {
        Some(e) => say(&format!("error {e}")),
        None => say(&format!("done {}", t0.elapsed().as_nanos())),
    }
}

/// Whether `opentracker` is installed (it has no `--version`: run
/// without a listening port, it would start serving).
pub(crate) fn have_opentracker() -> bool {
    Command::new("sh")
        .args(["-c", "command -v opentracker"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts opentracker (under `wrap` if not empty) with the bench's
/// whitelist, and waits (at most 30 s) until it answers connections.
fn start_opentracker(dir: &std::path::Path, wrap: &[String]) -> Result<ServerProc, String> {
    let list = dir.join("whitelist");
    let text: String = (0..TORRENTS)
        .map(|i| {
            let mut line: String = torrent(i).iter().map(|b| format!("{b:02x}")).collect();
            line.push('\n');
            line
        })
        .collect();
    std::fs::write(&list, text).map_err(|e| e.to_string())?;
    let port = free_port();
    let p = port.to_string();
    let mut argv: Vec<String> = wrap.to_vec();
    argv.extend(["opentracker", "-i", "127.0.0.1", "-p", &p, "-P", &p, "-w"].map(String::from));
    argv.push(list.display().to_string());
    if !wrap.is_empty() {
        // Its default chroot (its working folder) would hide the
        // callgrind output path; "/" keeps every path as it is.
        argv.extend(["-d", "/"].map(String::from));
    }
    let child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start opentracker: {e}"))?;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let srv = ServerProc { child, addr };
    let end = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > end {
            return Err("opentracker does not listen".into());
        }
        thread::sleep(Duration::from_millis(20));
    }
    // It reads its whitelist on a thread of its own after it listens, and
    // refuses every torrent until then (under callgrind, for seconds). A
    // `stopped` announce adds no peer: asked until it is not refused.
    let mut q = String::from("GET /announce?info_hash=");
    percent_encode(&mut q, &torrent(0));
    q.push_str(
        "&peer_id=-LD0001-999999999999&port=1&left=0&event=stopped HTTP/1.1\r\n\
         Host: 127.0.0.1\r\nConnection: close\r\n\r\n",
    );
    let mut buf = Vec::new();
    loop {
        let refused = connect(addr).and_then(|mut s| {
            s.write_all(q.as_bytes()).map_err(|e| e.to_string())?;
            buf.clear();
            s.read_to_end(&mut buf).map_err(|e| e.to_string())?;
            Ok(buf.windows(14).any(|w| w == b"failure reason"))
        });
        match refused {
            Ok(false) => return Ok(srv),
            _ if Instant::now() > end => return Err("opentracker never took the whitelist".into()),
            _ => thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// HTTP or UDP: which tracker and which load client.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Proto {
    Http,
    Udp,
}

impl Proto {
    fn name(self) -> &'static str {
        match self {
            Proto::Http => "http",
            Proto::Udp => "udp",
        }
    }

    fn load_role(self) -> &'static str {
        match self {
            Proto::Http => "tracker_http_load",
            Proto::Udp => "tracker_udp_load",
        }
    }
}

/// Starts `server` for `proto`. opentracker serves HTTP and UDP on one
/// port number, so its address is the same for both.
fn start(
    server: &str,
    proto: Proto,
    dir: &std::path::Path,
    wrap: &[String],
) -> Result<ServerProc, String> {
    match (server, proto) {
        ("ours", Proto::Http) => ServerProc::start("tracker_ours", wrap),
        ("ours", Proto::Udp) => ServerProc::start("tracker_ours_udp", wrap),
        _ => start_opentracker(dir, wrap),
    }
}

/// Announces per second and server CPU ns per announce of one fresh
/// `server`.
fn one_round(
    server: &str,
    proto: Proto,
    dir: &std::path::Path,
    n: usize,
) -> Result<(f64, f64), String> {
    let srv = start(server, proto, dir, &[])?;
    let mut client = ClientProc::start(
        proto.load_role(),
        &[srv.addr.to_string(), n.to_string()],
        true,
    )?;
    let cpu0 = srv.cpu_ns().unwrap_or(0);
    let ns = client.go()?[0];
    let cpu1 = srv.cpu_ns().unwrap_or(0);
    Ok((n as f64 / (ns / 1e9), (cpu1 - cpu0) as f64 / n as f64))
}

fn bench_announces(dir: &std::path::Path, proto: Proto) {
    let (rounds, n) = match (quick(), proto) {
        (true, Proto::Http) => (2, 3_000),
        (false, Proto::Http) => (5, 40_000),
        (true, Proto::Udp) => (2, 20_000),
        (false, Proto::Udp) => (5, 200_000),
    };
    let setup = match proto {
        Proto::Http => {
            "load client process, 2 threads x 32 outstanding, a connection per announce, 64 torrents"
        }
        Proto::Udp => {
            "load client process, 2 threads x 32 outstanding datagrams, one connection id per thread, 64 torrents"
        }
    };
    let line = Json::new(&format!("tracker_{}_announces", proto.name()))
        .text("setup", setup)
        .int("announces_per_round", n as u64)
        .int("rounds", rounds as u64);
    let ot = have_opentracker();
    let (mut ours, mut theirs, mut ours_cpu, mut theirs_cpu, mut ratios) =
        (vec![], vec![], vec![], vec![], vec![]);
    for r in 0..rounds {
        let order: &[&str] = if r % 2 == 0 {
            &["ours", "opentracker"]
        } else {
            &["opentracker", "ours"]
        };
        let mut got = (0.0, 0.0);
        for &server in order {
            if server == "opentracker" && !ot {
                continue;
            }
            match one_round(server, proto, dir, n) {
                Ok((rate, cpu)) if server == "ours" => {
                    ours.push(rate);
                    ours_cpu.push(cpu);
                    got.0 = rate;
                }
                Ok((rate, cpu)) => {
                    theirs.push(rate);
                    theirs_cpu.push(cpu);
                    got.1 = rate;
                }
                Err(e) => return line.text("error", &format!("{server}: {e}")).print(),
            }
        }
        if got.1 > 0.0 {
            ratios.push(got.0 / got.1);
        }
    }
    let range = |v: &[f64]| {
        (
            v.iter().copied().fold(f64::INFINITY, f64::min),
            v.iter().copied().fold(0.0, f64::max),
        )
    };
    let (omin, omax) = range(&ours);
    let line = line
        .num("ours_per_s", median(&mut ours))
        .num("ours_min_per_s", omin)
        .num("ours_max_per_s", omax)
        .num("ours_server_cpu_ns_per_announce", median(&mut ours_cpu));
    if !ot {
        return line.text("opentracker", "not installed: no ratio").print();
    }
    let (tmin, tmax) = range(&theirs);
    let ratio = median(&mut ours.clone()) / median(&mut theirs.clone());
    let per_round: Vec<String> = ratios.iter().map(|r| format!("{r:.3}")).collect();
    line.num("opentracker_per_s", median(&mut theirs))
        .num("opentracker_min_per_s", tmin)
        .num("opentracker_max_per_s", tmax)
        .num(
            "opentracker_server_cpu_ns_per_announce",
            median(&mut theirs_cpu),
        )
        .num("ratio_to_opentracker", ratio)
        .text("round_ratios", &per_round.join(" "))
        .text("goal", "ratio_to_opentracker>=1.0")
        .flag("goal_met", ratio >= 1.0)
        .print();
}

fn bench_instr(dir: &std::path::Path, proto: Proto) {
    let (n1, n2) = match (quick(), proto) {
        (true, Proto::Http) => (300, 600),
        (false, Proto::Http) => (2_000, 6_000),
        (true, Proto::Udp) => (1_000, 2_000),
        (false, Proto::Udp) => (10_000, 30_000),
    };
    let line = Json::new(&format!("tracker_{}_instr", proto.name()))
        .text(
            "setup",
            "callgrind on the server process only; separate load client process",
        )
        .int("announces_a", n1 as u64)
        .int("announces_b", n2 as u64);
    if !procs::have("valgrind") {
        return line.text("skipped", "valgrind not found").print();
    }
    let one = |server: &str, n: usize| -> Result<u64, String> {
        let file = dir.join(format!("callgrind.{server}.{n}"));
        let wrap = [
            "valgrind".to_string(),
            "--tool=callgrind".into(),
            format!("--callgrind-out-file={}", file.display()),
        ];
        // opentracker drops root for `nobody`, and callgrind writes its
        // file at the end: made beforehand, writable by anyone.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(&file, b"").map_err(|e| e.to_string())?;
            let _ = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666));
        }
        let srv = start(server, proto, dir, &wrap)?;
        let mut client = ClientProc::start(
            proto.load_role(),
            &[srv.addr.to_string(), n.to_string()],
            true,
        )?;
        client.go()?;
        drop(client);
        drop(srv);
        procs::callgrind_total(&file)
    };
    let per = |server: &str| -> Result<f64, String> {
        let a = one(server, n1)?;
        let b = one(server, n2)?;
        Ok((b as f64 - a as f64) / (n2 - n1) as f64)
    };
    let line = match per("ours") {
        Ok(o) => line.num("instr_per_announce", o),
        Err(e) => return line.text("error", &e).print(),
    };
    if !have_opentracker() {
        return line.text("opentracker", "not installed").print();
    }
    match per("opentracker") {
        Ok(t) => line.num("opentracker_instr_per_announce", t).print(),
        Err(e) => line.text("error", &format!("opentracker: {e}")).print(),
    }
}

/// The tracker rows (each may be picked with `BENCH_ROWS`).
pub fn run() {
    procs::raise_fd_limit();
    let dir = std::env::temp_dir().join(format!("kamaelia-tracker-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    // opentracker, started as root, switches to an unprivileged user: its
    // callgrind output file must be writable by anyone.
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777));
    }
    for proto in [Proto::Http, Proto::Udp] {
        if want(&format!("tracker_{}", proto.name())) {
            bench_announces(&dir, proto);
        }
        if want(&format!("tracker_{}_instr", proto.name())) {
            bench_instr(&dir, proto);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
