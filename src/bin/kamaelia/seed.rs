//! `kamaelia seed FILE.torrent --data PATH [--listen ADDR] [--peer
//! ADDR]... [--for SECS]`: seeds a torrent's data. PATH is the file (or
//! the folder, for a torrent of several files) the torrent was made of,
//! or the folder holding it. The data is checked piece by piece first; if
//! some is missing it is fetched from the swarm like `get` would. Runs
//! until interrupted, or for `--for` seconds.
//!
//! The graph is [`torrent_run`](super::torrent_run)'s.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use kamaelia::protocol::torrent::client::TorrentSource;
use kamaelia::protocol::torrent::metainfo::Metainfo;

use super::torrent_run::{run as run_job, Job, Source};

/// Arguments of `kamaelia seed`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The .torrent file.
    pub torrent: PathBuf,
    /// The data: the file or folder the torrent was made of, or the
    /// folder that holds it.
    #[arg(long, value_name = "PATH")]
    pub data: PathBuf,
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
    /// Stop after this many seconds.
    #[arg(long = "for", value_name = "SECS")]
    pub for_secs: Option<u64>,
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
        listen: args.listen,
        peers: args.peer,
        keep_seeding: true,
        stop_after: args.for_secs.map(Duration::from_secs),
        verb: "seed",
        upload_limit: args.upload_limit * 1024,
        download_limit: args.download_limit * 1024,
        min_reannounce: Duration::from_secs(args.min_reannounce.max(1)),
    })
}
