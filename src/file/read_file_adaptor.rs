//! ReadFileAdaptor: reads a file, a command's output or a reader (standard
//! input) and sends it in lines, blocks, or blocks at a bit rate.
//!
//! | box     | carries  | meaning                                          |
//! |---------|----------|--------------------------------------------------|
//! | control | `Signal` | shutdown: stop at once (a command is killed and reaped), forwarded on `signal`; producer finished and failures are ignored (a source has nothing upstream to finish) |
//! | outbox  | `Bytes`  | the data: one line (with its `\n`; the last line may lack it), or one block |
//! | signal  | `Signal` | producer finished after the last chunk; `Failed(FileError)` on an I/O error, a command that cannot start or that exits unsuccessfully |
//!
//! # Modes
//!
//! * [`ReadMode::Line`]: one `Bytes` per line, **with** its line ending, so
//!   the chunks joined give the input back byte for byte, whatever its
//!   encoding (the original read the file in binary mode and kept the
//!   newline too).
//! * [`ReadMode::Block`]: blocks of `readsize` bytes (default 1450); only
//!   the last may be shorter.
//! * [`ReadMode::Bitrate`]: blocks of `bitrate / 8 / chunkrate` bytes (at
//!   least 1), one every `1 / chunkrate` seconds (defaults 65536 bit/s,
//!   24 chunks/s: 341 bytes every 41.67 ms).
//!
//! Line and block modes send one chunk per step, as fast as the consumer
//! takes them, unless [`ReadFileAdaptor::steptime`] sets a pace.
//!
//! # Timing (bit-rate mode and `steptime`)
//!
//! Chunk `k` (from 1) falls due at `start + k * period`, `start` being the
//! first step, computed from `k` each time (never accumulated), so the pace
//! does not drift. Between deadlines the component sleeps on a timer
//! (`Cx::wake_at`): no busy wait. When it runs late (a busy scheduler, or a
//! consumer that held it back), it sends **one** chunk and then waits for
//! the next deadline still ahead, skipping the missed ones, as the original
//! did ("at most one read per step, no catch-up"): the rate drops rather
//! than bursting. The first chunk goes out one period after the start (the
//! original waited `steptime` before its first read as well), so by any
//! time `t` at most `bitrate * (t - start)` bits have been sent. The end is
//! found by the read at the deadline after the last chunk, and
//! `ProducerFinished` goes out then.
//!
//! # Sources
//!
//! * A regular file ([`ReadFileAdaptor::file`]) is read inside `step`, at
//!   most one `read` call per step (reads of a regular file do not block
//!   for long); a line longer than the 8 KiB buffer is gathered over
//!   several steps.
//! * A command ([`ReadFileAdaptor::command`], [`ReadFileAdaptor::shell`])
//!   and any other reader ([`ReadFileAdaptor::reader`],
//!   [`ReadFileAdaptor::stdin`]) are read on a thread of their own, so a
//!   slow command never blocks the scheduler; the thread hands over at most
//!   two chunks ahead and then blocks, so a slow consumer slows the command
//!   down through its pipe. A command is read until its output ends, then
//!   its exit status is checked: an unsuccessful status is reported as
//!   `Failed` (with [`FileOp::Exit`]) after all its output was sent.
//!
//! # Shutting down
//!
//! At the end of input (or on an error, or on `Shutdown`) the file is
//! closed, the command killed (if still running) and reaped, and the
//! component ends. A thread blocked in a read that cannot be interrupted
//! (standard input, or a pipe kept open by a command's own children, which
//! are not killed) is left behind, but no longer keeps the scheduler
//! running.
//!
//! Back-pressure: a chunk refused by a full destination is kept, and the
//! component sleeps until the consumer takes a message.
//!
//! ```
//! use kamaelia::axon::{link, Inbox, Scheduler, Signal};
//! use kamaelia::file::{ReadFileAdaptor, ReadMode};
//! let path = std::env::temp_dir().join(format!("rfa-doc-{}", std::process::id()));
//! std::fs::write(&path, "one\ntwo\n").unwrap();
//! let reader = ReadFileAdaptor::file(&path, ReadMode::Line);
//! let (out, sig) = (Inbox::inbox(), Inbox::inbox());
//! link(&reader.outbox, &out).unwrap();
//! link(&reader.signal, &sig).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(reader);
//! s.run();
//! assert_eq!(out.recv().as_deref(), Some(&b"one\n"[..]));
//! assert_eq!(out.recv().as_deref(), Some(&b"two\n"[..]));
//! assert_eq!(sig.recv(), Some(Signal::ProducerFinished));
//! # std::fs::remove_file(&path).unwrap();
//! ```

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::{bounded, Receiver, Sender, TryRecvError};

