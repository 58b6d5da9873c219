//! `kamaelia make`, run for real: the info-hash it prints is the SHA-1 of
//! the info dictionary in the file it wrote, and `mktorrent` on the same
//! input with the same piece length and options gets the same info-hash;
//! failures exit 1 with one `kamaelia:` line and leave OUT unwritten.
//!
//! The mktorrent comparisons are skipped (with a note) when mktorrent is
//! missing, or fail with `KAMAELIA_REQUIRE_INTEROP=1`.

#![cfg(feature = "cli")]

mod torrent_support;

use std::path::Path;
use std::process::{Command, Stdio};

use torrent_support::{have, hex, info_hash_of, info_int, mktorrent, TempDir};

const BIN: &str = env!("CARGO_BIN_EXE_kamaelia");

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn kamaelia(args: &[&str], target: &Path) -> Run {
    let o = Command::new(BIN)
        .arg("make")
        .arg(target)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("kamaelia runs");
    Run {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Runs `kamaelia make TARGET -o OUT ARGS`, checks the printed info-hash
/// against the file written, returns (hash, file).
fn make_ok(target: &Path, out: &Path, args: &[&str]) -> (String, Vec<u8>) {
    let mut all = vec!["-o", out.to_str().unwrap()];
    all.extend_from_slice(args);
    let r = kamaelia(&all, target);
    assert_eq!(r.code, Some(0), "stderr: {}", r.stderr);
    let printed = r.stdout.trim_end().to_string();
    assert_eq!(r.stdout, format!("{printed}\n"), "one line on stdout");
    assert_eq!(printed.len(), 40);
    let file = std::fs::read(out).unwrap();
    assert_eq!(printed, hex(&info_hash_of(&file)));
    (printed, file)
}

#[test]
fn make_prints_the_info_hash_mktorrent_gets() {
    let root = TempDir::new("cli-make");
    root.file("album/01 Intro.ogg", 70_000, 1);
    root.file("album/02 outro.ogg", (1 << 15) * 2, 2);
    root.file("album/Cover.JPG", 1, 3);
    let single = root.file("one.bin", (1 << 18) + 5, 4);
    let out = root.path().join("ours.torrent");
    let theirs = root.path().join("theirs.torrent");
    let album = root.path().join("album");
    let mk = have("mktorrent", "make_prints_the_info_hash_mktorrent_gets");

    // Piece length given, trackers, comment, private.
    let (hash, file) = make_ok(
        &album,
        &out,
        &[
            "--piece-length",
            "32768",
            "--announce",
            "http://127.0.0.1:6969/announce",
            "--announce",
            "udp://127.0.0.1:6969,http://backup.example/a",
            "--private",
            "--comment",
            "a comment",
        ],
    );
    assert_eq!(info_int(&file, b"piece length"), Some(32768));
    assert_eq!(info_int(&file, b"private"), Some(1));
    if mk {
        let t = mktorrent(
            &[
                "-l",
                "15",
                "-a",
                "http://127.0.0.1:6969/announce",
                "-a",
                "udp://127.0.0.1:6969,http://backup.example/a",
                "-p",
                "-c",
                "a comment",
            ],
            &album,
            &theirs,
        );
        assert_eq!(hash, hex(&info_hash_of(&t)));
    }

    // Default piece length, a single file.
    let (hash, file) = make_ok(&single, &out, &[]);
    assert_eq!(info_int(&file, b"piece length"), Some(1 << 18));
    if mk {
        let t = mktorrent(&[], &single, &theirs);
        assert_eq!(hash, hex(&info_hash_of(&t)));
    }
}

#[test]
fn make_fails_cleanly() {
    let root = TempDir::new("cli-make-fail");
    std::fs::create_dir_all(root.path().join("hollow")).unwrap();
    let f = root.file("f", 10, 1);
    let out = root.path().join("out.torrent");
    let o = out.to_str().unwrap();
    for (target, args, says) in [
        (
            root.path().join("missing"),
            vec!["-o", o],
            "no such file or folder",
        ),
        (
            root.path().join("hollow"),
            vec!["-o", o],
            "no files in the folder",
        ),
        (
            f.clone(),
            vec!["-o", o, "--piece-length", "1000"],
            "piece length 1000",
        ),
    ] {
        let r = kamaelia(&args, &target);
        assert_eq!(r.code, Some(1), "{target:?}: {}", r.stderr);
        assert!(r.stdout.is_empty());
        assert!(
            r.stderr.starts_with("kamaelia: ") && r.stderr.contains(says),
            "{target:?}: {}",
            r.stderr
        );
        assert!(!out.exists(), "OUT written on failure");
    }
    // A usage error (no -o) is clap's exit 2.
    let r = kamaelia(&[], &f);
    assert_eq!(r.code, Some(2));
}
