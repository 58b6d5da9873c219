//! What `kamaelia get` and `kamaelia seed` share: the graph around one
//! [`TorrentClient`] and the component that drives it and shows progress.
//!
//! ```text
//! SingleShotHttpClient ──(a .torrent URL only)──▶ TorrentRun ──ClientRequest──▶ TorrentClient
//!                                                   ▲  │ control                  │
//!                                                   │  └─────────────────────────▶│
//!                                                   └──ClientEvent, signal ◀──────┘
//! ```
//!
//! `TorrentRun` fetches the `.torrent` when given a URL (its body kept up
//! to 16 MiB), asks the client to start it, shows the status (a progress
//! bar with rate, peers and ETA on a terminal, else one line a second on
//! stderr), and ends the client when the job is done: for `get`, once
//! every piece is verified (unless it seeds after); for `seed`, after
//! `--for` or never. The run's result is what the exit status says:
//! success only when the torrent completed.

use std::cell::RefCell;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kamaelia::axon::{link, BoxSet, Component, Cx, Inbox, Outbox, Scheduler, Signal, Step};
use kamaelia::boxes;

use super::show::human;
use kamaelia::internet::{Acceptor, TcpAcceptor};
use kamaelia::protocol::http::client::{
    ClientEvent as HttpEvent, Request, SingleShotHttpClient, Url,
};
use kamaelia::protocol::torrent::client::{
    peer_id_from, ClientConfig, ClientEvent, ClientRequest, TorrentClient, TorrentSource,
    TorrentState, TorrentStatus,
};

/// The largest .torrent fetched over HTTP.
const MAX_TORRENT: usize = 16 * 1024 * 1024;

/// Where the torrent comes from.
pub enum Source {
    /// A .torrent's bytes or a magnet link, in hand.
    Ready(TorrentSource),
    /// A .torrent to fetch first.
    Url(Url),
}

/// What `get` and `seed` both take: where to listen, whom to dial, the
/// limits and how long to run.
#[derive(clap::Args, Debug)]
pub struct NetArgs {
    /// The address to take peers' connections on.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:6881")]
    pub listen: SocketAddr,
    /// Connect to this peer as well as the trackers' (may be repeated).
    #[arg(long, value_name = "ADDR")]
    pub peer: Vec<SocketAddr>,
    /// Send at most this many KiB a second (0: no limit).
    #[arg(long, value_name = "KIB", default_value_t = 0)]
    pub upload_limit: u64,
    /// Receive at most this many KiB a second (0: no limit).
    #[arg(long, value_name = "KIB", default_value_t = 0)]
    pub download_limit: u64,
    /// Announce to the trackers at most this often (they may ask for
    /// longer): short for a seeder whose downloaders only take incoming
    /// connections, so it meets them at its next announce.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub min_reannounce: u64,
    /// Stop after this many seconds (for `get`: complete or not).
    #[arg(long = "for", value_name = "SECS")]
    pub for_secs: Option<u64>,
}

/// One run of the client.
pub struct Job {
    pub source: Source,
    pub save_dir: PathBuf,
    pub net: NetArgs,
    /// Keep going once complete (`seed`, or `get --seed-after`).
    pub keep_seeding: bool,
    /// How `get` or `seed` names itself in messages.
    pub verb: &'static str,
}

enum Phase {
    Fetching(BytesMut, u16),
    Running,
    Ending,
}

/// Drives the client; see the module documentation.
struct TorrentRun {
    http_in: Inbox<HttpEvent>,
    http_sig: Inbox<Signal>,
    to_client: Outbox<ClientRequest>,
    events: Inbox<ClientEvent>,
    client_ctl: Outbox<Signal>,
    client_sig: Inbox<Signal>,
    job: Job,
    phase: Phase,
    started: Option<Instant>,
    complete: bool,
    failure: Option<String>,
    show: Show,
    result: Rc<RefCell<Option<Result<(), String>>>>,
}

impl TorrentRun {
    fn create(&mut self, source: TorrentSource) {
        let req = ClientRequest::Create {
            token: 1,
            source,
            save_dir: Some(self.job.save_dir.clone()),
            peers: self.job.net.peer.clone(),
        };
        let _ = self.to_client.send(req);
        self.phase = Phase::Running;
    }

