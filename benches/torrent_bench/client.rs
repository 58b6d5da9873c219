//! BitTorrent client rows of `benches/torrent.rs` (issue 13): our client
//! driven as a user would drive it, every party a process of its own.
//!
//! The program is the `kamaelia` binary that `cargo bench` builds beside
//! the bench (`CARGO_BIN_EXE_kamaelia`: target/release/kamaelia, the bench
//! profile, i.e. release with line tables): `kamaelia make` makes the
//! torrents (v1), `kamaelia seed` and `kamaelia get` move them,
//! `kamaelia tracker` tracks them. Everything listens on 127.0.0.1. The
//! data goes on tmpfs (`/dev/shm`) when there is one, else in the temp
//! folder; each row says which (`fs`): on this VM's ext4 the page cache
//! takes writes at ~410 MB/s, so on disk the file system would be measured.
//!
//! A seeder checks (re-hashes) its data when it starts: that is not timed.
//! Each row waits for the seeder's status line to say `Seeding`, then
//! starts the downloaders; a download is timed from its process's spawn to
//! its exit (`kamaelia get` exits 0 only once every piece is verified), and
//! the file is then compared with the original byte for byte. CPU time is
//! user + system of all threads: the downloader's from `wait4`, the
//! seeder's over the timed window from `/proc/PID/stat`. `*_runqueue_wait_s`
//! is the time their threads were runnable but had no CPU (summed over
//! threads, `/proc/PID/task/*/schedstat`): large when other programs kept
//! this 2-core machine busy, or when our own processes outnumber the
//! cores. `loadavg_1m` is printed with every row. MB is 10^6 bytes.
//!
//! The seed-one and seed-four rows run three times each (a quick run:
//! once) and print the median run with every run's rate: on this shared
//! 2-core VM one run can be 10% off either way (first touches of memory
//! the host has taken back are slow; keep tmpfs free of other big files).
//!
//! Rows (goals from the issue; printed with whether they were met):
//! * `torrent_seed_one`: ours to ours, 1 GiB in one file (quick: 128 MiB),
//!   1 MiB pieces. Also the rate from the downloader's first status line
//!   with a peer connected (one a second: none may come before the end).
//!   Goal >= 1,000 MB/s.
//! * `torrent_seed_four`: one seed to 4 of ours at once, each given the
//!   seed and the 3 others with `--peer`; 256 MiB (quick: 64 MiB), 1 MiB
//!   pieces; 4 x size over the time from the first spawn to the last exit.
//!   Goal >= 1,200 MB/s. Right after, as many rounds of the plainest
//!   program doing the same work (`plain_four.rs`), its senders reading
//!   the payload file and, again, sending from memory; ours as a share of
//!   the first's median.
//! * `torrent_cold_start`: a 1 MiB torrent (256 KiB pieces) through
//!   `kamaelia tracker` (the seeder known to it first, by a scrape):
//!   `kamaelia get` from spawn to exit, median of 5 runs. Goal <= 0.05 s.
//! * `torrent_rss`: the downloaders' peak resident set (`VmHWM`, read every 20 ms) in
//!   the two rows above. Goal <= 64 MiB.
//! * `torrent_libtorrent_pair`: the transfer of `torrent_seed_one` (same
//!   file and .torrent) between two libtorrent processes (`lt_pair.py`
//!   under /usr/bin/python3), from the downloader's `add_torrent` to
//!   `is_seeding`, and ours / libtorrent. Skipped without
//!   python3-libtorrent.
//!
//! Every child has a deadline (and `--for` on our own): past it, it is
//! killed and the row prints an `error`. The bench's folder is removed at
//! the end.

#[path = "client_procs.rs"]
mod client_procs;
#[path = "client_cold.rs"]
mod cold;
#[path = "client_lt.rs"]
mod lt;
#[path = "plain_four.rs"]
mod plain_four;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{median, procs, quick, want, Json};
use client_procs::{free_ports, same_bytes, write_payload, Exit, Proc};
use plain_four::{Plain, Source};

const MIB: u64 = 1 << 20;
const MB: f64 = 1e6;
const ONE: &str = "torrent_seed_one";
const FOUR: &str = "torrent_seed_four";
const COLD: &str = "torrent_cold_start";
const RSS: &str = "torrent_rss";
const LT: &str = "torrent_libtorrent_pair";
/// Runs of the seed-one and seed-four rows (a quick run: 1).
const ROUNDS: usize = 3;
const PYTHON: &str = "/usr/bin/python3";
const LT_SCRIPT: &str = include_str!("lt_pair.py");

