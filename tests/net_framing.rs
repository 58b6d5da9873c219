//! Framing of binary data (reference §4.1, defects §7.18): frames and
//! chunks round-trip any bytes however the stream is cut, every complete
//! frame is released at once, bad streams are typed errors.

use bytes::Bytes;
use kamaelia::axon::{Id, Signal, StepResult};
use kamaelia::internet::simulate::SplitMix64;
use kamaelia::protocol::framing::{
    crc32, decode_frame, encode_frame, ChunkDecoder, ChunkEncoder, DataChunker, DataDeChunker,
    DeFramer, FrameDecoder, Framer, FramingError, MaxSizePacketiser, DEFAULT_MARKER,
    DEFAULT_MAX_FRAME, HEADER_LEN,
};
use kamaelia::testing::{Collector, Feeder, Harness};
use proptest::prelude::*;

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod fuzz_checks;

struct Rig<I: 'static, O: 'static> {
    h: Harness,
    id: Id,
    input: Feeder<I>,
    control: Feeder<Signal>,
    out: Collector<O>,
    sig: Collector<Signal>,
}

fn rig<I: 'static, O: 'static>(c: impl kamaelia::Component) -> Rig<I, O> {
    let mut h = Harness::new();
    let id = h.spawn(c);
    Rig {
        input: h.feeder(id, "inbox").unwrap(),
        control: h.feeder(id, "control").unwrap(),
        out: h.collector(id, "outbox").unwrap(),
        sig: h.collector(id, "signal").unwrap(),
        h,
        id,
    }
}

fn failure(sig: &Signal) -> FramingError {
    match sig {
        Signal::Failed(f) => f
            .downcast_ref::<FramingError>()
            .expect("a FramingError")
            .clone(),
        other => panic!("expected Failed, got {other:?}"),
    }
}

fn frames_stream(frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    frames
        .iter()
        .flat_map(|(t, b)| encode_frame(*t, b, DEFAULT_MAX_FRAME).unwrap().to_vec())
        .collect()
}

/// Cuts `data` at the given points (sorted, deduplicated, in range).
fn cut_at(data: &[u8], points: &[usize]) -> Vec<Bytes> {
    let mut ps: Vec<usize> = points.iter().map(|p| p % (data.len() + 1)).collect();
    ps.push(0);
    ps.push(data.len());
    ps.sort_unstable();
    ps.dedup();
    ps.windows(2)
        .map(|w| Bytes::copy_from_slice(&data[w[0]..w[1]]))
        .collect()
}

fn frame_strategy() -> impl Strategy<Value = Vec<(u64, Vec<u8>)>> {
    prop::collection::vec(
        (any::<u64>(), prop::collection::vec(any::<u8>(), 0..120)),
        0..12,
    )
}

/// Payloads rich in the bytes that matter to the chunk format.
fn payload_strategy() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let byte = prop_oneof![
        Just(0x7Eu8),
        Just(0x7Du8),
        Just(0x5Du8),
        Just(0x5Eu8),
        Just(b'K'),
        Just(!b'K'),
        any::<u8>()
    ];
    prop::collection::vec(
        prop_oneof![
            prop::collection::vec(byte, 0..80),
            Just(DEFAULT_MARKER.to_vec()),
            Just([DEFAULT_MARKER, &[0x7E, !b'K'][..]].concat()),
        ],
        0..10,
    )
}

