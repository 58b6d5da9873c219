//! The client factory programs use: [`real_client_factory`].
//!
//! LEAD: replace with TorrentClient. On this branch the real client is not
//! there yet, so this returns the [`FakeClient`] in auto mode (it answers
//! `Create` and `Close` and moves no data). At merge the body becomes
//! `Rc::new(|| ClientParts::new(TorrentClient::new(/* config */)))`, with
//! `impl ClientComponent for TorrentClient` (its four standard boxes).

use std::rc::Rc;

use super::service_fake::FakeClient;
use super::service_parts::{ClientFactory, ClientParts};

/// The factory for the BitTorrent client programs share through the
/// [`TorrentService`](super::TorrentService).
// LEAD: replace with TorrentClient
pub fn real_client_factory() -> ClientFactory {
    Rc::new(|| ClientParts::new(FakeClient::auto()))
}
