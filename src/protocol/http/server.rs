//! HttpServer: HTTP/1.1 on the connected-server chassis. Per connection an
//! [`HttpConnection`] parses request after request (keep-alive and
//! pipelining) with the streaming codec, and for each request a
//! [`Router`] picks a route by path prefix. A streaming route's factory
//! makes a *resource* component that streams the response as [`Part`]s.
//! A route whose answer is known at once, a fixed response
//! ([`Router::fixed`]) or a function of the request head
//! ([`Router::respond`]), is answered by the connection itself: no
//! component is spawned and finished per request, and a fixed response's
//! bytes are made once (a steady stream of requests to one allocates
//! nothing). Responses go out in request order: a pipelined request waits,
//! unread, until the response before it is complete; answers made by the
//! connection wait to be sent before more requests are read.
//!
//! ```text
//! TcpClient ──bytes──▶ HttpConnection ──body bytes, end──▶ resource (one per request)
//!     ▲                 │    ▲                                   │
//!     └───────bytes─────┘    └──────── Part: Head, Body.., End ──┘
//! ```
//!
//! The connection holds the codec ([`Parser`]) itself rather than an
//! [`HttpParser`](super::HttpParser) child: the parser's `next_event`
//! already stops where the connection stops (a pipelined request waits,
//! unparsed, while the response before it streams), and the head and idle
//! time-outs need to know whether any byte of the next request has come,
//! which only the codec can tell. `HttpParser` is the same codec for
//! component graphs (clients, taps).
//!
//! A resource is any component with these boxes (found by name, types
//! checked when linked):
//!
//! | box     | carries  | meaning                                                         |
//! |---------|----------|-----------------------------------------------------------------|
//! | inbox   | `Bytes`  | the request body, in pieces (optional box)                      |
//! | control | `Signal` | `ProducerFinished` when the request body is complete; `Shutdown` when the connection goes (optional box) |
//! | outbox  | `Part`   | `Head`, then `Body`s, then `End` (required)                     |
//! | signal  | `Signal` | not read: the resource ending counts as `End` after a `Head`    |
//!
//! The connection component's own boxes (ServerCore links them):
//!
//! | box     | carries  | meaning                                                         |
//! |---------|----------|-----------------------------------------------------------------|
//! | inbox   | `Bytes`  | what the client sent                                            |
//! | control | `Signal` | producer finished: the client closed its side (requests read so far are answered, then it ends); shutdown: stop now, and shut the resource down |
//! | outbox  | `Bytes`  | what goes to the client                                         |
//! | signal  | `Signal` | `ProducerFinished` once, when it ends (ServerCore then flushes and closes the socket) |
//!
//! The server answers by itself: 400 (malformed request), 404 (no route),
//! 405 (method not allowed on the route, with `Allow`), 408 (the head took
//! longer than [`ServerConfig::head_timeout`]: slowloris), 413 (body over
//! [`Limits::max_body`]), 414, 431, 501 (unknown method, `CONNECT`), 505;
//! 500 when a resource ends without a head. After a malformed request, or a
//! resource whose body did not match its Content-Length, the connection
//! closes: its framing cannot be trusted. A kept-alive connection with no
//! request for [`ServerConfig::idle_timeout`] is closed.
//!
//! Bodies of unknown length are chunked (HTTP/1.1) or close-delimited
//! (HTTP/1.0); HEAD gets the head alone; `Expect: 100-continue` is
//! answered with `100 Continue` before the body is read.
//!
//! ```no_run
//! use kamaelia::axon::Scheduler;
//! use kamaelia::protocol::http::{Fixed, HttpServer, Router, ServerConfig};
//! let router = Router::new()
//!     .route("/hello", |_req| Box::new(Fixed::text(200, "hello\n")) as _);
//! let server = HttpServer::bind("127.0.0.1:8080".parse().unwrap(), router, ServerConfig::default())
//!     .unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(server);
//! s.run();
//! ```

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{BufMut, Bytes, BytesMut};

use crate::axon::{
    link_refs, AdaptiveBoxes, BoxRef, BoxSet, Component, Cx, Full, Id, Inbox, Outbox, Signal, Step,
    TimerKey,
};
use crate::internet::{Acceptor, ConnInfo, ServerCore};

