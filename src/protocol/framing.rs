//! Framing for binary data: length-prefixed frames, sync-marker chunks
//! with escaping, and packets of a maximum size.
//!
//! Kamaelia's `Framer`, `DeFramer`, `DataChunker`, `DataDeChunker` and
//! `MaxSizePacketiser`, rebuilt for bytes. The originals were text-only,
//! released at most one chunk per input message (and the first one a
//! message late), and dropped short frames silently; here any bytes
//! round-trip, every complete frame is released as soon as its last byte
//! arrives (however many arrive in one message), and a bad stream is a
//! typed [`FramingError`] carried by [`Signal::Failed`].
//!
//! The parsers are plain structs with no scheduler in sight
//! ([`FrameDecoder`], [`ChunkDecoder`]), so they can be tested and fuzzed
//! alone; the components wrap them.
//!
//! # Frame wire format
//!
//! A frame is a 24-byte header and the body; integers are big-endian.
//!
//! | offset | size | field      | value                                        |
//! |--------|------|------------|----------------------------------------------|
//! | 0      | 2    | magic      | `b"KF"`                                      |
//! | 2      | 1    | version    | 1                                            |
//! | 3      | 1    | flags      | 0 (reserved; anything else is corrupt)       |
//! | 4      | 8    | tag        | the frame's tag (`u64`), any value           |
//! | 12     | 4    | length     | body length in bytes (`u32`)                 |
//! | 16     | 4    | body CRC   | CRC-32 (IEEE) of the body                    |
//! | 20     | 4    | header CRC | CRC-32 (IEEE) of bytes 0..20                 |
//! | 24     | len  | body       | the data, any bytes                          |
//!
//! The header CRC is checked before the length is believed, so a damaged
//! length is reported as corrupt rather than waited for; a length above the
//! decoder's maximum is [`FramingError::Oversize`] as soon as the header is
//! in, before any of the body is buffered. A decoder therefore never holds
//! more than `HEADER_LEN + max` bytes.
//!
//! # Chunk wire format
//!
//! A chunk is the sync marker, the escaped payload, and a two-byte
//! terminator:
//!
//! ```text
//! marker (default 7E 'K' 'A' 'M' 'S' 'Y' 'N' 'C')  escaped payload  F T
//! ```
//!
//! where `F` is the marker's first byte and `T` is the marker's second
//! byte with every bit flipped. Escaping (HDLC style, escape byte
//! [`ESCAPE`] = `7D`): a payload byte `F` is sent as `7D, F ^ 0x20`, a
//! payload byte `7D` as `7D, 5D`; nothing else changes. So `F` appears on
//! the wire only where a marker or terminator starts: a decoder finds chunk
//! boundaries without knowing lengths, and a chunk is released the moment
//! its terminator arrives (the original only released a chunk when the
//! *next* marker came). A marker must be at least 2 bytes, its first byte
//! must not occur again in it, and must not be `7D` or `5D`.
//!
//! # Components
//!
//! | component           | inbox            | outbox          |
//! |---------------------|------------------|-----------------|
//! | [`Framer`]          | `(u64, Bytes)`   | `Bytes` (one frame per message) |
//! | [`DeFramer`]        | `Bytes` (a stream cut anyhow) | `(u64, Bytes)` |
//! | [`DataChunker`]     | `Bytes`          | `Bytes` (one chunk per message) |
//! | [`DataDeChunker`]   | `Bytes` (a stream cut anyhow) | `Bytes` (the payloads) |
//! | [`MaxSizePacketiser`] | `Bytes`        | `Bytes` (pieces of at most `maxsize` bytes) |
//!
//! All have `control` and `signal` too and follow the shutdown convention:
//!
//! | box     | carries  | meaning                                              |
//! |---------|----------|------------------------------------------------------|
//! | control | `Signal` | producer finished: decode what waits, send it, then end (a partial frame left over is an error: `Failed(Truncated)`); `Failed` from upstream is passed on as it is; shutdown: end now |
//! | signal  | `Signal` | the signal that ended it, or `Failed(FramingError)` |
//!
//! On a bad frame a decoder sends the frames before it, then
//! `Signal::Failed` carrying the [`FramingError`] on `signal`, and ends.
//! A message refused by a full destination is kept, and no more input is
//! read until the consumer takes one.
//!
//! ```
//! use bytes::Bytes;
//! use kamaelia::axon::Signal;
//! use kamaelia::protocol::framing::{DeFramer, Framer};
//! use kamaelia::testing::Harness;
//!
//! let mut h = Harness::new();
//! let framer = h.spawn(Framer::new());
//! let deframer = h.spawn(DeFramer::new());
//! h.scheduler().link((framer, "outbox"), (deframer, "inbox")).unwrap();
//! h.scheduler().link((framer, "signal"), (deframer, "control")).unwrap();
//! let input = h.feeder::<(u64, Bytes)>(framer, "inbox").unwrap();
//! let done = h.feeder::<Signal>(framer, "control").unwrap();
//! let out = h.collector::<(u64, Bytes)>(deframer, "outbox").unwrap();
//! let sig = h.collector::<Signal>(deframer, "signal").unwrap();
//! input.send((1, Bytes::from_static(b"\x00binary\xff"))).unwrap();
//! input.send((2, Bytes::new())).unwrap();
//! done.send(Signal::ProducerFinished).unwrap();
//! h.run_until_idle();
//! assert_eq!(out.drain(), [(1, Bytes::from_static(b"\x00binary\xff")), (2, Bytes::new())]);
//! assert_eq!(sig.drain(), [Signal::ProducerFinished]);
//! ```