    fn end(&mut self, reason: Option<String>) {
        if self.failure.is_none() {
            self.failure = reason;
        }
        if !matches!(self.phase, Phase::Ending) {
            self.phase = Phase::Ending;
            let _ = self.client_ctl.send(Signal::Shutdown);
        }
    }

    fn on_event(&mut self, ev: ClientEvent) {
        match ev {
            ClientEvent::Created { name, save_dir, .. } => {
                self.show
                    .note(&format!("{name}: saving in {}", save_dir.display()));
            }
            ClientEvent::StartFailed { reason, .. } => self.end(Some(reason.to_string())),
            ClientEvent::AlreadyDownloading { .. } => {}
            ClientEvent::MetadataReceived { .. } => self.show.note("metadata received"),
            ClientEvent::Status(st) => {
                if self.job.verb == "seed"
                    && st.state == TorrentState::Downloading
                    && !self.complete
                    && self.started.is_none()
                {
                    self.show.note(&format!(
                        "the data is incomplete ({} of {} pieces): fetching the rest",
                        st.pieces_have, st.pieces_total
                    ));
                }
                self.started.get_or_insert_with(Instant::now);
                self.show.status(&st);
            }
            ClientEvent::Complete(_) => {
                self.complete = true;
                self.show.done();
                if !self.job.keep_seeding {
                    self.end(None);
                }
            }
            ClientEvent::Error { reason, .. } => self.end(Some(reason)),
            ClientEvent::Closed { .. } => {}
        }
    }
}

impl Component for TorrentRun {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if let Phase::Fetching(body, status) = &mut self.phase {
            while let Some(ev) = self.http_in.recv() {
                match ev {
                    HttpEvent::Head(h) => *status = h.status,
                    HttpEvent::Body(b) if body.len() + b.len() <= MAX_TORRENT => {
                        body.extend_from_slice(&b)
                    }
                    HttpEvent::Body(_) => {
                        self.end(Some("the .torrent is over 16 MiB".into()));
                        return Step::Pause;
                    }
                    _ => {}
                }
            }
            if let Some(sig) = self.http_sig.recv() {
                let status = *status;
                let body = std::mem::take(body).freeze();
                match sig {
                    Signal::Failed(f) => self.end(Some(f.to_string())),
                    _ if status >= 400 => {
                        self.end(Some(format!("fetching the .torrent: status {status}")))
                    }
                    _ => self.create(TorrentSource::Metainfo(body)),
                }
            }
        }
        while let Some(ev) = self.events.recv() {
            self.on_event(ev);
        }
        if let Some(stop) = self.job.net.for_secs.map(Duration::from_secs) {
            let at = *self.started.get_or_insert_with(Instant::now) + stop;
            if Instant::now() >= at {
                self.end(None);
            } else {
                cx.wake_after(at - Instant::now());
            }
        }
        if let Some(sig) = self.client_sig.recv() {
            self.show.finish();
            let result = match (self.failure.take(), sig) {
                (Some(f), _) => Err(f),
                (None, Signal::Failed(f)) => Err(f.to_string()),
                (None, _) if self.complete || self.job.verb == "seed" => Ok(()),
                (None, _) => Err("stopped before every piece was verified".into()),
            };
            *self.result.borrow_mut() = Some(result);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.http_in, self.http_sig, self.to_client, self.events, self.client_ctl, self.client_sig);
    }
}

/// How progress is shown: a bar on a terminal, else a line a second.
struct Show {
    bar: Option<ProgressBar>,
    verb: &'static str,
}

