//! Torrent storage: the torrent's byte stream on the files of a download
//! folder, pieces assembled in memory and SHA-1 verified before they are
//! written, and a re-check of existing data to resume.
//!
//! * [`FileMap`]: which (file, file offset, length) spans a range of the
//!   byte stream covers, across file boundaries, past zero-length files,
//!   with BEP 47 padding files marked (never written, read as zeros).
//! * [`Storage`]: positioned reads and writes (`read_at`/`write_at`: no
//!   shared file position, so no seek races), files opened lazily under the
//!   download folder with at most `max_open_files` handles open (least
//!   recently used closed first), folders made as needed, optional
//!   preallocation. Errors are typed and name the file. Blocks read for
//!   uploads point into a read-only mapping of the file where they can
//!   (`Storage::mapped_block`, see `mapped.rs`), so the socket write is
//!   their only copy.
//! * [`PieceBuffer`] / [`PieceBuffers`]: a piece's 16 KiB blocks collected
//!   as `Bytes` while it downloads; a bounded number of pieces in flight.
//! * [`DiskWorker`]: the one part that runs off the scheduler's thread. It
//!   hashes each complete piece from the blocks still in memory (never read
//!   back from disk), writes it only when the hash matches, serves block
//!   reads for uploads, and re-checks existing data ([`recheck`]).
//!
//! ```
//! use kamaelia::protocol::torrent::metainfo::FileEntry;
//! use kamaelia::protocol::torrent::storage::{FileMap, Span};
//! let file = |name: &str, length, offset| FileEntry {
//!     path: vec!["t".into(), name.into()], length, offset, padding: false,
//! };
//! let map = FileMap::new(&[file("a", 10, 0), file("empty", 0, 10), file("b", 5, 10)]);
//! let spans: Vec<Span> = map.spans(8, 4).collect();
//! assert_eq!(spans, vec![
//!     Span { file: 0, file_offset: 8, len: 2, padding: false },
//!     Span { file: 2, file_offset: 0, len: 2, padding: false },
//! ]);
//! ```

mod disk;
mod error;
mod file_map;
mod hasher;
mod mapped;
mod open_files;
mod piece_buffer;
mod read_pool;
mod recheck;
mod worker;
mod write_vectored;

pub use disk::{Storage, StorageOptions, DEFAULT_MAX_OPEN_FILES};
pub use error::StorageError;
pub use file_map::{FileMap, Span, Spans};
pub use hasher::PieceHasher;
pub use piece_buffer::{Added, BlockError, PieceBuffer, PieceBuffers};
pub use recheck::{recheck, RecheckProgress};
pub use worker::{
    hash_blocks, DiskEvent, DiskOp, DiskRequest, DiskWorker, DEFAULT_INBOX_LIMIT, DEFAULT_QUEUE_LEN,
};
