//! The checks behind the fuzz targets: arbitrary bytes into the parsers of
//! network input, and arbitrary packet scripts into the SRM sender and
//! receiver. Each function must never panic except on a broken
//! invariant. The main crate's `tests/net_framing.rs` includes this file
//! and runs both over pseudo-random inputs, so CI exercises them without
//! a fuzzer.
//!
//! The first input byte chooses how the rest is cut into pieces; the rest
//! is the stream.

use std::ops::Range;
use std::time::Duration;

pub mod audio;
pub mod http;
pub mod icy;
pub mod torrent;
pub mod udp_tracker;
pub mod wire;

use bytes::Bytes;
use kamaelia::axon::Signal;
use kamaelia::internet::simulate::SplitMix64;
use kamaelia::protocol::framing::{
    crc32, decode_frame, encode_frame, ChunkDecoder, ChunkEncoder, FrameDecoder, FramingError,
    HEADER_LEN, MIN_GROWTH,
};
use kamaelia::protocol::srm::{
    merge_ranges, Packet, SrmReceiver, SrmSender, NAK_MAX_RANGES, SEQ_LIMIT,
};
use kamaelia::testing::Harness;
use kamaelia::util::{DeMarshaller, Marshal};

/// What one input came to, for the plain test to check coverage.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Frames or payloads decoded (strict mode).
    pub decoded: usize,
    /// The error found (strict mode), if any.
    pub error: Option<FramingError>,
}

/// The body limit used, small so the oversize paths are reached.
pub const FUZZ_MAX: usize = 300;

/// Cuts `len` bytes into pieces as `seed` says.
fn cuts(seed: u8, len: usize) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed as u64);
    let biggest = [1, 2, 3, 7, 24, 25, 64, 301][(seed % 8) as usize];
    let mut out = Vec::new();
    let mut at = 0;
    while at < len {
        let n = (1 + rng.below(biggest) as usize).min(len - at);
        out.push(n);
        at += n;
    }
    out
}

type FrameRun = (
    Vec<(u64, Bytes)>,
    Result<(), FramingError>,
    Result<(), FramingError>,
);

fn run_frames(stream: &[u8], pieces: &[usize]) -> FrameRun {
    let mut d = FrameDecoder::new(FUZZ_MAX);
    let mut out = Vec::new();
    let mut at = 0;
    let mut result = Ok(());
    for &n in pieces {
        let r = if n % 2 == 0 {
            d.push(&stream[at..at + n], &mut out)
        } else {
            d.push_bytes(Bytes::copy_from_slice(&stream[at..at + n]), &mut out)
        };
        assert!(
            d.buffered() <= HEADER_LEN + FUZZ_MAX,
            "decoder memory bound"
        );
        assert!(
            d.capacity() <= (2 * d.buffered()).max(MIN_GROWTH),
            "capacity grows with the bytes that arrived"
        );
        at += n;
        if r.is_err() {
            // Spent: it keeps saying so.
            assert_eq!(d.push(b"more", &mut Vec::new()), r);
            result = r;
            break;
        }
    }
    (out, result, d.finish())
}

