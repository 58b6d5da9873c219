//! Upload reads without a copy: blocks handed out as `Bytes` that point
//! into a read-only `mmap` of the file, so the one copy a block costs is
//! the kernel's, from the page cache into the socket.
//!
//! A `pread` copies the page cache into a buffer, and the socket write
//! copies that buffer again. In the one-seed, four-downloader row the
//! seed's `pread`s were a tenth of all the CPU spent; sending from a
//! mapping of the file drops that copy (measured on this row, every
//! process mapping: 2.05 against 1.90 CPU seconds per GiB delivered, 1,012
//! against 1,083 MB/s, means of 8 alternating runs). Sending with
//! `sendfile` instead was slower here: loopback receivers of page-backed
//! socket buffers spent twice the CPU.
//!
//! Files are mapped in windows of [`WINDOW`] bytes (aligned to it in the
//! file), the newest [`KEPT`] of them kept mapped for the next reads; a
//! window also stays mapped while a block cut from it is alive, and is
//! unmapped when its last block is dropped. So the file pages this adds to
//! the process's resident set are bounded by what is queued for peers plus
//! `KEPT * WINDOW`, not by the torrent's size.
//!
//! The range of each block is faulted in by the disk thread
//! (`MADV_POPULATE_READ`) before the block is handed out, so the network
//! thread's write never waits on a disk. That call also checks the range:
//! past the end of the file (truncated behind our back) it fails, and the
//! caller reads with `pread` instead, which gives the usual typed error.
//! The mapped bytes are meant for the kernel only (a socket's `writev`);
//! if another program truncates the file after the check, such a write
//! fails with `EFAULT` and the connection closes. Code that reads the bytes
//! itself would get `SIGBUS` in that case, which is why blocks shorter than
//! [`MIN_LEN`] (which the output queue copies) are never mapped.
//!
//! Linux only (`MADV_POPULATE_READ`, 5.14); elsewhere, or where the kernel
//! refuses it, [`MappedWindows::block`] answers `None` and reads use
//! `pread` as before.
//!
//! ```ignore
//! let mut windows = MappedWindows::new();
//! let block: Option<Bytes> = windows.block(file_index, &file, file_offset, 16_384);
//! ```

use std::fs::File;
use std::sync::Arc;

use bytes::Bytes;

/// Bytes of a file mapped at once, and the alignment of a window.
pub(crate) const WINDOW: u64 = 2 << 20;
/// Windows kept mapped for the next reads once their blocks are gone.
pub(crate) const KEPT: usize = 4;
/// Blocks shorter than this are read with `pread` (see the module docs).
pub(crate) const MIN_LEN: usize = 4096;

/// A read-only mapping of `len` bytes of a file; unmapped when dropped.
struct Window {
    file: usize,
    index: u64,
    addr: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is read-only and only ever read (by the kernel, when
// a block cut from it is written to a socket); it is unmapped once, by the
// drop of the last `Arc`, on whichever thread that happens.
unsafe impl Send for Window {}
unsafe impl Sync for Window {}

impl Drop for Window {
    fn drop(&mut self) {
        // SAFETY: `addr`/`len` are exactly what `mmap` returned and took,
        // and no block of this window is alive (they hold the `Arc`).
        unsafe { libc::munmap(self.addr, self.len) };
    }
}

/// One block: `len` bytes at `at` in a window, which it keeps mapped.
struct Slice {
    window: Arc<Window>,
    at: usize,
    len: usize,
}

impl AsRef<[u8]> for Slice {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `at + len <= window.len` (checked when made) and the
        // window stays mapped while this slice holds it.
        unsafe { std::slice::from_raw_parts(self.window.addr.cast::<u8>().add(self.at), self.len) }
    }
}

/// The windows kept mapped, newest last (see the module docs).
pub(crate) struct MappedWindows {
    kept: Vec<Arc<Window>>,
    /// The kernel refused a mapping or `MADV_POPULATE_READ`: `pread` from
    /// now on.
    off: bool,
    mapped: u64,
}

impl MappedWindows {
    pub fn new() -> MappedWindows {
        MappedWindows {
            kept: Vec::with_capacity(KEPT + 1),
            off: !cfg!(target_os = "linux"),
            mapped: 0,
        }
    }

    /// Windows mapped so far.
    pub fn mapped(&self) -> u64 {
        self.mapped
    }

    /// Unmaps the windows kept (blocks still alive keep theirs until they
    /// are dropped): after the files changed behind the storage's back.
    pub fn clear(&mut self) {
        self.kept.clear();
    }

    /// `len` bytes at `offset` of file number `file` (open as `fd`), from
    /// a mapping, faulted in; `None` when they must be read with `pread`:
    /// shorter than [`MIN_LEN`], across a window's edge, past the end of
    /// the file, or mappings are off.
    pub fn block(&mut self, file: usize, fd: &File, offset: u64, len: usize) -> Option<Bytes> {
        let index = offset / WINDOW;
        if self.off || len < MIN_LEN || (offset + len as u64 - 1) / WINDOW != index {
            return None;
        }
        let window = match self
            .kept
            .iter()
            .position(|w| w.file == file && w.index == index)
        {
            Some(i) => {
                let w = self.kept.remove(i);
                self.kept.push(w.clone());
                w
            }
            None => {
                let w = Arc::new(self.map(file, fd, index)?);
                if self.kept.len() == KEPT {
                    self.kept.remove(0);
                }
                self.kept.push(w.clone());
                w
            }
        };
        let at = (offset - index * WINDOW) as usize;
        if at + len > window.len {
            return None;
        }
        match populate(&window, at, len) {
            Ok(()) => Some(Bytes::from_owner(Slice { window, at, len })),
            Err(Unpopulated::PastTheEnd) => None,
            Err(Unpopulated::Unsupported) => {
                self.off = true;
                None
            }
        }
    }

