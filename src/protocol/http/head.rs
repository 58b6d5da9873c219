//! The parsed head of an HTTP/1.x message, its header fields, and the
//! errors of the codec.

use std::fmt;

use bytes::Bytes;

/// The protocol version of a message. `ICY` status lines (SHOUTcast, old
/// Icecast) are HTTP/1.0, with [`Head::icy`] set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// HTTP/1.0 (and `ICY`).
    Http10,
    /// HTTP/1.1.
    Http11,
}

/// How the body of a message is delimited (RFC 9112 §6.3), decided from
/// the head alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Framing {
    /// No body: a request with neither Content-Length nor
    /// Transfer-Encoding, a response to HEAD, a 1xx, 204 or 304 response.
    None,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// `Transfer-Encoding` ending in `chunked`: chunks, then trailers.
    Chunked,
    /// A response body that runs until the connection closes
    /// ([`Parser::eof`](super::Parser::eof)).
    UntilClose,
    /// No body, and after this message the stream is no longer HTTP (a
    /// `CONNECT` request, a `101 Switching Protocols` response, a 2xx
    /// response to `CONNECT`): the rest comes out as
    /// [`Event::Tunnel`](super::Event::Tunnel).
    Tunnel,
}

/// Header (or trailer) fields in the order received, duplicates kept.
/// Names are compared without regard to ASCII case; values are raw bytes
/// with surrounding whitespace removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(Vec<(Bytes, Bytes)>);

impl Headers {
    /// No fields.
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    /// No fields, with room for `n` (one allocation for a head's fields).
    pub fn with_capacity(n: usize) -> Self {
        Headers(Vec::with_capacity(n))
    }

    /// No fields, keeping the room (for the next head's fields).
    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    /// The room for fields.
    pub(crate) fn capacity(&self) -> usize {
        self.0.capacity()
    }

    /// Adds a field at the end.
    pub fn push(&mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) {
        self.0.push((name.into(), value.into()));
    }

    /// How many fields (a repeated name counts each time).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every field as `(name, value)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> {
        self.0.iter().map(|(n, v)| (n, v))
    }

    /// The value of the first field named `name` (any case).
    pub fn get(&self, name: &str) -> Option<&Bytes> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The values of every field named `name` (any case), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Bytes> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// True when some field named `name` lists `token` among its
    /// comma-separated elements (any case), as `Connection: keep-alive,
    /// Upgrade` lists `upgrade`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name)
            .flat_map(|v| list_elements(v))
            .any(|e| e.eq_ignore_ascii_case(token.as_bytes()))
    }
}

/// The elements of a comma-separated list value, trimmed of optional
/// whitespace; empty elements are skipped (RFC 9110 §5.6.1).
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// The head of a message: start line and header fields, plus what the
/// parser decided from them (framing, keep-alive).
///
/// A request has `method` and `target` (and `status` 0, `reason` empty); a
/// response has `status` and `reason` (and `method`, `target` empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// The protocol version.
    pub version: Version,
    /// Request method, as sent (methods are case-sensitive).
    pub method: Bytes,
    /// Request target, as sent.
    pub target: Bytes,
    /// Response status code (100..=999).
    pub status: u16,
    /// Response reason phrase (may be empty).
    pub reason: Bytes,
    /// The header fields.
    pub headers: Headers,
    /// How the body is delimited.
    pub framing: Framing,
    /// Whether the connection may carry another message after this one:
    /// HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with
    /// `Connection: keep-alive`, never after a close-delimited body.
    pub keep_alive: bool,
    /// The status line was `ICY ...` (SHOUTcast), read as HTTP/1.0.
    pub icy: bool,
}

impl Head {
    /// True for a request head.
    pub fn is_request(&self) -> bool {
        self.status == 0
    }

    /// True for an interim (1xx other than 101) response: the final
    /// response to the same request follows.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }
}

