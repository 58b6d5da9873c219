//! Sketch 13 of the classic catalogue (`Examples/UDP_Systems/SimplePeer_Example.py`):
//! a character generator sends "Hello World" over UDP from one peer to
//! another, and the receiving side prints what arrives.
//!
//! ```text
//!   Chargen ──▶ SimplePeer (tx) ~~ UDP, 127.0.0.1 ~~▶ SimplePeer (rx) ──▶ Show (console)
//!      └─signal─▶ tx.control                    rx.control ◀─stop── Show
//! ```
//!
//! What it shows:
//!
//! * two [`SimplePeer`]s, each bound to 127.0.0.1 and sending to the
//!   other, woken by socket readiness (the original polled in a busy loop);
//! * the datagrams arriving as `(sender address, payload)`;
//! * shutdown: the generator's `ProducerFinished` makes the sending peer
//!   send what waits and end; the printer, having seen every line, tells
//!   the receiving peer to shut down (a peer never ends by itself);
//! * a deadline as a safety net: UDP may lose datagrams, so the system
//!   runs under `Scheduler::run_for`; if they do not all arrive in time it
//!   is stopped and `run` says so.
//!
//! The original's Chargen sent "Hello World" for ever; here it sends a
//! given number of lines. Run it with `cargo run --example udp_chargen [lines]`.

use std::cell::RefCell;
use std::io::Write;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use kamaelia::axon::{
    link, BoxSet, Component, Cx, Ended, Full, Inbox, Outbox, Scheduler, Signal, Step,
};
use kamaelia::boxes;
use kamaelia::internet::udp::{Datagram, SimplePeer};

/// Where the example writes what arrives (stdout in `main`, a buffer in the
/// tests).
pub type Sink = Rc<RefCell<dyn Write>>;

/// What the generator sends.
pub const LINE: &str = "Hello World";

/// Sends `"Hello World"` `count` times, one per step, then says it has
/// finished (Kamaelia's Chargen, bounded).
///
/// | box     | carries  | meaning                                     |
/// |---------|----------|---------------------------------------------|
/// | control | `Signal` | shutdown: stop at once (forwarded)          |
/// | outbox  | `Bytes`  | `"Hello World"`, `count` times              |
/// | signal  | `Signal` | `ProducerFinished` after the last line      |
pub struct Chargen {
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// The lines.
    pub outbox: Outbox<Bytes>,
    /// Producer finished after the last line.
    pub signal: Outbox<Signal>,
    left: usize,
}

impl Chargen {
    /// A generator of `count` lines.
    pub fn new(count: usize) -> Self {
        Chargen {
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "\"Hello World\", count times"),
            signal: Outbox::signal(),
            left: count,
        }
    }
}

impl Component for Chargen {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                let _ = self.signal.send(sig);
                return Step::Done;
            }
        }
        if self.left == 0 {
            let _ = self.signal.send(Signal::ProducerFinished);
            return Step::Done;
        }
        match self.outbox.send(Bytes::from_static(LINE.as_bytes())) {
            Ok(()) => {
                self.left -= 1;
                Step::Yield
            }
            // A full consumer: try again when it has taken one.
            Err(Full(_)) => Step::Pause,
        }
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.control, self.outbox, self.signal);
    }
}

/// Prints each datagram's payload as a line and records it; after `want`
/// datagrams it shuts the receiving peer down and ends.
///
/// | box    | carries      | meaning                                      |
/// |--------|--------------|----------------------------------------------|
/// | inbox  | [`Datagram`] | what the receiving peer heard                |
/// | stop   | `Signal`     | `Shutdown` for the receiving peer, at the end |
pub struct Show {
    /// Datagrams to print.
    pub inbox: Inbox<Datagram>,
    /// Stops the receiving peer.
    pub stop: Outbox<Signal>,
    want: usize,
    out: Sink,
    seen: Rc<RefCell<Vec<(SocketAddr, String)>>>,
}

impl Component for Show {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while self.seen.borrow().len() < self.want {
            let Some((from, data)) = self.inbox.recv() else {
                return Step::Pause;
            };
            let text = String::from_utf8_lossy(&data).into_owned();
            let _ = writeln!(self.out.borrow_mut(), "{text}");
            self.seen.borrow_mut().push((from, text));
        }
        let _ = self.stop.send(Signal::Shutdown);
        Step::Done
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.inbox, self.stop);
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// What the receiving side heard, in order: `(sender, text)`.
    pub received: Vec<(SocketAddr, String)>,
    /// The sending peer's address.
    pub sender: SocketAddr,
    /// The receiving peer's address.
    pub receiver: SocketAddr,
    /// Whether the time ran out and the system was stopped (lines were
    /// lost).
    pub timed_out: bool,
    /// How the scheduler's run ended.
    pub ended: Ended,
}

/// Sends `lines` lines from one peer to another over 127.0.0.1, printing
/// what arrives to `out`; gives up after `timeout`.
pub fn run(lines: usize, timeout: Duration, out: Sink) -> std::io::Result<Outcome> {
    let a = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let b = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let (sender, receiver) = (a.local_addr()?, b.local_addr()?);
    let chargen = Chargen::new(lines);
    let tx = SimplePeer::from_std(a, receiver)?;
    let rx = SimplePeer::from_std(b, sender)?;
    let seen = Rc::new(RefCell::new(Vec::new()));
    let show = Show {
        inbox: Inbox::new("inbox", "what the receiving peer heard"),
        stop: Outbox::new("stop", "shutdown for the receiving peer"),
        want: lines,
        out,
        seen: seen.clone(),
    };
    let linked = [
        link(&chargen.outbox, &tx.inbox),
        link(&chargen.signal, &tx.control),
        link(&rx.outbox, &show.inbox),
        link(&show.stop, &rx.control),
    ];
    for l in linked {
        l.expect("fresh boxes link");
    }
    let mut s = Scheduler::new();
    s.spawn(rx);
    s.spawn(show);
    s.spawn(tx);
    s.spawn(chargen);
    // Not over in time: lines were lost; stop what still runs.
    let (ended, timed_out) = match s.run_for(timeout) {
        Some(ended) => (ended, false),
        None => {
            s.stop();
            (s.run(), true)
        }
    };
    let received = std::mem::take(&mut *seen.borrow_mut());
    Ok(Outcome {
        received,
        sender,
        receiver,
        timed_out,
        ended,
    })
}

fn main() {
    let lines = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let out: Sink = Rc::new(RefCell::new(std::io::stdout()));
    match run(lines, Duration::from_secs(10), out) {
        Ok(o) if o.timed_out => eprintln!(
            "only {} of {lines} lines arrived before the deadline",
            o.received.len()
        ),
        Ok(o) => eprintln!(
            "{} lines from {} to {}",
            o.received.len(),
            o.sender,
            o.receiver
        ),
        Err(e) => eprintln!("cannot set up the peers: {e}"),
    }
}
