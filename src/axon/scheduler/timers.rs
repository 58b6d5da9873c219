//! Time: the scheduler's clock (real or virtual) and the timer heap that
//! feeds the poll timeout.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::time::{Duration, Instant};

use crate::axon::proc::Id;

use super::Inner;

pub(super) enum Clock {
    Real,
    Virtual { base: Instant, offset: Duration },
}

/// Timer deadlines. `live` holds the keys of timers not yet fired or
/// cancelled; a cancelled timer's heap entry is dropped when it reaches the
/// top, so cancelling never leaves a phantom deadline. Entries cancelled
/// below the top are swept out once they outnumber the live ones, so a
/// component that arms and cancels a long time-out per message does not
/// grow the heap (amortised O(1) per cancel).
pub(super) struct Timers {
    pub(super) heap: BinaryHeap<Reverse<(Instant, u64, Id)>>,
    pub(super) seq: u64,
    pub(super) live: BTreeSet<u64>,
}

impl Timers {
    pub(super) fn purge(&mut self) {
        while let Some(Reverse((_, seq, _))) = self.heap.peek() {
            if self.live.contains(seq) {
                break;
            }
            self.heap.pop();
        }
    }

    /// Drops the entries of cancelled timers once they are more than half
    /// the heap.
    fn sweep(&mut self) {
        if self.heap.len() > 2 * self.live.len() + 16 {
            let live = &self.live;
            self.heap.retain(|Reverse((_, seq, _))| live.contains(seq));
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        // `purge` runs after every change, so the top is live.
        self.heap.peek().map(|Reverse((t, _, _))| *t)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
}

/// A timer set with [`Cx::wake_at`](crate::axon::Cx::wake_at); pass it to [`Cx::cancel_timer`](crate::axon::Cx::cancel_timer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerKey(u64);

impl Inner {
    pub(crate) fn now(&self) -> Instant {
        match self.clock {
            Clock::Real => Instant::now(),
            Clock::Virtual { base, offset } => base + offset,
        }
    }

    pub(super) fn fire_timers(&mut self) {
        let now = self.now();
        while let Some(Reverse((t, seq, id))) = self.timers.heap.peek().copied() {
            if t > now {
                break;
            }
            self.timers.heap.pop();
            if self.timers.live.remove(&seq) {
                self.wake(id);
            }
        }
        self.timers.purge();
    }

    pub(crate) fn add_timer(&mut self, at: Instant, id: Id) -> TimerKey {
        self.timers.seq += 1;
        let seq = self.timers.seq;
        self.timers.heap.push(Reverse((at, seq, id)));
        self.timers.live.insert(seq);
        TimerKey(seq)
    }

    pub(crate) fn cancel_timer(&mut self, key: TimerKey) {
        if self.timers.live.remove(&key.0) {
            self.timers.purge();
            self.timers.sweep();
        }
    }
}
