//! HttpTrackerServer: the HTTP tracker as one component that owns its
//! listener and every connection, as a dedicated tracker does. A
//! connection is a slot in the component's table, not a pair of
//! components: a tracker's exchange is one short request and one small
//! answer (most clients open a connection per announce), and spawning,
//! linking and ending two components per announce cost five times the
//! instructions of the answer itself. Requests are read with the
//! project's HTTP [`Parser`]; the answer is the same
//! [`super::http_server::answer`] that the [`Router`](crate::protocol::http::Router) form of the
//! tracker ([`add_routes`](super::http_server::add_routes), for a program
//! that serves other things beside its tracker) gives.
//!
//! Served: `GET` and `HEAD` of `/announce` and `/scrape` (`200`, a
//! bencoded body: the reply or a `failure reason`), keep-alive and
//! pipelining in order; `404` for other paths, `405` for other methods,
//! `413` for a request with a body, the parser's status (`400`, `414`,
//! `431`, ...) for a malformed head, each then closing the connection.
//! Bounded: at most `max_connections` open (others are closed at once and
//! counted), a head limit of the parser's, a deadline per connection
//! (`timeout` from its accept or its last answer, on the scheduler's
//! clock: virtual in tests), at most 64 accepts per step.
//!
//! Each wake looks at every open connection's readiness (one flag test
//! each): cheap for the few dozen connections a tracker has open at a
//! time, and bounded by `max_connections`.
//!
//! | box     | carries  | meaning                                           |
//! |---------|----------|---------------------------------------------------|
//! | control | `Signal` | shutdown or producer finished: closes everything, ends |
//! | signal  | `Signal` | the signal received, once, when it ends           |
//!
//! ```no_run
//! use std::{cell::RefCell, rc::Rc};
//! use kamaelia::axon::Scheduler;
//! use kamaelia::internet::TcpAcceptor;
//! use kamaelia::protocol::torrent::tracker::http_direct::{DirectConfig, HttpTrackerServer};
//! use kamaelia::protocol::torrent::tracker::swarm::{SwarmConfig, Swarms};
//! let swarms = Rc::new(RefCell::new(Swarms::new(SwarmConfig::default())));
//! let acceptor = TcpAcceptor::bind("127.0.0.1:6969".parse().unwrap(), 1024).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(HttpTrackerServer::new(Box::new(acceptor), swarms, DirectConfig::default()));
//! s.run();
//! ```

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};

use super::http_server::{answer, Endpoint, Scratch};
use super::swarm::Swarms;
use crate::axon::{BoxSet, Component, Cx, Inbox, Outbox, Signal, Step, TimerKey};
use crate::internet::{Acceptor, Transport};
use crate::protocol::http::{encode_head, Event, Framing, Head, Parser, ResponseHead, Version};

/// Accepts taken in one step before the connections are served.
const ACCEPTS_PER_STEP: usize = 64;
/// Bytes read from a connection at a time.
const READ_SIZE: usize = 4096;
/// Parsers of closed connections kept for new ones.
const PARSERS_KEPT: usize = 64;
/// Reads from one connection in one step: a client that keeps pipelining
/// (and reading its answers) yields to the others after this many.
const READS_PER_STEP: usize = 16;
/// How soon a failed accept is tried again.
const ACCEPT_RETRY: Duration = Duration::from_millis(10);

/// What serving a connection left it as.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Served {
    /// Waiting for readiness, its deadline or room to write.
    Wait,
    /// It has more to read: serve it again next step.
    Busy,
    /// To be closed.
    Close,
}

/// Limits of an [`HttpTrackerServer`].
#[derive(Clone, Copy, Debug)]
pub struct DirectConfig {
    /// Connections open at once; more are closed as they come.
    pub max_connections: usize,
    /// From a connection's accept, or its last answer, to its next whole
    /// request head; then it is closed.
    pub timeout: Duration,
}

impl Default for DirectConfig {
    fn default() -> Self {
        DirectConfig {
            max_connections: 1024,
            timeout: Duration::from_secs(10),
        }
    }
}

