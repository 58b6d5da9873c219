//! Our torrent maker against `mktorrent` 1.1 (the Debian package) on the
//! same generated files: the info-hash must be the SHA-1 of the info
//! dictionary's raw bytes in mktorrent's file, for single files whose sizes
//! fall on, just past and just short of piece boundaries, a one-byte file,
//! and a nested folder whose names sort differently bytewise, case-blind and
//! component by component; with `-l` and with mktorrent's default piece
//! length, with trackers, comment and the private flag. With the date left
//! out (`-d`) and `created by` set to mktorrent's, the whole file must be
//! byte for byte mktorrent's.
//!
//! Skipped, with the reason printed, when mktorrent is missing; with
//! `KAMAELIA_REQUIRE_INTEROP=1` a skip is a failure (CI installs the Debian
//! package `mktorrent`).

mod torrent_support;

use std::path::Path;

use kamaelia::protocol::torrent::maker::{make, MakeTorrent};
use torrent_support::{have, info_hash_of, info_int, mktorrent, TempDir};

/// 2^15, mktorrent's `-l 15`.
const P: usize = 1 << 15;

/// Our request with mktorrent's fixed fields, reproducible.
fn ours(target: &Path) -> MakeTorrent {
    MakeTorrent::new(target)
        .creation_date(None)
        .created_by(Some("mktorrent 1.1".into()))
}

/// Makes `req` and the mktorrent file for `args`, and checks the
/// info-hashes agree and the files are equal byte for byte (`-d` is
/// always passed, as `req` has no date). Returns mktorrent's file.
fn same(req: &MakeTorrent, args: &[&str], scratch: &TempDir) -> Vec<u8> {
    let made = make(req).unwrap_or_else(|e| panic!("make {}: {e}", req.path.display()));
    let out = scratch.path().join("mk.torrent");
    let mut all = vec!["-d"];
    all.extend_from_slice(args);
    let theirs = mktorrent(&all, &req.path, &out);
    assert_eq!(
        made.info_hash,
        info_hash_of(&theirs),
        "info-hash differs from mktorrent {all:?} on {}",
        req.path.display()
    );
    assert_eq!(
        made.torrent.as_ref(),
        &theirs[..],
        "torrent file differs from mktorrent {all:?}:\n ours   {}\n theirs {}",
        String::from_utf8_lossy(&made.torrent),
        String::from_utf8_lossy(&theirs)
    );
    theirs
}

#[test]
fn single_files_on_and_off_piece_boundaries() {
    if !have("mktorrent", "single_files_on_and_off_piece_boundaries") {
        return;
    }
    let data = TempDir::new("mk-single");
    let scratch = TempDir::new("mk-single-out");
    let sizes = [1, P - 1, P, P + 1, 2 * P - 1, 2 * P, 2 * P + 1, 5 * P + 17];
    for (i, &len) in sizes.iter().enumerate() {
        let f = data.file(&format!("file{i}.bin"), len, i as u32 + 1);
        let req = ours(&f)
            .announce("http://127.0.0.1:6969/announce")
            .piece_length(P as u64);
        let theirs = same(
            &req,
            &["-l", "15", "-a", "http://127.0.0.1:6969/announce"],
            &scratch,
        );
        assert_eq!(info_int(&theirs, b"length"), Some(len as i64));
        assert_eq!(info_int(&theirs, b"piece length"), Some(P as i64));
        // Default piece length (no -l): mktorrent 1.1 uses 2^18 whatever the size.
        let theirs = same(&ours(&f), &[], &scratch);
        assert_eq!(info_int(&theirs, b"piece length"), Some(1 << 18));
    }
}

#[test]
fn default_piece_length_matches_beyond_one_piece() {
    if !have("mktorrent", "default_piece_length_matches_beyond_one_piece") {
        return;
    }
    let data = TempDir::new("mk-default");
    let scratch = TempDir::new("mk-default-out");
    // 3 default pieces and a bit: several full 2^18 pieces and a short one.
    let f = data.file("three.bin", 3 * (1 << 18) + 1000, 9);
    let theirs = same(&ours(&f), &[], &scratch);
    assert_eq!(info_int(&theirs, b"piece length"), Some(1 << 18));
}

