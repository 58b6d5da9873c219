//! Ogg pages (RFC 3533) and a push parser for them.
//!
//! [`PageParser`] takes bytes at any boundary ([`PageParser::push`]) and
//! hands out whole pages ([`PageParser::next_page`]). It looks for the
//! capture pattern `OggS`, skipping (and counting) anything else, so it
//! finds its way back after garbage or a cut in the stream. A page whose
//! CRC-32 does not match is never passed on: it is counted, and the search
//! starts again one byte after its capture pattern (the pattern may have
//! been a chance match inside garbage, and the real page may follow).
//!
//! Memory is bounded: a page is at most [`MAX_PAGE`] bytes, and the parser
//! keeps at most what was pushed and not yet taken as pages.

use super::crc::page_crc;
use bytes::{Buf, Bytes, BytesMut};

/// The capture pattern that starts every page.
pub const CAPTURE: &[u8; 4] = b"OggS";
/// Bytes of the fixed page header (before the segment table).
pub const HEADER_LEN: usize = 27;
/// The largest page: a full header, 255 segments of 255 bytes.
pub const MAX_PAGE: usize = HEADER_LEN + 255 + 255 * 255;

/// Header flag: the page starts with the continuation of a packet.
pub const FLAG_CONTINUED: u8 = 0x01;
/// Header flag: the first page of a logical stream.
pub const FLAG_BOS: u8 = 0x02;
/// Header flag: the last page of a logical stream.
pub const FLAG_EOS: u8 = 0x04;

/// One checked page. Cheap to clone: the bytes are shared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    raw: Bytes,
}

impl Page {
    /// The page's bytes from a buffer that holds a whole, checked page.
    fn from_raw(raw: Bytes) -> Page {
        Page { raw }
    }

    /// Builds a page (with its CRC) from its parts; `segments` is the
    /// lacing table and must describe `body`. For tests and encoders.
    ///
    /// # Panics
    ///
    /// If there are more than 255 segments or they do not add up to
    /// `body`'s length (a caller's mistake, not bad input).
    pub fn build(
        flags: u8,
        granule: u64,
        serial: u32,
        sequence: u32,
        segments: &[u8],
        body: &[u8],
    ) -> Page {
        assert!(segments.len() <= 255, "at most 255 segments");
        let sum: usize = segments.iter().map(|&s| s as usize).sum();
        assert_eq!(sum, body.len(), "the lacing table must describe the body");
        let mut raw = Vec::with_capacity(HEADER_LEN + segments.len() + body.len());
        raw.extend_from_slice(CAPTURE);
        raw.push(0);
        raw.push(flags);
        raw.extend_from_slice(&granule.to_le_bytes());
        raw.extend_from_slice(&serial.to_le_bytes());
        raw.extend_from_slice(&sequence.to_le_bytes());
        raw.extend_from_slice(&[0; 4]);
        raw.push(segments.len() as u8);
        raw.extend_from_slice(segments);
        raw.extend_from_slice(body);
        let crc = page_crc(&raw);
        raw[22..26].copy_from_slice(&crc.to_le_bytes());
        Page::from_raw(Bytes::from(raw))
    }

    /// The whole page as it was on the wire.
    pub fn as_bytes(&self) -> &Bytes {
        &self.raw
    }

    /// The header-type flags ([`FLAG_CONTINUED`], [`FLAG_BOS`], [`FLAG_EOS`]).
    pub fn flags(&self) -> u8 {
        self.raw[5]
    }

    /// Whether the page begins with the rest of a packet from the page before.
    pub fn is_continued(&self) -> bool {
        self.flags() & FLAG_CONTINUED != 0
    }

    /// Whether this is the first page of its logical stream.
    pub fn is_bos(&self) -> bool {
        self.flags() & FLAG_BOS != 0
    }

    /// Whether this is the last page of its logical stream.
    pub fn is_eos(&self) -> bool {
        self.flags() & FLAG_EOS != 0
    }

    /// The raw granule position (`u64::MAX`, i.e. -1, when no packet ends here).
    pub fn granule_raw(&self) -> u64 {
        u64::from_le_bytes(self.raw[6..14].try_into().expect("8 bytes"))
    }

    /// The granule position, `None` when no packet ends on this page.
    pub fn granule(&self) -> Option<u64> {
        Some(self.granule_raw()).filter(|&g| g != u64::MAX)
    }

    /// The logical stream's serial number.
    pub fn serial(&self) -> u32 {
        u32::from_le_bytes(self.raw[14..18].try_into().expect("4 bytes"))
    }

    /// The page's sequence number within its logical stream.
    pub fn sequence(&self) -> u32 {
        u32::from_le_bytes(self.raw[18..22].try_into().expect("4 bytes"))
    }

