//! Connected servers: [`ServerCore`] runs one protocol component per
//! connection; [`SingleServer`] wires just its first connection to its own
//! boxes.
//!
//! # ServerCore
//!
//! Listens (socket2: SO_REUSEADDR, backlog 1024 by default); a port that
//! cannot be bound is an error from [`ServerCore::bind`]. For each
//! connection it makes a [`TcpClient`] around the socket and a protocol
//! component with the factory, and links them:
//!
//! ```text
//! connection.outbox -> protocol.inbox      protocol.outbox -> connection.inbox
//! connection.signal -> protocol.control    protocol.signal -> connection.control
//! ```
//!
//! so the connection's end ends the protocol component and the other way
//! round. A protocol component with an outbox named `serversignal` (of
//! `Signal`) is linked to the server's `control`, so a protocol can stop the
//! server. Each connection gets its own pair of control outboxes, kept
//! with it (not run-time boxes of the server, whose adding and removing
//! cost grew with the number of connections). The protocol
//! component's boxes are found by name and their types checked; a
//! mismatched one is logged and that connection closed.
//!
//! | box     | carries  | meaning                                                  |
//! |---------|----------|----------------------------------------------------------|
//! | control | `Signal` | any signal stops the server: it stops listening, shuts every connection and protocol component down, waits for them, then forwards the signal |
//! | signal  | `Signal` | once, at the end                                         |
//!
//! Memory per connection is bounded both ways. Towards the client: the
//! connection's inbox holds at most [`CONNECTION_INBOX`] messages and at
//! most 48 KiB wait to be written, so a protocol that outruns a client that
//! does not read is held back within 64 KiB (for messages up to 8 KiB).
//! From the client: the protocol's inbox holds at most [`PROTOCOL_INBOX`]
//! reads of up to 16 KiB (unless the protocol set its own limit), after
//! which the connection stops reading and TCP holds the client back.
//!
//! ```no_run
//! use kamaelia::axon::{BoxSet, Component, Cx, DefaultBoxes, Scheduler, Step};
//! use kamaelia::internet::ServerCore;
//! use bytes::Bytes;
//! struct Echo(DefaultBoxes<Bytes, Bytes>);
//! impl Component for Echo {
//!     fn step(&mut self, _cx: &mut Cx) -> Step {
//!         while let Some(b) = self.0.inbox.recv() { let _ = self.0.outbox.send(b); }
//!         if let Some(s) = self.0.control.recv() { let _ = self.0.signal.send(s); return Step::Done; }
//!         Step::Pause
//!     }
//!     fn boxes(&self, set: &mut BoxSet) { self.0.list(set) }
//! }
//! let server = ServerCore::bind("127.0.0.1:1500".parse().unwrap(), |_info| {
//!     Box::new(Echo(DefaultBoxes::new())) as Box<dyn Component>
//! }).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(server);
//! s.run();
//! ```

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

use crate::axon::{
    link, link_refs, BoxRef, BoxSet, Component, Cx, Id, Inbox, Outbox, Signal, Step,
};

use super::tcp_client::TcpClient;
use super::transport::{Acceptor, TcpAcceptor, DEFAULT_BACKLOG};

/// Messages a connection's inbox holds before its protocol is held back.
/// With the connection's 48 KiB write buffer this keeps what waits for a
/// client that does not read within 64 KiB (messages up to 8 KiB).
pub const CONNECTION_INBOX: usize = 2;
/// Chunks a protocol component's inbox holds (when it set no limit of its
/// own) before its connection stops reading: at most 4 reads of 16 KiB
/// (64 KiB) wait for a protocol slower than its client, after which TCP
/// holds the client back. (A protocol that keeps up is handed off to when
/// its inbox fills, so a small limit costs it nothing.)
pub const PROTOCOL_INBOX: usize = 4;
/// Connections accepted per step before others get a turn (by
/// `ServerCore` and `SingleServer`): a flood of connections holds up
/// timers, sockets and other components by one step of at most this many
/// accepts at a time.
const ACCEPTS_PER_STEP: usize = 64;

