//! The HTTP tracker wire format: announce and scrape queries both ways,
//! scrape URLs (BEP 48), replies read and written byte for byte, and the
//! hostile cases (odd-length peer lists, bad bencode, a missing interval,
//! a 19-byte info_hash, a huge numwant).

use std::net::SocketAddr;

use kamaelia::protocol::torrent::bencode::{self, decode_strict};
use kamaelia::protocol::torrent::tracker::http_wire::*;
use kamaelia::protocol::torrent::tracker::{
    AnnounceEvent, AnnounceReply, AnnounceRequest, Peer, ScrapeEntry,
};

fn request() -> AnnounceRequest {
    AnnounceRequest {
        info_hash: *b"\x00\x01 ~-._%&=+\xff\xfeABCxyz0",
        peer_id: *b"-KM0001-abcdefghijkl",
        port: 6881,
        uploaded: 1,
        downloaded: 2,
        left: 3,
        event: AnnounceEvent::Started,
        numwant: Some(30),
        key: Some(0x00ab_cdef),
        ip: Some("10.1.2.3".parse().unwrap()),
        compact: true,
        tracker_id: Some(b"t&1".to_vec()),
    }
}

#[test]
fn the_announce_query_percent_encodes_byte_by_byte_and_reads_back() {
    let req = request();
    let mut q = String::new();
    announce_query(&mut q, &req);
    assert_eq!(
        q,
        "info_hash=%00%01%20~-._%25%26%3D%2B%FF%FEABCxyz0&peer_id=-KM0001-abcdefghijkl\
         &port=6881&uploaded=1&downloaded=2&left=3&compact=1&event=started&numwant=30\
         &key=00abcdef&ip=10.1.2.3&trackerid=t%261"
    );
    assert_eq!(parse_announce_query(&q).unwrap(), req);
    // A regular announce, not compact, with nothing optional.
    let mut plain = request();
    plain.event = AnnounceEvent::None;
    plain.compact = false;
    (plain.numwant, plain.key, plain.ip, plain.tracker_id) = (None, None, None, None);
    let url = announce_url("http://t/announce?passkey=abc", &plain);
    let (base, q) = url.split_once('?').unwrap();
    assert_eq!(base, "http://t/announce");
    assert!(q.starts_with("passkey=abc&info_hash="));
    assert!(q.ends_with("&left=3&compact=0"), "{q}");
    assert_eq!(parse_announce_query(q).unwrap(), plain);
}

#[test]
fn the_server_reads_lower_case_escapes_defaults_and_ignores_unknown_fields() {
    let q = "info_hash=%ab%AB%aB%Ab%ab%ab%ab%ab%ab%ab%ab%ab%ab%ab%ab%ab%ab%ab%ab%ab\
             &peer_id=abcdefghijklmnopqrst&port=1&no_peer_id=1&supportcrypto=1&event=&key=zz";
    let r = parse_announce_query(q).unwrap();
    assert_eq!(r.info_hash, [0xab; 20]);
    assert_eq!(&r.peer_id, b"abcdefghijklmnopqrst");
    assert_eq!((r.port, r.uploaded, r.downloaded, r.left), (1, 0, 0, 0));
    assert_eq!(r.event, AnnounceEvent::None);
    assert!(r.compact, "compact unless asked otherwise");
    assert_eq!(r.numwant, None);
    // A key that is not hex is folded (FNV-1a of "zz"), not refused.
    let fnv = b"zz".iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    assert_eq!(r.key, Some(fnv));
    let r = parse_announce_query(&format!("{q}A")).unwrap(); // key=zzA
    assert_ne!(r.key, Some(fnv));
    let r = parse_announce_query(&q.replace("key=zz", "key=DEADbeef")).unwrap();
    assert_eq!(r.key, Some(0xdead_beef));
    for e in ["completed", "stopped", "started"] {
        let r = parse_announce_query(&format!("{q}&event={e}")).unwrap();
        assert_eq!(event_name(r.event), Some(e));
    }
}