/// Where the bench works and with what.
struct Ctx {
    bin: PathBuf,
    dir: PathBuf,
    fs: String,
}

impl Ctx {
    fn new() -> Result<Ctx, String> {
        let bin = PathBuf::from(env!("CARGO_BIN_EXE_kamaelia"));
        if !bin.is_file() {
            return Err(format!("{} is missing", bin.display()));
        }
        let name = format!("kamaelia-client-bench-{}", std::process::id());
        let shm = Path::new("/dev/shm").join(&name);
        if std::fs::create_dir_all(&shm).is_ok() {
            return Ok(Ctx {
                bin,
                dir: shm,
                fs: "tmpfs /dev/shm".into(),
            });
        }
        let tmp = std::env::temp_dir().join(&name);
        std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
        let fs = format!(
            "{} (no /dev/shm: the file system is measured too)",
            tmp.display()
        );
        Ok(Ctx { bin, dir: tmp, fs })
    }

    fn kamaelia(&self) -> Command {
        Command::new(&self.bin)
    }

    /// A row's line with what every row says.
    fn line(&self, bench: &str, setup: &str) -> Json {
        Json::new(bench)
            .text("setup", setup)
            .text("fs", &self.fs)
            .num("loadavg_1m", procs::loadavg())
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How long a transfer of `bytes` may take before it is called stuck.
fn budget(bytes: u64) -> Duration {
    Duration::from_secs(15) + Duration::from_millis(bytes / 25_000)
}

/// A data file and its torrent.
struct Payload {
    data: PathBuf,
    torrent: PathBuf,
    bytes: u64,
    piece: u64,
    info_hash: String,
}

/// Writes `bytes` of data in `DIR/name/data/payload.bin` and makes its
/// torrent with `kamaelia make`.
fn prepare(
    ctx: &Ctx,
    name: &str,
    bytes: u64,
    piece: u64,
    announce: Option<&str>,
) -> Result<Payload, String> {
    let dir = ctx.dir.join(name);
    std::fs::create_dir_all(dir.join("data")).map_err(|e| e.to_string())?;
    let data = dir.join("data").join("payload.bin");
    write_payload(&data, bytes, bytes ^ 0x6b61_6d61)?;
    let torrent = dir.join("payload.torrent");
    let mut cmd = ctx.kamaelia();
    cmd.arg("make")
        .arg(&data)
        .arg("-o")
        .arg(&torrent)
        .args(["--piece-length", &piece.to_string()]);
    if let Some(url) = announce {
        cmd.args(["-a", url]);
    }
    let mut make = Proc::spawn("kamaelia make", &mut cmd)?;
    let (_, hash) = make.wait_line(Instant::now() + budget(bytes), |l| {
        l.len() == 40 && l.bytes().all(|b| b.is_ascii_hexdigit())
    })?;
    if !make.wait_exit(Instant::now() + budget(bytes))?.ok() {
        return Err(format!("kamaelia make failed; {}", make.last_lines()));
    }
    Ok(Payload {
        data,
        torrent,
        bytes,
        piece,
        info_hash: hash,
    })
}

/// `kamaelia seed` of `p` on `port`, once its status says `Seeding`.
fn start_seed(ctx: &Ctx, p: &Payload, port: u16, life: Duration) -> Result<Proc, String> {
    let mut cmd = ctx.kamaelia();
    cmd.arg("seed")
        .arg(&p.torrent)
        .arg("--data")
        .arg(&p.data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--for", &life.as_secs().to_string()]);
    let mut seed = Proc::spawn("kamaelia seed", &mut cmd)?;
    seed.wait_line(Instant::now() + budget(p.bytes), |l| {
        l.starts_with("seed: ") && l.ends_with(" Seeding")
    })?;
    Ok(seed)
}

/// `kamaelia get` of `p` into `out`, listening on `port`, given `peers`.
fn spawn_get(
    ctx: &Ctx,
    p: &Payload,
    out: &Path,
    port: u16,
    peers: &[u16],
    life: Duration,
) -> Result<Proc, String> {
    let mut cmd = ctx.kamaelia();
    cmd.arg("get")
        .arg(&p.torrent)
        .arg("-o")
        .arg(out)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--for", &life.as_secs().to_string()]);
    for peer in peers {
        cmd.args(["--peer", &format!("127.0.0.1:{peer}")]);
    }
    Proc::spawn("kamaelia get", &mut cmd)
}

/// A size written like the client's status line (`12.5 MiB`), in bytes.
fn parse_human(s: &str) -> Option<u64> {
    let (n, unit) = s.trim().split_once(' ')?;
    let n: f64 = n.parse().ok()?;
    let scale = match unit {
        "B" => 1u64,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => return None,
    };
    Some((n * scale as f64) as u64)
}

/// Bytes verified and peers connected of a `get:` status line
/// (`get: 12% 12.5 MiB/100.0 MiB down ... peers 1 (1 seeds) Downloading`).
fn parse_status(line: &str) -> Option<(u64, u64)> {
    let rest = line.strip_prefix("get: ")?;
    let (pct, rest) = rest.split_once("% ")?;
    pct.parse::<u64>().ok()?;
    let have = parse_human(rest.split_once('/')?.0)?;
    let peers = rest.split_once(" peers ")?.1.split_whitespace().next()?;
    Some((have, peers.parse().ok()?))
}

/// One download's figures.
struct GetRun {
    secs: f64,
    ended: Instant,
    cpu_s: f64,
    /// Seconds its threads were runnable but waiting for a CPU.
    runq_s: f64,
    peak_rss: u64,
    /// Seconds from the first status line with a peer connected (and the
    /// data not complete) to the exit, and the bytes still to come then.
    after_connected: Option<(f64, u64)>,
}

/// Waits for a download to end (nothing else is done meanwhile: the
/// other downloads of the row may still be running).
fn await_get(get: &mut Proc, deadline: Instant) -> Result<(Exit, Vec<(Instant, String)>), String> {
    let exit = get.wait_exit(deadline)?;
    Ok((exit, get.lines()))
}

/// Checks a download that ended: exit 0, `complete` said, the file the
/// same bytes as the original.
fn judge_get(
    get: &mut Proc,
    (exit, lines): (Exit, Vec<(Instant, String)>),
    p: &Payload,
    out: &Path,
) -> Result<GetRun, String> {
    if !exit.ok() {
        return Err(format!(
            "kamaelia get exited {:?}; {}",
            exit.code,
            get.last_lines()
        ));
    }
    if !lines
        .iter()
        .any(|(_, l)| l == "get: complete: every piece verified")
    {
        return Err(format!(
            "kamaelia get never said complete; {}",
            get.last_lines()
        ));
    }
    if !same_bytes(&p.data, &out.join("payload.bin")) {
        return Err("the downloaded file differs from the original".into());
    }
    let after_connected = lines.iter().find_map(|(at, l)| {
        let (have, peers) = parse_status(l)?;
        (peers > 0 && have < p.bytes)
            .then(|| (exit.at.duration_since(*at).as_secs_f64(), p.bytes - have))
    });
    Ok(GetRun {
        secs: exit.at.duration_since(get.started).as_secs_f64(),
        ended: exit.at,
        cpu_s: exit.cpu_ns as f64 / 1e9,
        runq_s: get.runqueue_wait_ns() as f64 / 1e9,
        peak_rss: exit.max_rss,
        after_connected,
    })
}

/// Row 1's figures, kept for the RSS and libtorrent rows.
struct OneRun {
    get: GetRun,
    seed_cpu_s: f64,
    seed_runq_s: f64,
    seed_peak_rss: u64,
}

fn seed_one(ctx: &Ctx, p: &Payload) -> Result<OneRun, String> {
    let ports = free_ports(2)?;
    let mut seed = start_seed(ctx, p, ports[0], budget(p.bytes) * 2)?;
    let out = ctx.dir.join("one-get");
    let (cpu0, runq0) = (seed.cpu_ns().unwrap_or(0), seed.runqueue_wait_ns());
    let mut get = spawn_get(ctx, p, &out, ports[1], &ports[..1], budget(p.bytes))?;
    let ended = await_get(&mut get, Instant::now() + budget(p.bytes))?;
    let (cpu1, runq1) = (seed.cpu_ns().unwrap_or(0), seed.runqueue_wait_ns());
    let seed_exit = seed.stop();
    let run = judge_get(&mut get, ended, p, &out);
    let _ = std::fs::remove_dir_all(&out);
    Ok(OneRun {
        get: run?,
        seed_cpu_s: cpu1.saturating_sub(cpu0) as f64 / 1e9,
        seed_runq_s: runq1.saturating_sub(runq0) as f64 / 1e9,
        seed_peak_rss: seed_exit.map_or(0, |e| e.max_rss),
    })
}

/// Row 2's figures.
struct FourRun {
    /// From the first spawn to the last exit.
    secs: f64,
    gets: Vec<GetRun>,
    seed_cpu_s: f64,
    seed_runq_s: f64,
    seed_peak_rss: u64,
}

fn seed_four(ctx: &Ctx, p: &Payload) -> Result<FourRun, String> {
    let ports = free_ports(5)?;
    let mut seed = start_seed(ctx, p, ports[0], budget(4 * p.bytes) * 2)?;
    let outs: Vec<PathBuf> = (0..4)
        .map(|i| ctx.dir.join(format!("four-get{i}")))
        .collect();
    let (cpu0, runq0) = (seed.cpu_ns().unwrap_or(0), seed.runqueue_wait_ns());
    let t0 = Instant::now();
    let mut gets = Vec::new();
    for (i, out) in outs.iter().enumerate() {
        let me = ports[1 + i];
        let peers: Vec<u16> = ports.iter().copied().filter(|&q| q != me).collect();
        gets.push(spawn_get(ctx, p, out, me, &peers, budget(4 * p.bytes))?);
    }
    let deadline = Instant::now() + budget(4 * p.bytes);
    let ended = gets
        .iter_mut()
        .map(|g| await_get(g, deadline))
        .collect::<Result<Vec<_>, _>>()?;
    let (cpu1, runq1) = (seed.cpu_ns().unwrap_or(0), seed.runqueue_wait_ns());
    let seed_exit = seed.stop();
    let runs = gets
        .iter_mut()
        .zip(ended)
        .zip(&outs)
        .map(|((g, e), out)| judge_get(g, e, p, out))
        .collect::<Result<Vec<_>, _>>();
    for out in &outs {
        let _ = std::fs::remove_dir_all(out);
    }
    let runs = runs?;
    let last = runs.iter().map(|r| r.ended).max().unwrap_or(t0);
    Ok(FourRun {
        secs: last.duration_since(t0).as_secs_f64(),
        gets: runs,
        seed_cpu_s: cpu1.saturating_sub(cpu0) as f64 / 1e9,
        seed_runq_s: runq1.saturating_sub(runq0) as f64 / 1e9,
        seed_peak_rss: seed_exit.map_or(0, |e| e.max_rss),
    })
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

fn list(v: impl Iterator<Item = f64>) -> String {
    v.map(|x| format!("{x:.3}")).collect::<Vec<_>>().join(" ")
}

/// Runs a row once to warm up, then `n` times (one run alone says little
/// on a shared 2-core VM): the median of the `n` by time, every counted
/// run's rate in the order run (`rate` of its seconds), the warm-up's
/// rate, and the largest peak RSS of any run, the warm-up's too
/// (`peak_rss`).
///
/// Why a warm-up: this VM gives freed memory back to its host at once
/// (free page reporting), and the next touch of such a page costs
/// microseconds. A row's first run, on memory the bench's own set-up has
/// just written and freed, often takes two to three times the CPU of the
/// runs after it (seen: 342, then 994 and 975 MB/s). Its rate is printed
/// (`warmup_mb_per_s`), not counted.
fn rounds<T>(
    n: usize,
    mut run: impl FnMut() -> Result<T, String>,
    secs: impl Fn(&T) -> f64,
    rate: impl Fn(f64) -> f64,
    peak_rss: impl Fn(&T) -> u64,
) -> Result<Rounds<T>, String> {
    let warmup = run()?;
    let mut runs = std::iter::repeat_with(run)
        .take(n)
        .collect::<Result<Vec<_>, _>>()?;
    let rates = list(runs.iter().map(|r| rate(secs(r))));
    let warmup_rss = peak_rss(&warmup);
    let peak_rss = runs.iter().map(peak_rss).max().unwrap_or(0);
    runs.sort_by(|a, b| secs(a).total_cmp(&secs(b)));
    let median = runs.into_iter().nth(n / 2).ok_or("no run")?;
    Ok(Rounds {
        median,
        rates,
        warmup_rate: rate(secs(&warmup)),
        peak_rss: peak_rss.max(warmup_rss),
    })
}

/// A row's runs: the median one, every counted run's rate, the warm-up's
/// rate, the largest peak RSS.
struct Rounds<T> {
    median: T,
    rates: String,
    warmup_rate: f64,
    /// The largest peak RSS of any downloader in any run.
    peak_rss: u64,
}

/// `line` with `rate`'s share of the floor row's ceiling, if that row ran.
fn share_of_ceiling(line: Json, rate: f64, ceiling: Option<f64>) -> Json {
    match ceiling {
        Some(c) => line
            .num("ceiling_mb_per_s", c)
            .num("share_of_ceiling", rate / c),
        None => line,
    }
}

fn print_one(ctx: &Ctx, p: &Payload, r: &Rounds<OneRun>, ceiling: Option<f64>) {
    let one = &r.median;
    let g = &one.get;
    let rate = p.bytes as f64 / MB / g.secs;
    let line = ctx
        .line(
            ONE,
            "kamaelia seed (data checked before) -> kamaelia get --peer, loopback; from get's spawn to its exit; the median of the rounds",
        )
        .int("bytes", p.bytes)
        .int("piece_length", p.piece)
        .num("secs", g.secs)
        .num("mb_per_s", rate)
        .text("rounds_mb_per_s", &r.rates)
        .num("warmup_mb_per_s", r.warmup_rate);
    let line = match g.after_connected {
        Some((secs, left)) => line.num("secs_after_first_connected_status", secs).num(
            "mb_per_s_after_first_connected_status",
            left as f64 / MB / secs,
        ),
        None => line.text(
            "first_connected_status",
            "none before the end (one status line a second)",
        ),
    };
    share_of_ceiling(line, rate, ceiling)
        .num("get_cpu_s", g.cpu_s)
        .num("seed_cpu_s", one.seed_cpu_s)
        .num("get_runqueue_wait_s", g.runq_s)
        .num("seed_runqueue_wait_s", one.seed_runq_s)
        .num("get_peak_rss_mib", mib(g.peak_rss))
        .num("seed_peak_rss_mib", mib(one.seed_peak_rss))
        .text("goal", "mb_per_s>=1000")
        .flag("goal_met", rate >= 1000.0)
        .print();
}

/// The plain program's two runs beside the four-downloader row.
struct Plains {
    file: Plain,
    memory: Plain,
}

fn print_four(ctx: &Ctx, p: &Payload, r: &Rounds<FourRun>, plain: &Plains, ceiling: Option<f64>) {
    let four = &r.median;
    let rate = 4.0 * p.bytes as f64 / MB / four.secs;
    let plain_file_rate = median(&mut plain.file.rates.clone());
    let line = ctx.line(
        FOUR,
        "kamaelia seed -> 4 kamaelia get at once, each --peer the seed and the 3 others; 4 x bytes from the first spawn to the last exit; the median of the rounds",
    )
    .int("bytes_each", p.bytes)
    .int("piece_length", p.piece)
    .num("secs", four.secs)
    .num("aggregate_mb_per_s", rate)
    .text("rounds_aggregate_mb_per_s", &r.rates)
    .num("warmup_aggregate_mb_per_s", r.warmup_rate)
    .text("get_secs", &list(four.gets.iter().map(|g| g.secs)))
    .text("get_cpu_s", &list(four.gets.iter().map(|g| g.cpu_s)))
    .num("seed_cpu_s", four.seed_cpu_s)
    .text("get_runqueue_wait_s", &list(four.gets.iter().map(|g| g.runq_s)))
    .num("seed_runqueue_wait_s", four.seed_runq_s)
    .num("seed_peak_rss_mib", mib(four.seed_peak_rss))
    .text("plain_file_mb_per_s", &list(plain.file.rates.iter().copied()))
    .num("plain_file_cpu_s_per_gib", plain.file.cpu_s_per_gib)
    .text("plain_memory_mb_per_s", &list(plain.memory.rates.iter().copied()))
    .num("plain_memory_cpu_s_per_gib", plain.memory.cpu_s_per_gib)
    .num("share_of_plain_file", rate / plain_file_rate);
    share_of_ceiling(line, rate, ceiling)
        .text("goal", "aggregate_mb_per_s>=1200")
        .flag("goal_met", rate >= 1200.0)
        .print();
}

fn print_rss(
    ctx: &Ctx,
    one: Option<(&Payload, &Rounds<OneRun>)>,
    four: Option<(&Payload, &Rounds<FourRun>)>,
) {
    let mut line = ctx.line(
        RSS,
        "peak resident set (VmHWM, read every 20 ms) of each kamaelia get of torrent_seed_one and torrent_seed_four, the largest over their rounds",
    );
    let mut peak = 0;
    if let Some((p, one)) = one {
        peak = peak.max(one.peak_rss);
        line = line
            .int("seed_one_bytes", p.bytes)
            .num("seed_one_get_peak_rss_mib", mib(one.peak_rss));
    }
    if let Some((p, four)) = four {
        peak = peak.max(four.peak_rss);
        line = line.int("seed_four_bytes_each", p.bytes).text(
            "seed_four_median_round_get_peak_rss_mib",
            &list(four.median.gets.iter().map(|g| mib(g.peak_rss))),
        );
    }
    line.num("max_peak_rss_mib", mib(peak))
        .text("goal", "max_peak_rss_mib<=64")
        .flag("goal_met", peak <= 64 * MIB)
        .print();
}

/// The client rows (each may be picked with `BENCH_ROWS`); `ceiling` is
/// the floor row's, when it ran in this invocation.
pub fn run(ceiling: Option<f64>) {
    let need_one = want(ONE) || want(RSS) || want(LT);
    let need_four = want(FOUR) || want(RSS);
    if !(need_one || need_four || want(COLD)) {
        return;
    }
    procs::raise_fd_limit();
    let ctx = match Ctx::new() {
        Ok(c) => c,
        Err(e) => return Json::new(ONE).text("error", &e).print(),
    };
    let (one_bytes, four_bytes, n) = if quick() {
        (128 * MIB, 64 * MIB, 1)
    } else {
        (1024 * MIB, 256 * MIB, ROUNDS)
    };
    let mut one = None;
    let mut one_payload = None;
    if need_one {
        match prepare(&ctx, "one", one_bytes, MIB, None).and_then(|p| {
            let r = rounds(
                n,
                || seed_one(&ctx, &p),
                |r| r.get.secs,
                |secs| p.bytes as f64 / MB / secs,
                |r| r.get.peak_rss,
            )?;
            Ok((p, r))
        }) {
            Ok((p, r)) => {
                if want(ONE) {
                    print_one(&ctx, &p, &r, ceiling);
                }
                one = Some(r);
                one_payload = Some(p);
            }
            Err(e) => ctx.line(ONE, "").text("error", &e).print(),
        }
    }
    let mut four = None;
    if need_four {
        match prepare(&ctx, "four", four_bytes, MIB, None).and_then(|p| {
            let r = rounds(
                n,
                || seed_four(&ctx, &p),
                |r| r.secs,
                |secs| 4.0 * p.bytes as f64 / MB / secs,
                |r| r.gets.iter().map(|g| g.peak_rss).max().unwrap_or(0),
            );
            // Right after ours, on the same payload, as many rounds.
            let plain = (r.is_ok() && want(FOUR)).then(|| Plains {
                file: plain_four::measure(Source::File(&p.data), p.bytes, n),
                memory: plain_four::measure(Source::Memory, p.bytes, n),
            });
            let _ = std::fs::remove_dir_all(ctx.dir.join("four"));
            Ok((p, r?, plain))
        }) {
            Ok((p, r, plain)) => {
                if let Some(plain) = plain {
                    print_four(&ctx, &p, &r, &plain, ceiling);
                }
                four = Some((p, r));
            }
            Err(e) => ctx.line(FOUR, "").text("error", &e).print(),
        }
    }
    if want(RSS) {
        print_rss(
            &ctx,
            one_payload.as_ref().zip(one.as_ref()),
            four.as_ref().map(|(p, r)| (p, r)),
        );
    }
    if want(COLD) {
        cold::run(&ctx);
    }
    if want(LT) {
        lt::run(
            &ctx,
            one_payload.as_ref().zip(one.as_ref().map(|r| &r.median)),
        );
    }
}
