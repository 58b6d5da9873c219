//! The plainest program that does the one-seed, four-downloader row's
//! work, run beside that row as the rate it could reach on this machine.
//!
//! Four receiver threads, each fed by a sender thread of its own over
//! loopback TCP, each taking the row's bytes in 1 MiB pieces, hashing every
//! piece with SHA-1 and writing it to a tmpfs file of its own; all eight
//! threads at once, on the same cores as the client row. That is what every
//! downloaded byte must cost (the send, the receive, the hash, the write),
//! with nothing else: no protocol, one thread per stream and no hand-off
//! between threads or processes. The senders either read the payload file
//! a piece at a time, as a seed that keeps nothing in memory must
//! ([`Source::File`]), or send one piece from memory over and over, the
//! best case ([`Source::Memory`]). `torrent_seed_four` prints both
//! (`plain_file_mb_per_s`, `plain_memory_mb_per_s`) and its own median as
//! a share of the file-reading program's median (`share_of_plain_file`).
//!
//! Unlike `torrent_cpu_floor`, which sums the parts measured one at a
//! time, this runs them as the client row does, together, so it also
//! counts what they cost each other (the memory bus, page allocation for
//! the tmpfs files and the socket buffers, two cores shared by eight
//! threads).

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

use sha1::{Digest, Sha1};

use crate::common::{clock_ns, min, CLOCK_PROCESS_CPUTIME_ID};

const PIECE: usize = 1 << 20;
const STREAMS: usize = 4;
const GIB: f64 = (1u64 << 30) as f64;

/// Where the senders take the bytes they send from.
#[derive(Clone, Copy)]
pub enum Source<'a> {
    /// One 1 MiB piece in memory, sent over and over: the best case (the
    /// sender reads nothing and its buffer stays in the CPU's cache).
    Memory,
    /// The payload file (tmpfs), read a piece at a time with `pread`, as
    /// a seed that keeps nothing in memory must.
    File(&'a Path),
}

/// The digest of every 1 MiB piece of what `source` sends.
fn digests(source: Source, pieces: usize) -> Vec<[u8; 20]> {
    match source {
        Source::Memory => vec![Sha1::digest(memory_piece()).into(); pieces],
        Source::File(path) => {
            // A piece at a time, as the senders read it: not the whole
            // payload in memory at once.
            let file = File::open(path).unwrap();
            let mut piece = vec![0u8; PIECE];
            (0..pieces)
                .map(|p| {
                    file.read_exact_at(&mut piece, (p * PIECE) as u64).unwrap();
                    Sha1::digest(&piece).into()
                })
                .collect()
        }
    }
}

fn memory_piece() -> Vec<u8> {
    (0..PIECE).map(|i| (i * 7 + i / 4096) as u8).collect()
}

/// Sends `pieces` pieces from `source` to `addr`.
fn send(addr: SocketAddr, source: Source, pieces: usize) {
    let mut out = TcpStream::connect(addr).unwrap();
    match source {
        Source::Memory => {
            let piece = memory_piece();
            for _ in 0..pieces {
                out.write_all(&piece).unwrap();
            }
        }
        Source::File(path) => {
            let file = File::open(path).unwrap();
            let mut piece = vec![0u8; PIECE];
            for p in 0..pieces {
                file.read_exact_at(&mut piece, (p * PIECE) as u64).unwrap();
                out.write_all(&piece).unwrap();
            }
        }
    }
}

/// Takes `pieces` pieces from `inp`, hashes each and writes it at its
/// offset in `file`. Returns the digests (so the hashing is kept).
fn receive(mut inp: TcpStream, file: File, pieces: usize) -> Vec<[u8; 20]> {
    let mut buf = vec![0u8; PIECE];
    let mut digests = Vec::with_capacity(pieces);
    for p in 0..pieces {
        inp.read_exact(&mut buf).unwrap();
        digests.push(Sha1::digest(&buf).into());
        file.write_all_at(&buf, (p * PIECE) as u64).unwrap();
    }
    digests
}

/// One round: (wall seconds, CPU seconds of the process).
fn round(source: Source, pieces: usize, want: &[[u8; 20]]) -> (f64, f64) {
    let dir = crate::storage::folder("plain-four");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let cpu0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    let t0 = Instant::now();
    let got = std::thread::scope(|s| {
        let mut receivers = Vec::new();
        for i in 0..STREAMS {
            s.spawn(move || send(addr, source, pieces));
            let (inp, _) = listener.accept().unwrap();
            let file = File::create(dir.join(format!("get{i}"))).unwrap();
            receivers.push(s.spawn(move || receive(inp, file, pieces)));
        }
        receivers
            .into_iter()
            .map(|r| r.join().unwrap())
            .collect::<Vec<_>>()
    });
    let wall = t0.elapsed().as_secs_f64();
    let cpu = (clock_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0) as f64 / 1e9;
    assert!(got.iter().all(|d| d == want), "every piece came over");
    for i in 0..STREAMS {
        let len = std::fs::metadata(dir.join(format!("get{i}")))
            .unwrap()
            .len();
        assert_eq!(len, (pieces * PIECE) as u64, "every piece was written");
    }
    std::fs::remove_dir_all(&dir).unwrap();
    (wall, cpu)
}

/// The plain program's runs: every round's aggregate MB/s in the order
/// run, and the CPU seconds per GiB of its cheapest round.
pub struct Plain {
    pub rates: Vec<f64>,
    pub cpu_s_per_gib: f64,
}

/// Runs the plain program `rounds` times, `bytes_each` (a whole number of
/// 1 MiB pieces) to each of the four receivers.
pub fn measure(source: Source, bytes_each: u64, rounds: usize) -> Plain {
    let pieces = bytes_each as usize / PIECE;
    let want = digests(source, pieces);
    let total = (STREAMS * pieces * PIECE) as f64;
    let (mut rates, mut cpus) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (wall, cpu) = round(source, pieces, &want);
        rates.push(total / 1e6 / wall);
        cpus.push(cpu * GIB / total);
    }
    Plain {
        rates,
        cpu_s_per_gib: min(&cpus),
    }
}
