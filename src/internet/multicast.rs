//! IPv4 multicast: MulticastSender, MulticastReceiver and
//! MulticastTransceiver (Kamaelia's `Internet/Multicast_*.py`).
//!
//! All three are set up from one [`MulticastConfig`]: the group and port,
//! the interface to join the group on and send from (`IP_MULTICAST_IF`),
//! the TTL, whether sent datagrams loop back to this host, and whether the
//! port may be shared (`SO_REUSEADDR`, so several receivers on one host
//! hear the same group). Sockets are made with `socket2` and bound when the
//! component is made: a bad option or a failed bind is the constructor's
//! `Err`.
//!
//! * [`MulticastSender`] sends each payload on `inbox` to the group.
//! * [`MulticastReceiver`] joins the group and emits what arrives.
//! * [`MulticastTransceiver`] does both on one socket (it hears its own
//!   datagrams when loop-back is on).
//!
//! | box     | carries      | meaning                                          |
//! |---------|--------------|--------------------------------------------------|
//! | inbox   | `Bytes`      | sender, transceiver: payloads to send to the group |
//! | control | `Signal`     | shutdown: stop at once; producer finished (or failed): send what waits, then stop |
//! | outbox  | [`Datagram`] | receiver, transceiver: each datagram received, whole: `(from, payload)` |
//! | signal  | `Signal`     | the control signal that ended it, passed on; `Failed` if the socket could not be registered |
//!
//! Datagrams come out as `(sender address, payload)`, address first, the
//! same as the [UDP peers](super::udp) (the original emitted `(address,
//! data)` here but `(data, address)` from UDP.py). Everything else is the
//! UDP peers' behaviour, shared code included: event-driven reading into a
//! 64 KiB buffer (whole datagrams, where the original read 1,024 or 16,384
//! bytes and truncated the rest), zero-length datagrams emitted as empty
//! payloads (the original crashed on its first empty read), a full
//! consumer stops reading (the kernel then drops, as UDP does), sends that
//! would block are kept and retried in order when the socket is writable.
//! None ends by itself; see [the UDP module](super::udp) for the control
//! rules.
//!
//! The receiving socket is bound to the group address itself on Unix, so
//! it gets only that group's datagrams (bound to `0.0.0.0` it would also
//! get unicast to its port and, on Linux, every group any socket on the
//! host joined). Elsewhere it is bound to `0.0.0.0`.
//!
//! Defaults differ from the original's (TTL 255 for the transceiver, 10 for
//! the sender, joined on all interfaces): TTL 1 (this network segment
//! only), loop-back on, `SO_REUSEADDR` on, the interface chosen by the
//! kernel. On the loopback interface (`interface(127.0.0.1)`), datagrams
//! come back to local listeners whatever the loop-back option says; it
//! matters on real interfaces.
//!
//! This example needs a host where multicast on the loopback interface
//! works (see `tests/net_multicast.rs`, which checks first), so it is only
//! compiled here:
//!
//! ```no_run
//! use std::net::Ipv4Addr;
//! use bytes::Bytes;
//! use kamaelia::axon::{link, Inbox, Outbox, Scheduler, Signal};
//! use kamaelia::internet::multicast::{MulticastConfig, MulticastReceiver, MulticastSender};
//! use kamaelia::internet::udp::Datagram;
//!
//! let group = Ipv4Addr::new(239, 255, 0, 1);
//! let here = MulticastConfig::new(group, 0)
//!     .interface(Ipv4Addr::LOCALHOST)
//!     .ttl(0);
//! let rx = MulticastReceiver::new(&here).unwrap(); // port 0: the kernel picks one
//! let port = rx.local_addr().port();
//! let tx = MulticastSender::new(&here.clone().port(port)).unwrap();
//!
//! let say: Outbox<Bytes> = Outbox::outbox();
//! let stop_rx: Outbox<Signal> = Outbox::signal();
//! let heard: Inbox<Datagram> = Inbox::inbox();
//! link(&say, &tx.inbox).unwrap();
//! link(&stop_rx, &rx.control).unwrap();
//! link(&rx.outbox, &heard).unwrap();
//! let tx_addr = tx.local_addr();
//!
//! let mut s = Scheduler::new();
//! s.spawn(tx);
//! s.spawn(rx);
//! say.send(Bytes::from_static(b"hello, group")).unwrap();
//! while heard.is_empty() {
//!     s.run_until_idle();
//! }
//! assert_eq!(heard.recv(), Some((tx_addr, Bytes::from_static(b"hello, group"))));
//! ```

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use bytes::Bytes;
use mio::net::UdpSocket;
use socket2::{Domain, Protocol, Socket, Type};

