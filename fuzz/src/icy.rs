//! The check behind the `icy_demux` fuzz target (`tests/icecast_fuzz.rs`
//! includes this file and runs it over pseudo-random inputs, so CI
//! exercises it without a fuzzer).
//!
//! The first input byte chooses the metadata interval (its low 5 bits; 0:
//! no metadata) and how the rest is cut; the rest is the stream. Whatever
//! the bytes, [`IcyDemuxer`] must not panic, must give the same audio,
//! metadata and end as a byte-at-a-time reference however the stream is
//! cut, and must never hold more than one block (4080 bytes); every
//! metadata field it parses has a key of letters, digits, `_` or `-`.

use bytes::Bytes;
use kamaelia::internet::simulate::SplitMix64;
use kamaelia::protocol::http::icecast::{IcyDemuxer, IcyError, IcyEvent, Metadata};

/// What a stream came to: audio joined, each metadata block's raw text,
/// in order, and the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// Audio and metadata, adjacent audio joined.
    pub items: Vec<(bool, Vec<u8>)>,
    /// `finish()`.
    pub end: Result<(), IcyError>,
}

/// The reference: one byte at a time, as the format says.
pub fn reference(stream: &[u8], metaint: usize) -> Split {
    let mut items: Vec<(bool, Vec<u8>)> = Vec::new();
    let audio = |items: &mut Vec<(bool, Vec<u8>)>, b: u8| match items.last_mut() {
        Some((true, a)) => a.push(b),
        _ => items.push((true, vec![b])),
    };
    if metaint == 0 {
        for &b in stream {
            audio(&mut items, b);
        }
        return Split { items, end: Ok(()) };
    }
    let mut i = 0;
    loop {
        let mut n = 0;
        while n < metaint && i < stream.len() {
            audio(&mut items, stream[i]);
            i += 1;
            n += 1;
        }
        if i >= stream.len() {
            return Split { items, end: Ok(()) };
        }
        let len = stream[i] as usize * 16;
        i += 1;
        if len == 0 {
            continue;
        }
        if i + len > stream.len() {
            return Split {
                items,
                end: Err(IcyError::TruncatedMetadata {
                    expected: len,
                    got: stream.len() - i,
                }),
            };
        }
        let block = &stream[i..i + len];
        let text = &block[..block.iter().position(|&b| b == 0).unwrap_or(len)];
        items.push((false, text.to_vec()));
        i += len;
    }
}

fn run(stream: &Bytes, metaint: usize, seed: u8) -> Split {
    let mut d = IcyDemuxer::new(Some(metaint));
    let mut rng = SplitMix64::new(seed as u64);
    let biggest = [1, 2, 3, 17, 64, 301, 1000, 5000][(seed >> 5) as usize];
    let mut events = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let n = (1 + rng.below(biggest) as usize).min(stream.len() - at);
        d.push(stream.slice(at..at + n), &mut events);
        assert!(d.buffered() <= 255 * 16, "at most one block held");
        at += n;
    }
    let mut items: Vec<(bool, Vec<u8>)> = Vec::new();
    for e in events {
        match e {
            IcyEvent::Audio(b) => {
                assert!(!b.is_empty(), "no empty audio");
                match items.last_mut() {
                    Some((true, a)) => a.extend_from_slice(&b),
                    _ => items.push((true, b.to_vec())),
                }
            }
            IcyEvent::Metadata(m) => {
                check_fields(&m);
                items.push((false, m.raw.to_vec()));
            }
            other => panic!("the codec makes only audio and metadata: {other:?}"),
        }
    }
    let end = d.finish();
    Split { items, end }
}

fn check_fields(m: &Metadata) {
    for k in m.fields.keys() {
        assert!(!k.is_empty());
        assert!(k
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    }
    assert!(!m.raw.contains(&0), "the text ends at the first NUL");
}

/// The check; returns the split, for the plain test to see coverage.
pub fn icy_demux(data: &[u8]) -> Split {
    let Some((&seed, stream)) = data.split_first() else {
        return Split {
            items: Vec::new(),
            end: Ok(()),
        };
    };
    let metaint = (seed & 31) as usize;
    let stream = Bytes::copy_from_slice(stream);
    let want = reference(&stream, metaint);
    let got = run(&stream, metaint, seed);
    assert_eq!(got, want, "the demuxer differs from the reference");
    // The whole stream in one piece too.
    let mut d = IcyDemuxer::new(Some(metaint));
    let mut events = Vec::new();
    d.push(stream.clone(), &mut events);
    assert_eq!(d.finish(), want.end);
    // The parser on the raw bytes as one block.
    check_fields(&Metadata::parse(&stream));
    want
}
