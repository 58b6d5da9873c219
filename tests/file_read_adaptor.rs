//! ReadFileAdaptor: line, block and bit-rate modes on files, commands and
//! readers; errors; back-pressure; shutdown.

mod file_support;

use std::io::Cursor;
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use file_support::*;
use kamaelia::axon::{link, BoxSet, Component, Cx, Ended, Inbox, Outbox, Scheduler, Signal, Step};
use kamaelia::file::{FileOp, ReadFileAdaptor, ReadMode};
use kamaelia::testing::{Collector, Harness};

struct Rig {
    h: Harness,
    id: kamaelia::axon::Id,
    out: Collector<Bytes>,
    sig: Collector<Signal>,
}

fn rig(reader: ReadFileAdaptor) -> Rig {
    let mut h = Harness::new();
    let id = h.spawn(reader);
    let out = h.collector::<Bytes>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    Rig { h, id, out, sig }
}

fn bounded_rig(reader: ReadFileAdaptor, limit: usize) -> Rig {
    let mut h = Harness::new();
    let id = h.spawn(reader);
    let out = h.bounded_collector::<Bytes>(id, "outbox", limit).unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    Rig { h, id, out, sig }
}

/// Runs a reader to the end on a real-time scheduler (for thread sources).
fn run_real(reader: ReadFileAdaptor) -> (Vec<Bytes>, Vec<Signal>) {
    let out = Inbox::inbox();
    let sig = Inbox::inbox();
    link(&reader.outbox, &out).unwrap();
    link(&reader.signal, &sig).unwrap();
    let mut s = Scheduler::new();
    s.spawn(reader);
    assert_eq!(s.run(), Ended::Completed);
    (
        std::iter::from_fn(|| out.recv()).collect(),
        std::iter::from_fn(|| sig.recv()).collect(),
    )
}

fn strs(chunks: &[Bytes]) -> Vec<&[u8]> {
    chunks.iter().map(|b| &b[..]).collect()
}

// ---------------------------------------------------------------- files

#[test]
fn line_mode_sends_each_line_with_its_newline_byte_exact() {
    // Non-UTF-8 bytes, an empty line, a line longer than the 8 KiB read
    // buffer, and a last line without a newline.
    let long = vec![b'x'; 20_000];
    let mut data = b"first\n\n\xff\xfe binary\n".to_vec();
    data.extend_from_slice(&long);
    data.extend_from_slice(b"\nlast");
    let f = TempPath::with("lines", &data);
    let mut r = rig(ReadFileAdaptor::file(f.path(), ReadMode::Line));
    r.h.run_until_idle();
    let got = r.out.drain();
    let mut long_line = long.clone();
    long_line.push(b'\n');
    assert_eq!(
        strs(&got),
        vec![
            &b"first\n"[..],
            b"\n",
            b"\xff\xfe binary\n",
            &long_line[..],
            b"last"
        ]
    );
    assert_eq!(concat(&got), data);
    assert_eq!(r.sig.drain(), vec![Signal::ProducerFinished]);
    assert!(!r.h.is_alive(r.id));
    assert_eq!(open_fds_on(f.path()), 0, "file left open");
}

#[test]
fn block_mode_sends_exact_blocks_of_readsize() {
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let f = TempPath::with("blocks", &data);
    let reader = ReadFileAdaptor::file(f.path(), ReadMode::block());
    assert_eq!(reader.readsize(), 1450);
    assert_eq!(reader.period(), None);
    let mut r = rig(reader);
    r.h.run_until_idle();
    let got = r.out.drain();
    let sizes: Vec<usize> = got.iter().map(|b| b.len()).collect();
    assert_eq!(sizes, vec![1450, 1450, 100]);
    assert_eq!(concat(&got), data);
    assert_eq!(r.sig.drain(), vec![Signal::ProducerFinished]);
}

#[test]
fn one_chunk_per_step() {
    let f = TempPath::with("steps", b"abcdefgh");
    let mut r = rig(ReadFileAdaptor::file(f.path(), ReadMode::Block(2)));
    for n in 1..=4 {
        r.h.step().unwrap();
        assert_eq!(r.out.len(), n);
    }
    r.h.step().unwrap(); // finds the end
    assert_eq!(r.sig.drain(), vec![Signal::ProducerFinished]);
    assert!(!r.h.is_alive(r.id));
}

