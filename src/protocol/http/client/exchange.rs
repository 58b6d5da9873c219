//! The parts the plain clients share: a connection child with its own
//! run-time boxes ([`Conn`]), and one request carried through redirects
//! ([`Fetch`]).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Instant;

use bytes::Bytes;

use crate::axon::{link, AdaptiveBoxes, Cx, Id, Inbox, Outbox, Signal};
use crate::internet::{Connector, NetError, TcpClient};
use crate::protocol::http::{Event, HttpError, Parser};

use super::error::{ClientError, ErrorKind, Phase};
use super::https::SingleShotHttpsClient;
use super::request::Request;
use super::single_shot::{redirect_target, redirected, ClientConfig, ClientEvent};
use super::url::{Scheme, Url, UrlError};

/// Chunks from a connection waiting to be parsed before it stops reading.
const FROM_CONN_LIMIT: usize = 4;

/// A connector shared by the successive connections of a client.
pub(crate) type SharedConnector = Rc<RefCell<Connector>>;

/// Where a connection goes: host and port.
pub(crate) type HostKey = (String, u16);

/// A [`TcpClient`] child, linked to run-time boxes of its parent.
pub(crate) struct Conn {
    pub id: Id,
    pub key: HostKey,
    to: Outbox<Bytes>,
    ctl: Outbox<Signal>,
    from: Inbox<Bytes>,
    sig: Inbox<Signal>,
    told: bool,
    /// The connection said it ended (peer closed, or failed).
    pub ended: bool,
}

impl Conn {
    /// Starts a connection to `url`'s host and port.
    pub fn open(
        cx: &mut Cx,
        boxes: &AdaptiveBoxes,
        url: &Url,
        connector: &SharedConnector,
        config: &ClientConfig,
    ) -> Conn {
        let shared = connector.clone();
        let tcp = TcpClient::new(url.host(), url.port())
            .with_connector(Box::new(move |addr| (shared.borrow_mut())(addr)))
            .connect_timeout(config.connect_timeout);
        let to = boxes.add_outbox("toConnection", "request bytes");
        let ctl = boxes.add_outbox("connectionControl", "shutdown for the connection");
        let from: Inbox<Bytes> = boxes.add_inbox("fromConnection", "response bytes");
        from.set_limit(Some(FROM_CONN_LIMIT));
        let sig = boxes.add_inbox("connectionSignal", "the connection's end");
        let wired = link(&to, &tcp.inbox)
            .and(link(&tcp.outbox, &from))
            .and(link(&tcp.signal, &sig))
            .and(link(&ctl, &tcp.control));
        if let Err(e) = wired {
            // Cannot happen: fresh boxes of matching types.
            log::error!("http client: connection not linked: {e}");
        }
        Conn {
            id: cx.spawn_child(tcp),
            key: (url.host().to_string(), url.port()),
            to,
            ctl,
            from,
            sig,
            told: false,
            ended: false,
        }
    }

    /// True while the connection is still being made: the request has
    /// not been taken from its inbox yet (a connection takes what it is
    /// to write as soon as it is open).
    pub fn connecting(&self, cx: &Cx) -> bool {
        cx.is_alive(self.id) && cx.find_box(self.id, "inbox").is_ok_and(|b| !b.is_empty())
    }

    /// Writes bytes to the peer.
    pub fn send(&self, bytes: Bytes) {
        let _ = self.to.send(bytes);
    }

    /// Tells the connection to stop, if it still runs.
    pub fn close(&mut self, cx: &Cx) {
        if !self.told && cx.is_alive(self.id) {
            self.told = true;
            let _ = self.ctl.send(Signal::Shutdown);
        }
    }

    /// Takes what arrived while no request was waiting on this (idle,
    /// kept-alive) connection: true when it is still fit for another
    /// request (nothing arrived, it did not end).
    pub fn idle_check(&mut self) -> bool {
        let mut fit = true;
        while self.from.recv().is_some() {
            fit = false;
        }
        while self.sig.recv().is_some() {
            self.ended = true;
            fit = false;
        }
        fit
    }

    /// Removes its boxes from the parent (after it ended), throwing away
    /// what it left in them.
    pub fn dispose(self, boxes: &AdaptiveBoxes) {
        while self.from.recv().is_some() {}
        while self.sig.recv().is_some() {}
        for name in [
            self.to.name(),
            self.ctl.name(),
            self.from.name(),
            self.sig.name(),
        ] {
            let _ = boxes.remove(name);
        }
    }
}

/// A [`SingleShotHttpsClient`] child (an `https://` request on its own
/// thread), linked to run-time boxes of its parent.
pub(crate) struct TlsChild {
    pub id: Id,
    from: Inbox<ClientEvent>,
    sig: Inbox<Signal>,
    ctl: Outbox<Signal>,
    told: bool,
}

