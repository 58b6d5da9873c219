//! The line scanner of the parser: checks the lines of a head (or trailer
//! section) as they come, records where each field's name and value are,
//! and notes the fields that decide framing and keep-alive (Host,
//! Content-Length, Transfer-Encoding, Connection) on the way. One pass over
//! the bytes: the fields are not searched again afterwards, and nothing is
//! allocated per section once the parser has handled one like it.
//!
//! The scanner knows nothing of where the bytes live: the parser gives it
//! the section read so far (the input piece itself when the section
//! arrived whole, else its own copy) and it carries on from the line it
//! stopped at, and within an unfinished line from the byte its search for
//! the line's end stopped at: a line arriving a byte at a time costs each
//! byte one look, not one per piece (a 4 KiB line fed bytewise is looked
//! at about 2x its length; each byte again every call before).

use bytes::Bytes;

use super::head::{list_elements, trim_ows, Headers, HttpError};
use super::parser::Limits;

/// Token characters (RFC 9110 §5.6.2): what a field name is made of.
static TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    t
};

/// What a field value may hold: tab, visible ASCII, space, obs-text.
static VALUE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = b == 0x09 || (b >= 0x20 && b != 0x7f);
        b += 1;
    }
    t
};

/// True for a token character.
pub(crate) fn is_tchar(b: u8) -> bool {
    TOKEN[b as usize]
}

/// What the fields that matter to framing said, gathered as they were read.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Summary {
    /// Host fields.
    pub hosts: u32,
    /// The Content-Length, when every value agreed.
    pub length: Option<u64>,
    /// The first thing wrong with the Content-Length values.
    pub length_error: Option<HttpError>,
    /// Some Transfer-Encoding field was present.
    pub te: bool,
    /// Transfer codings listed, `chunked` among them, and whether the
    /// last one is `chunked`.
    pub codings: u32,
    pub chunked: u32,
    pub last_chunked: bool,
    /// `Connection` listed `close` / `keep-alive`.
    pub close: bool,
    pub keep_alive: bool,
}

impl Summary {
    fn note(&mut self, name: &[u8], value: &[u8]) {
        match name.len() {
            4 if name.eq_ignore_ascii_case(b"host") => self.hosts += 1,
            10 if name.eq_ignore_ascii_case(b"connection") => {
                for e in list_elements(value) {
                    self.close |= e.eq_ignore_ascii_case(b"close");
                    self.keep_alive |= e.eq_ignore_ascii_case(b"keep-alive");
                }
            }
            14 if name.eq_ignore_ascii_case(b"content-length") => self.content_length(value),
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                self.te = true;
                for e in list_elements(value) {
                    let chunked = e.eq_ignore_ascii_case(b"chunked");
                    self.codings += 1;
                    self.chunked += u32::from(chunked);
                    self.last_chunked = chunked;
                }
            }
            _ => {}
        }
    }

    /// Every Content-Length value (and list element) must be the same
    /// decimal number.
    pub(crate) fn content_length(&mut self, value: &[u8]) {
        if self.length_error.is_some() {
            return;
        }
        for e in value.split(|&b| b == b',').map(trim_ows) {
            let n = (!e.is_empty() && e.iter().all(u8::is_ascii_digit))
                .then(|| {
                    e.iter().try_fold(0u64, |n, &d| {
                        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
                    })
                })
                .flatten();
            let Some(n) = n else {
                self.length_error = Some(HttpError::BadContentLength);
                return;
            };
            if self.length.is_some_and(|f| f != n) {
                self.length_error = Some(HttpError::ConflictingContentLength);
                return;
            }
            self.length = Some(n);
        }
    }
}

/// Where one field is in its section: name and (trimmed) value.
#[derive(Clone, Copy, Debug)]
struct Field {
    name: (u32, u32),
    value: (u32, u32),
}

/// What [`Lines::scan`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Scan {
    /// The section goes on past what was given.
    More,
    /// The section is complete: its first this many bytes.
    Done(usize),
    /// An empty line before a request, this long: to be dropped, and the
    /// scan started again after it.
    Skip(usize),
}

