//! The harness of real clients (tests/torrent_support/clients.rs), proved
//! on transfers between the real clients themselves, all on 127.0.0.1,
//! before our own client is put in one of the seats:
//!
//! * libtorrent seeds a single file (3 MiB + 12 345 bytes, 64 KiB pieces:
//!   the last piece short) found through `kamaelia tracker`; aria2c
//!   downloads it;
//! * aria2c seeds a folder of three files (one in a subfolder, none a
//!   multiple of the 32 KiB piece) found through opentracker; libtorrent
//!   downloads it;
//! * transmission seeds, libtorrent downloads through our tracker;
//! * libtorrent seeds and dials transmission, which downloads (the way
//!   that works: transmission never dials a 127.x peer a tracker names);
//! * aria2c seeds and transmission downloads: aria2c announces every 2 s
//!   and dials the leecher our tracker names;
//! * a magnet link: libtorrent fetches the info dictionary, then the data,
//!   from aria2c, which it finds through our tracker;
//! * a magnet link the other way: aria2c fetches from libtorrent, which
//!   dials it (aria2c announces `left=0` until it has the info dictionary,
//!   and our tracker names no seeders to a seeder);
//!
//! each file compared by SHA-256 (`sha256sum`) with the original. And the
//! other side of "complete": each client seeding a file with one piece
//! damaged is not complete, said within the bound. Every
//! wait is bounded (60 s per test at most); each test prints its time.
//! Skipped with a note when a program is missing, unless
//! `KAMAELIA_REQUIRE_INTEROP=1`.

use std::time::{Duration, Instant};

mod torrent_support;
use torrent_support::clients::trackers::{self, kamaelia_tracker, make_torrent};
use torrent_support::clients::{
    available, check_same, download, same_files, seed, sha256_of, wait, Client, Opts, CHECK, MIB,
    TRANSFER,
};
use torrent_support::TempDir;

