//! Metainfo: real files made by `mktorrent` (single file, a folder, a
//! private one) read field by field, their info-hashes against python3's
//! hashlib over the span a separate scanner finds; an unsorted file whose
//! info-hash is of its raw bytes; the builder; every hostile case a typed
//! error naming what is wrong.

use kamaelia::protocol::torrent::bencode::{ErrorKind, Owned};
use kamaelia::protocol::torrent::metainfo::{hex, Metainfo, MetainfoBuilder, MetainfoError};
use sha1::{Digest, Sha1};

mod torrent_support;
use torrent_support::{content, have, mktorrent, python_info_hash, TempDir};

const TRACKER: &str = "http://127.0.0.1:6969/announce";

fn sha1(b: &[u8]) -> [u8; 20] {
    Sha1::digest(b).into()
}

/// The SHA-1s of `data` cut into `piece` byte pieces.
fn piece_hashes(data: &[u8], piece: usize) -> Vec<[u8; 20]> {
    data.chunks(piece).map(sha1).collect()
}

#[test]
fn mktorrent_single_file() {
    if !have("mktorrent", "mktorrent_single_file") || !have("python3", "mktorrent_single_file") {
        return;
    }
    let dir = TempDir::new("single");
    let data = content(100_000, 1);
    let file = dir.path().join("data.bin");
    std::fs::write(&file, &data).unwrap();
    let out = dir.path().join("single.torrent");
    let bytes = mktorrent(&["-a", TRACKER, "-l", "15", "-c", "a comment"], &file, &out);

    let m = Metainfo::from_bytes(&bytes).unwrap();
    assert_eq!(m.info_hash_hex(), python_info_hash(&out));
    assert_eq!(m.name(), "data.bin");
    assert!(m.is_single_file());
    assert_eq!(m.files().len(), 1);
    assert_eq!(m.files()[0].path, ["data.bin"]);
    assert_eq!(m.files()[0].length, 100_000);
    assert_eq!(m.total_length(), 100_000);
    assert_eq!(m.piece_length(), 32_768);
    assert_eq!(m.piece_count(), 4);
    assert_eq!(m.pieces(), &piece_hashes(&data, 32_768)[..]);
    assert!(!m.is_private());
    assert_eq!(m.announce(), Some(TRACKER));
    assert_eq!(m.tiers(), vec![vec![TRACKER.to_string()]]);
    assert_eq!(m.comment(), Some("a comment"));
    assert!(m.created_by().unwrap().starts_with("mktorrent"));
    assert!(m.creation_date().unwrap() > 1_600_000_000);
    // Every key mktorrent wrote is one we keep: the file comes back whole.
    assert_eq!(m.to_bytes(), bytes);
}

