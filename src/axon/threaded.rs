//! Threaded components: blocking code (stdin, an audio device, a blocking
//! library) on its own OS thread, bridged to the scheduler.
//!
//! A [`Threaded`] is a component with the default boxes whose work is a
//! closure run on a new thread. Its boxes are bridged to the thread with
//! `crossbeam-channel` queues, bounded by `queue_len` (default 1000) in each
//! direction; the thread wakes the scheduler through `mio::Waker` only when
//! the bridge is asleep. When the closure returns, everything it sent is
//! still delivered, then `Threaded` ends. A panic in the thread is raised in
//! the scheduler when the bridge ends (and so is caught by `immortalise`).
//!
//! Order is kept across boxes the way the shutdown convention needs: a
//! signal the thread sends comes out only after the data it sent before it
//! (each signal carries the count of data sent before it; signals never
//! block the thread), and a producer-finished on `control` reaches
//! the thread only after the data that came before it (`ThreadBoxes::control`
//! holds it back until the inbox queue is empty). A shutdown is passed on at
//! once.
//!
//! | box     | carries  | meaning                                              |
//! |---------|----------|------------------------------------------------------|
//! | inbox   | `I`      | passed to the thread (`ThreadBoxes::recv`)           |
//! | control | `Signal` | passed to the thread (`ThreadBoxes::control`); with `detach_on_shutdown`, a shutdown ends the component at once and leaves the thread behind |
//! | outbox  | `O`      | what the thread sends (`ThreadBoxes::send`)          |
//! | signal  | `Signal` | what the thread signals (`ThreadBoxes::signal`)      |
//!
//! ```no_run
//! use kamaelia::axon::{Threaded, Signal, Scheduler};
//! let counter = Threaded::<(), u32>::new("Counter", |t| {
//!     for i in 0..10 {
//!         if t.send(i).is_err() { return; }
//!     }
//!     t.signal(Signal::ProducerFinished);
//! });
//! let mut s = Scheduler::new();
//! s.spawn(counter);
//! s.run();
//! ```

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::BufRead;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, unbounded, Receiver, Select, Sender, TryRecvError, TrySendError};

use super::boxes::{Full, Inbox, Outbox};
use super::component::BoxSet;
use super::component::Component;
use super::cx::Cx;
use super::proc::Id;
use super::scheduler::Remote;
use super::signal::{Signal, Step};

/// The default bound of each bridge queue.
pub const DEFAULT_QUEUE_LEN: usize = 1000;

type Body<I, O> = Box<dyn FnOnce(ThreadBoxes<I, O>) + Send>;

/// A signal from the thread, with how many data messages it sent before it.
type Sequenced = (u64, Signal);

struct Shared {
    /// The bridge is (about to be) asleep: the thread must wake it.
    asleep: AtomicBool,
    /// The thread's closure has returned and its senders are dropped.
    done: AtomicBool,
    panic: Mutex<Option<String>>,
}

struct Bridge<I, O> {
    in_tx: Sender<I>,
    ctl_tx: Sender<Signal>,
    out_rx: Receiver<O>,
    sig_rx: Receiver<Sequenced>,
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
}

/// A component whose work runs on its own thread; see the module docs.
pub struct Threaded<I: Send + 'static, O: Send + 'static> {
    /// Data for the thread.
    pub inbox: Inbox<I>,
    /// Signals for the thread.
    pub control: Inbox<Signal>,
    /// Data from the thread.
    pub outbox: Outbox<O>,
    /// Signals from the thread.
    pub signal: Outbox<Signal>,
    name: String,
    body: Option<Body<I, O>>,
    queue_len: usize,
    detach_on_shutdown: bool,
    bridge: Option<Bridge<I, O>>,
    held_in: Option<I>,
    /// Producer-finished signals waiting for earlier data to reach the thread.
    held_ctl: VecDeque<Signal>,
    /// Data from the thread refused by a full destination.
    held_out: Option<O>,
    /// A signal from the thread waiting for earlier data, or refused.
    held_sig: Option<Sequenced>,
    /// Data messages taken from the thread's queue so far.
    taken: u64,
}

