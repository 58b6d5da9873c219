//! The BitTorrent cookbook tool (the Kamaelia cookbook's
//! `SimpleBitTorrentExample`, reference §4.6): type lines, get torrents.
//!
//! ```text
//!   console ──▶ parser ──file:──────▶ maker (TorrentMaker) ──▶┐
//!                     ──torrent:http─▶ http (SimpleHttpClient) ─▶ requests ──▶ patron ──▶ monitor ──▶ echo
//!                     ──torrent:PATH─▶ reader (TriggeredFileReader) ─▶┘     (TorrentPatron)  (id:file:percent)
//!                     ──magnet:──────────────────────────────────────▶┘
//!   parser, requests: lines that cannot be served ──────────────────────────────────────────────▶ echo
//! ```
//!
//! | line                     | what happens                                                  |
//! |--------------------------|---------------------------------------------------------------|
//! | `file:PATH`              | a `.torrent` is made of the file with our TorrentMaker, and the file seeded from where it is |
//! | `torrent:http://...`     | the `.torrent` is fetched with the HTTP client, then downloaded into the current folder |
//! | `torrent:PATH`           | the `.torrent` file is read, then downloaded                 |
//! | `magnet:?xt=...`         | the magnet link is downloaded                                 |
//!
//! Each time a torrent's whole percentage rises, one line
//! `id:file:percent` is printed (the first status of a torrent counts as
//! a rise). Start failures and disk errors are printed in the client's
//! words; lines that name no file, or that mean nothing, are answered
//! with an `error:` line, and the tool goes on.
//!
//! Fixed from the cookbook page: the monitor reads the client's typed
//! events, not the text of its messages; the page's link to `"Monitor"`
//! (no such child) is a link to `monitor`; missing files are refused
//! before they reach the maker or the reader (each of which ends on a
//! failure).
//!
//! The tool seeds until stopped (Ctrl-C): the end of standard input does
//! not stop the torrents. In the tests it is stopped by a shutdown on the
//! graphline's `control`, which reaches every child.
//!
//! Run it with `cargo run --example torrent_cookbook`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use kamaelia::axon::{
    console_reader, BoxSet, Component, Cx, Inbox, Outbox, Scheduler, Signal, Step,
};
use kamaelia::chassis::{BuildError, Graphline};
use kamaelia::file::TriggeredFileReader;
use kamaelia::protocol::http::client::{Fetched, HttpJob, SimpleHttpClient};
use kamaelia::protocol::torrent::client::{
    real_client_factory, ClientEvent, ClientFactory, ClientRequest, TorrentId, TorrentPatron,
    TorrentSource,
};
use kamaelia::protocol::torrent::maker::{MadeTorrent, TorrentMaker};
use kamaelia::util::ConsoleEchoer;

/// What one console line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Instruction {
    /// `file:PATH`: make a torrent of the file and seed it.
    MakeAndSeed(PathBuf),
    /// `torrent:http://...` or `https://`: fetch the `.torrent`.
    Fetch(String),
    /// `torrent:PATH`: read the `.torrent` file.
    Read(PathBuf),
    /// `magnet:...`: the whole link.
    Magnet(String),
    /// An empty line: nothing.
    Nothing,
    /// Anything else (the line).
    Unknown(String),
}

/// Reads one console line (surrounding white space ignored).
pub fn parse_instruction(line: &str) -> Instruction {
    let line = line.trim();
    if line.is_empty() {
        return Instruction::Nothing;
    }
    if let Some(path) = line.strip_prefix("file:").filter(|p| !p.is_empty()) {
        return Instruction::MakeAndSeed(PathBuf::from(path));
    }
    if let Some(what) = line.strip_prefix("torrent:").filter(|p| !p.is_empty()) {
        let lower = what.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            return Instruction::Fetch(what.to_string());
        }
        return Instruction::Read(PathBuf::from(what));
    }
    if line.starts_with("magnet:") {
        return Instruction::Magnet(line.to_string());
    }
    Instruction::Unknown(line.to_string())
}

/// Routes console lines by what they ask for.
///
/// | box     | carries   | meaning                                          |
/// |---------|-----------|--------------------------------------------------|
/// | inbox   | `String`  | console lines                                    |
/// | control | `Signal`  | any signal: passed on, and it ends               |
/// | outbox  | `PathBuf` | files to make a torrent of and seed (`file:`)    |
/// | fetch   | `HttpJob` | `.torrent` URLs (`torrent:http...`)              |
/// | read    | `PathBuf` | `.torrent` files (`torrent:PATH`)                |
/// | magnet  | `String`  | magnet links                                     |
/// | errors  | `String`  | lines that cannot be served, as `error: ...`     |
/// | signal  | `Signal`  | the control signal, passed on                    |
///
/// Paths are checked to be files here, so a missing one is an `error:`
/// line, not the end of the maker or the reader.
pub struct InstructionParser {
    /// Console lines.
    pub inbox: Inbox<String>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Files to seed.
    pub outbox: Outbox<PathBuf>,
    /// `.torrent` URLs.
    pub fetch: Outbox<HttpJob>,
    /// `.torrent` files.
    pub read: Outbox<PathBuf>,
    /// Magnet links.
    pub magnet: Outbox<String>,
    /// Lines that cannot be served.
    pub errors: Outbox<String>,
    /// The control signal, passed on.
    pub signal: Outbox<Signal>,
}