use super::chunker::{Chunker, Piece, Unit};
use super::error::{FileError, FileOp};
use crate::axon::{
    Alarm, BoxSet, Component, Cx, Full, Id, Inbox, Outbox, Periodic, Remote, Signal, Step,
};

/// The default block size (bytes) of block mode.
pub const DEFAULT_READSIZE: usize = 1450;
/// The default bit rate (bits per second) of bit-rate mode.
pub const DEFAULT_BITRATE: u64 = 65536;
/// The default chunk rate (chunks per second) of bit-rate mode.
pub const DEFAULT_CHUNKRATE: u32 = 24;

/// How a [`ReadFileAdaptor`] cuts its input; see the module documentation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadMode {
    /// One chunk per line, with its `\n`.
    #[default]
    Line,
    /// Blocks of this many bytes (0 counts as 1).
    Block(usize),
    /// Blocks of `bitrate / 8 / chunkrate` bytes every `1 / chunkrate` s.
    Bitrate {
        /// Bits per second.
        bitrate: u64,
        /// Chunks per second (0 counts as 1).
        chunkrate: u32,
    },
}

impl ReadMode {
    /// Block mode with the default size, 1450 bytes.
    pub fn block() -> Self {
        ReadMode::Block(DEFAULT_READSIZE)
    }

    /// Bit-rate mode at `bitrate` bits per second, 24 chunks per second.
    pub fn bitrate(bitrate: u64) -> Self {
        ReadMode::Bitrate {
            bitrate,
            chunkrate: DEFAULT_CHUNKRATE,
        }
    }
}

/// The pace of a timed reader, made into a drift-free [`Periodic`] at the
/// first step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pace {
    /// One chunk every period.
    Every(Duration),
    /// This many chunks a second.
    PerSecond(u32),
}

impl Pace {
    fn start(self, now: Instant) -> Periodic {
        match self {
            Pace::Every(d) => Periodic::new(now, d),
            Pace::PerSecond(n) => Periodic::per_second(now, n),
        }
    }
}

/// Where the data comes from, before it is opened.
pub(crate) enum Spec {
    File(PathBuf),
    Command(Box<Command>),
    Reader {
        name: String,
        reader: Box<dyn Read + Send>,
    },
}

impl Spec {
    fn label(&self) -> PathBuf {
        match self {
            Spec::File(p) => p.clone(),
            Spec::Command(c) => PathBuf::from(c.get_program()),
            Spec::Reader { name, .. } => PathBuf::from(name),
        }
    }
}

/// What one read attempt gave.
enum Got {
    Data(Bytes),
    /// Part of a chunk, or a chunk that arrived while going to sleep: run again.
    More,
    /// A thread has nothing yet; it wakes the component when it has.
    NotYet,
    Eof,
    Fail(FileError),
}

enum Active {
    File {
        path: PathBuf,
        chunker: Chunker<File>,
    },
    Thread(ThreadSource),
}

impl Active {
    fn poll(&mut self) -> Got {
        match self {
            Active::File { path, chunker } => match chunker.poll() {
                Ok(Piece::Data(b)) => Got::Data(b),
                Ok(Piece::More) => Got::More,
                Ok(Piece::Eof) => Got::Eof,
                Err(e) => Got::Fail(FileError::new(FileOp::Read, path.clone(), e)),
            },
            Active::Thread(t) => t.poll(),
        }
    }
}

/// What the reading thread hands over.
enum FromThread {
    Data(Bytes),
    End,
    Fail(FileError),
}

/// How many chunks the reading thread may read ahead.
const THREAD_AHEAD: usize = 2;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A reader on its own thread, with the child process it reads from, if any.
struct ThreadSource {
    label: PathBuf,
    rx: Receiver<FromThread>,
    /// Set by the component just before it sleeps; the thread wakes it only then.
    asleep: Arc<AtomicBool>,
    /// The thread's way to wake the component; emptied when the component
    /// ends, so a thread stuck in a read does not keep the scheduler alive.
    remote: Arc<Mutex<Option<Remote>>>,
    child: Option<Arc<Mutex<Child>>>,
}

