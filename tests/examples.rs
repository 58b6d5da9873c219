//! Runs every example under `examples/` through its `run` function and
//! checks what it produced: exact output, counts and order.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

#[allow(dead_code)]
#[path = "../examples/producer_consumer.rs"]
mod producer_consumer;

#[allow(dead_code)]
#[path = "../examples/sync_links.rs"]
mod sync_links;

#[allow(dead_code)]
#[path = "../examples/system_shutdown.rs"]
mod system_shutdown;

#[allow(dead_code)]
#[path = "../examples/crasher.rs"]
mod crasher;

#[allow(dead_code)]
#[path = "../examples/demo.rs"]
mod demo;

use kamaelia::axon::{Ended, ExitKind};

type Buf = Rc<RefCell<Vec<u8>>>;

fn buffer() -> Buf {
    Rc::new(RefCell::new(Vec::new()))
}

fn text(b: &Buf) -> String {
    String::from_utf8(b.borrow().clone()).expect("examples write UTF-8")
}

// ---------------------------------------------------------------------------
// 1. producer_consumer

#[test]
fn producer_consumer_result_reaches_parent() {
    let out = buffer();
    let o = producer_consumer::run(100, out.clone());
    assert_eq!(o.ended, Ended::Completed);
    assert_eq!(
        o.tally,
        Some(producer_consumer::Tally {
            count: 100,
            sum: 5050
        })
    );
    assert_eq!(
        o.exits,
        vec![
            ("Producer".to_string(), ExitKind::Finished),
            ("Consumer".to_string(), ExitKind::Finished),
        ]
    );
    assert_eq!(
        text(&out),
        "parent: started Producer#1 (n = 100) and Consumer#2\n\
         parent: consumer answered: 100 messages, sum 5050\n\
         parent: child Producer#1 ended: Finished\n\
         parent: child Consumer#2 ended: Finished\n\
         parent: all children done\n"
    );
}

#[test]
fn producer_consumer_with_nothing_to_send() {
    let o = producer_consumer::run(0, buffer());
    assert_eq!(o.ended, Ended::Completed);
    assert_eq!(o.tally, Some(producer_consumer::Tally { count: 0, sum: 0 }));
    assert_eq!(o.exits.len(), 2);
}

// ---------------------------------------------------------------------------
// 2. sync_links

#[test]
fn sync_link_of_width_one() {
    let out = buffer();
    let o = sync_links::run(10, 1, Duration::from_millis(10), true, out.clone());
    assert_eq!(o.ended, Some(Ended::Completed));
    assert_eq!(
        o.received,
        (0..10).collect::<Vec<_>>(),
        "nothing lost, order kept"
    );
    assert!(o.refusals > 0);
    // Every message but the first finds the previous one still waiting.
    assert_eq!(o.refusals, 9);
    assert_eq!(o.limit, Some(1));
    assert!(o.max_queue <= 1, "queue {} exceeded the limit", o.max_queue);
    assert_eq!(o.max_queue, 1);
    // One take every 10 ms of virtual time, then one more rest.
    assert_eq!(o.elapsed, Duration::from_millis(100));
    assert!(text(&out)
        .ends_with("received 10 in order: true, refusals: 9, longest queue: 1 (limit 1)\n"));
}

#[test]
fn sync_link_exact_story() {
    let out = buffer();
    sync_links::run(3, 1, Duration::from_millis(10), true, out.clone());
    assert_eq!(
        text(&out),
        "--- 3 messages over a link of width 1, consumer takes one every 10 ms ---\n\
         [   0 ms] producer: sent 0\n\
         [   0 ms] producer: 1 refused (inbox full), pausing\n\
         [   0 ms] consumer: took 0\n\
         [   0 ms] producer: sent 1\n\
         [   0 ms] producer: 2 refused (inbox full), pausing\n\
         [  10 ms] consumer: took 1\n\
         [  10 ms] producer: sent 2\n\
         [  10 ms] producer: all 3 sent, finished\n\
         [  20 ms] consumer: took 2\n\
         [  30 ms] consumer: producer finished and inbox empty, done\n\
         received 3 in order: true, refusals: 2, longest queue: 1 (limit 1)\n"
    );
}

#[test]
fn pipewidth_variant() {
    let o = sync_links::run(20, 4, Duration::from_millis(10), true, buffer());
    assert_eq!(o.ended, Some(Ended::Completed));
    assert_eq!(o.received, (0..20).collect::<Vec<_>>());
    assert_eq!(o.limit, Some(4));
    assert!(o.max_queue <= 4, "queue {} exceeded the limit", o.max_queue);
    assert_eq!(o.max_queue, 4);
    // The first four fit; after that each message waits for one take.
    assert!(o.refusals > 0);
    assert_eq!(o.refusals, 16);
    assert_eq!(o.elapsed, Duration::from_millis(200));
}

#[test]
fn sync_link_on_the_real_clock() {
    let o = sync_links::run(5, 2, Duration::from_millis(2), false, buffer());
    assert_eq!(o.ended, Some(Ended::Completed));
    assert_eq!(o.received, (0..5).collect::<Vec<_>>());
    assert!(o.refusals > 0 && o.max_queue <= 2);
    assert!(o.elapsed >= Duration::from_millis(10));
}

