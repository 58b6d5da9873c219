//! `kamaelia play SOURCE [--wav FILE]`: an Ogg Vorbis stream from a file,
//! a TCP server or an Icecast mount, decoded and played (or written to a
//! 16-bit WAV file), with the position shown on stderr.
//!
//! ```text
//! ReadFileAdaptor(PATH)                                        ┌▶ AudioOut (the default device)
//!   or TcpClient(tcp://HOST:PORT)        ──▶ VorbisDecode ──▶ Clock ─┤
//!   or IcecastClient(http://…) → IcecastDemux → IcyAudio       └▶ WavWriter (--wav FILE)
//!                                            └─comments──▶ Clock (the title, when it changes)
//! ```
//!
//! The position (mm:ss of audio passed on; while playing, of audio the
//! device has played) is redrawn in place at most four times a second
//! when stderr is a terminal; otherwise one line a second, and a last one
//! at the end. A title line is printed whenever the stream's TITLE
//! comment changes (a chained stream, an Icecast mount moving on).
//!
//! Playing needs the `audio-out` feature (cpal, ALSA); without it `play`
//! says to use `--wav` or to build with `--features audio-out`, and exits
//! with status 2. The status is 0 at the end of the stream (an Icecast
//! server closing it counts as the end), 1 if anything failed.

use std::cell::Cell;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kamaelia::audio::out::AudioOutStats;
use kamaelia::audio::vorbis::{VorbisComments, VorbisDecode};
use kamaelia::audio::wav_writer::WavWriter;
use kamaelia::audio::AudioChunk;
use kamaelia::axon::{link, BoxSet, Component, Cx, Full, Inbox, Outbox, Scheduler, Signal, Step};
use kamaelia::file::{ReadFileAdaptor, ReadMode};
use kamaelia::internet::TcpClient;
use kamaelia::protocol::http::icecast::{IcecastClient, IcecastConfig, IcecastDemux, IcyEvent};

/// Arguments of `kamaelia play`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// What to play: an .ogg file's path, tcp://HOST:PORT (a server
    /// streaming Ogg Vorbis), or an http:// Icecast mount URL.
    pub source: String,
    /// Write the audio to this 16-bit WAV file instead of playing it.
    #[arg(long, value_name = "FILE")]
    pub wav: Option<PathBuf>,
}

/// Bytes read from a file per message: a few Ogg pages.
const FILE_BLOCK: usize = 16 << 10;
/// Messages waiting for the decoder before the source is held back.
const DECODER_INBOX: usize = 4;
/// The terminal display's redraws are at least this far apart.
const REDRAW: Duration = Duration::from_millis(250);
/// The plain display's lines are this far apart.
const LINE_EVERY: Duration = Duration::from_secs(1);

/// Plays the stream; the reason on failure.
pub fn run(args: Args) -> Result<(), String> {
    if args.wav.is_none() && !cfg!(feature = "audio-out") {
        no_sound_output(); // before anything else: it is a usage error
    }
    let link_err = |e: kamaelia::axon::LinkError| e.to_string();
    let mut s = Scheduler::new();
    let decoder = VorbisDecode::new();
    decoder.inbox.set_limit(Some(DECODER_INBOX));
    source(&mut s, &args.source, &decoder)?;
    let mut clock = Clock::new(std::io::stderr().is_terminal());
    let frames = clock.frames.clone();
    link(&decoder.outbox, &clock.inbox).map_err(link_err)?;
    link(&decoder.comments, &clock.comments).map_err(link_err)?;
    link(&decoder.signal, &clock.control).map_err(link_err)?;
    // The sink's end signal says how it all ended.
    let end: Inbox<Signal> = Inbox::inbox();
    let sink: Box<dyn Component> = match &args.wav {
        Some(path) => {
            let w = WavWriter::new(path);
            link(&clock.outbox, &w.inbox).map_err(link_err)?;
            link(&clock.signal, &w.control).map_err(link_err)?;
            link(&w.signal, &end).map_err(link_err)?;
            Box::new(w)
        }
        None => speakers(&mut clock, &end)?,
    };
    s.spawn(decoder);
    s.spawn(clock);
    s.spawn_boxed(sink);
    s.run();
    match end.recv() {
        Some(Signal::Failed(f)) => Err(format!("playing {}: {f}", args.source)),
        Some(_) if frames.get() == 0 => Err(format!("{}: no Vorbis audio in it", args.source)),
        Some(_) => Ok(()),
        None => Err(format!("playing {}: the output never ended", args.source)),
    }
}

