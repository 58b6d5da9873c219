//! Protocols: framing of byte streams, reliable multicast, HTTP/1.x.

pub mod framing;
pub mod http;
pub mod srm;