/// Frame decoder: the same frames and the same error however the stream is
/// cut; what it decodes re-encodes to exactly the bytes it consumed; a
/// clean finish only at a frame boundary. Also the datagram decoder and
/// the SRM packet decoder on the whole input.
pub fn deframer(data: &[u8]) -> Summary {
    let Some((&seed, stream)) = data.split_first() else {
        return Summary::default();
    };
    let whole = run_frames(stream, &[stream.len()][..usize::from(!stream.is_empty())]);
    let cut = run_frames(stream, &cuts(seed, stream.len()));
    assert_eq!(whole, cut, "cutting the stream changed the result");
    let (frames, result, finish) = whole;
    let mut again = Vec::new();
    for (tag, body) in &frames {
        assert!(body.len() <= FUZZ_MAX);
        again.extend_from_slice(&encode_frame(*tag, body, FUZZ_MAX).expect("within the max"));
    }
    assert!(stream.starts_with(&again), "frames re-encode to the input");
    match (&result, &finish) {
        (Ok(()), Ok(())) => assert_eq!(again.len(), stream.len(), "clean end at a boundary"),
        (Ok(()), Err(FramingError::Truncated { received })) => {
            assert_eq!(again.len() as u64 + received, stream.len() as u64)
        }
        (Ok(()), Err(e)) => panic!("finish after a clean push: {e}"),
        (Err(e), f) => assert_eq!(Err(e), f.as_ref()),
    }
    let datagram = Bytes::copy_from_slice(stream);
    if let Ok((tag, body)) = decode_frame(&datagram, FUZZ_MAX) {
        assert_eq!(&encode_frame(tag, &body, FUZZ_MAX).unwrap()[..], stream);
        assert_eq!(frames.len(), 1);
    }
    if let Ok(p) = Packet::decode(&datagram, FUZZ_MAX) {
        assert_eq!(
            &p.encode(FUZZ_MAX).unwrap()[..],
            stream,
            "packets round-trip"
        );
    }
    Summary {
        decoded: frames.len(),
        error: finish.err(),
    }
}

type ChunkRun = (
    Vec<Bytes>,
    Result<(), FramingError>,
    Result<(), FramingError>,
    u64,
    u64,
);

fn run_chunks(stream: &[u8], pieces: &[usize], marker: &[u8], resync: bool) -> ChunkRun {
    let mut d = ChunkDecoder::with_marker(marker, FUZZ_MAX).resync(resync);
    let mut out = Vec::new();
    let mut at = 0;
    let mut result = Ok(());
    for &n in pieces {
        let r = d.push(&stream[at..at + n], &mut out);
        assert!(d.buffered() <= FUZZ_MAX, "decoder memory bound");
        at += n;
        if r.is_err() {
            assert!(!resync, "resync mode reports no errors");
            assert_eq!(d.push(b"more", &mut Vec::new()), r);
            result = r;
            break;
        }
    }
    (out, result, d.finish(), d.skipped(), d.dropped())
}

/// Chunk decoder, strict and resync, with the default marker and a short
/// one: the same result however the stream is cut; in strict mode what it
/// decodes re-encodes to exactly the bytes it consumed; no payload over the
/// maximum.
pub fn dechunker(data: &[u8]) -> Summary {
    let Some((&seed, stream)) = data.split_first() else {
        return Summary::default();
    };
    let marker: &[u8] = if seed & 0x80 == 0 {
        kamaelia::protocol::framing::DEFAULT_MARKER
    } else {
        b"#S"
    };
    let one = [stream.len()];
    let one = &one[..usize::from(!stream.is_empty())];
    let pieces = cuts(seed, stream.len());
    let mut summary = Summary::default();
    for resync in [false, true] {
        let whole = run_chunks(stream, one, marker, resync);
        let cut = run_chunks(stream, &pieces, marker, resync);
        assert_eq!(whole, cut, "cutting the stream changed the result");
        let (payloads, result, finish, _, _) = whole;
        assert!(payloads.iter().all(|p| p.len() <= FUZZ_MAX));
        if !resync {
            let enc = ChunkEncoder::with_marker(marker);
            let again: Vec<u8> = payloads
                .iter()
                .flat_map(|p| enc.encode(p).to_vec())
                .collect();
            assert!(stream.starts_with(&again), "chunks re-encode to the input");
            match (&result, &finish) {
                (Ok(()), Ok(())) => assert_eq!(again.len(), stream.len()),
                (Ok(()), Err(FramingError::Truncated { received })) => {
                    assert_eq!(again.len() as u64 + received, stream.len() as u64)
                }
                (Ok(()), Err(e)) => panic!("finish after a clean push: {e}"),
                (Err(e), f) => assert_eq!(Err(e), f.as_ref()),
            }
            summary = Summary {
                decoded: payloads.len(),
                error: finish.err(),
            };
        }
    }
    summary
}

// ---------------------------------------------------------------------------
// SRM

