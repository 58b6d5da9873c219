//! The peer-wire codec (src/protocol/torrent/wire): the handshake and every
//! message against bytes written out by hand from BEPs 3, 6 and 10; each
//! one decoded fed whole, a byte at a time and split at every byte; blocks
//! handed out without a copy; and the allocation-free steady state of
//! decoding and encoding. Hostile input: tests/torrent_wire_hostile.rs.

use bytes::{Bytes, BytesMut};
use kamaelia::protocol::torrent::pieces::{BlockRef, BLOCK_SIZE};
use kamaelia::protocol::torrent::wire::{
    encode, encode_piece_header, Decoder, Handshake, Limits, Message, WireError, HANDSHAKE_LEN,
};

mod alloc_counter;
use alloc_counter::allocs;

fn block(piece: u32, offset: u32, len: u32) -> BlockRef {
    BlockRef { piece, offset, len }
}

/// Every kind of message, each with the bytes BEP 3/6/10 give it.
fn known_answers() -> Vec<(Message, Vec<u8>)> {
    let mut v: Vec<(Message, Vec<u8>)> = vec![
        (Message::KeepAlive, vec![0, 0, 0, 0]),
        (Message::Choke, vec![0, 0, 0, 1, 0]),
        (Message::Unchoke, vec![0, 0, 0, 1, 1]),
        (Message::Interested, vec![0, 0, 0, 1, 2]),
        (Message::NotInterested, vec![0, 0, 0, 1, 3]),
        (Message::Have(0x0102_0304), vec![0, 0, 0, 5, 4, 1, 2, 3, 4]),
        (
            Message::Bitfield(Bytes::from_static(&[0xa0, 0x80])),
            vec![0, 0, 0, 3, 5, 0xa0, 0x80],
        ),
        (
            Message::Request(block(1, 0x4000, 0x4000)),
            vec![0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0],
        ),
        (
            Message::Piece {
                piece: 2,
                offset: 0x4000,
                data: Bytes::from_static(b"abc"),
            },
            vec![0, 0, 0, 12, 7, 0, 0, 0, 2, 0, 0, 0x40, 0, b'a', b'b', b'c'],
        ),
        (
            Message::Cancel(block(3, 0, 7)),
            vec![0, 0, 0, 13, 8, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 7],
        ),
        (Message::Port(6881), vec![0, 0, 0, 3, 9, 0x1a, 0xe1]),
        (Message::Suggest(9), vec![0, 0, 0, 5, 0x0d, 0, 0, 0, 9]),
        (Message::HaveAll, vec![0, 0, 0, 1, 0x0e]),
        (Message::HaveNone, vec![0, 0, 0, 1, 0x0f]),
        (
            Message::Reject(block(4, 0x8000, 0x4000)),
            vec![0, 0, 0, 13, 0x10, 0, 0, 0, 4, 0, 0, 0x80, 0, 0, 0, 0x40, 0],
        ),
        (Message::AllowedFast(5), vec![0, 0, 0, 5, 0x11, 0, 0, 0, 5]),
        (
            Message::Extended {
                id: 0,
                payload: Bytes::from_static(b"de"),
            },
            vec![0, 0, 0, 4, 20, 0, b'd', b'e'],
        ),
    ];
    // A full 16 KiB block, and an empty extended payload.
    let data: Vec<u8> = (0..BLOCK_SIZE).map(|i| (i % 251) as u8).collect();
    let mut bytes = vec![0, 0, 0x40, 9, 7, 0, 0, 0, 0, 0, 0, 0, 0];
    bytes.extend_from_slice(&data);
    v.push((
        Message::Piece {
            piece: 0,
            offset: 0,
            data: Bytes::from(data),
        },
        bytes,
    ));
    v.push((
        Message::Extended {
            id: 3,
            payload: Bytes::new(),
        },
        vec![0, 0, 0, 2, 20, 3],
    ));
    v
}

/// Decodes `stream` pushed in the pieces `cuts` gives, until the end.
fn decode_cut(stream: &[u8], cuts: &[usize]) -> (Vec<Message>, Result<(), WireError>) {
    let mut d = Decoder::new(Limits::default());
    let mut out = Vec::new();
    let mut at = 0;
    for &n in cuts {
        d.push(&stream[at..at + n]);
        at += n;
        loop {
            match d.next() {
                Ok(Some(m)) => out.push(m),
                Ok(None) => break,
                Err(e) => return (out, Err(e)),
            }
        }
    }
    assert_eq!(at, stream.len());
    (out, d.finish())
}

#[test]
fn every_message_encodes_to_its_known_bytes() {
    for (msg, bytes) in known_answers() {
        let mut out = BytesMut::new();
        encode(&msg, &mut out).unwrap();
        assert_eq!(&out[..], &bytes[..], "{msg:?}");
        assert_eq!(msg.wire_len() + 4, bytes.len());
    }
}

