//! The TorrentSeeder sketch (`EX/_TorrentBasedStreaming_GSOC/TorrentSeeder`,
//! reference §4.6): type a file name; a `.torrent` of it is made, written
//! beside it as `<file>.torrent`, and the file is seeded.
//!
//! ```text
//!   console ─▶ check ─▶ split ─make─▶ maker ─▶ made ─seed──▶ seed ─▶ patron ─▶ explain ─▶ echo
//!              │              │        (TorrentMaker)  ─bytes─▶ bytes ─▶ pair.b   (TorrentPatron)
//!              │              └─name─▶ name (+".torrent") ───────────▶ pair.a
//!              │                                     pair (TwoSourceListifier) ─▶ writer (WholeFileWriter) ─▶ wrote ─▶ echo
//!              └─ missing files ─────────────────────────────────────────────────────────────────────────────────────▶ echo
//! ```
//!
//! As in the original: a [`Fanout`] sends each name both to the
//! [`TorrentMaker`] and to a [`PureTransformer`] adding `.torrent`; a
//! [`TwoSourceListifier`] pairs the n-th name with the n-th torrent made
//! and a [`WholeFileWriter`] writes the pair; a second `Fanout` gives each
//! torrent to the [`TorrentPatron`] too (a `Create` seeded from the file's
//! folder, so the client finds the data complete), and the patron's
//! events are explained in words (the original's `BasicTorrentExplainer`).
//!
//! Fixed: a name that is not a file is refused with an `error:` line
//! before the fanout. The maker ends on a file it cannot read, and the
//! pairs of names and torrents would then fall out of step; refusing
//! missing files first keeps them in step.
//!
//! It seeds until stopped (Ctrl-C). Run it with
//! `cargo run --example torrent_seeder`.

use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use kamaelia::axon::{
    console_reader, BoxSet, Component, Cx, Inbox, Outbox, Scheduler, Signal, Step,
};
use kamaelia::chassis::{BuildError, Graphline};
use kamaelia::file::WholeFileWriter;
use kamaelia::protocol::torrent::client::{
    real_client_factory, ClientEvent, ClientFactory, ClientRequest, TorrentPatron, TorrentSource,
};
use kamaelia::protocol::torrent::maker::{MadeTorrent, TorrentMaker};
use kamaelia::util::{ConsoleEchoer, Fanout, PureTransformer, TwoSourceListifier};

/// Passes on the lines that name a file, as paths.
///
/// | box     | carries   | meaning                                    |
/// |---------|-----------|--------------------------------------------|
/// | inbox   | `String`  | file names (white space around ignored; empty lines skipped) |
/// | control | `Signal`  | any signal: passed on, and it ends         |
/// | outbox  | `PathBuf` | the names of files that exist              |
/// | errors  | `String`  | `error: no such file: NAME`                |
/// | signal  | `Signal`  | the control signal, passed on              |
pub struct FileCheck {
    /// File names.
    pub inbox: Inbox<String>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Files that exist.
    pub outbox: Outbox<PathBuf>,
    /// Names that are no file.
    pub errors: Outbox<String>,
    /// The control signal, passed on.
    pub signal: Outbox<Signal>,
}

impl Default for FileCheck {
    fn default() -> Self {
        Self::new()
    }
}

impl FileCheck {
    /// A check.
    pub fn new() -> Self {
        FileCheck {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "files that exist"),
            errors: Outbox::new("errors", "names that are no file"),
            signal: Outbox::signal(),
        }
    }
}

impl Component for FileCheck {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(line) = self.inbox.recv() {
            let name = line.trim();
            if name.is_empty() {
                continue;
            }
            let path = PathBuf::from(name);
            if path.is_file() {
                let _ = self.outbox.send(path);
            } else {
                let _ = self.errors.send(format!("error: no such file: {name}"));
            }
        }
        if let Some(sig) = self.control.recv() {
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        kamaelia::boxes!(set; self.inbox, self.control, self.outbox, self.errors, self.signal);
    }
}

/// `<file>.torrent` for a file.
pub fn torrent_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".torrent");
    PathBuf::from(name)
}

/// The patron's request to seed a made torrent: from the file's folder,
/// with tokens 1, 2, 3, ...
pub fn seed_request(token: u64, made: MadeTorrent) -> ClientRequest {
    let dir = made
        .path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    ClientRequest::Create {
        token,
        source: TorrentSource::Metainfo(made.torrent),
        save_dir: Some(dir),
        peers: Vec::new(),
    }
}

/// The sketch: file names from `lines` (a component whose `outbox`
/// carries `String`), what happens printed to `out`, the client made by
/// `factory`.
pub fn seeder(
    lines: Box<dyn Component>,
    out: impl Write + 'static,
    factory: ClientFactory,
) -> Result<Graphline, BuildError> {
    let mut token = 0u64;
    Graphline::builder()
        .child_boxed("console", lines)
        .child("check", FileCheck::new())
        .child("split", Fanout::<PathBuf>::new(&["make", "name"]))
        .child("maker", TorrentMaker::new())
        .child("made", Fanout::<MadeTorrent>::new(&["seed", "bytes"]))
        .child(
            "name",
            PureTransformer::new(|p: PathBuf| Some(torrent_path(&p))),
        )
        .child(
            "bytes",
            PureTransformer::new(|m: MadeTorrent| Some(m.torrent)),
        )
        .child(
            "seed",
            PureTransformer::new(move |m: MadeTorrent| {
                token += 1;
                Some(seed_request(token, m))
            }),
        )
        .child("pair", TwoSourceListifier::<PathBuf, Bytes>::new())
        .child("writer", WholeFileWriter::new())
        .child(
            "wrote",
            PureTransformer::new(|p: PathBuf| Some(format!("wrote {}", p.display()))),
        )
        .child("patron", TorrentPatron::new(factory))
        .child(
            "explain",
            PureTransformer::new(|ev: ClientEvent| Some(ev.to_string())),
        )
        .child(
            "echo",
            ConsoleEchoer::<String>::new().newline(true).writer(out),
        )
        .link(("console", "outbox"), ("check", "inbox"))
        .link(("check", "outbox"), ("split", "inbox"))
        .link(("check", "errors"), ("echo", "inbox"))
        .link(("split", "make"), ("maker", "paths"))
        .link(("split", "name"), ("name", "inbox"))
        .link(("name", "outbox"), ("pair", "a"))
        .link(("maker", "outbox"), ("made", "inbox"))
        .link(("made", "bytes"), ("bytes", "inbox"))
        .link(("bytes", "outbox"), ("pair", "b"))
        .link(("made", "seed"), ("seed", "inbox"))
        .link(("seed", "outbox"), ("patron", "inbox"))
        .link(("pair", "outbox"), ("writer", "inbox"))
        .link(("writer", "outbox"), ("wrote", "inbox"))
        .link(("wrote", "outbox"), ("echo", "inbox"))
        .link(("patron", "outbox"), ("explain", "inbox"))
        .link(("explain", "outbox"), ("echo", "inbox"))
        .build()
}

fn main() {
    let g = seeder(
        Box::new(console_reader()),
        std::io::stdout(),
        real_client_factory(),
    )
    .expect("the seeder graph links");
    eprintln!("type file names to make a .torrent of and seed (Ctrl-C ends)");
    let mut s = Scheduler::new();
    s.spawn(g);
    s.run();
}
