//! SimpleReliableMulticast (reference §4.2, defects §7.19): order restored
//! within a bounded delay, gaps reported, the end flushed, and lost packets
//! repaired by NAK — over the simulated network, on virtual time.
// Gap reports are ranges; a list of one range is meant.
#![allow(clippy::single_range_in_vec_init)]

use std::collections::{BTreeSet, VecDeque};
use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use kamaelia::axon::{BoxSet, Component, Cx, Id, Outbox, Signal, Step};
use kamaelia::internet::simulate::{LinkConfig, LinkStats, SimLink, SplitMix64};
use kamaelia::protocol::framing::{FramingError, DEFAULT_MAX_FRAME};
use kamaelia::protocol::srm::{
    Packet, ReceiverStats, SenderStats, SrmReceiver, SrmSender, NAK_TAG, STATUS_TAG,
};
use kamaelia::testing::{Collector, Feeder, Harness};

const MS: Duration = Duration::from_millis(1);

fn data(seq: u64, payload: &[u8]) -> Bytes {
    Packet::Data {
        seq,
        payload: Bytes::copy_from_slice(payload),
    }
    .encode(DEFAULT_MAX_FRAME)
    .unwrap()
}

fn status(next: u64, finished: bool) -> Bytes {
    Packet::Status { next, finished }.encode(0).unwrap()
}

fn nak(ranges: Vec<Range<u64>>) -> Bytes {
    Packet::Nak(ranges).encode(0).unwrap()
}

fn decode(b: &Bytes) -> Packet {
    Packet::decode(b, DEFAULT_MAX_FRAME).unwrap()
}

fn p(seq: u64) -> Bytes {
    Bytes::from(format!("payload {seq}"))
}

// ---------------------------------------------------------------------------
// The receiver alone

struct Rx {
    h: Harness,
    id: Id,
    input: Feeder<Bytes>,
    control: Feeder<Signal>,
    out: Collector<Bytes>,
    gaps: Collector<Range<u64>>,
    naks: Collector<Bytes>,
    sig: Collector<Signal>,
    stats: kamaelia::protocol::srm::StatsHandle<ReceiverStats>,
}

fn rx(r: SrmReceiver) -> Rx {
    let mut h = Harness::new();
    let stats = r.stats();
    let id = h.spawn(r);
    Rx {
        input: h.feeder(id, "inbox").unwrap(),
        control: h.feeder(id, "control").unwrap(),
        out: h.collector(id, "outbox").unwrap(),
        gaps: h.collector(id, "gaps").unwrap(),
        naks: h.collector(id, "nak").unwrap(),
        sig: h.collector(id, "signal").unwrap(),
        stats,
        h,
        id,
    }
}

impl Rx {
    fn send(&self, seqs: &[u64]) {
        for &s in seqs {
            self.input.send(data(s, &p(s))).unwrap();
        }
    }
    fn got(&self) -> Vec<Bytes> {
        self.out.drain()
    }
}

fn ps(seqs: impl IntoIterator<Item = u64>) -> Vec<Bytes> {
    seqs.into_iter().map(p).collect()
}

#[test]
fn reordered_packets_come_out_in_order_without_waiting_longer_than_needed() {
    let mut r = rx(SrmReceiver::new().repair(false));
    r.send(&[0, 2, 1, 4, 3]);
    r.h.run_until_idle();
    assert_eq!(r.got(), ps(0..5), "no delay once the hole is filled");
    assert!(r.gaps.is_empty());
}

#[test]
fn in_order_packets_go_straight_out_and_set_no_timer() {
    let mut r = rx(SrmReceiver::new());
    r.send(&(0..100).collect::<Vec<_>>());
    r.h.run_until_idle();
    assert_eq!(r.got(), ps(0..100));
    assert_eq!(r.h.scheduler().next_deadline(), None, "nothing to wait for");
    assert!(r.h.is_sleeping(r.id));
    assert_eq!(r.stats.get().delivered, 100);
    assert!(r.naks.is_empty());
}

#[test]
fn a_missing_packet_is_given_up_after_the_delay() {
    let mut r = rx(SrmReceiver::new().repair(false).delay(100 * MS));
    r.send(&[0, 2]);
    r.h.run_until_idle();
    assert_eq!(r.got(), ps([0]));
    r.h.run_for(60 * MS);
    r.send(&[3]);
    r.h.run_for(39 * MS);
    assert!(r.got().is_empty() && r.gaps.is_empty(), "still waiting");
    r.h.run_for(MS);
    assert_eq!(r.gaps.drain(), [1..2], "100 ms after 1 was found missing");
    assert_eq!(r.got(), ps([2, 3]));
    assert_eq!(r.stats.get().gaps, 1);
}

