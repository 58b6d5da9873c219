//! What a client's `signal` carries when a request fails.

use std::fmt;
use std::io;

use crate::internet::{EndReason, NetError};
use crate::protocol::http::HttpError;

use super::request::RequestError;
use super::url::UrlError;

/// Which wait ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Resolving and connecting.
    Connect,
    /// From the start of an attempt until the final response head.
    Head,
    /// Between two reads of the body.
    Idle,
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The URL (given, or from a redirect's `Location`) cannot be fetched
    /// by this client.
    BadUrl(UrlError),
    /// The request cannot be written.
    BadRequest(RequestError),
    /// The host name could not be resolved.
    NotResolved,
    /// The connection was refused.
    Refused,
    /// The connection was reset (or aborted) before the response was
    /// complete.
    Reset,
    /// No route to the host.
    Unreachable,
    /// Another I/O error.
    Io(io::ErrorKind),
    /// A time-out.
    TimedOut(Phase),
    /// The response is not HTTP we read, or was cut short
    /// ([`HttpError::Truncated`]: the connection closed before its end).
    BadResponse(HttpError),
    /// More redirects than allowed (the limit).
    TooManyRedirects(usize),
    /// The TLS handshake failed, or the server's certificate did not
    /// verify (HTTPS only).
    Tls,
    /// The final response has this status, 400 or above (or 101, which
    /// was not asked for). Its head and body were passed on.
    Status(u16),
}

/// A failed request, carried by `Signal::Failed` on a client's `signal`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// The URL being fetched when it did (after any redirects).
    pub url: String,
    /// More words, if any (the operating system's, for I/O errors).
    pub detail: String,
}

impl ClientError {
    /// An error of `kind` fetching `url`.
    pub fn new(kind: ErrorKind, url: impl Into<String>) -> Self {
        ClientError {
            kind,
            url: url.into(),
            detail: String::new(),
        }
    }

    /// From a connection's end.
    pub(crate) fn from_net(e: &NetError, url: impl Into<String>) -> Self {
        let kind = match e.reason {
            EndReason::Refused => ErrorKind::Refused,
            EndReason::Reset => ErrorKind::Reset,
            // The connection runs without its own idle time-out: a
            // time-out there is the connect one.
            EndReason::TimedOut => ErrorKind::TimedOut(Phase::Connect),
            EndReason::Unreachable => ErrorKind::Unreachable,
            EndReason::NotResolved => ErrorKind::NotResolved,
            EndReason::Other(k) => ErrorKind::Io(k),
            // A clean close or a shutdown never arrives as a failure.
            EndReason::Closed | EndReason::Shutdown => ErrorKind::BadResponse(HttpError::Truncated),
        };
        ClientError {
            kind,
            url: url.into(),
            detail: e.detail.clone(),
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fetching {}: ", self.url)?;
        match &self.kind {
            ErrorKind::BadUrl(e) => write!(f, "bad URL: {e}")?,
            ErrorKind::BadRequest(e) => write!(f, "bad request: {e}")?,
            ErrorKind::NotResolved => f.write_str("host not resolved")?,
            ErrorKind::Refused => f.write_str("connection refused")?,
            ErrorKind::Reset => f.write_str("connection reset")?,
            ErrorKind::Unreachable => f.write_str("host unreachable")?,
            ErrorKind::Io(k) => write!(f, "I/O error {k:?}")?,
            ErrorKind::TimedOut(p) => write!(f, "{p:?} time-out")?,
            ErrorKind::BadResponse(e) => write!(f, "bad response: {e}")?,
            ErrorKind::TooManyRedirects(n) => write!(f, "more than {n} redirects")?,
            ErrorKind::Tls => f.write_str("TLS handshake or certificate failed")?,
            ErrorKind::Status(s) => write!(f, "status {s}")?,
        }
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        Ok(())
    }
}

impl std::error::Error for ClientError {}
