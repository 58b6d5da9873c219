//! The real BitTorrent clients people use, run as peers of interop tests,
//! all on 127.0.0.1: aria2c, libtorrent (python3-libtorrent's bindings,
//! driven by the script `libtorrent_peer.py` embedded here) and
//! transmission-daemon (driven with transmission-remote). Each is started
//! by [`seed`] or [`download`] and held by a [`Running`] guard that kills
//! its process group when dropped; [`Running::wait_complete`] waits, never
//! longer than it is told, until the client holds every piece, checked.
//! Trackers to go with them are in [`trackers`]; [`same_files`] compares
//! a torrent's files between two folders by SHA-256 (`sha256sum`).
//!
//! ```ignore
//! let t = trackers::kamaelia_tracker();
//! let torrent = trackers::make_torrent(&data_dir.join("a.bin"), &t.announce, 16, &out);
//! let mut s = seed(Client::Libtorrent, &torrent, &data_dir, &Opts::default())?;
//! s.wait_complete(Duration::from_secs(20))?; // checked, seeding
//! let mut g = download(Client::Aria2, torrent.to_str().unwrap(), &dl, &Opts::default())?;
//! g.wait_complete(Duration::from_secs(40))?;
//! same_files(&torrent, &data_dir, &dl)?;
//! ```
//!
//! In every client DHT, local peer discovery, UPnP/NAT-PMP, peer exchange
//! and uTP are off, so peers meet only through the tracker or a dial the
//! test asks for ([`Opts::peers`]), over TCP. A folder given to a client
//! is the one that holds (or will hold) the torrent's `name`.
//!
//! Quirks found, and what is done about them:
//!
//! * **transmission-daemon never dials a 127.x peer it learns from a
//!   tracker**: libtransmission's `isMartianAddr` counts 127.0.0.0/8 as
//!   martian (3.00, installed here: always; 4.x: except for incoming, LPD
//!   and resume peers), so the tracker's peers are dropped. Seen here:
//!   its log says "Got 1 peers from tracker", and after 30 s it has no
//!   peer and 0%. It accepts incoming peers from 127.0.0.1, so
//!   transmission downloads only from a seeder that dials *it*:
//!   libtorrent told its address ([`Opts::peers`]) or re-announcing, or
//!   aria2c, which announces every [`ARIA2_ANNOUNCE_SECS`] here and dials
//!   the leechers the tracker names. Transmission as a seeder works with
//!   anyone who finds it through the tracker.
//! * a transfer with transmission on either side takes 14-18 s here for
//!   2 MiB (others: 2-5 s), most of it idle before the first piece; its
//!   rechoke (when it unchokes) runs every 10 s.
//! * transmission-remote has no "add peer"; aria2c has no flag to dial a
//!   peer either: [`Opts::peers`] is refused for both (an `Err`).
//! * libtorrent unchokes peers on the local network whatever its unchoke
//!   slots (its "local" peer class ignores them): [`Opts::no_upload`]
//!   takes that away. aria2c's least upload limit (1 byte/s) still lets a
//!   burst through (32 KiB seen), so `no_upload` is refused for aria2c.
//! * transmission needs a config folder of its own (`-g`), its RPC on a
//!   free 127.0.0.1 port (`-p`, `-r`) without auth (`-T`); it has no flag
//!   for peer exchange, so `settings.json` is written before it starts.
//!   Its RPC takes a moment to come up: adding the torrent is retried.
//! * aria2c binds its listening socket to 127.0.0.1 with
//!   `--interface=127.0.0.1`; `--check-integrity=true` makes a seeder
//!   hash its files before it seeds (the summary then says `SEED(`); a
//!   downloader runs with `--seed-time=0` and exits 0 once complete.
//! * aria2c given a magnet link announces `left=0` until it has the info
//!   dictionary, so a tracker that names no seeders to a seeder (ours
//!   does, as many do) never introduces it to a seeder: have the seeder
//!   dial it (libtorrent with [`Opts::peers`]). libtorrent fetching a
//!   magnet link is told of the seeders and dials them (the magnet test
//!   from aria2c passes through the tracker alone).
//! * libtorrent announces at most every 5 minutes whatever the tracker
//!   says (`min_announce_interval`): the script re-announces every 2 s
//!   while it has no peer, so a seeder hears of later leechers.
//! * libtorrent keeps one connection per IP unless
//!   `allow_multiple_connections_per_ip` (on here unless
//!   [`Opts::one_connection_per_ip`]).
//! * opentracker (Debian's build is whitelist-only) reads its whitelist on
//!   a thread after it starts listening and refuses every torrent until
//!   then: [`trackers::opentracker`] returns once a probe announce works.
#![allow(dead_code)]

