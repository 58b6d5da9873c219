//! Ripper: an Icecast stream to a file, the title reported when it
//! changes. A container of [`IcecastClient`] → [`IcecastDemux`] →
//! [`IcecastStreamWriter`]; [`rip`] runs one to its end.
//!
//! | box     | carries    | meaning                                                      |
//! |---------|------------|--------------------------------------------------------------|
//! | control | `Signal`   | producer finished: stop the stream, write what came, close, end; shutdown: stop now |
//! | outbox  | `RipEvent` | `Connected` per connection, `Title` when `StreamTitle` changes, every `Metadata` block, `Disconnected`, stream `Error`s |
//! | signal  | `Signal`   | once, at the end, after its children ended: `ProducerFinished` (limit, time or finish), `Shutdown`, `Failed(GaveUp)` (the client stopped trying), `Failed(FileError)` |
//!
//! It stops by itself when [`RipOptions::max_bytes`] are written or
//! [`RipOptions::duration`] (on the scheduler's clock) has passed; else it
//! runs until told, or until the client gives up
//! ([`IcecastConfig::max_attempts`]). Reconnects are reported and the file
//! goes on: the audio of the next connection is appended.
//!
//! ```no_run
//! use std::time::Duration;
//! use kamaelia::protocol::http::icecast::{rip, RipEvent, RipOptions};
//! let opts = RipOptions { duration: Some(Duration::from_secs(60)), ..RipOptions::default() };
//! rip("http://127.0.0.1:8000/live.mp3", "live.mp3", opts, |ev| match ev {
//!     RipEvent::Title(t) => println!("{t}"),
//!     RipEvent::Disconnected(d) => eprintln!("disconnected: {}", d.reason),
//!     _ => {}
//! })
//! .unwrap();
//! ```

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use crate::axon::{
    link, Alarm, BoxSet, Component, Cx, Full, Inbox, Outbox, Scheduler, Signal, Step,
};
use crate::file::FileError;
use crate::internet::Connector;

use super::client::{Disconnect, GaveUp, IcecastClient, IcecastConfig};
use super::demux::{IcecastDemux, IcyError, IcyEvent, Metadata, StreamInfo};
use super::writer::IcecastStreamWriter;

/// What a ripper reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RipEvent {
    /// A connection answered.
    Connected(StreamInfo),
    /// `StreamTitle` changed (the first one seen counts as a change).
    Title(String),
    /// A metadata block (the title in it, if any, was reported first).
    Metadata(Metadata),
    /// The connection ended; a reconnect follows if `retry_in` says so.
    Disconnected(Disconnect),
    /// The stream was bad.
    Error(IcyError),
}

/// When to stop, and how to connect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RipOptions {
    /// The client's time-outs, back-off and attempt limit.
    pub config: IcecastConfig,
    /// Stop after writing this many bytes.
    pub max_bytes: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
}

/// What a finished [`rip`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RipSummary {
    /// Audio bytes written.
    pub bytes: u64,
    /// Title changes reported.
    pub titles: u64,
    /// Connections that ended (and were reported).
    pub disconnects: u64,
}

/// Why a [`rip`] failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RipError {
    /// The client stopped trying (a bad URL, or the attempt limit).
    GaveUp(GaveUp),
    /// The file could not be opened or written.
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error's kind.
        kind: std::io::ErrorKind,
        /// The whole message.
        message: String,
    },
    /// Anything else (its message).
    Other(String),
}

impl fmt::Display for RipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RipError::GaveUp(g) => g.fmt(f),
            RipError::File { message, .. } => f.write_str(message),
            RipError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for RipError {}

impl RipError {
    /// The error a ripper's failure signal carries, if it failed.
    pub fn from_signal(sig: &Signal) -> Option<RipError> {
        let Signal::Failed(f) = sig else {
            return None;
        };
        Some(if let Some(g) = f.downcast_ref::<GaveUp>() {
            RipError::GaveUp(g.clone())
        } else if let Some(e) = f.downcast_ref::<FileError>() {
            RipError::File {
                path: e.path().to_path_buf(),
                kind: e.kind(),
                message: e.to_string(),
            }
        } else {
            RipError::Other(f.0.to_string())
        })
    }
}

