//! SimpleReliableMulticast: sequence numbers, a reorder buffer with a
//! bounded delay, gap reports, and NAK-based repair.
//!
//! Kamaelia's `SRM_Sender`/`SRM_Receiver` numbered each message and put
//! them back in order in a 30-item buffer: a fixed 29-message latency, no
//! flush at the end, no retransmission and no word of what was lost. Here:
//!
//! * the [`SrmSender`] numbers each message (0, 1, 2, ...) and sends it as
//!   one packet, a frame of [`framing`](super::framing); it keeps the last
//!   `history` packets and sends one again when a receiver asks for it
//!   (a NAK on its `nak` inbox);
//! * the [`SrmReceiver`] sends the payloads on in order, each as soon as
//!   all before it are in. A packet it has not got is asked for again
//!   (NAKed) every `nak_interval` after it was found missing, and waited
//!   for at most `delay`; then (or when the packets waiting reach
//!   `window`) it is given up, reported on `gaps`, and skipped. Duplicates
//!   are dropped. Nothing is delayed by more than `delay` after it
//!   arrives, and at the end what is waiting is sent on in order.
//!
//! CRCs catch damage, not forgery, so no single packet is trusted far: a
//! data packet numbered `window` or more past the highest sequence number
//! known is dropped and moves that horizon by one window only (a real jump,
//! after a burst of loss longer than the window, is followed one window per
//! packet), a status is believed up to the same horizon (a finished status
//! beyond it is taken as not finished), and a finished status before a
//! packet already seen is refused. The sender merges the ranges of each NAK
//! first, so one NAK repairs each packet at most once.
//!
//! Many receivers on one group all miss a packet lost near the sender. So
//! that they do not all NAK it, a receiver that hears another's NAK for a
//! packet (NAKs sent to the group reach the receivers' `inbox` too) puts
//! its own off; with a random [`nak_backoff`](SrmReceiver::nak_backoff)
//! (seeded: [`seed`](SrmReceiver::seed)) only the first few ask.
//!
//! Everything runs on timers (no polling) and on the scheduler's clock, so
//! on virtual time a run is exactly repeatable.
//!
//! The protocol is made for datagrams: each packet is one message, and the
//! receiver checks each alone (a packet that does not decode is counted and
//! dropped, as if lost). Put a sender's `outbox` and a receiver's `inbox`
//! on either side of a lossy network (a multicast socket, or a
//! [`SimLink`](crate::internet::simulate::SimLink) in tests), and the
//! receiver's `nak` outbox on a path back to the sender's `nak` inbox (or
//! leave it unlinked, and the receiver's `repair(false)`, for no repair).
//! Messages larger than the sender's maximum payload are an error: split
//! them first (e.g. with a
//! [`MaxSizePacketiser`](super::framing::MaxSizePacketiser)).
//!
//! # Wire format
//!
//! Every packet is one frame ([framing wire format](super::framing)):
//!
//! | packet | frame tag            | frame body                              |
//! |--------|----------------------|-----------------------------------------|
//! | data   | sequence number (< 2^63) | the payload                         |
//! | status | `u64::MAX` ([`STATUS_TAG`]) | next sequence number (`u64` BE), flags (`u8`: bit 0 = finished) |
//! | NAK    | `u64::MAX - 1` ([`NAK_TAG`]) | ranges: first sequence number (`u64` BE), count (`u32` BE), repeated (at most [`NAK_MAX_RANGES`]; each within the data numbers, below [`SEQ_LIMIT`]) |
//!
//! The sender sends a status packet when it has been idle for a
//! `heartbeat` after sending data (up to three times), so a receiver learns
//! of a lost last packet; when its producer has finished it sends a
//! finished status every `heartbeat` while it lingers (`linger`) to serve
//! the last repairs. A receiver that has seen the finished status ends once
//! every packet before it is delivered or given up.
//!
//! # SrmSender
//!
//! | box     | carries  | meaning                                             |
//! |---------|----------|-----------------------------------------------------|
//! | inbox   | `Bytes`  | payloads, one per packet                            |
//! | nak     | `Bytes`  | NAK packets from receivers                          |
//! | control | `Signal` | producer finished: send what waits, then the finished status, linger, then end; shutdown: end now |
//! | outbox  | `Bytes`  | packets to the network (data, repairs, status)      |
//! | signal  | `Signal` | the signal that ended it, or `Failed(FramingError::Oversize)` for a payload over the maximum |
//!
//! # SrmReceiver
//!
//! | box     | carries      | meaning                                         |
//! |---------|--------------|-------------------------------------------------|
//! | inbox   | `Bytes`      | packets from the network (NAKs among them are other receivers': they put ours off) |
//! | control | `Signal`     | producer finished: send what waits, in order (reporting what is missing as gaps), then end; shutdown: end now |
//! | outbox  | `Bytes`      | the payloads, in order                          |
//! | gaps    | `Range<u64>` | sequence numbers given up (skipped); sent only while linked |
//! | nak     | `Bytes`      | NAK packets for the sender; sent only while linked |
//! | signal  | `Signal`     | the signal that ended it; `ProducerFinished` when it ends on the sender's finished status |
//!
//! A payload or gap refused by a full destination is kept and no packets
//! are read until the consumer takes one (the time spent blocked counts
//! against the delay of what is missing). A NAK refused by a full `nak`
//! path is dropped (it is sent again a `nak_interval` later).
//!
//! ```
//! use std::time::Duration;
//! use bytes::Bytes;
//! use kamaelia::axon::{link, Inbox, Scheduler, Signal};
//! use kamaelia::internet::simulate::{LinkConfig, SimLink};
//! use kamaelia::protocol::srm::{SrmReceiver, SrmSender};
//! use kamaelia::util::DataSource;
//!
//! let words: Vec<Bytes> = (0..200).map(|i| Bytes::from(format!("{i};"))).collect();
//! let source = DataSource::new(words.clone());
//! let sender = SrmSender::new();
//! let there = SimLink::new(LinkConfig::new().loss(0.1).latency(Duration::from_millis(5)), 1);
//! let receiver = SrmReceiver::new();
//! let back = SimLink::new(LinkConfig::new().loss(0.1).latency(Duration::from_millis(5)), 2);
//! link(&source.outbox, &sender.inbox).unwrap();
//! link(&source.signal, &sender.control).unwrap();
//! link(&sender.outbox, &there.inbox).unwrap();
//! link(&sender.signal, &there.control).unwrap();
//! link(&there.outbox, &receiver.inbox).unwrap();
//! link(&there.signal, &receiver.control).unwrap();
//! link(&receiver.nak, &back.inbox).unwrap();
//! link(&receiver.signal, &back.control).unwrap();
//! link(&back.outbox, &sender.nak).unwrap();
//! let got: Inbox<Bytes> = Inbox::inbox();
//! link(&receiver.outbox, &got).unwrap();
//! let mut s = Scheduler::with_virtual_time();
//! for c in [Box::new(source) as Box<dyn kamaelia::Component>, Box::new(sender),
//!           Box::new(there), Box::new(receiver), Box::new(back)] {
//!     s.spawn_boxed(c);
//! }
//! s.run();
//! let got: Vec<Bytes> = std::iter::from_fn(|| got.recv()).collect();
//! assert_eq!(got, words); // every message, in order, despite 10% loss both ways
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};