impl<I: Send + 'static, O: Send + 'static> Threaded<I, O> {
    /// A threaded component named `name` running `body` on its thread.
    pub fn new(name: &str, body: impl FnOnce(ThreadBoxes<I, O>) + Send + 'static) -> Self {
        Threaded {
            inbox: Inbox::new("inbox", "data passed to the thread"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "data sent by the thread"),
            signal: Outbox::signal(),
            name: name.to_string(),
            body: Some(Box::new(body)),
            queue_len: DEFAULT_QUEUE_LEN,
            detach_on_shutdown: false,
            bridge: None,
            held_in: None,
            held_ctl: VecDeque::new(),
            held_out: None,
            held_sig: None,
            taken: 0,
        }
    }

    /// Sets the bound of each bridge queue (at least 1).
    pub fn queue_len(mut self, n: usize) -> Self {
        self.queue_len = n.max(1);
        self
    }

    /// On a `Shutdown` arriving on `control`, end at once (forwarding it on
    /// `signal`) instead of waiting for the thread: for threads blocked in
    /// calls that cannot be interrupted, such as reading stdin.
    pub fn detach_on_shutdown(mut self, on: bool) -> Self {
        self.detach_on_shutdown = on;
        self
    }

    fn start(&mut self, cx: &mut Cx) {
        let (in_tx, in_rx) = bounded(self.queue_len);
        let (out_tx, out_rx) = bounded(self.queue_len);
        let (ctl_tx, ctl_rx) = unbounded();
        let (sig_tx, sig_rx) = unbounded();
        let shared = Arc::new(Shared {
            asleep: AtomicBool::new(false),
            done: AtomicBool::new(false),
            panic: Mutex::new(None),
        });
        let remote = cx.remote();
        let proxy = cx.id();
        let boxes = ThreadBoxes {
            in_rx,
            ctl_rx,
            ctl_waiting: RefCell::new(VecDeque::new()),
            out_tx,
            sig_tx,
            sent: Cell::new(0),
            shared: shared.clone(),
            remote: remote.clone(),
            proxy,
        };
        let body = self.body.take().expect("started twice");
        let thread_shared = shared.clone();
        let handle = std::thread::Builder::new()
            .name(self.name.clone())
            .spawn(move || {
                let r = panic::catch_unwind(AssertUnwindSafe(move || body(boxes)));
                if let Err(p) = r {
                    let msg = if let Some(s) = p.downcast_ref::<&str>() {
                        s.to_string()
                    } else if let Some(s) = p.downcast_ref::<String>() {
                        s.clone()
                    } else {
                        "(non-string panic payload)".to_string()
                    };
                    *thread_shared.panic.lock().unwrap() = Some(msg);
                }
                // The body (and with it every sender) is gone: say so, then wake.
                thread_shared.done.store(true, Ordering::SeqCst);
                remote.wake(proxy);
            })
            .expect("cannot spawn a thread");
        self.bridge = Some(Bridge {
            in_tx,
            ctl_tx,
            out_rx,
            sig_rx,
            shared,
            handle: Some(handle),
        });
    }
}

impl<I: Send + 'static, O: Send + 'static> Component for Threaded<I, O> {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if self.bridge.is_none() {
            self.start(cx);
        }
        let b = self.bridge.as_mut().expect("started above");