/// A folder whose names sort in different orders by strcmp on the whole
/// path (mktorrent's order), case-blind, and component by component.
fn nested(tag: &str) -> TempDir {
    let d = TempDir::new(tag);
    let files: &[(&str, usize)] = &[
        ("Zeta.txt", 1),
        ("alpha.txt", P - 3),
        ("Alpha.txt", 5),
        ("B/inner.bin", P + 7),
        ("b", 2 * P),
        ("x/y/f", 100),
        ("x-y/g", P),
        ("x.y/h", 3),
        ("x0", 2 * P + 1),
        ("_under", 10),
        (".hidden", 11),
        (".dir/inside", 12),
        ("empty", 0),
        ("Deep/a/b/c/d.dat", 3 * P - 1),
        ("deep/A", 1),
    ];
    for (i, (rel, len)) in files.iter().enumerate() {
        d.file(rel, *len, 100 + i as u32);
    }
    d
}

#[test]
fn nested_folder_with_mixed_case_names() {
    if !have("mktorrent", "nested_folder_with_mixed_case_names") {
        return;
    }
    let root = nested("mk-nested");
    let scratch = TempDir::new("mk-nested-out");
    let target = root.path();
    same(
        &ours(target).piece_length(P as u64),
        &["-l", "15"],
        &scratch,
    );
    same(&ours(target), &[], &scratch);
    let theirs = same(
        &ours(target)
            .piece_length(1 << 16)
            .announce("http://a.example/announce")
            .tier(vec![
                "udp://b.example:80".into(),
                "http://c.example/ann".into(),
            ])
            .comment("made by a test")
            .private(true),
        &[
            "-l",
            "16",
            "-a",
            "http://a.example/announce",
            "-a",
            "udp://b.example:80,http://c.example/ann",
            "-c",
            "made by a test",
            "-p",
        ],
        &scratch,
    );
    assert_eq!(info_int(&theirs, b"private"), Some(1));
    // The order really is strcmp's on the whole path: x-y and x.y before x/.
    let text = String::from_utf8_lossy(&theirs);
    let at = |s: &str| {
        text.find(s)
            .unwrap_or_else(|| panic!("{s} not in the file"))
    };
    assert!(at("3:x-y1:g") < at("3:x.y1:h") && at("3:x.y1:h") < at("1:x1:y1:f"));
}

#[test]
fn private_flag_and_trailing_slash_and_no_tracker() {
    if !have(
        "mktorrent",
        "private_flag_and_trailing_slash_and_no_tracker",
    ) {
        return;
    }
    let root = nested("mk-private");
    let scratch = TempDir::new("mk-private-out");
    // "dir/" names the torrent after "dir", as mktorrent strips the slash.
    let slashed = root.path().join("");
    let theirs = same(&ours(&slashed).private(true), &["-p"], &scratch);
    assert_eq!(info_int(&theirs, b"private"), Some(1));
    // Without -p there is no private key at all (not private=0).
    let theirs = same(&ours(root.path()), &[], &scratch);
    assert_eq!(info_int(&theirs, b"private"), None);
}

#[cfg(unix)]
#[test]
fn symlinks_are_followed_like_mktorrent() {
    if !have("mktorrent", "symlinks_are_followed_like_mktorrent") {
        return;
    }
    let root = TempDir::new("mk-links");
    let scratch = TempDir::new("mk-links-out");
    root.file("real/one", P + 1, 1);
    root.file("real/two", 7, 2);
    std::os::unix::fs::symlink("real/one", root.path().join("link-to-file")).unwrap();
    std::os::unix::fs::symlink("real", root.path().join("link-to-dir")).unwrap();
    same(
        &ours(root.path()).piece_length(P as u64),
        &["-l", "15"],
        &scratch,
    );
}

#[test]
fn a_folder_with_one_file_is_still_a_folder() {
    if !have("mktorrent", "a_folder_with_one_file_is_still_a_folder") {
        return;
    }
    let root = TempDir::new("mk-onefile");
    let scratch = TempDir::new("mk-onefile-out");
    root.file("only.bin", 1, 3);
    let theirs = same(&ours(root.path()), &[], &scratch);
    assert_eq!(info_int(&theirs, b"length"), None);
}

#[cfg(unix)]
#[test]
fn names_in_utf8_and_not_and_a_given_name() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    if !have("mktorrent", "names_in_utf8_and_not_and_a_given_name") {
        return;
    }
    let root = TempDir::new("mk-names");
    let scratch = TempDir::new("mk-names-out");
    root.file("café/naïve résumé.txt", P + 3, 1);
    root.file("with space/x", 2, 2);
    root.file("Ünïcode", 3, 3);
    let latin1 = root.path().join(OsStr::from_bytes(b"caf\xe9-latin1"));
    std::fs::write(&latin1, b"not utf-8 in the name").unwrap();
    same(
        &ours(root.path()).piece_length(P as u64),
        &["-l", "15"],
        &scratch,
    );
    same(
        &ours(root.path()).name("Given Name"),
        &["-n", "Given Name"],
        &scratch,
    );
}
