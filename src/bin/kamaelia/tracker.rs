//! `kamaelia tracker [--http ADDR] [--udp ADDR] [--whitelist FILE]`: a
//! BitTorrent tracker (HTTP `/announce` and `/scrape`, UDP BEP 15 with `--udp`)
//! on one scheduler, sharing one swarm state.
//!
//! ```text
//! TrackerServer (Graphline): "http" HttpServer (/announce, /scrape inline) ───┐
//!                            "expiry" SwarmExpiry (every 60 s) ───────────────┴─ Swarms
//! ```
//!
//! Its first lines say where it listens (`http tracker on
//! http://ADDR/announce`, with the address bound, so `--http
//! 127.0.0.1:0` tells which port it got). It runs until SIGINT or SIGTERM
//! ends the process (their default action), as `kamaelia serve` does.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use kamaelia::axon::Scheduler;
use kamaelia::protocol::torrent::tracker::server::{parse_whitelist, TrackerConfig, TrackerServer};

/// Arguments of `kamaelia tracker`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The HTTP tracker's address (default 0.0.0.0:6969 when neither
    /// --http nor --udp is given).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// The UDP tracker's address.
    #[arg(long, value_name = "ADDR")]
    pub udp: Option<SocketAddr>,
    /// Track only the torrents listed: one info-hash a line, in hex.
    #[arg(long, value_name = "FILE")]
    pub whitelist: Option<PathBuf>,
    /// Seconds between announces told to clients.
    #[arg(long, value_name = "SECS", default_value_t = 1800)]
    pub interval: u32,
    /// Peers one IP address may have in one torrent.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub max_peers_per_ip: u32,
}

/// The tracker `args` ask for, bound.
pub fn tracker(args: &Args) -> Result<TrackerServer, String> {
    let mut config = TrackerConfig {
        http: args.http,
        udp: args.udp,
        ..TrackerConfig::default()
    };
    if config.http.is_none() && config.udp.is_none() {
        config.http = Some(SocketAddr::from(([0, 0, 0, 0], 6969)));
    }
    if let Some(path) = &args.whitelist {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let list = parse_whitelist(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        config.swarm.whitelist = Some(list);
    }
    config.swarm.interval = args.interval.max(1);
    config.swarm.min_interval = (args.interval / 2).max(1);
    config.swarm.peer_ttl = std::time::Duration::from_secs(2 * u64::from(args.interval) + 60);
    config.swarm.max_peers_per_ip = args.max_peers_per_ip;
    TrackerServer::bind(config).map_err(|e| format!("cannot start the tracker: {e}"))
}

/// Runs `kamaelia tracker`.
pub fn run(args: Args) -> Result<(), String> {
    let server = tracker(&args)?;
    let mut out = std::io::stdout();
    if let Some(a) = server.http_addr() {
        let _ = writeln!(out, "http tracker on http://{a}/announce");
    }
    if let Some(a) = server.udp_addr() {
        let _ = writeln!(out, "udp tracker on udp://{a}/announce");
    }
    let _ = out.flush();
    let mut s = Scheduler::new();
    s.spawn(server);
    let ended = s.run();
    Err(format!("the tracker stopped ({ended:?})"))
}
