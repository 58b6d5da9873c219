//! Writing verified pieces to disk.
//!
//! * `storage_write`: [`Storage::write_piece`] (one `pwritev` per piece)
//!   of 256 MiB (64 MiB quick) in 1 MiB pieces, each given as its 16 KiB
//!   blocks as a downloader has them, into a new file on tmpfs (the temp
//!   folder without `/dev/shm`); against the plain way, one `pwrite` per
//!   block (`FileExt::write_all_at`) into a file of its own. Rounds
//!   interleaved (5; 3 quick), medians of this thread's CPU time, as MB
//!   per CPU second, and `cpu_ratio` (ours over per-block: below 1 is
//!   less CPU).

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use kamaelia::protocol::torrent::metainfo::FileEntry;
use kamaelia::protocol::torrent::storage::{Storage, StorageOptions};

use crate::common::{clock_ns, median, quick, want, Json, CLOCK_THREAD_CPUTIME_ID};

const PIECE: usize = 1 << 20;
const BLOCK: usize = 16 << 10;

pub fn run() {
    if want("storage_write") {
        storage_write();
    }
}

/// A folder for a round's file, on tmpfs where there is one.
pub fn folder(name: &str) -> PathBuf {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!(
        "kamaelia-storage-bench-{name}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// CPU seconds of this thread to run `f`.
fn cpu_s(f: impl FnOnce()) -> f64 {
    let c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    f();
    (clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0) as f64 / 1e9
}

fn storage_write() {
    let (len, rounds) = if quick() {
        (64 << 20, 3)
    } else {
        (256 << 20, 5)
    };
    // One piece's blocks, written at every piece's place (the bytes do
    // not matter to the file system).
    let blocks: Vec<Bytes> = (0..PIECE / BLOCK)
        .map(|i| Bytes::from(vec![i as u8; BLOCK]))
        .collect();
    let pieces = (len / PIECE) as u32;
    let (mut ours, mut plain) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let dir = folder("ours");
        let file = [FileEntry {
            path: vec!["data".into()],
            length: len as u64,
            offset: 0,
            padding: false,
        }];
        let mut s = Storage::from_files(&file, PIECE as u64, &dir, StorageOptions::default())
            .expect("storage");
        ours.push(cpu_s(|| {
            for p in 0..pieces {
                s.write_piece(p, &blocks).expect("write_piece");
            }
        }));
        drop(s);
        std::fs::remove_dir_all(&dir).unwrap();

        let dir = folder("plain");
        let f = std::fs::File::create(dir.join("data")).unwrap();
        plain.push(cpu_s(|| {
            let mut at = 0u64;
            for _ in 0..pieces {
                for b in &blocks {
                    f.write_all_at(b, at).expect("pwrite");
                    at += b.len() as u64;
                }
            }
        }));
        drop(f);
        std::fs::remove_dir_all(&dir).unwrap();
    }
    let (ours_s, plain_s) = (median(&mut ours), median(&mut plain));
    Json::new("torrent")
        .text("row", "storage_write")
        .int("bytes", len as u64)
        .int("piece", PIECE as u64)
        .int("block", BLOCK as u64)
        .int("rounds", rounds as u64)
        .num("ours_mb_per_cpu_s", len as f64 / 1e6 / ours_s)
        .num("per_block_pwrite_mb_per_cpu_s", len as f64 / 1e6 / plain_s)
        .num("cpu_ratio", ours_s / plain_s)
        .print();
}