use std::collections::VecDeque;
use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::axon::{BoxSet, Component, Cx, Full, Inbox, Outbox, Signal, Step};

/// A frame: its tag and its body.
pub type Frame = (u64, Bytes);

/// Bytes in a frame header.
pub const HEADER_LEN: usize = 24;

/// The first two bytes of every frame.
pub const MAGIC: [u8; 2] = *b"KF";

/// The frame format version written and accepted.
pub const VERSION: u8 = 1;

/// The default largest frame body (and chunk payload) accepted: 1 MiB.
pub const DEFAULT_MAX_FRAME: usize = 1 << 20;

/// The escape byte of the chunk format.
pub const ESCAPE: u8 = 0x7D;

/// The default sync marker of the chunk format: `7E "KAMSYNC"`.
pub const DEFAULT_MARKER: &[u8] = b"\x7EKAMSYNC";

/// Most input messages a component handles in one step before yielding.
const BATCH: usize = 256;

/// What can be wrong with a framed or chunked stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FramingError {
    /// A frame (or chunk) longer than the configured maximum. For frames
    /// `size` is the announced length; for chunks (which announce none) it
    /// is the length reached when the limit was crossed.
    Oversize {
        /// The length announced, or reached.
        size: u64,
        /// The maximum allowed.
        max: usize,
        /// Where the frame starts in the stream (bytes from the start).
        offset: u64,
    },
    /// Bytes that cannot be a valid frame or chunk.
    Corrupt {
        /// Where in the stream (bytes from the start) it was found.
        offset: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// The stream (or datagram) ended inside a frame.
    Truncated {
        /// How many bytes of the unfinished frame had arrived.
        received: u64,
    },
}

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FramingError::Oversize { size, max, offset } => write!(
                f,
                "frame at byte {offset} is {size} bytes long, over the maximum of {max}"
            ),
            FramingError::Corrupt { offset, reason } => {
                write!(f, "corrupt frame at byte {offset}: {reason}")
            }
            FramingError::Truncated { received } => write!(
                f,
                "stream ended inside a frame ({received} bytes of it received)"
            ),
        }
    }
}

impl std::error::Error for FramingError {}

// ---------------------------------------------------------------------------
// CRC-32 (IEEE 802.3, reflected, as zlib's crc32)

/// CRC-32 (IEEE, as zlib's `crc32`) of `data`, by the `crc32fast` crate
/// (the same polynomial, computed with the CPU's carry-less multiply where
/// it has one, and 16 bytes a step from tables where not).
///
/// ```
/// assert_eq!(kamaelia::protocol::framing::crc32(b"123456789"), 0xCBF4_3926);
/// ```
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

// ---------------------------------------------------------------------------
// Frames

/// Writes one frame (header and body) to `buf`.
///
/// Fails with [`FramingError::Oversize`] if the body is longer than `max`
/// (or than `u32::MAX`).
pub fn encode_frame_into(
    buf: &mut BytesMut,
    tag: u64,
    body: &[u8],
    max: usize,
) -> Result<(), FramingError> {
    if body.len() > max || body.len() > u32::MAX as usize {
        return Err(FramingError::Oversize {
            size: body.len() as u64,
            max: max.min(u32::MAX as usize),
            offset: 0,
        });
    }
    buf.reserve(HEADER_LEN + body.len());
    let mut head = [0u8; HEADER_LEN];
    head[0..2].copy_from_slice(&MAGIC);
    head[2] = VERSION;
    head[3] = 0;
    head[4..12].copy_from_slice(&tag.to_be_bytes());
    head[12..16].copy_from_slice(&(body.len() as u32).to_be_bytes());
    head[16..20].copy_from_slice(&crc32(body).to_be_bytes());
    let hc = crc32(&head[..20]);
    head[20..24].copy_from_slice(&hc.to_be_bytes());
    buf.put_slice(&head);
    buf.put_slice(body);
    Ok(())
}

/// One frame as bytes; see [`encode_frame_into`].
///
/// ```
/// use bytes::Bytes;
/// use kamaelia::protocol::framing::{decode_frame, encode_frame, DEFAULT_MAX_FRAME};
/// let f = encode_frame(7, b"hello", DEFAULT_MAX_FRAME).unwrap();
/// assert_eq!(f.len(), 24 + 5);
/// assert_eq!(decode_frame(&f, DEFAULT_MAX_FRAME).unwrap(), (7, Bytes::from("hello")));
/// ```
pub fn encode_frame(tag: u64, body: &[u8], max: usize) -> Result<Bytes, FramingError> {
    let mut buf = BytesMut::with_capacity(HEADER_LEN + body.len().min(max));
    encode_frame_into(&mut buf, tag, body, max)?;
    Ok(buf.freeze())
}

/// A parsed, checked header.
struct Header {
    tag: u64,
    len: usize,
    crc: u32,
}