#[test]
fn empty_file_just_finishes() {
    let f = TempPath::with("empty", b"");
    let mut r = rig(ReadFileAdaptor::file(f.path(), ReadMode::Line));
    r.h.run_until_idle();
    assert!(r.out.is_empty());
    assert_eq!(r.sig.drain(), vec![Signal::ProducerFinished]);
}

#[test]
fn missing_file_fails_with_a_typed_error() {
    let f = TempPath::new("missing");
    let mut r = rig(ReadFileAdaptor::file(f.path(), ReadMode::Line));
    r.h.run_until_idle();
    assert!(r.out.is_empty());
    let sigs = r.sig.drain();
    assert_eq!(sigs.len(), 1);
    let e = file_error(&sigs[0]);
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(e.op(), FileOp::Open);
    assert_eq!(e.path(), f.path());
    assert!(!r.h.is_alive(r.id));
    assert_eq!(r.h.scheduler().stats().panicked, 0);
}

#[test]
fn a_directory_fails_with_is_a_directory() {
    let d = TempPath::new("dir");
    std::fs::create_dir(d.path()).unwrap();
    let mut r = rig(ReadFileAdaptor::file(d.path(), ReadMode::block()));
    r.h.run_until_idle();
    let sigs = r.sig.drain();
    let e = file_error(&sigs[0]);
    assert_eq!(e.kind(), kind_of(EISDIR));
    assert_eq!(e.path(), d.path());
    assert!(!r.h.is_alive(r.id));
}

#[test]
fn permission_denied_fails_with_a_typed_error() {
    let (f, enforced) = unreadable_file("denied");
    let mut r = rig(ReadFileAdaptor::file(f.path(), ReadMode::Line));
    r.h.run_until_idle();
    let sigs = r.sig.drain();
    if enforced {
        let e = file_error(&sigs[0]);
        assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied);
        assert_eq!(e.op(), FileOp::Open);
    } else {
        // Root bypasses the mode bits: the read simply succeeds.
        assert_eq!(sigs, vec![Signal::ProducerFinished]);
        assert_eq!(concat(&r.out.drain()), b"secret\n");
    }
    assert!(!r.h.is_alive(r.id));
}

#[test]
fn back_pressure_keeps_the_chunk_and_sleeps() {
    let f = TempPath::with("bp-lines", b"1\n2\n3\n4\n5\n");
    let mut r = bounded_rig(ReadFileAdaptor::file(f.path(), ReadMode::Line), 2);
    r.h.run_until_idle();
    assert_eq!(r.out.len(), 2);
    assert!(r.h.is_sleeping(r.id), "must sleep, not spin");
    let steps = r.h.scheduler().stats().steps;
    r.h.run_until_idle();
    assert_eq!(r.h.scheduler().stats().steps, steps, "no busy wait");
    let mut all = Vec::new();
    while r.h.is_alive(r.id) {
        all.extend(r.out.drain());
        r.h.run_until_idle();
        assert!(r.out.len() <= 2);
    }
    all.extend(r.out.drain());
    assert_eq!(
        strs(&all),
        vec![&b"1\n"[..], b"2\n", b"3\n", b"4\n", b"5\n"]
    );
    assert_eq!(r.sig.drain(), vec![Signal::ProducerFinished]);
}

#[test]
fn shutdown_stops_at_once_and_closes_the_file() {
    let f = TempPath::with("shutdown", b"a\nb\nc\nd\n");
    let mut r = rig(ReadFileAdaptor::file(f.path(), ReadMode::Line));
    let ctl = r.h.feeder::<Signal>(r.id, "control").unwrap();
    r.h.step().unwrap();
    assert_eq!(r.out.len(), 1);
    assert_eq!(open_fds_on(f.path()), 1);
    ctl.send(Signal::Shutdown).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.out.drain().len(), 1);
    assert_eq!(r.sig.drain(), vec![Signal::Shutdown]);
    assert!(!r.h.is_alive(r.id));
    assert_eq!(open_fds_on(f.path()), 0, "file left open");
}

