//! Packets out of pages: lacing across pages, several logical streams at
//! once, chained streams.
//!
//! [`Demux`] takes checked pages in stream order and hands out whole
//! packets, each tagged with its logical stream's serial number. A packet
//! that spans pages is put together from their segments; one inside a
//! single page shares that page's buffer (no copy).
//!
//! Losses are handled as libogg does: a gap in a stream's page sequence
//! drops the packet that was being put together, and the segments that
//! continue a packet whose start was never seen (a listener joining
//! mid-stream, or after a gap) are dropped too; the next whole packet is
//! marked [`Packet::after_gap`]. Everything dropped is counted.
//!
//! Memory is bounded: at most `max_streams` streams are followed at once
//! (the one heard from longest ago is forgotten to make room) and a packet
//! larger than `max_packet` is dropped and counted.

use super::page::Page;
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;

/// Default bound on one packet's size (Vorbis setup headers are the
/// largest packets in practice, some tens of kilobytes).
pub const DEFAULT_MAX_PACKET: usize = 4 << 20;
/// Default bound on the number of logical streams followed at once.
pub const DEFAULT_MAX_STREAMS: usize = 16;

/// One packet of one logical stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// The logical stream's serial number.
    pub serial: u32,
    /// The packet's bytes.
    pub data: Bytes,
    /// The page's granule position, on the last packet that ends on a page
    /// (the others have `None`, as in libogg).
    pub granule: Option<u64>,
    /// The first packet of a logical stream (begun on its BOS page).
    pub bos: bool,
    /// The last packet of a logical stream (the last to end on its EOS page).
    pub eos: bool,
    /// Something of this stream was lost just before this packet.
    pub after_gap: bool,
}

/// What the demultiplexer counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DemuxStats {
    /// Packets handed out.
    pub packets: u64,
    /// Gaps in a stream's page sequence numbers (pages lost).
    pub gaps: u64,
    /// Partial packets dropped (a gap, or a page that should have continued
    /// them but did not).
    pub dropped_partial: u64,
    /// Packet pieces dropped because their start was never seen.
    pub orphans: u64,
    /// Packets dropped for being larger than the bound.
    pub oversized: u64,
    /// Streams forgotten to make room for a new one.
    pub evicted_streams: u64,
}

struct StreamState {
    serial: u32,
    next_sequence: u32,
    /// The packet being put together across pages.
    partial: BytesMut,
    /// True while a packet is open at the end of the last page.
    in_packet: bool,
    /// True while dropping the rest of an open packet (too large).
    discarding: bool,
    /// The next packet handed out gets `after_gap`.
    gap: bool,
    /// The next packet handed out is the stream's first (`bos`).
    first: bool,
    /// Last use, for choosing whom to forget.
    last_used: u64,
}

impl StreamState {
    fn new(serial: u32, sequence: u32, now: u64) -> Self {
        StreamState {
            serial,
            next_sequence: sequence,
            partial: BytesMut::new(),
            in_packet: false,
            discarding: false,
            gap: false,
            first: false,
            last_used: now,
        }
    }
}

/// The demultiplexer; see the module documentation.
pub struct Demux {
    streams: Vec<StreamState>,
    out: VecDeque<Packet>,
    max_packet: usize,
    max_streams: usize,
    clock: u64,
    stats: DemuxStats,
}

impl Default for Demux {
    fn default() -> Self {
        Self::new()
    }
}

impl Demux {
    /// A demultiplexer with the default bounds.
    pub fn new() -> Self {
        Self::with_limits(DEFAULT_MAX_PACKET, DEFAULT_MAX_STREAMS)
    }

    /// A demultiplexer with its own bounds (each at least 1).
    pub fn with_limits(max_packet: usize, max_streams: usize) -> Self {
        Demux {
            streams: Vec::new(),
            out: VecDeque::new(),
            max_packet: max_packet.max(1),
            max_streams: max_streams.max(1),
            clock: 0,
            stats: DemuxStats::default(),
        }
    }

    /// What was counted so far.
    pub fn stats(&self) -> DemuxStats {
        self.stats
    }

    /// Packets ready to be taken.
    pub fn ready(&self) -> usize {
        self.out.len()
    }