use super::response::{
    encode_body, encode_end, encode_head, encode_head_with, put_date, simple_response, BodyMode,
};
use super::{
    Event, Framing, Headers, HttpError, Limits, Mode, Parser, Part, ResponseHead, Version,
};

/// Makes the resource component that answers one request.
pub type Factory = Rc<dyn Fn(&Request) -> Box<dyn Component>>;

/// Answers one request at once, from its head alone and the scheduler's
/// clock (virtual in tests): a status and header fields, and the whole
/// body (its length is the Content-Length).
pub type Answer = Rc<dyn Fn(&Request, Instant) -> (ResponseHead, Bytes)>;

/// What a handler factory is told about a request.
#[derive(Clone, Debug)]
pub struct Request {
    /// The method, as sent.
    pub method: Bytes,
    /// The request target, as sent.
    pub target: Bytes,
    /// The path part of the target (before `?`), still percent-encoded.
    pub path: String,
    /// The query (after `?`), if any.
    pub query: Option<String>,
    /// The version.
    pub version: Version,
    /// The header fields.
    pub headers: Headers,
    /// The route prefix that matched.
    pub prefix: String,
    /// The client's address.
    pub peer: Option<SocketAddr>,
}

impl Request {
    /// True for HEAD.
    pub fn is_head(&self) -> bool {
        &self.method[..] == b"HEAD"
    }

    /// The path after the matched prefix (still percent-encoded).
    pub fn rest(&self) -> &str {
        self.path.get(self.prefix.len()..).unwrap_or("")
    }
}

struct Route {
    prefix: String,
    methods: Option<Vec<String>>,
    handler: Handler,
}

/// How a route answers.
enum Handler {
    /// A resource component per request, streaming its response.
    Stream(Factory),
    /// A function of the request, answered inside the connection.
    Now(Answer),
    /// The same response every time, answered inside the connection
    /// without even a [`Request`] being made.
    Fixed(Box<FixedAnswer>),
}

/// A fixed response, with its usual encoding (HTTP/1.1, kept alive, not
/// HEAD) made once.
struct FixedAnswer {
    head: ResponseHead,
    body: Bytes,
    /// The status line.
    status_line: Bytes,
    /// What follows the status line (and `Date`): fields, Content-Length,
    /// the empty line and the body.
    rest: Bytes,
}

impl FixedAnswer {
    fn new(mut head: ResponseHead, body: Bytes) -> Self {
        head.length = Some(body.len() as u64);
        let mut wire = BytesMut::new();
        let (mut mode, keep) = encode_head(&mut wire, &head, Version::Http11, false, true, None);
        encode_body(&mut wire, &mut mode, &body);
        let whole = encode_end(&mut wire, mode);
        debug_assert!(keep && whole);
        let wire = wire.freeze();
        let line_end = wire
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(0, |i| i + 2);
        FixedAnswer {
            status_line: wire.slice(..line_end),
            rest: wire.slice(line_end..),
            head,
            body,
        }
    }
}