use super::framing::{decode_frame, encode_frame, send_queued, FramingError, DEFAULT_MAX_FRAME};
use crate::axon::{Alarm, BoxSet, Component, Cx, Inbox, Outbox, Signal, Step};
use crate::internet::simulate::SplitMix64;
pub use crate::internet::simulate::StatsHandle;

/// The frame tag of status packets.
pub const STATUS_TAG: u64 = u64::MAX;

/// The frame tag of NAK packets.
pub const NAK_TAG: u64 = u64::MAX - 1;

/// Data sequence numbers are below this; tags from here up are control
/// packets.
pub const SEQ_LIMIT: u64 = 1 << 63;

/// Most ranges in one NAK packet (a NAK body stays under 1 KiB).
pub const NAK_MAX_RANGES: usize = 85;

/// The largest control packet body.
const CONTROL_MAX: usize = NAK_MAX_RANGES * 12;

/// Most input messages handled in one step before yielding.
const BATCH: usize = 256;

/// Idle status packets sent after the last data packet.
const IDLE_BEATS: u32 = 3;

/// An SRM packet, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    /// A numbered payload.
    Data {
        /// Its sequence number (below [`SEQ_LIMIT`]).
        seq: u64,
        /// The payload.
        payload: Bytes,
    },
    /// The sender's state: the next sequence number it will use, and
    /// whether it has finished (no packet numbered `next` or above will
    /// ever come).
    Status {
        /// The next sequence number.
        next: u64,
        /// No more data will come.
        finished: bool,
    },
    /// A receiver asks for these sequence numbers again.
    Nak(Vec<Range<u64>>),
}

