//! Sketch 23 of the classic catalogue
//! (`Examples/_Multicast/_SimpleReliableMulticast/_MulticastStreamingSystem_SRM.py`):
//! an Ogg Vorbis file read at a bit rate, sent over reliable multicast,
//! received, decoded and played (or written to a WAV file).
//!
//! ```text
//!   sender:    ReadFileAdaptor(FILE, 400 kbit/s) ──▶ MaxSizePacketiser(1000) ──▶ SrmSender
//!                                                                    ▲ nak        │ outbox
//!   network:   simulated (SimLink, lossy, both ways)  or  loopback multicast (two groups:
//!              data, and NAKs back)                   │                         ▲
//!   receiver:  SrmReceiver ──▶ VorbisDecode ──▶ WavWriter (or AudioOut)          │
//!                   └──── nak ─────────────────────────────────────────────────┘
//!   signals:   SrmReceiver.signal ─▶ VorbisDecode.control ─▶ sink.control; the sink's end
//!              ends the NAK path (and, on multicast, shuts the sockets down)
//! ```
//!
//! The original sent numbered messages and put them back in order in a
//! 30-message buffer: a lost packet was lost for good, and the decoder
//! choked on the hole. Here the receiver asks again for what it missed
//! (NAKs), so over a network that loses one packet in ten the decoded
//! audio is the file's, sample for sample.
//!
//! Run it with
//! `cargo run --example ogg_over_srm -- FILE.ogg OUT.wav [--multicast] [--loss P]`:
//! over the simulated network (default, on virtual time: it takes no real
//! time) with loss `P` (default 0.1) both ways, or over real multicast on
//! the loopback interface (239.255.72.1 and .2, TTL 0). Without `OUT.wav`
//! ending in `.wav` and with the `audio-out` feature, it plays instead.

use std::io;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use kamaelia::audio::vorbis::{VorbisDecode, VorbisDecodeStats};
use kamaelia::axon::{
    BoxSet, Component, Cx, Id, Inbox, LinkError, Outbox, Scheduler, Signal, Step,
};
use kamaelia::file::{ReadFileAdaptor, ReadMode};
use kamaelia::internet::multicast::{MulticastConfig, MulticastReceiver, MulticastSender};
use kamaelia::internet::simulate::{LinkConfig, LinkStats, SimLink, StatsHandle};
use kamaelia::protocol::framing::MaxSizePacketiser;
use kamaelia::protocol::srm::{ReceiverStats, SenderStats, SrmReceiver, SrmSender};
use kamaelia::util::Detuple;

/// The original's rate: 400 kbit/s.
pub const BITRATE: u64 = 400_000;
/// The original's packet size (`MaxSizePacketiser(1000)`).
pub const PACKET: usize = 1000;

/// The sending half, spawned and linked: file → packetiser → SRM sender.
pub struct SendSide {
    /// The SRM sender (its `outbox` goes to the network, its `nak` inbox
    /// takes NAKs back).
    pub sender: Id,
    /// Its counters.
    pub stats: StatsHandle<SenderStats>,
}

/// Spawns `ReadFileAdaptor(file, bitrate) → MaxSizePacketiser(1000) →
/// SrmSender` on `s`.
pub fn spawn_sender(s: &mut Scheduler, file: &Path, bitrate: u64) -> Result<SendSide, LinkError> {
    let reader = s.spawn(ReadFileAdaptor::file(file, ReadMode::bitrate(bitrate)));
    let packetiser = s.spawn(MaxSizePacketiser::new(PACKET));
    let sender = SrmSender::new();
    let stats = sender.stats();
    let sender = s.spawn(sender);
    s.link((reader, "outbox"), (packetiser, "inbox"))?;
    s.link((reader, "signal"), (packetiser, "control"))?;
    s.link((packetiser, "outbox"), (sender, "inbox"))?;
    s.link((packetiser, "signal"), (sender, "control"))?;
    Ok(SendSide { sender, stats })
}

/// The receiving half, spawned and linked: SRM receiver → decoder → sink.
pub struct ReceiveSide {
    /// The SRM receiver (`inbox` from the network, `nak` to the sender).
    pub receiver: Id,
    /// The decoder (its `comments` outbox is free to link).
    pub decoder: Id,
    /// The sink (its `signal` outbox is free: it says when all is written).
    pub sink: Id,
    /// The receiver's counters.
    pub stats: StatsHandle<ReceiverStats>,
    /// The decoder's counters.
    pub decode: StatsHandle<VorbisDecodeStats>,
}

/// Spawns `SrmReceiver → VorbisDecode → sink` on `s`; `sink` is anything
/// with an `inbox` of `AudioChunk`, a `control` and a `signal`
/// (`WavWriter`, `AudioOut`).
pub fn spawn_receiver(
    s: &mut Scheduler,
    sink: Box<dyn Component>,
) -> Result<ReceiveSide, LinkError> {
    spawn_receiver_with(s, SrmReceiver::new(), sink)
}

