//! SingleShotHttpsClient: one `https://` request fetched with `ureq` on a
//! threaded component, with the boxes of the plain client. TLS is
//! `ureq`'s (rustls with the ring provider), not re-implemented here.
//!
//! | box     | carries       | meaning                                                     |
//! |---------|---------------|-------------------------------------------------------------|
//! | control | `Signal`      | shutdown: the component ends at once (the thread stops at its next read, or when `ureq` returns); producer finished: ignored |
//! | outbox  | `ClientEvent` | the final `Head`, `Body` chunks as they are read, `End` (redirects are followed inside `ureq` and not reported) |
//! | signal  | `Signal`      | once, at the end: `ProducerFinished` after `End`, `Shutdown` when told to, else `Failed(ClientError)` |
//!
//! Failures are the plain client's [`ErrorKind`]s, plus
//! [`ErrorKind::Tls`] for a handshake or certificate that fails
//! verification. Certificates are always verified: against Mozilla's
//! roots (the `webpki-roots` crate) by default, or against the roots
//! given with [`SingleShotHttpsClient::trust_der`] only. There is no way
//! to turn verification off.
//!
//! Shutdown: on a shutdown it ends at once and signals `Shutdown`; the
//! thread, if blocked in `ureq`, finishes on its own (bounded by the
//! time-outs) and its output is dropped. Otherwise it ends after its
//! signal.
//!
//! Time-outs are `ureq`'s, on the real clock (the thread blocks in
//! `ureq`): connect, head (until the response head) and idle (each read).
//! Redirects to `http://` are refused (`BadUrl`): no downgrade.
//!
//! ```no_run
//! use kamaelia::axon::{link, Inbox, Scheduler};
//! use kamaelia::protocol::http::client::{ClientEvent, Request, SingleShotHttpsClient, Url};
//! let req = Request::get(Url::parse("https://example.org/").unwrap());
//! let client = SingleShotHttpsClient::new(req).build();
//! let got: Inbox<ClientEvent> = Inbox::inbox();
//! link(&client.outbox, &got).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(client);
//! s.run();
//! ```

use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

use crate::axon::{Signal, ThreadBoxes, Threaded};
use crate::protocol::http::{Framing, Head, Headers, Version};

use super::error::{ClientError, ErrorKind, Phase};
use super::request::{Request, USER_AGENT};
use super::single_shot::{ClientConfig, ClientEvent};
use super::url::{Scheme, UrlError};

/// Bytes asked for in each read of the body.
const READ_CHUNK: usize = 16 * 1024;

/// Builds the threaded component for one HTTPS request.
#[derive(Clone, Debug)]
pub struct SingleShotHttpsClient {
    request: Request,
    config: ClientConfig,
    roots: Vec<Vec<u8>>,
}

impl SingleShotHttpsClient {
    /// For `request` (its URL must be `https://`).
    pub fn new(request: Request) -> Self {
        SingleShotHttpsClient {
            request,
            config: ClientConfig::default(),
            roots: Vec::new(),
        }
    }

    /// Trusts this certificate (DER) as a root, instead of Mozilla's
    /// roots; may be called for several.
    pub fn trust_der(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.roots.push(der.into());
        self
    }

    /// Sets the time-outs and the redirect limit.
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    /// The component: a [`Threaded`] with the plain client's boxes.
    pub fn build(self) -> Threaded<(), ClientEvent> {
        Threaded::new("SingleShotHttpsClient", move |t| self.run(&t)).detach_on_shutdown(true)
    }

    fn agent(&self) -> ureq::Agent {
        let mut tls = TlsConfig::builder().provider(TlsProvider::Rustls);
        if !self.roots.is_empty() {
            let certs = self
                .roots
                .iter()
                .map(|d| Certificate::from_der(d).to_owned())
                .collect();
            tls = tls.root_certs(RootCerts::Specific(Arc::new(certs)));
        }
        let c = &self.config;
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .https_only(true)
            .max_redirects(u32::try_from(c.max_redirects).unwrap_or(u32::MAX))
            .max_redirects_will_error(true)
            .timeout_resolve(Some(c.connect_timeout))
            .timeout_connect(Some(c.connect_timeout))
            .timeout_recv_response(Some(c.head_timeout))
            .timeout_per_read(Some(c.idle_timeout))
            .user_agent(
                self.request
                    .header_value("user-agent")
                    .unwrap_or(USER_AGENT),
            )
            .tls_config(tls.build())
            .build()
            .new_agent()
    }

    fn error(&self, kind: ErrorKind, detail: String) -> Signal {
        Signal::failed(ClientError {
            kind,
            url: self.request.url.to_string(),
            detail,
        })
    }

