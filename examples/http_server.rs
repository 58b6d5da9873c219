//! Sketch 25 of the classic catalogue, the server half
//! (`Examples/TCP_Systems/_HTTP/cookbook_1.py`, `KamaeliaWebServer.py`): a
//! web server routing by path prefix, serving a folder and a few routes.
//!
//! ```text
//!   PeriodicTick(1 s) ──▶ PureTransformer ("tick N") ──▶ PublishTo("ticks") ──▶ Backplane("ticks")
//!                                                                                   │
//!   HttpServer on ADDR (a ServerCore): for each connection                          │
//!                                                                                   │
//!     TcpClient ──bytes──▶ HttpConnection ──request body──▶ resource, per request:  │
//!               ◀─bytes───                ◀──Head, Body.., End──                    │
//!                                                                                   │
//!     Router:  /hello   → Fixed: a short text                                       │
//!              /echo    → Echo: the request body back (any method)                  │
//!              /events  → EventStream: one Server-Sent Event per tick ◀─────────────┘
//!              /        → StaticFiles: FOLDER (GET and HEAD; ETag, Range, 304)
//! ```
//!
//! What it shows:
//!
//! * an [`HttpServer`] is a [`ServerCore`](kamaelia::internet::ServerCore)
//!   whose protocol component is an `HttpConnection`: one per connection,
//!   reading request after request (keep-alive, pipelining);
//! * a [`Router`] maps path prefixes to factories; each request gets its
//!   own resource component, which streams its response as [`Part`]s;
//! * responses of unknown length (the event stream) go chunked; the end of
//!   every response is explicit (the original's never came);
//! * a backplane feeds every open event stream at once; each stream
//!   subscribes for as long as its response lasts.
//!
//! Run it with `cargo run --example http_server [ADDR] [FOLDER]` (ADDR
//! defaults to 127.0.0.1:8080, a bare port means 127.0.0.1:PORT; FOLDER to
//! the current directory), then try `curl -v http://127.0.0.1:8080/hello`,
//! `curl -N http://127.0.0.1:8080/events`, or a file under FOLDER. It
//! serves until killed.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use kamaelia::axon::{link, BoxSet, Component, Cx, Inbox, Outbox, Scheduler, Signal, Step};
use kamaelia::boxes;
use kamaelia::protocol::http::{
    EventStream, Fixed, HttpServer, Part, ResponseHead, Router, ServerConfig, SseEvent, StaticFiles,
};
use kamaelia::util::{Backplane, PeriodicTick, PublishTo, PureTransformer};

/// The default address.
pub const ADDR: &str = "127.0.0.1:8080";

/// Answers with the request body it read, once the request is complete
/// (`application/octet-stream`, with its length).
///
/// | box     | carries  | meaning                                          |
/// |---------|----------|--------------------------------------------------|
/// | inbox   | `Bytes`  | the request body                                 |
/// | control | `Signal` | producer finished: the body is complete, answer and end; shutdown: end now |
/// | outbox  | `Part`   | the response                                     |
/// | signal  | `Signal` | the control signal, passed on                    |
pub struct Echo {
    /// The request body.
    pub inbox: Inbox<Bytes>,
    /// The end of the request, or shutdown.
    pub control: Inbox<Signal>,
    /// The response.
    pub outbox: Outbox<Part>,
    /// Sent once, at the end.
    pub signal: Outbox<Signal>,
    body: Vec<u8>,
}

impl Echo {
    /// An echo with nothing read yet.
    pub fn new() -> Self {
        Echo {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::outbox(),
            signal: Outbox::signal(),
            body: Vec::new(),
        }
    }
}

impl Default for Echo {
    fn default() -> Self {
        Self::new()
    }
}

impl Component for Echo {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(b) = self.inbox.recv() {
            self.body.extend_from_slice(&b);
        }
        if let Some(sig) = self.control.recv() {
            if sig.is_finish() {
                let body = Bytes::from(std::mem::take(&mut self.body));
                let head = ResponseHead::new(200)
                    .header("Content-Type", "application/octet-stream")
                    .length(body.len() as u64);
                // Three parts: the connection's inbox for them holds four.
                let _ = self.outbox.send(Part::Head(head));
                let _ = self.outbox.send(Part::Body(body));
                let _ = self.outbox.send(Part::End);
            }
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}

/// The routes: `/hello`, `/echo`, `/events` (fed from the backplane
/// `ticks`), and the files under `folder` for everything else.
pub fn router(folder: &Path) -> io::Result<Router> {
    let files = StaticFiles::new(folder)?;
    Ok(Router::new()
        .route("/hello", |_req| {
            Box::new(Fixed::text(200, "Hello from kamaelia-rs\n")) as _
        })
        .route("/echo", |_req| Box::new(Echo::new()) as _)
        .route(
            "/events",
            EventStream::<String>::factory("ticks", |t: &String| SseEvent {
                event: Some("tick".to_string()),
                ..SseEvent::data(t.clone())
            }),
        )
        .route_methods("/", &["GET", "HEAD"], files.factory()))
}

/// Builds the whole system in a scheduler: the ticker and its backplane,
/// and the server on `addr` (port 0 picks a free port) serving `folder`.
/// Returns the scheduler, ready to run, and the address listened on.
pub fn build(
    addr: SocketAddr,
    folder: &Path,
    tick: Duration,
) -> io::Result<(Scheduler, SocketAddr)> {
    let server = HttpServer::bind(addr, router(folder)?, ServerConfig::default())?;
    let addr = server
        .local_addr()
        .expect("a bound listener has an address");
    let mut s = Scheduler::new();
    // The ticker: a tick a period, counted, published.
    let ticks = PeriodicTick::new(tick, ());
    let mut n = 0u64;
    let count = PureTransformer::new(move |()| {
        n += 1;
        Some(format!("tick {n}"))
    });
    let publish = PublishTo::<String>::new("ticks");
    link(&ticks.outbox, &count.inbox).expect("fresh boxes link");
    link(&count.outbox, &publish.inbox).expect("fresh boxes link");
    s.spawn(Backplane::<String>::new("ticks"));
    s.spawn(ticks);
    s.spawn(count);
    s.spawn(publish);
    s.spawn(server);
    Ok((s, addr))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr = match args.get(1) {
        None => ADDR.parse().expect("the default address parses"),
        Some(a) => match a.parse::<SocketAddr>() {
            Ok(addr) => addr,
            Err(_) => match a.parse::<u16>() {
                Ok(port) => SocketAddr::from(([127, 0, 0, 1], port)),
                Err(_) => {
                    eprintln!("http_server: not an address or port: {a}");
                    std::process::exit(2);
                }
            },
        },
    };
    let folder = args.get(2).map(String::as_str).unwrap_or(".");
    match build(addr, Path::new(folder), Duration::from_secs(1)) {
        Ok((mut s, addr)) => {
            println!(
                "http_server: serving {folder} on http://{addr}/ (and /hello, /echo, /events)"
            );
            s.run();
        }
        Err(e) => {
            eprintln!("http_server: cannot serve {folder} on {addr}: {e}");
            std::process::exit(1);
        }
    }
}
