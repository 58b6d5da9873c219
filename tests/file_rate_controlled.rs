//! RateControlledFileReader on virtual time: exact chunks, the times they
//! come out, the end of the file, control signals, errors and a slow
//! consumer.

mod file_support;

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use file_support::*;
use kamaelia::axon::{link_refs, Ended, Id, Inbox, Scheduler, Signal};
use kamaelia::file::{PromptMode, RateControlledFileReader};
use kamaelia::testing::{Collector, Feeder, Harness};
use kamaelia::util::ByteRateRequestControl;

struct Rig {
    h: Harness,
    id: Id,
    ctl: Feeder<Signal>,
    out: Collector<Bytes>,
    sig: Collector<Signal>,
    start: Instant,
}

fn rig(r: RateControlledFileReader, limit: Option<usize>) -> Rig {
    let mut h = Harness::new();
    let id = h.spawn(r);
    let out = match limit {
        Some(n) => h.bounded_collector(id, "outbox", n).unwrap(),
        None => h.collector(id, "outbox").unwrap(),
    };
    Rig {
        ctl: h.feeder(id, "control").unwrap(),
        sig: h.collector(id, "signal").unwrap(),
        start: h.now(),
        out,
        h,
        id,
    }
}

/// What came out, and when (seconds since the start, rounded to the µs).
#[derive(Debug, PartialEq)]
enum Ev {
    Data(f64, &'static str),
    Sig(f64, Signal),
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e6
}

fn leak(b: Bytes) -> &'static str {
    Box::leak(String::from_utf8(b.to_vec()).unwrap().into_boxed_str())
}

/// Runs until `until` after the start, timer to timer, recording what
/// comes out of `outbox` and `signal` and when.
fn timeline(r: &mut Rig, until: Duration) -> Vec<Ev> {
    let stop = r.start + until;
    let mut got = Vec::new();
    loop {
        got.extend(record(r));
        match r.h.scheduler().next_deadline().filter(|d| *d <= stop) {
            Some(d) => {
                let now = r.h.now();
                r.h.advance(d.saturating_duration_since(now));
            }
            None => break,
        }
    }
    // Then on to `until` itself.
    let now = r.h.now();
    r.h.advance(stop.saturating_duration_since(now));
    got.extend(record(r));
    got
}

fn record(r: &mut Rig) -> Vec<Ev> {
    r.h.run_until_idle();
    let t = secs(r.h.now() - r.start);
    let mut got: Vec<Ev> = r
        .out
        .drain()
        .into_iter()
        .map(|b| Ev::Data(t, leak(b)))
        .collect();
    got.extend(r.sig.drain().into_iter().map(|s| Ev::Sig(t, s)));
    got
}

