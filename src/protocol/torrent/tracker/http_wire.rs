//! The HTTP tracker's wire format, query side (BEP 3, 23, 48): the announce
//! and scrape query strings (built by clients, read by the server) and the
//! scrape URL derived from an announce URL. The bencoded replies are in
//! [`super::http_reply`] and re-exported here. Pure functions: no I/O, no
//! scheduler.
//!
//! Binary fields (`info_hash`, `peer_id`, `trackerid`) are percent-encoded
//! byte by byte: every byte outside RFC 3986's unreserved set
//! (`A-Z a-z 0-9 - . _ ~`) becomes `%XX`. On the server side `info_hash`
//! and `peer_id` must decode to exactly 20 bytes, numbers must be decimal
//! and fit their type, and each problem is a [`WireError`] naming the field,
//! so the server can say what was wrong in its `failure reason`.
//!
//! ```
//! use kamaelia::protocol::torrent::tracker::http_wire::{announce_url, parse_announce_query};
//! use kamaelia::protocol::torrent::tracker::{AnnounceEvent, AnnounceRequest};
//!
//! let req = AnnounceRequest {
//!     info_hash: [0xab; 20],
//!     peer_id: *b"-KM0001-abcdefghijkl",
//!     port: 6881,
//!     uploaded: 0,
//!     downloaded: 0,
//!     left: 100,
//!     event: AnnounceEvent::Started,
//!     numwant: Some(30),
//!     key: Some(0x1234abcd),
//!     ip: None,
//!     compact: true,
//!     tracker_id: None,
//! };
//! let url = announce_url("http://t.example/announce", &req);
//! assert!(url.starts_with("http://t.example/announce?info_hash=%AB%AB"));
//! let query = url.split_once('?').unwrap().1;
//! assert_eq!(parse_announce_query(query).unwrap(), req);
//! ```

use std::fmt;
use std::net::IpAddr;

use super::{AnnounceEvent, AnnounceRequest, InfoHash};
use crate::protocol::torrent::bencode::BencodeError;

pub use super::http_reply::{
    encode_announce_reply, encode_failure, encode_scrape_reply, parse_announce_reply,
    parse_scrape_reply,
};

/// Most info-hashes one scrape may ask for (opentracker's bound too).
pub const MAX_SCRAPE_HASHES: usize = 64;

/// What is wrong with a query or a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    /// A required field is missing (`info_hash`, `peer_id`, `port` in an
    /// announce; `interval` in a reply; `files` in a scrape reply).
    Missing(&'static str),
    /// A field that does not parse: not a number, out of range, a bad
    /// percent escape, the wrong bencode type.
    Bad(&'static str),
    /// `info_hash` or `peer_id` not 20 bytes once decoded.
    Length {
        /// The field.
        field: &'static str,
        /// Its decoded length.
        len: usize,
    },
    /// A scrape asking for more than [`MAX_SCRAPE_HASHES`] torrents.
    TooManyHashes,
    /// A reply that is not bencode.
    Bencode(BencodeError),
    /// A reply that is bencode but not a dictionary.
    NotADict,
    /// The tracker refused: its `failure reason`.
    Failure(String),
    /// A compact `peers` string whose length is not a multiple of 6.
    PeersLength(usize),
    /// A `peers6` string whose length is not a multiple of 18.
    Peers6Length(usize),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Missing(k) => write!(f, "missing {k}"),
            WireError::Bad(k) => write!(f, "invalid {k}"),
            WireError::Length { field, len } => {
                write!(f, "{field} is {len} bytes, not 20")
            }
            WireError::TooManyHashes => {
                write!(f, "more than {MAX_SCRAPE_HASHES} info_hash in one scrape")
            }
            WireError::Bencode(e) => write!(f, "reply is not bencode: {e}"),
            WireError::NotADict => f.write_str("reply is not a dictionary"),
            WireError::Failure(r) => write!(f, "tracker refused: {r}"),
            WireError::PeersLength(n) => write!(f, "peers is {n} bytes, not a multiple of 6"),
            WireError::Peers6Length(n) => {
                write!(f, "peers6 is {n} bytes, not a multiple of 18")
            }
        }
    }
}

impl std::error::Error for WireError {}

impl WireError {
    /// The text a server puts in its `failure reason` for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            WireError::Missing("info_hash") => "missing info_hash",
            WireError::Missing("peer_id") => "missing peer_id",
            WireError::Missing("port") => "missing port",
            WireError::Missing(_) => "missing field",
            WireError::Length {
                field: "info_hash", ..
            } => "info_hash must be 20 bytes",
            WireError::Length { .. } => "peer_id must be 20 bytes",
            WireError::Bad("port") => "invalid port",
            WireError::Bad("event") => "invalid event",
            WireError::Bad("info_hash") | WireError::Bad("peer_id") => "invalid percent-encoding",
            WireError::Bad(_) => "invalid number",
            WireError::TooManyHashes => "too many info_hash in one scrape",
            _ => "bad request",
        }
    }
}