/// [`spawn_receiver`] with a receiver of the caller's (another delay,
/// repair off, ...).
pub fn spawn_receiver_with(
    s: &mut Scheduler,
    receiver: SrmReceiver,
    sink: Box<dyn Component>,
) -> Result<ReceiveSide, LinkError> {
    let stats = receiver.stats();
    let receiver = s.spawn(receiver);
    let decoder = VorbisDecode::new();
    let decode = decoder.stats();
    let decoder = s.spawn(decoder);
    let sink = s.spawn_boxed(sink);
    s.link((receiver, "outbox"), (decoder, "inbox"))?;
    s.link((receiver, "signal"), (decoder, "control"))?;
    s.link((decoder, "outbox"), (sink, "inbox"))?;
    s.link((decoder, "signal"), (sink, "control"))?;
    Ok(ReceiveSide {
        receiver,
        decoder,
        sink,
        stats,
        decode,
    })
}

/// What a run over the simulated network counted.
pub struct SimRun {
    /// The two halves.
    pub send: SendSide,
    /// The receiving half.
    pub recv: ReceiveSide,
    /// Data going there.
    pub there: StatsHandle<LinkStats>,
    /// NAKs coming back.
    pub back: StatsHandle<LinkStats>,
    /// The NAK path's link, the last to end.
    pub back_id: Id,
}

/// The whole system over two simulated links (`there` for data, `back`
/// for NAKs), spawned on `s`. Seeded, so on virtual time a run is exactly
/// repeatable.
pub fn spawn_simulated(
    s: &mut Scheduler,
    file: &Path,
    bitrate: u64,
    there: LinkConfig,
    back: LinkConfig,
    seed: u64,
    sink: Box<dyn Component>,
) -> Result<SimRun, LinkError> {
    spawn_simulated_with(
        s,
        file,
        bitrate,
        (there, back),
        seed,
        SrmReceiver::new(),
        sink,
    )
}

/// [`spawn_simulated`] with a receiver of the caller's.
pub fn spawn_simulated_with(
    s: &mut Scheduler,
    file: &Path,
    bitrate: u64,
    (there, back): (LinkConfig, LinkConfig),
    seed: u64,
    receiver: SrmReceiver,
    sink: Box<dyn Component>,
) -> Result<SimRun, LinkError> {
    let send = spawn_sender(s, file, bitrate)?;
    let recv = spawn_receiver_with(s, receiver, sink)?;
    let there = SimLink::<Bytes>::new(there, seed);
    let back = SimLink::<Bytes>::new(back, seed ^ 0x5EED);
    let (there_stats, back_stats) = (there.stats(), back.stats());
    let t = s.spawn(there);
    let b = s.spawn(back);
    s.link((send.sender, "outbox"), (t, "inbox"))?;
    s.link((send.sender, "signal"), (t, "control"))?;
    s.link((t, "outbox"), (recv.receiver, "inbox"))?;
    s.link((t, "signal"), (recv.receiver, "control"))?;
    s.link((recv.receiver, "nak"), (b, "inbox"))?;
    s.link((recv.sink, "signal"), (b, "control"))?;
    s.link((b, "outbox"), (send.sender, "nak"))?;
    Ok(SimRun {
        send,
        recv,
        there: there_stats,
        back: back_stats,
        back_id: b,
    })
}

/// Two groups on the loopback interface: data to `data`, NAKs back to
/// `naks`; ports chosen by the receivers' sockets.
#[derive(Clone, Copy, Debug)]
pub struct Groups {
    /// The data group.
    pub data: Ipv4Addr,
    /// The NAK group.
    pub naks: Ipv4Addr,
}

impl Default for Groups {
    fn default() -> Self {
        Groups {
            data: Ipv4Addr::new(239, 255, 72, 1),
            naks: Ipv4Addr::new(239, 255, 72, 2),
        }
    }
}

/// Joined on, and sent from, 127.0.0.1 with TTL 0: nothing leaves the host.
fn on_lo(group: Ipv4Addr, port: u16) -> MulticastConfig {
    MulticastConfig::new(group, port)
        .interface(Ipv4Addr::LOCALHOST)
        .ttl(0)
}

/// Sends `Shutdown` on each of its outboxes when a signal comes in: it
/// stops the multicast receivers (which never end by themselves) once
/// the sink has written everything.
///
/// | box     | carries  | meaning                                  |
/// |---------|----------|------------------------------------------|
/// | inbox   | `Signal` | the end of the system (any signal)       |
/// | data    | `Signal` | shutdown for the data socket's receiver  |
/// | naks    | `Signal` | shutdown for the NAK socket's receiver   |
pub struct StopSockets {
    /// The end of the system.
    pub inbox: Inbox<Signal>,
    /// To the data receiver's control.
    pub data: Outbox<Signal>,
    /// To the NAK receiver's control.
    pub naks: Outbox<Signal>,
}

impl Component for StopSockets {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        if self.inbox.recv().is_none() {
            return Step::Pause;
        }
        let _ = self.data.send(Signal::Shutdown);
        let _ = self.naks.send(Signal::Shutdown);
        Step::Done
    }
    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox).add(&self.data).add(&self.naks);
    }
}

