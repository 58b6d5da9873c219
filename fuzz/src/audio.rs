//! The checks behind the `ogg_pages` and `vorbis_decode` fuzz targets
//! (`tests/audio_ogg_fuzz.rs` includes this file and runs both over the
//! committed corpus and pseudo-random mutations of it, so CI exercises
//! them without a fuzzer).
//!
//! The first input byte chooses how the rest is cut into pieces; the rest
//! is the stream.
//!
//! * [`ogg_pages`]: whatever the bytes, the page parser and demultiplexer
//!   must not panic, must give the same pages and packets however the
//!   stream is cut, must hold at most one page plus one piece, and every
//!   page handed out must carry a good CRC.
//! * [`vorbis_decode`]: pages in, samples out. Every well-formed page in
//!   the input first gets its CRC made good (so a mutated page body gets
//!   through to the Vorbis decoder instead of being dropped by the CRC
//!   check), then the decoder core and the component must not panic, and
//!   every chunk must be whole frames at a sane rate.

use bytes::Bytes;
use kamaelia::audio::ogg::{page_crc, OggReader, Packet, Page, PageParser, MAX_PAGE};
use kamaelia::audio::vorbis::{Decoded, VorbisDecode, VorbisDecoder};
use kamaelia::audio::AudioChunk;
use kamaelia::axon::Signal;
use kamaelia::internet::simulate::SplitMix64;
use kamaelia::testing::Harness;

/// Cuts `stream` into pieces chosen by `seed`.
fn pieces(stream: &[u8], seed: u8) -> Vec<&[u8]> {
    let mut rng = SplitMix64::new(seed as u64);
    let biggest = [1, 2, 3, 17, 64, 301, 1000, 5000][(seed >> 5) as usize];
    let mut out = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let n = (1 + rng.below(biggest) as usize).min(stream.len() - at);
        out.push(&stream[at..at + n]);
        at += n;
    }
    out
}

fn all_at_once(stream: &[u8]) -> (Vec<Page>, Vec<Packet>) {
    let mut p = PageParser::new();
    p.push(stream);
    let pages: Vec<Page> = std::iter::from_fn(|| p.next_page()).collect();
    let mut r = OggReader::new();
    r.push(stream);
    let packets = std::iter::from_fn(|| r.next_packet()).collect();
    (pages, packets)
}

/// The `ogg_pages` check; returns the pages and packets found.
pub fn ogg_pages(data: &[u8]) -> (usize, usize) {
    let Some((&seed, stream)) = data.split_first() else {
        return (0, 0);
    };
    let (want_pages, want_packets) = all_at_once(stream);
    let mut parser = PageParser::new();
    let mut reader = OggReader::new();
    let mut pages = Vec::new();
    let mut packets = Vec::new();
    for piece in pieces(stream, seed) {
        parser.push(piece);
        while let Some(p) = parser.next_page() {
            pages.push(p);
        }
        assert!(
            parser.buffered() < MAX_PAGE + piece.len(),
            "at most a page and a piece held"
        );
        reader.push(piece);
        while let Some(p) = reader.next_packet() {
            packets.push(p);
        }
    }
    assert_eq!(pages, want_pages, "the same pages however cut");
    assert_eq!(packets, want_packets, "the same packets however cut");
    for p in &pages {
        let raw = p.as_bytes();
        let crc = u32::from_le_bytes(raw[22..26].try_into().unwrap());
        assert_eq!(page_crc(raw), crc);
        assert_eq!(
            p.segments().iter().map(|&s| s as usize).sum::<usize>(),
            p.body().len()
        );
    }
    let s = parser.stats();
    let page_bytes: usize = pages.iter().map(|p| p.as_bytes().len()).sum();
    assert_eq!(
        s.skipped_bytes as usize + page_bytes + parser.buffered(),
        stream.len(),
        "every byte is a page's, skipped, or held"
    );
    (pages.len(), packets.len())
}

/// `stream` with the CRC of every well-formed page made good.
pub fn fix_crcs(stream: &[u8]) -> Vec<u8> {
    let mut out = stream.to_vec();
    let mut at = 0;
    while at + 27 <= out.len() {
        if &out[at..at + 4] != b"OggS" {
            at += 1;
            continue;
        }
        let nseg = out[at + 26] as usize;
        if at + 27 + nseg > out.len() {
            break;
        }
        let body: usize = out[at + 27..at + 27 + nseg]
            .iter()
            .map(|&s| s as usize)
            .sum();
        let end = at + 27 + nseg + body;
        if end > out.len() {
            break;
        }
        let crc = page_crc(&out[at..end]);
        out[at + 22..at + 26].copy_from_slice(&crc.to_le_bytes());
        at = end;
    }
    out
}

fn check_chunk(c: &AudioChunk) {
    assert!(c.channels > 0 && c.rate > 0);
    assert_eq!(c.samples.len() % c.channels as usize, 0);
    assert!(!c.samples.is_empty());
}

/// The `vorbis_decode` check; returns the frames decoded.
pub fn vorbis_decode(data: &[u8]) -> usize {
    let Some((&seed, stream)) = data.split_first() else {
        return 0;
    };
    let stream = fix_crcs(stream);
    // The core, pushed in pieces.
    let mut reader = OggReader::new();
    let mut dec = VorbisDecoder::new();
    let mut frames = 0;
    for piece in pieces(&stream, seed) {
        reader.push(piece);
        while let Some(p) = reader.next_packet() {
            if let Ok(Decoded::Audio(c)) = dec.decode(&p) {
                check_chunk(&c);
                frames += c.frames();
            }
        }
    }
    assert_eq!(dec.stats().frames, frames as u64);
    // The component, fed the same pieces: the same frames.
    let mut h = Harness::new();
    let id = h.spawn(VorbisDecode::new());
    let input = h.feeder::<Bytes>(id, "inbox").unwrap();
    let control = h.feeder::<Signal>(id, "control").unwrap();
    let audio = h.collector::<AudioChunk>(id, "outbox").unwrap();
    let _comments = h.collector::<kamaelia::audio::vorbis::VorbisComments>(id, "comments");
    for piece in pieces(&stream, seed) {
        input.send(Bytes::copy_from_slice(piece)).unwrap();
    }
    control.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert!(!h.is_alive(id), "ends after producer finished");
    let chunks = audio.drain();
    chunks.iter().for_each(check_chunk);
    assert_eq!(chunks.iter().map(|c| c.frames()).sum::<usize>(), frames);
    frames
}
