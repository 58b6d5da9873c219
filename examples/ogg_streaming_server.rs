//! Sketch 24 of the classic catalogue
//! (`Examples/TCP_Systems/_SimpleStreamingSystem.py`), with the audio: a
//! server streams an Ogg Vorbis file over TCP to every client at the
//! file's own bit rate; a client decodes it and plays it (or writes a WAV
//! file).
//!
//! ```text
//!   server: ServerCore on ADDR, per connection:
//!             TcpClient (the connection) ◀── ReadFileAdaptor(FILE, the file's bit rate)
//!
//!   client: TcpClient(ADDR) ──▶ VorbisDecode ──▶ AudioOut (or WavWriter OUT.wav)
//!             signal ──────────▶ control ──────▶ control
//! ```
//!
//! The original streamed at a fixed 128 kbit/s whatever the file. Here the
//! rate is the file's: its size over its duration (the last page's
//! granule position over the sample rate), plus [`HEADROOM`] so that a
//! client's buffer fills rather than drains (Vorbis is variable-rate, and
//! a page must arrive whole before its audio can be decoded). Each
//! connection gets its own reader, so every client hears the file from
//! its start. When the file ends the server closes the connection; the
//! client's decoder finishes what came and the sink closes.
//!
//! Run it with
//!
//! * `cargo run --example ogg_streaming_server -- serve FILE.ogg [ADDR]`:
//!   a server (default 127.0.0.1:1500) until interrupted;
//! * `cargo run --example ogg_streaming_server -- client ADDR [OUT.wav]`:
//!   a client writing OUT.wav, or playing (with the `audio-out` feature);
//! * `cargo run --example ogg_streaming_server -- demo FILE.ogg OUT.wav...`:
//!   both in one process on a free port, one client per OUT.wav; it ends
//!   when every client has its file.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kamaelia::audio::ogg::PageParser;
#[cfg(feature = "audio-out")]
use kamaelia::audio::out::AudioOut;
use kamaelia::audio::vorbis::{VorbisDecode, VorbisDecodeStats};
use kamaelia::audio::wav_writer::WavWriter;
use kamaelia::axon::{Component, Ended, Id, LinkError, Scheduler, Signal};
use kamaelia::file::{ReadFileAdaptor, ReadMode};
use kamaelia::internet::simulate::StatsHandle;
use kamaelia::internet::{ServerCore, TcpClient};

#[path = "support/mod.rs"]
mod support;
pub use support::{Deadline, Watcher};

/// Streamed this much faster than the file's average rate (5%).
pub const HEADROOM: f64 = 1.05;
/// Chunks a second the readers send (a 128 kbit/s file: 640 bytes every
/// 40 ms).
pub const CHUNKRATE: u32 = 25;

/// A file's average bit rate: its size over its duration (the last
/// page's granule position over the rate in its identification header).
/// An error if it is not an Ogg Vorbis file.
pub fn file_bitrate(path: &Path) -> io::Result<u64> {
    let bytes = std::fs::read(path)?;
    let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_string());
    let mut parser = PageParser::new();
    parser.push(&bytes);
    let first = parser.next_page().ok_or_else(|| bad("no Ogg page"))?;
    let ident = first.body();
    if ident.len() < 16 || &ident[..7] != b"\x01vorbis" {
        return Err(bad("not an Ogg Vorbis file"));
    }
    let rate = u32::from_le_bytes([ident[12], ident[13], ident[14], ident[15]]);
    let mut last = first.granule().unwrap_or(0);
    while let Some(page) = parser.next_page() {
        if let Some(g) = page.granule() {
            last = g;
        }
    }
    if rate == 0 || last == 0 {
        return Err(bad("no audio (no granule position or no rate)"));
    }
    let secs = last as f64 / f64::from(rate);
    Ok((bytes.len() as f64 * 8.0 / secs).ceil() as u64)
}

