//! `kamaelia fetch URL [-o FILE] [--cacert FILE]`: one URL (http or
//! https) fetched, its body written to FILE or stdout, a progress bar with
//! the rate on stderr when stderr is a terminal. HTTPS certificates are
//! checked against Mozilla's roots, or only against the CAs given with
//! `--cacert`.
//!
//! With `-o`, FILE is created (or truncated) when the run starts, so a
//! failed fetch leaves it empty or holding what arrived.
//!
//! ```text
//! SingleShotHttpClient ──ClientEvent──▶ ProgressTap ──Bytes──▶ SimpleFileWriter (-o FILE)
//!   ▲      │  (https: a ureq child)    [limit 8]   │  [limit 8]   or StdoutWriter
//!   │      └──────signal──────────────▶ control    └──signal───▶ control
//!   │                                                              │ signal
//!   └─control◀── stop ── Outcome ◀── control ───────────────────────┘
//! ```
//!
//! The client's end (`ProducerFinished`, or `Failed` with the reason)
//! travels down the chain behind the body; the writer forwards it, or its
//! own failure, to `Outcome`, and that decides the exit status. When the
//! writer fails (a full disk, a closed stdout), `Outcome` shuts the client
//! down, so the rest of the body is not fetched for nobody. A response with status
//! 400 or more is a failure (`status 404`), after its body is written.
//! Every link is bounded, so a slow disk or a slow reader of stdout holds
//! the connection back rather than letting the body pile up in memory.

use std::cell::RefCell;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::rc::Rc;

use bytes::Bytes;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kamaelia::axon::{
    link, link_with_limit, BoxSet, Component, Cx, Full, Inbox, Outbox, Scheduler, Signal, Step,
};
use kamaelia::boxes;
use kamaelia::file::{SimpleFileWriter, WriteMode};
use kamaelia::protocol::http::client::{ClientEvent, Request, SingleShotHttpClient, Url};
use kamaelia::protocol::http::Framing;

/// Messages each link holds.
const LINK_LIMIT: usize = 8;

/// Arguments of `kamaelia fetch`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The URL to fetch (http:// or https://).
    pub url: String,
    /// Write the body to FILE (created or truncated) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// For https: trust the CA certificate(s) in FILE (PEM or DER)
    /// instead of Mozilla's roots; may be given more than once.
    #[arg(long, value_name = "FILE")]
    pub cacert: Vec<PathBuf>,
}

/// The certificates (DER) in a PEM or DER file.
fn certificates(path: &std::path::Path) -> Result<Vec<Vec<u8>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Ok(vec![bytes]); // DER
    };
    if !text.contains("-----BEGIN") {
        return Ok(vec![bytes]);
    }
    let mut certs = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let body = &rest[start + "-----BEGIN CERTIFICATE-----".len()..];
        let end = body
            .find("-----END CERTIFICATE-----")
            .ok_or_else(|| format!("{}: a certificate without its END line", path.display()))?;
        let der = base64(&body[..end])
            .ok_or_else(|| format!("{}: a certificate that is not base64", path.display()))?;
        certs.push(der);
        rest = &body[end..];
    }
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it", path.display()));
    }
    Ok(certs)
}

/// Standard base64 (whitespace ignored, `=` padding optional).
fn base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Passes body bytes on and shows the progress; see the module
/// documentation.
///
/// | box     | carries       | meaning                                         |
/// |---------|---------------|-------------------------------------------------|
/// | inbox   | `ClientEvent` | the response: head (its length sizes the bar), body chunks, end |
/// | control | `Signal`      | the client's end: passed on after the body      |
/// | outbox  | `Bytes`       | body chunks                                     |
/// | signal  | `Signal`      | the control signal, passed on                   |
pub struct ProgressTap {
    /// The client's events.
    pub inbox: Inbox<ClientEvent>,
    /// The client's end.
    pub control: Inbox<Signal>,
    /// Body chunks.
    pub outbox: Outbox<Bytes>,
    /// The client's end, passed on.
    pub signal: Outbox<Signal>,
    bar: ProgressBar,
    held: Option<Bytes>,
}

