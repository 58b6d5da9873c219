//! What the PeerSession tests share: the ids and info-hash, a peer's
//! handshake, messages as bytes, and sessions opened, downloading or
//! seeding on a small torrent.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use kamaelia::protocol::torrent::peer::{PeerConfig, PeerEvent, PeerSession};
use kamaelia::protocol::torrent::pieces::{Bitfield, BlockRef, Layout};
use kamaelia::protocol::torrent::wire::{encode, Handshake, Message};

pub const OUR: [u8; 20] = [1; 20];
pub const THEM: [u8; 20] = [2; 20];
pub const HASH: [u8; 20] = [9; 20];
pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}
pub fn peer_handshake(fast: bool, ext: bool) -> Vec<u8> {
    let mut hs = Handshake::new(HASH, THEM);
    if !fast {
        hs.reserved[7] &= !0x04;
    }
    if !ext {
        hs.reserved[5] &= !0x10;
    }
    hs.to_bytes().to_vec()
}
pub fn wire(msgs: &[Message]) -> Vec<u8> {
    let mut out = bytes::BytesMut::new();
    for m in msgs {
        encode(m, &mut out).unwrap();
    }
    out.to_vec()
}
pub fn drain(s: &mut PeerSession) -> Vec<PeerEvent> {
    std::iter::from_fn(|| s.poll_event()).collect()
}
/// A session whose peer's handshake came; events and output drained.
pub fn opened(layout: Layout, have: Bitfield, fast: bool, ext: bool, t0: Instant) -> PeerSession {
    let mut s = PeerSession::new(OUR, HASH, layout, have, PeerConfig::default(), t0);
    s.on_bytes(&peer_handshake(fast, ext), t0);
    assert!(matches!(
        drain(&mut s)[..],
        [PeerEvent::HandshakeDone { .. }]
    ));
    s.take_output();
    s
}
/// A downloading session: the peer has everything and unchoked us.
pub fn downloading(layout: Layout, fast: bool, t0: Instant) -> PeerSession {
    let mut s = opened(layout, Bitfield::new(layout.piece_count()), fast, false, t0);
    let first = if fast {
        Message::HaveAll
    } else {
        Message::Bitfield(Bytes::from(Bitfield::full(layout.piece_count()).to_bytes()))
    };
    s.on_bytes(&wire(&[first, Message::Unchoke]), t0);
    drain(&mut s);
    s.set_interested(true);
    s.take_output();
    s
}
pub fn all_blocks(layout: &Layout) -> Vec<BlockRef> {
    (0..layout.piece_count())
        .flat_map(|p| (0..layout.blocks_in_piece(p)).map(move |b| layout.block(p, b).unwrap()))
        .collect()
}
pub fn layout() -> Layout {
    // 10 pieces of 32 KiB: a bitfield of 2 bytes, 6 spare bits.
    Layout::new(10 * 32_768, 32_768).unwrap()
}
pub fn session(have: Bitfield, config: PeerConfig, fast: bool, ext: bool) -> PeerSession {
    let t0 = Instant::now();
    let mut s = PeerSession::new(OUR, HASH, layout(), have, config, t0);
    s.on_bytes(&peer_handshake(fast, ext), t0);
    drain(&mut s);
    s.take_output();
    s
}
pub fn seed(fast: bool) -> PeerSession {
    session(Bitfield::full(10), PeerConfig::default(), fast, false)
}
pub fn block(piece: u32, i: u32) -> BlockRef {
    layout().block(piece, i).unwrap()
}