#[test]
fn bad_announce_queries_are_typed_errors_naming_the_field() {
    let h20 = "%11".repeat(20);
    let ok = format!("info_hash={h20}&peer_id={h20}&port=80");
    assert!(parse_announce_query(&ok).is_ok());
    let cases: Vec<(String, WireError)> = vec![
        // 19 bytes of info_hash.
        (
            format!("info_hash={}&peer_id={h20}&port=80", "%11".repeat(19)),
            WireError::Length {
                field: "info_hash",
                len: 19,
            },
        ),
        (
            format!("info_hash={h20}A&peer_id={h20}&port=80"),
            WireError::Length {
                field: "info_hash",
                len: 21,
            },
        ),
        (
            format!("info_hash={h20}&peer_id=short&port=80"),
            WireError::Length {
                field: "peer_id",
                len: 5,
            },
        ),
        (
            format!("info_hash=%1{h20}&peer_id={h20}&port=80"),
            WireError::Bad("info_hash"),
        ),
        (
            format!("info_hash={h20}%&peer_id={h20}&port=80"),
            WireError::Bad("info_hash"),
        ),
        (
            format!("peer_id={h20}&port=80"),
            WireError::Missing("info_hash"),
        ),
        (
            format!("info_hash={h20}&port=80"),
            WireError::Missing("peer_id"),
        ),
        (
            format!("info_hash={h20}&peer_id={h20}"),
            WireError::Missing("port"),
        ),
        (format!("{ok}0000"), WireError::Bad("port")), // 800000
        (format!("{ok}&left=-1"), WireError::Bad("left")),
        (format!("{ok}&uploaded="), WireError::Bad("uploaded")),
        (
            format!("{ok}&downloaded=99999999999999999999"),
            WireError::Bad("downloaded"),
        ),
        (format!("{ok}&event=bored"), WireError::Bad("event")),
        (format!("{ok}&numwant=-5"), WireError::Bad("numwant")),
        (format!("{ok}&trackerid=%zz"), WireError::Bad("trackerid")),
    ];
    for (q, want) in cases {
        assert_eq!(parse_announce_query(&q), Err(want.clone()), "{q}");
        assert!(!want.reason().is_empty());
    }
    // A huge numwant saturates (the swarm caps it), it is not an error.
    let r = parse_announce_query(&format!("{ok}&numwant=123456789012345678901234567890")).unwrap();
    assert_eq!(r.numwant, Some(u32::MAX));
    let r = parse_announce_query(&format!("{ok}&numwant=4294967296")).unwrap();
    assert_eq!(r.numwant, Some(u32::MAX));
    // An ip that is a name is ignored.
    let r = parse_announce_query(&format!("{ok}&ip=peer.example")).unwrap();
    assert_eq!(r.ip, None);
}

#[test]
fn scrape_urls_follow_bep_48() {
    let s = |a: &str| scrape_url(a);
    assert_eq!(
        s("http://t.example/announce").as_deref(),
        Some("http://t.example/scrape")
    );
    assert_eq!(
        s("http://t.example:81/x/announce.php?passkey=1").as_deref(),
        Some("http://t.example:81/x/scrape.php?passkey=1")
    );
    assert_eq!(
        s("http://t.example/announce_x").as_deref(),
        Some("http://t.example/scrape_x")
    );
    assert_eq!(s("http://t.example/a"), None);
    assert_eq!(s("http://t.example/x%064announce"), None);
    assert_eq!(s("http://t.example/announce/x"), None);
    assert_eq!(s("http://t.example"), None);
    assert_eq!(
        scrape_url_for("http://t/scrape?k=1", &[[1; 20], [0xff; 20]]),
        format!(
            "http://t/scrape?k=1&info_hash={}&info_hash={}",
            "%01".repeat(20),
            "%FF".repeat(20)
        )
    );
}

