//! The streaming parser: lines, limits, framing and bodies.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use super::head::{Framing, Head, Headers, HttpError, Version};
use super::lines::{is_tchar, Lines, Scan, Summary};

/// Requests (server side) or responses (client side).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Parse requests.
    Request,
    /// Parse responses.
    Response,
}

/// Limits on what one message may make the parser hold or read. Each
/// crossed limit is its own [`HttpError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of the request or status line, CRLF included (default 8 KiB;
    /// never more than `max_head_bytes`).
    pub max_start_line: usize,
    /// Header fields in a head, or trailer fields (default 100).
    pub max_headers: usize,
    /// Bytes of a head, start line and final empty line included, and of a
    /// trailer section (default 64 KiB).
    pub max_head_bytes: usize,
    /// Bytes of a chunk-size line, extensions and CRLF included (default
    /// 1 KiB).
    pub max_chunk_line: usize,
    /// Bytes of one body (default: none). Can be changed for the message
    /// in hand after its head is taken ([`Parser::set_max_body`]).
    pub max_body: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_start_line: 8 << 10,
            max_headers: 100,
            max_head_bytes: 64 << 10,
            max_chunk_line: 1 << 10,
            max_body: None,
        }
    }
}

/// What the parser found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The start line and header fields of a new message.
    Head(Head),
    /// Some body bytes (chunked framing removed).
    Body(Bytes),
    /// The trailer fields of a chunked body (only when there are some).
    Trailers(Headers),
    /// The message is complete.
    End,
    /// Bytes after the connection left HTTP ([`Framing::Tunnel`]).
    Tunnel(Bytes),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading a head (or skipping empty lines before a request).
    Head,
    /// The head was taken; the body starts on the next call.
    BodyStart,
    /// Content-Length bytes left.
    Length(u64),
    /// Reading a chunk-size line.
    ChunkSize,
    /// Chunk bytes left.
    ChunkData(u64),
    /// Expecting the CR after chunk data.
    ChunkCr,
    /// Expecting the LF after chunk data.
    ChunkLf,
    /// Reading the trailer section.
    Trailers,
    /// Body until the end of the stream.
    UntilClose,
    /// End of the message is next.
    End,
    /// No longer HTTP.
    Tunnel,
    /// The connection is not kept alive after the last message: any more
    /// input is ignored.
    Closed,
}

/// What a request method means for its response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Asked {
    Head,
    Connect,
    Other,
}

/// A streaming HTTP/1.x parser: see the [module documentation](super).
#[derive(Debug)]
pub struct Parser {
    mode: Mode,
    limits: Limits,
    max_body: Option<u64>,
    input: VecDeque<Bytes>,
    eof: bool,
    state: State,
    error: Option<HttpError>,
    /// Head or trailer bytes so far, when the section did not come whole
    /// in one input piece (one that did is scanned where it is).
    buf: BytesMut,
    /// The scan of the head or trailer section in hand.
    lines: Lines,
    /// Room for the next head's fields, given back with [`Parser::reuse`].
    spare: Headers,
    /// The chunk-size line so far.
    chunk_line: Vec<u8>,
    /// Body bytes of this message so far.
    body_seen: u64,
    /// Framing and keep-alive of the message in hand.
    framing: Framing,
    keep_alive: bool,
    interim: bool,
    /// Methods of the requests whose responses are awaited.
    asked: VecDeque<Asked>,
}

impl Parser {
    /// A parser of requests with the default [`Limits`].
    pub fn request() -> Self {
        Parser::new(Mode::Request, Limits::default())
    }

    /// A parser of responses with the default [`Limits`].
    pub fn response() -> Self {
        Parser::new(Mode::Response, Limits::default())
    }