/// What an [`HttpTrackerServer`] has done, shared with its owner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirectStats {
    /// Connections taken.
    pub accepted: u64,
    /// Connections closed at once: `max_connections` were open.
    pub refused: u64,
    /// Requests answered `200`.
    pub answered: u64,
    /// Requests answered with an error status.
    pub errors: u64,
    /// Connections closed at their deadline.
    pub timed_out: u64,
}

/// One open connection.
struct Conn {
    t: Box<dyn Transport>,
    parser: Parser,
    /// Answer bytes the socket has not taken yet.
    pending: BytesMut,
    /// Close once `pending` is sent.
    close_after: bool,
    deadline: Instant,
}

/// The head of a `200` answer to an HTTP/1.1 request, as
/// [`encode_head`] writes it for the tracker's head (the same bytes; a test
/// holds them equal), without going through a general head: it is most of
/// what an announce writes.
fn ok_head(out: &mut BytesMut, len: usize, keep_alive: bool) {
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ");
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = len;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(if keep_alive {
        b"\r\n\r\n"
    } else {
        b"\r\nConnection: close\r\n\r\n"
    });
}

/// The HTTP tracker; see the module documentation.
pub struct HttpTrackerServer {
    /// Shutdown or producer finished.
    pub control: Inbox<Signal>,
    /// Sent once, when it ends.
    pub signal: Outbox<Signal>,
    acceptor: Box<dyn Acceptor>,
    swarms: Rc<RefCell<Swarms>>,
    config: DirectConfig,
    stats: Rc<Cell<DirectStats>>,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    /// Parsers of closed connections, reset, for the next ones.
    parsers: Vec<Parser>,
    open: usize,
    registered: bool,
    timer: Option<(Instant, TimerKey)>,
    scratch: Scratch,
    events: Vec<Event>,
    out: BytesMut,
    head: ResponseHead,
}

impl HttpTrackerServer {
    /// A tracker taking connections from `acceptor` over `swarms`.
    pub fn new(
        acceptor: Box<dyn Acceptor>,
        swarms: Rc<RefCell<Swarms>>,
        config: DirectConfig,
    ) -> Self {
        let mut head = ResponseHead::new(200);
        head.headers.push(
            Bytes::from_static(b"Content-Type"),
            Bytes::from_static(b"text/plain"),
        );
        HttpTrackerServer {
            control: Inbox::control(),
            signal: Outbox::signal(),
            acceptor,
            swarms,
            config,
            stats: Rc::default(),
            conns: Vec::new(),
            free: Vec::new(),
            parsers: Vec::new(),
            open: 0,
            registered: false,
            timer: None,
            scratch: Scratch::default(),
            events: Vec::new(),
            out: BytesMut::with_capacity(1024),
            head,
        }
    }

    /// The counters, shared (they keep counting while it runs).
    pub fn stats(&self) -> Rc<Cell<DirectStats>> {
        self.stats.clone()
    }

    fn count(&self, f: impl FnOnce(&mut DirectStats)) {
        let mut s = self.stats.get();
        f(&mut s);
        self.stats.set(s);
    }

    /// Takes new connections; true if the cap per step was reached.
    fn accept(&mut self, cx: &mut Cx) -> bool {
        for _ in 0..ACCEPTS_PER_STEP {
            let mut t = match self.acceptor.accept(cx) {
                Ok(Some(t)) => t,
                Ok(None) => return false,
                Err(e) => {
                    // The listener is edge-triggered: connections already
                    // waiting bring no new event, so look again soon (as
                    // the server chassis does). Out of file descriptors
                    // is the usual cause under load.
                    log::warn!("tracker accept failed: {e}");
                    cx.wake_after(ACCEPT_RETRY);
                    return false;
                }
            };
            if self.open >= self.config.max_connections {
                self.count(|s| s.refused += 1);
                continue; // dropped: closed
            }
            if let Err(e) = t.register(cx) {
                log::warn!("tracker connection not registered: {e}");
                continue;
            }
            self.count(|s| s.accepted += 1);
            let conn = Conn {
                t,
                parser: self.parsers.pop().unwrap_or_else(Parser::request),
                pending: BytesMut::new(),
                close_after: false,
                deadline: cx.now() + self.config.timeout,
            };
            self.open += 1;
            match self.free.pop() {
                Some(i) => self.conns[i] = Some(conn),
                None => self.conns.push(Some(conn)),
            }
        }
        true
    }

