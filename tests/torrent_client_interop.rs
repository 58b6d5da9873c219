//! Our torrent client (`kamaelia seed` and `kamaelia get`, as a user runs
//! them) against the BitTorrent clients people use, all on 127.0.0.1
//! (the harness: tests/torrent_support/clients.rs):
//!
//! * aria2c downloads from our seed (our tracker); we download from aria2c
//!   (opentracker), a folder of three files;
//! * libtorrent downloads a folder from our seed (our tracker); we
//!   download a file from libtorrent (opentracker);
//! * transmission downloads from our seed: it never dials a 127.x peer a
//!   tracker names, so our seeder dials it, having heard of it at its
//!   next announce (`--min-reannounce 1`, our tracker's interval 2 s);
//!   we download from transmission;
//! * a magnet link: we fetch the info dictionary, then the data, from
//!   libtorrent; aria2c fetches a magnet link from our seed (which dials
//!   it: before it has the info dictionary aria2c announces `left=0`, so
//!   no tracker introduces the two).
//!
//! Files of a few MiB, 64 or 32 KiB pieces, none ending on a piece
//! boundary; every file's SHA-256 compared with the original's. Each wait
//! is bounded (a test takes 60 s at most) and each test prints its time.
//! Skipped with a note when a program is missing, unless
//! `KAMAELIA_REQUIRE_INTEROP=1` (CI).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod cli_support;
mod torrent_support;
use cli_support::{run_within, Guard, Output, BIN};
use torrent_support::clients::trackers::{self, kamaelia_tracker, magnet_of, make_torrent};
use torrent_support::clients::{
    available, download, free_port, same_files, seed, Client, Opts, Running,
};
use torrent_support::TempDir;

const MIB: usize = 1 << 20;
/// A seeder's check of its files.
const CHECK: Duration = Duration::from_secs(15);
/// A download of a few MiB on 127.0.0.1.
const TRANSFER: Duration = Duration::from_secs(40);

fn wait(r: &mut Running, limit: Duration) {
    if let Err(e) = r.wait_complete(limit) {
        panic!("{e}");
    }
}

