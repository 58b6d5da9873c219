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
            Unit::Line => {
                let buf = match self.reader.fill_buf() {
                    Ok(b) => b,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(Piece::More),
                    Err(e) => return Err(e),
                };
                if buf.is_empty() {
                    return Ok(self.finish());
                }
                match buf.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        self.partial.extend_from_slice(&buf[..=i]);
                        self.reader.consume(i + 1);
                        Ok(Piece::Data(mem::take(&mut self.partial).into()))
                    }
                    None => {
                        let n = buf.len();
                        self.partial.extend_from_slice(buf);
                        self.reader.consume(n);
                        Ok(Piece::More)
                    }
                }
            }
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

    fn finish(&mut self) -> Piece {
        if self.partial.is_empty() {
            Piece::Eof
        } else {
            Piece::Data(mem::take(&mut self.partial).into())
        }
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