impl TlsChild {
    /// Starts the threaded client for `request`.
    pub fn open(
        cx: &mut Cx,
        boxes: &AdaptiveBoxes,
        request: Request,
        config: ClientConfig,
        roots: &[Vec<u8>],
    ) -> TlsChild {
        let mut client = SingleShotHttpsClient::new(request).config(config);
        for r in roots {
            client = client.trust_der(r.clone());
        }
        let child = client.build();
        let from: Inbox<ClientEvent> = boxes.add_inbox("fromTls", "the HTTPS client's events");
        from.set_limit(Some(FROM_CONN_LIMIT));
        let sig = boxes.add_inbox("tlsSignal", "the HTTPS client's end");
        let ctl = boxes.add_outbox("tlsControl", "shutdown for the HTTPS client");
        let wired = link(&child.outbox, &from)
            .and(link(&child.signal, &sig))
            .and(link(&ctl, &child.control));
        if let Err(e) = wired {
            // Cannot happen: fresh boxes of matching types.
            log::error!("http client: HTTPS client not linked: {e}");
        }
        TlsChild {
            id: cx.spawn_child(child),
            from,
            sig,
            ctl,
            told: false,
        }
    }

    /// The next event, then (once they are all taken) the end signal.
    pub fn next(&self) -> Option<Result<ClientEvent, Signal>> {
        match self.from.recv() {
            Some(ev) => Some(Ok(ev)),
            None => self.sig.recv().map(Err),
        }
    }

    /// Tells it to stop, if it still runs.
    pub fn close(&mut self, cx: &Cx) {
        if !self.told && cx.is_alive(self.id) {
            self.told = true;
            let _ = self.ctl.send(Signal::Shutdown);
        }
    }

    /// Its end signal as the parent reports it: the child was given only
    /// the redirects left, so too many redirects names the parent's limit.
    pub fn renumber(sig: Signal, max_redirects: usize) -> Signal {
        if let Signal::Failed(f) = &sig {
            if let Some(e) = f.downcast_ref::<ClientError>() {
                if let ErrorKind::TooManyRedirects(_) = e.kind {
                    let mut e = e.clone();
                    e.kind = ErrorKind::TooManyRedirects(max_redirects);
                    return Signal::failed(e);
                }
            }
        }
        sig
    }

    /// Removes its boxes from the parent (after it ended).
    pub fn dispose(self, boxes: &AdaptiveBoxes) {
        while self.from.recv().is_some() {}
        while self.sig.recv().is_some() {}
        for name in [self.from.name(), self.sig.name(), self.ctl.name()] {
            let _ = boxes.remove(name);
        }
    }
}

/// What [`Fetch::pump`] came to.
pub(crate) enum Outcome {
    /// More events wait in `events`; take them, then pump again.
    Events,
    /// Nothing to do until woken, at the latest at this time.
    Wait(Instant),
    /// A redirect: close this connection; the request continues with
    /// `request` (already updated) on a new one.
    Redirect,
    /// The response is complete; the connection may carry another
    /// request if `reusable`.
    Complete {
        /// The final status.
        status: u16,
        /// Kept alive, with nothing after the response.
        reusable: bool,
    },
    /// The request failed.
    Failed(ClientError),
}

/// One request, through its redirects.
pub(crate) struct Fetch {
    pub request: Request,
    config: ClientConfig,
    redirects: usize,
    parser: Parser,
    max_body: Option<u64>,
    final_head: Option<(u16, bool)>,
    in_interim: bool,
    head_deadline: Option<Instant>,
    last_read: Option<Instant>,
    /// Some response byte arrived on the current connection.
    pub got_bytes: bool,
    /// Events not yet taken by the component.
    pub events: VecDeque<ClientEvent>,
}

impl Fetch {
    pub fn new(request: Request, config: ClientConfig, max_body: Option<u64>) -> Fetch {
        Fetch {
            request,
            config,
            redirects: 0,
            parser: Parser::response(),
            max_body,
            final_head: None,
            in_interim: false,
            head_deadline: None,
            last_read: None,
            got_bytes: false,
            events: VecDeque::new(),
        }
    }

    /// The configuration for an HTTPS client taking the request over
    /// from here: the redirects left.
    pub fn tls_config(&self) -> ClientConfig {
        ClientConfig {
            max_redirects: self.config.max_redirects.saturating_sub(self.redirects),
            ..self.config
        }
    }

    pub fn error(&self, kind: ErrorKind) -> ClientError {
        ClientError::new(kind, self.request.url.to_string())
    }

    /// The bytes of the request for the current URL, or why it cannot be
    /// fetched by the plain client.
    pub fn request_bytes(&self, keep_alive: bool) -> Result<Bytes, ClientError> {
        let url = &self.request.url;
        if url.scheme() != Scheme::Http {
            return Err(self.error(ErrorKind::BadUrl(UrlError::UnsupportedScheme(
                url.scheme().as_str().into(),
            ))));
        }
        self.request
            .to_bytes(keep_alive)
            .map_err(|e| self.error(ErrorKind::BadRequest(e)))
    }

