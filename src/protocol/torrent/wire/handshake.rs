//! The BEP 3 handshake: `<19>"BitTorrent protocol"<8 reserved><info-hash>
//! <peer id>`, 68 bytes.

use bytes::{BufMut, BytesMut};

use super::WireError;
use crate::protocol::torrent::tracker::{InfoHash, PeerId};

/// The protocol string.
pub const PROTOCOL: &[u8; 19] = b"BitTorrent protocol";

/// A handshake's length.
pub const HANDSHAKE_LEN: usize = 68;

/// Reserved byte 5, bit `0x10`: the extension protocol (BEP 10).
const EXT_BYTE: usize = 5;
const EXT_BIT: u8 = 0x10;
/// Reserved byte 7, bit `0x04`: the fast extension (BEP 6).
const FAST_BYTE: usize = 7;
const FAST_BIT: u8 = 0x04;

/// One side's handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handshake {
    /// The eight reserved bytes as sent (bits we do not know kept, so a
    /// decoded handshake encodes back to the same bytes).
    pub reserved: [u8; 8],
    /// The torrent.
    pub info_hash: InfoHash,
    /// The sender's id.
    pub peer_id: PeerId,
}

impl Handshake {
    /// Ours: the fast and extension protocol bits set, DHT clear.
    pub fn new(info_hash: InfoHash, peer_id: PeerId) -> Handshake {
        let mut reserved = [0; 8];
        reserved[EXT_BYTE] |= EXT_BIT;
        reserved[FAST_BYTE] |= FAST_BIT;
        Handshake {
            reserved,
            info_hash,
            peer_id,
        }
    }

    /// Whether the sender speaks the fast extension (BEP 6).
    pub fn supports_fast(&self) -> bool {
        self.reserved[FAST_BYTE] & FAST_BIT != 0
    }

    /// Whether the sender speaks the extension protocol (BEP 10).
    pub fn supports_extensions(&self) -> bool {
        self.reserved[EXT_BYTE] & EXT_BIT != 0
    }

    /// The 68 bytes.
    pub fn to_bytes(&self) -> [u8; HANDSHAKE_LEN] {
        let mut b = [0; HANDSHAKE_LEN];
        b[0] = PROTOCOL.len() as u8;
        b[1..20].copy_from_slice(PROTOCOL);
        b[20..28].copy_from_slice(&self.reserved);
        b[28..48].copy_from_slice(&self.info_hash);
        b[48..68].copy_from_slice(&self.peer_id);
        b
    }

    /// Appends the 68 bytes.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_slice(&self.to_bytes());
    }

    /// The info-hash, once the first 48 bytes are in (and right so far):
    /// a listener serving several torrents can pick one, or turn the peer
    /// away, before the peer id comes (BEP 3 allows an initiator to wait
    /// for our reply before sending it).
    pub fn peek_info_hash(buf: &[u8]) -> Result<Option<InfoHash>, WireError> {
        Self::parse_prefix(buf.get(..HANDSHAKE_LEN).unwrap_or(buf))?;
        let Some(hash) = buf.get(28..48) else {
            return Ok(None);
        };
        let mut h = [0; 20];
        h.copy_from_slice(hash);
        Ok(Some(h))
    }

    /// Reads a handshake from the front of `buf`: `Ok(None)` while fewer
    /// than 68 bytes have come, but a wrong protocol string is an error as
    /// soon as its first wrong byte is there (a port scanner or an HTTP
    /// client is turned away without waiting for 68 bytes).
    pub fn parse_prefix(buf: &[u8]) -> Result<Option<Handshake>, WireError> {
        if let Some(&n) = buf.first() {
            if usize::from(n) != PROTOCOL.len() {
                return Err(WireError::BadProtocolLength(n));
            }
        }
        let have = buf.len().min(20);
        if buf.len() > 1 && buf[1..have] != PROTOCOL[..have - 1] {
            return Err(WireError::BadProtocol);
        }
        if buf.len() < HANDSHAKE_LEN {
            return Ok(None);
        }
        let mut hs = Handshake {
            reserved: [0; 8],
            info_hash: [0; 20],
            peer_id: [0; 20],
        };
        hs.reserved.copy_from_slice(&buf[20..28]);
        hs.info_hash.copy_from_slice(&buf[28..48]);
        hs.peer_id.copy_from_slice(&buf[48..68]);
        Ok(Some(hs))
    }
}
