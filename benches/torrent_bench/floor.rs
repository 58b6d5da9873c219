//! What moving a gigabyte through a downloader costs this machine at the
//! least, whatever the client: the floor under the client rows' rates.
//!
//! * `torrent_cpu_floor`: CPU seconds per GiB of the three things every
//!   downloaded byte must go through, each measured alone, in process, on
//!   256 MiB (64 MiB quick), the least of 3 rounds (2 quick): on this VM
//!   one round can cost half again as much as another, as the host hands
//!   back memory slowly (socket buffers and tmpfs pages are new memory
//!   each time). SHA-1 with the `sha1` crate (1 MiB pieces);
//!   writing the pieces to a tmpfs file with [`Storage::write_piece`];
//!   and sending them over loopback TCP between two threads with plain
//!   blocking `std::net` sockets and 256 KiB buffers (both threads' CPU:
//!   on loopback the sender's system calls also deliver to the receiver).
//!   Their sum is `floor_cpu_s_per_gib`; `cores` CPUs spending nothing
//!   else could move at most `ceiling_mb_per_s` = cores x 1 GiB / floor.
//!   The one-seed, four-downloader row (goal 1,200 MB/s) runs on the same
//!   cores, so its rate is held under this ceiling. Not counted: the
//!   seeder's reads, our own code, page faults and scheduling. When this
//!   row runs, the client rows after it print their rate as a share of the
//!   ceiling (`share_of_ceiling`): how much of this machine the client
//!   used, which a bare MB/s cannot say when machines differ.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use bytes::Bytes;
use kamaelia::protocol::torrent::metainfo::FileEntry;
use kamaelia::protocol::torrent::storage::{Storage, StorageOptions};
use sha1::{Digest, Sha1};

use crate::common::{clock_ns, min, quick, want, Json, CLOCK_THREAD_CPUTIME_ID};

const PIECE: usize = 1 << 20;
const BLOCK: usize = 16 << 10;
const CHUNK: usize = 256 << 10;
const GIB: f64 = (1u64 << 30) as f64;

/// Runs the row if it is wanted, and answers its ceiling (MB/s) for the
/// client rows run after it.
pub fn run() -> Option<f64> {
    want("torrent_cpu_floor").then(cpu_floor)
}

/// This thread's CPU seconds to run `f`.
fn cpu_s<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    let out = f();
    ((clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0) as f64 / 1e9, out)
}

fn sha1_s(piece: &[u8], pieces: usize) -> f64 {
    let (s, digest) = cpu_s(|| {
        let mut last = [0u8; 20];
        for _ in 0..pieces {
            last = Sha1::digest(piece).into();
        }
        last
    });
    std::hint::black_box(digest);
    s
}

fn write_s(blocks: &[Bytes], pieces: usize) -> f64 {
    let dir = crate::storage::folder("floor");
    let file = [FileEntry {
        path: vec!["data".into()],
        length: (pieces * PIECE) as u64,
        offset: 0,
        padding: false,
    }];
    let mut storage =
        Storage::from_files(&file, PIECE as u64, &dir, StorageOptions::default()).unwrap();
    let (s, ()) = cpu_s(|| {
        for p in 0..pieces as u32 {
            storage.write_piece(p, blocks).expect("write_piece");
        }
    });
    drop(storage);
    std::fs::remove_dir_all(&dir).unwrap();
    s
}

/// Both threads' CPU seconds to send `bytes` over loopback TCP.
fn loopback_s(bytes: usize) -> f64 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let sender = std::thread::spawn(move || {
        let mut out = TcpStream::connect(addr).unwrap();
        let chunk = vec![0x5Au8; CHUNK];
        cpu_s(|| {
            let mut left = bytes;
            while left > 0 {
                let n = left.min(CHUNK);
                out.write_all(&chunk[..n]).unwrap();
                left -= n;
            }
        })
        .0
    });
    let (mut inp, _) = listener.accept().unwrap();
    let (recv_s, got) = cpu_s(|| {
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0;
        loop {
            match inp.read(&mut buf).unwrap() {
                0 => break got,
                n => got += n,
            }
        }
    });
    assert_eq!(got, bytes, "every byte came over");
    recv_s + sender.join().unwrap()
}

fn cpu_floor() -> f64 {
    let bytes = if quick() { 64 << 20 } else { 256 << 20 };
    let pieces = bytes / PIECE;
    let piece: Vec<u8> = (0..PIECE).map(|i| (i * 7 + i / 4096) as u8).collect();
    let blocks: Vec<Bytes> = piece.chunks(BLOCK).map(Bytes::copy_from_slice).collect();
    let per_gib = GIB / bytes as f64;
    let rounds = if quick() { 2 } else { 3 };
    let (mut sha1, mut write, mut tcp) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        sha1.push(sha1_s(&piece, pieces) * per_gib);
        write.push(write_s(&blocks, pieces) * per_gib);
        tcp.push(loopback_s(bytes) * per_gib);
    }
    let (sha1, write, tcp) = (min(&sha1), min(&write), min(&tcp));
    let floor = sha1 + write + tcp;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ceiling = cores as f64 * GIB / 1e6 / floor;
    Json::new("torrent")
        .text("row", "torrent_cpu_floor")
        .int("bytes_measured", bytes as u64)
        .int("rounds", rounds)
        .num("sha1_cpu_s_per_gib", sha1)
        .num("tmpfs_write_cpu_s_per_gib", write)
        .num("loopback_tcp_cpu_s_per_gib", tcp)
        .num("floor_cpu_s_per_gib", floor)
        .int("cores", cores as u64)
        .num("ceiling_mb_per_s", ceiling)
        .print();
    ceiling
}
