//! The torrent maker without mktorrent: piece hashing across file
//! boundaries against SHA-1 of the concatenated files cut by hand, the
//! walk's order and filters, every typed error, and the `TorrentMaker`
//! component driven through the scheduler with real temporary files.

mod torrent_support;

use std::path::PathBuf;
use std::time::Duration;

use kamaelia::axon::Signal;
use kamaelia::protocol::torrent::bencode;
use kamaelia::protocol::torrent::maker::{
    hash_files, make, make_with_progress, scan, FileEntry, Layout, MadeTorrent, MakeError,
    MakeTorrent, PieceHasher, Progress, TorrentMaker,
};
use kamaelia::testing::Harness;
use sha1::{Digest, Sha1};
use torrent_support::{content, info_hash_of, TempDir};

const P: usize = 1 << 15;

/// The `pieces` string computed the obvious way.
fn expected_pieces(stream: &[u8], piece: usize) -> Vec<u8> {
    stream
        .chunks(piece)
        .flat_map(|c| Sha1::digest(c).to_vec())
        .collect()
}

fn reproducible(p: impl Into<PathBuf>) -> MakeTorrent {
    MakeTorrent::new(p.into()).creation_date(None)
}

#[test]
fn piece_hasher_cuts_at_piece_boundaries_whatever_the_slices() {
    let data = content(7 * P + 123, 5);
    let want = expected_pieces(&data, P);
    for threads in [1, 2, 3, 8] {
        for slice in [1, 63, 64, P - 1, P, P + 1, 3 * P + 5, data.len()] {
            let mut h = PieceHasher::new(P, threads);
            for s in data.chunks(slice) {
                h.update(s);
            }
            assert_eq!(h.finish(), want, "threads {threads}, slices of {slice}");
        }
    }
    assert!(PieceHasher::new(P, 2).finish().is_empty());
}

#[test]
fn pieces_cross_file_boundaries_in_walk_order() {
    let d = TempDir::new("cross");
    // Sizes so that pieces start and end inside files, and one file is
    // wholly inside a piece.
    let specs: &[(&str, usize)] = &[("b/2", P - 1), ("a", P + 1), ("b/1", 3), ("c", 2 * P)];
    for (i, (rel, len)) in specs.iter().enumerate() {
        d.file(rel, *len, i as u32 + 1);
    }
    let layout = scan(d.path()).unwrap();
    let names: Vec<_> = layout
        .files
        .iter()
        .map(|f| f.components.join(&b'/'))
        .collect();
    assert_eq!(
        names,
        vec![
            b"a".to_vec(),
            b"b/1".to_vec(),
            b"b/2".to_vec(),
            b"c".to_vec()
        ]
    );
    let stream: Vec<u8> = [(2, P + 1), (3, 3), (1, P - 1), (4, 2 * P)]
        .iter()
        .flat_map(|&(seed, len)| content(len, seed))
        .collect();
    assert_eq!(layout.total_length, stream.len() as u64);
    let pieces = hash_files(&layout, P as u64, 2, &mut |_| true).unwrap();
    assert_eq!(pieces, expected_pieces(&stream, P));

    let made = make(&reproducible(d.path()).piece_length(P as u64)).unwrap();
    assert_eq!(made.pieces, stream.len().div_ceil(P));
    assert_eq!(made.files, 4);
    assert_eq!(made.info_hash, info_hash_of(&made.torrent));
    let v = bencode::decode_strict(&made.torrent).expect("canonical bencode");
    let info = v
        .as_dict()
        .unwrap()
        .get(b"info")
        .unwrap()
        .as_dict()
        .unwrap();
    assert_eq!(
        info.get(b"pieces").unwrap().as_bytes().unwrap(),
        &pieces[..]
    );
    assert_eq!(
        info.get(b"name").unwrap().as_bytes().unwrap(),
        d.path().file_name().unwrap().as_encoded_bytes()
    );
}