#[test]
fn a_packet_beyond_the_window_forces_the_oldest_out() {
    let mut r = rx(SrmReceiver::new().repair(false).window(4).delay(100 * MS));
    r.send(&[0, 4]);
    r.h.run_until_idle();
    assert_eq!(r.got(), ps([0]));
    assert!(r.gaps.is_empty(), "1..4 wait");
    r.send(&[8]);
    r.h.run_until_idle();
    assert_eq!(r.gaps.drain(), [1..4], "only 5..9 may wait");
    assert_eq!(r.got(), ps([4]));
    r.send(&[6]);
    r.h.run_for(100 * MS);
    assert_eq!(r.gaps.drain(), [5..6, 7..8]);
    assert_eq!(r.got(), ps([6, 8]));
}

#[test]
fn a_huge_jump_costs_no_more_than_the_window() {
    // One packet moves the horizon by one window, and is dropped; a real
    // jump (a burst of loss longer than the window) is followed one window
    // per packet.
    let mut r = rx(SrmReceiver::new().repair(false).window(16));
    r.send(&[0, 1 << 40]);
    r.h.run_until_idle();
    assert!(r.gaps.is_empty());
    assert_eq!(r.got(), ps([0]));
    assert_eq!(r.stats.get().beyond_window, 1);
    r.send(&[40, 41]);
    r.h.run_until_idle();
    assert_eq!(r.stats.get().beyond_window, 2, "40 is past 17 + 16");
    assert_eq!(
        r.gaps.drain(),
        [1..17, 17..26],
        "40 moved the horizon to 33; 41 is within 33 + 16, so 26..42 may wait"
    );
    r.control.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.gaps.drain(), [26..41]);
    assert_eq!(r.got(), ps([41]));
}

#[test]
fn duplicates_and_garbage_are_dropped_and_counted() {
    let mut r = rx(SrmReceiver::new());
    r.send(&[0, 0, 1]);
    r.input.send(Bytes::from_static(b"not a packet")).unwrap();
    r.input.send(nak(vec![0..1])).unwrap(); // another receiver's: heard
    let mut bad = data(2, b"x").to_vec();
    bad[24] ^= 1; // the body
    r.input.send(Bytes::from(bad)).unwrap();
    r.send(&[1]);
    r.h.run_until_idle();
    assert_eq!(r.got(), ps([0, 1]));
    let s = r.stats.get();
    assert_eq!((s.duplicates, s.corrupt, s.heard_naks), (2, 2, 1));
}

#[test]
fn a_nak_heard_from_another_receiver_puts_ours_off() {
    let mut r = rx(SrmReceiver::new().nak_interval(40 * MS).delay(500 * MS));
    r.send(&[0, 3]); // 1 and 2 missing, NAK due at 40 ms
    r.h.run_for(30 * MS);
    r.input.send(nak(vec![2..3, 0..5, 1..2])).unwrap();
    r.h.run_for(39 * MS);
    assert!(r.naks.is_empty(), "put off to 30 + 40 ms");
    r.h.run_for(MS);
    let n: Vec<Packet> = r.naks.drain().iter().map(decode).collect();
    assert_eq!(n, [Packet::Nak(vec![1..3])]);
    let s = r.stats.get();
    assert_eq!((s.heard_naks, s.suppressed, s.naks), (1, 2, 1));
}

#[test]
fn a_packet_repaired_on_another_receivers_nak_is_not_counted_as_ours() {
    let mut r = rx(SrmReceiver::new().nak_interval(40 * MS).delay(500 * MS));
    r.send(&[0, 3]); // 1 and 2 missing
    r.h.run_for(30 * MS);
    r.input.send(nak(vec![1..3])).unwrap(); // another receiver asks
    r.h.run_for(5 * MS);
    r.send(&[1, 2]); // the sender's repair, before our own NAK is due
    r.h.run_for(100 * MS);
    assert_eq!(r.got(), ps([0, 1, 2, 3]));
    assert!(r.naks.is_empty(), "nothing left to ask for");
    let s = r.stats.get();
    assert_eq!((s.heard_naks, s.suppressed, s.naks), (1, 2, 0));
    assert_eq!((s.requested, s.repaired), (0, 0));
}

#[test]
fn producer_finished_flushes_in_order_reporting_what_is_missing() {
    let mut r = rx(SrmReceiver::new());
    r.send(&[0, 2, 3, 5]);
    r.input.send(status(7, false)).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.got(), ps([0]));
    r.control.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.got(), ps([2, 3, 5]), "released at once, in order");
    assert_eq!(r.gaps.drain(), [1..2, 4..5, 6..7]);
    assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
    assert!(!r.h.is_alive(r.id));
}

#[test]
fn shutdown_ends_at_once() {
    let mut r = rx(SrmReceiver::new());
    r.send(&[1]);
    r.control.send(Signal::Shutdown).unwrap();
    r.h.run_until_idle();
    assert!(r.got().is_empty());
    assert_eq!(r.sig.drain(), [Signal::Shutdown]);
}

#[test]
fn the_finished_status_ends_the_receiver_once_all_is_resolved() {
    let mut r = rx(SrmReceiver::new().repair(false).delay(50 * MS));
    r.send(&[0, 2]);
    r.input.send(status(4, true)).unwrap();
    r.h.run_for(49 * MS);
    assert!(r.h.is_alive(r.id));
    r.h.run_for(MS);
    assert_eq!(r.got(), ps([0, 2]));
    assert_eq!(r.gaps.drain(), [1..2, 3..4]);
    assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
    assert!(!r.h.is_alive(r.id));
}