fn check_same(torrent: &Path, a: &Path, b: &Path, files: usize) {
    let same = same_files(torrent, a, b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(same.len(), files, "{same:?}");
}

/// `kamaelia seed` on a free port of 127.0.0.1, announcing at most every
/// second and dialling `peers` too; its address once it listens.
fn our_seed(torrent: &Path, data: &Path, peers: &[SocketAddr]) -> (Guard, SocketAddr) {
    let peers: Vec<String> = peers
        .iter()
        .flat_map(|p| ["--peer".to_string(), p.to_string()])
        .collect();
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let g = Guard(
        Command::new(BIN)
            .args([
                "seed",
                torrent.to_str().unwrap(),
                "--data",
                data.to_str().unwrap(),
            ])
            .args(["--listen", &addr.to_string(), "--min-reannounce", "1"])
            .args(&peers)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let end = Instant::now() + CHECK;
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < end, "kamaelia seed does not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    (g, addr)
}

/// `kamaelia get SOURCE -o OUT` to its end (at most 50 s).
fn our_get(source: &str, out: &Path, peers: &[SocketAddr]) -> Output {
    let mut args = vec![
        "get".to_string(),
        source.to_string(),
        "-o".into(),
        out.to_str().unwrap().into(),
        "--listen".into(),
        format!("127.0.0.1:{}", free_port()),
        "--for".into(),
        "50".into(),
    ];
    for p in peers {
        args.push("--peer".into());
        args.push(p.to_string());
    }
    let o = run_within(BIN, &args, Duration::from_secs(60));
    assert_eq!(o.code, Some(0), "kamaelia get: {}", o.stderr);
    o
}

/// A folder of three files (one in a subfolder, none a multiple of the
/// piece) under `dir/seed/folder`.
fn folder(dir: &TempDir) -> PathBuf {
    TempDir::file(dir, "seed/folder/a.bin", MIB + 7, 2);
    TempDir::file(dir, "seed/folder/b.bin", 700_001, 3);
    TempDir::file(dir, "seed/folder/sub/c.bin", 1_500_000, 4);
    dir.path().join("seed/folder")
}

#[test]
fn aria2c_downloads_from_our_seed() {
    let test = "aria2c_downloads_from_our_seed";
    if !available(test, &[Client::Aria2], &["mktorrent", "sha256sum"]) {
        return;
    }
    let started = Instant::now();
    let dir = TempDir::new("ours-aria2");
    let file = TempDir::file(&dir, "seed/single.bin", 3 * MIB + 12_345, 1);
    let tracker = kamaelia_tracker();
    let torrent = make_torrent(&file, &tracker.announce, 16, &dir.path().join("t.torrent"));
    let data = dir.path().join("seed");
    let (_seed, _) = our_seed(&torrent, &data, &[]);
    let out = dir.path().join("got");
    let mut getter = download(
        Client::Aria2,
        torrent.to_str().unwrap(),
        &out,
        &Opts::default(),
    )
    .unwrap();
    wait(&mut getter, TRANSFER);
    check_same(&torrent, &data, &out, 1);
    eprintln!("{test}: {:?}", started.elapsed());
}

#[test]
fn we_download_a_folder_from_aria2c_through_opentracker() {
    let test = "we_download_a_folder_from_aria2c_through_opentracker";
    if !available(
        test,
        &[Client::Aria2],
        &["mktorrent", "sha256sum", "opentracker"],
    ) {
        return;
    }
    let started = Instant::now();
    let dir = TempDir::new("aria2-ours");
    let target = folder(&dir);
    let (_tracker, torrent) =
        trackers::opentracker_with_torrent(&target, 15, &dir.path().join("t.torrent"));
    let data = dir.path().join("seed");
    let mut seeder = seed(Client::Aria2, &torrent, &data, &Opts::default()).unwrap();
    wait(&mut seeder, CHECK);
    let out = dir.path().join("got");
    our_get(torrent.to_str().unwrap(), &out, &[]);
    check_same(&torrent, &data, &out, 3);
    eprintln!("{test}: {:?}", started.elapsed());
}

#[test]
fn libtorrent_downloads_a_folder_from_our_seed() {
    let test = "libtorrent_downloads_a_folder_from_our_seed";
    if !available(test, &[Client::Libtorrent], &["mktorrent", "sha256sum"]) {
        return;
    }
    let started = Instant::now();
    let dir = TempDir::new("ours-lt");
    let target = folder(&dir);
    let tracker = kamaelia_tracker();
    let torrent = make_torrent(
        &target,
        &tracker.announce,
        15,
        &dir.path().join("t.torrent"),
    );
    let data = dir.path().join("seed");
    let (_seed, _) = our_seed(&torrent, &data, &[]);
    let out = dir.path().join("got");
    let mut getter = download(
        Client::Libtorrent,
        torrent.to_str().unwrap(),
        &out,
        &Opts::default(),
    )
    .unwrap();
    wait(&mut getter, TRANSFER);
    check_same(&torrent, &data, &out, 3);
    eprintln!("{test}: {:?}", started.elapsed());
}

#[test]
fn we_download_from_libtorrent_through_opentracker() {
    let test = "we_download_from_libtorrent_through_opentracker";
    if !available(
        test,
        &[Client::Libtorrent],
        &["mktorrent", "sha256sum", "opentracker"],
    ) {
        return;
    }
    let started = Instant::now();
    let dir = TempDir::new("lt-ours");
    let file = TempDir::file(&dir, "seed/one.bin", 3 * MIB + 777, 5);
    let (_tracker, torrent) =
        trackers::opentracker_with_torrent(&file, 16, &dir.path().join("t.torrent"));
    let data = dir.path().join("seed");
    let mut seeder = seed(Client::Libtorrent, &torrent, &data, &Opts::default()).unwrap();
    wait(&mut seeder, CHECK);
    let out = dir.path().join("got");
    our_get(torrent.to_str().unwrap(), &out, &[]);
    check_same(&torrent, &data, &out, 1);
    eprintln!("{test}: {:?}", started.elapsed());
}

#[test]
fn transmission_downloads_from_our_seed_which_dials_it() {
    let test = "transmission_downloads_from_our_seed_which_dials_it";
    if !available(test, &[Client::Transmission], &["mktorrent", "sha256sum"]) {
        return;
    }
    let started = Instant::now();
    let dir = TempDir::new("ours-tr");
    let file = TempDir::file(&dir, "seed/one.bin", 2 * MIB + 4_321, 6);
    let tracker = kamaelia_tracker();
    let torrent = make_torrent(&file, &tracker.announce, 16, &dir.path().join("t.torrent"));
    let data = dir.path().join("seed");
    let (_seed, _) = our_seed(&torrent, &data, &[]);
    let out = dir.path().join("got");
    let mut getter = download(
        Client::Transmission,
        torrent.to_str().unwrap(),
        &out,
        &Opts::default(),
    )
    .unwrap();
    wait(&mut getter, TRANSFER);
    check_same(&torrent, &data, &out, 1);
    eprintln!("{test}: {:?}", started.elapsed());
}

#[test]
fn we_download_from_transmission() {
    let test = "we_download_from_transmission";
    if !available(test, &[Client::Transmission], &["mktorrent", "sha256sum"]) {
        return;
    }
    let started = Instant::now();
    let dir = TempDir::new("tr-ours");
    let file = TempDir::file(&dir, "seed/one.bin", 2 * MIB + 99, 7);
    let tracker = kamaelia_tracker();
    let torrent = make_torrent(&file, &tracker.announce, 16, &dir.path().join("t.torrent"));
    let data = dir.path().join("seed");
    let mut seeder = seed(Client::Transmission, &torrent, &data, &Opts::default()).unwrap();
    wait(&mut seeder, CHECK);
    let out = dir.path().join("got");
    our_get(torrent.to_str().unwrap(), &out, &[]);
    check_same(&torrent, &data, &out, 1);
    eprintln!("{test}: {:?}", started.elapsed());
}

#[test]
fn we_fetch_a_magnet_link_from_libtorrent() {
    let test = "we_fetch_a_magnet_link_from_libtorrent";
    if !available(test, &[Client::Libtorrent], &["mktorrent", "sha256sum"]) {
        return;
    }
    let started = Instant::now();
    let dir = TempDir::new("lt-ours-magnet");
    let target = folder(&dir);
    let tracker = kamaelia_tracker();
    let torrent = make_torrent(
        &target,
        &tracker.announce,
        15,
        &dir.path().join("t.torrent"),
    );
    let data = dir.path().join("seed");
    let mut seeder = seed(Client::Libtorrent, &torrent, &data, &Opts::default()).unwrap();
    wait(&mut seeder, CHECK);
    let out = dir.path().join("got");
    let o = our_get(&magnet_of(&torrent), &out, &[]);
    assert!(o.stderr.contains("get: metadata received"), "{}", o.stderr);
    check_same(&torrent, &data, &out, 3);
    eprintln!("{test}: {:?}", started.elapsed());
}

#[test]
fn aria2c_fetches_a_magnet_link_from_our_seed() {
    let test = "aria2c_fetches_a_magnet_link_from_our_seed";
    if !available(test, &[Client::Aria2], &["mktorrent", "sha256sum"]) {
        return;
    }
    let started = Instant::now();
    let dir = TempDir::new("ours-aria2-magnet");
    let file = TempDir::file(&dir, "seed/single.bin", MIB + 1_234, 8);
    let tracker = kamaelia_tracker();
    let torrent = make_torrent(&file, &tracker.announce, 16, &dir.path().join("t.torrent"));
    let data = dir.path().join("seed");
    // aria2c announces left=0 until it has the info dictionary, so a
    // tracker lists it to no seeder and lists no seeder to it: our seed
    // is told to dial it.
    let out = dir.path().join("got");
    let mut getter = download(Client::Aria2, &magnet_of(&torrent), &out, &Opts::default()).unwrap();
    let (_seed, _) = our_seed(&torrent, &data, &[getter.listen_addr()]);
    wait(&mut getter, TRANSFER);
    check_same(&torrent, &data, &out, 1);
    eprintln!("{test}: {:?}", started.elapsed());
}
