//! What the children say back: the disk worker (pieces verified or
//! failed, blocks read for uploads, the first check) and the announcer
//! (peers to dial).

use super::component::TorrentClient;
use super::messages::{ClientEvent, TorrentState};
use super::peers::run_blocks;
use crate::axon::Cx;
use crate::protocol::torrent::storage::{DiskEvent, DiskOp};
use crate::protocol::torrent::tracker::tiers::AnnounceOutcome;
use crate::protocol::torrent::tracker::AnnounceEvent;

impl TorrentClient {
    /// Takes every child's answers.
    pub(super) fn take_answers(&mut self, cx: &mut Cx) {
        for slot in 0..self.torrents.len() {
            while let Some(t) = self.torrents[slot].as_mut() {
                t.disk.flush();
                while t.disk.sig.recv().is_some() {}
                if let Some(tr) = &t.tracker {
                    while tr.sig.recv().is_some() {}
                }
                let ev = t.disk.from.recv();
                let outcome = t.tracker.as_ref().and_then(|tr| tr.from.recv());
                if ev.is_none() && outcome.is_none() {
                    break;
                }
                if let Some(ev) = ev {
                    self.on_disk(cx, slot, ev);
                }
                if let Some(o) = outcome {
                    self.on_announce(slot, o);
                    self.dial_more(cx, slot, false);
                }
            }
        }
    }

    /// The announce outcomes of magnet links waiting for metadata.
    pub(super) fn take_pending_answers(&mut self, cx: &mut Cx) {
        let own = self.own_addr;
        for slot in 0..self.pendings.len() {
            let mut got = false;
            while let Some(p) = self.pendings[slot].as_mut() {
                let Some(tr) = &p.tracker else { break };
                while tr.sig.recv().is_some() {}
                match tr.from.recv() {
                    Some(AnnounceOutcome::Announced { reply, .. }) => {
                        p.peers.add(reply.peers.iter().map(|x| x.addr), own);
                        got = true;
                    }
                    Some(AnnounceOutcome::Failed { url, error, .. }) => {
                        log::info!("torrent {}: tracker {url} failed: {error}", p.id);
                    }
                    None => break,
                }
            }
            if got {
                self.dial_more(cx, slot, true);
            }
        }
    }

    fn on_announce(&mut self, slot: usize, outcome: AnnounceOutcome) {
        let own = self.own_addr;
        let Some(t) = self.torrents[slot].as_mut() else {
            return;
        };
        match outcome {
            AnnounceOutcome::Announced { url, reply } => {
                log::debug!("torrent {}: {url} listed {} peers", t.id, reply.peers.len());
                t.peers.add(reply.peers.iter().map(|p| p.addr), own);
            }
            AnnounceOutcome::Failed { url, error, .. } => {
                log::info!("torrent {}: tracker {url} failed: {error}", t.id);
            }
        }
    }

