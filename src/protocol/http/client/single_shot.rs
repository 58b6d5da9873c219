//! SingleShotHttpClient: one HTTP request (any method, body, extra
//! headers); the response head, then its body in chunks, then its end.
//!
//! | box     | carries       | meaning                                                     |
//! |---------|---------------|-------------------------------------------------------------|
//! | control | `Signal`      | shutdown: stop now (the connection is closed, nothing more is passed on); producer finished: ignored, the one request is finished anyway |
//! | outbox  | `ClientEvent` | `Redirect` for each redirect followed, then the final `Head`, `Body` chunks (as they arrive), `Trailers` if any, `End` |
//! | signal  | `Signal`      | once, at the end: `ProducerFinished` after `End`; `Shutdown` when told to; else `Failed(ClientError)` with the reason |
//!
//! The reasons ([`ErrorKind`]): a URL it cannot fetch, a request it
//! cannot write, refused, reset, unreachable, not resolved, a time-out
//! (connect, head or idle), a bad or truncated response, too many
//! redirects, or a final status of 400 or more (whose head and body are
//! passed on first: the original passed a 404's body on without its head).
//!
//! Redirects (301, 302, 303, 307, 308 with a `Location`) are followed up
//! to a limit (default [`MAX_REDIRECTS`]) with the method rules of RFC 9110
//! §15.4: after a 303, a GET (a HEAD stays a HEAD) without a body; after
//! a 301 or 302, a POST becomes a GET without the body; otherwise the
//! method and body are kept. `Authorization`, `Cookie` and
//! `Proxy-Authorization` are dropped on a redirect to another origin. The
//! body of a redirect is not read: the connection is closed and a new one
//! made.
//!
//! Time-outs run on the scheduler's clock (virtual in the test harness):
//! connect (default 30 s, the connection's own), head (from the start of
//! each attempt, connecting included, until the final response head;
//! default 60 s; one that runs out while still connecting is reported as
//! a connect time-out) and idle (no byte of the body for so long; default
//! 30 s).
//!
//! The connection is a [`TcpClient`] child made with a [`Connector`] (the
//! network layer's factory; tests pass scripted ones that fail at any
//! step). The request says `Connection: close`. Back-pressure: when
//! `outbox` is refused, it stops parsing, its inbox from the connection
//! fills (at most 4 chunks), and the connection stops reading.
//!
//! An `https://` URL (given, or from a redirect) is handed to a
//! [`SingleShotHttpsClient`](super::SingleShotHttpsClient) child (`ureq`
//! on its own thread, its time-outs on the real clock) with the redirects
//! left, and what it sends is passed on; certificates are verified
//! against Mozilla's roots or those given with
//! [`SingleShotHttpClient::trust_der`].
//!
//! Shutdown: it always waits for its connection to end before it signals,
//! so nothing is left running.
//!
//! ```no_run
//! use kamaelia::axon::{link, Inbox, Scheduler};
//! use kamaelia::protocol::http::client::{ClientEvent, Request, SingleShotHttpClient, Url};
//! let req = Request::get(Url::parse("http://127.0.0.1:8080/").unwrap());
//! let client = SingleShotHttpClient::new(req);
//! let got: Inbox<ClientEvent> = Inbox::inbox();
//! link(&client.outbox, &got).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(client);
//! s.run();
//! ```

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use crate::axon::{AdaptiveBoxes, Alarm, BoxSet, Component, Cx, Full, Inbox, Outbox, Signal, Step};
use crate::internet::{tcp_connector, Connector};
use crate::protocol::http::{Head, Headers};

use super::error::{ClientError, ErrorKind};
use super::exchange::{Conn, Fetch, Outcome, SharedConnector, TlsChild};
use super::request::Request;
use super::url::{Scheme, Url, UrlError};

/// Redirects followed by default.
pub const MAX_REDIRECTS: usize = 5;
/// Default connect and idle time-outs.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default head time-out: it counts from the start of an attempt,
/// connecting included, so it is longer than the connect one.
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(60);

/// What a client passes on about a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// A redirect is being followed: its status, and the URL fetched next.
    Redirect {
        /// 301, 302, 303, 307 or 308.
        status: u16,
        /// Where to.
        to: Url,
    },
    /// The head of the final response (interim 1xx responses are not
    /// passed on).
    Head(Head),
    /// Body bytes, as they arrive (chunked framing removed).
    Body(Bytes),
    /// The trailer fields of a chunked body, when there are some.
    Trailers(Headers),
    /// The response is complete.
    End,
}

/// Time-outs and the redirect limit of a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// Redirects followed before [`ErrorKind::TooManyRedirects`].
    pub max_redirects: usize,
    /// Resolving and connecting.
    pub connect_timeout: Duration,
    /// From the start of an attempt until the final response head.
    pub head_timeout: Duration,
    /// Between two reads of a body.
    pub idle_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            max_redirects: MAX_REDIRECTS,
            connect_timeout: DEFAULT_TIMEOUT,
            head_timeout: DEFAULT_HEAD_TIMEOUT,
            idle_timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// The request that follows a redirect (RFC 9110 §15.4).
