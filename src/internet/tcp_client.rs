//! TcpClient: one TCP connection as a component. It connects to a host and
//! port (or is handed a connection a server accepted), passes what it reads
//! out of `outbox`, and writes what arrives on `inbox`.
//!
//! | box     | carries  | meaning                                                       |
//! |---------|----------|---------------------------------------------------------------|
//! | inbox   | `Bytes`  | written to the peer, in order, partial writes handled; once the sending side is closed, what arrives stays here (counted as undelivered at the end) |
//! | control | `Signal` | shutdown: close now; producer finished: send what is queued, close the sending side, go on reading until the peer closes |
//! | outbox  | `Bytes`  | what the peer sent, as it arrives                             |
//! | signal  | `Signal` | once, at the end: `ProducerFinished` when the peer closed cleanly, `Shutdown` when told to, else `Failed(NetError)` with the reason (refused, reset, timed out, unreachable, not resolved) |
//!
//! Name resolution runs on a short-lived thread, so the scheduler never
//! blocks on it; an address given as an IP is used as is. Connecting has a
//! time-out (default 30 s), and a connected client can have an idle time-out.
//!
//! Fairness: a step reads at most 4 MiB, and writes what the socket takes;
//! with the sending side closed, input that can no longer be written does
//! not run it again (it sleeps until the socket or `control` wakes it).
//!
//! Back-pressure both ways: it stops taking from `inbox` while 64 KiB wait
//! to be written (until the socket takes them), and stops reading while a
//! chunk it read is refused by a full destination. So memory per connection
//! is bounded however slow either side is.
//!
//! Reading drains the socket in one visit where it can: when the
//! destination is full, the connection hands off to the component that
//! reads it ([`Cx::run_receiver`](crate::axon::Cx::run_receiver)), which
//! makes room at once, and reads on, up to 4 MiB per step. Reading a few
//! chunks from each of many busy sockets in turn cost the kernel half as
//! much again per byte (the data it copies has gone cold meanwhile).
//!
//! When the peer closes its side: a client passes on everything received
//! and ends. A connection a server accepted (`from_transport`) instead
//! sends `ProducerFinished` on `signal` at once ("the input is over") and
//! keeps its sending side open until its protocol component finishes (a
//! producer-finished or shutdown on `control`), so a reply to a half-closed
//! request still goes out. The original closed both directions.
//!
//! The socket comes from a [`Connector`], a parameter: tests pass scripted
//! connections (`kamaelia::testing::scripted`).
//!
//! ```no_run
//! use kamaelia::axon::{link, Inbox, Scheduler};
//! use kamaelia::internet::TcpClient;
//! let client = TcpClient::new("127.0.0.1", 1500);
//! let got: Inbox<bytes::Bytes> = Inbox::inbox();
//! link(&client.outbox, &got).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(client);
//! s.run();
//! ```

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use bytes::Bytes;
use crossbeam_channel::Receiver;

use crate::axon::{Alarm, BoxSet, Component, Cx, Full, Inbox, Outbox, Signal, Step};

use super::transport::{tcp_connector, Connector, EndReason, NetError, Transport};

/// Default connect time-out.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes waiting to be written before the client stops taking from `inbox`.
/// With a server's 2-message connection inbox this keeps what waits for a
/// client that does not read within 64 KiB for messages up to 8 KiB.
pub const WRITE_BUFFER: usize = 48 * 1024;
/// Size of each read.
pub const READ_CHUNK: usize = 16 * 1024;
/// Reads per step before giving others a turn: up to 4 MiB, about a
/// millisecond. Long visits are what make a busy socket cheap to read
/// (`benches/net.rs`, `net_bulk` with 100 connections: 16 reads per visit
/// ran at 0.73x the plain mio server, 256 at 0.95x).
const READS_PER_STEP: usize = 256;
/// Most bytes read and thrown away when told to shut down (so the close
/// does not turn into a reset because input was left unread).
const DRAIN_ON_SHUTDOWN: usize = 1 << 20;

enum State {
    /// Not started.
    Start,
    /// Waiting for the resolver thread.
    Resolving(Receiver<io::Result<Vec<SocketAddr>>>),
    /// A connect is in progress to `addrs[0]`; the rest are next to try.
    Connecting {
        transport: Box<dyn Transport>,
        rest: Vec<SocketAddr>,
    },
    /// Connected.
    Open(Box<dyn Transport>),
    /// Finished.
    Done,
}

enum Target {
    Name(String, u16),
    Addr(SocketAddr),
}

