//! `kamaelia show FILE.torrent`: what a .torrent file says, read by
//! `Metainfo::from_bytes` (no component graph: one file read and printed).
//!
//! ```text
//! name: album
//! info-hash: 6f1c…
//! private: no
//! piece length: 32768 (32.0 KiB)
//! pieces: 3
//! total: 72775 bytes (71.1 KiB) in 5 files
//! files:
//!              5  album/Sub/deeper/y.bin
//!          40000  album/Sub/x.bin
//! trackers:
//!   tier 1: http://127.0.0.1:1/a udp://127.0.0.1:2
//! web seeds:
//!   http://127.0.0.1:8/seed/
//! magnet: magnet:?xt=urn:btih:…
//! ```
//!
//! A file that is not a valid torrent fails with the reason
//! (`kamaelia: FILE: metainfo: …`) and exit status 1.

use std::io::Write;
use std::path::PathBuf;

use kamaelia::protocol::torrent::metainfo::Metainfo;

/// The largest file read: real .torrent files are at most a few MB.
const MAX_FILE: u64 = 64 << 20;

/// Arguments of `kamaelia show`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The .torrent file.
    pub file: PathBuf,
}

pub fn run(args: Args) -> Result<(), String> {
    let name = args.file.display();
    let len = std::fs::metadata(&args.file)
        .map_err(|e| format!("cannot read {name}: {e}"))?
        .len();
    if len > MAX_FILE {
        return Err(format!(
            "{name}: {len} bytes, larger than any .torrent ({MAX_FILE} at most)"
        ));
    }
    let bytes = std::fs::read(&args.file).map_err(|e| format!("cannot read {name}: {e}"))?;
    let m = Metainfo::from_bytes(&bytes).map_err(|e| format!("{name}: {e}"))?;
    let text = describe(&m);
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        // `kamaelia show x | head`: stopping early is not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("cannot write: {e}")),
    }
}

/// The printed description, one field a line.
pub fn describe(m: &Metainfo) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "name: {}", m.name());
    let _ = writeln!(s, "info-hash: {}", m.info_hash_hex());
    let _ = writeln!(s, "private: {}", if m.is_private() { "yes" } else { "no" });
    if m.is_hybrid() {
        let _ = writeln!(s, "hybrid v1/v2: the v1 part is shown");
    }
    let _ = writeln!(
        s,
        "piece length: {} ({})",
        m.piece_length(),
        human(m.piece_length())
    );
    let _ = writeln!(s, "pieces: {}", m.piece_count());
    let count = m.files().len();
    let _ = writeln!(
        s,
        "total: {} bytes ({}) in {count} file{}",
        m.total_length(),
        human(m.total_length()),
        if count == 1 { "" } else { "s" }
    );
    let _ = writeln!(s, "files:");
    for f in m.files() {
        let pad = if f.padding { "  (padding)" } else { "" };
        let _ = writeln!(s, "  {:>12}  {}{pad}", f.length, f.path.join("/"));
    }
    let tiers = m.tiers();
    if !tiers.is_empty() {
        let _ = writeln!(s, "trackers:");
        for (i, tier) in tiers.iter().enumerate() {
            let _ = writeln!(s, "  tier {}: {}", i + 1, tier.join(" "));
        }
    }
    if !m.url_list().is_empty() {
        let _ = writeln!(s, "web seeds:");
        for u in m.url_list() {
            let _ = writeln!(s, "  {u}");
        }
    }
    if let Some(c) = m.comment() {
        let _ = writeln!(s, "comment: {c}");
    }
    if let Some(c) = m.created_by() {
        let _ = writeln!(s, "created by: {c}");
    }
    if let Some(d) = m.creation_date() {
        let _ = writeln!(s, "creation date: {d} (seconds since 1970, UTC)");
    }
    let _ = writeln!(s, "magnet: {}", m.magnet());
    s
}

/// Bytes in binary units, one decimal (also `get`'s and `seed`'s status).
pub fn human(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}
