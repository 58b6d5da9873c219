//! `kamaelia show FILE.torrent`, the built binary run for real on a file
//! made by `mktorrent` (skipped with a note when mktorrent is missing,
//! unless `KAMAELIA_REQUIRE_INTEROP=1`): every line of its output checked,
//! the info-hash against python3's hashlib. A file that is not a torrent,
//! and a missing file, fail with one line and status 1.
//!
//! Every child process is killed by a guard when the test ends, however it
//! ends; every wait is bounded by a deadline.

#![cfg(feature = "cli")]

use std::time::Duration;

mod torrent_support;
use torrent_support::{content, have, mktorrent, python_info_hash, TempDir};

mod cli_support;
use cli_support::{run_within, BIN};

const DEADLINE: Duration = Duration::from_secs(20);

/// Runs `kamaelia args` to its end, within [`DEADLINE`]: exit code,
/// stdout, stderr.
fn run(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let o = run_within(BIN, args, DEADLINE);
    (o.code, o.text(), o.stderr)
}

#[test]
fn show_a_mktorrent_file() {
    if !have("mktorrent", "show_a_mktorrent_file") || !have("python3", "show_a_mktorrent_file") {
        return;
    }
    let dir = TempDir::new("show");
    let root = dir.path().join("My Files");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("one.bin"), content(40_000, 1)).unwrap();
    std::fs::write(root.join("sub/two.txt"), content(7, 2)).unwrap();
    let out = dir.path().join("t.torrent");
    mktorrent(
        &[
            "-a",
            "http://127.0.0.1:1/announce,udp://127.0.0.1:2",
            "-a",
            "http://127.0.0.1:3/announce",
            "-w",
            "http://127.0.0.1:4/files/",
            "-l",
            "15",
            "-p",
            "-d",
            "-c",
            "made for a test",
        ],
        &root,
        &out,
    );
    let hash = python_info_hash(&out);
    let (code, stdout, stderr) = run(&["show".as_ref(), out.as_os_str()]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr, "");
    let lines: Vec<&str> = stdout.lines().collect();
    let created_by = lines
        .iter()
        .find(|l| l.starts_with("created by: mktorrent"))
        .expect("created by line");
    let want = [
        "name: My Files".to_string(),
        format!("info-hash: {hash}"),
        "private: yes".to_string(),
        "piece length: 32768 (32.0 KiB)".to_string(),
        "pieces: 2".to_string(),
        "total: 40007 bytes (39.1 KiB) in 2 files".to_string(),
        "files:".to_string(),
        format!("  {:>12}  My Files/one.bin", 40_000),
        format!("  {:>12}  My Files/sub/two.txt", 7),
        "trackers:".to_string(),
        "  tier 1: http://127.0.0.1:1/announce udp://127.0.0.1:2".to_string(),
        "  tier 2: http://127.0.0.1:3/announce".to_string(),
        "web seeds:".to_string(),
        "  http://127.0.0.1:4/files/".to_string(),
        "comment: made for a test".to_string(),
        created_by.to_string(),
        format!(
            "magnet: magnet:?xt=urn:btih:{hash}&dn=My%20Files\
             &tr=http%3A%2F%2F127.0.0.1%3A1%2Fannounce&tr=udp%3A%2F%2F127.0.0.1%3A2\
             &tr=http%3A%2F%2F127.0.0.1%3A3%2Fannounce"
        ),
    ];
    assert_eq!(lines, want);
}

#[test]
fn show_refuses_what_is_not_a_torrent() {
    let dir = TempDir::new("show-bad");
    let bad = dir.path().join("bad.torrent");
    std::fs::write(
        &bad,
        b"d4:infod4:name2:..6:lengthi1e12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee",
    )
    .unwrap();
    let (code, stdout, stderr) = run(&["show".as_ref(), bad.as_os_str()]);
    assert_eq!(code, Some(1));
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        format!(
            "kamaelia: {}: metainfo: path of file 0: `.` or `..` component\n",
            bad.display()
        )
    );
    let missing = dir.path().join("missing.torrent");
    let (code, _, stderr) = run(&["show".as_ref(), missing.as_os_str()]);
    assert_eq!(code, Some(1));
    assert!(stderr.starts_with("kamaelia: cannot read "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1);
    let (code, _, _) = run(&["show".as_ref()]);
    assert_eq!(code, Some(2), "a usage error");
}