/// The state of the scan of one section.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    /// Where the line being read starts.
    line_start: usize,
    /// How far the line being read was searched for its end without
    /// finding it (at or before `line_start`: not searched yet).
    scanned: usize,
    /// Where the start line ends (0 while it is being read, and in a
    /// trailer section).
    pub start_end: usize,
    /// Fields so far (kept between sections for its capacity).
    fields: Vec<Field>,
    /// A field line with a byte not allowed in a name or value was seen:
    /// the section is malformed, reported once it is complete (as the
    /// line-level faults of any line are reported first).
    bad_field: bool,
    /// The fields that matter to framing.
    pub summary: Summary,
    /// Bytes looked at by the scans so far (each pass over a slice adds
    /// its length): what the tests check to see the work is linear.
    examined: usize,
}

impl Lines {
    /// Ready for a new section.
    pub fn reset(&mut self) {
        self.line_start = 0;
        self.scanned = 0;
        self.start_end = 0;
        self.fields.clear();
        self.bad_field = false;
        self.summary = Summary::default();
    }

    /// Checks the lines of `sec` (the section so far, from its first
    /// byte) from where the last call stopped. `head`: a message head,
    /// with a start line first; `request`: empty lines before it are
    /// skipped.
    pub fn scan(
        &mut self,
        sec: &[u8],
        limits: &Limits,
        head: bool,
        request: bool,
    ) -> Result<Scan, HttpError> {
        loop {
            let from = self.line_start;
            let reading_start = head && self.start_end == 0;
            // A line looked at for the first time gets the fast path over
            // what is here; one seen unfinished before is searched on from
            // where that look stopped, so a line arriving a byte at a time
            // costs each byte one look, not one per call.
            let fresh = self.scanned <= from;
            if !reading_start && fresh {
                match field_line(&sec[from..]) {
                    Ok((colon, end)) => {
                        // A well-formed field line, the usual case.
                        self.examined += end;
                        if from + end > limits.max_head_bytes {
                            return Err(HttpError::HeadTooLarge);
                        }
                        self.add_field(sec, from, colon, end - 2, limits, head)?;
                        self.line_start = from + end;
                        continue;
                    }
                    Err(looked) => self.examined += looked,
                }
            }
            let look = self.scanned.max(from);
            let newline = sec[look..].iter().position(|&b| b == b'\n');
            self.examined += newline.map_or(sec.len() - look, |p| p + 1);
            let Some(p) = newline else {
                self.scanned = sec.len();
                // An unfinished line: fail now if it can only end over a
                // limit, before it is held.
                let total = sec.len();
                if reading_start && total - from >= limits.max_start_line {
                    return Err(HttpError::StartLineTooLong);
                }
                if total >= limits.max_head_bytes {
                    return Err(HttpError::HeadTooLarge);
                }
                return Ok(Scan::More);
            };
            let end = look + p + 1;
            self.scanned = end;
            if reading_start && end - from > limits.max_start_line {
                return Err(HttpError::StartLineTooLong);
            }
            if end > limits.max_head_bytes {
                return Err(HttpError::HeadTooLarge);
            }
            let line = &sec[from..end];
            let n = line.len();
            if !reading_start && !fresh {
                // Complete now: the fast path once, over the whole line.
                match field_line(line) {
                    Ok((colon, line_end)) => {
                        self.examined += line_end;
                        self.add_field(sec, from, colon, line_end - 2, limits, head)?;
                        self.line_start = end;
                        continue;
                    }
                    Err(looked) => self.examined += looked,
                }
            }
            if n < 2 || line[n - 2] != b'\r' {
                return Err(HttpError::BareLf);
            }
            self.examined += n;
            if line[..n - 2].contains(&b'\r') {
                return Err(HttpError::BareCr);
            }
            if reading_start {
                if n == 2 && request {
                    // Empty lines before a request are ignored (RFC 9112
                    // §2.2).
                    return Ok(Scan::Skip(end));
                }
                if n == 2 {
                    return Err(HttpError::BadStartLine);
                }
                self.start_end = end;
                self.line_start = end;
                continue;
            }
            if n == 2 {
                return Ok(Scan::Done(end));
            }
            if line[0] == b' ' || line[0] == b'\t' {
                return Err(if head && self.fields.is_empty() {
                    HttpError::WhitespaceAfterStartLine
                } else {
                    HttpError::ObsFold
                });
            }
            let colon = line.iter().position(|&b| b == b':');
            self.examined += colon.map_or(n, |c| c + 1);
            let colon = match colon {
                None | Some(0) => return Err(HttpError::BadHeader),
                Some(c) if line[c - 1] == b' ' || line[c - 1] == b'\t' => {
                    return Err(HttpError::WhitespaceBeforeColon)
                }
                Some(c) => c,
            };
            // A complete line with a colon that the fast path refused: a
            // byte not allowed in its name or value.
            self.bad_field = true;
            self.add_field(sec, from, colon, n - 2, limits, false)?;
            self.line_start = end;
        }
    }

