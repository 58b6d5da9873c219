//! Runs the classic sketches under `examples/` (5, 14-19, 21 and the
//! presentation tool) through their `run` functions and checks what they
//! produced: exact output, counts, order and (virtual) times.

// Several examples include `examples/support/mod.rs` themselves (so that
// each builds on its own), so this crate holds one copy per example module.
#![allow(clippy::duplicate_mod)]

use std::cell::RefCell;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[allow(dead_code)]
#[path = "../examples/console_echo.rs"]
mod console_echo;

#[allow(dead_code)]
#[path = "../examples/backplane_forwarding.rs"]
mod backplane_forwarding;

#[allow(dead_code)]
#[path = "../examples/file_reading.rs"]
mod file_reading;

#[allow(dead_code)]
#[path = "../examples/demo_append.rs"]
mod demo_append;

#[allow(dead_code)]
#[path = "../examples/graphline_shutdown.rs"]
mod graphline_shutdown;

#[allow(dead_code)]
#[path = "../examples/nested_par.rs"]
mod nested_par;

#[allow(dead_code)]
#[path = "../examples/feedback.rs"]
mod feedback;

#[allow(dead_code)]
#[path = "../examples/ticks_and_ttl.rs"]
mod ticks_and_ttl;

#[allow(dead_code)]
#[path = "../examples/presentation.rs"]
mod presentation;

use kamaelia::axon::{Ended, Signal};
use kamaelia::testing::Harness;
use kamaelia::util::{PassThrough, PeriodicTick, Ttl, TtlEnd};

type Buf = Rc<RefCell<Vec<u8>>>;

fn buffer() -> Buf {
    Rc::new(RefCell::new(Vec::new()))
}

