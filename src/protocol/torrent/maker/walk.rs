//! Finding the files of a torrent: a single file, or every regular file
//! under a folder, in the order mktorrent 1.1 lists them.
//!
//! mktorrent's rules, checked against the Debian build (`mktorrent 1.1`):
//!
//! * the target and everything under it is `stat`ed, so symbolic links are
//!   followed (a link to a file is a file of that name; a link to a folder
//!   is walked as a folder); a dangling link is an error;
//! * hidden files and folders (names starting with `.`) are included;
//! * only regular files count: FIFOs, sockets and devices are skipped
//!   silently, and so are empty folders;
//! * files are sorted with `strcmp` on their whole `/`-joined path relative
//!   to the folder: bytewise, but *not* component by component, so
//!   `x-y/g` and `x.y/h` come before `x/y/f` (`-` and `.` are below `/`).
//!
//! Where we differ on purpose: a folder with no regular file is an
//! [`MakeError::EmptyFolder`] (mktorrent writes a torrent with an empty
//! file list), an unreadable file is [`MakeError::Unreadable`] (mktorrent
//! skips it with a warning, which silently makes a torrent without it), and
//! a folder reached again through a link on its own path is
//! [`MakeError::LinkLoop`] (mktorrent recurses until the path is too long).

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use super::MakeError;

/// Deepest folder nesting walked (a guard besides the loop check).
const MAX_DEPTH: usize = 256;

/// One file of a torrent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// Where it is on disk.
    pub disk_path: PathBuf,
    /// Its path inside the torrent, one entry per component (empty for a
    /// single-file torrent).
    pub components: Vec<Vec<u8>>,
    /// Its size when walked.
    pub length: u64,
}

/// What [`scan`] found: the files in torrent order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// True when the target is a single file (`length` in the info
    /// dictionary); false for a folder (`files`).
    pub single_file: bool,
    /// The files, sorted as mktorrent sorts them.
    pub files: Vec<FileEntry>,
    /// The sum of their lengths.
    pub total_length: u64,
}

/// Walks `target`: a regular file, or a folder; see the module docs.
pub fn scan(target: &Path) -> Result<Layout, MakeError> {
    let meta = fs::metadata(target).map_err(|e| stat_error(target, e))?;
    if meta.is_file() {
        check_readable(target)?;
        return Ok(Layout {
            single_file: true,
            files: vec![FileEntry {
                disk_path: target.to_path_buf(),
                components: Vec::new(),
                length: meta.len(),
            }],
            total_length: meta.len(),
        });
    }
    if !meta.is_dir() {
        return Err(MakeError::NotFileOrFolder(target.to_path_buf()));
    }
    let mut files = Vec::new();
    let mut chain = vec![dir_identity(&meta)];
    walk_dir(target, &mut Vec::new(), &mut chain, &mut files)?;
    if files.is_empty() {
        return Err(MakeError::EmptyFolder(target.to_path_buf()));
    }
    // mktorrent: strcmp on the '/'-joined relative path.
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let files: Vec<FileEntry> = files.into_iter().map(|(_, f)| f).collect();
    let total_length = files.iter().map(|f| f.length).sum();
    Ok(Layout {
        single_file: false,
        files,
        total_length,
    })
}

fn walk_dir(
    dir: &Path,
    prefix: &mut Vec<Vec<u8>>,
    chain: &mut Vec<Option<(u64, u64)>>,
    out: &mut Vec<(Vec<u8>, FileEntry)>,
) -> Result<(), MakeError> {
    if prefix.len() >= MAX_DEPTH {
        return Err(MakeError::LinkLoop(dir.to_path_buf()));
    }
    let entries = fs::read_dir(dir).map_err(|e| MakeError::unreadable(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| MakeError::unreadable(dir, e))?;
        let path = entry.path();
        // `metadata` follows links, as mktorrent's stat does.
        let meta = fs::metadata(&path).map_err(|e| stat_error(&path, e))?;
        let name = entry.file_name().as_encoded_bytes().to_vec();
        if meta.is_dir() {
            let id = dir_identity(&meta);
            if id.is_some() && chain.contains(&id) {
                return Err(MakeError::LinkLoop(path));
            }
            chain.push(id);
            prefix.push(name);
            walk_dir(&path, prefix, chain, out)?;
            prefix.pop();
            chain.pop();
        } else if meta.is_file() {
            check_readable(&path)?;
            let mut components = prefix.clone();
            components.push(name);
            let joined = components.join(&b'/');
            out.push((
                joined,
                FileEntry {
                    disk_path: path,
                    components,
                    length: meta.len(),
                },
            ));
        }
        // Anything else (FIFO, socket, device) is skipped, as mktorrent does.
    }
    Ok(())
}

fn check_readable(path: &Path) -> Result<(), MakeError> {
    File::open(path)
        .map(drop)
        .map_err(|e| MakeError::unreadable(path, e))
}

fn stat_error(path: &Path, e: io::Error) -> MakeError {
    if e.kind() == io::ErrorKind::NotFound {
        MakeError::NotFound(path.to_path_buf())
    } else {
        MakeError::unreadable(path, e)
    }
}

#[cfg(unix)]
fn dir_identity(meta: &fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn dir_identity(_meta: &fs::Metadata) -> Option<(u64, u64)> {
    None
}
