//! BitTorrent: bencode, and (as they land) metainfo, magnet links, the
//! torrent maker and trackers.

pub mod bencode;
pub mod magnet;
pub mod maker;
pub mod metainfo;
pub mod pieces;
pub mod tracker;
pub mod wire;