#[test]
fn mktorrent_folder_with_tiers_and_web_seeds() {
    if !have("mktorrent", "mktorrent_folder") || !have("python3", "mktorrent_folder") {
        return;
    }
    let dir = TempDir::new("multi");
    let root = dir.path().join("album");
    std::fs::create_dir_all(root.join("Sub/deeper")).unwrap();
    let files: &[(&str, usize)] = &[
        ("b.txt", 1),
        ("a.txt", 16_384),
        ("Sub/x.bin", 40_000),
        ("Sub/deeper/y.bin", 5),
        ("sub.txt", 16_385),
    ];
    for (i, (name, len)) in files.iter().enumerate() {
        std::fs::write(root.join(name), content(*len, i as u32 + 10)).unwrap();
    }
    let out = dir.path().join("multi.torrent");
    let bytes = mktorrent(
        &[
            "-a",
            "http://127.0.0.1:1/a,udp://127.0.0.1:2",
            "-a",
            "http://127.0.0.1:3/b",
            "-w",
            "http://127.0.0.1:8/seed/",
            "-l",
            "15",
            "-d",
        ],
        &root,
        &out,
    );
    let m = Metainfo::from_bytes(&bytes).unwrap();
    assert_eq!(m.info_hash_hex(), python_info_hash(&out));
    assert_eq!(m.name(), "album");
    assert!(!m.is_single_file());
    assert_eq!(m.creation_date(), None);
    assert_eq!(
        m.announce_list(),
        &[
            vec![
                "http://127.0.0.1:1/a".to_string(),
                "udp://127.0.0.1:2".to_string()
            ],
            vec!["http://127.0.0.1:3/b".to_string()],
        ]
    );
    assert_eq!(m.announce(), Some("http://127.0.0.1:1/a"));
    assert_eq!(m.url_list(), ["http://127.0.0.1:8/seed/"]);
    // mktorrent sorts paths bytewise ("Sub/..." before "a.txt").
    let got: Vec<(String, u64, u64)> = m
        .files()
        .iter()
        .map(|f| (f.path.join("/"), f.length, f.offset))
        .collect();
    let want = [
        ("album/Sub/deeper/y.bin", 5, 0),
        ("album/Sub/x.bin", 40_000, 5),
        ("album/a.txt", 16_384, 40_005),
        ("album/b.txt", 1, 56_389),
        ("album/sub.txt", 16_385, 56_390),
    ];
    let want: Vec<(String, u64, u64)> = want
        .iter()
        .map(|(p, l, o)| (p.to_string(), *l, *o))
        .collect();
    assert_eq!(got, want);
    assert_eq!(m.total_length(), 72_775);
    assert_eq!(m.piece_length(), 32_768);
    assert_eq!(m.piece_count(), 3);
    // The pieces hash the files one after another, in that order.
    let mut stream = Vec::new();
    for p in ["Sub/deeper/y.bin", "Sub/x.bin", "a.txt", "b.txt", "sub.txt"] {
        stream.extend(std::fs::read(root.join(p)).unwrap());
    }
    assert_eq!(m.pieces(), &piece_hashes(&stream, 32_768)[..]);
    // The info dictionary is kept byte for byte when written back.
    let again = Metainfo::from_bytes(&m.to_bytes()).unwrap();
    assert_eq!(again, m);
    let magnet = m.magnet().to_string();
    assert!(magnet.starts_with(&format!(
        "magnet:?xt=urn:btih:{}&dn=album&tr=",
        m.info_hash_hex()
    )));
}

#[test]
fn mktorrent_private() {
    if !have("mktorrent", "mktorrent_private") || !have("python3", "mktorrent_private") {
        return;
    }
    let dir = TempDir::new("private");
    let file = dir.path().join("p.bin");
    std::fs::write(&file, content(1, 3)).unwrap();
    let out = dir.path().join("p.torrent");
    let private = mktorrent(&["-a", TRACKER, "-p", "-l", "15"], &file, &out);
    let m = Metainfo::from_bytes(&private).unwrap();
    assert!(m.is_private());
    assert_eq!(m.info_hash_hex(), python_info_hash(&out));
    std::fs::remove_file(&out).unwrap();
    let public = mktorrent(&["-a", TRACKER, "-l", "15"], &file, &out);
    let p = Metainfo::from_bytes(&public).unwrap();
    assert!(!p.is_private());
    assert_ne!(
        p.info_hash(),
        m.info_hash(),
        "private is inside the info-hash"
    );
    assert_eq!(p.piece_count(), 1);
}

