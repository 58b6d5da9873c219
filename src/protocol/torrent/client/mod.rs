//! The BitTorrent client: many torrents in one component on one listening
//! port, and the service that shares one client among many users.

pub mod messages;

pub use messages::{
    ClientEvent, ClientRequest, StartError, TorrentId, TorrentSource, TorrentState, TorrentStatus,
};
