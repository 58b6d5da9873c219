//! Choker: which peers we upload to (BEP 3 practice, as mainline
//! BitTorrent and libtorrent do it). Pure logic on caller time: the
//! torrent loop calls [`Choker::rechoke`] when [`Choker::due`] says so
//! (every 10 s by default) with a [`PeerView`] of each peer, and sends
//! the `choke`/`unchoke` messages in the returned [`Decision`].
//!
//! **Regular slots (tit-for-tat).** The `regular_slots` (default 4)
//! interested peers with the best rate are unchoked: the rate at which
//! they send to us while we download ([`Role::Leeching`]), or at which we
//! send to them once we are a seed ([`Role::Seeding`]: the peers that take
//! data fastest spread it fastest). While leeching, a snubbed peer (we are
//! interested in it and no block came from it for `snub_after`, 60 s) gets
//! no regular slot. Ties go to a peer already unchoked (fewer changes),
//! then to the lower key.
//!
//! **Optimistic slot.** One more interested peer, not in a regular slot,
//! chosen at random and kept `optimistic_every` (30 s), so a newcomer can
//! show what it gives. Peers connected less than `new_peer_age` ago are
//! `new_peer_weight` (3) times as likely to be chosen, as mainline does,
//! since they have nothing to trade yet. The slot is chosen afresh sooner
//! if its peer leaves, loses interest or earns a regular slot.
//!
//! Everyone else is choked. Given the same seed, peers and times the
//! decisions are the same.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use kamaelia::protocol::torrent::swarm::{ChokeChange, Choker, ChokerConfig, PeerKey, PeerView, Role};
//! let t0 = Instant::now();
//! let mut choker = Choker::new(ChokerConfig { regular_slots: 1, ..ChokerConfig::default() }, 7);
//! let peer = |k, rate| PeerView { download_rate: rate, ..PeerView::new(PeerKey(k), t0) };
//! let peers = [peer(1, 10), peer(2, 500), peer(3, 20)];
//! assert!(choker.due(t0));
//! let d = choker.rechoke(t0, &peers, Role::Leeching);
//! assert_eq!(d.regular, vec![PeerKey(2)]);
//! let optimist = d.optimistic.unwrap();
//! assert!(optimist == PeerKey(1) || optimist == PeerKey(3));
//! assert!(d.changes.contains(&ChokeChange::Unchoke(PeerKey(2))));
//! assert!(!choker.due(t0 + Duration::from_secs(9)));
//! ```

use std::time::{Duration, Instant};

use super::PeerKey;
use crate::internet::simulate::SplitMix64;

/// The choker's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChokerConfig {
    /// Peers unchoked by rate (besides the optimistic one).
    pub regular_slots: usize,
    /// How often to rechoke.
    pub rechoke_every: Duration,
    /// How long an optimistic unchoke lasts.
    pub optimistic_every: Duration,
    /// No block for this long from a peer we want data from: snubbed.
    pub snub_after: Duration,
    /// A peer connected less than this long ago is new.
    pub new_peer_age: Duration,
    /// How much likelier a new peer is to get the optimistic slot.
    pub new_peer_weight: u32,
}

impl Default for ChokerConfig {
    fn default() -> Self {
        ChokerConfig {
            regular_slots: 4,
            rechoke_every: Duration::from_secs(10),
            optimistic_every: Duration::from_secs(30),
            snub_after: Duration::from_secs(60),
            new_peer_age: Duration::from_secs(60),
            new_peer_weight: 3,
        }
    }
}

/// What we are doing on this torrent: it decides which rate counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Downloading: reward the peers that send to us.
    Leeching,
    /// Complete: serve the peers that take data fastest.
    Seeding,
}

/// One peer as the choker sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerView {
    /// The peer.
    pub key: PeerKey,
    /// It is interested in us (it wants to download).
    pub interested: bool,
    /// We are choking it now.
    pub choked: bool,
    /// We are interested in it (it has pieces we lack).
    pub am_interested: bool,
    /// Bytes a second it sends us.
    pub download_rate: u64,
    /// Bytes a second we send it.
    pub upload_rate: u64,
    /// When it connected.
    pub connected_at: Instant,
    /// When its last block came (`None`: never).
    pub last_block_at: Option<Instant>,
}

impl PeerView {
    /// A peer just connected at `at`: interested in us, choked, we
    /// interested in it, no rates yet.
    pub fn new(key: PeerKey, at: Instant) -> Self {
        PeerView {
            key,
            interested: true,
            choked: true,
            am_interested: true,
            download_rate: 0,
            upload_rate: 0,
            connected_at: at,
            last_block_at: None,
        }
    }
}

/// A message to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChokeChange {
    /// Send `choke` to this peer.
    Choke(PeerKey),
    /// Send `unchoke` to this peer.
    Unchoke(PeerKey),
}