#[test]
fn missing_packets_are_nakked_every_interval_until_they_come() {
    let mut r = rx(SrmReceiver::new().nak_interval(40 * MS).delay(200 * MS));
    r.send(&[0, 3]);
    r.h.run_for(39 * MS);
    assert!(r.naks.is_empty(), "reordering gets a chance first");
    r.h.run_for(MS);
    let n: Vec<Packet> = r.naks.drain().iter().map(decode).collect();
    assert_eq!(n, [Packet::Nak(vec![1..3])]);
    r.send(&[2]);
    r.h.run_for(40 * MS);
    let n: Vec<Packet> = r.naks.drain().iter().map(decode).collect();
    assert_eq!(
        n,
        [Packet::Nak(vec![1..2])],
        "asked again, for what is still missing"
    );
    r.send(&[1]);
    r.h.run_for(300 * MS);
    assert!(r.naks.is_empty());
    assert!(r.gaps.is_empty());
    assert_eq!(r.got(), ps(0..4));
    let s = r.stats.get();
    assert_eq!((s.naks, s.requested, s.repaired), (2, 3, 2));
}

#[test]
fn unlinked_gaps_and_naks_do_not_pile_up() {
    let mut h = Harness::new();
    let r = SrmReceiver::new().delay(100 * MS);
    let stats = r.stats();
    let id = h.spawn(r);
    let input = h.feeder::<Bytes>(id, "inbox").unwrap();
    let out = h.collector::<Bytes>(id, "outbox").unwrap();
    for s in [0, 2, 4] {
        input.send(data(s, &p(s))).unwrap();
    }
    h.run_for(200 * MS);
    assert_eq!(out.drain(), ps([0, 2, 4]));
    let s = stats.get();
    assert_eq!(s.gaps, 2);
    assert!(s.naks > 0);
    for name in ["gaps", "nak"] {
        let b = h.scheduler().find_box(id, name).unwrap();
        assert_eq!(b.len(), 0, "{name} holds nothing");
    }
}

#[test]
fn the_timer_is_the_only_thing_that_wakes_it() {
    // No busy waiting: between packets the receiver sleeps.
    let mut r = rx(SrmReceiver::new().nak_interval(40 * MS).delay(200 * MS));
    r.send(&[0, 2]);
    let steps = r.h.run_for(200 * MS);
    assert!(steps <= 12, "{steps} steps for 5 timer wakes");
    assert!(r.h.is_sleeping(r.id));
}

// ---------------------------------------------------------------------------
// Hostile input to the receiver: one CRC-valid packet costs at most a window

#[test]
fn a_forged_sequence_number_near_2_63_does_not_skip_the_stream() {
    use kamaelia::protocol::srm::SEQ_LIMIT;
    let mut r = rx(SrmReceiver::new().window(16));
    r.send(&(0..10).collect::<Vec<_>>());
    r.input.send(data(SEQ_LIMIT - 1, b"forged")).unwrap();
    r.send(&(10..40).collect::<Vec<_>>());
    r.h.run_until_idle();
    assert_eq!(r.got(), ps(0..40), "the stream goes on");
    assert!(r.gaps.is_empty());
    let s = r.stats.get();
    assert_eq!((s.delivered, s.duplicates, s.gaps), (40, 0, 0));
    assert_eq!(s.beyond_window, 1);
}

#[test]
fn a_forged_huge_status_next_does_not_skip_the_stream() {
    use kamaelia::protocol::srm::SEQ_LIMIT;
    for finished in [false, true] {
        let mut r = rx(SrmReceiver::new().window(16));
        r.send(&(0..10).collect::<Vec<_>>());
        r.input.send(status(SEQ_LIMIT - 1, finished)).unwrap();
        r.send(&(10..40).collect::<Vec<_>>());
        r.h.run_until_idle();
        assert_eq!(r.got(), ps(0..40), "the stream goes on");
        assert!(r.gaps.is_empty());
        assert_eq!(r.stats.get().beyond_window, 1);
        // The true end is still believed.
        r.input.send(status(40, true)).unwrap();
        r.h.run_until_idle();
        assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
        assert!(!r.h.is_alive(r.id));
        assert_eq!(r.stats.get().corrupt, 0);
    }
}

#[test]
fn a_finished_status_before_packets_already_seen_is_refused() {
    let mut r = rx(SrmReceiver::new());
    r.send(&(0..10).collect::<Vec<_>>());
    r.input.send(status(5, true)).unwrap();
    r.input.send(status(0, true)).unwrap();
    r.h.run_until_idle();
    assert!(r.h.is_alive(r.id), "not ended by a lie");
    assert!(r.sig.is_empty());
    assert_eq!(r.stats.get().corrupt, 2);
    r.send(&(10..20).collect::<Vec<_>>());
    r.input.send(status(20, true)).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.got(), ps(0..20));
    assert!(r.gaps.is_empty());
    assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
}