impl Packet {
    /// The packet as one frame. Fails only for a payload over `max` (or a
    /// data sequence number at or above [`SEQ_LIMIT`], reported as
    /// corrupt).
    pub fn encode(&self, max: usize) -> Result<Bytes, FramingError> {
        match self {
            Packet::Data { seq, payload } => {
                if *seq >= SEQ_LIMIT {
                    return Err(FramingError::Corrupt {
                        offset: 0,
                        reason: "sequence number out of range",
                    });
                }
                encode_frame(*seq, payload, max)
            }
            Packet::Status { next, finished } => {
                let mut body = [0u8; 9];
                body[..8].copy_from_slice(&next.to_be_bytes());
                body[8] = u8::from(*finished);
                encode_frame(STATUS_TAG, &body, usize::MAX)
            }
            Packet::Nak(ranges) => {
                let mut body = BytesMut::with_capacity(ranges.len() * 12);
                for r in ranges {
                    let count = (r.end.saturating_sub(r.start)).min(u32::MAX as u64);
                    body.put_u64(r.start);
                    body.put_u32(count as u32);
                }
                encode_frame(NAK_TAG, &body, usize::MAX)
            }
        }
    }

    /// Decodes one packet (one frame, nothing after it), accepting payloads
    /// up to `max` bytes.
    pub fn decode(data: &Bytes, max: usize) -> Result<Packet, FramingError> {
        let (tag, body) = decode_frame(data, max)?;
        let corrupt = |reason| FramingError::Corrupt { offset: 0, reason };
        match tag {
            STATUS_TAG => {
                if body.len() != 9 || body[8] > 1 {
                    return Err(corrupt("bad status packet"));
                }
                Ok(Packet::Status {
                    next: u64::from_be_bytes(body[..8].try_into().expect("8 bytes")),
                    finished: body[8] == 1,
                })
            }
            NAK_TAG => {
                if body.len() % 12 != 0 || body.len() / 12 > NAK_MAX_RANGES {
                    return Err(corrupt("bad NAK packet"));
                }
                let mut ranges = Vec::with_capacity(body.len() / 12);
                for c in body.chunks_exact(12) {
                    let first = u64::from_be_bytes(c[..8].try_into().expect("8 bytes"));
                    let count = u32::from_be_bytes(c[8..].try_into().expect("4 bytes"));
                    // Only data sequence numbers can be asked for.
                    let end = first.saturating_add(count as u64);
                    if end > SEQ_LIMIT {
                        return Err(corrupt("NAK range past the sequence numbers"));
                    }
                    ranges.push(first..end);
                }
                Ok(Packet::Nak(ranges))
            }
            seq if seq < SEQ_LIMIT => Ok(Packet::Data { seq, payload: body }),
            _ => Err(corrupt("unknown packet type")),
        }
    }
}

/// `ranges` sorted, with overlapping and adjacent ones merged and empty
/// ones dropped: the same sequence numbers, each once.
///
/// ```
/// use kamaelia::protocol::srm::merge_ranges;
/// assert_eq!(merge_ranges(vec![5..9, 0..2, 1..3, 9..9, 8..12]), [0..3, 5..12]);
/// ```
pub fn merge_ranges(mut ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    ranges.retain(|r| r.start < r.end);
    ranges.sort_unstable_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Sender

/// What an [`SrmSender`] has done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SenderStats {
    /// Data packets sent (first time).
    pub sent: u64,
    /// Data packets sent again on request.
    pub repairs: u64,
    /// Status packets sent.
    pub status: u64,
    /// NAK packets received.
    pub naks: u64,
    /// Sequence numbers asked for that were no longer (or never) kept.
    pub unrepairable: u64,
    /// Packets on the `nak` inbox that were not valid NAKs.
    pub bad_naks: u64,
}

