//! The tracker server's state: which peers are in which torrent's swarm.
//!
//! `Swarms` is plain data with no I/O; the HTTP and UDP tracker servers
//! share one (as `Rc<RefCell<Swarms>>`) and pass it the scheduler's clock,
//! so virtual time works in tests.
//!
//! What it does, as a real tracker (opentracker) does:
//! * A peer is keyed by its address (IP and port), not by its peer id, so a
//!   request can only touch the entry of the address it came from: nobody
//!   can remove or move someone else's entry by sending their peer id.
//! * The IP is the request's source address; the `ip` the client claims is
//!   used only when the source is loopback (a tracker and its peers on one
//!   machine, as in tests). IPv4-mapped IPv6 sources count as IPv4.
//! * `Stopped` removes the peer and gets an empty peer list; `Completed`
//!   counts a download once per peer entry; `left = 0` makes a seeder.
//! * The reply's peers exclude the announcer and, when the announcer is a
//!   seeder (`left = 0`), exclude other seeders too: a seeder has nothing to
//!   get from them. This is opentracker's choice as well.
//! * Fair choice: each torrent keeps a rotating start index; a reply takes
//!   peers from there on (wrapping) and moves the index past what it
//!   looked at, so successive announces see different parts of a big swarm.
//!   Deterministic, so tests can assert on it.
//! * Memory is bounded: at most `max_torrents` torrents, `max_peers`
//!   peers in all and `max_peers_per_torrent` in one swarm, at most
//!   `max_peers_per_ip` entries per IP per torrent (an IPv6 address counts
//!   by its /64, which one host may own whole), and peers not heard
//!   from for `peer_ttl` are dropped by `expire`, which also drops torrents
//!   left empty (their `downloaded` count goes with them).
//! * Expiry can be done a bounded slice at a time ([`Swarms::expire_some`]):
//!   a sweep walks the torrents, and each torrent's peers, from the last
//!   slot down with a cursor kept between calls, so a tracker of millions
//!   of peers never spends one long step on it. Walking down makes the
//!   sweep safe against the announces between slices: a removal moves the
//!   last entry (already looked at) into the hole, and a new entry goes at
//!   the end (looked at already, and fresh anyway), so no entry that was
//!   there when the sweep began is skipped; at worst one is looked at
//!   twice.
//!
//! Example:
//! ```
//! use kamaelia::protocol::torrent::tracker::swarm::{SwarmConfig, Swarms};
//! use kamaelia::protocol::torrent::tracker::{AnnounceEvent, AnnounceRequest};
//! use std::time::Instant;
//! let mut swarms = Swarms::new(SwarmConfig::default());
//! let req = AnnounceRequest {
//!     info_hash: [1; 20], peer_id: [2; 20], port: 6881, uploaded: 0, downloaded: 0,
//!     left: 100, event: AnnounceEvent::Started, numwant: None, key: None, ip: None,
//!     compact: true, tracker_id: None,
//! };
//! let reply = swarms.announce(&req, "192.0.2.1".parse().unwrap(), Instant::now()).unwrap();
//! assert_eq!(reply.incomplete, Some(1));
//! assert!(reply.peers.is_empty());
//! ```

use super::{AnnounceEvent, AnnounceReply, AnnounceRequest, InfoHash, Peer, PeerId, ScrapeEntry};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// How the swarms behave and how big they may grow.
#[derive(Clone, Debug)]
pub struct SwarmConfig {
    /// Seconds between regular announces, told to clients. Default 1800.
    pub interval: u32,
    /// Seconds a client must wait at least. Default 900.
    pub min_interval: u32,
    /// A peer not heard from for this long is dropped. Default 2 * interval + 60 s.
    pub peer_ttl: Duration,
    /// Peers in a reply when the request does not say. Default 50.
    pub default_numwant: u32,
    /// Peers in a reply at most. Default 200.
    pub max_numwant: u32,
    /// `None`: any torrent; otherwise only these.
    pub whitelist: Option<HashSet<InfoHash>>,
    /// Entries from one IP in one torrent at most. Default 16.
    pub max_peers_per_ip: u32,
    /// Torrents tracked at most (a bound on memory). Default 1,000,000.
    pub max_torrents: usize,
    /// Peers in all torrents together at most. Default 4,000,000.
    pub max_peers: usize,
    /// Peers in one torrent at most. Default 200,000.
    pub max_peers_per_torrent: usize,
}

