//! The swarm's decisions, as pure logic on caller-supplied time: which
//! blocks to ask which peer for ([`Picker`]), which peers to upload to
//! ([`Choker`]), how fast a peer is ([`RateMeter`]) and how many bytes may
//! go now ([`RateLimit`]). No sockets, no components: the torrent client's
//! per-peer components and its torrent loop call these, and the tests
//! drive them with crafted events and virtual time.
//!
//! Peers are named by a [`PeerKey`] the caller chooses (a connection slot
//! number, say), so nothing here hashes per block.

mod availability;
mod blocks;
pub mod choker;
mod endgame;
mod inspect;
pub mod picker;
mod picker_types;
pub mod rate;

pub use choker::{ChokeChange, Choker, ChokerConfig, Decision, PeerView, Role};
pub use picker::{Accepted, BlockStatus, Deadline, PickMode, Picker, PickerError, Rejected};
pub use rate::{RateLimit, RateMeter};

/// A peer, as the caller numbers them (a small id: a slot index, a
/// connection counter). Cheap to copy and compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerKey(pub u32);
