//! Cutting a byte stream into lines or fixed-size blocks, at most one read
//! of the underlying reader per call to [`Chunker::poll`] (so a component
//! can read a regular file inside its step in bounded pieces).

use std::io::{self, BufRead, BufReader, Read};
use std::mem;

use bytes::Bytes;

/// The unit a [`Chunker`] produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    /// A line, with its `\n` (the last one may lack it).
    Line,
    /// A block of this many bytes (the last one may be shorter).
    Block(usize),
}

/// What one [`Chunker::poll`] found.
#[derive(Debug)]
pub(crate) enum Piece {
    /// A whole unit.
    Data(Bytes),
    /// Part of a unit was read; poll again.
    More,
    /// End of input (after the last unit).
    Eof,
}

/// What one [`Chunker::gather_line`] found.
enum Line {
    /// The line is complete.
    Done,
    /// Part of a line; gather again.
    More,
    /// End of input.
    Eof,
}

/// The most one poll reads in block mode.
const MAX_READ: usize = 64 * 1024;

pub(crate) struct Chunker<R> {
    reader: BufReader<R>,
    partial: Vec<u8>,
    unit: Unit,
}

impl<R: Read> Chunker<R> {
    pub(crate) fn new(reader: R, unit: Unit) -> Self {
        Chunker {
            reader: BufReader::new(reader),
            partial: Vec::new(),
            unit,
        }
    }

    /// Changes the unit; call between units only.
    pub(crate) fn set_unit(&mut self, unit: Unit) {
        self.unit = unit;
    }

    /// Reads at most once from the underlying reader.
    pub(crate) fn poll(&mut self) -> io::Result<Piece> {
        match self.unit {
            Unit::Line => Ok(match self.gather_line()? {
                Line::Done => Piece::Data(mem::take(&mut self.partial).into()),
                Line::More => Piece::More,
                Line::Eof => self.finish(),
            }),
            Unit::Block(size) => {
                let size = size.max(1);
                let have = self.partial.len();
                // Grow as data comes, so a huge request cannot allocate up front.
                self.partial.resize(have + (size - have).min(MAX_READ), 0);
                match self.reader.read(&mut self.partial[have..]) {
                    Ok(0) => {
                        self.partial.truncate(have);
                        Ok(self.finish())
                    }
                    Ok(k) if have + k == size => {
                        Ok(Piece::Data(mem::take(&mut self.partial).into()))
                    }
                    Ok(k) => {
                        self.partial.truncate(have + k);
                        Ok(Piece::More)
                    }
                    Err(e) => {
                        self.partial.truncate(have);
                        if e.kind() == io::ErrorKind::Interrupted {
                            Ok(Piece::More)
                        } else {
                            Err(e)
                        }
                    }
                }
            }
        }
    }

    /// Appends to `partial` what the reader's buffer holds of the current
    /// line, its `\n` included; reads at most once.
    fn gather_line(&mut self) -> io::Result<Line> {
        let buf = match self.reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(Line::More),
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(Line::Eof);
        }
        let (n, line) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, Line::Done),
            None => (buf.len(), Line::More),
        };
        self.partial.extend_from_slice(&buf[..n]);
        self.reader.consume(n);
        Ok(line)
    }

    /// Reads up to `n` lines (fewer at the end) as one piece, each line
    /// copied once: `None` at the end. Whatever the unit, it reads lines.
    pub(crate) fn next_lines(&mut self, n: usize) -> io::Result<Option<Bytes>> {
        let mut lines = 0;
        while lines < n {
            match self.gather_line()? {
                Line::Done => lines += 1,
                Line::More => {}
                Line::Eof => break,
            }
        }
        Ok(self.rest())
    }

    /// Polls until a whole unit or the end: `None` at the end.
    pub(crate) fn next_unit(&mut self) -> io::Result<Option<Bytes>> {
        loop {
            match self.poll()? {
                Piece::Data(b) => return Ok(Some(b)),
                Piece::More => {}
                Piece::Eof => return Ok(None),
            }
        }
    }

    /// At the end of input: the last, short unit, if any.
    fn finish(&mut self) -> Piece {
        self.rest().map_or(Piece::Eof, Piece::Data)
    }

    fn rest(&mut self) -> Option<Bytes> {
        (!self.partial.is_empty()).then(|| mem::take(&mut self.partial).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn all(data: &[u8], unit: Unit) -> Vec<Vec<u8>> {
        let mut c = Chunker::new(Cursor::new(data.to_vec()), unit);
        std::iter::from_fn(|| c.next_unit().unwrap().map(|b| b.to_vec())).collect()
    }

    #[test]
    fn lines_keep_their_newlines_and_the_last_may_lack_one() {
        assert_eq!(
            all(b"a\n\nbc\nd", Unit::Line),
            vec![
                b"a\n".to_vec(),
                b"\n".to_vec(),
                b"bc\n".to_vec(),
                b"d".to_vec()
            ]
        );
        assert!(all(b"", Unit::Line).is_empty());
    }

    #[test]
    fn blocks_are_exact_but_the_last() {
        assert_eq!(
            all(b"abcdefg", Unit::Block(3)),
            vec![b"abc".to_vec(), b"def".to_vec(), b"g".to_vec()]
        );
        assert_eq!(all(b"abcdef", Unit::Block(3)).len(), 2);
        let big = vec![7u8; 200 * 1024];
        assert_eq!(all(&big, Unit::Block(usize::MAX)), vec![big.clone()]);
    }

    #[test]
    fn next_lines_joins_up_to_n_lines() {
        let mut c = Chunker::new(Trickle(b"a\nbc\n\nd".to_vec(), 0), Unit::Line);
        assert_eq!(c.next_lines(2).unwrap().as_deref(), Some(&b"a\nbc\n"[..]));
        assert_eq!(c.next_lines(5).unwrap().as_deref(), Some(&b"\nd"[..]));
        assert_eq!(c.next_lines(1).unwrap(), None);
    }

    /// A reader that hands out one byte per read.
    struct Trickle(Vec<u8>, usize);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.1 >= self.0.len() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[self.1];
            self.1 += 1;
            Ok(1)
        }
    }

    #[test]
    fn each_poll_reads_at_most_once() {
        let mut c = Chunker::new(Trickle(b"xy\n".to_vec(), 0), Unit::Line);
        // BufReader asks for 8 KiB, Trickle gives one byte each time.
        assert!(matches!(c.poll().unwrap(), Piece::More));
        assert!(matches!(c.poll().unwrap(), Piece::More));
        match c.poll().unwrap() {
            Piece::Data(b) => assert_eq!(&b[..], b"xy\n"),
            p => panic!("{p:?}"),
        }
        assert!(matches!(c.poll().unwrap(), Piece::Eof));
    }
}
