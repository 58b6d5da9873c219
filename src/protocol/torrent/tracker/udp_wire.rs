//! The UDP tracker protocol's datagrams (BEP 15), both directions: pure
//! parsing and encoding, no I/O, no allocation (parsed values borrow the
//! datagram; encoders append to any `BufMut`).
//!
//! All integers are big-endian.
//!
//! | datagram          | layout                                                        | bytes |
//! |-------------------|---------------------------------------------------------------|-------|
//! | connect request   | protocol id `0x41727101980` u64, action 0 u32, transaction id u32 | 16 |
//! | connect response  | action 0, transaction id, connection id u64                   | 16    |
//! | announce request  | connection id u64, action 1, transaction id, info_hash 20, peer_id 20, downloaded u64, left u64, uploaded u64, event u32, IPv4 u32 (0: the source's), key u32, num_want i32 (-1: default), port u16 | 98 |
//! | announce response | action 1, transaction id, interval, leechers, seeders (u32 each), then peers: 6 bytes each (IPv4 + port), or 18 (IPv6 + port) when the announce came over IPv6 | 20 + 6n / 18n |
//! | scrape request    | connection id u64, action 2, transaction id, info_hash 20 × n  | 16 + 20n |
//! | scrape response   | action 2, transaction id, then per hash seeders, completed, leechers (u32 each) | 8 + 12n |
//! | error response    | action 3, transaction id, a message (the rest of the datagram) | 8 + text |
//!
//! Requests may carry more bytes after the fixed part (BEP 41 options):
//! they are ignored. A datagram shorter than its fixed part, a peer list
//! or scrape list whose length is not a whole number of entries, an
//! unknown action or event, or a connect request without the protocol id
//! is a [`WireError`]; nothing here panics on any input.
//!
//! ```
//! use kamaelia::protocol::torrent::tracker::udp_wire::{self, Response};
//! let mut out = Vec::new();
//! udp_wire::encode_connect_response(&mut out, 7, 0x1122334455667788);
//! assert_eq!(out.len(), 16);
//! assert_eq!(
//!     udp_wire::parse_response(&out, false),
//!     Ok(Response::Connect { tid: 7, connection_id: 0x1122334455667788 })
//! );
//! ```

use super::{AnnounceEvent, AnnounceRequest, InfoHash, Peer, ScrapeEntry};
use bytes::BufMut;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The magic number a connect request starts with.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;
/// Action numbers.
pub const ACTION_CONNECT: u32 = 0;
/// Action numbers.
pub const ACTION_ANNOUNCE: u32 = 1;
/// Action numbers.
pub const ACTION_SCRAPE: u32 = 2;
/// Action numbers.
pub const ACTION_ERROR: u32 = 3;
/// Length of a connect request and of a connect response.
pub const CONNECT_LEN: usize = 16;
/// Length of an announce request without options.
pub const ANNOUNCE_LEN: usize = 98;
/// Length of an announce response's fixed part.
pub const ANNOUNCE_REPLY_LEN: usize = 20;
/// The most info-hashes one scrape carries (BEP 15: about 74 fit in a
/// datagram that needs no fragmentation).
pub const MAX_SCRAPE_HASHES: usize = 74;

/// Why a datagram is not a good BEP 15 message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// Shorter than the fixed part of its kind.
    Short {
        /// Bytes the kind needs at least.
        needed: usize,
        /// Bytes there were.
        got: usize,
    },
    /// A connect request without the protocol id.
    BadProtocolId,
    /// An action number BEP 15 does not define (or not in this direction).
    UnknownAction(u32),
    /// An announce event other than 0..=3.
    UnknownEvent(u32),
    /// A list (peers, scrape hashes or entries) that is not a whole number
    /// of entries.
    OddLength {
        /// The list's length in bytes.
        len: usize,
        /// The size of one entry.
        entry: usize,
    },
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Short { needed, got } => {
                write!(f, "datagram of {got} bytes, at least {needed} needed")
            }
            WireError::BadProtocolId => f.write_str("connect request without the protocol id"),
            WireError::UnknownAction(a) => write!(f, "unknown action {a}"),
            WireError::UnknownEvent(e) => write!(f, "unknown announce event {e}"),
            WireError::OddLength { len, entry } => {
                write!(
                    f,
                    "list of {len} bytes is not a whole number of {entry}-byte entries"
                )
            }
        }
    }
}

