//! Runs the networked classic sketches under `examples/` (6, 7, 11, 12 and
//! 24 without the audio) through their `run` functions, over real sockets
//! on 127.0.0.1 (port 0: a free port each time), and checks what they
//! produced: exact bytes, order, how each connection ended, and (for the
//! rate-controlled ones) a lower bound on the time taken.
//!
//! Every run ends by itself: the clients' ends stop the servers, and a
//! deadline component stops the whole system after a generous time if
//! something hangs (the tests then fail on `timed_out`).

// Each example includes `examples/support/mod.rs` itself (so that it builds
// on its own), so this crate holds one copy per example module.
#![allow(clippy::duplicate_mod)]

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kamaelia::axon::{Ended, Signal};
use kamaelia::file::ReadMode;

#[allow(dead_code)]
#[path = "../examples/echo_server.rs"]
mod echo_server;

#[allow(dead_code)]
#[path = "../examples/chat_server.rs"]
mod chat_server;

#[allow(dead_code)]
#[path = "../examples/fortune.rs"]
mod fortune;

#[allow(dead_code)]
#[path = "../examples/single_server.rs"]
mod single_server;

#[allow(dead_code)]
#[path = "../examples/streaming_server.rs"]
mod streaming_server;

/// The safety net of every run: far longer than any run takes.
const LIMIT: Option<Duration> = Some(Duration::from_secs(30));

type Buf = Rc<RefCell<Vec<u8>>>;

fn buffer() -> Buf {
    Rc::new(RefCell::new(Vec::new()))
}

fn text(b: &Buf) -> String {
    String::from_utf8(b.borrow().clone()).expect("the examples write UTF-8")
}

