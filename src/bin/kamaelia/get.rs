//! `kamaelia get SOURCE [-o DIR] [--seed-after] [--listen ADDR]
//! [--peer ADDR]...`: downloads a torrent (SOURCE: a .torrent path, an
//! http(s) URL of one, or a magnet link) into DIR, every piece verified;
//! a progress bar with rate, peers and ETA on stderr (one status line a
//! second without a terminal). Exit status 0 only when every piece is
//! verified. Data already in DIR is checked first and kept.
//!
//! The graph is [`torrent_run`](super::torrent_run)'s.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::torrent_run::{run as run_job, source_of, Job};

/// Arguments of `kamaelia get`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A .torrent file, an http(s) URL of one, or a magnet link.
    pub source: String,
    /// The folder to save into.
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    pub output: PathBuf,
    /// Keep seeding once complete (until interrupted, or `--for`).
    #[arg(long)]
    pub seed_after: bool,
    /// The address to take peers' connections on.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:6881")]
    pub listen: SocketAddr,
    /// Connect to this peer as well as the trackers' (may be repeated).
    #[arg(long, value_name = "ADDR")]
    pub peer: Vec<SocketAddr>,
    /// Send at most this many KiB a second (0: no limit).
    #[arg(long, value_name = "KIB", default_value_t = 0)]
    pub upload_limit: u64,
    /// Receive at most this many KiB a second (0: no limit).
    #[arg(long, value_name = "KIB", default_value_t = 0)]
    pub download_limit: u64,
    /// Announce to the trackers at most this often (they may ask for
    /// longer): short for a seeder whose downloaders only take incoming
    /// connections, so it meets them at its next announce.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub min_reannounce: u64,
    /// Stop after this many seconds, complete or not.
    #[arg(long = "for", value_name = "SECS")]
    pub for_secs: Option<u64>,
}

/// Runs `kamaelia get`.
pub fn run(args: Args) -> Result<(), String> {
    run_job(Job {
        source: source_of(&args.source)?,
        save_dir: args.output,
        listen: args.listen,
        peers: args.peer,
        keep_seeding: args.seed_after,
        stop_after: args.for_secs.map(Duration::from_secs),
        verb: "get",
        upload_limit: args.upload_limit * 1024,
        download_limit: args.download_limit * 1024,
        min_reannounce: Duration::from_secs(args.min_reannounce.max(1)),
    })
}
