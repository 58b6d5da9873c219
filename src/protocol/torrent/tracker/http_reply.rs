//! The HTTP tracker's wire format, reply side (BEP 3, 7, 23, 48): announce
//! and scrape replies read with our lenient bencode decoder, and written
//! straight into one output buffer (canonical: keys in byte order) with no
//! other allocation, for the server's hot path.
//!
//! Reading: a `failure reason` makes the reply a [`WireError::Failure`];
//! `interval` is required; `peers` is the compact string (6 bytes a peer)
//! or BEP 3's list of dictionaries (`ip`, `port`, `peer id`; an entry whose
//! `ip` is a DNS name is skipped: a `SocketAddr` cannot hold it); `peers6`
//! is compact IPv6 (18 bytes a peer, BEP 7). A string of the wrong length
//! is a typed error, never a truncated list.
//!
//! ```
//! use kamaelia::protocol::torrent::tracker::http_wire::{encode_announce_reply, parse_announce_reply};
//! use kamaelia::protocol::torrent::tracker::{AnnounceReply, Peer};
//!
//! let reply = AnnounceReply {
//!     interval: 1800,
//!     complete: Some(1),
//!     incomplete: Some(0),
//!     peers: vec![Peer { addr: "10.0.0.1:6881".parse().unwrap(), id: None }],
//!     ..Default::default()
//! };
//! let mut out = Vec::new();
//! encode_announce_reply(&mut out, &reply, true);
//! assert_eq!(
//!     out,
//!     b"d8:completei1e10:incompletei0e8:intervali1800e5:peers6:\x0a\x00\x00\x01\x1a\xe1e"
//! );
//! assert_eq!(parse_announce_reply(&out).unwrap(), reply);
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::http_wire::WireError;
use super::{AnnounceReply, Peer, ScrapeEntry};
use crate::protocol::torrent::bencode::{decode, encode, Dict, Value};

// ----- reading -----

/// A non-negative integer field as `u32` (larger values saturate).
fn count(d: &Dict<'_>, key: &'static str) -> Result<Option<u32>, WireError> {
    match d.get(key.as_bytes()) {
        None => Ok(None),
        Some(v) => {
            let n = v.as_u64().ok_or(WireError::Bad(key))?;
            Ok(Some(u32::try_from(n).unwrap_or(u32::MAX)))
        }
    }
}

fn failure(d: &Dict<'_>) -> Option<WireError> {
    let reason = d.get(b"failure reason")?;
    let text = reason.as_bytes().unwrap_or(b"(not a string)");
    Some(WireError::Failure(
        String::from_utf8_lossy(text).into_owned(),
    ))
}

fn compact_v4(bytes: &[u8], peers: &mut Vec<Peer>) -> Result<(), WireError> {
    if bytes.len() % 6 != 0 {
        return Err(WireError::PeersLength(bytes.len()));
    }
    peers.extend(bytes.chunks_exact(6).map(|c| Peer {
        addr: SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(c[0], c[1], c[2], c[3]),
            u16::from_be_bytes([c[4], c[5]]),
        )),
        id: None,
    }));
    Ok(())
}

fn compact_v6(bytes: &[u8], peers: &mut Vec<Peer>) -> Result<(), WireError> {
    if bytes.len() % 18 != 0 {
        return Err(WireError::Peers6Length(bytes.len()));
    }
    peers.extend(bytes.chunks_exact(18).map(|c| {
        let ip: [u8; 16] = c[..16].try_into().expect("16 bytes");
        Peer {
            addr: SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                u16::from_be_bytes([c[16], c[17]]),
                0,
                0,
            )),
            id: None,
        }
    }));
    Ok(())
}