/// Checks a header; `offset` is where the frame starts in the stream.
fn parse_header(h: &[u8; HEADER_LEN], max: usize, offset: u64) -> Result<Header, FramingError> {
    let corrupt = |reason| FramingError::Corrupt { offset, reason };
    if h[0..2] != MAGIC {
        return Err(corrupt("bad magic (not a frame header)"));
    }
    if h[2] != VERSION {
        return Err(corrupt("unknown frame version"));
    }
    let hc = u32::from_be_bytes(h[20..24].try_into().expect("4 bytes"));
    if crc32(&h[..20]) != hc {
        return Err(corrupt("header checksum mismatch"));
    }
    if h[3] != 0 {
        return Err(corrupt("reserved flags set"));
    }
    let len = u32::from_be_bytes(h[12..16].try_into().expect("4 bytes"));
    if len as u64 > max as u64 {
        return Err(FramingError::Oversize {
            size: len as u64,
            max,
            offset,
        });
    }
    Ok(Header {
        tag: u64::from_be_bytes(h[4..12].try_into().expect("8 bytes")),
        len: len as usize,
        crc: u32::from_be_bytes(h[16..20].try_into().expect("4 bytes")),
    })
}

fn check_body(h: &Header, body: Bytes, offset: u64) -> Result<Frame, FramingError> {
    if crc32(&body) != h.crc {
        return Err(FramingError::Corrupt {
            offset,
            reason: "body checksum mismatch",
        });
    }
    Ok((h.tag, body))
}

/// Decodes a datagram holding exactly one frame (the body is a zero-copy
/// slice of `data`). Short data is [`FramingError::Truncated`], bytes
/// after the frame are [`FramingError::Corrupt`].
pub fn decode_frame(data: &Bytes, max: usize) -> Result<Frame, FramingError> {
    if data.len() < HEADER_LEN {
        return Err(FramingError::Truncated {
            received: data.len() as u64,
        });
    }
    let head: &[u8; HEADER_LEN] = data[..HEADER_LEN].try_into().expect("checked length");
    let h = parse_header(head, max, 0)?;
    let end = HEADER_LEN + h.len;
    if data.len() < end {
        return Err(FramingError::Truncated {
            received: data.len() as u64,
        });
    }
    if data.len() > end {
        return Err(FramingError::Corrupt {
            offset: end as u64,
            reason: "bytes after the end of the frame",
        });
    }
    check_body(&h, data.slice(HEADER_LEN..end), 0)
}

/// The smallest body buffer a [`FrameDecoder`] allocates.
pub const MIN_GROWTH: usize = 64;

/// Makes room in `buf` for `n` more bytes of a body of `len` bytes, as the
/// bytes arrive: the announced length is not believed up front (a 25-byte
/// header and a byte would otherwise pin `max` bytes), capacity at most
/// doubles, and never passes `len`.
fn grow(buf: &mut BytesMut, n: usize, len: usize) {
    if buf.capacity() - buf.len() >= n {
        return;
    }
    let want = (buf.len() + n).max(buf.len() * 2).max(MIN_GROWTH).min(len);
    let mut bigger = BytesMut::with_capacity(want);
    bigger.extend_from_slice(buf);
    *buf = bigger;
}

/// The frame parser: push the stream in pieces of any size, get every
/// frame completed by each piece.
///
/// Bodies that arrive inside one piece are zero-copy slices of it (with
/// [`FrameDecoder::push_bytes`]); a body spread over pieces is copied once.
/// It never holds more than `HEADER_LEN + max` bytes, and a body's buffer
/// grows as its bytes arrive ([`FrameDecoder::capacity`]). After an error it is
/// spent: every later call returns the same error.
///
/// ```
/// use kamaelia::protocol::framing::{encode_frame, FrameDecoder, FramingError};
/// let mut stream = encode_frame(1, b"one", 100).unwrap().to_vec();
/// stream.extend_from_slice(&encode_frame(2, b"two", 100).unwrap());
/// let mut d = FrameDecoder::new(100);
/// let mut out = Vec::new();
/// d.push(&stream[..30], &mut out).unwrap(); // the first frame and a bit
/// assert_eq!(out.len(), 1);
/// d.push(&stream[30..], &mut out).unwrap();
/// assert_eq!(out[1].0, 2);
/// d.finish().unwrap();
/// d.push(&stream[..5], &mut out).unwrap(); // half a header...
/// assert_eq!(d.finish(), Err(FramingError::Truncated { received: 5 }));
/// ```
#[derive(Debug)]
pub struct FrameDecoder {
    max: usize,
    head: [u8; HEADER_LEN],
    have: usize,
    body: Option<(Header, BytesMut)>,
    offset: u64,
    frame_start: u64,
    failed: Option<FramingError>,
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Header(tag {}, {} bytes)", self.tag, self.len)
    }
}

impl FrameDecoder {
    /// A decoder accepting bodies of at most `max` bytes.
    pub fn new(max: usize) -> Self {
        FrameDecoder {
            max,
            head: [0; HEADER_LEN],
            have: 0,
            body: None,
            offset: 0,
            frame_start: 0,
            failed: None,
        }
    }

