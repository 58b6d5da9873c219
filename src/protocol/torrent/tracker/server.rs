//! TrackerServer: a whole BitTorrent tracker as one component graph. The
//! HTTP tracker (an [`HttpTrackerServer`]: `/announce` and `/scrape`) and the
//! UDP tracker (when one is given) share one [`Swarms`], and a
//! [`SwarmExpiry`] drops peers not heard from for the swarm's `peer_ttl`
//! on the scheduler's timer (virtual time in tests).
//!
//! ```text
//! Graphline ─┬─ "http":   HttpTrackerServer (its connections in one table) ┐
//!            ├─ "udp":    UdpTrackerServer ◀─▶ "udp_socket" (optional) ┼── Rc<RefCell<Swarms>>
//!            └─ "expiry": SwarmExpiry (every `expire_every`) ─────────┘
//! ```
//!
//! | box     | carries  | meaning                                                      |
//! |---------|----------|--------------------------------------------------------------|
//! | control | `Signal` | shutdown (or producer finished): passed to every child; it ends when they have |
//! | signal  | `Signal` | once, when it ends                                           |
//!
//! ```no_run
//! use kamaelia::axon::Scheduler;
//! use kamaelia::protocol::torrent::tracker::server::{TrackerConfig, TrackerServer};
//! let config = TrackerConfig {
//!     http: Some("127.0.0.1:6969".parse().unwrap()),
//!     ..TrackerConfig::default()
//! };
//! let tracker = TrackerServer::bind(config).unwrap();
//! println!("announce at http://{}/announce", tracker.http_addr().unwrap());
//! let mut s = Scheduler::new();
//! s.spawn(tracker);
//! s.run();
//! ```

use std::cell::RefCell;
use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::http_direct::{DirectConfig, HttpTrackerServer};
use super::swarm::{SwarmConfig, Swarms};
use super::udp_server::{UdpServerConfig, UdpTrackerServer};
use super::InfoHash;
use crate::axon::{BoxSet, Component, Cx, Inbox, Outbox, Signal, Step, TimerKey};
use crate::chassis::Graphline;
use crate::internet::{Acceptor, TcpAcceptor, DEFAULT_BACKLOG};

/// What a [`TrackerServer`] listens on and how its swarms behave.
#[derive(Clone, Debug)]
pub struct TrackerConfig {
    /// The HTTP tracker's address (`None`: no HTTP tracker).
    pub http: Option<SocketAddr>,
    /// The UDP tracker's address (`None`: no UDP tracker).
    pub udp: Option<SocketAddr>,
    /// Intervals, limits, whitelist.
    pub swarm: SwarmConfig,
    /// How often expired peers are dropped (default 60 s).
    pub expire_every: Duration,
    /// Work in one step of expiry: peers looked at (default 10,000; see
    /// [`SwarmExpiry`]).
    pub expire_slice: usize,
    /// The HTTP tracker's connection limit and time-out.
    pub http_config: DirectConfig,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            http: None,
            udp: None,
            swarm: SwarmConfig::default(),
            expire_every: Duration::from_secs(60),
            expire_slice: 10_000,
            http_config: DirectConfig::default(),
        }
    }
}

/// Reads a whitelist: one info-hash a line in hex (40 digits, either
/// case), as opentracker's `-w` file; blank lines and lines starting with
/// `#` are skipped. A bad line is an error naming its number.
pub fn parse_whitelist(text: &str) -> Result<HashSet<InfoHash>, String> {
    let mut set = HashSet::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
        let bytes = line.as_bytes();
        let mut hash = [0u8; 20];
        let ok = bytes.len() == 40
            && hash.iter_mut().enumerate().all(|(i, h)| {
                match (hex(bytes[2 * i]), hex(bytes[2 * i + 1])) {
                    (Some(a), Some(b)) => {
                        *h = a << 4 | b;
                        true
                    }
                    _ => false,
                }
            });
        if !ok {
            return Err(format!("line {}: not a 40-digit hex info-hash", n + 1));
        }
        set.insert(hash);
    }
    Ok(set)
}

/// The tracker graph; see the module documentation.
pub struct TrackerServer {
    graph: Graphline,
    swarms: Rc<RefCell<Swarms>>,
    http_addr: Option<SocketAddr>,
    udp_addr: Option<SocketAddr>,
}

impl TrackerServer {
    /// Binds the listeners `config` names.
    pub fn bind(config: TrackerConfig) -> io::Result<Self> {
        let swarms = Rc::new(RefCell::new(Swarms::new(config.swarm.clone())));
        let mut children: Vec<(&str, Box<dyn Component>)> = Vec::new();
        let mut http_addr = None;
        if let Some(addr) = config.http {
            let acceptor = TcpAcceptor::bind(addr, DEFAULT_BACKLOG)?;
            http_addr = acceptor.local_addr();
            let http =
                HttpTrackerServer::new(Box::new(acceptor), swarms.clone(), config.http_config);
            children.push(("http", Box::new(http)));
        }
        let mut udp_addr = None;
        if let Some(addr) = config.udp {
            let (udp, socket) =
                UdpTrackerServer::bind(addr, swarms.clone(), UdpServerConfig::default())?;
            udp_addr = Some(socket.local_addr());
            children.push(("udp", Box::new(udp)));
            children.push(("udp_socket", Box::new(socket)));
        }
        Self::assemble(children, swarms, &config, http_addr, udp_addr)
    }

