//! The shape of a torrent's data as the peer wire, the piece picker and
//! the storage see it: pieces of `piece_length` bytes (the last one
//! shorter), each cut into 16 KiB blocks (the last block of the last piece
//! shorter), and a [`Bitfield`] of which pieces a peer has.
//!
//! ```
//! use kamaelia::protocol::torrent::pieces::{Bitfield, Layout, BLOCK_SIZE};
//! let layout = Layout::new(40_000, 32_768).unwrap();
//! assert_eq!(layout.piece_count(), 2);
//! assert_eq!(layout.piece_len(1), 7_232);
//! assert_eq!(layout.blocks_in_piece(0), 2);
//! assert_eq!(layout.block(1, 0).unwrap().len, 7_232);
//! let mut have = Bitfield::new(layout.piece_count());
//! have.set(1);
//! assert_eq!(have.to_bytes(), vec![0b0100_0000]);
//! assert_eq!(BLOCK_SIZE, 16_384);
//! ```

/// The block size every client requests (BEP 3 practice: 16 KiB).
pub const BLOCK_SIZE: u32 = 16 * 1024;

/// Why a layout or a bitfield was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PiecesError {
    /// A piece length of zero, or one that does not fit a `u32`.
    BadPieceLength(u64),
    /// More pieces than a `u32` index can name.
    TooManyPieces(u64),
    /// A bitfield of the wrong number of bytes for the torrent.
    BitfieldLength {
        /// The bytes a bitfield of this torrent has.
        expected: usize,
        /// The bytes that came.
        got: usize,
    },
    /// A bitfield with a bit set past the last piece (BEP 3: drop the peer).
    SpareBitsSet,
}

impl std::fmt::Display for PiecesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PiecesError::BadPieceLength(n) => write!(f, "bad piece length {n}"),
            PiecesError::TooManyPieces(n) => write!(f, "{n} pieces is too many"),
            PiecesError::BitfieldLength { expected, got } => {
                write!(f, "bitfield of {got} bytes, expected {expected}")
            }
            PiecesError::SpareBitsSet => write!(f, "bitfield has spare bits set"),
        }
    }
}

impl std::error::Error for PiecesError {}

/// One block of one piece: what a `request`, `cancel` or `piece` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockRef {
    /// The piece's index.
    pub piece: u32,
    /// The block's byte offset inside the piece (a multiple of 16 KiB).
    pub offset: u32,
    /// Its length in bytes (16 KiB but for the torrent's last block).
    pub len: u32,
}

/// Piece and block arithmetic for one torrent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    total_len: u64,
    piece_len: u32,
    pieces: u32,
}

impl Layout {
    /// The layout of `total_len` bytes in pieces of `piece_len`.
    pub fn new(total_len: u64, piece_len: u64) -> Result<Layout, PiecesError> {
        if piece_len == 0 || piece_len > u64::from(u32::MAX) {
            return Err(PiecesError::BadPieceLength(piece_len));
        }
        let pieces = total_len.div_ceil(piece_len);
        let pieces = u32::try_from(pieces).map_err(|_| PiecesError::TooManyPieces(pieces))?;
        Ok(Layout {
            total_len,
            piece_len: piece_len as u32,
            pieces,
        })
    }

    /// The layout of a parsed .torrent file.
    pub fn of(meta: &super::metainfo::Metainfo) -> Result<Layout, PiecesError> {
        Layout::new(meta.total_length(), meta.piece_length())
    }

    /// The torrent's length in bytes.
    pub fn total_len(&self) -> u64 {
        self.total_len
    }

    /// The nominal piece length.
    pub fn piece_length(&self) -> u32 {
        self.piece_len
    }

    /// How many pieces.
    pub fn piece_count(&self) -> u32 {
        self.pieces
    }

    /// Where piece `index` starts in the torrent's byte stream.
    pub fn piece_offset(&self, index: u32) -> u64 {
        u64::from(index) * u64::from(self.piece_len)
    }

    /// The length of piece `index` (the last one may be short); 0 past the end.
    pub fn piece_len(&self, index: u32) -> u32 {
        if index >= self.pieces {
            return 0;
        }
        let start = self.piece_offset(index);
        (self.total_len - start).min(u64::from(self.piece_len)) as u32
    }

    /// How many 16 KiB blocks piece `index` has.
    pub fn blocks_in_piece(&self, index: u32) -> u32 {
        self.piece_len(index).div_ceil(BLOCK_SIZE)
    }

    /// Block number `block` of piece `piece`, or `None` past the end.
    pub fn block(&self, piece: u32, block: u32) -> Option<BlockRef> {
        let plen = self.piece_len(piece);
        let offset = block.checked_mul(BLOCK_SIZE)?;
        if offset >= plen {
            return None;
        }
        Some(BlockRef {
            piece,
            offset,
            len: (plen - offset).min(BLOCK_SIZE),
        })
    }

    /// Whether `r` lies wholly inside piece `r.piece` and is not empty
    /// (what a peer may `request`; the block need not be 16 KiB aligned).
    pub fn contains(&self, r: &BlockRef) -> bool {
        let plen = self.piece_len(r.piece);
        r.len > 0 && u64::from(r.offset) + u64::from(r.len) <= u64::from(plen)
    }
}