/// What a protocol factory is told about a new connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    /// The client's address.
    pub peer: Option<SocketAddr>,
    /// The server's address for this connection.
    pub local: Option<SocketAddr>,
    /// 1 for the first connection accepted, and so on.
    pub number: u64,
}

type Factory = Box<dyn FnMut(&ConnInfo) -> Box<dyn Component>>;

struct Conn {
    conn: Id,
    handler: Id,
    to_conn: Outbox<Signal>,
    to_handler: Outbox<Signal>,
    alive: u8,
}

/// A server running one protocol component per connection; see the
/// module documentation.
pub struct ServerCore {
    /// Stops the server.
    pub control: Inbox<Signal>,
    /// Sent once, at the end.
    pub signal: Outbox<Signal>,
    acceptor: Box<dyn Acceptor>,
    factory: Factory,
    conns: BTreeMap<u64, Conn>,
    by_child: BTreeMap<Id, u64>,
    idle_timeout: Option<Duration>,
    registered: bool,
    stopping: Option<Signal>,
    accepted: u64,
}

impl ServerCore {
    /// Listens on `addr` (port 0 picks a free port) with the default
    /// backlog; `factory` makes a protocol component per connection.
    pub fn bind(
        addr: SocketAddr,
        factory: impl FnMut(&ConnInfo) -> Box<dyn Component> + 'static,
    ) -> io::Result<Self> {
        Self::bind_with_backlog(addr, DEFAULT_BACKLOG, factory)
    }

    /// Like [`ServerCore::bind`] with a chosen listen backlog.
    pub fn bind_with_backlog(
        addr: SocketAddr,
        backlog: i32,
        factory: impl FnMut(&ConnInfo) -> Box<dyn Component> + 'static,
    ) -> io::Result<Self> {
        let acceptor = TcpAcceptor::bind(addr, backlog)?;
        Ok(Self::with_acceptor(Box::new(acceptor), factory))
    }

    /// A server taking its connections from `acceptor` (tests pass a
    /// scripted one).
    pub fn with_acceptor(
        acceptor: Box<dyn Acceptor>,
        factory: impl FnMut(&ConnInfo) -> Box<dyn Component> + 'static,
    ) -> Self {
        ServerCore {
            control: Inbox::control(),
            signal: Outbox::signal(),
            acceptor,
            factory: Box::new(factory),
            conns: BTreeMap::new(),
            by_child: BTreeMap::new(),
            idle_timeout: None,
            registered: false,
            stopping: None,
            accepted: 0,
        }
    }

    /// A server whose protocol components are made without looking at the
    /// connection (Kamaelia's SimpleServer).
    pub fn simple(
        addr: SocketAddr,
        mut make: impl FnMut() -> Box<dyn Component> + 'static,
    ) -> io::Result<Self> {
        Self::bind(addr, move |_| make())
    }

    /// Ends a connection (reason `TimedOut`) after `d` with no traffic.
    pub fn idle_timeout(mut self, d: Option<Duration>) -> Self {
        self.idle_timeout = d;
        self
    }

