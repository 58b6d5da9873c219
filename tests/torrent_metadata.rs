//! The metadata exchange (BEP 9 over BEP 10): the extension handshake built
//! and read (unknown keys skipped, wrong kinds typed errors, garbage
//! refused); `ut_metadata` messages through the real peer-wire decoder;
//! the assembler fed a real info dictionary piece by piece in any order,
//! refusing wrong sizes, indexes and hashes; the serving side; and the
//! fetched dictionary read back as a `Metainfo` with its trackers.

use std::collections::BTreeMap;
use std::net::IpAddr;

use bytes::{Bytes, BytesMut};
use kamaelia::protocol::torrent::bencode::ErrorKind;
use kamaelia::protocol::torrent::metainfo::{Metainfo, MetainfoBuilder, MetainfoError};
use kamaelia::protocol::torrent::wire::{
    encode_metadata, serve_metadata, Decoder, ExtError, ExtHandshake, Limits, Message,
    MetadataAssembler, MetadataError, MetadataMsg, MetadataProgress, MAX_METADATA_SIZE,
    METADATA_PIECE_SIZE, UT_METADATA,
};
use sha1::{Digest, Sha1};

/// A real info dictionary of `pieces` piece hashes (20 bytes each, so
/// 2,000 pieces make about 40 KiB: three metadata pieces, the last short).
fn info_dict(pieces: usize) -> (Vec<u8>, [u8; 20]) {
    let hashes: Vec<[u8; 20]> = (0..pieces)
        .map(|i| {
            let mut h = [0u8; 20];
            h[..8].copy_from_slice(&(i as u64).to_be_bytes());
            h
        })
        .collect();
    let file = MetainfoBuilder::single_file("data.bin", pieces as u64 * 16_384, 16_384, hashes)
        .announce("http://127.0.0.1:6969/announce")
        .build()
        .unwrap()
        .to_bytes();
    let m = Metainfo::from_bytes(&file).unwrap();
    (m.raw_info().to_vec(), m.info_hash())
}

/// Decodes one whole extended message from its wire bytes.
fn through_decoder(wire: &[u8]) -> (u8, Bytes) {
    let mut d = Decoder::new(Limits::default());
    for b in wire {
        d.push(std::slice::from_ref(b));
    }
    let Some(Message::Extended { id, payload }) = d.next().unwrap() else {
        panic!("not an extended message")
    };
    assert_eq!(d.finish(), Ok(()));
    (id, payload)
}

#[test]
fn extension_handshake_round_trips_with_every_field() {
    let hs = ExtHandshake {
        m: BTreeMap::from([(UT_METADATA.to_string(), 3), ("ut_pex".to_string(), 0)]),
        metadata_size: Some(31_235),
        reqq: Some(500),
        v: Some("kamaelia 0.1".to_string()),
        p: Some(6881),
        yourip: Some(IpAddr::from([127, 0, 0, 1])),
    };
    let mut wire = BytesMut::new();
    hs.encode(&mut wire).unwrap();
    let (id, payload) = through_decoder(&wire);
    assert_eq!(id, 0, "the extension handshake is extended message 0");
    assert_eq!(
        &payload[..],
        &b"d1:md11:ut_metadatai3e6:ut_pexi0ee13:metadata_sizei31235e1:pi6881e4:reqqi500e1:v12:kamaelia 0.16:yourip4:\x7f\x00\x00\x01e"[..]
    );
    let back = ExtHandshake::parse(&payload).unwrap();
    assert_eq!(back, hs);
    assert_eq!(back.id_of(UT_METADATA), Some(3));
    assert_eq!(back.id_of("ut_pex"), None, "0 means disabled");
    assert_eq!(back.id_of("lt_donthave"), None);

    let v6 = ExtHandshake {
        yourip: Some("::1".parse().unwrap()),
        ..ExtHandshake::default()
    };
    assert_eq!(ExtHandshake::parse(&v6.to_bytes()).unwrap(), v6);
}

