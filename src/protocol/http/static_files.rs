//! Static files: a handler factory ([`StaticFiles`]) serving a folder, and
//! the resource component ([`FileResource`]) that streams one file.
//!
//! The path after the route's prefix is percent-decoded and split into
//! segments; a `..` segment (however encoded), a NUL or a backslash is
//! refused (400), the file found is canonicalised and must lie inside the
//! canonical root (a symlink leading out is 403), so nothing outside the
//! served root is ever opened. A folder is served by its `index.html`.
//!
//! Responses carry `ETag` (from size and modification time),
//! `Last-Modified`, `Accept-Ranges: bytes` and a `Content-Type` from the
//! extension. `If-None-Match` and `If-Modified-Since` give 304; one
//! `Range` (`a-b`, `a-`, `-n`) gives 206 with `Content-Range`, a range
//! past the end 416 (`Content-Range: bytes */size`); several ranges, or a
//! stale `If-Range`, give the whole file. Methods other than GET and HEAD
//! are 405. The file is read 64 KiB at a time as the connection takes it.
//!
//! | box     | carries  | meaning                                              |
//! |---------|----------|------------------------------------------------------|
//! | inbox   | `Bytes`  | the request body: read and dropped                   |
//! | control | `Signal` | shutdown: stop now (the connection went)             |
//! | outbox  | `Part`   | the response: head, the file in pieces, end          |
//! | signal  | `Signal` | `ProducerFinished` once the response is out (`Shutdown` when told) |
//!
//! ```no_run
//! use kamaelia::protocol::http::{HttpServer, Router, ServerConfig, StaticFiles};
//! let files = StaticFiles::new("./public").unwrap();
//! let router = Router::new().route_methods("/", &["GET", "HEAD"], files.factory());
//! let server = HttpServer::bind("127.0.0.1:8080".parse().unwrap(), router, ServerConfig::default());
//! ```

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};

use crate::axon::{BoxSet, Component, Cx, Full, Inbox, Outbox, Signal, Step};

use super::response::{http_date, parse_http_date, reason};
use super::{Part, Request, ResponseHead};

/// Bytes read from a file at a time.
pub const FILE_READ: usize = 64 << 10;

/// Serves the files under a folder; see the module documentation.
#[derive(Clone, Debug)]
pub struct StaticFiles {
    root: PathBuf,
}

impl StaticFiles {
    /// Serves `root` (which must exist: it is canonicalised now).
    pub fn new(root: impl AsRef<Path>) -> io::Result<Self> {
        Ok(StaticFiles {
            root: root.as_ref().canonicalize()?,
        })
    }

    /// The canonical root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A handler factory for a [`Router`](super::Router): the request's
    /// path after the route prefix names the file.
    pub fn factory(self) -> impl Fn(&Request) -> Box<dyn Component> + 'static {
        let me = Rc::new(self);
        move |req| Box::new(FileResource::new(&me, req)) as Box<dyn Component>
    }

    /// The file a (percent-encoded) path below the root names, or the
    /// status to answer: 400 for a path that tries to leave the root or
    /// cannot be decoded, 403 for a symlink leading out, 404 for nothing.
    pub fn resolve(&self, path: &str) -> Result<PathBuf, u16> {
        let decoded = percent_decode(path.as_bytes()).ok_or(400u16)?;
        if decoded.contains(&0) || decoded.contains(&b'\\') {
            return Err(400);
        }
        let decoded = String::from_utf8(decoded).map_err(|_| 400u16)?;
        let mut p = self.root.clone();
        for seg in decoded.split('/') {
            match seg {
                "" | "." => {}
                ".." => return Err(400),
                s => p.push(s),
            }
        }
        let mut real = p.canonicalize().map_err(|_| 404u16)?;
        if !real.starts_with(&self.root) {
            return Err(403);
        }
        if real.is_dir() {
            real = real.join("index.html").canonicalize().map_err(|_| 404u16)?;
            if !real.starts_with(&self.root) {
                return Err(403);
            }
        }
        if !real.is_file() {
            return Err(404);
        }
        Ok(real)
    }
}

/// `%XX` decoded; `None` for a `%` not followed by two hex digits.
pub fn percent_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            let hex = |b: u8| (b as char).to_digit(16);
            let h = hex(*s.get(i + 1)?)?;
            let l = hex(*s.get(i + 2)?)?;
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    Some(out)
}

/// A `Content-Type` for a file name's extension.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("xml") => "application/xml",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("ico") => "image/x-icon",
        Some("wasm") => "application/wasm",
        Some("pdf") => "application/pdf",
        Some("mp3") => "audio/mpeg",
        Some("ogg") => "audio/ogg",
        Some("mp4") => "video/mp4",
        _ => "application/octet-stream",
    }
}

