//! The buffers that blocks read for uploads are cut from, kept and reused.
//!
//! A block read for a peer is cut from a larger buffer (`split`), handed
//! on as `Bytes`, and dropped once it is written to the socket. The
//! buffer's memory comes back (`try_reclaim`) when every block cut from it
//! is gone. Uploads keep many blocks alive at once, so one buffer is not
//! enough: the pool keeps a few set aside (`spares`) and takes whichever
//! is free, making a new one only when none is.
//!
//! Why: before this, the disk thread made a new 256 KiB buffer whenever
//! the last one was still held, and zero-filled 16 KiB before each read.
//! The allocator handed the freed buffers back to the kernel, so the next
//! ones were page-faulted in afresh; in the one-seed, four-downloader run
//! the faults and the zeroing were about a fifth of the disk thread's CPU.
//! Now a buffer is zero-filled once, when made (`calloc`: pages the kernel
//! gives zeroed), and a read goes straight into memory of it that was
//! initialised before.
//!
//! ```ignore
//! let mut pool = ReadPool::new(256 * 1024, 4);
//! let block = pool.read(16_384, |buf| file.read_exact_at(buf, offset))?;
//! ```

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

/// Reused read buffers (see the [module documentation](self)).
///
/// Invariant, which [`ReadPool::read`]'s `unsafe` relies on: every buffer
/// here was made by `BytesMut::zeroed`, so every byte of its allocation
/// has been initialised, and it only ever gets memory back through
/// `try_reclaim`, which reuses that same allocation and never allocates.
pub(crate) struct ReadPool {
    current: BytesMut,
    spare: VecDeque<BytesMut>,
    size: usize,
    spares: usize,
    made: u64,
}

impl ReadPool {
    /// Buffers of `size` bytes, at most `spares` set aside while blocks
    /// cut from them are still held (an older one is then let go, freed
    /// when its last block is).
    pub fn new(size: usize, spares: usize) -> Self {
        ReadPool {
            current: BytesMut::new(),
            spare: VecDeque::with_capacity(spares),
            size,
            spares,
            made: 0,
        }
    }