/// Reads the fuzzer's bytes as a script; past the end everything is zero.
struct Script<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Script<'a> {
    fn new(data: &'a [u8]) -> Self {
        Script { data, at: 0 }
    }
    fn done(&self) -> bool {
        self.at >= self.data.len()
    }
    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(std::array::from_fn(|_| self.u8()))
    }
    fn u64(&mut self) -> u64 {
        u64::from_be_bytes(std::array::from_fn(|_| self.u8()))
    }
    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let start = self.at.min(self.data.len());
        let end = (self.at + n).min(self.data.len());
        self.at += n;
        &self.data[start..end]
    }
    /// A sequence number: mostly small, sometimes anything.
    fn seq(&mut self, wide: bool) -> u64 {
        if wide {
            self.u64()
        } else {
            self.u8() as u64
        }
    }
}

/// SRM packet decoder on one datagram: what decodes re-encodes to exactly
/// the input, NAKs hold at most [`NAK_MAX_RANGES`] ranges, data numbers are
/// below [`SEQ_LIMIT`], and merging a NAK's ranges keeps exactly its
/// numbers.
///
/// The first byte chooses: odd, the rest is taken as it is; even, the
/// rest gets correct CRCs written into it first (when it is long enough
/// for a header), so the fuzzer reaches the packet bodies and not only
/// the checksums.
pub fn srm_packet(input: &[u8]) -> Summary {
    let Some((&mode, rest)) = input.split_first() else {
        return Summary::default();
    };
    let mut owned = rest.to_vec();
    if mode & 1 == 0 && owned.len() >= HEADER_LEN {
        let body_crc = crc32(&owned[HEADER_LEN..]);
        owned[16..20].copy_from_slice(&body_crc.to_be_bytes());
        let head_crc = crc32(&owned[..20]);
        owned[20..24].copy_from_slice(&head_crc.to_be_bytes());
    }
    let data = &owned[..];
    let datagram = Bytes::copy_from_slice(data);
    match Packet::decode(&datagram, FUZZ_MAX) {
        Ok(p) => {
            assert_eq!(&p.encode(FUZZ_MAX).expect("re-encodes")[..], data);
            match &p {
                Packet::Data { seq, payload } => {
                    assert!(*seq < SEQ_LIMIT);
                    assert!(payload.len() <= FUZZ_MAX);
                }
                Packet::Status { next, .. } => {
                    assert_eq!(&data[HEADER_LEN..HEADER_LEN + 8], &next.to_be_bytes())
                }
                Packet::Nak(ranges) => {
                    assert!(ranges.len() <= NAK_MAX_RANGES);
                    check_merge(ranges);
                }
            }
            Summary {
                decoded: 1,
                error: None,
            }
        }
        Err(e) => Summary {
            decoded: 0,
            error: Some(e),
        },
    }
}

/// `merge_ranges` gives sorted, disjoint, non-touching, non-empty ranges
/// covering exactly the numbers of the input.
fn check_merge(ranges: &[Range<u64>]) {
    let merged = merge_ranges(ranges.to_vec());
    for w in merged.windows(2) {
        assert!(w[0].end < w[1].start, "sorted, apart: {merged:?}");
    }
    for m in &merged {
        assert!(m.start < m.end);
        assert!(
            ranges.iter().any(|r| r.start == m.start),
            "starts at a start"
        );
        assert!(ranges.iter().any(|r| r.end == m.end), "ends at an end");
        // Every number of m is in some input range: the input ranges that
        // meet m leave no hole in it.
        let mut inside: Vec<&Range<u64>> = ranges
            .iter()
            .filter(|r| r.start < r.end && r.start < m.end && m.start < r.end)
            .collect();
        inside.sort_by_key(|r| r.start);
        let mut reach = m.start;
        for r in inside {
            assert!(r.start <= reach, "no hole in {m:?}");
            reach = reach.max(r.end);
        }
        assert_eq!(reach, m.end);
    }
    for r in ranges.iter().filter(|r| r.start < r.end) {
        assert!(
            merged.iter().any(|m| m.start <= r.start && r.end <= m.end),
            "{r:?} kept"
        );
    }
}

