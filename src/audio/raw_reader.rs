//! `PcmFileReader`: reads 16-bit little-endian PCM from a WAV file or a
//! raw (headerless) PCM file and sends it as [`AudioChunk`]s.
//!
//! | box     | carries        | meaning                                      |
//! |---------|----------------|----------------------------------------------|
//! | control | `Signal`       | shutdown: close, forward it, stop            |
//! | outbox  | [`AudioChunk`] | the audio, `chunk_frames` frames per chunk (default 1024; the last may be shorter) |
//! | signal  | `Signal`       | producer finished at the end of the data; `Failed(FileError)` on an I/O error, `Failed(WavError)` for a file that is not 16-bit PCM WAV |
//!
//! A WAV file's header is parsed ([`parse_wav_header`]; LIST and other
//! chunks are skipped, WAVE_FORMAT_EXTENSIBLE is accepted) and reading
//! stops at the end of its data chunk (or of the file, if the header gives
//! no size). A raw file is read to its end at the rate and channels given.
//! A partial frame at the end is dropped.
//!
//! It reads as fast as the consumer takes chunks: a full destination holds
//! the chunk back and pauses the reader until the consumer takes one (put
//! a [`PacedSource`](crate::audio::paced::PacedSource)-like pace in front of a
//! device, or feed `AudioOut`, whose bounded inbox paces it). At most 16
//! chunks go out per step.
//!
//! ```
//! use kamaelia::audio::pcm::AudioChunk;
//! use kamaelia::audio::raw_reader::PcmFileReader;
//! use kamaelia::testing::Harness;
//! let path = std::env::temp_dir().join(format!("raw-doc-{}.raw", std::process::id()));
//! std::fs::write(&path, [1, 0, 2, 0, 3, 0]).unwrap();
//! let mut h = Harness::new();
//! let id = h.spawn(PcmFileReader::raw(&path, 8000, 1));
//! let out = h.collector::<AudioChunk>(id, "outbox").unwrap();
//! h.run_until_idle();
//! assert_eq!(out.drain()[0].samples, vec![1, 2, 3]);
//! # std::fs::remove_file(&path).unwrap();
//! ```

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::audio::pcm::AudioChunk;
use crate::audio::wav::{parse_wav_header, WavError};
use crate::axon::{BoxSet, Component, Cx, Full, Inbox, Outbox, Signal, Step};
use crate::file::{FileError, FileOp};

/// The most chunks sent in one step.
const BATCH: usize = 16;
/// The most header bytes read while looking for a WAV file's data.
const MAX_HEADER: usize = 1 << 20;

enum Kind {
    Wav,
    Raw { rate: u32, channels: u16 },
}

/// Reads a WAV or raw PCM file as audio chunks; see the module docs.
pub struct PcmFileReader {
    /// Shutdown.
    pub control: Inbox<Signal>,
    /// The audio.
    pub outbox: Outbox<AudioChunk>,
    /// Producer finished, failures, or the forwarded shutdown.
    pub signal: Outbox<Signal>,
    path: PathBuf,
    kind: Kind,
    chunk_frames: usize,
    file: Option<File>,
    format: (u32, u16),
    /// Data bytes left to read (`None`: to the end of the file).
    left: Option<u64>,
    held: Option<AudioChunk>,
    bytes: Vec<u8>,
}

