//! Sockets: registration with the scheduler's `mio::Poll`, and readiness
//! turned into wake-ups.

use std::io;
use std::time::Duration;

use mio::{Interest, Token};

use crate::axon::proc::Id;

use super::Inner;

pub(super) const WAKER_TOKEN: Token = Token(usize::MAX);

#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
/// Readiness seen on a registered source since the component last asked.
pub struct Readiness {
    /// Readable (or a peer closed its end).
    pub readable: bool,
    /// Writable.
    pub writable: bool,
    /// An error or hang-up was reported.
    pub closed: bool,
    /// The peer closed its sending side (also counted as `readable`): a
    /// read will find the end once what came before it is read.
    pub read_closed: bool,
}

pub(super) struct IoReg {
    pub(super) owner: Id,
    pub(super) ready: Readiness,
}

impl Inner {
    /// Polls once; returns whether anything was woken.
    pub(crate) fn poll_events(&mut self, timeout: Option<Duration>) -> bool {
        self.rounds_since_poll = 0;
        let before = self.core.woken.len();
        let blocking = timeout != Some(Duration::ZERO);
        let timeout = if blocking && self.enter_blocking_poll() {
            Some(Duration::ZERO)
        } else {
            timeout
        };
        let r = self.poll.poll(&mut self.events, timeout);
        if blocking {
            self.leave_blocking_poll();
        }
        match r {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => log::error!("mio poll failed: {e}"),
        }
        for ev in self.events.iter() {
            if ev.token() == WAKER_TOKEN {
                continue; // remote wakes are drained below
            }
            if let Some(Some(reg)) = self.io.get_mut(ev.token().0) {
                reg.ready.readable |= ev.is_readable() || ev.is_read_closed();
                reg.ready.writable |= ev.is_writable() || ev.is_write_closed();
                reg.ready.closed |= ev.is_error() || (ev.is_read_closed() && ev.is_write_closed());
                reg.ready.read_closed |= ev.is_read_closed();
                let owner = reg.owner;
                self.wake(owner);
            }
        }
        self.drain_remote();
        self.core.woken.len() > before
    }

    pub(crate) fn register_io(
        &mut self,
        source: &mut dyn mio::event::Source,
        interest: Interest,
        owner: Id,
    ) -> io::Result<Token> {
        let index = match self.io_free.pop() {
            Some(i) => i,
            None => {
                self.io.push(None);
                self.io.len() - 1
            }
        };
        let token = Token(index);
        if let Err(e) = self.poll.registry().register(source, token, interest) {
            self.io_free.push(index);
            return Err(e);
        }
        self.io[index] = Some(IoReg {
            owner,
            ready: Readiness::default(),
        });
        self.io_live += 1;
        self.io_by_owner.entry(owner).or_default().push(index);
        Ok(token)
    }

    /// Frees the I/O slots of a finished component (its sources are gone
    /// with it, which takes them out of the poll). Only its own slots are
    /// visited, so a finish costs the same with any number of sockets
    /// registered by others.
    pub(super) fn release_io_of(&mut self, id: Id) {
        let Some(slots) = self.io_by_owner.remove(&id) else {
            return;
        };
        for i in slots {
            if self.io[i].take().is_some() {
                self.io_free.push(i);
                self.io_live -= 1;
            }
        }
    }

    pub(crate) fn reregister_io(
        &mut self,
        source: &mut dyn mio::event::Source,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.poll.registry().reregister(source, token, interest)
    }

    pub(crate) fn deregister_io(
        &mut self,
        source: &mut dyn mio::event::Source,
        token: Token,
    ) -> io::Result<()> {
        let r = self.poll.registry().deregister(source);
        if let Some(Some(reg)) = self.io.get_mut(token.0).map(Option::take) {
            self.io_free.push(token.0);
            self.io_live -= 1;
            if let Some(mine) = self.io_by_owner.get_mut(&reg.owner) {
                mine.retain(|&i| i != token.0);
                if mine.is_empty() {
                    self.io_by_owner.remove(&reg.owner);
                }
            }
        }
        r
    }

    pub(crate) fn take_readiness(&mut self, token: Token) -> Readiness {
        match self.io.get_mut(token.0) {
            Some(Some(r)) => std::mem::take(&mut r.ready),
            _ => Readiness::default(),
        }
    }
}