        // Towards the thread.
        while let Some(m) = self.held_in.take().or_else(|| self.inbox.recv()) {
            match b.in_tx.try_send(m) {
                Ok(()) => {}
                Err(TrySendError::Full(m)) => {
                    self.held_in = Some(m);
                    cx.hold_input();
                    break;
                }
                Err(TrySendError::Disconnected(_)) => {
                    log::warn!("{}: thread gone; input message dropped", self.name);
                }
            }
        }
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() && self.detach_on_shutdown {
                let _ = self.signal.send(sig.clone());
                let _ = b.ctl_tx.send(sig);
                // Dropping the bridge disconnects the thread's queues.
                self.bridge = None;
                return Step::Done;
            }
            if sig.is_shutdown() {
                let _ = b.ctl_tx.send(sig);
            } else {
                self.held_ctl.push_back(sig);
            }
        }
        // A finish follows the data that came before it.
        if self.held_in.is_none() && self.inbox.is_empty() {
            for sig in self.held_ctl.drain(..) {
                let _ = b.ctl_tx.send(sig);
            }
        }

        // From the thread: data in order, then each signal once the data
        // sent before it has gone out.
        while let Some(m) = self.held_out.take().or_else(|| {
            let m = b.out_rx.try_recv().ok();
            self.taken += u64::from(m.is_some());
            m
        }) {
            if let Err(Full(m)) = self.outbox.send(m) {
                // Woken when the consumer takes one; input waits meanwhile.
                self.held_out = Some(m);
                return Step::Pause;
            }
        }
        while let Some((seq, sig)) = self.held_sig.take().or_else(|| b.sig_rx.try_recv().ok()) {
            if seq > self.taken {
                // Its data is still on the way: go round again.
                self.held_sig = Some((seq, sig));
                return Step::Yield;
            }
            if let Err(Full(sig)) = self.signal.send(sig) {
                self.held_sig = Some((seq, sig));
                return Step::Pause;
            }
        }

        if b.shared.done.load(Ordering::SeqCst) && b.out_rx.is_empty() && b.sig_rx.is_empty() {
            if let Some(h) = b.handle.take() {
                let _ = h.join();
            }
            if let Some(msg) = b.shared.panic.lock().unwrap().take() {
                panic!("thread of {} panicked: {msg}", self.name);
            }
            let unread = b.in_tx.len() + usize::from(self.held_in.is_some());
            if unread > 0 {
                log::warn!(
                    "{}: thread ended with {unread} input message(s) unread",
                    self.name
                );
            }
            return Step::Done;
        }

        // Sleep, unless something arrived while we were deciding to.
        b.shared.asleep.store(true, Ordering::SeqCst);
        let more_out = !b.out_rx.is_empty() || !b.sig_rx.is_empty();
        let room_in = self.held_in.is_some() && !b.in_tx.is_full();
        if more_out || room_in || b.shared.done.load(Ordering::SeqCst) {
            b.shared.asleep.store(false, Ordering::SeqCst);
            return Step::Yield;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }

    fn name(&self) -> &str {
        &self.name
    }
}

/// The thread's side of a [`Threaded`] component's boxes.
pub struct ThreadBoxes<I, O> {
    in_rx: Receiver<I>,
    ctl_rx: Receiver<Signal>,
    /// Signals taken from `ctl_rx` but not yet handed out (a finish waits
    /// for the data before it).
    ctl_waiting: RefCell<VecDeque<Signal>>,
    out_tx: Sender<O>,
    sig_tx: Sender<Sequenced>,
    /// Data messages sent so far (a signal goes out after them).
    sent: Cell<u64>,
    shared: Arc<Shared>,
    remote: Remote,
    proxy: Id,
}

/// The component on the scheduler side has ended; nothing more can be sent.
#[derive(Debug, PartialEq, Eq)]
pub struct Closed<T>(pub T);

impl<I, O> ThreadBoxes<I, O> {
    fn poke(&self) {
        if self.shared.asleep.swap(false, Ordering::SeqCst) {
            self.remote.wake(self.proxy);
        }
    }

    /// Takes a message from `inbox` if one is waiting.
    pub fn recv(&self) -> Option<I> {
        let m = self.in_rx.try_recv().ok();
        if m.is_some() {
            self.poke();
        }
        m
    }

