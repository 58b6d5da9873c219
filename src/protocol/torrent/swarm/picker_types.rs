//! What the [`Picker`](super::Picker) is told and answers: its modes,
//! its errors, and the outcome of a block that arrives.

use super::PeerKey;

/// How new pieces are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PickMode {
    /// Rarest first, ties broken at random (the swarm's health).
    #[default]
    RarestFirst,
    /// Lowest index first (a file played while it downloads).
    Sequential,
}

/// Pieces to fetch before all others, in order: `[cursor, cursor + window)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline {
    /// The first piece the player needs.
    pub cursor: u32,
    /// How many pieces from there are urgent.
    pub window: u32,
}

/// Why an availability report or a piece outcome was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PickerError {
    /// A piece index past the torrent's end.
    PieceOutOfRange(u32),
    /// A bitfield of the wrong size for the torrent.
    BitfieldLength {
        /// Pieces the torrent has.
        expected: u32,
        /// Pieces the bitfield covers.
        got: u32,
    },
    /// A second bitfield, have-all or have-none from one peer (BEP 3 and 6
    /// allow one, first): counting it again would inflate availability.
    AlreadyAnnounced(PeerKey),
    /// `on_piece_failed` for a piece whose blocks are not all received.
    NotComplete(u32),
}

impl std::fmt::Display for PickerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PickerError::PieceOutOfRange(p) => write!(f, "piece {p} out of range"),
            PickerError::BitfieldLength { expected, got } => {
                write!(f, "bitfield of {got} pieces, expected {expected}")
            }
            PickerError::AlreadyAnnounced(k) => write!(f, "peer {} announced twice", k.0),
            PickerError::NotComplete(p) => write!(f, "piece {p} is not complete"),
        }
    }
}

impl std::error::Error for PickerError {}

/// A block that arrived and was stored in the picker's books.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// Every block of the piece is in: hash it, then call
    /// [`Picker::on_piece_verified`](super::Picker::on_piece_verified) or
    /// [`Picker::on_piece_failed`](super::Picker::on_piece_failed).
    pub piece_complete: bool,
    /// Whether this peer had been asked for it (a block we no longer
    /// wanted from it, say after a choke, is still taken if missing; the
    /// peer component decides how many such it tolerates).
    pub solicited: bool,
}

/// A block that arrived and is not wanted: drop its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejected {
    /// Not a block of this torrent (offset not a multiple of 16 KiB,
    /// wrong length, piece out of range).
    NotABlock,
    /// Its piece is already verified.
    AlreadyHave,
    /// Another peer's copy came first (endgame, or a cancel that crossed).
    Duplicate,
}

/// Where one block stands (for tests and status).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockStatus {
    /// Its piece is verified.
    Have,
    /// Not requested.
    Free,
    /// Requested from these peers (more than one only in endgame).
    Requested(Vec<PeerKey>),
    /// Received from this peer, piece not yet verified.
    Received(PeerKey),
}