impl Show {
    fn new(verb: &'static str) -> Show {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {msg} eta {eta}")
                    .expect("a valid template"),
            );
            bar
        });
        Show { bar, verb }
    }

    fn note(&self, line: &str) {
        match &self.bar {
            Some(b) => b.println(line),
            None => eprintln!("{}: {line}", self.verb),
        }
    }

    fn status(&self, st: &TorrentStatus) {
        let line = format!(
            "{}% {}/{} down {}/s up {}/s peers {} ({} seeds) {:?}",
            st.percent(),
            human(st.have_bytes),
            human(st.total_bytes),
            human(st.download_rate),
            human(st.upload_rate),
            st.peers,
            st.seeds,
            st.state,
        );
        match &self.bar {
            Some(b) => {
                b.set_length(st.total_bytes);
                b.set_position(st.have_bytes);
                b.set_message(format!(
                    "down {}/s up {}/s peers {}",
                    human(st.download_rate),
                    human(st.upload_rate),
                    st.peers
                ));
            }
            None => {
                let eta = if st.download_rate > 0 && st.total_bytes > st.have_bytes {
                    format!(
                        " eta {}s",
                        (st.total_bytes - st.have_bytes) / st.download_rate
                    )
                } else {
                    String::new()
                };
                eprintln!("{}: {line}{eta}", self.verb);
            }
        }
    }

    fn done(&self) {
        self.note("complete: every piece verified");
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// Runs a job to its end.
pub fn run(job: Job) -> Result<(), String> {
    std::fs::create_dir_all(&job.save_dir)
        .map_err(|e| format!("cannot make {}: {e}", job.save_dir.display()))?;
    let listen = job.net.listen;
    let acceptor =
        TcpAcceptor::bind(listen, 128).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut config = ClientConfig {
        peer_id: peer_id_from(nanos ^ u64::from(std::process::id())),
        download_dir: job.save_dir.clone(),
        seed_rng: nanos,
        upload_limit: (job.net.upload_limit > 0).then_some(job.net.upload_limit * 1024),
        download_limit: (job.net.download_limit > 0).then_some(job.net.download_limit * 1024),
        ..ClientConfig::default()
    };
    config.tiers.min_reannounce = Duration::from_secs(job.net.min_reannounce.max(1));
    let client = TorrentClient::new(config, Some(Box::new(acceptor) as Box<dyn Acceptor>));
    let result = Rc::new(RefCell::new(None));
    let verb = job.verb;
    let mut run = TorrentRun {
        http_in: Inbox::new("http_in", "the .torrent's response"),
        http_sig: Inbox::new("http_sig", "the HTTP client's end"),
        to_client: Outbox::new("to_client", "requests to the client"),
        events: Inbox::new("events", "the client's events"),
        client_ctl: Outbox::new("client_ctl", "shutdown for the client"),
        client_sig: Inbox::new("client_sig", "the client's end"),
        phase: Phase::Running,
        started: None,
        complete: false,
        failure: None,
        show: Show::new(verb),
        result: result.clone(),
        job,
    };
    link(&run.to_client, &client.inbox).expect("fresh boxes link");
    link(&client.outbox, &run.events).expect("fresh boxes link");
    link(&run.client_ctl, &client.control).expect("fresh boxes link");
    link(&client.signal, &run.client_sig).expect("fresh boxes link");
    let mut s = Scheduler::new();
    match std::mem::replace(
        &mut run.job.source,
        Source::Ready(TorrentSource::Magnet(String::new())),
    ) {
        Source::Ready(source) => run.create(source),
        Source::Url(url) => {
            let http = SingleShotHttpClient::new(Request::get(url));
            link(&http.outbox, &run.http_in).expect("fresh boxes link");
            link(&http.signal, &run.http_sig).expect("fresh boxes link");
            run.phase = Phase::Fetching(BytesMut::new(), 0);
            s.spawn(http);
        }
    }
    s.spawn(client);
    s.spawn(run);
    s.run();
    let r = result.borrow_mut().take();
    r.unwrap_or_else(|| Err(format!("{verb}: the run ended without a result")))
}

/// A SOURCE argument: a magnet link, an http(s) URL of a .torrent, or a
/// .torrent's path.
pub fn source_of(arg: &str) -> Result<Source, String> {
    if arg.starts_with("magnet:") {
        return Ok(Source::Ready(TorrentSource::Magnet(arg.to_string())));
    }
    if arg.starts_with("http://") || arg.starts_with("https://") {
        let url = Url::parse(arg).map_err(|e| format!("bad URL {arg}: {e}"))?;
        return Ok(Source::Url(url));
    }
    let bytes = std::fs::read(arg).map_err(|e| format!("cannot read {arg}: {e}"))?;
    Ok(Source::Ready(TorrentSource::Metainfo(Bytes::from(bytes))))
}