    /// A parser in `mode` with `limits`.
    pub fn new(mode: Mode, mut limits: Limits) -> Self {
        limits.max_start_line = limits
            .max_start_line
            .clamp(16, limits.max_head_bytes.max(16));
        limits.max_head_bytes = limits.max_head_bytes.max(limits.max_start_line);
        limits.max_chunk_line = limits.max_chunk_line.max(3);
        Parser {
            mode,
            limits,
            max_body: limits.max_body,
            input: VecDeque::new(),
            eof: false,
            state: State::Head,
            error: None,
            buf: BytesMut::new(),
            lines: Lines::default(),
            spare: Headers::new(),
            chunk_line: Vec::new(),
            body_seen: 0,
            framing: Framing::None,
            keep_alive: true,
            interim: false,
            asked: VecDeque::new(),
        }
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The limits in force (as adjusted to be consistent).
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Sets the body limit of the message in hand (effective before its
    /// body starts, that is before the event after its head is taken) and
    /// of the following ones, until set again.
    pub fn set_max_body(&mut self, max: Option<u64>) {
        self.max_body = max;
    }

    /// Response mode: a request with `method` was sent; its response is
    /// awaited after those of the requests sent before. A response with
    /// none awaited is taken as answering a GET.
    pub fn expect_response_to(&mut self, method: &[u8]) {
        self.asked.push_back(match method {
            b"HEAD" => Asked::Head,
            b"CONNECT" => Asked::Connect,
            _ => Asked::Other,
        });
    }

    /// Gives the parser more input. Empty pieces are ignored, and so is
    /// anything fed after [`eof`](Parser::eof), after an error, or once
    /// the parser [is closed](Parser::is_closed): nothing is held for
    /// nothing.
    pub fn feed(&mut self, data: Bytes) {
        if !data.is_empty() && !self.eof && self.error.is_none() && self.state != State::Closed {
            self.input.push_back(data);
        }
    }

    /// Request mode, between messages: the server accepted an `Upgrade`
    /// (or the caller otherwise knows the stream leaves HTTP here), so
    /// everything from the next byte on comes out as [`Event::Tunnel`].
    /// False, and nothing changes, when not between messages.
    pub fn start_tunnel(&mut self) -> bool {
        if self.is_idle() && self.error.is_none() {
            self.state = State::Tunnel;
            true
        } else {
            false
        }
    }

    /// The stream has ended: a close-delimited body ends, a message cut
    /// short is [`HttpError::Truncated`].
    pub fn eof(&mut self) {
        self.eof = true;
    }

    /// Bytes fed and not yet parsed, plus those held for an unfinished
    /// head or chunk-size line.
    pub fn buffered(&self) -> usize {
        self.input.iter().map(Bytes::len).sum::<usize>() + self.held()
    }

    /// Bytes copied and held for an unfinished head, trailer section or
    /// chunk-size line: never more than `max_head_bytes` or
    /// `max_chunk_line`.
    pub fn held(&self) -> usize {
        self.buf.len() + self.chunk_line.len()
    }

    /// True when no more messages can come: after a message that does not
    /// keep the connection alive, or at the end of the stream between
    /// messages.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// True between messages (nothing of the next one read yet).
    pub fn is_idle(&self) -> bool {
        self.state == State::Head && self.buf.is_empty()
    }

    /// Makes it a fresh parser for a new stream (another connection), with
    /// the same mode and limits, keeping the room it has already grown
    /// (its input queue, head buffer and field list), so a server that
    /// keeps parsers for the connections to come allocates none per
    /// connection.
    pub fn reset(&mut self) {
        self.max_body = self.limits.max_body;
        self.input.clear();
        self.eof = false;
        self.state = State::Head;
        self.error = None;
        self.buf.clear();
        self.lines.reset();
        self.chunk_line.clear();
        self.body_seen = 0;
        self.framing = Framing::None;
        self.keep_alive = true;
        self.interim = false;
        self.asked.clear();
    }

    /// Gives back the fields of a head taken from this parser, once done
    /// with: the next head's fields go into the same room, so a connection
    /// that hands them back allocates nothing per message for them. They
    /// are dropped here (not held).
    pub fn reuse(&mut self, mut fields: Headers) {
        fields.clear();
        if fields.capacity() > self.spare.capacity() {
            self.spare = fields;
        }
    }

    /// Feeds `data` and takes every event it completes.
    pub fn push(&mut self, data: Bytes, out: &mut Vec<Event>) -> Result<(), HttpError> {
        self.feed(data);
        self.drain(out)
    }

    /// Takes every event the input fed so far completes.
    pub fn drain(&mut self, out: &mut Vec<Event>) -> Result<(), HttpError> {
        while let Some(ev) = self.next_event()? {
            out.push(ev);
        }
        Ok(())
    }

    /// The next event, or `None` when more input (or [`eof`](Parser::eof))
    /// is needed. After an error, the same error again.
    pub fn next_event(&mut self) -> Result<Option<Event>, HttpError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let r = self.step();
        if let Err(e) = r {
            self.error = Some(e);
            self.input.clear();
            self.buf = BytesMut::new();
            self.chunk_line = Vec::new();
        }
        r
    }

    fn step(&mut self) -> Result<Option<Event>, HttpError> {
        loop {
            match self.state {
                State::Head | State::Trailers => {
                    let Some(mut chunk) = self.input.pop_front() else {
                        if !self.eof {
                            return Ok(None);
                        }
                        if self.state == State::Head && self.buf.is_empty() {
                            self.state = State::Closed;
                            return Ok(None);
                        }
                        return Err(HttpError::Truncated);
                    };
                    let section = self.scan_lines(&mut chunk)?;
                    if !chunk.is_empty() {
                        self.input.push_front(chunk);
                    }
                    if let Some(all) = section {
                        return if self.state == State::Head {
                            self.finish_head(all).map(Some)
                        } else {
                            self.finish_trailers(all)
                        };
                    }
                }
                State::BodyStart => {
                    self.body_seen = 0;
                    self.state = match self.framing {
                        Framing::None | Framing::Tunnel | Framing::Length(0) => State::End,
                        Framing::Length(n) => {
                            if self.max_body.is_some_and(|m| n > m) {
                                return Err(HttpError::BodyTooLarge);
                            }
                            State::Length(n)
                        }
                        Framing::Chunked => State::ChunkSize,
                        Framing::UntilClose => State::UntilClose,
                    };
                }
                State::Length(left) | State::ChunkData(left) => {
                    let Some(chunk) = self.take(left) else {
                        return self.starved();
                    };
                    let left = left - chunk.len() as u64;
                    self.state = match (self.state, left) {
                        (State::Length(_), 0) => State::End,
                        (State::Length(_), _) => State::Length(left),
                        (_, 0) => State::ChunkCr,
                        _ => State::ChunkData(left),
                    };
                    return Ok(Some(Event::Body(chunk)));
                }
                State::ChunkCr | State::ChunkLf => {
                    let Some(b) = self.take(1) else {
                        return self.starved();
                    };
                    self.state = match (self.state, b[0]) {
                        (State::ChunkCr, b'\r') => State::ChunkLf,
                        (State::ChunkLf, b'\n') => State::ChunkSize,
                        _ => return Err(HttpError::BadChunkEnd),
                    };
                }
                State::ChunkSize => {
                    let Some(mut chunk) = self.input.pop_front() else {
                        return self.starved();
                    };
                    let limit = self.limits.max_chunk_line;
                    match chunk.iter().position(|&b| b == b'\n') {
                        None => {
                            if self.chunk_line.len() + chunk.len() >= limit {
                                return Err(HttpError::ChunkLineTooLong);
                            }
                            self.chunk_line.extend_from_slice(&chunk);
                        }
                        Some(p) => {
                            if self.chunk_line.len() + p + 1 > limit {
                                return Err(HttpError::ChunkLineTooLong);
                            }
                            self.chunk_line.extend_from_slice(&chunk[..=p]);
                            chunk.advance(p + 1);
                            if !chunk.is_empty() {
                                self.input.push_front(chunk);
                            }
                            let size = parse_chunk_line(&self.chunk_line)?;
                            self.chunk_line.clear();
                            if self
                                .max_body
                                .is_some_and(|m| size > m.saturating_sub(self.body_seen))
                            {
                                return Err(HttpError::BodyTooLarge);
                            }
                            self.body_seen = self.body_seen.saturating_add(size);
                            if size == 0 {
                                self.state = State::Trailers;
                                self.lines.reset();
                            } else {
                                self.state = State::ChunkData(size);
                            }
                        }
                    }
                }
                State::UntilClose => {
                    let allowed = self
                        .max_body
                        .map_or(u64::MAX, |m| m.saturating_sub(self.body_seen));
                    if allowed == 0 && !self.input.is_empty() {
                        return Err(HttpError::BodyTooLarge);
                    }
                    match self.take(allowed) {
                        Some(chunk) => {
                            self.body_seen += chunk.len() as u64;
                            return Ok(Some(Event::Body(chunk)));
                        }
                        None if self.eof => self.state = State::End,
                        None => return Ok(None),
                    }
                }
                State::End => {
                    self.state = if self.framing == Framing::Tunnel {
                        State::Tunnel
                    } else if self.interim {
                        State::Head
                    } else {
                        if self.mode == Mode::Response {
                            self.asked.pop_front();
                        }
                        if self.keep_alive {
                            State::Head
                        } else {
                            self.input.clear();
                            State::Closed
                        }
                    };
                    self.interim = false;
                    return Ok(Some(Event::End));
                }
                State::Tunnel => {
                    return Ok(self.input.pop_front().map(Event::Tunnel));
                }
                State::Closed => {
                    self.input.clear();
                    return Ok(None);
                }
            }
        }
    }

    /// Up to `max` bytes of the next input piece (no copy).
    fn take(&mut self, max: u64) -> Option<Bytes> {
        let front = self.input.front_mut()?;
        let n = usize::try_from(max).unwrap_or(usize::MAX).min(front.len());
        let out = front.split_to(n);
        if front.is_empty() {
            self.input.pop_front();
        }
        Some(out)
    }

    /// No input while inside a body.
    fn starved(&self) -> Result<Option<Event>, HttpError> {
        if self.eof {
            Err(HttpError::Truncated)
        } else {
            Ok(None)
        }
    }

    /// Reads head (or trailer) lines from `chunk`, checking each as it
    /// completes; `chunk` keeps what follows. The complete section when
    /// its empty line was read: the bytes of `chunk` themselves when the
    /// section started in it (no copy), else the copy gathered in `buf`.
    fn scan_lines(&mut self, chunk: &mut Bytes) -> Result<Option<Bytes>, HttpError> {
        let head = self.state == State::Head;
        let request = self.mode == Mode::Request;
        if self.buf.is_empty() {
            loop {
                match self.lines.scan(chunk, &self.limits, head, request)? {
                    Scan::Done(n) => return Ok(Some(chunk.split_to(n))),
                    Scan::Skip(n) => {
                        chunk.advance(n);
                        self.lines.reset();
                    }
                    Scan::More => break,
                }
            }
            // Unfinished, and checked against the limits: held, and read
            // on from where the scan stopped when more comes.
            self.buf
                .reserve(self.limits.max_head_bytes.min(chunk.len().max(256)));
            self.buf.extend_from_slice(chunk);
            chunk.clear();
            return Ok(None);
        }
        loop {
            // A line at a time, so that nothing past the section is copied.
            let n = match chunk.iter().position(|&b| b == b'\n') {
                Some(p) => p + 1,
                None => chunk.len(),
            };
            if n == 0 {
                return Ok(None);
            }
            let mut total = self.buf.len() + n;
            if n == chunk.len() && chunk[n - 1] != b'\n' {
                // Unfinished: compared as the scanner would once held.
                total += 1;
            }
            if total > self.limits.max_head_bytes {
                // Past every limit; the start line's is the one it crossed
                // first if that is what is being read.
                return Err(if head && self.lines.start_end == 0 {
                    HttpError::StartLineTooLong
                } else {
                    HttpError::HeadTooLarge
                });
            }
            self.buf.extend_from_slice(&chunk[..n]);
            chunk.advance(n);
            let buf = std::mem::take(&mut self.buf);
            let scan = self.lines.scan(&buf, &self.limits, head, request);
            self.buf = buf;
            match scan? {
                Scan::Done(_) => return Ok(Some(std::mem::take(&mut self.buf).freeze())),
                Scan::Skip(_) => {
                    self.buf.clear();
                    self.lines.reset();
                    if chunk.is_empty() {
                        return Ok(None);
                    }
                    // The rest of the piece starts a section of its own.
                    return self.scan_lines(chunk);
                }
                Scan::More if chunk.is_empty() => return Ok(None),
                Scan::More => {}
            }
        }
    }

    fn finish_trailers(&mut self, all: Bytes) -> Result<Option<Event>, HttpError> {
        let fields = self.lines.headers(&all, Headers::new())?;
        self.lines.reset();
        self.state = State::End;
        if fields.is_empty() {
            self.step()
        } else {
            Ok(Some(Event::Trailers(fields)))
        }
    }

    fn finish_head(&mut self, all: Bytes) -> Result<Event, HttpError> {
        let start_end = self.lines.start_end;
        let line = &all[..start_end - 2];
        let mut head = Head {
            version: Version::Http11,
            method: Bytes::new(),
            target: Bytes::new(),
            status: 0,
            reason: Bytes::new(),
            headers: Headers::new(),
            framing: Framing::None,
            keep_alive: false,
            icy: false,
        };
        match self.mode {
            Mode::Request => {
                let (method, rest) = split_sp(line).ok_or(HttpError::BadStartLine)?;
                let (target, version) = split_sp(rest).ok_or(HttpError::BadStartLine)?;
                if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
                    return Err(HttpError::BadStartLine);
                }
                if target.is_empty() || !all_visible(target) {
                    return Err(HttpError::BadStartLine);
                }
                head.version = parse_version(version)?;
                head.method = all.slice_ref(method);
                head.target = all.slice_ref(target);
            }
            Mode::Response => {
                let (version, rest) = split_sp(line).ok_or(HttpError::BadStartLine)?;
                if version == b"ICY" {
                    head.version = Version::Http10;
                    head.icy = true;
                } else {
                    head.version = parse_version(version)?;
                }
                let (code, reason) = match rest.get(3) {
                    None => (rest, &rest[rest.len()..]),
                    Some(b' ') => (&rest[..3], &rest[4..]),
                    Some(_) => return Err(HttpError::BadStartLine),
                };
                if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) || code[0] == b'0' {
                    return Err(HttpError::BadStartLine);
                }
                if !reason.iter().all(|&b| b == b'\t' || b >= 0x20 && b != 0x7f) {
                    return Err(HttpError::BadStartLine);
                }
                head.status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
                head.reason = slice_in(&all, reason);
            }
        }
        head.headers = self.lines.headers(&all, std::mem::take(&mut self.spare))?;
        let summary = self.lines.summary;
        self.lines.reset();
        head.framing = self.framing_of(&head, &summary)?;
        head.keep_alive = !head.icy
            && head.framing != Framing::UntilClose
            && !summary.close
            && (head.version == Version::Http11 || summary.keep_alive);
        self.framing = head.framing;
        self.keep_alive = head.keep_alive;
        self.interim = head.is_interim();
        self.state = State::BodyStart;
        Ok(Event::Head(head))
    }

    /// RFC 9112 §6.3, from what the scan gathered of the fields.
    fn framing_of(&self, head: &Head, s: &Summary) -> Result<Framing, HttpError> {
        if self.mode == Mode::Request {
            if s.hosts > 1 {
                return Err(HttpError::DuplicateHost);
            }
            if s.hosts == 0 && head.version == Version::Http11 {
                return Err(HttpError::MissingHost);
            }
        } else {
            let asked = self.asked.front().copied().unwrap_or(Asked::Other);
            if head.status == 101 || asked == Asked::Connect && (200..300).contains(&head.status) {
                return Ok(Framing::Tunnel);
            }
            if asked == Asked::Head || head.status < 200 || head.status == 204 || head.status == 304
            {
                return Ok(Framing::None);
            }
        }
        if let Some(e) = s.length_error {
            return Err(e);
        }
        let length = s.length;
        let request = self.mode == Mode::Request;
        if request && head.method == "CONNECT" && !s.te && length.is_none() {
            return Ok(Framing::Tunnel);
        }
        if s.te {
            if length.is_some() {
                return Err(HttpError::TransferEncodingWithContentLength);
            }
            if head.version == Version::Http10 {
                // The framing is faulty (RFC 9112 §6.1).
                return if request {
                    Err(HttpError::TransferEncodingInHttp10)
                } else {
                    Ok(Framing::UntilClose)
                };
            }
            return if s.last_chunked && s.chunked == 1 {
                Ok(Framing::Chunked)
            } else if request || s.last_chunked || s.codings == 0 {
                Err(HttpError::BadTransferEncoding)
            } else {
                // A response whose last coding is not chunked runs until
                // the connection closes (RFC 9112 §6.3).
                Ok(Framing::UntilClose)
            };
        }
        Ok(match length {
            Some(n) => Framing::Length(n),
            None if request => Framing::None,
            None => Framing::UntilClose,
        })
    }
}

