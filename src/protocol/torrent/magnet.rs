//! Magnet links (BEP 9's URI form): read and written.
//!
//! `magnet:?xt=urn:btih:<info-hash>&dn=<name>&tr=<tracker>&x.pe=<peer>`
//!
//! * `xt=urn:btih:` with the info-hash in hex (40 digits, either case) or
//!   base32 (32 characters, RFC 4648, either case). Other `xt`s (such as
//!   v2's `urn:btmh:`) are skipped; a link with only a v2 hash is
//!   [`MagnetError::V2Only`]; two different v1 hashes are an error.
//! * `dn`: the display name; `+` there is a space (form encoding, which
//!   many makers of links use), elsewhere it is itself.
//! * `tr` (any number, also as `tr.1`, `tr.2`, …): trackers, in order.
//! * `x.pe` (any number): peers as `host:port`, `[v6]:port`;
//!   [`Magnet::peer_addrs`] gives the ones with an IP literal.
//!
//! Values are percent-decoded and must then be UTF-8; a bad `%` escape is
//! an error, unknown parameters are skipped. [`Magnet`]'s `Display` writes
//! the link back: the hash in lower-case hex, values percent-encoded
//! (everything but RFC 3986's unreserved characters), so it reads back to
//! the same value. Fetching the metadata from peers (BEP 9's extension
//! messages) belongs to the client.
//!
//! # Example
//!
//! ```
//! use kamaelia::protocol::torrent::magnet::Magnet;
//!
//! let m: Magnet = "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a\
//!                  &dn=a+b&tr=udp%3A%2F%2F127.0.0.1%3A6969"
//!     .parse()
//!     .unwrap();
//! assert_eq!(m.display_name.as_deref(), Some("a b"));
//! assert_eq!(m.trackers, ["udp://127.0.0.1:6969"]);
//! assert_eq!(m.to_string().parse::<Magnet>().unwrap(), m);
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use super::tracker::InfoHash;

/// A magnet link's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Magnet {
    /// The v1 info-hash.
    pub info_hash: InfoHash,
    /// `dn`.
    pub display_name: Option<String>,
    /// `tr`, in order.
    pub trackers: Vec<String>,
    /// `x.pe`, each `host:port`.
    pub peers: Vec<String>,
}

/// Why a magnet link was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MagnetError {
    /// It does not start with `magnet:?`.
    NotMagnet,
    /// No `xt=urn:btih:` (nor a v2 hash).
    NoInfoHash,
    /// Only a v2 (`urn:btmh:`) hash: v1 is needed.
    V2Only,
    /// A `urn:btih:` hash that is neither 40 hex digits nor 32 base32
    /// characters.
    BadInfoHash,
    /// Two `urn:btih:` hashes that differ.
    ConflictingInfoHashes,
    /// A `%` not followed by two hex digits, in the named parameter.
    BadPercentEncoding(&'static str),
    /// The named parameter is not UTF-8 once decoded.
    NotUtf8(&'static str),
    /// An `x.pe` that is not `host:port` with a port from 1 to 65535.
    BadPeer,
}

impl fmt::Display for MagnetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            MagnetError::NotMagnet => "does not start with `magnet:?`".to_string(),
            MagnetError::NoInfoHash => "no `xt=urn:btih:` info-hash".to_string(),
            MagnetError::V2Only => "only a v2 (`urn:btmh:`) hash; v1 is needed".to_string(),
            MagnetError::BadInfoHash => {
                "info-hash is neither 40 hex digits nor 32 base32 characters".to_string()
            }
            MagnetError::ConflictingInfoHashes => "two different info-hashes".to_string(),
            MagnetError::BadPercentEncoding(p) => format!("bad %-escape in `{p}`"),
            MagnetError::NotUtf8(p) => format!("`{p}` is not UTF-8"),
            MagnetError::BadPeer => "`x.pe` is not host:port".to_string(),
        };
        write!(f, "magnet link: {what}")
    }
}

impl std::error::Error for MagnetError {}

impl Magnet {
    /// The `x.pe` peers given as IP literals (`1.2.3.4:5`, `[::1]:5`).
    pub fn peer_addrs(&self) -> Vec<SocketAddr> {
        self.peers.iter().filter_map(|p| p.parse().ok()).collect()
    }
}

impl FromStr for Magnet {
    type Err = MagnetError;

