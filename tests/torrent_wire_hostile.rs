//! The peer-wire decoder against hostile input (src/protocol/torrent/wire):
//! a 4 GiB length prefix, an oversize piece, bitfields of the wrong length
//! or with spare bits, fixed-size messages of another size, unknown ids, a
//! wrong protocol string, streams cut short, requests outside the torrent.
//! Each is a typed error, found as soon as its bytes are in, and final.

use bytes::{Bytes, BytesMut};
use kamaelia::protocol::torrent::pieces::{BlockRef, Layout, PiecesError, BLOCK_SIZE};
use kamaelia::protocol::torrent::wire::{
    check_request, encode, Decoder, Handshake, Limits, Message, RequestError, WireError,
};

fn block(piece: u32, offset: u32, len: u32) -> BlockRef {
    BlockRef { piece, offset, len }
}

#[test]
fn wrong_protocol_string_fails_at_its_first_wrong_byte() {
    let mut d = Decoder::new(Limits::default());
    d.push(b"G");
    assert_eq!(d.take_handshake(), Err(WireError::BadProtocolLength(b'G')));
    assert_eq!(d.take_handshake(), Err(WireError::BadProtocolLength(b'G')));
    assert_eq!(d.next(), Err(WireError::BadProtocolLength(b'G')), "final");

    let mut d = Decoder::new(Limits::default());
    d.push(b"\x13BitTorrent");
    assert_eq!(d.take_handshake(), Ok(None), "right so far");
    d.push(b" pro");
    assert_eq!(d.take_handshake(), Ok(None));
    d.push(b"X");
    assert_eq!(d.take_handshake(), Err(WireError::BadProtocol));

    let mut bad = Handshake::new([1; 20], [2; 20]).to_bytes();
    bad[19] = b'L';
    assert_eq!(Handshake::parse_prefix(&bad), Err(WireError::BadProtocol));
    assert_eq!(Handshake::parse_prefix(&[]), Ok(None));
}

#[test]
fn truncated_handshake_and_message_are_errors_at_the_end() {
    let hs = Handshake::new([1; 20], [2; 20]).to_bytes();
    let mut d = Decoder::new(Limits::default());
    d.push(&hs[..40]);
    assert_eq!(d.take_handshake(), Ok(None));
    assert_eq!(d.finish(), Err(WireError::Truncated { buffered: 40 }));

    let mut d = Decoder::new(Limits::default());
    d.push(&[0, 0, 0, 13, 6, 0, 0]);
    assert_eq!(d.next(), Ok(None));
    assert_eq!(d.finish(), Err(WireError::Truncated { buffered: 7 }));
    let mut d = Decoder::new(Limits::default());
    d.push(&[0, 0]);
    assert_eq!(d.finish(), Err(WireError::Truncated { buffered: 2 }));
}

#[test]
fn a_4_gib_length_prefix_fails_at_once_and_buffers_nothing_more() {
    for prefix in [[0xff, 0xff, 0xff, 0xff], [0x80, 0, 0, 0], [0, 0x10, 0, 0]] {
        let mut d = Decoder::new(Limits::default());
        d.push(&prefix);
        let len = u32::from_be_bytes(prefix);
        let err = d.next().unwrap_err();
        assert_eq!(
            err,
            WireError::Oversize {
                id: None,
                len,
                max: Limits::default().largest()
            }
        );
        assert_eq!(d.buffered(), 4);
    }
    // The default limits' largest message: a bitfield for 8 MiB of
    // metadata's pieces (52,429 bytes + id) beats 16 KiB + 9 and 128 KiB.
    assert_eq!(Limits::default().largest(), 128 * 1024);
}

#[test]
fn oversize_piece_is_refused_and_the_block_size_is_configurable() {
    let mut d = Decoder::new(Limits::default());
    d.push(&(BLOCK_SIZE + 10).to_be_bytes());
    d.push(&[7]);
    assert_eq!(
        d.next(),
        Err(WireError::Oversize {
            id: Some(7),
            len: BLOCK_SIZE + 10,
            max: BLOCK_SIZE + 9
        })
    );
    // 32 KiB blocks allowed when configured.
    let limits = Limits {
        max_block: 32 * 1024,
        ..Limits::default()
    };
    let msg = Message::Piece {
        piece: 1,
        offset: 0,
        data: Bytes::from(vec![9; 32 * 1024]),
    };
    let mut out = BytesMut::new();
    encode(&msg, &mut out).unwrap();
    let mut d = Decoder::new(limits);
    d.push(&out);
    assert_eq!(d.next(), Ok(Some(msg.clone())));
    let mut d = Decoder::new(Limits::default());
    d.push(&out);
    assert!(matches!(
        d.next(),
        Err(WireError::Oversize { id: Some(7), .. })
    ));
    // A piece too short for its header.
    let mut d = Decoder::new(Limits::default());
    d.push(&[0, 0, 0, 8, 7]);
    assert_eq!(
        d.next(),
        Err(WireError::WrongLength {
            id: 7,
            len: 8,
            expected: 9
        })
    );
}