    /// The address listened on.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.acceptor.local_addr()
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    fn open(&mut self, cx: &mut Cx, transport: Box<dyn super::Transport>) {
        self.accepted += 1;
        let info = ConnInfo {
            peer: transport.peer(),
            local: transport.local(),
            number: self.accepted,
        };
        let client = TcpClient::from_transport(transport).idle_timeout(self.idle_timeout);
        client.inbox.set_limit(Some(CONNECTION_INBOX));
        let handler = (self.factory)(&info);
        let mut set = BoxSet::default();
        handler.boxes(&mut set);
        let find = |name: &str| set.find(name).cloned();
        // Plain outboxes kept with the connection, not run-time boxes of
        // the server: adding and removing those cost time that grew with
        // the number of connections open (a close with 8,000 idle
        // connections took 3.6 times as long as with none).
        let to_conn: Outbox<Signal> = Outbox::new("_conn", "shutdown for one connection");
        let to_handler: Outbox<Signal> =
            Outbox::new("_handler", "shutdown for one protocol component");
        let mut links: Vec<(BoxRef, BoxRef)> = Vec::new();
        if let Some(b) = find("inbox") {
            if b.limit().is_none() {
                b.set_limit(Some(PROTOCOL_INBOX));
            }
            links.push((client.outbox.erased(), b));
        }
        if let Some(b) = find("outbox") {
            links.push((b, client.inbox.erased()));
        }
        if let Some(b) = find("signal") {
            links.push((b, client.control.erased()));
        }
        if let Some(b) = find("control") {
            links.push((client.signal.erased(), b.clone()));
            links.push((to_handler.erased(), b));
        }
        if let Some(b) = find("serversignal") {
            links.push((b, self.control.erased()));
        }
        let mut ok = link(&to_conn, &client.control).is_ok();
        for (a, b) in &links {
            if let Err(e) = link_refs(a, b) {
                log::error!("server: protocol {} cannot be linked: {e}", handler.name());
                ok = false;
            }
        }
        if !ok {
            return; // dropping the client closes the socket
        }
        let conn = cx.spawn_child(client);
        let handler = cx.spawn_child_boxed(handler);
        let key = self.accepted;
        self.by_child.insert(conn, key);
        self.by_child.insert(handler, key);
        self.conns.insert(
            key,
            Conn {
                conn,
                handler,
                to_conn,
                to_handler,
                alive: 2,
            },
        );
    }

    fn stop_all(&mut self, cx: &mut Cx) {
        self.acceptor.close(cx);
        for c in self.conns.values() {
            let _ = c.to_conn.send(Signal::Shutdown);
            let _ = c.to_handler.send(Signal::Shutdown);
        }
    }
}

impl Component for ServerCore {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if !self.registered {
            self.registered = true;
            if let Err(e) = self.acceptor.register(cx) {
                let _ = self.signal.send(Signal::failed(e));
                return Step::Done;
            }
        }
        while let Some(sig) = self.control.recv() {
            if self.stopping.is_none() {
                self.stopping = Some(sig);
                self.stop_all(cx);
            }
        }
        while let Some(exit) = cx.next_exit() {
            let Some(key) = self.by_child.remove(&exit.id) else {
                continue;
            };
            let done = match self.conns.get_mut(&key) {
                Some(c) => {
                    c.alive -= 1;
                    // One half of the pair ended: the other follows. A
                    // protocol whose connection is gone stops (a source
                    // would otherwise stream into nothing); a connection
                    // whose protocol ended sends what it has and closes.
                    if exit.id == c.conn && cx.is_alive(c.handler) {
                        let _ = c.to_handler.send(Signal::Shutdown);
                    } else if exit.id == c.handler && cx.is_alive(c.conn) {
                        let _ = c.to_conn.send(Signal::ProducerFinished);
                    }
                    c.alive == 0
                }
                None => false,
            };
            if done {
                let c = self.conns.remove(&key).expect("present");
                debug_assert!(!cx.is_alive(c.conn) && !cx.is_alive(c.handler));
            }
        }
        if let Some(sig) = &self.stopping {
            if self.conns.is_empty() {
                let _ = self.signal.send(sig.clone());
                return Step::Done;
            }
            return Step::Pause;
        }
        for _ in 0..ACCEPTS_PER_STEP {
            match self.acceptor.accept(cx) {
                Ok(Some(t)) => self.open(cx, t),
                Ok(None) => return Step::Pause,
                Err(e) => {
                    // Out of descriptors and the like: try again shortly
                    // rather than spin.
                    log::warn!("server: accept failed: {e}");
                    cx.wake_after(Duration::from_millis(10));
                    return Step::Pause;
                }
            }
        }
        Step::Yield
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.control).add(&self.signal);
    }
}

