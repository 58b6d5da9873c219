//! The `torrent_cold_start` row (see `client.rs`): `kamaelia tracker` on
//! 127.0.0.1, a 1 MiB torrent announcing to it, `kamaelia seed` of it
//! (checked, and known to the tracker: a scrape counts it complete), then
//! `kamaelia get` of the .torrent (no `--peer`: the tracker gives it the
//! seed) five times, each into a fresh folder, each timed from its spawn
//! to its exit. Goal: median <= 0.05 s.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use kamaelia::protocol::torrent::tracker::http_wire::percent_encode;

use super::client_procs::{free_ports, Proc};
use super::{await_get, judge_get, prepare, spawn_get, start_seed, Ctx, COLD, MIB};
use crate::common::{median, min};

const RUNS: usize = 5;
const PIECE: u64 = 256 * 1024;

/// Whether the tracker at `addr` counts a seeder of `info_hash` (hex).
fn tracked(addr: &str, info_hash: &str) -> Result<bool, String> {
    let hash: Vec<u8> = (0..20)
        .map(|i| u8::from_str_radix(&info_hash[2 * i..2 * i + 2], 16))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("info-hash {info_hash}: {e}"))?;
    let mut q = String::from("GET /scrape?info_hash=");
    percent_encode(&mut q, &hash);
    q.push_str(" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    let mut s = TcpStream::connect(addr).map_err(|e| format!("scrape: {e}"))?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    s.write_all(q.as_bytes())
        .map_err(|e| format!("scrape: {e}"))?;
    let mut reply = Vec::new();
    s.read_to_end(&mut reply)
        .map_err(|e| format!("scrape: {e}"))?;
    let text = String::from_utf8_lossy(&reply);
    let complete = text
        .split_once("8:completei")
        .and_then(|(_, rest)| rest.split_once('e'))
        .and_then(|(n, _)| n.parse::<u64>().ok());
    Ok(complete.is_some_and(|n| n >= 1))
}

/// The five runs' seconds.
fn runs(ctx: &Ctx) -> Result<Vec<f64>, String> {
    let mut cmd = ctx.kamaelia();
    cmd.args(["tracker", "--http", "127.0.0.1:0"]);
    let mut tracker = Proc::spawn("kamaelia tracker", &mut cmd)?;
    let (_, line) = tracker.wait_line(Instant::now() + Duration::from_secs(10), |l| {
        l.starts_with("http tracker on http://")
    })?;
    let url = line["http tracker on ".len()..].to_string();
    let addr = url["http://".len()..]
        .split_once('/')
        .map(|(a, _)| a.to_string())
        .ok_or_else(|| format!("no address in {line:?}"))?;
    let p = prepare(ctx, "cold", MIB, PIECE, Some(&url))?;
    let ports = free_ports(1 + RUNS)?;
    let mut seed = start_seed(ctx, &p, ports[0], Duration::from_secs(120))?;
    let end = Instant::now() + Duration::from_secs(10);
    while !tracked(&addr, &p.info_hash)? {
        if Instant::now() > end {
            return Err("the tracker never counted the seed".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut secs = Vec::new();
    for (i, &port) in ports[1..].iter().enumerate() {
        let out = ctx.dir.join(format!("cold-get{i}"));
        let mut get = spawn_get(ctx, &p, &out, port, &[], Duration::from_secs(20))?;
        let ended = await_get(&mut get, Instant::now() + Duration::from_secs(30))?;
        secs.push(judge_get(&mut get, ended, &p, &out)?.secs);
        let _ = std::fs::remove_dir_all(&out);
    }
    seed.stop();
    tracker.stop();
    Ok(secs)
}

pub(super) fn run(ctx: &Ctx) {
    let line = ctx
        .line(
            COLD,
            "kamaelia tracker + kamaelia seed on loopback; kamaelia get FILE.torrent (peers from the tracker) from spawn to exit",
        )
        .int("bytes", MIB)
        .int("piece_length", PIECE)
        .int("runs", RUNS as u64);
    match runs(ctx) {
        Ok(mut secs) => {
            let all = super::list(secs.iter().copied());
            let (lo, hi) = (min(&secs), secs.iter().copied().fold(0.0, f64::max));
            let med = median(&mut secs);
            line.num("median_secs", med)
                .num("min_secs", lo)
                .num("max_secs", hi)
                .text("all_secs", &all)
                .text("goal", "median_secs<=0.05")
                .flag("goal_met", med <= 0.05)
                .print()
        }
        Err(e) => line.text("error", &e).print(),
    }
}
