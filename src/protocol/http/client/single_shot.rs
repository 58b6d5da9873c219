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
//! each attempt until the final response head; default 30 s) and idle
//! (no byte of the body for so long; default 30 s).
//!
//! The connection is a [`TcpClient`] child made with a [`Connector`] (the
//! network layer's factory; tests pass scripted ones that fail at any
//! step). The request says `Connection: close`. Back-pressure: when
//! `outbox` is refused, it stops parsing, its inbox from the connection
//! fills (at most 4 chunks), and the connection stops reading.
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
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::axon::{
    link, unlink, Alarm, BoxSet, Component, Cx, Full, Id, Inbox, Outbox, Signal, Step,
};
use crate::internet::{tcp_connector, Connector, NetError, TcpClient};
use crate::protocol::http::{Event, Head, Headers, HttpError, Parser};

use super::error::{ClientError, ErrorKind, Phase};
use super::request::Request;
use super::url::{Scheme, Url, UrlError};

/// Redirects followed by default.
pub const MAX_REDIRECTS: usize = 5;
/// Default connect, head and idle time-outs.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Chunks from the connection waiting to be parsed before it stops reading.
const FROM_CONN_LIMIT: usize = 4;

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
            head_timeout: DEFAULT_TIMEOUT,
            idle_timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// A connector shared by the successive connections of a client.
pub(crate) type SharedConnector = Rc<RefCell<Connector>>;

/// A connector for one connection that asks the shared one.
pub(crate) fn borrow_connector(shared: &SharedConnector) -> Connector {
    let shared = shared.clone();
    Box::new(move |addr| (shared.borrow_mut())(addr))
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
    to_conn: Outbox<Bytes>,
    conn_ctl: Outbox<Signal>,
    from_conn: Inbox<Bytes>,
    conn_sig: Inbox<Signal>,
    request: Request,
    config: ClientConfig,
    connector: SharedConnector,
    state: State,
    conn: Option<Id>,
    told_conn: bool,
    parser: Parser,
    redirects: usize,
    /// Events refused by a full outbox, in order.
    pending: VecDeque<ClientEvent>,
    final_head: Option<u16>,
    in_interim: bool,
    conn_ended: bool,
    head_deadline: Option<Instant>,
    last_read: Option<Instant>,
    alarm: Alarm,
}