/// The sink that plays, linked after `clock`.
#[cfg(feature = "audio-out")]
fn speakers(clock: &mut Clock, end: &Inbox<Signal>) -> Result<Box<dyn Component>, String> {
    let out = kamaelia::audio::out::AudioOut::default_device();
    let link_err = |e: kamaelia::axon::LinkError| e.to_string();
    link(&clock.outbox, &out.inbox).map_err(link_err)?;
    link(&clock.signal, &out.control).map_err(link_err)?;
    link(&out.signal, end).map_err(link_err)?;
    clock.played = Some(out.stats());
    Ok(Box::new(out))
}

/// Without the `audio-out` feature there is no sound device to play on.
#[cfg(not(feature = "audio-out"))]
fn speakers(_clock: &mut Clock, _end: &Inbox<Signal>) -> Result<Box<dyn Component>, String> {
    no_sound_output()
}

/// Says how to get sound (or a file) and exits with status 2.
fn no_sound_output() -> ! {
    eprintln!(
        "kamaelia: this kamaelia was built without sound output: use --wav FILE to write \
         the audio to a WAV file, or build it with `--features audio-out` to play"
    );
    std::process::exit(2)
}

/// Spawns the source named by `spec` on `s`, linked into `decoder`.
fn source(s: &mut Scheduler, spec: &str, decoder: &VorbisDecode) -> Result<(), String> {
    let link_err = |e: kamaelia::axon::LinkError| e.to_string();
    if spec.starts_with("http://") || spec.starts_with("https://") {
        let client = IcecastClient::new(spec).config(IcecastConfig {
            max_attempts: Some(3),
            ..IcecastConfig::default()
        });
        let demux = IcecastDemux::new();
        let audio = IcyAudio::new();
        link(&client.outbox, &demux.inbox).map_err(link_err)?;
        link(&client.signal, &demux.control).map_err(link_err)?;
        link(&demux.outbox, &audio.inbox).map_err(link_err)?;
        link(&demux.signal, &audio.control).map_err(link_err)?;
        link(&audio.client, &client.control).map_err(link_err)?;
        link(&audio.outbox, &decoder.inbox).map_err(link_err)?;
        link(&audio.signal, &decoder.control).map_err(link_err)?;
        s.spawn(client);
        s.spawn(demux);
        s.spawn(audio);
    } else if let Some(rest) = spec.strip_prefix("tcp://") {
        let (host, port) = rest
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.trim_matches(['[', ']']), p.parse::<u16>().ok()?)))
            .ok_or_else(|| format!("{spec}: expected tcp://HOST:PORT"))?;
        let conn = TcpClient::new(host, port);
        link(&conn.outbox, &decoder.inbox).map_err(link_err)?;
        link(&conn.signal, &decoder.control).map_err(link_err)?;
        s.spawn(conn);
    } else {
        let meta = std::fs::metadata(spec).map_err(|e| format!("{spec}: {e}"))?;
        if !meta.is_file() {
            return Err(format!("{spec}: not a file"));
        }
        let reader = ReadFileAdaptor::file(spec, ReadMode::Block(FILE_BLOCK));
        link(&reader.outbox, &decoder.inbox).map_err(link_err)?;
        link(&reader.signal, &decoder.control).map_err(link_err)?;
        s.spawn(reader);
    }
    Ok(())
}

/// An Icecast mount's audio bytes for the decoder; the end of the stream
/// when the server closes it.
///
/// | box     | carries    | meaning                                              |
/// |---------|------------|------------------------------------------------------|
/// | inbox   | `IcyEvent` | from the demultiplexer                               |
/// | control | `Signal`   | the demultiplexer's end (after the client's)         |
/// | outbox  | `Bytes`    | the audio                                            |
/// | client  | `Signal`   | `Shutdown` for the client once a stream that played has ended (no reconnect) |
/// | signal  | `Signal`   | producer finished after a stream that played; the client's failure otherwise |
struct IcyAudio {
    inbox: Inbox<IcyEvent>,
    control: Inbox<Signal>,
    outbox: Outbox<Bytes>,
    client: Outbox<Signal>,
    signal: Outbox<Signal>,
    held: Option<Bytes>,
    had_audio: bool,
    told_client: bool,
}

impl IcyAudio {
    fn new() -> Self {
        IcyAudio {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::outbox(),
            client: Outbox::new("client", "shutdown for the Icecast client"),
            signal: Outbox::signal(),
            held: None,
            had_audio: false,
            told_client: false,
        }
    }
}

impl Component for IcyAudio {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        loop {
            if let Some(b) = self.held.take() {
                if let Err(Full(b)) = self.outbox.send(b) {
                    self.held = Some(b);
                    return Step::Pause;
                }
            }
            match self.inbox.recv() {
                Some(IcyEvent::Audio(b)) => {
                    self.had_audio |= !b.is_empty();
                    self.held = Some(b);
                }
                Some(IcyEvent::Disconnected(_)) if self.had_audio && !self.told_client => {
                    self.told_client = true;
                    let _ = self.client.send(Signal::Shutdown);
                }
                Some(_) => {}
                None => break,
            }
        }
        if let Some(sig) = self.control.recv() {
            let sig = if self.had_audio && sig.is_shutdown() {
                Signal::ProducerFinished // the stream ended: play what came
            } else {
                sig
            };
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox)
            .add(&self.control)
            .add(&self.outbox)
            .add(&self.client)
            .add(&self.signal);
    }
}

