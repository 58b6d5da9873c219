//! What is deterministic on virtual time (see `Scheduler::with_virtual_time`):
//! a run without threads is the same every time; with a thread, the run is
//! the same every time when the test waits for the thread (never moving
//! virtual time) before moving time, and an answer that has arrived is
//! seen before the next jump of virtual time.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use kamaelia::axon::{Scheduler, Step, StepResult, Threaded};
use kamaelia::testing::Harness;

/// A trace as `(round, name, result)`.
type Trace = Vec<(u64, String, kamaelia::axon::StepResult)>;

/// Wakes at 10, 30 and 60 ms (virtual), records how far in it is each time.
fn ticker(name: &str, start: Instant, at: &Shared<Vec<(String, u128)>>) -> Script {
    let at = at.clone();
    let name = name.to_string();
    let mut n = 0u64;
    Script::new(&name.clone(), move |_, cx| {
        at.borrow_mut()
            .push((name.clone(), (cx.now() - start).as_millis()));
        n += 1;
        if n > 3 {
            return Step::Done;
        }
        cx.wake_after(Duration::from_millis(10 * n));
        Step::Pause
    })
}

fn timers_only_run() -> (Vec<(String, u128)>, Trace) {
    let mut s = Scheduler::with_virtual_time();
    s.enable_trace();
    let start = s.now();
    let at = shared(Vec::new());
    s.spawn(ticker("A", start, &at));
    s.spawn(ticker("B", start, &at));
    s.run();
    let v = at.borrow().clone();
    (v, trace_of(s.trace()))
}

#[test]
fn without_threads_a_virtual_time_run_is_the_same_every_time() {
    let first = timers_only_run();
    assert_eq!(
        first.0,
        [
            ("A", 0),
            ("B", 0),
            ("A", 10),
            ("B", 10),
            ("A", 30),
            ("B", 30),
            ("A", 60),
            ("B", 60)
        ]
        .iter()
        .map(|(n, t)| (n.to_string(), *t))
        .collect::<Vec<_>>()
    );
    for _ in 0..20 {
        assert_eq!(timers_only_run(), first);
    }
}

/// Doubles each number it gets, after some real work (a sleep standing for
/// a blocking call), until its input closes.
fn slow_doubler() -> Threaded<u32, u32> {
    Threaded::new("Doubler", |t| loop {
        if !t.wait(None) {
            return;
        }
        while let Some(x) = t.recv() {
            std::thread::sleep(Duration::from_millis(2));
            if t.send(x * 2).is_err() {
                return;
            }
        }
        if t.is_closed() {
            return;
        }
    })
}

/// What `waiting_run` returns.
type WaitingRun = (
    Vec<(u32, u128)>,
    Vec<(String, u128)>,
    Vec<(String, StepResult)>,
);

/// One run of: send 1, 2, 3 to a slow thread, one at a time, waiting for
/// each answer with `wait_for_wake`, then moving virtual time by 10 ms,
/// with a ticker running beside it. Returns the answers and the virtual
/// times they were seen at, the ticker's wake times, and the ticker's
/// steps from the trace (without round numbers: those count the bridge's
/// steps too, and its thread wakes it in real time).
fn waiting_run() -> WaitingRun {
    let mut h = Harness::new();
    let start = h.now();
    let id = h.spawn(slow_doubler());
    let at = shared(Vec::new());
    h.spawn(ticker("T", start, &at));
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let output = h.collector::<u32>(id, "outbox").unwrap();
    let mut got = Vec::new();
    for v in 1..=3 {
        input.send(v).unwrap();
        h.run_until_idle();
        while output.is_empty() {
            assert!(h.wait_for_wake(Duration::from_secs(10)), "no answer");
            h.run_until_idle();
        }
        for x in output.drain() {
            got.push((x, (h.now() - start).as_millis()));
        }
        h.advance(Duration::from_millis(10));
    }
    h.run_until_idle();
    let ticker_steps = h
        .trace()
        .iter()
        .filter(|e| e.name == "T")
        .map(|e| (e.name.clone(), e.result))
        .collect();
    let ticks = at.borrow().clone();
    (got, ticks, ticker_steps)
}

#[test]
fn with_a_thread_waiting_for_it_before_moving_time_makes_what_components_see_the_same() {
    let first = waiting_run();
    // Each answer is seen at the virtual time its question was asked.
    assert_eq!(first.0, vec![(2, 0), (4, 10), (6, 20)]);
    // The ticker woke at 0, 10 and 30 ms (time ended at 30).
    assert_eq!(
        first.1,
        vec![
            ("T".to_string(), 0),
            ("T".to_string(), 10),
            ("T".to_string(), 30)
        ]
    );
    assert_eq!(first.2, vec![("T".to_string(), StepResult::Sleep); 3]);
    for _ in 0..5 {
        assert_eq!(waiting_run(), first);
    }
}

#[test]
fn an_answer_that_has_arrived_is_seen_before_virtual_time_jumps() {
    let mut h = Harness::new();
    let start = h.now();
    let (sent_tx, sent_rx) = mpsc::channel();
    let id = h.spawn(Threaded::<(), u32>::new("Once", move |t| {
        t.send(7).unwrap();
        sent_tx.send(()).unwrap();
        // Stays alive (blocked) so the scheduler keeps looking at threads.
        t.wait(None);
    }));
    // Records each number with the virtual time it arrived at.
    let seen = shared(Vec::new());
    let seen2 = seen.clone();
    let rec = h.spawn(Script::new("Rec", move |io, cx| {
        while let Some(v) = io.inbox.recv() {
            seen2.borrow_mut().push((v, (cx.now() - start).as_millis()));
        }
        Step::Pause
    }));
    h.scheduler().link((id, "outbox"), (rec, "inbox")).unwrap();
    // A timer 10 ms ahead, so virtual time has somewhere to jump to.
    let at = shared(Vec::new());
    h.spawn(ticker("T", start, &at));
    // Start the bridge's thread, then make sure its message is on its way
    // before the scheduler has to decide whether to jump.
    h.run_until_idle();
    sent_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    // Nothing is runnable; the next deadline is 5 ms (the run's end). The
    // message that has arrived is taken first, at 0 ms.
    assert_eq!(h.scheduler().run_for(Duration::from_millis(5)), None);
    assert_eq!(*seen.borrow(), vec![(7, 0)]);
    assert_eq!((h.now() - start).as_millis(), 5);
}
