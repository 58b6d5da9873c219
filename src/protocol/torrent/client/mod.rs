//! The BitTorrent client: many torrents in one component on one listening
//! port, and the service that shares one client among many users.

mod answers;
mod component;
pub mod config;
mod conn;
pub mod messages;
mod metafetch;
mod peers;
mod pending;
mod tick;
mod torrent;

pub use component::TorrentClient;
pub use config::{peer_id_from, ClientConfig};
pub use messages::{
    ClientEvent, ClientRequest, StartError, TorrentId, TorrentSource, TorrentState, TorrentStatus,
};
