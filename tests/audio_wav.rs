//! WavWriter and PcmFileReader: headers byte for byte against sox's,
//! files read back by soxi and sox, the sizes patched however the writer
//! ends, and bad files as typed errors.

mod interop_support;

use std::path::Path;
use std::process::Command;

use interop_support::{tools, TempDir};
use kamaelia::audio::pcm::AudioChunk;
use kamaelia::audio::raw_reader::PcmFileReader;
use kamaelia::audio::wav::{parse_wav_header, wav_header, WavError, WavInfo};
use kamaelia::audio::wav_writer::WavWriter;
use kamaelia::axon::Signal;
use kamaelia::file::FileError;
use kamaelia::testing::Harness;
use proptest::prelude::*;

fn chunk(rate: u32, channels: u16, samples: Vec<i16>) -> AudioChunk {
    AudioChunk {
        rate,
        channels,
        samples,
    }
}

/// Runs a WavWriter over `chunks`, then `end`; returns its signals.
fn write(path: &Path, chunks: Vec<AudioChunk>, end: Signal) -> Vec<Signal> {
    let mut h = Harness::new();
    let id = h.spawn(WavWriter::new(path));
    let data = h.feeder(id, "inbox").unwrap();
    let ctl = h.feeder(id, "control").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    for c in chunks {
        data.send(c).unwrap();
    }
    h.run_until_idle();
    ctl.send(end).unwrap();
    h.run_until_idle();
    assert!(!h.is_alive(id));
    sig.drain()
}

/// Reads a file with PcmFileReader; returns its chunks and signals.
fn read(reader: PcmFileReader) -> (Vec<AudioChunk>, Vec<Signal>) {
    let mut h = Harness::new();
    let id = h.spawn(reader);
    let out = h.collector::<AudioChunk>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_until_idle();
    assert!(!h.is_alive(id));
    (out.drain(), sig.drain())
}

fn failure<E: std::error::Error + Clone + 'static>(sigs: &[Signal]) -> E {
    match sigs {
        [Signal::Failed(f)] => f.downcast_ref::<E>().expect("another error type").clone(),
        other => panic!("expected one failure, got {other:?}"),
    }
}

