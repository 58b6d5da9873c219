//! Sketch 12 of the classic catalogue
//! (`Examples/TCP_Systems/SingleServerExample.py`): twelve messages,
//! queued at once, released two a second into a server for a single
//! client; a client prints them as they come.
//!
//! ```text
//!   Pipeline[ DataSource (12 messages) ──▶ MessageRateLimit (2/s) ──▶ SingleServer on ADDR ]
//!                                                                        ~~ TCP ~~
//!   Pipeline[ TcpClient ──▶ Printer ]
//!
//!   the server pipeline's signal ──▶ Deadline (the run is over; or, after a while, stop everything)
//! ```
//!
//! What it shows:
//!
//! * [`MessageRateLimit`] releasing queued messages no faster than the
//!   rate, sleeping on a timer in between (the original spun in a timing
//!   loop);
//! * [`SingleServer`] as the end of a pipeline: what arrives on its inbox
//!   goes to its one client, including anything sent before the client
//!   connected;
//! * shutdown running down the pipeline and across the network: the
//!   source's `ProducerFinished` goes through the limiter (after the last
//!   message) to the server, which passes it to its connection; the
//!   connection sends what is queued and closes its sending side; the
//!   client sees the end of the stream after the last message and ends
//!   with `ProducerFinished`; its close ends the server's connection, and
//!   then the server, whose `ProducerFinished` ends the run.
//!
//! On virtual time: not used here. The scheduler would jump its virtual
//! clock to the next timer whenever a zero-time poll finds no socket
//! ready, so timers (the limiter's, the connect time-out, a deadline) race
//! the kernel's delivery of real packets. The tests run this on the real
//! clock with a higher rate.
//!
//! Run it with `cargo run --example single_server [ADDR]` (default
//! 127.0.0.1:1500): twelve messages over about six seconds.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kamaelia::axon::{link_refs, Ended, Scheduler, Signal};
use kamaelia::chassis::Pipeline;
use kamaelia::internet::{SingleServer, TcpClient};
use kamaelia::pipeline;
use kamaelia::util::{DataSource, MessageRateLimit};

#[path = "support/mod.rs"]
mod support;
pub use support::{Deadline, Printer, Sink};

/// How many messages the original queued.
pub const COUNT: usize = 12;

/// The original's rate: messages a second.
pub const RATE: f64 = 2.0;

/// The `k`-th message (from 1) of `n`, with its newline.
pub fn message(k: usize, n: usize) -> String {
    format!("message {k} of {n}\n")
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The address the server listened on.
    pub addr: SocketAddr,
    /// Every byte the client received, in order.
    pub received: Vec<u8>,
    /// When each chunk reached the client (from the start of the run), and
    /// its size. Messages released close together may share a chunk.
    pub chunks: Vec<(Duration, usize)>,
    /// How the client's connection ended (`ProducerFinished`: the server
    /// closed it cleanly after the last message).
    pub client_end: Option<Signal>,
    /// The server's end signal (`ProducerFinished`: its client has gone).
    pub server_end: Option<Signal>,
    /// How long the run took.
    pub elapsed: Duration,
    /// Whether the deadline stopped the system.
    pub timed_out: bool,
    /// How the scheduler's run ended.
    pub ended: Ended,
}

/// Runs the system: `count` messages released `rate` a second into a
/// single server on `addr`, a client printing them to `out`. Everything
/// ends by itself after the last message; if it has not after `limit`, the
/// system is stopped.
pub fn run(
    addr: SocketAddr,
    count: usize,
    rate: f64,
    limit: Option<Duration>,
    out: Sink,
) -> io::Result<Outcome> {
    let server = SingleServer::with_acceptor(support::listen(addr)?);
    let addr = server
        .local_addr()
        .expect("a bound listener has an address");
    let messages = (1..=count).map(|k| Bytes::from(message(k, count)));
    let serving: Pipeline = pipeline![
        DataSource::new(messages),
        MessageRateLimit::<Bytes>::new(rate, 1),
        server,
    ]
    .expect("the stages fit together");
    let (printer, screen) = Printer::new(out);
    let client: Pipeline =
        pipeline![TcpClient::to_addr(addr), printer].expect("a client fits a printer");
    let mut s = Scheduler::new();
    let start: Instant = s.now();
    let mut report = None;
    if let Some(after) = limit {
        let (deadline, r) = Deadline::new(after);
        let signal = serving.find("signal").expect("the server has a signal box");
        link_refs(&signal, &deadline.control.erased()).expect("fresh boxes link");
        s.spawn(deadline);
        report = Some(r);
    }
    s.spawn(serving);
    s.spawn(client);
    let ended = s.run();
    let elapsed = s.now() - start;
    let screen = screen.borrow().clone();
    let report = report.map(|r| r.borrow().clone()).unwrap_or_default();
    Ok(Outcome {
        addr,
        received: screen.bytes,
        chunks: screen
            .chunks
            .iter()
            .map(|&(t, n)| (t.saturating_duration_since(start), n))
            .collect(),
        client_end: screen.end,
        server_end: report.end,
        elapsed,
        timed_out: report.fired,
        ended,
    })
}

fn main() {
    let addr = support::address_or_exit("single_server", std::env::args().nth(1).as_deref());
    match run(addr, COUNT, RATE, None, support::stdout()) {
        Ok(o) => eprintln!(
            "({} bytes in {:.1} s; the connection ended: {:?})",
            o.received.len(),
            o.elapsed.as_secs_f64(),
            o.client_end
        ),
        Err(e) => {
            eprintln!("single_server: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    }
}