/// The outcome of one rechoke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The peers unchoked by rate, best first.
    pub regular: Vec<PeerKey>,
    /// The optimistic unchoke.
    pub optimistic: Option<PeerKey>,
    /// The changes to send, in the order of the peers given.
    pub changes: Vec<ChokeChange>,
}

/// The choker; see the module documentation.
#[derive(Clone, Debug)]
pub struct Choker {
    config: ChokerConfig,
    rng: SplitMix64,
    optimistic: Option<PeerKey>,
    optimistic_since: Option<Instant>,
    next_at: Option<Instant>,
}

impl Choker {
    /// A choker with these settings; `seed` drives the optimistic choice.
    pub fn new(config: ChokerConfig, seed: u64) -> Self {
        Choker {
            config,
            rng: SplitMix64::new(seed),
            optimistic: None,
            optimistic_since: None,
            next_at: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &ChokerConfig {
        &self.config
    }

    /// Whether a rechoke is due at `now` (the first always is).
    pub fn due(&self, now: Instant) -> bool {
        self.next_at.is_none_or(|t| now >= t)
    }

    /// When the next rechoke is due (`None`: before the first).
    pub fn next_at(&self) -> Option<Instant> {
        self.next_at
    }

    /// The current optimistic unchoke.
    pub fn optimistic(&self) -> Option<PeerKey> {
        self.optimistic
    }

    /// Whether `peer` is snubbing us at `now`: we want its data and none
    /// came for `snub_after` (counted from its connection if none ever did).
    pub fn is_snubbed(&self, peer: &PeerView, now: Instant) -> bool {
        let since = peer.last_block_at.unwrap_or(peer.connected_at);
        peer.am_interested && now.saturating_duration_since(since) >= self.config.snub_after
    }

    /// Decides who is unchoked at `now` (may be called early, say when a
    /// peer leaves; the next one is due `rechoke_every` later).
    pub fn rechoke(&mut self, now: Instant, peers: &[PeerView], role: Role) -> Decision {
        self.next_at = Some(now + self.config.rechoke_every);
        let rate = |p: &PeerView| match role {
            Role::Leeching => p.download_rate,
            Role::Seeding => p.upload_rate,
        };
        let mut ranked: Vec<&PeerView> = peers
            .iter()
            .filter(|p| p.interested && !(role == Role::Leeching && self.is_snubbed(p, now)))
            .collect();
        ranked.sort_by(|a, b| {
            rate(b)
                .cmp(&rate(a))
                .then(a.choked.cmp(&b.choked))
                .then(a.key.cmp(&b.key))
        });
        let regular: Vec<PeerKey> = ranked
            .iter()
            .take(self.config.regular_slots)
            .map(|p| p.key)
            .collect();

        let keep = self.optimistic.filter(|k| {
            let fresh = self
                .optimistic_since
                .is_some_and(|t| now.saturating_duration_since(t) < self.config.optimistic_every);
            fresh && !regular.contains(k) && peers.iter().any(|p| p.key == *k && p.interested)
        });
        if keep.is_none() {
            self.choose_optimistic(now, peers, &regular);
        }

        let changes = peers
            .iter()
            .filter_map(|p| {
                let unchoke = regular.contains(&p.key) || self.optimistic == Some(p.key);
                match (unchoke, p.choked) {
                    (true, true) => Some(ChokeChange::Unchoke(p.key)),
                    (false, false) => Some(ChokeChange::Choke(p.key)),
                    _ => None,
                }
            })
            .collect();
        Decision {
            regular,
            optimistic: self.optimistic,
            changes,
        }
    }

    /// A weighted random pick among the interested peers outside the
    /// regular slots, preferring someone other than the last optimist.
    fn choose_optimistic(&mut self, now: Instant, peers: &[PeerView], regular: &[PeerKey]) {
        let previous = self.optimistic;
        let eligible = |p: &&PeerView| p.interested && !regular.contains(&p.key);
        let others = peers
            .iter()
            .filter(eligible)
            .filter(|p| Some(p.key) != previous)
            .count();
        let pool: Vec<&PeerView> = peers
            .iter()
            .filter(eligible)
            .filter(|p| others == 0 || Some(p.key) != previous)
            .collect();
        let weight = |p: &PeerView| {
            if now.saturating_duration_since(p.connected_at) < self.config.new_peer_age {
                u64::from(self.config.new_peer_weight.max(1))
            } else {
                1
            }
        };
        let total: u64 = pool.iter().map(|p| weight(p)).sum();
        if total == 0 {
            self.optimistic = None;
            self.optimistic_since = None;
            return;
        }
        let mut ticket = self.rng.below(total);
        let mut chosen = pool[pool.len() - 1].key;
        for p in &pool {
            let w = weight(p);
            if ticket < w {
                chosen = p.key;
                break;
            }
            ticket -= w;
        }
        self.optimistic = Some(chosen);
        self.optimistic_since = Some(now);
    }
}