#[test]
fn every_message_decodes_whole_byte_by_byte_and_split_at_every_byte() {
    for (msg, bytes) in known_answers() {
        let want = (vec![msg.clone()], Ok(()));
        assert_eq!(decode_cut(&bytes, &[bytes.len()]), want, "whole");
        // Byte by byte: the 16 KiB block too (16,397 pushes).
        assert_eq!(
            decode_cut(&bytes, &vec![1; bytes.len()]),
            want,
            "byte by byte: {:?}",
            msg.id()
        );
        for cut in 1..bytes.len() {
            assert_eq!(
                decode_cut(&bytes, &[cut, bytes.len() - cut]),
                want,
                "split at {cut}: {:?}",
                msg.id()
            );
            if bytes.len() > 64 && cut > 40 {
                break; // the long block: the head's cuts are the ones that matter
            }
        }
    }
}

#[test]
fn all_messages_in_one_stream_at_every_split() {
    let answers = known_answers();
    let stream: Vec<u8> = answers.iter().flat_map(|(_, b)| b.clone()).collect();
    let want: Vec<Message> = answers.into_iter().map(|(m, _)| m).collect();
    assert_eq!(decode_cut(&stream, &[stream.len()]), (want.clone(), Ok(())));
    for cut in (1..stream.len()).step_by(97) {
        assert_eq!(
            decode_cut(&stream, &[cut, stream.len() - cut]),
            (want.clone(), Ok(())),
            "split at {cut}"
        );
    }
    let sevens: Vec<usize> = (0..stream.len())
        .step_by(7)
        .map(|at| 7.min(stream.len() - at))
        .collect();
    assert_eq!(decode_cut(&stream, &sevens), (want, Ok(())));
}

#[test]
fn handshake_bytes_bits_and_every_split() {
    let hs = Handshake::new([0xaa; 20], *b"-KM0001-123456789012");
    let bytes = hs.to_bytes();
    let mut want = vec![19u8];
    want.extend_from_slice(b"BitTorrent protocol");
    want.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0x04]);
    want.extend_from_slice(&[0xaa; 20]);
    want.extend_from_slice(b"-KM0001-123456789012");
    assert_eq!(&bytes[..], &want[..]);
    assert!(hs.supports_fast() && hs.supports_extensions());
    assert_eq!(hs.reserved[7] & 0x01, 0, "DHT bit clear");
    let mut out = BytesMut::new();
    hs.encode(&mut out);
    assert_eq!(&out[..], &want[..]);

    // Handshake then a message, split at every byte.
    let mut stream = want.clone();
    stream.extend_from_slice(&[0, 0, 0, 1, 2]);
    for cut in 0..=stream.len() {
        let mut d = Decoder::new(Limits::default());
        d.push(&stream[..cut]);
        let first = d.take_handshake().unwrap();
        assert_eq!(first.is_some(), cut >= HANDSHAKE_LEN);
        d.push(&stream[cut..]);
        let got = first.or_else(|| d.take_handshake().unwrap()).unwrap();
        assert_eq!(got, hs);
        assert_eq!(got.to_bytes(), bytes, "reserved bits kept as sent");
        assert_eq!(d.next().unwrap(), Some(Message::Interested));
        assert_eq!(d.finish(), Ok(()));
    }
    // The info-hash before the peer id: at 48 bytes, not 47.
    let mut d = Decoder::new(Limits::default());
    d.push(&stream[..47]);
    assert_eq!(d.peek_info_hash(), Ok(None));
    d.push(&stream[47..48]);
    assert_eq!(d.peek_info_hash(), Ok(Some([0xaa; 20])));
    assert_eq!(d.take_handshake(), Ok(None), "the peer id still to come");
    assert_eq!(
        Handshake::peek_info_hash(b"GET / HTTP/1.1"),
        Err(WireError::BadProtocolLength(b'G'))
    );
    // A plain BEP 3 handshake: no bits.
    let mut plain = want;
    plain[20..28].fill(0);
    let got = Handshake::parse_prefix(&plain).unwrap().unwrap();
    assert!(!got.supports_fast() && !got.supports_extensions());
}

#[test]
fn piece_blocks_are_slices_of_the_read_buffer_not_copies() {
    let mut stream = BytesMut::new();
    for i in 0..3u32 {
        let msg = Message::Piece {
            piece: 0,
            offset: i * BLOCK_SIZE,
            data: Bytes::from(vec![i as u8; BLOCK_SIZE as usize]),
        };
        encode(&msg, &mut stream).unwrap();
    }
    let mut d = Decoder::new(Limits::default());
    d.push(&stream);
    let mut ptrs = Vec::new();
    while let Some(Message::Piece { data, offset, .. }) = d.next().unwrap() {
        assert!(data.iter().all(|&b| b == (offset / BLOCK_SIZE) as u8));
        ptrs.push(data.as_ptr() as usize);
    }
    assert_eq!(ptrs.len(), 3);
    // Each block starts 13 header bytes after the previous one ends: all
    // three point into the one buffer the stream was pushed into.
    assert_eq!(ptrs[1] - ptrs[0], BLOCK_SIZE as usize + 13);
    assert_eq!(ptrs[2] - ptrs[1], BLOCK_SIZE as usize + 13);
}

