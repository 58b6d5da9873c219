//! `WavWriter`: writes a stream of [`AudioChunk`]s to a 16-bit PCM WAV
//! file (the `--wav FILE` of `kamaelia play`).
//!
//! | box     | carries        | meaning                                      |
//! |---------|----------------|----------------------------------------------|
//! | inbox   | [`AudioChunk`] | audio to write, in order; every chunk of one rate and channel count |
//! | control | `Signal`       | producer finished: write what waits, patch the header, close, forward it, stop; shutdown: patch the header over what is written so far, close, forward it, stop |
//! | signal  | `Signal`       | the forwarded control signal; `Failed(FileError)` on an I/O error, `Failed(WavError)` on a format change or a file past 4 GiB |
//!
//! The header goes out with the first chunk, with sizes of 0 (what a
//! reader of a stream still being written sees as "to the end"); when the
//! stream ends the RIFF and data sizes are patched in, so the file is a
//! valid WAV file however the component ends, errors included (after an
//! error the file holds what was written before it). A stream with no
//! chunk at all gives a valid empty file at the format set with
//! [`WavWriter::empty_format`] (default 44.1 kHz stereo).
//!
//! Each step writes at most 64 chunks through one reused buffer (no
//! allocation per chunk once it has grown) and flushes at the end of the
//! step.
//!
//! ```
//! use kamaelia::audio::pcm::AudioChunk;
//! use kamaelia::audio::wav_writer::WavWriter;
//! use kamaelia::axon::{link, Outbox, Scheduler, Signal};
//! let path = std::env::temp_dir().join(format!("wav-doc-{}.wav", std::process::id()));
//! let w = WavWriter::new(&path);
//! let (data, ctl) = (Outbox::outbox(), Outbox::outbox());
//! link(&data, &w.inbox).unwrap();
//! link(&ctl, &w.control).unwrap();
//! data.send(AudioChunk { rate: 8000, channels: 1, samples: vec![1, -1] }).unwrap();
//! ctl.send(Signal::ProducerFinished).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(w);
//! s.run();
//! let bytes = std::fs::read(&path).unwrap();
//! assert_eq!(bytes.len(), 48);
//! assert_eq!(&bytes[40..], &[4, 0, 0, 0, 1, 0, 0xff, 0xff]);
//! # std::fs::remove_file(&path).unwrap();
//! ```

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::audio::pcm::AudioChunk;
use crate::audio::wav::{wav_header, WavError, DATA_SIZE_AT, MAX_DATA_LEN, RIFF_SIZE_AT};
use crate::axon::{BoxSet, Component, Cx, Inbox, Outbox, Signal, Step};
use crate::file::{FileError, FileOp};

/// The most chunks written in one step.
const BATCH: usize = 64;

/// Writes audio chunks to a WAV file; see the module documentation.
pub struct WavWriter {
    /// Audio to write.
    pub inbox: Inbox<AudioChunk>,
    /// Producer finished or shutdown.
    pub control: Inbox<Signal>,
    /// The forwarded control signal; failures.
    pub signal: Outbox<Signal>,
    path: PathBuf,
    file: Option<BufWriter<File>>,
    /// The file's (rate, channels), once the header is written.
    format: Option<(u32, u16)>,
    empty_format: (u32, u16),
    data_len: u64,
    bytes: Vec<u8>,
    started: bool,
    finishing: Option<Signal>,
}

impl WavWriter {
    /// Writes to the file at `path` (created or truncated).
    pub fn new(path: impl AsRef<Path>) -> Self {
        WavWriter {
            inbox: Inbox::new("inbox", "audio chunks to write"),
            control: Inbox::control(),
            signal: Outbox::signal(),
            path: path.as_ref().to_path_buf(),
            file: None,
            format: None,
            empty_format: (44_100, 2),
            data_len: 0,
            bytes: Vec::new(),
            started: false,
            finishing: None,
        }
    }

    /// The format written in the header of a stream with no chunk.
    pub fn empty_format(mut self, rate: u32, channels: u16) -> Self {
        self.empty_format = (rate, channels);
        self
    }

    fn io(&self, op: FileOp, e: std::io::Error) -> FileError {
        FileError::new(op, self.path.clone(), e)
    }

    fn open(&mut self) -> Result<(), FileError> {
        let f = File::create(&self.path).map_err(|e| self.io(FileOp::Open, e))?;
        self.file = Some(BufWriter::new(f));
        Ok(())
    }

