//! UdpTrackerServer: the UDP side of a tracker (BEP 15) over a shared
//! [`Swarms`].
//!
//! It answers the datagrams a UDP socket component (a [`PostboxPeer`]:
//! [`UdpTrackerServer::bind`] makes one and links it) receives, each reply
//! going back to the sender's address:
//!
//! * **connect**: a connection id that the server can check later without
//!   keeping anything per client: SipHash-2-4, keyed by a random 128-bit
//!   secret, of the client's address and the current time slot
//!   (`slot`, default 120 s). An id is accepted in its slot and the next,
//!   so it lives between one and two slots: at least the two minutes BEP 15
//!   asks of servers. A client cannot forge one for an address it cannot
//!   receive at, which is what stops spoofed announces.
//! * **announce**: to the swarms (the peer's address is the datagram's
//!   source, see [`Swarms::announce`]); the reply lists peers of the
//!   request's address family: 6-byte IPv4 entries, or 18-byte IPv6 entries
//!   when the request came over IPv6 (an IPv4-mapped source counts as IPv4).
//! * **scrape**: the first [`MAX_SCRAPE_HASHES`] hashes of the request are
//!   answered, the rest ignored, so no request makes more work than that.
//! * A refusal (not whitelisted, too many peers from an address, tracker
//!   full) or a bad connection id gets an error reply with the reason. A
//!   datagram that does not parse gets nothing (it is counted), so the
//!   server never answers junk, and no reply is much larger than the
//!   request that caused it except an announce's peer list.
//!
//! Work per step is bounded (at most 64 datagrams, then it yields). Replies
//! are written into one reusable buffer and split off it, and the swarm
//! fills one reused reply, so a steady stream of datagrams costs no
//! allocation here (the socket component copies each received datagram).
//!
//! | box            | carries      | meaning                                   |
//! |----------------|--------------|-------------------------------------------|
//! | inbox          | [`Datagram`] | requests from the socket: `(from, bytes)` |
//! | control        | `Signal`     | shutdown: stop now; producer finished: answer what waits, then stop |
//! | outbox         | [`Datagram`] | replies: `(to, bytes)`                    |
//! | signal         | `Signal`     | the control signal that ended it          |
//! | socket_control | `Signal`     | the same signal, for the socket           |
//!
//! ```no_run
//! use std::{cell::RefCell, rc::Rc};
//! use kamaelia::axon::Scheduler;
//! use kamaelia::protocol::torrent::tracker::swarm::{SwarmConfig, Swarms};
//! use kamaelia::protocol::torrent::tracker::udp_server::{UdpServerConfig, UdpTrackerServer};
//! let swarms = Rc::new(RefCell::new(Swarms::new(SwarmConfig::default())));
//! let (server, socket) =
//!     UdpTrackerServer::bind("0.0.0.0:6969".parse().unwrap(), swarms, UdpServerConfig::default()).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(server);
//! s.spawn(socket);
//! s.run();
//! ```

use super::swarm::Swarms;
use super::udp_wire::{self, Request, MAX_SCRAPE_HASHES};
use super::AnnounceReply;
use crate::axon::{link, BoxSet, Component, Cx, Inbox, Outbox, Signal, Step};
use crate::internet::simulate::StatsHandle;
use crate::internet::udp::{Datagram, PostboxPeer};
use bytes::{Bytes, BytesMut};
use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Most datagrams answered in one step.
const BATCH: usize = 64;
/// The reply buffer: many replies are split off it before it is reused.
const OUT_BUFFER: usize = 64 * 1024;
/// Room one reply needs at most: an announce with 200 IPv6 peers is
/// 3,620 bytes; a scrape of 74 hashes 896.
const MAX_REPLY: usize = 8 * 1024;

/// Connection ids and their lifetime.
#[derive(Clone, Debug)]
pub struct UdpServerConfig {
    /// Length of a time slot; an id lives one to two slots. Default 120 s.
    pub slot: Duration,
    /// The key of the connection ids (`None`: a random one).
    pub secret: Option<[u64; 2]>,
}

impl Default for UdpServerConfig {
    fn default() -> Self {
        UdpServerConfig {
            slot: Duration::from_secs(120),
            secret: None,
        }
    }
}