/// The sending side; see the module documentation.
pub struct SrmSender {
    /// Payloads, one per packet.
    pub inbox: Inbox<Bytes>,
    /// NAK packets from receivers.
    pub nak: Inbox<Bytes>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Packets to the network.
    pub outbox: Outbox<Bytes>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    max_payload: usize,
    history_len: usize,
    linger: Duration,
    heartbeat: Option<Duration>,
    next_seq: u64,
    history: VecDeque<Bytes>,
    queue: VecDeque<Bytes>,
    finishing: Option<Signal>,
    linger_until: Option<Instant>,
    next_fin: Option<Instant>,
    last_data: Option<Instant>,
    beats: u32,
    alarm: Alarm,
    stats: StatsHandle<SenderStats>,
}

impl Default for SrmSender {
    fn default() -> Self {
        Self::new()
    }
}

impl SrmSender {
    /// A sender keeping 1024 packets for repair, lingering 1 s after its
    /// producer finishes, with a 50 ms heartbeat and payloads up to
    /// [`DEFAULT_MAX_FRAME`].
    pub fn new() -> Self {
        SrmSender {
            inbox: Inbox::new("inbox", "payloads, one per packet"),
            nak: Inbox::new("nak", "NAK packets from receivers"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "packets to the network"),
            signal: Outbox::signal(),
            max_payload: DEFAULT_MAX_FRAME,
            history_len: 1024,
            linger: Duration::from_secs(1),
            heartbeat: Some(Duration::from_millis(50)),
            next_seq: 0,
            history: VecDeque::new(),
            queue: VecDeque::new(),
            finishing: None,
            linger_until: None,
            next_fin: None,
            last_data: None,
            beats: 0,
            alarm: Alarm::default(),
            stats: StatsHandle::default(),
        }
    }

    /// Keeps the last `n` packets for repair (0: no repair).
    pub fn history(mut self, n: usize) -> Self {
        self.history_len = n;
        self
    }

    /// After the producer finishes, stays `d` to serve repairs.
    pub fn linger(mut self, d: Duration) -> Self {
        self.linger = d;
        self
    }

    /// Status packets: up to three after `d` idle, and every `d` while
    /// lingering (`None`: one finished status only).
    pub fn heartbeat(mut self, d: Option<Duration>) -> Self {
        assert!(d != Some(Duration::ZERO), "a heartbeat must be above zero");
        self.heartbeat = d;
        self
    }

    /// The largest payload accepted.
    pub fn max_payload(mut self, max: usize) -> Self {
        self.max_payload = max;
        self
    }

    /// A handle on the counters (keep it before spawning).
    pub fn stats(&self) -> StatsHandle<SenderStats> {
        self.stats.clone()
    }

    /// The sequence number of the next packet.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    fn flush(&mut self) -> bool {
        send_queued(&mut self.queue, &self.outbox)
    }

    fn status(&mut self, finished: bool) {
        let p = Packet::Status {
            next: self.next_seq,
            finished,
        };
        self.queue
            .push_back(p.encode(0).expect("status packets always encode"));
        self.stats.update(|s| s.status += 1);
    }

    fn on_nak(&mut self, msg: Bytes) {
        let ranges = match Packet::decode(&msg, CONTROL_MAX) {
            Ok(Packet::Nak(r)) => r,
            _ => {
                self.stats.update(|s| s.bad_naks += 1);
                return;
            }
        };
        self.stats.update(|s| s.naks += 1);
        let base = self.next_seq - self.history.len() as u64;
        // Merged, each packet is sent at most once per NAK however the
        // ranges overlap: one NAK queues at most `history` repairs.
        for r in merge_ranges(ranges) {
            let kept = r.start.max(base)..r.end.min(self.next_seq);
            let asked = r.end - r.start;
            let served = kept.end.saturating_sub(kept.start);
            for seq in kept {
                self.queue
                    .push_back(self.history[(seq - base) as usize].clone());
            }
            self.stats.update(|s| {
                s.repairs += served;
                s.unrepairable += asked - served;
            });
        }
    }

    fn on_data(&mut self, payload: Bytes, now: Instant) -> Result<(), FramingError> {
        let p = Packet::Data {
            seq: self.next_seq,
            payload,
        }
        .encode(self.max_payload)?;
        self.next_seq += 1;
        if self.history_len > 0 {
            if self.history.len() == self.history_len {
                self.history.pop_front();
            }
            self.history.push_back(p.clone());
        }
        self.queue.push_back(p);
        self.last_data = Some(now);
        self.beats = 0;
        self.stats.update(|s| s.sent += 1);
        Ok(())
    }
}