#[test]
fn walk_orders_by_whole_path_and_skips_what_mktorrent_skips() {
    let d = TempDir::new("order");
    for rel in [
        "x/y/f", "x-y/g", "x.y/h", "x0", "B", "a", ".hid/c", "A/z", "empty",
    ] {
        d.file(rel, if rel == "empty" { 0 } else { 2 }, 1);
    }
    std::fs::create_dir_all(d.path().join("no-files/inside")).unwrap();
    #[cfg(unix)]
    {
        let fifo = d.path().join("fifo");
        let ok = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(ok.is_ok_and(|s| s.success()), "mkfifo");
    }
    let layout = scan(d.path()).unwrap();
    let names: Vec<String> = layout
        .files
        .iter()
        .map(|f| String::from_utf8(f.components.join(&b'/')).unwrap())
        .collect();
    assert_eq!(
        names,
        [".hid/c", "A/z", "B", "a", "empty", "x-y/g", "x.y/h", "x/y/f", "x0"]
    );
    assert!(!layout.single_file);
    assert_eq!(layout.total_length, 16);
}

#[test]
fn a_single_file_has_no_components() {
    let d = TempDir::new("single");
    let f = d.file("one", 1, 1);
    let layout = scan(&f).unwrap();
    assert_eq!(
        layout,
        Layout {
            single_file: true,
            files: vec![FileEntry {
                disk_path: f.clone(),
                components: vec![],
                length: 1
            }],
            total_length: 1,
        }
    );
    let made = make(&reproducible(&f)).unwrap();
    assert_eq!(made.pieces, 1);
    let want = format!("d10:created by{}:kamaelia {}4:infod6:lengthi1e4:name3:one12:piece lengthi262144e6:pieces20:",
        9 + env!("CARGO_PKG_VERSION").len(), env!("CARGO_PKG_VERSION"));
    assert!(
        made.torrent.starts_with(want.as_bytes()),
        "{}",
        String::from_utf8_lossy(&made.torrent)
    );
    assert!(made.torrent.ends_with(b"ee"));
}

fn err_of(req: &MakeTorrent) -> MakeError {
    match make(req) {
        Ok(m) => panic!("made a torrent of {}: {:?}", req.path.display(), m.torrent),
        Err(e) => e,
    }
}

#[test]
fn typed_errors_for_bad_inputs() {
    let d = TempDir::new("errors");
    let missing = d.path().join("missing");
    assert!(matches!(err_of(&reproducible(&missing)), MakeError::NotFound(p) if p == missing));

    std::fs::create_dir_all(d.path().join("empty/sub/deeper")).unwrap();
    assert!(matches!(
        err_of(&reproducible(d.path().join("empty"))),
        MakeError::EmptyFolder(_)
    ));

    let f = d.file("file", 10, 1);
    for bad in [0, 1000, 1 << 14, (1 << 15) + 1, 1 << 29] {
        assert!(
            matches!(err_of(&reproducible(&f).piece_length(bad)), MakeError::BadPieceLength(n) if n == bad)
        );
    }
    for bad in ["", ".", "..", "a/b"] {
        assert!(
            matches!(err_of(&reproducible(&f).name(bad)), MakeError::BadName(_)),
            "{bad:?}"
        );
    }
    // A path through a file: not "not found" but a read error (ENOTDIR).
    let through = f.join("below");
    match err_of(&reproducible(&through)) {
        MakeError::Unreadable { path, .. } => assert_eq!(path, through),
        other => panic!("{other:?}"),
    }
}

#[cfg(unix)]
#[test]
fn typed_errors_for_links_fifos_and_permissions() {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let d = TempDir::new("errors-unix");
    d.file("tree/ok", 5, 1);
    symlink(d.path().join("nowhere"), d.path().join("tree/dangling")).unwrap();
    assert!(
        matches!(err_of(&reproducible(d.path().join("tree"))), MakeError::NotFound(p) if p.ends_with("dangling"))
    );

    d.file("loop/ok", 5, 1);
    symlink(".", d.path().join("loop/up")).unwrap();
    assert!(matches!(
        err_of(&reproducible(d.path().join("loop"))),
        MakeError::LinkLoop(_)
    ));

    let fifo = d.path().join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    assert!(matches!(
        err_of(&reproducible(&fifo)),
        MakeError::NotFileOrFolder(_)
    ));

    let secret = d.file("locked/secret", 5, 1);
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&secret).is_err() {
        let e = err_of(&reproducible(d.path().join("locked")));
        assert!(
            matches!(&e, MakeError::Unreadable { path, .. } if *path == secret),
            "{e:?}"
        );
        assert_eq!(e.io_kind(), Some(std::io::ErrorKind::PermissionDenied));
    } else {
        eprintln!("permission check skipped: running as root, mode 000 does not stop reads");
    }
}

