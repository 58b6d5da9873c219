//! PeerSession when the connection drops: a disconnect inside every
//! message type and inside the handshake (fault walk) ends it cleanly with
//! how much was cut off; between messages, `PeerClosed`.

use std::time::Instant;

use bytes::Bytes;
use kamaelia::protocol::torrent::peer::{
    DisconnectReason as D, PeerConfig, PeerEvent, PeerSession,
};
use kamaelia::protocol::torrent::pieces::{Bitfield, BlockRef};
use kamaelia::protocol::torrent::wire::{Message, WireError};

mod peer_support;
use peer_support::*;

fn piece_msg(b: BlockRef) -> Message {
    Message::Piece {
        piece: b.piece,
        offset: b.offset,
        data: Bytes::from(vec![0; b.len as usize]),
    }
}

#[test]
fn the_stream_ending_inside_a_message() {
    let mut s = seed(true);
    s.on_bytes(&[0, 0, 0, 5, 4, 0], Instant::now());
    s.on_eof();
    assert_eq!(
        drain(&mut s),
        vec![PeerEvent::Disconnect(D::Wire(WireError::Truncated {
            buffered: 6
        }))]
    );
}

/// A disconnect in the middle of every message type (and of the
/// handshake): a clean `Disconnect` saying how much was cut off; between
/// messages, `PeerClosed`.
#[test]
fn fault_walk_a_disconnect_inside_every_message() {
    let msgs = [
        Message::KeepAlive,
        Message::Choke,
        Message::Unchoke,
        Message::Interested,
        Message::NotInterested,
        Message::Have(3),
        Message::Bitfield(Bytes::from_static(&[0xff, 0xc0])),
        Message::Request(block(1, 0)),
        piece_msg(block(2, 1)),
        Message::Cancel(block(1, 0)),
        Message::Port(6881),
        Message::Suggest(1),
        Message::HaveAll,
        Message::HaveNone,
        Message::Reject(block(1, 0)),
        Message::AllowedFast(2),
        Message::Extended {
            id: 0,
            payload: Bytes::from_static(b"d1:md11:ut_metadatai3eee"),
        },
    ];
    for m in msgs {
        let bytes = wire(std::slice::from_ref(&m));
        for cut in 0..=bytes.len() {
            let mut s = session(Bitfield::new(10), PeerConfig::default(), true, true);
            s.on_bytes(&bytes[..cut], Instant::now());
            s.on_eof();
            let ev = drain(&mut s);
            let want = if cut == 0 || cut == bytes.len() {
                D::PeerClosed
            } else {
                D::Wire(WireError::Truncated { buffered: cut })
            };
            assert_eq!(
                ev.last(),
                Some(&PeerEvent::Disconnect(want)),
                "{m:?} cut at {cut}"
            );
            assert_eq!(
                ev.iter()
                    .filter(|e| matches!(e, PeerEvent::Disconnect(_)))
                    .count(),
                1
            );
        }
    }
    // Inside the handshake.
    let hs = peer_handshake(true, true);
    for cut in 1..hs.len() {
        let mut s = PeerSession::new(
            OUR,
            HASH,
            layout(),
            Bitfield::new(10),
            PeerConfig::default(),
            Instant::now(),
        );
        s.on_bytes(&hs[..cut], Instant::now());
        s.on_eof();
        let want = D::Wire(WireError::Truncated { buffered: cut });
        assert_eq!(
            drain(&mut s),
            vec![PeerEvent::Disconnect(want)],
            "cut at {cut}"
        );
    }
}