    fn run(&self, t: &ThreadBoxes<(), ClientEvent>) {
        let url = &self.request.url;
        if url.scheme() != Scheme::Https {
            let e = UrlError::UnsupportedScheme(url.scheme().as_str().into());
            return t.signal(self.error(ErrorKind::BadUrl(e), String::new()));
        }
        if let Err(e) = self.request.validate() {
            return t.signal(self.error(ErrorKind::BadRequest(e), String::new()));
        }
        let mut b = ureq::http::Request::builder()
            .method(self.request.method.as_str())
            .uri(url.to_string());
        for (n, v) in &self.request.headers {
            if !n.eq_ignore_ascii_case("user-agent") {
                b = b.header(n.as_str(), v.as_str());
            }
        }
        let req = match b.body(self.request.body.to_vec()) {
            Ok(r) => r,
            Err(e) => {
                return t.signal(self.error(
                    ErrorKind::Io(std::io::ErrorKind::InvalidInput),
                    e.to_string(),
                ))
            }
        };
        let resp = match self.agent().run(req) {
            Ok(r) => r,
            Err(e) => return t.signal(self.failure(e)),
        };
        let status = resp.status().as_u16();
        if t.send(ClientEvent::Head(head_of(&resp))).is_err() {
            return;
        }
        let mut reader = resp.into_body().into_with_config().limit(u64::MAX).reader();
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            if let Some(sig) = t.control() {
                if sig.is_shutdown() {
                    return t.signal(Signal::Shutdown);
                }
            }
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if t.send(ClientEvent::Body(Bytes::copy_from_slice(&buf[..n])))
                        .is_err()
                    {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return t.signal(self.failure(ureq::Error::from(e))),
            }
        }
        if t.send(ClientEvent::End).is_err() {
            return;
        }
        t.signal(if status >= 400 {
            self.error(ErrorKind::Status(status), String::new())
        } else {
            Signal::ProducerFinished
        });
    }

    fn failure(&self, e: ureq::Error) -> Signal {
        use crate::internet::EndReason;
        use ureq::{Error as U, Timeout as T};
        let detail = e.to_string();
        let kind = match e {
            U::Timeout(T::Resolve | T::Connect) => ErrorKind::TimedOut(Phase::Connect),
            U::Timeout(T::RecvBody | T::PerRead) => ErrorKind::TimedOut(Phase::Idle),
            U::Timeout(_) => ErrorKind::TimedOut(Phase::Head),
            U::HostNotFound => ErrorKind::NotResolved,
            U::TooManyRedirects => ErrorKind::TooManyRedirects(self.config.max_redirects),
            U::BadUri(_) | U::RedirectFailed => {
                ErrorKind::BadUrl(UrlError::UnsupportedScheme("http".into()))
            }
            U::Tls(_) | U::Rustls(_) | U::Pem(_) => ErrorKind::Tls,
            U::Protocol(_) | U::Http(_) => {
                ErrorKind::BadResponse(crate::protocol::http::HttpError::BadStartLine)
            }
            U::ConnectionFailed => ErrorKind::Refused,
            // rustls reports a failed handshake or certificate as
            // invalid data.
            U::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => ErrorKind::Tls,
            U::Io(io) => match EndReason::from_io(&io) {
                EndReason::Refused => ErrorKind::Refused,
                EndReason::Reset => ErrorKind::Reset,
                EndReason::TimedOut => ErrorKind::TimedOut(Phase::Idle),
                EndReason::Unreachable => ErrorKind::Unreachable,
                EndReason::NotResolved => ErrorKind::NotResolved,
                _ => ErrorKind::Io(io.kind()),
            },
            _ => ErrorKind::Io(std::io::ErrorKind::Other),
        };
        self.error(kind, detail)
    }
}

/// Our head from `ureq`'s response.
fn head_of(resp: &ureq::http::Response<ureq::Body>) -> Head {
    let mut headers = Headers::new();
    for (n, v) in resp.headers() {
        headers.push(
            Bytes::copy_from_slice(n.as_str().as_bytes()),
            Bytes::copy_from_slice(v.as_bytes()),
        );
    }
    let length = headers
        .get("content-length")
        .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok());
    let framing = if headers.has_token("transfer-encoding", "chunked") {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    let status = resp.status();
    Head {
        version: if resp.version() == ureq::http::Version::HTTP_10 {
            Version::Http10
        } else {
            Version::Http11
        },
        method: Bytes::new(),
        target: Bytes::new(),
        status: status.as_u16(),
        reason: Bytes::from_static(status.canonical_reason().unwrap_or("").as_bytes()),
        headers,
        framing,
        keep_alive: false,
        icy: false,
    }
}