/// What the server counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UdpServerStats {
    /// Connect requests answered.
    pub connects: u64,
    /// Announces answered with peers.
    pub announces: u64,
    /// Scrapes answered.
    pub scrapes: u64,
    /// Error replies sent (refusals, bad connection ids).
    pub errors: u64,
    /// Of those, for a connection id that was not ours or too old.
    pub bad_connection: u64,
    /// Datagrams that did not parse (not answered).
    pub malformed: u64,
}

/// A UDP tracker server; see the module documentation.
pub struct UdpTrackerServer {
    /// Requests from the socket.
    pub inbox: Inbox<Datagram>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Replies to the socket.
    pub outbox: Outbox<Datagram>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    /// The same, for the socket.
    pub socket_control: Outbox<Signal>,
    swarms: Rc<RefCell<Swarms>>,
    slot: Duration,
    key: [u64; 2],
    epoch: Option<Instant>,
    out: BytesMut,
    reply: AnnounceReply,
    finishing: Option<Signal>,
    stats: StatsHandle<UdpServerStats>,
}

impl UdpTrackerServer {
    /// A server over `swarms`, for a socket the caller links.
    pub fn new(swarms: Rc<RefCell<Swarms>>, config: UdpServerConfig) -> Self {
        let key = config.secret.unwrap_or_else(|| {
            let r = std::collections::hash_map::RandomState::new();
            let h = |x: u8| std::hash::BuildHasher::hash_one(&r, x);
            [h(0), h(1)]
        });
        UdpTrackerServer {
            inbox: Inbox::new("inbox", "requests from the socket: (from, bytes)"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "replies: (to, bytes)"),
            signal: Outbox::signal(),
            socket_control: Outbox::new("socket_control", "the ending signal, for the socket"),
            swarms,
            slot: config.slot.max(Duration::from_secs(1)),
            key,
            epoch: None,
            out: BytesMut::with_capacity(OUT_BUFFER),
            reply: AnnounceReply::default(),
            finishing: None,
            stats: StatsHandle::default(),
        }
    }

    /// A server and a [`PostboxPeer`] bound to `addr`, linked to each
    /// other; spawn both.
    pub fn bind(
        addr: SocketAddr,
        swarms: Rc<RefCell<Swarms>>,
        config: UdpServerConfig,
    ) -> std::io::Result<(UdpTrackerServer, PostboxPeer)> {
        let peer = PostboxPeer::bind(addr)?;
        let server = UdpTrackerServer::new(swarms, config);
        let linked = link(&peer.outbox, &server.inbox)
            .and_then(|_| link(&server.outbox, &peer.inbox))
            .and_then(|_| link(&server.socket_control, &peer.control));
        linked.map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok((server, peer))
    }

    /// A handle on the counters, usable after it is spawned.
    pub fn stats(&self) -> StatsHandle<UdpServerStats> {
        self.stats.clone()
    }

    fn slot_at(&mut self, now: Instant) -> u64 {
        let epoch = *self.epoch.get_or_insert(now);
        (now.saturating_duration_since(epoch).as_nanos() / self.slot.as_nanos()) as u64
    }

    fn connection_id(&self, from: SocketAddr, slot: u64) -> u64 {
        let mut msg = [0u8; 26];
        let n = match from.ip().to_canonical() {
            IpAddr::V4(ip) => {
                msg[..4].copy_from_slice(&ip.octets());
                4
            }
            IpAddr::V6(ip) => {
                msg[..16].copy_from_slice(&ip.octets());
                16
            }
        };
        msg[n..n + 2].copy_from_slice(&from.port().to_be_bytes());
        msg[n + 2..n + 10].copy_from_slice(&slot.to_le_bytes());
        siphash24(self.key[0], self.key[1], &msg[..n + 10])
    }

    fn connection_ok(&mut self, from: SocketAddr, id: u64, now: Instant) -> bool {
        let slot = self.slot_at(now);
        id == self.connection_id(from, slot)
            || (slot > 0 && id == self.connection_id(from, slot - 1))
    }