    /// Sends the request on `conn` and readies the parser for its
    /// response.
    pub fn begin(&mut self, conn: &Conn, bytes: Bytes, now: Instant) {
        conn.send(bytes);
        self.parser = Parser::response();
        self.parser.set_max_body(self.max_body);
        self.parser
            .expect_response_to(self.request.method.as_bytes());
        self.final_head = None;
        self.in_interim = false;
        self.got_bytes = false;
        self.last_read = None;
        self.head_deadline = Some(now + self.config.head_timeout);
    }

    /// Reads what `conn` delivered and parses it, until an event is ready,
    /// the request is over, or nothing more can be done now.
    pub fn pump(&mut self, conn: &mut Conn, cx: &Cx) -> Outcome {
        let now = cx.now();
        loop {
            if !self.events.is_empty() {
                return Outcome::Events;
            }
            match self.parser.next_event() {
                Ok(Some(ev)) => {
                    if let Some(outcome) = self.on_event(ev, now) {
                        return outcome;
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => return Outcome::Failed(self.error(ErrorKind::BadResponse(e))),
            }
            if let Some(chunk) = conn.from.recv() {
                self.got_bytes = true;
                if self.final_head.is_some() {
                    self.last_read = Some(now);
                }
                self.parser.feed(chunk);
                continue;
            }
            if conn.ended {
                // The stream ended and the parser wants more: cut short
                // (a close before any response reads as nothing at all).
                return Outcome::Failed(self.error(ErrorKind::BadResponse(HttpError::Truncated)));
            }
            if let Some(sig) = conn.sig.recv() {
                conn.ended = true;
                if let Signal::Failed(f) = sig {
                    let url = self.request.url.to_string();
                    let err = match f.downcast_ref::<NetError>() {
                        Some(n) => ClientError::from_net(n, url),
                        None => ClientError::new(ErrorKind::Io(std::io::ErrorKind::Other), url),
                    };
                    return Outcome::Failed(err);
                }
                // The peer closed: a close-delimited body ends.
                self.parser.eof();
                continue;
            }
            break;
        }
        let (deadline, phase) = match (self.final_head, self.last_read) {
            (Some(_), Some(t)) => (t + self.config.idle_timeout, Phase::Idle),
            _ => (
                self.head_deadline.unwrap_or(now + self.config.head_timeout),
                Phase::Head,
            ),
        };
        if now >= deadline {
            // A head time-out shorter than the connect one can run out
            // while connecting: say which wait it was.
            let phase = if phase == Phase::Head && conn.connecting(cx) {
                Phase::Connect
            } else {
                phase
            };
            return Outcome::Failed(self.error(ErrorKind::TimedOut(phase)));
        }
        Outcome::Wait(deadline)
    }

    fn on_event(&mut self, ev: Event, now: Instant) -> Option<Outcome> {
        match ev {
            Event::Head(head) => {
                if head.is_interim() {
                    self.in_interim = true;
                    return None;
                }
                if head.status == 101 {
                    return Some(Outcome::Failed(self.error(ErrorKind::Status(101))));
                }
                match redirect_target(&head, &self.request.url) {
                    Some(Err(e)) => return Some(Outcome::Failed(self.error(ErrorKind::BadUrl(e)))),
                    Some(Ok(_)) if self.redirects >= self.config.max_redirects => {
                        let n = self.config.max_redirects;
                        return Some(Outcome::Failed(self.error(ErrorKind::TooManyRedirects(n))));
                    }
                    Some(Ok(to)) => {
                        self.redirects += 1;
                        self.events.push_back(ClientEvent::Redirect {
                            status: head.status,
                            to: to.clone(),
                        });
                        self.request = redirected(&self.request, head.status, to);
                        return Some(Outcome::Redirect);
                    }
                    None => {}
                }
                self.final_head = Some((head.status, head.keep_alive));
                self.last_read = Some(now);
                self.events.push_back(ClientEvent::Head(head));
            }
            Event::Body(b) => {
                if !self.in_interim {
                    self.events.push_back(ClientEvent::Body(b));
                }
            }
            Event::Trailers(t) => self.events.push_back(ClientEvent::Trailers(t)),
            Event::End => {
                if self.in_interim {
                    self.in_interim = false;
                    return None;
                }
                self.events.push_back(ClientEvent::End);
                let (status, keep_alive) = self.final_head.unwrap_or((0, false));
                return Some(Outcome::Complete {
                    status,
                    reusable: keep_alive && self.parser.is_idle() && self.parser.buffered() == 0,
                });
            }
            Event::Tunnel(_) => {}
        }
        None
    }
}
