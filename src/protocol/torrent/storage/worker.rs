//! DiskWorker: a torrent's hashing and disk I/O on a thread of its own, so
//! the scheduler's thread (the network loop) never waits on SHA-1 or a disk.
//!
//! Each complete piece comes as its blocks, still in memory as the peers
//! sent them ([`PieceBuffers`](super::PieceBuffers) collects them). The
//! worker hashes those blocks, never the data read back from disk, compares
//! the torrent's SHA-1 for the piece, and writes the piece only when they
//! match: a piece that fails is dropped, and nothing of it reaches a file.
//! It also reads blocks for uploads and re-checks existing data to resume.
//!
//! Hashing runs on a second thread ([`PieceHasher`](super::PieceHasher)):
//! the worker takes up to four requests ahead of the one it is answering
//! and hands each piece's blocks to the hasher as it takes it, so piece
//! N+1 is hashed while piece N is written (on loopback the two cost about
//! the same; one after the other they were the slowest part of a
//! download). Answers still go out in request order.
//!
//! | box     | carries       | meaning                                            |
//! |---------|---------------|----------------------------------------------------|
//! | inbox   | `DiskRequest` | `Piece` (hash, write if good), `Read` (a block to upload), `Recheck` (resume) |
//! | control | `Signal`      | shutdown: the component ends at once (so a hung disk cannot keep the scheduler from exiting); its thread finishes the request at hand, or the piece at hand of a re-check, and exits. Producer finished: answer every request sent before it, then stop |
//! | outbox  | `DiskEvent`   | one answer per request, in request order: `Verified`/`Failed`/`IoError` for a piece, `Block`/`IoError` for a read, `RecheckProgress`... then `Rechecked(bitfield)` for a re-check |
//! | signal  | `Signal`      | the control signal passed on, after the last answer |
//!
//! Back-pressure: `inbox` is bounded (`inbox_limit`, default 8 requests),
//! and so are the queues to and from the thread (`queue_len`, default 4):
//! a producer whose piece is refused keeps it and tries later, and a
//! consumer that stops reading stops the thread once the queue is full. So
//! at most `inbox_limit + queue_len + 4` pieces wait here at any time (the
//! last term: the requests taken ahead for the hasher).
//!
//! Blocks read for uploads are cut one after another from 256 KiB
//! buffers kept in a pool (`ReadPool`: the one at hand and up to four set
//! aside while blocks cut from them are still held), and read into without
//! zero-filling first: serving allocates nothing per block in the steady
//! state, and a new buffer only when more blocks are held than the pool
//! has room for.
//!
//! The `Threaded` component underneath is the project's way onto another
//! thread; this is one of the two uses the torrent client makes of it
//! (hashing and disk), the network loop stays on the scheduler's thread.
//!
//! ```
//! use bytes::Bytes;
//! use kamaelia::axon::{link, Inbox, Scheduler, Signal};
//! use kamaelia::protocol::torrent::metainfo::FileEntry;
//! use kamaelia::protocol::torrent::storage::{
//!     hash_blocks, DiskEvent, DiskRequest, DiskWorker, Storage, StorageOptions,
//! };
//! let dir = std::env::temp_dir().join(format!("disk-worker-doc-{}", std::process::id()));
//! let files = [FileEntry { path: vec!["a.bin".into()], length: 5, offset: 0, padding: false }];
//! let storage = Storage::from_files(&files, 16_384, &dir, StorageOptions::default()).unwrap();
//! let data = Bytes::from_static(b"hello");
//! let worker = DiskWorker::new(storage, vec![hash_blocks(&[data.clone()])]).unwrap().build();
//! let (out, sig) = (Inbox::inbox(), Inbox::inbox());
//! link(&worker.outbox, &out).unwrap();
//! link(&worker.signal, &sig).unwrap();
//! worker.inbox.address().deliver(DiskRequest::Piece { piece: 0, blocks: vec![data] }).unwrap();
//! worker.control.address().deliver(Signal::ProducerFinished).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(worker);
//! s.run();
//! assert!(matches!(out.recv(), Some(DiskEvent::Verified(0))));
//! assert_eq!(sig.recv(), Some(Signal::ProducerFinished));
//! assert_eq!(std::fs::read(dir.join("a.bin")).unwrap(), b"hello");
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::collections::VecDeque;
use std::path::PathBuf;

