//! A stream ripper: an Icecast (or SHOUTcast) URL to a file, the audio
//! only, the title printed when it changes.
//!
//! ```sh
//! cargo run --example icecast_rip -- http://127.0.0.1:8000/live.mp3 out.mp3 --seconds 60
//! ```
//!
//! `--seconds N` stops after N seconds, `--bytes N` after N bytes of
//! audio; without either it runs until the server is gone for good
//! (`--attempts N`: give up after N failed connections in a row; default
//! 10) or it is interrupted (each step flushes the file, so what came is
//! saved). It is [`rip`] with a printer: `IcecastClient` →
//! `IcecastDemux` → `IcecastStreamWriter`, reconnecting with a back-off.

use std::io::Write;
use std::time::Duration;

use kamaelia::protocol::http::icecast::{rip, IcecastConfig, RipEvent, RipOptions};

/// One line for an event worth showing, or none.
pub fn describe(ev: &RipEvent) -> Option<String> {
    match ev {
        RipEvent::Connected(info) => Some(format!(
            "connected: {} {}{}",
            info.content_type.as_deref().unwrap_or("(no content type)"),
            info.name.as_deref().unwrap_or(""),
            match info.metaint {
                Some(n) => format!(" (metadata every {n} bytes)"),
                None => " (no metadata)".to_string(),
            }
        )),
        RipEvent::Title(t) => Some(format!("title: {t}")),
        RipEvent::Disconnected(d) => Some(match d.retry_in {
            Some(w) => format!("disconnected: {}; again in {w:?}", d.reason),
            None => format!("disconnected: {}; giving up", d.reason),
        }),
        RipEvent::Error(e) => Some(format!("stream error: {e}")),
        RipEvent::Metadata(_) => None,
    }
}

fn usage() -> ! {
    eprintln!("usage: icecast_rip URL FILE [--seconds N] [--bytes N] [--attempts N]");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        usage();
    }
    let mut opts = RipOptions {
        config: IcecastConfig {
            max_attempts: Some(10),
            ..IcecastConfig::default()
        },
        ..RipOptions::default()
    };
    let mut rest = args[2..].iter();
    while let Some(flag) = rest.next() {
        let n: u64 = match rest.next().map(|v| v.parse()) {
            Some(Ok(n)) => n,
            _ => usage(),
        };
        match flag.as_str() {
            "--seconds" => opts.duration = Some(Duration::from_secs(n)),
            "--bytes" => opts.max_bytes = Some(n),
            "--attempts" => opts.config.max_attempts = Some(n.clamp(1, u32::MAX as u64) as u32),
            _ => usage(),
        }
    }
    let result = rip(&args[0], &args[1], opts, |ev| {
        if let Some(line) = describe(ev) {
            let _ = writeln!(std::io::stdout(), "{line}");
        }
    });
    match result {
        Ok(s) => println!(
            "saved {} bytes to {} ({} titles, {} disconnects)",
            s.bytes, args[1], s.titles, s.disconnects
        ),
        Err(e) => {
            eprintln!("icecast_rip: {e}");
            std::process::exit(1);
        }
    }
}
