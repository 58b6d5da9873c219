//! Chunkifier and ChunkNamer: re-block a byte stream into pieces of an
//! exact size, and name pieces for writing to files.
//!
//! [`Chunkifier`] collects the byte messages arriving on `inbox` and sends
//! them on in chunks of exactly `chunk_size` bytes, however the input was
//! cut. The fragments wait in a FIFO of [`Bytes`]: a chunk that lies inside
//! one fragment is a zero-copy slice of it, a chunk spanning fragments is
//! copied once, so the cost stays linear in the bytes (the original joined
//! strings). Empty input messages are ignored.
//!
//! | box     | carries  | meaning                                             |
//! |---------|----------|-----------------------------------------------------|
//! | inbox   | `Bytes`  | the byte stream, cut anyhow                         |
//! | control | `Signal` | producer finished: send full chunks, then the partial last chunk, then end; shutdown: end now, without the partial chunk |
//! | outbox  | `Bytes`  | chunks of exactly `chunk_size` bytes (the last may be shorter) |
//! | signal  | `Signal` | the control signal that ended it, passed on         |
//!
//! [`ChunkNamer`] pairs each message with a file name,
//! `"<base>chunk<N><suffix>"` with N counting from 1 (ready for a file
//! writer).
//!
//! | box     | carries          | meaning                                   |
//! |---------|------------------|-------------------------------------------|
//! | inbox   | `T` (`Bytes`)    | chunks                                    |
//! | control | `Signal`         | producer finished: name what waits, then end; shutdown: end now |
//! | outbox  | `(String, T)`    | (name, chunk)                             |
//! | signal  | `Signal`         | the control signal that ended it, passed on |
//!
//! Both keep a message refused by a full destination and stop reading until
//! the consumer takes one.
//!
//! ```
//! use bytes::Bytes;
//! use kamaelia::axon::{link_refs, Inbox, Scheduler};
//! use kamaelia::pipeline;
//! use kamaelia::util::{ChunkNamer, Chunkifier, DataSource};
//! let p = pipeline![
//!     DataSource::new(vec![Bytes::from("abcde"), Bytes::from("fgh")]),
//!     Chunkifier::new(3),
//!     ChunkNamer::new("/tmp/", ".bin"),
//! ]
//! .unwrap();
//! let out: Inbox<(String, Bytes)> = Inbox::inbox();
//! link_refs(&p.outbox().unwrap(), &out.erased()).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(p);
//! s.run();
//! let got: Vec<_> = std::iter::from_fn(|| out.recv()).collect();
//! assert_eq!(got, [
//!     ("/tmp/chunk1.bin".to_string(), Bytes::from("abc")),
//!     ("/tmp/chunk2.bin".to_string(), Bytes::from("def")),
//!     ("/tmp/chunk3.bin".to_string(), Bytes::from("gh")),
//! ]);
//! ```

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use crate::axon::{BoxSet, Component, Cx, Inbox, Outbox, Signal, Step};

use super::relay::{flush_held, send_or_hold, shutdown_now, Relay, BATCH};

/// Re-blocks a byte stream into exact-size chunks; see the module
/// documentation.
pub struct Chunkifier {
    /// The byte stream.
    pub inbox: Inbox<Bytes>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Chunks of exactly the chunk size (the last may be shorter).
    pub outbox: Outbox<Bytes>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    size: usize,
    frags: VecDeque<Bytes>,
    buffered: usize,
    held: Option<Bytes>,
    finishing: Option<Signal>,
}

impl Chunkifier {
    /// Chunks of `chunk_size` bytes (Kamaelia's default is 1 MiB).
    ///
    /// # Panics
    ///
    /// If `chunk_size` is zero.
    pub fn new(chunk_size: usize) -> Self {
        assert!(chunk_size > 0, "Chunkifier needs a chunk size above zero");
        Chunkifier {
            inbox: Inbox::new("inbox", "the byte stream"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "chunks of exactly the chunk size"),
            signal: Outbox::signal(),
            size: chunk_size,
            frags: VecDeque::new(),
            buffered: 0,
            held: None,
            finishing: None,
        }
    }

