//! Wake-ups from other threads: [`Remote`], a channel of ids plus a
//! `mio::Waker`, drained by the scheduler between rounds.

use std::sync::atomic::{AtomicBool, Ordering};
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
    /// Set by every wake; cleared by the scheduler before it drains.
    pub(super) pending: AtomicBool,
}

impl Remote {
    /// Puts `id` back on the run queue; wakes the scheduler if it blocks.
    pub fn wake(&self, id: Id) {
        if self.inner.tx.send(id).is_ok() {
            self.inner.pending.store(true, Ordering::Release);
            let _ = self.inner.waker.wake();
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
        self.remote.inner.pending.store(false, Ordering::Release);
        while let Ok(id) = self.remote_rx.try_recv() {
            self.wake(id);
        }
    }

    pub(crate) fn remote_handle(&self) -> Remote {
        self.remote.clone()
    }
}
