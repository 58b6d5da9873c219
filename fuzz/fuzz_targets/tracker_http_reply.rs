//! Arbitrary bytes as an HTTP tracker's reply body (announce and scrape):
//! no panic; a reply that reads re-encodes (compact and dictionary forms)
//! to canonical bencode that reads back to the same peers and counts.
//! Run with `cargo fuzz run tracker_http_reply`.
#![no_main]

use std::net::SocketAddr;

use kamaelia::protocol::torrent::bencode::decode_strict;
use kamaelia::protocol::torrent::tracker::http_wire::{
    encode_announce_reply, encode_scrape_reply, parse_announce_reply, parse_scrape_reply,
};
use libfuzzer_sys::fuzz_target;

fn canonical(mut v: Vec<SocketAddr>) -> Vec<SocketAddr> {
    for a in v.iter_mut() {
        a.set_ip(a.ip().to_canonical());
    }
    v.sort();
    v
}

fuzz_target!(|data: &[u8]| {
    if let Ok(reply) = parse_announce_reply(data) {
        let addrs = canonical(reply.peers.iter().map(|p| p.addr).collect());
        for compact in [true, false] {
            let mut out = Vec::new();
            encode_announce_reply(&mut out, &reply, compact);
            decode_strict(&out).expect("our reply is canonical bencode");
            let back = parse_announce_reply(&out).expect("our reply reads back");
            assert_eq!(back.interval, reply.interval);
            assert_eq!(back.min_interval, reply.min_interval);
            assert_eq!(
                (back.complete, back.incomplete),
                (reply.complete, reply.incomplete)
            );
            assert_eq!(back.tracker_id, reply.tracker_id);
            assert_eq!(back.warning, reply.warning);
            assert_eq!(
                canonical(back.peers.iter().map(|p| p.addr).collect()),
                addrs
            );
        }
    }
    if let Ok(mut entries) = parse_scrape_reply(data) {
        entries.sort_by_key(|e| e.info_hash);
        entries.dedup_by_key(|e| e.info_hash);
        let mut out = Vec::new();
        encode_scrape_reply(&mut out, &entries);
        decode_strict(&out).expect("our scrape reply is canonical bencode");
        assert_eq!(parse_scrape_reply(&out).expect("reads back"), entries);
    }
});