proptest! {
    #[test]
    fn frames_round_trip_however_cut(
        frames in frame_strategy(),
        points in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let stream = frames_stream(&frames);
        let mut d = FrameDecoder::new(DEFAULT_MAX_FRAME);
        let mut got = Vec::new();
        for piece in cut_at(&stream, &points) {
            d.push_bytes(piece, &mut got).unwrap();
        }
        d.finish().unwrap();
        let got: Vec<(u64, Vec<u8>)> = got.into_iter().map(|(t, b)| (t, b.to_vec())).collect();
        prop_assert_eq!(got, frames);
    }

    #[test]
    fn deframer_component_round_trips_however_cut(
        frames in frame_strategy(),
        points in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let stream = frames_stream(&frames);
        let mut r = rig::<Bytes, (u64, Bytes)>(DeFramer::new());
        for piece in cut_at(&stream, &points) {
            r.input.send(piece).unwrap();
        }
        r.control.send(Signal::ProducerFinished).unwrap();
        r.h.run_until_idle();
        let got: Vec<(u64, Vec<u8>)> = r.out.drain().into_iter().map(|(t, b)| (t, b.to_vec())).collect();
        prop_assert_eq!(got, frames);
        prop_assert_eq!(r.sig.drain(), vec![Signal::ProducerFinished]);
        prop_assert!(!r.h.is_alive(r.id));
    }

    #[test]
    fn chunks_round_trip_however_cut(
        payloads in payload_strategy(),
        points in prop::collection::vec(any::<usize>(), 0..30),
        short_marker in any::<bool>(),
    ) {
        let marker: &[u8] = if short_marker { b"\x7E!" } else { DEFAULT_MARKER };
        let enc = ChunkEncoder::with_marker(marker);
        let stream: Vec<u8> = payloads.iter().flat_map(|p| enc.encode(p).to_vec()).collect();
        for resync in [false, true] {
            let mut d = ChunkDecoder::with_marker(marker, 1000).resync(resync);
            let mut got = Vec::new();
            for piece in cut_at(&stream, &points) {
                d.push(&piece, &mut got).unwrap();
            }
            d.finish().unwrap();
            let got: Vec<Vec<u8>> = got.into_iter().map(|b| b.to_vec()).collect();
            prop_assert_eq!(&got, &payloads);
            prop_assert_eq!((d.skipped(), d.dropped()), (0, 0));
        }
    }

    #[test]
    fn packetiser_pieces_are_bounded_and_complete(
        msgs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..100), 0..10),
        max in 1usize..40,
    ) {
        let mut r = rig::<Bytes, Bytes>(MaxSizePacketiser::new(max));
        for m in &msgs {
            r.input.send(Bytes::from(m.clone())).unwrap();
        }
        r.h.run_until_idle();
        let got = r.out.drain();
        prop_assert!(got.iter().all(|p| !p.is_empty() && p.len() <= max));
        prop_assert_eq!(got.len(), msgs.iter().map(|m| m.len().div_ceil(max)).sum::<usize>());
        prop_assert_eq!(got.concat(), msgs.concat());
    }
}

#[test]
fn crc_is_zlibs() {
    assert_eq!(crc32(b""), 0);
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(
        crc32(b"The quick brown fox jumps over the lazy dog"),
        0x414F_A339
    );
    assert_eq!(crc32(&[0u8; 32]), 0x190A_55AD);
    assert_eq!(crc32(&[0xFFu8; 32]), 0xFF6C_AB0B);
    let ascending: Vec<u8> = (0..32).collect();
    assert_eq!(crc32(&ascending), 0x9126_7E8A);
}

/// CRC-32 bit by bit, straight from the definition (reflected 0xEDB88320,
/// initial and final xor all ones).
fn crc32_by_bits(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn crc_agrees_with_the_definition_at_every_length_and_alignment() {
    // The fast paths work on 16- and 64-byte blocks: every length up to
    // 300 and every start offset up to 16 reach each head, body and tail.
    let mut rng = SplitMix64::new(0xC4C);
    let data: Vec<u8> = (0..(1 << 16) + 333).map(|_| rng.next_u64() as u8).collect();
    for start in 0..16 {
        for len in 0..300 {
            let s = &data[start..start + len];
            assert_eq!(crc32(s), crc32_by_bits(s), "start {start} len {len}");
        }
    }
    assert_eq!(crc32(&data), crc32_by_bits(&data));
}

#[test]
fn header_layout_is_as_documented() {
    let f = encode_frame(0x0102_0304_0506_0708, b"abc", 10).unwrap();
    assert_eq!(f.len(), HEADER_LEN + 3);
    assert_eq!(&f[..4], b"KF\x01\x00");
    assert_eq!(&f[4..12], &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(&f[12..16], &3u32.to_be_bytes());
    assert_eq!(&f[16..20], &crc32(b"abc").to_be_bytes());
    assert_eq!(&f[20..24], &crc32(&f[..20]).to_be_bytes());
    assert_eq!(&f[24..], b"abc");
}

#[test]
fn several_frames_in_one_read_all_leave_in_that_step() {
    let frames = vec![(1, b"a".to_vec()), (2, vec![]), (3, vec![0xFF; 50])];
    let mut r = rig::<Bytes, (u64, Bytes)>(DeFramer::new());
    r.input.send(Bytes::from(frames_stream(&frames))).unwrap();
    assert_eq!(r.h.step(), Some((r.id, StepResult::Sleep)));
    assert_eq!(r.out.len(), 3, "every complete frame at once");
}

#[test]
fn a_frame_split_over_reads_leaves_with_its_last_byte() {
    let stream = frames_stream(&[(9, b"split me".to_vec())]);
    let mut r = rig::<Bytes, (u64, Bytes)>(DeFramer::new());
    for b in &stream[..stream.len() - 1] {
        r.input.send(Bytes::copy_from_slice(&[*b])).unwrap();
    }
    r.h.run_until_idle();
    assert!(r.out.is_empty());
    r.input
        .send(Bytes::copy_from_slice(&stream[stream.len() - 1..]))
        .unwrap();
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), [(9, Bytes::from("split me"))]);
}

