//! `kamaelia rip URL -o FILE`: an Icecast (or SHOUTcast) stream recorded
//! to FILE, the audio only, the title printed on stdout when it changes.
//!
//! ```text
//! IcecastClient ──▶ IcecastDemux ──audio──▶ IcecastStreamWriter (FILE)
//!  (Icy-MetaData: 1,     │
//!   reconnects with      └──metadata──▶ a title line when it changes
//!   back-off)
//! ```
//!
//! It is the library's `protocol::http::icecast::rip` with a printer. It
//! runs until `--seconds` or `--bytes` is reached, or until the server has
//! refused `--attempts` connections in a row (default 10); each step
//! flushes the file, so an interrupted rip keeps what came.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use kamaelia::protocol::http::icecast::{rip, IcecastConfig, RipEvent, RipOptions};

/// Arguments of `kamaelia rip`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stream's URL (http only), e.g. http://127.0.0.1:8000/live.mp3
    pub url: String,
    /// The file the audio is written to.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Stop after this many seconds.
    #[arg(long)]
    pub seconds: Option<u64>,
    /// Stop after this many bytes of audio.
    #[arg(long)]
    pub bytes: Option<u64>,
    /// Give up after this many failed connections in a row.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub attempts: u32,
}

/// One line for an event worth showing, or none.
fn describe(ev: &RipEvent) -> Option<String> {
    match ev {
        RipEvent::Connected(info) => Some(format!(
            "connected: {}{}",
            info.content_type.as_deref().unwrap_or("(no content type)"),
            match info.metaint {
                Some(n) => format!(" (metadata every {n} bytes)"),
                None => " (no metadata)".to_string(),
            }
        )),
        RipEvent::Title(t) if t.is_empty() => Some("title: (none)".to_string()),
        RipEvent::Title(t) => Some(format!("title: {t}")),
        RipEvent::Disconnected(d) => Some(match d.retry_in {
            Some(w) => format!("disconnected: {}; again in {w:?}", d.reason),
            None => format!("disconnected: {}; giving up", d.reason),
        }),
        RipEvent::Error(e) => Some(format!("stream error: {e}")),
        RipEvent::Metadata(_) => None,
    }
}

/// Records the stream; the reason on failure.
pub fn run(args: Args) -> Result<(), String> {
    let opts = RipOptions {
        config: IcecastConfig {
            max_attempts: Some(args.attempts),
            ..IcecastConfig::default()
        },
        max_bytes: args.bytes,
        duration: args.seconds.map(Duration::from_secs),
    };
    let summary = rip(&args.url, &args.output, opts, |ev| {
        if let Some(line) = describe(ev) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    })
    .map_err(|e| format!("ripping {}: {e}", args.url))?;
    println!(
        "saved {} bytes to {} ({} title changes, {} disconnects)",
        summary.bytes,
        args.output.display(),
        summary.titles,
        summary.disconnects
    );
    Ok(())
}
