//! `kamaelia`: the project's command-line program. Each subcommand builds
//! a graph of the library's components, runs it on one scheduler, and
//! reports.
//!
//! | subcommand      | graph                                                        |
//! |-----------------|--------------------------------------------------------------|
//! | (none), `demo`  | HttpServer (embedded text) ◀─ SimpleHttpClient → Lines → WordSplitter → WordCounter |
//! | `serve DIR`     | HttpServer → Router "/" → RequestLog(StaticFiles)            |
//! | `fetch URL`     | SingleShotHttpClient (https: its ureq child) → ProgressTap → SimpleFileWriter / StdoutWriter |
//! | `rip URL -o F`  | IcecastClient → IcecastDemux → IcecastStreamWriter, titles printed |
//! | `make PATH -o F`| TorrentMaker (hashing on its thread) → Report → WholeFileWriter, info-hash printed |
//! | `tracker`       | TrackerServer: HttpServer /announce, /scrape (+ UDP) → Swarms ← SwarmExpiry |
//! | `show F.torrent`| none: the file read by `Metainfo::from_bytes` and described  |
//! | `get SOURCE`    | (SingleShotHttpClient →) TorrentRun ⇄ TorrentClient (disk worker, tracker announcer children) |
//! | `seed F --data P` | TorrentRun ⇄ TorrentClient                                 |
//!
//! Exit status: 0 when the job succeeded; 1 on failure, with one line
//! `kamaelia: <reason>` on stderr; 2 for a usage error (clap's).
//!
//! Adding a subcommand: a module here with an `Args` struct (clap derive)
//! and a `run(Args) -> Result<(), String>`, and one variant in
//! [`Command`].

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;
mod fetch;
mod get;
mod log;
mod make;
mod play;
mod rip;
mod seed;
mod serve;
mod show;
mod torrent_run;
mod tracker;

/// Kamaelia in Rust: systems built from small components with typed
/// inboxes and outboxes, run by a single-threaded scheduler.
///
/// With no subcommand it runs the demo: an embedded text served over
/// HTTP on 127.0.0.1, fetched back over a real socket and its words
/// counted, with the scheduler's counters and a picture of the running
/// graph.
#[derive(Parser, Debug)]
#[command(name = "kamaelia", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve an embedded text over HTTP, fetch it, count its words (the
    /// default job; no outside services).
    Demo(demo::Args),
    /// Serve a folder over HTTP, one log line per request.
    Serve(serve::Args),
    /// Fetch a URL (http or https) to a file or stdout.
    Fetch(fetch::Args),
    /// Record an Icecast/SHOUTcast stream's audio to a file, printing the
    /// title when it changes.
    Rip(rip::Args),
    /// Make a .torrent of a file or folder (as mktorrent does), printing
    /// its info-hash.
    Make(make::Args),
    /// Run a BitTorrent tracker (HTTP and UDP) until interrupted.
    Tracker(tracker::Args),
    /// Describe a .torrent file: name, files, sizes, pieces, trackers,
    /// web seeds, info-hash and magnet link.
    Show(show::Args),
    /// Download a torrent (a .torrent path or URL, or a magnet link),
    /// every piece verified; then seed with --seed-after.
    Get(get::Args),
    /// Seed a torrent's data (checked first) until interrupted.
    Seed(seed::Args),
    /// Play an Ogg Vorbis file, tcp:// stream or http:// Icecast mount (or write it as WAV with --wav).
    Play(play::Args),
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    init_log();
    let result = match cli.command {
        None => demo::run(demo::Args::default()),
        Some(Command::Demo(a)) => demo::run(a),
        Some(Command::Serve(a)) => serve::run(a),
        Some(Command::Fetch(a)) => fetch::run(a),
        Some(Command::Rip(a)) => rip::run(a),
        Some(Command::Make(a)) => make::run(a),
        Some(Command::Tracker(a)) => tracker::run(a),
        Some(Command::Show(a)) => show::run(a),
        Some(Command::Play(a)) => play::run(a),
        Some(Command::Get(a)) => get::run(a),
        Some(Command::Seed(a)) => seed::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("kamaelia: {reason}");
            ExitCode::from(1)
        }
    }
}

/// Writes the library's `log` records to stderr, from the level named by
/// `KAMAELIA_LOG` (`error`, `warn`, `info`, `debug`, `trace`; default: none).
struct StderrLog;

impl ::log::Log for StderrLog {
    fn enabled(&self, m: &::log::Metadata) -> bool {
        m.level() <= ::log::max_level()
    }
    fn log(&self, r: &::log::Record) {
        if self.enabled(r.metadata()) {
            eprintln!("kamaelia: [{}] {}", r.level(), r.args());
        }
    }
    fn flush(&self) {}
}

fn init_log() {
    let level = std::env::var("KAMAELIA_LOG")
        .ok()
        .and_then(|v| v.parse::<::log::LevelFilter>().ok())
        .unwrap_or(::log::LevelFilter::Off);
    if ::log::set_logger(&StderrLog).is_ok() {
        ::log::set_max_level(level);
    }
}

/// Tells glibc's allocator to keep memory it frees rather than hand it
/// back to the kernel at once.
///
/// Why: by default glibc trims the top of its heap whenever 128 KiB there
/// is free and serves blocks over 128 KiB (adjusting upward) with fresh
/// `mmap`s, so a torrent's buffers, freed by the disk thread and taken
/// again by the network thread a moment later, come back as new pages,
/// each faulted in and zeroed again (on this project's VM about 4.4 us a
/// page). The program's memory is bounded by its own limits, so what is
/// kept is what its peak used. In the one-seed, four-downloader row: page
/// faults 38,800 -> 28,500 and 1,269 -> 1,282 MB/s (means of 6
/// alternating runs); seed to one: faults 20,750 -> 9,018.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets the allocator's parameters; called
    // first thing in `main`, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}
