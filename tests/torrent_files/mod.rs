//! What the metainfo tests share: temporary folders, files of known
//! content, `mktorrent` run on them, and the info-hash computed outside
//! Rust (python3's hashlib over the span of the info dictionary that a
//! separate, tiny bencode scanner finds).
//!
//! A missing `mktorrent` or `python3` skips the test that needs it with a
//! printed note, unless `KAMAELIA_REQUIRE_INTEROP=1`, when it fails.

#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A fresh temporary folder, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let p =
            std::env::temp_dir().join(format!("kamaelia-metainfo-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `len` bytes that differ from file to file (`seed`), not all zero.
pub fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Whether `program` runs; if not, a note (or a failure when interop is
/// required).
pub fn have(program: &str, test: &str) -> bool {
    let ok = Command::new(program)
        .arg(if program == "python3" {
            "--version"
        } else {
            "-h"
        })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if ok {
        return true;
    }
    let msg =
        format!("{test}: skipped: {program} not installed (Debian: apt-get install -y {program})");
    if std::env::var_os("KAMAELIA_REQUIRE_INTEROP").is_some_and(|v| v == "1") {
        panic!("{msg}");
    }
    let _ = writeln!(std::io::stderr(), "{msg}");
    false
}

/// Runs `mktorrent args... target -o out` and returns the file's bytes.
pub fn mktorrent(args: &[&str], target: &Path, out: &Path) -> Vec<u8> {
    let o = Command::new("mktorrent")
        .args(args)
        .arg("-o")
        .arg(out)
        .arg(target)
        .stdin(Stdio::null())
        .output()
        .expect("mktorrent runs");
    assert!(
        o.status.success(),
        "mktorrent failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read(out).unwrap()
}

/// A bencode scanner of its own (not the crate's) finds the top-level
/// `info` value's bytes; hashlib hashes them.
const INFO_HASH_PY: &str = r#"
import sys, hashlib
b = open(sys.argv[1], 'rb').read()
def skip(i):
    c = b[i:i+1]
    if c == b'i':
        return b.index(b'e', i) + 1
    if c in (b'l', b'd'):
        i += 1
        while b[i:i+1] != b'e':
            i = skip(i)
        return i + 1
    colon = b.index(b':', i)
    return colon + 1 + int(b[i:colon])
assert b[0:1] == b'd'
i = 1
while b[i:i+1] != b'e':
    colon = b.index(b':', i)
    end = colon + 1 + int(b[i:colon])
    key = b[colon+1:end]
    j = skip(end)
    if key == b'info':
        print(hashlib.sha1(b[end:j]).hexdigest())
        break
    i = j
"#;

/// The info-hash of the file at `path`, in hex, computed by python3.
pub fn python_info_hash(path: &Path) -> String {
    let o = Command::new("python3")
        .arg("-c")
        .arg(INFO_HASH_PY)
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs");
    assert!(
        o.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}
