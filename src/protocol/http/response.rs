//! Responses: what a resource component sends ([`Part`]), and how the
//! server writes it (status line, header fields, Content-Length or chunked
//! framing), plus the status table and HTTP dates.
//!
//! Kamaelia's request handler always wrote an `HTTP/1.0` status line, had
//! 401 as "403 Forbidden" in its table, and never signalled the end of a
//! response without a length (its end step was a generator never run).
//! Here the status line is `HTTP/1.1`, the table follows RFC 9110 and the
//! end is explicit: [`Part::End`] (or the resource ending) closes a chunked
//! body with its last chunk, a close-delimited body by closing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};

use super::{Headers, Version};

/// A response's status and header fields, sent first by a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code (100..=999).
    pub status: u16,
    /// Header fields. `Content-Length`, `Transfer-Encoding` and
    /// `Connection` are the server's to write and are dropped from here.
    pub headers: Headers,
    /// The body's length when known: sent as Content-Length. Unknown: the
    /// body is chunked (HTTP/1.1) or runs until the connection closes
    /// (HTTP/1.0).
    pub length: Option<u64>,
}

impl ResponseHead {
    /// A head with `status`, no fields and an unknown length.
    pub fn new(status: u16) -> Self {
        ResponseHead {
            status,
            headers: Headers::new(),
            length: None,
        }
    }

    /// Adds a header field.
    pub fn header(mut self, name: &str, value: impl Into<Bytes>) -> Self {
        self.headers
            .push(Bytes::copy_from_slice(name.as_bytes()), value.into());
        self
    }

    /// Sets the body length.
    pub fn length(mut self, n: u64) -> Self {
        self.length = Some(n);
        self
    }
}

/// What a resource component sends on its `outbox`, in this order: one
/// `Head`, any number of `Body`, one `End`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Status and fields.
    Head(ResponseHead),
    /// Some body bytes (dropped for HEAD requests).
    Body(Bytes),
    /// The response is complete.
    End,
}

/// The reason phrase for `status` (RFC 9110 §15), empty for unknown ones.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// How a response body is framed on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyMode {
    /// No body is written (HEAD, 1xx, 204, 304); body parts are dropped.
    None,
    /// Content-Length: this many bytes are still to be written.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// The body runs until the connection closes.
    UntilClose,
}

/// Writes the head of a response to a request with `version` (and method
/// HEAD or not) into `out`; `keep_alive` says whether the server means to
/// keep the connection. Returns the body framing, and whether the
/// connection can stay open after this response.
pub fn encode_head(
    out: &mut BytesMut,
    head: &ResponseHead,
    version: Version,
    is_head_request: bool,
    keep_alive: bool,
    date: Option<SystemTime>,
) -> (BodyMode, bool) {
    encode_head_with(out, head, version, is_head_request, keep_alive, |out| {
        if let Some(d) = date {
            out.put_slice(b"Date: ");
            out.put_slice(http_date(d).as_bytes());
            out.put_slice(b"\r\n");
        }
    })
}

/// [`encode_head`] with the `Date` line (if any) written by `date`.
pub(crate) fn encode_head_with(
    out: &mut BytesMut,
    head: &ResponseHead,
    version: Version,
    is_head_request: bool,
    keep_alive: bool,
    date: impl FnOnce(&mut BytesMut),
) -> (BodyMode, bool) {
    let status = head.status;
    let no_body = (100..200).contains(&status) || status == 204 || status == 304;
    let mode = if no_body || is_head_request {
        BodyMode::None
    } else {
        match head.length {
            Some(n) => BodyMode::Length(n),
            None if version == Version::Http11 => BodyMode::Chunked,
            None => BodyMode::UntilClose,
        }
    };
    let keep = keep_alive && mode != BodyMode::UntilClose;
    // One reservation for the whole head (fields plus the fixed lines), so
    // the buffer does not grow step by step.
    let fields: usize = head
        .headers
        .iter()
        .map(|(n, v)| n.len() + v.len() + 4)
        .sum();
    out.reserve(fields + 128);
    out.put_slice(b"HTTP/1.1 ");
    // Three digits at least, as `{:03}` wrote it.
    if status < 100 {
        out.put_slice(if status < 10 { b"00" } else { b"0" });
    }
    put_decimal(out, status.into());
    out.put_u8(b' ');
    out.put_slice(reason(status).as_bytes());
    out.put_slice(b"\r\n");
    date(out);
    for (n, v) in head.headers.iter() {
        // The server's own fields, told apart by length first.
        let ours = match n.len() {
            10 => n.eq_ignore_ascii_case(b"connection"),
            14 => n.eq_ignore_ascii_case(b"content-length"),
            17 => n.eq_ignore_ascii_case(b"transfer-encoding"),
            _ => false,
        };
        if ours || !is_clean(n) || !is_clean(v) {
            continue;
        }
        out.put_slice(n);
        out.put_slice(b": ");
        out.put_slice(v);
        out.put_slice(b"\r\n");
    }
    let framed_length = match mode {
        BodyMode::Length(n) => Some(n),
        // HEAD: the length the GET would have had.
        BodyMode::None if is_head_request && !no_body => head.length,
        _ => None,
    };
    if let Some(n) = framed_length {
        out.put_slice(b"Content-Length: ");
        put_decimal(out, n);
        out.put_slice(b"\r\n");
    }
    if mode == BodyMode::Chunked {
        out.put_slice(b"Transfer-Encoding: chunked\r\n");
    }
    if !keep {
        out.put_slice(b"Connection: close\r\n");
    } else if version == Version::Http10 {
        out.put_slice(b"Connection: keep-alive\r\n");
    }
    out.put_slice(b"\r\n");
    (mode, keep)
}

