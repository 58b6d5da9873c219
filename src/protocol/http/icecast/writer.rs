//! IcecastStreamWriter: writes the audio of an Icecast stream to a file,
//! metadata removed.
//!
//! | box     | carries    | meaning                                                        |
//! |---------|------------|----------------------------------------------------------------|
//! | inbox   | `IcyEvent` | from an [`IcecastDemux`](super::IcecastDemux): `Audio` is written, the rest passed on |
//! | control | `Signal`   | producer finished (or failed): write what is waiting, flush, close, forward it, stop; shutdown: close and forward at once |
//! | outbox  | `IcyEvent` | everything but `Audio`, in order (only with [`IcecastStreamWriter::forward`]) |
//! | signal  | `Signal`   | once, at the end: the control signal; `ProducerFinished` when the byte limit is reached; `Failed(FileError)` if the file cannot be opened or written |
//!
//! The file is created (or truncated) on the first step. Each step writes
//! at most 64 messages and flushes, so what a step took is in the file when
//! it returns. With [`IcecastStreamWriter::limit`] it writes exactly that
//! many bytes, then ends (the rest of that chunk is not written).
//! [`IcecastStreamWriter::written`] is a handle on the count of bytes
//! written so far.
//!
//! ```
//! use bytes::Bytes;
//! use kamaelia::axon::{link, Outbox, Scheduler, Signal};
//! use kamaelia::protocol::http::icecast::{IcecastStreamWriter, IcyEvent, Metadata};
//! let path = std::env::temp_dir().join(format!("icy-writer-doc-{}", std::process::id()));
//! let w = IcecastStreamWriter::new(&path);
//! let (data, ctl) = (Outbox::outbox(), Outbox::outbox());
//! link(&data, &w.inbox).unwrap();
//! link(&ctl, &w.control).unwrap();
//! data.send(IcyEvent::Audio(Bytes::from_static(b"abc"))).unwrap();
//! data.send(IcyEvent::Metadata(Metadata::parse(b"StreamTitle='x';"))).unwrap();
//! data.send(IcyEvent::Audio(Bytes::from_static(b"def"))).unwrap();
//! ctl.send(Signal::ProducerFinished).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(w);
//! s.run();
//! assert_eq!(std::fs::read(&path).unwrap(), b"abcdef");
//! # std::fs::remove_file(&path).unwrap();
//! ```

use std::cell::Cell;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::axon::{BoxSet, Component, Cx, Full, Inbox, Outbox, Signal, Step};
use crate::file::{FileError, FileOp};

use super::demux::IcyEvent;

/// Messages handled in one step.
const BATCH: usize = 64;

/// Writes the audio to a file; see the module documentation.
pub struct IcecastStreamWriter {
    /// Events from the demultiplexer.
    pub inbox: Inbox<IcyEvent>,
    /// Shutdown or finish.
    pub control: Inbox<Signal>,
    /// Non-audio events, passed on when forwarding.
    pub outbox: Outbox<IcyEvent>,
    /// Sent once, at the end.
    pub signal: Outbox<Signal>,
    path: PathBuf,
    file: Option<BufWriter<File>>,
    forward: bool,
    limit: Option<u64>,
    written: Rc<Cell<u64>>,
    held: Option<IcyEvent>,
    ending: Option<Signal>,
}

impl IcecastStreamWriter {
    /// A writer to `path` (created, or truncated).
    pub fn new(path: impl AsRef<Path>) -> Self {
        IcecastStreamWriter {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "stream info, metadata, errors, disconnects"),
            signal: Outbox::signal(),
            path: path.as_ref().to_path_buf(),
            file: None,
            forward: false,
            limit: None,
            written: Rc::new(Cell::new(0)),
            held: None,
            ending: None,
        }
    }

    /// Passes every non-audio event on `outbox` (default: off, they are
    /// dropped).
    pub fn forward(mut self, on: bool) -> Self {
        self.forward = on;
        self
    }

    /// Writes at most `bytes`, then ends with `ProducerFinished`.
    pub fn limit(mut self, bytes: Option<u64>) -> Self {
        self.limit = bytes;
        self
    }

    /// The count of bytes written so far.
    pub fn written(&self) -> Rc<Cell<u64>> {
        self.written.clone()
    }

    fn fail(&mut self, op: FileOp, e: std::io::Error) -> Step {
        self.file = None;
        let _ = self
            .signal
            .send(Signal::failed(FileError::new(op, self.path.clone(), e)));
        Step::Done
    }

    fn close(&mut self, sig: Signal) -> Step {
        if let Some(mut f) = self.file.take() {
            if let Err(e) = f.flush() {
                return self.fail(FileOp::Write, e);
            }
        }
        let _ = self.signal.send(sig);
        Step::Done
    }
}

impl Component for IcecastStreamWriter {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if self.file.is_none() {
            match File::create(&self.path) {
                Ok(f) => self.file = Some(BufWriter::new(f)),
                Err(e) => return self.fail(FileOp::Open, e),
            }
        }
        if self.ending.is_none() {
            if let Some(sig) = self.control.recv() {
                if sig.is_shutdown() {
                    return self.close(sig);
                }
                self.ending = Some(sig);
            }
        }
        if let Some(ev) = self.held.take() {
            if let Err(Full(ev)) = self.outbox.send(ev) {
                self.held = Some(ev);
                cx.hold_input();
                return Step::Pause;
            }
        }
        for _ in 0..BATCH {
            let Some(ev) = self.inbox.recv() else {
                break;
            };
            match ev {
                IcyEvent::Audio(b) => {
                    let room = self
                        .limit
                        .map_or(u64::MAX, |l| l.saturating_sub(self.written.get()));
                    let n = (b.len() as u64).min(room) as usize;
                    let r = self.file.as_mut().expect("opened").write_all(&b[..n]);
                    if let Err(e) = r {
                        return self.fail(FileOp::Write, e);
                    }
                    self.written.set(self.written.get() + n as u64);
                    if self.limit.is_some_and(|l| self.written.get() >= l) {
                        return self.close(Signal::ProducerFinished);
                    }
                }
                other if self.forward => {
                    if let Err(Full(ev)) = self.outbox.send(other) {
                        self.held = Some(ev);
                        break;
                    }
                }
                _ => {}
            }
        }
        if let Some(f) = self.file.as_mut() {
            if let Err(e) = f.flush() {
                return self.fail(FileOp::Write, e);
            }
        }
        if self.held.is_some() {
            cx.hold_input();
            return Step::Pause;
        }
        if !self.inbox.is_empty() {
            return Step::Yield;
        }
        if let Some(sig) = self.ending.take() {
            return self.close(sig);
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox)
            .add(&self.control)
            .add(&self.outbox)
            .add(&self.signal);
    }
}
