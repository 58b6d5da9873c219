//! The simulated network link: loss, duplication, reordering, delay and
//! bandwidth, all deterministic for a seed on virtual time.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kamaelia::axon::{link, BoxSet, Component, Cx, Inbox, Signal, Step};
use kamaelia::internet::simulate::{LinkConfig, LinkStats, SimLink, SplitMix64};
use kamaelia::testing::Harness;

type Log<T> = Rc<RefCell<Vec<(Duration, T)>>>;

/// Logs each message with the virtual time it arrived.
struct Recorder<T: 'static> {
    inbox: Inbox<T>,
    base: Instant,
    log: Log<T>,
}

impl<T: 'static> Component for Recorder<T> {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(m) = self.inbox.recv() {
            self.log.borrow_mut().push((cx.now() - self.base, m));
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox);
    }
}

const MS: Duration = Duration::from_millis(1);

struct Run<T: 'static> {
    log: Vec<(Duration, T)>,
    dropped: Vec<T>,
    stats: LinkStats,
    signal: Vec<Signal>,
}

/// Sends `msgs` into a link, `gap` apart, then ProducerFinished; runs to
/// the end.
fn run_link<T: Clone + 'static>(
    link_c: SimLink<T>,
    msgs: Vec<T>,
    gap: Duration,
    watch_dropped: bool,
) -> Run<T> {
    let mut h = Harness::new();
    let stats = link_c.stats();
    let id = h.spawn(link_c);
    let log: Log<T> = Rc::new(RefCell::new(Vec::new()));
    let rec = Recorder {
        inbox: Inbox::inbox(),
        base: h.now(),
        log: log.clone(),
    };
    let rec_id = h.spawn(rec);
    h.scheduler()
        .link((id, "outbox"), (rec_id, "inbox"))
        .unwrap();
    let dropped = watch_dropped.then(|| h.collector::<T>(id, "dropped").unwrap());
    let input = h.feeder::<T>(id, "inbox").unwrap();
    let control = h.feeder::<Signal>(id, "control").unwrap();
    let signal = h.collector::<Signal>(id, "signal").unwrap();
    for m in msgs {
        input.send(m).unwrap();
        h.run_for(gap);
    }
    control.send(Signal::ProducerFinished).unwrap();
    h.run_for(Duration::from_secs(3600));
    assert!(!h.is_alive(id), "the link ends once everything has arrived");
    let log = log.take();
    Run {
        log,
        dropped: dropped.map(|d| d.drain()).unwrap_or_default(),
        stats: stats.get(),
        signal: signal.drain(),
    }
}

fn numbered(n: u32) -> Vec<Bytes> {
    (0..n)
        .map(|i| Bytes::from(i.to_be_bytes().to_vec()))
        .collect()
}

fn number(b: &Bytes) -> u32 {
    u32::from_be_bytes(b[..4].try_into().unwrap())
}

fn lossy() -> LinkConfig {
    LinkConfig::new()
        .loss(0.1)
        .duplicate(0.05)
        .reorder(0.1, 30 * MS)
        .latency(10 * MS)
        .jitter(5 * MS)
}

#[test]
fn splitmix_matches_the_reference_sequence() {
    // The published SplitMix64 outputs for seed 1234567.
    let mut r = SplitMix64::new(1234567);
    let want = [
        6457827717110365317u64,
        3203168211198807973,
        9817491932198370423,
        4593380528125082431,
        16408922859458223821,
    ];
    for w in want {
        assert_eq!(r.next_u64(), w);
    }
}

#[test]
fn a_perfect_link_delivers_everything_in_order_after_the_latency() {
    let run = run_link(
        SimLink::new(LinkConfig::new().latency(25 * MS), 1),
        numbered(20),
        MS,
        false,
    );
    assert_eq!(run.log.len(), 20);
    for (i, (t, m)) in run.log.iter().enumerate() {
        assert_eq!(number(m), i as u32);
        assert_eq!(
            *t,
            (i as u32) * MS + 25 * MS,
            "message {i} arrives after 25 ms"
        );
    }
    assert_eq!(run.signal, [Signal::ProducerFinished]);
}