/// A server for exactly one client (Kamaelia's SingleServer): its `inbox`
/// is written to the first client that connects (what was sent before it
/// connected included), what that client sends comes out of its `outbox`.
/// Later connections are closed at once.
///
/// Fairness: it accepts at most 64 connections per step, then yields, so a
/// flood of connections holds up timers, sockets and other components by
/// one step of at most 64 accepts at a time (`ServerCore` likewise).
///
/// | box     | carries  | meaning                                                  |
/// |---------|----------|----------------------------------------------------------|
/// | inbox   | `Bytes`  | written to the client                                    |
/// | control | `Signal` | shutdown: close and end; producer finished: send what is queued (to the client, once one has come), then close |
/// | outbox  | `Bytes`  | what the client sent                                     |
/// | signal  | `Signal` | once, when the client has gone (producer finished) or on shutdown |
pub struct SingleServer {
    /// Bytes for the client.
    pub inbox: Inbox<Bytes>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Bytes from the client.
    pub outbox: Outbox<Bytes>,
    /// Sent once, at the end.
    pub signal: Outbox<Signal>,
    to_conn: Outbox<Signal>,
    acceptor: Box<dyn Acceptor>,
    client: Option<Id>,
    registered: bool,
    ending: Option<Signal>,
}

impl SingleServer {
    /// Listens on `addr` now; an address that cannot be bound is an error.
    pub fn bind(addr: SocketAddr) -> io::Result<Self> {
        Ok(Self::with_acceptor(Box::new(TcpAcceptor::bind(
            addr,
            DEFAULT_BACKLOG,
        )?)))
    }

    /// A single server taking its connection from `acceptor`.
    pub fn with_acceptor(acceptor: Box<dyn Acceptor>) -> Self {
        SingleServer {
            inbox: Inbox::new("inbox", "bytes for the client"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "bytes from the client"),
            signal: Outbox::signal(),
            to_conn: Outbox::new("_conn", "signals for the connection"),
            acceptor,
            client: None,
            registered: false,
            ending: None,
        }
    }

    /// The address listened on.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.acceptor.local_addr()
    }
}

impl Component for SingleServer {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if !self.registered {
            self.registered = true;
            if let Err(e) = self.acceptor.register(cx) {
                let _ = self.signal.send(Signal::failed(e));
                return Step::Done;
            }
        }
        while let Some(sig) = self.control.recv() {
            if self.client.is_some() {
                let _ = self.to_conn.send(sig.clone());
            }
            if self.ending.is_none() {
                self.ending = Some(sig);
            }
        }
        if cx.next_exit().is_some() {
            // The client has gone (it passed on everything it read).
            self.acceptor.close(cx);
            let sig = match self.ending.take() {
                Some(s) if s.is_shutdown() => s,
                _ => Signal::ProducerFinished,
            };
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        if self.client.is_none() && self.ending.as_ref().is_some_and(Signal::is_shutdown) {
            self.acceptor.close(cx);
            let _ = self.signal.send(Signal::Shutdown);
            return Step::Done;
        }
        for _ in 0..ACCEPTS_PER_STEP {
            match self.acceptor.accept(cx) {
                Ok(Some(t)) if self.client.is_none() => {
                    let client = TcpClient::from_transport(t);
                    let wired = link(&self.inbox, &client.inbox)
                        .and_then(|_| link(&client.outbox, &self.outbox))
                        .and_then(|_| link(&self.to_conn, &client.control));
                    if let Err(e) = wired {
                        log::error!("single server: {e}");
                        continue;
                    }
                    self.client = Some(cx.spawn_child(client));
                    if let Some(sig) = self.ending.clone() {
                        // Told to finish before anyone came: what was queued
                        // goes to this client, then the connection closes.
                        let _ = self.to_conn.send(sig);
                    }
                }
                Ok(Some(t)) => drop(t), // only one client: close the others
                Ok(None) => {
                    // Input waits for the client (it moves over when it
                    // connects).
                    cx.hold_input();
                    return Step::Pause;
                }
                Err(e) => {
                    log::warn!("single server: accept failed: {e}");
                    cx.wake_after(Duration::from_millis(10));
                    cx.hold_input();
                    return Step::Pause;
                }
            }
        }
        // More may be waiting: the others get their turn first.
        cx.hold_input();
        Step::Yield
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal, self.to_conn);
    }
}