/// The ripper; see the module documentation.
pub struct Ripper {
    /// Finish or shutdown.
    pub control: Inbox<Signal>,
    /// Connections, titles, metadata, disconnects, errors.
    pub outbox: Outbox<RipEvent>,
    /// Sent once, at the end.
    pub signal: Outbox<Signal>,
    from_writer: Inbox<IcyEvent>,
    writer_signal: Inbox<Signal>,
    client_control: Outbox<Signal>,
    children: Option<(IcecastClient, IcecastDemux, IcecastStreamWriter)>,
    live: usize,
    duration: Option<Duration>,
    alarm: Alarm,
    told_client: bool,
    end: Option<Signal>,
    title: Option<String>,
    pending: VecDeque<RipEvent>,
    written: Rc<Cell<u64>>,
    titles: Rc<Cell<u64>>,
    disconnects: Rc<Cell<u64>>,
}

impl Ripper {
    /// A ripper of `url` to `path`.
    pub fn new(url: &str, path: impl AsRef<Path>, opts: RipOptions) -> Self {
        Self::with_client(IcecastClient::new(url), path, opts)
    }

    /// A ripper whose client makes its connections with `connector`.
    pub fn with_connector(
        url: &str,
        path: impl AsRef<Path>,
        opts: RipOptions,
        connector: Connector,
    ) -> Self {
        Self::with_client(
            IcecastClient::new(url).with_connector(connector),
            path,
            opts,
        )
    }

    fn with_client(client: IcecastClient, path: impl AsRef<Path>, opts: RipOptions) -> Self {
        let client = client.config(opts.config);
        let demux = IcecastDemux::new();
        let writer = IcecastStreamWriter::new(path)
            .forward(true)
            .limit(opts.max_bytes);
        let from_writer = Inbox::new("fromWriter", "stream events but audio");
        let writer_signal = Inbox::new("writerSignal", "the writer's end");
        let client_control = Outbox::new("clientControl", "finish or shutdown for the client");
        let wired = link(&client.outbox, &demux.inbox)
            .and(link(&client.signal, &demux.control))
            .and(link(&demux.outbox, &writer.inbox))
            .and(link(&demux.signal, &writer.control))
            .and(link(&writer.outbox, &from_writer))
            .and(link(&writer.signal, &writer_signal))
            .and(link(&client_control, &client.control));
        if let Err(e) = wired {
            // Cannot happen: fresh boxes of matching types.
            log::error!("ripper: children not linked: {e}");
        }
        let written = writer.written();
        Ripper {
            control: Inbox::control(),
            outbox: Outbox::new(
                "outbox",
                "connections, titles, metadata, disconnects, errors",
            ),
            signal: Outbox::signal(),
            from_writer,
            writer_signal,
            client_control,
            children: Some((client, demux, writer)),
            live: 0,
            duration: opts.duration,
            alarm: Alarm::default(),
            told_client: false,
            end: None,
            title: None,
            pending: VecDeque::new(),
            written,
            titles: Rc::new(Cell::new(0)),
            disconnects: Rc::new(Cell::new(0)),
        }
    }

    /// Audio bytes written so far.
    pub fn written(&self) -> Rc<Cell<u64>> {
        self.written.clone()
    }

    /// What it did so far (final once it ended).
    pub fn summary_handle(&self) -> impl Fn() -> RipSummary {
        let (w, t, d) = (
            self.written.clone(),
            self.titles.clone(),
            self.disconnects.clone(),
        );
        move || RipSummary {
            bytes: w.get(),
            titles: t.get(),
            disconnects: d.get(),
        }
    }

    fn tell_client(&mut self, sig: Signal) {
        if !self.told_client {
            self.told_client = true;
            let _ = self.client_control.send(sig);
        }
    }

    fn on_event(&mut self, ev: IcyEvent) {
        match ev {
            IcyEvent::Header(i) => self.pending.push_back(RipEvent::Connected(i)),
            IcyEvent::Metadata(m) => {
                if let Some(t) = m.title() {
                    if self.title.as_deref() != Some(t) {
                        self.title = Some(t.to_string());
                        self.titles.set(self.titles.get() + 1);
                        self.pending.push_back(RipEvent::Title(t.to_string()));
                    }
                }
                self.pending.push_back(RipEvent::Metadata(m));
            }
            IcyEvent::Disconnected(d) => {
                self.disconnects.set(self.disconnects.get() + 1);
                self.pending.push_back(RipEvent::Disconnected(d));
            }
            IcyEvent::Error(e) => self.pending.push_back(RipEvent::Error(e)),
            IcyEvent::Audio(_) => {}
        }
    }

