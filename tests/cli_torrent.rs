//! `kamaelia get` and `kamaelia seed` as a user runs them, on 127.0.0.1:
//! our tracker (`kamaelia tracker`), a seeder, and downloaders given the
//! .torrent as a path or as an http:// URL (`kamaelia serve`). Every file
//! is compared byte for byte; each run is bounded.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

mod cli_support;
mod interop_support;
mod torrent_support;
use cli_support::{run_within, Guard, BIN};
use interop_support::{free_port, wait_listening};
use torrent_support::TempDir;

const DEADLINE: Duration = Duration::from_secs(60);

fn spawn(args: &[&str]) -> Guard {
    Guard(
        Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// A tracker on a free port; its announce URL.
fn tracker() -> (Guard, String) {
    let port = free_port();
    let g = spawn(&["tracker", "--http", &format!("127.0.0.1:{port}")]);
    wait_listening(port);
    (g, format!("http://127.0.0.1:{port}/announce"))
}

/// A folder of three files: sizes on and off piece boundaries.
fn data(dir: &TempDir) -> std::path::PathBuf {
    dir.file("album/a.bin", 3 * 32_768, 1);
    dir.file("album/sub/b.bin", 100_001, 2);
    dir.file("album/c.bin", 777, 3);
    dir.path().join("album")
}

fn make(data: &Path, announce: &str, out: &Path) {
    let o = run_within(
        BIN,
        &[
            "make",
            data.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "-a",
            announce,
            "--piece-length",
            "32768",
        ],
        DEADLINE,
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
}

fn same_tree(a: &Path, b: &Path) {
    for rel in ["a.bin", "sub/b.bin", "c.bin"] {
        let (x, y) = (
            std::fs::read(a.join(rel)).unwrap(),
            std::fs::read(b.join(rel)).unwrap(),
        );
        assert!(x == y, "{rel} differs");
    }
}

#[test]
fn get_downloads_a_multi_file_torrent_from_seed_through_our_tracker() {
    let dir = TempDir::new("cli-get");
    let album = data(&dir);
    let (_tracker, announce) = tracker();
    let torrent = dir.path().join("album.torrent");
    make(&album, &announce, &torrent);
    let seed_port = free_port();
    let _seed = spawn(&[
        "seed",
        torrent.to_str().unwrap(),
        "--data",
        album.to_str().unwrap(),
        "--listen",
        &format!("127.0.0.1:{seed_port}"),
    ]);
    wait_listening(seed_port);
    let out = dir.path().join("out");
    let o = run_within(
        BIN,
        &[
            "get",
            torrent.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--for",
            "50",
        ],
        DEADLINE,
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(
        o.stderr.contains("get: complete: every piece verified"),
        "{}",
        o.stderr
    );
    same_tree(&album, &out.join("album"));
}

#[test]
fn get_takes_the_torrent_from_a_url_and_a_peer_given_by_hand() {
    let dir = TempDir::new("cli-get-url");
    let album = data(&dir);
    let torrent = dir.path().join("web/album.torrent");
    std::fs::create_dir_all(torrent.parent().unwrap()).unwrap();
    // A tracker nobody runs: the peer is given with --peer.
    make(&album, "http://127.0.0.1:9/announce", &torrent);
    let web = free_port();
    let _serve = spawn(&[
        "serve",
        dir.path().join("web").to_str().unwrap(),
        "--listen",
        &format!("127.0.0.1:{web}"),
    ]);
    wait_listening(web);
    let seed_port = free_port();
    let _seed = spawn(&[
        "seed",
        torrent.to_str().unwrap(),
        "--data",
        dir.path().to_str().unwrap(),
        "--listen",
        &format!("127.0.0.1:{seed_port}"),
    ]);
    wait_listening(seed_port);
    let out = dir.path().join("out");
    let o = run_within(
        BIN,
        &[
            "get",
            &format!("http://127.0.0.1:{web}/album.torrent"),
            "-o",
            out.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--peer",
            &format!("127.0.0.1:{seed_port}"),
            "--for",
            "50",
        ],
        DEADLINE,
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    same_tree(&album, &out.join("album"));
}

#[test]
fn get_without_peers_fails_when_its_time_is_up_and_bad_sources_fail_at_once() {
    let dir = TempDir::new("cli-get-none");
    let album = data(&dir);
    let torrent = dir.path().join("album.torrent");
    make(&album, "http://127.0.0.1:9/announce", &torrent);
    let listen = format!("127.0.0.1:{}", free_port());
    let o = run_within(
        BIN,
        &[
            "get",
            torrent.to_str().unwrap(),
            "-o",
            dir.path().join("o").to_str().unwrap(),
            "--listen",
            &listen,
            "--for",
            "1",
        ],
        DEADLINE,
    );
    assert_eq!(o.code, Some(1), "{}", o.stderr);
    assert!(
        o.stderr
            .contains("kamaelia: stopped before every piece was verified"),
        "{}",
        o.stderr
    );
    std::fs::write(dir.path().join("junk.torrent"), b"d4:infoi1ee").unwrap();
    let o = run_within(
        BIN,
        &[
            "get",
            dir.path().join("junk.torrent").to_str().unwrap(),
            "-o",
            dir.path().join("o").to_str().unwrap(),
            "--listen",
            &listen,
        ],
        DEADLINE,
    );
    assert_eq!(o.code, Some(1));
    assert!(o.stderr.contains("kamaelia: bad metainfo"), "{}", o.stderr);
    let o = run_within(
        BIN,
        &[
            "seed",
            torrent.to_str().unwrap(),
            "--data",
            dir.path().join("nothere").to_str().unwrap(),
            "--listen",
            &listen,
        ],
        DEADLINE,
    );
    assert_eq!(o.code, Some(1));
    assert!(o.stderr.contains("is the torrent's data"), "{}", o.stderr);
}

#[test]
fn get_takes_a_magnet_link() {
    let dir = TempDir::new("cli-get-magnet");
    let album = data(&dir);
    let torrent = dir.path().join("album.torrent");
    make(&album, "http://127.0.0.1:9/announce", &torrent);
    let meta = kamaelia::protocol::torrent::metainfo::Metainfo::from_bytes(
        &std::fs::read(&torrent).unwrap(),
    )
    .unwrap();
    let seed_port = free_port();
    let _seed = spawn(&[
        "seed",
        torrent.to_str().unwrap(),
        "--data",
        album.to_str().unwrap(),
        "--listen",
        &format!("127.0.0.1:{seed_port}"),
    ]);
    wait_listening(seed_port);
    let mut magnet = meta.magnet();
    magnet.trackers.clear(); // nobody runs it
    magnet.peers.push(format!("127.0.0.1:{seed_port}"));
    let out = dir.path().join("out");
    let o = run_within(
        BIN,
        &[
            "get",
            &magnet.to_string(),
            "-o",
            out.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--for",
            "50",
        ],
        DEADLINE,
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.stderr.contains("get: metadata received"), "{}", o.stderr);
    same_tree(&album, &out.join("album"));
}
