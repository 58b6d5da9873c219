//! The open file handles of a [`Storage`](super::Storage): at most `limit`
//! at once, the least recently used closed to make room.
//!
//! A torrent may have thousands of files, a process a limited number of
//! descriptors: handles are opened when a read or write first needs them
//! and kept while they are used. Lookup is O(1) (a slot per file); only a
//! miss with every handle taken scans the (small) table for the oldest.

use std::fs::File;

use super::StorageError;

struct Handle {
    file: usize,
    fd: File,
    writable: bool,
    last_used: u64,
}

/// An LRU table of open files, indexed by the torrent's file index.
pub(crate) struct OpenFiles {
    limit: usize,
    /// For each file of the torrent, its handle's place in `handles`.
    slot_of: Vec<Option<usize>>,
    handles: Vec<Handle>,
    clock: u64,
    opened: u64,
}

impl OpenFiles {
    /// A table for `files` files keeping at most `limit` (at least 1) open.
    pub(crate) fn new(files: usize, limit: usize) -> OpenFiles {
        let limit = limit.max(1);
        OpenFiles {
            limit,
            slot_of: vec![None; files],
            handles: Vec::with_capacity(limit.min(files)),
            clock: 0,
            opened: 0,
        }
    }

    /// The handle of `file`, opened with `open(writable)` if it is not
    /// open, or is open read-only and `writable` is wanted.
    pub(crate) fn get(
        &mut self,
        file: usize,
        writable: bool,
        open: impl FnOnce(bool) -> Result<File, StorageError>,
    ) -> Result<&File, StorageError> {
        self.clock += 1;
        if let Some(slot) = self.slot_of[file] {
            let h = &mut self.handles[slot];
            if writable && !h.writable {
                h.fd = open(true)?;
                h.writable = true;
                self.opened += 1;
            }
            h.last_used = self.clock;
            return Ok(&self.handles[slot].fd);
        }
        let fd = open(writable)?;
        self.opened += 1;
        if self.handles.len() >= self.limit {
            self.evict_oldest();
        }
        self.slot_of[file] = Some(self.handles.len());
        self.handles.push(Handle {
            file,
            fd,
            writable,
            last_used: self.clock,
        });
        Ok(&self.handles[self.handles.len() - 1].fd)
    }

    fn evict_oldest(&mut self) {
        let Some((slot, _)) = self
            .handles
            .iter()
            .enumerate()
            .min_by_key(|(_, h)| h.last_used)
        else {
            return;
        };
        let gone = self.handles.swap_remove(slot);
        self.slot_of[gone.file] = None;
        if let Some(moved) = self.handles.get(slot) {
            self.slot_of[moved.file] = Some(slot);
        }
    }

    /// Closes `file`'s handle if it is open.
    pub(crate) fn close(&mut self, file: usize) {
        if let Some(slot) = self.slot_of[file].take() {
            self.handles.swap_remove(slot);
            if let Some(moved) = self.handles.get(slot) {
                self.slot_of[moved.file] = Some(slot);
            }
        }
    }

    /// How many handles are open now.
    pub(crate) fn open_count(&self) -> usize {
        self.handles.len()
    }

    /// How many times a file has been opened in all.
    pub(crate) fn opened(&self) -> u64 {
        self.opened
    }

    /// The most handles kept open.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }
}