#[test]
fn producer_finished_on_control_is_ignored_by_a_source() {
    let f = TempPath::with("pf", b"a\nb\n");
    let mut r = rig(ReadFileAdaptor::file(f.path(), ReadMode::Line));
    let ctl = r.h.feeder::<Signal>(r.id, "control").unwrap();
    ctl.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.out.drain().len(), 2);
    assert_eq!(r.sig.drain(), vec![Signal::ProducerFinished]);
}

// ------------------------------------------------------------- bit rate

#[test]
fn bitrate_defaults_match_the_original() {
    let r = ReadFileAdaptor::file("x", ReadMode::bitrate(65536));
    assert_eq!(r.readsize(), 65536 / 8 / 24); // 341
    assert_eq!(r.period(), Some(Duration::from_nanos(41_666_666)));
    // A rate too low for one byte per chunk still sends one byte.
    let r = ReadFileAdaptor::file(
        "x",
        ReadMode::Bitrate {
            bitrate: 8,
            chunkrate: 10,
        },
    );
    assert_eq!(r.readsize(), 1);
}

#[test]
fn bitrate_sends_blocks_on_exact_deadlines() {
    let data: Vec<u8> = (0..250u8).collect();
    let f = TempPath::with("bitrate", &data);
    // 8000 bit/s at 10 chunks/s: 100 bytes every 100 ms.
    let mode = ReadMode::Bitrate {
        bitrate: 8000,
        chunkrate: 10,
    };
    let mut r = rig(ReadFileAdaptor::file(f.path(), mode));
    let t0 = r.h.now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    r.h.run_until_idle();
    assert!(r.out.is_empty(), "the first block waits one period");
    assert_eq!(r.h.scheduler().next_deadline(), Some(ms(100)));
    assert!(r.h.is_sleeping(r.id));

    r.h.run_for(Duration::from_millis(99));
    assert!(r.out.is_empty());
    r.h.run_for(Duration::from_millis(1));
    assert_eq!(r.out.drain(), vec![Bytes::copy_from_slice(&data[..100])]);
    assert_eq!(r.h.scheduler().next_deadline(), Some(ms(200)));

    r.h.run_for(Duration::from_millis(100));
    assert_eq!(r.out.drain(), vec![Bytes::copy_from_slice(&data[100..200])]);
    assert_eq!(r.h.scheduler().next_deadline(), Some(ms(300)));

    r.h.run_for(Duration::from_millis(100));
    assert_eq!(r.out.drain(), vec![Bytes::copy_from_slice(&data[200..])]);
    assert!(r.sig.is_empty());

    // The end is found by the read at the next deadline.
    r.h.run_for(Duration::from_millis(99));
    assert!(r.sig.is_empty());
    r.h.run_for(Duration::from_millis(1));
    assert_eq!(r.sig.drain(), vec![Signal::ProducerFinished]);
    assert!(!r.h.is_alive(r.id));
    assert_eq!(
        r.h.scheduler().next_deadline(),
        None,
        "no timer left behind"
    );
    // One step to start, one per deadline, and one more for the short last
    // block (its first read came up short; the second found the end, at
    // the same instant): no busy waiting.
    assert_eq!(r.h.scheduler().stats().steps, 6);
}

#[test]
fn bitrate_deadlines_do_not_drift_with_a_fractional_period() {
    let data = vec![0u8; 341 * 30];
    let f = TempPath::with("drift", &data);
    let mut r = rig(ReadFileAdaptor::file(f.path(), ReadMode::bitrate(65536)));
    let t0 = r.h.now();
    r.h.run_until_idle();
    for k in 1..=25u64 {
        let due = t0 + Duration::from_nanos(k * 1_000_000_000 / 24);
        assert_eq!(r.h.scheduler().next_deadline(), Some(due), "deadline {k}");
        let now = r.h.now();
        r.h.run_for(due - now);
        let got = r.out.drain();
        assert_eq!(got.len(), 1, "one block at deadline {k}");
        assert_eq!(got[0].len(), 341);
    }
    // 25 periods of 1/24 s: t0 + 1.041666666 s exactly, not 25 * 41.666666 ms.
    assert_eq!(r.h.now(), t0 + Duration::from_nanos(1_041_666_666));
}