/// Everything has ended: the reader, both children, the timer, the file.
fn all_ended(r: &mut Rig, path: &Path) {
    assert!(!r.h.is_alive(r.id), "the reader still runs");
    assert_eq!(r.h.scheduler().live(), 0, "a child still runs");
    assert_eq!(r.h.scheduler().next_deadline(), None, "a timer is left");
    assert_eq!(open_fds_on(path), 0, "file left open");
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

use Ev::{Data, Sig};

#[test]
fn bytes_at_a_steady_rate_then_the_end() {
    let text = "aaaaaaaaaabbbbbbbbbbccccc"; // 25 bytes
    let f = TempPath::with("rb", text.as_bytes());
    // 40 bytes a second, 10 at a time: one chunk every 250 ms.
    let mut r = rig(
        RateControlledFileReader::new(f.path(), PromptMode::Bytes, 40.0, 10.0),
        None,
    );
    assert_eq!(
        timeline(&mut r, Duration::from_secs(5)),
        [
            Data(0.0, "aaaaaaaaaa"),
            Data(0.25, "bbbbbbbbbb"),
            Data(0.5, "ccccc"),
            Sig(0.75, Signal::ProducerFinished),
        ]
    );
    all_ended(&mut r, f.path());
    assert_eq!(r.h.scheduler().stats().undelivered, 0);
}

#[test]
fn a_whole_number_of_chunks_ends_one_period_after_the_last() {
    let f = TempPath::with("rw", b"0123456789");
    let mut r = rig(
        RateControlledFileReader::new(f.path(), PromptMode::Bytes, 10.0, 5.0),
        None,
    );
    assert_eq!(
        timeline(&mut r, Duration::from_secs(5)),
        [
            Data(0.0, "01234"),
            Data(0.5, "56789"),
            Sig(1.0, Signal::ProducerFinished),
        ]
    );
    all_ended(&mut r, f.path());
}

#[test]
fn lines_at_a_steady_rate() {
    let f = TempPath::with("rl", b"a\nbb\nccc\ndddd\ne");
    // 2 lines a second, 2 at a time: one chunk a second.
    let mut r = rig(
        RateControlledFileReader::new(f.path(), PromptMode::Lines, 2.0, 2.0),
        None,
    );
    assert_eq!(
        timeline(&mut r, Duration::from_secs(10)),
        [
            Data(0.0, "a\nbb\n"),
            Data(1.0, "ccc\ndddd\n"),
            Data(2.0, "e"),
            Sig(3.0, Signal::ProducerFinished),
        ]
    );
    all_ended(&mut r, f.path());
}

#[test]
fn fractional_chunks_by_chunk_rate() {
    let f = TempPath::with("rf", b"abcdefghijklmnopqrst"); // 20 bytes
                                                           // 10 bytes a second in 3 chunks a second: 3, 3, 4, 3, 3, 4.
    let mut r = rig(
        RateControlledFileReader::with_chunk_rate(f.path(), PromptMode::Bytes, 10.0, 3.0),
        None,
    );
    assert_eq!(
        timeline(&mut r, Duration::from_secs(5)),
        [
            Data(0.0, "abc"),
            Data(0.333333, "def"),
            Data(0.666667, "ghij"),
            Data(1.0, "klm"),
            Data(1.333333, "nop"),
            Data(1.666667, "qrst"),
            Sig(2.0, Signal::ProducerFinished),
        ]
    );
    all_ended(&mut r, f.path());
}

#[test]
fn shutdown_stops_both_at_once() {
    let f = TempPath::with("rs", &[b'x'; 100]);
    let mut r = rig(
        RateControlledFileReader::new(f.path(), PromptMode::Bytes, 10.0, 10.0),
        None,
    );
    let got = timeline(&mut r, ms(1500));
    assert_eq!(got, [Data(0.0, "xxxxxxxxxx"), Data(1.0, "xxxxxxxxxx")]);
    r.ctl.send(Signal::Shutdown).unwrap();
    assert_eq!(
        timeline(&mut r, Duration::from_secs(10)),
        [Sig(1.5, Signal::Shutdown)]
    );
    all_ended(&mut r, f.path());
}

#[test]
fn producer_finished_on_control_stops_both() {
    let f = TempPath::with("rp", &[b'y'; 100]);
    let mut r = rig(
        RateControlledFileReader::new(f.path(), PromptMode::Bytes, 10.0, 10.0),
        None,
    );
    assert_eq!(timeline(&mut r, ms(500)), [Data(0.0, "yyyyyyyyyy")]);
    r.ctl.send(Signal::ProducerFinished).unwrap();
    assert_eq!(
        timeline(&mut r, Duration::from_secs(10)),
        [Sig(0.5, Signal::ProducerFinished)]
    );
    all_ended(&mut r, f.path());
}

#[test]
fn a_missing_file_fails_at_once() {
    let f = TempPath::new("rm");
    let mut r = rig(
        RateControlledFileReader::new(f.path(), PromptMode::Bytes, 10.0, 10.0),
        None,
    );
    let got = timeline(&mut r, Duration::from_secs(5));
    assert_eq!(got.len(), 1, "{got:?}");
    let Sig(t, sig) = &got[0] else {
        panic!("expected a signal, got {got:?}")
    };
    assert_eq!(*t, 0.0);
    let e = file_error(sig);
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(e.path(), f.path());
    all_ended(&mut r, f.path());
}

#[test]
fn a_slow_consumer_loses_nothing_and_catches_up() {
    let data: String = (0..8).map(|i| format!("{i}{i}{i}{i}{i}")).collect(); // 40 bytes
    let f = TempPath::with("rc", data.as_bytes());
    let mut r = rig(
        RateControlledFileReader::new(f.path(), PromptMode::Bytes, 10.0, 5.0),
        Some(1),
    );
    // Nothing is taken for 2 s: one chunk waits, one is held by the reader,
    // the requests of 1 s, 1.5 s and 2 s wait.
    r.h.run_for(ms(2000));
    assert_eq!(r.out.len(), 1);
    assert!(r.sig.is_empty());
    // From now on the consumer takes one chunk at a time, at once.
    let mut got = Vec::new();
    while let Some(b) = r.out.recv() {
        got.push((secs(r.h.now() - r.start), leak(b)));
        r.h.run_until_idle();
    }
    assert_eq!(
        got,
        [
            (2.0, "00000"),
            (2.0, "11111"),
            (2.0, "22222"),
            (2.0, "33333"),
            (2.0, "44444")
        ]
    );
    // Then on at the steady rate, and the end.
    assert_eq!(
        timeline(&mut r, Duration::from_secs(10)),
        [
            Data(2.5, "55555"),
            Data(3.0, "66666"),
            Data(3.5, "77777"),
            Sig(4.0, Signal::ProducerFinished),
        ]
    );
    all_ended(&mut r, f.path());
}

#[test]
fn aggregated_catch_up_after_a_stall() {
    let f = TempPath::with("ra", b"abcdefghijklmnopqrstuvwxyz");
    let rc = ByteRateRequestControl::with_chunk_size(4.0, 2.0).allow_aggregation(true);
    let mut r = rig(
        RateControlledFileReader::with_control(f.path(), PromptMode::Bytes, rc),
        None,
    );
    assert_eq!(
        timeline(&mut r, ms(500)),
        [Data(0.0, "ab"), Data(0.5, "cd")]
    );
    // The system stalls for 1.1 s: the requests of 1, 1.5 s come as one.
    r.h.advance(ms(1100));
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), [Bytes::from_static(b"efgh")]);
    assert_eq!(timeline(&mut r, ms(2000)), [Data(2.0, "ij")]);
}