/// Comparing files by SHA-256 (tests/torrent_support/clients/files.rs).
pub mod files;
/// Trackers and torrents for them (tests/torrent_support/clients/trackers.rs).
pub mod trackers;

// Unused in the test programs that share torrent_support for its other
// helpers.
#[allow(unused_imports)]
pub use files::{check_same, same_files, sha256_of, wait, CHECK, MIB, TRANSFER};

use std::fmt::Write as _;
use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;

/// The libtorrent peer, run as `/usr/bin/python3 -c LIBTORRENT_PEER ...`.
pub const LIBTORRENT_PEER: &str = include_str!("libtorrent_peer.py");

/// How often an aria2c here announces (`--bt-tracker-interval`), so that a
/// seeder learns of leechers that will not dial it (transmission).
pub const ARIA2_ANNOUNCE_SECS: u32 = 2;

/// A real BitTorrent client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    /// aria2c (Debian `aria2`).
    Aria2,
    /// libtorrent-rasterbar through python3 (Debian `python3-libtorrent`).
    Libtorrent,
    /// transmission-daemon and transmission-remote (Debian
    /// `transmission-daemon`, `transmission-cli`).
    Transmission,
}

impl Client {
    pub fn name(self) -> &'static str {
        match self {
            Client::Aria2 => "aria2c",
            Client::Libtorrent => "libtorrent",
            Client::Transmission => "transmission",
        }
    }

    /// The Debian packages that provide it.
    pub fn debian(self) -> &'static str {
        match self {
            Client::Aria2 => "aria2",
            Client::Libtorrent => "python3-libtorrent",
            Client::Transmission => "transmission-daemon transmission-cli",
        }
    }

    /// Whether it can run here.
    pub fn is_installed(self) -> bool {
        match self {
            Client::Aria2 => on_path("aria2c"),
            Client::Libtorrent => Command::new("/usr/bin/python3")
                .args(["-c", "import libtorrent"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
            Client::Transmission => {
                on_path("transmission-daemon") && on_path("transmission-remote")
            }
        }
    }
}

/// Whether every client in `need` (and every program in `tools`) is
/// installed; if not, a note on stderr saying `test` is skipped and
/// false, or a panic when `KAMAELIA_REQUIRE_INTEROP=1`.
pub fn available(test: &str, need: &[Client], tools: &[&str]) -> bool {
    let mut missing: Vec<String> = need
        .iter()
        .filter(|c| !c.is_installed())
        .map(|c| format!("{} (Debian: {})", c.name(), c.debian()))
        .collect();
    missing.extend(tools.iter().filter(|t| !on_path(t)).map(|t| t.to_string()));
    if missing.is_empty() {
        return true;
    }
    let msg = format!("{test}: skipped: not installed: {}", missing.join(", "));
    if std::env::var_os("KAMAELIA_REQUIRE_INTEROP").is_some_and(|v| v == "1") {
        panic!("{msg}");
    }
    eprintln!("{msg}");
    false
}

fn on_path(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// How a client is run.
#[derive(Clone, Debug, Default)]
pub struct Opts {
    /// The TCP port it listens on, on 127.0.0.1 (default: a free one).
    pub listen_port: Option<u16>,
    /// Peers it dials as well as those its tracker names (libtorrent
    /// only: `connect_peer`, again each second while it has no peer).
    pub peers: Vec<SocketAddr>,
    /// libtorrent: keep libtorrent's default of one connection per IP.
    pub one_connection_per_ip: bool,
    /// Serve no pieces to anyone (so a test knows whom its downloader got
    /// the data from): libtorrent with no unchoke slots, for local peers
    /// too, and no allowed-fast set; transmission with its upload speed
    /// limit on at 0. Refused for aria2c (an `Err`): its
    /// `--max-upload-limit=1` still let 32 KiB through at once here.
    pub no_upload: bool,
}

/// A port nothing listens on at 127.0.0.1 just now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().unwrap().port()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Seed,
    Get,
}

/// `client` seeding `torrent` (a .torrent file) from the files under
/// `data_dir`, which it checks first: [`Running::wait_complete`] returns
/// once they are checked and it seeds.
pub fn seed(
    client: Client,
    torrent: &Path,
    data_dir: &Path,
    opts: &Opts,
) -> Result<Running, String> {
    start(
        client,
        Role::Seed,
        &torrent.to_string_lossy(),
        data_dir,
        opts,
    )
}

/// `client` downloading `source` (a .torrent file's path or a magnet
/// link) into `out_dir`. aria2c exits once complete; the others stay,
/// seeding, until the guard is dropped.
pub fn download(
    client: Client,
    source: &str,
    out_dir: &Path,
    opts: &Opts,
) -> Result<Running, String> {
    start(client, Role::Get, source, out_dir, opts)
}

/// A client at work, killed (its whole process group) when dropped, and
/// after [`LIFETIME_SECS`] in any case.
pub struct Running {
    client: Client,
    role: Role,
    child: Child,
    listen: SocketAddr,
    /// Its stdout and stderr, together.
    log: PathBuf,
    /// transmission's RPC port.
    rpc_port: Option<u16>,
    /// Its log and config folder.
    work: TempDir,
}

fn start(
    client: Client,
    role: Role,
    source: &str,
    dir: &Path,
    opts: &Opts,
) -> Result<Running, String> {
    if !opts.peers.is_empty() && client != Client::Libtorrent {
        return Err(format!("{} cannot be told to dial a peer", client.name()));
    }
    if opts.no_upload && client == Client::Aria2 {
        return Err("aria2c cannot be told to upload nothing".to_string());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let dir = std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let work = TempDir::new(&format!("{}-peer", client.name()));
    let port = opts.listen_port.unwrap_or_else(free_port);
    let log = work.path().join("log.txt");
    let mut rpc_port = None;
    let mut cmd = match client {
        Client::Libtorrent => libtorrent_command(role, source, &dir, port, opts),
        Client::Aria2 => aria2_command(role, source, &dir, port),
        Client::Transmission => {
            let rpc = free_port();
            rpc_port = Some(rpc);
            transmission_command(work.path(), &dir, port, rpc, opts.no_upload)?
        }
    };
    let out = File::create(&log).map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // A group of its own: the guard kills whatever it started too.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", client.name()))?;
    let mut running = Running {
        client,
        role,
        child,
        listen: SocketAddr::from(([127, 0, 0, 1], port)),
        log,
        rpc_port,
        work,
    };
    if client == Client::Transmission {
        running.transmission_add(source, &dir)?;
    }
    Ok(running)
}

/// The most a client may live, should its guard never run (the test
/// process killed, or a guard leaked): `timeout -s KILL` ends it then.
pub const LIFETIME_SECS: u32 = 300;

/// `program` run under `timeout -s KILL LIFETIME_SECS`, which passes its
/// exit status on.
fn bounded(program: &str) -> Command {
    let mut c = Command::new("timeout");
    c.args(["-s", "KILL", &LIFETIME_SECS.to_string(), program]);
    c
}

fn libtorrent_command(role: Role, source: &str, dir: &Path, port: u16, opts: &Opts) -> Command {
    let mut c = bounded("/usr/bin/python3");
    c.args(["-c", LIBTORRENT_PEER])
        .arg(if role == Role::Seed { "seed" } else { "get" })
        .arg(source)
        .arg(dir)
        .arg(format!("--port={port}"))
        .arg(format!("--lifetime={LIFETIME_SECS}"));
    for p in &opts.peers {
        c.arg(format!("--peer={p}"));
    }
    if opts.one_connection_per_ip {
        c.arg("--one-connection-per-ip");
    }
    if opts.no_upload {
        c.arg("--no-upload");
    }
    c
}

fn aria2_command(role: Role, source: &str, dir: &Path, port: u16) -> Command {
    let mut c = bounded("aria2c");
    c.arg(format!("--dir={}", dir.display())).args([
        "--interface=127.0.0.1",
        "--disable-ipv6=true",
        "--enable-dht=false",
        "--enable-dht6=false",
        "--bt-enable-lpd=false",
        "--enable-peer-exchange=false",
        "--file-allocation=none",
        "--allow-overwrite=true",
        "--auto-file-renaming=false",
        "--bt-tracker-connect-timeout=5",
        "--bt-tracker-timeout=5",
        "--summary-interval=1",
        "--console-log-level=notice",
        "--enable-color=false",
    ]);
    c.arg(format!("--listen-port={port}"))
        .arg(format!("--bt-tracker-interval={ARIA2_ANNOUNCE_SECS}"));
    match role {
        // Hash the files first; seed for ever (ratio 0: no limit).
        Role::Seed => c.args([
            "--check-integrity=true",
            "--bt-seed-unverified=false",
            "--seed-ratio=0.0",
        ]),
        Role::Get => c.arg("--seed-time=0"),
    };
    c.arg(source);
    c
}

/// transmission-daemon in the foreground with its own config folder under
/// `work`, peers on 127.0.0.1:`port`, RPC on 127.0.0.1:`rpc` without auth.
fn transmission_command(
    work: &Path,
    dir: &Path,
    port: u16,
    rpc: u16,
    no_upload: bool,
) -> Result<Command, String> {
    let conf = work.join("config");
    std::fs::create_dir_all(&conf).map_err(|e| e.to_string())?;
    // What has no command-line flag (peer exchange above all), and the
    // rest said once more so nothing depends on transmission's defaults.
    let settings = format!(
        r#"{{
  "pex-enabled": false, "dht-enabled": false, "lpd-enabled": false,
  "utp-enabled": false, "port-forwarding-enabled": false,
  "peer-port": {port}, "peer-port-random-on-start": false,
  "bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1",
  "rpc-port": {rpc}, "rpc-bind-address": "127.0.0.1",
  "rpc-authentication-required": false, "rpc-host-whitelist-enabled": false,
  "download-dir": "{dir}", "incomplete-dir-enabled": false,
  "watch-dir-enabled": false, "start-added-torrents": true,
  "ratio-limit-enabled": false, "idle-seeding-limit-enabled": false,
  "speed-limit-up-enabled": {no_upload}, "speed-limit-up": 0,
  "speed-limit-down-enabled": false
}}"#,
        dir = dir.display()
    );
    std::fs::write(conf.join("settings.json"), settings).map_err(|e| e.to_string())?;
    let mut c = bounded("transmission-daemon");
    c.arg("-f")
        .arg("-g")
        .arg(&conf)
        .args(["-T", "-r", "127.0.0.1", "-i", "127.0.0.1", "-O", "-Y", "-M"])
        .args(["--no-utp", "--log-info"])
        .arg(format!("--port={rpc}"))
        .arg(format!("--peerport={port}"))
        .arg("-w")
        .arg(dir);
    Ok(c)
}