    /// Waits up to `timeout` for a message on `inbox`. `None` on time-out or
    /// when the component has ended.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<I> {
        let m = self.in_rx.recv_timeout(timeout).ok();
        if m.is_some() {
            self.poke();
        }
        m
    }

    /// Takes a control signal if one is waiting: a shutdown at once, a
    /// producer-finished only once the data sent before it has been taken
    /// with `recv` (so "finish what you have" means what it says).
    pub fn control(&self) -> Option<Signal> {
        let mut waiting = self.ctl_waiting.borrow_mut();
        waiting.extend(self.ctl_rx.try_iter());
        if let Some(i) = waiting.iter().position(Signal::is_shutdown) {
            return waiting.remove(i);
        }
        if self.in_rx.is_empty() {
            waiting.pop_front()
        } else {
            None
        }
    }

    /// Whether the component on the scheduler side has gone.
    pub fn is_closed(&self) -> bool {
        self.ctl_rx.is_empty() && matches!(self.ctl_rx.try_recv(), Err(TryRecvError::Disconnected))
    }

    /// Blocks until `inbox` or `control` has something, or `timeout` passes.
    /// Returns whether something is waiting.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        if !self.in_rx.is_empty() || !self.ctl_rx.is_empty() {
            return true;
        }
        let mut sel = Select::new();
        sel.recv(&self.in_rx);
        sel.recv(&self.ctl_rx);
        match timeout {
            Some(t) => sel.ready_timeout(t).is_ok(),
            None => {
                sel.ready();
                true
            }
        }
    }

    /// Sends on `outbox`, blocking while the bridge queue is full.
    pub fn send(&self, msg: O) -> Result<(), Closed<O>> {
        let r = self.out_tx.send(msg).map_err(|e| Closed(e.into_inner()));
        if r.is_ok() {
            self.sent.set(self.sent.get() + 1);
        }
        self.poke();
        r
    }

    /// Sends on `outbox` without blocking; hands the message back if full.
    pub fn try_send(&self, msg: O) -> Result<(), Full<O>> {
        match self.out_tx.try_send(msg) {
            Ok(()) => {
                self.sent.set(self.sent.get() + 1);
                self.poke();
                Ok(())
            }
            Err(TrySendError::Full(m)) | Err(TrySendError::Disconnected(m)) => Err(Full(m)),
        }
    }

    /// Sends on `signal`; it comes out after everything already sent on
    /// `outbox`. Never blocks.
    pub fn signal(&self, sig: Signal) {
        let _ = self.sig_tx.send((self.sent.get(), sig));
        self.poke();
    }
}

/// Reads lines from a reader on a thread (Kamaelia's ConsoleReader).
///
/// | box     | carries  | meaning                                           |
/// |---------|----------|---------------------------------------------------|
/// | control | `Signal` | shutdown ends it at once (the thread is left blocked in its read) |
/// | outbox  | `String` | each line read, without its line ending           |
/// | signal  | `Signal` | producer finished at end of input; `Failed` on a read error |
///
/// ```no_run
/// use kamaelia::axon::{console_reader, Scheduler};
/// let mut s = Scheduler::new();
/// s.spawn(console_reader());
/// ```
pub fn line_reader<R: BufRead + Send + 'static>(reader: R) -> Threaded<(), String> {
    Threaded::new("ConsoleReader", move |t: ThreadBoxes<(), String>| {
        for line in reader.lines() {
            match line {
                Ok(l) => {
                    if t.send(l).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    t.signal(Signal::failed(e));
                    return;
                }
            }
            if let Some(sig) = t.control() {
                t.signal(sig);
                return;
            }
        }
        t.signal(Signal::ProducerFinished);
    })
    .detach_on_shutdown(true)
}

/// A [`line_reader`] on standard input.
pub fn console_reader() -> Threaded<(), String> {
    line_reader(std::io::BufReader::new(std::io::stdin()))
}