fn local() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Bytes that are not all alike: `n` of them from a simple generator.
fn noise(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// A unique path in the temp directory, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "kamaelia-net-sketch-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_file(&p);
        TempFile(p)
    }

    fn with(tag: &str, data: &[u8]) -> Self {
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
// Sketch 6: echo_server

#[test]
fn echo_server_gives_every_client_its_own_bytes_back() {
    let trace = buffer();
    let big = noise(200_000, 6); // more than the write buffer and inbox limits
    let clients = vec![b"hello, echo\n".to_vec(), big.clone(), Vec::new()];
    let o = echo_server::run(local(), &clients, LIMIT, trace.clone()).unwrap();
    assert!(!o.timed_out);
    assert_eq!(o.ended, Ended::Completed);
    assert_eq!(o.echoes, clients, "each client got exactly what it sent");
    assert_eq!(
        o.client_ends,
        vec![Signal::ProducerFinished; 3],
        "clean closes"
    );
    assert_eq!(o.server_end, Some(Signal::Shutdown));
    let trace = text(&trace);
    let mut lines = trace.lines();
    assert_eq!(
        lines.next(),
        Some(format!("echo server listening on {}", o.addr).as_str())
    );
    // Three connections, numbered 1 to 3 in the order they were accepted
    // (which client came first is up to the kernel); the bytes each one
    // echoed add up to one client's message.
    let mut connected = Vec::new();
    let mut echoed = [0usize; 4];
    for l in lines {
        let (n, rest) = l[1..].split_once(' ').unwrap();
        let n: usize = n.parse().unwrap();
        if let Some(peer) = rest.strip_prefix("connected from ") {
            assert!(peer.starts_with("127.0.0.1:"), "{l}");
            connected.push(n);
        } else {
            let k = rest
                .strip_prefix("echoed ")
                .and_then(|r| r.strip_suffix(" bytes"))
                .unwrap_or_else(|| panic!("unexpected trace line {l:?}"));
            assert!(connected.contains(&n), "echo before connect: {l}");
            echoed[n] += k.parse::<usize>().unwrap();
        }
    }
    assert_eq!(connected, vec![1, 2, 3]);
    let mut totals = echoed[1..].to_vec();
    totals.sort_unstable();
    assert_eq!(totals, vec![0, 12, big.len()]);
}

#[test]
fn echo_server_many_small_clients() {
    let clients: Vec<Vec<u8>> = (0..20)
        .map(|i| format!("client {i} says hello").into_bytes())
        .collect();
    let o = echo_server::run(local(), &clients, LIMIT, buffer()).unwrap();
    assert!(!o.timed_out);
    assert_eq!(o.ended, Ended::Completed);
    assert_eq!(o.echoes, clients);
    assert_eq!(o.client_ends, vec![Signal::ProducerFinished; 20]);
}

/// A `Write` into a shared buffer.
struct SharedOut(Rc<RefCell<Vec<u8>>>);

impl std::io::Write for SharedOut {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The trace in blocks (stdout not a terminal): lines wait, then go out
/// together `TRACE_FLUSH_AFTER` after the first, exact and in order; with
/// nothing to write the flusher sleeps with no timer.
#[test]
fn echo_server_trace_blocks_go_out_within_the_flush_time() {
    use kamaelia::axon::Scheduler;
    let got = Rc::new(RefCell::new(Vec::new()));
    let (sink, flusher) = echo_server::blocks_to(Box::new(SharedOut(got.clone())));
    let mut s = Scheduler::with_virtual_time();
    let f = s.spawn(flusher);
    s.run_until_idle();
    assert!(s.is_sleeping(f));
    assert_eq!(s.next_deadline(), None, "idle: no timer");
    let mut expect = Vec::new();
    for (round, lines) in [&["one", "two"][..], &["three"][..]].iter().enumerate() {
        for l in lines.iter() {
            writeln!(sink.borrow_mut(), "{l}").unwrap();
            expect.extend_from_slice(format!("{l}\n").as_bytes());
        }
        assert!(
            s.wait_for_wake(Duration::from_secs(5)),
            "round {round}: not woken"
        );
        s.run_until_idle();
        assert_eq!(
            got.borrow().len(),
            expect.len() - lines.iter().map(|l| l.len() + 1).sum::<usize>()
        );
        assert_eq!(
            s.next_deadline(),
            Some(s.now() + echo_server::TRACE_FLUSH_AFTER)
        );
        s.advance(echo_server::TRACE_FLUSH_AFTER);
        s.run_until_idle();
        assert_eq!(*got.borrow(), expect, "round {round}");
        assert!(s.is_sleeping(f));
        assert_eq!(s.next_deadline(), None, "round {round}: idle again");
    }
}

#[test]
fn echo_server_trace_line_is_written_exactly() {
    let line = |n: u64, k: usize| String::from_utf8(echo_server::echo_line(n, k).to_vec()).unwrap();
    assert_eq!(line(1, 64), "#1 echoed 64 bytes\n");
    assert_eq!(line(0, 0), "#0 echoed 0 bytes\n");
    assert_eq!(line(10, 16384), "#10 echoed 16384 bytes\n");
    assert_eq!(
        line(u64::MAX, usize::MAX),
        format!("#{} echoed {} bytes\n", u64::MAX, usize::MAX)
    );
}

#[test]
fn echo_server_address_argument() {
    let a = |s: Option<&str>| echo_server::address(s).map(|a| a.to_string());
    assert_eq!(a(None).unwrap(), "127.0.0.1:1500");
    assert_eq!(a(Some("1600")).unwrap(), "127.0.0.1:1600");
    assert_eq!(a(Some("0.0.0.0:8000")).unwrap(), "0.0.0.0:8000");
    assert_eq!(a(Some("[::1]:7")).unwrap(), "[::1]:7");
    assert!(a(Some("nonsense")).is_err());
}

#[test]
fn echo_server_port_in_use_is_an_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let e = echo_server::run(addr, &[], LIMIT, buffer()).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
}

// ---------------------------------------------------------------------------
// Sketch 7: chat_server

#[test]
fn chat_every_line_reaches_every_user_sender_included() {
    let trace = buffer();
    let ann: &[&str] = &["hi, I am ann", "ann: first", "ann: second"];
    let bob: &[&str] = &["hi, I am bob", "bob: first", "bob: second"];
    let cat: &[&str] = &["hi, I am cat", "cat: my only line"];
    let o = chat_server::run(local(), &[ann, bob, cat], LIMIT, trace.clone()).unwrap();
    assert!(!o.timed_out, "heard so far: {:?}", o.heard);
    assert_eq!(o.ended, Ended::Completed);
    assert_eq!(o.user_ends, vec![Some(Signal::ProducerFinished); 3]);
    assert_eq!(o.backplane_end, Some(Signal::Shutdown));

    // Users joined one at a time: user k is connection k + 1 and hears its
    // own greeting and those of the users after it (no history).
    let greetings = ["[1] hi, I am ann", "[2] hi, I am bob", "[3] hi, I am cat"];
    for (k, heard) in o.heard.iter().enumerate() {
        assert_eq!(heard[..3 - k], greetings[k..], "user {k}");
        assert_eq!(heard.len(), (3 - k) + 5, "user {k}: {heard:?}");
    }
    // Then everybody's other lines, sender included, in the one order
    // the backplane gave them, the same for all.
    let talk = &o.heard[0][3..];
    assert_eq!(o.heard[1][2..], *talk);
    assert_eq!(o.heard[2][1..], *talk);
    let mut sorted = talk.to_vec();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "[1] ann: first",
            "[1] ann: second",
            "[2] bob: first",
            "[2] bob: second",
            "[3] cat: my only line",
        ]
    );
    // Each user's lines in the order it sent them.
    let pos = |l: &str| talk.iter().position(|t| t == l).unwrap();
    assert!(pos("[1] ann: first") < pos("[1] ann: second"));
    assert!(pos("[2] bob: first") < pos("[2] bob: second"));

    let trace = text(&trace);
    let lines: Vec<&str> = trace.lines().collect();
    assert_eq!(lines[0], format!("chat server listening on {}", o.addr));
    assert_eq!(lines.len(), 4);
    for (i, l) in lines[1..].iter().enumerate() {
        assert!(
            l.starts_with(&format!("#{} joined from 127.0.0.1:", i + 1)),
            "{l}"
        );
    }
}