#[test]
fn one_nak_of_overlapping_ranges_repairs_each_packet_once() {
    use kamaelia::protocol::srm::NAK_MAX_RANGES;
    let mut t = tx(SrmSender::new().history(1024));
    for i in 0..1024 {
        t.input.send(p(i)).unwrap();
    }
    t.h.run_until_idle();
    let sent = t.out.drain();
    assert_eq!(sent.len(), 1024);
    t.naks.send(nak(vec![0..1 << 32; NAK_MAX_RANGES])).unwrap();
    t.naks.send(nak(vec![10..12, 0..3, 2..5, 11..13])).unwrap();
    t.h.run_until_idle();
    let mut want = sent.clone();
    want.extend_from_slice(&sent[0..5]);
    want.extend_from_slice(&sent[10..13]);
    assert_eq!(t.out.drain(), want, "each packet once per NAK, in order");
    let s = t.stats.get();
    assert_eq!((s.repairs, s.naks), (1024 + 8, 2));
}

// ---------------------------------------------------------------------------
// The sender alone

struct Tx {
    h: Harness,
    id: Id,
    input: Feeder<Bytes>,
    naks: Feeder<Bytes>,
    control: Feeder<Signal>,
    out: Collector<Bytes>,
    sig: Collector<Signal>,
    stats: kamaelia::protocol::srm::StatsHandle<SenderStats>,
}

fn tx(s: SrmSender) -> Tx {
    let mut h = Harness::new();
    let stats = s.stats();
    let id = h.spawn(s);
    Tx {
        input: h.feeder(id, "inbox").unwrap(),
        naks: h.feeder(id, "nak").unwrap(),
        control: h.feeder(id, "control").unwrap(),
        out: h.collector(id, "outbox").unwrap(),
        sig: h.collector(id, "signal").unwrap(),
        stats,
        h,
        id,
    }
}

#[test]
fn the_sender_numbers_keeps_and_repairs() {
    let mut t = tx(SrmSender::new().history(4));
    for i in 0..6 {
        t.input.send(p(i)).unwrap();
    }
    t.h.run_until_idle();
    let sent = t.out.drain();
    assert_eq!(sent.len(), 6);
    for (i, pkt) in sent.iter().enumerate() {
        assert_eq!(
            decode(pkt),
            Packet::Data {
                seq: i as u64,
                payload: p(i as u64)
            }
        );
    }
    t.naks.send(nak(vec![0..3, 5..9])).unwrap();
    t.naks.send(Bytes::from_static(b"junk")).unwrap();
    t.h.run_until_idle();
    assert_eq!(t.out.drain(), [sent[2].clone(), sent[5].clone()]);
    let s = t.stats.get();
    assert_eq!((s.sent, s.repairs, s.naks, s.bad_naks), (6, 2, 1, 1));
    assert_eq!(
        s.unrepairable,
        2 + 3,
        "0 and 1 are too old, 6..9 never were"
    );
}

#[test]
fn the_sender_announces_its_tail_when_idle_and_its_end_when_finished() {
    let mut t = tx(SrmSender::new().heartbeat(Some(50 * MS)).linger(200 * MS));
    t.input.send(p(0)).unwrap();
    t.h.run_until_idle();
    assert_eq!(t.out.drain().len(), 1);
    t.h.run_for(Duration::from_secs(1));
    let beats: Vec<Packet> = t.out.drain().iter().map(decode).collect();
    let idle = Packet::Status {
        next: 1,
        finished: false,
    };
    assert_eq!(
        beats,
        [idle.clone(), idle.clone(), idle],
        "three, then quiet"
    );
    t.control.send(Signal::ProducerFinished).unwrap();
    t.h.run_for(199 * MS);
    assert!(t.h.is_alive(t.id), "lingers for repairs");
    t.h.run_for(MS);
    let fins: Vec<Packet> = t.out.drain().iter().map(decode).collect();
    let fin = Packet::Status {
        next: 1,
        finished: true,
    };
    assert_eq!(fins, vec![fin; 4], "at 0, 50, 100 and 150 ms");
    assert_eq!(t.sig.drain(), [Signal::ProducerFinished]);
    assert!(!t.h.is_alive(t.id));
}

#[test]
fn an_oversize_payload_fails_the_sender() {
    let mut t = tx(SrmSender::new().max_payload(8));
    t.input.send(Bytes::from("ok")).unwrap();
    t.input.send(Bytes::from("far too long")).unwrap();
    t.h.run_until_idle();
    assert_eq!(t.out.drain().len(), 1);
    match &t.sig.drain()[0] {
        Signal::Failed(f) => assert!(matches!(
            f.downcast_ref::<FramingError>(),
            Some(FramingError::Oversize { size: 12, .. })
        )),
        other => panic!("{other:?}"),
    }
}