#[test]
fn extension_handshake_skips_unknown_keys_and_reads_unsorted_ones() {
    // Unsorted, with keys of other extensions and an `m` entry that is
    // not UTF-8.
    let payload =
        b"d1:v3:abc1:md6:ut_pexi1e11:ut_metadatai2e2:\xff\xfei9ee4:ipv616:0123456789abcdef\
                    12:complete_agoi-1e13:metadata_sizei100e11:upload_onlyi1e5:extrald1:xi1eeee";
    let hs = ExtHandshake::parse(payload).unwrap();
    assert_eq!(hs.id_of(UT_METADATA), Some(2));
    assert_eq!(hs.id_of("ut_pex"), Some(1));
    assert_eq!(hs.m.len(), 2);
    assert_eq!(hs.metadata_size, Some(100));
    assert_eq!(hs.v.as_deref(), Some("abc"));
    assert_eq!((hs.p, hs.reqq, hs.yourip), (None, None, None));
    assert_eq!(ExtHandshake::parse(b"de").unwrap(), ExtHandshake::default());
}

#[test]
fn extension_handshake_wrong_kinds_and_garbage_are_typed_errors() {
    let wrong = |field, expected| Err(ExtError::WrongType { field, expected });
    let cases: &[(&[u8], Result<ExtHandshake, ExtError>)] = &[
        (b"d1:mi1ee", wrong("m", "a dictionary")),
        (b"d1:md11:ut_metadata1:xee", wrong("m", "integers")),
        (
            b"d1:md11:ut_metadatai256eee",
            Err(ExtError::OutOfRange("m")),
        ),
        (b"d1:md11:ut_metadatai-1eee", Err(ExtError::OutOfRange("m"))),
        (
            b"d13:metadata_size3:abce",
            wrong("metadata_size", "an integer"),
        ),
        (
            b"d13:metadata_sizei-5ee",
            Err(ExtError::OutOfRange("metadata_size")),
        ),
        (b"d1:pi65536ee", Err(ExtError::OutOfRange("p"))),
        (b"d1:pli1eee", wrong("p", "an integer")),
        (b"d4:reqqi-1ee", Err(ExtError::OutOfRange("reqq"))),
        (b"d1:vi1ee", wrong("v", "a string")),
        (b"d6:yourip3:abce", Err(ExtError::OutOfRange("yourip"))),
        (b"d6:youripi1ee", wrong("yourip", "a string")),
        (b"li1ee", Err(ExtError::NotADictionary)),
    ];
    for (payload, want) in cases {
        assert_eq!(
            &ExtHandshake::parse(payload),
            want,
            "{}",
            String::from_utf8_lossy(payload)
        );
    }
    // Garbage bencode, in an extended message that decoded fine.
    for garbage in [
        &b"d1:m"[..],
        b"\x00\x01\x02",
        b"",
        b"d1:mdee trailing",
        b"i99999999999999999999e",
    ] {
        let msg = Message::Extended {
            id: 0,
            payload: Bytes::copy_from_slice(garbage),
        };
        let mut wire = BytesMut::new();
        kamaelia::protocol::torrent::wire::encode(&msg, &mut wire).unwrap();
        let (_, payload) = through_decoder(&wire);
        assert!(
            matches!(ExtHandshake::parse(&payload), Err(ExtError::Bencode(_))),
            "{garbage:?}"
        );
    }
    // Deep nesting is bounded.
    let deep = [&b"d1:x"[..], &b"l".repeat(100), &b"e".repeat(101)].concat();
    assert!(matches!(
        ExtHandshake::parse(&deep),
        Err(ExtError::Bencode(e)) if e.kind == ErrorKind::TooDeep
    ));
}

