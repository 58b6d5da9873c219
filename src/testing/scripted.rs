//! Scripted connections: stand-ins for sockets, so protocol code is tested
//! step by step without a network, and made to fail at any chosen step.
//!
//! A [`ScriptedConn`] plays the peer: it hands the reader the chunks it was
//! given (then end of stream, or an error), records what is written, and
//! counts every operation (connect check, read, write, close of the sending
//! side). [`Fault`] makes operation number `n` fail: refused, reset, a
//! short write, or a would-block after which the conversation goes on. A
//! test can walk `n` over every operation of a conversation and check that
//! each run ends the right way (see `tests/net_tcp_faults.rs`).
//!
//! ```
//! use kamaelia::testing::scripted::{ScriptedConn, Fault};
//! let conn = ScriptedConn::new().reply(b"hello").eof().fault_at(2, Fault::Reset);
//! let log = conn.log();
//! # drop(conn); drop(log);
//! ```

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

use crate::axon::Cx;
use crate::internet::{Acceptor, Connector, Transport};

/// A failure injected at one operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The operation fails with "connection refused".
    Refused,
    /// The operation fails with "connection reset".
    Reset,
    /// A write takes only one byte (not a failure: the writer must go on).
    ShortWrite,
    /// The operation would block; readiness comes back at once.
    WouldBlock,
}

enum Incoming {
    Data(Vec<u8>),
    Eof,
    Error(io::ErrorKind),
}

/// What a scripted connection saw, shared with the test.
#[derive(Default, Debug, Clone)]
pub struct ConnLog {
    /// Every byte written to it, in order.
    pub written: Vec<u8>,
    /// Operations performed (connect checks, reads, writes, closes).
    pub ops: usize,
    /// Whether the sending side was closed.
    pub write_closed: bool,
    /// Whether it was dropped (the connection closed).
    pub dropped: bool,
}

/// A scripted peer; see the module documentation.
pub struct ScriptedConn {
    incoming: VecDeque<Incoming>,
    connect_polls: usize,
    fault: Option<(usize, Fault)>,
    log: Rc<RefCell<ConnLog>>,
    peer: SocketAddr,
    stalled: bool,
}

impl Default for ScriptedConn {
    fn default() -> Self {
        Self::new()
    }
}

impl ScriptedConn {
    /// A peer that accepts the connection at the first check and says
    /// nothing (reads would block) until scripted otherwise.
    pub fn new() -> Self {
        ScriptedConn {
            incoming: VecDeque::new(),
            connect_polls: 0,
            fault: None,
            log: Rc::new(RefCell::new(ConnLog::default())),
            peer: "127.0.0.1:9".parse().expect("literal address"),
            stalled: false,
        }
    }

    /// The peer sends `data` (one read's worth).
    pub fn reply(mut self, data: &[u8]) -> Self {
        self.incoming.push_back(Incoming::Data(data.to_vec()));
        self
    }

    /// Then the peer closes its side.
    pub fn eof(mut self) -> Self {
        self.incoming.push_back(Incoming::Eof);
        self
    }

    /// Then reading fails with `kind`.
    pub fn read_error(mut self, kind: io::ErrorKind) -> Self {
        self.incoming.push_back(Incoming::Error(kind));
        self
    }

    /// The connect check says "still connecting" `n` times first, 1 ms of
    /// scheduler time apart; `usize::MAX`: it never connects.
    pub fn slow_connect(mut self, n: usize) -> Self {
        self.connect_polls = n;
        self
    }

    /// The peer never reads: every write would block (and nothing ever
    /// says it can go on), as with a client that stopped reading.
    pub fn stalled_writes(mut self) -> Self {
        self.stalled = true;
        self
    }

    /// Operation number `n` (from 1) meets `fault`.
    pub fn fault_at(mut self, n: usize, fault: Fault) -> Self {
        self.fault = Some((n, fault));
        self
    }

    /// The record of what happened, readable after the run.
    pub fn log(&self) -> Rc<RefCell<ConnLog>> {
        self.log.clone()
    }

    /// Counts an operation and returns the fault due at it, if any.
    fn op(&mut self) -> Option<Fault> {
        let mut log = self.log.borrow_mut();
        log.ops += 1;
        match self.fault {
            Some((n, f)) if n == log.ops => Some(f),
            _ => None,
        }
    }

    fn fault_error(cx: &mut Cx, f: Fault) -> Option<io::Error> {
        match f {
            Fault::Refused => Some(io::ErrorKind::ConnectionRefused.into()),
            Fault::Reset => Some(io::ErrorKind::ConnectionReset.into()),
            Fault::WouldBlock => {
                // Readiness comes back: run the component again.
                let me = cx.id();
                cx.wake(me);
                Some(io::ErrorKind::WouldBlock.into())
            }
            Fault::ShortWrite => None,
        }
    }
}