#[test]
fn boxes_and_name() {
    let f = TempPath::with("rn", b"z");
    let r = RateControlledFileReader::new(f.path(), PromptMode::Bytes, 1.0, 1.0);
    assert!(r.outbox().type_name().contains("Bytes"));
    assert!(r.control().type_name().contains("Signal"));
    assert!(r.signal().type_name().contains("Signal"));
    assert!(r.find("inbox").is_none(), "it takes no input but control");
    assert_eq!(
        kamaelia::axon::Component::name(&r),
        "RateControlledFileReader"
    );
}

#[test]
#[should_panic(expected = "positive rate")]
fn a_zero_rate_is_refused() {
    let _ = RateControlledFileReader::new("/dev/null", PromptMode::Bytes, 0.0, 1.0);
}

#[test]
fn in_a_system_linked_by_reference() {
    let data: Vec<u8> = (0..=255).collect();
    let f = TempPath::with("rr", &data);
    let reader = RateControlledFileReader::new(f.path(), PromptMode::Bytes, 1000.0, 100.0);
    let out: Inbox<Bytes> = Inbox::inbox();
    let sig: Inbox<Signal> = Inbox::control();
    link_refs(&reader.outbox(), &out.erased()).unwrap();
    link_refs(&reader.signal(), &sig.erased()).unwrap();
    let mut s = Scheduler::with_virtual_time();
    let t0 = s.now();
    s.spawn(reader);
    assert_eq!(s.run(), Ended::Completed);
    assert_eq!(
        s.now() - t0,
        ms(300),
        "chunks at 0, 0.1, 0.2 s; end at 0.3 s"
    );
    let chunks: Vec<Bytes> = std::iter::from_fn(|| out.recv()).collect();
    assert_eq!(
        chunks.iter().map(|c| c.len()).collect::<Vec<_>>(),
        [100, 100, 56]
    );
    assert_eq!(concat(&chunks), data);
    assert_eq!(sig.recv(), Some(Signal::ProducerFinished));
}