/// What can be wrong with an HTTP/1.x stream. Each is final: the parser
/// keeps returning it. [`HttpError::status`] is the status a server
/// answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HttpError {
    /// The request or status line is longer than
    /// [`Limits::max_start_line`](super::Limits::max_start_line).
    StartLineTooLong,
    /// The head (or the trailer section) is longer than
    /// [`Limits::max_head_bytes`](super::Limits::max_head_bytes).
    HeadTooLarge,
    /// More header (or trailer) fields than
    /// [`Limits::max_headers`](super::Limits::max_headers).
    TooManyHeaders,
    /// A chunk-size line longer than
    /// [`Limits::max_chunk_line`](super::Limits::max_chunk_line).
    ChunkLineTooLong,
    /// The body is longer than the body limit.
    BodyTooLarge,
    /// A malformed request or status line.
    BadStartLine,
    /// A version other than HTTP/1.0 or HTTP/1.1.
    BadVersion,
    /// A malformed header field (name not a token, a control byte in a
    /// value, no colon).
    BadHeader,
    /// Whitespace between a field name and its colon (RFC 9112 §5.1).
    WhitespaceBeforeColon,
    /// A line folded onto the one before it (obs-fold, RFC 9112 §5.2).
    ObsFold,
    /// Whitespace between the start line and the first field (RFC 9112
    /// §2.2).
    WhitespaceAfterStartLine,
    /// A CR not followed by LF (RFC 9112 §2.2).
    BareCr,
    /// A line ended by LF alone, without CR.
    BareLf,
    /// Both Transfer-Encoding and Content-Length (RFC 9112 §6.1).
    TransferEncodingWithContentLength,
    /// A Transfer-Encoding that does not end in a single `chunked` (in a
    /// request), or repeats `chunked`, or is empty.
    BadTransferEncoding,
    /// Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1).
    TransferEncodingInHttp10,
    /// A Content-Length that is not a decimal number of at most 64 bits.
    BadContentLength,
    /// Several Content-Length values that differ.
    ConflictingContentLength,
    /// An HTTP/1.1 request without Host (RFC 9112 §3.2).
    MissingHost,
    /// A request with more than one Host.
    DuplicateHost,
    /// A chunk size that is not hexadecimal digits.
    BadChunkSize,
    /// A chunk size above 2^64 - 1.
    ChunkSizeOverflow,
    /// A malformed chunk extension.
    BadChunkExtension,
    /// Chunk data not followed by CRLF.
    BadChunkEnd,
    /// The stream ended inside a message.
    Truncated,
}

impl HttpError {
    /// The status code a server answers this error with.
    pub fn status(self) -> u16 {
        match self {
            HttpError::StartLineTooLong => 414,
            HttpError::HeadTooLarge | HttpError::TooManyHeaders => 431,
            HttpError::BodyTooLarge => 413,
            HttpError::BadVersion => 505,
            _ => 400,
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            HttpError::StartLineTooLong => "start line too long",
            HttpError::HeadTooLarge => "head too large",
            HttpError::TooManyHeaders => "too many header fields",
            HttpError::ChunkLineTooLong => "chunk-size line too long",
            HttpError::BodyTooLarge => "body too large",
            HttpError::BadStartLine => "malformed start line",
            HttpError::BadVersion => "unsupported HTTP version",
            HttpError::BadHeader => "malformed header field",
            HttpError::WhitespaceBeforeColon => "whitespace before a header colon",
            HttpError::ObsFold => "folded header line (obs-fold)",
            HttpError::WhitespaceAfterStartLine => "whitespace after the start line",
            HttpError::BareCr => "CR not followed by LF",
            HttpError::BareLf => "line ended by LF without CR",
            HttpError::TransferEncodingWithContentLength => {
                "both Transfer-Encoding and Content-Length"
            }
            HttpError::BadTransferEncoding => "Transfer-Encoding not ending in one chunked",
            HttpError::TransferEncodingInHttp10 => "Transfer-Encoding in an HTTP/1.0 request",
            HttpError::BadContentLength => "malformed Content-Length",
            HttpError::ConflictingContentLength => "differing Content-Length values",
            HttpError::MissingHost => "HTTP/1.1 request without Host",
            HttpError::DuplicateHost => "more than one Host",
            HttpError::BadChunkSize => "malformed chunk size",
            HttpError::ChunkSizeOverflow => "chunk size overflows 64 bits",
            HttpError::BadChunkExtension => "malformed chunk extension",
            HttpError::BadChunkEnd => "chunk data not followed by CRLF",
            HttpError::Truncated => "stream ended inside a message",
        };
        f.write_str(s)
    }
}

impl std::error::Error for HttpError {}
