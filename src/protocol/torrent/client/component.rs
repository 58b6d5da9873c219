//! The [`TorrentClient`] component: its boxes, its step, and the life of
//! its torrents (start, check, close). Connections are served in
//! `peers.rs`, the disk's and trackers' answers handled in `answers.rs`,
//! the once-a-tick work (timers, choking, dialling, status) in `tick.rs`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use bytes::Bytes;

use super::config::ClientConfig;
use super::conn::Conn;
use super::messages::{
    ClientEvent, ClientRequest, StartError, TorrentId, TorrentSource, TorrentState,
};
use super::pending::Pending;
use super::recent::RecentPieces;
use super::torrent::{DiskLink, PeerBook, Torrent, TrackerLink};
use crate::axon::{link, AdaptiveBoxes, BoxSet, Component, Cx, Id, Inbox, Outbox, Signal, Step};
use crate::internet::{tcp_connector, Acceptor, Connector};
use crate::protocol::torrent::magnet::Magnet;
use crate::protocol::torrent::metainfo::Metainfo;
use crate::protocol::torrent::pieces::{BlockRef, Layout};
use crate::protocol::torrent::storage::{DiskRequest, DiskWorker, PieceBuffers};
use crate::protocol::torrent::swarm::{Choker, PeerKey, Picker, RateLimit, RateMeter};
use crate::protocol::torrent::tracker::tiers::{Tiers, TrackerAnnouncer};
use crate::protocol::torrent::tracker::AnnounceEvent;

/// Requests the disk worker's inbox holds (pieces to write and blocks to
/// read for uploads).
const DISK_INBOX: usize = 64;
/// Requests and answers queued between the disk worker and its thread.
const DISK_QUEUE: usize = 32;

/// The BitTorrent client; see the [module documentation](super).
pub struct TorrentClient {
    /// Requests: create, add a peer, close.
    pub inbox: Inbox<ClientRequest>,
    /// Shutdown or producer finished: every torrent is closed, then it ends.
    pub control: Inbox<Signal>,
    /// Answers, status and completion.
    pub outbox: Outbox<ClientEvent>,
    /// The control signal passed on, once, when it ends.
    pub signal: Outbox<Signal>,
    pub(super) extra: AdaptiveBoxes,
    pub(super) config: ClientConfig,
    pub(super) acceptor: Option<Box<dyn Acceptor>>,
    pub(super) connector: Connector,
    pub(super) registered: bool,
    pub(super) own_addr: Option<SocketAddr>,
    pub(super) torrents: Vec<Option<Torrent>>,
    /// Magnet links waiting for their metadata.
    pub(super) pendings: Vec<Option<Pending>>,
    /// Metadata fetched this step: the pending slot and the dictionary.
    pub(super) fetched: Vec<(usize, Bytes)>,
    pub(super) conns: Vec<Option<Conn>>,
    pub(super) free: Vec<usize>,
    pub(super) open: usize,
    pub(super) next_id: TorrentId,
    pub(super) next_key: u32,
    /// Each connection's slot by its key: for the rarer messages that name
    /// a peer by key (endgame cancels, bans).
    pub(super) keys: HashMap<u32, usize>,
    pub(super) next_tick: Option<Instant>,
    pub(super) picked: Vec<BlockRef>,
    pub(super) cancels: Vec<PeerKey>,
    /// The global limits (rate 0: none).
    pub(super) up_limit: RateLimit,
    pub(super) down_limit: RateLimit,
    /// The earliest time a rate limit lets a held connection go on.
    pub(super) limit_wake: Option<Instant>,
    /// The signal that ends it, once one came.
    pub(super) ending: Option<Signal>,
}