    fn flush(&mut self) -> bool {
        while let Some(ev) = self.pending.pop_front() {
            if let Err(Full(ev)) = self.outbox.send(ev) {
                self.pending.push_front(ev);
                return false;
            }
        }
        true
    }
}

impl Component for Ripper {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if let Some((client, demux, writer)) = self.children.take() {
            cx.spawn_child(client);
            cx.spawn_child(demux);
            cx.spawn_child(writer);
            self.live = 3;
            if let Some(d) = self.duration {
                let at = cx.now() + d;
                self.alarm.set(cx, at);
            }
        }
        while cx.next_exit().is_some() {
            self.live = self.live.saturating_sub(1);
        }
        if let Some(sig) = self.control.recv() {
            self.alarm.clear(cx);
            self.tell_client(sig);
        }
        if self
            .alarm
            .deadline()
            .is_some_and(|t| cx.now() >= t && !self.told_client)
        {
            self.tell_client(Signal::ProducerFinished);
        }
        if !self.flush() {
            return Step::Pause;
        }
        let mut n = 0;
        while let Some(ev) = self.from_writer.recv() {
            self.on_event(ev);
            n += 1;
            if n == 64 {
                break;
            }
        }
        if !self.flush() {
            return Step::Pause;
        }
        if self.end.is_none() {
            if let Some(sig) = self.writer_signal.recv() {
                // The writer ended (limit, finish, failure): stop the rest.
                self.tell_client(Signal::Shutdown);
                self.end = Some(sig);
            }
        }
        if !self.from_writer.is_empty() {
            return Step::Yield;
        }
        if self.live == 0 {
            if let Some(sig) = self.end.take() {
                self.alarm.clear(cx);
                let _ = self.signal.send(sig);
                return Step::Done;
            }
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.control)
            .add(&self.outbox)
            .add(&self.signal)
            .add(&self.from_writer)
            .add(&self.writer_signal)
            .add(&self.client_control);
    }
}

/// Calls a closure for each event.
struct EachEvent<F: FnMut(&RipEvent)> {
    inbox: Inbox<RipEvent>,
    control: Inbox<Signal>,
    f: F,
    end: Rc<RefCell<Option<Signal>>>,
}

impl<F: FnMut(&RipEvent) + 'static> Component for EachEvent<F> {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(ev) = self.inbox.recv() {
            (self.f)(&ev);
        }
        if let Some(sig) = self.control.recv() {
            *self.end.borrow_mut() = Some(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox).add(&self.control);
    }
}

/// Rips `url` to `path` on a scheduler of its own (real time) until the
/// options say stop or the client gives up, calling `on_event` for each
/// [`RipEvent`] as it happens. Stopping at a limit is success.
pub fn rip(
    url: &str,
    path: impl AsRef<Path>,
    opts: RipOptions,
    on_event: impl FnMut(&RipEvent) + 'static,
) -> Result<RipSummary, RipError> {
    run_ripper(Ripper::new(url, path, opts), on_event)
}

/// Runs `ripper` to its end on a scheduler of its own; see [`rip`].
pub fn run_ripper(
    ripper: Ripper,
    on_event: impl FnMut(&RipEvent) + 'static,
) -> Result<RipSummary, RipError> {
    let summary = ripper.summary_handle();
    let end = Rc::new(RefCell::new(None));
    let sink = EachEvent {
        inbox: Inbox::inbox(),
        control: Inbox::control(),
        f: on_event,
        end: end.clone(),
    };
    let wired = link(&ripper.outbox, &sink.inbox).and(link(&ripper.signal, &sink.control));
    if let Err(e) = wired {
        return Err(RipError::Other(e.to_string()));
    }
    let mut s = Scheduler::new();
    s.spawn(ripper);
    s.spawn(sink);
    s.run();
    let sig = end.borrow_mut().take();
    match sig {
        Some(sig) => match RipError::from_signal(&sig) {
            Some(e) => Err(e),
            None => Ok(summary()),
        },
        None => Err(RipError::Other("the ripper ended without a signal".into())),
    }
}