impl Component for SrmSender {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                self.alarm.clear(cx);
                let _ = self.signal.send(sig);
                return Step::Done;
            }
            if self.finishing.is_none() {
                self.finishing = Some(sig);
            }
        }
        let now = cx.now();
        if !self.flush() {
            return Step::Pause;
        }
        // Repairs first, one NAK at a time so the queue stays short.
        let mut handled = 0;
        while handled < BATCH {
            let Some(msg) = self.nak.recv() else { break };
            handled += 1;
            self.on_nak(msg);
            if !self.flush() {
                return Step::Pause;
            }
        }
        while handled < BATCH {
            let Some(payload) = self.inbox.recv() else {
                break;
            };
            handled += 1;
            if let Err(e) = self.on_data(payload, now) {
                self.flush();
                self.alarm.clear(cx);
                let _ = self.signal.send(Signal::failed(e));
                return Step::Done;
            }
            if !self.flush() {
                return Step::Pause;
            }
        }
        if !self.inbox.is_empty() || !self.nak.is_empty() {
            return Step::Yield;
        }
        let wake = if self.finishing.is_some() {
            let until = *self.linger_until.get_or_insert(now + self.linger);
            if now >= until {
                if self.next_fin.is_none() {
                    // No linger: the one finished status.
                    self.status(true);
                }
                self.flush();
                self.alarm.clear(cx);
                let _ = self.signal.send(self.finishing.take().expect("finishing"));
                return Step::Done;
            }
            let due = self.next_fin.unwrap_or(now);
            if now >= due {
                self.status(true);
                self.next_fin = Some(match self.heartbeat {
                    Some(hb) => now + hb,
                    None => until,
                });
            }
            Some(until.min(self.next_fin.expect("set above")))
        } else {
            match (self.heartbeat, self.last_data) {
                (Some(hb), Some(last)) if self.beats < IDLE_BEATS => {
                    let due = last + hb * (self.beats + 1);
                    if now >= due {
                        self.status(false);
                        self.beats += 1;
                    }
                    (self.beats < IDLE_BEATS).then(|| last + hb * (self.beats + 1))
                }
                _ => None,
            }
        };
        self.flush();
        self.alarm.set_to(cx, wake);
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.nak, self.control, self.outbox, self.signal);
    }
}

// ---------------------------------------------------------------------------
// Receiver

/// What an [`SrmReceiver`] has done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReceiverStats {
    /// Payloads sent on.
    pub delivered: u64,
    /// Payload bytes sent on.
    pub bytes: u64,
    /// Data packets received more than once (or after being given up).
    pub duplicates: u64,
    /// Packets that did not decode, or made no sense (dropped).
    pub corrupt: u64,
    /// Sequence numbers given up.
    pub gaps: u64,
    /// NAK packets sent.
    pub naks: u64,
    /// Sequence numbers asked for (counting each time).
    pub requested: u64,
    /// Packets that arrived after this receiver NAKed them (a packet that
    /// arrives on another receiver's NAK alone is not counted).
    pub repaired: u64,
    /// Packets numbered a window or more past the highest sequence number
    /// known (dropped: they moved that horizon by one window only), and
    /// statuses claiming an end that far ahead (taken as not finished).
    pub beyond_window: u64,
    /// NAK packets heard from other receivers (on `inbox`).
    pub heard_naks: u64,
    /// Times a NAK of ours for a sequence number was put off because
    /// another receiver asked for it first.
    pub suppressed: u64,
}

#[derive(Clone, Copy, Debug)]
struct Missing {
    since: Instant,
    nak_at: Instant,
    asked: bool,
}

/// The receiving side; see the module documentation.
pub struct SrmReceiver {
    /// Packets from the network.
    pub inbox: Inbox<Bytes>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Payloads, in order.
    pub outbox: Outbox<Bytes>,
    /// Sequence numbers given up.
    pub gaps: Outbox<Range<u64>>,
    /// NAK packets for the sender.
    pub nak: Outbox<Bytes>,
    /// The signal that ended it.
    pub signal: Outbox<Signal>,
    delay: Duration,
    window: u64,
    repair: bool,
    nak_interval: Duration,
    nak_backoff: Duration,
    rng: SplitMix64,
    max_payload: usize,
    /// The next sequence number to send on.
    next: u64,
    /// One past the highest sequence number known to exist.
    known: u64,
    /// Received, waiting for those before them.
    buf: BTreeMap<u64, Bytes>,
    /// Known to exist, not received, not given up: exactly the numbers in
    /// `next..known` not in `buf`.
    missing: BTreeMap<u64, Missing>,
    fin: Option<u64>,
    next_nak: Option<Instant>,
    out_q: VecDeque<Bytes>,
    gap_q: VecDeque<Range<u64>>,
    open_gap: Option<Range<u64>>,
    finishing: Option<Signal>,
    alarm: Alarm,
    stats: StatsHandle<ReceiverStats>,
}