/// Writes `n` in decimal (no allocation).
fn put_decimal(out: &mut BytesMut, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[i..]);
}

/// Writes `n` in lower-case hexadecimal, as `{:x}` would (no allocation).
fn put_hex(out: &mut BytesMut, mut n: u64) {
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[(n & 15) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[i..]);
}

/// Length of an IMF-fixdate with a four-digit year.
const DATE_LEN: usize = 29;

thread_local! {
    /// The `Date` value of the current second: made once a second, not
    /// per response.
    static DATE: std::cell::Cell<(u64, [u8; DATE_LEN])> =
        const { std::cell::Cell::new((u64::MAX, [0; DATE_LEN])) };
}

/// Writes a `Date` line for now, from a value made at most once a second.
pub(crate) fn put_date(out: &mut BytesMut) {
    let now = SystemTime::now();
    let secs = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    out.put_slice(b"Date: ");
    let (at, cached) = DATE.get();
    if at == secs {
        out.put_slice(&cached);
    } else {
        let text = http_date(now);
        out.put_slice(text.as_bytes());
        if let Ok(value) = <[u8; DATE_LEN]>::try_from(text.as_bytes()) {
            DATE.set((secs, value));
        }
    }
    out.put_slice(b"\r\n");
}

/// No CR, LF or NUL (a field that could split the head is dropped).
fn is_clean(s: &[u8]) -> bool {
    !s.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0)
}

/// Writes body bytes in `mode` into `out`; returns how many bytes of
/// `data` were dropped because they went past a Content-Length.
pub fn encode_body(out: &mut BytesMut, mode: &mut BodyMode, data: &[u8]) -> usize {
    match mode {
        BodyMode::None => 0,
        BodyMode::Length(left) => {
            let n = (*left).min(data.len() as u64) as usize;
            out.put_slice(&data[..n]);
            *left -= n as u64;
            data.len() - n
        }
        BodyMode::Chunked => {
            if !data.is_empty() {
                put_hex(out, data.len() as u64);
                out.put_slice(b"\r\n");
                out.put_slice(data);
                out.put_slice(b"\r\n");
            }
            0
        }
        BodyMode::UntilClose => {
            out.put_slice(data);
            0
        }
    }
}

/// Ends the body: the last chunk of a chunked body. Returns false when the
/// body came out shorter than its Content-Length (the connection must then
/// close: the client cannot tell where the next response starts).
pub fn encode_end(out: &mut BytesMut, mode: BodyMode) -> bool {
    match mode {
        BodyMode::Chunked => {
            out.put_slice(b"0\r\n\r\n");
            true
        }
        BodyMode::Length(left) => left == 0,
        _ => true,
    }
}