#[test]
fn scrape_queries_are_sorted_deduplicated_and_bounded() {
    let mut out = Vec::new();
    let q = format!(
        "info_hash={}&info_hash={}&x=1&info_hash={}",
        "%02".repeat(20),
        "%01".repeat(20),
        "%02".repeat(20)
    );
    parse_scrape_query(&q, &mut out).unwrap();
    assert_eq!(out, [[1; 20], [2; 20]]);
    assert_eq!(
        parse_scrape_query("x=1", &mut out),
        Err(WireError::Missing("info_hash"))
    );
    let many = vec![format!("info_hash={}", "%01".repeat(20)); MAX_SCRAPE_HASHES + 1].join("&");
    assert_eq!(
        parse_scrape_query(&many, &mut out),
        Err(WireError::TooManyHashes)
    );
    assert_eq!(
        parse_scrape_query(&format!("info_hash={}", "%01".repeat(19)), &mut out),
        Err(WireError::Length {
            field: "info_hash",
            len: 19
        })
    );
}

fn peer(a: &str, id: Option<[u8; 20]>) -> Peer {
    Peer {
        addr: a.parse::<SocketAddr>().unwrap(),
        id,
    }
}

#[test]
fn compact_replies_split_ipv4_and_ipv6_and_are_canonical() {
    let reply = AnnounceReply {
        interval: 1800,
        min_interval: Some(900),
        tracker_id: Some(b"tid".to_vec()),
        complete: Some(2),
        incomplete: Some(1),
        peers: vec![
            peer("1.2.3.4:258", None),
            peer("[::1]:6881", None),
            peer("[::ffff:5.6.7.8]:1", None),
        ],
        warning: Some("slow down".into()),
    };
    let mut out = b"junk".to_vec();
    encode_announce_reply(&mut out, &reply, true);
    let body = &out[4..];
    let mut want = b"d8:completei2e10:incompletei1e8:intervali1800e12:min intervali900e\
        5:peers12:\x01\x02\x03\x04\x01\x02\x05\x06\x07\x08\x00\x01\
        6:peers618:"
        .to_vec();
    want.extend_from_slice(&[0; 15]);
    want.extend_from_slice(b"\x01\x1a\xe1");
    want.extend_from_slice(b"10:tracker id3:tid15:warning message9:slow downe");
    assert_eq!(body, &want[..]);
    decode_strict(body).expect("canonical");
    let back = parse_announce_reply(body).unwrap();
    // The mapped address comes back as plain IPv4, v4 peers first.
    let addrs: Vec<String> = back.peers.iter().map(|p| p.addr.to_string()).collect();
    assert_eq!(addrs, ["1.2.3.4:258", "5.6.7.8:1", "[::1]:6881"]);
    assert_eq!(back.tracker_id.as_deref(), Some(&b"tid"[..]));
    assert_eq!(back.warning.as_deref(), Some("slow down"));
    assert_eq!(
        (
            back.interval,
            back.min_interval,
            back.complete,
            back.incomplete
        ),
        (1800, Some(900), Some(2), Some(1))
    );
    // No IPv6 peer: no peers6 key.
    let mut out = Vec::new();
    encode_announce_reply(
        &mut out,
        &AnnounceReply {
            interval: 5,
            ..Default::default()
        },
        true,
    );
    assert_eq!(out, b"d8:intervali5e5:peers0:e");
}

#[test]
fn dictionary_replies_carry_ip_peer_id_and_port() {
    let id = *b"-XX0001-000000000000";
    let reply = AnnounceReply {
        interval: 60,
        peers: vec![peer("10.0.0.2:80", Some(id)), peer("[fe80::1]:81", None)],
        ..Default::default()
    };
    let mut out = Vec::new();
    encode_announce_reply(&mut out, &reply, false);
    assert_eq!(
        out,
        b"d8:intervali60e5:peersld2:ip8:10.0.0.27:peer id20:-XX0001-0000000000004:porti80ee\
          d2:ip7:fe80::14:porti81eeee"
    );
    decode_strict(&out).expect("canonical");
    assert_eq!(parse_announce_reply(&out).unwrap(), reply);
    // A DNS name is skipped; the rest is kept.
    let body = b"d8:intervali1e5:peersld2:ip9:peer.test4:porti1eed2:ip7:1.1.1.14:porti2eeee";
    let r = parse_announce_reply(body).unwrap();
    assert_eq!(r.peers, [peer("1.1.1.1:2", None)]);
}