/// What the receiver check saw, for the plain test to check coverage.
#[derive(Clone, Debug, Default)]
pub struct SrmSummary {
    /// Payloads delivered.
    pub delivered: u64,
    /// Sequence numbers given up.
    pub gaps: u64,
    /// NAK packets sent (receiver) or repairs sent (sender).
    pub naks: u64,
    /// Packets dropped as beyond the window (receiver).
    pub beyond_window: u64,
    /// The component ended on its own (finished status, or a failure).
    pub ended_early: bool,
}

/// SRM receiver under the test harness, on virtual time, fed an arbitrary
/// script of data, status, NAK and garbage packets, time steps and a
/// final producer-finished. It must not panic or hang, and:
/// what it delivers and what it gives up tile `0..n` exactly (each number
/// once, delivered ones in order, each with its own payload); the counters
/// agree; every NAK it sends decodes; it ends once told the producer
/// finished; and no packet makes it give up more than a window: at most
/// `window` numbers per packet fed (the bound a forged sequence number
/// near 2^63 broke).
pub fn srm_receiver(data: &[u8]) -> SrmSummary {
    let mut s = Script::new(data);
    let window = 1 + (s.u8() % 32) as u64;
    let delay = Duration::from_millis(10 * (1 + (s.u8() % 8) as u64));
    let interval = Duration::from_millis(1 + (s.u8() % 16) as u64);
    let backoff = Duration::from_millis((s.u8() % 4) as u64 * 5);
    let seed = s.u8() as u64;
    let r = SrmReceiver::new()
        .window(window)
        .delay(delay)
        .nak_interval(interval)
        .nak_backoff(backoff)
        .seed(seed)
        .max_payload(FUZZ_MAX);
    let stats = r.stats();
    let mut h = Harness::new();
    let id = h.spawn(r);
    let input = h.feeder::<Bytes>(id, "inbox").expect("inbox");
    let control = h.feeder::<Signal>(id, "control").expect("control");
    let out = h.collector::<Bytes>(id, "outbox").expect("outbox");
    let gaps = h.collector::<Range<u64>>(id, "gaps").expect("gaps");
    let naks = h.collector::<Bytes>(id, "nak").expect("nak");
    let sig = h.collector::<Signal>(id, "signal").expect("signal");
    let payload = |seq: u64| seq.to_be_bytes();
    let mut packets = 0u64;
    let mut sent_naks = Vec::new();
    while !s.done() && h.is_alive(id) {
        let op = s.u8();
        let wide = op & 0x80 != 0;
        let pkt = match op & 7 {
            0 | 1 => {
                let seq = s.seq(wide) % SEQ_LIMIT;
                Some(Packet::Data {
                    seq,
                    payload: Bytes::copy_from_slice(&payload(seq)),
                })
            }
            2 => Some(Packet::Status {
                next: s.seq(wide),
                finished: op & 0x40 != 0,
            }),
            3 => {
                let n = (op >> 3) as usize % 4;
                Some(Packet::Nak(
                    (0..n)
                        .map(|_| {
                            let first = s.seq(wide);
                            first..first.saturating_add(s.u8() as u64)
                        })
                        .collect(),
                ))
            }
            4 => {
                let n = s.u8() as usize % 64;
                input
                    .send(Bytes::copy_from_slice(s.bytes(n)))
                    .expect("unbounded");
                packets += 1;
                None
            }
            5 | 6 => {
                h.run_for(Duration::from_millis(s.u8() as u64));
                None
            }
            _ => {
                if op & 0x78 == 0x78 {
                    control.send(Signal::Shutdown).expect("unbounded");
                }
                None
            }
        };
        if let Some(p) = pkt {
            match p.encode(FUZZ_MAX) {
                Ok(b) => {
                    input.send(b).expect("unbounded");
                    packets += 1;
                }
                Err(e) => assert!(matches!(e, FramingError::Corrupt { .. }), "{e}"),
            }
        }
        h.run_until_idle();
        sent_naks.extend(naks.drain());
    }
    let ended_early = !h.is_alive(id);
    if !ended_early {
        control.send(Signal::ProducerFinished).expect("unbounded");
    }
    h.run_until_idle();
    assert!(!h.is_alive(id), "a receiver told to finish ends at once");
    let end = sig.drain();
    assert_eq!(end.len(), 1, "one ending signal: {end:?}");
    sent_naks.extend(naks.drain());
    for n in &sent_naks {
        assert!(
            matches!(Packet::decode(n, 12 * NAK_MAX_RANGES), Ok(Packet::Nak(r)) if !r.is_empty())
        );
    }
    // Delivered and given up tile 0..n.
    let delivered: Vec<Bytes> = out.drain();
    let mut tiles: Vec<Range<u64>> = gaps.drain();
    let given_up: u64 = tiles.iter().map(|g| g.end - g.start).sum();
    for d in &delivered {
        let seq = u64::from_be_bytes(d[..].try_into().expect("our own payloads"));
        tiles.push(seq..seq + 1);
    }
    let mut prev = u64::MAX;
    for d in &delivered {
        let seq = u64::from_be_bytes(d[..].try_into().expect("8 bytes"));
        assert!(prev == u64::MAX || seq > prev, "in order");
        prev = seq;
    }
    tiles.sort_by_key(|r| r.start);
    let mut at = 0;
    for t in &tiles {
        assert!(t.start < t.end, "no empty gap");
        assert_eq!(t.start, at, "each number once: {tiles:?}");
        at = t.end;
    }
    let st = stats.get();
    assert_eq!(st.delivered, delivered.len() as u64);
    assert_eq!(st.gaps, given_up);
    assert_eq!(st.naks, sent_naks.len() as u64);
    assert!(
        at <= (packets + 1).saturating_mul(window),
        "{at} numbers resolved after {packets} packets with a window of {window}"
    );
    SrmSummary {
        delivered: st.delivered,
        gaps: st.gaps,
        naks: st.naks,
        beyond_window: st.beyond_window,
        ended_early,
    }
}

