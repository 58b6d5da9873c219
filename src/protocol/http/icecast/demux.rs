//! IcecastDemux: splits an Icecast stream's audio from its in-band
//! metadata blocks.
//!
//! | box     | carries        | meaning                                                        |
//! |---------|----------------|----------------------------------------------------------------|
//! | inbox   | `IcecastEvent` | from an [`IcecastClient`](super::IcecastClient): heads, body bytes, disconnects |
//! | control | `Signal`       | producer finished (or failed): pass on what is waiting, report a metadata block cut short, forward the signal, stop; shutdown: forward at once and stop |
//! | outbox  | `IcyEvent`     | `Header` per connection, `Audio` (slices of the input, no copy), `Metadata` per non-empty block, `Error`, `Disconnected` |
//! | signal  | `Signal`       | the control signal, forwarded once at the end                  |
//!
//! Each head starts a new stream: its `icy-metaint` (absent or 0: no
//! metadata, the body is all audio) sets the block size. The body is then
//! `metaint` audio bytes, a length byte L, L × 16 bytes of metadata, and
//! so on, cut anywhere across reads: a block split between reads waits for
//! the rest. A block of length 0 means "no change" and makes no event.
//! The text of a block is cut at its first NUL (the padding) and read as
//! `key='value';` pairs into a [`Metadata`] map (see [`Metadata::parse`]).
//! A stream that ends inside a block (a hostile or truncated length byte)
//! gives [`IcyError::TruncatedMetadata`] before the `Disconnected`; an
//! `icy-metaint` that is not a number gives [`IcyError::BadMetaint`] and
//! that connection's body is dropped (it cannot be split). Nothing here
//! panics on any input; memory is bounded by one block (4080 bytes).
//!
//! Back-pressure: when `outbox` is refused it stops taking input until the
//! consumer takes a message. At most 64 input messages are handled a step.
//!
//! ```
//! use bytes::Bytes;
//! use kamaelia::protocol::http::icecast::{IcyDemuxer, IcyEvent};
//! let mut d = IcyDemuxer::new(Some(4));
//! let mut out = Vec::new();
//! // 4 audio bytes, a block of 2 × 16 bytes (19 of text, 13 of NUL
//! // padding), 4 audio bytes, an empty block, 2 audio bytes.
//! let mut stream = b"abcd\x02StreamTitle='Song';".to_vec();
//! stream.extend_from_slice(&[0; 13]);
//! stream.extend_from_slice(b"efgh\x00ij");
//! d.push(Bytes::from(stream), &mut out);
//! assert_eq!(out[0], IcyEvent::Audio(Bytes::from_static(b"abcd")));
//! let IcyEvent::Metadata(m) = &out[1] else { panic!() };
//! assert_eq!(m.title(), Some("Song"));
//! assert_eq!(out[2], IcyEvent::Audio(Bytes::from_static(b"efgh")));
//! assert_eq!(out[3], IcyEvent::Audio(Bytes::from_static(b"ij")));
//! assert_eq!(d.finish(), Ok(()));
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use bytes::{Buf, Bytes};

use crate::axon::{BoxSet, Component, Cx, Full, Inbox, Outbox, Signal, Step};
use crate::protocol::http::Head;

use super::client::{Disconnect, IcecastEvent};

/// Input messages handled in one step.
const BATCH: usize = 64;

/// What the demultiplexer passes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IcyEvent {
    /// A connection answered: what its head says about the stream.
    Header(StreamInfo),
    /// Audio bytes, metadata removed.
    Audio(Bytes),
    /// A non-empty metadata block.
    Metadata(Metadata),
    /// The stream was bad (the connection goes on or has ended).
    Error(IcyError),
    /// The connection ended (a reconnect may follow).
    Disconnected(Disconnect),
}

