//! Protocols: framing of byte streams and reliable multicast.

pub mod framing;
pub mod srm;