pub fn redirected(req: &Request, status: u16, to: Url) -> Request {
    let mut next = req.clone();
    let drop_body = match status {
        303 => true,
        301 | 302 => req.method == "POST",
        _ => false,
    };
    if drop_body {
        // A retrieval: GET, or HEAD after a HEAD.
        if req.method != "HEAD" {
            next.method = "GET".into();
        }
        next.body = Bytes::new();
        next.headers.retain(|(n, _)| {
            ![
                "content-type",
                "content-encoding",
                "content-language",
                "content-location",
            ]
            .iter()
            .any(|h| n.eq_ignore_ascii_case(h))
        });
    }
    if !req.url.same_origin(&to) {
        next.headers.retain(|(n, _)| {
            !["authorization", "cookie", "proxy-authorization"]
                .iter()
                .any(|h| n.eq_ignore_ascii_case(h))
        });
    }
    next.url = to;
    next
}

/// The URL a redirect response points to, if it is one to follow.
pub(crate) fn redirect_target(head: &Head, from: &Url) -> Option<Result<Url, UrlError>> {
    if !matches!(head.status, 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let loc = head.headers.get("location")?;
    Some(match std::str::from_utf8(loc) {
        Ok(s) => from.join(s),
        Err(_) => Err(UrlError::BadChar),
    })
}

enum State {
    /// Not started.
    Start,
    /// A connection is carrying the request.
    Running,
    /// A redirect: waiting for the old connection to end.
    Switching,
    /// Finished: waiting for the connection to end, then signals.
    Ending(Signal),
    Done,
}

/// One request; see the module documentation.
pub struct SingleShotHttpClient {
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Redirects, the final head, body chunks, end.
    pub outbox: Outbox<ClientEvent>,
    /// Sent once, at the end.
    pub signal: Outbox<Signal>,
    /// The boxes linked to the connection, made with it.
    extra: AdaptiveBoxes,
    request: Option<Request>,
    fetch: Option<Fetch>,
    config: ClientConfig,
    connector: SharedConnector,
    state: State,
    conn: Option<Conn>,
    /// The HTTPS client child, for an `https://` URL.
    tls: Option<TlsChild>,
    /// Roots the HTTPS client trusts (none: Mozilla's).
    roots: Vec<Vec<u8>>,
    /// The connection child has ended.
    conn_gone: bool,
    alarm: Alarm,
}

impl SingleShotHttpClient {
    /// A client for `request`, connecting over TCP.
    pub fn new(request: Request) -> Self {
        SingleShotHttpClient {
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "redirects, head, body chunks, end"),
            signal: Outbox::signal(),
            extra: AdaptiveBoxes::new(),
            request: Some(request),
            fetch: None,
            config: ClientConfig::default(),
            connector: Rc::new(RefCell::new(tcp_connector())),
            state: State::Start,
            conn: None,
            tls: None,
            roots: Vec::new(),
            conn_gone: true,
            alarm: Alarm::default(),
        }
    }

    /// A GET of `url`; a URL that does not parse is the client's failure
    /// when it runs (a typed `BadUrl`), not a panic here.
    pub fn get(url: &str) -> Self {
        match Url::parse(url) {
            Ok(u) => Self::new(Request::get(u)),
            Err(e) => {
                let mut c = Self::new(Request::get(
                    Url::parse("http://invalid./").expect("literal URL"),
                ));
                c.state =
                    State::Ending(Signal::failed(ClientError::new(ErrorKind::BadUrl(e), url)));
                c
            }
        }
    }

    /// Makes its connections with `connector` (tests pass scripted ones).
    pub fn with_connector(mut self, connector: Connector) -> Self {
        self.connector = Rc::new(RefCell::new(connector));
        self
    }

    /// Sets the time-outs and the redirect limit.
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    /// For `https://` URLs: trusts this certificate (DER) as a root,
    /// instead of Mozilla's roots; may be called for several.
    pub fn trust_der(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.roots.push(der.into());
        self
    }

    /// Sets the redirect limit.
    pub fn max_redirects(mut self, n: usize) -> Self {
        self.config.max_redirects = n;
        self
    }

    /// Sets the connect time-out.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.config.connect_timeout = d;
        self
    }

    /// Sets the head time-out.
    pub fn head_timeout(mut self, d: Duration) -> Self {
        self.config.head_timeout = d;
        self
    }

    /// Sets the idle time-out.
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.config.idle_timeout = d;
        self
    }

    /// Starts a connection carrying the request.
    fn start_attempt(&mut self, cx: &mut Cx) {
        let fetch = self.fetch.as_mut().expect("started");
        if fetch.request.url.scheme() == Scheme::Https {
            let config = fetch.tls_config();
            let tls = TlsChild::open(cx, &self.extra, fetch.request.clone(), config, &self.roots);
            self.tls = Some(tls);
            self.conn_gone = false;
            self.state = State::Running;
            return;
        }
        let bytes = match fetch.request_bytes(false) {
            Ok(b) => b,
            Err(e) => return self.finish(cx, Signal::failed(e)),
        };
        let conn = Conn::open(
            cx,
            &self.extra,
            &fetch.request.url,
            &self.connector,
            &self.config,
        );
        fetch.begin(&conn, bytes, cx.now());
        self.conn = Some(conn);
        self.conn_gone = false;
        self.state = State::Running;
    }

    fn finish(&mut self, cx: &mut Cx, sig: Signal) {
        if let Some(c) = self.conn.as_mut() {
            c.close(cx);
        }
        if let Some(t) = self.tls.as_mut() {
            t.close(cx);
        }
        self.alarm.clear(cx);
        self.state = State::Ending(sig);
    }

    /// Sends the events waiting; true when none is left.
    fn flush(&mut self) -> bool {
        let Some(fetch) = self.fetch.as_mut() else {
            return true;
        };
        while let Some(ev) = fetch.events.pop_front() {
            if let Err(Full(ev)) = self.outbox.send(ev) {
                fetch.events.push_front(ev);
                return false;
            }
        }
        true
    }

    /// Passes on what the HTTPS client child sends, then its end.
    fn step_tls(&mut self, cx: &mut Cx) -> Step {
        loop {
            if !self.flush() {
                return Step::Pause;
            }
            let (Some(fetch), Some(tls)) = (self.fetch.as_mut(), self.tls.as_mut()) else {
                unreachable!("running over TLS")
            };
            match tls.next() {
                Some(Ok(ev)) => fetch.events.push_back(ev),
                Some(Err(sig)) => {
                    let sig = TlsChild::renumber(sig, self.config.max_redirects);
                    self.finish(cx, sig);
                    return Step::Yield;
                }
                None => return Step::Pause,
            }
        }
    }

    fn step_running(&mut self, cx: &mut Cx) -> Step {
        if self.tls.is_some() {
            return self.step_tls(cx);
        }
        loop {
            if !self.flush() {
                // Woken when the consumer takes one; input waits meanwhile.
                return Step::Pause;
            }
            let (Some(fetch), Some(conn)) = (self.fetch.as_mut(), self.conn.as_mut()) else {
                unreachable!("running")
            };
            match fetch.pump(conn, cx) {
                Outcome::Events => continue,
                Outcome::Wait(at) => {
                    self.alarm.set(cx, at);
                    return Step::Pause;
                }
                Outcome::Redirect => {
                    conn.close(cx);
                    self.state = State::Switching;
                    return Step::Yield;
                }
                Outcome::Complete { status, .. } => {
                    let sig = if status >= 400 {
                        Signal::failed(fetch.error(ErrorKind::Status(status)))
                    } else {
                        Signal::ProducerFinished
                    };
                    self.finish(cx, sig);
                    return Step::Yield;
                }
                Outcome::Failed(e) => {
                    self.finish(cx, Signal::failed(e));
                    return Step::Yield;
                }
            }
        }
    }

    /// True once the connection has ended.
    fn conn_ended(&mut self, cx: &mut Cx) -> bool {
        while let Some(exit) = cx.next_exit() {
            if self.conn.as_ref().is_some_and(|c| c.id == exit.id)
                || self.tls.as_ref().is_some_and(|t| t.id == exit.id)
            {
                self.conn_gone = true;
            }
        }
        self.conn_gone
    }

    /// Removes the boxes of an ended connection.
    fn dispose_conn(&mut self) {
        if let Some(c) = self.conn.take() {
            c.dispose(&self.extra);
        }
        if let Some(t) = self.tls.take() {
            t.dispose(&self.extra);
        }
    }
}

