//! `kamaelia serve DIR [--listen ADDR]`: sketch 25, a folder served over
//! HTTP, one log line per request on stdout.
//!
//! ```text
//! HttpServer on ADDR (a ServerCore): for each connection
//!   TcpClient ──bytes──▶ HttpConnection ──▶ Router "/" ──▶ RequestLog ──▶ FileResource (StaticFiles DIR)
//!             ◀─bytes───                ◀────── Head, Body.., End ──────┘
//! ```
//!
//! Its first line is `listening on http://ADDR/` with the address bound
//! (so `--listen 127.0.0.1:0` tells which port it got); then a line per
//! request (see [`crate::log`]). It serves until killed.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;

use kamaelia::axon::Scheduler;
use kamaelia::internet::ServerCore;
use kamaelia::protocol::http::{HttpServer, Router, ServerConfig, StaticFiles};

use crate::log::{logged, LogSink};

/// Arguments of `kamaelia serve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The folder to serve (a folder's index.html answers for it).
    pub dir: PathBuf,
    /// The address to listen on (port 0 picks a free port).
    #[arg(short, long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

/// The server: `dir` on `addr`, each request logged to `sink`.
pub fn server(
    dir: &std::path::Path,
    addr: SocketAddr,
    sink: LogSink,
) -> Result<ServerCore, String> {
    let files =
        StaticFiles::new(dir).map_err(|e| format!("cannot serve {}: {e}", dir.display()))?;
    let router = Router::new().route("/", logged(files.factory(), sink));
    HttpServer::bind(addr, router, ServerConfig::default())
        .map_err(|e| format!("cannot listen on {addr}: {e}"))
}

/// Runs `kamaelia serve`.
pub fn run(args: Args) -> Result<(), String> {
    // Line by line (Rust's stdout is line-buffered), so a reader of a pipe
    // sees each request as it is answered; a closed stdout is ignored.
    let sink: LogSink = Rc::new(|line| {
        let _ = writeln!(std::io::stdout(), "{line}");
    });
    let server = server(&args.dir, args.listen, sink)?;
    let addr = server.local_addr().unwrap_or(args.listen);
    let _ = writeln!(std::io::stdout(), "listening on http://{addr}/");
    let mut s = Scheduler::new();
    s.spawn(server);
    let ended = s.run();
    Err(format!("the server stopped ({ended:?})"))
}
