//! UdpTrackerClient: announces to and scrapes a UDP tracker (BEP 15).
//!
//! It speaks to one tracker address through a UDP socket component (a
//! [`SimplePeer`]: [`UdpTrackerClient::bind`] makes one and links it) and
//! takes requests one at a time, in order. For each it first gets a
//! connection id (a connect request) unless it holds one less than
//! `connection_lifetime` old (BEP 15: a minute), then sends the announce or
//! scrape. A request not answered within `base_timeout * 2^n` is sent again
//! (n = 0, 1, ... up to `max_doublings`: 15 s to 3840 s by default); the
//! n-th time-out after the last is a failure. A retransmission goes with the
//! same transaction id, so a late answer to an earlier copy still counts;
//! if the connection id has aged out meanwhile, it connects again first.
//!
//! Only datagrams from the tracker's address are read. A reply whose
//! transaction id is not the one awaited is dropped and counted
//! (`wrong_tid`), never taken; one that does not parse (short, a peer list
//! of odd length, an unknown action) or is of the wrong kind is dropped and
//! counted (`malformed`) and the request waits on for a good answer or its
//! time-out. An error reply with the right transaction id fails the client.
//!
//! **Scrapes of many torrents.** One datagram holds at most
//! [`MAX_SCRAPE_HASHES`] (74) info-hashes, so a longer scrape is asked in
//! parts of up to 74, one after the other on the same connection id (each
//! part with its own transaction id and its own time-outs from 15 s), and
//! the entries are joined, in the order asked, into one answer on `scrape`.
//! A failed part fails the scrape (and the client), as for any request.
//!
//! **A bounded queue.** At most `max_waiting` requests wait behind the one
//! in flight. The `request` inbox is bounded to the room left (the client
//! moves requests out of it at once, and after each step sets its limit to
//! `max_waiting` less those waiting), so a request over the limit is
//! refused back to its sender by the inbox (`send` gives it back in
//! `Err(Full(request))`) and the sender is woken to try again once the
//! client takes a datagram and room appears: the back-pressure of any
//! bounded Kamaelia box, with nothing dropped and no error to handle. (A
//! caller that links with `link_with_limit` replaces that limit.)
//!
//! | box            | carries              | meaning                                  |
//! |----------------|----------------------|------------------------------------------|
//! | request        | [`UdpTrackerRequest`] | an announce or a scrape, done in order; bounded (see above) |
//! | from_net       | [`Datagram`]         | datagrams from the socket                |
//! | control        | `Signal`             | shutdown: stop now; producer finished: finish the requests waiting, then stop |
//! | to_net         | `Bytes`              | datagrams to send to the tracker         |
//! | outbox         | `AnnounceReply`      | each announce's answer (`complete`/`incomplete` set, `min_interval` none) |
//! | scrape         | `Vec<ScrapeEntry>`   | each scrape's answer, one entry per hash asked, in order |
//! | signal         | `Signal`             | the control signal that ended it, or `Failed(`[`UdpTrackerError`]`)` |
//! | socket_control | `Signal`             | the same signal, for the socket component |
//!
//! **Shutting down.** Shutdown ends it at once; producer finished (or
//! failed) once every request waiting has its answer. A failure (a time-out,
//! an error reply, a bad request) ends it with `Failed` on `signal`, the
//! requests still waiting dropped: a caller moves on to another tracker.
//!
//! ```no_run
//! use kamaelia::axon::{link, Inbox, Outbox, Scheduler};
//! use kamaelia::protocol::torrent::tracker::udp_client::{UdpClientConfig, UdpTrackerClient, UdpTrackerRequest};
//! use kamaelia::protocol::torrent::tracker::AnnounceReply;
//! # fn req() -> kamaelia::protocol::torrent::tracker::AnnounceRequest { unimplemented!() }
//! let (client, socket) = UdpTrackerClient::bind("127.0.0.1:6969".parse().unwrap(), UdpClientConfig::default()).unwrap();
//! let ask: Outbox<UdpTrackerRequest> = Outbox::outbox();
//! let replies: Inbox<AnnounceReply> = Inbox::inbox();
//! link(&ask, &client.request).unwrap();
//! link(&client.outbox, &replies).unwrap();
//! ask.send(UdpTrackerRequest::Announce(req())).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(client);
//! s.spawn(socket);
//! s.run_until_idle();
//! ```

