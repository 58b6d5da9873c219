//! Ogg (RFC 3533): the container of Vorbis streams, read push-style.
//!
//! * [`page`]: pages and the push parser ([`PageParser`]): bytes in at any
//!   boundary, checked pages out, capture-pattern resync after garbage,
//!   bad CRCs dropped and counted.
//! * [`packets`]: packets out of pages ([`Demux`]): lacing across pages,
//!   several logical streams, chained streams, losses counted.
//! * [`OggReader`]: the two together, bytes in and packets out.
//!
//! ```
//! use kamaelia::audio::ogg::{OggReader, Page, FLAG_BOS, FLAG_EOS};
//! // One stream of two pages; its second packet spans both.
//! let p0 = Page::build(FLAG_BOS, 0, 9, 0, &[3, 255], &[[1u8; 3].as_slice(), &[2; 255]].concat());
//! let p1 = Page::build(0x01 | FLAG_EOS, 100, 9, 1, &[5], &[2; 5]);
//! let mut r = OggReader::new();
//! let bytes = [p0.as_bytes().as_ref(), p1.as_bytes().as_ref()].concat();
//! for chunk in bytes.chunks(7) {
//!     r.push(chunk);
//! }
//! let a = r.next_packet().unwrap();
//! assert_eq!((a.data.len(), a.bos), (3, true));
//! let b = r.next_packet().unwrap();
//! assert_eq!((b.data.len(), b.granule, b.eos), (260, Some(100), true));
//! assert!(r.next_packet().is_none());
//! ```

mod crc;
pub mod packets;
pub mod page;

pub use crc::{page_crc, update as crc_update};
pub use packets::{Demux, DemuxStats, Packet};
pub use page::{Page, PageParser, PageStats, FLAG_BOS, FLAG_CONTINUED, FLAG_EOS, MAX_PAGE};

/// What an [`OggReader`] counted: its pages and its packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OggStats {
    /// The page parser's counters.
    pub pages: PageStats,
    /// The demultiplexer's counters.
    pub packets: DemuxStats,
}

/// Bytes in, packets out: a [`PageParser`] feeding a [`Demux`]. Pages are
/// parsed only as packets are asked for, so each call does a bounded
/// amount of work (at most one page's CRC per page turned into packets).
#[derive(Default)]
pub struct OggReader {
    parser: PageParser,
    demux: Demux,
}

impl OggReader {
    /// A reader with the default bounds.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds bytes from the stream, at any boundary.
    pub fn push(&mut self, data: &[u8]) {
        self.parser.push(data);
    }

    /// Bytes held not yet made into pages.
    pub fn buffered(&self) -> usize {
        self.parser.buffered()
    }

    /// The next whole packet, or `None` until more bytes come.
    pub fn next_packet(&mut self) -> Option<Packet> {
        loop {
            if let Some(p) = self.demux.next_packet() {
                return Some(p);
            }
            let page = self.parser.next_page()?;
            self.demux.push_page(&page);
        }
    }

    /// What was counted so far.
    pub fn stats(&self) -> OggStats {
        OggStats {
            pages: self.parser.stats(),
            packets: self.demux.stats(),
        }
    }
}