/// What a `Range` field asks of a file of `size` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeAsk {
    /// No usable range: the whole file.
    Whole,
    /// Bytes `start..=end`.
    Part(u64, u64),
    /// Nothing of the file: 416.
    Unsatisfiable,
}

/// Reads one `bytes=` range (RFC 9110 §14.1.2). Several ranges, other
/// units and malformed values are [`RangeAsk::Whole`].
pub fn parse_range(value: &[u8], size: u64) -> RangeAsk {
    let Some(spec) = value.strip_prefix(b"bytes=") else {
        return RangeAsk::Whole;
    };
    let spec = super::head::trim_ows(spec);
    if spec.contains(&b',') {
        return RangeAsk::Whole;
    }
    let Some(dash) = spec.iter().position(|&b| b == b'-') else {
        return RangeAsk::Whole;
    };
    let num = |s: &[u8]| -> Option<u64> {
        if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
            return None;
        }
        s.iter().try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
    };
    let (a, b) = (&spec[..dash], &spec[dash + 1..]);
    if a.is_empty() {
        // The last n bytes.
        return match num(b) {
            None => RangeAsk::Whole,
            Some(0) => RangeAsk::Unsatisfiable,
            Some(_) if size == 0 => RangeAsk::Unsatisfiable,
            Some(n) => RangeAsk::Part(size.saturating_sub(n), size - 1),
        };
    }
    let Some(start) = num(a) else {
        return RangeAsk::Whole;
    };
    let end = if b.is_empty() {
        u64::MAX
    } else {
        match num(b) {
            Some(e) if e >= start => e,
            _ => return RangeAsk::Whole,
        }
    };
    if start >= size {
        return RangeAsk::Unsatisfiable;
    }
    RangeAsk::Part(start, end.min(size - 1))
}

/// Streams one file, or answers why not; see the module documentation.
pub struct FileResource {
    /// Request body (dropped).
    pub inbox: Inbox<Bytes>,
    /// Shutdown.
    pub control: Inbox<Signal>,
    /// The response.
    pub outbox: Outbox<Part>,
    /// Sent once, at the end.
    pub signal: Outbox<Signal>,
    parts: VecDeque<Part>,
    file: Option<(File, u64)>,
}

impl FileResource {
    /// The response to `req` from `files`, decided now (the file opened,
    /// the head made); the body is read as it is sent.
    pub fn new(files: &StaticFiles, req: &Request) -> Self {
        let mut me = FileResource {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "response parts"),
            signal: Outbox::signal(),
            parts: VecDeque::new(),
            file: None,
        };
        match me.prepare(files, req) {
            Ok(()) => {}
            Err(head) => {
                let status = head.status;
                let body = Bytes::from(format!("{} {}\n", status, reason(status)));
                me.parts.clear();
                me.parts.push_back(Part::Head(
                    head.header("Content-Type", "text/plain; charset=utf-8")
                        .length(body.len() as u64),
                ));
                me.parts.push_back(Part::Body(body));
                me.parts.push_back(Part::End);
            }
        }
        me
    }

    fn prepare(&mut self, files: &StaticFiles, req: &Request) -> Result<(), ResponseHead> {
        let method = &req.method[..];
        if method != b"GET" && method != b"HEAD" {
            return Err(ResponseHead::new(405).header("Allow", "GET, HEAD"));
        }
        let path = files.resolve(req.rest()).map_err(ResponseHead::new)?;
        let mut file = File::open(&path).map_err(|_| ResponseHead::new(404))?;
        let meta = file.metadata().map_err(|_| ResponseHead::new(404))?;
        let size = meta.len();
        let mtime = meta.modified().unwrap_or(UNIX_EPOCH);
        let nanos = mtime
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let etag = format!("\"{size:x}-{nanos:x}\"");
        let secs = UNIX_EPOCH
            + Duration::from_secs(
                mtime
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
            );
        let h = &req.headers;
        let with_validators = |head: ResponseHead| {
            head.header("ETag", etag.clone())
                .header("Last-Modified", http_date(secs))
        };
        // RFC 9110 §13.2.2: If-None-Match first; If-Modified-Since only
        // without it.
        let not_modified = if let Some(inm) = h.get("if-none-match") {
            etag_listed(inm, &etag)
        } else if let Some(ims) = h.get("if-modified-since") {
            parse_http_date(ims).is_some_and(|t| secs <= t)
        } else {
            false
        };
        if not_modified {
            self.parts
                .push_back(Part::Head(with_validators(ResponseHead::new(304))));
            self.parts.push_back(Part::End);
            return Ok(());
        }
        let mut range = match h.get("range") {
            Some(r) if method == b"GET" => parse_range(r, size),
            _ => RangeAsk::Whole,
        };
        if let Some(ir) = h.get("if-range") {
            let fresh = if ir.starts_with(b"\"") {
                ir[..] == *etag.as_bytes()
            } else {
                parse_http_date(ir).is_some_and(|t| t == secs)
            };
            if !fresh {
                range = RangeAsk::Whole;
            }
        }
        let base = |status| {
            with_validators(ResponseHead::new(status))
                .header("Accept-Ranges", "bytes")
                .header("Content-Type", content_type(&path))
        };
        let (head, start, len) = match range {
            RangeAsk::Whole => (base(200).length(size), 0, size),
            RangeAsk::Part(a, b) => (
                base(206)
                    .header("Content-Range", format!("bytes {a}-{b}/{size}"))
                    .length(b - a + 1),
                a,
                b - a + 1,
            ),
            RangeAsk::Unsatisfiable => {
                return Err(ResponseHead::new(416)
                    .header("Content-Range", format!("bytes */{size}"))
                    .header("Accept-Ranges", "bytes"));
            }
        };
        self.parts.push_back(Part::Head(head));
        if method == b"GET" && len > 0 {
            file.seek(SeekFrom::Start(start))
                .map_err(|_| ResponseHead::new(500))?;
            self.file = Some((file, len));
        } else {
            self.parts.push_back(Part::End);
        }
        Ok(())
    }
}