impl ThreadSource {
    fn start(
        cx: &mut Cx,
        label: PathBuf,
        reader: Box<dyn Read + Send>,
        unit: Unit,
        child: Option<Arc<Mutex<Child>>>,
    ) -> Result<Self, FileError> {
        let (tx, rx) = bounded(THREAD_AHEAD);
        let src = ThreadSource {
            label: label.clone(),
            rx,
            asleep: Arc::new(AtomicBool::new(false)),
            remote: Arc::new(Mutex::new(Some(cx.remote()))),
            child: child.clone(),
        };
        let waker = Waker {
            asleep: src.asleep.clone(),
            remote: src.remote.clone(),
            id: cx.id(),
        };
        let name = format!("ReadFileAdaptor {}", label.display());
        std::thread::Builder::new()
            .name(name)
            .spawn(move || read_on_thread(reader, unit, label, child, tx, waker))
            // On failure `src` is dropped here, which kills the child.
            .map_err(|e| FileError::new(FileOp::Open, src.label.clone(), e))?;
        Ok(src)
    }

    fn poll(&mut self) -> Got {
        match self.rx.try_recv() {
            Ok(FromThread::Data(b)) => Got::Data(b),
            Ok(FromThread::End) => Got::Eof,
            Ok(FromThread::Fail(e)) => Got::Fail(e),
            Err(TryRecvError::Empty) => {
                // Sleep, unless something arrived while deciding to.
                self.asleep.store(true, Ordering::SeqCst);
                if self.rx.is_empty() {
                    Got::NotYet
                } else {
                    self.asleep.store(false, Ordering::SeqCst);
                    Got::More
                }
            }
            Err(TryRecvError::Disconnected) => Got::Fail(FileError::new(
                FileOp::Read,
                self.label.clone(),
                io::Error::other("the reading thread ended without a result"),
            )),
        }
    }
}

impl Drop for ThreadSource {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            let mut c = lock(&child);
            if let Ok(None) = c.try_wait() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        lock(&self.remote).take();
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
            if let Some(r) = lock(&self.remote).as_ref() {
                r.wake(self.id);
            }
        }
    }
}

fn read_on_thread(
    reader: Box<dyn Read + Send>,
    unit: Unit,
    label: PathBuf,
    child: Option<Arc<Mutex<Child>>>,
    tx: Sender<FromThread>,
    waker: Waker,
) {
    let mut chunker = Chunker::new(reader, unit);
    loop {
        match chunker.next_unit() {
            Ok(Some(b)) => {
                if tx.send(FromThread::Data(b)).is_err() {
                    return; // the component has gone
                }
                waker.poke();
            }
            Ok(None) => break,
            Err(e) => {
                let _ = tx.send(FromThread::Fail(FileError::new(FileOp::Read, label, e)));
                waker.poke();
                return;
            }
        }
    }
    drop(chunker); // close our end of the pipe
    let end = match child {
        Some(child) => wait_for_exit(&child, label),
        None => FromThread::End,
    };
    let _ = tx.send(end);
    waker.poke();
}