use super::udp::{Datagram, Engine};
use crate::axon::{BoxSet, Component, Cx, Inbox, Outbox, Signal, Step};

/// Where and how to take part in a multicast group; see the module
/// documentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MulticastConfig {
    group: Ipv4Addr,
    port: u16,
    interface: Ipv4Addr,
    ttl: u32,
    loopback: bool,
    reuse_address: bool,
}

impl MulticastConfig {
    /// The group `group` (224.0.0.0/4) on `port`; TTL 1, loop-back on,
    /// `SO_REUSEADDR` on, the interface chosen by the kernel. Port 0 makes
    /// a receiver or transceiver take any free port (read it back with
    /// `local_addr`); a sender needs a real port.
    pub fn new(group: Ipv4Addr, port: u16) -> Self {
        MulticastConfig {
            group,
            port,
            interface: Ipv4Addr::UNSPECIFIED,
            ttl: 1,
            loopback: true,
            reuse_address: true,
        }
    }

    /// Another port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The interface, by its address, to join the group on and to send
    /// from (`IP_MULTICAST_IF`). `0.0.0.0` (the default) lets the kernel
    /// choose; `127.0.0.1` keeps all traffic on this host.
    pub fn interface(mut self, addr: Ipv4Addr) -> Self {
        self.interface = addr;
        self
    }

    /// Hops a sent datagram may take: 0 = this host only, 1 = this network
    /// segment (the default).
    pub fn ttl(mut self, ttl: u32) -> Self {
        self.ttl = ttl;
        self
    }

    /// Whether datagrams sent also reach listeners on this host
    /// (`IP_MULTICAST_LOOP`, default on).
    pub fn loopback(mut self, on: bool) -> Self {
        self.loopback = on;
        self
    }

    /// Whether other sockets may bind the same port (`SO_REUSEADDR`, and
    /// `SO_REUSEPORT` on the BSDs; default on).
    pub fn reuse_address(mut self, on: bool) -> Self {
        self.reuse_address = on;
        self
    }

    /// The group and port datagrams are sent to.
    pub fn destination(&self) -> SocketAddr {
        SocketAddrV4::new(self.group, self.port).into()
    }

    fn check_group(&self) -> io::Result<()> {
        if self.group.is_multicast() {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a multicast group address", self.group),
            ))
        }
    }

    /// A socket with the sending options set (interface, TTL, loop-back).
    fn socket(&self) -> io::Result<Socket> {
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        s.set_nonblocking(true)?;
        if !self.interface.is_unspecified() {
            s.set_multicast_if_v4(&self.interface)?;
        }
        s.set_multicast_ttl_v4(self.ttl)?;
        s.set_multicast_loop_v4(self.loopback)?;
        Ok(s)
    }

    /// A socket for sending only, bound to the interface and any port.
    fn sender_socket(&self) -> io::Result<UdpSocket> {
        self.check_group()?;
        if self.port == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a multicast sender needs a destination port (not 0)",
            ));
        }
        let s = self.socket()?;
        s.bind(&SocketAddr::from((self.interface, 0)).into())?;
        Ok(UdpSocket::from_std(s.into()))
    }

    /// A socket bound to the group's port that has joined the group.
    fn member_socket(&self) -> io::Result<UdpSocket> {
        self.check_group()?;
        let s = self.socket()?;
        s.set_reuse_address(self.reuse_address)?;
        // The BSDs (macOS included) share a multicast port only with
        // SO_REUSEPORT; Linux needs SO_REUSEADDR alone.
        #[cfg(any(
            target_os = "macos",
            target_os = "ios",
            target_os = "freebsd",
            target_os = "netbsd",
            target_os = "openbsd",
            target_os = "dragonfly"
        ))]
        s.set_reuse_port(self.reuse_address)?;
        let ip = if cfg!(unix) {
            self.group
        } else {
            Ipv4Addr::UNSPECIFIED
        };
        s.bind(&SocketAddr::from((ip, self.port)).into())?;
        s.join_multicast_v4(&self.group, &self.interface)?;
        Ok(UdpSocket::from_std(s.into()))
    }
}

// ---------------------------------------------------------------------------

/// Sends each payload to a multicast group; see the module documentation.
///
/// | box     | carries  | meaning                                            |
/// |---------|----------|----------------------------------------------------|
/// | inbox   | `Bytes`  | payloads to send to the group, one datagram each   |
/// | control | `Signal` | shutdown: stop now; producer finished: send what waits, then stop |
/// | signal  | `Signal` | the control signal that ended it                   |
///
/// It does not read its socket.
pub struct MulticastSender {
    /// Payloads to send.
    pub inbox: Inbox<Bytes>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    to: SocketAddr,
    engine: Engine,
}