#[test]
fn metadata_messages_round_trip_through_the_peer_wire() {
    let data = Bytes::from(vec![7u8; 300]);
    let msgs = [
        MetadataMsg::Request { piece: 0 },
        MetadataMsg::Reject { piece: 5 },
        MetadataMsg::Data {
            piece: 1,
            total_size: 16_684,
            data: data.clone(),
        },
    ];
    for msg in msgs {
        let mut wire = BytesMut::new();
        encode_metadata(&msg, 3, &mut wire).unwrap();
        let (id, payload) = through_decoder(&wire);
        assert_eq!(id, 3);
        assert_eq!(MetadataMsg::parse(&payload).unwrap(), Some(msg));
    }
    // Known bytes (BEP 9's examples).
    let mut wire = BytesMut::new();
    encode_metadata(&MetadataMsg::Request { piece: 0 }, 2, &mut wire).unwrap();
    assert_eq!(&wire[4..], &b"\x14\x02d8:msg_typei0e5:piecei0ee"[..]);
    let mut wire = BytesMut::new();
    let piece = MetadataMsg::Data {
        piece: 0,
        total_size: 3425,
        data: Bytes::from_static(b"xyz"),
    };
    encode_metadata(&piece, 2, &mut wire).unwrap();
    assert_eq!(
        &wire[4..],
        &b"\x14\x02d8:msg_typei1e5:piecei0e10:total_sizei3425eexyz"[..]
    );
    // The data is a slice of the payload, not a copy.
    let payload = Bytes::from_static(b"d8:msg_typei1e5:piecei0e10:total_sizei3ee123");
    let Some(MetadataMsg::Data { data, .. }) = MetadataMsg::parse(&payload).unwrap() else {
        panic!()
    };
    assert_eq!(data.as_ptr(), payload[payload.len() - 3..].as_ptr());
}

#[test]
fn malformed_metadata_messages_are_typed_errors() {
    let parse = |b: &'static [u8]| MetadataMsg::parse(&Bytes::from_static(b));
    assert_eq!(
        parse(b"d8:msg_typei0e5:piecei0eeX"),
        Err(MetadataError::TrailingBytes)
    );
    assert_eq!(
        parse(b"d5:piecei0ee"),
        Err(MetadataError::BadField("msg_type"))
    );
    assert_eq!(
        parse(b"d8:msg_typei0ee"),
        Err(MetadataError::BadField("piece"))
    );
    assert_eq!(
        parse(b"d8:msg_typei0e5:piecei-1ee"),
        Err(MetadataError::BadField("piece"))
    );
    assert_eq!(
        parse(b"d8:msg_typei1e5:piecei0eexyz"),
        Err(MetadataError::BadField("total_size"))
    );
    assert_eq!(
        parse(b"d8:msg_typei1e5:piece1:0e"),
        Err(MetadataError::BadField("piece"))
    );
    assert_eq!(parse(b"i1e"), Err(MetadataError::NotADictionary));
    assert!(matches!(
        parse(b"d8:msg_ty"),
        Err(MetadataError::Bencode(_))
    ));
    // An unknown msg_type is ignored (BEP 9).
    assert_eq!(parse(b"d8:msg_typei7e5:piecei0ee"), Ok(None));
    // More than a piece of data.
    let mut big = b"d8:msg_typei1e5:piecei0e10:total_sizei99999ee".to_vec();
    big.extend_from_slice(&[0; METADATA_PIECE_SIZE + 1]);
    assert_eq!(
        MetadataMsg::parse(&Bytes::from(big)),
        Err(MetadataError::WrongPieceLength {
            piece: 0,
            expected: METADATA_PIECE_SIZE,
            got: METADATA_PIECE_SIZE + 1
        })
    );
}