/// Output has ended; the process normally exits at once. Polls (the
/// component may need the lock to kill it meanwhile), backing off to 50 ms.
fn wait_for_exit(child: &Mutex<Child>, label: PathBuf) -> FromThread {
    let mut pause = Duration::from_millis(1);
    loop {
        match lock(child).try_wait() {
            Ok(Some(status)) if status.success() => return FromThread::End,
            Ok(Some(status)) => {
                let e = io::Error::other(format!("exited with {status}"));
                return FromThread::Fail(FileError::new(FileOp::Exit, label, e));
            }
            Ok(None) => {}
            Err(e) => return FromThread::Fail(FileError::new(FileOp::Exit, label, e)),
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// What one [`ReaderCore::step`] came to.
enum Outcome {
    Yield,
    Pause,
    /// Finished: send this on `signal` and end.
    End(Signal),
}

/// The reading engine shared by [`ReadFileAdaptor`] and `SimpleReader`.
pub(crate) struct ReaderCore {
    spec: Option<Spec>,
    unit: Unit,
    pace: Option<Pace>,
    active: Option<Active>,
    /// Chunk deadlines, from the first step on, when paced.
    grid: Option<Periodic>,
    alarm: Alarm,
    held: Option<Bytes>,
}

impl ReaderCore {
    pub(crate) fn new(spec: Spec, unit: Unit) -> Self {
        ReaderCore {
            spec: Some(spec),
            unit,
            pace: None,
            active: None,
            grid: None,
            alarm: Alarm::default(),
            held: None,
        }
    }

    fn open(&mut self, cx: &mut Cx) -> Result<Active, FileError> {
        let spec = self.spec.take().expect("opened once");
        let label = spec.label();
        match spec {
            Spec::File(path) => match File::open(&path) {
                Ok(f) => Ok(Active::File {
                    path,
                    chunker: Chunker::new(f, self.unit),
                }),
                Err(e) => Err(FileError::new(FileOp::Open, path, e)),
            },
            Spec::Command(mut cmd) => {
                cmd.stdout(Stdio::piped());
                let mut child = cmd
                    .spawn()
                    .map_err(|e| FileError::new(FileOp::Open, label.clone(), e))?;
                let stdout = child.stdout.take().expect("stdout is piped");
                let child = Arc::new(Mutex::new(child));
                ThreadSource::start(cx, label, Box::new(stdout), self.unit, Some(child))
                    .map(Active::Thread)
            }
            Spec::Reader { reader, .. } => {
                ThreadSource::start(cx, label, reader, self.unit, None).map(Active::Thread)
            }
        }
    }

    fn arm(&mut self, cx: &mut Cx, at: Instant) {
        self.alarm.set(cx, at);
    }

    /// One bounded piece of work: at most one read, at most one send.
    fn step(&mut self, cx: &mut Cx, outbox: &Outbox<Bytes>) -> Outcome {
        if self.active.is_none() {
            match self.open(cx) {
                Ok(a) => self.active = Some(a),
                Err(e) => return Outcome::End(Signal::failed(e)),
            }
            if let Some(p) = self.pace {
                self.grid = Some(p.start(cx.now()));
            }
        }
        let chunk = match self.held.take() {
            Some(b) => b,
            None => {
                if let Some(g) = &self.grid {
                    let due = g.next_deadline();
                    if cx.now() < due {
                        self.arm(cx, due);
                        return Outcome::Pause;
                    }
                }
                match self.active.as_mut().expect("opened above").poll() {
                    Got::Data(b) => b,
                    Got::More => return Outcome::Yield,
                    Got::NotYet => return Outcome::Pause,
                    Got::Eof => return Outcome::End(Signal::ProducerFinished),
                    Got::Fail(e) => return Outcome::End(Signal::failed(e)),
                }
            }
        };
        match outbox.send(chunk) {
            Ok(()) => match &mut self.grid {
                Some(g) => {
                    // Sent at or after its deadline: every deadline passed
                    // by now is counted, so the next one is still ahead
                    // (missed ones are skipped: no catch-up).
                    g.due_at(cx.now());
                    let next = g.next_deadline();
                    self.arm(cx, next);
                    Outcome::Pause
                }
                None => Outcome::Yield,
            },
            Err(Full(chunk)) => {
                self.held = Some(chunk);
                Outcome::Pause
            }
        }
    }

    /// A whole component step: `Shutdown` on `control` ends it at once
    /// (other signals are ignored: a source has nothing upstream to
    /// finish), then [`ReaderCore::step`]; on ending, the source is closed
    /// before the signal is sent.
    pub(crate) fn component_step(
        &mut self,
        cx: &mut Cx,
        control: &Inbox<Signal>,
        outbox: &Outbox<Bytes>,
        signal: &Outbox<Signal>,
    ) -> Step {
        let shutdown = std::iter::from_fn(|| control.recv()).find(Signal::is_shutdown);
        let end = match shutdown {
            Some(sig) => sig,
            None => match self.step(cx, outbox) {
                Outcome::Yield => return Step::Yield,
                Outcome::Pause => return Step::Pause,
                Outcome::End(sig) => sig,
            },
        };
        self.stop(cx);
        let _ = signal.send(end);
        Step::Done
    }

    /// Closes the source (killing and reaping a command) and cancels the timer.
    fn stop(&mut self, cx: &mut Cx) {
        self.alarm.clear(cx);
        self.active = None;
        self.spec = None;
        self.held = None;
    }
}

/// Reads a file, a command's output or a reader; see the module documentation.
pub struct ReadFileAdaptor {
    /// Shutdown.
    pub control: Inbox<Signal>,
    /// The chunks read.
    pub outbox: Outbox<Bytes>,
    /// Producer finished at the end; `Failed(FileError)` on an error.
    pub signal: Outbox<Signal>,
    core: ReaderCore,
    mode: ReadMode,
}

impl fmt::Debug for ReadFileAdaptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadFileAdaptor")
            .field("mode", &self.mode)
            .field("readsize", &self.readsize())
            .field("period", &self.period())
            .finish()
    }
}

impl ReadFileAdaptor {
    fn with(spec: Spec, mode: ReadMode) -> Self {
        let (unit, pace) = match mode {
            ReadMode::Line => (Unit::Line, None),
            ReadMode::Block(n) => (Unit::Block(n.max(1)), None),
            ReadMode::Bitrate { bitrate, chunkrate } => {
                let chunkrate = chunkrate.max(1);
                let size = ((bitrate / 8) / chunkrate as u64).max(1) as usize;
                (Unit::Block(size), Some(Pace::PerSecond(chunkrate)))
            }
        };
        let mut core = ReaderCore::new(spec, unit);
        core.pace = pace;
        ReadFileAdaptor {
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "the data read, one chunk per message"),
            signal: Outbox::signal(),
            core,
            mode,
        }
    }

    /// Reads the file at `path`.
    pub fn file(path: impl AsRef<Path>, mode: ReadMode) -> Self {
        Self::with(Spec::File(path.as_ref().to_path_buf()), mode)
    }

    /// Reads the standard output of `command` (started on the first step;
    /// its standard output is piped, the rest is as configured).
    pub fn command(command: Command, mode: ReadMode) -> Self {
        Self::with(Spec::Command(Box::new(command)), mode)
    }

    /// Reads the standard output of `sh -c command_line` (the original's
    /// `os.popen`), with standard input from `/dev/null`.
    pub fn shell(command_line: &str, mode: ReadMode) -> Self {
        let mut c = Command::new("sh");
        c.arg("-c").arg(command_line).stdin(Stdio::null());
        Self::command(c, mode)
    }

    /// Reads `reader` on a thread; `name` stands for the path in errors.
    pub fn reader(name: &str, reader: impl Read + Send + 'static, mode: ReadMode) -> Self {
        Self::with(
            Spec::Reader {
                name: name.to_string(),
                reader: Box::new(reader),
            },
            mode,
        )
    }

    /// Reads standard input (on a thread, left blocked on shutdown).
    pub fn stdin(mode: ReadMode) -> Self {
        Self::reader("<stdin>", io::stdin(), mode)
    }

    /// In line and block modes, sends one chunk every `steptime` (drift-free,
    /// as in bit-rate mode) instead of one per step; zero means as fast as
    /// possible. Bit-rate mode sets its own pace and ignores this.
    pub fn steptime(mut self, steptime: Duration) -> Self {
        if !matches!(self.mode, ReadMode::Bitrate { .. }) {
            self.core.pace = (!steptime.is_zero()).then_some(Pace::Every(steptime));
        }
        self
    }

    /// The mode it was made with.
    pub fn mode(&self) -> ReadMode {
        self.mode
    }

    /// The block size in block and bit-rate modes (0 in line mode).
    pub fn readsize(&self) -> usize {
        match self.core.unit {
            Unit::Line => 0,
            Unit::Block(n) => n,
        }
    }

    /// The time between chunks, if paced (rounded down to the nanosecond;
    /// deadlines themselves are exact).
    pub fn period(&self) -> Option<Duration> {
        self.core.pace.map(|p| match p {
            Pace::Every(d) => d,
            Pace::PerSecond(n) => Duration::from_nanos(1_000_000_000 / u64::from(n)),
        })
    }
}