#[test]
fn read_from_reads_straight_into_the_decoder() {
    let mut stream = Vec::new();
    stream.extend_from_slice(&Handshake::new([3; 20], [4; 20]).to_bytes());
    for (_, b) in known_answers() {
        stream.extend_from_slice(&b);
    }
    // A reader that gives at most 1,000 bytes a read.
    struct Trickle<'a>(&'a [u8]);
    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.0.len()).min(1000);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let mut r = Trickle(&stream);
    let mut d = Decoder::new(Limits::default());
    let mut hs = None;
    let mut got = Vec::new();
    while d.read_from(&mut r, 4096).unwrap() > 0 {
        if hs.is_none() {
            hs = d.take_handshake().unwrap();
            if hs.is_none() {
                continue;
            }
        }
        while let Some(m) = d.next().unwrap() {
            got.push(m);
        }
    }
    assert_eq!(d.finish(), Ok(()));
    assert_eq!(hs.unwrap().info_hash, [3; 20]);
    let want: Vec<Message> = known_answers().into_iter().map(|(m, _)| m).collect();
    assert_eq!(got, want);
}

/// A stream of `n` piece messages of 16 KiB each.
fn block_stream(n: u32) -> Vec<u8> {
    let mut out = BytesMut::new();
    for i in 0..n {
        encode(
            &Message::Piece {
                piece: i / 16,
                offset: (i % 16) * BLOCK_SIZE,
                data: Bytes::from(vec![i as u8; BLOCK_SIZE as usize]),
            },
            &mut out,
        )
        .unwrap();
    }
    out.to_vec()
}

/// Pushes `stream` in reads of `read` bytes, keeping the last `keep`
/// blocks alive; returns the allocations made after the first `warm`
/// blocks, and the blocks seen.
fn allocs_decoding(stream: &[u8], read: usize, keep: usize, warm: usize) -> (u64, usize) {
    allocs_with(Decoder::new(Limits::default()), stream, read, keep, warm)
}

fn allocs_with(
    mut d: Decoder,
    stream: &[u8],
    read: usize,
    keep: usize,
    warm: usize,
) -> (u64, usize) {
    let mut held: std::collections::VecDeque<Bytes> = std::collections::VecDeque::with_capacity(64);
    let mut seen = 0;
    let mut before = None;
    for chunk in stream.chunks(read) {
        d.push(chunk);
        while let Some(m) = d.next().unwrap() {
            let Message::Piece { data, .. } = m else {
                panic!("only pieces")
            };
            assert_eq!(data.len(), BLOCK_SIZE as usize);
            seen += 1;
            if seen == warm {
                before = Some(allocs());
            }
            if held.len() == keep {
                held.pop_front();
            }
            if keep > 0 {
                held.push_back(data);
            }
        }
    }
    (allocs() - before.expect("warmed up"), seen)
}

#[test]
fn decoding_blocks_allocates_nothing_in_the_steady_state() {
    let stream = block_stream(400);
    // Blocks dropped as soon as they are handed out (a copy to disk).
    assert_eq!(allocs_decoding(&stream, 4096, 0, 20), (0, 400));
    // Reads of odd sizes.
    assert_eq!(allocs_decoding(&stream, 1500, 0, 20), (0, 400));
    // A caller that keeps the last 3 blocks a while (a pipeline hand-off):
    // set-aside buffers are taken back as their blocks go.
    assert_eq!(allocs_decoding(&stream, 4096, 3, 40), (0, 400));
    assert_eq!(allocs_decoding(&stream, 65_536, 3, 40), (0, 400));
    assert_eq!(allocs_decoding(&stream, 4096, 12, 40), (0, 400));
    // A whole 256 KiB piece kept until it is hashed: more than the default
    // set-aside buffers hold, so buffers are made (a fresh one every few
    // blocks) ...
    let (made, _) = allocs_decoding(&stream, 4096, 16, 100);
    assert!(made >= 50, "{made}");
    // ... unless the decoder keeps enough aside: 256 KiB / 64 KiB + 2.
    let d = Decoder::new(Limits::default()).spare_buffers(6);
    assert_eq!(allocs_with(d, &stream, 4096, 16, 100), (0, 400));
    // None kept aside: a held block costs a buffer.
    let d = Decoder::new(Limits::default()).spare_buffers(0);
    assert!(allocs_with(d, &stream, 4096, 3, 100).0 >= 50);
}

#[test]
fn encoding_allocates_nothing_when_the_buffer_has_room() {
    let answers = known_answers();
    let mut out = BytesMut::with_capacity(64 * 1024);
    let before = allocs();
    for _ in 0..100 {
        for (m, _) in &answers {
            encode(m, &mut out).unwrap();
        }
        encode_piece_header(1, 0, BLOCK_SIZE, &mut out);
        // The writer sent it all: the same buffer is used again.
        out.clear();
    }
    assert_eq!(allocs() - before, 0);
    encode_piece_header(7, 0x4000, 5, &mut out);
    assert_eq!(&out[..], &[0, 0, 0, 14, 7, 0, 0, 0, 7, 0, 0, 0x40, 0][..]);
}
