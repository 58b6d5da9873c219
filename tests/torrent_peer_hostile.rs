//! PeerSession against hostile peers: each rule of the module's table ends
//! the session with its typed reason (and nothing after it), or is
//! answered without ending it where BEP 6 says so; memory stays bounded
//! for a peer that stops reading.

use std::time::{Duration, Instant};

use bytes::Bytes;
use kamaelia::protocol::torrent::peer::{
    DisconnectReason as D, PeerConfig, PeerEvent, PeerSession,
};
use kamaelia::protocol::torrent::pieces::{Bitfield, BlockRef, PiecesError};
use kamaelia::protocol::torrent::wire::{
    ExtError, Handshake, Message, MetadataError, RequestError, WireError,
};

mod peer_support;
use peer_support::*;

/// Feeds `bytes` and returns the reason the session ended with, checking
/// it ended once, last, and takes nothing more.
fn ends_with(s: &mut PeerSession, bytes: &[u8]) -> D {
    s.on_bytes(bytes, Instant::now());
    let ev = drain(s);
    let Some(PeerEvent::Disconnect(reason)) = ev.last().cloned() else {
        panic!("no disconnect: {ev:?}");
    };
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, PeerEvent::Disconnect(_)))
            .count(),
        1
    );
    assert!(s.is_closed());
    // Closed: nothing more is read, said or served.
    let out = s.output().len();
    s.on_bytes(
        &wire(&[Message::Unchoke, Message::Request(block(0, 0))]),
        Instant::now(),
    );
    s.on_tick(Instant::now() + Duration::from_secs(1000));
    s.unchoke();
    assert!(drain(s).is_empty());
    assert_eq!(s.output().len(), out);
    assert_eq!(s.pop_upload(), None);
    reason
}

fn piece_msg(b: BlockRef) -> Message {
    Message::Piece {
        piece: b.piece,
        offset: b.offset,
        data: Bytes::from(vec![0; b.len as usize]),
    }
}

#[test]
fn wrong_info_hash_is_refused_before_the_peer_id_comes() {
    let mut s = PeerSession::new(
        OUR,
        HASH,
        layout(),
        Bitfield::new(10),
        PeerConfig::default(),
        Instant::now(),
    );
    let mut hs = Handshake::new([8; 20], THEM).to_bytes().to_vec();
    hs.truncate(48);
    assert_eq!(ends_with(&mut s, &hs), D::WrongInfoHash);
}

#[test]
fn our_own_peer_id_is_refused() {
    let mut s = PeerSession::new(
        OUR,
        HASH,
        layout(),
        Bitfield::new(10),
        PeerConfig::default(),
        Instant::now(),
    );
    let hs = Handshake::new(HASH, OUR).to_bytes();
    assert_eq!(ends_with(&mut s, &hs), D::OwnPeerId);
}

#[test]
fn a_bad_handshake_is_a_wire_error() {
    let mut s = PeerSession::new(
        OUR,
        HASH,
        layout(),
        Bitfield::new(10),
        PeerConfig::default(),
        Instant::now(),
    );
    assert_eq!(
        ends_with(&mut s, b"GET / HTTP/1.1\r\n"),
        D::Wire(WireError::BadProtocolLength(b'G'))
    );
}

