//! Announcing to a torrent's trackers as BEP 12 says: [`Tiers`] (the
//! order and the back-off, pure) and [`TrackerAnnouncer`] (the component
//! that announces on time, one [`HttpTrackerClient`] child at a time).
//!
//! BEP 12: tiers are tried in order; the trackers within a tier are
//! shuffled once (here with a seeded generator, so a test knows the
//! order); a tracker that answers moves to the front of its tier. On top of
//! that, each tracker that fails is skipped until its back-off has passed
//! (15 s, doubling to at most 30 min, reset by an answer), so a dead
//! tracker is not hammered; when every tracker is backing off, the next
//! attempt waits for the first to be due. After an answer the next
//! announce is at the reply's `interval` (not before its `min interval`,
//! nor before [`TierConfig::min_reannounce`]).
//!
//! TrackerAnnouncer's boxes:
//!
//! | box     | carries           | meaning                                                     |
//! |---------|-------------------|-------------------------------------------------------------|
//! | inbox   | `AnnounceRequest` | the torrent's state now: replaces what is announced next; an `event` other than `None` is announced at once |
//! | control | `Signal`          | shutdown or producer finished: it leaves the swarm (below), then ends |
//! | outbox  | `AnnounceOutcome` | one per attempt: the tracker's reply, or its failure          |
//! | signal  | `Signal`          | `Shutdown` once, when it ends                                 |
//!
//! **Leaving.** On any control signal the announce in flight is abandoned
//! (its client shut down) and, if some tracker ever answered, one
//! announce with `event=stopped` (and `numwant=0`: it wants no peers) goes
//! to the tracker that answered last, so the swarm forgets this peer at
//! once instead of at its expiry. One try, bounded by
//! [`TrackerAnnouncer::stop_timeout`] (default 5 s): its outcome goes out
//! like any other (a tracker silent until then is a `Failed` with
//! `TimedOut`, and its client is shut down), then the announcer ends
//! whatever came of it. A torrent no tracker answered for leaves at once.
//!
//! Its clock is the scheduler's (virtual in tests). `Started` and
//! `Completed` are sent once, to the tracker that answers them; later
//! announces carry no event. A `tracker id` a tracker gave is sent back to
//! that tracker.
//!
//! ```no_run
//! use kamaelia::axon::Scheduler;
//! use kamaelia::protocol::torrent::tracker::tiers::{TierConfig, Tiers, TrackerAnnouncer};
//! # let req: kamaelia::protocol::torrent::tracker::AnnounceRequest = todo!();
//! let tiers = Tiers::new(
//!     &[vec!["http://a.example/announce".into()], vec!["http://b.example/announce".into()]],
//!     42,
//!     TierConfig::default(),
//! );
//! let mut s = Scheduler::new();
//! s.spawn(TrackerAnnouncer::new(tiers, req));
//! s.run();
//! ```

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::http_client::{HttpTrackerClient, HttpTrackerReply, HttpTrackerResult, TrackerError};
use super::{AnnounceEvent, AnnounceReply, AnnounceRequest};
use crate::axon::{link, BoxSet, Component, Cx, Inbox, Outbox, Signal, Step, TimerKey};
use crate::internet::{tcp_connector, Connector};
use crate::protocol::http::client::{ClientConfig, ErrorKind, Phase};

/// Back-off and re-announce bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TierConfig {
    /// The wait after a tracker's first failure (default 15 s); it doubles
    /// with each failure after.
    pub first_backoff: Duration,
    /// The longest wait (default 30 min).
    pub max_backoff: Duration,
    /// Announces are never closer than this, whatever a tracker's
    /// `interval` says (default 30 s).
    pub min_reannounce: Duration,
}

impl Default for TierConfig {
    fn default() -> Self {
        TierConfig {
            first_backoff: Duration::from_secs(15),
            max_backoff: Duration::from_secs(30 * 60),
            min_reannounce: Duration::from_secs(30),
        }
    }
}

/// One tracker of a tier.
#[derive(Clone, Debug)]
struct Tracker {
    url: String,
    failures: u32,
    retry_at: Option<Instant>,
    tracker_id: Option<Vec<u8>>,
}