#[test]
fn a_file_that_shrank_or_a_cancel_stops_the_hashing() {
    let d = TempDir::new("shrank");
    let f = d.file("f", 100, 1);
    let layout = Layout {
        single_file: true,
        files: vec![FileEntry {
            disk_path: f.clone(),
            components: vec![],
            length: 200,
        }],
        total_length: 200,
    };
    assert!(
        matches!(hash_files(&layout, P as u64, 1, &mut |_| true), Err(MakeError::Changed(p)) if p == f)
    );

    let big = d.big_file("big", 20 << 20);
    let mut calls = 0;
    let r = make_with_progress(&reproducible(&big), &mut |hashed, total| {
        calls += 1;
        assert_eq!(total, 20 << 20);
        assert!(hashed > 0 && hashed <= total);
        false
    });
    assert!(matches!(r, Err(MakeError::Cancelled)));
    assert_eq!(calls, 1, "stops at the first buffer");
}

// The component, through the scheduler.

/// Runs the harness until `done()` or 10 s of real time.
fn run_until(h: &mut Harness, mut done: impl FnMut(&Harness) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        h.run_until_idle();
        if done(h) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "timed out");
        h.wait_for_wake(Duration::from_millis(200));
    }
}

#[test]
fn component_makes_torrents_in_order_then_finishes() {
    let d = TempDir::new("comp");
    let a = d.file("a.bin", 3 * P + 1, 1);
    let b = d.file("dir/b.bin", 10, 2);
    let mut h = Harness::new();
    let id = h.spawn(TorrentMaker::with_template(
        MakeTorrent::new("")
            .announce("http://t.example/announce")
            .creation_date(None),
    ));
    let reqs = h.feeder::<MakeTorrent>(id, "inbox").unwrap();
    let paths = h.feeder::<PathBuf>(id, "paths").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<MadeTorrent>(id, "outbox").unwrap();
    let progress = h.collector::<Progress>(id, "progress").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();

    reqs.send(reproducible(&a).piece_length(P as u64).comment("first"))
        .unwrap();
    paths.send(d.path().join("dir")).unwrap();
    ctl.send(Signal::ProducerFinished).unwrap();
    let mut got = Vec::new();
    run_until(&mut h, |h| {
        got.extend(out.drain());
        !h.is_alive(id)
    });
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0],
        make(&reproducible(&a).piece_length(P as u64).comment("first")).unwrap()
    );
    assert_eq!(got[0].pieces, 4);
    // The path went through the template: its tracker, default pieces.
    let want =
        make(&reproducible(d.path().join("dir")).announce("http://t.example/announce")).unwrap();
    assert_eq!(got[1], want);
    assert_eq!(got[1].files, 1);
    assert!(b.exists());
    assert!(progress.drain().is_empty(), "small inputs send no progress");
    assert_eq!(sig.drain(), vec![Signal::ProducerFinished]);
}

#[test]
fn component_reports_bounded_progress_for_big_inputs() {
    let d = TempDir::new("comp-progress");
    let big = d.big_file("big.bin", 40 << 20);
    let mut h = Harness::new();
    let id = h.spawn(TorrentMaker::new().progress_step(1 << 20));
    let reqs = h.feeder::<MakeTorrent>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<MadeTorrent>(id, "outbox").unwrap();
    let progress = h.collector::<Progress>(id, "progress").unwrap();
    reqs.send(reproducible(&big)).unwrap();
    ctl.send(Signal::ProducerFinished).unwrap();
    run_until(&mut h, |h| !h.is_alive(id));
    let made = out.drain();
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].total_length, 40 << 20);
    let p = progress.drain();
    // One per 8 MiB read buffer here (the step is smaller than a buffer).
    let hashed: Vec<u64> = p.iter().map(|p| p.hashed).collect();
    assert_eq!(hashed, (1..=5).map(|i| i * (8 << 20)).collect::<Vec<u64>>());
    assert!(p.iter().all(|p| p.total == 40 << 20 && p.path == big));
}