impl PcmFileReader {
    fn make(path: &Path, kind: Kind) -> Self {
        PcmFileReader {
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "audio chunks read from the file"),
            signal: Outbox::signal(),
            path: path.to_path_buf(),
            kind,
            chunk_frames: 1024,
            file: None,
            format: (0, 0),
            left: None,
            held: None,
            bytes: Vec::new(),
        }
    }

    /// Reads the WAV file at `path`.
    pub fn wav(path: impl AsRef<Path>) -> Self {
        Self::make(path.as_ref(), Kind::Wav)
    }

    /// Reads the raw 16-bit little-endian PCM file at `path`, of `channels`
    /// interleaved channels at `rate`.
    pub fn raw(path: impl AsRef<Path>, rate: u32, channels: u16) -> Self {
        Self::make(path.as_ref(), Kind::Raw { rate, channels })
    }

    /// Frames per chunk (default 1024; at least 1).
    pub fn chunk_frames(mut self, n: usize) -> Self {
        self.chunk_frames = n.max(1);
        self
    }

    fn io(&self, op: FileOp, e: std::io::Error) -> FileError {
        FileError::new(op, self.path.clone(), e)
    }

    fn open(&mut self) -> Result<(), Signal> {
        let mut f = File::open(&self.path).map_err(|e| Signal::failed(self.io(FileOp::Open, e)))?;
        match self.kind {
            Kind::Raw { rate, channels } => {
                if rate == 0 || channels == 0 {
                    return Err(Signal::failed(WavError::BadFormat { rate, channels }));
                }
                self.format = (rate, channels);
            }
            Kind::Wav => {
                let mut head = Vec::new();
                let info = loop {
                    match parse_wav_header(&head).map_err(Signal::failed)? {
                        Some(info) => break info,
                        None if head.len() >= MAX_HEADER => {
                            return Err(Signal::failed(WavError::HeaderTooLarge));
                        }
                        None => {}
                    }
                    let mut buf = [0u8; 4096];
                    let n = f
                        .read(&mut buf)
                        .map_err(|e| Signal::failed(self.io(FileOp::Read, e)))?;
                    if n == 0 {
                        return Err(Signal::failed(WavError::Truncated));
                    }
                    head.extend_from_slice(&buf[..n]);
                };
                f.seek(SeekFrom::Start(info.data_offset))
                    .map_err(|e| Signal::failed(self.io(FileOp::Read, e)))?;
                self.format = (info.rate, info.channels);
                self.left = info.data_len;
            }
        }
        self.file = Some(f);
        Ok(())
    }

    /// The next chunk, or `None` at the end of the data.
    fn read_chunk(&mut self) -> Result<Option<AudioChunk>, Signal> {
        let (rate, channels) = self.format;
        let frame = usize::from(channels) * 2;
        let mut want = self.chunk_frames * frame;
        if let Some(left) = self.left {
            want = want.min(usize::try_from(left).unwrap_or(usize::MAX));
        }
        self.bytes.resize(want, 0);
        let f = self.file.as_mut().expect("opened on the first step");
        let mut got = 0;
        while got < want {
            match f.read(&mut self.bytes[got..want]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Signal::failed(self.io(FileOp::Read, e))),
            }
        }
        if let Some(left) = &mut self.left {
            *left -= got as u64;
        }
        let whole = got / frame * frame;
        if whole == 0 {
            return Ok(None);
        }
        let samples = self.bytes[..whole]
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        Ok(Some(AudioChunk {
            rate,
            channels,
            samples,
        }))
    }
}

impl Component for PcmFileReader {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        if let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                self.file = None;
                let _ = self.signal.send(sig);
                return Step::Done;
            }
        }
        if self.file.is_none() {
            if let Err(sig) = self.open() {
                let _ = self.signal.send(sig);
                return Step::Done;
            }
        }
        for _ in 0..BATCH {
            let chunk = match self.held.take() {
                Some(c) => c,
                None => match self.read_chunk() {
                    Ok(Some(c)) => c,
                    Ok(None) => {
                        self.file = None;
                        let _ = self.signal.send(Signal::ProducerFinished);
                        return Step::Done;
                    }
                    Err(sig) => {
                        self.file = None;
                        let _ = self.signal.send(sig);
                        return Step::Done;
                    }
                },
            };
            if let Err(Full(c)) = self.outbox.send(chunk) {
                self.held = Some(c);
                return Step::Pause; // woken when the consumer takes one
            }
        }
        Step::Yield
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.control, self.outbox, self.signal);
    }

    fn name(&self) -> &str {
        "PcmFileReader"
    }
}