impl Default for SwarmConfig {
    fn default() -> SwarmConfig {
        SwarmConfig {
            interval: 1800,
            min_interval: 900,
            peer_ttl: Duration::from_secs(2 * 1800 + 60),
            default_numwant: 50,
            max_numwant: 200,
            whitelist: None,
            max_peers_per_ip: 16,
            max_torrents: 1_000_000,
            max_peers: 4_000_000,
            max_peers_per_torrent: 200_000,
        }
    }
}

/// Why an announce was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A whitelist is set and the torrent is not on it.
    NotWhitelisted,
    /// The IP already has `max_peers_per_ip` entries in this torrent.
    TooManyPeersFromIp,
    /// The tracker holds `max_torrents` torrents already.
    TooManyTorrents,
    /// The tracker holds `max_peers` peers, or this torrent
    /// `max_peers_per_torrent`, already.
    TooManyPeers,
    /// The request makes no sense (the text says why).
    BadRequest(&'static str),
}

impl Refusal {
    /// The text for an HTTP `failure reason` or a BEP 15 error reply.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::NotWhitelisted => "torrent not tracked here",
            Refusal::TooManyPeersFromIp => "too many peers from this address",
            Refusal::TooManyTorrents => "tracker full",
            Refusal::TooManyPeers => "swarm full",
            Refusal::BadRequest(why) => why,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for Refusal {}

/// One peer of one torrent.
#[derive(Clone, Debug)]
struct Entry {
    addr: SocketAddr,
    id: PeerId,
    last_seen: Instant,
    seeder: bool,
    /// Its `Completed` was counted already.
    counted: bool,
}

/// One torrent's swarm. `peers` is dense (removal by swap) so a reply can
/// walk it from any index; `index` finds an address's slot.
#[derive(Debug, Default)]
struct Torrent {
    info_hash: InfoHash,
    peers: Vec<Entry>,
    index: HashMap<SocketAddr, usize>,
    per_ip: HashMap<IpAddr, u32>,
    seeders: u32,
    downloaded: u32,
    /// Where the next reply starts looking.
    cursor: usize,
}

impl Torrent {
    fn remove(&mut self, slot: usize) {
        let gone = self.peers.swap_remove(slot);
        self.index.remove(&gone.addr);
        if let Some(moved) = self.peers.get(slot) {
            self.index.insert(moved.addr, slot);
        }
        let key = limit_key(gone.addr.ip());
        if let Some(count) = self.per_ip.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                self.per_ip.remove(&key);
            }
        }
        if gone.seeder {
            self.seeders -= 1;
        }
    }

    fn leechers(&self) -> u32 {
        self.peers.len() as u32 - self.seeders
    }

    /// Up to `want` peers other than `me`, leaving out seeders if
    /// `no_seeders`, starting at the cursor.
    fn pick(&mut self, me: Option<usize>, no_seeders: bool, want: usize, out: &mut Vec<Peer>) {
        let n = self.peers.len();
        let candidates = if no_seeders {
            self.leechers() as usize
        } else {
            n
        };
        let me_counted = me.map_or(0, |m| usize::from(!(no_seeders && self.peers[m].seeder)));
        let eligible = candidates - me_counted;
        let want = want.min(eligible);
        out.clear();
        if want == 0 {
            return;
        }
        out.reserve(want);
        let start = self.cursor % n;
        let mut looked = 0;
        while out.len() < want && looked < n {
            let slot = (start + looked) % n;
            looked += 1;
            let entry = &self.peers[slot];
            if Some(slot) == me || (no_seeders && entry.seeder) {
                continue;
            }
            out.push(Peer {
                addr: entry.addr,
                id: Some(entry.id),
            });
        }
        self.cursor = (start + looked) % n;
    }
}

/// What one [`Swarms::expire_some`] call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpireProgress {
    /// Peers dropped.
    pub dropped: usize,
    /// Work done: peers looked at, plus one per torrent finished; never
    /// more than the budget.
    pub examined: usize,
    /// The sweep is over (the next call starts a new one).
    pub done: bool,
}

/// Where a sweep of expiry is: the torrents in slots below `next` are
/// still to do; of the one at `next - 1`, the peers below `peer` (all
/// of them when `None`). `hash` says which torrent `peer` belongs to, in
/// case an announce between slices moved another into that slot.
#[derive(Clone, Copy, Debug)]
struct Sweep {
    next: usize,
    peer: Option<(InfoHash, usize)>,
}

/// All the torrents a tracker knows.
#[derive(Debug)]
pub struct Swarms {
    config: SwarmConfig,
    /// Dense (removal by swap), so an expiry sweep can walk it by slot;
    /// `by_hash` finds a torrent's slot.
    torrents: Vec<Torrent>,
    by_hash: HashMap<InfoHash, usize>,
    peers: usize,
    sweep: Option<Sweep>,
    /// Work done by expiry since this was made (see [`ExpireProgress`]).
    examined: u64,
}