#[test]
fn bitrate_does_not_catch_up_after_a_stall() {
    let f = TempPath::with("stall", &[7u8; 1000]);
    let mode = ReadMode::Bitrate {
        bitrate: 8000,
        chunkrate: 10,
    };
    let mut r = rig(ReadFileAdaptor::file(f.path(), mode));
    let t0 = r.h.now();
    r.h.run_until_idle();
    // The scheduler is stalled for 350 ms: deadlines 100, 200, 300 pass.
    r.h.advance(Duration::from_millis(350));
    r.h.run_until_idle();
    assert_eq!(r.out.drain().len(), 1, "one block, no burst");
    assert_eq!(
        r.h.scheduler().next_deadline(),
        Some(t0 + Duration::from_millis(400)),
        "the next deadline stays on the grid"
    );
    r.h.run_for(Duration::from_millis(50));
    assert_eq!(r.out.drain().len(), 1);
    assert_eq!(
        r.h.scheduler().next_deadline(),
        Some(t0 + Duration::from_millis(500))
    );
}

#[test]
fn bitrate_back_pressure_holds_the_block_then_resumes_on_the_grid() {
    let data: Vec<u8> = (0..=255u8).collect();
    let f = TempPath::with("bp-bitrate", &data);
    let mode = ReadMode::Bitrate {
        bitrate: 8000,
        chunkrate: 10,
    };
    let mut r = bounded_rig(ReadFileAdaptor::file(f.path(), mode), 1);
    let t0 = r.h.now();
    r.h.run_for(Duration::from_millis(200));
    // Block 1 went out at 100 ms; block 2 (200 ms) was refused and is kept.
    assert_eq!(r.out.len(), 1);
    assert!(r.h.is_sleeping(r.id));
    assert_eq!(
        r.h.scheduler().next_deadline(),
        None,
        "sleeps on the consumer"
    );
    r.h.run_for(Duration::from_millis(150));
    assert_eq!(r.out.len(), 1);

    // The consumer takes block 1 at 350 ms: block 2 goes out at once.
    assert_eq!(r.out.recv().unwrap(), Bytes::copy_from_slice(&data[..100]));
    r.h.run_until_idle();
    assert_eq!(
        r.out.recv().unwrap(),
        Bytes::copy_from_slice(&data[100..200])
    );
    assert_eq!(
        r.h.scheduler().next_deadline(),
        Some(t0 + Duration::from_millis(400))
    );
    r.h.run_for(Duration::from_millis(50));
    assert_eq!(r.out.recv().unwrap(), Bytes::copy_from_slice(&data[200..]));
}

#[test]
fn steptime_paces_line_mode() {
    let f = TempPath::with("steptime", b"a\nb\nc\n");
    let reader =
        ReadFileAdaptor::file(f.path(), ReadMode::Line).steptime(Duration::from_millis(50));
    assert_eq!(reader.period(), Some(Duration::from_millis(50)));
    let mut r = rig(reader);
    r.h.run_for(Duration::from_millis(49));
    assert_eq!(r.out.len(), 0);
    r.h.run_for(Duration::from_millis(1));
    assert_eq!(r.out.len(), 1);
    r.h.run_for(Duration::from_millis(100));
    assert_eq!(r.out.len(), 3);
    assert!(r.sig.is_empty());
    r.h.run_for(Duration::from_millis(50));
    assert_eq!(r.sig.drain(), vec![Signal::ProducerFinished]);
}

#[test]
fn shutdown_while_waiting_for_a_deadline_cancels_the_timer() {
    let f = TempPath::with("bitrate-stop", &[1u8; 1000]);
    let mut r = rig(ReadFileAdaptor::file(f.path(), ReadMode::bitrate(8000)));
    let ctl = r.h.feeder::<Signal>(r.id, "control").unwrap();
    r.h.run_until_idle();
    assert!(r.h.scheduler().next_deadline().is_some());
    ctl.send(Signal::Shutdown).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.sig.drain(), vec![Signal::Shutdown]);
    assert!(!r.h.is_alive(r.id));
    assert_eq!(open_fds_on(f.path()), 0);
    // (`next_deadline()` still lists the cancelled timer: the scheduler
    // keeps cancelled entries in its heap until they fall due.)
    let steps = r.h.scheduler().stats().steps;
    r.h.run_for(Duration::from_secs(1));
    assert_eq!(r.h.scheduler().stats().steps, steps);
}