    fn from_str(s: &str) -> Result<Magnet, MagnetError> {
        let query = match s.get(..8) {
            Some(p) if p.eq_ignore_ascii_case("magnet:?") => &s[8..],
            _ => return Err(MagnetError::NotMagnet),
        };
        let mut info_hash: Option<InfoHash> = None;
        let mut saw_v2 = false;
        let mut m = Magnet {
            info_hash: [0; 20],
            display_name: None,
            trackers: Vec::new(),
            peers: Vec::new(),
        };
        for param in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            match key_name(key) {
                Some("xt") => {
                    let v = decode(value, "xt", false)?;
                    if let Some(h) = strip_prefix_ignore_case(&v, "urn:btih:") {
                        let h = parse_hash(h)?;
                        if info_hash.is_some_and(|old| old != h) {
                            return Err(MagnetError::ConflictingInfoHashes);
                        }
                        info_hash = Some(h);
                    } else if strip_prefix_ignore_case(&v, "urn:btmh:").is_some() {
                        saw_v2 = true;
                    }
                }
                Some("dn") => m.display_name = Some(decode(value, "dn", true)?),
                Some("tr") => m.trackers.push(decode(value, "tr", false)?),
                Some("x.pe") => {
                    let p = decode(value, "x.pe", false)?;
                    check_peer(&p)?;
                    m.peers.push(p);
                }
                _ => {}
            }
        }
        m.info_hash = match info_hash {
            Some(h) => h,
            None if saw_v2 => return Err(MagnetError::V2Only),
            None => return Err(MagnetError::NoInfoHash),
        };
        Ok(m)
    }
}

impl fmt::Display for Magnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("magnet:?xt=urn:btih:")?;
        for b in self.info_hash {
            write!(f, "{b:02x}")?;
        }
        if let Some(dn) = &self.display_name {
            f.write_str("&dn=")?;
            encode(f, dn)?;
        }
        for t in &self.trackers {
            f.write_str("&tr=")?;
            encode(f, t)?;
        }
        for p in &self.peers {
            f.write_str("&x.pe=")?;
            encode(f, p)?;
        }
        Ok(())
    }
}

/// The parameter's name, numbered forms (`tr.1`) folded to the plain one.
fn key_name(key: &str) -> Option<&str> {
    match key {
        "xt" | "dn" | "tr" | "x.pe" => Some(key),
        _ => {
            let (base, n) = key.rsplit_once('.')?;
            let numbered = !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
            match base {
                "xt" | "dn" | "tr" if numbered => Some(base),
                _ => None,
            }
        }
    }
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    match s.get(..prefix.len()) {
        Some(p) if p.eq_ignore_ascii_case(prefix) => Some(&s[prefix.len()..]),
        _ => None,
    }
}

fn parse_hash(h: &str) -> Result<InfoHash, MagnetError> {
    let b = h.as_bytes();
    let mut out = [0u8; 20];
    match b.len() {
        40 => {
            for (i, pair) in b.chunks_exact(2).enumerate() {
                let hi = hex_value(pair[0]).ok_or(MagnetError::BadInfoHash)?;
                let lo = hex_value(pair[1]).ok_or(MagnetError::BadInfoHash)?;
                out[i] = hi << 4 | lo;
            }
        }
        32 => {
            // 32 characters of 5 bits: exactly 160 bits, no padding.
            let mut acc: u64 = 0;
            let mut bits = 0;
            let mut at = 0;
            for &c in b {
                let v = match c {
                    b'A'..=b'Z' => c - b'A',
                    b'a'..=b'z' => c - b'a',
                    b'2'..=b'7' => c - b'2' + 26,
                    _ => return Err(MagnetError::BadInfoHash),
                };
                acc = acc << 5 | u64::from(v);
                bits += 5;
                if bits >= 8 {
                    bits -= 8;
                    out[at] = (acc >> bits) as u8;
                    at += 1;
                    acc &= (1 << bits) - 1;
                }
            }
        }
        _ => return Err(MagnetError::BadInfoHash),
    }
    Ok(out)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `v` (and `+` to a space when `plus_is_space`).
fn decode(v: &str, param: &'static str, plus_is_space: bool) -> Result<String, MagnetError> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = b.get(i + 1).copied().and_then(hex_value);
                let lo = b.get(i + 2).copied().and_then(hex_value);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(MagnetError::BadPercentEncoding(param)),
                }
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| MagnetError::NotUtf8(param))
}

/// Writes `s` percent-encoded: RFC 3986's unreserved characters as they
/// are, every other byte as `%XX`.
fn encode(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    use fmt::Write as _;
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
            f.write_char(char::from(c))?;
        } else {
            write!(f, "%{c:02X}")?;
        }
    }
    Ok(())
}

/// `host:port` or `[v6]:port`, the port 1 to 65535.
fn check_peer(p: &str) -> Result<(), MagnetError> {
    let (host, port) = p.rsplit_once(':').ok_or(MagnetError::BadPeer)?;
    let port_ok = !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok_and(|n| n != 0);
    let host_ok = if let Some(inner) = host.strip_prefix('[') {
        inner
            .strip_suffix(']')
            .is_some_and(|v6| v6.parse::<std::net::Ipv6Addr>().is_ok())
    } else {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    };
    if port_ok && host_ok {
        Ok(())
    } else {
        Err(MagnetError::BadPeer)
    }
}
