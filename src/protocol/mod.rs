//! Protocols: framing of byte streams, reliable multicast, HTTP/1.x, BitTorrent.

pub mod framing;
pub mod http;
pub mod irc;
pub mod srm;
pub mod torrent;