use super::udp_wire::{self, Response, MAX_SCRAPE_HASHES};
use super::{AnnounceReply, AnnounceRequest, InfoHash, Peer, ScrapeEntry};
use crate::axon::{link, Alarm, BoxSet, Component, Cx, Inbox, Outbox, Signal, Step};
use crate::internet::simulate::{SplitMix64, StatsHandle};
use crate::internet::udp::{Datagram, SimplePeer};
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

/// Most datagrams read in one step.
const BATCH: usize = 64;

/// Where the scrape part starting at `start` ends: at most
/// [`MAX_SCRAPE_HASHES`] hashes fit in one datagram.
fn scrape_part_end(hashes: &[InfoHash], start: usize) -> usize {
    hashes.len().min(start + MAX_SCRAPE_HASHES)
}

/// What to ask the tracker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UdpTrackerRequest {
    /// An announce.
    Announce(AnnounceRequest),
    /// A scrape of one torrent or more (more than [`MAX_SCRAPE_HASHES`]
    /// are asked in parts and answered as one).
    Scrape(Vec<InfoHash>),
}

/// Why the client failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UdpTrackerError {
    /// No answer after this many sends.
    TimedOut {
        /// Datagrams sent for the request (first send and retransmissions).
        sends: u32,
    },
    /// The tracker answered with an error reply (its text, lossily UTF-8).
    Tracker(String),
    /// A scrape of no hashes (the number given).
    BadScrape(usize),
}

impl fmt::Display for UdpTrackerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UdpTrackerError::TimedOut { sends } => {
                write!(f, "UDP tracker did not answer ({sends} sends)")
            }
            UdpTrackerError::Tracker(text) => write!(f, "UDP tracker error: {text}"),
            UdpTrackerError::BadScrape(n) => {
                write!(f, "a UDP scrape takes at least one info-hash, not {n}")
            }
        }
    }
}

impl std::error::Error for UdpTrackerError {}

/// Time-outs and ids.
#[derive(Clone, Debug)]
pub struct UdpClientConfig {
    /// The first time-out; each retransmission doubles it. BEP 15: 15 s.
    pub base_timeout: Duration,
    /// Doublings before giving up (BEP 15: 8, so 9 sends in all).
    pub max_doublings: u32,
    /// How long a connection id is used. BEP 15: one minute.
    pub connection_lifetime: Duration,
    /// Seed of the transaction ids (`None`: a random one); tests fix it.
    pub seed: Option<u64>,
    /// Requests waiting behind the one in flight, at most (at least 1;
    /// default 64). A request over it is refused back to its sender.
    pub max_waiting: usize,
}

impl Default for UdpClientConfig {
    fn default() -> Self {
        UdpClientConfig {
            base_timeout: Duration::from_secs(15),
            max_doublings: 8,
            connection_lifetime: Duration::from_secs(60),
            seed: None,
            max_waiting: 64,
        }
    }
}

/// What the client counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UdpClientStats {
    /// Datagrams sent (connects, announces, scrapes, retransmissions).
    pub sent: u64,
    /// Of those, retransmissions.
    pub retransmits: u64,
    /// Connect replies taken.
    pub connects: u64,
    /// Replies dropped for a transaction id not awaited.
    pub wrong_tid: u64,
    /// Replies dropped as unparsable or of the wrong kind.
    pub malformed: u64,
    /// Datagrams from another address than the tracker's.
    pub foreign: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Connecting,
    Waiting,
}