/// What a stream's response head says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamInfo {
    /// The status code (200).
    pub status: u16,
    /// `Content-Type`, e.g. `audio/mpeg`, `application/ogg`.
    pub content_type: Option<String>,
    /// `icy-metaint`: audio bytes between metadata blocks (`None`: no
    /// metadata).
    pub metaint: Option<usize>,
    /// `icy-name`.
    pub name: Option<String>,
    /// `icy-genre`.
    pub genre: Option<String>,
    /// `icy-description`.
    pub description: Option<String>,
    /// `icy-url`.
    pub url: Option<String>,
    /// `icy-br`: bit rate, kbit/s, if it is a number.
    pub bitrate: Option<u32>,
    /// The whole head.
    pub head: Head,
}

impl StreamInfo {
    /// Reads a head; an `icy-metaint` that is not a number is an error.
    pub fn from_head(head: &Head) -> Result<StreamInfo, IcyError> {
        let text = |n: &str| head.headers.get(n).map(|v| decode_text(v));
        let metaint = match head.headers.get("icy-metaint") {
            None => None,
            Some(v) => match std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                Some(0) => None,
                Some(n) => Some(n),
                None => return Err(IcyError::BadMetaint(decode_text(v))),
            },
        };
        Ok(StreamInfo {
            status: head.status,
            content_type: text("content-type"),
            metaint,
            name: text("icy-name"),
            genre: text("icy-genre"),
            description: text("icy-description"),
            url: text("icy-url"),
            bitrate: text("icy-br").and_then(|b| b.trim().parse().ok()),
            head: head.clone(),
        })
    }
}

/// What was wrong with a stream.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IcyError {
    /// The `icy-metaint` header is not a number (its text): the body of
    /// that connection was dropped.
    BadMetaint(String),
    /// The stream ended inside a metadata block: the length byte asked for
    /// `expected` bytes, `got` came.
    TruncatedMetadata {
        /// Bytes the length byte announced (L × 16).
        expected: usize,
        /// Bytes that came before the end.
        got: usize,
    },
}

impl fmt::Display for IcyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IcyError::BadMetaint(v) => write!(f, "icy-metaint {v:?} is not a number"),
            IcyError::TruncatedMetadata { expected, got } => write!(
                f,
                "stream ended inside a metadata block ({got} of {expected} bytes)"
            ),
        }
    }
}

impl std::error::Error for IcyError {}

/// One metadata block, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// The block's text up to its first NUL (the padding removed).
    pub raw: Bytes,
    /// `key='value'` pairs; a repeated key keeps its last value.
    pub fields: BTreeMap<String, String>,
}

impl Metadata {
    /// Parses a block: the text ends at the first NUL; then `key='value';`
    /// pairs. ICY has no escaping, so a value runs to the first `';` that
    /// ends the block or is followed by another `key='` (a key is letters,
    /// digits, `_` or `-`): `StreamTitle='It's';` is `It's`, and
    /// `StreamTitle='It''s';` is `It''s`, as sent. A last value with no
    /// closing `';` runs to the end (less a closing `'`). Text that is not
    /// a pair stops the parse (what came before is kept). Bytes that are
    /// not UTF-8 are read as Latin-1, as old servers send them.
    pub fn parse(block: &[u8]) -> Metadata {
        let end = block.iter().position(|&b| b == 0).unwrap_or(block.len());
        let text = &block[..end];
        let mut fields = BTreeMap::new();
        let mut at = 0;
        while at < text.len() {
            // Skip separators and white space between pairs.
            while at < text.len() && matches!(text[at], b';' | b' ' | b'\t' | b'\r' | b'\n') {
                at += 1;
            }
            if at >= text.len() {
                break;
            }
            let Some(klen) = key_at(&text[at..]) else {
                break;
            };
            let key = &text[at..at + klen];
            let vstart = at + klen + 2; // past `='`
            let rest = &text[vstart..];
            let mut vend = None;
            let mut i = 0;
            while i + 1 < rest.len() {
                if rest[i] == b'\'' && rest[i + 1] == b';' {
                    let after = &rest[i + 2..];
                    let tail = after
                        .iter()
                        .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b';'))
                        .map(|p| &after[p..]);
                    match tail {
                        None => {
                            vend = Some((i, rest.len()));
                            break;
                        }
                        Some(t) if key_at(t).is_some() => {
                            vend = Some((i, i + 2));
                            break;
                        }
                        Some(_) => {}
                    }
                }
                i += 1;
            }
            let (value, next) = match vend {
                Some((v, n)) => (&rest[..v], vstart + n),
                None => (rest.strip_suffix(b"'").unwrap_or(rest), text.len()),
            };
            fields.insert(decode_text(key), decode_text(value));
            at = next;
        }
        Metadata {
            raw: Bytes::copy_from_slice(text),
            fields,
        }
    }

    /// A field's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    /// `StreamTitle`, the song now playing.
    pub fn title(&self) -> Option<&str> {
        self.get("StreamTitle")
    }
}