    /// The largest body accepted.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Bytes held of a frame not yet complete.
    pub fn buffered(&self) -> usize {
        self.have + self.body.as_ref().map_or(0, |(_, b)| b.len())
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// Bytes of memory held for the body of a frame not yet complete: at
    /// most twice what has arrived of it (and at least [`MIN_GROWTH`]), never
    /// more than its length, whatever length the header announced.
    pub fn capacity(&self) -> usize {
        self.body.as_ref().map_or(0, |(_, b)| b.capacity())
    }

    /// Whether a frame has begun and not ended.
    pub fn in_frame(&self) -> bool {
        self.have > 0 || self.body.is_some()
    }

    /// Feeds `data`; complete frames are appended to `out`. Each body is
    /// copied once, out of `data` (or out of the pieces it spans). On an
    /// error, the frames before the bad one are in `out`.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<Frame>) -> Result<(), FramingError> {
        self.push_with(data, None, out)
    }

    /// Feeds `data` without copying the bodies that lie inside it.
    pub fn push_bytes(&mut self, data: Bytes, out: &mut Vec<Frame>) -> Result<(), FramingError> {
        self.push_with(&data, Some(&data), out)
    }

    /// `whole` is `data` as `Bytes`, when the caller has it: bodies inside
    /// it are then sliced rather than copied.
    fn push_with(
        &mut self,
        data: &[u8],
        whole: Option<&Bytes>,
        out: &mut Vec<Frame>,
    ) -> Result<(), FramingError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let r = self.parse(data, whole, out);
        if let Err(e) = &r {
            self.failed = Some(e.clone());
            self.body = None;
            self.have = 0;
        }
        r
    }

    fn parse(
        &mut self,
        data: &[u8],
        whole: Option<&Bytes>,
        out: &mut Vec<Frame>,
    ) -> Result<(), FramingError> {
        let mut pos = 0;
        while pos < data.len() {
            let avail = data.len() - pos;
            match &mut self.body {
                None => {
                    let n = (HEADER_LEN - self.have).min(avail);
                    self.head[self.have..self.have + n].copy_from_slice(&data[pos..pos + n]);
                    self.have += n;
                    pos += n;
                    self.offset += n as u64;
                    if self.have == HEADER_LEN {
                        self.have = 0;
                        let h = parse_header(&self.head, self.max, self.frame_start)?;
                        if h.len == 0 {
                            out.push(check_body(&h, Bytes::new(), self.frame_start)?);
                            self.frame_start = self.offset;
                        } else {
                            self.body = Some((h, BytesMut::new()));
                        }
                    }
                }
                Some((h, buf)) => {
                    let body = if buf.is_empty() && avail >= h.len {
                        let range = pos..pos + h.len;
                        let b = match whole {
                            Some(w) => w.slice(range),
                            None => Bytes::copy_from_slice(&data[range]),
                        };
                        pos += h.len;
                        self.offset += h.len as u64;
                        b
                    } else {
                        let n = (h.len - buf.len()).min(avail);
                        grow(buf, n, h.len);
                        buf.extend_from_slice(&data[pos..pos + n]);
                        pos += n;
                        self.offset += n as u64;
                        if buf.len() < h.len {
                            continue;
                        }
                        std::mem::take(buf).freeze()
                    };
                    let (h, _) = self.body.take().expect("in a body");
                    out.push(check_body(&h, body, self.frame_start)?);
                    self.frame_start = self.offset;
                }
            }
        }
        Ok(())
    }

    /// Says the stream has ended: an error if it ended inside a frame (or
    /// an error was found before).
    pub fn finish(&self) -> Result<(), FramingError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.in_frame() {
            return Err(FramingError::Truncated {
                received: self.offset - self.frame_start,
            });
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Chunks

/// Checks a sync marker; see the module documentation.
fn check_marker(m: &[u8]) -> Result<(), &'static str> {
    if m.len() < 2 {
        return Err("a sync marker needs at least 2 bytes");
    }
    if m[0] == ESCAPE || m[0] == ESCAPE ^ 0x20 {
        return Err("a sync marker may not start with 0x7D or 0x5D");
    }
    if m[1..].contains(&m[0]) {
        return Err("a sync marker's first byte may not occur again in it");
    }
    Ok(())
}

fn valid_marker(m: &[u8]) -> Bytes {
    if let Err(e) = check_marker(m) {
        panic!("bad sync marker {m:02x?}: {e}");
    }
    Bytes::copy_from_slice(m)
}

/// Writes chunks: marker, escaped payload, terminator.
///
/// ```
/// use kamaelia::protocol::framing::ChunkEncoder;
/// let e = ChunkEncoder::with_marker(b"#SYNC");
/// assert_eq!(&e.encode(b"a#b}c")[..], b"#SYNCa}\x03b}]c#\xac");
/// ```
#[derive(Clone, Debug)]
pub struct ChunkEncoder {
    marker: Bytes,
}

impl Default for ChunkEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkEncoder {
    /// An encoder with the default marker.
    pub fn new() -> Self {
        ChunkEncoder {
            marker: Bytes::from_static(DEFAULT_MARKER),
        }
    }

    /// An encoder with another marker.
    ///
    /// # Panics
    ///
    /// If the marker is not valid (see the module documentation).
    pub fn with_marker(marker: &[u8]) -> Self {
        ChunkEncoder {
            marker: valid_marker(marker),
        }
    }

    /// The sync marker.
    pub fn marker(&self) -> &[u8] {
        &self.marker
    }