/// Path prefixes to handler factories. The longest matching prefix wins;
/// a prefix matches at a segment boundary (`/files` matches `/files` and
/// `/files/a`, not `/filesystem`; `/` matches every path).
#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    /// No routes: every request is a 404.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests under `prefix`, any method, go to `factory`.
    pub fn route(
        self,
        prefix: &str,
        factory: impl Fn(&Request) -> Box<dyn Component> + 'static,
    ) -> Self {
        self.add(prefix, None, Rc::new(factory))
    }

    /// Requests under `prefix`, any method, are answered with `response`
    /// (its head and body; HEAD gets the head alone) by the connection
    /// itself: no component per request. A request body is read and
    /// dropped.
    ///
    /// ```
    /// use kamaelia::protocol::http::{Fixed, Router};
    /// let router = Router::new().fixed("/hello", Fixed::text(200, "hello\n"));
    /// ```
    pub fn fixed(mut self, prefix: &str, response: Fixed) -> Self {
        let (head, body) = response.into_parts();
        self.routes.push(Route {
            prefix: prefix.to_string(),
            methods: None,
            handler: Handler::Fixed(Box::new(FixedAnswer::new(head, body))),
        });
        self
    }

    /// Requests under `prefix` with one of `methods` (any method when
    /// `None`) are answered by `answer`, called with the request and the
    /// scheduler's clock ([`Cx::now`]: virtual time in a test) as soon as
    /// its head is read, inside the connection: no component per
    /// request. The body it returns is the whole body (its length is the
    /// Content-Length); a request body is read and dropped. For responses
    /// that must wait for something, or stream, use a component
    /// ([`Router::route`]).
    pub fn respond(
        mut self,
        prefix: &str,
        methods: Option<&[&str]>,
        answer: impl Fn(&Request, Instant) -> (ResponseHead, Bytes) + 'static,
    ) -> Self {
        self.routes.push(Route {
            prefix: prefix.to_string(),
            methods: methods.map(|m| m.iter().map(|s| s.to_string()).collect()),
            handler: Handler::Now(Rc::new(answer)),
        });
        self
    }

    /// Requests under `prefix` with one of `methods` go to `factory`;
    /// other methods are answered 405 with `Allow`.
    pub fn route_methods(
        self,
        prefix: &str,
        methods: &[&str],
        factory: impl Fn(&Request) -> Box<dyn Component> + 'static,
    ) -> Self {
        let m = methods.iter().map(|s| s.to_string()).collect();
        self.add(prefix, Some(m), Rc::new(factory))
    }

    /// Adds a route with a shared factory.
    pub fn add(mut self, prefix: &str, methods: Option<Vec<String>>, factory: Factory) -> Self {
        self.routes.push(Route {
            prefix: prefix.to_string(),
            methods,
            handler: Handler::Stream(factory),
        });
        self
    }

    fn find(&self, path: &str) -> Option<&Route> {
        self.routes
            .iter()
            .filter(|r| prefix_matches(&r.prefix, path))
            .max_by_key(|r| r.prefix.len())
    }
}

/// The path and query of a request target: an absolute-form target
/// (`http://host/path?q`, as sent to proxies, which a server must accept:
/// RFC 9112 §3.2.2) loses its scheme and authority.
fn origin_form(target: &str) -> &str {
    let has = |scheme: &str| {
        target
            .get(..scheme.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
    };
    let rest = if has("http://") {
        &target[7..]
    } else if has("https://") {
        &target[8..]
    } else {
        return target;
    };
    match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => &rest[i..],
        Some(i) => &rest[i..], // "?q" with no path: the path is empty
        None => "/",
    }
}

fn prefix_matches(prefix: &str, path: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// Limits and time-outs of an [`HttpServer`].
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Codec limits (start line, head, body: 414, 431, 413).
    pub limits: Limits,
    /// The head of a request must be complete this long after the
    /// connection opened or the previous response was sent (default 10 s);
    /// else 408 and close.
    pub head_timeout: Duration,
    /// A kept-alive connection with no request this long is closed
    /// (default 5 s).
    pub idle_timeout: Duration,
    /// A connection with no traffic either way this long is ended,
    /// whatever it is doing (default 60 s): a client that stopped reading
    /// does not hold its connection for ever. Keep it above long-poll
    /// time-outs and event-stream heartbeats. `None`: no limit.
    pub stall_timeout: Option<Duration>,
    /// Send a `Date` field (default true).
    pub date: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            limits: Limits::default(),
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(5),
            stall_timeout: Some(Duration::from_secs(60)),
            date: true,
        }
    }
}

/// Builds HTTP servers: a [`ServerCore`] whose protocol component is an
/// [`HttpConnection`].
pub struct HttpServer;

impl HttpServer {
    /// Listens on `addr` (port 0 picks one).
    pub fn bind(addr: SocketAddr, router: Router, config: ServerConfig) -> io::Result<ServerCore> {
        let stall = config.stall_timeout;
        let (router, config) = (Rc::new(router), Rc::new(config));
        let server = ServerCore::bind(addr, move |info| {
            Box::new(HttpConnection::new(router.clone(), config.clone(), info)) as _
        })?;
        Ok(server.idle_timeout(stall))
    }

    /// Takes connections from `acceptor` (tests pass a scripted one).
    pub fn with_acceptor(
        acceptor: Box<dyn Acceptor>,
        router: Router,
        config: ServerConfig,
    ) -> ServerCore {
        let stall = config.stall_timeout;
        let (router, config) = (Rc::new(router), Rc::new(config));
        ServerCore::with_acceptor(acceptor, move |info| {
            Box::new(HttpConnection::new(router.clone(), config.clone(), info)) as _
        })
        .idle_timeout(stall)
    }
}

