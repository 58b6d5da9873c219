//! Benchmarks of the HTTP server and client (issue 11). Run with
//! `cargo bench --bench http`; `BENCH_QUICK=1` makes a run of a few
//! seconds; `BENCH_ROWS=rps1,download` (of `rps1`, `rps64`, `rps_instr`,
//! `idle_mem`, `download`) runs only those rows. Every measurement is one
//! JSON line on stdout.
//!
//! Every party is a process of its own: this bench binary re-run with
//! `HTTP_BENCH_ROLE` set (see `http_procs/mod.rs`). The server under test
//! is an `HttpServer` with a `Router` and one route answering a small
//! `Fixed` text response (13-byte body, no `Date` field) from the
//! connection itself (`Router::fixed`); the floor is a
//! hand-written single-threaded edge-triggered `mio` responder answering
//! every request head with the same bytes (checked: the rows compare the
//! two servers' responses).
//!
//! * `http_rps`: requests per second, 1 and 64 keep-alive connections. A
//!   load client process (2 threads at most, in lock step: a GET on each
//!   of its connections, then each response read and compared byte for
//!   byte) keeps one request outstanding per connection. Rounds alternate
//!   ours and the floor (each round fresh server processes, the order
//!   flipped every round); medians, smallest and largest, per-round
//!   ratios, and the servers' CPU time per request
//!   (`/proc/PID/schedstat`). Goal: `ratio_to_floor >= 0.8`.
//! * `http_rps_instr`: user-space instructions per request of each server
//!   under callgrind (the server only), 64 connections, two runs of
//!   different lengths and the difference over the extra requests (start-up
//!   and set-up cancel); also `stream_instr_per_req`, the same response
//!   from a `Fixed` resource component spawned per request (`Router::route`,
//!   the streaming path). Skipped without valgrind.
//! * `http_idle_mem`: the server's RSS growth (`/proc/PID/status` VmRSS)
//!   per idle keep-alive connection: N connections each make one request
//!   and stay open; ours and the floor. Goal: at most 16 KiB each.
//! * `http_download`: MB/s of a body with a Content-Length (1 GiB, 64 MiB
//!   quick) from a local blocking server (threads of this process, writing
//!   from a reused 64 KiB buffer), fetched by our `SingleShotHttpClient`
//!   (counting the body, in a process of its own) and by
//!   `curl -s -o /dev/null`, interleaved; each timed from start to exit
//!   of its process. Goal: `ratio_to_curl >= 0.9`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
#[path = "http_procs/mod.rs"]
mod procs;

use common::{median, Json};
use procs::{ClientProc, ServerProc};

struct Config {
    quick: bool,
    rounds: usize,
    /// Requests per connection: 1 connection, 64 connections.
    req_single: usize,
    req_each_of_64: usize,
    /// Requests per connection of the two callgrind runs per server.
    instr_reqs: (usize, usize),
    idle_conns: usize,
    download_bytes: u64,
    download_rounds: usize,
}