impl Drop for ScriptedConn {
    fn drop(&mut self) {
        self.log.borrow_mut().dropped = true;
    }
}

impl Transport for ScriptedConn {
    fn register(&mut self, _cx: &mut Cx) -> io::Result<()> {
        Ok(())
    }

    fn deregister(&mut self, _cx: &mut Cx) {}

    fn poll_connect(&mut self, cx: &mut Cx) -> io::Result<bool> {
        if let Some(e) = self.op().and_then(|f| Self::fault_error(cx, f)) {
            if e.kind() == io::ErrorKind::WouldBlock {
                return Ok(false);
            }
            return Err(e);
        }
        if self.connect_polls == usize::MAX {
            // Never connects, and no event ever says otherwise: only a
            // time-out ends the wait.
            return Ok(false);
        }
        if self.connect_polls > 0 {
            self.connect_polls -= 1;
            // The connect completes a little later (1 ms of scheduler time).
            cx.wake_after(std::time::Duration::from_millis(1));
            return Ok(false);
        }
        Ok(true)
    }

    fn read(&mut self, cx: &mut Cx, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(e) = self.op().and_then(|f| Self::fault_error(cx, f)) {
            return Err(e);
        }
        match self.incoming.front_mut() {
            None => Err(io::ErrorKind::WouldBlock.into()),
            Some(Incoming::Eof) => Ok(0),
            Some(Incoming::Error(k)) => Err((*k).into()),
            Some(Incoming::Data(d)) => {
                let n = d.len().min(buf.len());
                buf[..n].copy_from_slice(&d[..n]);
                d.drain(..n);
                if d.is_empty() {
                    self.incoming.pop_front();
                }
                Ok(n)
            }
        }
    }

    fn write(&mut self, cx: &mut Cx, buf: &[u8]) -> io::Result<usize> {
        let fault = self.op();
        if let Some(e) = fault.and_then(|f| Self::fault_error(cx, f)) {
            return Err(e);
        }
        if self.stalled {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = if fault == Some(Fault::ShortWrite) {
            buf.len().min(1)
        } else {
            buf.len()
        };
        self.log.borrow_mut().written.extend_from_slice(&buf[..n]);
        if n < buf.len() {
            // The rest can go at the next chance.
            let me = cx.id();
            cx.wake(me);
        }
        Ok(n)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        match self.op() {
            Some(Fault::Refused) => return Err(io::ErrorKind::ConnectionRefused.into()),
            Some(Fault::Reset) => return Err(io::ErrorKind::ConnectionReset.into()),
            _ => {}
        }
        self.log.borrow_mut().write_closed = true;
        Ok(())
    }

    fn peer(&self) -> Option<SocketAddr> {
        Some(self.peer)
    }

    fn local(&self) -> Option<SocketAddr> {
        None
    }
}

/// A connector that hands out the given scripted connections in order (and
/// refuses once they run out).
pub fn scripted_connector(conns: Vec<ScriptedConn>) -> Connector {
    let mut conns: VecDeque<ScriptedConn> = conns.into();
    Box::new(move |_addr| match conns.pop_front() {
        Some(c) => Ok(Box::new(c) as Box<dyn Transport>),
        None => Err(io::ErrorKind::ConnectionRefused.into()),
    })
}

/// An acceptor whose "clients" are scripted connections a test queues, at
/// the start or while running.
#[derive(Clone, Default)]
pub struct ScriptedAcceptor {
    queue: Rc<RefCell<VecDeque<ScriptedConn>>>,
    closed: Rc<RefCell<bool>>,
}

impl ScriptedAcceptor {
    /// No clients yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a client; the server picks it up when it next runs.
    pub fn connect(&self, conn: ScriptedConn) {
        self.queue.borrow_mut().push_back(conn);
    }

    /// Whether the server closed its listener.
    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }
}

impl Acceptor for ScriptedAcceptor {
    fn register(&mut self, _cx: &mut Cx) -> io::Result<()> {
        Ok(())
    }

    fn close(&mut self, _cx: &mut Cx) {
        *self.closed.borrow_mut() = true;
    }

    fn accept(&mut self, _cx: &mut Cx) -> io::Result<Option<Box<dyn Transport>>> {
        if *self.closed.borrow() {
            return Ok(None);
        }
        Ok(self
            .queue
            .borrow_mut()
            .pop_front()
            .map(|c| Box::new(c) as Box<dyn Transport>))
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        None
    }
}