impl Swarms {
    /// No torrents yet.
    pub fn new(config: SwarmConfig) -> Swarms {
        Swarms {
            config,
            torrents: Vec::new(),
            by_hash: HashMap::new(),
            peers: 0,
            sweep: None,
            examined: 0,
        }
    }

    /// Drops the torrent at `slot`; the last one takes its place.
    fn remove_torrent(&mut self, slot: usize) {
        let gone = self.torrents.swap_remove(slot);
        self.by_hash.remove(&gone.info_hash);
        if let Some(moved) = self.torrents.get(slot) {
            self.by_hash.insert(moved.info_hash, slot);
        }
    }

    /// How it was made.
    pub fn config(&self) -> &SwarmConfig {
        &self.config
    }

    /// Takes one announce from `source` at `now`; the reply's peers
    /// exclude the announcer, at most numwant, chosen fairly.
    pub fn announce(
        &mut self,
        req: &AnnounceRequest,
        source: IpAddr,
        now: Instant,
    ) -> Result<AnnounceReply, Refusal> {
        let mut reply = AnnounceReply::default();
        self.announce_into(req, source, now, &mut reply)?;
        Ok(reply)
    }

    /// [`announce`](Self::announce) into a reply the caller keeps: its
    /// peer list's allocation is reused, so a server that answers with
    /// one reply value allocates nothing per announce in the steady state.
    /// On a refusal the reply's contents are unspecified.
    pub fn announce_into(
        &mut self,
        req: &AnnounceRequest,
        source: IpAddr,
        now: Instant,
        reply: &mut AnnounceReply,
    ) -> Result<(), Refusal> {
        if let Some(list) = &self.config.whitelist {
            if !list.contains(&req.info_hash) {
                return Err(Refusal::NotWhitelisted);
            }
        }
        let source = source.to_canonical();
        let ip = match req.ip {
            Some(claimed) if source.is_loopback() => claimed.to_canonical(),
            _ => source,
        };
        let addr = SocketAddr::new(ip, req.port);
        reply.interval = self.config.interval;
        reply.min_interval = Some(self.config.min_interval);
        reply.complete = Some(0);
        reply.incomplete = Some(0);
        reply.peers.clear();
        reply.tracker_id = None;
        reply.warning = None;

        if req.event == AnnounceEvent::Stopped {
            if let Some(&t) = self.by_hash.get(&req.info_hash) {
                let torrent = &mut self.torrents[t];
                if let Some(&slot) = torrent.index.get(&addr) {
                    torrent.remove(slot);
                    self.peers -= 1;
                }
                reply.complete = Some(torrent.seeders);
                reply.incomplete = Some(torrent.leechers());
                if torrent.peers.is_empty() {
                    self.remove_torrent(t);
                }
            }
            return Ok(());
        }
        if req.port == 0 {
            return Err(Refusal::BadRequest("port 0"));
        }

        let full = self.torrents.len() >= self.config.max_torrents;
        let t = match self.by_hash.get(&req.info_hash) {
            Some(&t) => t,
            None if full => return Err(Refusal::TooManyTorrents),
            None => {
                let t = self.torrents.len();
                self.torrents.push(Torrent {
                    info_hash: req.info_hash,
                    ..Torrent::default()
                });
                self.by_hash.insert(req.info_hash, t);
                t
            }
        };
        let torrent = &mut self.torrents[t];
        let seeder = req.left == 0;
        let slot = match torrent.index.get(&addr) {
            Some(&slot) => {
                let entry = &mut torrent.peers[slot];
                entry.last_seen = now;
                entry.id = req.peer_id;
                if entry.seeder != seeder {
                    entry.seeder = seeder;
                    if seeder {
                        torrent.seeders += 1;
                    } else {
                        torrent.seeders -= 1;
                    }
                }
                slot
            }
            None => {
                let key = limit_key(ip);
                let from_ip = torrent.per_ip.get(&key).copied().unwrap_or(0);
                let refusal = if self.peers >= self.config.max_peers
                    || torrent.peers.len() >= self.config.max_peers_per_torrent
                {
                    Some(Refusal::TooManyPeers)
                } else if from_ip >= self.config.max_peers_per_ip {
                    Some(Refusal::TooManyPeersFromIp)
                } else {
                    None
                };
                if let Some(refusal) = refusal {
                    if torrent.peers.is_empty() {
                        self.remove_torrent(t);
                    }
                    return Err(refusal);
                }
                torrent.per_ip.insert(key, from_ip + 1);
                let slot = torrent.peers.len();
                torrent.peers.push(Entry {
                    addr,
                    id: req.peer_id,
                    last_seen: now,
                    seeder,
                    counted: false,
                });
                torrent.index.insert(addr, slot);
                torrent.seeders += u32::from(seeder);
                self.peers += 1;
                slot
            }
        };
        if req.event == AnnounceEvent::Completed && !torrent.peers[slot].counted {
            torrent.peers[slot].counted = true;
            torrent.downloaded = torrent.downloaded.saturating_add(1);
        }
        let want = req
            .numwant
            .unwrap_or(self.config.default_numwant)
            .min(self.config.max_numwant) as usize;
        torrent.pick(Some(slot), seeder, want, &mut reply.peers);
        reply.complete = Some(torrent.seeders);
        reply.incomplete = Some(torrent.leechers());
        Ok(())
    }

