//! ByteRateRequestControl and MessageRateLimit, on virtual time (the checks
//! of the original test_RateControl.py / test_VariableRateControl.py:
//! steady output, catch-up with and without aggregation, fractional chunk
//! sizes).

use std::time::{Duration, Instant};

use kamaelia::axon::{Signal, StepResult};
use kamaelia::testing::{Collector, Harness};
use kamaelia::util::{ByteRateRequestControl, MessageRateLimit};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs until `start + until`, jumping from timer to timer, and records
/// when each message came out (relative to `start`).
fn timeline<T: 'static>(
    h: &mut Harness,
    out: &Collector<T>,
    start: Instant,
    until: Duration,
) -> Vec<(Duration, T)> {
    let stop = start + until;
    let mut got = Vec::new();
    loop {
        h.run_until_idle();
        let t = h.now() - start;
        got.extend(out.drain().into_iter().map(|m| (t, m)));
        match h.scheduler().next_deadline().filter(|d| *d <= stop) {
            Some(d) => {
                let now = h.now();
                h.advance(d.saturating_duration_since(now));
            }
            None => break,
        }
    }
    let now = h.now();
    h.advance(stop.saturating_duration_since(now));
    h.run_until_idle();
    got.extend(out.drain().into_iter().map(|m| (until, m)));
    got
}

fn close(a: Duration, b: Duration) -> bool {
    let d = a.abs_diff(b);
    d <= Duration::from_micros(1)
}

fn assert_timeline<T: PartialEq + std::fmt::Debug>(got: &[(Duration, T)], want: &[(f64, T)]) {
    assert_eq!(got.len(), want.len(), "got {got:?}");
    for ((t, v), (wt, wv)) in got.iter().zip(want) {
        assert_eq!(v, wv, "value at {t:?}; got {got:?}");
        assert!(
            close(*t, Duration::from_secs_f64(*wt)),
            "{v:?} at {t:?}, wanted {wt} s; got {got:?}"
        );
    }
}

fn rate(c: ByteRateRequestControl) -> (Harness, kamaelia::axon::Id, Collector<usize>, Instant) {
    let mut h = Harness::new();
    let id = h.spawn(c);
    let out = h.collector::<usize>(id, "outbox").unwrap();
    let start = h.now();
    (h, id, out, start)
}

// ---------------------------------------------------------------- ByteRateRequestControl

#[test]
fn settings() {
    let r = ByteRateRequestControl::with_chunk_size(100.0, 25.0);
    assert_eq!(r.chunk_size(), 25.0);
    assert_eq!(r.period(), ms(250));
    let r = ByteRateRequestControl::with_chunk_rate(100.0, 8.0);
    assert_eq!(r.chunk_size(), 12.5);
    assert_eq!(r.period(), ms(125));
}

#[test]
#[should_panic(expected = "positive chunk size")]
fn a_zero_chunk_is_refused() {
    let _ = ByteRateRequestControl::with_chunk_size(100.0, 0.0);
}

#[test]
#[should_panic(expected = "positive rate")]
fn a_negative_rate_is_refused() {
    let _ = ByteRateRequestControl::with_chunk_rate(-1.0, 10.0);
}

#[test]
fn steady_output() {
    for agg in [true, false] {
        let (mut h, _, out, start) =
            rate(ByteRateRequestControl::with_chunk_size(100.0, 25.0).allow_aggregation(agg));
        let got = timeline(&mut h, &out, start, ms(1500));
        let want: Vec<(f64, usize)> = (0..7).map(|k| (k as f64 * 0.25, 25)).collect();
        assert_timeline(&got, &want);
    }
}

#[test]
fn catch_up_with_aggregation_is_one_large_request() {
    let (mut h, _, out, start) =
        rate(ByteRateRequestControl::with_chunk_size(100.0, 25.0).allow_aggregation(true));
    let mut got = timeline(&mut h, &out, start, ms(250));
    // Freeze: a second passes without the component running.
    h.advance(ms(1030));
    // The timeline goes on from the same start, so what the late wake
    // sends is stamped with the time it really came out.
    got.extend(timeline(&mut h, &out, start, ms(1750)));
    assert_timeline(
        &got,
        &[(0.0, 25), (0.25, 25), (1.28, 100), (1.5, 25), (1.75, 25)],
    );
}

