//! The HTTP tracker's resources: `/announce` and `/scrape` on the project's
//! [`HttpServer`](crate::protocol::http::HttpServer), over one shared
//! [`Swarms`] (which the UDP tracker server shares too).
//!
//! [`tracker_router`] gives a [`Router`] with both routes (GET and HEAD),
//! answered by the HTTP connection itself ([`Router::respond`]: no
//! component per request): the query is read
//! ([`http_wire`](super::http_wire)), the swarms are asked with the
//! connection's source IP and the scheduler's clock, and the answer is
//! `200` with a bencoded body: the reply (compact unless the client sent
//! `compact=0`; IPv6 peers in `peers6`), or a `failure reason` for a bad
//! query or a refusal (not whitelisted, too many peers from one IP, ...).
//! Trackers answer refusals with 200 and the reason: clients read the body.
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
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Instant;

use bytes::Bytes;

use super::http_wire::{
    encode_announce_reply, encode_failure, encode_scrape_reply, parse_announce_query,
    parse_scrape_query,
};
use super::swarm::Swarms;
use super::{AnnounceReply, InfoHash};
use crate::protocol::http::{Request, ResponseHead, Router};

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
    // One set of buffers for both routes: answers are made one at a time,
    // on the scheduler's thread.
    let scratch = Rc::new(RefCell::new(Scratch::default()));
    let (s2, scratch2) = (swarms.clone(), scratch.clone());
    let methods: Option<&[&str]> = Some(&["GET", "HEAD"]);
    router
        .respond("/announce", methods, move |req, now| {
            respond(&swarms, &scratch, Endpoint::Announce, req, now)
        })
        .respond("/scrape", methods, move |req, now| {
            respond(&s2, &scratch2, Endpoint::Scrape, req, now)
        })
}

/// The whole response to one request.
fn respond(
    swarms: &RefCell<Swarms>,
    scratch: &RefCell<Scratch>,
    endpoint: Endpoint,
    req: &Request,
    now: Instant,
) -> (ResponseHead, Bytes) {
    let scratch = &mut *scratch.borrow_mut();
    match req.peer {
        // The source IP is what a peer is known by; a connection that
        // has none (not TCP) cannot announce.
        None => {
            scratch.body.clear();
            encode_failure(&mut scratch.body, "no source address");
        }
        Some(peer) => answer(
            &mut swarms.borrow_mut(),
            endpoint,
            req.query.as_deref().unwrap_or(""),
            peer.ip(),
            now,
            scratch,
        ),
    }
    let mut head = ResponseHead::new(200);
    head.headers.push(
        Bytes::from_static(b"Content-Type"),
        Bytes::from_static(b"text/plain"),
    );
    // The body leaves in one allocation of its exact size; the buffer it
    // was made in stays for the next request.
    (head, Bytes::copy_from_slice(&scratch.body))
}

/// Buffers kept from one answer to the next, so that answering allocates
/// only the body it returns.
#[derive(Default)]
pub struct Scratch {
    /// The last answer's body.
    pub body: Vec<u8>,
    reply: AnnounceReply,
    hashes: Vec<InfoHash>,
}

/// The body for one request, written into `scratch.body` (cleared
/// first): the reply, or a `failure reason`.
pub fn answer(
    swarms: &mut Swarms,
    endpoint: Endpoint,
    query: &str,
    source: IpAddr,
    now: Instant,
    scratch: &mut Scratch,
) {
    let out = &mut scratch.body;
    out.clear();
    match endpoint {
        Endpoint::Announce => match parse_announce_query(query) {
            Err(e) => encode_failure(out, e.reason()),
            Ok(req) => match swarms.announce_into(&req, source, now, &mut scratch.reply) {
                Ok(()) => encode_announce_reply(out, &scratch.reply, req.compact),
                Err(refusal) => encode_failure(out, refusal.reason()),
            },
        },
        Endpoint::Scrape => match parse_scrape_query(query, &mut scratch.hashes) {
            Err(e) => encode_failure(out, e.reason()),
            Ok(()) => {
                let entries: Vec<_> = scratch.hashes.iter().map(|h| swarms.scrape(h)).collect();
                encode_scrape_reply(out, &entries);
            }
        },
    }
}