    fn write_header(&mut self, rate: u32, channels: u16, data_len: u32) -> Result<(), FileError> {
        let h = wav_header(rate, channels, data_len);
        let f = self.file.as_mut().expect("opened on the first step");
        let r = f.write_all(&h);
        r.map_err(|e| self.io(FileOp::Write, e))
    }

    fn write_chunk(&mut self, chunk: &AudioChunk) -> Result<(), Failure> {
        let now = (chunk.rate, chunk.channels);
        match self.format {
            None => {
                if chunk.rate == 0 || chunk.channels == 0 {
                    return Err(Failure::Wav(WavError::BadFormat {
                        rate: chunk.rate,
                        channels: chunk.channels,
                    }));
                }
                self.write_header(chunk.rate, chunk.channels, 0)?;
                self.format = Some(now);
            }
            Some(was) if was != now => {
                return Err(Failure::Wav(WavError::FormatChanged { was, now }));
            }
            Some(_) => {}
        }
        // Whole frames only, so the data chunk stays frame-aligned.
        let ch = usize::from(chunk.channels);
        let whole = chunk.samples.len() / ch * ch;
        let add = whole as u64 * 2;
        if self.data_len + add > MAX_DATA_LEN {
            return Err(Failure::Wav(WavError::TooLarge));
        }
        self.bytes.clear();
        for s in &chunk.samples[..whole] {
            self.bytes.extend_from_slice(&s.to_le_bytes());
        }
        let f = self.file.as_mut().expect("opened on the first step");
        let r = f.write_all(&self.bytes);
        r.map_err(|e| self.io(FileOp::Write, e))?;
        self.data_len += add;
        Ok(())
    }

    /// Writes the final sizes into the header and closes the file.
    fn finish(&mut self) -> Result<(), FileError> {
        if self.file.is_none() {
            return Ok(());
        }
        if self.format.is_none() {
            let (rate, channels) = self.empty_format;
            self.write_header(rate, channels, 0)?;
        }
        let data = self.data_len as u32; // bounded by MAX_DATA_LEN
        let mut f = self.file.take().expect("checked above");
        let r = (|| {
            f.flush()?;
            let file = f.get_mut();
            file.seek(SeekFrom::Start(RIFF_SIZE_AT))?;
            file.write_all(&(data + 36).to_le_bytes())?;
            file.seek(SeekFrom::Start(DATA_SIZE_AT))?;
            file.write_all(&data.to_le_bytes())?;
            file.flush()
        })();
        r.map_err(|e| self.io(FileOp::Write, e))
    }

    fn end(&mut self, sig: Signal) -> Step {
        let sig = match self.finish() {
            Ok(()) => sig,
            Err(e) => Signal::failed(e),
        };
        let _ = self.signal.send(sig);
        Step::Done
    }

    fn fail(&mut self, f: Failure) -> Step {
        // Keep what was written a valid file; the first error is the one told.
        let _ = self.finish();
        let sig = match f {
            Failure::File(e) => Signal::failed(e),
            Failure::Wav(e) => Signal::failed(e),
        };
        let _ = self.signal.send(sig);
        Step::Done
    }
}

enum Failure {
    File(FileError),
    Wav(WavError),
}

impl From<FileError> for Failure {
    fn from(e: FileError) -> Self {
        Failure::File(e)
    }
}

impl Component for WavWriter {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        if !self.started {
            self.started = true;
            if let Err(e) = self.open() {
                let _ = self.signal.send(Signal::failed(e));
                return Step::Done;
            }
        }
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                return self.end(sig);
            }
            self.finishing.get_or_insert(sig);
        }
        for _ in 0..BATCH {
            let Some(chunk) = self.inbox.recv() else {
                break;
            };
            if let Err(f) = self.write_chunk(&chunk) {
                return self.fail(f);
            }
        }
        if let Some(f) = self.file.as_mut() {
            if let Err(e) = f.flush() {
                let e = self.io(FileOp::Write, e);
                return self.fail(Failure::File(e));
            }
        }
        if !self.inbox.is_empty() {
            return Step::Yield;
        }
        match self.finishing.take() {
            Some(sig) => self.end(sig),
            None => Step::Pause,
        }
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.signal);
    }

    fn name(&self) -> &str {
        "WavWriter"
    }
}