/// The info-hash is of the bytes as found: an unsorted info dictionary
/// hashes differently from its canonical re-encoding.
#[test]
fn unsorted_info_hash_is_of_the_raw_bytes() {
    let pieces = sha1(b"abc");
    let mut info = Vec::new();
    info.extend_from_slice(b"d6:lengthi3e4:name1:x6:pieces20:");
    info.extend_from_slice(&pieces);
    info.extend_from_slice(b"12:piece lengthi16384ee");
    // "pieces" before "piece length": unsorted.
    let mut file = b"d8:announce3:x:y4:info".to_vec();
    file.extend_from_slice(&info);
    file.push(b'e');
    let m = Metainfo::from_bytes(&file).unwrap();
    assert_eq!(m.info_hash(), sha1(&info));
    assert_eq!(m.raw_info(), &info[..]);
    let canonical = MetainfoBuilder::single_file("x", 3, 16_384, vec![pieces])
        .build()
        .unwrap();
    assert_ne!(canonical.info_hash(), m.info_hash());
    // Written back, the info dictionary stays as it was.
    assert_eq!(
        Metainfo::from_bytes(&m.to_bytes()).unwrap().info_hash(),
        m.info_hash()
    );
    // A known vector: SHA-1("abc").
    assert_eq!(hex(&pieces), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

#[test]
fn builder_writes_what_it_reads() {
    let files = vec![
        (vec!["a".to_string(), "b.txt".to_string()], 10),
        (vec!["c".to_string()], 30_000),
    ];
    let m = MetainfoBuilder::multi_file("top", files, 16_384, vec![[1; 20], [2; 20]])
        .private(true)
        .announce("udp://127.0.0.1:1")
        .tier(vec![
            "udp://127.0.0.1:1".into(),
            "http://127.0.0.1:2/a".into(),
        ])
        .tier(vec!["http://127.0.0.1:3/a".into()])
        .web_seed("http://127.0.0.1:4/")
        .creation_date(1_700_000_000)
        .comment("c")
        .created_by("kamaelia")
        .encoding("UTF-8")
        .build()
        .unwrap();
    assert!(m.is_private());
    assert_eq!(m.files()[1].offset, 10);
    assert_eq!(m.tiers().len(), 2);
    assert_eq!(m.encoding(), Some("UTF-8"));
    let bytes = m.to_bytes();
    assert_eq!(Metainfo::from_bytes(&bytes).unwrap(), m);
    // Canonical: our strict decoder takes it.
    assert!(kamaelia::protocol::torrent::bencode::decode_strict(&bytes).is_ok());
    // A builder given a bad path gets the same error as a file would.
    let bad = MetainfoBuilder::multi_file("t", vec![(vec!["..".into()], 1)], 16_384, vec![[0; 20]]);
    assert!(matches!(bad.build(), Err(MetainfoError::BadPath { .. })));
}

// ---------------------------------------------------------------------------
// Hostile and malformed files

fn info_base(files: Option<Vec<Owned>>, total: u64) -> Owned {
    let mut info = Owned::dict();
    info.insert("name", "t");
    info.insert("piece length", 16_384);
    let n = total.div_ceil(16_384) as usize;
    info.insert("pieces", vec![0u8; 20 * n]);
    match files {
        None => info.insert("length", total as i64),
        Some(f) => info.insert("files", Owned::List(f)),
    }
    info
}

fn wrap(info: Owned) -> Vec<u8> {
    let mut top = Owned::dict();
    top.insert("info", info);
    top.encode()
}

fn file(path: &[&[u8]], len: i64) -> Owned {
    let mut f = Owned::dict();
    f.insert("length", len);
    f.insert(
        "path",
        Owned::List(path.iter().map(|c| Owned::Bytes(c.to_vec())).collect()),
    );
    f
}

fn multi(paths: &[&[&[u8]]]) -> Result<Metainfo, MetainfoError> {
    let files = paths.iter().map(|p| file(p, 1)).collect();
    Metainfo::from_bytes(&wrap(info_base(Some(files), paths.len() as u64)))
}

fn bad_path(paths: &[&[&[u8]]]) -> (usize, &'static str) {
    match multi(paths) {
        Err(MetainfoError::BadPath { file, reason }) => (file, reason),
        other => panic!("{paths:?}: {other:?}"),
    }
}

#[test]
fn paths_that_escape_or_cannot_be_written() {
    assert_eq!(bad_path(&[&[b"ok"], &[b"..", b"etc"]]).0, 1);
    assert!(bad_path(&[&[b".."]]).1.contains(".."));
    assert!(bad_path(&[&[b"."]]).1.contains('.'));
    assert!(bad_path(&[&[b"/etc/passwd"]]).1.contains('/'));
    assert!(bad_path(&[&[b"a/../../b"]]).1.contains('/'));
    assert!(bad_path(&[&[b"..\\..\\x"]]).1.contains('\\'));
    assert!(bad_path(&[&[b"C:", b"x"]]).1.contains("drive"));
    assert_eq!(bad_path(&[&[b"a", b""]]).1, "empty component");
    assert_eq!(bad_path(&[&[]]).1, "empty path");
    assert_eq!(bad_path(&[&[b"a\0b"]]).1, "NUL in a component");
    // The name is a component too.
    let mut info = info_base(None, 1);
    info.insert("name", "../x");
    assert!(matches!(
        Metainfo::from_bytes(&wrap(info)),
        Err(MetainfoError::BadPath { file: 0, .. })
    ));
    let mut info = info_base(None, 1);
    info.insert("name", "");
    assert!(matches!(
        Metainfo::from_bytes(&wrap(info)),
        Err(MetainfoError::BadPath {
            file: 0,
            reason: "empty component"
        })
    ));
}

#[test]
fn paths_that_collide() {
    let dup = |p: &[&[&[u8]]]| match multi(p) {
        Err(MetainfoError::DuplicatePath {
            first,
            second,
            case_only,
        }) => (first, second, case_only),
        other => panic!("{p:?}: {other:?}"),
    };
    assert_eq!(dup(&[&[b"a", b"b"], &[b"c"], &[b"a", b"b"]]), (0, 2, false));
    assert_eq!(dup(&[&[b"Readme"], &[b"README"]]), (0, 1, true));
    assert_eq!(
        dup(&[&[b"\xc3\x89t\xc3\xa9"], &[b"\xc3\xa9T\xc3\x89"]]),
        (0, 1, true)
    );
    // A file where another file's folder is, either order.
    assert_eq!(dup(&[&[b"a"], &[b"a", b"b"]]), (0, 1, false));
    assert_eq!(dup(&[&[b"a", b"b"], &[b"A"]]), (0, 1, false));
    // Different names are fine, and so are BEP 47 pads of one size.
    assert!(multi(&[&[b"a"], &[b"b"], &[b"c", b"a"]]).is_ok());
    let mut pad = file(&[b".pad", b"1"], 1);
    pad.insert("attr", "p");
    let files = vec![file(&[b"x"], 1), pad.clone(), file(&[b"y"], 1), pad];
    let m = Metainfo::from_bytes(&wrap(info_base(Some(files), 4))).unwrap();
    assert!(m.files()[1].padding && m.files()[3].padding);
}

fn field_error(info: Owned) -> MetainfoError {
    Metainfo::from_bytes(&wrap(info)).unwrap_err()
}

#[test]
fn pieces_and_lengths() {
    let mut i = info_base(None, 1);
    i.insert("pieces", vec![0u8; 19]);
    assert_eq!(
        field_error(i),
        MetainfoError::Invalid {
            field: "info.pieces",
            reason: "length not a multiple of 20"
        }
    );
    let mut i = info_base(None, 16_385);
    i.insert("pieces", vec![0u8; 20]);
    assert!(matches!(
        field_error(i),
        MetainfoError::Invalid {
            field: "info.pieces",
            ..
        }
    ));
    let mut i = info_base(None, 1);
    i.insert("piece length", 0);
    assert!(matches!(
        field_error(i),
        MetainfoError::Invalid {
            field: "info.piece length",
            ..
        }
    ));
    let mut i = info_base(None, 1);
    i.insert("length", -1);
    assert_eq!(
        field_error(i),
        MetainfoError::Invalid {
            field: "info.length",
            reason: "negative"
        }
    );
    let mut i = info_base(None, 1);
    i.insert("files", Owned::List(vec![file(&[b"a"], 1)]));
    assert!(matches!(
        field_error(i),
        MetainfoError::Invalid { field: "info", .. }
    ));
    let files = vec![
        file(&[b"a"], i64::MAX),
        file(&[b"b"], i64::MAX),
        file(&[b"c"], 2),
    ];
    assert!(matches!(
        field_error(info_base(Some(files), 1)),
        MetainfoError::Invalid {
            field: "info.files",
            ..
        }
    ));
    assert_eq!(
        field_error(info_base(Some(vec![]), 0)),
        MetainfoError::Invalid {
            field: "info.files",
            reason: "empty"
        }
    );
    let mut i = info_base(None, 1);
    i.insert("private", 2);
    assert!(matches!(
        field_error(i),
        MetainfoError::Invalid {
            field: "info.private",
            ..
        }
    ));
    let mut i = info_base(None, 1);
    i.insert("name", 5);
    assert_eq!(
        field_error(i),
        MetainfoError::WrongType {
            field: "name",
            expected: "a string"
        }
    );
}

#[test]
fn missing_and_malformed_outer_fields() {
    assert_eq!(
        Metainfo::from_bytes(b"d8:announce1:xe").unwrap_err(),
        MetainfoError::Missing("info")
    );
    assert_eq!(
        Metainfo::from_bytes(b"le").unwrap_err(),
        MetainfoError::NotADictionary
    );
    let mut top = Owned::dict();
    top.insert("info", info_base(None, 1));
    top.insert("announce-list", "x");
    assert!(matches!(
        Metainfo::from_bytes(&top.encode()),
        Err(MetainfoError::WrongType {
            field: "announce-list",
            ..
        })
    ));
    // Web seeds: a string or a list; an empty tier is dropped.
    let mut top = Owned::dict();
    top.insert("info", info_base(None, 1));
    top.insert("url-list", "http://127.0.0.1/x");
    top.insert(
        "announce-list",
        Owned::List(vec![Owned::List(vec![]), Owned::List(vec!["u".into()])]),
    );
    let m = Metainfo::from_bytes(&top.encode()).unwrap();
    assert_eq!(m.url_list(), ["http://127.0.0.1/x"]);
    assert_eq!(m.announce_list(), [vec!["u".to_string()]]);
    let mut top = Owned::dict();
    top.insert("info", info_base(None, 1));
    top.insert("url-list", 7);
    assert!(matches!(
        Metainfo::from_bytes(&top.encode()),
        Err(MetainfoError::WrongType {
            field: "url-list",
            ..
        })
    ));
}

#[test]
fn names_not_utf8() {
    let mut i = info_base(None, 1);
    i.insert("name", &b"caf\xe9"[..]);
    assert_eq!(field_error(i.clone()), MetainfoError::NotUtf8("name"));
    i.insert("name.utf-8", "café");
    let m = Metainfo::from_bytes(&wrap(i)).unwrap();
    assert_eq!(m.name(), "café");
}

#[test]
fn v2_only_is_refused_and_hybrid_read_for_v1() {
    let mut v2 = Owned::dict();
    v2.insert("name", "t");
    v2.insert("piece length", 16_384);
    v2.insert("meta version", 2);
    v2.insert("file tree", Owned::dict());
    assert_eq!(field_error(v2), MetainfoError::V2Only);
    let mut hybrid = info_base(None, 1);
    hybrid.insert("meta version", 2);
    hybrid.insert("file tree", Owned::dict());
    let m = Metainfo::from_bytes(&wrap(hybrid)).unwrap();
    assert!(m.is_hybrid());
    assert_eq!(m.total_length(), 1);
    let mut v3 = info_base(None, 1);
    v3.insert("meta version", 3);
    assert!(matches!(
        field_error(v3),
        MetainfoError::Invalid {
            field: "info.meta version",
            ..
        }
    ));
}

#[test]
fn hostile_bencode() {
    // A 2 GiB length prefix: refused before anything is read or allocated.
    let e = Metainfo::from_bytes(b"d4:info2147483648:abc").unwrap_err();
    match e {
        MetainfoError::Bencode(b) => {
            assert_eq!((b.offset, b.kind), (7, ErrorKind::LengthBeyondInput))
        }
        other => panic!("{other:?}"),
    }
    // 10,000-deep nesting: refused at the depth limit, no stack overflow.
    let mut deep = b"d4:info".to_vec();
    deep.extend(std::iter::repeat_n(b'l', 10_000));
    deep.extend(std::iter::repeat_n(b'e', 10_000));
    deep.push(b'e');
    match Metainfo::from_bytes(&deep).unwrap_err() {
        MetainfoError::Bencode(b) => assert_eq!(b.kind, ErrorKind::TooDeep),
        other => panic!("{other:?}"),
    }
    // Truncated anywhere: an error, never a panic.
    let good = wrap(info_base(None, 1));
    for cut in 0..good.len() {
        assert!(Metainfo::from_bytes(&good[..cut]).is_err());
    }
    assert!(Metainfo::from_bytes(&good).is_ok());
}
