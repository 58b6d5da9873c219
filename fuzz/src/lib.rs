//! The checks behind the fuzz targets: arbitrary bytes into the parsers of
//! network input. Each function must never panic except on a broken
//! invariant. The main crate's `tests/net_framing.rs` includes this file
//! and runs both over pseudo-random inputs, so CI exercises them without
//! a fuzzer.
//!
//! The first input byte chooses how the rest is cut into pieces; the rest
//! is the stream.

use bytes::Bytes;
use kamaelia::internet::simulate::SplitMix64;
use kamaelia::protocol::framing::{
    decode_frame, encode_frame, ChunkDecoder, ChunkEncoder, FrameDecoder, FramingError, HEADER_LEN,
    MIN_GROWTH,
};
use kamaelia::protocol::srm::Packet;

/// What one input came to, for the plain test to check coverage.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Frames or payloads decoded (strict mode).
    pub decoded: usize,
    /// The error found (strict mode), if any.
    pub error: Option<FramingError>,
}

/// The body limit used, small so the oversize paths are reached.
pub const FUZZ_MAX: usize = 300;

/// Cuts `len` bytes into pieces as `seed` says.
fn cuts(seed: u8, len: usize) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed as u64);
    let biggest = [1, 2, 3, 7, 24, 25, 64, 301][(seed % 8) as usize];
    let mut out = Vec::new();
    let mut at = 0;
    while at < len {
        let n = (1 + rng.below(biggest) as usize).min(len - at);
        out.push(n);
        at += n;
    }
    out
}

type FrameRun = (
    Vec<(u64, Bytes)>,
    Result<(), FramingError>,
    Result<(), FramingError>,
);

fn run_frames(stream: &[u8], pieces: &[usize]) -> FrameRun {
    let mut d = FrameDecoder::new(FUZZ_MAX);
    let mut out = Vec::new();
    let mut at = 0;
    let mut result = Ok(());
    for &n in pieces {
        let r = if n % 2 == 0 {
            d.push(&stream[at..at + n], &mut out)
        } else {
            d.push_bytes(Bytes::copy_from_slice(&stream[at..at + n]), &mut out)
        };
        assert!(
            d.buffered() <= HEADER_LEN + FUZZ_MAX,
            "decoder memory bound"
        );
        assert!(
            d.capacity() <= (2 * d.buffered()).max(MIN_GROWTH),
            "capacity grows with the bytes that arrived"
        );
        at += n;
        if r.is_err() {
            // Spent: it keeps saying so.
            assert_eq!(d.push(b"more", &mut Vec::new()), r);
            result = r;
            break;
        }
    }
    (out, result, d.finish())
}

/// Frame decoder: the same frames and the same error however the stream is
/// cut; what it decodes re-encodes to exactly the bytes it consumed; a
/// clean finish only at a frame boundary. Also the datagram decoder and
/// the SRM packet decoder on the whole input.
pub fn deframer(data: &[u8]) -> Summary {
    let Some((&seed, stream)) = data.split_first() else {
        return Summary::default();
    };
    let whole = run_frames(stream, &[stream.len()][..usize::from(!stream.is_empty())]);
    let cut = run_frames(stream, &cuts(seed, stream.len()));
    assert_eq!(whole, cut, "cutting the stream changed the result");
    let (frames, result, finish) = whole;
    let mut again = Vec::new();
    for (tag, body) in &frames {
        assert!(body.len() <= FUZZ_MAX);
        again.extend_from_slice(&encode_frame(*tag, body, FUZZ_MAX).expect("within the max"));
    }
    assert!(stream.starts_with(&again), "frames re-encode to the input");
    match (&result, &finish) {
        (Ok(()), Ok(())) => assert_eq!(again.len(), stream.len(), "clean end at a boundary"),
        (Ok(()), Err(FramingError::Truncated { received })) => {
            assert_eq!(again.len() as u64 + received, stream.len() as u64)
        }
        (Ok(()), Err(e)) => panic!("finish after a clean push: {e}"),
        (Err(e), f) => assert_eq!(Err(e), f.as_ref()),
    }
    let datagram = Bytes::copy_from_slice(stream);
    if let Ok((tag, body)) = decode_frame(&datagram, FUZZ_MAX) {
        assert_eq!(&encode_frame(tag, &body, FUZZ_MAX).unwrap()[..], stream);
        assert_eq!(frames.len(), 1);
    }
    if let Ok(p) = Packet::decode(&datagram, FUZZ_MAX) {
        assert_eq!(
            &p.encode(FUZZ_MAX).unwrap()[..],
            stream,
            "packets round-trip"
        );
    }
    Summary {
        decoded: frames.len(),
        error: finish.err(),
    }
}

type ChunkRun = (
    Vec<Bytes>,
    Result<(), FramingError>,
    Result<(), FramingError>,
    u64,
    u64,
);

fn run_chunks(stream: &[u8], pieces: &[usize], marker: &[u8], resync: bool) -> ChunkRun {
    let mut d = ChunkDecoder::with_marker(marker, FUZZ_MAX).resync(resync);
    let mut out = Vec::new();
    let mut at = 0;
    let mut result = Ok(());
    for &n in pieces {
        let r = d.push(&stream[at..at + n], &mut out);
        assert!(d.buffered() <= FUZZ_MAX, "decoder memory bound");
        at += n;
        if r.is_err() {
            assert!(!resync, "resync mode reports no errors");
            assert_eq!(d.push(b"more", &mut Vec::new()), r);
            result = r;
            break;
        }
    }
    (out, result, d.finish(), d.skipped(), d.dropped())
}

/// Chunk decoder, strict and resync, with the default marker and a short
/// one: the same result however the stream is cut; in strict mode what it
/// decodes re-encodes to exactly the bytes it consumed; no payload over the
/// maximum.
pub fn dechunker(data: &[u8]) -> Summary {
    let Some((&seed, stream)) = data.split_first() else {
        return Summary::default();
    };
    let marker: &[u8] = if seed & 0x80 == 0 {
        kamaelia::protocol::framing::DEFAULT_MARKER
    } else {
        b"#S"
    };
    let one = [stream.len()];
    let one = &one[..usize::from(!stream.is_empty())];
    let pieces = cuts(seed, stream.len());
    let mut summary = Summary::default();
    for resync in [false, true] {
        let whole = run_chunks(stream, one, marker, resync);
        let cut = run_chunks(stream, &pieces, marker, resync);
        assert_eq!(whole, cut, "cutting the stream changed the result");
        let (payloads, result, finish, _, _) = whole;
        assert!(payloads.iter().all(|p| p.len() <= FUZZ_MAX));
        if !resync {
            let enc = ChunkEncoder::with_marker(marker);
            let again: Vec<u8> = payloads
                .iter()
                .flat_map(|p| enc.encode(p).to_vec())
                .collect();
            assert!(stream.starts_with(&again), "chunks re-encode to the input");
            match (&result, &finish) {
                (Ok(()), Ok(())) => assert_eq!(again.len(), stream.len()),
                (Ok(()), Err(FramingError::Truncated { received })) => {
                    assert_eq!(again.len() as u64 + received, stream.len() as u64)
                }
                (Ok(()), Err(e)) => panic!("finish after a clean push: {e}"),
                (Err(e), f) => assert_eq!(Err(e), f.as_ref()),
            }
            summary = Summary {
                decoded: payloads.len(),
                error: finish.err(),
            };
        }
    }
    summary
}
