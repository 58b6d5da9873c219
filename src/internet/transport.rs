//! The thing that makes and carries a connection, as a parameter.
//!
//! The TCP client and servers do not open sockets themselves: they ask a
//! [`Connector`] (client) or an [`Acceptor`] (server) for [`Transport`]s.
//! The real ones wrap `mio` TCP sockets; `kamaelia::testing::scripted`
//! provides scripted ones, so a test can replace the network with a script
//! that fails at any chosen step (the seeds' "sub-component factories for
//! flexibility and testing").

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};

use std::cell::RefCell;

use bytes::{Bytes, BytesMut};
use mio::{Interest, Token};

thread_local! {
    /// One read buffer per thread for `Transport::read_chunk`'s default.
    static READ_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

thread_local! {
    /// Room for `TcpTransport` reads on this thread, shared by all its
    /// sockets; see [`ReadRoom`].
    static READ_ROOM: RefCell<ReadRoom> = RefCell::new(ReadRoom::default());
}

/// Size of each read buffer (at least a read's `max`): a chunk kept long
/// keeps at most this much memory alive with it, as when each read had a
/// buffer of its own.
const READ_ROOM_SIZE: usize = 16 * 1024;
/// A read goes into what is left of the buffer (less than `max`, maybe)
/// while at least this much is.
const MIN_ROOM: usize = 4 * 1024;
/// Buffers set aside while chunks cut from them are still alive, to be
/// taken back when they are gone.
const SPARE_ROOMS: usize = 8;

/// Read buffers. Each read takes the bytes it got off the front of `room`
/// as a chunk of their own (no copy, no allocation), so small reads share
/// a buffer. When less than [`MIN_ROOM`] is left, the whole buffer is
/// taken back if every chunk cut from it has been dropped (no
/// allocation); if not, it is set aside (up to [`SPARE_ROOMS`] of them;
/// beyond that the oldest is let go, freed when its last chunk is) and a
/// set-aside buffer whose chunks are all gone takes its place, or else a
/// new one. So reads allocate nothing once the buffers a thread needs
/// exist, whether chunks are dropped at once (an echo) or a few reads
/// later (a protocol's inbox holding some); and a big read fills a buffer
/// of its own, so what a slow protocol holds keeps no more memory alive
/// than it holds.
#[derive(Default)]
struct ReadRoom {
    room: BytesMut,
    /// `room` is a buffer made here (not the empty one it starts as).
    made: bool,
    spare: std::collections::VecDeque<BytesMut>,
}

impl ReadRoom {
    /// Room for a read at `self.room`'s front; returns how much (at most
    /// `max`, at least `MIN_ROOM` or `max` if less).
    fn make_room(&mut self, max: usize) -> usize {
        let want = max.min(MIN_ROOM);
        let size = max.max(READ_ROOM_SIZE);
        if self.room.capacity() < want && !self.room.try_reclaim(size) {
            let free = (0..self.spare.len()).find(|&i| self.spare[i].try_reclaim(size));
            let next = match free {
                Some(i) => self.spare.remove(i).expect("in range"),
                None => BytesMut::with_capacity(size),
            };
            let old = std::mem::replace(&mut self.room, next);
            if std::mem::replace(&mut self.made, true) {
                if self.spare.len() == SPARE_ROOMS {
                    self.spare.pop_front();
                }
                self.spare.push_back(old);
            }
        }
        self.room.capacity().min(max)
    }
}

use crate::axon::Cx;

/// A byte stream the connection components read and write.
pub trait Transport {
    /// Registers with the scheduler, so readiness wakes the component.
    fn register(&mut self, cx: &mut Cx) -> io::Result<()>;
    /// Deregisters (also done by dropping, for sockets).
    fn deregister(&mut self, cx: &mut Cx);
    /// Whether a connection being made has been made: `Ok(false)` while
    /// still pending, `Err` if it failed.
    fn poll_connect(&mut self, cx: &mut Cx) -> io::Result<bool>;
    /// Reads what has arrived; `Ok(0)` is the peer's end of stream.
    fn read(&mut self, cx: &mut Cx, buf: &mut [u8]) -> io::Result<usize>;
    /// Reads what has arrived (up to `max` bytes) as a chunk of its own;
    /// `Ok(None)` is the peer's end of stream. The default reads into a
    /// per-thread buffer and copies out what arrived; a socket reads
    /// straight into the chunk.
    fn read_chunk(&mut self, cx: &mut Cx, max: usize) -> io::Result<Option<Bytes>> {
        READ_BUF.with_borrow_mut(|buf| {
            if buf.len() < max {
                buf.resize(max, 0);
            }
            let n = self.read(cx, &mut buf[..max])?;
            Ok((n > 0).then(|| Bytes::copy_from_slice(&buf[..n])))
        })
    }
    /// Reads what has arrived into memory not yet initialised; returns
    /// how many bytes it wrote at the start of `buf` (`Ok(0)`: the peer's
    /// end of stream). The default zero-fills `buf` and calls `read`; a
    /// socket `recv`s straight into it.
    fn read_uninit(
        &mut self,
        cx: &mut Cx,
        buf: &mut [std::mem::MaybeUninit<u8>],
    ) -> io::Result<usize> {
        buf.fill(std::mem::MaybeUninit::new(0));
        // SAFETY: every byte of `buf` was just initialised, and
        // `MaybeUninit<u8>` has the layout of `u8`.
        let init =
            unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<u8>(), buf.len()) };
        let n = self.read(cx, init)?;
        Ok(n.min(init.len()))
    }
    /// Whether a read may find something. False only when the transport
    /// knows that nothing has arrived since a read would block: a socket
    /// on the edge-triggered poll that has seen no readiness since. The
    /// default (a transport that cannot tell) is always true.
    fn read_ready(&mut self, _cx: &mut Cx) -> bool {
        true
    }
    /// Writes what the kernel takes now (maybe less than `buf`).
    fn write(&mut self, cx: &mut Cx, buf: &[u8]) -> io::Result<usize>;
    /// Writes what the kernel takes now of `bufs`, in order, as one write
    /// (maybe less than all). The default writes the first non-empty one;
    /// a socket writes them all in one `writev`.
    fn write_vectored(&mut self, cx: &mut Cx, bufs: &[io::IoSlice]) -> io::Result<usize> {
        match bufs.iter().find(|b| !b.is_empty()) {
            Some(b) => self.write(cx, b),
            None => Ok(0),
        }
    }
    /// The connection's smoothed round-trip time, where the transport can
    /// tell (a TCP socket on Linux: `TCP_INFO`); `None` by default.
    fn round_trip(&self) -> Option<std::time::Duration> {
        None
    }
    /// Closes the sending direction (the peer sees end of stream).
    fn shutdown_write(&mut self) -> io::Result<()>;
    /// The peer's address, when known.
    fn peer(&self) -> Option<SocketAddr>;
    /// The local address, when known.
    fn local(&self) -> Option<SocketAddr>;
}