#[test]
fn bodies_inside_one_read_are_not_copied() {
    let stream = Bytes::from(frames_stream(&[(1, b"zero copy".to_vec())]));
    let mut d = FrameDecoder::new(100);
    let mut out = Vec::new();
    d.push_bytes(stream.clone(), &mut out).unwrap();
    assert_eq!(out[0].1.as_ptr(), stream[HEADER_LEN..].as_ptr());
}

#[test]
fn oversize_frame_fails_before_its_body_is_buffered() {
    let good = frames_stream(&[(1, b"ok".to_vec())]);
    let big = encode_frame(2, &[7u8; 101], 1000).unwrap();
    let mut r = rig::<Bytes, (u64, Bytes)>(DeFramer::with_max(100));
    let mut first = good.clone();
    first.extend_from_slice(&big[..HEADER_LEN]);
    r.input.send(Bytes::from(first)).unwrap();
    r.input.send(big.slice(HEADER_LEN..)).unwrap();
    r.h.run_until_idle();
    assert_eq!(
        r.out.drain(),
        [(1, Bytes::from("ok"))],
        "the good frame first"
    );
    let sig = r.sig.drain();
    assert_eq!(
        failure(&sig[0]),
        FramingError::Oversize {
            size: 101,
            max: 100,
            offset: good.len() as u64
        }
    );
    assert!(!r.h.is_alive(r.id));

    // The decoder never held the body.
    let mut d = FrameDecoder::new(100);
    assert!(d.push(&big[..HEADER_LEN], &mut Vec::new()).is_err());
    assert_eq!(d.buffered(), 0);
}

#[test]
fn a_short_hostile_header_pins_no_more_than_what_arrived() {
    use kamaelia::protocol::framing::MIN_GROWTH;
    // A valid header announcing the largest body, and one byte of it:
    // 25 bytes must not hold 1 MiB.
    let body: Vec<u8> = (0..DEFAULT_MAX_FRAME).map(|i| (i * 7) as u8).collect();
    let frame = encode_frame(9, &body, DEFAULT_MAX_FRAME).unwrap();
    let mut d = FrameDecoder::new(DEFAULT_MAX_FRAME);
    let mut out = Vec::new();
    d.push(&frame[..HEADER_LEN + 1], &mut out).unwrap();
    assert!(out.is_empty());
    assert_eq!(d.buffered(), 1);
    assert_eq!(d.capacity(), MIN_GROWTH);
    // The rest in pieces of 1000: capacity grows with what arrived.
    let mut at = HEADER_LEN + 1;
    let mut largest = 0;
    while at < frame.len() {
        let end = (at + 1000).min(frame.len());
        d.push(&frame[at..end], &mut out).unwrap();
        at = end;
        if out.is_empty() {
            let arrived = d.buffered();
            assert!(
                d.capacity() <= (2 * arrived).max(MIN_GROWTH) && d.capacity() <= body.len(),
                "{} held for {arrived} bytes",
                d.capacity()
            );
            largest = largest.max(d.capacity());
        }
    }
    assert_eq!(largest, body.len(), "the last doubling stops at the length");
    assert_eq!(out, [(9, Bytes::from(body))]);
    assert_eq!(d.capacity(), 0);
    d.finish().unwrap();
}