    /// A block of `len` bytes, written whole by `fill`, cut from the pool.
    /// When `fill` fails its room is given back and the error returned.
    pub fn read<E>(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<Bytes, E> {
        self.make_room(len);
        debug_assert!(self.current.is_empty() && self.current.capacity() >= len);
        // SAFETY: `make_room` left `current` empty with room for `len`
        // bytes, and (the type's invariant) that room is memory of a
        // buffer made by `BytesMut::zeroed`, initialised ever since.
        unsafe { self.current.set_len(len) };
        match fill(&mut self.current) {
            Ok(()) => Ok(self.current.split().freeze()),
            Err(e) => {
                self.current.clear();
                Err(e)
            }
        }
    }

    /// How many buffers the pool has made (it stays put while reused
    /// buffers suffice).
    #[cfg(test)]
    pub fn buffers_made(&self) -> u64 {
        self.made
    }

    /// Makes `current` an empty buffer with room for `len` bytes: the one
    /// at hand, else the same taken back whole, else a spare that is free,
    /// else a new one.
    fn make_room(&mut self, len: usize) {
        if self.current.capacity() >= len || self.current.try_reclaim(len) {
            return;
        }
        let size = self.size.max(len);
        let free = self.spare.iter_mut().position(|b| b.try_reclaim(size));
        let next = match free.and_then(|i| self.spare.remove(i)) {
            Some(b) => b,
            None => {
                self.made += 1;
                let mut b = BytesMut::zeroed(size);
                b.clear();
                b
            }
        };
        let old = std::mem::replace(&mut self.current, next);
        // The empty handle a pool starts with (before its first buffer
        // is made) is not worth keeping.
        if self.spares > 0 && self.made > 1 {
            if self.spare.len() == self.spares {
                self.spare.pop_front();
            }
            self.spare.push_back(old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill_with(byte: u8) -> impl FnOnce(&mut [u8]) -> Result<(), ()> {
        move |buf| {
            buf.fill(byte);
            Ok(())
        }
    }

    #[test]
    fn blocks_are_cut_from_one_buffer_until_it_is_full() {
        let mut pool = ReadPool::new(64, 2);
        let a = pool.read(16, fill_with(1)).unwrap();
        let b = pool.read(16, fill_with(2)).unwrap();
        assert_eq!(pool.buffers_made(), 1);
        assert_eq!(b.as_ptr() as usize - a.as_ptr() as usize, 16);
        assert_eq!((&a[..], &b[..]), (&[1; 16][..], &[2; 16][..]));
    }

    #[test]
    fn a_buffer_whose_blocks_are_gone_is_reused_without_a_new_one() {
        let mut pool = ReadPool::new(64, 2);
        let first: Vec<Bytes> = (0..4)
            .map(|i| pool.read(16, fill_with(i)).unwrap())
            .collect();
        let start = first[0].as_ptr();
        drop(first);
        for round in 0..10u8 {
            let blocks: Vec<Bytes> = (0..4)
                .map(|i| pool.read(16, fill_with(round + i)).unwrap())
                .collect();
            assert_eq!(blocks[0].as_ptr(), start, "round {round}");
            for (i, b) in blocks.iter().enumerate() {
                assert!(b.iter().all(|&x| x == round + i as u8));
            }
        }
        assert_eq!(pool.buffers_made(), 1);
    }

    #[test]
    fn held_blocks_keep_their_bytes_and_spares_are_taken_when_free() {
        let mut pool = ReadPool::new(32, 2);
        // Two full buffers held, a third made.
        let held: Vec<Bytes> = (0..4)
            .map(|i| pool.read(16, fill_with(i)).unwrap())
            .collect();
        let third = pool.read(16, fill_with(9)).unwrap();
        assert_eq!(pool.buffers_made(), 3);
        for (i, b) in held.iter().enumerate() {
            assert!(b.iter().all(|&x| x == i as u8), "block {i} kept its bytes");
        }
        // The first two buffers' blocks go: their memory serves the next
        // reads, and no buffer is made.
        drop(held);
        let _more: Vec<Bytes> = (0..5)
            .map(|i| pool.read(16, fill_with(i)).unwrap())
            .collect();
        assert_eq!(pool.buffers_made(), 3);
        assert!(third.iter().all(|&x| x == 9));
    }

    #[test]
    fn at_most_spares_buffers_are_set_aside() {
        let mut pool = ReadPool::new(16, 1);
        let held: Vec<Bytes> = (0..4)
            .map(|i| pool.read(16, fill_with(i)).unwrap())
            .collect();
        assert_eq!(pool.buffers_made(), 4);
        assert_eq!(pool.spare.len(), 1);
        drop(held);
        // Only the current buffer and one spare came back.
        let _a = pool.read(16, fill_with(0)).unwrap();
        let _b = pool.read(16, fill_with(0)).unwrap();
        assert_eq!(pool.buffers_made(), 4);
        let _c = pool.read(16, fill_with(0)).unwrap();
        assert_eq!(pool.buffers_made(), 5);
    }

    #[test]
    fn a_failed_fill_gives_its_room_back() {
        let mut pool = ReadPool::new(32, 1);
        let err = pool.read(16, |_| Err("disk gone"));
        assert_eq!(err, Err("disk gone"));
        let a = pool.read(16, fill_with(7)).unwrap();
        let b = pool.read(16, fill_with(8)).unwrap();
        assert_eq!(pool.buffers_made(), 1, "the failed read's room was reused");
        assert_eq!((a[0], b[0]), (7, 8));
    }

    #[test]
    fn a_block_larger_than_the_buffer_size_gets_a_buffer_of_its_own() {
        let mut pool = ReadPool::new(16, 1);
        let big = pool.read(100, fill_with(3)).unwrap();
        assert_eq!(big.len(), 100);
        assert!(big.iter().all(|&x| x == 3));
    }
}