fn soxi(flag: &str, path: &Path) -> String {
    let o = Command::new("soxi").arg(flag).arg(path).output().unwrap();
    assert!(
        o.status.success(),
        "soxi failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

/// sox's decoding of a file to raw 16-bit little-endian samples.
fn sox_samples(path: &Path) -> Vec<i16> {
    let o = Command::new("sox")
        .arg(path)
        .args(["-t", "raw", "-e", "signed-integer", "-b", "16", "-L", "-"])
        .output()
        .unwrap();
    assert!(o.status.success());
    o.stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

fn sox_make(path: &Path, args: &[&str]) {
    let st = Command::new("sox")
        .args(["-n"])
        .args(args)
        .arg(path)
        .args(["synth", "0.05", "sine", "440"])
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn the_file_written_equals_sox_s_byte_for_byte() {
    if !tools("the_file_written_equals_sox_s", &["sox"], "sox") {
        return;
    }
    let dir = TempDir::new("wav-sox");
    for (rate, ch) in [(8000u32, 2u16), (22050, 1), (44100, 2)] {
        let theirs = dir.path().join(format!("sox-{rate}-{ch}.wav"));
        let ours = dir.path().join(format!("ours-{rate}-{ch}.wav"));
        let r = rate.to_string();
        let c = ch.to_string();
        sox_make(
            &theirs,
            &["-r", &r, "-c", &c, "-b", "16", "-e", "signed-integer"],
        );
        let samples = sox_samples(&theirs);
        assert!(!samples.is_empty());
        // In uneven chunks, to cross chunk boundaries.
        let frame = usize::from(ch);
        let chunks = samples
            .chunks(frame * 37)
            .map(|s| chunk(rate, ch, s.to_vec()))
            .collect();
        assert_eq!(
            write(&ours, chunks, Signal::ProducerFinished),
            vec![Signal::ProducerFinished]
        );
        let (a, b) = (
            std::fs::read(&theirs).unwrap(),
            std::fs::read(&ours).unwrap(),
        );
        assert_eq!(&a[..44], &b[..44], "header at {rate} Hz x{ch}");
        assert!(a == b, "the data differ at {rate} Hz x{ch}");
        // And our header function on its own.
        assert_eq!(a[..44], wav_header(rate, ch, (samples.len() * 2) as u32));
    }
}

#[test]
fn soxi_and_sox_read_our_file() {
    if !tools("soxi_and_sox_read_our_file", &["sox", "soxi"], "sox") {
        return;
    }
    let dir = TempDir::new("wav-soxi");
    let path = dir.path().join("ours.wav");
    let samples: Vec<i16> = (0..4800)
        .map(|i| ((i * 7919) % 65536 - 32768) as i16)
        .collect();
    let chunks = samples
        .chunks(1000)
        .map(|s| chunk(48000, 2, s.to_vec()))
        .collect();
    write(&path, chunks, Signal::ProducerFinished);
    assert_eq!(soxi("-r", &path), "48000");
    assert_eq!(soxi("-c", &path), "2");
    assert_eq!(soxi("-b", &path), "16");
    assert_eq!(soxi("-s", &path), "2400");
    assert_eq!(sox_samples(&path), samples);
}

#[test]
fn the_reader_gives_sox_s_samples_from_an_extensible_file() {
    if !tools("the_reader_gives_sox_s_samples", &["sox"], "sox") {
        return;
    }
    let dir = TempDir::new("wav-ext");
    let path = dir.path().join("four.wav");
    // sox writes 4 channels as WAVE_FORMAT_EXTENSIBLE with a fact chunk.
    sox_make(&path, &["-r", "8000", "-c", "4", "-b", "16"]);
    let head = std::fs::read(&path).unwrap();
    assert_eq!(
        &head[20..22],
        &[0xfe, 0xff],
        "not extensible: the test lost its point"
    );
    let (chunks, sigs) = read(PcmFileReader::wav(&path).chunk_frames(100));
    assert_eq!(sigs, vec![Signal::ProducerFinished]);
    assert!(chunks.iter().all(|c| c.rate == 8000 && c.channels == 4));
    assert_eq!(
        chunks.iter().map(|c| c.frames()).collect::<Vec<_>>(),
        vec![100, 100, 100, 100]
    );
    let got: Vec<i16> = chunks.into_iter().flat_map(|c| c.samples).collect();
    assert_eq!(got, sox_samples(&path));
}

#[test]
fn the_header_is_patched_on_shutdown_and_after_a_format_change() {
    let dir = TempDir::new("wav-patch");
    let a = dir.path().join("shutdown.wav");
    let sigs = write(&a, vec![chunk(8000, 1, vec![1, 2, 3])], Signal::Shutdown);
    assert_eq!(sigs, vec![Signal::Shutdown]);
    let bytes = std::fs::read(&a).unwrap();
    let mut expected = wav_header(8000, 1, 6).to_vec();
    expected.extend_from_slice(&[1, 0, 2, 0, 3, 0]);
    assert_eq!(bytes, expected);

    let b = dir.path().join("changed.wav");
    let sigs = write(
        &b,
        vec![chunk(8000, 1, vec![9, 8]), chunk(16000, 1, vec![7])],
        Signal::ProducerFinished,
    );
    assert_eq!(
        failure::<WavError>(&sigs),
        WavError::FormatChanged {
            was: (8000, 1),
            now: (16000, 1)
        }
    );
    let mut expected = wav_header(8000, 1, 4).to_vec();
    expected.extend_from_slice(&[9, 0, 8, 0]);
    assert_eq!(std::fs::read(&b).unwrap(), expected);
}

#[test]
fn an_empty_stream_is_a_valid_empty_file() {
    let dir = TempDir::new("wav-empty");
    let path = dir.path().join("empty.wav");
    assert_eq!(
        write(&path, vec![], Signal::ProducerFinished),
        vec![Signal::ProducerFinished]
    );
    assert_eq!(std::fs::read(&path).unwrap(), wav_header(44100, 2, 0));
    let (chunks, sigs) = read(PcmFileReader::wav(&path));
    assert!(chunks.is_empty());
    assert_eq!(sigs, vec![Signal::ProducerFinished]);
}

#[test]
fn writing_to_a_directory_is_a_file_error() {
    let dir = TempDir::new("wav-dir");
    let sigs = write(dir.path(), vec![], Signal::ProducerFinished);
    match sigs.as_slice() {
        [Signal::Failed(f)] => {
            assert_eq!(f.downcast_ref::<FileError>().unwrap().path(), dir.path())
        }
        other => panic!("expected a FileError, got {other:?}"),
    }
}

#[test]
fn raw_files_are_read_in_whole_frames() {
    let dir = TempDir::new("raw-read");
    let path = dir.path().join("x.raw");
    // 5 stereo frames and a stray byte.
    let mut bytes = Vec::new();
    for s in 0..10i16 {
        bytes.extend_from_slice(&(s * 1000 - 3000).to_le_bytes());
    }
    bytes.push(0x7f);
    std::fs::write(&path, &bytes).unwrap();
    let (chunks, sigs) = read(PcmFileReader::raw(&path, 11025, 2).chunk_frames(2));
    assert_eq!(sigs, vec![Signal::ProducerFinished]);
    let frames: Vec<usize> = chunks.iter().map(|c| c.frames()).collect();
    assert_eq!(frames, vec![2, 2, 1]);
    let got: Vec<i16> = chunks.into_iter().flat_map(|c| c.samples).collect();
    assert_eq!(got, (0..10).map(|s| s * 1000 - 3000).collect::<Vec<i16>>());
}

#[test]
fn reading_stops_at_the_end_of_the_data_chunk() {
    let dir = TempDir::new("wav-trailer");
    let path = dir.path().join("t.wav");
    let mut bytes = wav_header(8000, 1, 4).to_vec();
    bytes.extend_from_slice(&[1, 0, 2, 0]);
    bytes.extend_from_slice(b"LIST\x04\x00\x00\x00abcd"); // a trailing chunk
    std::fs::write(&path, &bytes).unwrap();
    let (chunks, _) = read(PcmFileReader::wav(&path));
    assert_eq!(chunks, vec![chunk(8000, 1, vec![1, 2])]);
}

#[test]
fn bad_files_are_typed_errors() {
    let dir = TempDir::new("wav-bad");
    let p = dir.path().join("bad.wav");
    let cases: Vec<(Vec<u8>, WavError)> = vec![
        (b"RIFX\0\0\0\0WAVEfmt ".to_vec(), WavError::NotWave),
        (b"RIFF\0\0\0\0AVI ".to_vec(), WavError::NotWave),
        (wav_header(8000, 1, 0)[..30].to_vec(), WavError::Truncated),
        (Vec::new(), WavError::Truncated),
        (
            {
                let mut h = wav_header(8000, 1, 0);
                h[34] = 8; // 8-bit
                h.to_vec()
            },
            WavError::Unsupported {
                format_tag: 1,
                bits: 8,
            },
        ),
        (
            {
                let mut h = wav_header(8000, 1, 0);
                h[20] = 3; // float
                h[34] = 32;
                h.to_vec()
            },
            WavError::Unsupported {
                format_tag: 3,
                bits: 32,
            },
        ),
        (
            wav_header(8000, 0, 0).to_vec(),
            WavError::BadFormat {
                rate: 8000,
                channels: 0,
            },
        ),
        (
            // data before fmt
            [&b"RIFF\0\0\0\0WAVEdata\0\0\0\0"[..]].concat(),
            WavError::BadFmt,
        ),
    ];
    for (bytes, want) in cases {
        std::fs::write(&p, &bytes).unwrap();
        let (chunks, sigs) = read(PcmFileReader::wav(&p));
        assert!(chunks.is_empty());
        assert_eq!(failure::<WavError>(&sigs), want);
    }
    let (_, sigs) = read(PcmFileReader::wav(dir.path().join("missing.wav")));
    match sigs.as_slice() {
        [Signal::Failed(f)] => {
            assert_eq!(
                f.downcast_ref::<FileError>().unwrap().kind(),
                std::io::ErrorKind::NotFound
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_prefix_of_a_header_asks_for_more() {
    let h = wav_header(44100, 2, 8);
    for n in 0..44 {
        assert_eq!(parse_wav_header(&h[..n]), Ok(None), "prefix of {n}");
    }
    assert_eq!(
        parse_wav_header(&h),
        Ok(Some(WavInfo {
            rate: 44100,
            channels: 2,
            data_offset: 44,
            data_len: Some(8)
        }))
    );
}

proptest! {
    #[test]
    fn the_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_wav_header(&bytes);
        let mut riff = b"RIFF\0\0\0\0WAVE".to_vec();
        riff.extend_from_slice(&bytes);
        let _ = parse_wav_header(&riff);
    }
}
