//! `kamaelia seed FILE.torrent --data PATH [--listen ADDR] [--peer
//! ADDR]... [--for SECS]`: seeds a torrent's data. PATH is the file (or
//! the folder, for a torrent of several files) the torrent was made of,
//! or the folder holding it. The data is checked piece by piece first; if
//! some is missing it is fetched from the swarm like `get` would. Runs
//! until interrupted, or for `--for` seconds.
//!
//! The graph is [`torrent_run`](super::torrent_run)'s.

use std::path::PathBuf;

use bytes::Bytes;
use kamaelia::protocol::torrent::client::TorrentSource;
use kamaelia::protocol::torrent::metainfo::Metainfo;

use super::torrent_run::{run as run_job, Job, NetArgs, Source};

/// Arguments of `kamaelia seed`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The .torrent file.
    pub torrent: PathBuf,
    /// The data: the file or folder the torrent was made of, or the
    /// folder that holds it.
    #[arg(long, value_name = "PATH")]
    pub data: PathBuf,
    /// Listening, peers, limits, time.
    #[command(flatten)]
    pub net: NetArgs,
}

/// Runs `kamaelia seed`.
pub fn run(args: Args) -> Result<(), String> {
    let bytes = std::fs::read(&args.torrent)
        .map_err(|e| format!("cannot read {}: {e}", args.torrent.display()))?;
    let meta =
        Metainfo::from_bytes(&bytes).map_err(|e| format!("{}: {e}", args.torrent.display()))?;
    let name = meta.name();
    // The folder that holds the torrent's top entry.
    let save_dir = if args.data.join(name).exists() {
        args.data.clone()
    } else if args.data.file_name().is_some_and(|n| n == name) {
        match args.data.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    } else {
        return Err(format!(
            "{}: neither it nor a `{name}` inside it is the torrent's data (named `{name}`)",
            args.data.display()
        ));
    };
    run_job(Job {
        source: Source::Ready(TorrentSource::Metainfo(Bytes::from(bytes))),
        save_dir,
        net: args.net,
        keep_seeding: true,
        verb: "seed",
    })
}