/// The rate the server streams `file` at: its own, plus [`HEADROOM`].
pub fn stream_bitrate(file: &Path) -> io::Result<u64> {
    Ok((file_bitrate(file)? as f64 * HEADROOM).ceil() as u64)
}

/// The streaming server on `addr` (port 0: a free port): each connection
/// gets `file` from its start at `bitrate` bit/s, then a clean close.
///
/// The protocol component, one per connection, is a [`ReadFileAdaptor`]
/// in bit-rate mode:
///
/// | box     | carries  | meaning                                        |
/// |---------|----------|------------------------------------------------|
/// | control | `Signal` | shutdown: stop at once (from the server)       |
/// | outbox  | `Bytes`  | the file, a chunk every 1/25 s                 |
/// | signal  | `Signal` | producer finished at the end of the file (closes the connection) |
pub fn server(addr: SocketAddr, file: &Path, bitrate: u64) -> io::Result<ServerCore> {
    let file = file.to_path_buf();
    let mode = ReadMode::Bitrate {
        bitrate,
        chunkrate: CHUNKRATE,
    };
    Ok(ServerCore::with_acceptor(
        support::listen(addr)?,
        move |_| Box::new(ReadFileAdaptor::file(&file, mode)) as Box<dyn Component>,
    ))
}

/// A client, spawned and linked: `TcpClient(addr) → VorbisDecode → sink`.
pub struct Client {
    /// The connection.
    pub conn: Id,
    /// The decoder (its `comments` outbox is free to link).
    pub decoder: Id,
    /// The sink (its `signal` outbox is free: it says when all is out).
    pub sink: Id,
    /// The decoder's counters.
    pub stats: StatsHandle<VorbisDecodeStats>,
}

/// Spawns a client of the server at `addr` on `s`, decoding into `sink`
/// (anything with an `AudioChunk` inbox, a `control` and a `signal`:
/// [`WavWriter`], `AudioOut`).
pub fn spawn_client(
    s: &mut Scheduler,
    addr: SocketAddr,
    sink: Box<dyn Component>,
) -> Result<Client, LinkError> {
    let conn = s.spawn(TcpClient::to_addr(addr));
    let decoder = VorbisDecode::new();
    let stats = decoder.stats();
    let decoder = s.spawn(decoder);
    let sink = s.spawn_boxed(sink);
    s.link((conn, "outbox"), (decoder, "inbox"))?;
    s.link((conn, "signal"), (decoder, "control"))?;
    s.link((decoder, "outbox"), (sink, "inbox"))?;
    s.link((decoder, "signal"), (sink, "control"))?;
    Ok(Client {
        conn,
        decoder,
        sink,
        stats,
    })
}

/// What a [`run`] produced.
#[derive(Debug)]
pub struct Outcome {
    /// The address the server listened on.
    pub addr: SocketAddr,
    /// The rate it streamed at, bit/s.
    pub bitrate: u64,
    /// How each client's sink ended, and when (from the start), in order.
    pub client_ends: Vec<(Duration, Signal)>,
    /// Each client's decoder counters, in the order of `outputs`.
    pub decoded: Vec<VorbisDecodeStats>,
    /// How long the run took.
    pub elapsed: Duration,
    /// Whether the deadline had to stop the system.
    pub timed_out: bool,
    /// How the scheduler's run ended.
    pub ended: Ended,
}

