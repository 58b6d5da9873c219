//! The rate meter the choker ranks peers by, and the token-bucket rate
//! limits (global and per torrent), on simulated time: sums over a
//! simulated minute come within 1% of the configured rates.

use std::time::{Duration, Instant};

use kamaelia::internet::simulate::SplitMix64;
use kamaelia::protocol::torrent::swarm::{RateLimit, RateMeter};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn within(got: u64, want: u64, fraction: f64) -> bool {
    (got as f64 - want as f64).abs() <= want as f64 * fraction
}

#[test]
fn the_meter_reads_a_steady_rate_and_follows_a_change() {
    let t0 = Instant::now();
    let mut m = RateMeter::new(Duration::from_secs(20), 20, t0);
    // 10,000 bytes every 100 ms: 100,000 B/s.
    let mut t = t0;
    for _ in 0..300 {
        t += ms(100);
        m.record(t, 10_000);
        if t - t0 >= ms(2_000) {
            assert!(
                within(m.rate(t), 100_000, 0.06),
                "{:?}: {}",
                t - t0,
                m.rate(t)
            );
        }
    }
    assert!(within(m.rate(t), 100_000, 0.01), "{}", m.rate(t));
    // Half the rate for a full window: the old rate has slid out.
    for _ in 0..200 {
        t += ms(100);
        m.record(t, 5_000);
    }
    assert!(within(m.rate(t), 50_000, 0.01), "{}", m.rate(t));
    assert_eq!(m.total(), 300 * 10_000 + 200 * 5_000);
    // Silence: it falls to nothing once the window has passed.
    assert!(m.rate(t + ms(10_000)) < 30_000);
    assert_eq!(m.rate(t + ms(21_000)), 0);
    // A long gap then one record: only that record counts.
    m.record(t + ms(100_000), 7_000);
    assert!(m.rate(t + ms(100_000)) > 0);
    assert!(m.rate(t + ms(100_000)) <= 7_000);
}

#[test]
fn a_young_meter_is_not_underrated() {
    let t0 = Instant::now();
    let mut m = RateMeter::new(Duration::from_secs(20), 20, t0);
    let mut t = t0;
    for _ in 0..30 {
        t += ms(100);
        m.record(t, 1_000);
    }
    // 3 s of 10,000 B/s, read at 3 s: not diluted over the 20 s window.
    assert!(within(m.rate(t), 10_000, 0.05), "{}", m.rate(t));
    // A record stamped before the newest counts in the newest slot.
    m.record(t0, 1_000);
    assert_eq!(m.total(), 31_000);
}

#[test]
fn the_limiter_sums_to_its_rate_over_a_simulated_minute() {
    let t0 = Instant::now();
    let rate = 1_000_000;
    let burst = 64 * 1024;
    // A greedy sender every millisecond.
    let mut limit = RateLimit::new(rate, burst, t0);
    let mut sent = 0;
    for i in 1..=60_000 {
        sent += limit.take(t0 + ms(i), 100_000);
    }
    let want = rate * 60;
    assert!(within(sent, want, 0.01), "{sent} vs {want}");
    assert!(sent <= want + burst);

    // A sender at irregular times (0 to 20 ms apart), asking random sizes.
    let mut limit = RateLimit::new(rate, burst, t0);
    let mut rng = SplitMix64::new(13);
    let (mut t, mut sent) = (t0, 0);
    while t - t0 < Duration::from_secs(60) {
        t += Duration::from_micros(rng.below(20_000));
        sent += limit.take(t, rng.below(40_000));
    }
    assert!(within(sent, want, 0.01), "{sent} vs {want}");

    // A sender that sleeps until a 16 KiB block may go, as told.
    let mut limit = RateLimit::new(rate, burst, t0);
    let (mut t, mut sent) = (t0, 0);
    loop {
        let granted = limit.take(t, 16_384);
        sent += granted;
        let next = limit.ready_at(t, 16_384);
        assert!(next >= t);
        if granted == 0 {
            assert!(next > t, "told to wait when nothing was granted");
        }
        t = next;
        if t - t0 >= Duration::from_secs(60) {
            break;
        }
    }
    assert!(within(sent, want, 0.01), "{sent} vs {want}");
}

#[test]
fn global_and_per_torrent_limits_hold_together() {
    let t0 = Instant::now();
    let mut global = RateLimit::new(1_000_000, 32_768, t0);
    let mut torrent_a = RateLimit::new(300_000, 32_768, t0);
    let mut torrent_b = RateLimit::unlimited(t0);
    let (mut a, mut b) = (0, 0);
    for i in 1..=60_000 {
        let now = t0 + ms(i);
        a += RateLimit::take_all(&mut [&mut global, &mut torrent_a], now, 20_000);
        b += RateLimit::take_all(&mut [&mut global, &mut torrent_b], now, 20_000);
    }
    assert!(within(a, 300_000 * 60, 0.01), "a {a}");
    assert!(within(a + b, 1_000_000 * 60, 0.01), "a + b {}", a + b);
    // When both will let 10,000 bytes go: the later of the two.
    let now = t0 + ms(60_000);
    let ready = RateLimit::ready_at_all(&mut [&mut global, &mut torrent_a], now, 10_000);
    assert!(ready > now);
    assert_eq!(
        RateLimit::take_all(&mut [&mut global, &mut torrent_a], ready, 10_000),
        10_000
    );
}

#[test]
fn the_limiter_waits_exactly_and_handles_odd_settings() {
    let t0 = Instant::now();
    let mut limit = RateLimit::new(1_000, 500, t0);
    assert_eq!(limit.take(t0, 10_000), 500);
    assert_eq!(limit.ready_at(t0, 250), t0 + ms(250));
    assert_eq!(limit.take(t0 + ms(249), 1_000), 249);
    // Asking more than the burst waits for the burst only.
    assert_eq!(limit.ready_at(t0 + ms(249), 10_000), t0 + ms(749));
    // Time running backwards adds nothing and takes nothing.
    assert_eq!(limit.available(t0), 0);
    // Unlimited lets everything through at once.
    let mut free = RateLimit::unlimited(t0);
    assert_eq!(free.take(t0, u64::MAX), u64::MAX);
    assert_eq!(free.ready_at(t0, u64::MAX), t0);
    // A new rate applies from now on; tokens beyond the new burst are cut.
    let mut l = RateLimit::new(1_000, 1_000, t0);
    l.set(10_000, 100, t0 + ms(1));
    assert_eq!(l.available(t0 + ms(1)), 100);
    assert_eq!(l.take(t0 + ms(1), 100), 100);
    assert_eq!(l.available(t0 + ms(6)), 50);
    assert_eq!(l.rate(), 10_000);
    // A zero burst still lets a byte through.
    let mut tiny = RateLimit::new(10, 0, t0);
    assert_eq!(tiny.take(t0, 5), 1);
}