impl Config {
    fn from_env() -> Self {
        if common::quick() {
            Config {
                quick: true,
                rounds: 1,
                req_single: 2_000,
                req_each_of_64: 50,
                instr_reqs: (5, 15),
                idle_conns: 200,
                download_bytes: 64 << 20,
                download_rounds: 1,
            }
        } else {
            Config {
                quick: false,
                rounds: 7,
                req_single: 20_000,
                req_each_of_64: 1_000,
                instr_reqs: (20, 60),
                idle_conns: 1_000,
                download_bytes: 1 << 30,
                download_rounds: 5,
            }
        }
    }
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

const SERVERS: [&str; 2] = ["ours", "floor"];

/// Round `r`'s order: alternating which server goes first.
fn order(r: usize) -> [usize; 2] {
    if r % 2 == 0 {
        [0, 1]
    } else {
        [1, 0]
    }
}

/// One load run against a fresh `server`: (requests per second, server
/// CPU ns per request, response hash).
fn rps_run(server: &str, conns: usize, n: usize) -> Result<(f64, f64, u64), String> {
    let srv = ServerProc::start(server, &[])?;
    let args = [srv.addr.to_string(), conns.to_string(), n.to_string()];
    let mut client = ClientProc::start("load", &args, true)?;
    let cpu0 = srv.cpu_ns();
    let nums = client.go()?;
    let cpu1 = srv.cpu_ns();
    let work = (conns * n) as f64;
    let cpu = match (cpu0, cpu1) {
        (Some(a), Some(b)) => (b - a) as f64 / work,
        _ => -1.0,
    };
    Ok((work / (nums[0] / 1e9), cpu, nums[1] as u64))
}

fn bench_rps(cfg: &Config, conns: usize, n: usize) {
    let mut rates = [Vec::new(), Vec::new()];
    let mut cpus = [Vec::new(), Vec::new()];
    let mut hashes = [0u64; 2];
    let mut round_ratios = Vec::new();
    let mut error = None;
    'rounds: for r in 0..cfg.rounds {
        let mut this = [0.0; 2];
        for k in order(r) {
            match rps_run(SERVERS[k], conns, n) {
                Ok((rate, cpu, hash)) => {
                    this[k] = rate;
                    rates[k].push(rate);
                    cpus[k].push(cpu);
                    hashes[k] = hash;
                }
                Err(e) => {
                    error = Some(format!("{}: {e}", SERVERS[k]));
                    break 'rounds;
                }
            }
        }
        round_ratios.push(this[0] / this[1]);
    }
    let line = Json::new("http_rps")
        .text(
            "setup",
            "separate processes: HttpServer+Router+Fixed vs plain mio responder, same bytes; load client process, keep-alive, one request outstanding per connection",
        )
        .int("conns", conns as u64)
        .int("client_threads", conns.clamp(1, procs::LOAD_THREADS) as u64)
        .int("requests", (conns * n) as u64)
        .int("rounds", cfg.rounds as u64);
    if error.is_none() && hashes[0] != hashes[1] {
        error = Some("the two servers' responses differ".into());
    }
    if let Some(e) = error {
        return line.text("error", &e).flag("goal_met", false).print();
    }
    let [ours, floor] = &mut rates;
    let (o, f) = (median(ours), median(floor));
    let [oc, fc] = &mut cpus;
    let (oc, fc) = (median(oc), median(fc));
    let ratio = o / f;
    line.num("req_per_s", o)
        .num("req_per_s_min", common::min(ours))
        .num("req_per_s_max", max(ours))
        .num("floor_req_per_s", f)
        .num("floor_req_per_s_min", common::min(floor))
        .num("floor_req_per_s_max", max(floor))
        .num("ratio_to_floor", ratio)
        .num("round_ratio_median", median(&mut round_ratios))
        .num("round_ratio_min", common::min(&round_ratios))
        .num("round_ratio_max", max(&round_ratios))
        .num("server_cpu_ns_per_req", oc)
        .num("floor_server_cpu_ns_per_req", fc)
        .num("server_cpu_ratio_to_floor", oc / fc)
        .text("goal", "ratio_to_floor>=0.8")
        .flag("goal_met", ratio >= 0.8)
        .print();
}