impl Default for InstructionParser {
    fn default() -> Self {
        Self::new()
    }
}

impl InstructionParser {
    /// A parser.
    pub fn new() -> Self {
        InstructionParser {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "files to make a torrent of and seed"),
            fetch: Outbox::new("fetch", ".torrent URLs"),
            read: Outbox::new("read", ".torrent files"),
            magnet: Outbox::new("magnet", "magnet links"),
            errors: Outbox::new("errors", "lines that cannot be served"),
            signal: Outbox::signal(),
        }
    }

    fn file_or_error(&self, path: PathBuf, to: &Outbox<PathBuf>) {
        if path.is_file() {
            let _ = to.send(path);
        } else {
            let _ = self
                .errors
                .send(format!("error: no such file: {}", path.display()));
        }
    }
}

impl Component for InstructionParser {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(line) = self.inbox.recv() {
            match parse_instruction(&line) {
                Instruction::MakeAndSeed(p) => self.file_or_error(p, &self.outbox),
                Instruction::Read(p) => self.file_or_error(p, &self.read),
                Instruction::Fetch(url) => {
                    let _ = self.fetch.send(HttpJob::Url(url));
                }
                Instruction::Magnet(link) => {
                    let _ = self.magnet.send(link);
                }
                Instruction::Nothing => {}
                Instruction::Unknown(l) => {
                    let _ = self.errors.send(format!(
                        "error: not understood (file:PATH, torrent:URL, torrent:PATH or magnet:...): {l}"
                    ));
                }
            }
        }
        if let Some(sig) = self.control.recv() {
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        kamaelia::boxes!(set; self.inbox, self.control, self.outbox, self.fetch, self.read,
            self.magnet, self.errors, self.signal);
    }
}

/// Turns what the maker, the HTTP client, the reader and the parser give
/// into `Create` requests for the patron, numbered 1, 2, 3, ...
///
/// | box     | carries       | meaning                                         |
/// |---------|---------------|-------------------------------------------------|
/// | made    | `MadeTorrent` | seeded from the made file's folder              |
/// | fetched | `Fetched`     | a `200` body is a `.torrent`; anything else is an `error:` line |
/// | read    | `Bytes`       | a `.torrent` file's contents                    |
/// | magnet  | `String`      | a magnet link                                   |
/// | control | `Signal`      | any signal: passed on, and it ends              |
/// | outbox  | `ClientRequest` | the requests                                  |
/// | errors  | `String`      | fetches that gave no `.torrent`                 |
/// | signal  | `Signal`      | the control signal, passed on                   |
pub struct Requests {
    /// Torrents made.
    pub made: Inbox<MadeTorrent>,
    /// Torrents fetched.
    pub fetched: Inbox<Fetched>,
    /// Torrents read.
    pub read: Inbox<Bytes>,
    /// Magnet links.
    pub magnet: Inbox<String>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// The requests.
    pub outbox: Outbox<ClientRequest>,
    /// Fetches that gave nothing.
    pub errors: Outbox<String>,
    /// The control signal, passed on.
    pub signal: Outbox<Signal>,
    last_token: u64,
}

impl Default for Requests {
    fn default() -> Self {
        Self::new()
    }
}

impl Requests {
    /// Numbering from 1.
    pub fn new() -> Self {
        Requests {
            made: Inbox::new("made", "torrents made, to seed"),
            fetched: Inbox::new("fetched", "fetched .torrent files"),
            read: Inbox::new("read", ".torrent files read"),
            magnet: Inbox::new("magnet", "magnet links"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "requests for the patron"),
            errors: Outbox::new("errors", "fetches that gave no .torrent"),
            signal: Outbox::signal(),
            last_token: 0,
        }
    }

    fn create(&mut self, source: TorrentSource, save_dir: Option<PathBuf>) {
        self.last_token += 1;
        let _ = self.outbox.send(ClientRequest::Create {
            token: self.last_token,
            source,
            save_dir,
            peers: Vec::new(),
        });
    }
}

impl Component for Requests {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(m) = self.made.recv() {
            // Seeded where the file is: the client finds it complete.
            let dir = m.path.parent().map(Path::to_path_buf).unwrap_or_default();
            self.create(TorrentSource::Metainfo(m.torrent), Some(dir));
        }
        while let Some(f) = self.fetched.recv() {
            match f {
                Ok(r) if r.head.status == 200 => self.create(TorrentSource::Metainfo(r.body), None),
                Ok(r) => {
                    let _ = self
                        .errors
                        .send(format!("error: {} answered {}", r.url, r.head.status));
                }
                Err(e) => {
                    let _ = self.errors.send(format!("error: {e}"));
                }
            }
        }
        while let Some(b) = self.read.recv() {
            self.create(TorrentSource::Metainfo(b), None);
        }
        while let Some(link) = self.magnet.recv() {
            self.create(TorrentSource::Magnet(link), None);
        }
        if let Some(sig) = self.control.recv() {
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        kamaelia::boxes!(set; self.made, self.fetched, self.read, self.magnet, self.control,
            self.outbox, self.errors, self.signal);
    }
}

