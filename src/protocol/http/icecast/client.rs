//! IcecastClient: fetches an Icecast mount with `Icy-MetaData: 1`, and
//! reconnects with a back-off whenever the connection ends.
//!
//! | box     | carries        | meaning                                                          |
//! |---------|----------------|------------------------------------------------------------------|
//! | control | `Signal`       | shutdown or producer finished: close the connection (if any), wait for it to end, forward the signal, stop |
//! | outbox  | `IcecastEvent` | per connection: `Head` (a 2xx response's head), `Body` bytes as they arrive; then `Disconnected` with the reason and the wait before the next attempt |
//! | signal  | `Signal`       | once, at the end: the control signal, or `Failed(GaveUp)` when it stops trying |
//!
//! Each attempt is a [`SingleShotHttpClient`] child (redirects followed,
//! time-outs on the scheduler's clock, a typed [`ClientError`]). A response
//! that is not 2xx (a mount with no source is a 404) is not passed on: only
//! its end, as `Disconnected(Failed(Status(404)))`.
//!
//! Back-off: after an attempt that got a 2xx head, the next starts after
//! `first_delay`; after `n` attempts in a row that did not, after
//! `first_delay × 2^(n-1)`, at most `max_delay`. It gives up (signal
//! `Failed(GaveUp)`) after `max_attempts` attempts in a row without a 2xx
//! head (default: never), and at once on an error no retry can mend (a
//! bad URL, a request that cannot be written). No jitter: the times are a
//! function of the failures, so tests on virtual time are exact.
//!
//! Back-pressure: when `outbox` is refused it stops reading from the
//! child, whose connection then stops reading from the socket.
//!
//! ```no_run
//! use kamaelia::axon::{link, Scheduler};
//! use kamaelia::protocol::http::icecast::{IcecastClient, IcecastDemux};
//! let client = IcecastClient::new("http://127.0.0.1:8000/live.mp3");
//! let demux = IcecastDemux::new();
//! link(&client.outbox, &demux.inbox).unwrap();
//! link(&client.signal, &demux.control).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(client);
//! s.spawn(demux);
//! s.run();
//! ```

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::axon::{
    link, AdaptiveBoxes, Alarm, BoxSet, Component, Cx, Full, Id, Inbox, Outbox, Signal, Step,
};
use crate::internet::{tcp_connector, Connector};
use crate::protocol::http::client::{
    ClientConfig, ClientError, ClientEvent, ErrorKind, Request, SingleShotHttpClient, Url,
};
use crate::protocol::http::Head;

/// The wait after a connection that worked, and the first step of the
/// back-off.
pub const DEFAULT_FIRST_DELAY: Duration = Duration::from_millis(500);
/// The longest wait between attempts.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(30);

/// Events taken from the child in one step.
const BATCH: usize = 64;
/// Events from the child waiting before it is held back.
const FROM_CHILD_LIMIT: usize = 4;

/// What the client passes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IcecastEvent {
    /// A connection answered 2xx: its head (`icy-metaint` and the rest).
    Head(Head),
    /// Body bytes, as they arrive.
    Body(Bytes),
    /// The connection ended.
    Disconnected(Disconnect),
}

/// Why a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The server ended the stream cleanly (closed after a 2xx response).
    Closed,
    /// The attempt failed: refused, reset, a time-out, a bad response, a
    /// status of 400 or more, ... (see [`ErrorKind`]).
    Failed(ClientError),
}

impl DisconnectReason {
    /// The client error, if it was one.
    pub fn error(&self) -> Option<&ClientError> {
        match self {
            DisconnectReason::Failed(e) => Some(e),
            DisconnectReason::Closed => None,
        }
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::Closed => f.write_str("the server closed the stream"),
            DisconnectReason::Failed(e) => e.fmt(f),
        }
    }
}

