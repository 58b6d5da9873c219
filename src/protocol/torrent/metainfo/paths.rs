//! File path checks: nothing in a .torrent may name a place outside the
//! download folder, or two files the same place.
//!
//! Each component is checked on its own (a path is a list of components,
//! so a `/` or `\` inside one is refused rather than split): no empty
//! component, no `.` or `..`, no NUL, no `/` or `\`, no Windows drive
//! prefix (`C:`), so no path can be absolute or climb out.
//!
//! Collisions: two paths that are equal, or equal after Unicode lower-casing
//! (`str::to_lowercase`, what a case-insensitive file system such as NTFS's
//! or APFS's default would merge), or one file's path being a folder on
//! another's path. Unicode normalisation (NFC/NFD, which APFS and HFS+
//! apply) is not done: it needs Unicode tables the project does not carry,
//! and names that differ only in it are left for the client that writes
//! the files to notice. BEP 47 padding files are not checked for
//! collisions: hybrid torrents name every pad of one size the same
//! (`.pad/16384`), and no client writes them.

use std::collections::HashMap;

/// Why one component is refused, if it is.
pub(super) fn component_problem(c: &str) -> Option<&'static str> {
    let b = c.as_bytes();
    if b.is_empty() {
        return Some("empty component");
    }
    if c == "." || c == ".." {
        return Some("`.` or `..` component");
    }
    if b.contains(&0) {
        return Some("NUL in a component");
    }
    if b.iter().any(|&x| x == b'/' || x == b'\\') {
        return Some("`/` or `\\` inside a component (absolute or nested path)");
    }
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return Some("drive prefix (absolute path on Windows)");
    }
    None
}

/// The first collision among `paths` (each a file's whole path, components
/// joined with `/`), skipping those `skip` says to: `(first, second,
/// case_only)` as indices into `paths`.
pub(super) fn first_collision(
    paths: &[String],
    skip: impl Fn(usize) -> bool,
) -> Option<(usize, usize, bool)> {
    let mut files: HashMap<String, usize> = HashMap::with_capacity(paths.len());
    // Every folder that some file's path passes through, with that file.
    let mut folders: HashMap<String, usize> = HashMap::new();
    for (i, p) in paths.iter().enumerate() {
        if skip(i) {
            continue;
        }
        let folded = p.to_lowercase();
        if let Some(&j) = files.get(&folded) {
            return Some((j, i, paths[j] != *p));
        }
        if let Some(&j) = folders.get(&folded) {
            return Some((j, i, false));
        }
        for (at, _) in folded.match_indices('/') {
            let folder = &folded[..at];
            if let Some(&j) = files.get(folder) {
                return Some((j, i, false));
            }
            folders.entry(folder.to_string()).or_insert(i);
        }
        files.insert(folded, i);
    }
    None
}