#[test]
fn catch_up_without_aggregation_is_several_chunks() {
    let (mut h, _, out, start) =
        rate(ByteRateRequestControl::with_chunk_size(100.0, 25.0).allow_aggregation(false));
    let mut got = timeline(&mut h, &out, start, ms(250));
    h.advance(ms(1030));
    assert_eq!(
        h.step().map(|(_, r)| r),
        Some(StepResult::Sleep),
        "one step"
    );
    got.extend(timeline(&mut h, &out, start, ms(1750)));
    assert_timeline(
        &got,
        &[
            (0.0, 25),
            (0.25, 25),
            (1.28, 25),
            (1.28, 25),
            (1.28, 25),
            (1.28, 25),
            (1.5, 25),
            (1.75, 25),
        ],
    );
}

#[test]
fn fractional_chunks_carry_the_remainder() {
    for agg in [true, false] {
        let (mut h, _, out, start) =
            rate(ByteRateRequestControl::with_chunk_rate(100.0, 3.0).allow_aggregation(agg));
        let got = timeline(&mut h, &out, start, Duration::from_secs_f64(2.9));
        let sizes = [33, 33, 34];
        let want: Vec<(f64, usize)> = (0..9).map(|k| (k as f64 / 3.0, sizes[k % 3])).collect();
        assert_timeline(&got, &want);
    }
}

#[test]
fn fractional_catch_up_keeps_each_chunk_or_sums_them() {
    let (mut h, _, out, _) =
        rate(ByteRateRequestControl::with_chunk_rate(100.0, 3.0).allow_aggregation(false));
    h.run_until_idle();
    assert_eq!(out.drain(), [33]);
    h.advance(ms(700));
    h.run_until_idle();
    assert_eq!(out.drain(), [33, 34]);

    let (mut h, _, out, _) =
        rate(ByteRateRequestControl::with_chunk_rate(100.0, 3.0).allow_aggregation(true));
    h.run_until_idle();
    assert_eq!(out.drain(), [33]);
    h.advance(ms(700));
    h.run_until_idle();
    assert_eq!(out.drain(), [67]);
}

#[test]
fn chunks_below_one_unit_send_no_zeros() {
    let (mut h, _, out, start) =
        rate(ByteRateRequestControl::with_chunk_size(10.0, 0.25).allow_aggregation(false));
    let got = timeline(&mut h, &out, start, ms(400));
    // floor(k / 4) units after k requests: one unit on every fourth.
    assert_timeline(&got, &[(0.075, 1), (0.175, 1), (0.275, 1), (0.375, 1)]);
}

/// Small deterministic generator.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn never_loses_or_invents_units() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let cases = [
        (100.0, 25.0),
        (100.0, 100.0 / 3.0),
        (131072.0, 1024.0),
        (1000.0, 7.3),
        (37.0, 0.6),
        (65536.0 / 8.0, 8192.0 / 24.0),
    ];
    for (rate_, chunk) in cases {
        for agg in [true, false] {
            for _trial in 0..3 {
                let (mut h, _, out, start) = rate(
                    ByteRateRequestControl::with_chunk_size(rate_, chunk).allow_aggregation(agg),
                );
                h.run_until_idle(); // it starts now
                let total_ms = 500 + rng.below(4000);
                let mut total = 0usize;
                let mut biggest = 0usize;
                // Random stretches of normal running and of freezes.
                while h.now() - start < ms(total_ms) {
                    let left = ms(total_ms) - (h.now() - start);
                    let d = ms(1 + rng.below(600)).min(left);
                    if rng.below(3) == 0 {
                        h.advance(d);
                    } else {
                        h.run_for(d);
                    }
                    for v in out.drain() {
                        assert!(v > 0, "no zero requests");
                        biggest = biggest.max(v);
                        total += v;
                    }
                }
                h.run_until_idle();
                total += out.drain().iter().sum::<usize>();
                let t = total_ms as f64 / 1000.0;
                let exact = (rate_ * t).floor() as usize;
                assert!(
                    total >= exact && total <= exact + chunk.ceil() as usize,
                    "rate {rate_} chunk {chunk} agg {agg} over {t} s: {total} vs {exact}"
                );
                if !agg {
                    assert!(biggest <= chunk.ceil() as usize, "chunks stay chunk-sized");
                }
            }
        }
    }
}