/// A connection's end, and what happens next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disconnect {
    /// Why it ended.
    pub reason: DisconnectReason,
    /// Attempts in a row without a 2xx head, this one included (0 when
    /// this one got one).
    pub failures: u32,
    /// The wait before the next attempt; `None`: no more attempts.
    pub retry_in: Option<Duration>,
}

/// Carried by `Signal::Failed` when the client stops trying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GaveUp {
    /// Attempts in a row that failed.
    pub failures: u32,
    /// The reason of the last one.
    pub last: DisconnectReason,
}

impl fmt::Display for GaveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gave up after {} failed attempt(s): {}",
            self.failures, self.last
        )
    }
}

impl std::error::Error for GaveUp {}

/// Time-outs, back-off and the attempt limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcecastConfig {
    /// Each attempt's time-outs and redirect limit.
    pub client: ClientConfig,
    /// Wait after a connection that worked; first back-off step.
    pub first_delay: Duration,
    /// Longest wait.
    pub max_delay: Duration,
    /// Attempts in a row without a 2xx head before giving up (`None`:
    /// never).
    pub max_attempts: Option<u32>,
}

impl Default for IcecastConfig {
    fn default() -> Self {
        IcecastConfig {
            client: ClientConfig::default(),
            first_delay: DEFAULT_FIRST_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
            max_attempts: None,
        }
    }
}

impl IcecastConfig {
    /// The wait after `failures` attempts in a row without a 2xx head.
    pub fn delay(&self, failures: u32) -> Duration {
        // Past 31 doublings the shift would overflow; saturating_mul and
        // max_delay cap the wait long before that anyway.
        let doublings = failures.saturating_sub(1).min(31);
        self.first_delay
            .saturating_mul(1u32 << doublings)
            .min(self.max_delay)
    }
}

/// One attempt: a single-shot client child linked to run-time boxes.
struct Attempt {
    id: Id,
    from: Inbox<ClientEvent>,
    sig: Inbox<Signal>,
    ctl: Outbox<Signal>,
    /// The 2xx head was passed on.
    connected: bool,
    /// The response is not 2xx: its events are dropped.
    refused: bool,
    end: Option<Signal>,
    exited: bool,
    told: bool,
}

enum State {
    /// The next attempt starts at this time (`None`: at once).
    Waiting(Option<Instant>),
    Running(Attempt),
    /// Stopping: the child (if any) is told; then this signal.
    Ending(Option<Attempt>, Signal),
    Done,
}

/// Reconnecting Icecast client; see the module documentation.
pub struct IcecastClient {
    /// Shutdown or finish.
    pub control: Inbox<Signal>,
    /// Heads, body bytes, disconnects.
    pub outbox: Outbox<IcecastEvent>,
    /// Sent once, at the end.
    pub signal: Outbox<Signal>,
    extra: AdaptiveBoxes,
    request: Result<Request, ClientError>,
    config: IcecastConfig,
    connector: Rc<RefCell<Connector>>,
    state: State,
    failures: u32,
    held: Option<IcecastEvent>,
    alarm: Alarm,
}

impl IcecastClient {
    /// A client for `url`; a URL that does not parse is its failure when
    /// it runs (`Failed(GaveUp)` with a `BadUrl` reason), not a panic.
    pub fn new(url: &str) -> Self {
        let request = Url::parse(url)
            .map(Request::get)
            .map_err(|e| ClientError::new(ErrorKind::BadUrl(e), url));
        Self::build(request)
    }

    /// A client for `request` (`Icy-MetaData: 1` is added unless it has
    /// that field).
    pub fn with_request(request: Request) -> Self {
        Self::build(Ok(request))
    }

