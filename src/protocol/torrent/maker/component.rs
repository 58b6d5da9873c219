//! TorrentMaker: makes a `.torrent` for each file or folder it is given,
//! reading and hashing on a worker thread of its own so the scheduler
//! never waits on a disk or on SHA-1.
//!
//! | box      | carries        | meaning                                           |
//! |----------|----------------|---------------------------------------------------|
//! | inbox    | `MakeTorrent`  | a request: path, trackers, piece length, name, comment, private, date |
//! | paths    | `PathBuf`      | a file or folder, made with the component's template request (Kamaelia's plain-filename input) |
//! | control  | `Signal`       | shutdown: stop at once (the request being hashed is abandoned within one read buffer); producer finished: make the torrents already asked for, then stop |
//! | outbox   | `MadeTorrent`  | each torrent: its bytes, info-hash, sizes; in request order |
//! | progress | `Progress`     | bytes hashed of the request being made, for inputs of at least `progress_step` bytes |
//! | signal   | `Signal`       | the forwarded control signal at the end; `Failed(MakeError)` when a request fails (missing file, empty folder, unreadable file...), which ends the component |
//!
//! Requests are made one at a time, in the order they arrived (requests on
//! `inbox` before those on `paths` when both are waiting in one step).
//!
//! Progress is advisory and bounded: for a request of `total` bytes, one
//! message each time another `max(total / 100, progress_step)` bytes have
//! been hashed, and one at the end, so at most about a hundred a request;
//! none for inputs smaller than `progress_step` (default 16 MiB). When the
//! consumer of `progress` falls behind, only the newest message is kept,
//! and a request's result makes its held progress stale (it is dropped);
//! while `progress` is not linked, progress messages are dropped rather
//! than kept in the outbox.
//!
//! A result refused by a full destination is kept and the component sleeps
//! until the consumer takes it; meanwhile the worker carries on with the
//! next request.
//!
//! ```
//! use kamaelia::axon::{link, Inbox, Scheduler, Signal};
//! use kamaelia::protocol::torrent::maker::{MakeTorrent, TorrentMaker};
//! let dir = std::env::temp_dir().join(format!("maker-comp-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! std::fs::write(dir.join("song.ogg"), vec![7u8; 1000]).unwrap();
//! let maker = TorrentMaker::new();
//! let (out, sig) = (Inbox::inbox(), Inbox::inbox());
//! link(&maker.outbox, &out).unwrap();
//! link(&maker.signal, &sig).unwrap();
//! maker.inbox.address().deliver(MakeTorrent::new(dir.join("song.ogg")).creation_date(None)).unwrap();
//! maker.control.address().deliver(Signal::ProducerFinished).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(maker);
//! s.run();
//! let made = out.recv().unwrap();
//! assert_eq!(made.total_length, 1000);
//! assert_eq!(made.pieces, 1);
//! assert_eq!(sig.recv(), Some(Signal::ProducerFinished));
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crossbeam_channel::{unbounded, Receiver, Sender, TryRecvError};

use super::{make_with_progress, MadeTorrent, MakeError, MakeTorrent};
use crate::axon::{BoxSet, Component, Cx, Full, Id, Inbox, Outbox, Remote, Signal, Step};

/// Below this many bytes a request sends no progress (the default).
pub const DEFAULT_PROGRESS_STEP: u64 = 16 << 20;

/// How far the hashing of one request has got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The request's path.
    pub path: PathBuf,
    /// Bytes hashed so far.
    pub hashed: u64,
    /// Bytes in all.
    pub total: u64,
}

/// What the worker thread hands back.
#[derive(Debug)]
pub enum MakerEvent {
    /// Hashing went forward.
    Progress(Progress),
    /// A torrent is made.
    Made(MadeTorrent),
    /// A request failed.
    Failed(MakeError),
}