impl SingleShotHttpClient {
    /// A client for `request`, connecting over TCP.
    pub fn new(request: Request) -> Self {
        let from_conn = Inbox::new("fromConnection", "bytes of the response");
        from_conn.set_limit(Some(FROM_CONN_LIMIT));
        SingleShotHttpClient {
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "redirects, head, body chunks, end"),
            signal: Outbox::signal(),
            to_conn: Outbox::new("toConnection", "bytes of the request"),
            conn_ctl: Outbox::new("connectionControl", "shutdown for the connection"),
            from_conn,
            conn_sig: Inbox::new("connectionSignal", "the connection's end"),
            request,
            config: ClientConfig::default(),
            connector: Rc::new(RefCell::new(tcp_connector())),
            state: State::Start,
            conn: None,
            told_conn: false,
            parser: Parser::response(),
            redirects: 0,
            pending: VecDeque::new(),
            final_head: None,
            in_interim: false,
            conn_ended: false,
            head_deadline: None,
            last_read: None,
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

    fn failure(&self, kind: ErrorKind) -> Signal {
        Signal::failed(ClientError::new(kind, self.request.url.to_string()))
    }

    /// Starts a connection carrying the request.
    fn start_attempt(&mut self, cx: &mut Cx) -> Option<Signal> {
        let url = &self.request.url;
        if url.scheme() != Scheme::Http {
            return Some(self.failure(ErrorKind::BadUrl(UrlError::UnsupportedScheme(
                url.scheme().as_str().into(),
            ))));
        }
        let bytes = match self.request.to_bytes(false) {
            Ok(b) => b,
            Err(e) => return Some(self.failure(ErrorKind::BadRequest(e))),
        };
        let tcp = TcpClient::new(url.host(), url.port())
            .with_connector(borrow_connector(&self.connector))
            .connect_timeout(self.config.connect_timeout);
        unlink(&self.to_conn);
        unlink(&self.conn_ctl);
        let wired = link(&self.to_conn, &tcp.inbox)
            .and(link(&tcp.outbox, &self.from_conn))
            .and(link(&tcp.signal, &self.conn_sig))
            .and(link(&self.conn_ctl, &tcp.control));
        if let Err(e) = wired {
            // Cannot happen: every box is typed and unlinked first.
            log::error!("http client: connection not linked: {e}");
        }
        let _ = self.to_conn.send(bytes);
        self.parser = Parser::response();
        self.parser
            .expect_response_to(self.request.method.as_bytes());
        self.final_head = None;
        self.in_interim = false;
        self.conn_ended = false;
        self.told_conn = false;
        self.last_read = None;
        self.head_deadline = Some(cx.now() + self.config.head_timeout);
        self.conn = Some(cx.spawn_child(tcp));
        self.state = State::Running;
        None
    }

    /// Tells the connection to stop, if it still runs.
    fn close_conn(&mut self, cx: &mut Cx) {
        if let Some(id) = self.conn {
            if !self.told_conn && cx.is_alive(id) {
                self.told_conn = true;
                let _ = self.conn_ctl.send(Signal::Shutdown);
            }
        }
    }

    fn finish(&mut self, cx: &mut Cx, sig: Signal) {
        self.close_conn(cx);
        self.alarm.clear(cx);
        self.state = State::Ending(sig);
    }

    /// Passes an event on, or keeps it (in order) when refused.
    fn emit(&mut self, ev: ClientEvent) {
        if !self.pending.is_empty() {
            self.pending.push_back(ev);
        } else if let Err(Full(ev)) = self.outbox.send(ev) {
            self.pending.push_back(ev);
        }
    }

    /// Sends what was refused; true when nothing is left waiting.
    fn flush(&mut self) -> bool {
        while let Some(ev) = self.pending.pop_front() {
            if let Err(Full(ev)) = self.outbox.send(ev) {
                self.pending.push_front(ev);
                return false;
            }
        }
        true
    }

    /// One parser event. Returns true when the request is over (finished,
    /// failed or redirected).
    fn on_event(&mut self, cx: &mut Cx, ev: Event) -> bool {
        match ev {
            Event::Head(head) => {
                if head.is_interim() {
                    self.in_interim = true;
                    return false;
                }
                if head.status == 101 {
                    let sig = self.failure(ErrorKind::Status(101));
                    self.finish(cx, sig);
                    return true;
                }
                match redirect_target(&head, &self.request.url) {
                    Some(Err(e)) => {
                        let sig = self.failure(ErrorKind::BadUrl(e));
                        self.finish(cx, sig);
                        return true;
                    }
                    Some(Ok(_)) if self.redirects >= self.config.max_redirects => {
                        let sig =
                            self.failure(ErrorKind::TooManyRedirects(self.config.max_redirects));
                        self.finish(cx, sig);
                        return true;
                    }
                    Some(Ok(to)) => {
                        self.redirects += 1;
                        self.emit(ClientEvent::Redirect {
                            status: head.status,
                            to: to.clone(),
                        });
                        self.request = redirected(&self.request, head.status, to);
                        self.close_conn(cx);
                        self.state = State::Switching;
                        return true;
                    }
                    None => {}
                }
                self.final_head = Some(head.status);
                self.last_read = Some(cx.now());
                self.emit(ClientEvent::Head(head));
            }
            Event::Body(b) => {
                if !self.in_interim {
                    self.emit(ClientEvent::Body(b));
                }
            }
            Event::Trailers(t) => self.emit(ClientEvent::Trailers(t)),
            Event::End => {
                if self.in_interim {
                    self.in_interim = false;
                    return false;
                }
                self.emit(ClientEvent::End);
                let sig = match self.final_head {
                    Some(s) if s >= 400 => self.failure(ErrorKind::Status(s)),
                    _ => Signal::ProducerFinished,
                };
                self.finish(cx, sig);
                return true;
            }
            Event::Tunnel(_) => {}
        }
        false
    }

    fn step_running(&mut self, cx: &mut Cx) -> Step {
        loop {
            if !self.flush() {
                // Woken when the consumer takes one; input waits meanwhile.
                return Step::Pause;
            }
            match self.parser.next_event() {
                Ok(Some(ev)) => {
                    if self.on_event(cx, ev) {
                        return Step::Yield;
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    let sig = self.failure(ErrorKind::BadResponse(e));
                    self.finish(cx, sig);
                    return Step::Yield;
                }
            }
            if let Some(chunk) = self.from_conn.recv() {
                if self.final_head.is_some() {
                    self.last_read = Some(cx.now());
                }
                self.parser.feed(chunk);
                continue;
            }
            if self.conn_ended {
                // The stream ended and the parser wants more: cut short
                // (a close before any response reads as nothing at all).
                let sig = self.failure(ErrorKind::BadResponse(HttpError::Truncated));
                self.finish(cx, sig);
                return Step::Yield;
            }
            if let Some(sig) = self.conn_sig.recv() {
                match sig {
                    Signal::Failed(f) => {
                        let err = match f.downcast_ref::<NetError>() {
                            Some(n) => ClientError::from_net(n, self.request.url.to_string()),
                            None => ClientError::new(
                                ErrorKind::Io(std::io::ErrorKind::Other),
                                self.request.url.to_string(),
                            ),
                        };
                        self.finish(cx, Signal::failed(err));
                        return Step::Yield;
                    }
                    _ => {
                        // The peer closed: a close-delimited body ends.
                        self.conn_ended = true;
                        self.parser.eof();
                        continue;
                    }
                }
            }
            break;
        }
        // Time-outs.
        let now = cx.now();
        let (deadline, phase) = match (self.final_head, self.last_read) {
            (Some(_), Some(t)) => (t + self.config.idle_timeout, Phase::Idle),
            _ => (
                self.head_deadline.unwrap_or(now + self.config.head_timeout),
                Phase::Head,
            ),
        };
        if now >= deadline {
            let sig = self.failure(ErrorKind::TimedOut(phase));
            self.finish(cx, sig);
            return Step::Yield;
        }
        self.alarm.set(cx, deadline);
        Step::Pause
    }

    /// Takes the ends of children; true when the connection has ended.
    fn conn_gone(&mut self, cx: &mut Cx) -> bool {
        while let Some(exit) = cx.next_exit() {
            if Some(exit.id) == self.conn {
                self.conn = None;
            }
        }
        self.conn.is_none()
    }

    /// Throws away what the ended connection left.
    fn clear_conn_boxes(&mut self) {
        while self.from_conn.recv().is_some() {}
        while self.conn_sig.recv().is_some() {}
    }
}

impl Component for SingleShotHttpClient {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() && !matches!(self.state, State::Done) {
                self.pending.clear();
                self.finish(cx, Signal::Shutdown);
            }
        }
        let gone = self.conn_gone(cx);
        match &self.state {
            State::Start => {
                if let Some(sig) = self.start_attempt(cx) {
                    self.finish(cx, sig);
                }
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
                self.clear_conn_boxes();
                if let Some(sig) = self.start_attempt(cx) {
                    self.finish(cx, sig);
                }
                Step::Yield
            }
            State::Ending(_) => {
                if !self.flush() {
                    return Step::Pause;
                }
                if !gone {
                    self.clear_conn_boxes();
                    cx.hold_input();
                    return Step::Pause;
                }
                self.clear_conn_boxes();
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
        crate::boxes!(set; self.control, self.outbox, self.signal, self.to_conn, self.conn_ctl,
            self.from_conn, self.conn_sig);
    }
}
