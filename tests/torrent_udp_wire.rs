//! BEP 15 datagrams, byte for byte, both directions, and the typed errors
//! of bad ones.

use kamaelia::protocol::torrent::tracker::udp_wire::*;
use kamaelia::protocol::torrent::tracker::{AnnounceEvent, AnnounceRequest, Peer, ScrapeEntry};
use std::net::SocketAddr;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn announce() -> AnnounceRequest {
    AnnounceRequest {
        info_hash: [0x11; 20],
        peer_id: [0x22; 20],
        port: 6881,
        uploaded: 3,
        downloaded: 1,
        left: 2,
        event: AnnounceEvent::Started,
        numwant: None,
        key: Some(0xCAFEBABE),
        ip: None,
        compact: true,
        tracker_id: None,
    }
}

const ANNOUNCE_HEX: &str = "0102030405060708 00000001 DEADBEEF
    1111111111111111111111111111111111111111 2222222222222222222222222222222222222222
    0000000000000001 0000000000000002 0000000000000003
    00000002 00000000 CAFEBABE FFFFFFFF 1AE1";

#[test]
fn a_connect_request_is_the_protocol_id_action_0_and_the_tid() {
    let mut out = Vec::new();
    encode_connect_request(&mut out, 0xDEADBEEF);
    assert_eq!(out, hex("0000041727101980 00000000 DEADBEEF"));
    assert_eq!(
        parse_request(&out),
        Ok(Request::Connect { tid: 0xDEADBEEF })
    );
}

#[test]
fn a_connect_response_carries_the_connection_id() {
    let mut out = Vec::new();
    encode_connect_response(&mut out, 5, 0x0102030405060708);
    assert_eq!(out, hex("00000000 00000005 0102030405060708"));
    assert_eq!(
        parse_response(&out, false),
        Ok(Response::Connect {
            tid: 5,
            connection_id: 0x0102030405060708
        })
    );
}

#[test]
fn an_announce_request_is_98_bytes_in_bep15_order() {
    let mut out = Vec::new();
    encode_announce_request(&mut out, 0x0102030405060708, 0xDEADBEEF, &announce());
    assert_eq!(out, hex(ANNOUNCE_HEX));
    assert_eq!(out.len(), ANNOUNCE_LEN);
    assert_eq!(
        parse_request(&out),
        Ok(Request::Announce {
            connection_id: 0x0102030405060708,
            tid: 0xDEADBEEF,
            req: announce()
        })
    );
}

#[test]
fn an_announce_request_with_ip_numwant_and_options_reads_back() {
    let mut req = announce();
    req.ip = Some("10.1.2.3".parse().unwrap());
    req.numwant = Some(7);
    req.event = AnnounceEvent::Stopped;
    let mut out = Vec::new();
    encode_announce_request(&mut out, 9, 1, &req);
    assert_eq!(
        &out[80..96],
        &hex("00000003 0A010203 CAFEBABE 00000007")[..]
    );
    out.extend_from_slice(&[2, 5, b'/', b'a', b'n', b'n', b'o']); // a BEP 41 option
    let Ok(Request::Announce { req: back, .. }) = parse_request(&out) else {
        panic!("not an announce")
    };
    assert_eq!(back, req);
}

#[test]
fn an_announce_response_has_6_byte_peers_over_ipv4_and_18_over_ipv6() {
    let peers = [
        Peer {
            addr: "1.2.3.4:6881".parse().unwrap(),
            id: None,
        },
        Peer {
            addr: "[2001:db8::1]:258".parse().unwrap(),
            id: None,
        },
        Peer {
            addr: "5.6.7.8:80".parse().unwrap(),
            id: None,
        },
    ];
    let mut v4 = Vec::new();
    assert_eq!(
        encode_announce_response(&mut v4, 1, 1800, 3, 4, &peers, false),
        2
    );
    assert_eq!(
        v4,
        hex("00000001 00000001 00000708 00000003 00000004 010203041AE1 050607080050")
    );
    let Ok(Response::Announce {
        tid,
        interval,
        leechers,
        seeders,
        peers: list,
    }) = parse_response(&v4, false)
    else {
        panic!("not an announce reply")
    };
    assert_eq!((tid, interval, leechers, seeders), (1, 1800, 3, 4));
    let got: Vec<SocketAddr> = list.iter().collect();
    assert_eq!(got, vec![peers[0].addr, peers[2].addr]);

    let mut v6 = Vec::new();
    assert_eq!(
        encode_announce_response(&mut v6, 2, 60, 0, 1, &peers, true),
        1
    );
    assert_eq!(
        v6,
        hex("00000001 00000002 0000003C 00000000 00000001 20010DB8000000000000000000000001 0102")
    );
    let Ok(Response::Announce { peers: list, .. }) = parse_response(&v6, true) else {
        panic!("not an announce reply")
    };
    assert_eq!(list.iter().collect::<Vec<_>>(), vec![peers[1].addr]);
}

/// Long lists (more than one batch of the encoder's stack buffer, v4
/// and v6 mixed) come back whole and in order.
#[test]
fn long_peer_lists_round_trip_in_order() {
    let peers: Vec<Peer> = (0..300u32)
        .map(|i| Peer {
            addr: if i % 3 == 0 {
                SocketAddr::new(
                    std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16).into(),
                    1000 + i as u16,
                )
            } else {
                SocketAddr::new(
                    std::net::Ipv4Addr::from(0x0a00_0000 + i).into(),
                    2000 + i as u16,
                )
            },
            id: None,
        })
        .collect();
    for v6 in [false, true] {
        let mut out = Vec::new();
        let n = encode_announce_response(&mut out, 9, 1, 2, 3, &peers, v6);
        let want: Vec<SocketAddr> = peers
            .iter()
            .map(|p| p.addr)
            .filter(|a| a.is_ipv6() == v6)
            .collect();
        assert_eq!(n, want.len());
        assert_eq!(out.len(), 20 + n * if v6 { 18 } else { 6 });
        let Ok(Response::Announce { peers: list, .. }) = parse_response(&out, v6) else {
            panic!("not an announce reply")
        };
        assert_eq!(list.iter().collect::<Vec<_>>(), want);
    }
}