/// A chunk-size line (CRLF included): `1*HEXDIG *( BWS ";" BWS name [ BWS
/// "=" BWS ( token / quoted-string ) ] ) CRLF` (RFC 9112 §7.1).
fn parse_chunk_line(line: &[u8]) -> Result<u64, HttpError> {
    let n = line.len();
    if n < 2 || line[n - 2] != b'\r' {
        return Err(HttpError::BareLf);
    }
    let line = &line[..n - 2];
    if line.contains(&b'\r') {
        return Err(HttpError::BareCr);
    }
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(HttpError::BadChunkSize);
    }
    let mut size: u64 = 0;
    for &d in &line[..digits] {
        let v = (d as char).to_digit(16).unwrap_or(0) as u64;
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(v))
            .ok_or(HttpError::ChunkSizeOverflow)?;
    }
    let mut rest = &line[digits..];
    let skip_ws = |s: &mut &[u8]| {
        while let [b' ' | b'\t', r @ ..] = *s {
            *s = r;
        }
    };
    let mut first = true;
    while !rest.is_empty() {
        skip_ws(&mut rest);
        let [b';', r @ ..] = rest else {
            return Err(if first {
                HttpError::BadChunkSize
            } else {
                HttpError::BadChunkExtension
            });
        };
        first = false;
        rest = r;
        skip_ws(&mut rest);
        let name = rest.iter().take_while(|&&b| is_tchar(b)).count();
        if name == 0 {
            return Err(HttpError::BadChunkExtension);
        }
        rest = &rest[name..];
        let mut after = rest;
        skip_ws(&mut after);
        if let [b'=', r @ ..] = after {
            rest = r;
            skip_ws(&mut rest);
            if let [b'"', r @ ..] = rest {
                rest = skip_quoted(r).ok_or(HttpError::BadChunkExtension)?;
            } else {
                let v = rest.iter().take_while(|&&b| is_tchar(b)).count();
                if v == 0 {
                    return Err(HttpError::BadChunkExtension);
                }
                rest = &rest[v..];
            }
        }
    }
    Ok(size)
}

