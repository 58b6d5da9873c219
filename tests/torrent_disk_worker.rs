//! The DiskWorker component driven through the scheduler with the test
//! harness: pieces in, answers out in request order; a wrong block fails
//! and writes nothing; block reads for uploads; re-check with progress;
//! shutdown and producer-finished; back-pressure through bounded boxes; and
//! a quick (printed, not asserted) hashing throughput figure.
//!
//! The worker's thread answers in real time: a test waits for its wake
//! with `Harness::wait_for_wake` (virtual time never moves), never sleeps.

mod torrent_support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use kamaelia::axon::{Id, Signal};
use kamaelia::protocol::torrent::metainfo::MetainfoBuilder;
use kamaelia::protocol::torrent::pieces::{Bitfield, BlockRef};
use kamaelia::protocol::torrent::storage::{
    hash_blocks, DiskEvent, DiskOp, DiskRequest, DiskWorker, StorageError, StorageOptions,
};
use kamaelia::testing::{Collector, Feeder, Harness};
use sha1::{Digest, Sha1};
use torrent_support::{content, Synthetic, TempDir};

const FILES: &[(&str, usize)] = &[
    ("a", 10_000),
    ("empty", 0),
    ("b", 3_000),
    ("c", 5_000),
    ("d", 40_000),
];
const PIECE: usize = 16_384;

type Torrent = Synthetic;

fn torrent(files: &[(&str, usize)], piece_length: usize) -> Torrent {
    Synthetic::new(files, piece_length, 11)
}

struct Rig {
    h: Harness,
    id: Id,
    requests: Feeder<DiskRequest>,
    control: Feeder<Signal>,
    events: Collector<DiskEvent>,
    signal: Collector<Signal>,
}

fn rig(worker: DiskWorker) -> Rig {
    let mut h = Harness::new();
    let id = h.spawn(worker.build());
    Rig {
        requests: h.feeder(id, "inbox").unwrap(),
        control: h.feeder(id, "control").unwrap(),
        events: h.collector(id, "outbox").unwrap(),
        signal: h.collector(id, "signal").unwrap(),
        id,
        h,
    }
}

impl Rig {
    /// Runs the scheduler, waiting for the worker's thread, until `n`
    /// events have come (or ten seconds of real time: then the test fails
    /// on the count).
    fn events(&mut self, n: usize) -> Vec<DiskEvent> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut got = Vec::new();
        loop {
            self.h.run_until_idle();
            got.extend(self.events.drain());
            if got.len() >= n || Instant::now() > deadline {
                break;
            }
            self.h.wait_for_wake(Duration::from_millis(200));
        }
        assert_eq!(got.len(), n, "events: {got:?}");
        got
    }

    /// Runs until the worker has ended; returns its last signal.
    fn end(&mut self) -> Signal {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.h.is_alive(self.id) && Instant::now() < deadline {
            self.h.run_until_idle();
            if self.h.is_alive(self.id) {
                self.h.wait_for_wake(Duration::from_millis(200));
            }
        }
        assert!(!self.h.is_alive(self.id), "the worker ended");
        let sigs = self.signal.drain();
        assert_eq!(sigs.len(), 1, "{sigs:?}");
        sigs.into_iter().next().unwrap()
    }
}

fn worker(t: &Torrent, dir: &TempDir) -> DiskWorker {
    DiskWorker::for_torrent(&t.meta, dir.path(), StorageOptions::default()).unwrap()
}

fn piece(t: &Torrent, p: u32) -> DiskRequest {
    DiskRequest::Piece {
        piece: p,
        blocks: t.blocks(p),
    }
}