/// Which pieces someone has: one bit per piece, high bit first (BEP 3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bitfield {
    bits: Vec<u8>,
    len: u32,
    ones: u32,
}

impl Bitfield {
    /// `len` pieces, none set.
    pub fn new(len: u32) -> Bitfield {
        Bitfield {
            bits: vec![0; Self::byte_len(len)],
            len,
            ones: 0,
        }
    }

    /// `len` pieces, all set (a seed; BEP 6 have-all).
    pub fn full(len: u32) -> Bitfield {
        let mut b = Bitfield::new(len);
        for i in 0..len {
            b.set(i);
        }
        b
    }

    /// The bytes a bitfield of `len` pieces takes on the wire.
    pub fn byte_len(len: u32) -> usize {
        (len as usize).div_ceil(8)
    }

    /// A bitfield message's payload for a torrent of `len` pieces: the
    /// length must match and no spare bit may be set.
    pub fn from_bytes(bytes: &[u8], len: u32) -> Result<Bitfield, PiecesError> {
        let expected = Self::byte_len(len);
        if bytes.len() != expected {
            return Err(PiecesError::BitfieldLength {
                expected,
                got: bytes.len(),
            });
        }
        let spare = expected * 8 - len as usize;
        if spare > 0 && bytes[expected - 1] & ((1u8 << spare) - 1) != 0 {
            return Err(PiecesError::SpareBitsSet);
        }
        let ones = bytes.iter().map(|b| b.count_ones()).sum();
        Ok(Bitfield {
            bits: bytes.to_vec(),
            len,
            ones,
        })
    }

    /// The wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.bits.clone()
    }

    /// The wire form, borrowed.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bits
    }

    /// How many pieces it covers.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether it covers no piece.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether piece `i` is set (false past the end).
    pub fn get(&self, i: u32) -> bool {
        i < self.len && self.bits[(i / 8) as usize] & (0x80 >> (i % 8)) != 0
    }

    /// Sets piece `i`; returns whether it was newly set (false past the end).
    pub fn set(&mut self, i: u32) -> bool {
        if i >= self.len || self.get(i) {
            return false;
        }
        self.bits[(i / 8) as usize] |= 0x80 >> (i % 8);
        self.ones += 1;
        true
    }

    /// Clears piece `i`; returns whether it was set.
    pub fn clear(&mut self, i: u32) -> bool {
        if !self.get(i) {
            return false;
        }
        self.bits[(i / 8) as usize] &= !(0x80 >> (i % 8));
        self.ones -= 1;
        true
    }

    /// How many pieces are set.
    pub fn count(&self) -> u32 {
        self.ones
    }

    /// Whether every piece is set.
    pub fn is_full(&self) -> bool {
        self.ones == self.len
    }

    /// The set pieces, in order.
    pub fn ones(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len).filter(move |&i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_on_and_off_boundaries() {
        let l = Layout::new(65_536, 32_768).unwrap();
        assert_eq!(
            (l.piece_count(), l.piece_len(1), l.piece_len(2)),
            (2, 32_768, 0)
        );
        let l = Layout::new(1, 262_144).unwrap();
        assert_eq!(
            (l.piece_count(), l.piece_len(0), l.blocks_in_piece(0)),
            (1, 1, 1)
        );
        assert_eq!(
            l.block(0, 0),
            Some(BlockRef {
                piece: 0,
                offset: 0,
                len: 1
            })
        );
        assert_eq!(l.block(0, 1), None);
        let l = Layout::new(0, 16_384).unwrap();
        assert_eq!(l.piece_count(), 0);
        assert_eq!(Layout::new(10, 0), Err(PiecesError::BadPieceLength(0)));
    }

    #[test]
    fn contains_checks_bounds_without_overflow() {
        let l = Layout::new(40_000, 32_768).unwrap();
        let r = |piece, offset, len| BlockRef { piece, offset, len };
        assert!(l.contains(&r(0, 16_384, 16_384)));
        assert!(!l.contains(&r(0, 16_385, 16_384)));
        assert!(!l.contains(&r(1, 0, 7_233)));
        assert!(!l.contains(&r(0, u32::MAX, 2)));
        assert!(!l.contains(&r(2, 0, 1)));
        assert!(!l.contains(&r(0, 0, 0)));
    }

    #[test]
    fn bitfield_wire_form_and_spare_bits() {
        let mut b = Bitfield::new(10);
        assert!(b.set(0) && b.set(9) && !b.set(9) && !b.set(10));
        assert_eq!(b.to_bytes(), vec![0x80, 0x40]);
        assert_eq!(b.count(), 2);
        assert_eq!(b.ones().collect::<Vec<_>>(), vec![0, 9]);
        assert_eq!(Bitfield::from_bytes(&[0x80, 0x40], 10).unwrap(), b);
        assert_eq!(
            Bitfield::from_bytes(&[0x80, 0x20], 10),
            Err(PiecesError::SpareBitsSet)
        );
        assert_eq!(
            Bitfield::from_bytes(&[0x80], 10),
            Err(PiecesError::BitfieldLength {
                expected: 2,
                got: 1
            })
        );
        assert!(b.clear(0) && !b.clear(0));
        assert!(Bitfield::full(10).is_full());
        assert_eq!(Bitfield::full(10).to_bytes(), vec![0xff, 0xc0]);
    }
}