#[test]
fn same_seed_same_everything_and_another_seed_differs() {
    let go = |seed| run_link(SimLink::new(lossy(), seed), numbered(2000), MS, true);
    let (a, b, c) = (go(42), go(42), go(43));
    assert_eq!(a.log, b.log, "same messages, same order, same times");
    assert_eq!(a.dropped, b.dropped);
    assert_eq!(a.stats, b.stats);
    assert_ne!(a.log, c.log);
    assert_ne!(a.stats, c.stats);
}

#[test]
fn ten_percent_loss_is_about_ten_percent_and_accounted_for() {
    let run = run_link(
        SimLink::new(LinkConfig::new().loss(0.1).latency(MS), 7),
        numbered(10_000),
        Duration::ZERO,
        true,
    );
    let s = run.stats;
    assert_eq!(s.received, 10_000);
    assert!((900..1100).contains(&s.lost), "{s:?}");
    assert_eq!(s.delivered + s.lost, 10_000);
    assert_eq!(run.log.len() as u64, s.delivered);
    assert_eq!(run.dropped.len() as u64, s.lost);
    // Delivered and dropped make up the input exactly, in order.
    let got: Vec<u32> = run.log.iter().map(|(_, m)| number(m)).collect();
    assert!(got.windows(2).all(|w| w[0] < w[1]));
    let mut all: Vec<u32> = got
        .into_iter()
        .chain(run.dropped.iter().map(number))
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..10_000).collect::<Vec<_>>());
}

#[test]
fn which_messages_are_lost_depends_only_on_seed_and_rate() {
    let lost = |cfg: LinkConfig| {
        let run = run_link(SimLink::new(cfg, 99), numbered(3000), MS, true);
        run.dropped.iter().map(number).collect::<BTreeSet<_>>()
    };
    let plain = lost(LinkConfig::new().loss(0.1));
    assert_eq!(plain, lost(lossy()));
}

#[test]
fn duplicates_and_reordering_happen_at_their_rates() {
    let run = run_link(SimLink::new(lossy(), 3), numbered(5000), MS, false);
    let s = run.stats;
    assert!((200..300).contains(&s.duplicated), "{s:?}");
    assert!((380..580).contains(&s.reordered), "{s:?}");
    assert_eq!(s.delivered as usize, run.log.len());
    assert_eq!(s.delivered, s.received - s.lost + s.duplicated);
    let got: Vec<u32> = run.log.iter().map(|(_, m)| number(m)).collect();
    let inversions = got.windows(2).filter(|w| w[0] > w[1]).count();
    assert!(inversions > 300, "reordered: {inversions}");
    let distinct: BTreeSet<u32> = got.iter().copied().collect();
    assert_eq!(distinct.len() as u64, s.received - s.lost);
    // Arrival times stay within latency + jitter + reorder delay.
    let sent_at = |n: u32| n * MS;
    for (t, m) in &run.log {
        let lag = *t - sent_at(number(m));
        assert!(lag >= 10 * MS && lag <= 45 * MS, "{lag:?}");
    }
}

#[test]
fn bandwidth_spaces_messages_out() {
    // 100-byte messages at 1000 bytes/s: one every 100 ms.
    let msgs: Vec<Bytes> = (0..10u8).map(|i| Bytes::from(vec![i; 100])).collect();
    let run = run_link(
        SimLink::new(LinkConfig::new().bandwidth(1000).latency(5 * MS), 1),
        msgs,
        Duration::ZERO,
        false,
    );
    let times: Vec<Duration> = run.log.iter().map(|(t, _)| *t).collect();
    let want: Vec<Duration> = (1..=10).map(|k| k * 100 * MS + 5 * MS).collect();
    assert_eq!(times, want);
    assert_eq!(run.stats.bytes_delivered, 1000);
}

#[test]
fn a_full_send_queue_drops() {
    // At 1000 B/s with a 300-byte queue limit, a burst of ten 100-byte
    // messages: the first three fit (0, 100 and 200 bytes waiting ahead of
    // them), the other seven are dropped.
    let msgs: Vec<Bytes> = (0..10u8).map(|i| Bytes::from(vec![i; 100])).collect();
    let run = run_link(
        SimLink::new(LinkConfig::new().bandwidth(1000).queue_limit(300), 1),
        msgs,
        Duration::ZERO,
        true,
    );
    assert_eq!(run.stats.overflowed, 7);
    let got: Vec<u8> = run.log.iter().map(|(_, m)| m[0]).collect();
    assert_eq!(got, [0, 1, 2]);
    assert_eq!(run.dropped.len(), 7);
}