/// The worker thread's handles, shared with the component.
struct Worker {
    requests: Sender<MakeTorrent>,
    events: Receiver<MakerEvent>,
    /// Set on shutdown: the hashing stops at the next buffer.
    cancel: Arc<AtomicBool>,
    /// Set by the component just before it sleeps; the worker wakes it only then.
    asleep: Arc<AtomicBool>,
    /// Emptied when the component ends, so the worker holds no wake handle
    /// that keeps the scheduler waiting.
    remote: Arc<Mutex<Option<Remote>>>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::SeqCst);
        if let Ok(mut r) = self.remote.lock() {
            r.take();
        }
    }
}

/// Makes torrents on a worker thread; see the module documentation.
pub struct TorrentMaker {
    /// Requests.
    pub inbox: Inbox<MakeTorrent>,
    /// Paths, made with the template request.
    pub paths: Inbox<PathBuf>,
    /// Shutdown or producer finished.
    pub control: Inbox<Signal>,
    /// The torrents made.
    pub outbox: Outbox<MadeTorrent>,
    /// Hashing progress of big inputs.
    pub progress: Outbox<Progress>,
    /// The forwarded control signal; failures.
    pub signal: Outbox<Signal>,
    template: MakeTorrent,
    progress_step: u64,
    worker: Option<Worker>,
    /// Requests given to the worker and not yet answered.
    in_flight: usize,
    held_result: Option<MadeTorrent>,
    held_progress: Option<Progress>,
    finishing: Option<Signal>,
}

impl Default for TorrentMaker {
    fn default() -> Self {
        Self::new()
    }
}

impl TorrentMaker {
    /// A maker whose template (for `paths`) is `MakeTorrent::new("")`:
    /// no tracker, default piece length, dated at each request.
    pub fn new() -> Self {
        Self::with_template(MakeTorrent::new(""))
    }

    /// A maker announcing to `url` for paths given on `paths`.
    pub fn with_tracker(url: impl Into<String>) -> Self {
        Self::with_template(MakeTorrent::new("").announce(url))
    }

    /// A maker using `template` (its path ignored) for paths on `paths`.
    pub fn with_template(template: MakeTorrent) -> Self {
        TorrentMaker {
            inbox: Inbox::new("inbox", "requests to make a torrent"),
            paths: Inbox::new("paths", "a file or folder to make a torrent of"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "each torrent made"),
            progress: Outbox::new("progress", "bytes hashed of big inputs"),
            signal: Outbox::signal(),
            template,
            progress_step: DEFAULT_PROGRESS_STEP,
            worker: None,
            in_flight: 0,
            held_result: None,
            held_progress: None,
            finishing: None,
        }
    }

    /// Sets the smallest input that reports progress, and the least number
    /// of bytes between two progress messages (at least 1).
    pub fn progress_step(mut self, bytes: u64) -> Self {
        self.progress_step = bytes.max(1);
        self
    }

    fn start(&mut self, cx: &mut Cx) -> Result<(), MakeError> {
        let (req_tx, req_rx) = unbounded::<MakeTorrent>();
        let (ev_tx, ev_rx) = unbounded();
        let w = Worker {
            requests: req_tx,
            events: ev_rx,
            cancel: Arc::new(AtomicBool::new(false)),
            asleep: Arc::new(AtomicBool::new(false)),
            remote: Arc::new(Mutex::new(Some(cx.remote()))),
        };
        let waker = Waker {
            asleep: w.asleep.clone(),
            remote: w.remote.clone(),
            id: cx.id(),
        };
        let cancel = w.cancel.clone();
        let step = self.progress_step;
        std::thread::Builder::new()
            .name("TorrentMaker".into())
            .spawn(move || work(req_rx, ev_tx, cancel, waker, step))
            .map_err(MakeError::NoThread)?;
        self.worker = Some(w);
        Ok(())
    }

    /// Sends what is held; false if something is still refused.
    fn flush(&mut self) -> bool {
        if let Some(p) = self.held_progress.take() {
            if let Err(Full(p)) = self.progress.send(p) {
                self.held_progress = Some(p);
            }
        }
        if let Some(m) = self.held_result.take() {
            if let Err(Full(m)) = self.outbox.send(m) {
                self.held_result = Some(m);
                return false;
            }
        }
        true
    }