use bytes::Bytes;
use sha1::{Digest, Sha1};

use super::hasher::PieceHasher;
use super::read_pool::ReadPool;
use super::recheck::RecheckProgress;
use super::{Storage, StorageError, StorageOptions};
use crate::axon::{Signal, ThreadBoxes, Threaded};
use crate::protocol::torrent::metainfo::Metainfo;
use crate::protocol::torrent::pieces::{Bitfield, BlockRef};

/// Requests waiting in the worker's inbox, by default.
pub const DEFAULT_INBOX_LIMIT: usize = 8;
/// Requests (and answers) queued between the inbox and the thread, by default.
pub const DEFAULT_QUEUE_LEN: usize = 4;
/// Requests taken from the inbox ahead of the one being answered, so the
/// hasher works on later pieces while one is written.
const LOOKAHEAD: usize = 4;
/// Room of each reused read buffer: sixteen 16 KiB blocks.
const READ_BUFFER: usize = 256 * 1024;
/// Read buffers set aside while blocks cut from them are still held.
const READ_SPARES: usize = 4;

/// What the worker is asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskRequest {
    /// A complete piece as its blocks, in order: hash them; if the hash is
    /// the torrent's, write the piece.
    Piece {
        /// The piece's index.
        piece: u32,
        /// Its blocks (they must add up to the piece's length).
        blocks: Vec<Bytes>,
    },
    /// Read a block, to serve a peer's request.
    Read(BlockRef),
    /// Re-check every piece against the data on disk.
    Recheck,
}

/// Which request an [`DiskEvent::IoError`] answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskOp {
    /// Writing (or checking the shape of) this piece.
    WritePiece(u32),
    /// Reading this block.
    ReadBlock(BlockRef),
    /// Reading this piece during a re-check (the piece counts as missing).
    Recheck(u32),
}

/// What the worker answers.
#[derive(Debug)]
pub enum DiskEvent {
    /// The piece's hash matched and it is on disk: it may be marked have.
    Verified(u32),
    /// The piece's hash did not match; nothing was written.
    Failed(u32),
    /// A block read for an upload.
    Block {
        /// Which block.
        block: BlockRef,
        /// Its bytes.
        data: Bytes,
    },
    /// A re-check has checked `checked` pieces of `total`.
    RecheckProgress {
        /// Pieces checked so far.
        checked: u32,
        /// Pieces in all.
        total: u32,
    },
    /// A re-check ended: the pieces found good.
    Rechecked(Bitfield),
    /// A request failed: the disk refused, or the request was malformed (a
    /// piece of the wrong length, a block outside the torrent).
    IoError {
        /// The request.
        op: DiskOp,
        /// Why.
        error: StorageError,
    },
}

/// Builds the disk worker component; see the module docs.
pub struct DiskWorker {
    storage: Storage,
    hashes: Vec<[u8; 20]>,
    inbox_limit: usize,
    queue_len: usize,
    progress_every: Option<u32>,
}

impl DiskWorker {
    /// A worker for `storage`, checking pieces against `hashes` (one per
    /// piece, as the metainfo lists them).
    pub fn new(storage: Storage, hashes: Vec<[u8; 20]>) -> Result<DiskWorker, StorageError> {
        let pieces = storage.layout().piece_count();
        if hashes.len() != pieces as usize {
            return Err(StorageError::HashCount {
                pieces,
                hashes: hashes.len(),
            });
        }
        Ok(DiskWorker {
            storage,
            hashes,
            inbox_limit: DEFAULT_INBOX_LIMIT,
            queue_len: DEFAULT_QUEUE_LEN,
            progress_every: None,
        })
    }

    /// A worker for `meta`'s files under `root`.
    pub fn for_torrent(
        meta: &Metainfo,
        root: impl Into<PathBuf>,
        options: StorageOptions,
    ) -> Result<DiskWorker, StorageError> {
        DiskWorker::new(Storage::new(meta, root, options)?, meta.pieces().to_vec())
    }