impl std::error::Error for WireError {}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn hash_at(b: &[u8], at: usize) -> [u8; 20] {
    b[at..at + 20].try_into().expect("20 bytes")
}

fn need(buf: &[u8], needed: usize) -> Result<(), WireError> {
    if buf.len() < needed {
        return Err(WireError::Short {
            needed,
            got: buf.len(),
        });
    }
    Ok(())
}

fn whole(len: usize, entry: usize) -> Result<(), WireError> {
    if len % entry != 0 {
        return Err(WireError::OddLength { len, entry });
    }
    Ok(())
}

/// A request, as a server reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// "Give me a connection id."
    Connect {
        /// Transaction id.
        tid: u32,
    },
    /// An announce. `req.compact` is true and `req.tracker_id` `None`
    /// (HTTP-only fields); `req.ip` is `None` for the wire's 0.
    Announce {
        /// The id a connect response gave.
        connection_id: u64,
        /// Transaction id.
        tid: u32,
        /// The announce.
        req: AnnounceRequest,
    },
    /// A scrape of one or more torrents.
    Scrape {
        /// The id a connect response gave.
        connection_id: u64,
        /// Transaction id.
        tid: u32,
        /// The info-hashes, as found (20 bytes each; may be empty).
        hashes: Hashes<'a>,
    },
}

/// The info-hashes of a scrape request, borrowed from the datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hashes<'a>(&'a [u8]);

impl<'a> Hashes<'a> {
    /// How many.
    pub fn len(&self) -> usize {
        self.0.len() / 20
    }
    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Each hash, in order.
    pub fn iter(&self) -> impl Iterator<Item = InfoHash> + 'a {
        self.0.chunks_exact(20).map(|c| hash_at(c, 0))
    }
}

/// Reads a request datagram.
pub fn parse_request(buf: &[u8]) -> Result<Request<'_>, WireError> {
    need(buf, CONNECT_LEN)?;
    let first = u64_at(buf, 0);
    let action = u32_at(buf, 8);
    let tid = u32_at(buf, 12);
    match action {
        ACTION_CONNECT => {
            if first != PROTOCOL_ID {
                return Err(WireError::BadProtocolId);
            }
            Ok(Request::Connect { tid })
        }
        ACTION_ANNOUNCE => {
            need(buf, ANNOUNCE_LEN)?;
            let event = match u32_at(buf, 80) {
                0 => AnnounceEvent::None,
                1 => AnnounceEvent::Completed,
                2 => AnnounceEvent::Started,
                3 => AnnounceEvent::Stopped,
                other => return Err(WireError::UnknownEvent(other)),
            };
            let ip = match u32_at(buf, 84) {
                0 => None,
                v4 => Some(IpAddr::V4(Ipv4Addr::from(v4))),
            };
            let numwant = match u32_at(buf, 92) as i32 {
                n if n < 0 => None,
                n => Some(n as u32),
            };
            let req = AnnounceRequest {
                info_hash: hash_at(buf, 16),
                peer_id: hash_at(buf, 36),
                downloaded: u64_at(buf, 56),
                left: u64_at(buf, 64),
                uploaded: u64_at(buf, 72),
                event,
                ip,
                key: Some(u32_at(buf, 88)),
                numwant,
                port: u16_at(buf, 96),
                compact: true,
                tracker_id: None,
            };
            Ok(Request::Announce {
                connection_id: first,
                tid,
                req,
            })
        }
        ACTION_SCRAPE => {
            let list = &buf[CONNECT_LEN..];
            whole(list.len(), 20)?;
            Ok(Request::Scrape {
                connection_id: first,
                tid,
                hashes: Hashes(list),
            })
        }
        other => Err(WireError::UnknownAction(other)),
    }
}