/// Makes client connections: called with each address to try.
pub type Connector = Box<dyn FnMut(SocketAddr) -> io::Result<Box<dyn Transport>>>;

/// The real connector: a non-blocking `mio` TCP connect.
pub fn tcp_connector() -> Connector {
    Box::new(|addr| {
        let stream = mio::net::TcpStream::connect(addr)?;
        Ok(Box::new(TcpTransport::new(stream, true)) as Box<dyn Transport>)
    })
}

/// Accepts server connections.
pub trait Acceptor {
    /// Registers with the scheduler, so new connections wake the server.
    fn register(&mut self, cx: &mut Cx) -> io::Result<()>;
    /// Deregisters and stops listening.
    fn close(&mut self, cx: &mut Cx);
    /// The next waiting connection, if any (`Ok(None)`: none for now).
    fn accept(&mut self, cx: &mut Cx) -> io::Result<Option<Box<dyn Transport>>>;
    /// The address listened on.
    fn local_addr(&self) -> Option<SocketAddr>;
}

/// A TCP socket on the scheduler's poll.
pub struct TcpTransport {
    stream: mio::net::TcpStream,
    token: Option<Token>,
    connecting: bool,
    /// A read would block and the poll has reported no readiness since.
    drained: bool,
    /// The poll has reported that the peer closed its side (or an error):
    /// from then on only a read that finds the end, or fails, tells that
    /// the socket is drained.
    peer_closed: bool,
    /// The addresses, when known without asking the kernel (an accepted
    /// connection: its peer from `accept`, its local address from a
    /// listener bound to one IP).
    peer: Option<SocketAddr>,
    local: Option<SocketAddr>,
}

impl TcpTransport {
    /// Wraps a stream; `connecting` if its connect has not completed.
    pub fn new(stream: mio::net::TcpStream, connecting: bool) -> Self {
        let _ = stream.set_nodelay(true);
        TcpTransport {
            stream,
            token: None,
            connecting,
            drained: false,
            peer_closed: false,
            peer: None,
            local: None,
        }
    }

    /// An accepted connection whose addresses are already known.
    pub fn accepted(
        stream: mio::net::TcpStream,
        peer: SocketAddr,
        local: Option<SocketAddr>,
    ) -> Self {
        TcpTransport {
            peer: Some(peer),
            local,
            ..TcpTransport::new(stream, false)
        }
    }
}