    /// Requests the inbox holds before refusing more (at least 1).
    pub fn inbox_limit(mut self, n: usize) -> Self {
        self.inbox_limit = n.max(1);
        self
    }

    /// Requests and answers queued to and from the thread (at least 1).
    pub fn queue_len(mut self, n: usize) -> Self {
        self.queue_len = n.max(1);
        self
    }

    /// A `RecheckProgress` every `n` pieces (and after the last); by
    /// default every hundredth of the torrent.
    pub fn progress_every(mut self, n: u32) -> Self {
        self.progress_every = Some(n.max(1));
        self
    }

    /// The component: a [`Threaded`] whose thread does the work.
    pub fn build(self) -> Threaded<DiskRequest, DiskEvent> {
        let total = self.storage.layout().piece_count();
        let mut work = Work {
            progress_every: self
                .progress_every
                .unwrap_or_else(|| total.div_ceil(100).max(1)),
            storage: self.storage,
            hashes: self.hashes,
            reads: ReadPool::new(READ_BUFFER, READ_SPARES),
        };
        let t = Threaded::new("DiskWorker", move |t| work.run(&t))
            .queue_len(self.queue_len)
            .detach_on_shutdown(true);
        t.inbox.set_limit(Some(self.inbox_limit));
        t
    }
}

/// SHA-1 of a piece given as its blocks, in order.
pub fn hash_blocks(blocks: &[Bytes]) -> [u8; 20] {
    let mut h = Sha1::new();
    for b in blocks {
        h.update(b);
    }
    h.finalize().into()
}

/// The thread's state.
struct Work {
    storage: Storage,
    hashes: Vec<[u8; 20]>,
    reads: ReadPool,
    progress_every: u32,
}

/// The thread should stop, passing this signal on.
struct Stop(Signal);

type Boxes = ThreadBoxes<DiskRequest, DiskEvent>;

/// A request taken from the inbox, waiting its turn (answers go out in
/// request order).
enum Job {
    /// A piece to check and write; `hashing`: the hasher has a copy of
    /// its block handles (else it is hashed here).
    Piece {
        piece: u32,
        blocks: Vec<Bytes>,
        hashing: bool,
    },
    /// An answer already known (a malformed piece request).
    Answer(DiskEvent),
    Read(BlockRef),
    Recheck,
}

impl Work {
    fn run(&mut self, t: &Boxes) {
        let hasher = PieceHasher::spawn(LOOKAHEAD);
        let mut jobs: VecDeque<Job> = VecDeque::with_capacity(LOOKAHEAD);
        // A finish, honoured once every job taken before it is answered.
        let mut finishing: Option<Signal> = None;
        loop {
            match t.control() {
                Some(sig) if sig.is_shutdown() => return t.signal(sig),
                Some(sig) => finishing = finishing.or(Some(sig)),
                None => {}
            }
            while jobs.len() < LOOKAHEAD {
                let Some(req) = t.recv() else { break };
                jobs.push_back(self.admit(req, &hasher));
            }
            let Some(job) = jobs.pop_front() else {
                if let Some(sig) = finishing.take() {
                    return t.signal(sig);
                }
                if t.is_closed() {
                    return;
                }
                t.wait(None);
                continue;
            };
            let outcome = match job {
                Job::Piece {
                    piece,
                    blocks,
                    hashing,
                } => {
                    let from = hashing.then_some(&hasher);
                    self.write_hashed(t, from, piece, &blocks)
                }
                Job::Answer(ev) => Self::send(t, ev),
                Job::Read(block) => self.read(t, block),
                Job::Recheck => self.recheck(t, &mut finishing),
            };
            if let Err(Stop(sig)) = outcome {
                return t.signal(sig);
            }
        }
    }

    fn send(t: &Boxes, ev: DiskEvent) -> Result<(), Stop> {
        // Closed: the component is gone; nobody is left to tell.
        t.send(ev).map_err(|_| Stop(Signal::Shutdown))
    }