impl Default for SrmReceiver {
    fn default() -> Self {
        Self::new()
    }
}

impl SrmReceiver {
    /// A receiver waiting up to 200 ms for a missing packet, NAKing it
    /// every 40 ms meanwhile, holding at most 1024 packets, accepting
    /// payloads up to [`DEFAULT_MAX_FRAME`].
    pub fn new() -> Self {
        SrmReceiver {
            inbox: Inbox::new("inbox", "packets from the network"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "the payloads, in order"),
            gaps: Outbox::new("gaps", "sequence numbers given up"),
            nak: Outbox::new("nak", "NAK packets for the sender"),
            signal: Outbox::signal(),
            delay: Duration::from_millis(200),
            window: 1024,
            repair: true,
            nak_interval: Duration::from_millis(40),
            nak_backoff: Duration::ZERO,
            rng: SplitMix64::new(0),
            max_payload: DEFAULT_MAX_FRAME,
            next: 0,
            known: 0,
            buf: BTreeMap::new(),
            missing: BTreeMap::new(),
            fin: None,
            next_nak: None,
            out_q: VecDeque::new(),
            gap_q: VecDeque::new(),
            open_gap: None,
            finishing: None,
            alarm: Alarm::default(),
            stats: StatsHandle::default(),
        }
    }