fn dict_peers(list: &[Value<'_>], peers: &mut Vec<Peer>) -> Result<(), WireError> {
    for entry in list {
        let d = entry.as_dict().ok_or(WireError::Bad("peers"))?;
        let port = d
            .get(b"port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .ok_or(WireError::Bad("port"))?;
        let ip = d.get(b"ip").and_then(Value::as_bytes);
        let ip = ip.ok_or(WireError::Missing("ip"))?;
        let Some(ip) = std::str::from_utf8(ip)
            .ok()
            .and_then(|s| s.parse::<IpAddr>().ok())
        else {
            continue; // a DNS name
        };
        let id = match d.get(b"peer id") {
            None => None,
            Some(v) => Some(
                v.as_bytes()
                    .and_then(|b| <[u8; 20]>::try_from(b).ok())
                    .ok_or(WireError::Bad("peer id"))?,
            ),
        };
        peers.push(Peer {
            addr: SocketAddr::new(ip, port),
            id,
        });
    }
    Ok(())
}

/// Reads an announce reply body.
pub fn parse_announce_reply(body: &[u8]) -> Result<AnnounceReply, WireError> {
    let value = decode(body).map_err(WireError::Bencode)?;
    let d = value.as_dict().ok_or(WireError::NotADict)?;
    if let Some(f) = failure(d) {
        return Err(f);
    }
    let interval = count(d, "interval")?.ok_or(WireError::Missing("interval"))?;
    let mut reply = AnnounceReply {
        interval,
        min_interval: count(d, "min interval")?,
        complete: count(d, "complete")?,
        incomplete: count(d, "incomplete")?,
        ..Default::default()
    };
    if let Some(t) = d.get(b"tracker id") {
        reply.tracker_id = Some(t.as_bytes().ok_or(WireError::Bad("tracker id"))?.to_vec());
    }
    if let Some(w) = d.get(b"warning message") {
        let w = w.as_bytes().ok_or(WireError::Bad("warning message"))?;
        reply.warning = Some(String::from_utf8_lossy(w).into_owned());
    }
    match d.get(b"peers") {
        None => {}
        Some(Value::Bytes(b)) => compact_v4(b, &mut reply.peers)?,
        Some(Value::List(l)) => dict_peers(l, &mut reply.peers)?,
        Some(_) => return Err(WireError::Bad("peers")),
    }
    match d.get(b"peers6") {
        None => {}
        Some(Value::Bytes(b)) => compact_v6(b, &mut reply.peers)?,
        Some(_) => return Err(WireError::Bad("peers6")),
    }
    Ok(reply)
}

/// Reads a scrape reply body: one entry per 20-byte key of `files`, in the
/// order found; missing counts are 0.
pub fn parse_scrape_reply(body: &[u8]) -> Result<Vec<ScrapeEntry>, WireError> {
    let value = decode(body).map_err(WireError::Bencode)?;
    let d = value.as_dict().ok_or(WireError::NotADict)?;
    if let Some(f) = failure(d) {
        return Err(f);
    }
    let files = d.get(b"files").ok_or(WireError::Missing("files"))?;
    let files = files.as_dict().ok_or(WireError::Bad("files"))?;
    let mut out = Vec::with_capacity(files.len());
    for (hash, stats) in files.iter() {
        let info_hash = <[u8; 20]>::try_from(hash).map_err(|_| WireError::Bad("files"))?;
        let s = stats.as_dict().ok_or(WireError::Bad("files"))?;
        out.push(ScrapeEntry {
            info_hash,
            complete: count(s, "complete")?.unwrap_or(0),
            downloaded: count(s, "downloaded")?.unwrap_or(0),
            incomplete: count(s, "incomplete")?.unwrap_or(0),
        });
    }
    Ok(out)
}

// ----- writing -----

/// Appends a byte string's length prefix `<n>:`.
fn len_prefix(out: &mut Vec<u8>, n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.push(b':');
}

fn key_int(out: &mut Vec<u8>, key: &[u8], n: i64) {
    encode::bytes(out, key);
    encode::int(out, n);
}

/// The IPv4 address of a peer, including an IPv4-mapped IPv6 one (what a
/// dual-stack socket reports for an IPv4 client).
fn v4(addr: &SocketAddr) -> Option<Ipv4Addr> {
    match addr.ip() {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(a) => a.to_ipv4_mapped(),
    }
}

/// An address as text, written into a stack buffer (no allocation).
fn ip_text(ip: IpAddr, buf: &mut [u8; 48]) -> &[u8] {
    use std::io::Write;
    let mut cur = std::io::Cursor::new(&mut buf[..]);
    let _ = write!(cur, "{ip}");
    let n = cur.position() as usize;
    &buf[..n]
}

/// Appends an announce reply. Compact: IPv4 peers in `peers` (6 bytes
/// each) and IPv6 peers in `peers6` (18 bytes each); else BEP 3's list of
/// dictionaries with `ip`, `peer id` (when known) and `port`. Keys come in
/// byte order, so the output is canonical bencode.
pub fn encode_announce_reply(out: &mut Vec<u8>, reply: &AnnounceReply, compact: bool) {
    out.push(b'd');
    if let Some(c) = reply.complete {
        key_int(out, b"complete", c.into());
    }
    if let Some(c) = reply.incomplete {
        key_int(out, b"incomplete", c.into());
    }
    key_int(out, b"interval", reply.interval.into());
    if let Some(m) = reply.min_interval {
        key_int(out, b"min interval", m.into());
    }
    encode::bytes(out, b"peers");
    if compact {
        let n4 = reply.peers.iter().filter(|p| v4(&p.addr).is_some()).count();
        len_prefix(out, n4 * 6);
        for p in &reply.peers {
            if let Some(ip) = v4(&p.addr) {
                out.extend_from_slice(&ip.octets());
                out.extend_from_slice(&p.addr.port().to_be_bytes());
            }
        }
        let n6 = reply.peers.len() - n4;
        if n6 > 0 {
            encode::bytes(out, b"peers6");
            len_prefix(out, n6 * 18);
            for p in &reply.peers {
                if let (None, IpAddr::V6(ip)) = (v4(&p.addr), p.addr.ip()) {
                    out.extend_from_slice(&ip.octets());
                    out.extend_from_slice(&p.addr.port().to_be_bytes());
                }
            }
        }
    } else {
        out.push(b'l');
        let mut buf = [0u8; 48];
        for p in &reply.peers {
            let ip = v4(&p.addr).map_or(p.addr.ip(), IpAddr::V4);
            out.push(b'd');
            encode::bytes(out, b"ip");
            encode::bytes(out, ip_text(ip, &mut buf));
            if let Some(id) = &p.id {
                encode::bytes(out, b"peer id");
                encode::bytes(out, id);
            }
            key_int(out, b"port", p.addr.port().into());
            out.push(b'e');
        }
        out.push(b'e');
    }
    if let Some(t) = &reply.tracker_id {
        encode::bytes(out, b"tracker id");
        encode::bytes(out, t);
    }
    if let Some(w) = &reply.warning {
        encode::bytes(out, b"warning message");
        encode::bytes(out, w.as_bytes());
    }
    out.push(b'e');
}

/// Appends a refusal: `d14:failure reason<len>:<reason>e`.
pub fn encode_failure(out: &mut Vec<u8>, reason: &str) {
    out.push(b'd');
    encode::bytes(out, b"failure reason");
    encode::bytes(out, reason.as_bytes());
    out.push(b'e');
}

/// Appends a scrape reply, `files` holding `entries` in the order given
/// (give them sorted by info-hash, without repeats, for canonical output).
pub fn encode_scrape_reply(out: &mut Vec<u8>, entries: &[ScrapeEntry]) {
    out.extend_from_slice(b"d5:filesd");
    for e in entries {
        encode::bytes(out, &e.info_hash);
        out.push(b'd');
        key_int(out, b"complete", e.complete.into());
        key_int(out, b"downloaded", e.downloaded.into());
        key_int(out, b"incomplete", e.incomplete.into());
        out.push(b'e');
    }
    out.extend_from_slice(b"ee");
}