impl Running {
    pub fn client(&self) -> Client {
        self.client
    }

    /// The address it was told to listen on for peers.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    /// Its output so far (stdout and stderr), and for transmission what
    /// `transmission-remote -t all -i` says now.
    pub fn log(&self) -> String {
        let mut text = std::fs::read_to_string(&self.log).unwrap_or_default();
        if self.client == Client::Transmission {
            let _ = write!(text, "\n--- transmission-remote -t all -i ---\n");
            text += &self
                .remote(&["-t", "all", "-i"], Duration::from_secs(3))
                .unwrap_or_else(|e| e);
        }
        text
    }

    /// Its last `n` lines of output, the progress reports (libtorrent's
    /// `STATUS` lines, aria2c's summaries) left out but the last.
    pub fn log_tail(&self, n: usize) -> String {
        let text = self.log();
        let lines: Vec<&str> = text.lines().collect();
        let progress = |l: &str| l.starts_with("STATUS ") || l.starts_with("[#");
        let noise = |l: &str| {
            l.trim().is_empty()
                || l.starts_with(" *** Download Progress Summary")
                || l.starts_with("=====")
                || l.starts_with("-----")
                || l.starts_with("FILE: ")
        };
        let last_progress = lines.iter().rposition(|l| progress(l));
        let kept: Vec<&str> = lines
            .iter()
            .enumerate()
            .filter(|(i, l)| !noise(l) && (!progress(l) || Some(*i) == last_progress))
            .map(|(_, l)| *l)
            .collect();
        kept[kept.len().saturating_sub(n)..].join("\n")
    }