/// Bytes gathered for the client before they are sent on.
const OUT_CHUNK: usize = 16 << 10;
/// Messages a resource's inbox and the connection's response inbox hold.
const PART_LIMIT: usize = 4;
/// Rounds of work per step before others get a turn.
const ROUNDS: usize = 64;

const KNOWN_METHODS: [&[u8]; 8] = [
    b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"TRACE",
];

/// The request being answered.
struct Active {
    id: Id,
    from: Inbox<Part>,
    to_body: Outbox<Bytes>,
    to_ctl: Outbox<Signal>,
    /// The resource's outbox, linked to `from`.
    res_out: BoxRef,
    version: Version,
    is_head: bool,
    keep_alive: bool,
    /// The body event refused by the resource's full inbox.
    pending: Option<Bytes>,
    request_done: bool,
    head_sent: bool,
    mode: BodyMode,
    response_done: bool,
    exited: bool,
    /// The resource has an inbox for the request body.
    has_inbox: bool,
}

/// The connection's boxes to and from a resource.
struct Spare {
    from: Inbox<Part>,
    to_body: Outbox<Bytes>,
    to_ctl: Outbox<Signal>,
}

/// One HTTP connection; see the module documentation.
pub struct HttpConnection {
    /// Bytes from the client.
    pub inbox: Inbox<Bytes>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Bytes for the client.
    pub outbox: Outbox<Bytes>,
    /// Sent once, at the end.
    pub signal: Outbox<Signal>,
    extra: AdaptiveBoxes,
    /// The run-time boxes of a finished request, unlinked and empty, kept
    /// for the next one: adding and removing three boxes per request cost
    /// more than the rest of a small request's work.
    spare: Option<Spare>,
    router: Rc<Router>,
    config: Rc<ServerConfig>,
    peer: Option<SocketAddr>,
    parser: Parser,
    out: BytesMut,
    held: Option<Bytes>,
    active: Option<Active>,
    skip_body: bool,
    closing: bool,
    input_over: bool,
    eof_told: bool,
    idle_since: Option<Instant>,
    /// A response was completed: the idle (and head) time starts again,
    /// at the time this step looks at its deadline (one clock read per
    /// step, not one per request).
    idle_restart: bool,
    timer: Option<(Instant, TimerKey)>,
}

impl HttpConnection {
    /// A connection answering with `router`.
    pub fn new(router: Rc<Router>, config: Rc<ServerConfig>, info: &ConnInfo) -> Self {
        HttpConnection {
            inbox: Inbox::new("inbox", "bytes from the client"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "bytes for the client"),
            signal: Outbox::signal(),
            extra: AdaptiveBoxes::new(),
            spare: None,
            parser: Parser::new(Mode::Request, config.limits),
            router,
            config,
            peer: info.peer,
            out: BytesMut::new(),
            held: None,
            active: None,
            skip_body: false,
            closing: false,
            input_over: false,
            eof_told: false,
            idle_since: None,
            idle_restart: false,
            timer: None,
        }
    }

    fn date(&self) -> Option<SystemTime> {
        self.config.date.then(SystemTime::now)
    }

    /// Sends what is gathered for the client; false when its inbox is full.
    fn flush(&mut self) -> bool {
        loop {
            let chunk = match self.held.take() {
                Some(c) => c,
                None if self.out.is_empty() => return true,
                None => {
                    let n = self.out.len().min(OUT_CHUNK);
                    self.out.split_to(n).freeze()
                }
            };
            if let Err(Full(c)) = self.outbox.send(chunk) {
                self.held = Some(c);
                return false;
            }
        }
    }

    /// An answer of the server's own; `close` ends the connection after it.
    fn answer(&mut self, status: u16, extra: &[(&str, &str)], close: bool) {
        let date = self.date();
        self.out.put(simple_response(status, extra, close, date));
        if close {
            self.closing = true;
        }
    }