impl ProgressTap {
    /// A tap drawing on stderr when it is a terminal (else drawing nothing).
    pub fn new() -> Self {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(spinner_style());
        ProgressTap {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "body chunks"),
            signal: Outbox::signal(),
            bar,
            held: None,
        }
    }
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {bytes} at {binary_bytes_per_sec} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template(
        "[{bar:30}] {bytes}/{total_bytes} at {binary_bytes_per_sec}, {eta} left",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

impl Component for ProgressTap {
    fn step(&mut self, cx: &mut Cx) -> Step {
        loop {
            let chunk = match self.held.take() {
                Some(b) => b,
                None => match self.inbox.recv() {
                    Some(ClientEvent::Head(h)) => {
                        if let Framing::Length(n) = h.framing {
                            self.bar.set_length(n);
                            self.bar.set_style(bar_style());
                        }
                        continue;
                    }
                    Some(ClientEvent::Body(b)) => {
                        self.bar.inc(b.len() as u64);
                        b
                    }
                    Some(_) => continue,
                    None => break,
                },
            };
            if let Err(Full(b)) = self.outbox.send(chunk) {
                self.held = Some(b);
                cx.hold_input();
                return Step::Pause;
            }
        }
        if let Some(sig) = self.control.recv() {
            if matches!(sig, Signal::ProducerFinished) && !self.bar.is_hidden() {
                // The bar stays, with the total and the rate; the line is
                // ended so that what follows starts on its own.
                self.bar.finish();
                eprintln!();
            } else {
                // The failure's one line replaces it.
                self.bar.finish_and_clear();
            }
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}

/// Writes bytes to stdout, flushed at the end of each step. The writes
/// block: a slow reader of a pipe stalls the scheduler's thread, which in
/// `fetch` (nothing else to run) is the back-pressure wanted; in a larger
/// system it would belong on a `Threaded` component.
///
/// | box     | carries  | meaning                                           |
/// |---------|----------|---------------------------------------------------|
/// | inbox   | `Bytes`  | data to write                                     |
/// | control | `Signal` | producer finished (or a failure): write what waits, flush, pass it on, stop; shutdown: pass it on, stop |
/// | signal  | `Signal` | the control signal, or `Failed` with the write error |
pub struct StdoutWriter {
    /// Data.
    pub inbox: Inbox<Bytes>,
    /// End of data.
    pub control: Inbox<Signal>,
    /// Sent once, at the end.
    pub signal: Outbox<Signal>,
}

impl StdoutWriter {
    /// A writer to this process's stdout.
    pub fn new() -> Self {
        StdoutWriter {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            signal: Outbox::signal(),
        }
    }

    fn write_waiting(&mut self) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        while let Some(b) = self.inbox.recv() {
            out.write_all(&b)?;
        }
        out.flush()
    }
}

impl Component for StdoutWriter {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        let sig = self.control.recv();
        if !sig.as_ref().is_some_and(Signal::is_shutdown) {
            if let Err(e) = self.write_waiting() {
                let _ = self.signal.send(Signal::failed(std::io::Error::new(
                    e.kind(),
                    format!("writing to stdout: {e}"),
                )));
                return Step::Done;
            }
        }
        match sig {
            Some(sig) => {
                let _ = self.signal.send(sig);
                Step::Done
            }
            None => Step::Pause,
        }
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.inbox, self.control, self.signal);
    }
}

/// Keeps the writer's end, and stops the client when the writer failed.
///
/// | box     | carries  | meaning                                          |
/// |---------|----------|--------------------------------------------------|
/// | control | `Signal` | the writer's end: kept; anything but `ProducerFinished` sends `Shutdown` on `stop` |
/// | stop    | `Signal` | `Shutdown`, to the client's control              |
pub struct Outcome {
    /// The writer's end.
    pub control: Inbox<Signal>,
    /// Stops the client.
    pub stop: Outbox<Signal>,
    result: Rc<RefCell<Option<Signal>>>,
}

impl Component for Outcome {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        let Some(sig) = self.control.recv() else {
            return Step::Pause;
        };
        if !matches!(sig, Signal::ProducerFinished) {
            // Already over when the failure is the client's own.
            let _ = self.stop.send(Signal::Shutdown);
        }
        *self.result.borrow_mut() = Some(sig);
        Step::Done
    }

    fn boxes(&self, set: &mut BoxSet) {
        boxes!(set; self.control, self.stop);
    }
}

/// Runs `kamaelia fetch`.
pub fn run(args: Args) -> Result<(), String> {
    let url = Url::parse(&args.url).map_err(|e| format!("bad URL {}: {e}", args.url))?;
    let mut client = SingleShotHttpClient::new(Request::get(url));
    for path in &args.cacert {
        for der in certificates(path)? {
            client = client.trust_der(der);
        }
    }
    let tap = ProgressTap::new();
    let result = Rc::new(RefCell::new(None));
    let outcome = Outcome {
        control: Inbox::control(),
        stop: Outbox::new("stop", "shutdown for the client"),
        result: result.clone(),
    };
    link(&outcome.stop, &client.control).expect("fresh boxes link");
    link_with_limit(&client.outbox, &tap.inbox, LINK_LIMIT).expect("fresh boxes link");
    link(&client.signal, &tap.control).expect("fresh boxes link");
    let mut s = Scheduler::new();
    match &args.output {
        Some(path) => {
            let writer = SimpleFileWriter::new(path, WriteMode::Write);
            link_with_limit(&tap.outbox, &writer.inbox, LINK_LIMIT).expect("fresh boxes link");
            link(&tap.signal, &writer.control).expect("fresh boxes link");
            link(&writer.signal, &outcome.control).expect("fresh boxes link");
            s.spawn(writer);
        }
        None => {
            let writer = StdoutWriter::new();
            link_with_limit(&tap.outbox, &writer.inbox, LINK_LIMIT).expect("fresh boxes link");
            link(&tap.signal, &writer.control).expect("fresh boxes link");
            link(&writer.signal, &outcome.control).expect("fresh boxes link");
            s.spawn(writer);
        }
    }
    s.spawn(client);
    s.spawn(tap);
    s.spawn(outcome);
    let ended = s.run();
    let result = result.borrow_mut().take();
    match result {
        Some(Signal::ProducerFinished) => Ok(()),
        // A ClientError says "fetching URL: reason"; a FileError names its
        // file.
        Some(Signal::Failed(f)) => Err(f.to_string()),
        Some(Signal::Shutdown) => Err(format!("fetching {}: shut down", args.url)),
        None => Err(format!(
            "fetching {}: the run ended without a result ({ended:?})",
            args.url
        )),
    }
}
