//! `kamaelia make PATH -o OUT.torrent [--piece-length BYTES]
//! [--announce URL]... [--private] [--comment TEXT] [--name NAME]
//! [--no-date]`: a `.torrent` of a file or folder, as `mktorrent` 1.1
//! makes it (same files, order, piece length and info-hash), its info-hash
//! printed in hex on stdout; a progress bar on stderr when stderr is a
//! terminal and the input is big.
//!
//! ```text
//! TorrentMaker ──MadeTorrent──▶ Report ──(PathBuf, Bytes)──▶ WholeFileWriter
//!   │ progress ───────────────▶ progress (the bar)             │ signal
//!   └─signal──────────────────▶ control ──signal──▶ control    ▼
//!                                                           Outcome
//! ```
//!
//! Each `--announce` is a tier of its own; commas inside one make a tier
//! of several URLs (mktorrent's `-a URL,URL`). The default piece length is
//! mktorrent 1.1's, 256 KiB. OUT is written only once the torrent is made;
//! a failure (missing path, empty folder, unreadable file) leaves it
//! untouched and exits 1 with the reason.

use std::cell::RefCell;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::rc::Rc;

use bytes::Bytes;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kamaelia::axon::{link, BoxSet, Component, Cx, Full, Inbox, Outbox, Scheduler, Signal, Step};
use kamaelia::boxes;
use kamaelia::file::WholeFileWriter;
use kamaelia::protocol::torrent::maker::{hex, MadeTorrent, MakeTorrent, Progress, TorrentMaker};

/// Arguments of `kamaelia make`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The file or folder to make a torrent of.
    pub path: PathBuf,
    /// Where to write the .torrent file.
    #[arg(short, long, value_name = "OUT.torrent")]
    pub output: PathBuf,
    /// Bytes per piece: a power of two from 32768 to 268435456 (default
    /// 262144, as mktorrent 1.1).
    #[arg(long, value_name = "BYTES")]
    pub piece_length: Option<u64>,
    /// A tracker's announce URL; each one is a tier, commas make a tier of
    /// several. May be given more than once.
    #[arg(short, long, value_name = "URL")]
    pub announce: Vec<String>,
    /// Set the private flag (BEP 27).
    #[arg(short, long)]
    pub private: bool,
    /// A comment to put in the torrent.
    #[arg(short, long, value_name = "TEXT")]
    pub comment: Option<String>,
    /// The torrent's name (default: the last component of PATH).
    #[arg(short, long)]
    pub name: Option<String>,
    /// Leave out the creation date (reproducible output).
    #[arg(short = 'd', long)]
    pub no_date: bool,
}

impl Args {
    fn request(&self) -> MakeTorrent {
        let mut req = MakeTorrent::new(&self.path);
        for a in &self.announce {
            let tier: Vec<String> = a
                .split(',')
                .filter(|u| !u.is_empty())
                .map(String::from)
                .collect();
            if !tier.is_empty() {
                req = req.tier(tier);
            }
        }
        if let Some(n) = self.piece_length {
            req = req.piece_length(n);
        }
        if let Some(c) = &self.comment {
            req = req.comment(c.clone());
        }
        if let Some(n) = &self.name {
            req = req.name(n.clone());
        }
        if self.no_date {
            req = req.creation_date(None);
        }
        req.private(self.private)
    }
}

/// Passes the torrent to the writer, keeps its info-hash, draws progress.
///
/// | box      | carries            | meaning                                   |
/// |----------|--------------------|-------------------------------------------|
/// | inbox    | `MadeTorrent`      | the torrent made                          |
/// | progress | `Progress`         | bytes hashed so far (moves the bar)       |
/// | control  | `Signal`           | the maker's end: passed on after the torrent |
/// | outbox   | `(PathBuf, Bytes)` | the job for the file writer               |
/// | signal   | `Signal`           | the control signal, passed on             |
struct Report {
    inbox: Inbox<MadeTorrent>,
    progress: Inbox<Progress>,
    control: Inbox<Signal>,
    outbox: Outbox<(PathBuf, Bytes)>,
    signal: Outbox<Signal>,
    out: PathBuf,
    bar: ProgressBar,
    info_hash: Rc<RefCell<Option<String>>>,
    held: Option<(PathBuf, Bytes)>,
}

