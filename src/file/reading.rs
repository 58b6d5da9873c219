//! Reading a file on request or line by line: `PromptedFileReader` and
//! `SimpleReader` (Kamaelia's `File/Reading.py`).
//!
//! # PromptedFileReader
//!
//! Reads a file only when asked: each number `n` on `inbox` reads `n`
//! bytes (or `n` lines) and sends them as one `Bytes`.
//!
//! | box     | carries  | meaning                                          |
//! |---------|----------|--------------------------------------------------|
//! | inbox   | `usize`  | how many bytes (or lines) to read next; 0 is ignored |
//! | control | `Signal` | shutdown: stop at once; producer finished (or a failure): answer the requests already waiting, then stop; either is forwarded on `signal` |
//! | outbox  | `Bytes`  | the data read for each request: `n` bytes, or `n` lines joined (each with its `\n`); fewer near the end of the file |
//! | signal  | `Signal` | producer finished when a request finds the end of the file; `Failed(FileError)` on an I/O error; or the forwarded control signal |
//!
//! The file is opened on the first step and closed when the component
//! ends, whichever way (the original never closed it). Each request is read
//! at once in the step that takes it; one request per step.
//!
//! # SimpleReader
//!
//! Sends a file line by line, one line per step, as fast as the consumer
//! takes them (a full destination pauses it, keeping the line).
//!
//! | box     | carries  | meaning                                          |
//! |---------|----------|--------------------------------------------------|
//! | control | `Signal` | shutdown: stop at once, forwarded on `signal`; producer finished is ignored |
//! | outbox  | `Bytes`  | each line, with its `\n` (the last may lack it)  |
//! | signal  | `Signal` | producer finished after the last line; `Failed(FileError)` on an I/O error |
//!
//! # Not ported here
//!
//! `RateControlledFileReader` (and the reusable and fixed-rate variants
//! built on it) is a Graphline of `ByteRate_RequestControl` feeding a
//! `PromptedFileReader`; it belongs with the rate-control components and
//! can be composed from [`PromptedFileReader`] once `ByteRate_RequestControl`
//! exists. [`ReadFileAdaptor`](super::ReadFileAdaptor) in bit-rate mode
//! covers the common case meanwhile.
//!
//! ```
//! use kamaelia::axon::{link, Inbox, Outbox, Scheduler, Signal};
//! use kamaelia::file::{PromptMode, PromptedFileReader};
//! let path = std::env::temp_dir().join(format!("pfr-doc-{}", std::process::id()));
//! std::fs::write(&path, "abcdef").unwrap();
//! let reader = PromptedFileReader::new(&path, PromptMode::Bytes);
//! let ask: Outbox<usize> = Outbox::outbox();
//! let (out, sig) = (Inbox::inbox(), Inbox::inbox());
//! link(&ask, &reader.inbox).unwrap();
//! link(&reader.outbox, &out).unwrap();
//! link(&reader.signal, &sig).unwrap();
//! for n in [4, 4, 4] {
//!     ask.send(n).unwrap();
//! }
//! let mut s = Scheduler::new();
//! s.spawn(reader);
//! s.run();
//! assert_eq!(out.recv().as_deref(), Some(&b"abcd"[..]));
//! assert_eq!(out.recv().as_deref(), Some(&b"ef"[..]));
//! assert_eq!(sig.recv(), Some(Signal::ProducerFinished));
//! # std::fs::remove_file(&path).unwrap();
//! ```

use std::fs::File;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};

use super::chunker::{Chunker, Unit};
use super::error::{FileError, FileOp};
use super::read_file_adaptor::{Outcome, ReaderCore, Spec};
use crate::axon::{BoxSet, Component, Cx, Full, Inbox, Outbox, Signal, Step};

/// What a number on a [`PromptedFileReader`]'s inbox counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptMode {
    /// Bytes.
    Bytes,
    /// Lines.
    Lines,
}