    /// Appends one chunk holding `payload` to `buf`.
    pub fn encode_into(&self, payload: &[u8], buf: &mut BytesMut) {
        let flag = self.marker[0];
        let specials = payload
            .iter()
            .filter(|&&b| b == flag || b == ESCAPE)
            .count();
        buf.reserve(self.marker.len() + payload.len() + specials + 2);
        buf.put_slice(&self.marker);
        let mut rest = payload;
        while let Some(i) = rest.iter().position(|&b| b == flag || b == ESCAPE) {
            buf.put_slice(&rest[..i]);
            buf.put_slice(&[ESCAPE, rest[i] ^ 0x20]);
            rest = &rest[i + 1..];
        }
        buf.put_slice(rest);
        buf.put_slice(&[flag, !self.marker[1]]);
    }

    /// One chunk holding `payload`.
    pub fn encode(&self, payload: &[u8]) -> Bytes {
        let mut buf = BytesMut::new();
        self.encode_into(payload, &mut buf);
        buf.freeze()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChunkState {
    /// Strict mode, between chunks: the next byte must start a marker.
    Between,
    /// Resync mode, between chunks: skip anything until a marker.
    Seek,
    /// Matched this many bytes of the marker.
    Start(usize),
    /// Inside a payload.
    Body,
    /// Inside a payload, just after the marker's first byte.
    BodyFlag,
    /// Inside a payload, just after the escape byte.
    BodyEscape,
}

/// The chunk parser: push the stream in pieces of any size, get every
/// payload completed by each piece.
///
/// Strict by default: the stream must start with a marker and hold nothing
/// but well-formed chunks; the first fault is a [`FramingError`] and the
/// decoder is spent (every later call returns it). In resync mode
/// ([`ChunkDecoder::resync`]) a faulty chunk is dropped and counted
/// instead, bytes outside chunks are skipped and counted, and decoding goes
/// on from the next marker — what a receiver joining a stream midway, or a
/// lossy link, needs. A payload longer than `max` is an error (strict) or
/// dropped (resync); the decoder never holds more than `max` bytes.
///
/// ```
/// use kamaelia::protocol::framing::{ChunkDecoder, ChunkEncoder};
/// let e = ChunkEncoder::new();
/// let mut stream = e.encode(b"\x7e\x7d any bytes").to_vec();
/// stream.extend_from_slice(&e.encode(b""));
/// let mut d = ChunkDecoder::new(1024);
/// let mut out = Vec::new();
/// for piece in stream.chunks(3) {
///     d.push(piece, &mut out).unwrap();
/// }
/// assert_eq!(out, [&b"\x7e\x7d any bytes"[..], b""]);
/// d.finish().unwrap();
/// ```
#[derive(Debug)]
pub struct ChunkDecoder {
    marker: Bytes,
    flag: u8,
    end: u8,
    max: usize,
    resync: bool,
    state: ChunkState,
    buf: BytesMut,
    offset: u64,
    chunk_start: u64,
    skipped: u64,
    dropped: u64,
    failed: Option<FramingError>,
}

impl ChunkDecoder {
    /// A strict decoder with the default marker, accepting payloads of at
    /// most `max` bytes.
    pub fn new(max: usize) -> Self {
        Self::with_marker(DEFAULT_MARKER, max)
    }

    /// A strict decoder with another marker.
    ///
    /// # Panics
    ///
    /// If the marker is not valid (see the module documentation).
    pub fn with_marker(marker: &[u8], max: usize) -> Self {
        let marker = valid_marker(marker);
        ChunkDecoder {
            flag: marker[0],
            end: !marker[1],
            marker,
            max,
            resync: false,
            state: ChunkState::Between,
            buf: BytesMut::new(),
            offset: 0,
            chunk_start: 0,
            skipped: 0,
            dropped: 0,
            failed: None,
        }
    }

    /// Resync mode on or off (set it before the first push).
    pub fn resync(mut self, on: bool) -> Self {
        self.resync = on;
        if self.state == ChunkState::Between || self.state == ChunkState::Seek {
            self.state = if on {
                ChunkState::Seek
            } else {
                ChunkState::Between
            };
        }
        self
    }

    /// The largest payload accepted.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Bytes held of a payload not yet complete.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.offset
    }

    /// Resync mode: bytes skipped outside chunks.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Resync mode: faulty chunks dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Whether a chunk has begun and not ended.
    pub fn in_chunk(&self) -> bool {
        !matches!(self.state, ChunkState::Between | ChunkState::Seek)
    }

    /// Feeds `data`; complete payloads are appended to `out`. On an error,
    /// the payloads before the bad chunk are in `out`.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<Bytes>) -> Result<(), FramingError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut i = 0;
        while i < data.len() {
            if self.state == ChunkState::Seek {
                // Skip to the next marker in one scan.
                let rest = &data[i..];
                let skip = rest
                    .iter()
                    .position(|&b| b == self.flag)
                    .unwrap_or(rest.len());
                self.skipped += skip as u64;
                self.offset += skip as u64;
                i += skip;
                if i < data.len() {
                    i += 1;
                    self.offset += 1;
                    self.begin();
                }
                continue;
            }
            if self.state == ChunkState::Body {
                let rest = &data[i..];
                let (flag, max) = (self.flag, self.max);
                let n = rest
                    .iter()
                    .position(|&b| b == flag || b == ESCAPE)
                    .unwrap_or(rest.len());
                if self.buf.len() + n > max {
                    // Consume up to the limit, then report.
                    let take = max - self.buf.len() + 1;
                    i += take;
                    self.offset += take as u64;
                    let size = (self.buf.len() + take) as u64;
                    self.fault_oversize(size)?;
                    continue;
                }
                self.buf.extend_from_slice(&rest[..n]);
                i += n;
                self.offset += n as u64;
                if i < data.len() {
                    let b = data[i];
                    i += 1;
                    self.offset += 1;
                    self.state = if b == flag {
                        ChunkState::BodyFlag
                    } else {
                        ChunkState::BodyEscape
                    };
                }
                continue;
            }
            let b = data[i];
            i += 1;
            self.offset += 1;
            self.byte(b, out)?;
        }
        Ok(())
    }

