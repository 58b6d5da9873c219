//! The `torrent_libtorrent_pair` row (see `client.rs`): the transfer of
//! `torrent_seed_one` (the same file and .torrent) between two libtorrent
//! processes (`lt_pair.py` under /usr/bin/python3, written into the
//! bench's folder), timed in the downloader from its `add_torrent` to
//! `is_seeding`, beside ours from that row (from `kamaelia get`'s spawn to
//! its exit, so ours carries its process start besides). No goal from the
//! issue: the ratio ours / libtorrent is printed.

use std::process::{Command, Stdio};
use std::time::Instant;

use super::client_procs::{free_ports, same_bytes, Proc};
use super::{budget, mib, Ctx, OneRun, Payload, LT, LT_SCRIPT, MB, PYTHON};

/// libtorrent's figures.
struct LtRun {
    secs: f64,
    first_peer_secs: f64,
    process_secs: f64,
    get_cpu_s: f64,
    seed_cpu_s: f64,
    get_runq_s: f64,
    seed_runq_s: f64,
    peak_rss: u64,
}

fn have_libtorrent() -> bool {
    Command::new(PYTHON)
        .args(["-c", "import libtorrent"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The number after `key ` in one of `lines`.
fn said(lines: &[(Instant, String)], key: &str) -> Option<u64> {
    lines
        .iter()
        .find_map(|(_, l)| l.strip_prefix(key)?.trim().parse().ok())
}

fn pair(ctx: &Ctx, p: &Payload) -> Result<LtRun, String> {
    let script = ctx.dir.join("lt_pair.py");
    std::fs::write(&script, LT_SCRIPT).map_err(|e| format!("{}: {e}", script.display()))?;
    let ports = free_ports(2)?;
    let data_dir = p.data.parent().expect("a folder");
    let life = budget(p.bytes) * 2;
    let mut cmd = Command::new(PYTHON);
    cmd.arg(&script)
        .arg("seed")
        .arg(&p.torrent)
        .arg(data_dir)
        .arg(ports[0].to_string())
        .arg(life.as_secs().to_string());
    let mut seed = Proc::spawn("libtorrent seed", &mut cmd)?;
    let (_, said_seed) = seed.wait_line(Instant::now() + budget(p.bytes), |l| {
        l.starts_with("seeding") || l.starts_with("error")
    })?;
    if said_seed.starts_with("error") {
        return Err(format!("libtorrent seed: {said_seed}"));
    }
    let out = ctx.dir.join("lt-get");
    let (cpu0, runq0) = (seed.cpu_ns().unwrap_or(0), seed.runqueue_wait_ns());
    let mut cmd = Command::new(PYTHON);
    cmd.arg(&script)
        .arg("get")
        .arg(&p.torrent)
        .arg(&out)
        .arg(ports[1].to_string())
        .arg(format!("127.0.0.1:{}", ports[0]))
        .arg(budget(p.bytes).as_secs().to_string());
    let mut get = Proc::spawn("libtorrent get", &mut cmd)?;
    let exit = get.wait_exit(Instant::now() + budget(p.bytes) + budget(0))?;
    let (cpu1, runq1) = (seed.cpu_ns().unwrap_or(0), seed.runqueue_wait_ns());
    seed.stop();
    let lines = get.lines();
    let result = match (said(&lines, "done "), said(&lines, "first_peer ")) {
        (Some(done), Some(first)) if exit.ok() => {
            if same_bytes(&p.data, &out.join("payload.bin")) {
                Ok(LtRun {
                    secs: done as f64 / 1e9,
                    first_peer_secs: first as f64 / 1e9,
                    process_secs: exit.at.duration_since(get.started).as_secs_f64(),
                    get_cpu_s: exit.cpu_ns as f64 / 1e9,
                    seed_cpu_s: cpu1.saturating_sub(cpu0) as f64 / 1e9,
                    get_runq_s: get.runqueue_wait_ns() as f64 / 1e9,
                    seed_runq_s: runq1.saturating_sub(runq0) as f64 / 1e9,
                    peak_rss: exit.max_rss,
                })
            } else {
                Err("libtorrent's download differs from the original".into())
            }
        }
        _ => Err(format!(
            "libtorrent get exited {:?}; {}",
            exit.code,
            get.last_lines()
        )),
    };
    let _ = std::fs::remove_dir_all(&out);
    result
}

pub(super) fn run(ctx: &Ctx, ours: Option<(&Payload, &OneRun)>) {
    let line = ctx.line(
        LT,
        "libtorrent (python3-libtorrent) seed -> libtorrent get, connect_peer, loopback, TCP only; from add_torrent to is_seeding; same file and .torrent as torrent_seed_one",
    );
    let Some((p, one)) = ours else {
        return line
            .text("error", "torrent_seed_one did not run: nothing to compare")
            .print();
    };
    if !have_libtorrent() {
        return line
            .text("skipped", "python3-libtorrent not found (/usr/bin/python3)")
            .print();
    }
    let line = line.int("bytes", p.bytes).int("piece_length", p.piece);
    match pair(ctx, p) {
        Ok(lt) => {
            let rate = p.bytes as f64 / MB / lt.secs;
            let ours_rate = p.bytes as f64 / MB / one.get.secs;
            line.num("libtorrent_secs", lt.secs)
                .num("libtorrent_mb_per_s", rate)
                .num("libtorrent_first_peer_secs", lt.first_peer_secs)
                .num("libtorrent_process_secs", lt.process_secs)
                .num("libtorrent_get_cpu_s", lt.get_cpu_s)
                .num("libtorrent_seed_cpu_s", lt.seed_cpu_s)
                .num("libtorrent_get_runqueue_wait_s", lt.get_runq_s)
                .num("libtorrent_seed_runqueue_wait_s", lt.seed_runq_s)
                .num("libtorrent_get_peak_rss_mib", mib(lt.peak_rss))
                .num("ours_secs", one.get.secs)
                .num("ours_mb_per_s", ours_rate)
                .num("ours_get_cpu_s", one.get.cpu_s)
                .num("ratio_ours_to_libtorrent", ours_rate / rate)
                .print()
        }
        Err(e) => line.text("error", &e).print(),
    }
}