// ---------------------------------------------------------------------------
// 3. system_shutdown

#[test]
fn system_shutdown_after_two_seconds() {
    let out = buffer();
    let o = system_shutdown::run(
        Duration::from_millis(250),
        Duration::from_secs(2),
        true,
        out.clone(),
    );
    assert_eq!(o.ended, Ended::Stopped);
    assert_eq!(o.ticks, 8);
    assert!(o.sleeper_dropped, "the sleeping component was not dropped");
    assert_eq!(o.elapsed, Duration::from_secs(2));
    let mut want = String::from("sleeper: going to sleep for ever\n");
    for k in 1..=8 {
        want.push_str(&format!("tick {k:>2} at {:>4} ms\n", k * 250));
    }
    want.push_str(
        "ticker: 2000 ms have passed, stopping the system\n\
         sleeper: dropped by the scheduler after 1 step(s)\n\
         run ended: Stopped after 8 ticks; components left alive: 0\n",
    );
    assert_eq!(text(&out), want);
}

#[test]
fn system_shutdown_period_not_dividing_the_time() {
    let o = system_shutdown::run(
        Duration::from_millis(300),
        Duration::from_secs(1),
        true,
        buffer(),
    );
    assert_eq!(o.ended, Ended::Stopped);
    assert_eq!(o.ticks, 4); // 300, 600, 900, 1200 ms
    assert_eq!(o.elapsed, Duration::from_millis(1200));
    assert!(o.sleeper_dropped);
}

// ---------------------------------------------------------------------------
// 4. crasher

#[test]
fn crasher_plans_are_deterministic() {
    use crasher::Plan;
    let p = |steps, crash| Plan { steps, crash };
    assert_eq!(
        crasher::plan(2024, 6),
        vec![
            p(8, false),
            p(5, true),
            p(8, false),
            p(7, false),
            p(1, false),
            p(7, false)
        ]
    );
    assert_eq!(crasher::plan(2024, 6), crasher::plan(2024, 6));
}

#[test]
fn crasher_default_seed() {
    crasher::quiet_crash_reports();
    let out = buffer();
    let o = crasher::run(2024, 6, out.clone());
    assert_eq!(o.ended, Ended::Completed, "the system ran on");
    assert_eq!(o.crashed(), vec!["Crasher1"]);
    assert_eq!(o.stats.panicked, 1);
    assert_eq!(
        o.survived(),
        vec!["Crasher0", "Crasher2", "Crasher3", "Crasher4", "Crasher5"]
    );
    assert_eq!(o.stats.spawned, 7); // supervisor + 6
    assert_eq!(o.stats.finished, 7);
    let out = text(&out);
    assert!(out.contains("supervisor: Crasher1 crashed and was removed; the rest runs on\n"));
    // Survivors completed their planned steps.
    for (i, p) in o.plans.iter().enumerate().filter(|(_, p)| !p.crash) {
        let line = format!("Crasher{i}: finished normally after {} step(s)\n", p.steps);
        assert!(out.contains(&line), "missing {line:?} in\n{out}");
    }
    // The crash comes out in step order: Crasher4 (1 step) ends first, then
    // Crasher1 (5), then the 7-step and 8-step survivors.
    let order: Vec<&str> = o.fates.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        order,
        vec!["Crasher4", "Crasher1", "Crasher3", "Crasher5", "Crasher0", "Crasher2"]
    );
}

#[test]
fn crasher_many_seeds_match_their_plans() {
    crasher::quiet_crash_reports();
    let mut total_crashes = 0;
    for seed in 1..=20u64 {
        let o = crasher::run(seed, 8, buffer());
        assert_eq!(o.ended, Ended::Completed);
        let want: Vec<String> = (0..8)
            .filter(|&i| o.plans[i].crash)
            .map(|i| format!("Crasher{i}"))
            .collect();
        assert_eq!(o.crashed(), want, "seed {seed}");
        assert_eq!(o.stats.panicked as usize, want.len(), "seed {seed}");
        assert_eq!(o.survived().len() + want.len(), 8, "seed {seed}");
        total_crashes += want.len();
    }
    assert!(total_crashes > 0);
    // Seed 1 is known to crash three of the first six.
    assert_eq!(
        crasher::run(1, 6, buffer()).crashed(),
        vec!["Crasher0", "Crasher1", "Crasher5"]
    );
}

// ---------------------------------------------------------------------------
// 5. demo

/// The same counting, done plainly, to check the components against.
fn plain_count(text: &str) -> (u64, u64, HashMap<String, u64>) {
    let mut map = HashMap::new();
    let mut words = 0;
    for line in text.lines() {
        for w in line.split(|c: char| !(c.is_alphanumeric() || c == '\'')) {
            let w = w.trim_matches('\'');
            if !w.is_empty() {
                *map.entry(w.to_lowercase()).or_insert(0) += 1;
                words += 1;
            }
        }
    }
    (text.lines().count() as u64, words, map)
}