/// The cookbook's MonitorParser, on typed events: one `id:file:percent`
/// line each time a torrent's whole percentage rises.
#[derive(Debug, Default)]
pub struct ProgressFormatter {
    /// Each torrent's file name, from `Created`.
    names: BTreeMap<TorrentId, String>,
    /// The last percentage printed for each torrent.
    shown: BTreeMap<TorrentId, u32>,
}

impl ProgressFormatter {
    /// The line to print for `ev`, if any.
    pub fn line(&mut self, ev: &ClientEvent) -> Option<String> {
        match ev {
            ClientEvent::Created { id, name, .. } => {
                self.names.insert(*id, name.clone());
                None
            }
            ClientEvent::Status(s) => {
                let pct = s.percent();
                if self.shown.get(&s.id).is_some_and(|last| pct <= *last) {
                    return None;
                }
                self.shown.insert(s.id, pct);
                let name = self.names.get(&s.id).unwrap_or(&s.name);
                Some(format!("{}:{}:{}", s.id, name, pct))
            }
            ClientEvent::StartFailed { .. } | ClientEvent::Error { .. } => Some(ev.to_string()),
            ClientEvent::Closed { id, .. } => {
                self.names.remove(id);
                self.shown.remove(id);
                None
            }
            ClientEvent::AlreadyDownloading { .. }
            | ClientEvent::MetadataReceived { .. }
            | ClientEvent::Complete(_) => None,
        }
    }
}

/// Prints progress: [`ProgressFormatter`] as a component.
///
/// | box     | carries       | meaning                               |
/// |---------|---------------|---------------------------------------|
/// | inbox   | `ClientEvent` | the patron's events                   |
/// | control | `Signal`      | any signal: passed on, and it ends    |
/// | outbox  | `String`      | `id:file:percent` lines, and failures |
/// | signal  | `Signal`      | the control signal, passed on         |
pub struct ProgressMonitor {
    /// Events.
    pub inbox: Inbox<ClientEvent>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Lines.
    pub outbox: Outbox<String>,
    /// The control signal, passed on.
    pub signal: Outbox<Signal>,
    fmt: ProgressFormatter,
}

impl Default for ProgressMonitor {
    fn default() -> Self {
        Self::new()
    }
}

impl ProgressMonitor {
    /// A monitor that has seen nothing.
    pub fn new() -> Self {
        ProgressMonitor {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "id:file:percent lines"),
            signal: Outbox::signal(),
            fmt: ProgressFormatter::default(),
        }
    }
}

impl Component for ProgressMonitor {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(ev) = self.inbox.recv() {
            if let Some(line) = self.fmt.line(&ev) {
                let _ = self.outbox.send(line);
            }
        }
        if let Some(sig) = self.control.recv() {
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        kamaelia::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}

/// The tool: `lines` (a component whose `outbox` carries `String` lines)
/// feeding the graph above, printing to `out`, the client made by
/// `factory`.
pub fn cookbook(
    lines: Box<dyn Component>,
    out: impl Write + 'static,
    factory: ClientFactory,
) -> Result<Graphline, BuildError> {
    Graphline::builder()
        .child_boxed("console", lines)
        .child("parser", InstructionParser::new())
        .child("maker", TorrentMaker::new())
        .child("http", SimpleHttpClient::new())
        .child("reader", TriggeredFileReader::new())
        .child("requests", Requests::new())
        .child("patron", TorrentPatron::new(factory))
        .child("monitor", ProgressMonitor::new())
        .child(
            "echo",
            ConsoleEchoer::<String>::new().newline(true).writer(out),
        )
        .link(("console", "outbox"), ("parser", "inbox"))
        .link(("parser", "outbox"), ("maker", "paths"))
        .link(("parser", "fetch"), ("http", "inbox"))
        .link(("parser", "read"), ("reader", "inbox"))
        .link(("parser", "magnet"), ("requests", "magnet"))
        .link(("parser", "errors"), ("echo", "inbox"))
        .link(("maker", "outbox"), ("requests", "made"))
        .link(("http", "outbox"), ("requests", "fetched"))
        .link(("reader", "outbox"), ("requests", "read"))
        .link(("requests", "outbox"), ("patron", "inbox"))
        .link(("requests", "errors"), ("echo", "inbox"))
        .link(("patron", "outbox"), ("monitor", "inbox"))
        .link(("monitor", "outbox"), ("echo", "inbox"))
        .build()
}

fn main() {
    let g = cookbook(
        Box::new(console_reader()),
        std::io::stdout(),
        real_client_factory(),
    )
    .expect("the cookbook graph links");
    eprintln!("file:PATH | torrent:URL | torrent:PATH | magnet:...  (Ctrl-C ends)");
    let mut s = Scheduler::new();
    s.spawn(g);
    s.run();
}