    /// Takes the resource's response parts; true if any came.
    fn pump_response(&mut self, _cx: &mut Cx) -> bool {
        let date = self.config.date;
        let Some(a) = self.active.as_mut() else {
            return false;
        };
        let mut progress = false;
        while !a.response_done && self.out.len() < OUT_CHUNK {
            let part = match a.from.recv() {
                Some(p) => p,
                None if a.exited => Part::End,
                None => break,
            };
            progress = true;
            match part {
                Part::Head(h) if !a.head_sent => {
                    let (mode, keep) = encode_head_with(
                        &mut self.out,
                        &h,
                        a.version,
                        a.is_head,
                        a.keep_alive,
                        |out| {
                            if date {
                                put_date(out);
                            }
                        },
                    );
                    a.mode = mode;
                    a.keep_alive = keep;
                    a.head_sent = true;
                }
                Part::Head(_) => log::warn!("http: a resource sent a second head; dropped"),
                Part::Body(b) if a.head_sent => {
                    let dropped = encode_body(&mut self.out, &mut a.mode, &b);
                    if dropped > 0 {
                        log::warn!("http: {dropped} body bytes past the Content-Length dropped");
                    }
                }
                Part::Body(_) => log::warn!("http: a resource sent body before its head; dropped"),
                Part::End => {
                    a.response_done = true;
                    if !a.head_sent {
                        log::warn!("http: a resource ended without a response head");
                        let date = date.then(SystemTime::now);
                        self.out.put(simple_response(500, &[], true, date));
                        a.keep_alive = false;
                    } else if !encode_end(&mut self.out, a.mode) {
                        log::warn!("http: a response body was shorter than its Content-Length");
                        a.keep_alive = false;
                    }
                }
            }
        }
        progress
    }

    /// The response is complete: let the resource go.
    fn finish_active(&mut self) {
        let Some(a) = self.active.take() else { return };
        if !a.exited {
            let _ = a.to_ctl.send(Signal::Shutdown);
        }
        // Cut the resource off (whatever it still sends goes nowhere) and
        // keep the boxes, empty, for the next request.
        a.res_out.unlink();
        a.to_body.erased().unlink();
        a.to_ctl.erased().unlink();
        while a.from.recv().is_some() {}
        self.spare = Some(Spare {
            from: a.from,
            to_body: a.to_body,
            to_ctl: a.to_ctl,
        });
        if !a.keep_alive {
            self.closing = true;
        } else if !a.request_done {
            // The rest of the request body is read and dropped.
            self.skip_body = true;
        }
        self.idle_restart = true;
    }

    /// Shuts the resource down at once (the connection is going).
    fn abort_active(&mut self) {
        if let Some(a) = self.active.take() {
            let _ = a.to_ctl.send(Signal::Shutdown);
            for name in [a.from.name(), a.to_body.name(), a.to_ctl.name()] {
                let _ = self.extra.remove(name);
            }
        }
    }

    /// Reads requests (or the body of the one in hand); true on progress.
    fn pump_requests(&mut self, cx: &mut Cx) -> bool {
        let mut progress = false;
        loop {
            if self.closing {
                return progress;
            }
            if self.active.is_none() && self.out.len() >= OUT_CHUNK {
                // Answers made here are sent before more requests are
                // read: a client pipelining without reading holds no more
                // than this.
                return progress;
            }
            if let Some(a) = self.active.as_mut() {
                if a.request_done {
                    return progress;
                }
                if let Some(b) = a.pending.take().filter(|_| !a.exited) {
                    if let Err(Full(b)) = a.to_body.send(b) {
                        a.pending = Some(b);
                        return progress;
                    }
                    progress = true;
                }
            }
            let ev = match self.parser.next_event() {
                Ok(Some(ev)) => ev,
                Ok(None) => {
                    if self.parser.is_closed() {
                        if self.active.is_none() {
                            self.closing = true;
                        }
                        return progress;
                    }
                    if let Some(b) = self.inbox.recv() {
                        self.parser.feed(b);
                        progress = true;
                        continue;
                    }
                    if self.input_over && !self.eof_told {
                        self.eof_told = true;
                        self.parser.eof();
                        continue;
                    }
                    return progress;
                }
                Err(e) => {
                    self.bad_request(e);
                    return true;
                }
            };
            progress = true;
            match ev {
                Event::Head(head) => self.start_request(cx, head),
                Event::Body(b) => {
                    // Dropped when nobody reads it (no inbox, or the
                    // resource has ended): an unlinked outbox would keep
                    // it all.
                    if let Some(a) = self.active.as_mut().filter(|a| a.has_inbox && !a.exited) {
                        if let Err(Full(b)) = a.to_body.send(b) {
                            a.pending = Some(b);
                        }
                    }
                }
                Event::Trailers(_) => {}
                Event::End => {
                    self.skip_body = false;
                    if let Some(a) = self.active.as_mut() {
                        a.request_done = true;
                        let _ = a.to_ctl.send(Signal::ProducerFinished);
                    }
                }
                Event::Tunnel(_) => {
                    // CONNECT was refused with 501 and the connection closes.
                    self.closing = true;
                }
            }
        }
    }