#[test]
fn sleeps_between_requests() {
    let (mut h, id, _out, _) = rate(ByteRateRequestControl::with_chunk_size(100.0, 25.0));
    h.run_for(Duration::from_secs(10));
    assert!(h.is_sleeping(id));
    let steps = h.scheduler().stats().steps;
    assert!(steps <= 42, "{steps} steps for 41 requests");
}

#[test]
fn back_pressure_delays_but_keeps_every_unit() {
    for agg in [true, false] {
        let mut h = Harness::new();
        let id =
            h.spawn(ByteRateRequestControl::with_chunk_size(100.0, 25.0).allow_aggregation(agg));
        let out = h.bounded_collector::<usize>(id, "outbox", 1).unwrap();
        h.run_for(ms(2000));
        assert_eq!(out.len(), 1);
        let mut total = 0;
        while let Some(v) = out.recv() {
            total += v;
            h.run_until_idle();
        }
        assert_eq!(total, 9 * 25, "aggregation {agg}");
    }
}

#[test]
fn control_stops_it_and_is_forwarded() {
    for sig_in in [Signal::ProducerFinished, Signal::Shutdown] {
        let (mut h, id, out, _) = rate(ByteRateRequestControl::with_chunk_size(100.0, 25.0));
        let ctl = h.feeder::<Signal>(id, "control").unwrap();
        let sig = h.collector::<Signal>(id, "signal").unwrap();
        h.run_for(ms(600));
        assert_eq!(out.drain(), [25, 25, 25]);
        ctl.send(sig_in.clone()).unwrap();
        h.run_until_idle();
        assert_eq!(sig.drain(), [sig_in]);
        assert!(!h.is_alive(id));
        h.run_for(ms(1000));
        assert!(out.is_empty());
    }
}

// ---------------------------------------------------------------- MessageRateLimit

fn limiter(mps: f64, buffer: usize) -> (Harness, kamaelia::axon::Id) {
    let mut h = Harness::new();
    let id = h.spawn(MessageRateLimit::<u32>::new(mps, buffer));
    (h, id)
}

#[test]
fn waits_for_a_full_buffer_then_releases_at_the_rate() {
    let (mut h, id) = limiter(10.0, 3);
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let out = h.collector::<u32>(id, "outbox").unwrap();
    input.send(0).unwrap();
    input.send(1).unwrap();
    h.run_for(ms(500));
    assert!(out.is_empty(), "buffering");
    assert!(h.is_sleeping(id), "buffering does not spin");
    let start = h.now();
    input.send(2).unwrap();
    input.send(3).unwrap();
    let got = timeline(&mut h, &out, start, ms(1000));
    assert_timeline(&got, &[(0.0, 0), (0.1, 1), (0.2, 2), (0.3, 3)]);
}

#[test]
fn runs_dry_and_collects_a_new_buffer() {
    let (mut h, id) = limiter(10.0, 2);
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let out = h.collector::<u32>(id, "outbox").unwrap();
    input.send(0).unwrap();
    input.send(1).unwrap();
    h.run_for(ms(1000));
    assert_eq!(out.drain(), [0, 1]);
    input.send(2).unwrap();
    h.run_for(ms(1000));
    assert!(out.is_empty(), "one message is not a buffer of two");
    input.send(3).unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), [2]);
    h.run_for(ms(100));
    assert_eq!(out.drain(), [3]);
}

