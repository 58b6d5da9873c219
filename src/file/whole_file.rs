//! Whole files on request: `TriggeredFileReader` reads the file named on
//! its inbox, `WholeFileWriter` writes a whole file per job (Kamaelia's
//! `File/TriggeredFileReader.py` and `File/WholeFileWriter.py`).
//!
//! # TriggeredFileReader
//!
//! | box     | carries            | meaning                                |
//! |---------|--------------------|----------------------------------------|
//! | inbox   | `P` (`PathBuf` by default; `String`, `&'static str`... with [`TriggeredFileReader::typed`]) | a file to read |
//! | control | `Signal`           | shutdown: stop at once; producer finished (or a failure): read the files already asked for, then stop; either is forwarded on `signal` |
//! | outbox  | `Bytes`            | each file's whole contents, in request order |
//! | signal  | `Signal`           | the forwarded control signal; `Failed(FileError)` when a file cannot be read (the component then ends) |
//!
//! # WholeFileWriter
//!
//! | box     | carries             | meaning                               |
//! |---------|---------------------|---------------------------------------|
//! | inbox   | `(PathBuf, Bytes)`  | a job: write these bytes as this file (created, or truncated) |
//! | control | `Signal`            | shutdown: stop at once (between jobs); producer finished (or a failure): do the jobs already waiting, then stop; either is forwarded on `signal` |
//! | outbox  | `PathBuf`           | each file's path once it is written and closed |
//! | signal  | `Signal`            | the forwarded control signal; `Failed(FileError)` when a job fails (the component then ends) |
//!
//! Both take one job per step and do it whole inside the step: a file is
//! read or written in one go (as in the original), so very large files make
//! for a long step. Every file is closed before its result is sent. A full
//! destination pauses either one, keeping its result, until the consumer
//! takes a message. (The originals never stopped; these follow the
//! crate's shutdown convention.)
//!
//! ```
//! use std::path::PathBuf;
//! use bytes::Bytes;
//! use kamaelia::axon::{link, Inbox, Outbox, Scheduler};
//! use kamaelia::file::{TriggeredFileReader, WholeFileWriter};
//! let path = std::env::temp_dir().join(format!("whole-doc-{}", std::process::id()));
//! let writer = WholeFileWriter::new();
//! let reader = TriggeredFileReader::new();
//! let jobs: Outbox<(PathBuf, Bytes)> = Outbox::outbox();
//! let contents = Inbox::inbox();
//! link(&jobs, &writer.inbox).unwrap();
//! link(&writer.outbox, &reader.inbox).unwrap(); // read back what was written
//! link(&reader.outbox, &contents).unwrap();
//! jobs.send((path.clone(), Bytes::from_static(b"hello"))).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(writer);
//! s.spawn(reader);
//! s.run_until_idle();
//! assert_eq!(contents.recv().as_deref(), Some(&b"hello"[..]));
//! # std::fs::remove_file(&path).unwrap();
//! ```

use std::fs::File;
use std::io::Write;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::error::{FileError, FileOp};
use super::jobs::{Jobs, Turn};
use crate::axon::{BoxSet, Component, Cx, Inbox, Outbox, Signal, Step};

/// Reads the file named by each message; see the module documentation.
pub struct TriggeredFileReader<P: AsRef<Path> + 'static = PathBuf> {
    /// Files to read.
    pub inbox: Inbox<P>,
    /// Shutdown or producer finished.
    pub control: Inbox<Signal>,
    /// Each file's contents.
    pub outbox: Outbox<Bytes>,
    /// Forwarded control signal; failures.
    pub signal: Outbox<Signal>,
    jobs: Jobs<Bytes>,
    _p: PhantomData<fn(P)>,
}

impl TriggeredFileReader {
    /// A reader taking `PathBuf`s.
    pub fn new() -> Self {
        Self::typed()
    }
}

impl Default for TriggeredFileReader {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: AsRef<Path> + 'static> TriggeredFileReader<P> {
    /// A reader taking paths of type `P`, e.g.
    /// `TriggeredFileReader::<String>::typed()`.
    pub fn typed() -> Self {
        TriggeredFileReader {
            inbox: Inbox::new("inbox", "paths of files to read"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "each file's whole contents"),
            signal: Outbox::signal(),
            jobs: Jobs::new(),
            _p: PhantomData,
        }
    }

    fn end(&mut self, sig: Signal) -> Step {
        let _ = self.signal.send(sig);
        Step::Done
    }
}

impl<P: AsRef<Path> + 'static> Component for TriggeredFileReader<P> {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        if let Some(sig) = self.jobs.control(&self.control) {
            return self.end(sig);
        }
        let turn = self.jobs.run(&self.inbox, &self.outbox, |path| {
            let path = path.as_ref();
            match std::fs::read(path) {
                Ok(data) => Ok(Some(Bytes::from(data))),
                Err(e) => Err(Signal::failed(FileError::new(FileOp::Read, path, e))),
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

    fn name(&self) -> &str {
        "TriggeredFileReader"
    }
}

/// Writes one whole file per job; see the module documentation.
pub struct WholeFileWriter {
    /// Jobs: (path, contents).
    pub inbox: Inbox<(PathBuf, Bytes)>,
    /// Shutdown or producer finished.
    pub control: Inbox<Signal>,
    /// The path of each file written.
    pub outbox: Outbox<PathBuf>,
    /// Forwarded control signal; failures.
    pub signal: Outbox<Signal>,
    jobs: Jobs<PathBuf>,
}

impl Default for WholeFileWriter {
    fn default() -> Self {
        Self::new()
    }
}

/// Creates (or truncates) `path`, writes `data`, closes it.
fn write_whole(path: &Path, data: &[u8]) -> Result<(), FileError> {
    let mut f = File::create(path).map_err(|e| FileError::new(FileOp::Open, path, e))?;
    f.write_all(data)
        .and_then(|()| f.flush())
        .map_err(|e| FileError::new(FileOp::Write, path, e))
}

impl WholeFileWriter {
    /// A writer.
    pub fn new() -> Self {
        WholeFileWriter {
            inbox: Inbox::new("inbox", "jobs: (path, contents) to write as a file"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "the path of each file written"),
            signal: Outbox::signal(),
            jobs: Jobs::new(),
        }
    }

    fn end(&mut self, sig: Signal) -> Step {
        let _ = self.signal.send(sig);
        Step::Done
    }
}

impl Component for WholeFileWriter {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        if let Some(sig) = self.jobs.control(&self.control) {
            return self.end(sig);
        }
        let turn =
            self.jobs.run(
                &self.inbox,
                &self.outbox,
                |(path, data)| match write_whole(&path, &data) {
                    Ok(()) => Ok(Some(path)),
                    Err(e) => Err(Signal::failed(e)),
                },
            );
        match turn {
            Turn::Go(step) => step,
            Turn::End(sig) => self.end(sig),
        }
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}
