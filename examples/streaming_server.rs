//! Sketch 24 of the classic catalogue
//! (`Examples/TCP_Systems/_SimpleStreamingSystem.py`), without the audio:
//! a server streams a file to each client at a set bit rate; each client
//! writes what it receives to a file. (The original streamed an Ogg Vorbis
//! file at 128 kbit/s and the client decoded and played it.)
//!
//! ```text
//!   ServerCore on ADDR, per connection:
//!     TcpClient (the connection) ◀──outbox── ReadFileAdaptor(FILE, bit-rate mode)
//!                                ◀─signal───
//!
//!   per client: Pipeline[ TcpClient ──▶ SimpleFileWriter(OUT) ]
//!                  its signal ──▶ Watcher ──▶ server.control (stop once all are served)
//!   server.signal ──▶ Deadline (the run is over; or, after a while, stop everything)
//! ```
//!
//! What it shows:
//!
//! * a protocol made per connection by [`ServerCore`]'s factory: a fresh
//!   [`ReadFileAdaptor`] in bit-rate mode for each client, so every client
//!   gets the whole file from the start, each at the full rate
//!   (`bitrate / 8 / chunkrate` bytes `chunkrate` times a second), paced by
//!   the scheduler's timers rather than a busy loop;
//! * a client that is a [`Pipeline`] of a `TcpClient` and a
//!   [`SimpleFileWriter`]: the file comes out byte for byte, and when the
//!   server closes the connection at the end of the file the client's
//!   `ProducerFinished` makes the writer flush and close its file;
//! * a [`Watcher`] that stops the server once every client has ended, and
//!   a [`Deadline`] that stops the whole system if something hangs.
//!
//! Run it with `cargo run --example streaming_server FILE [OUT] [BITRATE]`:
//! a server on 127.0.0.1 (a free port) streams FILE to one client, which
//! writes it to OUT (default: FILE's name with `.received` added) at
//! BITRATE bit/s (default 128000, 25 chunks a second).

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kamaelia::axon::{link, link_refs, Component, Ended, Scheduler, Signal};
use kamaelia::chassis::Pipeline;
use kamaelia::file::{ReadFileAdaptor, ReadMode, SimpleFileWriter, WriteMode};
use kamaelia::internet::{ServerCore, TcpClient};
use kamaelia::pipeline;

#[path = "support/mod.rs"]
mod support;
pub use support::{Deadline, Sink, Watcher};

/// The original's rate, in bit/s.
pub const BITRATE: u64 = 128_000;

/// Chunks a second: 640 bytes every 40 ms at 128 kbit/s.
pub const CHUNKRATE: u32 = 25;

/// The streaming server on `addr` (port 0 picks a free port): every
/// connection gets `file` from the start, at the pace `mode` sets (use
/// bit-rate mode), then a clean close. A line per connection goes to
/// `trace`.
///
/// The protocol component, one per connection:
///
/// | box     | carries  | meaning                                        |
/// |---------|----------|------------------------------------------------|
/// | control | `Signal` | shutdown: stop at once (from the server)       |
/// | outbox  | `Bytes`  | the file, a chunk per period                   |
/// | signal  | `Signal` | producer finished at the end of the file (closes the connection); `Failed` if the file cannot be read |
pub fn server(
    addr: SocketAddr,
    file: &Path,
    mode: ReadMode,
    trace: Sink,
) -> io::Result<ServerCore> {
    let file = file.to_path_buf();
    Ok(ServerCore::with_acceptor(
        support::listen(addr)?,
        move |info| {
            let peer = info.peer.map(|p| p.to_string()).unwrap_or_default();
            let _ = writeln!(
                trace.borrow_mut(),
                "#{} {peer}: streaming {}",
                info.number,
                file.display()
            );
            Box::new(ReadFileAdaptor::file(&file, mode)) as Box<dyn Component>
        },
    ))
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The address the server listened on.
    pub addr: SocketAddr,
    /// How each client ended, and how long after the start of the run, in
    /// the order they ended (`ProducerFinished`: the whole file came and
    /// was written; the writer passes on the connection's end).
    pub client_ends: Vec<(Duration, Signal)>,
    /// The server's end signal (`Shutdown`, from the watcher).
    pub server_end: Option<Signal>,
    /// How long the run took.
    pub elapsed: Duration,
    /// Whether the deadline stopped the system.
    pub timed_out: bool,
    /// How the scheduler's run ended.
    pub ended: Ended,
}

/// Streams `file` from a server on `addr` to one client per path in
/// `outputs`, all at once, each writing what it receives to its path.
/// Once every client has ended the server is stopped; if that takes longer
/// than `limit` the system is stopped.
pub fn run(
    addr: SocketAddr,
    file: &Path,
    mode: ReadMode,
    outputs: &[PathBuf],
    limit: Option<Duration>,
    trace: Sink,
) -> io::Result<Outcome> {
    let server = server(addr, file, mode, trace)?;
    let addr = server
        .local_addr()
        .expect("a bound listener has an address");
    let mut s = Scheduler::new();
    let start: Instant = s.now();
    let mut report = None;
    if let Some(after) = limit {
        let (deadline, r) = Deadline::new(after);
        link(&server.signal, &deadline.control).expect("fresh boxes link");
        s.spawn(deadline);
        report = Some(r);
    }
    let (watcher, ends) = Watcher::new(outputs.len());
    link(&watcher.outbox, &server.control).expect("fresh boxes link");
    for out in outputs {
        let client: Pipeline = pipeline![
            TcpClient::to_addr(addr),
            SimpleFileWriter::new(out, WriteMode::Write),
        ]
        .expect("a client fits a file writer");
        let signal = client.find("signal").expect("the writer has a signal box");
        link_refs(&signal, &watcher.inbox.erased()).expect("fresh boxes link");
        s.spawn(client);
    }
    s.spawn(watcher);
    s.spawn(server);
    let ended = s.run();
    let elapsed = s.now() - start;
    let client_ends = ends
        .borrow()
        .iter()
        .map(|(t, sig)| (t.saturating_duration_since(start), sig.clone()))
        .collect();
    let report = report.map(|r| r.borrow().clone()).unwrap_or_default();
    Ok(Outcome {
        addr,
        client_ends,
        server_end: report.end,
        elapsed,
        timed_out: report.fired,
        ended,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(file) = args.first().map(PathBuf::from) else {
        eprintln!("usage: streaming_server FILE [OUT] [BITRATE]");
        std::process::exit(2);
    };
    let out = args.get(1).map(PathBuf::from).unwrap_or_else(|| {
        let mut name = file.clone().into_os_string();
        name.push(".received");
        PathBuf::from(name)
    });
    let bitrate = args.get(2).and_then(|b| b.parse().ok()).unwrap_or(BITRATE);
    let mode = ReadMode::Bitrate {
        bitrate,
        chunkrate: CHUNKRATE,
    };
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    match run(
        local,
        &file,
        mode,
        std::slice::from_ref(&out),
        None,
        support::stdout(),
    ) {
        Ok(o) => {
            let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
            eprintln!(
                "{} bytes written to {} in {:.2} s ({:.0} bit/s); the client ended: {:?}",
                size,
                out.display(),
                o.elapsed.as_secs_f64(),
                size as f64 * 8.0 / o.elapsed.as_secs_f64(),
                o.client_ends.first().map(|(_, s)| s)
            );
        }
        Err(e) => {
            eprintln!("streaming_server: {e}");
            std::process::exit(1);
        }
    }
}