    fn on_disk(&mut self, cx: &mut Cx, slot: usize, ev: DiskEvent) {
        let now = cx.now();
        let Some(t) = self.torrents[slot].as_mut() else {
            return;
        };
        if t.closing {
            return;
        }
        match ev {
            DiskEvent::Block { block, data } => {
                let Some((conn, key)) = t.reads.pop_front() else {
                    return;
                };
                let Some(c) = self.conns.get_mut(conn).and_then(Option::as_mut) else {
                    return;
                };
                if c.key != key {
                    return; // that peer left; its slot was taken since
                }
                let blocks = run_blocks(block).count() as u32;
                c.reading = c.reading.saturating_sub(blocks);
                let Some(s) = c.session() else { return };
                for b in run_blocks(block) {
                    let at = (b.offset - block.offset) as usize;
                    if s.send_block_bytes(b, data.slice(at..at + b.len as usize)) {
                        t.up.record(now, u64::from(b.len));
                    }
                }
            }
            DiskEvent::Verified(piece) => {
                t.written(piece);
                t.recent.verified(piece);
                self.on_verified(cx, slot, piece);
            }
            DiskEvent::Failed(piece) => {
                t.written(piece);
                t.recent.dropped(piece);
                let senders = t.picker.on_piece_failed(piece).unwrap_or_default();
                log::warn!("torrent {}: piece {piece} failed its hash", t.id);
                for k in senders {
                    if let Some(s) = self.session_of(k) {
                        s.ban();
                    }
                }
            }
            DiskEvent::RecheckProgress { .. } => {}
            DiskEvent::Rechecked(have) => {
                for p in have.ones() {
                    let _ = t.picker.on_piece_verified(p);
                }
                let complete = t.picker.is_complete();
                t.state = if complete {
                    TorrentState::Seeding
                } else {
                    TorrentState::Downloading
                };
                let id = t.id;
                self.start_announcing(cx, slot);
                self.dial_more(cx, slot, false);
                if complete {
                    self.say_complete(slot);
                }
                log::info!("torrent {id}: checked, {} pieces had", have.count());
            }
            DiskEvent::IoError { op, error } => {
                let id = t.id;
                match op {
                    DiskOp::ReadBlock(_) => {
                        // That peer's request cannot be served: it goes.
                        if let Some((conn, key)) = t.reads.pop_front() {
                            if let Some(c) = self.conns.get_mut(conn).and_then(Option::as_mut) {
                                if c.key == key {
                                    if let Some(s) = c.session() {
                                        s.close_session();
                                    }
                                }
                            }
                        }
                    }
                    DiskOp::Recheck(piece) => {
                        log::warn!("torrent {id}: piece {piece} unreadable in the check: {error}");
                        return;
                    }
                    DiskOp::WritePiece(piece) => {
                        t.written(piece);
                        t.recent.dropped(piece);
                        t.state = TorrentState::Failed;
                    }
                }
                log::error!("torrent {id}: disk: {error}");
                self.say(ClientEvent::Error {
                    id,
                    reason: error.to_string(),
                });
            }
        }
    }

    /// A piece is on disk and good: peers are told, requests for it
    /// withdrawn, interest reconsidered; the last one completes it.
    fn on_verified(&mut self, _cx: &mut Cx, slot: usize, piece: u32) {
        let Some(t) = self.torrents[slot].as_mut() else {
            return;
        };
        let outstanding = t.picker.on_piece_verified(piece).unwrap_or_default();
        let complete = t.picker.is_complete();
        if complete {
            t.state = TorrentState::Seeding;
        }
        let conns = t.peers.conns.clone();
        for (key, block) in outstanding {
            if let Some(s) = self.session_of(key) {
                s.cancel(block);
            }
        }
        let Some(t) = self.torrents[slot].as_ref() else {
            return;
        };
        for c in conns {
            let Some(s) = self
                .conns
                .get_mut(c)
                .and_then(Option::as_mut)
                .and_then(|c| c.session())
            else {
                continue;
            };
            s.send_have(piece);
            if complete {
                s.set_interested(false);
                if s.peer_has().is_full() {
                    s.close_session(); // two seeds have nothing to say
                }
            } else if s.am_interested() && !t.picker.is_interesting(s.peer_has()) {
                s.set_interested(false);
            }
        }
        if complete {
            self.say_complete(slot);
        }
    }

    /// Says `Complete` (once) and tells the trackers.
    fn say_complete(&mut self, slot: usize) {
        let (peer_id, port, numwant) = (self.config.peer_id, self.port(), self.config.numwant);
        let Some(t) = self.torrents[slot].as_mut() else {
            return;
        };
        if t.complete_said {
            return;
        }
        t.complete_said = true;
        let id = t.id;
        let req = t.announce(peer_id, port, numwant, AnnounceEvent::Completed);
        // A torrent complete from the start was announced as such.
        if t.down.total() > 0 {
            t.tell_tracker(req);
        }
        self.say(ClientEvent::Complete(id));
    }
}