/// What follows a quoted-string whose opening quote was just read.
fn skip_quoted(mut s: &[u8]) -> Option<&[u8]> {
    loop {
        match s {
            [b'"', r @ ..] => return Some(r),
            [b'\\', q, r @ ..] if *q == b'\t' || *q >= 0x20 && *q != 0x7f => s = r,
            [b, r @ ..] if *b == b'\t' || *b >= 0x20 && *b != 0x7f && *b != b'\\' => s = r,
            _ => return None,
        }
    }
}

/// Whether every byte is visible ASCII (0x21 to 0x7e), as a request
/// target must be: eight bytes at a time (a target is most of a request
/// line, and a tracker's announce is a long one). A word has a byte below
/// 0x21 when subtracting 0x21 from every byte borrows into a high bit that
/// was clear, and one above 0x7e when adding 1 to every byte sets a high
/// bit (or one was set): both tests are exact as a yes/no for the word.
fn all_visible(s: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = ONES * 0x80;
    let mut words = s.chunks_exact(8);
    for w in &mut words {
        let x = u64::from_ne_bytes(w.try_into().expect("eight bytes"));
        let below = x.wrapping_sub(ONES * 0x21) & !x & HIGHS;
        // 0x7f - 0x7e = 1 added to every byte.
        let above = (x.wrapping_add(ONES) | x) & HIGHS;
        if below | above != 0 {
            return false;
        }
    }
    words.remainder().iter().all(|&b| (0x21..0x7f).contains(&b))
}