impl TorrentClient {
    /// A client that listens with `acceptor` (`None`: it only dials out).
    pub fn new(config: ClientConfig, acceptor: Option<Box<dyn Acceptor>>) -> Self {
        TorrentClient {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "answers, status and completion"),
            signal: Outbox::signal(),
            extra: AdaptiveBoxes::reserving(&["inbox", "control", "outbox", "signal"]),
            config,
            own_addr: acceptor.as_ref().and_then(|a| a.local_addr()),
            acceptor,
            connector: tcp_connector(),
            registered: false,
            torrents: Vec::new(),
            pendings: Vec::new(),
            fetched: Vec::new(),
            conns: Vec::new(),
            free: Vec::new(),
            open: 0,
            next_id: 1,
            next_key: 1,
            keys: HashMap::new(),
            next_tick: None,
            picked: Vec::with_capacity(256),
            cancels: Vec::new(),
            up_limit: RateLimit::unlimited(Instant::now()),
            down_limit: RateLimit::unlimited(Instant::now()),
            limit_wake: None,
            ending: None,
        }
    }

    /// Makes outgoing connections with `connector` (tests pass a scripted one).
    pub fn with_connector(mut self, connector: Connector) -> Self {
        self.connector = connector;
        self
    }

    /// The address it listens on, if it listens.
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.own_addr
    }

    /// The port told to trackers.
    pub(super) fn port(&self) -> u16 {
        self.config
            .announce_port
            .or(self.own_addr.map(|a| a.port()))
            .unwrap_or(6881)
    }

    pub(super) fn say(&mut self, ev: ClientEvent) {
        if let Err(e) = self.outbox.send(ev) {
            log::warn!("torrent client: an event was refused: {:?}", e.0);
        }
    }

    // ---- requests ----

    fn request(&mut self, cx: &mut Cx, req: ClientRequest) {
        match req {
            ClientRequest::Create {
                token,
                source,
                save_dir,
                peers,
            } => {
                let meta = match source {
                    TorrentSource::Metainfo(bytes) => Metainfo::from_bytes(&bytes)
                        .map_err(|e| StartError::BadMetainfo(e.to_string())),
                    TorrentSource::Magnet(link) => {
                        return match link.parse::<Magnet>() {
                            Ok(m) => self.create_magnet(cx, token, m, save_dir, peers),
                            Err(e) => self.say(ClientEvent::StartFailed {
                                token,
                                reason: StartError::BadMagnet(e.to_string()),
                            }),
                        }
                    }
                };
                let meta = match meta {
                    Ok(m) => m,
                    Err(reason) => return self.say(ClientEvent::StartFailed { token, reason }),
                };
                if let Some(id) = self.running(&meta.info_hash()) {
                    return self.already_running(cx, token, id, peers);
                }
                let dir = save_dir.unwrap_or_else(|| self.config.download_dir.clone());
                let id = self.next_id;
                self.next_id += 1;
                let book = PeerBook::default();
                match self.start(cx, id, meta, dir.clone(), book, peers, None) {
                    Ok((info_hash, name)) => self.say(ClientEvent::Created {
                        token,
                        id,
                        info_hash,
                        name,
                        save_dir: dir,
                    }),
                    Err(reason) => self.say(ClientEvent::StartFailed { token, reason }),
                }
            }
            ClientRequest::AddPeer(id, addr) => self.add_peer(cx, id, addr),
            ClientRequest::SetLimits {
                id,
                upload,
                download,
            } => {
                let now = cx.now();
                let (up, down) = (limit(upload, now), limit(download, now));
                match id {
                    None => (self.up_limit, self.down_limit) = (up, down),
                    Some(id) => {
                        if let Some(t) = self.slot_of(id).and_then(|i| self.torrents[i].as_mut()) {
                            (t.up_limit, t.down_limit) = (up, down);
                        }
                    }
                }
            }
            ClientRequest::Close(id) => self.close_torrent(cx, id),
        }
    }

    /// The id of the torrent (or magnet link) running for `info_hash`.
    pub(super) fn running(&self, info_hash: &[u8; 20]) -> Option<TorrentId> {
        let t = self.torrents.iter().flatten();
        let p = self.pendings.iter().flatten();
        t.filter(|t| &t.info_hash == info_hash && !t.closing)
            .map(|t| t.id)
            .chain(
                p.filter(|p| &p.info_hash == info_hash && !p.closing)
                    .map(|p| p.id),
            )
            .next()
    }

    pub(super) fn slot_of(&self, id: TorrentId) -> Option<usize> {
        self.torrents
            .iter()
            .position(|t| t.as_ref().is_some_and(|t| t.id == id && !t.closing))
    }

    fn pending_slot_of(&self, id: TorrentId) -> Option<usize> {
        self.pendings
            .iter()
            .position(|p| p.as_ref().is_some_and(|p| p.id == id && !p.closing))
    }

    fn add_peer(&mut self, cx: &mut Cx, id: TorrentId, addr: SocketAddr) {
        let own = self.own_addr;
        if let Some(i) = self.slot_of(id) {
            if let Some(t) = self.torrents[i].as_mut() {
                t.peers.add([addr], own);
            }
            self.dial_more(cx, i, false);
        } else if let Some(i) = self.pending_slot_of(id) {
            if let Some(p) = self.pendings[i].as_mut() {
                p.peers.add([addr], own);
            }
            self.dial_more(cx, i, true);
        }
    }

    /// A `Create` for a torrent running as `id`: its peers are added to
    /// it, and the asker is told.
    fn already_running(&mut self, cx: &mut Cx, token: u64, id: TorrentId, peers: Vec<SocketAddr>) {
        for p in peers {
            self.add_peer(cx, id, p);
        }
        self.say(ClientEvent::AlreadyDownloading { token, id });
    }

    /// A magnet link: its trackers and peers asked for the metadata.
    fn create_magnet(
        &mut self,
        cx: &mut Cx,
        token: u64,
        m: Magnet,
        save_dir: Option<PathBuf>,
        peers: Vec<SocketAddr>,
    ) {
        if let Some(id) = self.running(&m.info_hash) {
            return self.already_running(cx, token, id, peers);
        }
        let dir = save_dir.unwrap_or_else(|| self.config.download_dir.clone());
        let id = self.next_id;
        self.next_id += 1;
        let mut p = Pending::new(
            id,
            m.info_hash,
            m.display_name.clone(),
            dir.clone(),
            &m.trackers,
            cx.now(),
        );
        let own = self.own_addr;
        p.peers.add(
            m.peer_addrs()
                .into_iter()
                .chain(peers)
                .chain(self.config.peers.iter().copied()),
            own,
        );
        if !p.tiers.is_empty() {
            let req = p.announce(self.config.peer_id, self.port(), self.config.numwant);
            p.tracker = self.spawn_announcer(cx, id, &p.tiers, req);
        }
        let (info_hash, name) = (p.info_hash, p.name.clone());
        let slot = match self.pendings.iter().position(Option::is_none) {
            Some(i) => {
                self.pendings[i] = Some(p);
                i
            }
            None => {
                self.pendings.push(Some(p));
                self.pendings.len() - 1
            }
        };
        self.say(ClientEvent::Created {
            token,
            id,
            info_hash,
            name,
            save_dir: dir,
        });
        self.dial_more(cx, slot, true);
    }

    /// Metadata fetched this step: each magnet link's torrent starts.
    pub(super) fn take_fetched(&mut self, cx: &mut Cx) {
        for (slot, info) in std::mem::take(&mut self.fetched) {
            let Some(p) = self.pendings.get(slot).and_then(Option::as_ref) else {
                continue; // a second peer's copy
            };
            if p.closing {
                continue; // closed meanwhile: its announcer is ending
            }
            let (id, meta) = (p.id, Metainfo::from_info_dict(&info, &p.tiers));
            let meta = match meta {
                Ok(m) => m,
                Err(e) => {
                    // Its hash is right, so no peer will give another:
                    // this link cannot be downloaded.
                    let reason = format!("the metadata is not a valid info dictionary: {e}");
                    self.say(ClientEvent::Error { id, reason });
                    self.close_pending(cx, id);
                    continue;
                }
            };
            let Some(p) = self.pendings[slot].take() else {
                continue;
            };
            let mut book = PeerBook::default();
            // The peers met so far are dialled again for the data.
            for &c in &p.peers.conns {
                if let Some(c) = self.conns[c].as_ref() {
                    book.candidates.push_back(c.addr);
                }
            }
            book.candidates.extend(p.peers.candidates.iter().copied());
            for (addr, seen) in &p.peers.seen {
                if !book.candidates.contains(addr) && seen.failures == 0 {
                    book.candidates.push_back(*addr);
                }
            }
            for c in p.peers.conns.clone() {
                self.close_conn(cx, c);
            }
            let bytes = Bytes::from(meta.to_bytes());
            log::info!("torrent {id}: metadata received ({} bytes)", info.len());
            match self.start(cx, id, meta, p.save_dir, book, Vec::new(), p.tracker) {
                Ok(_) => self.say(ClientEvent::MetadataReceived {
                    id,
                    metainfo: bytes,
                }),
                Err(reason) => self.say(ClientEvent::Error {
                    id,
                    reason: reason.to_string(),
                }),
            }
        }
    }

    /// Starts a torrent: its disk worker (which checks what is on disk
    /// first) and, once checked, its announcer and dialling.
    #[allow(clippy::too_many_arguments)]
    fn start(
        &mut self,
        cx: &mut Cx,
        id: TorrentId,
        meta: Metainfo,
        save_dir: PathBuf,
        book: PeerBook,
        peers: Vec<SocketAddr>,
        tracker: Option<TrackerLink>,
    ) -> Result<([u8; 20], String), StartError> {
        let layout = Layout::of(&meta).map_err(|e| StartError::BadMetainfo(e.to_string()))?;
        let worker = DiskWorker::for_torrent(&meta, &save_dir, self.config.storage.clone())
            .map_err(|e| StartError::Storage(e.to_string()))?
            .inbox_limit(DISK_INBOX)
            .queue_len(DISK_QUEUE)
            .build();
        let disk = DiskLink {
            to: self
                .extra
                .add_outbox(&format!("disk{id}"), "requests to the disk worker"),
            from: self
                .extra
                .add_inbox(&format!("disk{id}_in"), "the disk worker's answers"),
            ctl: self
                .extra
                .add_outbox(&format!("disk{id}_ctl"), "shutdown for the disk worker"),
            sig: self
                .extra
                .add_inbox(&format!("disk{id}_sig"), "the disk worker's end"),
            pending: Default::default(),
            child: None,
        };
        let wired = link(&disk.to, &worker.inbox)
            .and_then(|_| link(&worker.outbox, &disk.from))
            .and_then(|_| link(&disk.ctl, &worker.control))
            .and_then(|_| link(&worker.signal, &disk.sig));
        if let Err(e) = wired {
            return Err(StartError::Storage(format!("disk worker not linked: {e}")));
        }
        let disk_id = cx.spawn_child(worker);
        let now = cx.now();
        let seed = self.config.seed_rng ^ u64::from(id);
        let mut t = Torrent {
            id,
            info_hash: meta.info_hash(),
            info: Bytes::copy_from_slice(meta.raw_info()),
            layout,
            picker: Picker::new(layout, seed),
            choker: Choker::new(self.config.choker, seed),
            buffers: PieceBuffers::new(layout, self.config.max_pieces_in_flight),
            state: TorrentState::Checking,
            disk: DiskLink {
                child: Some(disk_id),
                ..disk
            },
            tracker,
            peers: book,
            down: RateMeter::new(std::time::Duration::from_secs(4), 20, now),
            up: RateMeter::new(std::time::Duration::from_secs(4), 20, now),
            reads: Default::default(),
            backlog: 0,
            recent: RecentPieces::new(self.config.recent_pieces),
            up_limit: RateLimit::unlimited(now),
            down_limit: RateLimit::unlimited(now),
            complete_said: false,
            closing: false,
            rechoke_soon: false,
            meta,
        };
        let own = self.own_addr;
        t.peers.add(
            peers.into_iter().chain(self.config.peers.iter().copied()),
            own,
        );
        t.disk.send(DiskRequest::Recheck);
        let answer = (t.info_hash, t.meta.name().to_string());
        match self.torrents.iter().position(Option::is_none) {
            Some(i) => self.torrents[i] = Some(t),
            None => self.torrents.push(Some(t)),
        }
        Ok(answer)
    }

    /// After its check: the announcer starts (if it has trackers and
    /// none runs yet: a magnet link's goes on).
    pub(super) fn start_announcing(&mut self, cx: &mut Cx, slot: usize) {
        let (peer_id, port, numwant) = (self.config.peer_id, self.port(), self.config.numwant);
        let Some(t) = self.torrents[slot].as_ref() else {
            return;
        };
        let tiers = t.meta.tiers();
        if tiers.is_empty() || t.tracker.is_some() {
            return;
        }
        let req = t.announce(peer_id, port, numwant, AnnounceEvent::Started);
        let id = t.id;
        let link = self.spawn_announcer(cx, id, &tiers, req);
        if let Some(t) = self.torrents[slot].as_mut() {
            t.tracker = link;
        }
    }

    /// A tracker announcer child for torrent `id`, linked to run-time
    /// boxes of ours.
    pub(super) fn spawn_announcer(
        &mut self,
        cx: &mut Cx,
        id: TorrentId,
        tiers: &[Vec<String>],
        req: crate::protocol::torrent::tracker::AnnounceRequest,
    ) -> Option<TrackerLink> {
        let mut config = self.config.tiers;
        config.min_reannounce = config.min_reannounce.max(std::time::Duration::from_secs(1));
        let announcer = TrackerAnnouncer::new(Tiers::new(tiers, self.config.seed_rng, config), req);
        let extra = &self.extra;
        let link_ = TrackerLink {
            to: extra.add_outbox(&format!("tracker{id}"), "the torrent's figures to announce"),
            from: extra.add_inbox(&format!("tracker{id}_in"), "announce outcomes"),
            ctl: extra.add_outbox(&format!("tracker{id}_ctl"), "shutdown for the announcer"),
            sig: extra.add_inbox(&format!("tracker{id}_sig"), "the announcer's end"),
            child: None,
        };
        let wired = link(&link_.to, &announcer.inbox)
            .and_then(|_| link(&announcer.outbox, &link_.from))
            .and_then(|_| link(&link_.ctl, &announcer.control))
            .and_then(|_| link(&announcer.signal, &link_.sig));
        if let Err(e) = wired {
            log::error!("torrent {id}: announcer not linked: {e}");
            return None;
        }
        let child = cx.spawn_child(announcer);
        Some(TrackerLink {
            child: Some(child),
            ..link_
        })
    }

    /// Removes a child link's run-time boxes.
    fn remove_tracker_boxes(&self, tr: &TrackerLink) {
        for name in [tr.to.name(), tr.from.name(), tr.ctl.name(), tr.sig.name()] {
            let _ = self.extra.remove(name);
        }
    }

    /// Closes a torrent: its connections at once, its children asked to
    /// end (the announcer says `stopped` to its tracker first); `Closed`
    /// once they have.
    pub(super) fn close_torrent(&mut self, cx: &mut Cx, id: TorrentId) {
        if self.pending_slot_of(id).is_some() {
            return self.close_pending(cx, id);
        }
        let Some(slot) = self.slot_of(id) else {
            return self.say(ClientEvent::Closed { id, existed: false });
        };
        let conns = match self.torrents[slot].as_mut() {
            Some(t) => {
                t.closing = true;
                let _ = t.disk.ctl.send(Signal::Shutdown);
                if let Some(tr) = &t.tracker {
                    let _ = tr.ctl.send(Signal::Shutdown);
                }
                t.peers.conns.clone()
            }
            None => return,
        };
        for c in conns {
            self.close_conn(cx, c);
        }
    }

    /// Closes a magnet link waiting for metadata.
    fn close_pending(&mut self, cx: &mut Cx, id: TorrentId) {
        let Some(slot) = self.pending_slot_of(id) else {
            return;
        };
        let Some(p) = self.pendings[slot].as_mut() else {
            return;
        };
        p.closing = true;
        if let Some(tr) = &p.tracker {
            let _ = tr.ctl.send(Signal::Shutdown);
        }
        for c in p.peers.conns.clone() {
            self.close_conn(cx, c);
        }
    }

    /// Torrents whose children have ended are dropped (their boxes too).
    fn reap_torrents(&mut self, cx: &mut Cx) {
        for i in 0..self.torrents.len() {
            let done = match &self.torrents[i] {
                Some(t) if t.closing => {
                    let alive = |c: Option<Id>| c.is_some_and(|c| cx.is_alive(c));
                    !alive(t.disk.child) && !alive(t.tracker.as_ref().and_then(|t| t.child))
                }
                _ => false,
            };
            if !done {
                continue;
            }
            let t = self.torrents[i].take().expect("checked above");
            for name in [
                t.disk.to.name(),
                t.disk.from.name(),
                t.disk.ctl.name(),
                t.disk.sig.name(),
            ] {
                let _ = self.extra.remove(name);
            }
            if let Some(tr) = &t.tracker {
                self.remove_tracker_boxes(tr);
            }
            if self.ending.is_none() {
                self.say(ClientEvent::Closed {
                    id: t.id,
                    existed: true,
                });
            }
        }
        for i in 0..self.pendings.len() {
            let done = match &self.pendings[i] {
                Some(p) if p.closing => !p
                    .tracker
                    .as_ref()
                    .and_then(|t| t.child)
                    .is_some_and(|c| cx.is_alive(c)),
                _ => false,
            };
            if !done {
                continue;
            }
            let p = self.pendings[i].take().expect("checked above");
            if let Some(tr) = &p.tracker {
                self.remove_tracker_boxes(tr);
            }
            if self.ending.is_none() {
                self.say(ClientEvent::Closed {
                    id: p.id,
                    existed: true,
                });
            }
        }
    }

    /// The housekeeping timer: due now, or armed for its time.
    fn tick_due(&mut self, cx: &mut Cx) -> bool {
        let now = cx.now();
        match self.next_tick {
            Some(at) if now < at => false,
            _ => {
                let next = now + self.config.status_every;
                self.next_tick = Some(next);
                cx.wake_at(next);
                true
            }
        }
    }

    fn begin_end(&mut self, cx: &mut Cx, sig: Signal) {
        let mut ids: Vec<TorrentId> = self.torrents.iter().flatten().map(|t| t.id).collect();
        ids.extend(self.pendings.iter().flatten().map(|p| p.id));
        self.ending = Some(sig);
        for id in ids {
            self.close_torrent(cx, id);
        }
        for i in 0..self.conns.len() {
            self.close_conn(cx, i);
        }
        if let Some(mut a) = self.acceptor.take() {
            a.close(cx);
        }
    }
}