#[test]
fn generic_messages_with_a_size_function() {
    let cfg = LinkConfig::new().bandwidth(10).loss(0.2);
    let link_c = SimLink::with_size(cfg, 5, |s: &String| s.len());
    let msgs: Vec<String> = (0..50).map(|i| format!("m{i:03}")).collect(); // 4 bytes each
    let run = run_link(link_c, msgs, Duration::ZERO, false);
    assert!(run.stats.lost > 0);
    for (k, (t, _)) in run.log.iter().enumerate() {
        assert!(
            *t >= (k as u32 + 1) * 400 * MS,
            "4 bytes at 10 B/s take 400 ms"
        );
    }
}

#[test]
fn shutdown_drops_what_is_in_flight() {
    let mut h = Harness::new();
    let id = h.spawn(SimLink::new(LinkConfig::new().latency(50 * MS), 1));
    let input = h.feeder::<Bytes>(id, "inbox").unwrap();
    let control = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<Bytes>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input.send(Bytes::from("late")).unwrap();
    h.run_for(10 * MS);
    control.send(Signal::Shutdown).unwrap();
    h.run_for(100 * MS);
    assert!(out.is_empty());
    assert_eq!(sig.drain(), [Signal::Shutdown]);
    assert!(!h.is_alive(id));
}

#[test]
fn a_slow_consumer_delays_but_loses_nothing() {
    let mut h = Harness::new();
    let link_c = SimLink::new(LinkConfig::new().latency(MS), 1);
    let stats = link_c.stats();
    let id = h.spawn(link_c);
    let input = h.feeder::<Bytes>(id, "inbox").unwrap();
    let out = h.bounded_collector::<Bytes>(id, "outbox", 3).unwrap();
    for m in numbered(50) {
        input.send(m).unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..40 {
        h.run_for(MS);
        assert!(out.len() <= 3, "the consumer's limit is kept");
        got.extend(out.drain().iter().map(number));
    }
    assert_eq!(got, (0..50).collect::<Vec<_>>());
    let s = stats.get();
    assert_eq!((s.delivered, s.lost, s.overflowed), (50, 0, 0));
}

#[test]
fn links_chain_and_finish_in_order() {
    // Two lossless links in a row: the signal follows the last message.
    let mut h = Harness::new();
    let a = SimLink::new(LinkConfig::new().latency(5 * MS).jitter(5 * MS), 1);
    let b = SimLink::new(LinkConfig::new().latency(5 * MS), 2);
    link(&a.outbox, &b.inbox).unwrap();
    link(&a.signal, &b.control).unwrap();
    let ia = h.spawn(a);
    let ib = h.spawn(b);
    let input = h.feeder::<Bytes>(ia, "inbox").unwrap();
    let control = h.feeder::<Signal>(ia, "control").unwrap();
    let out = h.collector::<Bytes>(ib, "outbox").unwrap();
    let sig = h.collector::<Signal>(ib, "signal").unwrap();
    for m in numbered(100) {
        input.send(m).unwrap();
    }
    control.send(Signal::ProducerFinished).unwrap();
    h.run_for(Duration::from_secs(1));
    assert_eq!(out.len(), 100);
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
    assert!(!h.is_alive(ia) && !h.is_alive(ib));
}

#[test]
fn the_link_and_srm_share_one_stats_handle_type() {
    use kamaelia::internet::simulate::{LinkStatsHandle, StatsHandle};
    let link = SimLink::new(LinkConfig::new(), 1);
    let handle: StatsHandle<LinkStats> = link.stats();
    let same: LinkStatsHandle = handle.clone();
    let srm: kamaelia::protocol::srm::StatsHandle<LinkStats> = same;
    let mut h = Harness::new();
    let id = h.spawn(link);
    let input = h.feeder::<Bytes>(id, "inbox").unwrap();
    let _out = h.collector::<Bytes>(id, "outbox").unwrap();
    input.send(Bytes::from_static(b"abc")).unwrap();
    h.run_until_idle();
    assert_eq!((srm.get().received, srm.get().bytes_delivered), (1, 3));
    assert_eq!(handle.get(), srm.get());
}
