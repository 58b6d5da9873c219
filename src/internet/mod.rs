//! Networking components on the scheduler's `mio` loop: TCP client and
//! servers, UDP peers, multicast, and a simulated network for tests.

pub mod multicast;
pub mod simulate;
pub mod udp;

mod server;
mod tcp_client;
mod transport;

pub use server::{ConnInfo, ServerCore, SingleServer, CONNECTION_INBOX, PROTOCOL_INBOX};
pub use tcp_client::{TcpClient, CONNECT_TIMEOUT, READ_CHUNK, WRITE_BUFFER};
pub use transport::{
    tcp_connector, Acceptor, Connector, EndReason, NetError, TcpAcceptor, TcpTransport, Transport,
    DEFAULT_BACKLOG,
};