/// Which tracker to try now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// This one (tier, position in the tier, URL).
    Try(usize, usize, String),
    /// Every tracker is backing off: the first is due then.
    WaitUntil(Instant),
    /// There are no trackers.
    Empty,
}

/// The trackers of a torrent in BEP 12 order, with back-off; see the
/// module documentation.
#[derive(Clone, Debug)]
pub struct Tiers {
    tiers: Vec<Vec<Tracker>>,
    config: TierConfig,
}

/// SplitMix64: a small seeded generator (no dependency, same sequence
/// everywhere).
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Tiers {
    /// The tiers of an `announce-list` (empty tiers dropped), each
    /// shuffled with the generator seeded by `seed`.
    pub fn new(list: &[Vec<String>], seed: u64, config: TierConfig) -> Self {
        let mut state = seed;
        let tiers = list
            .iter()
            .filter(|t| !t.is_empty())
            .map(|tier| {
                let mut t: Vec<Tracker> = tier
                    .iter()
                    .map(|url| Tracker {
                        url: url.clone(),
                        failures: 0,
                        retry_at: None,
                        tracker_id: None,
                    })
                    .collect();
                // Fisher-Yates.
                for i in (1..t.len()).rev() {
                    let j = (splitmix(&mut state) % (i as u64 + 1)) as usize;
                    t.swap(i, j);
                }
                t
            })
            .collect();
        Tiers { tiers, config }
    }

    /// The URLs in the order they are tried, tier by tier.
    pub fn order(&self) -> Vec<Vec<&str>> {
        self.tiers
            .iter()
            .map(|t| t.iter().map(|tr| tr.url.as_str()).collect())
            .collect()
    }

    /// The first tracker, in tier order, not backing off at `now`.
    pub fn next(&self, now: Instant) -> Next {
        let mut earliest: Option<Instant> = None;
        for (ti, tier) in self.tiers.iter().enumerate() {
            for (i, tr) in tier.iter().enumerate() {
                match tr.retry_at {
                    Some(at) if at > now => {
                        earliest = Some(earliest.map_or(at, |e| e.min(at)));
                    }
                    _ => return Next::Try(ti, i, tr.url.clone()),
                }
            }
        }
        earliest.map_or(Next::Empty, Next::WaitUntil)
    }

    /// The `tracker id` that tracker gave last, if any.
    pub fn tracker_id(&self, tier: usize, index: usize) -> Option<&[u8]> {
        self.tiers.get(tier)?.get(index)?.tracker_id.as_deref()
    }

    /// The tracker answered: its back-off is cleared, it moves to the
    /// front of its tier, and the `tracker id` it gave (if any) is kept.
    pub fn succeeded(&mut self, tier: usize, index: usize, tracker_id: Option<Vec<u8>>) {
        let Some(t) = self.tiers.get_mut(tier) else {
            return;
        };
        if index >= t.len() {
            return;
        }
        let mut tr = t.remove(index);
        tr.failures = 0;
        tr.retry_at = None;
        if tracker_id.is_some() {
            tr.tracker_id = tracker_id;
        }
        t.insert(0, tr);
    }

    /// The tracker failed at `now`: it backs off; returns when it is due.
    pub fn failed(&mut self, tier: usize, index: usize, now: Instant) -> Instant {
        let c = self.config;
        let Some(tr) = self.tiers.get_mut(tier).and_then(|t| t.get_mut(index)) else {
            return now;
        };
        tr.failures = tr.failures.saturating_add(1);
        let doublings = (tr.failures - 1).min(20);
        let wait = c
            .first_backoff
            .saturating_mul(1 << doublings)
            .min(c.max_backoff);
        let at = now + wait;
        tr.retry_at = Some(at);
        at
    }
}

/// What one announce attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnnounceOutcome {
    /// The tracker at `url` answered.
    Announced {
        /// The tracker.
        url: String,
        /// Its reply.
        reply: AnnounceReply,
    },
    /// The tracker at `url` did not; it is not tried again before
    /// `retry_at`.
    Failed {
        /// The tracker.
        url: String,
        /// Why.
        error: TrackerError,
        /// When it may be tried again.
        retry_at: Instant,
    },
}