impl TcpTransport {
    /// After a read: one that would block marks the socket drained and
    /// clears the readiness recorded so far. That is safe because the poll
    /// records readiness only between steps, so all of it came before this
    /// read, which found nothing; what arrives after it is reported anew.
    fn note_read<T>(&mut self, cx: &mut Cx, r: &io::Result<T>) {
        if let Err(e) = r {
            if e.kind() == io::ErrorKind::WouldBlock {
                self.drained = true;
                if let Some(token) = self.token {
                    self.take_readiness(cx, token);
                }
            }
        }
    }

    /// After a read of `n` bytes into room for `max`: a short read of a
    /// stream socket took everything queued, so the socket is drained as
    /// if the next read had said it would block, and that read (a system
    /// call per request of a request-response protocol) is saved. Unless
    /// the readiness recorded so far says the peer closed or failed: then
    /// the next read must run to see the end.
    fn note_short_read(&mut self, cx: &mut Cx, n: usize, max: usize) {
        if n == 0 || n >= max {
            return;
        }
        let Some(token) = self.token else {
            return;
        };
        self.take_readiness(cx, token);
        self.drained = !self.peer_closed;
    }

    /// The readiness recorded since the last call, noting a peer's close.
    fn take_readiness(&mut self, cx: &mut Cx, token: Token) -> crate::axon::Readiness {
        let r = cx.readiness(token);
        self.peer_closed |= r.closed || r.read_closed;
        r
    }
}

impl Transport for TcpTransport {
    fn register(&mut self, cx: &mut Cx) -> io::Result<()> {
        if self.token.is_none() {
            self.token =
                Some(cx.register(&mut self.stream, Interest::READABLE | Interest::WRITABLE)?);
        }
        Ok(())
    }

    fn deregister(&mut self, cx: &mut Cx) {
        if let Some(t) = self.token.take() {
            let _ = cx.deregister(&mut self.stream, t);
        }
    }

    fn poll_connect(&mut self, _cx: &mut Cx) -> io::Result<bool> {
        if !self.connecting {
            return Ok(true);
        }
        // mio: after a writable event, a pending error or a peer address
        // tells how the connect went.
        if let Some(e) = self.stream.take_error()? {
            return Err(e);
        }
        match self.stream.peer_addr() {
            Ok(_) => {
                self.connecting = false;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) if e.raw_os_error() == Some(115) => Ok(false), // EINPROGRESS
            Err(e) => Err(e),
        }
    }

    fn read(&mut self, cx: &mut Cx, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.stream.read(buf);
        self.note_read(cx, &r);
        r
    }

    fn read_uninit(
        &mut self,
        cx: &mut Cx,
        buf: &mut [std::mem::MaybeUninit<u8>],
    ) -> io::Result<usize> {
        let max = buf.len();
        let r = loop {
            match socket2::SockRef::from(&self.stream).recv(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r,
            }
        };
        self.note_read(cx, &r);
        if let Ok(n) = r {
            self.note_short_read(cx, n, max);
        }
        r
    }

    fn read_ready(&mut self, cx: &mut Cx) -> bool {
        if !self.drained {
            return true;
        }
        let Some(token) = self.token else {
            return true; // not on the poll: nothing would tell us
        };
        // Readiness recorded since the read that would block: with
        // edge-triggered readiness, new data (or the peer's close, or an
        // error) after that read is reported by the next poll.
        let r = self.take_readiness(cx, token);
        if r.readable || r.closed {
            self.drained = false;
        }
        !self.drained
    }

    fn write(&mut self, _cx: &mut Cx, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn write_vectored(&mut self, _cx: &mut Cx, bufs: &[io::IoSlice]) -> io::Result<usize> {
        self.stream.write_vectored(bufs)
    }

    #[cfg(target_os = "linux")]
    fn round_trip(&self) -> Option<std::time::Duration> {
        use std::os::fd::AsRawFd;
        // SAFETY: `tcp_info` is plain data, zeroed is a valid value, and
        // the kernel writes at most `len` bytes of it.
        let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        // SAFETY: a valid socket, and `info`/`len` describe writable
        // memory of the size given.
        let r = unsafe {
            libc::getsockopt(
                self.stream.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                (&mut info as *mut libc::tcp_info).cast(),
                &mut len,
            )
        };
        (r == 0 && info.tcpi_rtt > 0)
            .then(|| std::time::Duration::from_micros(u64::from(info.tcpi_rtt)))
    }

    fn read_chunk(&mut self, cx: &mut Cx, max: usize) -> io::Result<Option<Bytes>> {
        READ_ROOM.with_borrow_mut(|rooms| {
            let max = rooms.make_room(max);
            let room = &mut rooms.room;
            // Never zero-filled: `recv` writes into it.
            let into = &mut room.spare_capacity_mut()[..max];
            let n = loop {
                match socket2::SockRef::from(&self.stream).recv(into) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => {
                        self.note_read(cx, &r);
                        break r?;
                    }
                }
            };
            if n == 0 {
                return Ok(None);
            }
            self.note_short_read(cx, n, max);
            // SAFETY: `recv` initialised the first `n` bytes of the room,
            // and `room` is empty (every read splits off what it got).
            unsafe { room.set_len(n) };
            Ok(Some(room.split().freeze()))
        })
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Write)
    }

    fn peer(&self) -> Option<SocketAddr> {
        self.peer.or_else(|| self.stream.peer_addr().ok())
    }

    fn local(&self) -> Option<SocketAddr> {
        self.local.or_else(|| self.stream.local_addr().ok())
    }
}