/// A server for `file` on `addr` and one client per path in `outputs`,
/// all at once, each writing its WAV file; the server is stopped once
/// every client has ended (the whole system, after `limit`, if not).
pub fn run(
    addr: SocketAddr,
    file: &Path,
    outputs: &[PathBuf],
    limit: Duration,
) -> io::Result<Outcome> {
    let bitrate = stream_bitrate(file)?;
    let server = server(addr, file, bitrate)?;
    let addr = server
        .local_addr()
        .expect("a bound listener has an address");
    let link_err = |e: LinkError| io::Error::other(e.to_string());
    let mut s = Scheduler::new();
    let start: Instant = s.now();
    let (deadline, report) = Deadline::new(limit);
    let (watcher, ends) = Watcher::new(outputs.len());
    let server = s.spawn(server);
    let deadline = s.spawn(deadline);
    let watcher = s.spawn(watcher);
    s.link((server, "signal"), (deadline, "control"))
        .map_err(link_err)?;
    s.link((watcher, "outbox"), (server, "control"))
        .map_err(link_err)?;
    let mut clients = Vec::new();
    for out in outputs {
        let c = spawn_client(&mut s, addr, Box::new(WavWriter::new(out))).map_err(link_err)?;
        s.link((c.sink, "signal"), (watcher, "inbox"))
            .map_err(link_err)?;
        clients.push(c);
    }
    let ended = s.run();
    let elapsed = s.now() - start;
    let client_ends = ends
        .borrow()
        .iter()
        .map(|(t, sig)| (t.saturating_duration_since(start), sig.clone()))
        .collect();
    let timed_out = report.borrow().fired;
    Ok(Outcome {
        addr,
        bitrate,
        client_ends,
        decoded: clients.iter().map(|c| c.stats.get()).collect(),
        elapsed,
        timed_out,
        ended,
    })
}

/// The sink of a client: a WAV file, or the speakers.
fn sink(out: Option<&String>) -> Box<dyn Component> {
    if let Some(path) = out {
        return Box::new(WavWriter::new(path));
    }
    #[cfg(feature = "audio-out")]
    {
        // A second of buffer: the stream comes at about real time, in pages.
        Box::new(AudioOut::default_device().buffer(Duration::from_secs(1)))
    }
    #[cfg(not(feature = "audio-out"))]
    {
        eprintln!(
            "ogg_streaming_server: give an OUT.wav, or build with `--features audio-out` to play"
        );
        std::process::exit(2)
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: ogg_streaming_server serve FILE.ogg [ADDR]\n       \
         ogg_streaming_server client ADDR [OUT.wav]\n       \
         ogg_streaming_server demo FILE.ogg OUT.wav..."
    );
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let fail = |e: &dyn std::fmt::Display| -> ! {
        eprintln!("ogg_streaming_server: {e}");
        std::process::exit(1)
    };
    match args.first().map(String::as_str) {
        Some("serve") => {
            let file = PathBuf::from(args.get(1).unwrap_or_else(|| usage()));
            let addr =
                support::address_or_exit("ogg_streaming_server", args.get(2).map(|a| a.as_str()));
            let bitrate = stream_bitrate(&file).unwrap_or_else(|e| fail(&e));
            let server = server(addr, &file, bitrate).unwrap_or_else(|e| fail(&e));
            eprintln!(
                "streaming {} at {bitrate} bit/s to every client of {}",
                file.display(),
                server.local_addr().expect("bound")
            );
            let mut s = Scheduler::new();
            s.spawn(server);
            s.run();
        }
        Some("client") => {
            let addr: SocketAddr = args
                .get(1)
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| usage());
            let mut s = Scheduler::new();
            let c = spawn_client(&mut s, addr, sink(args.get(2))).expect("fresh boxes link");
            s.run();
            let d = c.stats.get();
            eprintln!("decoded {} frames", d.vorbis.frames);
        }
        Some("demo") if args.len() >= 3 => {
            let file = PathBuf::from(&args[1]);
            let outs: Vec<PathBuf> = args[2..].iter().map(PathBuf::from).collect();
            let local = SocketAddr::from(([127, 0, 0, 1], 0));
            let o =
                run(local, &file, &outs, Duration::from_secs(3600)).unwrap_or_else(|e| fail(&e));
            eprintln!(
                "{} client(s) served at {} bit/s in {:.2} s: {:?}",
                outs.len(),
                o.bitrate,
                o.elapsed.as_secs_f64(),
                o.client_ends
            );
        }
        _ => usage(),
    }
}