/// SRM sender under the test harness, on virtual time, fed an arbitrary
/// script of payloads (some over its maximum), NAKs (well formed or not),
/// time steps and control signals. It must not panic or hang, and: every
/// packet it sends decodes; new data is numbered 0, 1, 2, ... in order; a
/// repair is a byte-exact copy of a packet sent before and within the
/// history; a NAK brings at most `history` repairs; statuses tell the true
/// next number and say finished only after the producer did; the counters
/// agree; it ends once finished and its linger is over.
pub fn srm_sender(data: &[u8]) -> SrmSummary {
    let mut s = Script::new(data);
    let history = (s.u8() % 16) as usize;
    let beat = s.u8();
    let beats = (beat % 5) as u64;
    let heartbeat = (beats > 0).then(|| Duration::from_millis(10 * beats));
    let linger = Duration::from_millis(10 * (s.u8() % 8) as u64);
    const MAX: usize = 64;
    let tx = SrmSender::new()
        .history(history)
        .heartbeat(heartbeat)
        .linger(linger)
        .max_payload(MAX);
    let stats = tx.stats();
    let mut h = Harness::new();
    let id = h.spawn(tx);
    let input = h.feeder::<Bytes>(id, "inbox").expect("inbox");
    let nak_in = h.feeder::<Bytes>(id, "nak").expect("nak");
    let control = h.feeder::<Signal>(id, "control").expect("control");
    let out = h.collector::<Bytes>(id, "outbox").expect("outbox");
    let sig = h.collector::<Signal>(id, "signal").expect("signal");
    let mut sent: Vec<Bytes> = Vec::new(); // first transmissions, by number
    let (mut repairs, mut statuses) = (0u64, 0u64);
    let mut finishing = false;
    let mut oversize = false;
    let mut check = |pkts: Vec<Bytes>, finishing: bool, naks: u64, repairs: &mut u64| {
        let before = *repairs;
        for b in pkts {
            match Packet::decode(&b, MAX).expect("the sender's packets decode") {
                Packet::Data { seq, .. } if seq == sent.len() as u64 => sent.push(b),
                Packet::Data { seq, .. } => {
                    assert!(seq < sent.len() as u64, "numbered in order");
                    assert!(seq + history as u64 >= sent.len() as u64, "within history");
                    assert_eq!(b, sent[seq as usize], "a repair is a copy");
                    *repairs += 1;
                }
                Packet::Status { next, finished } => {
                    assert_eq!(next, sent.len() as u64);
                    assert!(!finished || finishing, "finished only when told");
                    statuses += 1;
                }
                Packet::Nak(_) => panic!("a sender sends no NAKs"),
            }
        }
        assert!(
            *repairs - before <= naks * history as u64,
            "at most history a NAK"
        );
    };
    while !s.done() && h.is_alive(id) {
        let op = s.u8();
        let wide = op & 0x80 != 0;
        let mut naks = 0;
        match op & 7 {
            0 | 1 => {
                let n = s.u8() as usize % (MAX + 8);
                oversize |= n > MAX;
                input
                    .send(Bytes::copy_from_slice(s.bytes(n)))
                    .expect("unbounded");
            }
            2 | 3 => {
                let n = (op >> 3) as usize % 8;
                let ranges: Vec<Range<u64>> = (0..n)
                    .map(|_| {
                        let first = s.seq(wide);
                        let count = if op & 0x40 != 0 {
                            s.u32()
                        } else {
                            s.u8() as u32
                        };
                        first..first.saturating_add(count as u64)
                    })
                    .collect();
                nak_in
                    .send(Packet::Nak(ranges).encode(0).expect("NAKs encode"))
                    .expect("unbounded");
                naks = 1;
            }
            4 => {
                let n = s.u8() as usize % 64;
                nak_in
                    .send(Bytes::copy_from_slice(s.bytes(n)))
                    .expect("unbounded");
                naks = 1;
            }
            5 => {
                h.run_for(Duration::from_millis(s.u8() as u64));
            }
            6 => {
                control.send(Signal::ProducerFinished).expect("unbounded");
                finishing = true;
            }
            _ => {
                if op & 0x78 == 0x78 {
                    control.send(Signal::Shutdown).expect("unbounded");
                }
            }
        }
        h.run_until_idle();
        check(out.drain(), finishing, naks, &mut repairs);
    }
    let ended_early = !h.is_alive(id);
    if !ended_early {
        control.send(Signal::ProducerFinished).expect("unbounded");
    }
    h.run_for(linger + Duration::from_millis(1));
    check(out.drain(), true, 0, &mut repairs);
    assert!(!h.is_alive(id), "ends when its linger is over");
    let end = sig.drain();
    assert_eq!(end.len(), 1, "one ending signal: {end:?}");
    if let Signal::Failed(f) = &end[0] {
        assert!(oversize, "fails only on an oversize payload");
        assert!(matches!(
            f.downcast_ref::<FramingError>(),
            Some(FramingError::Oversize { max: MAX, .. })
        ));
    }
    let st = stats.get();
    assert_eq!(st.sent, sent.len() as u64);
    assert_eq!(st.repairs, repairs);
    assert_eq!(st.status, statuses);
    SrmSummary {
        delivered: st.sent,
        gaps: 0,
        naks: st.repairs,
        beyond_window: 0,
        ended_early,
    }
}