    fn end(&mut self, sig: Signal) -> Step {
        self.worker = None;
        let _ = self.signal.send(sig);
        Step::Done
    }
}

impl Component for TorrentMaker {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                return self.end(sig);
            }
            self.finishing.get_or_insert(sig);
        }
        if self.worker.is_none() {
            if let Err(e) = self.start(cx) {
                return self.end(Signal::failed(e));
            }
        }
        if !self.flush() {
            return Step::Pause;
        }
        let w = self.worker.as_ref().expect("started above");
        while let Some(req) = self.inbox.recv().or_else(|| {
            self.paths.recv().map(|p| MakeTorrent {
                path: p,
                // Dated when asked for, not when the maker was made.
                creation_date: self.template.creation_date.map(|_| super::unix_now()),
                ..self.template.clone()
            })
        }) {
            if w.requests.send(req).is_ok() {
                self.in_flight += 1;
            }
        }
        loop {
            let ev = match w.events.try_recv() {
                Ok(ev) => ev,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    return self.end(Signal::failed(MakeError::Cancelled));
                }
            };
            match ev {
                // Nobody listening: an unlinked outbox would keep them all.
                MakerEvent::Progress(_) if !self.progress.is_linked() => {}
                MakerEvent::Progress(p) => {
                    if let Err(Full(p)) = self.progress.send(p) {
                        // Keep only the newest.
                        self.held_progress = Some(p);
                    }
                }
                MakerEvent::Made(m) => {
                    self.in_flight -= 1;
                    self.held_progress = None;
                    if let Err(Full(m)) = self.outbox.send(m) {
                        self.held_result = Some(m);
                        return Step::Pause;
                    }
                }
                MakerEvent::Failed(e) => {
                    return self.end(Signal::failed(e));
                }
            }
        }
        if self.in_flight == 0 && self.held_result.is_none() {
            if let Some(sig) = self.finishing.take() {
                return self.end(sig);
            }
        }
        // Sleep, unless the worker sent something while we were deciding to.
        let w = self.worker.as_ref().expect("started above");
        w.asleep.store(true, Ordering::SeqCst);
        if !w.events.is_empty() {
            w.asleep.store(false, Ordering::SeqCst);
            return Step::Yield;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.paths, self.control, self.outbox, self.progress, self.signal);
    }

    fn name(&self) -> &str {
        "TorrentMaker"
    }
}

struct Waker {
    asleep: Arc<AtomicBool>,
    remote: Arc<Mutex<Option<Remote>>>,
    id: Id,
}

impl Waker {
    fn poke(&self) {
        if self.asleep.swap(false, Ordering::SeqCst) {
            if let Some(r) = self.remote.lock().ok().as_ref().and_then(|r| r.as_ref()) {
                r.wake(self.id);
            }
        }
    }
}

/// The worker: one request at a time until the component drops its sender.
fn work(
    requests: Receiver<MakeTorrent>,
    events: Sender<MakerEvent>,
    cancel: Arc<AtomicBool>,
    waker: Waker,
    progress_step: u64,
) {
    while let Ok(req) = requests.recv() {
        let mut next_report: Option<u64> = None;
        let mut report = |hashed: u64, total: u64| {
            if cancel.load(Ordering::Relaxed) {
                return false;
            }
            if total < progress_step {
                return true;
            }
            let step = (total / 100).max(progress_step);
            let due = *next_report.get_or_insert(step);
            if hashed >= due || hashed == total {
                next_report = Some(hashed + step);
                let p = Progress {
                    path: req.path.clone(),
                    hashed,
                    total,
                };
                if events.send(MakerEvent::Progress(p)).is_err() {
                    return false;
                }
                waker.poke();
            }
            true
        };
        let ev = match make_with_progress(&req, &mut report) {
            Ok(m) => MakerEvent::Made(m),
            Err(e) => MakerEvent::Failed(e),
        };
        let failed = matches!(ev, MakerEvent::Failed(_));
        if events.send(ev).is_err() {
            return;
        }
        waker.poke();
        if failed {
            return;
        }
    }
}