#[test]
fn chat_a_lone_user_hears_itself() {
    let o = chat_server::run(local(), &[&["anyone here?", "just me"]], LIMIT, buffer()).unwrap();
    assert!(!o.timed_out);
    assert_eq!(o.ended, Ended::Completed);
    assert_eq!(o.heard, vec![vec!["[1] anyone here?", "[1] just me"]]);
    assert_eq!(o.user_ends, vec![Some(Signal::ProducerFinished)]);
}

#[test]
fn chat_lines_are_cut_and_prefixed() {
    use bytes::Bytes;
    let mut f = chat_server::line_prefixer(7);
    let mut feed = |s: &[u8]| f(Bytes::copy_from_slice(s));
    assert_eq!(feed(b"hel"), None);
    assert_eq!(feed(b"lo\nwor").as_deref(), Some(&b"[7] hello\n"[..]));
    assert_eq!(
        feed(b"ld\r\n\nand").as_deref(),
        Some(&b"[7] world\r\n[7] \n"[..])
    );
    // A partial line grown past the limit is passed on as a line.
    let long = vec![b'x'; chat_server::MAX_LINE];
    let out = feed(&long).unwrap();
    assert_eq!(out.len(), 4 + 3 + chat_server::MAX_LINE + 1);
    assert!(out.starts_with(b"[7] andxxx"));
    assert!(out.ends_with(b"x\n"));
    assert_eq!(feed(b"next\n").as_deref(), Some(&b"[7] next\n"[..]));
}

// ---------------------------------------------------------------------------
// Sketch 11: fortune