/// A UDP tracker client; see the module documentation.
pub struct UdpTrackerClient {
    /// Requests, done in order.
    pub request: Inbox<UdpTrackerRequest>,
    /// Datagrams from the socket.
    pub from_net: Inbox<Datagram>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Datagrams for the tracker.
    pub to_net: Outbox<Bytes>,
    /// Announce answers.
    pub outbox: Outbox<AnnounceReply>,
    /// Scrape answers.
    pub scrape: Outbox<Vec<ScrapeEntry>>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    /// The same, for the socket.
    pub socket_control: Outbox<Signal>,
    tracker: SocketAddr,
    v6: bool,
    config: UdpClientConfig,
    rng: SplitMix64,
    waiting: VecDeque<UdpTrackerRequest>,
    current: Option<UdpTrackerRequest>,
    /// Of a scrape in flight: where the part asked starts in its hashes,
    /// and the entries of the parts answered.
    part: usize,
    scraped: Vec<ScrapeEntry>,
    phase: Phase,
    tid: u32,
    /// Doublings so far for the current request.
    doublings: u32,
    sends: u32,
    /// The datagram last sent, for retransmission.
    packet: Bytes,
    connection: Option<(u64, Instant)>,
    alarm: Alarm,
    finishing: Option<Signal>,
    buf: BytesMut,
    stats: StatsHandle<UdpClientStats>,
}