#[test]
fn component_fails_with_a_typed_error() {
    let d = TempDir::new("comp-err");
    std::fs::create_dir_all(d.path().join("hollow")).unwrap();
    for (input, check) in [
        (
            d.path().join("missing"),
            (|e: &MakeError| matches!(e, MakeError::NotFound(_))) as fn(&MakeError) -> bool,
        ),
        (d.path().join("hollow"), |e: &MakeError| {
            matches!(e, MakeError::EmptyFolder(_))
        }),
    ] {
        let mut h = Harness::new();
        let id = h.spawn(TorrentMaker::new());
        let paths = h.feeder::<PathBuf>(id, "paths").unwrap();
        let out = h.collector::<MadeTorrent>(id, "outbox").unwrap();
        let sig = h.collector::<Signal>(id, "signal").unwrap();
        paths.send(input.clone()).unwrap();
        run_until(&mut h, |h| !h.is_alive(id));
        assert!(out.drain().is_empty());
        let sigs = sig.drain();
        assert_eq!(sigs.len(), 1);
        let Signal::Failed(f) = &sigs[0] else {
            panic!("{sigs:?}")
        };
        let e = f.downcast_ref::<MakeError>().expect("a MakeError");
        assert!(check(e), "{input:?}: {e:?}");
    }
}

#[test]
fn component_shuts_down_at_once_mid_hashing() {
    let d = TempDir::new("comp-shutdown");
    let big = d.big_file("big.bin", 32 << 20);
    let mut h = Harness::new();
    let id = h.spawn(TorrentMaker::new());
    let reqs = h.feeder::<MakeTorrent>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<MadeTorrent>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    reqs.send(reproducible(&big)).unwrap();
    reqs.send(reproducible(&big)).unwrap();
    h.run_until_idle();
    ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    assert!(!h.is_alive(id), "a shutdown does not wait for the hashing");
    assert_eq!(sig.drain(), vec![Signal::Shutdown]);
    assert!(out.len() <= 1);
}

#[test]
fn component_holds_a_result_refused_by_a_full_consumer() {
    let d = TempDir::new("comp-full");
    let files: Vec<PathBuf> = (0..3)
        .map(|i| d.file(&format!("f{i}"), 100 + i, i as u32))
        .collect();
    let mut h = Harness::new();
    let id = h.spawn(TorrentMaker::new());
    let reqs = h.feeder::<MakeTorrent>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.bounded_collector::<MadeTorrent>(id, "outbox", 1).unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    for f in &files {
        reqs.send(reproducible(f)).unwrap();
    }
    ctl.send(Signal::ProducerFinished).unwrap();
    let mut got = Vec::new();
    run_until(&mut h, |h| {
        // Take one at a time: the maker must keep the rest, in order.
        if let Some(m) = out.recv() {
            got.push(m);
        }
        !h.is_alive(id)
    });
    let lengths: Vec<u64> = got.iter().map(|m| m.total_length).collect();
    assert_eq!(lengths, vec![100, 101, 102]);
    assert_eq!(sig.drain(), vec![Signal::ProducerFinished]);
}

#[test]
fn component_keeps_no_progress_when_nobody_listens() {
    let d = TempDir::new("comp-unlinked");
    let big = d.big_file("big.bin", 24 << 20);
    let mut h = Harness::new();
    let id = h.spawn(TorrentMaker::new().progress_step(1 << 20));
    let reqs = h.feeder::<MakeTorrent>(id, "inbox").unwrap();
    let out = h.collector::<MadeTorrent>(id, "outbox").unwrap();
    reqs.send(reproducible(&big)).unwrap();
    let mut made = Vec::new();
    run_until(&mut h, |_| {
        made.extend(out.drain());
        !made.is_empty()
    });
    assert_eq!(made[0].total_length, 24 << 20);
    let progress = h.scheduler().find_box(id, "progress").unwrap();
    assert_eq!(progress.len(), 0, "progress piled up in an unlinked outbox");
    // Linked, the same request does report (so the check above means something).
    let p = h.collector::<Progress>(id, "progress").unwrap();
    reqs.send(reproducible(&big)).unwrap();
    made.clear();
    run_until(&mut h, |_| {
        made.extend(out.drain());
        !made.is_empty()
    });
    assert_eq!(p.drain().len(), 3);
}