/// One TCP connection; see the module documentation.
pub struct TcpClient {
    /// Bytes to write.
    pub inbox: Inbox<Bytes>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Bytes read.
    pub outbox: Outbox<Bytes>,
    /// Sent once, at the end, with the reason.
    pub signal: Outbox<Signal>,
    target: Target,
    connector: Connector,
    connect_timeout: Duration,
    idle_timeout: Option<Duration>,
    state: State,
    /// The connect time-out, then the idle time-out.
    deadline: Alarm,
    /// When traffic last went either way (kept only with an idle time-out).
    last_activity: Option<Instant>,
    /// Traffic went either way in this step.
    active: bool,
    write_queue: VecDeque<Bytes>,
    queued_bytes: usize,
    /// A chunk read but refused by a full destination.
    held: Option<Bytes>,
    /// Asked to finish: close our side once everything queued is written.
    finishing: bool,
    write_closed: bool,
    /// The peer closed its side; end once `held` is delivered.
    peer_closed: bool,
    /// A server's connection: keep writing after the peer closes its side.
    serve: bool,
    /// Handed a connection that is not registered with the poll yet.
    unregistered: bool,
    /// The end (or end-of-input) signal has been sent.
    signalled: bool,
    last_error: Option<io::Error>,
}

impl TcpClient {
    /// A client for `host:port` (a name or an IP address).
    pub fn new(host: &str, port: u16) -> Self {
        let target = match host.parse::<IpAddr>() {
            Ok(ip) => Target::Addr(SocketAddr::new(ip, port)),
            Err(_) => Target::Name(host.to_string(), port),
        };
        Self::build(target, tcp_connector(), State::Start)
    }

    /// A client for an address.
    pub fn to_addr(addr: SocketAddr) -> Self {
        Self::build(Target::Addr(addr), tcp_connector(), State::Start)
    }

    /// A client around a connection already made (what a server accepted).
    pub fn from_transport(transport: Box<dyn Transport>) -> Self {
        let peer = transport.peer();
        let target = match peer {
            Some(a) => Target::Addr(a),
            None => Target::Name("(accepted)".to_string(), 0),
        };
        let mut c = Self::build(target, tcp_connector(), State::Open(transport));
        c.serve = true;
        c.unregistered = true;
        c
    }

    /// Uses `connector` to make the connection (tests pass scripted ones).
    pub fn with_connector(mut self, connector: Connector) -> Self {
        self.connector = connector;
        self
    }

    /// Sets the connect time-out.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Ends the connection (reason `TimedOut`) after `d` with no traffic
    /// either way.
    pub fn idle_timeout(mut self, d: Option<Duration>) -> Self {
        self.idle_timeout = d;
        self
    }

    fn build(target: Target, connector: Connector, state: State) -> Self {
        TcpClient {
            inbox: Inbox::new("inbox", "bytes to write to the peer"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "bytes read from the peer"),
            signal: Outbox::new("signal", "once at the end, with the reason"),
            target,
            connector,
            connect_timeout: CONNECT_TIMEOUT,
            idle_timeout: None,
            state,
            deadline: Alarm::default(),
            last_activity: None,
            active: false,
            write_queue: VecDeque::new(),
            queued_bytes: 0,
            held: None,
            finishing: false,
            write_closed: false,
            peer_closed: false,
            serve: false,
            unregistered: false,
            signalled: false,
            last_error: None,
        }
    }