#[test]
fn fixed_size_messages_of_another_size_are_errors() {
    let fixed: &[(u8, u32)] = &[
        (0, 1),
        (1, 1),
        (2, 1),
        (3, 1),
        (4, 5),
        (6, 13),
        (8, 13),
        (9, 3),
        (0x0d, 5),
        (0x0e, 1),
        (0x0f, 1),
        (0x10, 13),
        (0x11, 5),
    ];
    for &(id, expected) in fixed {
        for len in [expected - 1, expected + 1] {
            if len == 0 {
                continue; // a keep-alive
            }
            let mut d = Decoder::new(Limits::default());
            d.push(&len.to_be_bytes());
            d.push(&[id]);
            assert_eq!(
                d.next(),
                Err(WireError::WrongLength { id, len, expected }),
                "id {id} len {len}"
            );
        }
    }
    // The example of the issue: a have of length 6.
    let mut d = Decoder::new(Limits::default());
    d.push(&[0, 0, 0, 6, 4, 0, 0, 0, 1, 0]);
    assert_eq!(
        d.next(),
        Err(WireError::WrongLength {
            id: 4,
            len: 6,
            expected: 5
        })
    );
    let mut d = Decoder::new(Limits::default());
    d.push(&[0, 0, 0, 1, 20]);
    assert_eq!(
        d.next(),
        Err(WireError::WrongLength {
            id: 20,
            len: 1,
            expected: 2
        }),
        "extended without its id"
    );
}

#[test]
fn unknown_ids_are_errors() {
    for id in [10u8, 11, 12, 0x12, 19, 21, 255] {
        let mut d = Decoder::new(Limits::default());
        d.push(&[0, 0, 0, 1, id]);
        assert_eq!(d.next(), Err(WireError::UnknownMessage(id)));
    }
}

#[test]
fn bitfields_are_checked_against_the_piece_count() {
    // 10 pieces: 2 bytes, the low 6 bits of the second spare.
    let limits = Limits {
        piece_count: Some(10),
        ..Limits::default()
    };
    let run = |bytes: &[u8]| {
        let mut d = Decoder::new(limits);
        d.push(bytes);
        d.next()
    };
    assert_eq!(
        run(&[0, 0, 0, 3, 5, 0xff, 0xc0]),
        Ok(Some(Message::Bitfield(Bytes::from_static(&[0xff, 0xc0]))))
    );
    assert_eq!(
        run(&[0, 0, 0, 3, 5, 0xff, 0xe0]),
        Err(WireError::Bitfield(PiecesError::SpareBitsSet))
    );
    let short = Err(WireError::Bitfield(PiecesError::BitfieldLength {
        expected: 2,
        got: 1,
    }));
    // Refused on its header, before its payload is waited for.
    assert_eq!(run(&[0, 0, 0, 2, 5]), short);
    assert_eq!(
        run(&[0, 0, 0, 4, 5]),
        Err(WireError::Bitfield(PiecesError::BitfieldLength {
            expected: 2,
            got: 3
        }))
    );
    // Not known yet (a magnet link): any size up to the metadata cap, and
    // set once known.
    let mut d = Decoder::new(Limits::default());
    d.push(&[0, 0, 0, 4, 5, 1, 2, 3]);
    assert!(matches!(d.next(), Ok(Some(Message::Bitfield(_)))));
    d.set_piece_count(10);
    d.push(&[0, 0, 0, 4, 5, 1, 2, 3]);
    assert!(matches!(d.next(), Err(WireError::Bitfield(_))));
    let mut d = Decoder::new(Limits::default());
    d.push(&(52_429u32 + 2).to_be_bytes());
    d.push(&[5]);
    assert_eq!(
        d.next(),
        Err(WireError::Oversize {
            id: Some(5),
            len: 52_431,
            max: 52_430
        })
    );
}

#[test]
fn extended_messages_over_the_cap_are_refused() {
    let limits = Limits {
        max_extended: 100,
        ..Limits::default()
    };
    let mut d = Decoder::new(limits);
    d.push(&[0, 0, 0, 101, 20, 1]);
    assert_eq!(
        d.next(),
        Err(WireError::Oversize {
            id: Some(20),
            len: 101,
            max: 100
        })
    );
    let mut d = Decoder::new(limits);
    d.push(&[0, 0, 0, 100, 20, 1]);
    d.push(&[b'x'; 98]);
    assert!(matches!(
        d.next(),
        Ok(Some(Message::Extended { id: 1, .. }))
    ));
}

#[test]
fn requests_outside_the_torrent_or_too_long_are_refused() {
    let layout = Layout::new(40_000, 32_768).unwrap();
    assert_eq!(
        check_request(&layout, &block(0, 16_384, 16_384), BLOCK_SIZE),
        Ok(())
    );
    assert_eq!(
        check_request(&layout, &block(1, 0, 7_232), BLOCK_SIZE),
        Ok(())
    );
    for r in [
        block(1, 0, 7_233),
        block(2, 0, 1),
        block(0, u32::MAX, 2),
        block(0, 0, 0),
        block(u32::MAX, 0, 16),
    ] {
        assert_eq!(
            check_request(&layout, &r, BLOCK_SIZE),
            Err(RequestError::OutsideTorrent),
            "{r:?}"
        );
    }
    assert_eq!(
        check_request(&layout, &block(0, 0, 32_768), BLOCK_SIZE),
        Err(RequestError::TooLong {
            len: 32_768,
            max: BLOCK_SIZE
        })
    );
}

#[test]
fn errors_are_final() {
    let mut d = Decoder::new(Limits::default());
    d.push(&[0, 0, 0, 1, 99]);
    assert_eq!(d.next(), Err(WireError::UnknownMessage(99)));
    d.push(&[0, 0, 0, 1, 2]);
    assert_eq!(d.next(), Err(WireError::UnknownMessage(99)));
    assert_eq!(d.finish(), Err(WireError::UnknownMessage(99)));
    // A peer that goes on sending after the error costs no memory.
    let held = d.buffered();
    for _ in 0..100 {
        d.push(&[0; 1000]);
    }
    assert_eq!(d.buffered(), held);
    let mut r: &[u8] = &[7; 5000];
    assert_eq!(d.read_from(&mut r, 4096).unwrap(), 4096);
    assert_eq!(d.buffered(), 4096, "what was held is dropped first");
    assert_eq!(d.take_handshake(), Err(WireError::UnknownMessage(99)));
}
