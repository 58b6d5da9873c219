//! SimpleHttpClient: URLs (or whole requests) in, one whole response per
//! request out, in request order; kept-alive connections reused per host.
//!
//! | box     | carries                         | meaning                                                     |
//! |---------|---------------------------------|-------------------------------------------------------------|
//! | inbox   | `HttpJob`                       | a URL string or a [`Request`], fetched one at a time in the order received |
//! | control | `Signal`                        | producer finished: fetch what was sent, then stop; shutdown: stop now (the request in hand is dropped, every connection closed) |
//! | outbox  | `Result<Response, ClientError>` | one per request, in order: the final response (any status: a 404 is a response) with its whole body, or why there is none |
//! | signal  | `Signal`                        | once, at the end: the signal that ended it                  |
//!
//! Each request goes out with `Connection: keep-alive`. A response that
//! keeps the connection alive, with nothing after it, leaves the
//! connection idle, and the next request to the same host and port uses
//! it. At most [`MAX_IDLE`] connections wait idle (past that, the one
//! unused for longest is closed). An idle connection the server closes
//! is forgotten; a request that
//! fails on a reused connection before any byte of a response arrived (the
//! server closed it as the request went out) is tried once more on a new
//! connection when its method is idempotent (RFC 9110 §9.2.2).
//!
//! Redirects, time-outs and failures are those of
//! [`SingleShotHttpClient`](super::SingleShotHttpClient) (a redirect's
//! connection is closed, not reused). A body is held whole, up to a limit
//! (default [`MAX_BODY`]): a longer one is the failure
//! `BadResponse(BodyTooLarge)`, not an unbounded buffer. The original
//! made every request on a new connection and held bodies without a
//! bound.
//!
//! An `https://` request (given, or from a redirect) is handed to a
//! [`SingleShotHttpsClient`](super::SingleShotHttpsClient) child (`ureq`
//! on its own thread; `ureq` keeps its own connections), with the same
//! body limit; its result comes out in its turn like any other, with the
//! URL it was asked for.
//!
//! Shutdown: it waits for all of its connections to end before it
//! signals, so nothing is left running.
//!
//! ```no_run
//! use kamaelia::axon::{link, Inbox, Outbox, Scheduler, Signal};
//! use kamaelia::protocol::http::client::{Fetched, HttpJob, SimpleHttpClient};
//! let client = SimpleHttpClient::new();
//! let urls = Outbox::<HttpJob>::new("urls", "to fetch");
//! let ctl = Outbox::<Signal>::new("ctl", "done");
//! let got: Inbox<Fetched> = Inbox::inbox();
//! link(&urls, &client.inbox).unwrap();
//! link(&ctl, &client.control).unwrap();
//! link(&client.outbox, &got).unwrap();
//! urls.send("http://127.0.0.1:8080/a".into()).unwrap();
//! urls.send("http://127.0.0.1:8080/b".into()).unwrap();
//! ctl.send(Signal::ProducerFinished).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(client);
//! s.run();
//! let a = got.recv().unwrap().unwrap();
//! println!("{} bytes", a.body.len());
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use bytes::{Bytes, BytesMut};

use crate::axon::{AdaptiveBoxes, Alarm, BoxSet, Component, Cx, Full, Inbox, Outbox, Signal, Step};
use crate::internet::{tcp_connector, Connector};
use crate::protocol::http::{Head, HttpError};

use super::error::{ClientError, ErrorKind};
use super::exchange::{Conn, Fetch, HostKey, Outcome, SharedConnector, TlsChild};
use super::request::Request;
use super::single_shot::{ClientConfig, ClientEvent};
use super::url::{Scheme, Url};

/// Idle kept-alive connections kept at most; past it the one unused for
/// longest is closed.
pub const MAX_IDLE: usize = 8;

/// The default limit on a body held whole: 64 MiB.
pub const MAX_BODY: u64 = 64 << 20;

/// Something to fetch: a URL string (a GET) or a whole request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpJob {
    /// A GET of this URL (one that does not parse is answered with a
    /// `BadUrl` failure, in its turn).
    Url(String),
    /// This request.
    Request(Request),
}

impl From<&str> for HttpJob {
    fn from(s: &str) -> Self {
        HttpJob::Url(s.to_string())
    }
}

impl From<String> for HttpJob {
    fn from(s: String) -> Self {
        HttpJob::Url(s)
    }
}

impl From<Url> for HttpJob {
    fn from(u: Url) -> Self {
        HttpJob::Request(Request::get(u))
    }
}

impl From<Request> for HttpJob {
    fn from(r: Request) -> Self {
        HttpJob::Request(r)
    }
}