#[test]
fn a_second_bitfield_or_a_late_one_adds_haves_and_takes_nothing_away() {
    // aria2c sends have-none, haves, then its bitfield again, and later
    // connections a bitfield twice: each later one is read as haves.
    let first = Message::Bitfield(Bytes::from_static(&[0b1010_0000, 0]));
    let again = Message::Bitfield(Bytes::from_static(&[0b0110_0000, 0x40]));
    let cases: [(Vec<Message>, bool, Vec<PeerEvent>); 4] = [
        (
            vec![first.clone(), again.clone()],
            false,
            vec![PeerEvent::Bitfield, PeerEvent::Have(1), PeerEvent::Have(9)],
        ),
        (
            vec![Message::HaveNone, Message::Have(4), again.clone()],
            true,
            vec![
                PeerEvent::HaveNone,
                PeerEvent::Have(4),
                PeerEvent::Have(1),
                PeerEvent::Have(2),
                PeerEvent::Have(9),
            ],
        ),
        (
            vec![Message::Interested, Message::Have(0), first.clone()],
            false,
            vec![
                PeerEvent::Interest(true),
                PeerEvent::Have(0),
                PeerEvent::Have(2),
            ],
        ),
        (
            vec![first.clone(), Message::HaveNone, Message::HaveAll],
            true,
            [PeerEvent::Bitfield]
                .into_iter()
                .chain([1, 3, 4, 5, 6, 7, 8, 9].map(PeerEvent::Have))
                .collect(),
        ),
    ];
    for (msgs, fast, want) in cases {
        let mut s = seed(fast);
        s.on_bytes(&wire(&msgs), Instant::now());
        let events: Vec<_> = std::iter::from_fn(|| s.poll_event())
            .filter(|e| !matches!(e, PeerEvent::HandshakeDone { .. } | PeerEvent::ExtHandshake))
            .collect();
        assert_eq!(events, want, "{msgs:?}");
        assert!(!s.is_closed());
    }
    // What a later bitfield leaves out is not taken away.
    let mut s = seed(false);
    s.on_bytes(
        &wire(&[
            first.clone(),
            Message::Bitfield(Bytes::from_static(&[0, 0])),
        ]),
        Instant::now(),
    );
    assert_eq!(s.peer_has().ones().collect::<Vec<_>>(), vec![0, 2]);
    // A bitfield of the wrong length is still refused, first or later.
    let mut s = seed(false);
    let short = Message::Bitfield(Bytes::from_static(&[0xff]));
    assert!(matches!(
        ends_with(&mut s, &wire(&[first.clone(), short])),
        D::Wire(_)
    ));
    let bf = first;
    // The extension handshake, a port and allowed-fast may come first.
    let mut s = session(Bitfield::new(10), PeerConfig::default(), true, true);
    let mut bytes = wire(&[Message::Extended {
        id: 0,
        payload: Bytes::from_static(b"de"),
    }]);
    bytes.extend(wire(&[Message::Port(6881), Message::AllowedFast(1), bf]));
    s.on_bytes(&bytes, Instant::now());
    assert!(!s.is_closed(), "{:?}", drain(&mut s));
}

#[test]
fn a_bitfield_of_the_wrong_length_or_with_spare_bits() {
    let mut s = seed(false);
    let short = wire(&[Message::Bitfield(Bytes::from_static(&[0xff]))]);
    assert_eq!(
        ends_with(&mut s, &short),
        D::Wire(WireError::Bitfield(PiecesError::BitfieldLength {
            expected: 2,
            got: 1
        }))
    );
    let mut s = seed(false);
    let spare = wire(&[Message::Bitfield(Bytes::from_static(&[0xff, 0xe0]))]);
    assert_eq!(
        ends_with(&mut s, &spare),
        D::Wire(WireError::Bitfield(PiecesError::SpareBitsSet))
    );
}

#[test]
fn a_have_past_the_last_piece() {
    let mut s = seed(false);
    assert_eq!(
        ends_with(&mut s, &wire(&[Message::Have(10)])),
        D::HaveOutOfRange(10)
    );
}

#[test]
fn messages_not_negotiated() {
    for (m, id) in [
        (Message::HaveAll, 0x0e),
        (Message::Reject(block(0, 0)), 0x10),
        (Message::AllowedFast(1), 0x11),
        (Message::Suggest(1), 0x0d),
        (
            Message::Extended {
                id: 0,
                payload: Bytes::from_static(b"de"),
            },
            20,
        ),
    ] {
        let mut s = seed(false);
        assert_eq!(ends_with(&mut s, &wire(&[m])), D::NotNegotiated(id));
    }
}

#[test]
fn requests_outside_the_torrent_or_oversize() {
    let outside = [
        BlockRef {
            piece: 10,
            offset: 0,
            len: 16_384,
        },
        BlockRef {
            piece: 0,
            offset: 16_385,
            len: 16_384,
        },
        BlockRef {
            piece: 0,
            offset: u32::MAX,
            len: 2,
        },
        BlockRef {
            piece: 0,
            offset: 0,
            len: 0,
        },
    ];
    for r in outside {
        let mut s = seed(true);
        s.unchoke();
        assert_eq!(
            ends_with(&mut s, &wire(&[Message::Request(r)])),
            D::BadRequest(RequestError::OutsideTorrent)
        );
    }
    let mut s = seed(true);
    let big = BlockRef {
        piece: 0,
        offset: 0,
        len: 32_768,
    };
    assert_eq!(
        ends_with(&mut s, &wire(&[Message::Request(big)])),
        D::BadRequest(RequestError::TooLong {
            len: 32_768,
            max: 16_384
        })
    );
}