    fn map(&mut self, file: usize, fd: &File, index: u64) -> Option<Window> {
        use std::os::fd::AsRawFd;
        let at = libc::off_t::try_from(index * WINDOW).ok()?;
        let len = WINDOW as usize;
        // SAFETY: a fresh read-only shared mapping of an open file; nothing
        // else refers to the address range it returns.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                at,
            )
        };
        if addr == libc::MAP_FAILED {
            self.off = true;
            return None;
        }
        self.mapped += 1;
        Some(Window {
            file,
            index,
            addr,
            len,
        })
    }
}

/// Why a range was not faulted in.
enum Unpopulated {
    /// Not all of it is in the file (or the disk failed: `pread` will say).
    PastTheEnd,
    /// The kernel has no `MADV_POPULATE_READ` (before Linux 5.14).
    Unsupported,
}

/// Faults in `len` bytes at `at` of `window`.
#[cfg(target_os = "linux")]
fn populate(window: &Window, at: usize, len: usize) -> Result<(), Unpopulated> {
    const MADV_POPULATE_READ: libc::c_int = 22;
    let page = at & !4095;
    // SAFETY: the range lies inside the mapping (the caller checked
    // `at + len <= window.len`, and the window is page-aligned).
    let r = unsafe {
        libc::madvise(
            window.addr.cast::<u8>().add(page).cast(),
            at + len - page,
            MADV_POPULATE_READ,
        )
    };
    match r {
        0 => Ok(()),
        _ if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) => {
            Err(Unpopulated::Unsupported)
        }
        _ => Err(Unpopulated::PastTheEnd),
    }
}

#[cfg(not(target_os = "linux"))]
fn populate(_: &Window, _: usize, _: usize) -> Result<(), Unpopulated> {
    Err(Unpopulated::Unsupported)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_of(len: usize) -> (std::path::PathBuf, File, Vec<u8>) {
        let dir =
            std::env::temp_dir().join(format!("kamaelia-mapped-{}-{len}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 5000) as u8).collect();
        File::create(&path).unwrap().write_all(&data).unwrap();
        (dir, File::open(&path).unwrap(), data)
    }

    #[test]
    fn blocks_are_the_file_bytes_and_windows_are_reused() {
        let len = 3 * WINDOW as usize + 5000;
        let (dir, fd, data) = file_of(len);
        let mut w = MappedWindows::new();
        let at = WINDOW as usize + 16_384;
        let a = w.block(0, &fd, at as u64, 16_384).expect("mapped");
        assert_eq!(&a[..], &data[at..at + 16_384]);
        let b = w.block(0, &fd, (at + 16_384) as u64, 9_000).unwrap();
        assert_eq!(&b[..], &data[at + 16_384..at + 25_384]);
        assert_eq!(w.mapped(), 1, "the second block came from the same window");
        // The last bytes of the file, inside the last (short) window.
        let end = len - 4096;
        assert_eq!(
            &w.block(0, &fd, end as u64, 4096).unwrap()[..],
            &data[end..]
        );
        assert_eq!(w.mapped(), 2);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn what_cannot_be_mapped_is_left_to_pread() {
        let len = 2 * WINDOW as usize;
        let (dir, fd, _) = file_of(len);
        let mut w = MappedWindows::new();
        let edge = WINDOW - 100;
        assert!(
            w.block(0, &fd, edge, 16_384).is_none(),
            "across a window edge"
        );
        assert!(w.block(0, &fd, 0, MIN_LEN - 1).is_none(), "too short");
        let past = len as u64 - 4096;
        assert!(
            w.block(0, &fd, past, 8192).is_none(),
            "past the end of the file"
        );
        assert!(
            w.block(0, &fd, 2 * WINDOW + 4096, 4096).is_none(),
            "past the end"
        );
        assert!(
            w.block(0, &fd, 4096, 4096).is_some(),
            "still on after those"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_file_truncated_under_a_block_fails_the_socket_write_not_the_process() {
        use std::io::IoSlice;
        let (dir, fd, _) = file_of(WINDOW as usize);
        let mut w = MappedWindows::new();
        let block = w.block(0, &fd, 65_536, 16_384).unwrap();
        // Another program cuts the file short after the block was handed out.
        File::options()
            .write(true)
            .open(dir.join("f"))
            .unwrap()
            .set_len(4096)
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut out = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_peer, _) = listener.accept().unwrap();
        let header = [0u8, 0, 64, 9, 7];
        let sent = out.write_vectored(&[IoSlice::new(&header), IoSlice::new(&block)]);
        // The kernel took the header and stopped at the missing page, or
        // took nothing: never the block's bytes, and no signal.
        match sent {
            Ok(n) => {
                assert_eq!(n, header.len());
                let again = out.write_vectored(&[IoSlice::new(&block)]);
                assert_eq!(again.unwrap_err().raw_os_error(), Some(libc::EFAULT));
            }
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EFAULT)),
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_window_outlives_its_eviction_while_a_block_holds_it() {
        let len = (KEPT + 2) * WINDOW as usize;
        let (dir, fd, data) = file_of(len);
        let mut w = MappedWindows::new();
        let first = w.block(0, &fd, 0, 16_384).unwrap();
        for i in 1..=KEPT as u64 {
            w.block(0, &fd, i * WINDOW, 16_384).unwrap();
        }
        assert_eq!(w.kept.len(), KEPT);
        assert!(w.kept.iter().all(|k| k.index != 0), "window 0 evicted");
        assert_eq!(&first[..], &data[..16_384], "still mapped for its block");
        w.clear();
        assert_eq!(&first[..], &data[..16_384]);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