/// Announces a torrent to its tiers on time; see the module documentation.
pub struct TrackerAnnouncer {
    /// The torrent's state now.
    pub inbox: Inbox<AnnounceRequest>,
    /// Shutdown.
    pub control: Inbox<Signal>,
    /// One outcome per attempt.
    pub outbox: Outbox<AnnounceOutcome>,
    /// Sent once, at the end.
    pub signal: Outbox<Signal>,
    results: Inbox<HttpTrackerResult>,
    child_signals: Inbox<Signal>,
    to_child: Outbox<Signal>,
    tiers: Tiers,
    request: AnnounceRequest,
    connector: Rc<RefCell<Connector>>,
    http_config: ClientConfig,
    /// The attempt in flight: tier, position, URL, the event it carried.
    in_flight: Option<(usize, usize, String, AnnounceEvent)>,
    /// When the next announce is due (`None`: now).
    due: Option<Instant>,
    timer: Option<(Instant, TimerKey)>,
    /// Where it is in its life.
    stage: Stage,
    stop_timeout: Duration,
    /// The tier of the tracker that answered last: it is first in its
    /// tier (an answer moves it there), and it gets the `stopped`.
    answered_tier: Option<usize>,
}

/// Announcing, or leaving the swarm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Announcing,
    /// A control signal came: the attempt in flight (if any) is being
    /// shut down.
    Abandoning,
    /// The `stopped` announce is in flight until then.
    Leaving(Instant),
}

impl TrackerAnnouncer {
    /// Announces `request` (its event, usually `Started`, goes with the
    /// first announce) to `tiers`.
    pub fn new(tiers: Tiers, request: AnnounceRequest) -> Self {
        TrackerAnnouncer {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "announce outcomes"),
            signal: Outbox::signal(),
            results: Inbox::new("_results", "the tracker client's result"),
            child_signals: Inbox::new("_child_signal", "the tracker client's end"),
            to_child: Outbox::new("_child_control", "shutdown for the tracker client"),
            tiers,
            request,
            connector: Rc::new(RefCell::new(tcp_connector())),
            http_config: ClientConfig::default(),
            in_flight: None,
            due: None,
            timer: None,
            stage: Stage::Announcing,
            stop_timeout: Duration::from_secs(5),
            answered_tier: None,
        }
    }

    /// Makes connections with `connector` (tests pass a scripted one).
    pub fn with_connector(mut self, connector: Connector) -> Self {
        self.connector = Rc::new(RefCell::new(connector));
        self
    }

    /// How long the `stopped` announce made when it ends may take (default
    /// 5 s); then it ends regardless.
    pub fn stop_timeout(mut self, wait: Duration) -> Self {
        self.stop_timeout = wait;
        self
    }

    /// The HTTP time-outs of each attempt.
    pub fn http_config(mut self, config: ClientConfig) -> Self {
        self.http_config = config;
        self
    }

    fn start(&mut self, cx: &mut Cx, tier: usize, index: usize, url: String) {
        let mut req = self.request.clone();
        req.tracker_id = self.tiers.tracker_id(tier, index).map(<[u8]>::to_vec);
        let shared = self.connector.clone();
        let child = HttpTrackerClient::announce(&url, &req)
            .with_connector(Box::new(move |addr| (shared.borrow_mut())(addr)))
            .config(self.http_config);
        self.to_child.erased().unlink();
        let wired = link(&child.outbox, &self.results)
            .and_then(|_| link(&child.signal, &self.child_signals))
            .and_then(|_| link(&self.to_child, &child.control));
        if let Err(e) = wired {
            log::error!("announcer: {e}");
            return;
        }
        cx.spawn_child(child);
        self.in_flight = Some((tier, index, url, req.event));
    }

    fn finish(&mut self, now: Instant, result: HttpTrackerResult) {
        let Some((tier, index, url, event)) = self.in_flight.take() else {
            return;
        };
        let outcome = match result {
            Ok(HttpTrackerReply::Announce(reply)) => {
                self.tiers.succeeded(tier, index, reply.tracker_id.clone());
                self.answered_tier = Some(tier);
                // The event was told; a newer one from the inbox stays.
                if self.request.event == event {
                    self.request.event = AnnounceEvent::None;
                }
                let secs = reply.interval.max(reply.min_interval.unwrap_or(0));
                let wait = Duration::from_secs(secs.into()).max(self.tiers.config.min_reannounce);
                self.due = Some(now + wait);
                AnnounceOutcome::Announced { url, reply }
            }
            Ok(HttpTrackerReply::Scrape(_)) => unreachable!("an announce gets an announce reply"),
            Err(error) => {
                let retry_at = self.tiers.failed(tier, index, now);
                // The next tracker in order is tried now.
                self.due = None;
                AnnounceOutcome::Failed {
                    url,
                    error,
                    retry_at,
                }
            }
        };
        let _ = self.outbox.send(outcome);
    }

    /// Starts the `stopped` announce to the tracker that answered last;
    /// false if there is none.
    fn leave(&mut self, cx: &mut Cx) -> bool {
        let Some(tier) = self.answered_tier else {
            return false;
        };
        let Some(url) = self
            .tiers
            .order()
            .get(tier)
            .and_then(|t| t.first())
            .map(|u| u.to_string())
        else {
            return false;
        };
        self.request.event = AnnounceEvent::Stopped;
        self.request.numwant = Some(0);
        self.start(cx, tier, 0, url);
        if self.in_flight.is_none() {
            return false;
        }
        let deadline = cx.now() + self.stop_timeout;
        self.wake_at(cx, deadline);
        self.stage = Stage::Leaving(deadline);
        true
    }

    fn end(&mut self, cx: &mut Cx) -> Step {
        if let Some((_, k)) = self.timer.take() {
            cx.cancel_timer(k);
        }
        let _ = self.signal.send(Signal::Shutdown);
        Step::Done
    }

    fn wake_at(&mut self, cx: &mut Cx, at: Instant) {
        if self.timer.is_some_and(|(t, _)| t == at) {
            return;
        }
        if let Some((_, k)) = self.timer.take() {
            cx.cancel_timer(k);
        }
        self.timer = Some((at, cx.wake_at(at)));
    }
}