    /// The next whole packet, in the order the pages brought them.
    pub fn next_packet(&mut self) -> Option<Packet> {
        let p = self.out.pop_front()?;
        self.stats.packets += 1;
        Some(p)
    }

    /// Forgets every stream and every packet not yet taken.
    pub fn reset(&mut self) {
        self.streams.clear();
        self.out.clear();
    }

    fn stream_index(&mut self, page: &Page) -> usize {
        self.clock += 1;
        let serial = page.serial();
        if let Some(i) = self.streams.iter().position(|s| s.serial == serial) {
            if page.is_bos() {
                // The same serial starting again: a new stream.
                self.streams[i] = StreamState::new(serial, page.sequence(), self.clock);
                self.streams[i].first = true;
            }
            self.streams[i].last_used = self.clock;
            return i;
        }
        if self.streams.len() >= self.max_streams {
            let oldest = (0..self.streams.len())
                .min_by_key(|&i| self.streams[i].last_used)
                .expect("at least one stream");
            self.streams.remove(oldest);
            self.stats.evicted_streams += 1;
        }
        let mut st = StreamState::new(serial, page.sequence(), self.clock);
        // Joining a stream after its start: the first thing heard of it
        // may be the middle of a packet, which the next packet reports.
        st.gap = !page.is_bos();
        st.first = page.is_bos();
        self.streams.push(st);
        self.streams.len() - 1
    }

    /// Takes one page; its whole packets become ready.
    pub fn push_page(&mut self, page: &Page) {
        let i = self.stream_index(page);
        let max_packet = self.max_packet;
        let stats = &mut self.stats;
        let st = &mut self.streams[i];
        if page.sequence() != st.next_sequence {
            stats.gaps += 1;
            st.gap = true;
            if st.in_packet {
                stats.dropped_partial += 1;
            }
            st.partial.clear();
            st.in_packet = false;
            st.discarding = false;
        }
        st.next_sequence = page.sequence().wrapping_add(1);

        // The first piece continues a packet: ours if one is open, else an
        // orphan. A page that does not continue an open packet ends it.
        let mut orphan = page.is_continued() && !st.in_packet;
        if !page.is_continued() && st.in_packet {
            stats.dropped_partial += 1;
            st.gap = true;
            st.partial.clear();
            st.in_packet = false;
            st.discarding = false;
        }
        let body = page.body();
        // Whether the last packet to end on this page was handed out.
        let mut last_kept = false;
        let mut start = 0usize;
        let mut end = 0usize;
        for &lace in page.segments() {
            end += lace as usize;
            if lace == 255 {
                continue;
            }
            // A packet ends at `end`.
            let piece = &body[start..end];
            last_kept = false;
            if orphan {
                stats.orphans += 1;
                st.gap = true;
                orphan = false;
            } else if st.discarding || st.partial.len() + piece.len() > max_packet {
                if !st.discarding {
                    stats.oversized += 1;
                }
                st.gap = true;
                st.partial.clear();
                st.discarding = false;
            } else {
                last_kept = true;
                let data = if st.partial.is_empty() {
                    body.slice(start..end)
                } else {
                    st.partial.extend_from_slice(piece);
                    st.partial.split().freeze()
                };
                self.out.push_back(Packet {
                    serial: st.serial,
                    data,
                    granule: None,
                    bos: std::mem::take(&mut st.first),
                    eos: false,
                    after_gap: std::mem::take(&mut st.gap),
                });
            }
            st.in_packet = false;
            start = end;
        }
        if page.segments().last() == Some(&255) {
            // A packet stays open past the page's end.
            let piece = &body[start..];
            if orphan {
                // The whole page continues a packet never seen: still
                // an orphan on the next page.
                stats.orphans += 1;
                st.gap = true;
            } else if st.discarding || st.partial.len() + piece.len() > max_packet {
                if !st.discarding {
                    stats.oversized += 1;
                }
                st.partial.clear();
                st.discarding = true;
                st.in_packet = true;
            } else {
                st.partial.extend_from_slice(piece);
                st.in_packet = true;
            }
        }
        if last_kept {
            let last = self.out.back_mut().expect("a packet was added");
            last.granule = page.granule();
            last.eos = page.is_eos();
        }
        if page.is_eos() {
            self.streams.remove(i);
        }
    }
}