#[test]
fn never_faster_than_the_rate_even_after_a_late_wake() {
    let (mut h, id) = limiter(10.0, 1);
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let out = h.collector::<u32>(id, "outbox").unwrap();
    for i in 0..5 {
        input.send(i).unwrap();
    }
    h.run_until_idle();
    assert_eq!(out.drain(), [0]);
    // Woken 350 ms late: one message, not a burst of three.
    h.advance(ms(450));
    h.run_until_idle();
    assert_eq!(out.drain(), [1]);
    h.run_for(ms(99));
    assert!(out.is_empty());
    h.run_for(ms(1));
    assert_eq!(out.drain(), [2]);
}

#[test]
fn producer_finished_drains_at_the_rate_then_forwards() {
    let (mut h, id) = limiter(4.0, 60);
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<u32>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    for i in 0..3 {
        input.send(i).unwrap();
    }
    let start = h.now();
    ctl.send(Signal::ProducerFinished).unwrap();
    let got = timeline(&mut h, &out, start, ms(2000));
    assert_timeline(&got, &[(0.0, 0), (0.25, 1), (0.5, 2)]);
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
    assert!(!h.is_alive(id));
}

#[test]
fn producer_finished_with_nothing_waiting_ends_at_once() {
    let (mut h, id) = limiter(4.0, 60);
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    ctl.send(Signal::ProducerFinished).unwrap();
    assert_eq!(h.step(), Some((id, StepResult::Done)));
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
}

#[test]
fn shutdown_stops_at_once() {
    let (mut h, id) = limiter(10.0, 1);
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<u32>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    for i in 0..3 {
        input.send(i).unwrap();
    }
    h.run_until_idle();
    assert_eq!(out.drain(), [0]);
    ctl.send(Signal::Shutdown).unwrap();
    h.run_for(ms(1000));
    assert!(out.is_empty());
    assert_eq!(sig.drain(), [Signal::Shutdown]);
    assert!(!h.is_alive(id));
}

#[test]
fn back_pressure_keeps_order_and_rate() {
    let (mut h, id) = limiter(10.0, 1);
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let out = h.bounded_collector::<u32>(id, "outbox", 1).unwrap();
    for i in 0..6 {
        input.send(i).unwrap();
    }
    h.run_for(ms(1000));
    assert_eq!(out.len(), 1);
    assert!(h.is_sleeping(id));
    let mut got = vec![out.recv().unwrap()];
    // Room now: the refused message goes at once, the next a period later.
    h.run_until_idle();
    got.extend(out.recv());
    h.run_for(ms(99));
    assert!(out.is_empty());
    h.run_for(ms(1));
    got.extend(out.recv());
    h.run_for(ms(1000));
    got.extend(out.drain());
    h.run_for(ms(1000));
    got.extend(out.drain());
    h.run_for(ms(1000));
    got.extend(out.drain());
    assert_eq!(got, [0, 1, 2, 3, 4, 5]);
}

#[test]
fn a_bounded_inbox_smaller_than_the_buffer_counts_as_full() {
    let mut h = Harness::new();
    let m = MessageRateLimit::<u32>::new(10.0, 60);
    m.inbox.set_limit(Some(2));
    let id = h.spawn(m);
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let out = h.collector::<u32>(id, "outbox").unwrap();
    input.send(0).unwrap();
    input.send(1).unwrap();
    h.run_for(ms(150));
    assert_eq!(out.drain(), [0, 1]);
}

#[test]
fn limiter_sleeps_between_releases() {
    let (mut h, id) = limiter(10.0, 1);
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    for i in 0..20 {
        input.send(i).unwrap();
    }
    let before = h.scheduler().stats().steps;
    h.run_for(ms(5000));
    let steps = h.scheduler().stats().steps - before;
    assert!(steps <= 22, "{steps} steps for 20 releases");
    assert!(h.is_sleeping(id));
}

#[test]
#[should_panic(expected = "positive rate")]
fn limiter_needs_a_positive_rate() {
    let _ = MessageRateLimit::<u8>::new(0.0, 1);
}