/// The length of a key at the start of `s` when `s` starts with `key='`.
fn key_at(s: &[u8]) -> Option<usize> {
    let n = s
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))?;
    (n > 0 && s[n..].starts_with(b"='")).then_some(n)
}

/// UTF-8 if it is, else Latin-1.
fn decode_text(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => b.iter().map(|&c| c as char).collect(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Audio, this many bytes before the next length byte.
    Audio(usize),
    /// The next byte is a length byte.
    Length,
    /// A metadata block of this many bytes is being gathered.
    Meta(usize),
    /// The body cannot be split (bad `icy-metaint`): dropped.
    Drop,
}

/// The codec under [`IcecastDemux`]: body bytes in, audio and metadata
/// out, however the input is cut. No scheduler needed.
#[derive(Clone, Debug)]
pub struct IcyDemuxer {
    metaint: usize,
    state: State,
    meta: Vec<u8>,
}

impl IcyDemuxer {
    /// A demuxer for a stream with metadata every `metaint` audio bytes
    /// (`None` or `Some(0)`: no metadata).
    pub fn new(metaint: Option<usize>) -> Self {
        let metaint = metaint.unwrap_or(0);
        IcyDemuxer {
            metaint,
            state: State::Audio(metaint),
            meta: Vec::new(),
        }
    }

    /// A demuxer that drops everything (the stream cannot be split).
    fn dropping() -> Self {
        IcyDemuxer {
            metaint: 0,
            state: State::Drop,
            meta: Vec::new(),
        }
    }

    /// Splits `data`, appending events (`Audio` and `Metadata` only) to
    /// `out`. Audio events are slices of `data`.
    pub fn push(&mut self, mut data: Bytes, out: &mut impl Extend<IcyEvent>) {
        while !data.is_empty() {
            match self.state {
                State::Drop => return,
                State::Audio(_) if self.metaint == 0 => {
                    out.extend(Some(IcyEvent::Audio(data)));
                    return;
                }
                State::Audio(left) => {
                    let n = left.min(data.len());
                    out.extend(Some(IcyEvent::Audio(data.split_to(n))));
                    self.state = if n == left {
                        State::Length
                    } else {
                        State::Audio(left - n)
                    };
                }
                State::Length => {
                    let len = data[0] as usize * 16;
                    data.advance(1);
                    self.meta.clear();
                    self.state = if len == 0 {
                        State::Audio(self.metaint)
                    } else {
                        State::Meta(len)
                    };
                }
                State::Meta(len) => {
                    let n = (len - self.meta.len()).min(data.len());
                    self.meta.extend_from_slice(&data.split_to(n));
                    if self.meta.len() == len {
                        out.extend(Some(IcyEvent::Metadata(Metadata::parse(&self.meta))));
                        self.meta.clear();
                        self.state = State::Audio(self.metaint);
                    }
                }
            }
        }
    }

    /// The stream ended: an error if it ended inside a metadata block.
    /// The demuxer is ready for a new stream of the same `metaint`.
    pub fn finish(&mut self) -> Result<(), IcyError> {
        let r = match self.state {
            State::Meta(len) => Err(IcyError::TruncatedMetadata {
                expected: len,
                got: self.meta.len(),
            }),
            _ => Ok(()),
        };
        self.meta.clear();
        if self.state != State::Drop {
            self.state = State::Audio(self.metaint);
        }
        r
    }

    /// Bytes of an unfinished metadata block held.
    pub fn buffered(&self) -> usize {
        self.meta.len()
    }
}

/// Splits audio from metadata; see the module documentation.
pub struct IcecastDemux {
    /// Heads, body bytes and disconnects from the client.
    pub inbox: Inbox<IcecastEvent>,
    /// Shutdown or finish.
    pub control: Inbox<Signal>,
    /// Headers, audio, metadata, errors, disconnects.
    pub outbox: Outbox<IcyEvent>,
    /// The control signal, forwarded at the end.
    pub signal: Outbox<Signal>,
    codec: IcyDemuxer,
    pending: VecDeque<IcyEvent>,
    ending: Option<Signal>,
}

impl Default for IcecastDemux {
    fn default() -> Self {
        Self::new()
    }
}

impl IcecastDemux {
    /// A demultiplexer; the first head sets the block size (before it,
    /// body bytes are taken as audio).
    pub fn new() -> Self {
        IcecastDemux {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::new(
                "outbox",
                "stream info, audio, metadata, errors, disconnects",
            ),
            signal: Outbox::signal(),
            codec: IcyDemuxer::new(None),
            pending: VecDeque::new(),
            ending: None,
        }
    }

    fn on_input(&mut self, ev: IcecastEvent) {
        match ev {
            IcecastEvent::Head(head) => {
                // A new connection: whatever the last one left is gone.
                self.end_stream();
                match StreamInfo::from_head(&head) {
                    Ok(info) => {
                        self.codec = IcyDemuxer::new(info.metaint);
                        self.pending.push_back(IcyEvent::Header(info));
                    }
                    Err(e) => {
                        self.codec = IcyDemuxer::dropping();
                        self.pending.push_back(IcyEvent::Error(e));
                    }
                }
            }
            IcecastEvent::Body(b) => {
                // Straight into the queue the step sends from: no second
                // move through a scratch vector.
                self.codec.push(b, &mut self.pending);
            }
            IcecastEvent::Disconnected(d) => {
                self.end_stream();
                self.pending.push_back(IcyEvent::Disconnected(d));
            }
        }
    }

    fn end_stream(&mut self) {
        if let Err(e) = self.codec.finish() {
            self.pending.push_back(IcyEvent::Error(e));
        }
    }

    /// Sends what waits; true when nothing is left.
    fn flush(&mut self) -> bool {
        while let Some(ev) = self.pending.pop_front() {
            if let Err(Full(ev)) = self.outbox.send(ev) {
                self.pending.push_front(ev);
                return false;
            }
        }
        true
    }
}

impl Component for IcecastDemux {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if self.ending.is_none() {
            if let Some(sig) = self.control.recv() {
                if sig.is_shutdown() {
                    self.pending.clear();
                    let _ = self.signal.send(sig);
                    return Step::Done;
                }
                self.ending = Some(sig);
            }
        }
        for _ in 0..BATCH {
            if !self.flush() {
                cx.hold_input();
                return Step::Pause;
            }
            match self.inbox.recv() {
                Some(ev) => self.on_input(ev),
                None => break,
            }
        }
        if !self.flush() {
            cx.hold_input();
            return Step::Pause;
        }
        if !self.inbox.is_empty() {
            return Step::Yield;
        }
        if self.ending.is_some() {
            self.end_stream();
            if !self.flush() {
                cx.hold_input();
                return Step::Pause;
            }
            let sig = self.ending.take().expect("ending");
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox)
            .add(&self.control)
            .add(&self.outbox)
            .add(&self.signal);
    }
}