// ------------------------------------------------- commands and readers

#[test]
fn command_output_by_line_from_printf() {
    let (out, sig) = run_real(ReadFileAdaptor::shell(
        "printf 'alpha\\nbeta\\ngamma'",
        ReadMode::Line,
    ));
    assert_eq!(strs(&out), vec![&b"alpha\n"[..], b"beta\n", b"gamma"]);
    assert_eq!(sig, vec![Signal::ProducerFinished]);
}

#[test]
fn command_output_by_block_from_echo() {
    let mut c = Command::new("echo");
    c.arg("hello world");
    let (out, sig) = run_real(ReadFileAdaptor::command(c, ReadMode::Block(5)));
    assert_eq!(strs(&out), vec![&b"hello"[..], b" worl", b"d\n"]);
    assert_eq!(sig, vec![Signal::ProducerFinished]);
}

#[test]
fn a_command_that_cannot_start_fails_with_not_found() {
    let c = Command::new("/no/such/program-kamaelia");
    let (out, sig) = run_real(ReadFileAdaptor::command(c, ReadMode::Line));
    assert!(out.is_empty());
    let e = file_error(&sig[0]);
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(e.op(), FileOp::Open);
    assert_eq!(e.path().to_str(), Some("/no/such/program-kamaelia"));
}

#[test]
fn a_failing_command_sends_its_output_then_fails() {
    let (out, sig) = run_real(ReadFileAdaptor::shell(
        "echo partial; exit 3",
        ReadMode::Line,
    ));
    assert_eq!(strs(&out), vec![&b"partial\n"[..]]);
    assert_eq!(sig.len(), 1);
    let e = file_error(&sig[0]);
    assert_eq!(e.op(), FileOp::Exit);
    assert!(e.to_string().contains('3'), "{e}");
}

#[test]
fn a_slow_command_does_not_block_the_scheduler() {
    /// Ticks every 10 ms, 20 times, noting when.
    struct Ticker {
        left: u32,
        times: std::rc::Rc<std::cell::RefCell<Vec<Instant>>>,
        started: bool,
    }
    impl Component for Ticker {
        fn step(&mut self, cx: &mut Cx) -> Step {
            if self.started {
                self.times.borrow_mut().push(Instant::now());
                self.left -= 1;
                if self.left == 0 {
                    return Step::Done;
                }
            }
            self.started = true;
            cx.wake_after(Duration::from_millis(10));
            Step::Pause
        }
        fn boxes(&self, _set: &mut BoxSet) {}
    }
    let times = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let reader = ReadFileAdaptor::shell("sleep 1; echo done", ReadMode::Line);
    let out = Inbox::inbox();
    link(&reader.outbox, &out).unwrap();
    let mut s = Scheduler::new();
    let start = Instant::now();
    s.spawn(reader);
    s.spawn(Ticker {
        left: 20,
        times: times.clone(),
        started: false,
    });
    assert_eq!(s.run(), Ended::Completed);
    assert_eq!(out.recv().as_deref(), Some(&b"done\n"[..]));
    let times = times.borrow();
    assert_eq!(times.len(), 20);
    // All 20 ticks (200 ms of them) happened while the command slept.
    let last = *times.last().unwrap() - start;
    assert!(
        last < Duration::from_millis(800),
        "ticks were held up: {last:?}"
    );
    assert!(start.elapsed() >= Duration::from_secs(1));
}