impl Component for Report {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(p) = self.progress.recv() {
            self.bar.set_length(p.total);
            self.bar.set_position(p.hashed);
        }
        if let Some(job) = self.held.take() {
            if let Err(Full(job)) = self.outbox.send(job) {
                self.held = Some(job);
                return Step::Pause;
            }
        }
        while let Some(m) = self.inbox.recv() {
            *self.info_hash.borrow_mut() = Some(hex(&m.info_hash));
            if let Err(Full(job)) = self.outbox.send((self.out.clone(), m.torrent)) {
                self.held = Some(job);
                return Step::Pause;
            }
        }
        if let Some(sig) = self.control.recv() {
            self.bar.finish_and_clear();
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.inbox, self.progress, self.control, self.outbox, self.signal);
    }
}

/// Keeps the signal that ends the run.
struct Outcome {
    control: Inbox<Signal>,
    result: Rc<RefCell<Option<Signal>>>,
}

impl Component for Outcome {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        match self.control.recv() {
            Some(sig) => {
                *self.result.borrow_mut() = Some(sig);
                Step::Done
            }
            None => Step::Pause,
        }
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.control);
    }
}

/// Runs `kamaelia make`.
pub fn run(args: Args) -> Result<(), String> {
    let maker = TorrentMaker::new();
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(None, target);
    bar.set_style(
        ProgressStyle::with_template(
            "[{bar:30}] {bytes}/{total_bytes} hashed at {binary_bytes_per_sec}, {eta} left",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let info_hash = Rc::new(RefCell::new(None));
    let report = Report {
        inbox: Inbox::inbox(),
        progress: Inbox::new("progress", "bytes hashed"),
        control: Inbox::control(),
        outbox: Outbox::new("outbox", "the .torrent file to write"),
        signal: Outbox::signal(),
        out: args.output.clone(),
        bar,
        info_hash: info_hash.clone(),
        held: None,
    };
    let writer = WholeFileWriter::new();
    let result = Rc::new(RefCell::new(None));
    let outcome = Outcome {
        control: Inbox::control(),
        result: result.clone(),
    };
    link(&maker.outbox, &report.inbox).expect("fresh boxes link");
    link(&maker.progress, &report.progress).expect("fresh boxes link");
    link(&maker.signal, &report.control).expect("fresh boxes link");
    link(&report.outbox, &writer.inbox).expect("fresh boxes link");
    link(&report.signal, &writer.control).expect("fresh boxes link");
    link(&writer.signal, &outcome.control).expect("fresh boxes link");
    // One request, then "that is all".
    maker
        .inbox
        .address()
        .deliver(args.request())
        .map_err(|_| "cannot queue the request".to_string())?;
    maker
        .control
        .address()
        .deliver(Signal::ProducerFinished)
        .map_err(|_| "cannot queue the finish".to_string())?;
    let mut s = Scheduler::new();
    s.spawn(maker);
    s.spawn(report);
    s.spawn(writer);
    s.spawn(outcome);
    s.run();
    let result = result.borrow_mut().take();
    match result {
        Some(Signal::ProducerFinished) => {
            let hash = info_hash.borrow_mut().take().ok_or("no torrent was made")?;
            println!("{hash}");
            Ok(())
        }
        // A MakeError names its path; a FileError names OUT.
        Some(Signal::Failed(f)) => Err(f.to_string()),
        Some(Signal::Shutdown) => Err("shut down".to_string()),
        None => Err("the run ended without a result".to_string()),
    }
}