impl Component for TrackerAnnouncer {
    fn step(&mut self, cx: &mut Cx) -> Step {
        let now = cx.now();
        // A result is taken first, even with a shutdown waiting: it may be
        // the first answer, which decides whether there is a swarm to
        // leave; and a child that has answered is not sent a shutdown,
        // which its finished inbox would refuse and `to_child` keep for
        // the next child (the `stopped` announce) to get at once.
        if let Some(result) = self.results.recv() {
            self.finish(now, result);
        }
        while self.control.recv().is_some() {
            if self.stage == Stage::Announcing {
                self.stage = Stage::Abandoning;
                if self.in_flight.is_some() {
                    let _ = self.to_child.send(Signal::Shutdown);
                }
            }
        }
        while self.child_signals.recv().is_some() {}
        while cx.next_exit().is_some() {}
        match self.stage {
            Stage::Announcing => {}
            Stage::Abandoning => {
                if !cx.children().is_empty() {
                    return Step::Pause;
                }
                self.in_flight = None;
                if self.leave(cx) {
                    return Step::Pause;
                }
                return self.end(cx);
            }
            Stage::Leaving(deadline) => {
                if now >= deadline {
                    if let Some((_, _, url, _)) = self.in_flight.take() {
                        // No answer in time: given up, and said so.
                        let _ = self.to_child.send(Signal::Shutdown);
                        let _ = self.outbox.send(AnnounceOutcome::Failed {
                            url,
                            error: TrackerError::Http(ErrorKind::TimedOut(Phase::Head)),
                            retry_at: now,
                        });
                    }
                }
                if self.in_flight.is_none() && cx.children().is_empty() {
                    return self.end(cx);
                }
                return Step::Pause;
            }
        }
        while let Some(req) = self.inbox.recv() {
            if req.event != AnnounceEvent::None {
                self.due = None;
            }
            self.request = req;
        }
        if self.in_flight.is_some() {
            return Step::Pause;
        }
        match self.due {
            Some(at) if at > now => self.wake_at(cx, at),
            _ => match self.tiers.next(now) {
                Next::Try(tier, index, url) => self.start(cx, tier, index, url),
                Next::WaitUntil(at) => self.wake_at(cx, at),
                Next::Empty => {}
            },
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox)
            .add(&self.control)
            .add(&self.outbox)
            .add(&self.signal)
            .add(&self.results)
            .add(&self.child_signals)
            .add(&self.to_child);
    }
}