/// A response, as a client reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response<'a> {
    /// A connection id.
    Connect {
        /// Transaction id.
        tid: u32,
        /// To put in the next requests for a minute.
        connection_id: u64,
    },
    /// An announce's answer.
    Announce {
        /// Transaction id.
        tid: u32,
        /// Seconds to the next announce.
        interval: u32,
        /// Leechers.
        leechers: u32,
        /// Seeders.
        seeders: u32,
        /// The peers, borrowed.
        peers: PeerList<'a>,
    },
    /// A scrape's answer: per hash asked, in order.
    Scrape {
        /// Transaction id.
        tid: u32,
        /// The entries, borrowed.
        entries: ScrapeList<'a>,
    },
    /// The tracker refused (the message says why).
    Error {
        /// Transaction id.
        tid: u32,
        /// The message's bytes (usually ASCII text).
        message: &'a [u8],
    },
}

impl Response<'_> {
    /// The transaction id, whatever the kind.
    pub fn tid(&self) -> u32 {
        match self {
            Response::Connect { tid, .. }
            | Response::Announce { tid, .. }
            | Response::Scrape { tid, .. }
            | Response::Error { tid, .. } => *tid,
        }
    }
}

/// The compact peers of an announce response, borrowed from the datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerList<'a> {
    bytes: &'a [u8],
    v6: bool,
}

impl<'a> PeerList<'a> {
    /// How many.
    pub fn len(&self) -> usize {
        self.bytes.len() / self.entry()
    }
    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
    fn entry(&self) -> usize {
        if self.v6 {
            18
        } else {
            6
        }
    }
    /// Each peer's address, in order.
    pub fn iter(&self) -> impl Iterator<Item = SocketAddr> + 'a {
        let v6 = self.v6;
        self.bytes.chunks_exact(self.entry()).map(move |c| {
            if v6 {
                let ip: [u8; 16] = c[..16].try_into().expect("16 bytes");
                SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), u16_at(c, 16))
            } else {
                let ip = Ipv4Addr::new(c[0], c[1], c[2], c[3]);
                SocketAddr::new(IpAddr::V4(ip), u16_at(c, 4))
            }
        })
    }
}

/// The entries of a scrape response, borrowed from the datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScrapeList<'a>(&'a [u8]);

impl<'a> ScrapeList<'a> {
    /// How many.
    pub fn len(&self) -> usize {
        self.0.len() / 12
    }
    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Each entry as (seeders, completed, leechers), in order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u32, u32)> + 'a {
        self.0
            .chunks_exact(12)
            .map(|c| (u32_at(c, 0), u32_at(c, 4), u32_at(c, 8)))
    }
}

/// The message of the refusal an announce reply with no body stands for.
pub const BARE_ANNOUNCE_REFUSAL: &[u8] =
    b"announce refused: a reply without interval or peers (opentracker's answer for a torrent not on its whitelist)";

/// Reads a response datagram. `v6`: the announce went over IPv6, so its
/// peers are 18-byte entries.
pub fn parse_response(buf: &[u8], v6: bool) -> Result<Response<'_>, WireError> {
    need(buf, 8)?;
    let action = u32_at(buf, 0);
    let tid = u32_at(buf, 4);
    match action {
        ACTION_CONNECT => {
            need(buf, CONNECT_LEN)?;
            Ok(Response::Connect {
                tid,
                connection_id: u64_at(buf, 8),
            })
        }
        // opentracker answers an announce for a torrent not on its
        // whitelist with the bare 8-byte header: a refusal, read as one
        // rather than as a malformed reply to be retried until time-out.
        ACTION_ANNOUNCE if buf.len() == 8 => Ok(Response::Error {
            tid,
            message: BARE_ANNOUNCE_REFUSAL,
        }),
        ACTION_ANNOUNCE => {
            need(buf, ANNOUNCE_REPLY_LEN)?;
            let bytes = &buf[ANNOUNCE_REPLY_LEN..];
            let peers = PeerList { bytes, v6 };
            whole(bytes.len(), peers.entry())?;
            Ok(Response::Announce {
                tid,
                interval: u32_at(buf, 8),
                leechers: u32_at(buf, 12),
                seeders: u32_at(buf, 16),
                peers,
            })
        }
        ACTION_SCRAPE => {
            let list = &buf[8..];
            whole(list.len(), 12)?;
            Ok(Response::Scrape {
                tid,
                entries: ScrapeList(list),
            })
        }
        ACTION_ERROR => Ok(Response::Error {
            tid,
            message: &buf[8..],
        }),
        other => Err(WireError::UnknownAction(other)),
    }
}