    /// An HTTP tracker taking connections from `acceptor` (tests pass a
    /// scripted one); `config.http` and `config.udp` are not used.
    pub fn with_http_acceptor(acceptor: Box<dyn Acceptor>, config: TrackerConfig) -> Self {
        let swarms = Rc::new(RefCell::new(Swarms::new(config.swarm.clone())));
        let http = HttpTrackerServer::new(acceptor, swarms.clone(), config.http_config);
        Self::assemble(vec![("http", Box::new(http))], swarms, &config, None, None)
            .expect("a graph of fixed children builds")
    }

    fn assemble(
        children: Vec<(&str, Box<dyn Component>)>,
        swarms: Rc<RefCell<Swarms>>,
        config: &TrackerConfig,
        http_addr: Option<SocketAddr>,
        udp_addr: Option<SocketAddr>,
    ) -> io::Result<Self> {
        let mut b = Graphline::builder().child(
            "expiry",
            SwarmExpiry::new(swarms.clone(), config.expire_every).slice(config.expire_slice),
        );
        for (name, c) in children {
            b = b.child_boxed(name, c);
        }
        let graph = b
            .build()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        Ok(TrackerServer {
            graph,
            swarms,
            http_addr,
            udp_addr,
        })
    }

    /// The swarms both trackers share (to look at, or to seed a swarm).
    pub fn swarms(&self) -> Rc<RefCell<Swarms>> {
        self.swarms.clone()
    }

    /// The HTTP tracker's address, as bound.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The UDP tracker's address, as bound.
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.udp_addr
    }
}

impl Component for TrackerServer {
    fn step(&mut self, cx: &mut Cx) -> Step {
        self.graph.step(cx)
    }

    fn boxes(&self, set: &mut BoxSet) {
        self.graph.boxes(set)
    }

    fn name(&self) -> &str {
        "TrackerServer"
    }
}

/// Drops expired peers from the swarms every `every`, on the scheduler's
/// clock. A sweep is done in slices ([`Swarms::expire_some`]) of at most
/// `slice` units of work (peers looked at, torrents finished; default
/// 10,000), one a step, yielding between them so the other components run
/// meanwhile, until it is over; the next sweep starts `every` after that.
/// A signal on `control` ends it, mid-sweep too (the next expiry of the
/// same swarms begins a new sweep).
///
/// | box     | carries  | meaning                          |
/// |---------|----------|----------------------------------|
/// | control | `Signal` | any signal ends it               |
/// | signal  | `Signal` | the signal received, when it ends |
pub struct SwarmExpiry {
    /// Ends it.
    pub control: Inbox<Signal>,
    /// Sent once, at the end.
    pub signal: Outbox<Signal>,
    swarms: Rc<RefCell<Swarms>>,
    every: Duration,
    next: Option<(Instant, TimerKey)>,
    /// A sweep is under way: the next step does its next slice.
    sweeping: bool,
    slice: usize,
    dropped: usize,
}

impl SwarmExpiry {
    /// Expiry of `swarms` every `every`.
    pub fn new(swarms: Rc<RefCell<Swarms>>, every: Duration) -> Self {
        SwarmExpiry {
            control: Inbox::control(),
            signal: Outbox::signal(),
            swarms,
            every: every.max(Duration::from_millis(1)),
            next: None,
            sweeping: false,
            slice: 10_000,
            dropped: 0,
        }
    }

    /// At most `budget` units of work a step (at least 1).
    pub fn slice(mut self, budget: usize) -> Self {
        self.slice = budget.max(1);
        self
    }
}

impl Component for SwarmExpiry {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if let Some(sig) = self.control.recv() {
            if let Some((_, key)) = self.next.take() {
                cx.cancel_timer(key);
            }
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        let now = cx.now();
        let due = matches!(self.next, Some((at, _)) if now >= at);
        if due {
            self.next = None;
            self.sweeping = true;
        }
        if self.sweeping {
            let p = self.swarms.borrow_mut().expire_some(now, self.slice);
            self.dropped += p.dropped;
            if !p.done {
                return Step::Yield;
            }
            self.sweeping = false;
            log::debug!(
                "tracker: expiry swept ({} peers expired in all)",
                self.dropped
            );
        }
        if self.next.is_none() {
            let at = now + self.every;
            self.next = Some((at, cx.wake_at(at)));
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.control).add(&self.signal);
    }
}
