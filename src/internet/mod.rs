//! Networking components on the scheduler's `mio` loop: TCP client and
//! servers, UDP peers, multicast, and a simulated network for tests.

pub mod multicast;
pub mod simulate;
pub mod udp;