    fn bad_request(&mut self, e: HttpError) {
        let head_sent = self.active.as_ref().is_some_and(|a| a.head_sent);
        if e == HttpError::Truncated && self.input_over && self.active.is_none() {
            // The client went away mid-request: nobody to answer.
            self.closing = true;
            return;
        }
        log::debug!("http: bad request from {:?}: {e}", self.peer);
        self.abort_active();
        if !head_sent {
            self.answer(e.status(), &[], true);
        }
        self.closing = true;
    }

    fn start_request(&mut self, cx: &mut Cx, mut head: super::Head) {
        if head.framing == Framing::Tunnel || !KNOWN_METHODS.contains(&&head.method[..]) {
            self.answer(501, &[], true);
            return;
        }
        // The target is checked visible ASCII by the parser: no copy here,
        // and `from_utf8`'s ASCII fast path rather than a lossy scan.
        let target = match std::str::from_utf8(&head.target) {
            Ok(t) => std::borrow::Cow::Borrowed(t),
            Err(_) => String::from_utf8_lossy(&head.target),
        };
        let (path, query) = match origin_form(&target).split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (origin_form(&target), None),
        };
        let keep_alive = head.keep_alive;
        let has_body = head.framing != Framing::None;
        let expects_continue = has_body
            && head.version == Version::Http11
            && head.headers.has_token("expect", "100-continue");
        // Refused before its body: a client waiting for 100 Continue may
        // or may not send the body now, so the connection closes rather
        // than guess where the next request starts (RFC 9110 §10.1.1).
        let keep_refused = keep_alive && !expects_continue;
        let router = self.router.clone();
        let Some(route) = router.find(path) else {
            self.answer(404, &[], !keep_refused);
            self.skip_body = has_body;
            return;
        };
        if let Some(m) = &route.methods {
            if !m.iter().any(|m| m.as_bytes() == &head.method[..]) {
                let allow = m.join(", ");
                self.answer(405, &[("Allow", &allow)], !keep_refused);
                self.skip_body = has_body;
                return;
            }
        }
        let is_head = &head.method[..] == b"HEAD";
        if let Handler::Fixed(f) = &route.handler {
            self.answer_now(&head, is_head, keep_refused, (&f.head, &f.body), Some(f));
            self.parser.reuse(head.headers);
            return;
        }
        let req = Request {
            method: head.method.clone(),
            target: head.target.clone(),
            path: path.to_string(),
            query: query.map(str::to_string),
            version: head.version,
            headers: std::mem::take(&mut head.headers),
            prefix: route.prefix.clone(),
            peer: self.peer,
        };
        let factory = match &route.handler {
            Handler::Now(answer) => {
                let (mut rh, body) = answer(&req, cx.now());
                rh.length = Some(body.len() as u64);
                self.answer_now(&head, is_head, keep_refused, (&rh, &body), None);
                self.parser.reuse(req.headers);
                return;
            }
            Handler::Stream(factory) => factory,
            Handler::Fixed(_) => unreachable!("answered above"),
        };
        let resource = factory(&req);
        let mut set = BoxSet::default();
        resource.boxes(&mut set);
        let Spare {
            from,
            to_body,
            to_ctl,
        } = match self.spare.take() {
            Some(s) => s,
            None => {
                let from: Inbox<Part> = self.extra.add_inbox("_response", "response parts");
                from.set_limit(Some(PART_LIMIT));
                Spare {
                    from,
                    to_body: self.extra.add_outbox("_body", "request body"),
                    to_ctl: self.extra.add_outbox("_resource", "request end, shutdown"),
                }
            }
        };
        let res_out = set.find("outbox").cloned();
        let mut ok = match &res_out {
            Some(b) => link_refs(b, &from.erased()).is_ok(),
            None => false,
        };
        let has_inbox = set.find("inbox").is_some();
        if let Some(b) = set.find("inbox") {
            if b.limit().is_none() {
                b.set_limit(Some(PART_LIMIT));
            }
            ok &= link_refs(&to_body.erased(), b).is_ok();
        }
        if let Some(b) = set.find("control") {
            ok &= link_refs(&to_ctl.erased(), b).is_ok();
        }
        if !ok {
            log::error!(
                "http: resource {} for {} has no Part outbox or mistyped boxes",
                resource.name(),
                req.path
            );
            for name in [from.name(), to_body.name(), to_ctl.name()] {
                let _ = self.extra.remove(name);
            }
            self.answer(500, &[], true);
            return;
        }
        if expects_continue {
            self.out.put_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        let id = cx.spawn_child_boxed(resource);
        self.active = Some(Active {
            id,
            from,
            to_body,
            to_ctl,
            res_out: res_out.expect("checked above"),
            version: head.version,
            is_head,
            keep_alive,
            pending: None,
            request_done: false,
            head_sent: false,
            mode: BodyMode::None,
            response_done: false,
            exited: false,
            has_inbox,
        });
        self.parser.reuse(req.headers);
    }