#[test]
fn scrape_requests_and_responses_round_trip() {
    let mut out = Vec::new();
    encode_scrape_request(&mut out, 0x0A, 0x0B, &[[0xAA; 20], [0xBB; 20]]);
    assert_eq!(
        out,
        hex("000000000000000A 00000002 0000000B
             AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB")
    );
    let Ok(Request::Scrape {
        connection_id,
        tid,
        hashes,
    }) = parse_request(&out)
    else {
        panic!("not a scrape")
    };
    assert_eq!((connection_id, tid, hashes.len()), (0x0A, 0x0B, 2));
    assert_eq!(
        hashes.iter().collect::<Vec<_>>(),
        vec![[0xAA; 20], [0xBB; 20]]
    );

    let mut reply = Vec::new();
    encode_scrape_response_header(&mut reply, 0x0B);
    let entry = ScrapeEntry {
        info_hash: [0xAA; 20],
        complete: 1,
        downloaded: 2,
        incomplete: 3,
    };
    encode_scrape_entry(&mut reply, &entry);
    assert_eq!(reply, hex("00000002 0000000B 00000001 00000002 00000003"));
    let Ok(Response::Scrape { tid, entries }) = parse_response(&reply, false) else {
        panic!("not a scrape reply")
    };
    assert_eq!(tid, 0x0B);
    assert_eq!(entries.iter().collect::<Vec<_>>(), vec![(1, 2, 3)]);
}

#[test]
fn an_error_response_carries_its_text() {
    let mut out = Vec::new();
    encode_error(&mut out, 0x42, "nope");
    assert_eq!(out, hex("00000003 00000042 6E6F7065"));
    assert_eq!(
        parse_response(&out, false),
        Ok(Response::Error {
            tid: 0x42,
            message: b"nope"
        })
    );
    assert_eq!(parse_response(&out, false).unwrap().tid(), 0x42);
}

#[test]
fn short_datagrams_are_typed_errors() {
    assert_eq!(
        parse_request(&[0; 15]),
        Err(WireError::Short {
            needed: 16,
            got: 15
        })
    );
    let full = hex(ANNOUNCE_HEX);
    assert_eq!(
        parse_request(&full[..97]),
        Err(WireError::Short {
            needed: 98,
            got: 97
        })
    );
    assert_eq!(
        parse_response(&[0, 0, 0, 1, 0, 0, 0, 1, 0], false),
        Err(WireError::Short { needed: 20, got: 9 })
    );
    assert_eq!(
        parse_response(&hex("00000000 00000001 0000"), false),
        Err(WireError::Short {
            needed: 16,
            got: 10
        })
    );
    assert_eq!(
        parse_response(&[], true),
        Err(WireError::Short { needed: 8, got: 0 })
    );
}

#[test]
fn odd_length_lists_are_typed_errors() {
    let mut reply = hex("00000001 00000001 00000708 00000003 00000004 010203041AE1");
    reply.push(9);
    assert_eq!(
        parse_response(&reply, false),
        Err(WireError::OddLength { len: 7, entry: 6 })
    );
    // Twelve bytes of peers: two IPv4 peers, but not a whole IPv6 one.
    let two = hex("00000001 00000001 00000708 00000003 00000004 010203041AE1 010203041AE2");
    assert_eq!(parse_response(&two, false).map(|_| ()), Ok(()));
    assert_eq!(
        parse_response(&two, true),
        Err(WireError::OddLength { len: 12, entry: 18 })
    );
    assert_eq!(
        parse_response(&hex("00000002 00000001 0000000100000002"), false),
        Err(WireError::OddLength { len: 8, entry: 12 })
    );
    let mut scrape = Vec::new();
    encode_scrape_request(&mut scrape, 1, 1, &[[1; 20]]);
    scrape.pop();
    assert_eq!(
        parse_request(&scrape),
        Err(WireError::OddLength { len: 19, entry: 20 })
    );
}

#[test]
fn wrong_magic_unknown_actions_and_events_are_typed_errors() {
    assert_eq!(
        parse_request(&hex("0000041727101981 00000000 00000001")),
        Err(WireError::BadProtocolId)
    );
    assert_eq!(
        parse_request(&hex("0000041727101980 00000003 00000001")),
        Err(WireError::UnknownAction(3))
    );
    assert_eq!(
        parse_response(&hex("00000009 00000001"), false),
        Err(WireError::UnknownAction(9))
    );
    let mut bad = hex(ANNOUNCE_HEX);
    bad[83] = 4;
    assert_eq!(parse_request(&bad), Err(WireError::UnknownEvent(4)));
    assert_eq!(
        WireError::OddLength { len: 7, entry: 6 }.to_string(),
        "list of 7 bytes is not a whole number of 6-byte entries"
    );
}

#[test]
fn a_huge_scrape_request_parses_without_copying() {
    let hashes: Vec<[u8; 20]> = (0..3000u32).map(|i| [(i % 251) as u8; 20]).collect();
    let mut out = Vec::new();
    encode_scrape_request(&mut out, 1, 2, &hashes);
    let Ok(Request::Scrape { hashes: got, .. }) = parse_request(&out) else {
        panic!("not a scrape")
    };
    assert_eq!(got.len(), 3000);
    assert_eq!(got.iter().nth(2999), Some(hashes[2999]));
}
