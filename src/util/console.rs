//! ConsoleEchoer: writes each message to the console (or any writer).
//!
//! Each message on `inbox` is written as `tag` followed by the message
//! (its `Display` form, or its `Debug` form with [`ConsoleEchoer::debug`]),
//! followed by a newline if asked for (Kamaelia's echoer adds none), in one
//! write per message. The writer is flushed after each step's batch of
//! messages. In forwarder mode
//! every message is also passed on, unchanged, on `outbox`.
//!
//! | box     | carries  | meaning                                           |
//! |---------|----------|---------------------------------------------------|
//! | inbox   | `T`      | messages to write                                 |
//! | control | `Signal` | any signal: write (and forward) what waits, then pass the signal on and end |
//! | outbox  | `T`      | in forwarder mode, every message after it is written |
//! | signal  | `Signal` | the control signal that ended it; `Failed` if writing failed |
//!
//! Writes go to standard output unless another writer is given
//! ([`ConsoleEchoer::writer`]; tests use a
//! [`SharedBuffer`](crate::util::SharedBuffer)). In forwarder mode a
//! message refused by a full destination is kept (already written) and no
//! more are read until the consumer takes one. A write error ends the
//! component with `Signal::Failed` on `signal`.
//!
//! ```
//! use kamaelia::axon::Scheduler;
//! use kamaelia::pipeline;
//! use kamaelia::util::{ConsoleEchoer, DataSource, SharedBuffer};
//! let screen = SharedBuffer::new();
//! let p = pipeline![
//!     DataSource::new(vec!["hello", "world"]),
//!     ConsoleEchoer::<&str>::new().tag("> ").newline(true).writer(screen.clone()),
//! ]
//! .unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(p);
//! s.run();
//! assert_eq!(screen.text(), "> hello\n> world\n");
//! ```

use std::fmt::{Debug, Display};
use std::io::{self, Write};

use crate::axon::{BoxSet, Component, Cx, Inbox, Outbox, Signal, Step};

use super::relay::{finish_or_pause, flush_held, send_or_hold, BATCH};

/// The most buffer capacity kept between messages.
const LINE_KEEP: usize = 64 * 1024;

type Render<T> = fn(&T, &mut Vec<u8>) -> io::Result<()>;

fn render_display<T: Display>(m: &T, w: &mut Vec<u8>) -> io::Result<()> {
    write!(w, "{m}")
}

fn render_debug<T: Debug>(m: &T, w: &mut Vec<u8>) -> io::Result<()> {
    write!(w, "{m:?}")
}

/// Writes messages to a writer; see the module documentation.
pub struct ConsoleEchoer<T: 'static> {
    /// Messages to write.
    pub inbox: Inbox<T>,
    /// Any signal ends it.
    pub control: Inbox<Signal>,
    /// The messages again, in forwarder mode.
    pub outbox: Outbox<T>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    out: Box<dyn Write>,
    render: Render<T>,
    /// One message's output (tag, message, newline), reused: each message
    /// is one write to `out`, not one per piece.
    line: Vec<u8>,
    tag: String,
    newline: bool,
    forwarder: bool,
    held: Option<T>,
    ending: Option<Signal>,
}

impl<T: Display + 'static> ConsoleEchoer<T> {
    /// Writes each message's `Display` form to standard output.
    pub fn new() -> Self {
        Self::with_render(render_display::<T>)
    }
}

impl<T: Display + 'static> Default for ConsoleEchoer<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Debug + 'static> ConsoleEchoer<T> {
    /// Writes each message's `Debug` form (Kamaelia's `use_repr`).
    pub fn debug() -> Self {
        Self::with_render(render_debug::<T>)
    }
}

impl<T: 'static> ConsoleEchoer<T> {
    fn with_render(render: Render<T>) -> Self {
        ConsoleEchoer {
            inbox: Inbox::new("inbox", "messages to write"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "the messages again, in forwarder mode"),
            signal: Outbox::signal(),
            out: Box::new(io::stdout()),
            render,
            line: Vec::new(),
            tag: String::new(),
            newline: false,
            forwarder: false,
            held: None,
            ending: None,
        }
    }

    /// Writes `tag` before each message.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = tag.into();
        self
    }

    /// Writes a newline after each message.
    pub fn newline(mut self, on: bool) -> Self {
        self.newline = on;
        self
    }

    /// Also passes each message on, on `outbox`.
    pub fn forwarder(mut self, on: bool) -> Self {
        self.forwarder = on;
        self
    }

    /// Writes to `w` instead of standard output.
    pub fn writer(mut self, w: impl Write + 'static) -> Self {
        self.out = Box::new(w);
        self
    }

    fn write_one(&mut self, m: &T) -> io::Result<()> {
        self.line.clear();
        self.line.extend_from_slice(self.tag.as_bytes());
        (self.render)(m, &mut self.line)?;
        if self.newline {
            self.line.push(b'\n');
        }
        let written = self.out.write_all(&self.line);
        if self.line.capacity() > LINE_KEEP {
            // Do not keep a huge message's buffer for the rest of the run.
            self.line = Vec::new();
        }
        written
    }

    fn fail(&mut self, e: io::Error) -> Step {
        log::error!("ConsoleEchoer: cannot write: {e}");
        let _ = self.signal.send(Signal::failed(e));
        Step::Done
    }
}

impl<T: 'static> Component for ConsoleEchoer<T> {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(sig) = self.control.recv() {
            // The first signal ends it; later ones add nothing.
            if self.ending.is_none() {
                self.ending = Some(sig);
            }
        }
        if !flush_held(&mut self.held, &self.outbox) {
            return Step::Pause;
        }
        let mut wrote = false;
        let mut blocked = false;
        for _ in 0..BATCH {
            let Some(m) = self.inbox.recv() else { break };
            if let Err(e) = self.write_one(&m) {
                return self.fail(e);
            }
            wrote = true;
            if self.forwarder && !send_or_hold(&self.outbox, m, &mut self.held) {
                blocked = true;
                break;
            }
        }
        if wrote {
            if let Err(e) = self.out.flush() {
                return self.fail(e);
            }
        }
        if blocked {
            return Step::Pause;
        }
        finish_or_pause(&self.inbox, &mut self.ending, &self.signal)
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}