fn etag_listed(list: &[u8], etag: &str) -> bool {
    let weak = |t: &[u8]| t.strip_prefix(b"W/").unwrap_or(t).to_vec();
    super::head::list_elements(list).any(|t| t == b"*" || weak(t) == etag.as_bytes())
}

impl Component for FileResource {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while self.inbox.recv().is_some() {}
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                let _ = self.signal.send(Signal::Shutdown);
                return Step::Done;
            }
        }
        // A few reads per step, then others get a turn.
        for _ in 0..4 {
            while let Some(p) = self.parts.pop_front() {
                if let Err(Full(p)) = self.outbox.send(p) {
                    self.parts.push_front(p);
                    cx.hold_input();
                    return Step::Pause;
                }
            }
            let Some((file, left)) = self.file.as_mut() else {
                let _ = self.signal.send(Signal::ProducerFinished);
                return Step::Done;
            };
            let n = (*left).min(FILE_READ as u64) as usize;
            let mut buf = BytesMut::zeroed(n);
            match file.read(&mut buf) {
                Ok(got) if got > 0 => {
                    buf.truncate(got);
                    *left -= got as u64;
                    self.parts.push_back(Part::Body(buf.freeze()));
                    if *left == 0 {
                        self.file = None;
                        self.parts.push_back(Part::End);
                    }
                }
                Ok(_) | Err(_) => {
                    // The file shrank or failed under us: end short (the
                    // connection then closes, its framing broken).
                    log::warn!("http: a served file ended early");
                    self.file = None;
                    self.parts.push_back(Part::End);
                }
            }
        }
        Step::Yield
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeAsk::*;
        assert_eq!(parse_range(b"bytes=0-4", 10), Part(0, 4));
        assert_eq!(parse_range(b"bytes=5-", 10), Part(5, 9));
        assert_eq!(parse_range(b"bytes=5-100", 10), Part(5, 9));
        assert_eq!(parse_range(b"bytes=-3", 10), Part(7, 9));
        assert_eq!(parse_range(b"bytes=-30", 10), Part(0, 9));
        assert_eq!(parse_range(b"bytes=10-", 10), Unsatisfiable);
        assert_eq!(parse_range(b"bytes=-0", 10), Unsatisfiable);
        assert_eq!(parse_range(b"bytes=0-0", 0), Unsatisfiable);
        assert_eq!(parse_range(b"bytes=5-4", 10), Whole);
        assert_eq!(parse_range(b"bytes=0-1,3-4", 10), Whole);
        assert_eq!(parse_range(b"items=0-1", 10), Whole);
        assert_eq!(parse_range(b"bytes=x-1", 10), Whole);
        assert_eq!(parse_range(b"bytes=99999999999999999999-", 10), Whole);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode(b"a%2Fb%2e").as_deref(), Some(&b"a/b."[..]));
        assert_eq!(percent_decode(b"%2"), None);
        assert_eq!(percent_decode(b"%zz"), None);
    }
}
