//! A BitTorrent tracker from the command line: the HTTP tracker's
//! `/announce` and `/scrape` (and the UDP tracker, when built in) over one
//! shared swarm state, peers expired on a timer.
//!
//! ```text
//!   TrackerServer (a Graphline)
//!     "http":   HttpServer on ADDR, /announce and /scrape inline ───┐
//!     "expiry": SwarmExpiry, every 60 s ─────────────────────────────┴── Rc<RefCell<Swarms>>
//! ```
//!
//! Run it with `cargo run --release --example tracker [HTTP_ADDR] [WHITELIST]`
//! (HTTP_ADDR defaults to 127.0.0.1:6969; a bare port means
//! 127.0.0.1:PORT; WHITELIST is a file of hex info-hashes, one a line),
//! then point a client at `http://HTTP_ADDR/announce`, or try
//! `curl 'http://127.0.0.1:6969/announce?info_hash=%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01&peer_id=-XX0000-000000000000&port=6881&left=0'`.
//! Its first line is `tracker: http://ADDR/announce` with the address
//! bound. It runs until killed.

use std::net::SocketAddr;

use kamaelia::axon::Scheduler;
use kamaelia::protocol::torrent::tracker::server::{parse_whitelist, TrackerConfig, TrackerServer};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr = match args.get(1) {
        None => SocketAddr::from(([127, 0, 0, 1], 6969)),
        Some(a) => match (a.parse::<SocketAddr>(), a.parse::<u16>()) {
            (Ok(addr), _) => addr,
            (_, Ok(port)) => SocketAddr::from(([127, 0, 0, 1], port)),
            _ => {
                eprintln!("tracker: not an address or port: {a}");
                std::process::exit(2);
            }
        },
    };
    let mut config = TrackerConfig {
        http: Some(addr),
        ..TrackerConfig::default()
    };
    if let Some(path) = args.get(2) {
        let list = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| parse_whitelist(&t));
        match list {
            Ok(l) => config.swarm.whitelist = Some(l),
            Err(e) => {
                eprintln!("tracker: {path}: {e}");
                std::process::exit(2);
            }
        }
    }
    // Load tests announce many peers from one machine.
    config.swarm.max_peers_per_ip = u32::MAX;
    let server = match TrackerServer::bind(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tracker: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "tracker: http://{}/announce",
        server.http_addr().unwrap_or(addr)
    );
    let mut s = Scheduler::new();
    s.spawn(server);
    s.run();
}
