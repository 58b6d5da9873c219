//! [`Storage`]: a torrent's data in the files of a download folder, read
//! and written at positions (`pread`/`pwrite` through `FileExt`, and a
//! whole piece's blocks with one `pwritev`), so no file position is shared
//! between operations and none can race a seek.
//!
//! Files are opened when first needed and kept in an LRU table of at most
//! `max_open_files` handles. Writing makes the folders on the way and, the
//! first time, every file of the torrent (zero-length ones included, which
//! no piece ever touches), each set to its full length when preallocation
//! is on. BEP 47 padding files are never created: reads of them give zeros
//! and writes to them are skipped (the piece hash has already vouched that
//! those bytes are zeros).
//!
//! A write is done when the kernel has it (no `fsync` per piece): after a
//! crash, the re-check on the next start finds what really reached the
//! disk.
//!
//! Blocking I/O: use it from the [`DiskWorker`](super::DiskWorker) thread,
//! never from a component's step.

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::file_map::FileMap;
use super::mapped::{MappedWindows, MIN_LEN};
use super::open_files::OpenFiles;
use super::write_vectored::write_all_vectored_at;
use super::StorageError;
use crate::protocol::torrent::metainfo::{FileEntry, Metainfo};
use crate::protocol::torrent::pieces::{BlockRef, Layout, BLOCK_SIZE};

/// Handles kept open at once unless told otherwise.
pub const DEFAULT_MAX_OPEN_FILES: usize = 64;

/// How a [`Storage`] treats the disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageOptions {
    /// The most file handles open at once (at least 1).
    pub max_open_files: usize,
    /// Set each file to its full length before the first write (`set_len`:
    /// the space is reserved in the file system's view, sparse where the
    /// file system allows).
    pub preallocate: bool,
    /// Blocks read for uploads come from a mapping of the file
    /// ([`Storage::mapped_block`]) rather than a copy, where the block lies
    /// in one file and the system allows it.
    pub mapped_reads: bool,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            max_open_files: DEFAULT_MAX_OPEN_FILES,
            preallocate: false,
            mapped_reads: true,
        }
    }
}

/// A torrent's files under a download folder; see the module docs.
pub struct Storage {
    root: PathBuf,
    paths: Vec<PathBuf>,
    map: FileMap,
    layout: Layout,
    options: StorageOptions,
    open: OpenFiles,
    mapped: MappedWindows,
    /// Every file and folder has been made (done before the first write).
    created: bool,
}

impl Storage {
    /// Storage for `meta`'s files under `root` (a single-file torrent's
    /// file is `root/name`, a folder's files `root/name/...`).
    pub fn new(
        meta: &Metainfo,
        root: impl Into<PathBuf>,
        options: StorageOptions,
    ) -> Result<Storage, StorageError> {
        Storage::from_files(meta.files(), meta.piece_length(), root, options)
    }

    /// Storage for a list of files (paths relative to `root`) hashed in
    /// pieces of `piece_length`.
    pub fn from_files(
        files: &[FileEntry],
        piece_length: u64,
        root: impl Into<PathBuf>,
        options: StorageOptions,
    ) -> Result<Storage, StorageError> {
        let root = root.into();
        let map = FileMap::new(files);
        let layout = Layout::new(map.total_len(), piece_length).map_err(StorageError::Layout)?;
        let mut paths = Vec::with_capacity(files.len());
        for f in files {
            paths.push(safe_join(&root, &f.path)?);
        }
        Ok(Storage {
            open: OpenFiles::new(files.len(), options.max_open_files),
            mapped: MappedWindows::new(),
            root,
            paths,
            map,
            layout,
            options,
            created: false,
        })
    }

    /// The download folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The pieces and blocks.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The files on the byte stream.
    pub fn file_map(&self) -> &FileMap {
        &self.map
    }

    /// Where file `index` lives on disk.
    pub fn file_path(&self, index: usize) -> &Path {
        &self.paths[index]
    }

    /// How many file handles are open now (at most `max_open_files`).
    pub fn open_count(&self) -> usize {
        self.open.open_count()
    }

    /// How many times a file has been opened so far (reopens after an
    /// eviction count again).
    pub fn files_opened(&self) -> u64 {
        self.open.opened()
    }