/// The whole system over real loopback multicast, spawned on `s`: the
/// sender's packets to `groups.data`, the receiver's NAKs to
/// `groups.naks`. It ends once the sink has ended.
pub fn spawn_multicast(
    s: &mut Scheduler,
    file: &Path,
    bitrate: u64,
    groups: Groups,
    sink: Box<dyn Component>,
) -> io::Result<(SendSide, ReceiveSide)> {
    let link_err = |e: LinkError| io::Error::other(e.to_string());
    let data_rx = MulticastReceiver::new(&on_lo(groups.data, 0))?;
    let data_tx = MulticastSender::new(&on_lo(groups.data, data_rx.local_addr().port()))?;
    let nak_rx = MulticastReceiver::new(&on_lo(groups.naks, 0))?;
    let nak_tx = MulticastSender::new(&on_lo(groups.naks, nak_rx.local_addr().port()))?;
    let send = spawn_sender(s, file, bitrate).map_err(link_err)?;
    let recv = spawn_receiver(s, sink).map_err(link_err)?;
    let stop = StopSockets {
        inbox: Inbox::inbox(),
        data: Outbox::new("data", "shutdown for the data receiver"),
        naks: Outbox::new("naks", "shutdown for the NAK receiver"),
    };
    let (data_rx, data_tx, nak_rx, nak_tx) = (
        s.spawn(data_rx),
        s.spawn(data_tx),
        s.spawn(nak_rx),
        s.spawn(nak_tx),
    );
    let data_payload = s.spawn(Detuple::<(std::net::SocketAddr, Bytes), Bytes, _>::second());
    let nak_payload = s.spawn(Detuple::<(std::net::SocketAddr, Bytes), Bytes, _>::second());
    let stop = s.spawn(stop);
    let links = [
        ((send.sender, "outbox"), (data_tx, "inbox")),
        ((send.sender, "signal"), (data_tx, "control")),
        ((data_rx, "outbox"), (data_payload, "inbox")),
        ((data_rx, "signal"), (data_payload, "control")),
        ((data_payload, "outbox"), (recv.receiver, "inbox")),
        ((recv.receiver, "nak"), (nak_tx, "inbox")),
        ((recv.sink, "signal"), (nak_tx, "control")),
        ((nak_tx, "signal"), (stop, "inbox")),
        ((stop, "data"), (data_rx, "control")),
        ((stop, "naks"), (nak_rx, "control")),
        ((nak_rx, "outbox"), (nak_payload, "inbox")),
        ((nak_rx, "signal"), (nak_payload, "control")),
        ((nak_payload, "outbox"), (send.sender, "nak")),
    ];
    for (from, to) in links {
        s.link(from, to).map_err(link_err)?;
    }
    Ok((send, recv))
}

/// The sink: a WAV file, or (with the `audio-out` feature) the speakers.
fn sink(out: Option<&str>) -> Box<dyn Component> {
    match out {
        Some(path) => Box::new(kamaelia::audio::wav_writer::WavWriter::new(path)),
        #[cfg(feature = "audio-out")]
        None => Box::new(kamaelia::audio::out::AudioOut::default_device()),
        #[cfg(not(feature = "audio-out"))]
        None => {
            eprintln!(
                "ogg_over_srm: give an OUT.wav, or build with `--features audio-out` to play"
            );
            std::process::exit(2)
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(file) = args.first() else {
        eprintln!("usage: ogg_over_srm FILE.ogg [OUT.wav] [--multicast] [--loss P]");
        std::process::exit(2);
    };
    let out = args
        .get(1)
        .filter(|a| a.ends_with(".wav"))
        .map(String::as_str);
    let multicast = args.iter().any(|a| a == "--multicast");
    let loss = args
        .iter()
        .position(|a| a == "--loss")
        .and_then(|i| args.get(i + 1))
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.1);
    let file = Path::new(file);
    if multicast {
        let mut s = Scheduler::new();
        let (send, recv) = spawn_multicast(&mut s, file, BITRATE, Groups::default(), sink(out))
            .unwrap_or_else(|e| {
                eprintln!("ogg_over_srm: multicast on the loopback interface: {e}");
                std::process::exit(1)
            });
        s.run();
        report(&send, &recv);
    } else {
        let mut s = Scheduler::with_virtual_time();
        let wire = || {
            LinkConfig::new()
                .loss(loss)
                .latency(Duration::from_millis(10))
        };
        let run = spawn_simulated(&mut s, file, BITRATE, wire(), wire(), 1, sink(out))
            .expect("fresh boxes link");
        s.run();
        report(&run.send, &run.recv);
        let (t, b) = (run.there.get(), run.back.get());
        eprintln!(
            "simulated network: {} of {} data packets lost, {} of {} NAK packets lost",
            t.lost, t.received, b.lost, b.received
        );
    }
}

fn report(send: &SendSide, recv: &ReceiveSide) {
    let (tx, rx, dec) = (send.stats.get(), recv.stats.get(), recv.decode.get());
    eprintln!(
        "sent {} packets ({} repairs); received {} payloads ({} repaired, {} gaps); \
         decoded {} frames",
        tx.sent, tx.repairs, rx.delivered, rx.repaired, rx.gaps, dec.vorbis.frames
    );
}