/// A listening TCP socket made with socket2 (SO_REUSEADDR, a chosen
/// backlog), on the scheduler's poll.
pub struct TcpAcceptor {
    listener: Option<mio::net::TcpListener>,
    token: Option<Token>,
    local: SocketAddr,
    /// An accept would block and the poll has reported no readiness
    /// since: the next accept is not tried. A failed `accept` is not free
    /// (the kernel makes and frees a socket for it), and a component that
    /// accepts on every step would otherwise pay one each step.
    drained: bool,
}

/// Default listen backlog.
pub const DEFAULT_BACKLOG: i32 = 1024;

impl TcpAcceptor {
    /// Binds and listens now, so a port that cannot be bound is an error
    /// here, when the server is built.
    pub fn bind(addr: SocketAddr, backlog: i32) -> io::Result<Self> {
        use socket2::{Domain, Protocol, Socket, Type};
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(backlog)?;
        let std: std::net::TcpListener = socket.into();
        let local = std.local_addr()?;
        Ok(TcpAcceptor {
            listener: Some(mio::net::TcpListener::from_std(std)),
            token: None,
            local,
            drained: false,
        })
    }
}

impl Acceptor for TcpAcceptor {
    fn register(&mut self, cx: &mut Cx) -> io::Result<()> {
        if let (Some(l), None) = (self.listener.as_mut(), self.token) {
            self.token = Some(cx.register(l, Interest::READABLE)?);
        }
        Ok(())
    }

    fn close(&mut self, cx: &mut Cx) {
        if let (Some(mut l), Some(t)) = (self.listener.take(), self.token.take()) {
            let _ = cx.deregister(&mut l, t);
        }
        self.listener = None;
    }

    fn accept(&mut self, cx: &mut Cx) -> io::Result<Option<Box<dyn Transport>>> {
        let Some(l) = self.listener.as_ref() else {
            return Ok(None);
        };
        if let (true, Some(token)) = (self.drained, self.token) {
            // As for a stream's reads: readiness is recorded only between
            // steps, and a connection that came after the accept that
            // would block is reported by the next poll (edge-triggered).
            let r = cx.readiness(token);
            if !(r.readable || r.closed) {
                return Ok(None);
            }
            self.drained = false;
        }
        match l.accept() {
            Ok((stream, peer)) => {
                // A listener on one IP gives every connection that local
                // address: no `getsockname` per connection.
                let local = (!self.local.ip().is_unspecified()).then_some(self.local);
                Ok(Some(Box::new(TcpTransport::accepted(stream, peer, local))))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if let Some(token) = self.token {
                    self.drained = true;
                    let _ = cx.readiness(token);
                }
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        Some(self.local)
    }
}

/// Why a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// The peer closed its side cleanly (everything it sent was passed on).
    Closed,
    /// Told to on `control`.
    Shutdown,
    /// The connection was refused.
    Refused,
    /// The connection was reset (or aborted, or the pipe broke).
    Reset,
    /// Connecting, or an idle connection, timed out.
    TimedOut,
    /// No route to the host or network.
    Unreachable,
    /// The host name could not be resolved.
    NotResolved,
    /// Another I/O error.
    Other(io::ErrorKind),
}

impl EndReason {
    /// Classifies an I/O error.
    pub fn from_io(e: &io::Error) -> EndReason {
        use io::ErrorKind as K;
        match e.kind() {
            K::ConnectionRefused => EndReason::Refused,
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                EndReason::Reset
            }
            K::TimedOut => EndReason::TimedOut,
            K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable => {
                EndReason::Unreachable
            }
            k => match e.raw_os_error() {
                Some(101) | Some(113) => EndReason::Unreachable, // ENETUNREACH, EHOSTUNREACH
                _ => EndReason::Other(k),
            },
        }
    }
}

/// A connection's end, carried by `Signal::Failed` on its `signal` box.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetError {
    /// Why it ended.
    pub reason: EndReason,
    /// The peer, as given or as connected.
    pub peer: String,
    /// The operating system's words, if any.
    pub detail: String,
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connection to {} ended: {:?}", self.peer, self.reason)?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

impl std::error::Error for NetError {}