    /// Bytes waiting for a full chunk.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Takes `n <= buffered` bytes off the front of the FIFO.
    fn take(&mut self, n: usize) -> Bytes {
        debug_assert!(n <= self.buffered);
        self.buffered -= n;
        let front = self.frags.front_mut().expect("buffered bytes");
        if front.len() >= n {
            let chunk = front.split_to(n);
            if front.is_empty() {
                self.frags.pop_front();
            }
            return chunk;
        }
        let mut chunk = BytesMut::with_capacity(n);
        while chunk.len() < n {
            let front = self.frags.front_mut().expect("buffered bytes");
            let need = n - chunk.len();
            if front.len() <= need {
                chunk.extend_from_slice(front);
                self.frags.pop_front();
            } else {
                chunk.extend_from_slice(&front[..need]);
                front.advance(need);
            }
        }
        chunk.freeze()
    }

    fn send(&mut self, chunk: Bytes) -> bool {
        send_or_hold(&self.outbox, chunk, &mut self.held)
    }
}

impl Component for Chunkifier {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        if shutdown_now(&self.control, &mut self.finishing, &self.signal) {
            return Step::Done;
        }
        if !flush_held(&mut self.held, &self.outbox) {
            return Step::Pause;
        }
        let mut ops = 0;
        loop {
            if ops >= BATCH {
                return Step::Yield;
            }
            ops += 1;
            if self.buffered >= self.size {
                let chunk = self.take(self.size);
                if !self.send(chunk) {
                    return Step::Pause;
                }
                continue;
            }
            match self.inbox.recv() {
                Some(b) if b.is_empty() => {}
                Some(b) => {
                    self.buffered += b.len();
                    self.frags.push_back(b);
                }
                None => break,
            }
        }
        if self.finishing.is_some() {
            if self.buffered > 0 {
                let rest = self.take(self.buffered);
                if !self.send(rest) {
                    return Step::Pause;
                }
            }
            let _ = self.signal.send(self.finishing.take().expect("checked"));
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}

/// Names each chunk `"<base>chunk<N><suffix>"`; see the module
/// documentation.
pub struct ChunkNamer<T: 'static = Bytes> {
    /// Chunks.
    pub inbox: Inbox<T>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// (name, chunk) pairs.
    pub outbox: Outbox<(String, T)>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    base: String,
    suffix: String,
    count: u64,
    relay: Relay<(String, T)>,
}

impl ChunkNamer<Bytes> {
    /// Names byte chunks `"<base>chunk1<suffix>"`, `"<base>chunk2<suffix>"`, ...
    pub fn new(base: impl Into<String>, suffix: impl Into<String>) -> Self {
        Self::with_type(base, suffix)
    }
}

impl<T: 'static> ChunkNamer<T> {
    /// Like [`ChunkNamer::new`], for chunks of another type:
    /// `ChunkNamer::<Vec<u8>>::with_type("out/", ".dat")`.
    pub fn with_type(base: impl Into<String>, suffix: impl Into<String>) -> Self {
        ChunkNamer {
            inbox: Inbox::new("inbox", "chunks to name"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "(name, chunk) pairs"),
            signal: Outbox::signal(),
            base: base.into(),
            suffix: suffix.into(),
            count: 0,
            relay: Relay::new(),
        }
    }
}

impl<T: 'static> Component for ChunkNamer<T> {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        let (base, suffix, count) = (&self.base, &self.suffix, &mut self.count);
        self.relay.step(
            &self.inbox,
            &self.control,
            &self.outbox,
            &self.signal,
            |chunk| {
                *count += 1;
                Some((format!("{base}chunk{count}{suffix}"), chunk))
            },
        )
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}
