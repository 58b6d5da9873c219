//! Time: keep-alives, time-outs, snubbing, and how many requests to keep
//! in flight.

use std::time::{Duration, Instant};

use super::session::PeerSession;
use super::types::{DisconnectReason as D, PeerEvent};
use crate::protocol::torrent::pieces::BLOCK_SIZE;
use crate::protocol::torrent::wire::Message;

impl PeerSession {
    /// The clock moved to `now`: keep-alive, idle and handshake time-outs,
    /// the snub flag and request time-outs. Call it at
    /// [`next_deadline`](Self::next_deadline) (earlier is harmless).
    pub fn on_tick(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        self.now = now;
        let since = |t: Instant| now.saturating_duration_since(t);
        if self.peer_id.is_none() && since(self.started) >= self.config.handshake_timeout {
            return self.close(D::HandshakeTimeout);
        }
        if since(self.last_recv) >= self.config.idle_timeout {
            return self.close(D::Idle);
        }
        if self.peer_id.is_some() && since(self.last_sent) >= self.config.keepalive_after {
            self.send(&Message::KeepAlive);
        }
        if self.outstanding.is_empty() || (self.peer_choking && !self.fast) {
            return;
        }
        if !self.snubbed && since(self.progress_at) >= self.config.snub_after {
            self.snubbed = true;
            self.events.push_back(PeerEvent::Snubbed(true));
        }
        if since(self.progress_at.max(self.timeout_at)) >= self.config.request_timeout {
            // One at a time: the oldest goes back to be picked elsewhere.
            if let Some(b) = self.outstanding.pop_front() {
                self.timeout_at = now;
                self.remember_cancelled(b);
                self.send(&Message::Cancel(b));
                self.events.push_back(PeerEvent::Returned(b));
            }
        }
    }

    /// When [`on_tick`](Self::on_tick) has something to do next.
    pub fn next_deadline(&self) -> Instant {
        let c = &self.config;
        let mut t = self.last_recv + c.idle_timeout;
        if self.peer_id.is_none() {
            t = t.min(self.started + c.handshake_timeout);
        } else {
            t = t.min(self.last_sent + c.keepalive_after);
        }
        if !self.outstanding.is_empty() {
            if !self.snubbed {
                t = t.min(self.progress_at + c.snub_after);
            }
            t = t.min(self.progress_at.max(self.timeout_at) + c.request_timeout);
        }
        t
    }

    /// How many more blocks to request now (0 while choked, not
    /// interested, or the pipeline is full; 1 in flight for a snubbed
    /// peer). Pick that many and give them to [`request`](Self::request).
    pub fn wants_requests(&self) -> usize {
        if self.closed || self.peer_id.is_none() || !self.am_interested || self.peer_choking {
            return 0;
        }
        let target = if self.snubbed { 1 } else { self.depth };
        (target as usize).saturating_sub(self.outstanding.len())
    }

    /// The depth the peer's rate calls for: `rate * pipeline_time` in
    /// blocks, between `min_requests` and the cap.
    pub(super) fn rate_depth(&self) -> u32 {
        // Read once: the meter sums its slots, and this runs per block.
        let rate = self.down.rate(self.now);
        let cap = self.cap_at(rate);
        blocks_in(rate, self.config.pipeline_time).clamp(self.config.min_requests.min(cap), cap)
    }

    /// A block came: slow start, one more request in flight per block
    /// while the rate calls for more; at once down to what it calls for.
    pub(super) fn grow_pipeline(&mut self) {
        let want = self.rate_depth();
        if self.depth < want {
            self.depth += 1;
        } else {
            self.depth = want;
        }
    }
}

/// The blocks `rate` bytes a second deliver in `window`.
pub(super) fn blocks_in(rate: u64, window: Duration) -> u32 {
    let blocks = u128::from(rate) * window.as_nanos()
        / Duration::from_secs(1).as_nanos()
        / u128::from(BLOCK_SIZE);
    blocks.min(u128::from(u32::MAX)) as u32
}
