//! The [`TorrentService`](super::TorrentService)'s bookkeeping, apart from
//! its boxes: which patron asked which request (by a token of the
//! service's own), which patrons hold which torrent, which torrents are
//! being closed. Pure data, so every routing rule is tested without a
//! scheduler.
//!
//! The rules (each a defect of the original fixed):
//!
//! * an answer to a `Create` goes to the patron whose request it was, found
//!   by the token, never by the order requests were made in;
//! * a patron told `Created` or `AlreadyDownloading` for a torrent holds
//!   it, and gets its later events (status, complete, metadata, errors,
//!   closed); two patrons may hold one torrent;
//! * `Close` by one holder of a torrent others still hold only drops that
//!   patron's hold (answered `Closed { existed: true }` by the service);
//!   the last holder's `Close` closes it in the client, and the client's
//!   `Closed` goes to that patron;
//! * `Close` of a torrent the patron does not hold is answered
//!   `Closed { existed: false }` without troubling the client;
//! * a torrent started for a patron that left before the answer came, and
//!   the torrents of a patron that leaves that nobody else holds, are
//!   closed in the client.

use std::collections::BTreeMap;

use crate::axon::Id;

use super::messages::{ClientEvent, TorrentId};

/// What to do with an event from the client.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// To this patron, rewritten (its own token put back).
    One(Id, ClientEvent),
    /// To every holder of the event's torrent (see [`Routes::holders`]).
    Holders(ClientEvent),
    /// To these patrons (a `Closed`: the holders and the patron that asked).
    Some(Vec<Id>, ClientEvent),
    /// A torrent started for a patron that has left: close it in the
    /// client.
    CloseOrphan(TorrentId),
    /// Nobody asked for it (the asker left), or nobody holds the torrent.
    Nobody(ClientEvent),
}

/// What to do with a patron's `Close`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CloseAction {
    /// Answer the patron this, and do nothing else.
    Answer(ClientEvent),
    /// Close the torrent in the client (the patron was its last holder).
    Forward,
}

/// The routing tables; see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct Routes {
    last_token: u64,
    /// Service token -> (patron, the patron's token), for `Create`s not
    /// yet answered.
    pending: BTreeMap<u64, (Id, u64)>,
    /// Torrent -> its holders, in the order they came to hold it.
    holders: BTreeMap<TorrentId, Vec<Id>>,
    /// Torrent being closed in the client -> the patrons that asked (none
    /// when closed because its holders left).
    closing: BTreeMap<TorrentId, Vec<Id>>,
}

impl Routes {
    /// Notes a `Create` by `patron` with its `token`; returns the token to
    /// send the client (unique in this service: 1, 2, 3, ...).
    pub fn create(&mut self, patron: Id, token: u64) -> u64 {
        self.last_token += 1;
        self.pending.insert(self.last_token, (patron, token));
        self.last_token
    }

