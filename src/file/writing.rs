//! Writing a stream to a file: `SimpleFileWriter` (Kamaelia's
//! `File/Writing.py`) and `Append` (`File/Append.py`).
//!
//! # SimpleFileWriter
//!
//! | box     | carries  | meaning                                          |
//! |---------|----------|--------------------------------------------------|
//! | inbox   | `T` (`Bytes` by default; anything `AsRef<[u8]>`, e.g. `String`, with [`SimpleFileWriter::typed`]) | data to write, in order |
//! | control | `Signal` | producer finished (or a failure): write what is waiting, flush, close, forward it on `signal`, stop; shutdown: close and forward at once, dropping what is still waiting |
//! | signal  | `Signal` | the forwarded control signal; `Failed(FileError)` if the file cannot be opened or written (the component then ends) |
//!
//! [`WriteMode::Write`] creates or truncates the file, [`WriteMode::Append`]
//! creates it or appends to it. The file is opened on the first step (so
//! it exists, possibly empty, even if no data comes).
//!
//! # Append
//!
//! Appends each item to a file and, by default, passes a copy on (the
//! original's `forwarder`), so it can sit in the middle of a pipeline as a
//! log tap.
//!
//! | box     | carries  | meaning                                          |
//! |---------|----------|--------------------------------------------------|
//! | inbox   | `T` (as above, and `Clone` when forwarding) | data to append |
//! | control | `Signal` | as for `SimpleFileWriter`                        |
//! | outbox  | `T`      | a copy of each item once it is written (if `forwarder`) |
//! | signal  | `Signal` | as for `SimpleFileWriter`                        |
//!
//! Options: [`Append::forwarder`] (default on), [`Append::blat_file`]
//! (empty the file first; default off), [`Append::hold_open`] (keep the file
//! open between steps; default on: off reopens and closes it around each
//! batch, so other programs can rotate it).
//!
//! # Buffering, closing and errors
//!
//! Each step writes at most 64 items through a buffer and flushes it at the
//! end of the step, so what a step took is in the file when the step
//! returns, with one `write` per step rather than one per item. Errors
//! (disk full, permission denied, a directory, ...) are reported as
//! `Failed(FileError)` and end the component; the file is closed whenever
//! the component ends, however it ends (the original's `SimpleFileWriter`
//! never closed its file). A full destination of `Append`'s outbox pauses
//! it, without taking more input, until the consumer takes a message.
//!
//! ```
//! use bytes::Bytes;
//! use kamaelia::axon::{link, Outbox, Scheduler, Signal};
//! use kamaelia::file::{SimpleFileWriter, WriteMode};
//! let path = std::env::temp_dir().join(format!("sfw-doc-{}", std::process::id()));
//! let writer = SimpleFileWriter::new(&path, WriteMode::Write);
//! let (data, ctl) = (Outbox::outbox(), Outbox::outbox());
//! link(&data, &writer.inbox).unwrap();
//! link(&ctl, &writer.control).unwrap();
//! data.send(Bytes::from_static(b"hello ")).unwrap();
//! data.send(Bytes::from_static(b"world")).unwrap();
//! ctl.send(Signal::ProducerFinished).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(writer);
//! s.run();
//! assert_eq!(std::fs::read(&path).unwrap(), b"hello world");
//! # std::fs::remove_file(&path).unwrap();
//! ```

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::error::{FileError, FileOp};
use crate::axon::{BoxSet, Component, Cx, Full, Inbox, Outbox, Signal, Step};

/// The most items written in one step.
const BATCH: usize = 64;

/// How [`SimpleFileWriter`] opens its file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WriteMode {
    /// Create, or truncate (the original's `"wb"`).
    #[default]
    Write,
    /// Create, or append (`"ab"`).
    Append,
}

/// A file opened on demand, written through a buffer.
struct Sink {
    path: PathBuf,
    /// The next open truncates (then appends).
    truncate: bool,
    file: Option<BufWriter<File>>,
}

impl Sink {
    fn new(path: &Path, truncate: bool) -> Self {
        Sink {
            path: path.to_path_buf(),
            truncate,
            file: None,
        }
    }