// ----- building queries (client side) -----

/// Appends `bytes` percent-encoded byte by byte (unreserved bytes as they
/// are, every other byte as `%XX`, upper-case hex).
pub fn percent_encode(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

fn push_num(out: &mut String, key: &str, n: u64) {
    use std::fmt::Write;
    out.push('&');
    out.push_str(key);
    out.push('=');
    let _ = write!(out, "{n}");
}

/// The name of `event` in an HTTP announce (`None` has none: the field is
/// left out).
pub fn event_name(event: AnnounceEvent) -> Option<&'static str> {
    match event {
        AnnounceEvent::None => None,
        AnnounceEvent::Completed => Some("completed"),
        AnnounceEvent::Started => Some("started"),
        AnnounceEvent::Stopped => Some("stopped"),
    }
}

/// Appends the announce query for `req` (without the `?`): `info_hash`,
/// `peer_id`, `port`, `uploaded`, `downloaded`, `left`, `compact`, then
/// `event`, `numwant`, `key` (8 hex digits), `ip`, `trackerid` when set.
pub fn announce_query(out: &mut String, req: &AnnounceRequest) {
    out.push_str("info_hash=");
    percent_encode(out, &req.info_hash);
    out.push_str("&peer_id=");
    percent_encode(out, &req.peer_id);
    push_num(out, "port", req.port.into());
    push_num(out, "uploaded", req.uploaded);
    push_num(out, "downloaded", req.downloaded);
    push_num(out, "left", req.left);
    out.push_str(if req.compact {
        "&compact=1"
    } else {
        "&compact=0"
    });
    if let Some(e) = event_name(req.event) {
        out.push_str("&event=");
        out.push_str(e);
    }
    if let Some(n) = req.numwant {
        push_num(out, "numwant", n.into());
    }
    if let Some(k) = req.key {
        use std::fmt::Write;
        let _ = write!(out, "&key={k:08x}");
    }
    if let Some(ip) = req.ip {
        use std::fmt::Write;
        let _ = write!(out, "&ip={ip}");
    }
    if let Some(t) = &req.tracker_id {
        out.push_str("&trackerid=");
        percent_encode(out, t);
    }
}

/// `announce` (the tracker's URL, which may carry a query of its own, a
/// passkey say) with the query for `req` added.
pub fn announce_url(announce: &str, req: &AnnounceRequest) -> String {
    let mut url = String::with_capacity(announce.len() + 200);
    url.push_str(announce);
    url.push(if announce.contains('?') { '&' } else { '?' });
    announce_query(&mut url, req);
    url
}

/// The scrape URL of an announce URL (BEP 48): the last path segment must
/// start with `announce`, which becomes `scrape`
/// (`/x/announce.php?k=1` → `/x/scrape.php?k=1`); `None` when it does
/// not (the tracker does not support scrape).
pub fn scrape_url(announce: &str) -> Option<String> {
    let (base, query) = match announce.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (announce, None),
    };
    // The path starts after "scheme://authority".
    let path_start = base.find("://").map_or(0, |i| i + 3);
    let slash = path_start + base[path_start..].rfind('/')?;
    let rest = base[slash + 1..].strip_prefix("announce")?;
    let mut url = String::with_capacity(announce.len());
    url.push_str(&base[..=slash]);
    url.push_str("scrape");
    url.push_str(rest);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    Some(url)
}

/// `scrape` (a scrape URL) with an `info_hash` field for each of `hashes`.
pub fn scrape_url_for(scrape: &str, hashes: &[InfoHash]) -> String {
    let mut url = String::with_capacity(scrape.len() + hashes.len() * 70);
    url.push_str(scrape);
    let mut sep = if scrape.contains('?') { '&' } else { '?' };
    for h in hashes {
        url.push(sep);
        url.push_str("info_hash=");
        percent_encode(&mut url, h);
        sep = '&';
    }
    url
}

// ----- reading queries (server side) -----

/// The `key=value` fields of a query string, in order (no allocation).
fn fields(query: &str) -> impl Iterator<Item = (&[u8], &[u8])> {
    query.as_bytes().split(|&b| b == b'&').filter_map(|f| {
        if f.is_empty() {
            return None;
        }
        Some(match f.iter().position(|&b| b == b'=') {
            Some(i) => (&f[..i], &f[i + 1..]),
            None => (f, &f[f.len()..]),
        })
    })
}

fn hex_digit(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Decodes `value`'s percent escapes into `out`, which must be filled
/// exactly.
fn decode_20(value: &[u8], field: &'static str) -> Result<[u8; 20], WireError> {
    let mut out = [0u8; 20];
    let mut len = 0;
    let mut i = 0;
    while i < value.len() {
        let b = if value[i] == b'%' {
            let hi = value.get(i + 1).and_then(|&b| hex_digit(b));
            let lo = value.get(i + 2).and_then(|&b| hex_digit(b));
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(WireError::Bad(field));
            };
            i += 3;
            hi << 4 | lo
        } else {
            i += 1;
            value[i - 1]
        };
        if len < 20 {
            out[len] = b;
        }
        len += 1;
    }
    if len != 20 {
        return Err(WireError::Length { field, len });
    }
    Ok(out)
}