    fn byte(&mut self, b: u8, out: &mut Vec<Bytes>) -> Result<(), FramingError> {
        match self.state {
            ChunkState::Between => {
                if b == self.flag {
                    self.begin();
                } else {
                    return self.fault("data outside a chunk (expected a sync marker)", b);
                }
            }
            ChunkState::Start(k) => {
                if b == self.marker[k] {
                    self.state = if k + 1 == self.marker.len() {
                        self.buf.clear();
                        ChunkState::Body
                    } else {
                        ChunkState::Start(k + 1)
                    };
                } else {
                    return self.fault("bad sync marker", b);
                }
            }
            ChunkState::BodyFlag => {
                if b == self.end {
                    out.push(self.buf.split().freeze());
                    self.state = if self.resync {
                        ChunkState::Seek
                    } else {
                        ChunkState::Between
                    };
                } else if b == self.marker[1] {
                    if !self.resync {
                        return self.fault("chunk not terminated before the next sync marker", b);
                    }
                    // Drop the unterminated chunk; a new one is starting.
                    self.dropped += 1;
                    self.buf.clear();
                    self.chunk_start = self.offset - 2;
                    self.state = if self.marker.len() == 2 {
                        ChunkState::Body
                    } else {
                        ChunkState::Start(2)
                    };
                } else {
                    return self.fault("stray sync byte inside a chunk", b);
                }
            }
            ChunkState::BodyEscape => {
                let v = b ^ 0x20;
                if v == self.flag || v == ESCAPE {
                    if self.buf.len() >= self.max {
                        return self.fault_oversize(self.buf.len() as u64 + 1);
                    }
                    self.buf.put_u8(v);
                    self.state = ChunkState::Body;
                } else {
                    return self.fault("bad escape sequence", b);
                }
            }
            ChunkState::Seek | ChunkState::Body => unreachable!("handled in push"),
        }
        Ok(())
    }

    fn begin(&mut self) {
        self.chunk_start = self.offset - 1;
        self.state = ChunkState::Start(1);
    }

    /// A fault at the byte `b` just consumed.
    fn fault(&mut self, reason: &'static str, b: u8) -> Result<(), FramingError> {
        let e = FramingError::Corrupt {
            offset: self.offset - 1,
            reason,
        };
        self.recover(e, Some(b))
    }

    fn fault_oversize(&mut self, size: u64) -> Result<(), FramingError> {
        let e = FramingError::Oversize {
            size,
            max: self.max,
            offset: self.chunk_start,
        };
        self.recover(e, None)
    }

    fn recover(&mut self, e: FramingError, b: Option<u8>) -> Result<(), FramingError> {
        self.buf = BytesMut::new();
        if !self.resync {
            self.failed = Some(e.clone());
            return Err(e);
        }
        if matches!(
            self.state,
            ChunkState::Body | ChunkState::BodyFlag | ChunkState::BodyEscape
        ) {
            self.dropped += 1;
        } else {
            self.skipped += 1;
        }
        if b == Some(self.flag) {
            self.begin();
        } else {
            self.state = ChunkState::Seek;
        }
        Ok(())
    }