#[test]
fn shutdown_kills_the_command() {
    // The shell tells its pid, then `exec`s a shell that would outlive the
    // test by a second (the same process, so the pid stays the child's).
    let mut c = Command::new("sh");
    c.arg("-c").arg("echo $$; exec sh -c 'sleep 1; echo late'");
    let reader = ReadFileAdaptor::command(c, ReadMode::Line);
    let ctl = Outbox::outbox();
    let out = Inbox::inbox();
    let sig = Inbox::inbox();
    link(&ctl, &reader.control).unwrap();
    link(&reader.outbox, &out).unwrap();
    link(&reader.signal, &sig).unwrap();
    let mut s = Scheduler::new();
    s.spawn(reader);
    // Run (woken by the reading thread) until the pid line is in.
    let deadline = Instant::now() + Duration::from_secs(10);
    let pid = loop {
        assert!(Instant::now() < deadline, "no pid from the command");
        assert_eq!(s.run_for(Duration::from_millis(10)), None);
        if let Some(line) = out.recv() {
            break String::from_utf8(line.to_vec()).unwrap();
        }
    };
    let proc_dir = std::path::PathBuf::from(format!("/proc/{}", pid.trim()));
    assert!(proc_dir.exists(), "the command runs");
    ctl.send(Signal::Shutdown).unwrap();
    let t = Instant::now();
    assert_eq!(s.run(), Ended::Completed);
    // Well under the command's second of sleep: nothing waits for it.
    assert!(
        t.elapsed() < Duration::from_millis(700),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(sig.recv(), Some(Signal::Shutdown));
    assert!(out.recv().is_none());
    // Killed and reaped by the time the component ended (not even a zombie).
    assert!(!proc_dir.exists(), "the command was not killed and reaped");
}

#[test]
fn without_shutdown_the_same_command_runs_to_completion() {
    // The counterpart of `shutdown_kills_the_command`: the marker appears.
    let marker = TempPath::new("marker-ok");
    let script = format!("sleep 0.1; echo late > {}", marker.path().display());
    let (_, sig) = run_real(ReadFileAdaptor::shell(&script, ReadMode::Line));
    assert_eq!(sig, vec![Signal::ProducerFinished]);
    assert!(marker.path().exists());
}

#[test]
fn command_output_honours_back_pressure() {
    let reader = ReadFileAdaptor::shell("seq 1 200", ReadMode::Line);
    let mut r = bounded_rig(reader, 3);
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while r.h.is_alive(r.id) {
        assert!(Instant::now() < deadline, "timed out");
        r.h.run_until_idle();
        assert!(r.out.len() <= 3);
        got.extend(r.out.drain());
        // Until the reader's thread has more (or the drain made room).
        r.h.wait_for_wake(Duration::from_millis(100));
    }
    got.extend(r.out.drain());
    let want: Vec<Vec<u8>> = (1..=200).map(|i| format!("{i}\n").into_bytes()).collect();
    let got: Vec<Vec<u8>> = got.iter().map(|b| b.to_vec()).collect();
    assert_eq!(got, want);
    assert_eq!(r.sig.drain(), vec![Signal::ProducerFinished]);
}

#[test]
fn any_reader_is_read_on_a_thread() {
    let reader = ReadFileAdaptor::reader(
        "cursor",
        Cursor::new(b"abcdefghij".to_vec()),
        ReadMode::Block(4),
    );
    let (out, sig) = run_real(reader);
    assert_eq!(strs(&out), vec![&b"abcd"[..], b"efgh", b"ij"]);
    assert_eq!(sig, vec![Signal::ProducerFinished]);
}

#[test]
fn a_failing_reader_reports_its_name() {
    struct Broken;
    impl std::io::Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "gone",
            ))
        }
    }
    let (out, sig) = run_real(ReadFileAdaptor::reader("broken", Broken, ReadMode::Line));
    assert!(out.is_empty());
    let e = file_error(&sig[0]);
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
    assert_eq!(e.op(), FileOp::Read);
    assert_eq!(e.path().to_str(), Some("broken"));
}

#[test]
fn a_reader_blocked_forever_does_not_keep_the_scheduler_alive_after_shutdown() {
    /// Never returns from read (until the test process ends).
    struct Forever;
    impl std::io::Read for Forever {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            loop {
                std::thread::park();
            }
        }
    }
    let reader = ReadFileAdaptor::reader("forever", Forever, ReadMode::Line);
    let ctl = Outbox::outbox();
    link(&ctl, &reader.control).unwrap();
    let mut s = Scheduler::new();
    s.spawn(reader);
    s.step();
    ctl.send(Signal::Shutdown).unwrap();
    let t = Instant::now();
    assert_eq!(s.run(), Ended::Completed);
    assert!(t.elapsed() < Duration::from_secs(1));
}