fn text(b: &Buf) -> String {
    String::from_utf8(b.borrow().clone()).expect("examples write UTF-8")
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A unique path in the temp directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "kamaelia-sketch-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_file(&p);
        TempFile(p)
    }

    fn with(tag: &str, data: &str) -> Self {
        let t = Self::new(tag);
        std::fs::write(&t.0, data).unwrap();
        t
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

// ---------------------------------------------------------------------------
// Sketch 5: console_echo

#[test]
fn console_echo_echoes_every_line_then_ends() {
    let out = buffer();
    let o = console_echo::run(
        Cursor::new("hello\nworld\n\n  spaced  \nlast line, no newline"),
        out.clone(),
    );
    assert_eq!(o.ended, Ended::Completed);
    assert_eq!(
        text(&out),
        "hello\nworld\n\n  spaced  \nlast line, no newline\n"
    );
    assert_eq!(o.signals, vec![Signal::ProducerFinished]);
    assert_eq!(o.stats.spawned, 3); // pipeline, reader, echoer
    assert_eq!(o.stats.finished, 3);
    assert_eq!(o.stats.undelivered, 0);
}

#[test]
fn console_echo_with_no_input() {
    let out = buffer();
    let o = console_echo::run(Cursor::new(""), out.clone());
    assert_eq!(o.ended, Ended::Completed);
    assert_eq!(text(&out), "");
    assert_eq!(o.signals, vec![Signal::ProducerFinished]);
}

// ---------------------------------------------------------------------------
// Sketch 14: backplane_forwarding

#[test]
fn backplane_every_line_arrives_once_and_the_copies_come_out() {
    let console = ["typed one", "typed two", "typed three"];
    let source: Vec<String> = (1..=5)
        .map(|k| backplane_forwarding::source_line(k, 5))
        .collect();
    // Threads interleave differently from run to run: try a few.
    for round in 0..10 {
        let out = buffer();
        let o = backplane_forwarding::run(
            5,
            Duration::ZERO,
            Cursor::new(console.join("\n") + "\n"),
            out.clone(),
        );
        assert_eq!(o.ended, Ended::Completed, "round {round}");
        // The forwarded copies, each publisher's own, in order.
        assert_eq!(o.forwarded_source, source, "round {round}");
        assert_eq!(o.forwarded_console, console, "round {round}");
        // The subscriber got every line exactly once, in each publisher's
        // order, interleaved somehow.
        assert_eq!(o.subscribed.len(), 8, "round {round}: {:?}", o.subscribed);
        let from_source: Vec<&String> = o
            .subscribed
            .iter()
            .filter(|l| l.starts_with("source: "))
            .collect();
        let from_console: Vec<&String> = o
            .subscribed
            .iter()
            .filter(|l| l.starts_with("typed "))
            .collect();
        assert_eq!(from_source, source.iter().collect::<Vec<_>>());
        assert_eq!(from_console, console.iter().collect::<Vec<_>>());
        assert_eq!(o.subscriber_signals, vec![Signal::ProducerFinished]);
        // And the screen shows each line once per echoer.
        let screen = text(&out);
        for l in &source {
            assert_eq!(screen.matches(&format!("[subscriber] {l}\n")).count(), 1);
            assert_eq!(
                screen
                    .matches(&format!("[source, forwarded] {l}\n"))
                    .count(),
                1
            );
        }
        for l in console {
            assert_eq!(screen.matches(&format!("[subscriber] {l}\n")).count(), 1);
            assert_eq!(
                screen
                    .matches(&format!("[console, forwarded] {l}\n"))
                    .count(),
                1
            );
        }
        assert_eq!(screen.lines().count(), 16);
        // Bus, WhenAllDone, three pipelines and their eight children.
        assert_eq!(o.stats.spawned, 13);
        assert_eq!(o.stats.finished, 13);
        assert_eq!(o.stats.panicked, 0);
    }
}

#[test]
fn backplane_with_a_silent_console() {
    let o = backplane_forwarding::run(3, Duration::ZERO, Cursor::new(""), buffer());
    assert_eq!(o.ended, Ended::Completed);
    assert_eq!(o.forwarded_console, Vec::<String>::new());
    assert_eq!(o.subscribed, o.forwarded_source);
    assert_eq!(o.subscribed.len(), 3);
}

// ---------------------------------------------------------------------------
// Sketch 15: file_reading

const FIVE_LINES: &str = "alpha\nbeta\ngamma\ndelta\nepsilon\n";

fn stamps(v: &[file_reading::Stamped]) -> Vec<(u64, &str)> {
    v.iter()
        .map(|(t, s)| (t.as_millis() as u64, s.as_str()))
        .collect()
}

fn at(times: &[u64]) -> Vec<(u64, &'static str)> {
    let names = ["alpha", "beta", "gamma", "delta", "epsilon"];
    times.iter().copied().zip(names).collect()
}

fn limited(
    rate: f64,
    buffer: usize,
    limit: Option<usize>,
    every: Option<u64>,
) -> file_reading::Settings {
    file_reading::Settings {
        rate,
        buffer,
        inbox_limit: limit,
        read_every: every.map(ms),
        virtual_time: true,
    }
}

#[test]
fn file_reading_plain_gives_the_file_back() {
    for contents in [
        FIVE_LINES,
        "no newline at the end",
        "",
        "\n\n\n",
        "ünïcödé\nline\n",
    ] {
        let f = TempFile::with("plain", contents);
        let out = buffer();
        let o = file_reading::read_plain(f.path(), out.clone());
        assert_eq!(o.ended, Ended::Completed);
        assert_eq!(text(&out), contents);
        assert_eq!(o.signals, vec![Signal::ProducerFinished]);
        assert_eq!(o.stats.undelivered, 0);
    }
}

#[test]
fn file_reading_default_file_exists() {
    assert!(file_reading::default_file().is_file());
}

#[test]
fn file_reading_two_a_second() {
    let f = TempFile::with("rate2", FIVE_LINES);
    let out = buffer();
    let o = file_reading::read_limited(f.path(), limited(2.0, 1, None, None), out.clone());
    assert_eq!(o.ended, Ended::Completed);
    // All read at once (the reader is not held back)...
    assert_eq!(stamps(&o.read), at(&[0, 0, 0, 0, 0]));
    // ...released one every 500 ms, the first at once.
    assert_eq!(stamps(&o.released), at(&[0, 500, 1000, 1500, 2000]));
    assert_eq!(o.elapsed, ms(2000));
    assert_eq!(
        text(&out),
        "--- at most 2 line(s) a second, after a buffer of 1 ---\n\
         [     0 ms] alpha\n\
         [   500 ms] beta\n\
         [  1000 ms] gamma\n\
         [  1500 ms] delta\n\
         [  2000 ms] epsilon\n"
    );
    assert_eq!(o.signals, vec![Signal::ProducerFinished]);
    assert_eq!(o.stats.undelivered, 0);
}

#[test]
fn file_reading_hard_limit_holds_the_reader_back() {
    let f = TempFile::with("hard", FIVE_LINES);
    let o = file_reading::read_limited(f.path(), limited(0.5, 1, Some(1), None), buffer());
    assert_eq!(o.ended, Ended::Completed);
    assert_eq!(stamps(&o.released), at(&[0, 2000, 4000, 6000, 8000]));
    // A line is taken from the reader only when the limiter has room: the
    // second as soon as the first is released, then one per release.
    assert_eq!(stamps(&o.read), at(&[0, 0, 2000, 4000, 6000]));
    assert_eq!(o.elapsed, ms(8000));
}

#[test]
fn file_reading_buffer_waits_for_three_lines() {
    let f = TempFile::with("buffer", FIVE_LINES);
    let out = buffer();
    let o = file_reading::read_limited(f.path(), limited(5.0, 3, None, Some(100)), out.clone());
    assert_eq!(o.ended, Ended::Completed);
    // One line read every 100 ms...
    assert_eq!(stamps(&o.read), at(&[100, 200, 300, 400, 500]));
    // ...nothing out until three have come, then one every 200 ms.
    assert_eq!(stamps(&o.released), at(&[300, 500, 700, 900, 1100]));
    assert!(text(&out).starts_with(
        "--- at most 5 line(s) a second, after a buffer of 3, one line read every 100 ms ---\n\
         [   300 ms] alpha\n"
    ));
}

#[test]
fn file_reading_buffer_of_one_and_other_rates() {
    let f = TempFile::with("rates", FIVE_LINES);
    // Slower than the reader: the limiter sets the pace.
    let o = file_reading::read_limited(f.path(), limited(5.0, 1, None, Some(100)), buffer());
    assert_eq!(stamps(&o.released), at(&[100, 300, 500, 700, 900]));
    // Faster than the reader: each line goes out as it arrives (the inbox
    // runs dry each time and a new buffer of one is collected).
    let o = file_reading::read_limited(f.path(), limited(20.0, 1, None, Some(100)), buffer());
    assert_eq!(stamps(&o.released), at(&[100, 200, 300, 400, 500]));
    // A buffer larger than the file: released once the end is known.
    let o = file_reading::read_limited(f.path(), limited(10.0, 60, None, None), buffer());
    assert_eq!(stamps(&o.released), at(&[0, 100, 200, 300, 400]));
    assert_eq!(o.ended, Ended::Completed);
}

#[test]
fn file_reading_showcase_settings() {
    let f = TempFile::with("showcase", FIVE_LINES);
    let s = file_reading::showcase(true);
    assert_eq!(s.len(), 3);
    let ends: Vec<Duration> = s
        .iter()
        .map(|s| file_reading::read_limited(f.path(), *s, buffer()).elapsed)
        .collect();
    assert_eq!(ends, vec![ms(2000), ms(8000), ms(1100)]);
}

// ---------------------------------------------------------------------------
// Sketch 16: demo_append

#[test]
fn demo_append_appends_and_echoes() {
    let f = TempFile::with("append", "already here\n");
    let out = buffer();
    let o = demo_append::run(
        Cursor::new("one\ntwo\n\nthree"),
        f.path(),
        "> ",
        out.clone(),
    );
    assert_eq!(o.ended, Ended::Completed);
    assert_eq!(o.signals, vec![Signal::ProducerFinished]);
    assert_eq!(
        std::fs::read(f.path()).unwrap(),
        b"already here\none\ntwo\n\nthree\n"
    );
    assert_eq!(text(&out), "> one\n> two\n> \n> three\n");
    assert_eq!(o.stats.undelivered, 0);

    // A second session appends after the first.
    let out = buffer();
    demo_append::run(Cursor::new("four\n"), f.path(), "", out.clone());
    assert_eq!(
        std::fs::read(f.path()).unwrap(),
        b"already here\none\ntwo\n\nthree\nfour\n"
    );
    assert_eq!(text(&out), "four\n");
}

#[test]
fn demo_append_creates_a_missing_file() {
    let f = TempFile::new("append-new");
    assert!(!f.path().exists());
    let o = demo_append::run(Cursor::new(""), f.path(), "", buffer());
    assert_eq!(o.ended, Ended::Completed);
    assert_eq!(std::fs::read(f.path()).unwrap(), b"");
}

// ---------------------------------------------------------------------------
// Sketch 17: graphline_shutdown

fn graphline_case(case: graphline_shutdown::Case) -> (graphline_shutdown::Outcome, String) {
    let out = buffer();
    let o = graphline_shutdown::run(
        case,
        graphline_shutdown::Timing::default(),
        true,
        out.clone(),
    );
    (o, text(&out))
}

const WAITING_THREE: &str = "\
[    0 ms] WHINGER: waiting for shutdown
[    0 ms] WAITER TO_SHUTDOWN1 waiting
[    0 ms] WAITER TO_SHUTDOWN2 waiting
[    0 ms] WAITER TO_SHUTDOWN3 waiting
[ 1000 ms] WHINGER: waiting for shutdown
[ 2000 ms] WHINGER: waiting for shutdown
[ 2500 ms] PINGER: sent ProducerFinished
";

/// The end of the story when the signal reaches all three waiters.
const THREE_SHUT_DOWN: &str = "\
[ 2500 ms] WAITER TO_SHUTDOWN1 shutting down having received: ProducerFinished
[ 2500 ms] WAITER TO_SHUTDOWN2 shutting down having received: ProducerFinished
[ 2500 ms] WAITER TO_SHUTDOWN3 shutting down having received: ProducerFinished
[ 2500 ms] WHINGER: shutdown (received ProducerFinished)
run ended: Completed
";

#[test]
fn graphline_demo_shutdown_reaches_every_child() {
    let (o, story) = graphline_case(graphline_shutdown::Case::Demo);
    assert_eq!(o.ended, Ended::Completed);
    assert_eq!(o.signals, vec![Signal::ProducerFinished]);
    assert!(o.survivors.is_empty());
    assert_eq!(
        story,
        format!("--- Demo ---\n{WAITING_THREE}{THREE_SHUT_DOWN}")
    );
    // Watchdog, pipeline, pinger, graphline, three waiters, whinger.
    assert_eq!(o.stats.spawned, 8);
    assert_eq!(o.stats.finished, 8);
    // Each waiter's signal went nowhere (the graphline has no links).
    assert_eq!(o.stats.undelivered, 3);
}

#[test]
fn graphline_linked_shutdown_follows_the_user_chain() {
    let (o, story) = graphline_case(graphline_shutdown::Case::Linked);
    assert_eq!(o.ended, Ended::Completed);
    assert_eq!(o.signals, vec![Signal::ProducerFinished]);
    assert!(o.survivors.is_empty());
    assert_eq!(
        story,
        format!("--- Linked ---\n{WAITING_THREE}{THREE_SHUT_DOWN}")
    );
    // Only the last waiter's signal went nowhere.
    assert_eq!(o.stats.undelivered, 1);
}

#[test]
fn graphline_fail_shutdown_as_shipped_hangs_until_the_watchdog() {
    let (o, story) = graphline_case(graphline_shutdown::Case::FailAsShipped);
    assert_eq!(o.ended, Ended::Stopped);
    assert!(
        o.signals.is_empty(),
        "nothing reached the end of the pipeline"
    );
    assert_eq!(
        o.survivors,
        vec!["Pipeline", "Graphline", "Whinger", "TO_SHUTDOWN2"]
    );
    let mut want = String::from(
        "--- FailAsShipped ---\n\
         [    0 ms] WHINGER: waiting for shutdown\n\
         [    0 ms] WAITER TO_SHUTDOWN1 waiting\n\
         [    0 ms] WAITER TO_SHUTDOWN2 waiting\n\
         [ 1000 ms] WHINGER: waiting for shutdown\n\
         [ 2000 ms] WHINGER: waiting for shutdown\n\
         [ 2500 ms] PINGER: sent ProducerFinished\n\
         [ 2500 ms] WAITER TO_SHUTDOWN1 shutting down having received: ProducerFinished\n",
    );
    for s in 3..=9 {
        want.push_str(&format!("[ {s}000 ms] WHINGER: waiting for shutdown\n"));
    }
    want.push_str(
        "[ 9500 ms] WATCHDOG: still running after 9500 ms: \
         Pipeline, Graphline, Whinger, TO_SHUTDOWN2; stopping the system\n\
         run ended: Stopped\n",
    );
    assert_eq!(story, want);
}

#[test]
fn graphline_fail_shutdown_fixed_by_routing_the_signal_on() {
    let (o, story) = graphline_case(graphline_shutdown::Case::FailFixed);
    assert_eq!(o.ended, Ended::Completed);
    assert_eq!(o.signals, vec![Signal::ProducerFinished]);
    assert!(o.survivors.is_empty());
    assert_eq!(
        story,
        "--- FailFixed ---\n\
         [    0 ms] WHINGER: waiting for shutdown\n\
         [    0 ms] WAITER TO_SHUTDOWN1 waiting\n\
         [    0 ms] WAITER TO_SHUTDOWN2 waiting\n\
         [ 1000 ms] WHINGER: waiting for shutdown\n\
         [ 2000 ms] WHINGER: waiting for shutdown\n\
         [ 2500 ms] PINGER: sent ProducerFinished\n\
         [ 2500 ms] WAITER TO_SHUTDOWN1 shutting down having received: ProducerFinished\n\
         [ 2500 ms] WAITER TO_SHUTDOWN2 shutting down having received: ProducerFinished\n\
         [ 2500 ms] WHINGER: shutdown (received ProducerFinished)\n\
         run ended: Completed\n"
    );
    // Every signal went somewhere.
    assert_eq!(o.stats.undelivered, 0);
}

// ---------------------------------------------------------------------------
// Sketch 18: nested_par

#[test]
fn nested_par_one_finish_stops_all_nine_slowly() {
    let timing = nested_par::Timing {
        shutdown_after: ms(30),
        chatter_every: ms(10),
        slow_step: ms(5),
    };
    let out = buffer();
    let o = nested_par::run(timing, out.clone());
    assert_eq!(o.ended, Ended::Completed);
    // The outer Par signalled once, after everything.
    assert_eq!(o.signals, vec![Signal::ProducerFinished]);
    for name in nested_par::child_names() {
        let mine: Vec<&str> = o
            .chatter
            .iter()
            .filter_map(|l| l.strip_prefix(&format!("{name}: ")))
            .collect();
        let waits = mine.iter().take_while(|l| **l == "still waiting").count();
        assert_eq!(
            &mine[waits..],
            [
                "got ProducerFinished",
                "shutting down slowly (1/3)",
                "shutting down slowly (2/3)",
                "shutting down slowly (3/3)",
                "stopped",
            ],
            "{name}: {mine:?}"
        );
    }
    let stories: usize = o.chatter.len();
    let waits = o
        .chatter
        .iter()
        .filter(|l| l.ends_with("still waiting"))
        .count();
    assert_eq!(stories, 9 * 5 + waits);
    // The echoer printed all of it, one line each.
    assert_eq!(text(&out), o.chatter.join("\n") + "\n");
    // It took at least the wait plus three slow steps, and not much more.
    assert!(o.elapsed >= ms(45), "{:?}", o.elapsed);
    assert!(o.elapsed < Duration::from_secs(10), "{:?}", o.elapsed);
    // 4 at the top (pipeline, timedShutdown, outer Par, echoer), C1, and
    // the inner Par holding C2, C3 and a pipeline of a Par of two
    // pipelines of a Par of three.
    assert_eq!(o.stats.spawned, 20);
    assert_eq!(o.stats.finished, 20);
    assert_eq!(o.stats.panicked, 0);
}

// ---------------------------------------------------------------------------
// Sketch 19: feedback

#[test]
fn feedback_generations_for_seed_7() {
    let out = buffer();
    let o = feedback::run(10, 7, out.clone());
    assert_eq!(o.ended, Ended::Completed);
    let want = [
        "B",
        "BTL",
        "BTLTB",
        "BTLTBTBTL",
        "BTLTBTBTLTBTLTB",
        "BTLTBTBTLTBTLTBTBTLTBTBTL",
        "BTLTBTBTLTBTLTBTBTLTBTBTLTBTLBTBTLTBTLTB",
        "BTLTBTBTLTBTLTBTBTLTBTBTLTBTLTBTBTLTBTLTBTBTLTBBTLTBTLTBTBTLTBTBTL",
        "BTLTBTLTBTLBTTBTLBTLBBTLTBTLTTBTBTLTBBTLTBTLBTLBTBTLTBTLTBTBTL",
        "BTBTLTBTLBTBTLBBTLBBTLTTBTBTLTTBTBTLBBTLTTBTBTLTBBTLTT",
    ];
    assert_eq!(o.generations, want);
    assert_eq!(o.generations, feedback::expected(10, 7));
    assert_eq!(text(&out), want.join("\n") + "\n");
    // The finish went once round the ring and nothing was left anywhere.
    assert_eq!(o.stats.spawned, 4);
    assert_eq!(o.stats.finished, 4);
    assert_eq!(o.stats.undelivered, 0);
}

#[test]
fn feedback_matches_the_plain_computation_for_many_seeds() {
    for seed in 1..=8u64 {
        let o = feedback::run(25, seed, buffer());
        assert_eq!(o.ended, Ended::Completed, "seed {seed}");
        assert_eq!(o.generations, feedback::expected(25, seed), "seed {seed}");
        // The damage keeps the model from growing without bound.
        let longest = o.generations.iter().map(String::len).max().unwrap();
        assert!(longest < 200, "seed {seed}: {longest}");
    }
    assert_ne!(feedback::expected(25, 1), feedback::expected(25, 2));
}

#[test]
fn feedback_short_runs() {
    assert_eq!(feedback::run(1, 3, buffer()).generations, ["B"]);
    assert_eq!(feedback::run(2, 3, buffer()).generations, ["B", "BTL"]);
    let o = feedback::run(0, 3, buffer());
    assert_eq!(o.ended, Ended::Completed);
    assert!(o.generations.is_empty());
}

// ---------------------------------------------------------------------------
// Sketch 21: ticks_and_ttl

#[test]
fn ticks_are_on_the_grid() {
    let out = buffer();
    let t = ticks_and_ttl::run_ticks(ms(250), 8, Duration::ZERO, true, out.clone());
    assert_eq!(t.ended, Ended::Completed);
    assert_eq!(t.at, (1..=8).map(|k| ms(250 * k)).collect::<Vec<_>>());
    assert_eq!(t.ttl, Some(TtlEnd::Stopped));
    assert_eq!(t.signals, vec![Signal::Shutdown]);
    assert_eq!(t.stats.undelivered, 0);
    let mut want = String::new();
    for k in 1..=8 {
        want.push_str(&format!(
            "[{:>5} ms] tick {k} (due at {} ms, 0 us late)\n",
            250 * k,
            250 * k
        ));
    }
    want.push_str("[ 2125 ms] ticker ended: Shutdown\n");
    assert_eq!(text(&out), want);
}

#[test]
fn ticks_do_not_drift_after_a_late_wake() {
    let mut h = Harness::new();
    let t0 = h.now();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let out = buffer();
    let log = ticks_and_ttl::Log::new(t0, out.clone());
    let tick = h.spawn(PeriodicTick::new(ms(100), "tick"));
    let tlog = h.spawn(ticks_and_ttl::TickLog::new(
        ms(100),
        Duration::ZERO,
        seen.clone(),
        log,
    ));
    h.scheduler()
        .link((tick, "outbox"), (tlog, "inbox"))
        .unwrap();
    h.run_for(ms(250));
    assert_eq!(*seen.borrow(), [ms(100), ms(200)]);
    // The scheduler is late by 450 ms: nothing runs meanwhile.
    h.advance(ms(450));
    h.run_until_idle();
    // The five ticks that fell due come at once, none lost...
    assert_eq!(seen.borrow().len(), 7);
    assert!(seen.borrow()[2..].iter().all(|t| *t == ms(700)));
    // ...and the next ones are back on the grid, not 700 + k * 100.
    h.run_for(ms(300));
    assert_eq!(seen.borrow()[7..], [ms(800), ms(900), ms(1000)]);
    assert!(text(&out).contains("[  700 ms] tick 3 (due at 300 ms, 400000 us late)\n"));
}

#[test]
fn ttl_well_behaved_child_stops_when_told() {
    let out = buffer();
    let r = ticks_and_ttl::run_ttl(ticks_and_ttl::Case::WellBehaved, true, out.clone());
    assert_eq!(r.ended, Ended::Completed);
    assert_eq!(r.ttl, Some(TtlEnd::Stopped));
    assert_eq!(r.signals, vec![Signal::Shutdown]);
    assert_eq!(r.elapsed, ms(1000));
    assert_eq!(r.stats.undelivered, 0);
    assert_eq!(
        text(&out),
        "--- TTL of 1000 ms: WellBehaved ---\n\
         [  300 ms] printer: hello\n\
         [  600 ms] printer: hello\n\
         [  900 ms] printer: hello\n\
         [ 1000 ms] WellBehaved: received Shutdown, stopping\n\
         [ 1000 ms] printer: the TTL signalled Shutdown\n\
         run ended: Completed at 1000 ms; the TTL ended as Some(Stopped)\n"
    );
}

#[test]
fn ttl_child_that_finishes_early_passes_its_own_signal() {
    let out = buffer();
    let r = ticks_and_ttl::run_ttl(ticks_and_ttl::Case::EndsEarly, true, out.clone());
    assert_eq!(r.ended, Ended::Completed);
    assert_eq!(r.ttl, Some(TtlEnd::Finished));
    assert_eq!(r.signals, vec![Signal::ProducerFinished]);
    // Ends at 600 ms: the Ttl's timer was cancelled.
    assert_eq!(r.elapsed, ms(600));
    assert_eq!(
        text(&out),
        "--- TTL of 1000 ms: EndsEarly ---\n\
         [  300 ms] printer: hello\n\
         [  600 ms] WellBehaved: said hello 2 times, finished\n\
         [  600 ms] printer: hello\n\
         [  600 ms] printer: the TTL signalled ProducerFinished\n\
         run ended: Completed at 600 ms; the TTL ended as Some(Finished)\n"
    );
    assert_eq!(r.stats.undelivered, 0);
}

#[test]
fn ttl_badly_behaved_child_is_abandoned_and_runs_on() {
    let out = buffer();
    let r = ticks_and_ttl::run_ttl(ticks_and_ttl::Case::BadlyBehaved, true, out.clone());
    assert_eq!(r.ended, Ended::Completed);
    assert_eq!(r.ttl, Some(TtlEnd::Abandoned));
    assert_eq!(r.signals, vec![Signal::Shutdown]);
    // The child ended by itself at 3 s, long after the Ttl gave up.
    assert_eq!(r.elapsed, ms(3000));
    let mut want = String::from("--- TTL of 1000 ms: BadlyBehaved ---\n");
    for t in [300, 600, 900, 1200, 1500] {
        want.push_str(&format!("[{t:>5} ms] BadlyBehaved: still here\n"));
    }
    want.push_str("[ 1500 ms] printer: the TTL signalled Shutdown\n");
    for t in [1800, 2100, 2400, 2700] {
        want.push_str(&format!("[{t:>5} ms] BadlyBehaved: still here\n"));
    }
    want.push_str(
        "[ 3000 ms] BadlyBehaved: done after 10 remarks, by itself (1 signal(s) never read)\n\
         run ended: Completed at 3000 ms; the TTL ended as Some(Abandoned)\n",
    );
    assert_eq!(text(&out), want);
    // The Shutdown it never read.
    assert_eq!(r.stats.undelivered, 1);
}

#[test]
fn ttl_leaves_the_abandoned_child_alive() {
    let mut h = Harness::new();
    let out = buffer();
    let log = ticks_and_ttl::Log::new(h.now(), out.clone());
    let ttl = Ttl::new(ticks_and_ttl::BadlyBehaved::new(10, log), ms(1000))
        .unwrap()
        .grace(ms(500));
    let report = ttl.report();
    let id = h.spawn(ttl);
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_for(ms(1499));
    assert!(h.is_alive(id));
    assert_eq!(report.get(), None);
    h.run_for(ms(1));
    assert!(!h.is_alive(id));
    assert_eq!(report.get(), Some(TtlEnd::Abandoned));
    assert_eq!(sig.drain(), [Signal::Shutdown]);
    let alive = |h: &mut Harness| {
        h.scheduler()
            .snapshot()
            .components
            .iter()
            .any(|c| c.name == "BadlyBehaved")
    };
    assert!(alive(&mut h), "left to the system, still running");
    h.run_for(ms(1500));
    assert!(!alive(&mut h), "ended by itself at 3 s");
}

#[test]
fn ttl_mirrors_the_childs_boxes_and_passes_control_on() {
    let mut h = Harness::new();
    let ttl = Ttl::new(PassThrough::<u32>::new(), ms(1000)).unwrap();
    assert!(ttl.find("inbox").is_some() && ttl.find("outbox").is_some());
    assert!(ttl.find("_child_control").is_none());
    let report = ttl.report();
    let id = h.spawn(ttl);
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let control = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<u32>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_until_idle();
    for i in 1..=3 {
        input.send(i).unwrap();
    }
    h.run_for(ms(200));
    assert_eq!(out.drain(), [1, 2, 3]);
    // A shutdown on the Ttl's control reaches the child, which stops: the
    // Ttl ends at once, well before its time.
    control.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    assert!(!h.is_alive(id));
    assert_eq!(sig.drain(), [Signal::Shutdown]);
    assert_eq!(report.get(), Some(TtlEnd::Stopped));
}

#[test]
fn ttl_passes_a_producer_finished_on_and_the_child_finishes() {
    let mut h = Harness::new();
    let ttl = Ttl::new(PassThrough::<u32>::new(), ms(1000)).unwrap();
    let report = ttl.report();
    let id = h.spawn(ttl);
    let input = h.feeder::<u32>(id, "inbox").unwrap();
    let control = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<u32>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input.send(7).unwrap();
    control.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), [7]);
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
    assert_eq!(report.get(), Some(TtlEnd::Finished));
    assert!(!h.is_alive(id));
}