#[test]
fn fortune_each_client_gets_its_cookie_then_a_clean_close() {
    let out = buffer();
    let fast = ReadMode::Bitrate {
        bitrate: 64_000,
        chunkrate: 100,
    }; // 80 bytes every 10 ms
    let n = fortune::COOKIES.len() + 1; // the last one wraps round
    let o = fortune::run(
        local(),
        fortune::Cookies::BuiltIn,
        fast,
        n,
        LIMIT,
        out.clone(),
    )
    .unwrap();
    assert!(!o.timed_out);
    assert_eq!(o.ended, Ended::Completed);
    let want: Vec<&str> = (1..=n as u64).map(fortune::cookie).collect();
    assert_eq!(want[n - 1], fortune::COOKIES[0]);
    let got: Vec<String> = o
        .received
        .iter()
        .map(|b| String::from_utf8(b.clone()).unwrap())
        .collect();
    assert_eq!(
        got, want,
        "clients run one after another: the k-th gets cookie k"
    );
    assert_eq!(o.client_ends, vec![Some(Signal::ProducerFinished); n]);
    assert_eq!(o.server_end, Some(Signal::Shutdown));
    assert_eq!(text(&out), want.concat(), "printed as received");
}

#[test]
fn fortune_cookies_go_out_at_the_bit_rate() {
    // 8000 bit/s: chunks of 50 bytes every 50 ms, so cookie 4 (79 bytes)
    // takes two chunks, the second due 100 ms after its reader starts.
    let slow = ReadMode::Bitrate {
        bitrate: 8_000,
        chunkrate: 20,
    };
    let o = fortune::run(local(), fortune::Cookies::BuiltIn, slow, 4, LIMIT, buffer()).unwrap();
    assert!(!o.timed_out);
    assert_eq!(o.ended, Ended::Completed);
    let want: Vec<&[u8]> = (1..=4u64).map(|k| fortune::cookie(k).as_bytes()).collect();
    assert_eq!(o.received, want);
    // Lower bound only: each cookie needs ceil(len / 50) periods of 50 ms
    // (the first chunk goes out one period after the reader starts), and
    // the clients run one after another.
    let min: u64 = (1..=4u64)
        .map(|k| fortune::cookie(k).len().div_ceil(50) as u64 * 50)
        .sum();
    assert!(
        o.elapsed >= Duration::from_millis(min),
        "{:?} < {min} ms",
        o.elapsed
    );
}

#[test]
fn fortune_the_program_is_used_where_there_is_one() {
    let detected = fortune::Cookies::detect();
    let Some(program) = fortune::fortune_program() else {
        assert_eq!(detected, fortune::Cookies::BuiltIn);
        return; // nothing more to check without the program
    };
    assert_eq!(detected, fortune::Cookies::Fortune(program));
    let fast = ReadMode::Bitrate {
        bitrate: 640_000,
        chunkrate: 100,
    };
    let o = fortune::run(local(), detected, fast, 1, LIMIT, buffer()).unwrap();
    assert!(!o.timed_out);
    assert!(!o.received[0].is_empty(), "fortune said something");
    assert_eq!(o.client_ends, vec![Some(Signal::ProducerFinished)]);
}

