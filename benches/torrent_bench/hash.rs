//! SHA-1 piece hashing and the torrent maker.
//!
//! * `sha1_pieces`: MB/s of [`PieceHasher`] on one thread over an
//!   in-memory buffer (64 MiB, hashed in 256 KiB pieces; 16 MiB quick),
//!   best and median of several rounds. `sha_ni` says whether this CPU has
//!   the instructions the `sha1` crate's fast path needs (`sha`, `sse2`,
//!   `ssse3`, `sse4.1`: what its `cpufeatures` check asks); the crate picks
//!   that path at run time by itself. Goal: >= 1,500 MB/s with SHA-NI.
//! * `maker_file`: the whole maker ([`make`]: walk, read, hash, encode) on
//!   a temporary file of 256 MiB (64 MiB quick) already in the page cache,
//!   with its default threads, against `mktorrent -d` (its default
//!   threads, one per core) on the same file run as a process of its own,
//!   rounds interleaved; medians and `ratio_to_mktorrent` (ours MB/s over
//!   theirs), and each side's CPU seconds per GB (ours: this process's CPU
//!   clock; mktorrent: `getrusage(RUSAGE_CHILDREN)`). Checked: both give
//!   the same info-hash. Skipped (with a note on stderr) without mktorrent.
//!
//! Rates by wall clock fall when the machine is shared (`loadavg` is in
//! each row); `mb_s_cpu` (bytes per second of this thread's CPU time) is
//! what the SHA-1 goal is judged on.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use kamaelia::protocol::torrent::bencode;
use kamaelia::protocol::torrent::maker::{make, MakeTorrent, PieceHasher};
use sha1::{Digest, Sha1};

use crate::common::procs::{children_cpu_ns, loadavg};
use crate::common::{
    clock_ns, median, quick, want, Json, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID,
};

const PIECE: usize = 256 << 10;

pub fn run() {
    if want("sha1_pieces") {
        sha1_pieces();
    }
    if want("maker_file") {
        maker_file();
    }
}

/// What the `sha1` crate's x86 fast path requires, as the CPU reports it.
fn sha_ni() -> bool {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        std::is_x86_feature_detected!("sha")
            && std::is_x86_feature_detected!("sse2")
            && std::is_x86_feature_detected!("ssse3")
            && std::is_x86_feature_detected!("sse4.1")
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    {
        false
    }
}

/// Bytes that are not all alike (a cheap generator; SHA-1 does not care).
fn filler(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn sha1_pieces() {
    let (len, rounds) = if quick() {
        (16 << 20, 5)
    } else {
        (64 << 20, 9)
    };
    let data = filler(len);
    // Warm up (and check against whole-buffer SHA-1 of each piece).
    let mut h = PieceHasher::new(PIECE, 1);
    h.update(&data);
    let pieces = h.finish();
    assert_eq!(&pieces[..20], &Sha1::digest(&data[..PIECE])[..]);
    let mut rates = Vec::new();
    let mut cpu_rates = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let c = clock_ns(CLOCK_THREAD_CPUTIME_ID);
        let mut h = PieceHasher::new(PIECE, 1);
        h.update(&data);
        let p = h.finish();
        let cpu = (clock_ns(CLOCK_THREAD_CPUTIME_ID) - c) as f64 / 1e9;
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(p, pieces);
        rates.push(len as f64 / secs / 1e6);
        cpu_rates.push(len as f64 / cpu / 1e6);
    }
    let best = rates.iter().copied().fold(0.0, f64::max);
    let mid = median(&mut rates);
    let cpu_mid = median(&mut cpu_rates);
    // The goal is judged on CPU time: one core's speed, whatever else runs.
    Json::new("sha1_pieces")
        .int("bytes", len as u64)
        .int("piece_length", PIECE as u64)
        .int("threads", 1)
        .flag("sha_ni", sha_ni())
        .num("mb_s", mid)
        .num("mb_s_best", best)
        .num("mb_s_cpu", cpu_mid)
        .num("loadavg", loadavg())
        .int("goal_mb_s", 1500)
        .flag("meets_goal", cpu_mid >= 1500.0)
        .print();
}

fn have_mktorrent() -> bool {
    Command::new("sh")
        .args(["-c", "command -v mktorrent"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Removes the bench's temporary folder however the bench ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn maker_file() {
    if !have_mktorrent() {
        eprintln!(
            "maker_file: skipped: mktorrent not installed (Debian: apt-get install -y mktorrent)"
        );
        return;
    }
    let (len, rounds) = if quick() {
        (64usize << 20, 3)
    } else {
        (256usize << 20, 5)
    };
    let dir =
        Scratch(std::env::temp_dir().join(format!("kamaelia-bench-maker-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    let file = dir.0.join("data.bin");
    let block = filler(1 << 20);
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&file).unwrap();
        for _ in 0..len >> 20 {
            f.write_all(&block).unwrap();
        }
    }
    // Into the page cache, so both read the same warm file.
    let _ = std::fs::read(&file).unwrap();
    let out = dir.0.join("mk.torrent");
    let req = MakeTorrent::new(&file).creation_date(None);
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let (mut ours_cpu, mut theirs_cpu) = (0u64, 0u64);
    for round in 0..rounds {
        // Alternate who goes first.
        for turn in 0..2 {
            if (round + turn) % 2 == 0 {
                let t = Instant::now();
                let c = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
                let made = make(&req).unwrap();
                ours.push(len as f64 / t.elapsed().as_secs_f64() / 1e6);
                ours_cpu += clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c;
                if round == 0 {
                    let theirs_hash = mktorrent_hash(&file, &out);
                    assert_eq!(made.info_hash, theirs_hash, "maker and mktorrent disagree");
                }
            } else {
                let c = children_cpu_ns();
                let secs = time_mktorrent(&file, &out);
                theirs.push(len as f64 / secs / 1e6);
                theirs_cpu += children_cpu_ns() - c;
            }
        }
    }
    let threads = req.threads;
    let ours_mb = median(&mut ours);
    let theirs_mb = median(&mut theirs);
    Json::new("maker_file")
        .int("bytes", len as u64)
        .int("piece_length", PIECE as u64)
        .int("threads", threads as u64)
        .int("rounds", rounds as u64)
        .num("mb_s", ours_mb)
        .num("mktorrent_mb_s", theirs_mb)
        .num("ratio_to_mktorrent", ours_mb / theirs_mb)
        .num(
            "cpu_s_per_gb",
            ours_cpu as f64 / 1e9 / (rounds * len) as f64 * 1e9,
        )
        .num(
            "mktorrent_cpu_s_per_gb",
            theirs_cpu as f64 / 1e9 / (rounds * len) as f64 * 1e9,
        )
        .num("loadavg", loadavg())
        .print();
}

/// Seconds `mktorrent -d` takes on `file`, process start to exit.
fn time_mktorrent(file: &Path, out: &Path) -> f64 {
    let _ = std::fs::remove_file(out);
    let t = Instant::now();
    let st = Command::new("mktorrent")
        .arg("-d")
        .arg("-o")
        .arg(out)
        .arg(file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("mktorrent runs");
    let secs = t.elapsed().as_secs_f64();
    assert!(st.success(), "mktorrent failed");
    secs
}

fn mktorrent_hash(file: &Path, out: &Path) -> [u8; 20] {
    time_mktorrent(file, out);
    let bytes = std::fs::read(out).unwrap();
    let v = bencode::decode(&bytes).unwrap();
    let info = v
        .as_dict()
        .unwrap()
        .get(b"info")
        .unwrap()
        .as_dict()
        .unwrap();
    Sha1::digest(info.raw()).into()
}