impl Component for SingleShotHttpClient {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() && !matches!(self.state, State::Done) {
                if let Some(f) = self.fetch.as_mut() {
                    f.events.clear();
                }
                self.finish(cx, Signal::Shutdown);
            }
        }
        let gone = self.conn_ended(cx);
        match &self.state {
            State::Start => {
                let request = self.request.take().expect("not started");
                self.fetch = Some(Fetch::new(request, self.config, None));
                self.start_attempt(cx);
                Step::Yield
            }
            State::Running => self.step_running(cx),
            State::Switching => {
                if !self.flush() {
                    return Step::Pause;
                }
                if !gone {
                    cx.hold_input();
                    return Step::Pause;
                }
                self.dispose_conn();
                self.start_attempt(cx);
                Step::Yield
            }
            State::Ending(_) => {
                if !self.flush() {
                    return Step::Pause;
                }
                if !gone {
                    cx.hold_input();
                    return Step::Pause;
                }
                self.dispose_conn();
                let State::Ending(sig) = std::mem::replace(&mut self.state, State::Done) else {
                    unreachable!("ending")
                };
                let _ = self.signal.send(sig);
                Step::Done
            }
            State::Done => Step::Done,
        }
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.control)
            .add(&self.outbox)
            .add(&self.signal)
            .adaptive(&self.extra);
    }
}
