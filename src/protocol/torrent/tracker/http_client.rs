//! HttpTrackerClient: one announce or one scrape to an HTTP tracker, over
//! a [`SingleShotHttpClient`] child; the reply read with
//! [`http_wire`](super::http_wire) and passed on as one typed result.
//!
//! | box     | carries             | meaning                                                   |
//! |---------|---------------------|-----------------------------------------------------------|
//! | control | `Signal`            | shutdown: stop now (the request is abandoned, nothing is sent on `outbox`) |
//! | outbox  | `HttpTrackerResult` | exactly one: the reply, or why there is none               |
//! | signal  | `Signal`            | once, at the end: `ProducerFinished` after the result, `Shutdown` when told to |
//!
//! Errors ([`TrackerError`]): the HTTP exchange failed (refused, time-out,
//! bad response: [`TrackerError::Http`]), the tracker answered with a
//! status of 400 or more and no bencoded `failure reason`
//! ([`TrackerError::Status`]), the body is over [`MAX_REPLY`]
//! ([`TrackerError::TooBig`]), or the body is not a reply
//! ([`TrackerError::Reply`]: a `failure reason`, bad bencode, no
//! `interval`, a peer list of odd length...).
//!
//! It ends only after its HTTP client child has (which waits for its
//! connection), so nothing is left running.
//!
//! ```no_run
//! use kamaelia::axon::{link, Inbox, Scheduler};
//! use kamaelia::protocol::torrent::tracker::http_client::{HttpTrackerClient, HttpTrackerResult};
//! # let req: kamaelia::protocol::torrent::tracker::AnnounceRequest = todo!();
//! let client = HttpTrackerClient::announce("http://127.0.0.1:6969/announce", &req);
//! let got: Inbox<HttpTrackerResult> = Inbox::inbox();
//! link(&client.outbox, &got).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(client);
//! s.run();
//! println!("{:?}", got.recv());
//! ```

use std::fmt;

use bytes::Bytes;

use super::http_wire::{
    announce_url, parse_announce_reply, parse_scrape_reply, scrape_url, scrape_url_for, WireError,
};
use super::{AnnounceReply, AnnounceRequest, InfoHash, ScrapeEntry};
use crate::axon::{link, BoxSet, Component, Cx, Inbox, Outbox, Signal, Step};
use crate::internet::Connector;
use crate::protocol::http::client::{
    ClientConfig, ClientError, ClientEvent, ErrorKind, SingleShotHttpClient,
};

/// The largest reply body read (a reply of 200 peers is a few kB; a
/// scrape of 64 torrents under 5 kB).
pub const MAX_REPLY: usize = 256 << 10;

/// What a tracker answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpTrackerReply {
    /// To an announce.
    Announce(AnnounceReply),
    /// To a scrape: one entry per torrent the tracker listed.
    Scrape(Vec<ScrapeEntry>),
}

/// Why there is no reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackerError {
    /// The HTTP exchange failed (the client's reason).
    Http(ErrorKind),
    /// An HTTP status of 400 or more without a `failure reason` body.
    Status(u16),
    /// A body over [`MAX_REPLY`] bytes.
    TooBig,
    /// The body is no reply: a `failure reason`, or malformed.
    Reply(WireError),
    /// The announce URL has no scrape URL (BEP 48).
    NoScrape,
}

impl fmt::Display for TrackerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrackerError::Http(k) => write!(f, "HTTP: {k:?}"),
            TrackerError::Status(s) => write!(f, "HTTP status {s}"),
            TrackerError::TooBig => write!(f, "reply over {MAX_REPLY} bytes"),
            TrackerError::Reply(e) => write!(f, "{e}"),
            TrackerError::NoScrape => f.write_str("the tracker has no scrape URL"),
        }
    }
}

impl std::error::Error for TrackerError {}

/// The one message an [`HttpTrackerClient`] sends.
pub type HttpTrackerResult = Result<HttpTrackerReply, TrackerError>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Announce,
    Scrape,
}

/// One tracker request; see the module documentation.
pub struct HttpTrackerClient {
    /// Shutdown.
    pub control: Inbox<Signal>,
    /// The result.
    pub outbox: Outbox<HttpTrackerResult>,
    /// Sent once, at the end.
    pub signal: Outbox<Signal>,
    from_http: Inbox<ClientEvent>,
    http_signal: Inbox<Signal>,
    to_http: Outbox<Signal>,
    kind: Kind,
    /// Not yet started (taken when spawned).
    http: Option<SingleShotHttpClient>,
    /// A result decided before the request (no scrape URL).
    early: Option<TrackerError>,
    body: Vec<u8>,
    too_big: bool,
    told_to_stop: bool,
}