#[test]
fn failures_and_hostile_replies_are_typed_errors() {
    let mut out = Vec::new();
    encode_failure(&mut out, "not whitelisted");
    assert_eq!(out, b"d14:failure reason15:not whitelistede");
    assert_eq!(
        parse_announce_reply(&out),
        Err(WireError::Failure("not whitelisted".into()))
    );
    assert_eq!(
        parse_scrape_reply(&out),
        Err(WireError::Failure("not whitelisted".into()))
    );
    let cases: &[(&[u8], WireError)] = &[
        (
            b"d8:intervali1e5:peers7:1234567e",
            WireError::PeersLength(7),
        ),
        (b"d8:intervali1e5:peers5:12345e", WireError::PeersLength(5)),
        (
            b"d8:intervali1e6:peers617:12345678901234567e",
            WireError::Peers6Length(17),
        ),
        (b"d5:peers0:e", WireError::Missing("interval")),
        (b"d8:intervali-1e5:peers0:e", WireError::Bad("interval")),
        (b"d8:interval1:15:peers0:e", WireError::Bad("interval")),
        (b"d8:intervali1e5:peersi3ee", WireError::Bad("peers")),
        (b"d8:intervali1e5:peersli1eee", WireError::Bad("peers")),
        (
            b"d8:intervali1e5:peersld2:ip7:1.1.1.14:porti70000eeee",
            WireError::Bad("port"),
        ),
        (
            b"d8:intervali1e5:peersld2:ip7:1.1.1.17:peer id3:abc4:porti1eeee",
            WireError::Bad("peer id"),
        ),
        (b"li1ee", WireError::NotADict),
    ];
    for (body, want) in cases {
        assert_eq!(
            parse_announce_reply(body).as_ref(),
            Err(want),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    for bad in [
        &b""[..],
        b"d8:interval",
        b"d8:intervali1e5:peers9999999999:e",
        b"<html>",
    ] {
        assert!(matches!(
            parse_announce_reply(bad),
            Err(WireError::Bencode(_))
        ));
    }
    // Counts beyond u32 saturate.
    let r = parse_announce_reply(b"d8:completei99999999999e8:intervali1ee").unwrap();
    assert_eq!(r.complete, Some(u32::MAX));
}

#[test]
fn scrape_replies_both_ways() {
    let entries = [
        ScrapeEntry {
            info_hash: [1; 20],
            complete: 3,
            downloaded: 10,
            incomplete: 4,
        },
        ScrapeEntry {
            info_hash: [2; 20],
            ..Default::default()
        },
    ];
    let mut out = Vec::new();
    encode_scrape_reply(&mut out, &entries);
    let mut want = b"d5:filesd20:".to_vec();
    want.extend_from_slice(&[1; 20]);
    want.extend_from_slice(b"d8:completei3e10:downloadedi10e10:incompletei4ee20:");
    want.extend_from_slice(&[2; 20]);
    want.extend_from_slice(b"d8:completei0e10:downloadedi0e10:incompletei0eeee");
    assert_eq!(out, want);
    decode_strict(&out).expect("canonical");
    assert_eq!(parse_scrape_reply(&out).unwrap(), entries);
    assert_eq!(
        parse_scrape_reply(b"d5:filesd3:abcdeee"),
        Err(WireError::Bad("files"))
    );
    assert_eq!(parse_scrape_reply(b"de"), Err(WireError::Missing("files")));
    let empty = {
        let mut o = Vec::new();
        encode_scrape_reply(&mut o, &[]);
        o
    };
    assert_eq!(empty, b"d5:filesdee");
    assert_eq!(parse_scrape_reply(&empty).unwrap(), []);
    let _ = bencode::decode(&empty).unwrap();
}