#[test]
fn the_default_maximum_is_one_mib() {
    let mut d = FrameDecoder::new(DEFAULT_MAX_FRAME);
    let big = encode_frame(0, &vec![0u8; DEFAULT_MAX_FRAME], DEFAULT_MAX_FRAME).unwrap();
    let mut out = Vec::new();
    d.push_bytes(big, &mut out).unwrap();
    assert_eq!(out[0].1.len(), 1 << 20);
    assert!(encode_frame(0, &vec![0u8; DEFAULT_MAX_FRAME + 1], DEFAULT_MAX_FRAME).is_err());
}

#[test]
fn corrupt_frames_are_typed_errors() {
    let good = frames_stream(&[(5, b"payload".to_vec())]);
    let cases: [(usize, &str); 5] = [
        (0, "bad magic (not a frame header)"),
        (2, "unknown frame version"),
        (8, "header checksum mismatch"),
        (13, "header checksum mismatch"),
        (HEADER_LEN + 3, "body checksum mismatch"),
    ];
    for (at, reason) in cases {
        let mut bad = good.clone();
        bad[at] ^= 0x10;
        let mut stream = good.clone();
        stream.extend_from_slice(&bad);
        let mut r = rig::<Bytes, (u64, Bytes)>(DeFramer::new());
        r.input.send(Bytes::from(stream)).unwrap();
        r.input.send(Bytes::from(good.clone())).unwrap();
        r.h.run_until_idle();
        assert_eq!(r.out.drain().len(), 1, "byte {at}: only the frame before");
        assert_eq!(
            failure(&r.sig.drain()[0]),
            FramingError::Corrupt {
                offset: good.len() as u64,
                reason
            },
            "byte {at}"
        );
        assert!(!r.h.is_alive(r.id));
    }
}

#[test]
fn a_truncated_stream_is_an_error_not_silence() {
    let stream = frames_stream(&[(1, b"whole".to_vec()), (2, b"cut short".to_vec())]);
    let cut = stream.len() - 4;
    let mut r = rig::<Bytes, (u64, Bytes)>(DeFramer::new());
    r.input
        .send(Bytes::copy_from_slice(&stream[..cut]))
        .unwrap();
    r.control.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), [(1, Bytes::from("whole"))]);
    assert_eq!(
        failure(&r.sig.drain()[0]),
        FramingError::Truncated {
            received: (HEADER_LEN + 9 - 4) as u64
        }
    );
}

#[test]
fn a_stream_ending_inside_a_header_is_truncated() {
    let whole = frames_stream(&[(1, b"whole".to_vec())]);
    let mut r = rig::<Bytes, (u64, Bytes)>(DeFramer::new());
    r.input.send(Bytes::from(whole.clone())).unwrap();
    r.input.send(Bytes::copy_from_slice(&whole[..7])).unwrap();
    r.control.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), [(1, Bytes::from("whole"))]);
    assert_eq!(
        failure(&r.sig.drain()[0]),
        FramingError::Truncated { received: 7 }
    );
}

#[test]
fn reserved_flags_are_corrupt_even_with_a_good_checksum() {
    let mut f = encode_frame(1, b"x", 10).unwrap().to_vec();
    f[3] = 1;
    let hc = crc32(&f[..20]);
    f[20..24].copy_from_slice(&hc.to_be_bytes());
    let mut d = FrameDecoder::new(10);
    let mut out = Vec::new();
    let want = FramingError::Corrupt {
        offset: 0,
        reason: "reserved flags set",
    };
    assert_eq!(d.push(&f, &mut out), Err(want.clone()));
    assert!(out.is_empty());
    assert_eq!(d.finish(), Err(want.clone()), "the decoder is spent");
    assert_eq!(decode_frame(&Bytes::from(f), 10), Err(want));
}

#[test]
fn an_oversize_length_in_a_datagram_is_refused_before_the_body() {
    let f = encode_frame(1, &[0u8; 11], 100).unwrap();
    // Only the header: the length alone condemns it.
    assert_eq!(
        decode_frame(&f.slice(..HEADER_LEN), 10),
        Err(FramingError::Oversize {
            size: 11,
            max: 10,
            offset: 0
        })
    );
}

