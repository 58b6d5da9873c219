//! A request value, and the writer that turns it into the bytes of an
//! HTTP/1.1 request.
//!
//! The writer adds `Host` (from the URL, unless the request sets one),
//! `User-Agent` (unless set), `Content-Length` (when there is a body, or
//! the method is POST, PUT or PATCH) and `Connection` (`keep-alive` or
//! `close`). The request frames its own body: a `Content-Length` or
//! `Transfer-Encoding` among the extra headers is refused, as are a method
//! that is not a token and a header name or value that would break the
//! head (a CR, LF or other control byte): each a [`RequestError`].
//!
//! ```
//! use kamaelia::protocol::http::client::{Request, Url};
//! let req = Request::post(Url::parse("http://127.0.0.1:8080/up").unwrap(), "abc")
//!     .header("X-Trace", "1");
//! let bytes = req.to_bytes(false).unwrap();
//! assert_eq!(
//!     &bytes[..],
//!     b"POST /up HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-Trace: 1\r\n\
//!       User-Agent: kamaelia-rs/0.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
//! );
//! ```

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use super::url::{Url, UrlError};

/// The `User-Agent` sent when a request sets none.
pub const USER_AGENT: &str = "kamaelia-rs/0.1";

/// One request: method, URL, extra header fields, body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The method, as sent (methods are case-sensitive).
    pub method: String,
    /// What to fetch.
    pub url: Url,
    /// Extra header fields, in order.
    pub headers: Vec<(String, String)>,
    /// The body (empty: none).
    pub body: Bytes,
}

impl Request {
    /// A request with `method` for `url`, no extra fields, no body.
    pub fn new(method: &str, url: Url) -> Self {
        Request {
            method: method.to_string(),
            url,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// A GET.
    pub fn get(url: Url) -> Self {
        Request::new("GET", url)
    }

    /// A POST of `body`.
    pub fn post(url: Url, body: impl Into<Bytes>) -> Self {
        Request::new("POST", url).with_body(body)
    }

    /// Adds a header field.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// The value of the first extra field named `name` (any case).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Checks what [`Request::to_bytes`] would refuse.
    pub fn validate(&self) -> Result<(), RequestError> {
        if self.method.is_empty() || !self.method.bytes().all(is_tchar) {
            return Err(RequestError::BadMethod(self.method.clone()));
        }
        for (n, v) in &self.headers {
            if n.is_empty() || !n.bytes().all(is_tchar) {
                return Err(RequestError::BadHeaderName(n.clone()));
            }
            if !v
                .bytes()
                .all(|b| b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80)
            {
                return Err(RequestError::BadHeaderValue(n.clone()));
            }
            if n.eq_ignore_ascii_case("content-length")
                || n.eq_ignore_ascii_case("transfer-encoding")
                || n.eq_ignore_ascii_case("connection")
            {
                return Err(RequestError::FramingHeader(n.clone()));
            }
        }
        Ok(())
    }

    /// The request's bytes: head and body. `keep_alive` chooses
    /// `Connection: keep-alive` or `Connection: close`.
    pub fn to_bytes(&self, keep_alive: bool) -> Result<Bytes, RequestError> {
        self.validate()?;
        let mut b = BytesMut::with_capacity(256 + self.body.len());
        let line = |b: &mut BytesMut, n: &str, v: &str| {
            b.put_slice(n.as_bytes());
            b.put_slice(b": ");
            b.put_slice(v.trim_matches([' ', '\t']).as_bytes());
            b.put_slice(b"\r\n");
        };
        b.put_slice(self.method.as_bytes());
        b.put_u8(b' ');
        b.put_slice(self.url.target().as_bytes());
        b.put_slice(b" HTTP/1.1\r\n");
        if self.header_value("host").is_none() {
            line(&mut b, "Host", &self.url.host_header());
        }
        for (n, v) in &self.headers {
            line(&mut b, n, v);
        }
        if self.header_value("user-agent").is_none() {
            line(&mut b, "User-Agent", USER_AGENT);
        }
        if !self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PUT" | "PATCH") {
            line(&mut b, "Content-Length", &self.body.len().to_string());
        }
        line(
            &mut b,
            "Connection",
            if keep_alive { "keep-alive" } else { "close" },
        );
        b.put_slice(b"\r\n");
        b.put_slice(&self.body);
        Ok(b.freeze())
    }
}

impl TryFrom<&str> for Request {
    type Error = UrlError;
    /// A GET of the URL.
    fn try_from(url: &str) -> Result<Request, UrlError> {
        Ok(Request::get(Url::parse(url)?))
    }
}

/// Why a request cannot be written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RequestError {
    /// The method is empty or not a token.
    BadMethod(String),
    /// A header name that is empty or not a token.
    BadHeaderName(String),
    /// The value of this header holds a CR, LF or other control byte.
    BadHeaderValue(String),
    /// Content-Length, Transfer-Encoding or Connection among the extra
    /// headers: the client frames the body and manages the connection.
    FramingHeader(String),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::BadMethod(m) => write!(f, "method {m:?} is not a token"),
            RequestError::BadHeaderName(n) => write!(f, "header name {n:?} is not a token"),
            RequestError::BadHeaderValue(n) => {
                write!(f, "value of header {n:?} has a control byte")
            }
            RequestError::FramingHeader(n) => {
                write!(f, "header {n:?} is set by the client, not the request")
            }
        }
    }
}

impl std::error::Error for RequestError {}

/// A token character (RFC 9110 §5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