    /// Writes the reply to one datagram into `self.out`; false: no reply.
    fn answer(&mut self, from: SocketAddr, data: &[u8], now: Instant) -> bool {
        let request = match udp_wire::parse_request(data) {
            Ok(r) => r,
            Err(e) => {
                log::debug!("UdpTrackerServer: from {from}: {e}");
                self.stats.update(|s| s.malformed += 1);
                return false;
            }
        };
        let (tid, connection_id) = match &request {
            Request::Connect { tid } => {
                let slot = self.slot_at(now);
                let id = self.connection_id(from, slot);
                udp_wire::encode_connect_response(&mut self.out, *tid, id);
                self.stats.update(|s| s.connects += 1);
                return true;
            }
            Request::Announce {
                tid, connection_id, ..
            }
            | Request::Scrape {
                tid, connection_id, ..
            } => (*tid, *connection_id),
        };
        if !self.connection_ok(from, connection_id, now) {
            udp_wire::encode_error(&mut self.out, tid, "bad connection id");
            self.stats.update(|s| {
                s.errors += 1;
                s.bad_connection += 1;
            });
            return true;
        }
        match request {
            Request::Announce { req, .. } => {
                let result =
                    self.swarms
                        .borrow_mut()
                        .announce_into(&req, from.ip(), now, &mut self.reply);
                match result {
                    Ok(()) => {
                        let r = &self.reply;
                        let v6 = matches!(from.ip().to_canonical(), IpAddr::V6(_));
                        udp_wire::encode_announce_response(
                            &mut self.out,
                            tid,
                            r.interval,
                            r.incomplete.unwrap_or(0),
                            r.complete.unwrap_or(0),
                            &r.peers,
                            v6,
                        );
                        self.stats.update(|s| s.announces += 1);
                    }
                    Err(refusal) => {
                        udp_wire::encode_error(&mut self.out, tid, refusal.reason());
                        self.stats.update(|s| s.errors += 1);
                    }
                }
            }
            Request::Scrape { hashes, .. } => {
                udp_wire::encode_scrape_response_header(&mut self.out, tid);
                let swarms = self.swarms.borrow();
                for hash in hashes.iter().take(MAX_SCRAPE_HASHES) {
                    udp_wire::encode_scrape_entry(&mut self.out, &swarms.scrape(&hash));
                }
                self.stats.update(|s| s.scrapes += 1);
            }
            Request::Connect { .. } => unreachable!("answered above"),
        }
        true
    }
}

impl Component for UdpTrackerServer {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                let _ = self.socket_control.send(sig.clone());
                let _ = self.signal.send(sig);
                return Step::Done;
            }
            self.finishing.get_or_insert(sig);
        }
        let now = cx.now();
        if self.out.capacity() < OUT_BUFFER / 2 {
            // Back to the buffer's start while no reply split off it is
            // alive (the socket has sent them): no new allocation.
            self.out.reserve(OUT_BUFFER);
        }
        for _ in 0..BATCH {
            let Some((from, data)) = self.inbox.recv() else {
                break;
            };
            // Reclaims the buffer once the replies split off it are gone.
            self.out.reserve(MAX_REPLY);
            if self.answer(from, &data, now) {
                let reply: Bytes = self.out.split().freeze();
                // An unbounded or roomy socket inbox takes it; a full one
                // loses the reply, as the network might.
                let _ = self.outbox.send((from, reply));
            }
        }
        if !self.inbox.is_empty() {
            return Step::Yield;
        }
        if let Some(sig) = self.finishing.take() {
            let _ = self.socket_control.send(sig.clone());
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal, self.socket_control);
    }
}

/// SipHash-2-4 of `msg` under the key `(k0, k1)`: a keyed hash no one
/// without the key can compute, which makes the connection ids.
pub fn siphash24(k0: u64, k1: u64, msg: &[u8]) -> u64 {
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }
    let mut chunks = msg.chunks_exact(8);
    for c in &mut chunks {
        let m = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        v[3] ^= m;
        round(&mut v);
        round(&mut v);
        v[0] ^= m;
    }
    let mut last = [0u8; 8];
    let rest = chunks.remainder();
    last[..rest.len()].copy_from_slice(rest);
    last[7] = msg.len() as u8;
    let m = u64::from_le_bytes(last);
    v[3] ^= m;
    round(&mut v);
    round(&mut v);
    v[0] ^= m;
    v[2] ^= 0xff;
    for _ in 0..4 {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}