#[test]
fn packet_tags_are_as_documented() {
    assert_eq!(STATUS_TAG, u64::MAX);
    assert_eq!(NAK_TAG, u64::MAX - 1);
    let s = status(0x0102, true);
    assert_eq!(&s[4..12], &u64::MAX.to_be_bytes());
    assert_eq!(&s[24..], &[0, 0, 0, 0, 0, 0, 1, 2, 1]);
    let n = nak(vec![5..8]);
    assert_eq!(&n[24..], &[0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 3]);
}

#[test]
fn malformed_packets_are_refused() {
    use kamaelia::protocol::framing::encode_frame;
    use kamaelia::protocol::srm::{NAK_MAX_RANGES, SEQ_LIMIT};
    let corrupt = |reason| FramingError::Corrupt { offset: 0, reason };
    let frame = |tag, body: &[u8]| encode_frame(tag, body, usize::MAX).unwrap();
    let mut st = [0u8; 9];
    st[8] = 2; // flags beyond "finished"
    assert_eq!(
        Packet::decode(&frame(STATUS_TAG, &st), 100),
        Err(corrupt("bad status packet"))
    );
    assert_eq!(
        Packet::decode(&frame(STATUS_TAG, &st[..8]), 100),
        Err(corrupt("bad status packet"))
    );
    assert_eq!(
        Packet::decode(&frame(NAK_TAG, &[0; 13]), 100),
        Err(corrupt("bad NAK packet"))
    );
    let too_many = vec![0u8; 12 * (NAK_MAX_RANGES + 1)];
    assert_eq!(
        Packet::decode(&frame(NAK_TAG, &too_many), 2000),
        Err(corrupt("bad NAK packet"))
    );
    // A NAK asks only for data sequence numbers (found by the srm_packet
    // fuzz check: a range past u64::MAX was cut short, so the packet did
    // not re-encode to itself).
    let range = |first: u64, count: u32| {
        let mut b = first.to_be_bytes().to_vec();
        b.extend_from_slice(&count.to_be_bytes());
        frame(NAK_TAG, &b)
    };
    assert_eq!(
        Packet::decode(&range(SEQ_LIMIT - 1, 1), 100),
        Ok(Packet::Nak(vec![SEQ_LIMIT - 1..SEQ_LIMIT]))
    );
    for (first, count) in [(SEQ_LIMIT - 1, 2), (SEQ_LIMIT, 1), (u64::MAX - 2, 7)] {
        assert_eq!(
            Packet::decode(&range(first, count), 100),
            Err(corrupt("NAK range past the sequence numbers")),
            "{first} + {count}"
        );
    }
    for tag in [SEQ_LIMIT, NAK_TAG - 1] {
        assert_eq!(
            Packet::decode(&frame(tag, b""), 100),
            Err(corrupt("unknown packet type"))
        );
    }
    assert_eq!(
        Packet::Data {
            seq: SEQ_LIMIT,
            payload: Bytes::new()
        }
        .encode(100),
        Err(corrupt("sequence number out of range"))
    );
    // A payload over the receiver's maximum is refused from its header.
    assert!(matches!(
        Packet::decode(&data(0, &[0; 101]), 100),
        Err(FramingError::Oversize { size: 101, .. })
    ));
    assert!(matches!(
        Packet::decode(&Bytes::new(), 100),
        Err(FramingError::Truncated { received: 0 })
    ));
}

#[test]
fn a_receiver_counts_packets_that_contradict_the_end() {
    let mut r = rx(SrmReceiver::new().repair(false));
    r.send(&[0]);
    r.input.send(status(2, true)).unwrap();
    r.input.send(data(2, b"past the end")).unwrap();
    r.input.send(status(3, true)).unwrap(); // another end
    r.send(&[1]);
    r.h.run_until_idle();
    assert_eq!(r.got(), ps(0..2));
    assert_eq!(r.stats.get().corrupt, 2);
    assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
}

#[test]
fn a_lost_last_packet_is_found_by_the_heartbeat_and_repaired() {
    // Sender and receiver joined by hand; the last data packet is lost
    // once, and so is the first NAK.
    let mut h = Harness::new();
    let s = h.spawn(SrmSender::new().heartbeat(Some(20 * MS)).linger(500 * MS));
    let r = h.spawn(SrmReceiver::new().nak_interval(10 * MS).delay(300 * MS));
    let input = h.feeder::<Bytes>(s, "inbox").unwrap();
    let s_out = h.collector::<Bytes>(s, "outbox").unwrap();
    let s_nak = h.feeder::<Bytes>(s, "nak").unwrap();
    let r_in = h.feeder::<Bytes>(r, "inbox").unwrap();
    let r_nak = h.collector::<Bytes>(r, "nak").unwrap();
    let out = h.collector::<Bytes>(r, "outbox").unwrap();
    for i in 0..5 {
        input.send(p(i)).unwrap();
    }
    let (mut lost_data, mut lost_nak) = (false, false);
    for _ in 0..100 {
        h.run_for(MS);
        for pkt in s_out.drain() {
            if matches!(decode(&pkt), Packet::Data { seq: 4, .. }) && !lost_data {
                lost_data = true;
                continue;
            }
            r_in.send(pkt).unwrap();
        }
        for n in r_nak.drain() {
            if !lost_nak {
                lost_nak = true;
                continue;
            }
            s_nak.send(n).unwrap();
        }
    }
    assert!(lost_data && lost_nak);
    assert_eq!(out.drain(), ps(0..5));
    assert!(h.is_alive(r), "no finished status yet");
}