/// Passes audio on and shows the position and the title on stderr.
///
/// | box      | carries          | meaning                                  |
/// |----------|------------------|------------------------------------------|
/// | inbox    | `AudioChunk`     | decoded audio                            |
/// | comments | `VorbisComments` | each header set (the title)              |
/// | control  | `Signal`         | the decoder's end: the last line, then forwarded |
/// | outbox   | `AudioChunk`     | the audio, unchanged, to the sink        |
/// | signal   | `Signal`         | the forwarded end                        |
struct Clock {
    inbox: Inbox<AudioChunk>,
    comments: Inbox<VorbisComments>,
    control: Inbox<Signal>,
    outbox: Outbox<AudioChunk>,
    signal: Outbox<Signal>,
    held: Option<AudioChunk>,
    tty: bool,
    played: Option<AudioOutStats>,
    /// Seconds of audio passed on (frames over their rate, summed, so a
    /// change of rate at a chain keeps the time right).
    passed: f64,
    rate: u32,
    title: Option<String>,
    last_shown: Option<Instant>,
    /// When the redraw timer (set while playing) is due.
    next_wake: Option<Instant>,
    /// Frames passed on, for `run` to read at the end.
    frames: Rc<Cell<u64>>,
}

impl Clock {
    fn new(tty: bool) -> Self {
        Clock {
            inbox: Inbox::inbox(),
            comments: Inbox::new("comments", "each header set"),
            control: Inbox::control(),
            outbox: Outbox::outbox(),
            signal: Outbox::signal(),
            held: None,
            tty,
            played: None,
            next_wake: None,
            frames: Rc::default(),
            passed: 0.0,
            rate: 0,
            title: None,
            last_shown: None,
        }
    }

    /// The position: what the device has played, or what has gone on.
    fn position(&self) -> f64 {
        match (&self.played, self.rate) {
            (Some(p), r) if r > 0 => p.counts().played_frames as f64 / f64::from(r),
            _ => self.passed,
        }
    }

    fn show(&mut self, now: Instant, last: bool) {
        let every = if self.tty { REDRAW } else { LINE_EVERY };
        if self.rate == 0 {
            return; // nothing decoded yet (or at all)
        }
        if !last && self.last_shown.is_some_and(|t| now - t < every) {
            return;
        }
        self.last_shown = Some(now);
        let secs = self.position() as u64;
        let text = format!("{:02}:{:02}", secs / 60, secs % 60);
        let mut err = std::io::stderr().lock();
        let _ = match (self.tty, last) {
            (true, false) => write!(err, "\r{text}"),
            (true, true) => writeln!(err, "\r{text}"),
            (false, _) => writeln!(err, "{text}"),
        };
        let _ = err.flush();
    }
}

impl Component for Clock {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(c) = self.comments.recv() {
            let title = c.title().map(str::to_string);
            if title.is_some() && title != self.title {
                let t = title.clone().unwrap_or_default();
                let _ = writeln!(
                    std::io::stderr(),
                    "{}title: {t}",
                    if self.tty { "\r" } else { "" }
                );
                self.title = title;
            }
        }
        loop {
            if let Some(c) = self.held.take() {
                if let Err(Full(c)) = self.outbox.send(c) {
                    self.held = Some(c);
                    self.show(cx.now(), false);
                    return Step::Pause;
                }
            }
            let Some(c) = self.inbox.recv() else { break };
            if c.rate > 0 {
                self.passed += c.frames() as f64 / f64::from(c.rate);
                self.frames.set(self.frames.get() + c.frames() as u64);
                self.rate = c.rate;
            }
            self.held = Some(c);
        }
        self.show(cx.now(), false);
        if let Some(sig) = self.control.recv() {
            if self.played.is_some() && sig.is_finish() {
                // The device's count stops short of the end by its buffer.
                self.played = None;
            }
            self.show(cx.now(), true);
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        let now = cx.now();
        if self.played.is_some() && self.rate > 0 && self.next_wake.is_none_or(|t| t <= now) {
            // Redraw while the device plays what is buffered (one timer at a time).
            let at = now + if self.tty { REDRAW } else { LINE_EVERY };
            cx.wake_at(at);
            self.next_wake = Some(at);
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox)
            .add(&self.comments)
            .add(&self.control)
            .add(&self.outbox)
            .add(&self.signal);
    }
}
