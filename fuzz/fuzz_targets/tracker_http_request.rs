//! Arbitrary bytes as the query string of an HTTP tracker's `/announce`
//! and `/scrape`: no panic; an announce that reads re-encodes to a query
//! that reads back the same; a scrape's hashes are sorted, unique and
//! bounded; the server's answer (through a small swarm) is always
//! canonical bencode.
//! Run with `cargo fuzz run tracker_http_request`.
#![no_main]

use std::time::Instant;

use kamaelia::protocol::torrent::bencode::decode_strict;
use kamaelia::protocol::torrent::tracker::http_server::{answer, Endpoint, Scratch};
use kamaelia::protocol::torrent::tracker::http_wire::{
    announce_query, parse_announce_query, parse_scrape_query, MAX_SCRAPE_HASHES,
};
use kamaelia::protocol::torrent::tracker::swarm::{SwarmConfig, Swarms};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(req) = parse_announce_query(query) {
        let mut q = String::new();
        announce_query(&mut q, &req);
        assert_eq!(parse_announce_query(&q).as_ref(), Ok(&req), "{q}");
    }
    let mut hashes = Vec::new();
    if parse_scrape_query(query, &mut hashes).is_ok() {
        assert!(!hashes.is_empty() && hashes.len() <= MAX_SCRAPE_HASHES);
        assert!(hashes.windows(2).all(|w| w[0] < w[1]));
    }
    let config = SwarmConfig {
        max_numwant: 8,
        max_torrents: 4,
        ..SwarmConfig::default()
    };
    let mut swarms = Swarms::new(config);
    let now = Instant::now();
    let mut scratch = Scratch::default();
    for (i, ep) in [Endpoint::Announce, Endpoint::Announce, Endpoint::Scrape]
        .into_iter()
        .enumerate()
    {
        let ip = [
            std::net::IpAddr::from([10, 0, 0, i as u8]),
            "::1".parse().unwrap(),
        ][i % 2];
        answer(&mut swarms, ep, query, ip, now, &mut scratch);
        decode_strict(&scratch.body).expect("every answer is canonical bencode");
    }
});