    /// Answers the request whose head is `req` at once with `response`
    /// (its length set); `keep` says whether the connection may stay open.
    /// A fixed answer's own encoding is used when it fits the request.
    fn answer_now(
        &mut self,
        req: &super::Head,
        is_head: bool,
        keep: bool,
        response: (&ResponseHead, &Bytes),
        fixed: Option<&FixedAnswer>,
    ) {
        let date = self.config.date;
        let date_line = |out: &mut BytesMut| {
            if date {
                put_date(out);
            }
        };
        let kept = match fixed {
            Some(f) if req.version == Version::Http11 && keep && !is_head => {
                self.out.reserve(f.status_line.len() + f.rest.len() + 40);
                self.out.put_slice(&f.status_line);
                date_line(&mut self.out);
                self.out.put_slice(&f.rest);
                true
            }
            _ => {
                let (rh, body) = response;
                let (mut mode, kept) =
                    encode_head_with(&mut self.out, rh, req.version, is_head, keep, date_line);
                encode_body(&mut self.out, &mut mode, body);
                // The length is the body's: always whole.
                encode_end(&mut self.out, mode) && kept
            }
        };
        if !kept {
            self.closing = true;
        } else if req.framing != Framing::None {
            // The request body is read and dropped.
            self.skip_body = true;
        }
        self.idle_restart = true;
    }

    /// The time-out in force, if any: idle between requests, or the head
    /// of a request not complete in time.
    fn deadline(&self) -> Option<(Instant, bool)> {
        if self.active.is_some() || self.closing {
            return None;
        }
        let since = self.idle_since?;
        let idle = self.parser.is_idle() && self.parser.buffered() == 0 && self.inbox.is_empty();
        Some(if idle {
            (since + self.config.idle_timeout, true)
        } else {
            (since + self.config.head_timeout, false)
        })
    }
}