#[test]
fn datagrams_must_hold_exactly_one_frame() {
    let f = encode_frame(3, b"body", 100).unwrap();
    assert_eq!(decode_frame(&f, 100), Ok((3, Bytes::from("body"))));
    assert_eq!(
        decode_frame(&Bytes::new(), 100),
        Err(FramingError::Truncated { received: 0 })
    );
    assert_eq!(
        decode_frame(&f.slice(..HEADER_LEN - 1), 100),
        Err(FramingError::Truncated {
            received: HEADER_LEN as u64 - 1
        })
    );
    assert_eq!(
        decode_frame(&f.slice(..f.len() - 1), 100),
        Err(FramingError::Truncated {
            received: f.len() as u64 - 1
        })
    );
    let two = Bytes::from([&f[..], &f[..]].concat());
    assert_eq!(
        decode_frame(&two, 100),
        Err(FramingError::Corrupt {
            offset: f.len() as u64,
            reason: "bytes after the end of the frame"
        })
    );
    let mut bad = f.to_vec();
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(
        decode_frame(&Bytes::from(bad), 100),
        Err(FramingError::Corrupt {
            offset: 0,
            reason: "body checksum mismatch"
        })
    );
}

#[test]
fn empty_input_is_a_clean_empty_stream() {
    let mut d = FrameDecoder::new(10);
    let mut frames = Vec::new();
    d.push(&[], &mut frames).unwrap();
    d.push_bytes(Bytes::new(), &mut frames).unwrap();
    assert!(frames.is_empty());
    assert_eq!(d.finish(), Ok(()));
    let mut c = ChunkDecoder::new(10);
    let mut payloads = Vec::new();
    c.push(&[], &mut payloads).unwrap();
    assert!(payloads.is_empty());
    assert_eq!(c.finish(), Ok(()));

    let mut r = rig::<Bytes, (u64, Bytes)>(DeFramer::new());
    r.input.send(Bytes::new()).unwrap();
    r.control.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert!(r.out.is_empty());
    assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);

    let mut r = rig::<Bytes, Bytes>(DataDeChunker::new());
    r.input.send(Bytes::new()).unwrap();
    r.control.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert!(r.out.is_empty());
    assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
}

#[test]
fn upstream_failure_is_passed_on_and_shutdown_is_at_once() {
    let mut r = rig::<Bytes, (u64, Bytes)>(DeFramer::new());
    r.input.send(Bytes::from_static(b"KF")).unwrap();
    let upstream = Signal::failed(std::io::Error::other("connection reset"));
    r.control.send(upstream.clone()).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.sig.drain(), [upstream]);

    let mut r = rig::<Bytes, (u64, Bytes)>(DeFramer::new());
    r.input
        .send(Bytes::from(frames_stream(&[(1, vec![1])])))
        .unwrap();
    r.control.send(Signal::Shutdown).unwrap();
    r.h.run_until_idle();
    assert!(r.out.is_empty(), "shutdown does not flush");
    assert_eq!(r.sig.drain(), [Signal::Shutdown]);
}

#[test]
fn a_full_consumer_holds_frames_back_in_order() {
    let frames: Vec<(u64, Vec<u8>)> = (0..10).map(|i| (i, vec![i as u8; 3])).collect();
    let mut h = Harness::new();
    let id = h.spawn(DeFramer::new());
    let input = h.feeder::<Bytes>(id, "inbox").unwrap();
    let control = h.feeder::<Signal>(id, "control").unwrap();
    let out = h
        .bounded_collector::<(u64, Bytes)>(id, "outbox", 2)
        .unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input.send(Bytes::from(frames_stream(&frames))).unwrap();
    control.send(Signal::ProducerFinished).unwrap();
    let mut got = Vec::new();
    for _ in 0..20 {
        h.run_until_idle();
        assert!(out.len() <= 2);
        got.extend(out.drain());
    }
    let got: Vec<u64> = got.into_iter().map(|(t, _)| t).collect();
    assert_eq!(got, (0..10).collect::<Vec<_>>());
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
}

