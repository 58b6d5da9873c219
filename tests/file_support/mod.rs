//! Helpers shared by the `file_*` tests: unique temporary paths, failure
//! unpacking, root detection, open-descriptor checks.
#![allow(dead_code)]

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use kamaelia::axon::Signal;
use kamaelia::file::FileError;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique path in the temp directory, removed (file or directory) on drop.
pub struct TempPath(pub PathBuf);

impl TempPath {
    pub fn new(tag: &str) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!(
            "kamaelia-file-{}-{}-{}",
            tag,
            std::process::id(),
            n
        ));
        let _ = std::fs::remove_file(&p);
        let _ = std::fs::remove_dir_all(&p);
        TempPath(p)
    }

    /// A fresh path holding `data`.
    pub fn with(tag: &str, data: &[u8]) -> Self {
        let t = Self::new(tag);
        std::fs::write(&t.0, data).unwrap();
        t
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn read(&self) -> Vec<u8> {
        std::fs::read(&self.0).unwrap()
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `FileError` inside a `Signal::Failed`, or a panic saying what came.
pub fn file_error(sig: &Signal) -> &FileError {
    match sig {
        Signal::Failed(f) => f
            .downcast_ref::<FileError>()
            .unwrap_or_else(|| panic!("failure is not a FileError: {f}")),
        other => panic!("expected Signal::Failed, got {other:?}"),
    }
}

/// The kind Linux gives an errno (IsADirectory, StorageFull... are named
/// only in newer Rust than the crate's minimum).
pub fn kind_of(errno: i32) -> io::ErrorKind {
    io::Error::from_raw_os_error(errno).kind()
}
pub const EISDIR: i32 = 21;
pub const ENOSPC: i32 = 28;

/// A file with mode 000. Returns it and whether permission checks apply:
/// running as root (as CI does) bypasses them, which we detect by simply
/// trying to open the file, without needing libc.
pub fn unreadable_file(tag: &str) -> (TempPath, bool) {
    use std::os::unix::fs::PermissionsExt;
    let t = TempPath::with(tag, b"secret\n");
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o000)).unwrap();
    let enforced = std::fs::File::open(t.path()).is_err();
    (t, enforced)
}

/// How many of this process's descriptors are open on `path` (Linux).
pub fn open_fds_on(path: &Path) -> usize {
    let want = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter(|target| *target == want)
                .count()
        })
        .unwrap_or(0)
}

/// Joins byte chunks.
pub fn concat<B: AsRef<[u8]>>(chunks: &[B]) -> Vec<u8> {
    chunks.iter().flat_map(|c| c.as_ref().to_vec()).collect()
}
