//! PieceHasher: the [`DiskWorker`](super::DiskWorker)'s second thread,
//! which hashes pieces while the worker's own thread writes earlier ones.
//!
//! Hashing a piece (SHA-1) and writing it cost about the same; done one
//! after the other on one thread they made the disk worker the slowest part
//! of a download on loopback, with a core left idle. Here the worker hands
//! each piece's blocks (`Bytes` handles, no copy) to this thread as soon as
//! the request arrives and takes the digests back in the same order when it
//! comes to write the piece, so the hash of piece N+1 is computed while
//! piece N is written.
//!
//! The thread ends when the `PieceHasher` is dropped (its queue closes). If
//! it is gone early (it cannot fail, but a panic is not ruled out),
//! [`take`](PieceHasher::take) answers `None` and the worker hashes the
//! piece itself: a piece is never reported bad for want of a hasher.
//!
//! ```
//! use bytes::Bytes;
//! use kamaelia::protocol::torrent::storage::{hash_blocks, PieceHasher};
//! let h = PieceHasher::spawn(2);
//! let blocks = vec![Bytes::from_static(b"hel"), Bytes::from_static(b"lo")];
//! assert!(h.submit(7, blocks.clone()));
//! assert_eq!(h.take(), Some((7, hash_blocks(&blocks))));
//! ```

use bytes::Bytes;
use crossbeam_channel::{bounded, Receiver, Sender};

use super::worker::hash_blocks;

/// A hashing thread with a queue in and a queue out. Dropping it closes
/// both: the thread finishes the piece at hand and ends.
pub struct PieceHasher {
    to: Option<Sender<(u32, Vec<Bytes>)>>,
    from: Receiver<(u32, [u8; 20])>,
}

impl PieceHasher {
    /// Starts the thread; up to `ahead` pieces may be submitted and not yet
    /// taken without [`submit`](Self::submit) blocking.
    pub fn spawn(ahead: usize) -> PieceHasher {
        let ahead = ahead.max(1);
        let (to, jobs) = bounded::<(u32, Vec<Bytes>)>(ahead);
        let (done, from) = bounded(ahead);
        let started = std::thread::Builder::new()
            .name("PieceHasher".into())
            .spawn(move || {
                for (piece, blocks) in jobs {
                    if done.send((piece, hash_blocks(&blocks))).is_err() {
                        return;
                    }
                }
            });
        PieceHasher {
            // No thread (the system refused one): `take` answers `None`
            // and the caller hashes inline.
            to: started.is_ok().then_some(to),
            from,
        }
    }

    /// Queues a piece's blocks for hashing; false if the thread is gone
    /// (the caller hashes the piece itself).
    pub fn submit(&self, piece: u32, blocks: Vec<Bytes>) -> bool {
        self.to
            .as_ref()
            .is_some_and(|to| to.send((piece, blocks)).is_ok())
    }

    /// The next digest, in submission order; waits for it. `None` if the
    /// thread is gone.
    pub fn take(&self) -> Option<(u32, [u8; 20])> {
        self.from.recv().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_come_back_in_submission_order() {
        let h = PieceHasher::spawn(3);
        let pieces: Vec<Vec<Bytes>> = (0..3u8)
            .map(|i| {
                vec![
                    Bytes::from(vec![i; 40_000]),
                    Bytes::from(vec![i ^ 0x5a; 100]),
                ]
            })
            .collect();
        for (i, p) in pieces.iter().enumerate() {
            assert!(h.submit(i as u32, p.clone()));
        }
        for (i, p) in pieces.iter().enumerate() {
            assert_eq!(h.take(), Some((i as u32, hash_blocks(p))));
        }
    }
}