impl Component for HttpConnection {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if self.idle_since.is_none() {
            self.idle_since = Some(cx.now());
        }
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                self.abort_active();
                let _ = self.signal.send(Signal::Shutdown);
                return Step::Done;
            }
            self.input_over = true;
        }
        while let Some(exit) = cx.next_exit() {
            if let Some(a) = self.active.as_mut().filter(|a| a.id == exit.id) {
                a.exited = true;
            }
        }
        let mut rounds = 0;
        loop {
            rounds += 1;
            if rounds > ROUNDS {
                return Step::Yield;
            }
            if !self.flush() {
                cx.hold_input();
                return Step::Pause;
            }
            let mut progress = self.pump_response(cx);
            if self.active.as_ref().is_some_and(|a| a.response_done) {
                self.finish_active();
                progress = true;
            }
            progress |= self.pump_requests(cx);
            if !self.out.is_empty() {
                continue;
            }
            if self.closing && self.active.is_none() && self.held.is_none() {
                let _ = self.signal.send(Signal::ProducerFinished);
                return Step::Done;
            }
            if !progress {
                break;
            }
        }
        let now = (self.idle_restart || self.active.is_none() && !self.closing).then(|| cx.now());
        if let Some(now) = now.filter(|_| self.idle_restart) {
            self.idle_since = Some(now);
            self.idle_restart = false;
        }
        if let Some((at, idle)) = self.deadline() {
            let now = now.unwrap_or_else(|| cx.now());
            if now >= at {
                if !idle {
                    self.answer(408, &[], true);
                } else {
                    self.closing = true;
                }
                return Step::Yield;
            }
            // A timer already set for no later than `at`, and not fired
            // yet, is kept: when it fires, this step looks again and sets
            // one for the deadline then in force. So a busy keep-alive
            // connection, whose deadline moves on with every response, does
            // not cancel and set a timer per request.
            let keep = self.timer.is_some_and(|(t, _)| t <= at && t > now);
            if !keep {
                if let Some((t, k)) = self.timer.take() {
                    if t > now {
                        cx.cancel_timer(k);
                    }
                }
                self.timer = Some((at, cx.wake_at(at)));
            }
        }
        cx.hold_input();
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox)
            .add(&self.control)
            .add(&self.outbox)
            .add(&self.signal)
            .adaptive(&self.extra);
    }
}

/// A resource with a fixed response: a head and a whole body.
///
/// | box     | carries  | meaning                                       |
/// |---------|----------|-----------------------------------------------|
/// | inbox   | `Bytes`  | the request body: read and dropped            |
/// | control | `Signal` | ends it (after its response has gone)         |
/// | outbox  | `Part`   | `Head` (with the length), `Body`, `End`       |
/// | signal  | `Signal` | `ProducerFinished` once, at the end           |
pub struct Fixed {
    /// Request body (dropped).
    pub inbox: Inbox<Bytes>,
    /// Request end, shutdown.
    pub control: Inbox<Signal>,
    /// The response.
    pub outbox: Outbox<Part>,
    /// Sent once, at the end.
    pub signal: Outbox<Signal>,
    /// The parts still to send, last first.
    parts: Vec<Part>,
}

impl Fixed {
    /// `head` (its length set to the body's) and `body`.
    pub fn new(head: ResponseHead, body: impl Into<Bytes>) -> Self {
        let body = body.into();
        let head = head.length(body.len() as u64);
        // Sent from the back: End, then the body (if any), then the head.
        let mut parts = Vec::with_capacity(3);
        parts.push(Part::End);
        if !body.is_empty() {
            parts.push(Part::Body(body));
        }
        parts.push(Part::Head(head));
        Fixed {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "response parts"),
            signal: Outbox::signal(),
            parts,
        }
    }

    /// A head with a static Content-Type (no copy of the field).
    fn typed(status: u16, content_type: &'static str) -> ResponseHead {
        let mut head = ResponseHead::new(status);
        head.headers.push(
            Bytes::from_static(b"Content-Type"),
            Bytes::from_static(content_type.as_bytes()),
        );
        head
    }

    /// A `text/plain` response.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self::new(
            Self::typed(status, "text/plain; charset=utf-8"),
            body.into(),
        )
    }

    /// A `text/html` response.
    pub fn html(status: u16, body: impl Into<String>) -> Self {
        Self::new(Self::typed(status, "text/html; charset=utf-8"), body.into())
    }
}

impl Fixed {
    /// Its head (with the length set) and its body, as made (before any
    /// step).
    pub fn into_parts(self) -> (ResponseHead, Bytes) {
        let mut head = ResponseHead::new(500).length(0);
        let mut body = Bytes::new();
        for part in self.parts {
            match part {
                Part::Head(h) => head = h,
                Part::Body(b) => body = b,
                Part::End => {}
            }
        }
        (head, body)
    }
}

impl Component for Fixed {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while self.inbox.recv().is_some() {}
        while let Some(p) = self.parts.pop() {
            if let Err(Full(p)) = self.outbox.send(p) {
                self.parts.push(p);
                return Step::Pause;
            }
        }
        if self.control.recv().is_some() {
            let _ = self.signal.send(Signal::ProducerFinished);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}
