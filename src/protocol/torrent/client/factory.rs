//! The client factory programs use: [`real_client_factory`], a
//! [`TorrentClient`] listening on 0.0.0.0:6881 (or a port the system
//! picks, when 6881 is taken: a fresh service can start while the old
//! client still holds it), for the [`TorrentService`](super::TorrentService)
//! to make when the first patron comes.

use std::net::SocketAddr;
use std::rc::Rc;

use super::component::TorrentClient;
use super::config::ClientConfig;
use super::service_parts::{ClientComponent, ClientFactory, ClientParts, ClientPorts};
use crate::internet::{Acceptor, TcpAcceptor, DEFAULT_BACKLOG};

impl ClientComponent for TorrentClient {
    fn client_ports(&self) -> ClientPorts<'_> {
        ClientPorts {
            inbox: &self.inbox,
            control: &self.control,
            outbox: &self.outbox,
            signal: &self.signal,
        }
    }
}

/// The factory for the BitTorrent client programs share through the
/// [`TorrentService`](super::TorrentService).
pub fn real_client_factory() -> ClientFactory {
    Rc::new(|| {
        let bind =
            |port| TcpAcceptor::bind(SocketAddr::from(([0, 0, 0, 0], port)), DEFAULT_BACKLOG);
        let acceptor = match bind(6881).or_else(|_| bind(0)) {
            Ok(a) => Some(Box::new(a) as Box<dyn Acceptor>),
            Err(e) => {
                log::warn!("torrent client: cannot listen ({e}); it only dials out");
                None
            }
        };
        ClientParts::new(TorrentClient::new(ClientConfig::default(), acceptor))
    })
}