/// A whole response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The URL it came from (after any redirects).
    pub url: Url,
    /// Its head.
    pub head: Head,
    /// Its whole body.
    pub body: Bytes,
}

/// What comes out for each request.
pub type Fetched = Result<Response, ClientError>;

/// The request in hand.
struct Current {
    fetch: Fetch,
    conn: Conn,
    conn_gone: bool,
    reused: bool,
    retried: bool,
    head: Option<Head>,
    body: BytesMut,
}

/// The request in hand, over TLS.
struct TlsCurrent {
    child: TlsChild,
    url: Url,
    head: Option<Head>,
    body: BytesMut,
}

/// Fetches one request after another; see the module documentation.
pub struct SimpleHttpClient {
    /// URLs or requests.
    pub inbox: Inbox<HttpJob>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// One result per request, in order.
    pub outbox: Outbox<Fetched>,
    /// Sent once, at the end.
    pub signal: Outbox<Signal>,
    extra: AdaptiveBoxes,
    connector: SharedConnector,
    config: ClientConfig,
    max_body: u64,
    current: Option<Current>,
    tls: Option<TlsCurrent>,
    /// HTTPS clients that ended or were told to, waiting for their end.
    tls_closing: Vec<TlsChild>,
    /// Roots the HTTPS clients trust (none: Mozilla's).
    roots: Vec<Vec<u8>>,
    /// Kept-alive connections waiting for a request, one per host.
    idle: BTreeMap<HostKey, Conn>,
    /// When each idle connection was last used (a count of requests).
    idle_since: BTreeMap<HostKey, u64>,
    requests: u64,
    /// Connections told to stop, waiting for their end.
    closing: Vec<Conn>,
    /// A result refused by a full outbox.
    held: Option<Fetched>,
    /// Told to finish (or stop).
    stopping: Option<Signal>,
    alarm: Alarm,
}