/// Reads `n` bytes or lines when `n` arrives; see the module documentation.
pub struct PromptedFileReader {
    /// Requests: how many bytes or lines to read.
    pub inbox: Inbox<usize>,
    /// Shutdown or producer finished.
    pub control: Inbox<Signal>,
    /// The data read.
    pub outbox: Outbox<Bytes>,
    /// Producer finished at the end of the file; failures; forwarded control.
    pub signal: Outbox<Signal>,
    path: PathBuf,
    mode: PromptMode,
    file: Option<Chunker<File>>,
    started: bool,
    held: Option<Bytes>,
    finishing: Option<Signal>,
}

impl PromptedFileReader {
    /// A reader of the file at `path`, counting requests in `mode`.
    pub fn new(path: impl AsRef<Path>, mode: PromptMode) -> Self {
        PromptedFileReader {
            inbox: Inbox::new("inbox", "requests: read n bytes or lines"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "the data read for each request"),
            signal: Outbox::signal(),
            path: path.as_ref().to_path_buf(),
            mode,
            file: None,
            started: false,
            held: None,
            finishing: None,
        }
    }

    /// Reads one request's worth: `None` at the end of the file.
    fn read(&mut self, n: usize) -> Result<Option<Bytes>, FileError> {
        let file = self.file.as_mut().expect("opened");
        let err = |e| FileError::new(FileOp::Read, self.path.clone(), e);
        match self.mode {
            PromptMode::Bytes => {
                file.set_unit(Unit::Block(n));
                file.next_unit().map_err(err)
            }
            PromptMode::Lines => {
                file.set_unit(Unit::Line);
                let mut data = BytesMut::new();
                for _ in 0..n {
                    match file.next_unit().map_err(err)? {
                        Some(line) => data.extend_from_slice(&line),
                        None => break,
                    }
                }
                Ok((!data.is_empty()).then(|| data.freeze()))
            }
        }
    }

    fn end(&mut self, sig: Signal) -> Step {
        self.file = None;
        let _ = self.signal.send(sig);
        Step::Done
    }
}

impl Component for PromptedFileReader {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                return self.end(sig);
            }
            self.finishing.get_or_insert(sig);
        }
        if !self.started {
            self.started = true;
            match File::open(&self.path) {
                Ok(f) => self.file = Some(Chunker::new(f, Unit::Line)),
                Err(e) => {
                    return self.end(Signal::failed(FileError::new(
                        FileOp::Open,
                        self.path.clone(),
                        e,
                    )))
                }
            }
        }
        if let Some(data) = self.held.take() {
            if let Err(Full(data)) = self.outbox.send(data) {
                self.held = Some(data);
                return Step::Pause;
            }
        }
        if let Some(n) = self.inbox.recv() {
            if n > 0 {
                match self.read(n) {
                    Ok(Some(data)) => {
                        if let Err(Full(data)) = self.outbox.send(data) {
                            self.held = Some(data);
                        }
                    }
                    Ok(None) => return self.end(Signal::ProducerFinished),
                    Err(e) => return self.end(Signal::failed(e)),
                }
            }
        }
        if self.held.is_some() || !self.inbox.is_empty() {
            // Requests still waiting keep it runnable, unless a send was refused.
            return Step::Pause;
        }
        if let Some(sig) = self.finishing.take() {
            return self.end(sig);
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}

/// Sends a file line by line; see the module documentation.
pub struct SimpleReader {
    /// Shutdown.
    pub control: Inbox<Signal>,
    /// The lines.
    pub outbox: Outbox<Bytes>,
    /// Producer finished after the last line; failures.
    pub signal: Outbox<Signal>,
    core: ReaderCore,
}

impl SimpleReader {
    /// A reader of the file at `path`.
    pub fn new(path: impl AsRef<Path>) -> Self {
        SimpleReader {
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "the file's lines, each with its newline"),
            signal: Outbox::signal(),
            core: ReaderCore::new(Spec::File(path.as_ref().to_path_buf()), Unit::Line),
        }
    }
}

impl Component for SimpleReader {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                self.core.stop(cx);
                let _ = self.signal.send(sig);
                return Step::Done;
            }
        }
        match self.core.step(cx, &self.outbox) {
            Outcome::Yield => Step::Yield,
            Outcome::Pause => Step::Pause,
            Outcome::End(sig) => {
                self.core.stop(cx);
                let _ = self.signal.send(sig);
                Step::Done
            }
        }
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.control, self.outbox, self.signal);
    }
}
