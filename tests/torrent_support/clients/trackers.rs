//! Trackers for the real clients of [`super`] to meet through, on
//! 127.0.0.1, each killed when its guard drops: ours (`kamaelia tracker`,
//! the program cargo built for the tests) and opentracker. Also the
//! torrents they track: v1-only, made by mktorrent, and their magnet links.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kamaelia::protocol::torrent::metainfo::Metainfo;

use super::super::TempDir;

/// How often our tracker tells clients to announce: often, so a seeder
/// soon hears of a leecher that started after it.
pub const KAMAELIA_INTERVAL_SECS: u32 = 2;

/// A tracker process, killed and reaped when dropped.
pub struct Tracker {
    child: Child,
    /// Its HTTP announce URL (`http://127.0.0.1:PORT/announce`).
    pub announce: String,
    _dir: Option<TempDir>,
}

impl Drop for Tracker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `kamaelia tracker --http 127.0.0.1:0 --interval 2`, once it has said
/// which port it bound (within 10 s).
pub fn kamaelia_tracker() -> Tracker {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kamaelia"))
        .args(["tracker", "--http", "127.0.0.1:0", "--interval"])
        .arg(KAMAELIA_INTERVAL_SECS.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("kamaelia tracker starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let mut t = Tracker {
        child,
        announce: String::new(),
        _dir: None,
    };
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("kamaelia tracker says where it listens");
    t.announce = line
        .trim()
        .strip_prefix("http tracker on ")
        .unwrap_or_else(|| panic!("kamaelia tracker's first line: {line:?}"))
        .to_string();
    t
}

/// opentracker on a free 127.0.0.1 port (HTTP and UDP), tracking only the
/// torrents whose info-hashes (hex) are given, once it takes announces
/// for the first (within 10 s: it reads its whitelist on a thread of its
/// own after it starts listening, and refuses every torrent until then).
pub fn opentracker(info_hashes: &[String]) -> Tracker {
    let dir = TempDir::new("opentracker");
    // It changes to / before it reads the list: the path is absolute.
    let list = dir.path().join("whitelist");
    std::fs::write(&list, info_hashes.join("\n") + "\n").unwrap();
    let port = super::free_port().to_string();
    let child = Command::new("opentracker")
        .args(["-i", "127.0.0.1", "-p", &port, "-P", &port, "-w"])
        .arg(&list)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("opentracker starts");
    let t = Tracker {
        child,
        announce: format!("http://127.0.0.1:{port}/announce"),
        _dir: Some(dir),
    };
    let hash = info_hashes.first().expect("a torrent to track");
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        // A probe peer (port 1) joins, and once let in, leaves.
        if let Ok(body) = http_announce(&t.announce, hash, "started") {
            if !body.contains("failure reason") {
                let _ = http_announce(&t.announce, hash, "stopped");
                return t;
            }
        }
        assert!(
            Instant::now() < end,
            "opentracker never took announces for {hash}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One announce by a probe peer (port 1), over HTTP/1.0; the reply's body.
fn http_announce(announce: &str, hash_hex: &str, event: &str) -> Result<String, String> {
    let rest = announce.strip_prefix("http://").ok_or("an http:// URL")?;
    let (host, path) = rest.split_once('/').ok_or("a path")?;
    let hash: String = (0..hash_hex.len())
        .step_by(2)
        .map(|i| format!("%{}", &hash_hex[i..i + 2]))
        .collect();
    let mut s = TcpStream::connect(host).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "GET /{path}?info_hash={hash}&peer_id=-KMPROBE-00000000000&port=1&uploaded=0\
         &downloaded=0&left=1&compact=1&event={event} HTTP/1.0\r\nHost: {host}\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&reply);
    let (_, body) = text.split_once("\r\n\r\n").ok_or("no reply head")?;
    Ok(body.to_string())
}

/// A v1 torrent of `target` (a file or a folder) by mktorrent: pieces of
/// 2^`piece_log2` bytes, `announce` its tracker; written at `out`.
pub fn make_torrent(target: &Path, announce: &str, piece_log2: u32, out: &Path) -> PathBuf {
    super::super::mktorrent(
        &["-l", &piece_log2.to_string(), "-a", announce],
        target,
        out,
    );
    out.to_path_buf()
}

/// The info-hash of a .torrent file, in hex.
pub fn info_hash_hex(torrent: &Path) -> String {
    let m = Metainfo::from_bytes(&std::fs::read(torrent).unwrap()).unwrap();
    m.info_hash_hex()
}

/// A magnet link for a .torrent file: its info-hash, name and trackers.
pub fn magnet_of(torrent: &Path) -> String {
    let m = Metainfo::from_bytes(&std::fs::read(torrent).unwrap()).unwrap();
    m.magnet().to_string()
}

/// opentracker and a torrent of `target` announcing to it, written at
/// `out`. The torrent is made twice: first to learn its info-hash for the
/// whitelist (the announce URL is outside the info dictionary, so the
/// hash does not change), then with opentracker's URL.
pub fn opentracker_with_torrent(target: &Path, piece_log2: u32, out: &Path) -> (Tracker, PathBuf) {
    make_torrent(target, "http://127.0.0.1:1/announce", piece_log2, out);
    let hash = info_hash_hex(out);
    let tracker = opentracker(std::slice::from_ref(&hash));
    make_torrent(target, &tracker.announce, piece_log2, out);
    assert_eq!(info_hash_hex(out), hash, "the same info dictionary");
    (tracker, out.to_path_buf())
}