impl Component for ReadFileAdaptor {
    fn step(&mut self, cx: &mut Cx) -> Step {
        self.core
            .component_step(cx, &self.control, &self.outbox, &self.signal)
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.control, self.outbox, self.signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paced_deadlines_are_exact_and_skip_missed_ones() {
        let t0 = Instant::now();
        let mut g = Pace::PerSecond(24).start(t0);
        assert_eq!(g.next_deadline(), t0 + Duration::from_nanos(41_666_666));
        // Sent exactly on its deadline: the following one.
        g.due_at(g.next_deadline());
        assert_eq!(g.next_deadline(), t0 + Duration::from_nanos(83_333_333));
        // Late by more than two periods: the next deadline still ahead.
        g.due_at(t0 + Duration::from_millis(200));
        assert_eq!(g.ticks(), 4);
        assert_eq!(g.next_deadline(), t0 + Duration::from_nanos(208_333_333));
        let on = g.next_deadline();
        g.due_at(on);
        assert_eq!(g.ticks(), 5);
        // Many periods in: still computed from k, no drift.
        g.due_at(t0 + Duration::from_secs(3600));
        assert_eq!(
            g.next_deadline(),
            t0 + Duration::from_nanos(3600 * 1_000_000_000 + 41_666_666)
        );
    }
}