    fn error(&self, op: FileOp, e: std::io::Error) -> FileError {
        FileError::new(op, self.path.clone(), e)
    }

    fn open(&mut self) -> Result<&mut BufWriter<File>, FileError> {
        if self.file.is_none() {
            let mut o = OpenOptions::new();
            if self.truncate {
                o.write(true).create(true).truncate(true);
            } else {
                o.append(true).create(true);
            }
            let f = o
                .open(&self.path)
                .map_err(|e| self.error(FileOp::Open, e))?;
            self.truncate = false;
            self.file = Some(BufWriter::new(f));
        }
        Ok(self.file.as_mut().expect("opened above"))
    }

    fn write(&mut self, data: &[u8]) -> Result<(), FileError> {
        let r = self.open()?.write_all(data);
        r.map_err(|e| self.error(FileOp::Write, e))
    }

    fn flush(&mut self) -> Result<(), FileError> {
        match self.file.as_mut().map(|f| f.flush()) {
            Some(Err(e)) => Err(self.error(FileOp::Write, e)),
            _ => Ok(()),
        }
    }

    /// Flushes and closes; the file is closed even if the flush fails.
    fn close(&mut self) -> Result<(), FileError> {
        let r = self.flush();
        self.discard();
        r
    }

    /// Closes without writing what is still buffered (after an error).
    fn discard(&mut self) {
        if let Some(w) = self.file.take() {
            let (_file, _unwritten) = w.into_parts();
        }
    }
}

/// What [`SimpleFileWriter`] and [`Append`] share: the file, and the
/// rules for opening, flushing, failing and ending.
struct Writer {
    sink: Sink,
    started: bool,
    finishing: Option<Signal>,
}

impl Writer {
    fn new(path: &Path, truncate: bool) -> Self {
        Writer {
            sink: Sink::new(path, truncate),
            started: false,
            finishing: None,
        }
    }

    /// The start of a step: reads `control` (a shutdown closes the file
    /// and ends it) and opens the file on the first step, so errors show
    /// at once and the file exists (emptied, if asked) even if no data
    /// comes. `Some` is the step to return at once.
    fn begin(&mut self, control: &Inbox<Signal>, signal: &Outbox<Signal>) -> Option<Step> {
        while let Some(sig) = control.recv() {
            if sig.is_shutdown() {
                // Earlier steps flushed what they wrote: nothing is lost but
                // what still waits in the inbox.
                return Some(self.close_and_end(sig, signal));
            }
            self.finishing.get_or_insert(sig);
        }
        if !self.started {
            self.started = true;
            if let Err(e) = self.sink.open() {
                return Some(self.fail(e, signal));
            }
        }
        None
    }

    /// The end of a step: flushes (or, unless `hold_open`, closes) what the
    /// step wrote; then sleeps on a refused send (`held`), goes on with
    /// input left (`more`), or ends on a finishing signal.
    fn end(&mut self, signal: &Outbox<Signal>, hold_open: bool, held: bool, more: bool) -> Step {
        let flushed = if hold_open {
            self.sink.flush()
        } else {
            self.sink.close()
        };
        if let Err(e) = flushed {
            return self.fail(e, signal);
        }
        if held {
            return Step::Pause; // refused: sleeps until the consumer takes one
        }
        if more {
            return Step::Yield;
        }
        match self.finishing.take() {
            Some(sig) => self.close_and_end(sig, signal),
            None => Step::Pause,
        }
    }

    fn close_and_end(&mut self, sig: Signal, signal: &Outbox<Signal>) -> Step {
        if let Err(e) = self.sink.close() {
            return self.fail(e, signal);
        }
        let _ = signal.send(sig);
        Step::Done
    }

    fn fail(&mut self, e: FileError, signal: &Outbox<Signal>) -> Step {
        self.sink.discard();
        let _ = signal.send(Signal::failed(e));
        Step::Done
    }
}

/// Writes (or appends) each item to a file; see the module documentation.
pub struct SimpleFileWriter<T: AsRef<[u8]> + 'static = Bytes> {
    /// Data to write.
    pub inbox: Inbox<T>,
    /// Producer finished or shutdown.
    pub control: Inbox<Signal>,
    /// The forwarded control signal; failures.
    pub signal: Outbox<Signal>,
    writer: Writer,
}

