//! Piece hashing: the files of a [`Layout`] read as one stream, cut into
//! pieces of `piece_length` bytes across file boundaries, each piece's
//! SHA-1 appended to `pieces`.
//!
//! SHA-1 is the `sha1` crate's, which picks the SHA-NI instructions at run
//! time (through `cpufeatures`) when the CPU has them; nothing to switch
//! on. The read buffer holds whole pieces, so the pieces of one buffer are
//! independent: with `threads > 1` they are split into that many runs,
//! hashed at once on scoped threads, and their digests joined in order.
//! Reading runs on a thread of its own, a buffer or two ahead.

use std::fs::File;
use std::io::{self, Read};

use crossbeam_channel::{bounded, Receiver, Sender};
use sha1::{Digest, Sha1};

use super::walk::Layout;
use super::MakeError;

/// Bytes read per buffer (rounded to whole pieces; at least one piece).
const READ_BUFFER: usize = 8 << 20;
/// Buffers filled ahead of the hashing.
const READ_AHEAD: usize = 2;

/// SHA-1 of pieces fed as a stream of slices of any size.
pub struct PieceHasher {
    piece_length: usize,
    threads: usize,
    state: Sha1,
    /// Bytes of the current piece hashed so far.
    in_piece: usize,
    pieces: Vec<u8>,
}

impl PieceHasher {
    /// A hasher cutting pieces of `piece_length` (> 0) bytes, using up to
    /// `threads` threads for runs of whole pieces.
    pub fn new(piece_length: usize, threads: usize) -> Self {
        assert!(piece_length > 0, "piece length 0");
        PieceHasher {
            piece_length,
            threads: threads.max(1),
            state: Sha1::new(),
            in_piece: 0,
            pieces: Vec::new(),
        }
    }

    /// Hashes `data`, the next bytes of the stream.
    pub fn update(&mut self, mut data: &[u8]) {
        if self.in_piece > 0 {
            let take = data.len().min(self.piece_length - self.in_piece);
            self.state.update(&data[..take]);
            self.in_piece += take;
            data = &data[take..];
            if self.in_piece == self.piece_length {
                self.end_piece();
            }
        }
        let whole = data.len() / self.piece_length * self.piece_length;
        self.whole_pieces(&data[..whole]);
        let rest = &data[whole..];
        if !rest.is_empty() {
            self.state.update(rest);
            self.in_piece = rest.len();
        }
    }

    /// The `pieces` string: 20 bytes per piece, the last one short if the
    /// stream ended inside it. Nothing for an empty stream.
    pub fn finish(mut self) -> Vec<u8> {
        if self.in_piece > 0 {
            self.end_piece();
        }
        self.pieces
    }

    fn end_piece(&mut self) {
        self.pieces
            .extend_from_slice(&self.state.finalize_reset()[..]);
        self.in_piece = 0;
    }

    /// Hashes `data`, a whole number of pieces, starting on a boundary.
    fn whole_pieces(&mut self, data: &[u8]) {
        let n = data.len() / self.piece_length;
        if n == 0 {
            return;
        }
        let start = self.pieces.len();
        self.pieces.resize(start + 20 * n, 0);
        let out = &mut self.pieces[start..];
        let runs = self.threads.min(n);
        if runs <= 1 {
            hash_run(data, self.piece_length, out);
            return;
        }
        let per_run = n.div_ceil(runs);
        let pl = self.piece_length;
        std::thread::scope(|s| {
            let mut chunks = data.chunks(per_run * pl).zip(out.chunks_mut(per_run * 20));
            // This thread hashes the first run itself.
            let first = chunks.next();
            for (d, o) in chunks {
                s.spawn(move || hash_run(d, pl, o));
            }
            if let Some((d, o)) = first {
                hash_run(d, pl, o);
            }
        });
    }
}

/// Hashes consecutive whole pieces of `data` into `out` (20 bytes each).
fn hash_run(data: &[u8], piece_length: usize, out: &mut [u8]) {
    for (piece, digest) in data.chunks(piece_length).zip(out.chunks_mut(20)) {
        digest.copy_from_slice(&Sha1::digest(piece)[..]);
    }
}

/// Reads every file of `layout` in order and hashes it in pieces.
///
/// A reader thread fills piece-aligned buffers (crossing file boundaries)
/// while this thread hashes the one before, so reading and hashing
/// overlap; two buffers (`READ_AHEAD`) go round between the two.
///
/// `progress(hashed)` is called after each buffer with the bytes hashed so
/// far; returning false stops the work with [`MakeError::Cancelled`]. A
/// file that is shorter than when it was walked is
/// [`MakeError::Changed`]; only as many bytes as were walked are read from
/// a file that grew.
pub fn hash_files(
    layout: &Layout,
    piece_length: u64,
    threads: usize,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<Vec<u8>, MakeError> {
    let pl = usize::try_from(piece_length).map_err(|_| MakeError::BadPieceLength(piece_length))?;
    let mut hasher = PieceHasher::new(pl, threads);
    let total = usize::try_from(layout.total_length).unwrap_or(usize::MAX);
    let buf_len = ((READ_BUFFER / pl).max(1) * pl).min(total.max(1));
    std::thread::scope(|s| {
        let (full_tx, full_rx) = bounded::<Result<(Vec<u8>, usize), MakeError>>(READ_AHEAD);
        let (free_tx, free_rx) = bounded::<Vec<u8>>(READ_AHEAD + 1);
        for _ in 0..READ_AHEAD.min(total.div_ceil(buf_len)).max(1) {
            let _ = free_tx.send(vec![0u8; buf_len]);
        }
        s.spawn(move || read_all(layout, &full_tx, &free_rx));
        // On any return the channels drop, and the reader stops.
        let mut hashed = 0u64;
        for got in full_rx {
            let (buf, n) = got?;
            hasher.update(&buf[..n]);
            hashed += n as u64;
            let _ = free_tx.send(buf);
            if !progress(hashed) {
                return Err(MakeError::Cancelled);
            }
        }
        Ok(())
    })?;
    Ok(hasher.finish())
}

/// The reader thread: fills buffers from `free` with the files' bytes and
/// sends them on `full` (every buffer full but the last); ends when done,
/// on an error (sent), or when the hashing side has gone.
fn read_all(
    layout: &Layout,
    full: &Sender<Result<(Vec<u8>, usize), MakeError>>,
    free: &Receiver<Vec<u8>>,
) {
    let Ok(mut buf) = free.recv() else { return };
    let mut filled = 0;
    for f in &layout.files {
        let mut file = match File::open(&f.disk_path) {
            Ok(file) => file.take(f.length),
            Err(e) => {
                let _ = full.send(Err(MakeError::unreadable(&f.disk_path, e)));
                return;
            }
        };
        let mut got = 0u64;
        loop {
            let n = match read_some(&mut file, &mut buf[filled..]) {
                Ok(n) => n,
                Err(e) => {
                    let _ = full.send(Err(MakeError::unreadable(&f.disk_path, e)));
                    return;
                }
            };
            if n == 0 {
                break;
            }
            got += n as u64;
            filled += n;
            if filled == buf.len() {
                if full.send(Ok((buf, filled))).is_err() {
                    return;
                }
                buf = match free.recv() {
                    Ok(b) => b,
                    Err(_) => return,
                };
                filled = 0;
            }
        }
        if got < f.length {
            let _ = full.send(Err(MakeError::Changed(f.disk_path.clone())));
            return;
        }
    }
    if filled > 0 {
        let _ = full.send(Ok((buf, filled)));
    }
}

fn read_some(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}