impl UdpTrackerClient {
    /// A client of the tracker at `tracker`, for a socket the caller links.
    pub fn new(tracker: SocketAddr, config: UdpClientConfig) -> Self {
        let seed = config.seed.unwrap_or_else(|| {
            std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0u8)
        });
        let v6 = matches!(tracker.ip().to_canonical(), IpAddr::V6(_));
        UdpTrackerClient {
            request: Inbox::bounded(
                "request",
                "announces and scrapes, done in order",
                config.max_waiting.max(1),
            ),
            from_net: Inbox::new("from_net", "datagrams from the socket"),
            control: Inbox::control(),
            to_net: Outbox::new("to_net", "datagrams for the tracker"),
            outbox: Outbox::new("outbox", "announce answers"),
            scrape: Outbox::new("scrape", "scrape answers, one entry per hash asked"),
            signal: Outbox::signal(),
            socket_control: Outbox::new("socket_control", "the ending signal, for the socket"),
            tracker,
            v6,
            config,
            rng: SplitMix64::new(seed),
            waiting: VecDeque::new(),
            current: None,
            part: 0,
            scraped: Vec::new(),
            phase: Phase::Idle,
            tid: 0,
            doublings: 0,
            sends: 0,
            packet: Bytes::new(),
            connection: None,
            alarm: Alarm::default(),
            finishing: None,
            buf: BytesMut::new(),
            stats: StatsHandle::default(),
        }
    }

    /// A client and a [`SimplePeer`] bound to an ephemeral port of the
    /// tracker's address family, linked to each other; spawn both.
    pub fn bind(
        tracker: SocketAddr,
        config: UdpClientConfig,
    ) -> std::io::Result<(UdpTrackerClient, SimplePeer)> {
        let any = match tracker {
            SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let peer = SimplePeer::bind(SocketAddr::new(any, 0), tracker)?;
        let client = UdpTrackerClient::new(tracker, config);
        let linked = link(&client.to_net, &peer.inbox)
            .and_then(|_| link(&peer.outbox, &client.from_net))
            .and_then(|_| link(&client.socket_control, &peer.control));
        linked.map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok((client, peer))
    }

    /// A handle on the counters, usable after it is spawned.
    pub fn stats(&self) -> StatsHandle<UdpClientStats> {
        self.stats.clone()
    }

    fn next_tid(&mut self) -> u32 {
        self.rng.next_u64() as u32
    }

    fn send(&mut self, cx: &mut Cx, retransmit: bool) {
        self.sends += 1;
        self.stats.update(|s| {
            s.sent += 1;
            s.retransmits += u64::from(retransmit);
        });
        // A full socket inbox loses this copy, as the network might: the
        // time-out sends it again.
        let _ = self.to_net.send(self.packet.clone());
        let wait = self.config.base_timeout * 2u32.saturating_pow(self.doublings);
        self.alarm.set(cx, cx.now() + wait);
    }

    /// Sends a connect request with a fresh transaction id.
    fn connect(&mut self, cx: &mut Cx, retransmit: bool) {
        self.tid = self.next_tid();
        self.phase = Phase::Connecting;
        udp_wire::encode_connect_request(&mut self.buf, self.tid);
        self.packet = self.buf.split().freeze();
        self.send(cx, retransmit);
    }

    /// Sends the current request on the connection id held.
    fn ask(&mut self, cx: &mut Cx, connection_id: u64, retransmit: bool) {
        self.tid = self.next_tid();
        self.phase = Phase::Waiting;
        match self.current.as_ref().expect("a current request") {
            UdpTrackerRequest::Announce(req) => {
                udp_wire::encode_announce_request(&mut self.buf, connection_id, self.tid, req)
            }
            UdpTrackerRequest::Scrape(hashes) => {
                let part = &hashes[self.part..scrape_part_end(hashes, self.part)];
                udp_wire::encode_scrape_request(&mut self.buf, connection_id, self.tid, part)
            }
        }
        self.packet = self.buf.split().freeze();
        self.send(cx, retransmit);
    }

    fn live_connection(&self, now: Instant) -> Option<u64> {
        self.connection
            .filter(|&(_, until)| now < until)
            .map(|(id, _)| id)
    }

    fn fail(&mut self, cx: &mut Cx, err: UdpTrackerError) -> Step {
        log::warn!("UdpTrackerClient for {}: {err}", self.tracker);
        self.alarm.clear(cx);
        let sig = Signal::failed(err);
        let _ = self.socket_control.send(sig.clone());
        let _ = self.signal.send(sig);
        Step::Done
    }

    /// Takes one datagram; `Some(step)` if the client ends.
    fn on_datagram(&mut self, cx: &mut Cx, from: SocketAddr, data: &[u8]) -> Option<Step> {
        if from != self.tracker {
            self.stats.update(|s| s.foreign += 1);
            return None;
        }
        let reply = match udp_wire::parse_response(data, self.v6) {
            Ok(reply) => reply,
            Err(e) => {
                log::debug!("UdpTrackerClient for {}: {e}", self.tracker);
                self.stats.update(|s| s.malformed += 1);
                return None;
            }
        };
        if self.phase == Phase::Idle || reply.tid() != self.tid {
            self.stats.update(|s| s.wrong_tid += 1);
            return None;
        }
        let announcing = matches!(self.current, Some(UdpTrackerRequest::Announce(_)));
        match (self.phase, reply) {
            // The bare announce header is a refusal only as the answer to
            // an announce; anywhere else it is a malformed reply.
            (phase, Response::Error { message, .. })
                if message == udp_wire::BARE_ANNOUNCE_REFUSAL
                    && !(phase == Phase::Waiting && announcing) =>
            {
                self.stats.update(|s| s.malformed += 1);
            }
            (_, Response::Error { message, .. }) => {
                let text = String::from_utf8_lossy(message).into_owned();
                return Some(self.fail(cx, UdpTrackerError::Tracker(text)));
            }
            (Phase::Connecting, Response::Connect { connection_id, .. }) => {
                self.stats.update(|s| s.connects += 1);
                let until = cx.now() + self.config.connection_lifetime;
                self.connection = Some((connection_id, until));
                self.ask(cx, connection_id, false);
            }
            (
                Phase::Waiting,
                Response::Announce {
                    interval,
                    leechers,
                    seeders,
                    peers,
                    ..
                },
            ) if announcing => {
                let reply = AnnounceReply {
                    interval,
                    complete: Some(seeders),
                    incomplete: Some(leechers),
                    peers: peers.iter().map(|addr| Peer { addr, id: None }).collect(),
                    ..AnnounceReply::default()
                };
                self.done(cx);
                let _ = self.outbox.send(reply);
            }
            (Phase::Waiting, Response::Scrape { entries, .. }) if !announcing => {
                let Some(UdpTrackerRequest::Scrape(hashes)) = &self.current else {
                    unreachable!("a scrape is current")
                };
                let end = scrape_part_end(hashes, self.part);
                let part = &hashes[self.part..end];
                if entries.len() < part.len() {
                    // Fewer entries than hashes: not an answer to this part.
                    self.stats.update(|s| s.malformed += 1);
                    return None;
                }
                let got = part.iter().zip(entries.iter()).map(
                    |(hash, (complete, downloaded, incomplete))| ScrapeEntry {
                        info_hash: *hash,
                        complete,
                        downloaded,
                        incomplete,
                    },
                );
                self.scraped.extend(got);
                if end < hashes.len() {
                    // The next part, as a request of its own.
                    self.part = end;
                    self.begin(cx);
                    return None;
                }
                let got = std::mem::take(&mut self.scraped);
                self.done(cx);
                let _ = self.scrape.send(got);
            }
            _ => self.stats.update(|s| s.malformed += 1),
        }
        None
    }

    fn done(&mut self, cx: &mut Cx) {
        self.phase = Phase::Idle;
        self.current = None;
        self.alarm.clear(cx);
    }

    /// Starts the next request, if any; `Some(step)` if the client ends.
    fn start_next(&mut self, cx: &mut Cx) -> Option<Step> {
        let next = self.waiting.pop_front()?;
        if let UdpTrackerRequest::Scrape(h) = &next {
            if h.is_empty() {
                return Some(self.fail(cx, UdpTrackerError::BadScrape(h.len())));
            }
        }
        self.current = Some(next);
        self.part = 0;
        self.scraped.clear();
        self.begin(cx);
        None
    }

    /// Sends the current request (or scrape part) afresh: its time-outs
    /// start from the first, on the connection id held or a new one.
    fn begin(&mut self, cx: &mut Cx) {
        self.doublings = 0;
        self.sends = 0;
        match self.live_connection(cx.now()) {
            Some(id) => self.ask(cx, id, false),
            None => self.connect(cx, false),
        }
    }

    /// Bounds the `request` inbox to the room left in the queue: a
    /// request over `max_waiting` is refused back to its sender.
    fn limit_inbox(&self) {
        let room = self
            .config
            .max_waiting
            .max(1)
            .saturating_sub(self.waiting.len());
        self.request.set_limit(Some(room));
    }

    fn on_timeout(&mut self, cx: &mut Cx) -> Option<Step> {
        if self.doublings >= self.config.max_doublings {
            let sends = self.sends;
            return Some(self.fail(cx, UdpTrackerError::TimedOut { sends }));
        }
        self.doublings += 1;
        match (self.phase, self.live_connection(cx.now())) {
            (Phase::Waiting, Some(_)) | (Phase::Connecting, _) => {
                // The same datagram again, same transaction id.
                self.send(cx, true);
            }
            (Phase::Waiting, None) => self.connect(cx, true),
            (Phase::Idle, _) => {}
        }
        None
    }
}