    /// Takes a request in: a well-formed piece goes to the hasher at once.
    fn admit(&self, req: DiskRequest, hasher: &PieceHasher) -> Job {
        let (piece, blocks) = match req {
            DiskRequest::Piece { piece, blocks } => (piece, blocks),
            DiskRequest::Read(block) => return Job::Read(block),
            DiskRequest::Recheck => return Job::Recheck,
        };
        let op = DiskOp::WritePiece(piece);
        if self.hashes.get(piece as usize).is_none() {
            let error = StorageError::NoSuchPiece(piece);
            return Job::Answer(DiskEvent::IoError { op, error });
        }
        let len = self.storage.layout().piece_len(piece);
        let got: u64 = blocks.iter().map(|b| b.len() as u64).sum();
        if got != u64::from(len) {
            let error = StorageError::PieceLength {
                piece,
                expected: len,
                got,
            };
            return Job::Answer(DiskEvent::IoError { op, error });
        }
        let hashing = hasher.submit(piece, blocks.clone());
        Job::Piece {
            piece,
            blocks,
            hashing,
        }
    }

    /// Writes a piece if its digest (from `hasher`, else computed here) is
    /// right.
    fn write_hashed(
        &mut self,
        t: &Boxes,
        hasher: Option<&PieceHasher>,
        piece: u32,
        blocks: &[Bytes],
    ) -> Result<(), Stop> {
        let digest = match hasher.and_then(PieceHasher::take) {
            Some((p, digest)) if p == piece => digest,
            // The hasher is gone (or out of step, which cannot happen):
            // hash here rather than call a good piece bad.
            _ => hash_blocks(blocks),
        };
        let ev = self.check_and_write(piece, blocks, digest);
        Self::send(t, ev)
    }

    /// `Verified` once written if `digest` is the torrent's for `piece`,
    /// `Failed` (nothing written) if not. The piece is known to exist.
    fn check_and_write(&mut self, piece: u32, blocks: &[Bytes], digest: [u8; 20]) -> DiskEvent {
        if self.hashes[piece as usize] != digest {
            return DiskEvent::Failed(piece);
        }
        match self.storage.write_piece(piece, blocks) {
            Ok(()) => DiskEvent::Verified(piece),
            Err(error) => DiskEvent::IoError {
                op: DiskOp::WritePiece(piece),
                error,
            },
        }
    }

    fn read(&mut self, t: &Boxes, block: BlockRef) -> Result<(), Stop> {
        // Checked before any memory is set aside for it: a request's
        // length comes from a peer.
        if !self.storage.layout().contains(&block) {
            let (op, error) = (DiskOp::ReadBlock(block), StorageError::BadBlock(block));
            return Self::send(t, DiskEvent::IoError { op, error });
        }
        if let Some(data) = self.storage.mapped_block(&block) {
            return Self::send(t, DiskEvent::Block { block, data });
        }
        let storage = &mut self.storage;
        let read = self.reads.read(block.len as usize, |buf| {
            storage.read_block_into(&block, buf)
        });
        let ev = match read {
            Ok(data) => DiskEvent::Block { block, data },
            Err(error) => DiskEvent::IoError {
                op: DiskOp::ReadBlock(block),
                error,
            },
        };
        Self::send(t, ev)
    }

    fn recheck(&mut self, t: &Boxes, finishing: &mut Option<Signal>) -> Result<(), Stop> {
        self.storage.close_all();
        let mut r = RecheckProgress::new(self.storage.layout().piece_count());
        while let Some((piece, result)) = r.check_next(&mut self.storage, &self.hashes) {
            if let Err(error) = result {
                let op = DiskOp::Recheck(piece);
                Self::send(t, DiskEvent::IoError { op, error })?;
            }
            let checked = r.checked();
            if checked % self.progress_every == 0 || checked == r.total() {
                let total = r.total();
                Self::send(t, DiskEvent::RecheckProgress { checked, total })?;
            }
            match t.control() {
                Some(sig) if sig.is_shutdown() => return Err(Stop(sig)),
                // Finish the re-check first: it was asked for before.
                Some(sig) => *finishing = Some(sig),
                None => {}
            }
        }
        Self::send(t, DiskEvent::Rechecked(r.into_bitfield()))
    }
}
