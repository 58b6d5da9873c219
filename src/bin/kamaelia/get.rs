//! `kamaelia get SOURCE [-o DIR] [--seed-after] [--listen ADDR]
//! [--peer ADDR]...`: downloads a torrent (SOURCE: a .torrent path, an
//! http(s) URL of one, or a magnet link) into DIR, every piece verified;
//! a progress bar with rate, peers and ETA on stderr (one status line a
//! second without a terminal). Exit status 0 only when every piece is
//! verified. Data already in DIR is checked first and kept.
//!
//! The graph is [`torrent_run`](super::torrent_run)'s.

use std::path::PathBuf;

use super::torrent_run::{run as run_job, source_of, Job, NetArgs};

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
    /// Listening, peers, limits, time.
    #[command(flatten)]
    pub net: NetArgs,
}

/// Runs `kamaelia get`.
pub fn run(args: Args) -> Result<(), String> {
    run_job(Job {
        source: source_of(&args.source)?,
        save_dir: args.output,
        net: args.net,
        keep_seeding: args.seed_after,
        verb: "get",
    })
}