/// Decodes percent escapes into a new vector (for `trackerid`).
fn decode_vec(value: &[u8], field: &'static str) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'%' {
            let hi = value.get(i + 1).and_then(|&b| hex_digit(b));
            let lo = value.get(i + 2).and_then(|&b| hex_digit(b));
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(WireError::Bad(field));
            };
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(value[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// A decimal number of at most `u64`; anything else is `Bad(field)`.
fn number(value: &[u8], field: &'static str) -> Result<u64, WireError> {
    if value.is_empty() || value.len() > 20 || !value.iter().all(u8::is_ascii_digit) {
        return Err(WireError::Bad(field));
    }
    value.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(WireError::Bad(field))
    })
}

/// `key`: 8 hex digits as clients send it; any other text is folded into
/// 32 bits (FNV-1a) so it still tells the same peer apart.
fn key_value(value: &[u8]) -> u32 {
    if !value.is_empty() && value.len() <= 8 {
        if let Some(k) = value
            .iter()
            .try_fold(0u32, |k, &b| hex_digit(b).map(|d| k << 4 | u32::from(d)))
        {
            return k;
        }
    }
    value.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Reads an announce query (what follows `?`). `info_hash`, `peer_id` and
/// `port` are required; `uploaded`, `downloaded` and `left` default to 0;
/// `compact` defaults to true (the server answers compactly unless asked
/// not to); a `numwant` beyond `u32` is read as `u32::MAX` (the swarm caps
/// it); an `ip` that is not an address is ignored (BEP 3 allows a DNS name,
/// which a tracker does not look up). Unknown fields are ignored.
pub fn parse_announce_query(query: &str) -> Result<AnnounceRequest, WireError> {
    let mut info_hash = None;
    let mut peer_id = None;
    let mut port = None;
    let mut req = AnnounceRequest {
        info_hash: [0; 20],
        peer_id: [0; 20],
        port: 0,
        uploaded: 0,
        downloaded: 0,
        left: 0,
        event: AnnounceEvent::None,
        numwant: None,
        key: None,
        ip: None,
        compact: true,
        tracker_id: None,
    };
    for (k, v) in fields(query) {
        match k {
            b"info_hash" => info_hash = Some(decode_20(v, "info_hash")?),
            b"peer_id" => peer_id = Some(decode_20(v, "peer_id")?),
            b"port" => {
                let n = number(v, "port")?;
                port = Some(u16::try_from(n).map_err(|_| WireError::Bad("port"))?);
            }
            b"uploaded" => req.uploaded = number(v, "uploaded")?,
            b"downloaded" => req.downloaded = number(v, "downloaded")?,
            b"left" => req.left = number(v, "left")?,
            b"compact" => req.compact = v != b"0",
            b"event" => {
                req.event = match v {
                    b"started" => AnnounceEvent::Started,
                    b"completed" => AnnounceEvent::Completed,
                    b"stopped" => AnnounceEvent::Stopped,
                    b"" | b"empty" | b"paused" => AnnounceEvent::None,
                    _ => return Err(WireError::Bad("event")),
                }
            }
            b"numwant" => {
                let all_digits = !v.is_empty() && v.iter().all(u8::is_ascii_digit);
                if !all_digits {
                    return Err(WireError::Bad("numwant"));
                }
                let n = number(v, "numwant").unwrap_or(u64::MAX);
                req.numwant = Some(u32::try_from(n).unwrap_or(u32::MAX));
            }
            b"key" => req.key = Some(key_value(v)),
            b"ip" => {
                req.ip = std::str::from_utf8(v)
                    .ok()
                    .and_then(|s| s.parse::<IpAddr>().ok())
            }
            b"trackerid" => req.tracker_id = Some(decode_vec(v, "trackerid")?),
            _ => {}
        }
    }
    req.info_hash = info_hash.ok_or(WireError::Missing("info_hash"))?;
    req.peer_id = peer_id.ok_or(WireError::Missing("peer_id"))?;
    req.port = port.ok_or(WireError::Missing("port"))?;
    Ok(req)
}

/// Reads a scrape query into `out`: the `info_hash` fields, sorted and
/// without repeats (so the reply comes out canonical). None at all is
/// `Missing("info_hash")`: this tracker does not dump every torrent.
pub fn parse_scrape_query(query: &str, out: &mut Vec<InfoHash>) -> Result<(), WireError> {
    out.clear();
    for (k, v) in fields(query) {
        if k == b"info_hash" {
            if out.len() == MAX_SCRAPE_HASHES {
                return Err(WireError::TooManyHashes);
            }
            out.push(decode_20(v, "info_hash")?);
        }
    }
    if out.is_empty() {
        return Err(WireError::Missing("info_hash"));
    }
    out.sort_unstable();
    out.dedup();
    Ok(())
}
