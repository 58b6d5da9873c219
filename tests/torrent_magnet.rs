//! Magnet links: hex and base32 info-hashes (the same hash both ways),
//! names, several trackers, peers, percent-decoding, what is written back,
//! and each malformed link a typed error.

use kamaelia::protocol::torrent::magnet::{Magnet, MagnetError};
use kamaelia::protocol::torrent::metainfo::{hex, MetainfoBuilder};

const HEX: &str = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";

/// RFC 4648 base32 written independently of the parser: 5 bits a
/// character, most significant first.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits = String::new();
    for b in bytes {
        bits.push_str(&format!("{b:08b}"));
    }
    bits.as_bytes()
        .chunks(5)
        .map(|c| {
            let v = u8::from_str_radix(std::str::from_utf8(c).unwrap(), 2).unwrap();
            ALPHABET[usize::from(v)] as char
        })
        .collect()
}

fn hash_bytes() -> [u8; 20] {
    let mut h = [0u8; 20];
    for (i, b) in h.iter_mut().enumerate() {
        *b = u8::from_str_radix(&HEX[2 * i..2 * i + 2], 16).unwrap();
    }
    h
}

fn parse(s: &str) -> Result<Magnet, MagnetError> {
    s.parse()
}

#[test]
fn hex_and_base32_give_the_same_hash() {
    let h = hash_bytes();
    let b32 = base32(&h);
    assert_eq!(b32.len(), 32);
    let a = parse(&format!("magnet:?xt=urn:btih:{HEX}")).unwrap();
    let b = parse(&format!("magnet:?xt=urn:btih:{b32}")).unwrap();
    let c = parse(&format!("magnet:?xt=urn:btih:{}", b32.to_lowercase())).unwrap();
    let d = parse(&format!("MAGNET:?xt=URN:BTIH:{}", HEX.to_uppercase())).unwrap();
    assert_eq!(a.info_hash, h);
    assert_eq!(b.info_hash, h);
    assert_eq!(c.info_hash, h);
    assert_eq!(d.info_hash, h);
    assert_eq!(a.display_name, None);
    assert!(a.trackers.is_empty() && a.peers.is_empty());
}

#[test]
fn names_trackers_and_peers() {
    let link = format!(
        "magnet:?xt=urn:btih:{HEX}&dn=Big+Buck%20Bunny%E2%9C%93%2B\
         &tr=udp%3A%2F%2F127.0.0.1%3A6969%2Fannounce&tr=http://127.0.0.1:1/a?x=1%261\
         &tr.2=http%3A%2F%2F127.0.0.1%3A2%2F&x.pe=127.0.0.1:6881&x.pe=%5B%3A%3A1%5D%3A6882\
         &x.pe=peer.example:7000&xl=123&ws=http%3A%2F%2Fx%2F&so=0"
    );
    let m = parse(&link).unwrap();
    assert_eq!(m.display_name.as_deref(), Some("Big Buck Bunny✓+"));
    assert_eq!(
        m.trackers,
        [
            "udp://127.0.0.1:6969/announce",
            "http://127.0.0.1:1/a?x=1&1",
            "http://127.0.0.1:2/"
        ]
    );
    assert_eq!(
        m.peers,
        ["127.0.0.1:6881", "[::1]:6882", "peer.example:7000"]
    );
    assert_eq!(
        m.peer_addrs(),
        [
            "127.0.0.1:6881".parse().unwrap(),
            "[::1]:6882".parse().unwrap()
        ]
    );
    // Written back: lower-case hex, every value percent-encoded.
    let out = m.to_string();
    assert_eq!(
        out,
        format!(
            "magnet:?xt=urn:btih:{HEX}&dn=Big%20Buck%20Bunny%E2%9C%93%2B\
             &tr=udp%3A%2F%2F127.0.0.1%3A6969%2Fannounce&tr=http%3A%2F%2F127.0.0.1%3A1%2Fa%3Fx%3D1%261\
             &tr=http%3A%2F%2F127.0.0.1%3A2%2F&x.pe=127.0.0.1%3A6881&x.pe=%5B%3A%3A1%5D%3A6882\
             &x.pe=peer.example%3A7000"
        )
    );
    assert_eq!(parse(&out).unwrap(), m);
}