/// A complete small response (`text/plain` body) to `status`, written by
/// the server itself for errors, with a `Date` field when `date` is given.
pub fn simple_response(
    status: u16,
    extra: &[(&str, &str)],
    close: bool,
    date: Option<SystemTime>,
) -> Bytes {
    let body = format!("{} {}\n", status, reason(status));
    let mut head = ResponseHead::new(status)
        .header("Content-Type", "text/plain; charset=utf-8")
        .length(body.len() as u64);
    for (n, v) in extra {
        head = head.header(n, Bytes::copy_from_slice(v.as_bytes()));
    }
    let mut out = BytesMut::new();
    let (mut mode, _) = encode_head(&mut out, &head, Version::Http11, false, !close, date);
    encode_body(&mut out, &mut mode, body.as_bytes());
    out.freeze()
}

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `t` as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), to the second.
pub fn http_date(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let days = secs / 86400;
    let rem = secs % 86400;
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Reads an IMF-fixdate; `None` for anything else (the obsolete formats
/// included: a conditional request with one is answered in full).
pub fn parse_http_date(s: &[u8]) -> Option<SystemTime> {
    let s = std::str::from_utf8(s).ok()?;
    let p: Vec<&str> = s.split(' ').collect();
    if p.len() != 6 || p[5] != "GMT" || p[0].len() != 4 || !p[0].ends_with(',') {
        return None;
    }
    let num = |x: &str, len: usize| -> Option<i64> {
        (x.len() == len && x.bytes().all(|b| b.is_ascii_digit()))
            .then(|| x.parse().ok())
            .flatten()
    };
    let d = num(p[1], 2)?;
    let m = MONTHS.iter().position(|&n| n == p[2])? as i64 + 1;
    let y = num(p[3], 4)?;
    let t: Vec<&str> = p[4].split(':').collect();
    if t.len() != 3 {
        return None;
    }
    let (hh, mm, ss) = (num(t[0], 2)?, num(t[1], 2)?, num(t[2], 2)?);
    if !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 || y < 1970 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    let secs = days * 86400 + hh * 3600 + mm * 60 + ss;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

// Howard Hinnant's civil calendar algorithms.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        let t = UNIX_EPOCH + Duration::from_secs(784111777);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parse_http_date(b"Sun, 06 Nov 1994 08:49:37 GMT"), Some(t));
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        let leap = UNIX_EPOCH + Duration::from_secs(951782400); // 2000-02-29
        assert_eq!(http_date(leap), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(parse_http_date(http_date(leap).as_bytes()), Some(leap));
        assert_eq!(parse_http_date(b"Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(parse_http_date(b"Sun, 06 Nov 1994 08:49:37 UTC"), None);
    }

    #[test]
    fn status_table_fixes_the_original() {
        assert_eq!(reason(401), "Unauthorized");
        assert_eq!(reason(403), "Forbidden");
        assert_eq!(reason(416), "Range Not Satisfiable");
        assert_eq!(reason(799), "");
    }

    #[test]
    fn status_lines_and_lengths_are_written_as_format_wrote_them() {
        for (status, length) in [(200, 0), (404, 7), (99, 10), (7, 12_345), (1000, u64::MAX)] {
            let mut out = BytesMut::new();
            let h = ResponseHead::new(status).length(length);
            encode_head(&mut out, &h, Version::Http11, false, true, None);
            let want = format!(
                "HTTP/1.1 {status:03} {}\r\nContent-Length: {length}\r\n\r\n",
                reason(status)
            );
            assert_eq!(String::from_utf8_lossy(&out), want, "status {status}");
        }
    }

    #[test]
    fn chunk_sizes_are_written_as_format_wrote_them() {
        for n in [1usize, 9, 10, 15, 16, 255, 4096, 65_535, 1 << 20] {
            let data = vec![b'x'; n];
            let mut out = BytesMut::new();
            encode_body(&mut out, &mut BodyMode::Chunked, &data);
            let want = format!("{n:x}\r\n");
            assert_eq!(&out[..want.len()], want.as_bytes(), "{n}");
            assert_eq!(out.len(), want.len() + n + 2);
        }
    }

    #[test]
    fn the_cached_date_line_is_the_date_of_now() {
        for _ in 0..2 {
            let before = SystemTime::now();
            let mut out = BytesMut::new();
            put_date(&mut out);
            let after = SystemTime::now();
            let line = std::str::from_utf8(&out).unwrap();
            let value = line
                .strip_prefix("Date: ")
                .unwrap()
                .strip_suffix("\r\n")
                .unwrap();
            let t = parse_http_date(value.as_bytes()).unwrap();
            let floor = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_secs();
            assert!((floor(before)..=floor(after)).contains(&floor(t)), "{line}");
        }
    }

    #[test]
    fn heads_and_framing() {
        let mut out = BytesMut::new();
        let h = ResponseHead::new(200)
            .header("X-A", "1")
            .header("Content-Length", "99")
            .header("Bad", "a\r\nInjected: 1");
        let (mut mode, keep) = encode_head(&mut out, &h, Version::Http11, false, true, None);
        assert_eq!((mode, keep), (BodyMode::Chunked, true));
        encode_body(&mut out, &mut mode, b"hello");
        assert!(encode_end(&mut out, mode));
        assert_eq!(
            &out[..],
            b"HTTP/1.1 200 OK\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        );
        let mut out = BytesMut::new();
        let (mode, keep) = encode_head(&mut out, &h, Version::Http10, false, true, None);
        assert_eq!((mode, keep), (BodyMode::UntilClose, false));
        assert_eq!(
            &out[..],
            b"HTTP/1.1 200 OK\r\nX-A: 1\r\nConnection: close\r\n\r\n"
        );
        let mut out = BytesMut::new();
        let h = ResponseHead::new(200).length(3);
        let (mut mode, keep) = encode_head(&mut out, &h, Version::Http10, false, true, None);
        assert_eq!((mode, keep), (BodyMode::Length(3), true));
        assert_eq!(encode_body(&mut out, &mut mode, b"abcd"), 1);
        assert_eq!(
            &out[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabc"
        );
        let mut out = BytesMut::new();
        let (mode, _) = encode_head(&mut out, &h, Version::Http11, true, true, None);
        assert_eq!(mode, BodyMode::None);
        assert_eq!(&out[..], b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n");
    }
}
