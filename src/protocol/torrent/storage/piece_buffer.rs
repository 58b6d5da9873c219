//! Pieces assembled in memory while their blocks arrive.
//!
//! A [`PieceBuffer`] holds one piece's 16 KiB blocks as the `Bytes` they
//! came in (no copy); when the last one arrives the blocks go, in order,
//! to the [`DiskWorker`](super::DiskWorker), which hashes them as they are
//! and writes the piece only if the hash matches. [`PieceBuffers`] holds
//! the pieces in flight, at most `max_pieces` of them, so the memory held
//! is bounded by `max_pieces * piece_length` whatever peers send: a block
//! of a piece not asked for, at an odd offset, of the wrong length, or a
//! second copy of a block is a typed [`BlockError`] and is not kept.
//!
//! ```
//! use bytes::Bytes;
//! use kamaelia::protocol::torrent::pieces::Layout;
//! use kamaelia::protocol::torrent::storage::{Added, PieceBuffers};
//! let layout = Layout::new(20_000, 32_768).unwrap();
//! let mut pieces = PieceBuffers::new(layout, 4);
//! pieces.start(0).unwrap();
//! let first = pieces.add(0, 0, Bytes::from(vec![1; 16_384])).unwrap();
//! assert_eq!(first, Added::Partial { missing: 1 });
//! match pieces.add(0, 16_384, Bytes::from(vec![2; 3_616])).unwrap() {
//!     Added::Complete(blocks) => assert_eq!(blocks.len(), 2),
//!     other => panic!("{other:?}"),
//! }
//! assert_eq!(pieces.in_flight(), 0);
//! ```

use std::fmt;

use bytes::Bytes;

use crate::protocol::torrent::pieces::{Layout, BLOCK_SIZE};

/// Why a block was not kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockError {
    /// A piece index past the last piece.
    NoSuchPiece(u32),
    /// A block of a piece that is not being downloaded (unsolicited).
    NotInFlight(u32),
    /// An offset that is not the start of one of the piece's blocks.
    BadOffset {
        /// The piece.
        piece: u32,
        /// The offset given.
        offset: u32,
    },
    /// A block whose length is not that of the block at its offset.
    WrongLength {
        /// The piece.
        piece: u32,
        /// The block's offset.
        offset: u32,
        /// The block's length in the torrent.
        expected: u32,
        /// The length that came.
        got: usize,
    },
    /// The block is already held (a second copy, say after a cancel raced it).
    Duplicate {
        /// The piece.
        piece: u32,
        /// The block's offset.
        offset: u32,
    },
    /// `max_pieces` pieces are in flight already.
    TooManyPieces {
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockError::NoSuchPiece(p) => write!(f, "no piece {p}"),
            BlockError::NotInFlight(p) => write!(f, "piece {p} is not being downloaded"),
            BlockError::BadOffset { piece, offset } => {
                write!(f, "piece {piece} has no block at offset {offset}")
            }
            BlockError::WrongLength {
                piece,
                offset,
                expected,
                got,
            } => write!(
                f,
                "block {offset} of piece {piece} is {expected} bytes, got {got}"
            ),
            BlockError::Duplicate { piece, offset } => {
                write!(f, "block {offset} of piece {piece} came twice")
            }
            BlockError::TooManyPieces { limit } => write!(f, "{limit} pieces in flight already"),
        }
    }
}

impl std::error::Error for BlockError {}

/// What adding a block did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Added {
    /// Kept; this many blocks of the piece are still to come.
    Partial {
        /// Blocks still missing.
        missing: u32,
    },
    /// That was the last block: the piece's blocks, in order (the piece is
    /// no longer in flight).
    Complete(Vec<Bytes>),
}

/// One piece's blocks, collected as they arrive.
#[derive(Clone, Debug)]
pub struct PieceBuffer {
    piece: u32,
    layout: Layout,
    blocks: Vec<Option<Bytes>>,
    missing: u32,
    held: u64,
}

impl PieceBuffer {
    /// An empty buffer for piece `piece` of `layout`.
    pub fn new(layout: Layout, piece: u32) -> Result<PieceBuffer, BlockError> {
        if piece >= layout.piece_count() {
            return Err(BlockError::NoSuchPiece(piece));
        }
        let n = layout.blocks_in_piece(piece);
        Ok(PieceBuffer {
            piece,
            layout,
            blocks: vec![None; n as usize],
            missing: n,
            held: 0,
        })
    }

    /// The piece's index.
    pub fn piece(&self) -> u32 {
        self.piece
    }

