//! What the Ogg and Vorbis tests share: test files made with sox and
//! oggenc, oggdec's decode as the oracle, and our decode through the
//! decoder core and through the component (step by step on the harness).

#![allow(dead_code)]

use bytes::Bytes;
use kamaelia::audio::ogg::{OggReader, OggStats, Page, PageParser};
use kamaelia::audio::vorbis::{
    Decoded, VorbisComments, VorbisDecode, VorbisDecodeStats, VorbisDecoder, VorbisError,
    VorbisStats,
};
use kamaelia::audio::AudioChunk;
use kamaelia::axon::Signal;
use kamaelia::testing::Harness;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../interop_support/mod.rs"]
pub mod interop_support;
pub use interop_support::{tools, TempDir};

// Not every test that shares these helpers plays an Icecast mount.
#[allow(unused_imports)]
pub use interop_support::icecast;

/// Whether sox, oggenc and oggdec are installed (else a skip note, or a
/// failure under `KAMAELIA_REQUIRE_INTEROP=1`).
pub fn have_tools(test: &str) -> bool {
    tools(test, &["sox", "oggenc", "oggdec"], "sox vorbis-tools")
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test sound: `secs` seconds at `rate` with `channels`, a sine on the
/// first channel and (repeatable) pink noise on the others, encoded by
/// oggenc at `quality` with `title`; returns the .ogg file's path.
pub fn make_ogg(
    dir: &Path,
    name: &str,
    rate: u32,
    channels: u16,
    secs: f64,
    quality: i32,
    title: &str,
) -> PathBuf {
    let wav = dir.join(format!("{name}.wav"));
    let ogg = dir.join(format!("{name}.ogg"));
    let mut sox = Command::new("sox");
    sox.args([
        "-R",
        "-n",
        "-r",
        &rate.to_string(),
        "-c",
        &channels.to_string(),
    ])
    .args(["-b", "16"])
    .arg(&wav)
    .args(["synth", &secs.to_string(), "sine", "440"]);
    if channels > 1 {
        sox.arg("pinknoise");
    }
    sox.args(["vol", "0.5"]);
    run(&mut sox);
    run(Command::new("oggenc")
        .args(["-Q", "-q", &quality.to_string(), "-t", title, "-o"])
        .arg(&ogg)
        .arg(&wav));
    let _ = std::fs::remove_file(&wav);
    ogg
}

/// oggdec's decode of `ogg`: interleaved 16-bit samples.
pub fn oggdec(ogg: &Path) -> Vec<i16> {
    let raw = ogg.with_extension("raw");
    run(Command::new("oggdec")
        .args(["-Q", "-R", "-o"])
        .arg(&raw)
        .arg(ogg));
    let bytes = std::fs::read(&raw).unwrap();
    let _ = std::fs::remove_file(&raw);
    bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// What a decode gave.
#[derive(Debug, Default)]
pub struct Decode {
    pub chunks: Vec<AudioChunk>,
    pub comments: Vec<VorbisComments>,
    pub errors: Vec<VorbisError>,
    pub ogg: OggStats,
    pub vorbis: VorbisStats,
}

impl Decode {
    /// All samples, interleaved, in order.
    pub fn samples(&self) -> Vec<i16> {
        self.chunks
            .iter()
            .flat_map(|c| c.samples.iter().copied())
            .collect()
    }

    /// Total frames.
    pub fn frames(&self) -> usize {
        self.chunks.iter().map(|c| c.frames()).sum()
    }
}

/// Decodes `data` with the core (OggReader + VorbisDecoder), pushed in
/// pieces of `piece` bytes.
pub fn decode_core(data: &[u8], piece: usize) -> Decode {
    let mut reader = OggReader::new();
    let mut dec = VorbisDecoder::new();
    let mut out = Decode::default();
    for part in data.chunks(piece.max(1)) {
        reader.push(part);
        while let Some(p) = reader.next_packet() {
            match dec.decode(&p) {
                Ok(Decoded::Audio(c)) => out.chunks.push(c),
                Ok(Decoded::Headers(c)) => out.comments.push(c),
                Ok(Decoded::Nothing) => {}
                Err(e) => out.errors.push(e),
            }
        }
    }
    out.ogg = reader.stats();
    out.vorbis = dec.stats();
    out
}

/// Decodes `data` with the VorbisDecode component on the harness, sent in
/// pieces of `piece` bytes then a producer-finished; returns the decode,
/// the component's counters and the number of steps it took.
pub fn decode_component(data: &[u8], piece: usize) -> (Decode, VorbisDecodeStats, usize) {
    let mut h = Harness::new();
    let dec = VorbisDecode::new();
    let stats = dec.stats();
    let id = h.spawn(dec);
    let input = h.feeder::<Bytes>(id, "inbox").unwrap();
    let control = h.feeder::<Signal>(id, "control").unwrap();
    let audio = h.collector::<AudioChunk>(id, "outbox").unwrap();
    let comments = h.collector::<VorbisComments>(id, "comments").unwrap();
    let signal = h.collector::<Signal>(id, "signal").unwrap();
    let data = Bytes::copy_from_slice(data);
    let mut at = 0;
    while at < data.len() {
        let end = (at + piece.max(1)).min(data.len());
        input.send(data.slice(at..end)).unwrap();
        at = end;
    }
    control.send(Signal::ProducerFinished).unwrap();
    let steps = h.run_until_idle();
    assert!(!h.is_alive(id), "VorbisDecode ends after producer finished");
    assert_eq!(signal.drain(), vec![Signal::ProducerFinished]);
    let s = stats.get();
    let out = Decode {
        chunks: audio.drain(),
        comments: comments.drain(),
        errors: Vec::new(),
        ogg: s.ogg,
        vorbis: s.vorbis,
    };
    (out, s, steps)
}

/// The largest difference between two sample runs of equal length, and how
/// many samples differ at all.
pub fn max_diff(a: &[i16], b: &[i16]) -> (i32, usize) {
    assert_eq!(a.len(), b.len(), "sample counts differ");
    let mut worst = 0;
    let mut differ = 0;
    for (&x, &y) in a.iter().zip(b) {
        let d = (x as i32 - y as i32).abs();
        worst = worst.max(d);
        differ += usize::from(d != 0);
    }
    (worst, differ)
}

/// The pages of a whole Ogg file, in order.
pub fn pages(data: &[u8]) -> Vec<Page> {
    let mut p = PageParser::new();
    p.push(data);
    std::iter::from_fn(|| p.next_page()).collect()
}

/// Pages put back together as bytes.
pub fn join(pages: &[Page]) -> Vec<u8> {
    pages
        .iter()
        .flat_map(|p| p.as_bytes().iter().copied())
        .collect()
}

/// A 16-bit WAV file's format and samples (interleaved).
pub fn read_wav(path: &Path) -> (kamaelia::audio::wav::WavInfo, Vec<i16>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let info = kamaelia::audio::wav::parse_wav_header(&bytes)
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()))
        .unwrap_or_else(|| panic!("{}: header cut short", path.display()));
    let start = info.data_offset as usize;
    let end = info
        .data_len
        .map_or(bytes.len(), |n| (start + n as usize).min(bytes.len()));
    let samples = bytes[start..end]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    (info, samples)
}