    /// The most handles kept open.
    pub fn max_open_files(&self) -> usize {
        self.open.limit()
    }

    /// Fills `buf` from the byte stream at `offset`. Padding reads as
    /// zeros. A missing file is an `Io` error of kind `NotFound`, a short
    /// one [`StorageError::ShortFile`] (both [`StorageError::is_missing`]).
    pub fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), StorageError> {
        self.check_range(offset, buf.len())?;
        let mut done = 0usize;
        for span in self.map.spans(offset, buf.len() as u64) {
            let part = &mut buf[done..done + span.len as usize];
            done += part.len();
            if span.padding {
                part.fill(0);
                continue;
            }
            let path = &self.paths[span.file];
            let fd = self.open.get(span.file, false, |w| open_file(path, w))?;
            fd.read_exact_at(part, span.file_offset).map_err(|e| {
                if e.kind() == io::ErrorKind::UnexpectedEof {
                    StorageError::ShortFile {
                        path: path.clone(),
                        offset: span.file_offset,
                    }
                } else {
                    StorageError::io("read", path.clone(), e)
                }
            })?;
        }
        Ok(())
    }

    /// Writes `data` into the byte stream at `offset` (making the files
    /// first if this is the first write). Padding is skipped.
    pub fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), StorageError> {
        self.check_range(offset, data.len())?;
        self.create_files()?;
        let mut done = 0usize;
        for span in self.map.spans(offset, data.len() as u64) {
            let part = &data[done..done + span.len as usize];
            done += part.len();
            if span.padding {
                continue;
            }
            let path = &self.paths[span.file];
            let fd = self.open.get(span.file, true, |w| open_file(path, w))?;
            fd.write_all_at(part, span.file_offset)
                .map_err(|e| StorageError::io("write", path.clone(), e))?;
        }
        Ok(())
    }

    /// Writes a whole piece given as its blocks in order (what a
    /// [`PieceBuffer`](super::PieceBuffer) hands over): they must add up to
    /// the piece's length.
    pub fn write_piece(&mut self, piece: u32, blocks: &[Bytes]) -> Result<(), StorageError> {
        let expected = self.piece_len_checked(piece)?;
        let got: u64 = blocks.iter().map(|b| b.len() as u64).sum();
        if got != u64::from(expected) {
            return Err(StorageError::PieceLength {
                piece,
                expected,
                got,
            });
        }
        let offset = self.layout.piece_offset(piece);
        self.check_range(offset, got as usize)?;
        self.create_files()?;
        // The blocks not yet written: `blocks[next..]`, the first of them
        // from byte `skip`.
        let (mut next, mut skip) = (0, 0);
        let mut parts: Vec<IoSlice> = Vec::with_capacity(blocks.len() + 1);
        for span in self.map.spans(offset, got) {
            // The blocks' bytes this span covers, cut at its ends.
            parts.clear();
            let mut want = span.len as usize;
            while want > 0 {
                let rest = &blocks[next][skip..];
                let take = rest.len().min(want);
                parts.push(IoSlice::new(&rest[..take]));
                want -= take;
                if take == rest.len() {
                    (next, skip) = (next + 1, 0);
                } else {
                    skip += take;
                }
            }
            if span.padding {
                continue;
            }
            let path = &self.paths[span.file];
            let fd = self.open.get(span.file, true, |w| open_file(path, w))?;
            write_all_vectored_at(fd, &mut parts, span.file_offset)
                .map_err(|e| StorageError::io("write", path.clone(), e))?;
        }
        Ok(())
    }

    /// Reads one block (to serve a peer's request) into `buf`, which must
    /// be `block.len` bytes.
    pub fn read_block_into(
        &mut self,
        block: &BlockRef,
        buf: &mut [u8],
    ) -> Result<(), StorageError> {
        if !self.layout.contains(block) || buf.len() != block.len as usize {
            return Err(StorageError::BadBlock(*block));
        }
        let offset = self.layout.piece_offset(block.piece) + u64::from(block.offset);
        self.read_at(offset, buf)
    }

    /// `block` as `Bytes` pointing into a mapping of its file (see
    /// `storage/mapped.rs`), faulted in; `None` when it must be read
    /// with [`read_block_into`](Self::read_block_into): mapped reads are
    /// off, the block spans files or padding, or it could not be mapped
    /// (a missing or short file among them: the read gives the error).
    pub fn mapped_block(&mut self, block: &BlockRef) -> Option<Bytes> {
        // A run of blocks is split back into blocks for the peer; one
        // shorter than `MIN_LEN` (only the torrent's last block can be) is
        // copied by the output queue, so such a run is read instead.
        let last = block.len % BLOCK_SIZE;
        if !self.options.mapped_reads
            || !self.layout.contains(block)
            || (1..MIN_LEN as u32).contains(&last)
        {
            return None;
        }
        let offset = self.layout.piece_offset(block.piece) + u64::from(block.offset);
        let mut spans = self.map.spans(offset, u64::from(block.len));
        let span = spans.next()?;
        if span.padding || spans.next().is_some() {
            return None;
        }
        let path = &self.paths[span.file];
        let fd = self
            .open
            .get(span.file, false, |w| open_file(path, w))
            .ok()?;
        self.mapped
            .block(span.file, fd, span.file_offset, block.len as usize)
    }

    /// Windows of files mapped so far for [`mapped_block`](Self::mapped_block).
    pub fn windows_mapped(&self) -> u64 {
        self.mapped.mapped()
    }

    /// Reads one block into a new buffer.
    pub fn read_block(&mut self, block: &BlockRef) -> Result<Bytes, StorageError> {
        let mut buf = vec![0; block.len as usize];
        self.read_block_into(block, &mut buf)?;
        Ok(Bytes::from(buf))
    }

    /// Reads piece `piece` whole into `buf` (resized to the piece's length).
    pub fn read_piece(&mut self, piece: u32, buf: &mut Vec<u8>) -> Result<(), StorageError> {
        let len = self.piece_len_checked(piece)?;
        buf.resize(len as usize, 0);
        self.read_at(self.layout.piece_offset(piece), buf)
    }

    /// Makes every folder and every (non-padding) file of the torrent,
    /// setting each to its full length when preallocating. Done once,
    /// before the first write; existing data is never truncated.
    pub fn create_files(&mut self) -> Result<(), StorageError> {
        if self.created {
            return Ok(());
        }
        for (i, f) in self.map.files().iter().enumerate() {
            if f.padding {
                continue;
            }
            let path = &self.paths[i];
            let fd = open_file(path, true)?;
            if self.options.preallocate {
                let len = fd
                    .metadata()
                    .map_err(|e| StorageError::io("stat", path.clone(), e))?
                    .len();
                if len < f.length {
                    fd.set_len(f.length)
                        .map_err(|e| StorageError::io("set length", path.clone(), e))?;
                }
            }
        }
        self.created = true;
        Ok(())
    }

    /// Closes every open handle (they reopen when next needed): after the
    /// files were changed behind this storage's back, say.
    pub fn close_all(&mut self) {
        self.mapped.clear();
        for i in 0..self.paths.len() {
            self.open.close(i);
        }
    }

    fn piece_len_checked(&self, piece: u32) -> Result<u32, StorageError> {
        if piece >= self.layout.piece_count() {
            return Err(StorageError::NoSuchPiece(piece));
        }
        Ok(self.layout.piece_len(piece))
    }

    fn check_range(&self, offset: u64, len: usize) -> Result<(), StorageError> {
        if self.map.contains(offset, len as u64) {
            Ok(())
        } else {
            Err(StorageError::OutOfRange {
                offset,
                len: len as u64,
                total: self.map.total_len(),
            })
        }
    }
}

/// Opens `path` to read, or to read and write (making it and its folders).
fn open_file(path: &Path, writable: bool) -> Result<File, StorageError> {
    if !writable {
        return File::open(path).map_err(|e| StorageError::io("open", path, e));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| StorageError::io("create folder", dir, e))?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| StorageError::io("open", path, e))
}

/// `root` joined with each component, refusing any that could climb out.
fn safe_join(root: &Path, components: &[String]) -> Result<PathBuf, StorageError> {
    let bad =
        |c: &String| c.is_empty() || c == "." || c == ".." || c.contains('/') || c.contains('\0');
    if components.is_empty() || components.iter().any(bad) {
        return Err(StorageError::UnsafePath(components.to_vec()));
    }
    let mut p = root.to_path_buf();
    p.extend(components);
    Ok(p)
}
