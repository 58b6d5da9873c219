//! The client's once-a-tick work: peer timers, choking, dialling, the
//! trackers' figures and the status messages.

use super::component::TorrentClient;
use super::conn::Stage;
use super::messages::{ClientEvent, StartError, TorrentState};
use crate::axon::Cx;
use crate::protocol::torrent::swarm::{ChokeChange, PeerView, Role};
use crate::protocol::torrent::tracker::AnnounceEvent;

impl TorrentClient {
    /// Runs every `status_every`.
    pub(super) fn tick(&mut self, cx: &mut Cx) {
        let now = cx.now();
        for c in self.conns.iter_mut().flatten() {
            c.note_round_trip();
            if let Some(s) = c.session() {
                if now >= s.next_deadline() {
                    s.on_tick(now);
                }
            }
        }
        let (peer_id, port, numwant) = (self.config.peer_id, self.port(), self.config.numwant);
        for slot in 0..self.torrents.len() {
            let Some(t) = self.torrents[slot].as_mut() else {
                continue;
            };
            if t.closing {
                continue;
            }
            if t.choker.due(now) {
                t.rechoke_soon = true;
            }
            if matches!(t.state, TorrentState::Downloading | TorrentState::Seeding) {
                let req = t.announce(peer_id, port, numwant, AnnounceEvent::None);
                t.tell_tracker(req);
                self.dial_more(cx, slot, false);
            }
            self.say_status(slot, now);
        }
        for slot in 0..self.pendings.len() {
            let Some(p) = self.pendings[slot].as_ref() else {
                continue;
            };
            if p.closing {
                continue;
            }
            let id = p.id;
            if now.duration_since(p.started) >= self.config.metadata_timeout {
                self.say(ClientEvent::Error {
                    id,
                    reason: StartError::NoMetadata.to_string(),
                });
                self.close_torrent(cx, id);
                continue;
            }
            let peers = p
                .peers
                .conns
                .iter()
                .filter(|&&c| {
                    self.conns[c]
                        .as_ref()
                        .is_some_and(|c| matches!(c.stage, Stage::Meta(_)))
                })
                .count() as u32;
            let status = p.status(peers);
            self.say(ClientEvent::Status(status));
            self.dial_more(cx, slot, true);
        }
    }

    fn say_status(&mut self, slot: usize, now: std::time::Instant) {
        let Some(t) = self.torrents[slot].as_ref() else {
            return;
        };
        let (mut peers, mut seeds) = (0, 0);
        for &c in &t.peers.conns {
            if let Some(s) = self.conns[c].as_ref().and_then(|c| c.session_ref()) {
                if s.peer_id().is_some() && !s.is_closed() {
                    peers += 1;
                    seeds += u32::from(s.peer_has().is_full());
                }
            }
        }
        let status = t.status(now, peers, seeds);
        self.say(ClientEvent::Status(status));
    }

    /// Dials the torrent's candidates while it has room for peers (a
    /// magnet link's waiting for metadata when `magnet`).
    pub(super) fn dial_more(&mut self, cx: &mut Cx, slot: usize, magnet: bool) {
        let now = cx.now();
        let redial = self.config.redial_after;
        loop {
            if self.open >= self.config.max_connections {
                return;
            }
            let conns = &self.conns;
            let book = if magnet {
                self.pendings
                    .get_mut(slot)
                    .and_then(Option::as_mut)
                    .map(|p| &mut p.peers)
            } else {
                self.torrents
                    .get_mut(slot)
                    .and_then(Option::as_mut)
                    .map(|t| &mut t.peers)
            };
            let Some(book) = book else { return };
            if book.conns.len() >= self.config.max_peers {
                return;
            }
            let connected = |mine: &[usize], a| {
                mine.iter()
                    .any(|&c| conns[c].as_ref().is_some_and(|c| c.addr == a))
            };
            let Some(addr) = book.next_due(now, redial, connected) else {
                return;
            };
            self.dial(cx, slot, magnet, addr);
        }
    }

    /// Rechokes the torrents that asked for it (a period passed, a peer
    /// became interested or left); true if a peer was choked or unchoked.
    pub(super) fn rechoke_waiting(&mut self, cx: &mut Cx) -> bool {
        let mut changed = false;
        let now = cx.now();
        let mut views = Vec::new();
        for slot in 0..self.torrents.len() {
            let Some(t) = self.torrents[slot].as_mut() else {
                continue;
            };
            if !t.rechoke_soon || t.closing {
                continue;
            }
            t.rechoke_soon = false;
            views.clear();
            for &c in &t.peers.conns {
                let Some(c) = self.conns[c].as_ref() else {
                    continue;
                };
                let Some(s) = c.session_ref() else { continue };
                if s.peer_id().is_none() || s.is_closed() {
                    continue;
                }
                views.push(PeerView {
                    key: c.key,
                    interested: s.peer_interested(),
                    choked: s.am_choking(),
                    am_interested: s.am_interested(),
                    download_rate: s.download_rate(now),
                    upload_rate: s.upload_rate(now),
                    connected_at: c.connected_at,
                    last_block_at: c.last_block_at,
                });
            }
            let role = if t.state == TorrentState::Seeding {
                Role::Seeding
            } else {
                Role::Leeching
            };
            let decision = t.choker.rechoke(now, &views, role);
            changed |= !decision.changes.is_empty();
            for change in decision.changes {
                match change {
                    ChokeChange::Choke(k) => {
                        if let Some(s) = self.session_of(k) {
                            s.choke();
                        }
                    }
                    ChokeChange::Unchoke(k) => {
                        if let Some(s) = self.session_of(k) {
                            s.unchoke();
                        }
                    }
                }
            }
        }
        changed
    }
}
