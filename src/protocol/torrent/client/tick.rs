//! The client's once-a-tick work: peer timers, choking, dialling, the
//! trackers' figures and the status messages.

use super::component::TorrentClient;
use super::messages::{ClientEvent, TorrentState};
use std::time::Duration;

use crate::axon::Cx;
use crate::protocol::torrent::swarm::{ChokeChange, PeerView, Role};
use crate::protocol::torrent::tracker::AnnounceEvent;

impl TorrentClient {
    /// Runs every `status_every`.
    pub(super) fn tick(&mut self, cx: &mut Cx) {
        let now = cx.now();
        for c in self.conns.iter_mut().flatten() {
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
                self.dial_more(cx, slot);
            }
            self.say_status(slot, now);
        }
    }

    fn say_status(&mut self, slot: usize, now: std::time::Instant) {
        let Some(t) = self.torrents[slot].as_ref() else {
            return;
        };
        let (mut peers, mut seeds) = (0, 0);
        for &c in &t.conns {
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

    /// Dials the torrent's candidates while it has room for peers. A
    /// peer dialled lately waits its turn: 1 s after a first failure,
    /// doubling to `redial_after`.
    pub(super) fn dial_more(&mut self, cx: &mut Cx, slot: usize) {
        let now = cx.now();
        let redial = self.config.redial_after;
        let Some(t) = self.torrents[slot].as_ref() else {
            return;
        };
        for _ in 0..t.candidates.len() {
            if self.open >= self.config.max_connections {
                return;
            }
            let Some(t) = self.torrents[slot].as_mut() else {
                return;
            };
            if t.conns.len() >= self.config.max_peers {
                return;
            }
            let Some(addr) = t.candidates.pop_front() else {
                return;
            };
            let connected = t
                .conns
                .iter()
                .any(|&c| self.conns[c].as_ref().is_some_and(|c| c.addr == addr));
            if connected {
                continue;
            }
            let seen = t.seen.entry(addr).or_insert(super::torrent::Seen {
                at: None,
                failures: 0,
            });
            if let Some(at) = seen.at {
                let wait = Duration::from_secs(1 << seen.failures.min(16)).min(redial);
                if now.duration_since(at) < wait {
                    t.candidates.push_back(addr);
                    continue;
                }
            }
            seen.at = Some(now);
            self.dial(cx, slot, addr);
        }
    }

    /// Rechokes the torrents that asked for it (a period passed, a peer
    /// became interested or left).
    pub(super) fn rechoke_waiting(&mut self, cx: &mut Cx) {
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
            for &c in &t.conns {
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
    }
}