    fn build(request: Result<Request, ClientError>) -> Self {
        let request = request.map(|r| {
            if r.header_value("icy-metadata").is_some() {
                r
            } else {
                r.header("Icy-MetaData", "1")
            }
        });
        IcecastClient {
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "heads, body bytes, disconnects"),
            signal: Outbox::signal(),
            extra: AdaptiveBoxes::new(),
            request,
            config: IcecastConfig::default(),
            connector: Rc::new(RefCell::new(tcp_connector())),
            state: State::Waiting(None),
            failures: 0,
            held: None,
            alarm: Alarm::default(),
        }
    }

    /// Makes its connections with `connector` (tests pass scripted ones).
    pub fn with_connector(mut self, connector: Connector) -> Self {
        self.connector = Rc::new(RefCell::new(connector));
        self
    }

    /// Sets time-outs, back-off and the attempt limit.
    pub fn config(mut self, config: IcecastConfig) -> Self {
        self.config = config;
        self
    }

    fn start(&mut self, cx: &mut Cx, request: Request) -> Attempt {
        let shared = self.connector.clone();
        let child = SingleShotHttpClient::new(request)
            .config(self.config.client)
            .with_connector(Box::new(move |addr| (shared.borrow_mut())(addr)));
        let from: Inbox<ClientEvent> = self.extra.add_inbox("fromClient", "the attempt's events");
        from.set_limit(Some(FROM_CHILD_LIMIT));
        let sig = self.extra.add_inbox("clientSignal", "the attempt's end");
        let ctl = self
            .extra
            .add_outbox("clientControl", "shutdown for the attempt");
        let wired = link(&child.outbox, &from)
            .and(link(&child.signal, &sig))
            .and(link(&ctl, &child.control));
        if let Err(e) = wired {
            // Cannot happen: fresh boxes of matching types.
            log::error!("icecast client: attempt not linked: {e}");
        }
        Attempt {
            id: cx.spawn_child(child),
            from,
            sig,
            ctl,
            connected: false,
            refused: false,
            end: None,
            exited: false,
            told: false,
        }
    }

    fn dispose(&self, a: Attempt) {
        while a.from.recv().is_some() {}
        while a.sig.recv().is_some() {}
        for name in [a.from.name(), a.sig.name(), a.ctl.name()] {
            let _ = self.extra.remove(name);
        }
    }

    /// Sends the held event; true when none is left.
    fn flush(&mut self) -> bool {
        if let Some(ev) = self.held.take() {
            if let Err(Full(ev)) = self.outbox.send(ev) {
                self.held = Some(ev);
                return false;
            }
        }
        true
    }

    fn send(&mut self, ev: IcecastEvent) -> bool {
        debug_assert!(self.held.is_none());
        self.held = Some(ev);
        self.flush()
    }

    /// Passes on the attempt's events; returns it once it has ended.
    fn pump(&mut self, cx: &mut Cx, mut a: Attempt) -> Result<Attempt, Attempt> {
        while let Some(exit) = cx.next_exit() {
            if exit.id == a.id {
                a.exited = true;
            }
        }
        for _ in 0..BATCH {
            if !self.flush() {
                return Ok(a);
            }
            let Some(ev) = a.from.recv() else {
                break;
            };
            let out = match ev {
                ClientEvent::Head(h) if (200..300).contains(&h.status) => {
                    a.connected = true;
                    self.failures = 0;
                    IcecastEvent::Head(h)
                }
                ClientEvent::Head(_) => {
                    a.refused = true;
                    continue;
                }
                ClientEvent::Body(b) if a.connected && !a.refused => IcecastEvent::Body(b),
                _ => continue,
            };
            if !self.send(out) {
                return Ok(a);
            }
        }
        if !a.from.is_empty() {
            let me = cx.id();
            cx.wake(me);
            return Ok(a);
        }
        if a.end.is_none() {
            a.end = a.sig.recv();
        }
        if a.end.is_some() && (a.exited || !cx.is_alive(a.id)) {
            Err(a)
        } else {
            Ok(a)
        }
    }

    /// An attempt ended: report it, and wait or give up.
    fn ended(&mut self, cx: &mut Cx, a: Attempt) -> Step {
        let reason = match &a.end {
            Some(Signal::Failed(f)) => match f.downcast_ref::<ClientError>() {
                Some(e) => DisconnectReason::Failed(e.clone()),
                None => DisconnectReason::Failed(ClientError {
                    kind: ErrorKind::Io(std::io::ErrorKind::Other),
                    url: self.url(),
                    detail: f.0.to_string(),
                }),
            },
            _ => DisconnectReason::Closed,
        };
        let connected = a.connected;
        self.dispose(a);
        self.report(cx, reason, connected)
    }

    /// Reports an attempt's end, then waits or gives up.
    fn report(&mut self, cx: &mut Cx, reason: DisconnectReason, connected: bool) -> Step {
        if !connected {
            self.failures = self.failures.saturating_add(1);
        }
        let permanent = matches!(
            reason.error().map(|e| &e.kind),
            Some(ErrorKind::BadUrl(_) | ErrorKind::BadRequest(_))
        );
        let limit = self.config.max_attempts.is_some_and(|m| self.failures >= m);
        let retry_in = (!permanent && !limit).then(|| self.config.delay(self.failures));
        let ev = IcecastEvent::Disconnected(Disconnect {
            reason: reason.clone(),
            failures: self.failures,
            retry_in,
        });
        let sent = self.send(ev);
        match retry_in {
            Some(d) => {
                let at = cx.now() + d;
                self.alarm.set(cx, at);
                self.state = State::Waiting(Some(at));
            }
            None => {
                let sig = Signal::failed(GaveUp {
                    failures: self.failures,
                    last: reason,
                });
                self.state = State::Ending(None, sig);
            }
        }
        if sent {
            Step::Yield
        } else {
            Step::Pause
        }
    }

    fn url(&self) -> String {
        match &self.request {
            Ok(r) => r.url.to_string(),
            Err(e) => e.url.clone(),
        }
    }
}