#[test]
fn v2_and_several_hashes() {
    let v2 =
        "magnet:?xt=urn:btmh:1220caf1e1c30e81cb361b9ee167c4aa64228a7fa4fa9f6105232b28ad099f3a302e";
    assert_eq!(parse(v2).unwrap_err(), MagnetError::V2Only);
    // A hybrid link: the v1 hash is taken, the v2 one skipped.
    let hybrid = format!("{v2}&xt=urn:btih:{HEX}");
    assert_eq!(parse(&hybrid).unwrap().info_hash, hash_bytes());
    // The same hash twice (hex and base32) is fine; two different ones not.
    let same = format!(
        "magnet:?xt=urn:btih:{HEX}&xt.1=urn:btih:{}",
        base32(&hash_bytes())
    );
    assert!(parse(&same).is_ok());
    let two = format!("magnet:?xt=urn:btih:{HEX}&xt=urn:btih:{}", "0".repeat(40));
    assert_eq!(parse(&two).unwrap_err(), MagnetError::ConflictingInfoHashes);
}

#[test]
fn malformed_links() {
    let cases: &[(&str, MagnetError)] = &[
        ("http://x/?xt=urn:btih:00", MagnetError::NotMagnet),
        ("magnet:", MagnetError::NotMagnet),
        ("", MagnetError::NotMagnet),
        ("magnet:?dn=x", MagnetError::NoInfoHash),
        ("magnet:?xt=urn:sha1:ABC", MagnetError::NoInfoHash),
        ("magnet:?xt=urn:btih:abc", MagnetError::BadInfoHash),
        (
            "magnet:?xt=urn:btih:g12fe1c06bba254a9dc9f519b335aa7c1367a88a",
            MagnetError::BadInfoHash,
        ),
        // 32 characters, but 0, 1, 8 and 9 are not base32.
        (
            "magnet:?xt=urn:btih:0123456789ABCDEFGHIJKLMNOPQRSTUV",
            MagnetError::BadInfoHash,
        ),
        // 41 hex digits.
        (
            "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a0",
            MagnetError::BadInfoHash,
        ),
        (
            "magnet:?xt=urn%3Abtih%3",
            MagnetError::BadPercentEncoding("xt"),
        ),
        ("magnet:?dn=%zz", MagnetError::BadPercentEncoding("dn")),
        ("magnet:?tr=%", MagnetError::BadPercentEncoding("tr")),
        ("magnet:?dn=%ff%fe", MagnetError::NotUtf8("dn")),
        ("magnet:?x.pe=1.2.3.4", MagnetError::BadPeer),
        ("magnet:?x.pe=1.2.3.4:0", MagnetError::BadPeer),
        ("magnet:?x.pe=1.2.3.4:65536", MagnetError::BadPeer),
        ("magnet:?x.pe=:80", MagnetError::BadPeer),
        ("magnet:?x.pe=[zz]:80", MagnetError::BadPeer),
        ("magnet:?x.pe=a%2Fb:80", MagnetError::BadPeer),
    ];
    for (link, want) in cases {
        assert_eq!(parse(link).as_ref().unwrap_err(), want, "{link}");
    }
}

#[test]
fn metainfo_magnet() {
    let m = MetainfoBuilder::single_file("a b.txt", 5, 16_384, vec![[9; 20]])
        .announce("udp://127.0.0.1:1")
        .tier(vec![
            "udp://127.0.0.1:1".into(),
            "http://127.0.0.1:2/a".into(),
        ])
        .tier(vec!["http://127.0.0.1:3/a".into()])
        .build()
        .unwrap();
    let link = m.magnet();
    assert_eq!(link.info_hash, m.info_hash());
    assert_eq!(link.display_name.as_deref(), Some("a b.txt"));
    // Each tracker once, tier by tier.
    assert_eq!(
        link.trackers,
        [
            "udp://127.0.0.1:1",
            "http://127.0.0.1:2/a",
            "http://127.0.0.1:3/a"
        ]
    );
    let text = link.to_string();
    assert!(text.starts_with(&format!(
        "magnet:?xt=urn:btih:{}&dn=a%20b.txt&tr=udp%3A%2F%2F127.0.0.1%3A1&tr=",
        hex(&m.info_hash())
    )));
    assert_eq!(parse(&text).unwrap(), link);
}