#[test]
fn fortune_a_program_s_output_is_the_cookie() {
    use std::os::unix::fs::PermissionsExt;
    let script = TempFile::with(
        "fortune.sh",
        b"#!/bin/sh\necho 'A program wrote this cookie.'\necho '    -- sh'\n",
    );
    std::fs::set_permissions(script.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let fast = ReadMode::Bitrate {
        bitrate: 64_000,
        chunkrate: 100,
    };
    let program = fortune::Cookies::Fortune(script.path().to_path_buf());
    let o = fortune::run(local(), program, fast, 2, LIMIT, buffer()).unwrap();
    assert!(!o.timed_out);
    assert_eq!(o.ended, Ended::Completed);
    let cookie = b"A program wrote this cookie.\n    -- sh\n".to_vec();
    assert_eq!(
        o.received,
        vec![cookie.clone(), cookie],
        "one run per connection"
    );
    assert_eq!(o.client_ends, vec![Some(Signal::ProducerFinished); 2]);
}

// ---------------------------------------------------------------------------
// Sketch 12: single_server

#[test]
fn single_server_twelve_messages_in_order_then_a_clean_close() {
    let out = buffer();
    let rate = 50.0; // the original's 2/s would take 5.5 s
    let o = single_server::run(local(), 12, rate, LIMIT, out.clone()).unwrap();
    assert!(!o.timed_out);
    assert_eq!(o.ended, Ended::Completed);
    let want: String = (1..=12).map(|k| single_server::message(k, 12)).collect();
    assert_eq!(String::from_utf8(o.received.clone()).unwrap(), want);
    assert_eq!(text(&out), want, "printed as received");
    assert_eq!(o.client_end, Some(Signal::ProducerFinished), "clean close");
    assert_eq!(
        o.server_end,
        Some(Signal::ProducerFinished),
        "its client went"
    );
    // Releases are at least 1/rate apart: the last comes 11 periods or
    // more after the first (a lower bound only, to stay robust).
    assert!(
        o.elapsed >= Duration::from_millis(11 * 20),
        "{:?}",
        o.elapsed
    );
    let last = o.chunks.last().unwrap().0;
    assert!(last >= Duration::from_millis(11 * 20), "last at {last:?}");
    assert_eq!(o.chunks.iter().map(|c| c.1).sum::<usize>(), want.len());
}

// ---------------------------------------------------------------------------
// Sketch 24 (without the audio): streaming_server

#[test]
fn streaming_every_client_gets_the_file_at_the_bit_rate() {
    let data = noise(12_000, 24);
    let file = TempFile::with("source", &data);
    let outs = [TempFile::new("out-a"), TempFile::new("out-b")];
    let paths: Vec<PathBuf> = outs.iter().map(|t| t.path().to_path_buf()).collect();
    let trace = buffer();
    // 320 kbit/s in 50 chunks a second: 800 bytes every 20 ms, so the
    // 12 000 bytes take 15 periods, 300 ms.
    let mode = ReadMode::Bitrate {
        bitrate: 320_000,
        chunkrate: 50,
    };
    let o =
        streaming_server::run(local(), file.path(), mode, &paths, LIMIT, trace.clone()).unwrap();
    assert!(!o.timed_out);
    assert_eq!(o.ended, Ended::Completed);
    assert_eq!(o.server_end, Some(Signal::Shutdown));
    for p in &paths {
        assert!(std::fs::read(p).unwrap() == data, "{} differs", p.display());
    }
    // Lower bounds only (at least 80% of size / rate), to stay robust.
    let min = Duration::from_secs_f64(0.8 * 12_000.0 * 8.0 / 320_000.0);
    assert_eq!(o.client_ends.len(), 2);
    for (t, sig) in &o.client_ends {
        assert_eq!(*sig, Signal::ProducerFinished, "a clean close");
        assert!(
            *t >= min,
            "a client was done after {t:?}, faster than the rate"
        );
    }
    assert!(o.elapsed >= min);
    let trace = text(&trace);
    let lines: Vec<&str> = trace.lines().collect();
    assert_eq!(lines.len(), 2, "{trace}");
    for (i, l) in lines.iter().enumerate() {
        assert!(l.starts_with(&format!("#{} 127.0.0.1:", i + 1)), "{l}");
        assert!(
            l.ends_with(&format!(": streaming {}", file.path().display())),
            "{l}"
        );
    }
}

#[test]
fn streaming_an_empty_file_gives_an_empty_file() {
    let file = TempFile::with("empty", b"");
    let out = TempFile::new("out-empty");
    let mode = ReadMode::Bitrate {
        bitrate: 320_000,
        chunkrate: 50,
    };
    let o = streaming_server::run(
        local(),
        file.path(),
        mode,
        &[out.path().to_path_buf()],
        LIMIT,
        buffer(),
    )
    .unwrap();
    assert!(!o.timed_out);
    assert_eq!(o.ended, Ended::Completed);
    assert_eq!(std::fs::read(out.path()).unwrap(), b"");
    assert_eq!(o.client_ends.len(), 1);
    assert_eq!(o.client_ends[0].1, Signal::ProducerFinished);
}