/// Fetches `info` through the assembler, served by `serve_metadata`, the
/// pieces taken in the order `order` gives. Every message goes through
/// the wire encoding and the decoder.
fn fetch(info: &Bytes, hash: [u8; 20], order: &[u32]) -> Result<Bytes, MetadataError> {
    let mut a = MetadataAssembler::new(hash, info.len() as u64)?;
    let mut asked = Vec::new();
    while let Some(p) = a.next_request() {
        asked.push(p);
    }
    assert_eq!(asked, (0..a.piece_count()).collect::<Vec<_>>());
    assert_eq!(a.next_request(), None, "all out");
    let mut result = None;
    for &p in order {
        let mut wire = BytesMut::new();
        encode_metadata(&serve_metadata(info, p), 1, &mut wire).unwrap();
        let (_, payload) = through_decoder(&wire);
        let Some(MetadataMsg::Data {
            piece,
            total_size,
            data,
        }) = MetadataMsg::parse(&payload)?
        else {
            panic!("served data")
        };
        match a.accept(piece, total_size, &data)? {
            MetadataProgress::NeedMore => assert!(result.is_none()),
            MetadataProgress::Complete(b) => result = Some(b),
        }
    }
    Ok(result.expect("complete"))
}

#[test]
fn assembler_fetches_a_real_info_dict_in_any_order_and_metainfo_reads_it() {
    let (info, hash) = info_dict(2000);
    assert!(info.len() > 2 * METADATA_PIECE_SIZE && info.len() < 3 * METADATA_PIECE_SIZE);
    let info = Bytes::from(info);
    for order in [&[0, 1, 2][..], &[2, 0, 1], &[1, 2, 1, 0]] {
        assert_eq!(fetch(&info, hash, order).unwrap(), info, "{order:?}");
    }
    let tiers = vec![
        vec!["http://127.0.0.1:6969/announce".to_string()],
        vec!["udp://127.0.0.1:6970".to_string()],
    ];
    let m = Metainfo::from_info_dict(&info, &tiers).unwrap();
    assert_eq!(m.info_hash(), hash);
    assert_eq!(<[u8; 20]>::from(Sha1::digest(&info)), hash);
    assert_eq!(m.raw_info(), &info[..]);
    assert_eq!(m.piece_count(), 2000);
    assert_eq!(m.name(), "data.bin");
    assert_eq!(m.announce(), Some("http://127.0.0.1:6969/announce"));
    assert_eq!(m.tiers(), tiers);
    // One tracker: `announce` alone; none: no trackers at all.
    let one = Metainfo::from_info_dict(&info, &tiers[..1]).unwrap();
    assert!(one.announce_list().is_empty());
    assert_eq!(one.tiers(), tiers[..1].to_vec());
    let none = Metainfo::from_info_dict(&info, &[]).unwrap();
    assert_eq!((none.announce(), none.tiers().len()), (None, 0));
}

#[test]
fn a_small_info_dict_is_one_short_piece() {
    let (info, hash) = info_dict(3);
    assert!(info.len() < METADATA_PIECE_SIZE);
    let info = Bytes::from(info);
    assert_eq!(fetch(&info, hash, &[0]).unwrap(), info);
    assert_eq!(
        serve_metadata(&info, 1),
        MetadataMsg::Reject { piece: 1 },
        "past the end"
    );
    assert_eq!(
        serve_metadata(&info, u32::MAX),
        MetadataMsg::Reject { piece: u32::MAX }
    );
}

