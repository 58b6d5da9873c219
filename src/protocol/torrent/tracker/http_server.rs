//! The HTTP tracker's resources: `/announce` and `/scrape` on the project's
//! [`HttpServer`](crate::protocol::http::HttpServer), over one shared
//! [`Swarms`] (which the UDP tracker server shares too).
//!
//! [`tracker_router`] gives a [`Router`] with both routes (GET and HEAD);
//! each request gets a [`TrackerResource`] that reads the query
//! ([`http_wire`](super::http_wire)), asks the swarms with the
//! connection's source IP and the scheduler's clock, and answers `200`
//! with a bencoded body: the reply (compact unless the client sent
//! `compact=0`; IPv6 peers in `peers6`), or a `failure reason` for a bad
//! query or a refusal (not whitelisted, too many peers from one IP, ...).
//! Trackers answer refusals with 200 and the reason: clients read the body.
//!
//! | box     | carries  | meaning                                            |
//! |---------|----------|----------------------------------------------------|
//! | inbox   | `Bytes`  | a request body: read and dropped                   |
//! | control | `Signal` | the request ended (or shutdown): it ends           |
//! | outbox  | `Part`   | `Head` (with the length), `Body`, `End`            |
//! | signal  | `Signal` | `ProducerFinished` once, at the end                |
//!
//! ```no_run
//! use std::{cell::RefCell, rc::Rc};
//! use kamaelia::axon::Scheduler;
//! use kamaelia::protocol::http::{HttpServer, ServerConfig};
//! use kamaelia::protocol::torrent::tracker::http_server::tracker_router;
//! use kamaelia::protocol::torrent::tracker::swarm::{SwarmConfig, Swarms};
//! let swarms = Rc::new(RefCell::new(Swarms::new(SwarmConfig::default())));
//! let server = HttpServer::bind("127.0.0.1:6969".parse().unwrap(), tracker_router(swarms),
//!     ServerConfig::default()).unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(server);
//! s.run();
//! ```

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

use bytes::Bytes;

use super::http_wire::{
    encode_announce_reply, encode_failure, encode_scrape_reply, parse_announce_query,
    parse_scrape_query,
};
use super::swarm::Swarms;
use super::InfoHash;
use crate::axon::{BoxSet, Component, Cx, Full, Inbox, Outbox, Signal, Step};
use crate::protocol::http::{Part, Request, ResponseHead, Router};

/// Which resource a request asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `/announce`
    Announce,
    /// `/scrape`
    Scrape,
}

/// A router with `/announce` and `/scrape` over `swarms`.
pub fn tracker_router(swarms: Rc<RefCell<Swarms>>) -> Router {
    add_routes(Router::new(), swarms)
}

/// Adds `/announce` and `/scrape` over `swarms` to `router` (a program
/// serving other things beside its tracker).
pub fn add_routes(router: Router, swarms: Rc<RefCell<Swarms>>) -> Router {
    let s2 = swarms.clone();
    router
        .route_methods("/announce", &["GET", "HEAD"], move |req| {
            Box::new(TrackerResource::new(
                Endpoint::Announce,
                req,
                swarms.clone(),
            )) as _
        })
        .route_methods("/scrape", &["GET", "HEAD"], move |req| {
            Box::new(TrackerResource::new(Endpoint::Scrape, req, s2.clone())) as _
        })
}

/// The body for one request, written into `out`: the reply, or a
/// `failure reason`. `scratch` holds a scrape's info-hashes.
pub fn answer(
    swarms: &mut Swarms,
    endpoint: Endpoint,
    query: &str,
    source: IpAddr,
    now: std::time::Instant,
    out: &mut Vec<u8>,
    scratch: &mut Vec<InfoHash>,
) {
    match endpoint {
        Endpoint::Announce => match parse_announce_query(query) {
            Err(e) => encode_failure(out, e.reason()),
            Ok(req) => match swarms.announce(&req, source, now) {
                Ok(reply) => encode_announce_reply(out, &reply, req.compact),
                Err(refusal) => encode_failure(out, refusal.reason()),
            },
        },
        Endpoint::Scrape => match parse_scrape_query(query, scratch) {
            Err(e) => encode_failure(out, e.reason()),
            Ok(()) => {
                let entries: Vec<_> = scratch.iter().map(|h| swarms.scrape(h)).collect();
                encode_scrape_reply(out, &entries);
            }
        },
    }
}

/// Answers one `/announce` or `/scrape` request; see the module
/// documentation.
pub struct TrackerResource {
    /// Request body (dropped).
    pub inbox: Inbox<Bytes>,
    /// Request end, shutdown.
    pub control: Inbox<Signal>,
    /// The response.
    pub outbox: Outbox<Part>,
    /// Sent once, at the end.
    pub signal: Outbox<Signal>,
    endpoint: Endpoint,
    query: String,
    peer: Option<SocketAddr>,
    swarms: Rc<RefCell<Swarms>>,
    /// The parts still to send, last first (empty until the first step).
    parts: Vec<Part>,
    answered: bool,
}

impl TrackerResource {
    /// The resource for `req`.
    pub fn new(endpoint: Endpoint, req: &Request, swarms: Rc<RefCell<Swarms>>) -> Self {
        TrackerResource {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "response parts"),
            signal: Outbox::signal(),
            endpoint,
            query: req.query.clone().unwrap_or_default(),
            peer: req.peer,
            swarms,
            parts: Vec::new(),
            answered: false,
        }
    }

    fn respond(&mut self, cx: &mut Cx) {
        let mut body = Vec::with_capacity(128);
        match self.peer {
            // The source IP is what a peer is known by; a connection that
            // has none (not TCP) cannot announce.
            None => encode_failure(&mut body, "no source address"),
            Some(peer) => answer(
                &mut self.swarms.borrow_mut(),
                self.endpoint,
                &self.query,
                peer.ip(),
                cx.now(),
                &mut body,
                &mut Vec::new(),
            ),
        }
        let mut head = ResponseHead::new(200).length(body.len() as u64);
        head.headers.push(
            Bytes::from_static(b"Content-Type"),
            Bytes::from_static(b"text/plain"),
        );
        self.parts = vec![Part::End, Part::Body(body.into()), Part::Head(head)];
    }
}

impl Component for TrackerResource {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if !self.answered {
            self.answered = true;
            self.respond(cx);
        }
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
