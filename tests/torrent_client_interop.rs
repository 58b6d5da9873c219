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
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod cli_support;
mod torrent_support;
use cli_support::{run_within, Guard, Output, BIN};
use torrent_support::clients::trackers::{self, kamaelia_tracker, magnet_of, make_torrent};
use torrent_support::clients::{
    available, check_same, download, free_port, seed, wait, Client, Opts, CHECK, MIB, TRANSFER,
};
use torrent_support::TempDir;

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

/// Who sits in a seat of a transfer.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Ours,
    Real(Client),
}

/// What is transferred.
#[derive(Clone, Copy)]
enum Data {
    /// One file of this many bytes, 64 KiB pieces.
    File(usize),
    /// A folder of three files (one in a subfolder), 32 KiB pieces.
    Folder,
}

/// Which tracker the two meet through.
#[derive(Clone, Copy, PartialEq)]
enum Via {
    Ours,
    Opentracker,
}

/// One transfer: `seeder` seeds `data`, `getter` downloads it (from the
/// .torrent, or from its magnet link), the two meeting through `via`;
/// every file compared by SHA-256. Returns our `get`'s stderr (empty if
/// ours seeded), or `None` when skipped.
fn transfer(
    test: &str,
    seeder: Side,
    getter: Side,
    data: Data,
    via: Via,
    magnet: bool,
) -> Option<String> {
    let real: Vec<Client> = [seeder, getter]
        .iter()
        .filter_map(|s| match s {
            Side::Real(c) => Some(*c),
            Side::Ours => None,
        })
        .collect();
    let mut tools = vec!["mktorrent", "sha256sum"];
    if via == Via::Opentracker {
        tools.push("opentracker");
    }
    if !available(test, &real, &tools) {
        return None;
    }
    let started = Instant::now();
    let dir = TempDir::new(test);
    let (target, piece_log2, files) = match data {
        Data::File(len) => (TempDir::file(&dir, "seed/one.bin", len, 1), 16, 1),
        Data::Folder => {
            TempDir::file(&dir, "seed/folder/a.bin", MIB + 7, 2);
            TempDir::file(&dir, "seed/folder/b.bin", 700_001, 3);
            TempDir::file(&dir, "seed/folder/sub/c.bin", 1_500_000, 4);
            (dir.path().join("seed/folder"), 15, 3)
        }
    };
    let out_torrent = dir.path().join("t.torrent");
    let (_tracker, torrent) = match via {
        Via::Ours => {
            let t = kamaelia_tracker();
            let torrent = make_torrent(&target, &t.announce, piece_log2, &out_torrent);
            (t, torrent)
        }
        Via::Opentracker => trackers::opentracker_with_torrent(&target, piece_log2, &out_torrent),
    };
    let data_dir = dir.path().join("seed");
    let out = dir.path().join("got");
    let source = if magnet {
        magnet_of(&torrent)
    } else {
        torrent.to_str().unwrap().to_string()
    };
    let mut stderr = String::new();
    match (seeder, getter) {
        (Side::Ours, Side::Real(c)) => {
            // A getter of a magnet link is dialled by our seed: aria2c
            // announces left=0 until it has the info dictionary, so no
            // tracker introduces the two. Others meet it through the
            // tracker (transmission only by our seed's dialling it).
            let mut g = download(c, &source, &out, &Opts::default()).unwrap();
            let dial: Vec<SocketAddr> = magnet.then(|| g.listen_addr()).into_iter().collect();
            let _seed = our_seed(&torrent, &data_dir, &dial);
            wait(&mut g, TRANSFER);
        }
        (Side::Real(c), Side::Ours) => {
            let mut s = seed(c, &torrent, &data_dir, &Opts::default()).unwrap();
            wait(&mut s, CHECK);
            stderr = our_get(&source, &out, &[]).stderr;
        }
        _ => unreachable!("one side is ours, the other a real client"),
    }
    check_same(&torrent, &data_dir, &out, files);
    eprintln!("{test}: {:?}", started.elapsed());
    Some(stderr)
}

#[test]
fn aria2c_downloads_from_our_seed() {
    let (ours, aria2) = (Side::Ours, Side::Real(Client::Aria2));
    transfer(
        "aria2c_downloads_from_our_seed",
        ours,
        aria2,
        Data::File(3 * MIB + 12_345),
        Via::Ours,
        false,
    );
}

#[test]
fn we_download_a_folder_from_aria2c_through_opentracker() {
    let (aria2, ours) = (Side::Real(Client::Aria2), Side::Ours);
    transfer(
        "we_download_a_folder_from_aria2c",
        aria2,
        ours,
        Data::Folder,
        Via::Opentracker,
        false,
    );
}

#[test]
fn libtorrent_downloads_a_folder_from_our_seed() {
    let (ours, lt) = (Side::Ours, Side::Real(Client::Libtorrent));
    transfer(
        "libtorrent_downloads_a_folder_from_our_seed",
        ours,
        lt,
        Data::Folder,
        Via::Ours,
        false,
    );
}

#[test]
fn we_download_from_libtorrent_through_opentracker() {
    let (lt, ours) = (Side::Real(Client::Libtorrent), Side::Ours);
    transfer(
        "we_download_from_libtorrent",
        lt,
        ours,
        Data::File(3 * MIB + 777),
        Via::Opentracker,
        false,
    );
}

#[test]
fn transmission_downloads_from_our_seed_which_dials_it() {
    let (ours, tr) = (Side::Ours, Side::Real(Client::Transmission));
    transfer(
        "transmission_downloads_from_our_seed",
        ours,
        tr,
        Data::File(2 * MIB + 4_321),
        Via::Ours,
        false,
    );
}

#[test]
fn we_download_from_transmission() {
    let (tr, ours) = (Side::Real(Client::Transmission), Side::Ours);
    transfer(
        "we_download_from_transmission",
        tr,
        ours,
        Data::File(2 * MIB + 99),
        Via::Ours,
        false,
    );
}

#[test]
fn we_fetch_a_magnet_link_from_libtorrent() {
    let (lt, ours) = (Side::Real(Client::Libtorrent), Side::Ours);
    let stderr = transfer(
        "we_fetch_a_magnet_link_from_libtorrent",
        lt,
        ours,
        Data::Folder,
        Via::Ours,
        true,
    );
    if let Some(stderr) = stderr {
        assert!(stderr.contains("get: metadata received"), "{stderr}");
    }
}

#[test]
fn aria2c_fetches_a_magnet_link_from_our_seed() {
    let (ours, aria2) = (Side::Ours, Side::Real(Client::Aria2));
    transfer(
        "aria2c_fetches_a_magnet_link_from_our_seed",
        ours,
        aria2,
        Data::File(MIB + 1_234),
        Via::Ours,
        true,
    );
}