    /// The longest a missing packet is waited for.
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }

    /// The most sequence numbers ahead of the next one to send that are
    /// waited for; a packet further ahead makes the oldest missing ones
    /// given up at once.
    ///
    /// # Panics
    ///
    /// If `n` is zero.
    pub fn window(mut self, n: u64) -> Self {
        assert!(n > 0, "an SRM window must be above zero");
        self.window = n;
        self
    }

    /// Whether to send NAKs.
    pub fn repair(mut self, on: bool) -> Self {
        self.repair = on;
        self
    }

    /// How long a packet is missing before it is NAKed, and between NAKs
    /// of the same packet.
    ///
    /// # Panics
    ///
    /// If `d` is zero.
    pub fn nak_interval(mut self, d: Duration) -> Self {
        assert!(!d.is_zero(), "a NAK interval must be above zero");
        self.nak_interval = d;
        self
    }

    /// NAK suppression for many receivers of one group: each NAK waits a
    /// further random time, uniform in `[0, d)`, after its `nak_interval`,
    /// so that the receiver drawing the shortest wait asks first and the
    /// others, hearing its NAK on their `inbox` before their own is due,
    /// put theirs off (by a `nak_interval` and a new random wait) instead of
    /// asking too. Zero (the default): no extra wait, as for one receiver.
    /// Give each receiver its own [`seed`](Self::seed).
    pub fn nak_backoff(mut self, d: Duration) -> Self {
        self.nak_backoff = d;
        self
    }

    /// Seeds the random NAK back-off (see
    /// [`nak_backoff`](Self::nak_backoff)); a run on virtual time is
    /// exactly repeatable for a given seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.rng = SplitMix64::new(seed);
        self
    }

    /// The largest payload accepted.
    pub fn max_payload(mut self, max: usize) -> Self {
        self.max_payload = max;
        self
    }

    /// A handle on the counters (keep it before spawning).
    pub fn stats(&self) -> StatsHandle<ReceiverStats> {
        self.stats.clone()
    }

    /// The next sequence number to send on.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    fn gap(&mut self, r: Range<u64>) {
        let n = r.end - r.start;
        if n == 0 {
            return;
        }
        self.stats.update(|s| s.gaps += n);
        match &mut self.open_gap {
            Some(g) if g.end == r.start => g.end = r.end,
            _ => {
                if let Some(g) = self.open_gap.replace(r) {
                    self.gap_q.push_back(g);
                }
            }
        }
    }

    fn release(&mut self, payload: Bytes) {
        if let Some(g) = self.open_gap.take() {
            self.gap_q.push_back(g);
        }
        let n = payload.len() as u64;
        self.stats.update(|s| {
            s.delivered += 1;
            s.bytes += n;
        });
        self.out_q.push_back(payload);
    }

    /// Sends on what is ready at the head.
    fn release_ready(&mut self) {
        while let Some(p) = self.buf.remove(&self.next) {
            self.release(p);
            self.next += 1;
        }
    }

    /// Gives up everything before `target` not yet received, sending on
    /// what was, in order.
    fn skip_to(&mut self, target: u64) {
        while self.next < target {
            match self.buf.first_key_value() {
                Some((&k, _)) if k < target => {
                    self.gap(self.next..k);
                    let p = self.buf.remove(&k).expect("listed");
                    self.release(p);
                    self.next = k + 1;
                }
                _ => {
                    self.gap(self.next..target);
                    self.next = target;
                }
            }
        }
        self.missing = self.missing.split_off(&self.next);
        self.known = self.known.max(self.next);
        self.release_ready();
    }

    /// Learns that every sequence number below `upto` exists.
    fn learn(&mut self, upto: u64, now: Instant) {
        if upto <= self.known {
            return;
        }
        if upto - self.next > self.window {
            self.skip_to(upto - self.window);
        }
        let m = Missing {
            since: now,
            nak_at: now + self.nak_wait(),
            asked: false,
        };
        for s in self.known.max(self.next)..upto {
            self.missing.insert(s, m);
        }
        self.known = upto;
        let first_nak = m.nak_at;
        if self.repair && self.next_nak.is_none_or(|t| t > first_nak) {
            self.next_nak = Some(first_nak);
        }
    }

    /// The first sequence number a packet may not name: one window past
    /// the highest known. A single packet (true or forged, CRCs are no
    /// authentication) moves the horizon by at most one window, so it can
    /// make the receiver give up at most what one window holds; a real
    /// jump after a longer burst of loss is followed one window per packet.
    fn horizon(&self) -> u64 {
        self.known.max(self.next).saturating_add(self.window)
    }

    /// How long until a NAK (again): the interval and a random back-off.
    fn nak_wait(&mut self) -> Duration {
        if self.nak_backoff.is_zero() {
            return self.nak_interval;
        }
        self.nak_interval + self.nak_backoff.mul_f64(self.rng.next_f64())
    }

    /// Another receiver asked for `ranges`: our NAKs for them are put off.
    fn on_heard_nak(&mut self, ranges: Vec<Range<u64>>, now: Instant) {
        self.stats.update(|s| s.heard_naks += 1);
        let wait = self.nak_wait();
        let mut put_off = 0;
        // Merged, each missing number is visited at most once: at most
        // `window` however the ranges overlap.
        for r in merge_ranges(ranges) {
            for (_, m) in self.missing.range_mut(r) {
                // Not marked asked: a repair of it counts as ours only
                // once we NAK it ourselves.
                m.nak_at = m.nak_at.max(now + wait);
                put_off += 1;
            }
        }
        self.stats.update(|s| s.suppressed += put_off);
    }

    fn on_packet(&mut self, msg: Bytes, now: Instant) {
        match Packet::decode(&msg, self.max_payload.max(CONTROL_MAX)) {
            Ok(Packet::Data { seq, payload }) => {
                if self.fin.is_some_and(|f| seq >= f) {
                    self.stats.update(|s| s.corrupt += 1);
                    return;
                }
                if seq < self.next || self.buf.contains_key(&seq) {
                    self.stats.update(|s| s.duplicates += 1);
                    return;
                }
                let horizon = self.horizon();
                if seq >= horizon {
                    self.stats.update(|s| s.beyond_window += 1);
                    self.learn(horizon, now);
                    return;
                }
                if seq == self.next && seq >= self.known {
                    // In order and new (the common case): nothing is
                    // missing or waiting around it, so it goes straight out.
                    self.known = seq + 1;
                    self.next = seq + 1;
                    self.release(payload);
                    return;
                }
                self.learn(seq + 1, now);
                if let Some(m) = self.missing.remove(&seq) {
                    if m.asked {
                        self.stats.update(|s| s.repaired += 1);
                    }
                }
                self.buf.insert(seq, payload);
                self.release_ready();
            }
            Ok(Packet::Status { next, finished }) => {
                // An end before a packet already seen, or unlike the end
                // already known, is a lie.
                if next >= SEQ_LIMIT
                    || (finished && next < self.known)
                    || self.fin.is_some_and(|f| f != next && finished)
                {
                    self.stats.update(|s| s.corrupt += 1);
                    return;
                }
                let horizon = self.horizon();
                if next > horizon {
                    self.stats.update(|s| s.beyond_window += 1);
                    self.learn(horizon, now);
                    return;
                }
                self.learn(next, now);
                if finished {
                    self.fin = Some(next);
                }
            }
            Ok(Packet::Nak(ranges)) => self.on_heard_nak(ranges, now),
            Err(_) => self.stats.update(|s| s.corrupt += 1),
        }
    }

    /// Gives up the missing packets at the head whose time is up.
    fn expire(&mut self, now: Instant) {
        while let Some((&seq, m)) = self.missing.first_key_value() {
            debug_assert_eq!(seq, self.next, "the head is missing");
            if m.since + self.delay > now {
                break;
            }
            self.missing.remove(&seq);
            self.gap(seq..seq + 1);
            self.next = seq + 1;
            self.release_ready();
        }
    }

    /// Builds the NAKs due now.
    fn naks(&mut self, now: Instant) -> Vec<Bytes> {
        let mut out = Vec::new();
        if !self.repair || self.next_nak.is_none_or(|t| t > now) {
            return out;
        }
        let mut ranges: Vec<Range<u64>> = Vec::new();
        let mut next_nak: Option<Instant> = None;
        let again = now + self.nak_wait();
        for (&seq, m) in self.missing.iter_mut() {
            if m.nak_at <= now {
                m.nak_at = again;
                m.asked = true;
                match ranges.last_mut() {
                    Some(r) if r.end == seq && r.end - r.start < u32::MAX as u64 => r.end += 1,
                    _ => ranges.push(seq..seq + 1),
                }
            }
            next_nak = Some(next_nak.map_or(m.nak_at, |t| t.min(m.nak_at)));
        }
        self.next_nak = next_nak;
        let asked: u64 = ranges.iter().map(|r| r.end - r.start).sum();
        for group in ranges.chunks(NAK_MAX_RANGES) {
            out.push(
                Packet::Nak(group.to_vec())
                    .encode(0)
                    .expect("NAK packets always encode"),
            );
        }
        let n = out.len() as u64;
        self.stats.update(|s| {
            s.naks += n;
            s.requested += asked;
        });
        out
    }

    /// Sends what waits; false if a destination is full.
    fn flush(&mut self) -> bool {
        if let Some(g) = self.open_gap.take() {
            self.gap_q.push_back(g);
        }
        if !send_queued(&mut self.out_q, &self.outbox) {
            return false;
        }
        if !self.gaps.is_linked() {
            // Nobody listens: the stats still count them.
            self.gap_q.clear();
        }
        send_queued(&mut self.gap_q, &self.gaps)
    }
}

