//! Icecast to speakers: an Ogg Vorbis mount fetched by the
//! [`IcecastClient`], its audio decoded by [`VorbisDecode`] and played by
//! `AudioOut` (or written to a WAV file), the title printed each time the
//! stream's comments change it.
//!
//! ```text
//! IcecastClient ──▶ IcecastDemux ──▶ AudioOnly ──▶ VorbisDecode ──▶ AudioOut / WavWriter
//!  (reconnects)                      (IcyEvent → Bytes)   └─comments──▶ TitlePrinter
//! ```
//!
//! An Ogg mount carries no ICY metadata: the title is in the Vorbis
//! comments of each chained stream (a source such as ezstream starts a new
//! one for every file, and again at every loop), so the decoder's
//! `comments` outbox is where a change of song shows. The printer prints
//! only when the title differs from the last one.
//!
//! Run it with
//! `cargo run --example icecast_play -- http://127.0.0.1:8000/live.ogg [OUT.wav] [--seconds N]`:
//! plays (with the `audio-out` feature) or writes OUT.wav, until
//! interrupted or for N seconds.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use kamaelia::audio::vorbis::{VorbisComments, VorbisDecode, VorbisDecodeStats};
use kamaelia::axon::{
    link, BoxSet, Component, Cx, Id, Inbox, LinkError, Outbox, Scheduler, Signal, Step,
};
use kamaelia::internet::simulate::StatsHandle;
use kamaelia::protocol::http::icecast::{IcecastClient, IcecastDemux, IcyEvent};
use kamaelia::util::PureTransformer;

/// Where the title lines go (stdout, or a buffer in a test).
pub type Sink = Rc<RefCell<dyn Write>>;

/// Prints `title: T` each time a header set's TITLE differs from the
/// last one printed.
///
/// | box     | carries          | meaning                              |
/// |---------|------------------|--------------------------------------|
/// | inbox   | `VorbisComments` | each header set from the decoder     |
/// | control | `Signal`         | any signal: stop                     |
pub struct TitlePrinter {
    /// Header sets.
    pub inbox: Inbox<VorbisComments>,
    /// Stop.
    pub control: Inbox<Signal>,
    out: Sink,
    last: Option<String>,
}

impl TitlePrinter {
    /// A printer writing to `out`.
    pub fn new(out: Sink) -> Self {
        TitlePrinter {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            out,
            last: None,
        }
    }
}

impl Component for TitlePrinter {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(c) = self.inbox.recv() {
            let title = c.title().map(str::to_string);
            if title.is_some() && title != self.last {
                let mut out = self.out.borrow_mut();
                let _ = writeln!(out, "title: {}", title.as_deref().unwrap_or(""));
                let _ = out.flush();
                self.last = title;
            }
        }
        if self.control.recv().is_some() {
            return Step::Done;
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox).add(&self.control);
    }
}

/// The player's parts, spawned and linked.
pub struct Player {
    /// The decoder (its `outbox` and `signal` are linked to the sink).
    pub decoder: Id,
    /// The sink.
    pub sink: Id,
    /// The decoder's counters.
    pub stats: StatsHandle<VorbisDecodeStats>,
}

/// Spawns the player of `url` on `s`, decoding into `sink` (anything with
/// an `AudioChunk` inbox, a `control` and a `signal`), the titles to
/// `titles`. `stop` is linked to the client's control: a `Shutdown` on it
/// stops the whole chain (the sink closes cleanly).
pub fn spawn_player(
    s: &mut Scheduler,
    url: &str,
    sink: Box<dyn Component>,
    titles: Sink,
    stop: &Outbox<Signal>,
) -> Result<Player, LinkError> {
    let client = IcecastClient::new(url);
    let demux = IcecastDemux::new();
    let audio = PureTransformer::new(|e: IcyEvent| match e {
        IcyEvent::Audio(b) => Some(b),
        _ => None,
    });
    let decoder = VorbisDecode::new();
    let stats = decoder.stats();
    let printer = TitlePrinter::new(titles);
    link(stop, &client.control)?;
    link(&client.outbox, &demux.inbox)?;
    link(&client.signal, &demux.control)?;
    link(&demux.outbox, &audio.inbox)?;
    link(&demux.signal, &audio.control)?;
    let to_decoder: &Outbox<Bytes> = &audio.outbox;
    link(to_decoder, &decoder.inbox)?;
    link(&audio.signal, &decoder.control)?;
    link(&decoder.comments, &printer.inbox)?;
    s.spawn(client);
    s.spawn(demux);
    s.spawn(audio);
    let decoder = s.spawn(decoder);
    let printer = s.spawn(printer);
    let sink = s.spawn_boxed(sink);
    s.link((decoder, "outbox"), (sink, "inbox"))?;
    s.link((decoder, "signal"), (sink, "control"))?;
    s.link((sink, "signal"), (printer, "control"))?;
    Ok(Player {
        decoder,
        sink,
        stats,
    })
}

/// The sink: a WAV file, or (with the `audio-out` feature) the speakers.
fn sink(out: Option<&String>) -> Box<dyn Component> {
    match out {
        Some(path) => Box::new(kamaelia::audio::wav_writer::WavWriter::new(path)),
        #[cfg(feature = "audio-out")]
        None => Box::new(kamaelia::audio::out::AudioOut::default_device()),
        #[cfg(not(feature = "audio-out"))]
        None => {
            eprintln!(
                "icecast_play: give an OUT.wav, or build with `--features audio-out` to play"
            );
            std::process::exit(2)
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(url) = args.first() else {
        eprintln!("usage: icecast_play URL [OUT.wav] [--seconds N]");
        std::process::exit(2);
    };
    let out = args.get(1).filter(|a| a.ends_with(".wav"));
    let seconds = args
        .iter()
        .position(|a| a == "--seconds")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse::<u64>().ok());
    let stdout: Sink = Rc::new(RefCell::new(std::io::stdout()));
    let stop = Outbox::signal();
    let mut s = Scheduler::new();
    let p = spawn_player(&mut s, url, sink(out), stdout, &stop).expect("fresh boxes link");
    match seconds {
        Some(n) => {
            s.run_for(Duration::from_secs(n));
            let _ = stop.send(Signal::Shutdown);
            s.run();
        }
        None => {
            s.run();
        }
    }
    let d = p.stats.get();
    eprintln!(
        "decoded {} frames in {} header set(s)",
        d.vorbis.frames, d.vorbis.header_sets
    );
}