    /// Bytes looked at by the scans since this scanner was made.
    #[cfg(test)]
    pub fn examined(&self) -> usize {
        self.examined
    }

    /// Records the field of the line at `from` (colon and end of value
    /// relative to it).
    fn add_field(
        &mut self,
        sec: &[u8],
        from: usize,
        colon: usize,
        value_end: usize,
        limits: &Limits,
        head: bool,
    ) -> Result<(), HttpError> {
        if self.fields.len() >= limits.max_headers {
            return Err(HttpError::TooManyHeaders);
        }
        let line = &sec[from..];
        let raw = &line[colon + 1..value_end];
        let value = trim_ows(raw);
        let v0 = from + colon + 1 + (value.as_ptr() as usize - raw.as_ptr() as usize);
        if head {
            self.summary.note(&line[..colon], value);
        }
        self.fields.push(Field {
            name: (from as u32, (from + colon) as u32),
            value: (v0 as u32, (v0 + value.len()) as u32),
        });
        Ok(())
    }

    /// The fields of the complete section `all`, sharing its bytes, in
    /// `headers` (emptied first; its room is used).
    pub fn headers(&self, all: &Bytes, mut headers: Headers) -> Result<Headers, HttpError> {
        if self.bad_field {
            return Err(HttpError::BadHeader);
        }
        headers.clear();
        if headers.capacity() < self.fields.len() {
            headers = Headers::with_capacity(self.fields.len());
        }
        for f in &self.fields {
            let (n0, n1) = (f.name.0 as usize, f.name.1 as usize);
            let (v0, v1) = (f.value.0 as usize, f.value.1 as usize);
            headers.push(all.slice(n0..n1), all.slice(v0..v1));
        }
        Ok(headers)
    }
}