// ---------------------------------------------------------------------------
// Over the simulated network

/// Sends its messages one every `period`, then ProducerFinished.
struct Paced {
    outbox: Outbox<Bytes>,
    signal: Outbox<Signal>,
    items: VecDeque<Bytes>,
    period: Duration,
}

impl Component for Paced {
    fn step(&mut self, cx: &mut Cx) -> Step {
        match self.items.pop_front() {
            Some(m) => {
                let _ = self.outbox.send(m);
                cx.wake_after(self.period);
                Step::Pause
            }
            None => {
                let _ = self.signal.send(Signal::ProducerFinished);
                Step::Done
            }
        }
    }
    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.outbox).add(&self.signal);
    }
}

struct NetRun {
    got: Vec<Bytes>,
    gaps: Vec<Range<u64>>,
    lost_seqs: BTreeSet<u64>,
    sender: SenderStats,
    receiver: ReceiverStats,
    there: LinkStats,
    back: LinkStats,
    receiver_signal: Vec<Signal>,
    finished_at: Duration,
}

/// source -> sender -> link there -> receiver -> (nak) link back -> sender.
fn over_network(
    msgs: &[Bytes],
    sender: SrmSender,
    receiver: SrmReceiver,
    there: LinkConfig,
    back: LinkConfig,
    seed: u64,
) -> NetRun {
    let mut h = Harness::new();
    let start = h.now();
    let (sender_stats, receiver_stats) = (sender.stats(), receiver.stats());
    let there = SimLink::new(there, seed);
    let back = SimLink::new(back, seed ^ 0xB4C);
    let (there_stats, back_stats) = (there.stats(), back.stats());
    let src = h.spawn(Paced {
        outbox: Outbox::outbox(),
        signal: Outbox::signal(),
        items: msgs.iter().cloned().collect(),
        period: MS,
    });
    let s = h.spawn(sender);
    let t = h.spawn(there);
    let r = h.spawn(receiver);
    let b = h.spawn(back);
    let links = [
        ((src, "outbox"), (s, "inbox")),
        ((src, "signal"), (s, "control")),
        ((s, "outbox"), (t, "inbox")),
        ((s, "signal"), (t, "control")),
        ((t, "outbox"), (r, "inbox")),
        ((t, "signal"), (r, "control")),
        ((r, "nak"), (b, "inbox")),
        ((r, "signal"), (b, "control")),
        ((b, "outbox"), (s, "nak")),
    ];
    for (from, to) in links {
        h.scheduler().link(from, to).unwrap();
    }
    let out = h.collector::<Bytes>(r, "outbox").unwrap();
    let gaps = h.collector::<Range<u64>>(r, "gaps").unwrap();
    let dropped = h.collector::<Bytes>(t, "dropped").unwrap();
    let end = h.collector::<Signal>(b, "signal").unwrap();
    let mut finished_at = None;
    for _ in 0..20_000 {
        h.run_for(MS);
        if finished_at.is_none() && !h.is_alive(r) {
            finished_at = Some(h.now() - start);
        }
        if [src, s, t, r, b].iter().all(|id| !h.is_alive(*id)) {
            break;
        }
    }
    assert!(
        [src, s, t, r, b].iter().all(|id| !h.is_alive(*id)),
        "everything ends"
    );
    let lost_seqs = dropped
        .drain()
        .iter()
        .filter_map(|pkt| match decode(pkt) {
            Packet::Data { seq, .. } => Some(seq),
            _ => None,
        })
        .collect();
    NetRun {
        got: out.drain(),
        gaps: gaps.drain(),
        lost_seqs,
        sender: sender_stats.get(),
        receiver: receiver_stats.get(),
        there: there_stats.get(),
        back: back_stats.get(),
        receiver_signal: end.drain(),
        finished_at: finished_at.expect("the receiver ended"),
    }
}

/// Passes on the packets `keep` says yes to.
struct Keep {
    inbox: kamaelia::axon::Inbox<Bytes>,
    outbox: Outbox<Bytes>,
    keep: Box<dyn FnMut(&Packet) -> bool>,
}

impl Keep {
    fn new(keep: impl FnMut(&Packet) -> bool + 'static) -> Self {
        Keep {
            inbox: kamaelia::axon::Inbox::inbox(),
            outbox: Outbox::outbox(),
            keep: Box::new(keep),
        }
    }
}

impl Component for Keep {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(pkt) = self.inbox.recv() {
            if (self.keep)(&decode(&pkt)) {
                let _ = self.outbox.send(pkt);
            }
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox).add(&self.outbox);
    }
}

struct GroupRun {
    /// What each receiver delivered.
    got: Vec<Vec<Bytes>>,
    /// NAK packets sent, by all receivers together.
    naks: u64,
    suppressed: u64,
    sender: SenderStats,
}

