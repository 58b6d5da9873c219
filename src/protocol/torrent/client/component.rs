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
use super::torrent::{DiskLink, Torrent, TrackerLink};
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
    pub(super) up_limit: Option<RateLimit>,
    pub(super) down_limit: Option<RateLimit>,
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
            conns: Vec::new(),
            free: Vec::new(),
            open: 0,
            next_id: 1,
            next_key: 1,
            keys: HashMap::new(),
            next_tick: None,
            picked: Vec::with_capacity(256),
            cancels: Vec::new(),
            up_limit: None,
            down_limit: None,
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
                    TorrentSource::Magnet(link) => match link.parse::<Magnet>() {
                        Ok(_) => Err(StartError::BadMagnet(
                            "magnet links are not supported yet".into(),
                        )),
                        Err(e) => Err(StartError::BadMagnet(e.to_string())),
                    },
                };
                let meta = match meta {
                    Ok(m) => m,
                    Err(reason) => return self.say(ClientEvent::StartFailed { token, reason }),
                };
                if let Some(t) = self.find(&meta.info_hash()) {
                    let id = t.id;
                    for p in peers {
                        self.add_peer(id, p);
                    }
                    return self.say(ClientEvent::AlreadyDownloading { token, id });
                }
                let dir = save_dir.unwrap_or_else(|| self.config.download_dir.clone());
                match self.start(cx, meta, dir.clone(), peers) {
                    Ok((id, info_hash, name)) => self.say(ClientEvent::Created {
                        token,
                        id,
                        info_hash,
                        name,
                        save_dir: dir,
                    }),
                    Err(reason) => self.say(ClientEvent::StartFailed { token, reason }),
                }
            }
            ClientRequest::AddPeer(id, addr) => {
                self.add_peer(id, addr);
                if let Some(slot) = self.slot_of(id) {
                    self.dial_more(cx, slot);
                }
            }
            ClientRequest::Close(id) => self.close_torrent(cx, id),
        }
    }

    pub(super) fn find(&self, info_hash: &[u8; 20]) -> Option<&Torrent> {
        self.torrents
            .iter()
            .flatten()
            .find(|t| &t.info_hash == info_hash && !t.closing)
    }

    pub(super) fn slot_of(&self, id: TorrentId) -> Option<usize> {
        self.torrents
            .iter()
            .position(|t| t.as_ref().is_some_and(|t| t.id == id && !t.closing))
    }

    fn add_peer(&mut self, id: TorrentId, addr: SocketAddr) {
        let own = self.own_addr;
        if let Some(i) = self.slot_of(id) {
            if let Some(t) = self.torrents[i].as_mut() {
                t.add_candidates([addr], own);
            }
        }
    }

    /// Starts a torrent: its disk worker (which checks what is on disk
    /// first) and, once checked, its announcer and dialling.
    fn start(
        &mut self,
        cx: &mut Cx,
        meta: Metainfo,
        save_dir: PathBuf,
        peers: Vec<SocketAddr>,
    ) -> Result<(TorrentId, [u8; 20], String), StartError> {
        let layout = Layout::of(&meta).map_err(|e| StartError::BadMetainfo(e.to_string()))?;
        let worker = DiskWorker::for_torrent(&meta, &save_dir, self.config.storage.clone())
            .map_err(|e| StartError::Storage(e.to_string()))?
            .inbox_limit(DISK_INBOX)
            .queue_len(DISK_QUEUE)
            .build();
        let id = self.next_id;
        self.next_id += 1;
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
            tracker: None,
            conns: Vec::new(),
            candidates: Default::default(),
            seen: HashMap::new(),
            down: RateMeter::new(std::time::Duration::from_secs(4), 20, now),
            up: RateMeter::new(std::time::Duration::from_secs(4), 20, now),
            reads: Default::default(),
            backlog: 0,
            complete_said: false,
            closing: false,
            rechoke_soon: false,
            meta,
        };
        let own = self.own_addr;
        t.add_candidates(
            peers.into_iter().chain(self.config.peers.iter().copied()),
            own,
        );
        t.disk.send(DiskRequest::Recheck);
        let answer = (id, t.info_hash, t.meta.name().to_string());
        match self.torrents.iter().position(Option::is_none) {
            Some(i) => self.torrents[i] = Some(t),
            None => self.torrents.push(Some(t)),
        }
        Ok(answer)
    }

    /// After its check: the announcer starts (if it has trackers).
    pub(super) fn start_announcing(&mut self, cx: &mut Cx, slot: usize) {
        let (peer_id, port, numwant) = (self.config.peer_id, self.port(), self.config.numwant);
        let tier_config = self.config.tiers;
        let seed = self.config.seed_rng;
        let extra = &self.extra;
        let Some(t) = self.torrents[slot].as_mut() else {
            return;
        };
        let tiers_list = t.meta.tiers();
        if tiers_list.is_empty() || t.tracker.is_some() {
            return;
        }
        let req = t.announce(peer_id, port, numwant, AnnounceEvent::Started);
        let announcer = TrackerAnnouncer::new(Tiers::new(&tiers_list, seed, tier_config), req);
        let id = t.id;
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
            return;
        }
        let child = cx.spawn_child(announcer);
        t.tracker = Some(TrackerLink {
            child: Some(child),
            ..link_
        });
    }

    /// Closes a torrent: its connections at once, its children asked to
    /// end (the announcer says `stopped` to its tracker first); `Closed`
    /// once they have.
    fn close_torrent(&mut self, cx: &mut Cx, id: TorrentId) {
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
                std::mem::take(&mut t.conns)
            }
            None => return,
        };
        for c in conns {
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
                for name in [tr.to.name(), tr.from.name(), tr.ctl.name(), tr.sig.name()] {
                    let _ = self.extra.remove(name);
                }
            }
            if self.ending.is_none() {
                self.say(ClientEvent::Closed {
                    id: t.id,
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
        let ids: Vec<TorrentId> = self.torrents.iter().flatten().map(|t| t.id).collect();
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
            if self.torrents.iter().all(Option::is_none) {
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
            if let Some(l) = self.config.upload_limit {
                self.up_limit = Some(RateLimit::new(l, l.max(64 * 1024), cx.now()));
            }
            if let Some(l) = self.config.download_limit {
                self.down_limit = Some(RateLimit::new(l, l.max(64 * 1024), cx.now()));
            }
        }
        while let Some(req) = self.inbox.recv() {
            self.request(cx, req);
        }
        let mut busy = self.accept(cx);
        self.take_answers(cx);
        if self.tick_due(cx) {
            self.tick(cx);
        }
        busy |= self.serve_all(cx);
        self.rechoke_waiting(cx);
        self.reap_torrents(cx);
        while cx.next_exit().is_some() {}
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