#[test]
fn framer_frames_and_rejects_oversize() {
    let mut r = rig::<(u64, Bytes), Bytes>(Framer::with_max(4));
    r.input.send((1, Bytes::from("four"))).unwrap();
    r.input.send((2, Bytes::from("fives"))).unwrap();
    r.input.send((3, Bytes::from("x"))).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), [encode_frame(1, b"four", 4).unwrap()]);
    assert!(matches!(
        failure(&r.sig.drain()[0]),
        FramingError::Oversize {
            size: 5,
            max: 4,
            ..
        }
    ));
}

#[test]
fn framer_to_deframer_over_a_pipeline() {
    let mut h = Harness::new();
    let f = h.spawn(Framer::new());
    let d = h.spawn(DeFramer::new());
    h.scheduler().link((f, "outbox"), (d, "inbox")).unwrap();
    h.scheduler().link((f, "signal"), (d, "control")).unwrap();
    let input = h.feeder::<(u64, Bytes)>(f, "inbox").unwrap();
    let control = h.feeder::<Signal>(f, "control").unwrap();
    let out = h.collector::<(u64, Bytes)>(d, "outbox").unwrap();
    let sig = h.collector::<Signal>(d, "signal").unwrap();
    let msgs: Vec<(u64, Bytes)> = (0..100u64)
        .map(|i| (i * 31, Bytes::from(vec![(i % 256) as u8; i as usize])))
        .collect();
    for m in &msgs {
        input.send(m.clone()).unwrap();
    }
    control.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), msgs);
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
}

#[test]
fn chunker_wire_format() {
    let mut r = rig::<Bytes, Bytes>(DataChunker::new());
    r.input.send(Bytes::from_static(b"a\x7Eb\x7Dc")).unwrap();
    r.input.send(Bytes::new()).unwrap();
    r.h.run_until_idle();
    assert_eq!(
        r.out.drain(),
        [
            Bytes::from_static(b"\x7EKAMSYNCa\x7D\x5Eb\x7D\x5Dc\x7E\xB4"),
            Bytes::from_static(b"\x7EKAMSYNC\x7E\xB4"),
        ]
    );
}

#[test]
fn dechunker_releases_every_chunk_at_once_and_the_first_is_not_delayed() {
    let enc = ChunkEncoder::new();
    let mut r = rig::<Bytes, Bytes>(DataDeChunker::new());
    r.input.send(enc.encode(b"first")).unwrap();
    assert_eq!(r.h.step(), Some((r.id, StepResult::Sleep)));
    assert_eq!(r.out.drain(), ["first"], "released as it completes");
    let three: Vec<u8> = [&b"x"[..], b"", DEFAULT_MARKER]
        .iter()
        .flat_map(|p| enc.encode(p).to_vec())
        .collect();
    r.input.send(Bytes::from(three)).unwrap();
    assert_eq!(r.h.step(), Some((r.id, StepResult::Sleep)));
    assert_eq!(
        r.out.drain(),
        [
            Bytes::from("x"),
            Bytes::new(),
            Bytes::from_static(DEFAULT_MARKER)
        ]
    );
}

#[test]
fn dechunker_strict_errors() {
    let enc = ChunkEncoder::new();
    let good = enc.encode(b"good").to_vec();
    let cases: Vec<(Vec<u8>, FramingError)> = vec![
        (
            [&good[..], b"junk"].concat(),
            FramingError::Corrupt {
                offset: good.len() as u64,
                reason: "data outside a chunk (expected a sync marker)",
            },
        ),
        (
            [&good[..], b"\x7EKAMSYNc"].concat(),
            FramingError::Corrupt {
                offset: good.len() as u64 + 7,
                reason: "bad sync marker",
            },
        ),
        (
            [&good[..], b"\x7EKAMSYNCab\x7D\x01"].concat(),
            FramingError::Corrupt {
                offset: good.len() as u64 + 11,
                reason: "bad escape sequence",
            },
        ),
        (
            [&good[..], b"\x7EKAMSYNCab\x7EKAMSYNC"].concat(),
            FramingError::Corrupt {
                offset: good.len() as u64 + 11,
                reason: "chunk not terminated before the next sync marker",
            },
        ),
        (
            [&good[..], &enc.encode(&[1u8; 11])[..]].concat(),
            FramingError::Oversize {
                size: 11,
                max: 10,
                offset: good.len() as u64,
            },
        ),
    ];
    for (stream, want) in cases {
        let mut r = rig::<Bytes, Bytes>(DataDeChunker::with_marker(DEFAULT_MARKER, 10));
        r.input.send(Bytes::from(stream)).unwrap();
        r.h.run_until_idle();
        assert_eq!(r.out.drain(), ["good"]);
        assert_eq!(failure(&r.sig.drain()[0]), want);
        assert!(!r.h.is_alive(r.id));
    }
    // A chunk cut short at the end.
    let mut r = rig::<Bytes, Bytes>(DataDeChunker::new());
    r.input
        .send(Bytes::from([&good[..], &good[..5]].concat()))
        .unwrap();
    r.control.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), ["good"]);
    assert_eq!(
        failure(&r.sig.drain()[0]),
        FramingError::Truncated { received: 5 }
    );
}