/// One sender and `n` receivers on a simulated multicast group: the
/// sender's packets (the first copy of data packet `lost` dropped, so
/// every receiver misses it) and every receiver's NAKs go to all the
/// receivers, 5 ms away, and the NAKs to the sender, 30 ms away (the
/// receivers are near each other, the sender far: its repair comes long
/// after the first NAK is heard).
fn group(msgs: &[Bytes], n: usize, lost: u64, backoff: Duration) -> GroupRun {
    use kamaelia::util::Fanout;
    let mut h = Harness::new();
    let sender = SrmSender::new().heartbeat(Some(20 * MS)).linger(500 * MS);
    let sender_stats = sender.stats();
    let src = h.spawn(Paced {
        outbox: Outbox::outbox(),
        signal: Outbox::signal(),
        items: msgs.iter().cloned().collect(),
        period: MS,
    });
    let s = h.spawn(sender);
    let mut dropped = false;
    let lose = h.spawn(Keep::new(move |p| match p {
        Packet::Data { seq, .. } if *seq == lost && !dropped => {
            dropped = true;
            false
        }
        _ => true,
    }));
    let names: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
    let mut all: Vec<&str> = names.iter().map(String::as_str).collect();
    all.push("sender");
    let fan = h.spawn(Fanout::<Bytes>::new(&all));
    let naks_only = h.spawn(Keep::new(|p| matches!(p, Packet::Nak(_))));
    let to_sender = h.spawn(SimLink::new(LinkConfig::new().latency(30 * MS), 99));
    let mut links = vec![
        ((src, "outbox"), (s, "inbox")),
        ((src, "signal"), (s, "control")),
        ((s, "outbox"), (lose, "inbox")),
        ((lose, "outbox"), (fan, "inbox")),
        ((fan, "sender"), (naks_only, "inbox")),
        ((naks_only, "outbox"), (to_sender, "inbox")),
        ((to_sender, "outbox"), (s, "nak")),
    ];
    let mut receivers = Vec::new();
    let mut stats = Vec::new();
    let mut outs = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let r = SrmReceiver::new()
            .nak_interval(50 * MS)
            .delay(500 * MS)
            .nak_backoff(backoff)
            .seed(i as u64 + 1);
        stats.push(r.stats());
        let r = h.spawn(r);
        let wire = h.spawn(SimLink::new(LinkConfig::new().latency(5 * MS), i as u64));
        let name: &'static str = Box::leak(name.clone().into_boxed_str());
        links.push(((fan, name), (wire, "inbox")));
        links.push(((wire, "outbox"), (r, "inbox")));
        links.push(((r, "nak"), (fan, "inbox")));
        receivers.push(r);
    }
    for (from, to) in links {
        h.scheduler().link(from, to).unwrap();
    }
    for &r in &receivers {
        outs.push(h.collector::<Bytes>(r, "outbox").unwrap());
    }
    for _ in 0..2000 {
        h.run_for(MS);
        if !h.is_alive(s) && receivers.iter().all(|r| !h.is_alive(*r)) {
            break;
        }
    }
    assert!(
        !h.is_alive(s) && receivers.iter().all(|r| !h.is_alive(*r)),
        "the sender and every receiver end"
    );
    let total = |f: fn(&ReceiverStats) -> u64| stats.iter().map(|s| f(&s.get())).sum();
    GroupRun {
        got: outs.iter().map(|o| o.drain()).collect(),
        naks: total(|s| s.naks),
        suppressed: total(|s| s.suppressed),
        sender: sender_stats.get(),
    }
}

#[test]
fn with_nak_suppression_one_lost_packet_is_nakked_by_few_of_20_receivers() {
    let msgs = messages(50, 5);
    // Before: every receiver asks, at the same moment, and is repaired
    // once each.
    let all = group(&msgs, 20, 10, Duration::ZERO);
    assert_eq!(all.naks, 20);
    assert_eq!(all.sender.repairs, 20);
    // With a random back-off of up to 40 ms, the first NAK is heard by the
    // others 5 ms later and puts off every NAK not yet sent. (With the
    // back-off but without hearing, all 20 still ask: the repair comes
    // 35 ms after the first NAK.)
    let few = group(&msgs, 20, 10, 40 * MS);
    assert_eq!(few.naks, 3);
    assert_eq!(few.sender.repairs, 3);
    for run in [&all, &few] {
        assert_eq!(run.got.len(), 20);
        for got in &run.got {
            assert_eq!(got, &msgs, "every receiver recovers every byte, in order");
        }
        assert_eq!(run.sender.unrepairable, 0);
        assert_eq!(run.sender.naks, run.naks, "every NAK reached the sender");
    }
    // Each receiver hears every NAK (its own too, as on a real group)
    // while 10 is still missing.
    assert_eq!((all.suppressed, few.suppressed), (20 * 20, 20 * 3));
}