    /// Keeps the block at `offset`; returns whether the piece is complete.
    pub fn add(&mut self, offset: u32, data: Bytes) -> Result<bool, BlockError> {
        let piece = self.piece;
        let index = offset / BLOCK_SIZE;
        let block = match self.layout.block(piece, index) {
            Some(b) if offset % BLOCK_SIZE == 0 => b,
            _ => return Err(BlockError::BadOffset { piece, offset }),
        };
        if data.len() != block.len as usize {
            return Err(BlockError::WrongLength {
                piece,
                offset,
                expected: block.len,
                got: data.len(),
            });
        }
        let slot = &mut self.blocks[index as usize];
        if slot.is_some() {
            return Err(BlockError::Duplicate { piece, offset });
        }
        self.held += data.len() as u64;
        *slot = Some(data);
        self.missing -= 1;
        Ok(self.missing == 0)
    }

    /// Whether the block at `offset` is held.
    pub fn has(&self, offset: u32) -> bool {
        offset % BLOCK_SIZE == 0
            && self
                .blocks
                .get((offset / BLOCK_SIZE) as usize)
                .is_some_and(Option::is_some)
    }

    /// Blocks still to come.
    pub fn missing(&self) -> u32 {
        self.missing
    }

    /// Whether every block is held.
    pub fn is_complete(&self) -> bool {
        self.missing == 0
    }

    /// Bytes held.
    pub fn bytes_held(&self) -> u64 {
        self.held
    }

    /// The blocks in order, once complete (else the buffer back).
    pub fn into_blocks(self) -> Result<Vec<Bytes>, PieceBuffer> {
        if !self.is_complete() {
            return Err(self);
        }
        Ok(self.blocks.into_iter().flatten().collect())
    }
}

/// The pieces in flight, at most `max_pieces`; see the module docs.
#[derive(Clone, Debug)]
pub struct PieceBuffers {
    layout: Layout,
    max_pieces: usize,
    /// Few (the pieces in flight), so a list searched in order beats a map.
    pieces: Vec<PieceBuffer>,
}

impl PieceBuffers {
    /// Room for `max_pieces` (at least 1) pieces of `layout` at once.
    pub fn new(layout: Layout, max_pieces: usize) -> PieceBuffers {
        let max_pieces = max_pieces.max(1);
        PieceBuffers {
            layout,
            max_pieces,
            pieces: Vec::with_capacity(max_pieces),
        }
    }

    /// Starts collecting `piece` (nothing happens if it is in flight).
    pub fn start(&mut self, piece: u32) -> Result<(), BlockError> {
        if self.contains(piece) {
            return Ok(());
        }
        if self.pieces.len() >= self.max_pieces {
            return Err(BlockError::TooManyPieces {
                limit: self.max_pieces,
            });
        }
        self.pieces.push(PieceBuffer::new(self.layout, piece)?);
        Ok(())
    }

    /// Keeps a block of a piece in flight; the last block completes the
    /// piece and hands its blocks back.
    pub fn add(&mut self, piece: u32, offset: u32, data: Bytes) -> Result<Added, BlockError> {
        let i = self
            .pieces
            .iter()
            .position(|p| p.piece == piece)
            .ok_or(BlockError::NotInFlight(piece))?;
        if !self.pieces[i].add(offset, data)? {
            return Ok(Added::Partial {
                missing: self.pieces[i].missing,
            });
        }
        let done = self.pieces.swap_remove(i);
        Ok(Added::Complete(
            done.into_blocks().expect("complete: checked above"),
        ))
    }

    /// Drops a piece in flight and its blocks; returns whether it was there.
    pub fn abandon(&mut self, piece: u32) -> bool {
        let before = self.pieces.len();
        self.pieces.retain(|p| p.piece != piece);
        self.pieces.len() != before
    }

    /// Whether `piece` is in flight.
    pub fn contains(&self, piece: u32) -> bool {
        self.pieces.iter().any(|p| p.piece == piece)
    }

    /// The buffer of a piece in flight.
    pub fn get(&self, piece: u32) -> Option<&PieceBuffer> {
        self.pieces.iter().find(|p| p.piece == piece)
    }

    /// Pieces in flight.
    pub fn in_flight(&self) -> usize {
        self.pieces.len()
    }

    /// The most pieces in flight at once.
    pub fn max_pieces(&self) -> usize {
        self.max_pieces
    }

    /// Bytes held over all pieces in flight.
    pub fn bytes_held(&self) -> u64 {
        self.pieces.iter().map(|p| p.held).sum()
    }
}