fn virtual_opts() -> demo::Options {
    demo::Options {
        virtual_time: true,
        ..demo::Options::default()
    }
}

#[test]
fn demo_counts_the_embedded_text() {
    let out = buffer();
    let text_in = demo::load(None).unwrap();
    assert_eq!(text_in, demo::KAMAELIA_TEXT);
    let r = demo::run(&text_in, &virtual_opts(), out.clone());
    assert_eq!(r.ended, Ended::Completed);

    // Exact figures for the embedded text...
    assert_eq!((r.lines, r.words, r.distinct), (47, 490, 243));
    let top: Vec<(&str, u64)> = r.top.iter().map(|(w, n)| (w.as_str(), *n)).collect();
    assert_eq!(
        top,
        vec![
            ("a", 36),
            ("the", 35),
            ("and", 23),
            ("to", 18),
            ("in", 9),
            ("component", 8),
            ("is", 7),
            ("of", 7),
            ("that", 7),
            ("it", 6),
        ]
    );
    // ...and the same as counting it plainly.
    let (lines, words, map) = plain_count(&text_in);
    assert_eq!(
        (r.lines, r.words, r.distinct),
        (lines, words, map.len() as u64)
    );
    for (w, n) in &r.top {
        assert_eq!(map[w], *n, "{w}");
    }

    // The machinery: all four ended cleanly, nothing left undelivered,
    // back-pressure happened, the timers ticked, the snapshot was taken.
    assert_eq!(r.stats.spawned, 4);
    assert_eq!(r.stats.finished, 4);
    assert_eq!(r.stats.panicked, 0);
    assert_eq!(r.stats.undelivered, 0);
    assert!(r.splitter_refusals > 0);
    assert!(r.source_refusals > 0);
    assert!(r.progress_reports >= 2, "{}", r.progress_reports);
    let snap = r.snapshot.as_deref().expect("snapshot taken mid-run");
    for name in ["LineSource", "WordSplitter", "WordCounter"] {
        assert!(snap.contains(name), "{name} missing from\n{snap}");
    }
    assert!(snap.contains("#1.outbox -> #2.inbox"), "{snap}");
    // 47 lines at 4 lines per 5 ms tick: the last batch goes at 55 ms.
    assert_eq!(r.elapsed, Duration::from_millis(55));

    let out = text(&out);
    assert!(out.starts_with(
        "counting 2691 bytes, 47 lines: 4 line(s) every 5 ms, progress every 15 ms\n"
    ));
    assert!(out.contains("[  15 ms] progress:"), "{out}");
    assert!(
        out.contains("--- introspection at [  30 ms] ---\n"),
        "{out}"
    );
    assert!(out.contains("47 lines, 490 words, 243 different words\n"));
    assert!(out.contains("top 10:\n   1. a              36\n   2. the            35\n"));
    assert!(out.contains("0 panicked, 0 undelivered"));
}

#[test]
fn demo_is_deterministic_on_virtual_time() {
    let a = buffer();
    let b = buffer();
    demo::run(demo::KAMAELIA_TEXT, &virtual_opts(), a.clone());
    demo::run(demo::KAMAELIA_TEXT, &virtual_opts(), b.clone());
    assert_eq!(text(&a), text(&b));
}

#[test]
fn demo_counts_a_file() {
    let path = std::env::temp_dir().join(format!("kamaelia-demo-test-{}.txt", std::process::id()));
    std::fs::write(
        &path,
        "the cat sat on the mat\nThe dog's bone, the dog's day!\n\n'quoted' words\n",
    )
    .unwrap();
    let loaded = demo::load(Some(&path));
    let _ = std::fs::remove_file(&path);
    let file_text = loaded.unwrap();

    for virtual_time in [true, false] {
        let opts = demo::Options {
            virtual_time,
            ..demo::Options::default()
        };
        let out = buffer();
        let r = demo::run(&file_text, &opts, out.clone());
        assert_eq!(r.ended, Ended::Completed);
        assert_eq!((r.lines, r.words, r.distinct), (4, 14, 10));
        let top: Vec<(&str, u64)> = r.top.iter().map(|(w, n)| (w.as_str(), *n)).collect();
        assert_eq!(
            top,
            vec![
                ("the", 4),
                ("dog's", 2),
                ("bone", 1),
                ("cat", 1),
                ("day", 1),
                ("mat", 1),
                ("on", 1),
                ("quoted", 1),
                ("sat", 1),
                ("words", 1),
            ]
        );
        assert_eq!(r.stats.undelivered, 0);
        assert!(text(&out).contains("4 lines, 14 words, 10 different words\n"));
    }
}

#[test]
fn demo_counts_an_empty_text() {
    let r = demo::run("", &virtual_opts(), buffer());
    assert_eq!(r.ended, Ended::Completed);
    assert_eq!((r.lines, r.words, r.distinct), (0, 0, 0));
    assert!(r.top.is_empty());
}

#[test]
fn demo_missing_file_is_an_error() {
    assert!(demo::load(Some(std::path::Path::new("/nonexistent/kamaelia/demo.txt"))).is_err());
}