/// A rate limit of `rate` bytes a second (0: none), with a burst of a
/// quarter second's worth, at least 64 KiB (four blocks).
fn limit(rate: u64, now: Instant) -> RateLimit {
    RateLimit::new(rate, (rate / 4).max(64 * 1024), now)
}

impl Component for TorrentClient {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if self.ending.is_none() {
            if let Some(sig) = self.control.recv() {
                self.begin_end(cx, sig);
            }
        }
        if self.ending.is_some() {
            self.take_answers(cx);
            self.reap_torrents(cx);
            while cx.next_exit().is_some() {}
            if self.torrents.iter().all(Option::is_none)
                && self.pendings.iter().all(Option::is_none)
            {
                let sig = self.ending.take().expect("ending");
                let _ = self.signal.send(sig);
                return Step::Done;
            }
            return Step::Pause;
        }
        if !self.registered {
            self.registered = true;
            if let Some(a) = self.acceptor.as_mut() {
                if let Err(e) = a.register(cx) {
                    log::error!("torrent client: listener not registered: {e}");
                    self.acceptor = None;
                }
            }
            let now = cx.now();
            self.up_limit = limit(self.config.upload_limit.unwrap_or(0), now);
            self.down_limit = limit(self.config.download_limit.unwrap_or(0), now);
        }
        while let Some(req) = self.inbox.recv() {
            self.request(cx, req);
        }
        let mut busy = self.accept(cx);
        self.take_answers(cx);
        self.take_pending_answers(cx);
        if self.tick_due(cx) {
            self.tick(cx);
        }
        busy |= self.serve_all(cx);
        self.take_fetched(cx);
        if self.rechoke_waiting(cx) {
            // Unchokes (and chokes) go now, not at the next wake.
            self.flush_all(cx);
        }
        self.reap_torrents(cx);
        while cx.next_exit().is_some() {}
        if let Some(at) = self.limit_wake.take() {
            cx.wake_at(at);
        }
        if busy {
            Step::Yield
        } else {
            Step::Pause
        }
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
        set.adaptive(&self.extra);
    }
}