/// `n` messages of pseudo-random bytes and lengths (1..=200).
fn messages(n: usize, seed: u64) -> Vec<Bytes> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            let len = 1 + rng.below(200) as usize;
            Bytes::from((0..len).map(|_| rng.next_u64() as u8).collect::<Vec<u8>>())
        })
        .collect()
}

fn lossy(loss: f64) -> LinkConfig {
    LinkConfig::new().loss(loss).latency(10 * MS).jitter(3 * MS)
}

#[test]
fn ten_percent_loss_with_repair_delivers_every_byte_in_order() {
    let msgs = messages(2000, 1);
    let run = over_network(
        &msgs,
        SrmSender::new().linger(Duration::from_secs(2)),
        SrmReceiver::new()
            .delay(Duration::from_millis(600))
            .nak_interval(30 * MS),
        lossy(0.1),
        lossy(0.1),
        11,
    );
    assert!(run.there.lost > 150, "the link did lose: {:?}", run.there);
    assert!(run.back.lost > 0, "NAKs were lost too: {:?}", run.back);
    assert_eq!(run.got.concat(), msgs.concat(), "every byte, in order");
    assert_eq!(run.got, msgs, "and the same messages");
    assert!(run.gaps.is_empty());
    assert_eq!(run.receiver.gaps, 0);
    assert!(run.receiver.repaired >= run.lost_seqs.len() as u64 - 5);
    assert!(run.sender.repairs >= run.lost_seqs.len() as u64);
    assert_eq!(run.receiver_signal, [Signal::ProducerFinished]);
    // The receiver ends on the finished status, before the sender's linger.
    assert!(run.finished_at < Duration::from_millis(2000 + 1000));
}

#[test]
fn without_repair_the_gaps_are_exactly_the_lost_packets() {
    let msgs = messages(2000, 2);
    let run = over_network(
        &msgs,
        SrmSender::new().history(0),
        SrmReceiver::new().repair(false).delay(100 * MS),
        lossy(0.1),
        LinkConfig::new(),
        12,
    );
    assert!(run.lost_seqs.len() > 150);
    let gap_seqs: BTreeSet<u64> = run.gaps.iter().flat_map(|g| g.clone()).collect();
    assert_eq!(gap_seqs, run.lost_seqs, "reported exactly");
    assert_eq!(run.receiver.gaps, run.lost_seqs.len() as u64);
    let want: Vec<Bytes> = msgs
        .iter()
        .enumerate()
        .filter(|(i, _)| !run.lost_seqs.contains(&(*i as u64)))
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(run.got, want, "the rest, in order");
    assert_eq!(run.receiver.naks, 0);
    // Ranges are in order and do not overlap.
    assert!(run.gaps.windows(2).all(|w| w[0].end <= w[1].start));
}

#[test]
fn reordering_within_the_delay_is_corrected() {
    let msgs = messages(1000, 3);
    let shuffling = LinkConfig::new()
        .latency(5 * MS)
        .jitter(20 * MS)
        .reorder(0.2, 60 * MS)
        .duplicate(0.05);
    let run = over_network(
        &msgs,
        SrmSender::new(),
        SrmReceiver::new().repair(false).delay(100 * MS),
        shuffling.clone(),
        LinkConfig::new(),
        13,
    );
    assert!(run.there.reordered > 100 && run.there.duplicated > 20);
    assert_eq!(run.got, msgs);
    assert!(run.gaps.is_empty());
    assert!(run.receiver.duplicates > 20);

    // With repair on, the reordered packets cost some NAKs but nothing else.
    let run = over_network(
        &msgs,
        SrmSender::new(),
        SrmReceiver::new().delay(100 * MS),
        shuffling,
        LinkConfig::new(),
        13,
    );
    assert_eq!(run.got, msgs);
    assert!(run.gaps.is_empty());
}

#[test]
fn lossy_reordering_network_with_repair_is_still_exact() {
    let msgs = messages(1500, 4);
    let bad = LinkConfig::new()
        .loss(0.15)
        .duplicate(0.03)
        .reorder(0.1, 40 * MS)
        .latency(8 * MS)
        .jitter(8 * MS)
        .bandwidth(400_000);
    let run = over_network(
        &msgs,
        SrmSender::new().linger(Duration::from_secs(2)),
        SrmReceiver::new()
            .delay(Duration::from_millis(800))
            .nak_interval(40 * MS),
        bad.clone(),
        bad,
        21,
    );
    assert_eq!(run.got, msgs);
    assert!(run.gaps.is_empty());
}

#[test]
fn a_run_is_exactly_repeatable() {
    let msgs = messages(500, 5);
    let go = || {
        over_network(
            &msgs,
            SrmSender::new(),
            SrmReceiver::new(),
            lossy(0.1).reorder(0.1, 20 * MS),
            lossy(0.1),
            77,
        )
    };
    let (a, b) = (go(), go());
    assert_eq!(a.sender, b.sender);
    assert_eq!(a.receiver, b.receiver);
    assert_eq!(a.there, b.there);
    assert_eq!(a.back, b.back);
    assert_eq!(a.gaps, b.gaps);
    assert_eq!(a.finished_at, b.finished_at);
}
