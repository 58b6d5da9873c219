//! OutQueue: a peer session's unsent bytes as a queue of chunks, so that a
//! block read for an upload goes to the socket from the buffer it was read
//! into, in one vectored write with the message headers around it, rather
//! than being copied into one contiguous output buffer first (on loopback
//! that copy was a tenth of a seeder's CPU).
//!
//! Small messages are encoded into an open tail ([`tail_mut`](OutQueue::tail_mut));
//! a large chunk ([`push_chunk`](OutQueue::push_chunk)) first seals the tail
//! (it becomes a chunk of its own, without a copy) and then queues behind
//! it, so bytes leave in the order they were queued. The owner fills an
//! `IoSlice` array from [`slices`](OutQueue::slices), writes it, and
//! [`advance`](OutQueue::advance)s past what the socket took.
//!
//! ```
//! use std::io::IoSlice;
//! use bytes::{BufMut, Bytes};
//! use kamaelia::protocol::torrent::peer::OutQueue;
//! let mut q = OutQueue::with_capacity(64);
//! q.tail_mut().put_slice(b"head");
//! q.push_chunk(Bytes::from(vec![7u8; 2000]));
//! q.tail_mut().put_slice(b"tail");
//! assert_eq!(q.len(), 2008);
//! let mut io = [IoSlice::new(&[]); 8];
//! assert_eq!(q.slices(&mut io), 3);
//! q.advance(2002);
//! assert_eq!(q.to_vec(), [7, 7, b't', b'a', b'i', b'l']);
//! ```

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

/// Chunks shorter than this are copied into the tail: an iovec (and the
/// chunk's handle) costs more than copying a few hundred bytes.
const COPY_BELOW: usize = 1024;

/// Unsent bytes: sealed chunks, then the open tail.
#[derive(Debug, Default)]
pub struct OutQueue {
    chunks: VecDeque<Bytes>,
    /// Bytes in `chunks`.
    chunked: usize,
    tail: BytesMut,
}

impl OutQueue {
    /// An empty queue whose tail has room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> OutQueue {
        OutQueue {
            chunks: VecDeque::with_capacity(16),
            chunked: 0,
            tail: BytesMut::with_capacity(capacity),
        }
    }

    /// Bytes not yet sent.
    pub fn len(&self) -> usize {
        self.chunked + self.tail.len()
    }

    /// Whether everything has been sent.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The open end, for encoders that append.
    pub fn tail_mut(&mut self) -> &mut BytesMut {
        &mut self.tail
    }

    /// Queues `data` behind everything queued so far, without copying it
    /// (unless it is short).
    pub fn push_chunk(&mut self, data: Bytes) {
        if data.len() < COPY_BELOW {
            self.tail.extend_from_slice(&data);
            return;
        }
        if !self.tail.is_empty() {
            let sealed = self.tail.split().freeze();
            self.chunked += sealed.len();
            self.chunks.push_back(sealed);
        }
        self.chunked += data.len();
        self.chunks.push_back(data);
    }

    /// Fills `out` with the queued bytes in order, as many slices as fit;
    /// returns how many it filled.
    pub fn slices<'a>(&'a self, out: &mut [IoSlice<'a>]) -> usize {
        let parts = self
            .chunks
            .iter()
            .map(|c| &c[..])
            .chain(std::iter::once(&self.tail[..]))
            .filter(|p| !p.is_empty());
        let mut n = 0;
        for (slot, part) in out.iter_mut().zip(parts) {
            *slot = IoSlice::new(part);
            n += 1;
        }
        n
    }

    /// Drops the first `n` bytes (they were sent).
    pub fn advance(&mut self, mut n: usize) {
        assert!(n <= self.len(), "advance {n} past {} queued", self.len());
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                self.tail.advance(n);
                return;
            };
            let k = n.min(front.len());
            front.advance(k);
            self.chunked -= k;
            n -= k;
            if front.is_empty() {
                self.chunks.pop_front();
            }
        }
    }

    /// Drops everything queued.
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.chunked = 0;
        self.tail.clear();
    }

    /// Takes everything queued as one buffer: the tail itself when nothing
    /// else is queued (no copy), else a copy of it all.
    pub fn take_all(&mut self) -> BytesMut {
        if self.chunks.is_empty() {
            return self.tail.split();
        }
        let mut all = BytesMut::with_capacity(self.len());
        self.parts().for_each(|p| all.extend_from_slice(p));
        self.clear();
        all
    }

    /// A copy of the queued bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut all = Vec::with_capacity(self.len());
        self.parts().for_each(|p| all.extend_from_slice(p));
        all
    }

    /// The queued bytes in order, as the chunks and the open tail hold them.
    fn parts(&self) -> impl Iterator<Item = &[u8]> {
        let chunks = self.chunks.iter().map(|c| &c[..]);
        chunks.chain(std::iter::once(&self.tail[..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(b: u8, n: usize) -> Bytes {
        Bytes::from(vec![b; n])
    }

    #[test]
    fn bytes_leave_in_queue_order_across_partial_writes() {
        let mut q = OutQueue::with_capacity(16);
        let mut want = Vec::new();
        for i in 0..5u8 {
            q.tail_mut().extend_from_slice(&[i; 13]);
            want.extend_from_slice(&[i; 13]);
            q.push_chunk(chunk(100 + i, 5000));
            want.extend_from_slice(&[100 + i; 5000]);
            q.push_chunk(chunk(200 + i, 10)); // short: copied into the tail
            want.extend_from_slice(&[200 + i; 10]);
        }
        assert_eq!(q.len(), want.len());
        assert_eq!(q.to_vec(), want);
        // A socket that takes 777 bytes a write, from at most 3 slices.
        let mut sent = Vec::new();
        while !q.is_empty() {
            let mut io = [IoSlice::new(&[]); 3];
            let n = q.slices(&mut io);
            let mut took = 0;
            for s in &io[..n] {
                let k = s.len().min(777 - took);
                sent.extend_from_slice(&s[..k]);
                took += k;
            }
            q.advance(took);
        }
        assert_eq!(sent, want);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn take_all_copies_only_when_chunks_are_queued() {
        let mut q = OutQueue::with_capacity(64);
        q.tail_mut().extend_from_slice(b"abc");
        let ptr = q.tail_mut().as_ptr();
        let taken = q.take_all();
        assert_eq!(taken.as_ptr(), ptr);
        assert_eq!(&taken[..], b"abc");
        q.tail_mut().extend_from_slice(b"x");
        q.push_chunk(chunk(1, 2000));
        assert_eq!(q.take_all().len(), 2001);
        assert!(q.is_empty());
    }

    #[test]
    #[should_panic(expected = "past")]
    fn advancing_past_the_end_is_a_bug() {
        let mut q = OutQueue::default();
        q.tail_mut().extend_from_slice(b"ab");
        q.advance(3);
    }
}