impl Component for IcecastClient {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if let Some(sig) = self.control.recv() {
            self.alarm.clear(cx);
            match std::mem::replace(&mut self.state, State::Done) {
                State::Running(a) => self.state = State::Ending(Some(a), sig),
                State::Waiting(_) => self.state = State::Ending(None, sig),
                other => self.state = other,
            }
        }
        match std::mem::replace(&mut self.state, State::Done) {
            State::Waiting(at) => {
                if !self.flush() {
                    self.state = State::Waiting(at);
                    return Step::Pause;
                }
                if let Some(t) = at.filter(|t| cx.now() < *t) {
                    self.alarm.set(cx, t);
                    self.state = State::Waiting(at);
                    return Step::Pause;
                }
                match self.request.clone() {
                    Ok(r) => {
                        let a = self.start(cx, r);
                        self.state = State::Running(a);
                        Step::Yield
                    }
                    // A URL it cannot fetch: no connection to make.
                    Err(e) => self.report(cx, DisconnectReason::Failed(e), false),
                }
            }
            State::Running(a) => match self.pump(cx, a) {
                Ok(a) => {
                    self.state = State::Running(a);
                    Step::Pause
                }
                Err(a) => self.ended(cx, a),
            },
            State::Ending(Some(mut a), sig) => {
                while let Some(exit) = cx.next_exit() {
                    if exit.id == a.id {
                        a.exited = true;
                    }
                }
                if !a.told && !a.exited && cx.is_alive(a.id) {
                    a.told = true;
                    let _ = a.ctl.send(Signal::Shutdown);
                }
                if a.exited || !cx.is_alive(a.id) {
                    self.dispose(a);
                    self.state = State::Ending(None, sig);
                    return Step::Yield;
                }
                // Whatever it still sends is dropped.
                while a.from.recv().is_some() {}
                while a.sig.recv().is_some() {}
                self.state = State::Ending(Some(a), sig);
                Step::Pause
            }
            State::Ending(None, sig) => {
                if !sig.is_shutdown() && !self.flush() {
                    self.state = State::Ending(None, sig);
                    return Step::Pause;
                }
                self.held = None;
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