    /// Says the stream has ended: an error if it ended inside a chunk (or
    /// an error was found before).
    pub fn finish(&self) -> Result<(), FramingError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.in_chunk() {
            return Err(FramingError::Truncated {
                received: self.offset - self.chunk_start,
            });
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The shared component engine

/// What a component does to each input message.
trait Codec<I, O> {
    fn feed(&mut self, msg: I, out: &mut Vec<O>) -> Result<(), FramingError>;
    fn finish(&mut self) -> Result<(), FramingError> {
        Ok(())
    }
}

/// Sends what `queue` holds, in order; false (keeping the rest) when the
/// destination refuses one: the refusal puts the caller to sleep until the
/// consumer takes one, and it reads no input meanwhile.
pub(crate) fn send_queued<T>(queue: &mut VecDeque<T>, outbox: &Outbox<T>) -> bool {
    while let Some(m) = queue.pop_front() {
        if let Err(Full(m)) = outbox.send(m) {
            queue.push_front(m);
            return false;
        }
    }
    true
}

/// One input message in, any number of output messages out, with the
/// back-pressure, error and shutdown rules of the module documentation.
struct Pump<O> {
    pending: VecDeque<O>,
    scratch: Vec<O>,
    finishing: Option<Signal>,
    failure: Option<Signal>,
}

impl<O> Pump<O> {
    fn new() -> Self {
        Pump {
            pending: VecDeque::new(),
            scratch: Vec::new(),
            finishing: None,
            failure: None,
        }
    }

    fn step<I>(
        &mut self,
        codec: &mut impl Codec<I, O>,
        inbox: &Inbox<I>,
        control: &Inbox<Signal>,
        outbox: &Outbox<O>,
        signal: &Outbox<Signal>,
    ) -> Step {
        while let Some(sig) = control.recv() {
            if sig.is_shutdown() {
                let _ = signal.send(sig);
                return Step::Done;
            }
            if self.finishing.is_none() {
                self.finishing = Some(sig);
            }
        }
        let mut handled = 0;
        loop {
            if !send_queued(&mut self.pending, outbox) {
                return Step::Pause;
            }
            if let Some(f) = self.failure.take() {
                let _ = signal.send(f);
                return Step::Done;
            }
            if handled == BATCH {
                return Step::Yield;
            }
            let Some(msg) = inbox.recv() else { break };
            handled += 1;
            let r = codec.feed(msg, &mut self.scratch);
            self.pending.extend(self.scratch.drain(..));
            if let Err(e) = r {
                self.failure = Some(Signal::failed(e));
            }
        }
        if let Some(sig) = self.finishing.take() {
            let end = match (codec.finish(), sig) {
                (Err(e), Signal::ProducerFinished) => Signal::failed(e),
                (_, sig) => sig,
            };
            let _ = signal.send(end);
            return Step::Done;
        }
        Step::Pause
    }
}

// ---------------------------------------------------------------------------
// Components

struct FrameEncoder {
    max: usize,
}

impl Codec<Frame, Bytes> for FrameEncoder {
    fn feed(&mut self, (tag, body): Frame, out: &mut Vec<Bytes>) -> Result<(), FramingError> {
        out.push(encode_frame(tag, &body, self.max)?);
        Ok(())
    }
}

impl Codec<Bytes, Frame> for FrameDecoder {
    fn feed(&mut self, msg: Bytes, out: &mut Vec<Frame>) -> Result<(), FramingError> {
        self.push_bytes(msg, out)
    }
    fn finish(&mut self) -> Result<(), FramingError> {
        FrameDecoder::finish(self)
    }
}

impl Codec<Bytes, Bytes> for ChunkEncoder {
    fn feed(&mut self, msg: Bytes, out: &mut Vec<Bytes>) -> Result<(), FramingError> {
        out.push(self.encode(&msg));
        Ok(())
    }
}

impl Codec<Bytes, Bytes> for ChunkDecoder {
    fn feed(&mut self, msg: Bytes, out: &mut Vec<Bytes>) -> Result<(), FramingError> {
        self.push(&msg, out)
    }
    fn finish(&mut self) -> Result<(), FramingError> {
        ChunkDecoder::finish(self)
    }
}

struct Splitter {
    max: usize,
}

impl Codec<Bytes, Bytes> for Splitter {
    fn feed(&mut self, mut msg: Bytes, out: &mut Vec<Bytes>) -> Result<(), FramingError> {
        while msg.len() > self.max {
            out.push(msg.split_to(self.max));
        }
        if !msg.is_empty() {
            out.push(msg);
        }
        Ok(())
    }
}

macro_rules! component {
    ($name:ident) => {
        impl Component for $name {
            fn step(&mut self, _cx: &mut Cx) -> Step {
                self.pump.step(
                    &mut self.codec,
                    &self.inbox,
                    &self.control,
                    &self.outbox,
                    &self.signal,
                )
            }

            fn boxes(&self, set: &mut BoxSet) {
                crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
            }
        }
    };
}

/// Frames `(tag, body)` pairs: one frame (header and body, see the module
/// documentation) per output message. A body over the maximum ends it with
/// `Failed(Oversize)`.
pub struct Framer {
    /// `(tag, body)` pairs.
    pub inbox: Inbox<Frame>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Frames, one per message.
    pub outbox: Outbox<Bytes>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    codec: FrameEncoder,
    pump: Pump<Bytes>,
}

impl Default for Framer {
    fn default() -> Self {
        Self::new()
    }
}

impl Framer {
    /// A framer for bodies up to [`DEFAULT_MAX_FRAME`].
    pub fn new() -> Self {
        Self::with_max(DEFAULT_MAX_FRAME)
    }

    /// A framer for bodies up to `max` bytes (at most `u32::MAX`).
    pub fn with_max(max: usize) -> Self {
        Framer {
            inbox: Inbox::new("inbox", "(tag, body) pairs to frame"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "frames, one per message"),
            signal: Outbox::signal(),
            codec: FrameEncoder { max },
            pump: Pump::new(),
        }
    }
}

component!(Framer);

/// Parses a stream of frames, cut anyhow, into `(tag, body)` pairs; every
/// frame completed by an input message is sent at once. See the module
/// documentation for errors and shutdown.
pub struct DeFramer {
    /// The framed stream, in pieces of any size.
    pub inbox: Inbox<Bytes>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// `(tag, body)` pairs.
    pub outbox: Outbox<Frame>,
    /// The signal that ended it, or `Failed(FramingError)`.
    pub signal: Outbox<Signal>,
    codec: FrameDecoder,
    pump: Pump<Frame>,
}

impl Default for DeFramer {
    fn default() -> Self {
        Self::new()
    }
}

impl DeFramer {
    /// A deframer accepting bodies up to [`DEFAULT_MAX_FRAME`].
    pub fn new() -> Self {
        Self::with_max(DEFAULT_MAX_FRAME)
    }

    /// A deframer accepting bodies up to `max` bytes.
    pub fn with_max(max: usize) -> Self {
        DeFramer {
            inbox: Inbox::new("inbox", "a framed byte stream, cut anyhow"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "(tag, body) pairs"),
            signal: Outbox::signal(),
            codec: FrameDecoder::new(max),
            pump: Pump::new(),
        }
    }
}

component!(DeFramer);

/// Wraps each message in a chunk: sync marker, escaped payload,
/// terminator (see the module documentation).
pub struct DataChunker {
    /// Payloads.
    pub inbox: Inbox<Bytes>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Chunks, one per message.
    pub outbox: Outbox<Bytes>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    codec: ChunkEncoder,
    pump: Pump<Bytes>,
}

impl Default for DataChunker {
    fn default() -> Self {
        Self::new()
    }
}

impl DataChunker {
    /// A chunker with the default marker.
    pub fn new() -> Self {
        Self::with_encoder(ChunkEncoder::new())
    }

    /// A chunker with another marker.
    ///
    /// # Panics
    ///
    /// If the marker is not valid (see the module documentation).
    pub fn with_marker(marker: &[u8]) -> Self {
        Self::with_encoder(ChunkEncoder::with_marker(marker))
    }

    fn with_encoder(codec: ChunkEncoder) -> Self {
        DataChunker {
            inbox: Inbox::new("inbox", "payloads to wrap in chunks"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "chunks, one per message"),
            signal: Outbox::signal(),
            codec,
            pump: Pump::new(),
        }
    }
}

component!(DataChunker);

/// Finds the chunks in a stream cut anyhow and sends their payloads; every
/// chunk completed by an input message is sent at once. Strict by default
/// (a fault ends it with `Failed`); see [`DataDeChunker::resync`].
pub struct DataDeChunker {
    /// The chunked stream, in pieces of any size.
    pub inbox: Inbox<Bytes>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Payloads.
    pub outbox: Outbox<Bytes>,
    /// The signal that ended it, or `Failed(FramingError)`.
    pub signal: Outbox<Signal>,
    codec: ChunkDecoder,
    pump: Pump<Bytes>,
}

impl Default for DataDeChunker {
    fn default() -> Self {
        Self::new()
    }
}

impl DataDeChunker {
    /// A strict dechunker with the default marker, payloads up to
    /// [`DEFAULT_MAX_FRAME`].
    pub fn new() -> Self {
        Self::with_decoder(ChunkDecoder::new(DEFAULT_MAX_FRAME))
    }

    /// A strict dechunker with another marker and maximum payload.
    ///
    /// # Panics
    ///
    /// If the marker is not valid (see the module documentation).
    pub fn with_marker(marker: &[u8], max: usize) -> Self {
        Self::with_decoder(ChunkDecoder::with_marker(marker, max))
    }

    /// Resync mode: faulty chunks and bytes outside chunks are dropped and
    /// decoding goes on from the next marker (see [`ChunkDecoder`]).
    pub fn resync(mut self, on: bool) -> Self {
        self.codec = self.codec.resync(on);
        self
    }

    fn with_decoder(codec: ChunkDecoder) -> Self {
        DataDeChunker {
            inbox: Inbox::new("inbox", "a chunked byte stream, cut anyhow"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "the payloads of the chunks"),
            signal: Outbox::signal(),
            codec,
            pump: Pump::new(),
        }
    }
}

component!(DataDeChunker);

/// Splits each message into pieces of at most `maxsize` bytes (zero-copy
/// slices), sent at once; the last piece of a message may be shorter.
/// Empty messages are dropped.
///
/// ```
/// use bytes::Bytes;
/// use kamaelia::protocol::framing::MaxSizePacketiser;
/// use kamaelia::testing::Harness;
/// let mut h = Harness::new();
/// let id = h.spawn(MaxSizePacketiser::new(4));
/// let input = h.feeder::<Bytes>(id, "inbox").unwrap();
/// let out = h.collector::<Bytes>(id, "outbox").unwrap();
/// input.send(Bytes::from("abcdefghij")).unwrap();
/// input.send(Bytes::from("xy")).unwrap();
/// h.run_until_idle();
/// assert_eq!(out.drain(), ["abcd", "efgh", "ij", "xy"]);
/// ```
pub struct MaxSizePacketiser {
    /// Messages to split.
    pub inbox: Inbox<Bytes>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Pieces of at most `maxsize` bytes.
    pub outbox: Outbox<Bytes>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    codec: Splitter,
    pump: Pump<Bytes>,
}

impl MaxSizePacketiser {
    /// Pieces of at most `maxsize` bytes (Kamaelia's default is 1000).
    ///
    /// # Panics
    ///
    /// If `maxsize` is zero.
    pub fn new(maxsize: usize) -> Self {
        assert!(maxsize > 0, "MaxSizePacketiser needs a size above zero");
        MaxSizePacketiser {
            inbox: Inbox::new("inbox", "messages to split"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "pieces of at most maxsize bytes"),
            signal: Outbox::signal(),
            codec: Splitter { max: maxsize },
            pump: Pump::new(),
        }
    }
}

component!(MaxSizePacketiser);
