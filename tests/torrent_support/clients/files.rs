//! The files a client wrote, compared: SHA-256 by `sha256sum` (outside
//! Rust and the crate), every file of a torrent between two folders.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The SHA-256 of a file, in hex, by `sha256sum`.
pub fn sha256_of(path: &Path) -> Result<String, String> {
    let o = Command::new("sha256sum")
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("sha256sum: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "sha256sum {}: {}",
            path.display(),
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&o.stdout);
    Ok(text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string())
}

/// Checks every file of `torrent` (padding files aside) under `a` against
/// the same under `b`: each present, of the torrent's length, the same
/// SHA-256. Returns each file's relative path and digest.
pub fn same_files(torrent: &Path, a: &Path, b: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    use kamaelia::protocol::torrent::metainfo::Metainfo;
    let bytes = std::fs::read(torrent).map_err(|e| format!("{}: {e}", torrent.display()))?;
    let meta = Metainfo::from_bytes(&bytes).map_err(|e| format!("{e:?}"))?;
    let mut out = Vec::new();
    for f in meta.files().iter().filter(|f| !f.padding) {
        let rel: PathBuf = f.path.iter().collect();
        for dir in [a, b] {
            let len = std::fs::metadata(dir.join(&rel))
                .map_err(|e| format!("{}: {e}", dir.join(&rel).display()))?
                .len();
            if len != f.length {
                return Err(format!(
                    "{}: {len} bytes, the torrent says {}",
                    dir.join(&rel).display(),
                    f.length
                ));
            }
        }
        let (ha, hb) = (sha256_of(&a.join(&rel))?, sha256_of(&b.join(&rel))?);
        if ha != hb {
            return Err(format!(
                "{}: {ha} in {}, {hb} in {}",
                rel.display(),
                a.display(),
                b.display()
            ));
        }
        out.push((rel, ha));
    }
    Ok(out)
}

/// A MiB, for the sizes of test files.
pub const MIB: usize = 1 << 20;
/// How long a seeder may take to check its files.
pub const CHECK: Duration = Duration::from_secs(15);
/// How long a download of a few MiB on 127.0.0.1 may take.
pub const TRANSFER: Duration = Duration::from_secs(40);

/// `r` holds every piece within `limit`, or the test fails with why.
pub fn wait(r: &mut super::Running, limit: Duration) {
    if let Err(e) = r.wait_complete(limit) {
        panic!("{e}");
    }
}

/// Every one of the torrent's `files` is the same in `a` and `b`, or the
/// test fails; their digests are printed.
pub fn check_same(torrent: &Path, a: &Path, b: &Path, files: usize) {
    let same = same_files(torrent, a, b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(same.len(), files, "{same:?}");
    for (path, sha) in &same {
        eprintln!("  {} sha256 {sha}", path.display());
    }
}