// ---------------------------------------------------------------------------
// The presentation tool

#[test]
fn presentation_follows_the_commands() {
    let slides = ["one", "two", "three"];
    let script =
        "NEXT\nhello\nnext\nPREV\nLAST\nNEXT\n\nFIRST\nPREV\n  same  \nprevious\nnonsense\n";
    let out = buffer();
    let o = presentation::run(&slides, Cursor::new(script), out.clone());
    assert_eq!(o.ended, Ended::Completed);
    assert_eq!(o.signals, vec![Signal::ProducerFinished]);
    let f = |k: usize| presentation::frame(k, 3, slides[k - 1]);
    // The first slide at once; NEXT, next, PREV, LAST; NEXT on the last
    // shows nothing; FIRST; PREV on the first shows nothing; SAME;
    // "previous" is PREV again (nothing); unknown words are dropped.
    let want = vec![f(1), f(2), f(3), f(2), f(3), f(1), f(1)];
    assert_eq!(o.shown, want);
    assert_eq!(
        text(&out),
        "===== slide 1/3 =====\none\n\
         ===== slide 2/3 =====\ntwo\n\
         ===== slide 3/3 =====\nthree\n\
         ===== slide 2/3 =====\ntwo\n\
         ===== slide 3/3 =====\nthree\n\
         ===== slide 1/3 =====\none\n\
         ===== slide 1/3 =====\none\n"
    );
    assert_eq!(o.stats.undelivered, 0);
}

#[test]
fn presentation_with_no_commands_shows_the_first_slide() {
    let out = buffer();
    let o = presentation::run(&presentation::SLIDES, Cursor::new(""), out.clone());
    assert_eq!(o.ended, Ended::Completed);
    assert_eq!(
        o.shown,
        vec![presentation::frame(1, 4, presentation::SLIDES[0])]
    );
    assert_eq!(text(&out), o.shown[0].clone() + "\n");
}