    /// The lacing values, one per segment.
    pub fn segments(&self) -> &[u8] {
        let n = self.raw[26] as usize;
        &self.raw[HEADER_LEN..HEADER_LEN + n]
    }

    /// The page body (the segments' bytes), sharing the page's buffer.
    pub fn body(&self) -> Bytes {
        let n = self.raw[26] as usize;
        self.raw.slice(HEADER_LEN + n..)
    }
}

/// What the page parser counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageStats {
    /// Good pages handed out.
    pub pages: u64,
    /// Pages dropped because their CRC did not match.
    pub bad_crc: u64,
    /// Capture patterns followed by a version other than 0 (not a page).
    pub bad_version: u64,
    /// Bytes skipped while looking for a capture pattern.
    pub skipped_bytes: u64,
    /// Times the parser lost and looked for the capture pattern again.
    pub resyncs: u64,
}

/// The push parser; see the module documentation.
#[derive(Debug, Default)]
pub struct PageParser {
    buf: BytesMut,
    stats: PageStats,
    /// True while skipping a run of garbage (so a run counts one resync).
    lost: bool,
}

impl PageParser {
    /// An empty parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes from the stream, at any boundary.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes held that are not yet part of a page handed out.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// What was counted so far.
    pub fn stats(&self) -> PageStats {
        self.stats
    }

    /// Drops everything held (a seek or a new connection).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.lost = false;
    }

    fn skip(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        if !self.lost {
            self.lost = true;
            self.stats.resyncs += 1;
        }
        self.stats.skipped_bytes += n as u64;
        self.buf.advance(n);
    }

    /// The next whole, checked page, or `None` until more bytes come.
    pub fn next_page(&mut self) -> Option<Page> {
        loop {
            if self.buf.len() < CAPTURE.len() {
                return None;
            }
            if &self.buf[..4] != CAPTURE {
                match find_capture(&self.buf[1..]) {
                    Some(at) => self.skip(at + 1),
                    None => {
                        // Keep a tail that could be the start of a pattern.
                        let keep = partial_capture_tail(&self.buf);
                        self.skip(self.buf.len() - keep);
                        return None;
                    }
                }
                continue;
            }
            if self.buf.len() < HEADER_LEN {
                return None;
            }
            if self.buf[4] != 0 {
                self.stats.bad_version += 1;
                self.skip(1);
                continue;
            }
            let nseg = self.buf[26] as usize;
            if self.buf.len() < HEADER_LEN + nseg {
                return None;
            }
            let body: usize = self.buf[HEADER_LEN..HEADER_LEN + nseg]
                .iter()
                .map(|&s| s as usize)
                .sum();
            let total = HEADER_LEN + nseg + body;
            if self.buf.len() < total {
                return None;
            }
            let want = u32::from_le_bytes(self.buf[22..26].try_into().expect("4 bytes"));
            if page_crc(&self.buf[..total]) != want {
                self.stats.bad_crc += 1;
                self.skip(1);
                continue;
            }
            self.lost = false;
            self.stats.pages += 1;
            return Some(Page::from_raw(self.buf.split_to(total).freeze()));
        }
    }
}

/// Where the capture pattern starts in `data`, if it does.
fn find_capture(data: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = data[from..].iter().position(|&b| b == b'O') {
        let at = from + i;
        if data.len() - at < 4 {
            return None;
        }
        if &data[at..at + 4] == CAPTURE {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// How many bytes at the end of `data` (at most 3) could begin a capture
/// pattern that the next push completes.
fn partial_capture_tail(data: &[u8]) -> usize {
    (1..=3.min(data.len()))
        .rev()
        .find(|&k| data[data.len() - k..] == CAPTURE[..k])
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_partial_tails() {
        assert_eq!(partial_capture_tail(b"xxOgg"), 3);
        assert_eq!(partial_capture_tail(b"xxOg"), 2);
        assert_eq!(partial_capture_tail(b"xxO"), 1);
        assert_eq!(partial_capture_tail(b"xxx"), 0);
        assert_eq!(find_capture(b"abOgOggS"), Some(4));
        assert_eq!(find_capture(b"abOgg"), None);
    }

    #[test]
    fn a_page_round_trips_one_byte_at_a_time() {
        let page = Page::build(FLAG_BOS, 7, 42, 0, &[3, 0], b"abc");
        let mut p = PageParser::new();
        for &b in page.as_bytes().iter() {
            assert_eq!(p.next_page(), None);
            p.push(&[b]);
        }
        let got = p.next_page().unwrap();
        assert_eq!(got, page);
        assert_eq!(got.serial(), 42);
        assert_eq!(got.granule(), Some(7));
        assert!(got.is_bos() && !got.is_eos() && !got.is_continued());
        assert_eq!(&got.body()[..], b"abc");
        assert_eq!(p.stats().pages, 1);
        assert_eq!(p.stats().skipped_bytes, 0);
    }
}