/// A well-formed field line at the start of `s` (a token name, a colon, a
/// value of allowed bytes, CRLF): where its colon is and where the line
/// ends. For anything else, left to the careful path, `Err` with how many
/// bytes it looked at.
fn field_line(s: &[u8]) -> Result<(usize, usize), usize> {
    let colon = s.iter().position(|&b| !TOKEN[b as usize]).ok_or(s.len())?;
    if colon == 0 || s[colon] != b':' {
        return Err(colon + 1);
    }
    let value = &s[colon + 1..];
    let v = value
        .iter()
        .position(|&b| !VALUE[b as usize])
        .ok_or(s.len())?;
    let end = colon + v + 3;
    if value[v] == b'\r' && value.get(v + 1) == Some(&b'\n') {
        Ok((colon, end))
    } else {
        Err(end.min(s.len()))
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::super::parser::Limits;
    use super::super::{Event, Framing, HttpError, Parser};
    use super::{Lines, Scan};

    /// Feeds `head` to a scanner as the parser's copying path does when
    /// it comes a byte at a time (the section so far, one byte longer each
    /// call); returns the bytes the scanner looked at.
    fn examined_byte_by_byte(head: &[u8]) -> usize {
        let limits = Limits::default();
        let mut lines = Lines::default();
        for n in 1..head.len() {
            assert_eq!(lines.scan(&head[..n], &limits, true, true), Ok(Scan::More));
        }
        assert_eq!(
            lines.scan(head, &limits, true, true),
            Ok(Scan::Done(head.len()))
        );
        lines.examined()
    }

    #[test]
    fn a_4_kib_field_line_fed_a_byte_at_a_time_is_looked_at_linearly() {
        let mut head = b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: ".to_vec();
        head.resize(4096 + head.len(), b'v');
        head.extend_from_slice(b"\r\n\r\n");
        let work = examined_byte_by_byte(&head);
        assert!(
            work < 3 * head.len(),
            "{work} bytes looked at for a head of {}",
            head.len()
        );
    }

    #[test]
    fn a_4_kib_start_line_fed_a_byte_at_a_time_is_looked_at_linearly() {
        let mut head = b"GET /".to_vec();
        head.resize(4096, b'a');
        head.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n\r\n");
        let work = examined_byte_by_byte(&head);
        assert!(work < 3 * head.len(), "{work} for {}", head.len());
    }

    #[test]
    fn a_long_bad_field_line_fed_a_byte_at_a_time_is_looked_at_linearly() {
        // A byte not allowed in a value: the careful path, once complete.
        let mut head = b"GET / HTTP/1.1\r\nHost: a\r\nX: \x01".to_vec();
        head.resize(4096 + head.len(), b'v');
        head.extend_from_slice(b"\r\n\r\n");
        let work = examined_byte_by_byte(&head);
        assert!(work < 3 * head.len(), "{work} for {}", head.len());
    }

    /// The head, or the error, from `input` fed whole and fed a byte at a
    /// time (the copying path): both must agree.
    fn parse(input: &[u8]) -> Result<super::super::Head, HttpError> {
        let mut whole = Parser::request();
        whole.feed(Bytes::copy_from_slice(input));
        let a = whole.next_event();
        let mut bytes = Parser::request();
        let mut b = Ok(None);
        for &x in input {
            bytes.feed(Bytes::copy_from_slice(&[x]));
            b = bytes.next_event();
            if !matches!(b, Ok(None)) {
                break;
            }
        }
        assert_eq!(a, b, "whole and byte by byte differ for {input:?}");
        match a {
            Ok(Some(Event::Head(h))) => Ok(h),
            Ok(other) => panic!("no head: {other:?}"),
            Err(e) => Err(e),
        }
    }

    #[test]
    fn a_head_that_came_whole_is_read_where_it_is() {
        let input = Bytes::from_static(b"GET /x HTTP/1.1\r\nHost: a\r\nX-Y:  v w \t\r\n\r\nrest");
        let mut p = Parser::request();
        p.feed(input.clone());
        let Ok(Some(Event::Head(h))) = p.next_event() else {
            panic!("no head")
        };
        let range = input.as_ptr() as usize..input.as_ptr() as usize + input.len();
        for part in [&h.target, &h.headers.get("x-y").unwrap().clone()] {
            assert!(range.contains(&(part.as_ptr() as usize)), "copied");
        }
        assert_eq!(&h.headers.get("x-y").unwrap()[..], b"v w");
        assert_eq!(p.held(), 0);
        assert_eq!(p.buffered(), 4);
    }

    #[test]
    fn faults_come_in_line_order_then_bad_bytes_whatever_the_pieces() {
        // A byte not allowed in a field is reported after the line faults
        // of the whole head, as when httparse split the fields afterwards.
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: a\r\nX\x01: 1\r\nY: a\rb\r\n\r\n"),
            Err(HttpError::BareCr)
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: a\r\nX: \x7f\r\n\r\n"),
            Err(HttpError::BadHeader)
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: a\r\nX : 1\r\n\r\n"),
            Err(HttpError::WhitespaceBeforeColon)
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\n Host: a\r\n\r\n"),
            Err(HttpError::WhitespaceAfterStartLine)
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n"),
            Err(HttpError::ObsFold)
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n"),
            Err(HttpError::BareLf)
        );
    }

    #[test]
    fn framing_fields_are_noted_as_read() {
        let h = parse(
            b"\r\n\r\nPOST / HTTP/1.1\r\nhOST: a\r\ncontent-length: 7, 7\r\nConnection: x, CLOSE\r\n\r\n",
        )
        .unwrap();
        assert_eq!((h.framing, h.keep_alive), (Framing::Length(7), false));
        let h = parse(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\n\r\n")
            .unwrap();
        assert_eq!((h.framing, h.keep_alive), (Framing::Chunked, true));
        let h = parse(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").unwrap();
        assert!(h.keep_alive);
        for (input, e) in [
            (&b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"[..], HttpError::DuplicateHost),
            (b"GET / HTTP/1.1\r\n\r\n", HttpError::MissingHost),
            (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", HttpError::ConflictingContentLength),
            (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", HttpError::BadTransferEncoding),
            (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", HttpError::BadTransferEncoding),
            (b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", HttpError::TransferEncodingWithContentLength),
        ] {
            assert_eq!(parse(input).map(|h| h.framing), Err(e), "{input:?}");
        }
    }
}
