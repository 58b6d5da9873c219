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
//! [`RateControlledFileReader`](super::RateControlledFileReader) feeds a
//! `PromptedFileReader` from a rate control, to read a file at a steady
//! rate.
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

use bytes::Bytes;

use super::chunker::{Chunker, Unit};
use super::error::{FileError, FileOp};
use super::jobs::{Jobs, Turn};
use super::read_file_adaptor::{ReaderCore, Spec};
use crate::axon::{BoxSet, Component, Cx, Inbox, Outbox, Signal, Step};

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
    jobs: Jobs<Bytes>,
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
            jobs: Jobs::new(),
        }
    }

    fn end(&mut self, sig: Signal) -> Step {
        self.file = None;
        let _ = self.signal.send(sig);
        Step::Done
    }
}

/// Reads one request's worth: `None` at the end of the file.
fn read_request(
    file: &mut Chunker<File>,
    path: &Path,
    mode: PromptMode,
    n: usize,
) -> Result<Option<Bytes>, FileError> {
    let r = match mode {
        PromptMode::Bytes => {
            file.set_unit(Unit::Block(n));
            file.next_unit()
        }
        PromptMode::Lines => file.next_lines(n),
    };
    r.map_err(|e| FileError::new(FileOp::Read, path, e))
}

impl Component for PromptedFileReader {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        if let Some(sig) = self.jobs.control(&self.control) {
            return self.end(sig);
        }
        if self.file.is_none() {
            match File::open(&self.path) {
                Ok(f) => self.file = Some(Chunker::new(f, Unit::Line)),
                Err(e) => {
                    let e = FileError::new(FileOp::Open, self.path.clone(), e);
                    return self.end(Signal::failed(e));
                }
            }
        }
        let file = self.file.as_mut().expect("opened above");
        let (path, mode) = (&self.path, self.mode);
        let turn = self.jobs.run(&self.inbox, &self.outbox, |n| {
            if n == 0 {
                return Ok(None);
            }
            match read_request(file, path, mode, n) {
                Ok(Some(data)) => Ok(Some(data)),
                Ok(None) => Err(Signal::ProducerFinished),
                Err(e) => Err(Signal::failed(e)),
            }
        });
        match turn {
            Turn::Go(step) => step,
            Turn::End(sig) => self.end(sig),
        }
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
        self.core
            .component_step(cx, &self.control, &self.outbox, &self.signal)
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.control, self.outbox, self.signal);
    }
}