    /// What is known of one torrent; zeros for an unknown one.
    pub fn scrape(&self, info_hash: &InfoHash) -> ScrapeEntry {
        match self.by_hash.get(info_hash).map(|&t| &self.torrents[t]) {
            Some(torrent) => ScrapeEntry {
                info_hash: *info_hash,
                complete: torrent.seeders,
                downloaded: torrent.downloaded,
                incomplete: torrent.leechers(),
            },
            None => ScrapeEntry {
                info_hash: *info_hash,
                ..ScrapeEntry::default()
            },
        }
    }

    /// Drops the peers not heard from for `peer_ttl` before `now`, and the
    /// torrents left empty; returns how many peers went. All in one call:
    /// a server calls [`expire_some`](Self::expire_some) instead. A sweep
    /// in progress is given up and a whole new one done.
    pub fn expire(&mut self, now: Instant) -> usize {
        self.sweep = None;
        self.expire_some(now, usize::MAX).dropped
    }

    /// Goes on with the sweep of expiry (or starts one), doing at most
    /// `budget` units of work (a peer looked at, a torrent finished; at
    /// least 1): drops the peers not heard from for `peer_ttl` before
    /// `now`, and the torrents left empty. Call again until `done`.
    pub fn expire_some(&mut self, now: Instant, budget: usize) -> ExpireProgress {
        let budget = budget.max(1);
        let ttl = self.config.peer_ttl;
        let mut sweep = self.sweep.take().unwrap_or(Sweep {
            next: self.torrents.len(),
            peer: None,
        });
        let mut progress = ExpireProgress::default();
        loop {
            // Torrents dropped since the last slice may leave the cursor
            // past the end.
            if sweep.next > self.torrents.len() {
                sweep = Sweep {
                    next: self.torrents.len(),
                    peer: None,
                };
            }
            if sweep.next == 0 {
                progress.done = true;
                break;
            }
            if progress.examined >= budget {
                self.sweep = Some(sweep);
                break;
            }
            let t = sweep.next - 1;
            let torrent = &mut self.torrents[t];
            let mut p = match sweep.peer {
                Some((hash, p)) if hash == torrent.info_hash => p.min(torrent.peers.len()),
                _ => torrent.peers.len(),
            };
            while p > 0 && progress.examined < budget {
                p -= 1;
                progress.examined += 1;
                if now.saturating_duration_since(torrent.peers[p].last_seen) >= ttl {
                    // The last peer (looked at already) moves to slot p.
                    torrent.remove(p);
                    progress.dropped += 1;
                    self.peers -= 1;
                }
            }
            if p > 0 || progress.examined >= budget {
                // Not finished, or no budget left to finish it: the next
                // slice goes on here.
                sweep.peer = Some((torrent.info_hash, p));
                continue;
            }
            progress.examined += 1;
            if torrent.peers.is_empty() {
                // The last torrent (looked at already) moves to slot t.
                self.remove_torrent(t);
            }
            sweep = Sweep {
                next: t,
                peer: None,
            };
        }
        self.examined += progress.examined as u64;
        progress
    }

    /// Work done by expiry since this was made: peers looked at plus
    /// torrents finished (what the tests count to see a slice is bounded).
    pub fn expire_examined(&self) -> u64 {
        self.examined
    }

    /// Torrents tracked now.
    pub fn torrents(&self) -> usize {
        self.torrents.len()
    }

    /// Peers tracked now, over all torrents.
    pub fn peers(&self) -> usize {
        self.peers
    }
}

/// What the per-IP limit counts by: an IPv4 address, or an IPv6 address's
/// /64 (the block one host is given, so its addresses are one "IP").
fn limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(std::net::Ipv6Addr::from(bits))
        }
    }
}
