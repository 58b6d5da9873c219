//! One connection of the client's table: its socket, where it is in its
//! life, and its peer session once the torrent is known.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use super::metafetch::MetaFetch;
use crate::axon::Cx;
use crate::internet::Transport;
use crate::protocol::torrent::peer::PeerSession;
use crate::protocol::torrent::swarm::PeerKey;
use crate::protocol::torrent::tracker::InfoHash;
use crate::protocol::torrent::wire::ReadUninit;

/// The BitTorrent handshake's first 48 bytes hold the info-hash.
pub(super) const GREETING_LEN: usize = 48;

/// Where a connection is.
pub(super) enum Stage {
    /// Dialled, not yet connected.
    Connecting { since: Instant },
    /// Accepted; its handshake's first bytes, read until the info-hash
    /// names the torrent.
    Greeting {
        since: Instant,
        buf: [u8; GREETING_LEN],
        len: usize,
    },
    /// Talking BitTorrent.
    Open(Box<PeerSession>),
    /// Asking for a magnet link's metadata.
    Meta(Box<MetaFetch>),
}

/// One connection.
pub(super) struct Conn {
    pub t: Box<dyn Transport>,
    pub addr: SocketAddr,
    pub stage: Stage,
    /// The torrent's slot (unknown while greeting): in the client's
    /// magnet links waiting for metadata when `magnet`, else in its
    /// torrents.
    pub torrent: usize,
    pub magnet: bool,
    /// The name the picker and choker know the peer by.
    pub key: PeerKey,
    pub connected_at: Instant,
    pub last_block_at: Option<Instant>,
    /// The peer's handshake came (the session said so).
    pub greeted: bool,
    /// The peer's bitfield or have-all/none was counted by the picker.
    pub counted: bool,
    /// Blocks asked of the disk for this peer, not yet sent.
    pub reading: u32,
}

impl Conn {
    pub fn session(&mut self) -> Option<&mut PeerSession> {
        match &mut self.stage {
            Stage::Open(s) => Some(s),
            _ => None,
        }
    }

    /// Tells the session the socket's round-trip time, where the
    /// transport knows it: done when the session opens (the TCP handshake
    /// gave the first sample) and on every status tick.
    pub fn note_round_trip(&mut self) {
        // The socket is asked only for a session that will use the answer.
        if let Stage::Open(s) = &mut self.stage {
            if let Some(rtt) = self.t.round_trip() {
                s.set_round_trip(rtt);
            }
        }
    }

    pub fn session_ref(&self) -> Option<&PeerSession> {
        match &self.stage {
            Stage::Open(s) => Some(s),
            _ => None,
        }
    }
}

/// What a greeting says so far.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Greeting {
    /// Not enough bytes yet.
    Partial,
    /// The info-hash of a BitTorrent handshake.
    For(InfoHash),
    /// Not a BitTorrent handshake.
    NotBitTorrent,
}

/// Reads the first bytes of a handshake (`19`, `BitTorrent protocol`,
/// 8 reserved bytes, the info-hash).
pub(super) fn read_greeting(buf: &[u8]) -> Greeting {
    const PSTR: &[u8] = b"\x13BitTorrent protocol";
    let n = buf.len().min(PSTR.len());
    if buf[..n] != PSTR[..n] {
        return Greeting::NotBitTorrent;
    }
    if buf.len() < GREETING_LEN {
        return Greeting::Partial;
    }
    let mut h = [0; 20];
    h.copy_from_slice(&buf[28..48]);
    Greeting::For(h)
}

/// A transport read as `io::Read` (the session reads straight into its
/// decoder's buffer).
pub(super) struct TransportReader<'a, 'b> {
    pub t: &'a mut dyn Transport,
    pub cx: &'a mut Cx<'b>,
}

impl io::Read for TransportReader<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.t.read(self.cx, buf)
    }
}

// SAFETY: `Transport::read_uninit` returns how many bytes it wrote at the
// start of `buf`, within it (the default writes all of `buf` first; a
// socket's `recv` writes what it returns).
unsafe impl ReadUninit for TransportReader<'_, '_> {
    fn read_uninit(&mut self, buf: &mut [std::mem::MaybeUninit<u8>]) -> io::Result<usize> {
        self.t.read_uninit(self.cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_is_read_from_its_first_48_bytes() {
        let mut h = b"\x13BitTorrent protocol".to_vec();
        assert_eq!(read_greeting(&h[..5]), Greeting::Partial);
        h.extend_from_slice(&[0; 8]);
        assert_eq!(read_greeting(&h), Greeting::Partial);
        h.extend_from_slice(&[7; 20]);
        assert_eq!(read_greeting(&h), Greeting::For([7; 20]));
        assert_eq!(read_greeting(b"GET / HTTP/1.1"), Greeting::NotBitTorrent);
        assert_eq!(
            read_greeting(b"\x13BitTorrent prot0"),
            Greeting::NotBitTorrent
        );
    }
}