#[test]
fn requests_while_choked_fast_peer_gets_rejects() {
    let mut s = seed(true);
    let reqs: Vec<Message> = (0..100)
        .map(|i| Message::Request(block(i % 10, i / 10 % 2)))
        .collect();
    s.on_bytes(&wire(&reqs), Instant::now());
    assert!(!s.is_closed());
    let rejects: Vec<Message> = reqs
        .iter()
        .map(|m| match m {
            Message::Request(r) => Message::Reject(*r),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(s.take_output().to_vec(), wire(&rejects));
    assert_eq!(s.pop_upload(), None);
}

#[test]
fn requests_while_choked_slow_peer_counted_then_dropped() {
    let mut s = seed(false);
    let reqs: Vec<Message> = (0..8).map(|i| Message::Request(block(i, 0))).collect();
    s.on_bytes(&wire(&reqs), Instant::now());
    assert!(!s.is_closed());
    assert!(s.output().is_empty(), "no reject without BEP 6");
    assert_eq!(s.pop_upload(), None);
    assert_eq!(
        ends_with(&mut s, &wire(&[Message::Request(block(9, 0))])),
        D::UnservableRequests
    );
    // A piece we lack counts the same.
    let mut have = Bitfield::new(10);
    have.set(0);
    let mut s = session(have, PeerConfig::default(), false, false);
    s.unchoke();
    let reqs: Vec<Message> = (0..9).map(|i| Message::Request(block(1, i % 2))).collect();
    assert_eq!(ends_with(&mut s, &wire(&reqs)), D::UnservableRequests);
}

#[test]
fn requests_that_cross_our_choke_do_not_count() {
    let t0 = Instant::now();
    let mut s = PeerSession::new(
        OUR,
        HASH,
        layout(),
        Bitfield::full(10),
        PeerConfig::default(),
        t0,
    );
    s.on_bytes(&peer_handshake(false, false), t0);
    s.unchoke();
    s.choke();
    let reqs: Vec<Message> = (0..40)
        .map(|i| Message::Request(block(i % 10, i / 10 % 2)))
        .collect();
    s.on_bytes(&wire(&reqs), t0 + Duration::from_secs(9));
    assert!(!s.is_closed());
    // Past the grace they count.
    s.on_bytes(&wire(&reqs[..8]), t0 + Duration::from_secs(10));
    assert!(!s.is_closed());
    s.on_bytes(&wire(&reqs[8..9]), t0 + Duration::from_secs(10));
    assert!(s.is_closed());
}

#[test]
fn more_requests_than_our_reqq() {
    let mut s = seed(true);
    s.unchoke();
    let all: Vec<BlockRef> = (0..10)
        .flat_map(|p| (0..2).map(move |b| block(p, b)))
        .collect();
    // 250 distinct requests: 20 blocks, cut at 25 offsets each.
    let mut reqs = Vec::new();
    for b in &all {
        for k in 0..13u32 {
            reqs.push(Message::Request(BlockRef {
                piece: b.piece,
                offset: b.offset + k,
                len: 1_000,
            }));
        }
    }
    reqs.truncate(250);
    s.on_bytes(&wire(&reqs), Instant::now());
    assert!(!s.is_closed());
    assert_eq!(s.peer_requests(), 250);
    let one_more = Message::Request(BlockRef {
        piece: 9,
        offset: 20_000,
        len: 100,
    });
    assert_eq!(ends_with(&mut s, &wire(&[one_more])), D::TooManyRequests);
}

#[test]
fn unsolicited_pieces_counted_then_dropped_and_cancelled_ones_are_late() {
    let mut s = session(Bitfield::new(10), PeerConfig::default(), true, false);
    s.on_bytes(&wire(&[Message::HaveAll, Message::Unchoke]), Instant::now());
    s.set_interested(true);
    assert_eq!(s.request(&[block(0, 0), block(0, 1)]), 2);
    assert!(s.cancel(block(0, 1)));
    assert!(!s.cancel(block(0, 1)));
    drain(&mut s);
    s.on_bytes(
        &wire(&[piece_msg(block(0, 1)), piece_msg(block(0, 0))]),
        Instant::now(),
    );
    let ev = drain(&mut s);
    assert!(
        matches!(
            ev[..],
            [
                PeerEvent::Block { late: true, .. },
                PeerEvent::Block { late: false, .. }
            ]
        ),
        "{ev:?}"
    );
    // Wrong length for a requested block, or never requested: unsolicited.
    assert_eq!(s.request(&[block(1, 0)]), 1);
    let wrong_len = Message::Piece {
        piece: 1,
        offset: 0,
        data: Bytes::from(vec![0; 100]),
    };
    let mut msgs = vec![wrong_len];
    for p in 2..9 {
        msgs.push(piece_msg(block(p, 0)));
    }
    s.on_bytes(&wire(&msgs), Instant::now());
    assert!(
        drain(&mut s).is_empty(),
        "8 dropped, not given to the owner"
    );
    assert_eq!(
        ends_with(&mut s, &wire(&[piece_msg(block(9, 0))])),
        D::UnsolicitedPieces
    );
}

#[test]
fn decoder_errors_end_the_session() {
    let mut s = seed(true);
    assert_eq!(
        ends_with(&mut s, &[0xff, 0xff, 0xff, 0xff]),
        D::Wire(WireError::Oversize {
            id: None,
            len: u32::MAX,
            max: 131_072
        })
    );
    let mut s = seed(true);
    assert_eq!(
        ends_with(&mut s, &[0, 0, 0, 1, 0x42]),
        D::Wire(WireError::UnknownMessage(0x42))
    );
    let mut s = seed(true);
    assert_eq!(
        ends_with(&mut s, &[0, 0, 0, 6, 4, 0, 0, 0, 1, 0]),
        D::Wire(WireError::WrongLength {
            id: 4,
            len: 6,
            expected: 5
        })
    );
    // A block over 16 KiB is refused at its length prefix.
    let mut s = seed(true);
    let r = ends_with(&mut s, &[0, 0, 0x80, 9, 7]);
    assert!(
        matches!(r, D::Wire(WireError::Oversize { id: Some(7), .. })),
        "{r:?}"
    );
}

#[test]
fn bad_extension_messages() {
    let mut s = session(Bitfield::new(10), PeerConfig::default(), true, true);
    let bad = wire(&[Message::Extended {
        id: 0,
        payload: Bytes::from_static(b"le"),
    }]);
    assert_eq!(
        ends_with(&mut s, &bad),
        D::BadExtHandshake(ExtError::NotADictionary)
    );
    let mut s = session(Bitfield::new(10), PeerConfig::default(), true, true);
    let bad = wire(&[Message::Extended {
        id: 2,
        payload: Bytes::from_static(b"d5:piecei0ee"),
    }]);
    assert_eq!(
        ends_with(&mut s, &bad),
        D::BadMetadata(MetadataError::BadField("msg_type"))
    );
    // Extensions we do not speak are ignored.
    let mut s = session(Bitfield::new(10), PeerConfig::default(), true, true);
    s.on_bytes(
        &wire(&[Message::Extended {
            id: 7,
            payload: Bytes::from_static(b"xx"),
        }]),
        Instant::now(),
    );
    assert!(!s.is_closed());
}

#[test]
fn a_peer_that_stops_reading_is_bounded_then_dropped() {
    // Uploads stop at the window: the output stays bounded.
    let mut s = seed(true);
    s.unchoke();
    let reqs: Vec<Message> = (0..10)
        .flat_map(|p| (0..2).map(move |b| Message::Request(block(p, b))))
        .collect();
    s.on_bytes(&wire(&reqs), Instant::now());
    let data = vec![0u8; 16_384];
    while let Some(r) = s.pop_upload() {
        s.send_block(r, &data);
    }
    assert!(
        s.output().len() <= 256 * 1024 + 20 * 13 + 100,
        "{}",
        s.output().len()
    );
    assert!(!s.is_closed());
    // A flood of requests while choked: each a reject, until the output
    // passes max_output.
    let config = PeerConfig {
        max_output: 4096,
        ..PeerConfig::default()
    };
    let mut s = session(Bitfield::full(10), config, true, false);
    let flood: Vec<Message> = (0..300)
        .map(|i| Message::Request(block(i % 10, 0)))
        .collect();
    assert_eq!(ends_with(&mut s, &wire(&flood)), D::NotReading);
    assert!(s.output().len() <= 4096 + 17);
}

#[test]
fn ban_and_close() {
    let mut s = seed(true);
    s.ban();
    assert_eq!(drain(&mut s), vec![PeerEvent::Disconnect(D::BadData)]);
    s.ban();
    s.close_session();
    assert!(drain(&mut s).is_empty());
    let mut s = seed(true);
    s.close_session();
    assert_eq!(drain(&mut s), vec![PeerEvent::Disconnect(D::Closed)]);
}