    /// Waits, at most `timeout`, until it holds every piece, checked (a
    /// seeder: its files checked and seeding; aria2c downloading: exited
    /// with 0). The error says why, with the end of its log.
    pub fn wait_complete(&mut self, timeout: Duration) -> Result<(), String> {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.poll_complete(left.min(Duration::from_secs(3))) {
                Ok(true) => return Ok(()),
                Ok(false) if left.is_zero() => {
                    return Err(self.failure(&format!("not complete within {timeout:?}")))
                }
                Ok(false) => {}
                Err(e) => return Err(self.failure(&e)),
            }
            // Polling: the client is another process, saying so in a file.
            std::thread::sleep(Duration::from_millis(100).min(left));
        }
    }

    fn failure(&self, why: &str) -> String {
        format!(
            "{} ({:?} on {}): {why}\n--- its log, last lines ---\n{}",
            self.client.name(),
            self.role,
            self.listen,
            self.log_tail(40)
        )
    }

    /// Whether it is complete now; an error when it never will be.
    fn poll_complete(&mut self, bound: Duration) -> Result<bool, String> {
        if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
            if self.client == Client::Aria2 && self.role == Role::Get && status.success() {
                return Ok(true);
            }
            return Err(format!("it exited: {status}"));
        }
        match self.client {
            Client::Libtorrent => {
                let text = std::fs::read_to_string(&self.log).unwrap_or_default();
                if let Some(l) = text.lines().find(|l| l.starts_with("ERROR ")) {
                    return Err(l.to_string());
                }
                Ok(text.lines().any(|l| l == "COMPLETE"))
            }
            // The summary line of a seeding download: "[#gid SEED(0.0) ...".
            Client::Aria2 => Ok(self.role == Role::Seed
                && std::fs::read_to_string(&self.log).is_ok_and(|t| t.contains(" SEED("))),
            // Percent Done counts only pieces checked (a seeder's after
            // its verify, a downloader's as each arrives).
            Client::Transmission => Ok(self
                .remote(&["-t", "all", "-i"], bound)
                .is_ok_and(|t| t.contains("Percent Done: 100%"))),
        }
    }

    /// `transmission-remote 127.0.0.1:RPC ARGS`, killed past `bound`.
    fn remote(&self, args: &[&str], bound: Duration) -> Result<String, String> {
        let rpc = self.rpc_port.ok_or("not transmission")?;
        let o = Command::new("timeout")
            .arg(format!("{:.1}", bound.as_secs_f64().max(0.1)))
            .arg("transmission-remote")
            .arg(format!("127.0.0.1:{rpc}"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("transmission-remote: {e}"))?;
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        if o.status.success() {
            Ok(text)
        } else {
            Err(format!(
                "transmission-remote {args:?}: {}: {text}",
                o.status
            ))
        }
    }

    /// Adds `source` once the daemon's RPC answers (within 10 s).
    fn transmission_add(&mut self, source: &str, dir: &Path) -> Result<(), String> {
        let dir = dir.to_string_lossy();
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let r = self.remote(&["-a", source, "-w", &dir], Duration::from_secs(3));
            match r {
                Ok(t) if t.contains("success") => return Ok(()),
                Ok(t) => return Err(self.failure(&format!("adding the torrent: {t}"))),
                Err(e) if Instant::now() >= end => return Err(self.failure(&e)),
                // Its RPC is not up yet.
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