    /// The holders of a torrent, in the order they came to hold it.
    pub fn holders(&self, id: TorrentId) -> &[Id] {
        self.holders.get(&id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether `patron` holds `id`.
    pub fn holds(&self, patron: Id, id: TorrentId) -> bool {
        self.holders(id).contains(&patron)
    }

    /// `Create`s not yet answered.
    #[cfg(test)]
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn hold(&mut self, patron: Id, id: TorrentId) {
        let h = self.holders.entry(id).or_default();
        if !h.contains(&patron) {
            h.push(patron);
        }
    }

    /// Where an event from the client goes.
    pub fn route(&mut self, ev: ClientEvent) -> Route {
        match ev {
            ClientEvent::Created {
                token,
                id,
                info_hash,
                name,
                save_dir,
            } => match self.pending.remove(&token) {
                Some((patron, token)) => {
                    self.hold(patron, id);
                    Route::One(
                        patron,
                        ClientEvent::Created {
                            token,
                            id,
                            info_hash,
                            name,
                            save_dir,
                        },
                    )
                }
                None if self.holders(id).is_empty() && !self.closing.contains_key(&id) => {
                    self.closing.insert(id, Vec::new());
                    Route::CloseOrphan(id)
                }
                None => Route::Nobody(ClientEvent::Created {
                    token,
                    id,
                    info_hash,
                    name,
                    save_dir,
                }),
            },
            ClientEvent::AlreadyDownloading { token, id } => match self.pending.remove(&token) {
                Some((patron, token)) => {
                    self.hold(patron, id);
                    Route::One(patron, ClientEvent::AlreadyDownloading { token, id })
                }
                None => Route::Nobody(ClientEvent::AlreadyDownloading { token, id }),
            },
            ClientEvent::StartFailed { token, reason } => match self.pending.remove(&token) {
                Some((patron, token)) => {
                    Route::One(patron, ClientEvent::StartFailed { token, reason })
                }
                None => Route::Nobody(ClientEvent::StartFailed { token, reason }),
            },
            ClientEvent::Closed { id, existed } => {
                let mut to = self.closing.remove(&id).unwrap_or_default();
                for p in self.holders.remove(&id).unwrap_or_default() {
                    if !to.contains(&p) {
                        to.push(p);
                    }
                }
                let ev = ClientEvent::Closed { id, existed };
                if to.is_empty() {
                    Route::Nobody(ev)
                } else {
                    Route::Some(to, ev)
                }
            }
            ev => match ev.torrent() {
                Some(id) if !self.holders(id).is_empty() => Route::Holders(ev),
                _ => Route::Nobody(ev),
            },
        }
    }

    /// A patron's `Close(id)`.
    pub fn close(&mut self, patron: Id, id: TorrentId) -> CloseAction {
        let Some(h) = self.holders.get_mut(&id) else {
            return CloseAction::Answer(ClientEvent::Closed { id, existed: false });
        };
        let Some(i) = h.iter().position(|p| *p == patron) else {
            return CloseAction::Answer(ClientEvent::Closed { id, existed: false });
        };
        h.remove(i);
        if !h.is_empty() {
            return CloseAction::Answer(ClientEvent::Closed { id, existed: true });
        }
        self.holders.remove(&id);
        self.closing.entry(id).or_default().push(patron);
        CloseAction::Forward
    }

    /// Forgets a patron that left: its unanswered requests (their answers
    /// will find nobody) and its holds. Returns the torrents nobody holds
    /// now, to close in the client.
    pub fn remove_patron(&mut self, patron: Id) -> Vec<TorrentId> {
        self.pending.retain(|_, (p, _)| *p != patron);
        for askers in self.closing.values_mut() {
            askers.retain(|p| *p != patron);
        }
        let mut orphans = Vec::new();
        self.holders.retain(|id, h| {
            h.retain(|p| *p != patron);
            if h.is_empty() {
                orphans.push(*id);
                false
            } else {
                true
            }
        });
        for id in &orphans {
            self.closing.entry(*id).or_default();
        }
        orphans
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    const A: Id = Id { index: 1, gen: 0 };
    const B: Id = Id { index: 2, gen: 0 };

    fn created(token: u64, id: TorrentId) -> ClientEvent {
        ClientEvent::Created {
            token,
            id,
            info_hash: [id as u8; 20],
            name: format!("t{id}"),
            save_dir: PathBuf::from(format!("./t{id}")),
        }
    }

    #[test]
    fn tokens_are_the_services_own_and_answers_go_back_by_token() {
        let mut r = Routes::default();
        assert_eq!(r.create(A, 1), 1);
        assert_eq!(r.create(B, 1), 2);
        assert_eq!(r.pending(), 2);
        // Answered in reverse order.
        assert_eq!(r.route(created(2, 5)), Route::One(B, created(1, 5)));
        assert_eq!(r.route(created(1, 6)), Route::One(A, created(1, 6)));
        assert_eq!(r.pending(), 0);
        assert_eq!(r.holders(5), &[B]);
        assert_eq!(r.holders(6), &[A]);
    }

    #[test]
    fn already_downloading_makes_a_second_holder_and_close_is_shared() {
        let mut r = Routes::default();
        let ta = r.create(A, 10);
        let tb = r.create(B, 20);
        assert_eq!(r.route(created(ta, 3)), Route::One(A, created(10, 3)));
        assert_eq!(
            r.route(ClientEvent::AlreadyDownloading { token: tb, id: 3 }),
            Route::One(B, ClientEvent::AlreadyDownloading { token: 20, id: 3 })
        );
        assert_eq!(r.holders(3), &[A, B]);
        assert_eq!(
            r.route(ClientEvent::Complete(3)),
            Route::Holders(ClientEvent::Complete(3))
        );
        // A lets go; B still holds it, so the client is not asked.
        assert_eq!(
            r.close(A, 3),
            CloseAction::Answer(ClientEvent::Closed {
                id: 3,
                existed: true
            })
        );
        assert_eq!(
            r.close(A, 3),
            CloseAction::Answer(ClientEvent::Closed {
                id: 3,
                existed: false
            })
        );
        assert_eq!(r.close(B, 3), CloseAction::Forward);
        let closed = ClientEvent::Closed {
            id: 3,
            existed: true,
        };
        assert_eq!(
            r.route(closed.clone()),
            Route::Some(vec![B], closed.clone())
        );
        // Nothing is left of it.
        assert_eq!(r.route(closed.clone()), Route::Nobody(closed));
        assert!(r.holders(3).is_empty());
    }

    #[test]
    fn a_patron_that_leaves_orphans_its_torrents_and_its_answers() {
        let mut r = Routes::default();
        let ta = r.create(A, 1);
        let ta2 = r.create(A, 2);
        let tb = r.create(B, 1);
        r.route(created(ta, 1));
        r.route(ClientEvent::AlreadyDownloading { token: tb, id: 1 });
        let tb2 = r.create(B, 2);
        r.route(created(tb2, 2));
        // A leaves with one answer outstanding: torrent 1 is still B's.
        assert_eq!(r.remove_patron(A), Vec::<TorrentId>::new());
        assert_eq!(r.pending(), 0);
        // A's late answer starts a torrent nobody holds: close it.
        assert_eq!(r.route(created(ta2, 4)), Route::CloseOrphan(4));
        assert_eq!(r.route(created(ta2, 4)), Route::Nobody(created(ta2, 4)));
        assert_eq!(r.remove_patron(B), vec![1, 2]);
        let closed = ClientEvent::Closed {
            id: 1,
            existed: true,
        };
        assert_eq!(r.route(closed.clone()), Route::Nobody(closed));
        let failed = ClientEvent::StartFailed {
            token: 99,
            reason: super::super::StartError::NoMetadata,
        };
        assert_eq!(r.route(failed.clone()), Route::Nobody(failed));
    }
}