    /// Serves one connection.
    fn serve(&mut self, cx: &mut Cx, c: &mut Conn) -> Served {
        let mut reads = 0;
        loop {
            // The deadline first: a client that stops reading its answers
            // must not hold its connection past it either.
            if cx.now() >= c.deadline {
                self.count(|s| s.timed_out += 1);
                return Served::Close;
            }
            // What the socket did not take goes first: answers leave in
            // request order, and nothing more is read meanwhile.
            while !c.pending.is_empty() {
                match c.t.write(cx, &c.pending) {
                    Ok(0) => return Served::Close,
                    Ok(n) => c.pending.advance(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Served::Wait,
                    Err(_) => return Served::Close,
                }
            }
            if c.close_after {
                return Served::Close;
            }
            // Requests already read (pipelined) before more bytes.
            self.events.clear();
            let mut parsed = c.parser.drain(&mut self.events);
            if parsed.is_ok() && self.events.is_empty() {
                if !c.t.read_ready(cx) {
                    return Served::Wait;
                }
                if reads == READS_PER_STEP {
                    return Served::Busy;
                }
                reads += 1;
                match c.t.read_chunk(cx, READ_SIZE) {
                    Ok(Some(bytes)) => parsed = c.parser.push(bytes, &mut self.events),
                    // The peer closed: what it sent before is answered
                    // (above, on the way here); nothing more will come.
                    Ok(None) => return Served::Close,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Served::Wait,
                    Err(_) => return Served::Close,
                }
            }
            // Every request read is answered now, in order, those before
            // a malformed one included; a request after one that closes
            // the connection is dropped unanswered.
            let mut events = std::mem::take(&mut self.events);
            for ev in events.drain(..) {
                if let Event::Head(head) = ev {
                    if !c.close_after {
                        self.request(cx, c, &head);
                    }
                    c.parser.reuse(head.headers);
                }
            }
            self.events = events;
            if let Err(e) = parsed {
                if !c.close_after {
                    self.error(cx, c, e.status());
                }
            }
        }
    }

    /// Answers one request head.
    fn request(&mut self, cx: &mut Cx, c: &mut Conn, head: &Head) {
        let is_head = &head.method[..] == b"HEAD";
        if !is_head && &head.method[..] != b"GET" {
            return self.error(cx, c, 405);
        }
        if !matches!(head.framing, Framing::None | Framing::Length(0)) {
            // Announces and scrapes carry no body; refused before it is
            // read, so the connection cannot go on.
            return self.error(cx, c, 413);
        }
        let target = std::str::from_utf8(&head.target).unwrap_or("");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let endpoint = match path {
            "/announce" => Endpoint::Announce,
            "/scrape" => Endpoint::Scrape,
            _ => return self.error(cx, c, 404),
        };
        match c.t.peer() {
            Some(peer) => answer(
                &mut self.swarms.borrow_mut(),
                endpoint,
                query,
                peer.ip(),
                cx.now(),
                &mut self.scratch,
            ),
            None => {
                self.scratch.body.clear();
                super::http_wire::encode_failure(&mut self.scratch.body, "no source address");
            }
        }
        let keep = if head.version == Version::Http11 {
            ok_head(&mut self.out, self.scratch.body.len(), head.keep_alive);
            head.keep_alive
        } else {
            self.head.length = Some(self.scratch.body.len() as u64);
            encode_head(
                &mut self.out,
                &self.head,
                head.version,
                is_head,
                head.keep_alive,
                None,
            )
            .1
        };
        if !is_head {
            self.out.extend_from_slice(&self.scratch.body);
        }
        self.count(|s| s.answered += 1);
        c.deadline = cx.now() + self.config.timeout;
        self.send(cx, c, !keep);
    }

    /// Answers `status` with no body and closes after it.
    fn error(&mut self, cx: &mut Cx, c: &mut Conn, status: u16) {
        let mut head = ResponseHead::new(status).length(0);
        if status == 405 {
            head.headers.push(
                Bytes::from_static(b"Allow"),
                Bytes::from_static(b"GET, HEAD"),
            );
        }
        encode_head(&mut self.out, &head, Version::Http11, false, false, None);
        self.count(|s| s.errors += 1);
        self.send(cx, c, true);
    }

    /// Queues what `out` holds behind anything still pending.
    fn send(&mut self, _cx: &mut Cx, c: &mut Conn, close: bool) {
        if c.pending.is_empty() {
            c.pending = self.out.split();
        } else {
            // Answers to pipelined requests join the unsent ones: one copy
            // of each, however many come in one read.
            c.pending.extend_from_slice(&self.out);
            self.out.clear();
        }
        c.close_after |= close;
    }

    fn close(&mut self, cx: &mut Cx, i: usize) {
        if let Some(mut c) = self.conns[i].take() {
            c.t.deregister(cx);
            self.free.push(i);
            self.open -= 1;
            // As many kept as connections are open at most, and no more
            // than a busy moment needs.
            if self.parsers.len() < PARSERS_KEPT {
                c.parser.reset();
                self.parsers.push(c.parser);
            }
        }
    }

    /// One timer, at the earliest deadline of the open connections.
    fn arm_timer(&mut self, cx: &mut Cx, earliest: Option<Instant>) {
        match (earliest, self.timer) {
            (None, Some((_, key))) => {
                cx.cancel_timer(key);
                self.timer = None;
            }
            (Some(at), Some((set, _))) if set <= at && set > cx.now() => {}
            (Some(at), old) => {
                if let Some((_, key)) = old {
                    cx.cancel_timer(key);
                }
                self.timer = Some((at, cx.wake_at(at)));
            }
            (None, None) => {}
        }
    }

    fn end(&mut self, cx: &mut Cx, sig: Signal) -> Step {
        for i in 0..self.conns.len() {
            self.close(cx, i);
        }
        self.acceptor.close(cx);
        if let Some((_, key)) = self.timer.take() {
            cx.cancel_timer(key);
        }
        let _ = self.signal.send(sig);
        Step::Done
    }
}

impl Component for HttpTrackerServer {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if let Some(sig) = self.control.recv() {
            return self.end(cx, sig);
        }
        if !self.registered {
            if let Err(e) = self.acceptor.register(cx) {
                log::error!("tracker listener not registered: {e}");
                return self.end(
                    cx,
                    Signal::Failed(crate::axon::Failure(std::sync::Arc::new(e))),
                );
            }
            self.registered = true;
        }
        let more = self.accept(cx);
        let mut earliest: Option<Instant> = None;
        let mut busy = false;
        for i in 0..self.conns.len() {
            let Some(mut c) = self.conns[i].take() else {
                continue;
            };
            let served = self.serve(cx, &mut c);
            let deadline = c.deadline;
            self.conns[i] = Some(c);
            if served == Served::Close {
                self.close(cx, i);
            } else {
                busy |= served == Served::Busy;
                earliest = Some(earliest.map_or(deadline, |e| e.min(deadline)));
            }
        }
        self.arm_timer(cx, earliest);
        if more || busy {
            Step::Yield
        } else {
            Step::Pause
        }
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.control, self.signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The short way writes what the general head encoder writes.
    #[test]
    fn ok_head_is_encode_heads_bytes() {
        let mut head = ResponseHead::new(200);
        head.headers.push(
            Bytes::from_static(b"Content-Type"),
            Bytes::from_static(b"text/plain"),
        );
        for len in [0usize, 7, 85, 1234, 100_000] {
            for keep in [true, false] {
                head.length = Some(len as u64);
                let mut general = BytesMut::new();
                encode_head(&mut general, &head, Version::Http11, false, keep, None);
                let mut short = BytesMut::new();
                ok_head(&mut short, len, keep);
                assert_eq!(short, general, "length {len}, keep-alive {keep}");
            }
        }
    }
}
