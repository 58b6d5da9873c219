//! BitTorrent: bencode, metainfo, magnet links, the torrent maker,
//! trackers (client and server, HTTP and UDP), and the parts of the client
//! (pieces and blocks, storage, piece picking and choking).

pub mod bencode;
pub mod client;
pub mod magnet;
pub mod maker;
pub mod metainfo;
pub mod peer;
pub mod pieces;
pub mod storage;
pub mod swarm;
pub mod tracker;
pub mod wire;