#[test]
fn pieces_in_answers_out_in_order_and_files_match() {
    let t = torrent(FILES, PIECE);
    let dir = TempDir::new("worker-write");
    let mut r = rig(worker(&t, &dir));
    for p in [3, 0, 2, 1] {
        r.requests.send(piece(&t, p)).unwrap();
    }
    let got = r.events(4);
    let order: Vec<u32> = got
        .iter()
        .map(|e| match e {
            DiskEvent::Verified(p) => *p,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(order, vec![3, 0, 2, 1]);
    let mut at = 0;
    for (name, len) in FILES {
        let on_disk = std::fs::read(dir.path().join("t").join(name)).unwrap();
        assert!(on_disk == t.data[at..at + len], "{name}");
        at += len;
    }
    r.control.send(Signal::ProducerFinished).unwrap();
    assert_eq!(r.end(), Signal::ProducerFinished);
}

#[test]
fn a_wrong_block_fails_verification_and_nothing_is_written() {
    let t = torrent(FILES, PIECE);
    let dir = TempDir::new("worker-wrong");
    let mut r = rig(worker(&t, &dir));
    // Piece 0 spans a, empty, b and c; one byte wrong in its only block.
    let mut bad = t.blocks(0)[0].to_vec();
    bad[12_345] ^= 0x40;
    r.requests
        .send(DiskRequest::Piece {
            piece: 0,
            blocks: vec![Bytes::from(bad)],
        })
        .unwrap();
    // Piece 2 with a block of another piece's bytes.
    r.requests
        .send(DiskRequest::Piece {
            piece: 2,
            blocks: t.blocks(1),
        })
        .unwrap();
    let got = r.events(2);
    assert!(matches!(got[0], DiskEvent::Failed(0)), "{got:?}");
    assert!(matches!(got[1], DiskEvent::Failed(2)), "{got:?}");
    // Not a file, not a folder: nothing reached the disk.
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    // The honest copy is then verified and written.
    r.requests.send(piece(&t, 0)).unwrap();
    let got = r.events(1);
    assert!(matches!(got[0], DiskEvent::Verified(0)), "{got:?}");
    assert!(std::fs::read(dir.path().join("t/a")).unwrap() == t.data[..10_000]);
    // Piece 2 lies in d, which holds nothing: the bad copy was not written.
    assert_eq!(std::fs::metadata(dir.path().join("t/d")).unwrap().len(), 0);
    r.control.send(Signal::Shutdown).unwrap();
    assert_eq!(r.end(), Signal::Shutdown);
}

#[test]
fn malformed_requests_get_io_errors_and_the_worker_goes_on() {
    let t = torrent(FILES, PIECE);
    let dir = TempDir::new("worker-malformed");
    let mut r = rig(worker(&t, &dir));
    let half = t.blocks(1)[0].slice(..100);
    r.requests
        .send(DiskRequest::Piece {
            piece: 1,
            blocks: vec![half],
        })
        .unwrap();
    r.requests
        .send(DiskRequest::Piece {
            piece: 99,
            blocks: vec![],
        })
        .unwrap();
    let outside = BlockRef {
        piece: 3,
        offset: 0,
        len: 16_384,
    };
    r.requests.send(DiskRequest::Read(outside)).unwrap();
    // A length a peer made up: refused before any buffer is sized for it.
    let huge = BlockRef {
        piece: 0,
        offset: 0,
        len: u32::MAX,
    };
    r.requests.send(DiskRequest::Read(huge)).unwrap();
    r.requests.send(piece(&t, 1)).unwrap();
    let got = r.events(5);
    assert!(
        matches!(
            &got[0],
            DiskEvent::IoError {
                op: DiskOp::WritePiece(1),
                error: StorageError::PieceLength {
                    piece: 1,
                    expected: 16_384,
                    got: 100
                }
            }
        ),
        "{got:?}"
    );
    assert!(matches!(
        &got[1],
        DiskEvent::IoError {
            op: DiskOp::WritePiece(99),
            error: StorageError::NoSuchPiece(99)
        }
    ));
    assert!(matches!(
        &got[2],
        DiskEvent::IoError { op: DiskOp::ReadBlock(b), error: StorageError::BadBlock(_) } if *b == outside
    ));
    assert!(matches!(
        &got[3],
        DiskEvent::IoError { op: DiskOp::ReadBlock(b), error: StorageError::BadBlock(_) } if *b == huge
    ));
    assert!(matches!(got[4], DiskEvent::Verified(1)));
}

#[test]
fn reads_for_uploads_come_back_in_order() {
    let t = torrent(FILES, PIECE);
    let dir = TempDir::new("worker-read");
    let mut r = rig(worker(&t, &dir));
    for p in 0..4 {
        r.requests.send(piece(&t, p)).unwrap();
    }
    assert_eq!(r.events(4).len(), 4);
    // Every block, plus an odd one across the a/b boundary, newest first.
    let mut asks: Vec<BlockRef> = (0..4)
        .flat_map(|p| (0..t.layout.blocks_in_piece(p)).map(move |b| (p, b)))
        .map(|(p, b)| t.layout.block(p, b).unwrap())
        .collect();
    asks.push(BlockRef {
        piece: 0,
        offset: 9_000,
        len: 2_500,
    });
    asks.reverse();
    // Sent in turns: the inbox holds 8 at most.
    let mut got = Vec::new();
    for chunk in asks.chunks(4) {
        for a in chunk {
            r.requests.send(DiskRequest::Read(*a)).unwrap();
        }
        got.extend(r.events(chunk.len()));
    }
    assert_eq!(got.len(), asks.len());
    for (ask, ev) in asks.iter().zip(&got) {
        match ev {
            DiskEvent::Block { block, data } => {
                assert_eq!(block, ask);
                assert_eq!(&data[..], t.bytes(ask), "{ask:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}

/// Pieces are hashed on a second thread, ahead of the one being written:
/// the answers still come in request order, a read of a piece asked after
/// the piece sees its bytes, and a finish sent with the requests waits for
/// all of them.
#[test]
fn hashing_ahead_keeps_request_order_and_a_finish_waits_for_it() {
    let t = torrent(FILES, PIECE);
    let dir = TempDir::new("worker-ahead");
    let mut r = rig(worker(&t, &dir));
    let first = |p| t.layout.block(p, 0).unwrap();
    let short = t.blocks(3)[0].slice(..10);
    let requests = vec![
        piece(&t, 0),
        DiskRequest::Read(first(0)),
        DiskRequest::Piece {
            piece: 2,
            blocks: t.blocks(1),
        },
        DiskRequest::Piece {
            piece: 3,
            blocks: vec![short],
        },
        piece(&t, 1),
        DiskRequest::Read(first(1)),
    ];
    for req in requests {
        r.requests.send(req).unwrap();
    }
    r.control.send(Signal::ProducerFinished).unwrap();
    let got = r.events(6);
    let block_of = |e: &DiskEvent, p: u32| match e {
        DiskEvent::Block { block, data } => *block == first(p) && data[..] == *t.bytes(&first(p)),
        _ => false,
    };
    assert!(matches!(got[0], DiskEvent::Verified(0)), "{got:?}");
    assert!(block_of(&got[1], 0), "{got:?}");
    assert!(matches!(got[2], DiskEvent::Failed(2)), "{got:?}");
    assert!(
        matches!(
            got[3],
            DiskEvent::IoError {
                op: DiskOp::WritePiece(3),
                error: StorageError::PieceLength { got: 10, .. }
            }
        ),
        "{got:?}"
    );
    assert!(matches!(got[4], DiskEvent::Verified(1)), "{got:?}");
    assert!(block_of(&got[5], 1), "{got:?}");
    assert_eq!(r.end(), Signal::ProducerFinished);
}

#[test]
fn recheck_reports_progress_then_the_good_pieces() {
    let t = torrent(FILES, 8_192);
    assert_eq!(t.layout.piece_count(), 8);
    let dir = TempDir::new("worker-recheck");
    let mut r = rig(worker(&t, &dir).progress_every(3));
    // Nothing there yet: all missing, no error.
    r.requests.send(DiskRequest::Recheck).unwrap();
    let got = r.events(4);
    let progress: Vec<(u32, u32)> = got[..3]
        .iter()
        .map(|e| match e {
            DiskEvent::RecheckProgress { checked, total } => (*checked, *total),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(progress, vec![(3, 8), (6, 8), (8, 8)]);
    assert!(matches!(&got[3], DiskEvent::Rechecked(b) if *b == Bitfield::new(8)));
    // Write all; damage piece 5 (inside d) on disk behind the worker's back.
    for p in 0..8 {
        r.requests.send(piece(&t, p)).unwrap();
        assert!(matches!(r.events(1)[0], DiskEvent::Verified(q) if q == p));
    }
    let d = dir.path().join("t/d");
    let mut bytes = std::fs::read(&d).unwrap();
    // Piece 5 is bytes [40,960, 49,152); d starts at 18,000.
    bytes[40_960 - 18_000 + 7] ^= 1;
    std::fs::write(&d, &bytes).unwrap();
    r.requests.send(DiskRequest::Recheck).unwrap();
    let got = r.events(4);
    let mut expect = Bitfield::full(8);
    expect.clear(5);
    assert!(
        matches!(&got[3], DiskEvent::Rechecked(b) if *b == expect),
        "{got:?}"
    );
    // A finish after a re-check waits for it to end.
    r.requests.send(DiskRequest::Recheck).unwrap();
    r.control.send(Signal::ProducerFinished).unwrap();
    let got = r.events(4);
    assert!(matches!(&got[3], DiskEvent::Rechecked(b) if *b == expect));
    assert_eq!(r.end(), Signal::ProducerFinished);
}

#[test]
fn the_inbox_is_bounded_and_a_slow_consumer_loses_nothing() {
    let t = torrent(FILES, PIECE);
    let dir = TempDir::new("worker-backpressure");
    let mut h = Harness::new();
    let id = h.spawn(worker(&t, &dir).inbox_limit(2).queue_len(1).build());
    let requests = h.feeder::<DiskRequest>(id, "inbox").unwrap();
    // A consumer that holds one answer at a time.
    let events = h.bounded_collector::<DiskEvent>(id, "outbox", 1).unwrap();
    requests.send(piece(&t, 0)).unwrap();
    requests.send(piece(&t, 1)).unwrap();
    // The third is refused and handed back: the producer keeps it.
    let refused = requests.send(piece(&t, 2)).unwrap_err().0;
    assert!(matches!(refused, DiskRequest::Piece { piece: 2, .. }));
    let mut pending = vec![refused, piece(&t, 3)];
    pending.reverse();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < 4 && Instant::now() < deadline {
        while let Some(req) = pending.pop() {
            if let Err(full) = requests.send(req) {
                pending.push(full.0);
                break;
            }
        }
        h.run_until_idle();
        assert!(events.len() <= 1, "the bounded consumer holds one");
        match events.recv() {
            Some(ev) => got.push(ev),
            None => {
                h.wait_for_wake(Duration::from_millis(200));
            }
        }
    }
    let order: Vec<u32> = got
        .iter()
        .map(|e| match e {
            DiskEvent::Verified(p) => *p,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(order, vec![0, 1, 2, 3]);
}

#[test]
fn shutdown_ends_the_worker_at_once() {
    let t = torrent(FILES, PIECE);
    let dir = TempDir::new("worker-shutdown");
    let mut r = rig(worker(&t, &dir));
    r.h.run_until_idle();
    // Work queued behind the shutdown is not waited for: the component
    // ends in the step that sees it, whatever its thread is doing.
    r.requests.send(DiskRequest::Recheck).unwrap();
    r.control.send(Signal::Shutdown).unwrap();
    r.h.run_until_idle();
    assert!(!r.h.is_alive(r.id));
    assert_eq!(r.signal.drain(), vec![Signal::Shutdown]);
}

#[test]
fn a_hash_list_of_the_wrong_size_is_refused() {
    let t = torrent(FILES, PIECE);
    let dir = TempDir::new("worker-hashes");
    let storage = kamaelia::protocol::torrent::storage::Storage::new(
        &t.meta,
        dir.path(),
        StorageOptions::default(),
    )
    .unwrap();
    assert!(matches!(
        DiskWorker::new(storage, vec![[0; 20]; 3]),
        Err(StorageError::HashCount {
            pieces: 4,
            hashes: 3
        })
    ));
}

/// Prints MB/s of SHA-1 over in-memory blocks and of the worker's whole
/// verify-and-write path; asserts only that every piece verified.
#[test]
fn hashing_throughput_quick_check() {
    const PIECE_LEN: usize = 256 * 1024;
    const PIECES: u32 = 32; // 8 MiB
    let piece_data = Bytes::from(content(PIECE_LEN, 3));
    let blocks: Vec<Bytes> = (0..PIECE_LEN / 16_384)
        .map(|i| piece_data.slice(i * 16_384..(i + 1) * 16_384))
        .collect();
    let start = Instant::now();
    let mut last = [0; 20];
    for _ in 0..PIECES {
        last = hash_blocks(&blocks);
    }
    let secs = start.elapsed().as_secs_f64();
    let mb = f64::from(PIECES) * PIECE_LEN as f64 / 1e6;
    eprintln!(
        "sha1 over blocks in memory: {:.0} MB/s ({mb:.1} MB)",
        mb / secs
    );
    assert_eq!(last, <[u8; 20]>::from(Sha1::digest(&piece_data)));

    let dir = TempDir::new("worker-throughput");
    let files = [("big", PIECE_LEN * PIECES as usize)];
    let meta = MetainfoBuilder::multi_file(
        "t",
        files
            .iter()
            .map(|(n, l)| (vec![n.to_string()], *l as u64))
            .collect(),
        PIECE_LEN as u64,
        vec![last; PIECES as usize],
    )
    .build()
    .unwrap();
    let w = DiskWorker::for_torrent(&meta, dir.path(), StorageOptions::default()).unwrap();
    let mut r = rig(w);
    let start = Instant::now();
    let mut verified = 0;
    let mut next = 0u32;
    while verified < PIECES && start.elapsed() < Duration::from_secs(60) {
        while next < PIECES {
            let req = DiskRequest::Piece {
                piece: next,
                blocks: blocks.clone(),
            };
            if r.requests.send(req).is_err() {
                break;
            }
            next += 1;
        }
        r.h.run_until_idle();
        for ev in r.events.drain() {
            assert!(matches!(ev, DiskEvent::Verified(_)), "{ev:?}");
            verified += 1;
        }
        if verified < PIECES {
            r.h.wait_for_wake(Duration::from_millis(200));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(verified, PIECES);
    eprintln!(
        "DiskWorker verify+write through the scheduler: {:.0} MB/s ({mb:.1} MB)",
        mb / secs
    );
}

/// Blocks for uploads are cut from one buffer, and its memory is used
/// again once they are dropped: the 17th read, after the first 16 are
/// gone, lands where the first did.
#[test]
fn block_reads_reuse_one_buffer() {
    let t = torrent(FILES, PIECE);
    let dir = TempDir::new("worker-read-reuse");
    let mut r = rig(worker(&t, &dir).inbox_limit(32));
    r.requests.send(piece(&t, 0)).unwrap();
    assert!(matches!(r.events(1)[0], DiskEvent::Verified(0)));
    let block = t.layout.block(0, 0).unwrap();
    let read = |r: &mut Rig, n: usize| -> Vec<Bytes> {
        for _ in 0..n {
            r.requests.send(DiskRequest::Read(block)).unwrap();
        }
        r.events(n)
            .into_iter()
            .map(|e| match e {
                DiskEvent::Block { data, .. } => data,
                other => panic!("{other:?}"),
            })
            .collect()
    };
    let held = read(&mut r, 16);
    let first = held[0].as_ptr() as usize;
    for (i, b) in held.iter().enumerate() {
        assert_eq!(
            b.as_ptr() as usize,
            first + i * 16_384,
            "block {i} follows on"
        );
        assert_eq!(&b[..], t.bytes(&block));
    }
    drop(held);
    let again = read(&mut r, 1);
    assert_eq!(again[0].as_ptr() as usize, first, "memory reclaimed");
    assert_eq!(&again[0][..], t.bytes(&block));
}
