//! Lines out of a byte stream cut anywhere: what a TCP connection hands
//! over in reads of any size becomes whole IRC lines.
//!
//! A line ends at LF; a CR just before it is dropped (servers send CRLF,
//! some tools send a bare LF). A line that reaches the limit without an
//! end is reported once, as [`LineError::TooLong`], and the rest of it is
//! skipped up to its LF, so one oversized line never takes the next one
//! with it nor grows the buffer without bound. The limits are RFC 1459's
//! 512 bytes (CRLF included) for the message and IRCv3's 8,191 bytes for
//! the tags before it (the leading `@` and the space after them included).
//!
//! The original split each read on `\n` on its own, so a line cut across
//! two reads became two broken lines.
//!
//! ```
//! use kamaelia::protocol::irc::{LineReader, LineEvent};
//! let mut r = LineReader::new();
//! r.push(b"PING :a");
//! assert!(r.next_line().is_none());
//! r.push(b"bc\r\n");
//! assert_eq!(r.next_line(), Some(LineEvent::Line(b"PING :abc".to_vec())));
//! ```

use std::fmt;

/// Most bytes of a message, CRLF included (RFC 1459 §2.3).
pub const MAX_LINE: usize = 512;
/// Most bytes of IRCv3 message tags, the `@` and the space after them
/// included.
pub const MAX_TAGS: usize = 8191;

/// Why a line was not passed on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineError {
    /// The message (after any tags) is longer than [`MAX_LINE`] bytes with
    /// its line end; `len` is how long it was, or at least how much was
    /// seen before giving up on it.
    TooLong {
        /// Bytes seen.
        len: usize,
    },
    /// The tags are longer than [`MAX_TAGS`] bytes.
    TagsTooLong {
        /// Bytes seen.
        len: usize,
    },
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::TooLong { len } => {
                write!(f, "line of {len} bytes or more (the limit is {MAX_LINE})")
            }
            LineError::TagsTooLong { len } => {
                write!(
                    f,
                    "message tags of {len} bytes or more (the limit is {MAX_TAGS})"
                )
            }
        }
    }
}

impl std::error::Error for LineError {}

/// What [`LineReader::next_line`] gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineEvent {
    /// A whole line, without its CR LF (maybe not UTF-8).
    Line(Vec<u8>),
    /// A line that broke a limit; the rest of it is skipped.
    Error(LineError),
}

/// Cuts a byte stream into lines; see the module documentation.
#[derive(Debug, Default)]
pub struct LineReader {
    buf: Vec<u8>,
    /// Where the next line starts in `buf`.
    start: usize,
    /// Bytes from `start` known to hold no LF (so they are not searched again).
    scanned: usize,
    /// Inside an over-long line already reported: drop bytes up to its LF.
    skipping: bool,
}

impl LineReader {
    /// An empty reader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes as they arrived.
    pub fn push(&mut self, data: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes held that are not yet a whole line.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next line or error, if one is complete.
    pub fn next_line(&mut self) -> Option<LineEvent> {
        loop {
            let rest = &self.buf[self.start..];
            let found = memchr_lf(&rest[self.scanned..]).map(|i| i + self.scanned);
            match found {
                Some(i) => {
                    let line_start = self.start;
                    self.start += i + 1;
                    self.scanned = 0;
                    if std::mem::take(&mut self.skipping) {
                        continue;
                    }
                    let mut end = line_start + i;
                    if end > line_start && self.buf[end - 1] == b'\r' {
                        end -= 1;
                    }
                    let line = &self.buf[line_start..end];
                    if let Err(e) = check_limits(line, true) {
                        return Some(LineEvent::Error(e));
                    }
                    let line = line.to_vec();
                    self.compact();
                    return Some(LineEvent::Line(line));
                }
                None => {
                    self.scanned = rest.len();
                    if self.skipping {
                        // Nothing of the skipped line needs keeping.
                        self.buf.truncate(self.start);
                        self.scanned = 0;
                        self.compact();
                        return None;
                    }
                    // No end yet: is what is held already too long?
                    let err = check_limits(rest, false).err();
                    if let Some(e) = err {
                        self.skipping = true;
                        self.buf.truncate(self.start);
                        self.scanned = 0;
                        self.compact();
                        return Some(LineEvent::Error(e));
                    }
                    self.compact();
                    return None;
                }
            }
        }
    }

    /// Moves what is held to the front once the used part is large, so the
    /// buffer stays about one line long.
    fn compact(&mut self) {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 4096 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }
}

fn memchr_lf(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// Checks a line (without its line end when `whole`, else a line still
/// arriving) against the limits. The line end counts: 2 bytes for a whole
/// line (as if CRLF), and at least 1 more for one still arriving.
fn check_limits(line: &[u8], whole: bool) -> Result<(), LineError> {
    let end = if whole { 2 } else { 1 };
    let (tags, msg) = if line.first() == Some(&b'@') {
        match line.iter().position(|&c| c == b' ') {
            Some(sp) => (sp + 1, line.len() - sp - 1),
            // The tags are still arriving (or the line is all tags).
            None => (line.len() + usize::from(!whole), 0),
        }
    } else {
        (0, line.len())
    };
    if tags > MAX_TAGS {
        return Err(LineError::TagsTooLong { len: tags });
    }
    if msg + end > MAX_LINE {
        return Err(LineError::TooLong { len: msg + end });
    }
    Ok(())
}