impl Component for SrmReceiver {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                self.alarm.clear(cx);
                let _ = self.signal.send(sig);
                return Step::Done;
            }
            if self.finishing.is_none() {
                self.finishing = Some(sig);
            }
        }
        let now = cx.now();
        if !self.flush() {
            return Step::Pause;
        }
        let mut handled = 0;
        while handled < BATCH {
            let Some(msg) = self.inbox.recv() else { break };
            handled += 1;
            self.on_packet(msg, now);
            if !self.flush() {
                return Step::Pause;
            }
        }
        if !self.inbox.is_empty() {
            return Step::Yield;
        }
        if let Some(sig) = self.finishing.take() {
            let end = self.known.max(self.fin.unwrap_or(0));
            self.skip_to(end);
            if !self.flush() {
                self.finishing = Some(sig);
                return Step::Pause;
            }
            self.alarm.clear(cx);
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        self.expire(now);
        for p in self.naks(now) {
            // A full (or missing) NAK path drops it: it is sent again next
            // interval.
            if self.nak.is_linked() {
                let _ = self.nak.send(p);
            }
        }
        if !self.flush() {
            return Step::Pause;
        }
        if self.fin.is_some_and(|f| self.next >= f) {
            self.alarm.clear(cx);
            let _ = self.signal.send(Signal::ProducerFinished);
            return Step::Done;
        }
        let give_up = self.missing.values().next().map(|m| m.since + self.delay);
        let wake = match (give_up, self.next_nak) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.alarm.set_to(cx, wake);
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.gaps, self.nak, self.signal);
    }
}