#[test]
fn dechunker_resync_skips_damage_and_goes_on() {
    let enc = ChunkEncoder::new();
    let a = enc.encode(b"alpha");
    let b = enc.encode(b"beta");
    let c = enc.encode(b"gamma\x7E");
    let mut damaged = b.to_vec();
    damaged[10] = 0x7D; // a bad escape inside "beta"
    let stream = [
        &b"joined midway"[..],
        &a[4..], // a chunk whose start was missed
        &a,
        &damaged,
        &b"\x00\x01"[..],
        &c[..c.len() - 2], // unterminated ...
        &b,                // ... then a new marker
        &c,
    ]
    .concat();
    let mut r = rig::<Bytes, Bytes>(DataDeChunker::new().resync(true));
    for piece in stream.chunks(5) {
        r.input.send(Bytes::copy_from_slice(piece)).unwrap();
    }
    r.control.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(
        r.out.drain(),
        [
            Bytes::from("alpha"),
            Bytes::from("beta"),
            Bytes::from_static(b"gamma\x7E")
        ]
    );
    assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
    let mut d = ChunkDecoder::new(100).resync(true);
    d.push(&stream, &mut Vec::new()).unwrap();
    assert_eq!(d.dropped(), 2, "the damaged and the unterminated chunk");
    assert!(d.skipped() > 0);
}

#[test]
fn resync_drops_an_oversize_chunk_and_takes_the_next() {
    let enc = ChunkEncoder::new();
    let stream = [
        &enc.encode(&[1u8; 11])[..],
        &enc.encode(b"fits")[..],
        &enc.encode(&[0x7E; 10])[..], // escaped to 20 bytes, 10 decoded: fits
    ]
    .concat();
    for cut in [1, 3, stream.len()] {
        let mut d = ChunkDecoder::new(10).resync(true);
        let mut out = Vec::new();
        for piece in stream.chunks(cut) {
            d.push(piece, &mut out).unwrap();
        }
        assert_eq!(out, [&b"fits"[..], &[0x7E; 10]], "cut {cut}");
        assert_eq!(d.dropped(), 1, "cut {cut}");
        assert!(d.buffered() <= 10);
        assert_eq!(d.finish(), Ok(()));
    }
}

#[test]
#[should_panic(expected = "first byte may not occur again")]
fn markers_that_could_hide_in_data_are_refused() {
    let _ = ChunkEncoder::with_marker(b"ABA");
}

#[test]
fn chunk_and_frame_layers_stack() {
    // Framer -> DataChunker -> MaxSizePacketiser -> DataDeChunker -> DeFramer.
    let mut h = Harness::new();
    let ids = [
        h.spawn(Framer::new()),
        h.spawn(DataChunker::new()),
        h.spawn(MaxSizePacketiser::new(7)),
        h.spawn(DataDeChunker::new()),
        h.spawn(DeFramer::new()),
    ];
    for w in ids.windows(2) {
        h.scheduler()
            .link((w[0], "outbox"), (w[1], "inbox"))
            .unwrap();
        h.scheduler()
            .link((w[0], "signal"), (w[1], "control"))
            .unwrap();
    }
    let input = h.feeder::<(u64, Bytes)>(ids[0], "inbox").unwrap();
    let control = h.feeder::<Signal>(ids[0], "control").unwrap();
    let out = h.collector::<(u64, Bytes)>(ids[4], "outbox").unwrap();
    let sig = h.collector::<Signal>(ids[4], "signal").unwrap();
    let mut rng = SplitMix64::new(5);
    let msgs: Vec<(u64, Bytes)> = (0..50)
        .map(|i| {
            let body: Vec<u8> = (0..rng.below(60))
                .map(|_| [0x7E, 0x7D, 0, 0xFF][rng.below(4) as usize])
                .collect();
            (i, Bytes::from(body))
        })
        .collect();
    for m in &msgs {
        input.send(m.clone()).unwrap();
    }
    control.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), msgs);
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
}