impl HttpTrackerClient {
    fn with(kind: Kind, url: Result<String, TrackerError>) -> Self {
        let (http, early) = match url {
            Ok(u) => (Some(SingleShotHttpClient::get(&u)), None),
            Err(e) => (None, Some(e)),
        };
        HttpTrackerClient {
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "the tracker's reply, or why not"),
            signal: Outbox::signal(),
            from_http: Inbox::new("_http", "the HTTP client's events"),
            http_signal: Inbox::new("_http_signal", "the HTTP client's end"),
            to_http: Outbox::new("_http_control", "shutdown for the HTTP client"),
            kind,
            http,
            early,
            body: Vec::new(),
            too_big: false,
            told_to_stop: false,
        }
    }

    /// An announce of `req` to the tracker at `announce` (its URL).
    pub fn announce(announce: &str, req: &AnnounceRequest) -> Self {
        Self::with(Kind::Announce, Ok(announce_url(announce, req)))
    }

    /// A scrape of `hashes` from the tracker whose announce URL is
    /// `announce` (the scrape URL is derived as BEP 48 says).
    pub fn scrape(announce: &str, hashes: &[InfoHash]) -> Self {
        let url = scrape_url(announce)
            .map(|s| scrape_url_for(&s, hashes))
            .ok_or(TrackerError::NoScrape);
        Self::with(Kind::Scrape, url)
    }

    /// Makes its connection with `connector` (tests pass scripted ones).
    pub fn with_connector(mut self, connector: Connector) -> Self {
        self.http = self.http.take().map(|h| h.with_connector(connector));
        self
    }

    /// Sets the HTTP client's time-outs.
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.http = self.http.take().map(|h| h.config(config));
        self
    }

    fn result(&mut self, sig: Signal) -> HttpTrackerResult {
        if self.too_big {
            return Err(TrackerError::TooBig);
        }
        let parsed = match self.kind {
            Kind::Announce => parse_announce_reply(&self.body).map(HttpTrackerReply::Announce),
            Kind::Scrape => parse_scrape_reply(&self.body).map(HttpTrackerReply::Scrape),
        };
        match sig {
            Signal::ProducerFinished => parsed.map_err(TrackerError::Reply),
            Signal::Failed(f) => {
                let kind = f
                    .downcast_ref::<ClientError>()
                    .map(|e| e.kind.clone())
                    .unwrap_or(ErrorKind::Reset);
                match (kind, parsed) {
                    // A refusal sent with an error status: the reason says more.
                    (ErrorKind::Status(_), Err(WireError::Failure(r))) => {
                        Err(TrackerError::Reply(WireError::Failure(r)))
                    }
                    (ErrorKind::Status(s), _) => Err(TrackerError::Status(s)),
                    (k, _) => Err(TrackerError::Http(k)),
                }
            }
            _ => Err(TrackerError::Http(ErrorKind::Reset)),
        }
    }

    fn take_body(&mut self, b: Bytes) {
        if self.too_big {
            return;
        }
        if self.body.len() + b.len() > MAX_REPLY {
            self.too_big = true;
            self.body = Vec::new();
            let _ = self.to_http.send(Signal::Shutdown);
        } else {
            self.body.extend_from_slice(&b);
        }
    }
}

impl Component for HttpTrackerClient {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if let Some(e) = self.early.take() {
            let _ = self.outbox.send(Err(e));
            let _ = self.signal.send(Signal::ProducerFinished);
            return Step::Done;
        }
        if let Some(http) = self.http.take() {
            // Linked before it runs, so nothing it says is lost.
            let wired = link(&http.outbox, &self.from_http)
                .and_then(|_| link(&http.signal, &self.http_signal))
                .and_then(|_| link(&self.to_http, &http.control));
            if let Err(e) = wired {
                log::error!("tracker client: {e}");
                let _ = self.signal.send(Signal::Shutdown);
                return Step::Done;
            }
            cx.spawn_child(http);
        }
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() && !self.told_to_stop {
                self.told_to_stop = true;
                let _ = self.to_http.send(Signal::Shutdown);
            }
        }
        while let Some(ev) = self.from_http.recv() {
            match ev {
                ClientEvent::Body(b) => self.take_body(b),
                ClientEvent::Head(_)
                | ClientEvent::Redirect { .. }
                | ClientEvent::Trailers(_)
                | ClientEvent::End => {}
            }
        }
        // The HTTP client signals only after its connection has ended.
        let Some(sig) = self.http_signal.recv() else {
            return Step::Pause;
        };
        if self.told_to_stop {
            let _ = self.signal.send(Signal::Shutdown);
            return Step::Done;
        }
        let result = self.result(sig);
        let _ = self.outbox.send(result);
        let _ = self.signal.send(Signal::ProducerFinished);
        Step::Done
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.control)
            .add(&self.outbox)
            .add(&self.signal)
            .add(&self.from_http)
            .add(&self.http_signal)
            .add(&self.to_http);
    }
}