impl MulticastSender {
    /// A sender to `config`'s group and port.
    pub fn new(config: &MulticastConfig) -> io::Result<Self> {
        let engine = Engine::new(config.sender_socket()?, false, "MulticastSender")?;
        Ok(MulticastSender {
            inbox: Inbox::new("inbox", "payloads to send to the group"),
            control: Inbox::control(),
            signal: Outbox::signal(),
            to: config.destination(),
            engine,
        })
    }

    /// The address datagrams are sent from.
    pub fn local_addr(&self) -> SocketAddr {
        self.engine.local_addr()
    }

    /// The group and port it sends to.
    pub fn destination(&self) -> SocketAddr {
        self.to
    }

    /// The socket, to read or change its options.
    pub fn socket(&self) -> &UdpSocket {
        self.engine.socket()
    }
}

impl Component for MulticastSender {
    fn step(&mut self, cx: &mut Cx) -> Step {
        let to = self.to;
        self.engine.step(
            cx,
            &self.control,
            &self.signal,
            &self.inbox,
            |b| (to, b),
            None,
        )
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.signal);
    }
}

// ---------------------------------------------------------------------------

/// Joins a multicast group and emits the datagrams that arrive; see the
/// module documentation.
///
/// | box     | carries      | meaning                                        |
/// |---------|--------------|------------------------------------------------|
/// | control | `Signal`     | shutdown: stop now; producer finished: deliver a datagram kept back by a full consumer, then stop |
/// | outbox  | [`Datagram`] | each datagram received: `(from, payload)`      |
/// | signal  | `Signal`     | the control signal that ended it               |
pub struct MulticastReceiver {
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Datagrams received.
    pub outbox: Outbox<Datagram>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    engine: Engine,
}

impl MulticastReceiver {
    /// A member of `config`'s group, listening on its port.
    pub fn new(config: &MulticastConfig) -> io::Result<Self> {
        let engine = Engine::new(config.member_socket()?, true, "MulticastReceiver")?;
        Ok(MulticastReceiver {
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "datagrams received: (from, payload)"),
            signal: Outbox::signal(),
            engine,
        })
    }

    /// The address the socket is bound to (its port is the one to send to).
    pub fn local_addr(&self) -> SocketAddr {
        self.engine.local_addr()
    }

    /// The socket, to read or change its options.
    pub fn socket(&self) -> &UdpSocket {
        self.engine.socket()
    }
}

impl Component for MulticastReceiver {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if let Some(s) = self.engine.begin(cx, &self.control, &self.signal) {
            return s;
        }
        self.engine.receive(&self.outbox);
        self.engine.end(cx, &self.signal, false)
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.control, self.outbox, self.signal);
    }
}

// ---------------------------------------------------------------------------

/// Joins a multicast group, sends each payload to it and emits what
/// arrives (its own datagrams too, with loop-back on); see the module
/// documentation.
///
/// | box     | carries      | meaning                                        |
/// |---------|--------------|------------------------------------------------|
/// | inbox   | `Bytes`      | payloads to send to the group                  |
/// | control | `Signal`     | shutdown: stop now; producer finished: send what waits, then stop |
/// | outbox  | [`Datagram`] | each datagram received: `(from, payload)`      |
/// | signal  | `Signal`     | the control signal that ended it               |
///
/// It sends to the port it is bound to (with port 0 in the configuration,
/// the one the kernel picked), so transceivers on one group and port hear
/// each other.
pub struct MulticastTransceiver {
    /// Payloads to send.
    pub inbox: Inbox<Bytes>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Datagrams received.
    pub outbox: Outbox<Datagram>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    to: SocketAddr,
    engine: Engine,
}

impl MulticastTransceiver {
    /// A member of `config`'s group that also sends to it.
    pub fn new(config: &MulticastConfig) -> io::Result<Self> {
        let engine = Engine::new(config.member_socket()?, true, "MulticastTransceiver")?;
        let to = config
            .clone()
            .port(engine.local_addr().port())
            .destination();
        Ok(MulticastTransceiver {
            inbox: Inbox::new("inbox", "payloads to send to the group"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "datagrams received: (from, payload)"),
            signal: Outbox::signal(),
            to,
            engine,
        })
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.engine.local_addr()
    }

    /// The group and port it sends to.
    pub fn destination(&self) -> SocketAddr {
        self.to
    }

    /// The socket, to read or change its options.
    pub fn socket(&self) -> &UdpSocket {
        self.engine.socket()
    }
}

impl Component for MulticastTransceiver {
    fn step(&mut self, cx: &mut Cx) -> Step {
        let to = self.to;
        self.engine.step(
            cx,
            &self.control,
            &self.signal,
            &self.inbox,
            |b| (to, b),
            Some(&self.outbox),
        )
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}