#[test]
fn metadata_with_the_wrong_hash_resets_the_assembler() {
    let (info, hash) = info_dict(2000);
    let mut forged = info.clone();
    forged[100] ^= 1;
    let forged = Bytes::from(forged);
    assert_eq!(
        fetch(&forged, hash, &[0, 1, 2]),
        Err(MetadataError::HashMismatch)
    );
    // Reset: every piece missing and requestable again, and the honest
    // bytes then complete it.
    let mut a = MetadataAssembler::new(hash, info.len() as u64).unwrap();
    let info = Bytes::from(info);
    for p in 0..3 {
        let MetadataMsg::Data { data, .. } = serve_metadata(&forged, p) else {
            panic!()
        };
        let r = a.accept(p, info.len() as u64, &data);
        if p < 2 {
            assert_eq!(r, Ok(MetadataProgress::NeedMore));
        } else {
            assert_eq!(r, Err(MetadataError::HashMismatch));
        }
    }
    assert_eq!(a.missing(), 3);
    assert_eq!(a.next_request(), Some(0));
    for p in 0..3 {
        let MetadataMsg::Data { data, .. } = serve_metadata(&info, p) else {
            panic!()
        };
        let r = a.accept(p, info.len() as u64, &data).unwrap();
        assert_eq!(r == MetadataProgress::Complete(info.clone()), p == 2);
    }
    assert_eq!(a.next_request(), None, "done");
}

#[test]
fn assembler_refuses_wrong_sizes_indexes_and_lengths() {
    assert_eq!(
        MetadataAssembler::new([0; 20], 0).unwrap_err(),
        MetadataError::BadSize {
            size: 0,
            max: MAX_METADATA_SIZE
        }
    );
    assert!(MetadataAssembler::new([0; 20], u64::from(MAX_METADATA_SIZE) + 1).is_err());
    assert!(MetadataAssembler::new([0; 20], u64::MAX).is_err());
    let a = MetadataAssembler::new([0; 20], u64::from(MAX_METADATA_SIZE)).unwrap();
    assert_eq!(a.piece_count(), 512);

    let size = 2 * METADATA_PIECE_SIZE as u64 + 10;
    let mut a = MetadataAssembler::new([0; 20], size).unwrap();
    let full = vec![0u8; METADATA_PIECE_SIZE];
    assert_eq!(
        a.accept(0, size + 1, &full),
        Err(MetadataError::WrongTotalSize {
            expected: size as u32,
            got: size + 1
        })
    );
    assert_eq!(
        a.accept(3, size, &full),
        Err(MetadataError::PieceOutOfRange(3))
    );
    assert_eq!(
        a.accept(0, size, &full[..100]),
        Err(MetadataError::WrongPieceLength {
            piece: 0,
            expected: METADATA_PIECE_SIZE,
            got: 100
        })
    );
    assert_eq!(
        a.accept(2, size, &full),
        Err(MetadataError::WrongPieceLength {
            piece: 2,
            expected: 10,
            got: METADATA_PIECE_SIZE
        })
    );
    assert_eq!(a.missing(), 3, "nothing taken from refused pieces");
    // Requests handed out once; a released (rejected) one again.
    assert_eq!(a.next_request(), Some(0));
    assert_eq!(a.next_request(), Some(1));
    a.release(0);
    a.release(99); // ignored
    assert_eq!(a.next_request(), Some(0));
    assert_eq!(a.next_request(), Some(2));
    assert_eq!(a.next_request(), None);
    // A duplicate is ignored.
    assert_eq!(a.accept(1, size, &full), Ok(MetadataProgress::NeedMore));
    assert_eq!(a.accept(1, size, &full), Ok(MetadataProgress::NeedMore));
    assert_eq!(a.missing(), 2);
}

#[test]
fn from_info_dict_refuses_what_is_not_one_dictionary() {
    let (info, _) = info_dict(3);
    let mut trailing = info.clone();
    trailing.extend_from_slice(b"8:announce3:bad");
    assert!(matches!(
        Metainfo::from_info_dict(&trailing, &[]),
        Err(MetainfoError::Bencode(e)) if e.kind == ErrorKind::TrailingBytes
    ));
    assert_eq!(
        Metainfo::from_info_dict(b"li1ee", &[]),
        Err(MetainfoError::WrongType {
            field: "info",
            expected: "a dictionary"
        })
    );
    assert_eq!(
        Metainfo::from_info_dict(b"de", &[]),
        Err(MetainfoError::Missing("info.pieces"))
    );
}