#[test]
fn libtorrent_seeds_aria2c_downloads() {
    let test = "libtorrent_seeds_aria2c_downloads";
    if !available(
        test,
        &[Client::Libtorrent, Client::Aria2],
        &["mktorrent", "sha256sum"],
    ) {
        return;
    }
    let started = Instant::now();
    let dir = TempDir::new("lt-aria2");
    let data = dir.path().join("seed");
    let file = TempDir::file(&dir, "seed/single.bin", 3 * MIB + 12_345, 1);
    let tracker = kamaelia_tracker();
    let torrent = make_torrent(&file, &tracker.announce, 16, &dir.path().join("t.torrent"));
    let mut seeder = seed(Client::Libtorrent, &torrent, &data, &Opts::default()).unwrap();
    wait(&mut seeder, CHECK);
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
fn aria2c_seeds_libtorrent_downloads_a_folder() {
    let test = "aria2c_seeds_libtorrent_downloads_a_folder";
    let need = &["mktorrent", "sha256sum", "opentracker"];
    if !available(test, &[Client::Libtorrent, Client::Aria2], need) {
        return;
    }
    let started = Instant::now();
    let dir = TempDir::new("aria2-lt");
    let data = dir.path().join("seed");
    TempDir::file(&dir, "seed/folder/a.bin", MIB + 7, 2);
    TempDir::file(&dir, "seed/folder/b.bin", 700_001, 3);
    TempDir::file(&dir, "seed/folder/sub/c.bin", 1_500_000, 4);
    let (tracker, torrent) =
        trackers::opentracker_with_torrent(&data.join("folder"), 15, &dir.path().join("t.torrent"));
    let mut seeder = seed(Client::Aria2, &torrent, &data, &Opts::default()).unwrap();
    wait(&mut seeder, CHECK);
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
    drop(tracker);
    eprintln!("{test}: {:?}", started.elapsed());
}

/// A single file of `len` bytes under `dir/seed`, its torrent announcing
/// to `announce` with 64 KiB pieces; (data folder, torrent).
fn one_file(dir: &TempDir, len: usize, announce: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let file = TempDir::file(dir, "seed/one.bin", len, 5);
    let torrent = make_torrent(&file, announce, 16, &dir.path().join("t.torrent"));
    (dir.path().join("seed"), torrent)
}

#[test]
fn transmission_seeds_libtorrent_downloads() {
    let test = "transmission_seeds_libtorrent_downloads";
    let need = [Client::Transmission, Client::Libtorrent];
    if !available(test, &need, &["mktorrent", "sha256sum"]) {
        return;
    }
    let started = Instant::now();
    let dir = TempDir::new("tr-lt");
    let tracker = kamaelia_tracker();
    let (data, torrent) = one_file(&dir, 2 * MIB + 999, &tracker.announce);
    let mut seeder = seed(Client::Transmission, &torrent, &data, &Opts::default()).unwrap();
    wait(&mut seeder, CHECK);
    let out = dir.path().join("got");
    let mut getter = download(
        Client::Libtorrent,
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
fn libtorrent_seeds_and_dials_transmission_which_downloads() {
    let test = "libtorrent_seeds_and_dials_transmission_which_downloads";
    let need = [Client::Transmission, Client::Libtorrent];
    if !available(test, &need, &["mktorrent", "sha256sum"]) {
        return;
    }
    let started = Instant::now();
    let dir = TempDir::new("lt-tr");
    let tracker = kamaelia_tracker();
    let (data, torrent) = one_file(&dir, 2 * MIB + 999, &tracker.announce);
    let out = dir.path().join("got");
    let mut getter = download(
        Client::Transmission,
        torrent.to_str().unwrap(),
        &out,
        &Opts::default(),
    )
    .unwrap();
    // transmission ignores 127.x peers from the tracker: the seeder dials.
    let dial = Opts {
        peers: vec![getter.listen_addr()],
        ..Opts::default()
    };
    let mut seeder = seed(Client::Libtorrent, &torrent, &data, &dial).unwrap();
    wait(&mut seeder, CHECK);
    wait(&mut getter, TRANSFER);
    check_same(&torrent, &data, &out, 1);
    eprintln!("{test}: {:?}", started.elapsed());
}

#[test]
fn aria2c_seeds_and_finds_transmission_which_downloads() {
    let test = "aria2c_seeds_and_finds_transmission_which_downloads";
    let need = [Client::Transmission, Client::Aria2];
    if !available(test, &need, &["mktorrent", "sha256sum"]) {
        return;
    }
    let started = Instant::now();
    let dir = TempDir::new("aria2-tr");
    let tracker = kamaelia_tracker();
    let (data, torrent) = one_file(&dir, 2 * MIB + 999, &tracker.announce);
    let mut seeder = seed(Client::Aria2, &torrent, &data, &Opts::default()).unwrap();
    wait(&mut seeder, CHECK);
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
fn libtorrent_fetches_a_magnet_link_from_aria2c() {
    let test = "libtorrent_fetches_a_magnet_link_from_aria2c";
    let need = [Client::Libtorrent, Client::Aria2];
    if !available(test, &need, &["mktorrent", "sha256sum"]) {
        return;
    }
    let started = Instant::now();
    let dir = TempDir::new("magnet");
    let tracker = kamaelia_tracker();
    let (data, torrent) = one_file(&dir, MIB + 4321, &tracker.announce);
    let mut seeder = seed(Client::Aria2, &torrent, &data, &Opts::default()).unwrap();
    wait(&mut seeder, CHECK);
    let magnet = trackers::magnet_of(&torrent);
    assert!(magnet.starts_with("magnet:?xt=urn:btih:"), "{magnet}");
    let out = dir.path().join("got");
    let mut getter = download(Client::Libtorrent, &magnet, &out, &Opts::default()).unwrap();
    wait(&mut getter, TRANSFER);
    check_same(&torrent, &data, &out, 1);
    eprintln!("{test}: {:?}", started.elapsed());
}

#[test]
fn aria2c_fetches_a_magnet_link_from_libtorrent() {
    let test = "aria2c_fetches_a_magnet_link_from_libtorrent";
    let need = [Client::Libtorrent, Client::Aria2];
    if !available(test, &need, &["mktorrent", "sha256sum"]) {
        return;
    }
    let started = Instant::now();
    let dir = TempDir::new("magnet-aria2");
    let tracker = kamaelia_tracker();
    let (data, torrent) = one_file(&dir, MIB + 4321, &tracker.announce);
    let out = dir.path().join("got");
    let magnet = trackers::magnet_of(&torrent);
    let mut getter = download(Client::Aria2, &magnet, &out, &Opts::default()).unwrap();
    // Before it has the info dictionary aria2c announces `left=0`, as a
    // seeder, and our tracker names no seeders to a seeder: the seeder
    // dials it.
    let dial = Opts {
        peers: vec![getter.listen_addr()],
        ..Opts::default()
    };
    let mut seeder = seed(Client::Libtorrent, &torrent, &data, &dial).unwrap();
    wait(&mut seeder, CHECK);
    wait(&mut getter, TRANSFER);
    check_same(&torrent, &data, &out, 1);
    eprintln!("{test}: {:?}", started.elapsed());
}

/// "Complete" means checked: each client seeding a file with one byte
/// changed (one piece of sixteen wrong) and no peer to mend it is not
/// complete, and [`Running::wait_complete`] says so within its bound,
/// with the client's log, which shows fifteen pieces found good.
#[test]
fn a_seeder_of_damaged_data_is_not_complete() {
    let test = "a_seeder_of_damaged_data_is_not_complete";
    let all = [Client::Libtorrent, Client::Aria2, Client::Transmission];
    if !available(test, &all, &["mktorrent"]) {
        return;
    }
    let started = Instant::now();
    let dir = TempDir::new("damaged");
    let tracker = kamaelia_tracker();
    let (data, torrent) = one_file(&dir, MIB, &tracker.announce);
    let file = data.join("one.bin");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[5 * 65_536 + 17] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let bound = Duration::from_secs(4);
    let waits: Vec<_> = all
        .iter()
        .map(|&client| {
            let mut s = seed(client, &torrent, &data, &Opts::default()).unwrap();
            std::thread::spawn(move || {
                let t = Instant::now();
                let r = s.wait_complete(bound);
                (client, r, t.elapsed())
            })
        })
        .collect();
    // Every thread joined (its client killed) before any assertion.
    let results: Vec<_> = waits.into_iter().map(|w| w.join().unwrap()).collect();
    for (client, r, took) in results {
        let e = r.expect_err(&format!("{client:?} seeds damaged data"));
        assert!(e.contains("not complete within"), "{client:?}: {e}");
        // Checked: fifteen pieces of sixteen found good, as each says it.
        let fifteen = match client {
            Client::Libtorrent => "STATUS downloading 0.9375 ",
            Client::Aria2 => "0.9MiB/1.0MiB(93%)",
            Client::Transmission => "Percent Done: 93.7%",
        };
        assert!(e.contains(fifteen), "{client:?} checked: {e}");
        assert!(
            took >= bound && took < bound + Duration::from_secs(4),
            "{client:?}: {took:?}"
        );
        eprintln!("{client:?}: {}", e.lines().next().unwrap());
    }
    eprintln!("{test}: {:?}", started.elapsed());
}

/// [`Opts::no_upload`]: libtorrent and transmission seeding with it,
/// each dialled by a libtorrent downloader (the torrent's tracker is dead:
/// they meet only by that dial), are connected to and send no piece in
/// 20 s. Without it the same set-up completes in about 1 s (libtorrent)
/// and 13.5 s (transmission, which unchokes at its 10 s rechoke),
/// measured once by hand. aria2c refuses it.
#[test]
fn a_seeder_told_not_to_upload_sends_nothing() {
    let test = "a_seeder_told_not_to_upload_sends_nothing";
    let all = [Client::Libtorrent, Client::Transmission];
    if !available(test, &all, &["mktorrent"]) {
        return;
    }
    let started = Instant::now();
    let dir = TempDir::new("no-upload");
    let (data, torrent) = one_file(&dir, MIB, "http://127.0.0.1:1/announce");
    let quiet = Opts {
        no_upload: true,
        ..Opts::default()
    };
    if Client::Aria2.is_installed() {
        assert!(seed(Client::Aria2, &torrent, &data, &quiet).is_err());
    }
    let waits: Vec<_> = all
        .iter()
        .map(|&client| {
            let mut seeder = seed(client, &torrent, &data, &quiet).unwrap();
            wait(&mut seeder, CHECK);
            let dial = Opts {
                peers: vec![seeder.listen_addr()],
                ..Opts::default()
            };
            let out = dir.path().join(format!("got-{}", client.name()));
            let source = torrent.to_str().unwrap();
            let mut getter = download(Client::Libtorrent, source, &out, &dial).unwrap();
            std::thread::spawn(move || {
                let r = getter.wait_complete(Duration::from_secs(20));
                drop(seeder);
                (client, r)
            })
        })
        .collect();
    // Every thread joined (its clients killed) before any assertion.
    let results: Vec<_> = waits.into_iter().map(|w| w.join().unwrap()).collect();
    for (client, r) in results {
        let e = r.expect_err(&format!("{client:?} uploaded"));
        // The downloader's last status: connected to one peer, 0 bytes.
        let last = e.lines().rev().find(|l| l.starts_with("STATUS ")).unwrap();
        assert!(
            last.starts_with("STATUS downloading 0.0000 1 0 "),
            "{client:?}: {e}"
        );
        eprintln!("{client:?}: {last}");
    }
    eprintln!("{test}: {:?}", started.elapsed());
}

/// The helpers that judge the transfers: `sha256_of` gives FIPS 180-2's
/// digest of "abc", and `same_files` tells a changed byte, a short file
/// and a missing one.
#[test]
fn the_file_checks_tell_a_difference() {
    if !available(
        "the_file_checks_tell_a_difference",
        &[],
        &["sha256sum", "mktorrent"],
    ) {
        return;
    }
    let dir = TempDir::new("file-checks");
    let abc = dir.path().join("abc");
    std::fs::write(&abc, b"abc").unwrap();
    assert_eq!(
        sha256_of(&abc).unwrap(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert!(sha256_of(&dir.path().join("none")).is_err());
    TempDir::file(&dir, "a/f/x.bin", 70_000, 8);
    TempDir::file(&dir, "a/f/y.bin", 5_000, 9);
    let torrent = make_torrent(
        &dir.path().join("a/f"),
        "http://127.0.0.1:1/announce",
        15,
        &dir.path().join("t.torrent"),
    );
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(b.join("f")).unwrap();
    for name in ["x.bin", "y.bin"] {
        std::fs::copy(a.join("f").join(name), b.join("f").join(name)).unwrap();
    }
    assert_eq!(same_files(&torrent, &a, &b).unwrap().len(), 2);
    let y = b.join("f/y.bin");
    let mut bytes = std::fs::read(&y).unwrap();
    bytes[4_999] ^= 1;
    std::fs::write(&y, &bytes).unwrap();
    assert!(same_files(&torrent, &a, &b).unwrap_err().contains("y.bin"));
    std::fs::write(&y, &bytes[..4_999]).unwrap();
    assert!(same_files(&torrent, &a, &b)
        .unwrap_err()
        .contains("4999 bytes"));
    std::fs::remove_file(&y).unwrap();
    assert!(same_files(&torrent, &a, &b).is_err());
}
