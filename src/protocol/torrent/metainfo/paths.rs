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

use std::collections::hash_map::Entry;
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
///
/// One lower-cased copy of each path; the maps hold slices of those copies
/// (a path and each folder it passes through), nothing allocated per folder.
pub(super) fn first_collision(
    paths: &[String],
    skip: impl Fn(usize) -> bool,
) -> Option<(usize, usize, bool)> {
    let folded: Vec<String> = paths.iter().map(|p| p.to_lowercase()).collect();
    // A file's path, or a folder some file's path passes through: whose.
    let mut seen: HashMap<&str, (usize, bool)> = HashMap::with_capacity(paths.len() * 2);
    for (i, p) in folded.iter().enumerate() {
        if skip(i) {
            continue;
        }
        match seen.get(p.as_str()) {
            Some(&(j, true)) => return Some((j, i, paths[j] != paths[i])),
            Some(&(j, false)) => return Some((j, i, false)),
            None => {}
        }
        for (at, _) in p.match_indices('/') {
            match seen.entry(&p[..at]) {
                Entry::Occupied(e) => {
                    let (j, is_file) = *e.get();
                    if is_file {
                        return Some((j, i, false));
                    }
                }
                Entry::Vacant(e) => {
                    e.insert((i, false));
                }
            }
        }
        seen.insert(p, (i, true));
    }
    None
}