// ---------------------------------------------------------------------------
// Demarshalling

fn round_trip<T: Marshal>(data: &Bytes, width: Option<usize>) -> bool {
    match T::demarshal(data) {
        Ok(v) => {
            assert_eq!(v.marshal(), *data, "demarshalled values marshal back");
            assert!(width.is_none_or(|w| w == data.len()));
            true
        }
        Err(_) => {
            assert!(width.is_some_and(|w| w != data.len()) || width.is_none());
            false
        }
    }
}

/// The demarshallers of network bytes: every [`Marshal`] type's
/// `demarshal` on the input (a value comes back only from bytes of the
/// right width, or valid UTF-8 for `String`, and marshals back to exactly
/// those bytes); then the input, cut into messages as its first byte says,
/// through a [`DeMarshaller`] of `u32` (skipping: every good message out in
/// order, every bad one counted) and one set to fail (the good ones before
/// the first bad one, then `Failed`).
pub fn demarshal(data: &[u8]) -> Summary {
    let whole = Bytes::copy_from_slice(data);
    let mut decoded = 0;
    decoded += usize::from(round_trip::<Bytes>(&whole, None));
    decoded += usize::from(round_trip::<Vec<u8>>(&whole, None));
    let utf8 = round_trip::<String>(&whole, None);
    assert_eq!(utf8, std::str::from_utf8(data).is_ok());
    decoded += usize::from(utf8);
    decoded += usize::from(round_trip::<u8>(&whole, Some(1)));
    decoded += usize::from(round_trip::<i8>(&whole, Some(1)));
    decoded += usize::from(round_trip::<u16>(&whole, Some(2)));
    decoded += usize::from(round_trip::<i16>(&whole, Some(2)));
    decoded += usize::from(round_trip::<u32>(&whole, Some(4)));
    decoded += usize::from(round_trip::<i32>(&whole, Some(4)));
    decoded += usize::from(round_trip::<f32>(&whole, Some(4)));
    decoded += usize::from(round_trip::<u64>(&whole, Some(8)));
    decoded += usize::from(round_trip::<i64>(&whole, Some(8)));
    decoded += usize::from(round_trip::<f64>(&whole, Some(8)));
    decoded += usize::from(round_trip::<u128>(&whole, Some(16)));
    decoded += usize::from(round_trip::<i128>(&whole, Some(16)));

    let Some((&seed, stream)) = data.split_first() else {
        return Summary {
            decoded,
            error: None,
        };
    };
    // Messages of 1 to 8 bytes, as the seed and the bytes say: some are a
    // u32, most are not.
    let mut msgs = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let n = (1 + ((stream[at] ^ seed) % 8) as usize).min(stream.len() - at);
        msgs.push(Bytes::copy_from_slice(&stream[at..at + n]));
        at += n;
    }
    let good: Vec<u32> = msgs
        .iter()
        .filter_map(|m| <[u8; 4]>::try_from(&m[..]).ok().map(u32::from_be_bytes))
        .collect();
    for fail in [false, true] {
        let mut h = Harness::new();
        let d = DeMarshaller::<u32, _>::standard().fail_on_error(fail);
        let errors = d.errors();
        let id = h.spawn(d);
        let input = h.feeder::<Bytes>(id, "inbox").expect("inbox");
        let control = h.feeder::<Signal>(id, "control").expect("control");
        let out = h.collector::<u32>(id, "outbox").expect("outbox");
        let sig = h.collector::<Signal>(id, "signal").expect("signal");
        for m in &msgs {
            input.send(m.clone()).expect("unbounded");
        }
        control.send(Signal::ProducerFinished).expect("unbounded");
        h.run_until_idle();
        assert!(!h.is_alive(id), "it ends");
        let got = out.drain();
        let end = sig.drain();
        assert_eq!(end.len(), 1);
        let first_bad = msgs.iter().position(|m| m.len() != 4);
        match (fail, first_bad) {
            (true, Some(i)) => {
                assert_eq!(got, good[..i].to_vec(), "the ones before the bad one");
                assert_eq!(errors.get(), 1);
                assert!(matches!(end[0], Signal::Failed(_)));
            }
            _ => {
                assert_eq!(got, good);
                assert_eq!(errors.get() as usize, msgs.len() - good.len());
                assert_eq!(end[0], Signal::ProducerFinished);
            }
        }
    }
    Summary {
        decoded,
        error: None,
    }
}
