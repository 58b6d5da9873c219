//! Wake-ups from other threads: [`Remote`], a channel of ids plus a
//! `mio::Waker`, drained by the scheduler between rounds.
//!
//! The waker (an `eventfd` write, and a cross-CPU wake-up of the thread
//! blocked in `epoll_wait`) is used only when the scheduler is in, or
//! about to enter, a poll that may block. While it is running components
//! it drains the channel between rounds anyway, so a wake then costs a
//! channel send and two atomics. Why it is safe: the waker stores
//! `pending` then loads `polling`; the scheduler stores `polling` then
//! loads `pending` before it blocks (all `SeqCst`), so at least one of
//! them sees the other's store: either the eventfd is written or the poll
//! does not block.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_channel::Sender;
use mio::Waker;

use crate::axon::proc::Id;

use super::Inner;

/// Wakes components from other threads. Cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct Remote {
    pub(super) inner: Arc<RemoteInner>,
}

pub(super) struct RemoteInner {
    pub(super) tx: Sender<Id>,
    pub(super) waker: Waker,
    /// Set by every wake; cleared by the scheduler as it drains.
    pub(super) pending: AtomicBool,
    /// The scheduler is in, or about to enter, a poll that may block.
    pub(super) polling: AtomicBool,
    /// Wakes that wrote the waker.
    pub(super) signals: AtomicU64,
}

impl Remote {
    /// Puts `id` back on the run queue; wakes the scheduler if it blocks.
    pub fn wake(&self, id: Id) {
        if self.inner.tx.send(id).is_ok() {
            self.inner.pending.store(true, Ordering::SeqCst);
            if self.inner.polling.load(Ordering::SeqCst) {
                self.inner.signals.fetch_add(1, Ordering::Relaxed);
                let _ = self.inner.waker.wake();
            }
        }
    }
}

impl Inner {
    /// Whether some other thread holds a [`Remote`] (threaded components
    /// hold one while their thread runs).
    pub(super) fn remote_in_use(&self) -> bool {
        Arc::strong_count(&self.remote.inner) > 1
    }

    /// Wakes what other threads asked to wake. Cheap when nothing came: one
    /// atomic load.
    #[inline]
    pub(super) fn drain_remote(&mut self) {
        if self.remote.inner.pending.load(Ordering::Acquire) {
            self.drain_remote_now();
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn drain_remote_now(&mut self) {
        // A swap, not a store: it reads the last wake's store, so every
        // id sent before that store is seen by the receives below. (A
        // wake whose store comes after it leaves `pending` set.)
        self.remote.inner.pending.swap(false, Ordering::AcqRel);
        while let Ok(id) = self.remote_rx.try_recv() {
            self.wake(id);
        }
    }

    /// Before a poll that may block: from here on wakes write the waker.
    /// True if a wake came first (the poll must then not block: that
    /// wake may not have written it).
    pub(super) fn enter_blocking_poll(&self) -> bool {
        self.remote.inner.polling.store(true, Ordering::SeqCst);
        self.remote.inner.pending.load(Ordering::SeqCst)
    }

    /// After the poll: wakes no longer need the waker.
    pub(super) fn leave_blocking_poll(&self) {
        self.remote.inner.polling.store(false, Ordering::Relaxed);
    }

    pub(crate) fn remote_handle(&self) -> Remote {
        self.remote.clone()
    }
}