impl Default for SimpleHttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl SimpleHttpClient {
    /// A client connecting over TCP.
    pub fn new() -> Self {
        SimpleHttpClient {
            inbox: Inbox::new("inbox", "URLs or requests to fetch"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "one whole response (or failure) per request"),
            signal: Outbox::signal(),
            extra: AdaptiveBoxes::new(),
            connector: Rc::new(RefCell::new(tcp_connector())),
            config: ClientConfig::default(),
            max_body: MAX_BODY,
            current: None,
            tls: None,
            tls_closing: Vec::new(),
            roots: Vec::new(),
            idle: BTreeMap::new(),
            idle_since: BTreeMap::new(),
            requests: 0,
            closing: Vec::new(),
            held: None,
            stopping: None,
            alarm: Alarm::default(),
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

    /// Sets the limit on a body.
    pub fn max_body(mut self, bytes: u64) -> Self {
        self.max_body = bytes;
        self
    }

    /// Kept-alive connections now idle (for tests and introspection).
    pub fn idle_connections(&self) -> usize {
        self.idle.len()
    }

    fn take_idle(&mut self, key: &HostKey) -> Option<Conn> {
        self.idle_since.remove(key);
        self.idle.remove(key)
    }

    /// Keeps a connection for the next request to its host, closing the
    /// one unused for longest when more than [`MAX_IDLE`] wait.
    fn keep_idle(&mut self, cx: &mut Cx, conn: Conn) {
        self.requests += 1;
        let key = conn.key.clone();
        if let Some(old) = self.take_idle(&key) {
            self.close(cx, old);
        }
        self.idle_since.insert(key.clone(), self.requests);
        self.idle.insert(key, conn);
        if self.idle.len() > MAX_IDLE {
            let oldest = self
                .idle_since
                .iter()
                .min_by_key(|(_, n)| **n)
                .map(|(k, _)| k.clone());
            if let Some(conn) = oldest.and_then(|k| self.take_idle(&k)) {
                self.close(cx, conn);
            }
        }
    }

    /// Tells a connection to stop; its boxes go once it has ended.
    fn close(&mut self, cx: &mut Cx, mut conn: Conn) {
        if cx.is_alive(conn.id) {
            conn.close(cx);
            self.closing.push(conn);
        } else {
            conn.dispose(&self.extra);
        }
    }

    /// Starts the next job; false when there is none.
    fn start_next(&mut self, cx: &mut Cx) -> bool {
        let Some(job) = self.inbox.recv() else {
            return false;
        };
        let request = match job {
            HttpJob::Request(r) => r,
            HttpJob::Url(s) => match Url::parse(&s) {
                Ok(u) => Request::get(u),
                Err(e) => {
                    self.held = Some(Err(ClientError::new(ErrorKind::BadUrl(e), s)));
                    return true;
                }
            },
        };
        let fetch = Fetch::new(request, self.config, Some(self.max_body));
        self.attempt(cx, fetch, false);
        true
    }

    /// Hands an `https://` request to an HTTPS client child.
    fn attempt_tls(&mut self, cx: &mut Cx, fetch: Fetch) {
        let url = fetch.request.url.clone();
        let config = fetch.tls_config();
        let child = TlsChild::open(cx, &self.extra, fetch.request, config, &self.roots);
        self.tls = Some(TlsCurrent {
            child,
            url,
            head: None,
            body: BytesMut::new(),
        });
    }

    /// Lets an HTTPS client child go; its boxes go once it has ended.
    fn close_tls(&mut self, cx: &mut Cx, mut child: TlsChild) {
        if cx.is_alive(child.id) {
            child.close(cx);
            self.tls_closing.push(child);
        } else {
            child.dispose(&self.extra);
        }
    }

    /// Takes what the HTTPS client child sent; true when the request is
    /// over.
    fn pump_tls(&mut self, cx: &mut Cx) -> bool {
        let Some(cur) = self.tls.as_mut() else {
            return true;
        };
        let result = loop {
            match cur.child.next() {
                None => return false,
                Some(Ok(ClientEvent::Head(h))) => cur.head = Some(h),
                Some(Ok(ClientEvent::Body(b))) => {
                    if (cur.body.len() + b.len()) as u64 > self.max_body {
                        let kind = ErrorKind::BadResponse(HttpError::BodyTooLarge);
                        break Err(ClientError::new(kind, cur.url.to_string()));
                    }
                    cur.body.extend_from_slice(&b);
                }
                Some(Ok(_)) => {}
                Some(Err(sig)) => {
                    let sig = TlsChild::renumber(sig, self.config.max_redirects);
                    let failure = match sig {
                        Signal::Failed(f) => match f.downcast_ref::<ClientError>() {
                            // A status is a response here.
                            Some(e) if matches!(e.kind, ErrorKind::Status(_)) => None,
                            Some(e) => Some(e.clone()),
                            None => Some(ClientError::new(
                                ErrorKind::Io(std::io::ErrorKind::Other),
                                cur.url.to_string(),
                            )),
                        },
                        _ => None,
                    };
                    break match (failure, cur.head.take()) {
                        (Some(e), _) => Err(e),
                        (None, Some(head)) => Ok(Response {
                            url: cur.url.clone(),
                            head,
                            body: std::mem::take(&mut cur.body).freeze(),
                        }),
                        (None, None) => Err(ClientError::new(
                            ErrorKind::BadResponse(HttpError::Truncated),
                            cur.url.to_string(),
                        )),
                    };
                }
            }
        };
        let cur = self.tls.take().expect("tls");
        self.close_tls(cx, cur.child);
        self.held = Some(result);
        true
    }

    /// Sends the fetch's request on an idle connection to its host if
    /// there is a fit one (and `fresh` is false), else on a new one.
    fn attempt(&mut self, cx: &mut Cx, fetch: Fetch, fresh: bool) {
        if fetch.request.url.scheme() == Scheme::Https {
            return self.attempt_tls(cx, fetch);
        }
        let bytes = match fetch.request_bytes(true) {
            Ok(b) => b,
            Err(e) => {
                self.held = Some(Err(e));
                return;
            }
        };
        let url = &fetch.request.url;
        let key = (url.host().to_string(), url.port());
        let mut reused = None;
        if let Some(mut conn) = self.take_idle(&key) {
            if !fresh && conn.idle_check() {
                reused = Some(conn);
            } else {
                self.close(cx, conn);
            }
        }
        let was_reused = reused.is_some();
        let conn = match reused {
            Some(c) => c,
            None => Conn::open(cx, &self.extra, url, &self.connector, &self.config),
        };
        let mut fetch = fetch;
        fetch.begin(&conn, bytes, cx.now());
        self.current = Some(Current {
            fetch,
            conn,
            conn_gone: false,
            reused: was_reused,
            retried: false,
            head: None,
            body: BytesMut::new(),
        });
    }

    /// Drives the request in hand; true when it is over.
    fn pump(&mut self, cx: &mut Cx) -> bool {
        if self.tls.is_some() {
            return self.pump_tls(cx);
        }
        let Some(cur) = self.current.as_mut() else {
            return true;
        };
        loop {
            let outcome = cur.fetch.pump(&mut cur.conn, cx);
            while let Some(ev) = cur.fetch.events.pop_front() {
                match ev {
                    ClientEvent::Head(h) => cur.head = Some(h),
                    ClientEvent::Body(b) => cur.body.extend_from_slice(&b),
                    ClientEvent::Redirect { .. } | ClientEvent::Trailers(_) | ClientEvent::End => {}
                }
            }
            match outcome {
                Outcome::Events => continue,
                Outcome::Wait(at) => {
                    self.alarm.set(cx, at);
                    return false;
                }
                Outcome::Redirect => {
                    let cur = self.current.take().expect("current");
                    self.close(cx, cur.conn);
                    // A new connection: a redirect's body is not read.
                    self.attempt(cx, cur.fetch, true);
                    return self.current.is_none() && self.tls.is_none();
                }
                Outcome::Complete { reusable, .. } => {
                    let cur = self.current.take().expect("current");
                    let head = cur.head.expect("a complete response has a head");
                    self.held = Some(Ok(Response {
                        url: cur.fetch.request.url.clone(),
                        head,
                        body: cur.body.freeze(),
                    }));
                    if reusable && !cur.conn_gone && !cur.conn.ended {
                        self.keep_idle(cx, cur.conn);
                    } else {
                        self.close(cx, cur.conn);
                    }
                    self.alarm.clear(cx);
                    return true;
                }
                Outcome::Failed(e) => {
                    let cur = self.current.take().expect("current");
                    let idempotent = matches!(
                        cur.fetch.request.method.as_str(),
                        "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS" | "TRACE"
                    );
                    let stale = cur.reused
                        && !cur.retried
                        && !cur.fetch.got_bytes
                        && matches!(e.kind, ErrorKind::Reset | ErrorKind::BadResponse(_));
                    self.close(cx, cur.conn);
                    if stale && idempotent {
                        // The server closed the kept-alive connection as
                        // the request went out: once more, on a new one.
                        self.attempt(cx, cur.fetch, true);
                        if let Some(c) = self.current.as_mut() {
                            c.retried = true;
                        }
                        return self.current.is_none() && self.tls.is_none();
                    }
                    self.held = Some(Err(e));
                    self.alarm.clear(cx);
                    return true;
                }
            }
        }
    }

    /// Takes the ends of connection children.
    fn reap(&mut self, cx: &mut Cx) {
        while let Some(exit) = cx.next_exit() {
            if let Some(cur) = self.current.as_mut() {
                if cur.conn.id == exit.id {
                    cur.conn_gone = true;
                    continue;
                }
            }
            if let Some(key) = self
                .idle
                .iter()
                .find(|(_, c)| c.id == exit.id)
                .map(|(k, _)| k.clone())
            {
                if let Some(c) = self.take_idle(&key) {
                    c.dispose(&self.extra);
                }
                continue;
            }
            if let Some(i) = self.closing.iter().position(|c| c.id == exit.id) {
                self.closing.swap_remove(i).dispose(&self.extra);
            }
            if let Some(i) = self.tls_closing.iter().position(|c| c.id == exit.id) {
                self.tls_closing.swap_remove(i).dispose(&self.extra);
            }
        }
    }
}

impl Component for SimpleHttpClient {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                if let Some(cur) = self.current.take() {
                    self.close(cx, cur.conn);
                }
                if let Some(cur) = self.tls.take() {
                    self.close_tls(cx, cur.child);
                }
                self.held = None;
                while self.inbox.recv().is_some() {}
                self.alarm.clear(cx);
            }
            if !self.stopping.as_ref().is_some_and(Signal::is_shutdown) {
                self.stopping = Some(sig);
            }
        }
        self.reap(cx);
        let shutdown = self.stopping.as_ref().is_some_and(Signal::is_shutdown);
        if !shutdown {
            // Bounded: one result per request taken, and the consumer's
            // room decides how many go out in one step.
            loop {
                if let Some(r) = self.held.take() {
                    if let Err(Full(r)) = self.outbox.send(r) {
                        self.held = Some(r);
                        return Step::Pause;
                    }
                }
                if self.current.is_none() && self.tls.is_none() && !self.start_next(cx) {
                    break;
                }
                if self.held.is_some() {
                    continue;
                }
                if !self.pump(cx) {
                    // Waiting on the connection; later jobs wait their turn.
                    cx.hold_input();
                    return Step::Pause;
                }
            }
        }
        if self.stopping.is_none() {
            return Step::Pause;
        }
        // Stopping: close every connection, wait for their ends.
        self.idle_since.clear();
        let idle = std::mem::take(&mut self.idle);
        for (_, conn) in idle {
            self.close(cx, conn);
        }
        if !self.closing.is_empty() || !self.tls_closing.is_empty() {
            cx.hold_input();
            return Step::Pause;
        }
        let sig = self.stopping.take().expect("stopping");
        let _ = self.signal.send(sig);
        Step::Done
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox)
            .add(&self.control)
            .add(&self.outbox)
            .add(&self.signal)
            .adaptive(&self.extra);
    }
}