fn split_sp(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|&b| b == b' ')?;
    Some((&s[..i], &s[i + 1..]))
}

fn parse_version(v: &[u8]) -> Result<Version, HttpError> {
    match v {
        b"HTTP/1.1" => Ok(Version::Http11),
        b"HTTP/1.0" => Ok(Version::Http10),
        [b'H', b'T', b'T', b'P', b'/', a, b'.', b] if a.is_ascii_digit() && b.is_ascii_digit() => {
            Err(HttpError::BadVersion)
        }
        _ => Err(HttpError::BadStartLine),
    }
}

/// `part`, a slice of `all` or empty, as a `Bytes` sharing `all`.
fn slice_in(all: &Bytes, part: &[u8]) -> Bytes {
    if part.is_empty() {
        Bytes::new()
    } else {
        all.slice_ref(part)
    }
}

#[cfg(test)]
mod visible_tests {
    use super::all_visible;

    #[test]
    fn all_visible_agrees_with_the_bytewise_test_for_every_byte_at_every_place() {
        let slow = |s: &[u8]| s.iter().all(|&b| (0x21..0x7f).contains(&b));
        for len in [1usize, 7, 8, 9, 16, 23] {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut s = vec![b'a'; len];
                    s[at] = b;
                    assert_eq!(all_visible(&s), slow(&s), "byte {b:#x} at {at} of {len}");
                    // Next to the edges of the range, which a borrow or a
                    // carry from this byte could disturb.
                    for n in [0x21u8, 0x7e] {
                        let mut t = vec![n; len];
                        t[at] = b;
                        assert_eq!(all_visible(&t), slow(&t), "{b:#x} at {at} among {n:#x}");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reset parser reads a new stream as a new parser does, whatever
    /// the old stream left: half a head, a body in progress, an error, the
    /// end of the stream.
    #[test]
    fn a_reset_parser_is_a_new_parser() {
        let next = b"GET /b?x HTTP/1.1\r\nHost: y\r\nContent-Length: 2\r\n\r\nok";
        let events = |p: &mut Parser| {
            let mut out = Vec::new();
            let r = p.push(Bytes::from_static(next), &mut out);
            (r, format!("{out:?}"))
        };
        let fresh = events(&mut Parser::request());
        let left_behind: [&[u8]; 4] = [
            b"GET /a HTTP/1.1\r\nHost: x\r\nX-Half",
            b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
            b"GET /a HTTP/1.1\r\nBad Header\r\n\r\n",
            b"GET /a HTTP/1.0\r\n\r\n",
        ];
        for old in left_behind {
            let mut p = Parser::request();
            let _ = p.push(Bytes::from_static(old), &mut Vec::new());
            p.eof();
            let _ = p.drain(&mut Vec::new());
            p.reset();
            assert_eq!(
                events(&mut p),
                fresh,
                "after {:?}",
                String::from_utf8_lossy(old)
            );
        }
    }

    /// Heads with fewer and more fields than the slots kept on the stack.
    #[test]
    fn every_field_is_kept_whatever_the_count() {
        for n in [0usize, 1, 15, 16, 17, 40] {
            let mut req = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
            for i in 0..n {
                req.extend_from_slice(format!("X-F{i}: v{i}\r\n").as_bytes());
            }
            req.extend_from_slice(b"\r\n");
            let mut p = Parser::new(Mode::Request, Limits::default());
            p.feed(Bytes::from(req));
            let Ok(Some(Event::Head(head))) = p.next_event() else {
                panic!("{n} fields: no head");
            };
            assert_eq!(head.headers.iter().count(), n + 1, "{n} fields");
            for i in 0..n {
                let v = format!("v{i}");
                let got = head.headers.get(&format!("x-f{i}")).map(|b| &b[..]);
                assert_eq!(got, Some(v.as_bytes()));
            }
        }
    }

    #[test]
    fn chunk_lines() {
        assert_eq!(parse_chunk_line(b"1a\r\n"), Ok(26));
        assert_eq!(parse_chunk_line(b"0;a=b ; c = \"x\\\"y\"\r\n"), Ok(0));
        assert_eq!(parse_chunk_line(b"ffffffffffffffff\r\n"), Ok(u64::MAX));
        assert_eq!(
            parse_chunk_line(b"10000000000000000\r\n"),
            Err(HttpError::ChunkSizeOverflow)
        );
        assert_eq!(parse_chunk_line(b"5 \r\n"), Err(HttpError::BadChunkSize));
        assert_eq!(
            parse_chunk_line(b"5;\r\n"),
            Err(HttpError::BadChunkExtension)
        );
        assert_eq!(
            parse_chunk_line(b"5;a=\"x\r\n"),
            Err(HttpError::BadChunkExtension)
        );
        assert_eq!(parse_chunk_line(b"-5\r\n"), Err(HttpError::BadChunkSize));
        assert_eq!(parse_chunk_line(b"0x5\r\n"), Err(HttpError::BadChunkSize));
        assert_eq!(parse_chunk_line(b"5\n"), Err(HttpError::BareLf));
        assert_eq!(parse_chunk_line(b"5\rx\r\n"), Err(HttpError::BareCr));
    }

    #[test]
    fn content_lengths() {
        let of = |values: &[&str]| {
            let mut s = Summary::default();
            for v in values {
                s.content_length(v.as_bytes());
            }
            s.length_error.map_or(Ok(s.length), Err)
        };
        assert_eq!(of(&["5, 5", "5"]), Ok(Some(5)));
        assert_eq!(
            of(&["5, 5", "5", "6"]),
            Err(HttpError::ConflictingContentLength)
        );
        assert_eq!(of(&["+5"]), Err(HttpError::BadContentLength));
        assert_eq!(
            of(&["18446744073709551616"]),
            Err(HttpError::BadContentLength)
        );
        assert_eq!(of(&["5", "x", "6"]), Err(HttpError::BadContentLength));
    }
}