fn bench_rps_instr(cfg: &Config, conns: usize) {
    let (n1, n2) = cfg.instr_reqs;
    let line = Json::new("http_rps_instr")
        .text(
            "setup",
            "callgrind on the server process only; separate load client process",
        )
        .int("conns", conns as u64)
        .int("requests_per_conn_a", n1 as u64)
        .int("requests_per_conn_b", n2 as u64);
    if !procs::have("valgrind") {
        return line.text("skipped", "valgrind not found").print();
    }
    let dir = std::env::temp_dir().join(format!("kamaelia-http-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let one = |server: &str, n: usize| -> Result<u64, String> {
        let file = dir.join(format!("callgrind.{server}.{n}"));
        let wrap = [
            "valgrind".to_string(),
            "--tool=callgrind".into(),
            format!("--callgrind-out-file={}", file.display()),
        ];
        let srv = ServerProc::start(server, &wrap)?;
        let args = [srv.addr.to_string(), conns.to_string(), n.to_string()];
        let mut client = ClientProc::start("load", &args, true)?;
        client.go()?;
        drop(client);
        drop(srv);
        procs::callgrind_total(&file)
    };
    let per_req = |server: &str| -> Result<f64, String> {
        let a = one(server, n1)?;
        let b = one(server, n2)?;
        Ok((b as f64 - a as f64) / (conns * (n2 - n1)) as f64)
    };
    let r = per_req("ours")
        .and_then(|o| Ok((o, per_req("floor")?)))
        .and_then(|(o, f)| Ok((o, f, per_req("ours_stream")?)));
    let _ = std::fs::remove_dir_all(&dir);
    match r {
        Ok((o, f, s)) => line
            .num("instr_per_req", o)
            .num("floor_instr_per_req", f)
            .num("instr_ratio_to_floor", o / f)
            .num("stream_instr_per_req", s)
            .print(),
        Err(e) => line.text("error", &e).flag("goal_met", false).print(),
    }
}

/// RSS growth per idle connection of a fresh `server`.
fn idle_run(server: &str, n: usize) -> Result<f64, String> {
    let srv = ServerProc::start(server, &[])?;
    // One connection first, so the first request's one-off costs (lazy
    // set-up, the allocator's first arenas) are not counted per connection.
    let warm = ClientProc::start("idle", &[srv.addr.to_string(), "1".into()], true)?;
    std::thread::sleep(Duration::from_millis(100));
    let r0 = srv.rss().ok_or("no VmRSS")?;
    let client = ClientProc::start("idle", &[srv.addr.to_string(), n.to_string()], true)?;
    // Let the server finish with the last request.
    std::thread::sleep(Duration::from_millis(200));
    let r1 = srv.rss().ok_or("no VmRSS")?;
    drop(client);
    drop(warm);
    Ok((r1 as f64 - r0 as f64) / n as f64)
}

fn bench_idle_mem(cfg: &Config, fd_limit: u64) {
    let n = cfg.idle_conns;
    let line = Json::new("http_idle_mem")
        .text(
            "setup",
            "N keep-alive connections, one GET each, held open; server VmRSS growth / N",
        )
        .int("idle_conns", n as u64);
    if (n as u64) + 64 > fd_limit {
        return line
            .text("error", &format!("descriptor limit {fd_limit} too low"))
            .flag("goal_met", false)
            .print();
    }
    let r = idle_run("ours", n).and_then(|o| Ok((o, idle_run("floor", n)?)));
    match r {
        Ok((o, f)) => line
            .num("bytes_per_conn", o)
            .num("floor_bytes_per_conn", f)
            .text("goal", "bytes_per_conn<=16384")
            .flag("goal_met", o <= 16384.0)
            .print(),
        Err(e) => line.text("error", &e).flag("goal_met", false).print(),
    }
}

/// Seconds from the start of `cmd` until it exits successfully.
fn timed(mut cmd: Command) -> Result<f64, String> {
    let t0 = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("start: {e}"))?;
    let secs = t0.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!("exited with {}", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    match text.lines().next() {
        Some(l) if l.starts_with("error") => Err(l.to_string()),
        _ => Ok(secs),
    }
}

fn bench_download(cfg: &Config) {
    let len = cfg.download_bytes;
    let line = Json::new("http_download")
        .text(
            "setup",
            "local blocking server, Content-Length body from a reused 64 KiB buffer; SingleShotHttpClient counting (own process) vs curl -s -o /dev/null, interleaved, process start to exit",
        )
        .int("bytes", len)
        .int("rounds", cfg.download_rounds as u64);
    if !procs::have("curl") {
        return line
            .text("error", "curl not found")
            .flag("goal_met", false)
            .print();
    }
    let addr = match procs::blob_server(len) {
        Ok(a) => a,
        Err(e) => {
            return line
                .text("error", &format!("blob server: {e}"))
                .flag("goal_met", false)
                .print()
        }
    };
    let url = format!("http://{addr}/blob");
    let me = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return line.text("error", &e.to_string()).print(),
    };
    let mut rates = [Vec::new(), Vec::new()];
    let mut error = None;
    'rounds: for r in 0..cfg.download_rounds {
        for k in order(r) {
            let cmd = if k == 0 {
                let mut c = Command::new(&me);
                c.env(procs::ROLE, "dl")
                    .args([url.clone(), len.to_string()]);
                c
            } else {
                let mut c = Command::new("curl");
                c.args(["-s", "-f", "-o", "/dev/null", &url]);
                c
            };
            match timed(cmd) {
                Ok(secs) => rates[k].push(len as f64 / (1 << 20) as f64 / secs),
                Err(e) => {
                    error = Some(format!("{}: {e}", ["ours", "curl"][k]));
                    break 'rounds;
                }
            }
        }
    }
    if let Some(e) = error {
        return line.text("error", &e).flag("goal_met", false).print();
    }
    let [ours, curl] = &mut rates;
    let (o, c) = (median(ours), median(curl));
    line.num("mib_per_s", o)
        .num("mib_per_s_min", common::min(ours))
        .num("mib_per_s_max", max(ours))
        .num("curl_mib_per_s", c)
        .num("curl_mib_per_s_min", common::min(curl))
        .num("curl_mib_per_s_max", max(curl))
        .num("ratio_to_curl", o / c)
        .text("goal", "ratio_to_curl>=0.9")
        .flag("goal_met", o / c >= 0.9)
        .print();
}

fn main() {
    if procs::run_role() {
        return;
    }
    let fd_limit = procs::raise_fd_limit();
    let cfg = Config::from_env();
    let want = common::want;
    let t0 = Instant::now();
    if want("rps1") {
        bench_rps(&cfg, 1, cfg.req_single);
    }
    if want("rps64") {
        bench_rps(&cfg, 64, cfg.req_each_of_64);
    }
    if want("rps_instr") {
        bench_rps_instr(&cfg, 64);
    }
    if want("idle_mem") {
        bench_idle_mem(&cfg, fd_limit);
    }
    if want("download") {
        bench_download(&cfg);
    }
    eprintln!(
        "http bench ({}) took {:.1} s",
        if cfg.quick { "quick" } else { "full" },
        t0.elapsed().as_secs_f64()
    );
}