impl Component for UdpTrackerClient {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                self.alarm.clear(cx);
                let _ = self.socket_control.send(sig.clone());
                let _ = self.signal.send(sig);
                return Step::Done;
            }
            self.finishing.get_or_insert(sig);
        }
        // Taken off the inbox at once, even while busy: a component that
        // pauses with input waiting would be run again straight away.
        while let Some(r) = self.request.recv() {
            self.waiting.push_back(r);
        }
        let mut read = 0;
        while read < BATCH {
            let Some((from, data)) = self.from_net.recv() else {
                break;
            };
            read += 1;
            if let Some(end) = self.on_datagram(cx, from, &data) {
                return end;
            }
        }
        if self.phase != Phase::Idle {
            if let Some(at) = self.alarm.deadline() {
                if cx.now() >= at {
                    self.alarm = Alarm::default();
                    if let Some(end) = self.on_timeout(cx) {
                        return end;
                    }
                }
            }
        }
        if self.phase == Phase::Idle {
            if let Some(end) = self.start_next(cx) {
                return end;
            }
        }
        if self.phase == Phase::Idle && self.waiting.is_empty() {
            if let Some(sig) = self.finishing.take() {
                let _ = self.socket_control.send(sig.clone());
                let _ = self.signal.send(sig);
                return Step::Done;
            }
        }
        self.limit_inbox();
        if read == BATCH {
            return Step::Yield;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.request, self.from_net, self.control, self.to_net,
            self.outbox, self.scrape, self.signal, self.socket_control);
    }
}