impl SimpleFileWriter {
    /// A writer of `Bytes` to the file at `path`.
    pub fn new(path: impl AsRef<Path>, mode: WriteMode) -> Self {
        Self::typed(path, mode)
    }
}

impl<T: AsRef<[u8]> + 'static> SimpleFileWriter<T> {
    /// A writer of items of type `T`, e.g.
    /// `SimpleFileWriter::<String>::typed(path, WriteMode::Append)`.
    pub fn typed(path: impl AsRef<Path>, mode: WriteMode) -> Self {
        SimpleFileWriter {
            inbox: Inbox::new("inbox", "data to write to the file"),
            control: Inbox::control(),
            signal: Outbox::signal(),
            writer: Writer::new(path.as_ref(), mode == WriteMode::Write),
        }
    }
}

impl<T: AsRef<[u8]> + 'static> Component for SimpleFileWriter<T> {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        let w = &mut self.writer;
        if let Some(step) = w.begin(&self.control, &self.signal) {
            return step;
        }
        for _ in 0..BATCH {
            let Some(item) = self.inbox.recv() else { break };
            if let Err(e) = w.sink.write(item.as_ref()) {
                return w.fail(e, &self.signal);
            }
        }
        w.end(&self.signal, true, false, !self.inbox.is_empty())
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.signal);
    }

    fn name(&self) -> &str {
        "SimpleFileWriter"
    }
}

/// Appends each item to a file and passes it on; see the module documentation.
pub struct Append<T: AsRef<[u8]> + Clone + 'static = Bytes> {
    /// Data to append.
    pub inbox: Inbox<T>,
    /// Producer finished or shutdown.
    pub control: Inbox<Signal>,
    /// A copy of each item written (with `forwarder`).
    pub outbox: Outbox<T>,
    /// The forwarded control signal; failures.
    pub signal: Outbox<Signal>,
    writer: Writer,
    forwarder: bool,
    hold_open: bool,
    held: Option<T>,
}

impl Append {
    /// Appends `Bytes` to the file at `path`.
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self::typed(path)
    }
}

impl<T: AsRef<[u8]> + Clone + 'static> Append<T> {
    /// Appends items of type `T`, e.g. `Append::<String>::typed(path)`.
    pub fn typed(path: impl AsRef<Path>) -> Self {
        Append {
            inbox: Inbox::new("inbox", "data to append to the file"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "a copy of each item appended"),
            signal: Outbox::signal(),
            writer: Writer::new(path.as_ref(), false),
            forwarder: true,
            hold_open: true,
            held: None,
        }
    }

    /// Whether to pass a copy of each item on (default true).
    pub fn forwarder(mut self, on: bool) -> Self {
        self.forwarder = on;
        self
    }

    /// Whether to empty the file when starting (default false).
    pub fn blat_file(mut self, on: bool) -> Self {
        self.writer.sink.truncate = on;
        self
    }

    /// Whether to keep the file open between steps (default true).
    pub fn hold_open(mut self, on: bool) -> Self {
        self.hold_open = on;
        self
    }
}

impl<T: AsRef<[u8]> + Clone + 'static> Component for Append<T> {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        let w = &mut self.writer;
        if let Some(step) = w.begin(&self.control, &self.signal) {
            return step;
        }
        if let Some(item) = self.held.take() {
            if let Err(Full(item)) = self.outbox.send(item) {
                self.held = Some(item);
                return Step::Pause;
            }
        }
        for _ in 0..BATCH {
            let Some(item) = self.inbox.recv() else { break };
            if let Err(e) = w.sink.write(item.as_ref()) {
                return w.fail(e, &self.signal);
            }
            if self.forwarder {
                if let Err(Full(item)) = self.outbox.send(item) {
                    self.held = Some(item);
                    break;
                }
            }
        }
        let more = !self.inbox.is_empty();
        w.end(&self.signal, self.hold_open, self.held.is_some(), more)
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }

    fn name(&self) -> &str {
        "Append"
    }
}
