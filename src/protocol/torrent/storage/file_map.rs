//! [`FileMap`]: the torrent's byte stream (its files one after another, as
//! the pieces hash them) mapped back onto the files.
//!
//! A piece may start in one file and end several files later; zero-length
//! files take no room in the stream; BEP 47 padding files do take room but
//! are never written (their bytes are zeros). [`FileMap::spans`] finds the
//! first file of a range by binary search over the files' end offsets, then
//! walks forward, so a lookup costs O(log files + spans) and allocates
//! nothing.

use crate::protocol::torrent::metainfo::FileEntry;

/// One piece of a range that lies in a single file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// The file's index in the torrent's file list.
    pub file: usize,
    /// Where the span starts inside the file.
    pub file_offset: u64,
    /// Its length in bytes (never 0).
    pub len: u64,
    /// The file is a BEP 47 padding file: zeros, never written.
    pub padding: bool,
}

/// The torrent's files laid out on its byte stream.
#[derive(Clone, Debug)]
pub struct FileMap {
    files: Vec<FileEntry>,
    total_len: u64,
}

impl FileMap {
    /// The map of `files` in torrent order. Offsets are taken from the
    /// lengths (each file starts where the one before ends), so a map never
    /// disagrees with itself whatever the entries' `offset` fields say.
    pub fn new(files: &[FileEntry]) -> FileMap {
        let mut offset = 0u64;
        let files = files
            .iter()
            .map(|f| {
                let e = FileEntry {
                    offset,
                    ..f.clone()
                };
                offset = offset.saturating_add(f.length);
                e
            })
            .collect();
        FileMap {
            files,
            total_len: offset,
        }
    }

    /// The files, with their offsets in the stream.
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// The stream's length: the sum of the files' lengths.
    pub fn total_len(&self) -> u64 {
        self.total_len
    }

    /// Whether `len` bytes at `offset` lie inside the stream.
    pub fn contains(&self, offset: u64, len: u64) -> bool {
        offset
            .checked_add(len)
            .is_some_and(|end| end <= self.total_len)
    }

    /// The spans of `len` bytes at `offset`, in stream order. Zero-length
    /// files yield no span; the part of a range past the stream's end is
    /// left out (check with [`contains`](Self::contains) first).
    pub fn spans(&self, offset: u64, len: u64) -> Spans<'_> {
        // The first file that ends after `offset`: ends never decrease, so
        // "ends at or before offset" is a prefix of the list.
        let first = self
            .files
            .partition_point(|f| f.offset.saturating_add(f.length) <= offset);
        Spans {
            files: &self.files,
            next: first,
            pos: offset,
            left: len,
        }
    }
}

/// The iterator of [`FileMap::spans`].
#[derive(Clone, Debug)]
pub struct Spans<'a> {
    files: &'a [FileEntry],
    next: usize,
    pos: u64,
    left: u64,
}

impl Iterator for Spans<'_> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        while self.left > 0 {
            let (i, f) = (self.next, self.files.get(self.next)?);
            self.next += 1;
            if f.length == 0 {
                continue;
            }
            let file_offset = self.pos - f.offset;
            let len = self.left.min(f.length - file_offset);
            self.pos += len;
            self.left -= len;
            return Some(Span {
                file: i,
                file_offset,
                len,
                padding: f.padding,
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, length: u64, padding: bool) -> FileEntry {
        FileEntry {
            path: vec!["t".into(), name.into()],
            length,
            offset: 999, // recomputed by FileMap::new
            padding,
        }
    }

    fn span(file: usize, file_offset: u64, len: u64) -> Span {
        Span {
            file,
            file_offset,
            len,
            padding: false,
        }
    }

    #[test]
    fn ranges_cross_files_and_skip_empty_ones() {
        let map = FileMap::new(&[
            entry("e0", 0, false),
            entry("a", 10, false),
            entry("e1", 0, false),
            entry("e2", 0, false),
            entry("b", 3, false),
            entry("c", 7, false),
            entry("e3", 0, false),
        ]);
        assert_eq!(map.total_len(), 20);
        let all: Vec<Span> = map.spans(0, 20).collect();
        assert_eq!(all, vec![span(1, 0, 10), span(4, 0, 3), span(5, 0, 7)]);
        let mid: Vec<Span> = map.spans(9, 6).collect();
        assert_eq!(mid, vec![span(1, 9, 1), span(4, 0, 3), span(5, 0, 2)]);
        // Starting exactly where a file starts, after empty files.
        assert_eq!(map.spans(10, 1).collect::<Vec<_>>(), vec![span(4, 0, 1)]);
        assert_eq!(map.spans(19, 1).collect::<Vec<_>>(), vec![span(5, 6, 1)]);
        assert_eq!(map.spans(5, 0).count(), 0);
        // Past the end: nothing, not a panic.
        assert_eq!(map.spans(20, 5).count(), 0);
        assert_eq!(map.spans(u64::MAX, u64::MAX).count(), 0);
        assert!(map.contains(0, 20) && !map.contains(1, 20) && !map.contains(u64::MAX, 2));
    }

    #[test]
    fn padding_spans_are_marked() {
        let map = FileMap::new(&[
            entry("a", 5, false),
            entry("pad", 11, true),
            entry("b", 16, false),
        ]);
        let s: Vec<Span> = map.spans(4, 13).collect();
        assert_eq!(
            s,
            vec![
                span(0, 4, 1),
                Span {
                    file: 1,
                    file_offset: 0,
                    len: 11,
                    padding: true
                },
                span(2, 0, 1)
            ]
        );
    }
}