    /// Control signals before the connection exists: a shutdown aborts
    /// (returns true); a finish is remembered for when it is open.
    fn early_control(&mut self) -> bool {
        let mut stop = false;
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                stop = true;
            } else {
                self.finishing = true;
            }
        }
        stop
    }

    fn peer_name(&self) -> String {
        match &self.target {
            Target::Name(h, p) => format!("{h}:{p}"),
            Target::Addr(a) => a.to_string(),
        }
    }

    fn end(&mut self, cx: &mut Cx, sig: Signal) -> Step {
        self.deadline.clear(cx);
        match std::mem::replace(&mut self.state, State::Done) {
            State::Open(mut t)
            | State::Connecting {
                transport: mut t, ..
            } => t.deregister(cx),
            _ => {}
        }
        if !self.signalled {
            self.signalled = true;
            let _ = self.signal.send(sig);
        }
        Step::Done
    }

    fn fail(&mut self, cx: &mut Cx, reason: EndReason, detail: String) -> Step {
        let err = NetError {
            reason,
            peer: self.peer_name(),
            detail,
        };
        log::debug!("{err}");
        self.end(cx, Signal::failed(err))
    }

    fn fail_io(&mut self, cx: &mut Cx, e: io::Error) -> Step {
        self.fail(cx, EndReason::from_io(&e), e.to_string())
    }

    /// Tries the next address; ends if none is left.
    fn connect_next(&mut self, cx: &mut Cx, mut addrs: Vec<SocketAddr>) -> Step {
        while !addrs.is_empty() {
            let addr = addrs.remove(0);
            match (self.connector)(addr) {
                Ok(mut t) => {
                    if let Err(e) = t.register(cx) {
                        self.last_error = Some(e);
                        continue;
                    }
                    self.state = State::Connecting {
                        transport: t,
                        rest: addrs,
                    };
                    return self.step_connecting(cx);
                }
                Err(e) => self.last_error = Some(e),
            }
        }
        match self.last_error.take() {
            Some(e) => self.fail_io(cx, e),
            None => self.fail(cx, EndReason::NotResolved, "no address".into()),
        }
    }

    fn step_connecting(&mut self, cx: &mut Cx) -> Step {
        let State::Connecting { transport, .. } = &mut self.state else {
            unreachable!("connecting")
        };
        match transport.poll_connect(cx) {
            Ok(true) => {
                let State::Connecting { transport, .. } =
                    std::mem::replace(&mut self.state, State::Done)
                else {
                    unreachable!("connecting")
                };
                self.state = State::Open(transport);
                self.deadline.clear(cx);
                self.step_open(cx)
            }
            Ok(false) => {
                if self.deadline.deadline().is_some_and(|t| cx.now() >= t) {
                    return self.fail(cx, EndReason::TimedOut, "connect timed out".into());
                }
                cx.hold_input();
                Step::Pause
            }
            Err(e) => {
                let State::Connecting {
                    mut transport,
                    rest,
                } = std::mem::replace(&mut self.state, State::Done)
                else {
                    unreachable!("connecting")
                };
                transport.deregister(cx);
                self.last_error = Some(e);
                self.connect_next(cx, rest)
            }
        }
    }

    /// Writes what is queued, taking more from `inbox` while under the
    /// write buffer. Returns an error that ends the connection.
    fn write_some(&mut self, cx: &mut Cx) -> io::Result<()> {
        let State::Open(t) = &mut self.state else {
            return Ok(());
        };
        loop {
            if !self.write_closed {
                while self.queued_bytes < WRITE_BUFFER {
                    match self.inbox.recv() {
                        Some(b) if b.is_empty() => {}
                        Some(b) => {
                            self.queued_bytes += b.len();
                            self.write_queue.push_back(b);
                        }
                        None => break,
                    }
                }
            }
            let Some(front) = self.write_queue.front_mut() else {
                break;
            };
            match t.write(cx, front) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.queued_bytes -= n;
                    self.active = true;
                    if n == front.len() {
                        self.write_queue.pop_front();
                    } else {
                        let _ = front.split_to(n);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.queued_bytes >= WRITE_BUFFER {
            // Waiting for the socket: input stays in the inbox meanwhile.
            cx.hold_input();
        }
        if self.finishing
            && !self.write_closed
            && self.write_queue.is_empty()
            && self.inbox.is_empty()
        {
            self.write_closed = true;
            t.shutdown_write()?;
        }
        if self.write_closed && !self.inbox.is_empty() {
            // Nothing more can be written: what arrives now stays in the
            // inbox (counted as undelivered at the end) rather than run
            // this component again and again for nothing.
            cx.hold_input();
        }
        Ok(())
    }

    /// Passes a chunk on; when the receiver's inbox is full, hands off to
    /// the receiver first so it can make room (see `Cx::run_receiver`),
    /// then sends; holds the chunk if there is still no room. True if it
    /// went. (Handing off before the send, not after a refusal: a refused
    /// send registers this component to be woken, which costs the
    /// scheduler work and an allocation, and is only needed when the chunk
    /// has to wait.)
    fn pass_on(&mut self, cx: &mut Cx, chunk: Bytes) -> bool {
        if self.outbox.is_full() {
            cx.run_receiver(&self.outbox);
        }
        match self.outbox.send(chunk) {
            Ok(()) => true,
            Err(Full(chunk)) => {
                // Stop reading: the kernel's buffer and TCP's window push
                // back on the peer until this is taken.
                self.held = Some(chunk);
                false
            }
        }
    }

    /// Reads and passes on; returns whether the read budget ran out.
    fn read_some(&mut self, cx: &mut Cx) -> io::Result<bool> {
        if let Some(chunk) = self.held.take() {
            if !self.pass_on(cx, chunk) {
                return Ok(false);
            }
        }
        for _ in 0..READS_PER_STEP {
            let State::Open(t) = &mut self.state else {
                return Ok(false);
            };
            if self.peer_closed || !t.read_ready(cx) {
                // Nothing new since a read would block: no read (it would
                // only block again); the poll wakes us when data comes.
                return Ok(false);
            }
            match t.read_chunk(cx, READ_CHUNK) {
                Ok(None) => {
                    self.peer_closed = true;
                    return Ok(false);
                }
                Ok(Some(chunk)) => {
                    self.active = true;
                    if !self.pass_on(cx, chunk) {
                        return Ok(false);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Told to stop now: close the sending side and throw away what has
    /// already arrived, so the close is a clean one, not a reset.
    fn close_gently(&mut self, cx: &mut Cx) {
        if let State::Open(t) = &mut self.state {
            let _ = t.shutdown_write();
            let mut drained = 0;
            while drained < DRAIN_ON_SHUTDOWN {
                match t.read_chunk(cx, READ_CHUNK) {
                    Ok(Some(chunk)) => drained += chunk.len(),
                    _ => break,
                }
            }
        }
    }

    fn step_open(&mut self, cx: &mut Cx) -> Step {
        if self.unregistered {
            // Readiness of an accepted socket must wake us too.
            self.unregistered = false;
            if let State::Open(t) = &mut self.state {
                if let Err(e) = t.register(cx) {
                    return self.fail_io(cx, e);
                }
            }
        }
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                self.close_gently(cx);
                return self.end(cx, Signal::Shutdown);
            }
            self.finishing = true;
        }
        if let Err(e) = self.write_some(cx) {
            return self.fail_io(cx, e);
        }
        let more = match self.read_some(cx) {
            Ok(more) => more,
            Err(e) => return self.fail_io(cx, e),
        };
        if self.peer_closed && self.held.is_none() {
            // Everything received has been passed on. A client ends once
            // what it had to send has gone out too.
            if !self.serve {
                if self.write_queue.is_empty() && self.inbox.is_empty() {
                    return self.end(cx, Signal::ProducerFinished);
                }
                return Step::Pause;
            }
            if !self.signalled {
                // Tell the protocol its input is over; keep sending.
                self.signalled = true;
                let _ = self.signal.send(Signal::ProducerFinished);
            }
            if self.write_closed {
                return self.end(cx, Signal::ProducerFinished);
            }
        }
        if let Some(idle) = self.idle_timeout {
            // One clock read per step, and one timer: it is re-armed only
            // when it fires, for the time the idle period now ends.
            let now = cx.now();
            if std::mem::take(&mut self.active) || self.last_activity.is_none() {
                self.last_activity = Some(now);
            }
            let at = self.last_activity.unwrap_or(now) + idle;
            if now >= at {
                return self.fail(cx, EndReason::TimedOut, "idle".into());
            }
            if self.deadline.deadline().is_none_or(|t| t <= now) {
                self.deadline.set(cx, at);
            }
        }
        if more {
            return Step::Yield;
        }
        Step::Pause
    }
}

impl Component for TcpClient {
    fn step(&mut self, cx: &mut Cx) -> Step {
        match &mut self.state {
            State::Start => {
                let at = cx.now() + self.connect_timeout;
                self.deadline.set(cx, at);
                match &self.target {
                    Target::Addr(a) => {
                        let a = *a;
                        self.connect_next(cx, vec![a])
                    }
                    Target::Name(host, port) => {
                        let (host, port) = (host.clone(), *port);
                        let (tx, rx) = crossbeam_channel::bounded(1);
                        let remote = cx.remote();
                        let me = cx.id();
                        let spawned = std::thread::Builder::new()
                            .name("kamaelia resolver".into())
                            .spawn(move || {
                                let r =
                                    (host.as_str(), port).to_socket_addrs().map(|a| a.collect());
                                let _ = tx.send(r);
                                remote.wake(me);
                            });
                        if let Err(e) = spawned {
                            return self.fail_io(cx, e);
                        }
                        self.state = State::Resolving(rx);
                        cx.hold_input();
                        Step::Pause
                    }
                }
            }
            State::Resolving(rx) => match rx.try_recv() {
                Ok(Ok(addrs)) if !addrs.is_empty() => self.connect_next(cx, addrs),
                Ok(Ok(_)) => self.fail(cx, EndReason::NotResolved, "no addresses".into()),
                Ok(Err(e)) => self.fail(cx, EndReason::NotResolved, e.to_string()),
                Err(_) => {
                    if self.early_control() {
                        return self.end(cx, Signal::Shutdown);
                    }
                    if self.deadline.deadline().is_some_and(|t| cx.now() >= t) {
                        return self.fail(cx, EndReason::TimedOut, "resolving timed out".into());
                    }
                    cx.hold_input();
                    Step::Pause
                }
            },
            State::Connecting { .. } => {
                if self.early_control() {
                    return self.end(cx, Signal::Shutdown);
                }
                self.step_connecting(cx)
            }
            State::Open(_) => self.step_open(cx),
            State::Done => Step::Done,
        }
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}