/// Appends a connect request.
pub fn encode_connect_request(out: &mut impl BufMut, tid: u32) {
    out.put_u64(PROTOCOL_ID);
    out.put_u32(ACTION_CONNECT);
    out.put_u32(tid);
}

/// Appends an announce request. `req.ip` is sent only if it is IPv4;
/// `req.key` `None` is sent as 0, `req.numwant` `None` as -1.
pub fn encode_announce_request(
    out: &mut impl BufMut,
    connection_id: u64,
    tid: u32,
    req: &AnnounceRequest,
) {
    out.put_u64(connection_id);
    out.put_u32(ACTION_ANNOUNCE);
    out.put_u32(tid);
    out.put_slice(&req.info_hash);
    out.put_slice(&req.peer_id);
    out.put_u64(req.downloaded);
    out.put_u64(req.left);
    out.put_u64(req.uploaded);
    out.put_u32(req.event as u32);
    out.put_u32(match req.ip {
        Some(IpAddr::V4(v4)) => u32::from(v4),
        _ => 0,
    });
    out.put_u32(req.key.unwrap_or(0));
    out.put_i32(req.numwant.map_or(-1, |n| n.min(i32::MAX as u32) as i32));
    out.put_u16(req.port);
}

/// Appends a scrape request for `hashes` (the caller keeps to
/// [`MAX_SCRAPE_HASHES`]).
pub fn encode_scrape_request(
    out: &mut impl BufMut,
    connection_id: u64,
    tid: u32,
    hashes: &[InfoHash],
) {
    out.put_u64(connection_id);
    out.put_u32(ACTION_SCRAPE);
    out.put_u32(tid);
    for h in hashes {
        out.put_slice(h);
    }
}

/// Appends a connect response.
pub fn encode_connect_response(out: &mut impl BufMut, tid: u32, connection_id: u64) {
    out.put_u32(ACTION_CONNECT);
    out.put_u32(tid);
    out.put_u64(connection_id);
}

/// Appends an announce response with the peers of one family: IPv6 ones
/// (18 bytes) if `v6`, else IPv4 ones (6 bytes); peers of the other
/// family are left out. Returns how many peers went in.
pub fn encode_announce_response(
    out: &mut impl BufMut,
    tid: u32,
    interval: u32,
    leechers: u32,
    seeders: u32,
    peers: &[Peer],
    v6: bool,
) -> usize {
    out.put_u32(ACTION_ANNOUNCE);
    out.put_u32(tid);
    out.put_u32(interval);
    out.put_u32(leechers);
    out.put_u32(seeders);
    // Entries are gathered on the stack and copied out in batches: a
    // `BufMut` call per address and port cost more than the rest of an
    // announce together.
    let mut batch = [0u8; 18 * 32];
    let mut len = 0;
    let mut n = 0;
    for p in peers {
        let port = p.addr.port().to_be_bytes();
        match (p.addr.ip(), v6) {
            (IpAddr::V4(ip), false) => {
                batch[len..len + 4].copy_from_slice(&ip.octets());
                batch[len + 4..len + 6].copy_from_slice(&port);
                len += 6;
            }
            (IpAddr::V6(ip), true) => {
                batch[len..len + 16].copy_from_slice(&ip.octets());
                batch[len + 16..len + 18].copy_from_slice(&port);
                len += 18;
            }
            _ => continue,
        }
        n += 1;
        if len + 18 > batch.len() {
            out.put_slice(&batch[..len]);
            len = 0;
        }
    }
    out.put_slice(&batch[..len]);
    n
}

/// Appends a scrape response's header; follow it with one
/// [`encode_scrape_entry`] per hash asked.
pub fn encode_scrape_response_header(out: &mut impl BufMut, tid: u32) {
    out.put_u32(ACTION_SCRAPE);
    out.put_u32(tid);
}

/// Appends one scrape entry.
pub fn encode_scrape_entry(out: &mut impl BufMut, entry: &ScrapeEntry) {
    out.put_u32(entry.complete);
    out.put_u32(entry.downloaded);
    out.put_u32(entry.incomplete);
}

/// Appends an error response.
pub fn encode_error(out: &mut impl BufMut, tid: u32, message: &str) {
    out.put_u32(ACTION_ERROR);
    out.put_u32(tid);
    out.put_slice(message.as_bytes());
}