// ---------------------------------------------------------------------------
// The fuzz targets' checks, over pseudo-random inputs.

/// A valid stream of frames (or chunks) with a few random faults: bytes
/// changed, cut off, inserted or removed.
fn mutated(rng: &mut SplitMix64, mut stream: Vec<u8>) -> Vec<u8> {
    for _ in 0..rng.below(3) {
        if stream.is_empty() {
            break;
        }
        let at = rng.below(stream.len() as u64) as usize;
        match rng.below(4) {
            0 => stream[at] = rng.next_u64() as u8,
            1 => stream.truncate(at),
            2 => stream.insert(at, rng.next_u64() as u8),
            _ => {
                stream.remove(at);
            }
        }
    }
    stream
}

fn random_body(rng: &mut SplitMix64) -> Vec<u8> {
    let len = [0, 1, 5, 40, 299, 300, 301][rng.below(7) as usize];
    (0..len)
        .map(|_| match rng.below(4) {
            0 => 0x7E,
            1 => 0x7D,
            2 => b'#',
            _ => rng.next_u64() as u8,
        })
        .collect()
}

/// Counts what the inputs came to: frames decoded, and each kind of error.
#[derive(Default, Debug)]
struct Coverage {
    decoded: usize,
    clean: usize,
    oversize: usize,
    corrupt: usize,
    truncated: usize,
}

impl Coverage {
    fn add(&mut self, s: fuzz_checks::Summary) {
        self.decoded += s.decoded;
        match s.error {
            None => self.clean += 1,
            Some(FramingError::Oversize { .. }) => self.oversize += 1,
            Some(FramingError::Corrupt { .. }) => self.corrupt += 1,
            Some(FramingError::Truncated { .. }) => self.truncated += 1,
        }
    }

    fn assert_broad(&self) {
        assert!(self.decoded > 1000, "{self:?}");
        for n in [self.clean, self.oversize, self.corrupt, self.truncated] {
            assert!(n > 50, "every outcome reached: {self:?}");
        }
    }
}

#[test]
fn fuzz_deframer_checks_over_random_inputs() {
    let mut rng = SplitMix64::new(0xF00D);
    let mut cov = Coverage::default();
    for _ in 0..3000 {
        let mut input = vec![rng.next_u64() as u8];
        if rng.below(5) == 0 {
            input.extend((0..rng.below(200)).map(|_| rng.next_u64() as u8));
        } else {
            let mut stream = Vec::new();
            for _ in 0..rng.below(4) {
                let body = random_body(&mut rng);
                let tag = match rng.below(3) {
                    0 => u64::MAX,
                    1 => u64::MAX - 1,
                    _ => rng.next_u64(),
                };
                stream.extend_from_slice(&encode_frame(tag, &body, 1000).unwrap());
            }
            input.extend(mutated(&mut rng, stream));
        }
        cov.add(fuzz_checks::deframer(&input));
    }
    cov.assert_broad();
}

#[test]
fn fuzz_dechunker_checks_over_random_inputs() {
    let mut rng = SplitMix64::new(0xBEEF);
    let mut cov = Coverage::default();
    for _ in 0..3000 {
        let seed = rng.next_u64() as u8;
        let marker: &[u8] = if seed & 0x80 == 0 {
            DEFAULT_MARKER
        } else {
            b"#S"
        };
        let enc = ChunkEncoder::with_marker(marker);
        let mut input = vec![seed];
        if rng.below(5) == 0 {
            input.extend((0..rng.below(200)).map(|_| rng.next_u64() as u8));
        } else {
            let mut stream = Vec::new();
            for _ in 0..rng.below(4) {
                stream.extend_from_slice(&enc.encode(&random_body(&mut rng)));
            }
            input.extend(mutated(&mut rng, stream));
        }
        cov.add(fuzz_checks::dechunker(&input));
    }
    cov.assert_broad();
}
