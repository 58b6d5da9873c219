//! PromptedFileReader and SimpleReader.

mod file_support;

use bytes::Bytes;
use file_support::*;
use kamaelia::axon::{Id, Signal};
use kamaelia::file::{FileOp, PromptMode, PromptedFileReader, SimpleReader};
use kamaelia::testing::{Collector, Feeder, Harness};

struct Prompted {
    h: Harness,
    id: Id,
    ask: Feeder<usize>,
    ctl: Feeder<Signal>,
    out: Collector<Bytes>,
    sig: Collector<Signal>,
}

fn prompted(path: &std::path::Path, mode: PromptMode) -> Prompted {
    let mut h = Harness::new();
    let id = h.spawn(PromptedFileReader::new(path, mode));
    Prompted {
        ask: h.feeder(id, "inbox").unwrap(),
        ctl: h.feeder(id, "control").unwrap(),
        out: h.collector(id, "outbox").unwrap(),
        sig: h.collector(id, "signal").unwrap(),
        h,
        id,
    }
}

#[test]
fn prompted_bytes_reads_what_is_asked() {
    let f = TempPath::with("pb", b"0123456789");
    let mut p = prompted(f.path(), PromptMode::Bytes);
    p.h.run_until_idle();
    assert!(p.out.is_empty(), "nothing without a request");
    assert!(p.h.is_sleeping(p.id));
    for n in [3, 0, 4] {
        p.ask.send(n).unwrap();
    }
    p.h.run_until_idle();
    let got = p.out.drain();
    assert_eq!(
        got,
        vec![Bytes::from_static(b"012"), Bytes::from_static(b"3456")]
    );
    // Near the end: what is left; then the end.
    p.ask.send(100).unwrap();
    p.h.run_until_idle();
    assert_eq!(p.out.drain(), vec![Bytes::from_static(b"789")]);
    assert!(p.sig.is_empty());
    p.ask.send(1).unwrap();
    p.h.run_until_idle();
    assert!(p.out.is_empty());
    assert_eq!(p.sig.drain(), vec![Signal::ProducerFinished]);
    assert!(!p.h.is_alive(p.id));
    assert_eq!(open_fds_on(f.path()), 0, "file left open");
}

#[test]
fn prompted_lines_joins_the_lines_asked_for() {
    let f = TempPath::with("pl", b"a\nbb\nccc\ndddd");
    let mut p = prompted(f.path(), PromptMode::Lines);
    p.ask.send(2).unwrap();
    p.ask.send(1).unwrap();
    p.ask.send(5).unwrap();
    p.ask.send(1).unwrap();
    p.h.run_until_idle();
    assert_eq!(
        p.out.drain(),
        vec![
            Bytes::from_static(b"a\nbb\n"),
            Bytes::from_static(b"ccc\n"),
            Bytes::from_static(b"dddd"),
        ]
    );
    assert_eq!(p.sig.drain(), vec![Signal::ProducerFinished]);
}

#[test]
fn prompted_answers_waiting_requests_before_finishing() {
    let f = TempPath::with("pf", b"abcdef");
    let mut p = prompted(f.path(), PromptMode::Bytes);
    p.ask.send(2).unwrap();
    p.ask.send(2).unwrap();
    p.ctl.send(Signal::ProducerFinished).unwrap();
    p.h.run_until_idle();
    assert_eq!(
        p.out.drain(),
        vec![Bytes::from_static(b"ab"), Bytes::from_static(b"cd")]
    );
    assert_eq!(p.sig.drain(), vec![Signal::ProducerFinished]);
    assert!(!p.h.is_alive(p.id));
    assert_eq!(open_fds_on(f.path()), 0);
}

#[test]
fn prompted_shutdown_stops_at_once() {
    let f = TempPath::with("ps", b"abcdef");
    let mut p = prompted(f.path(), PromptMode::Bytes);
    p.h.run_until_idle();
    assert_eq!(open_fds_on(f.path()), 1);
    p.ask.send(2).unwrap();
    p.ctl.send(Signal::Shutdown).unwrap();
    p.h.run_until_idle();
    assert!(p.out.is_empty());
    assert_eq!(p.sig.drain(), vec![Signal::Shutdown]);
    assert!(!p.h.is_alive(p.id));
    assert_eq!(open_fds_on(f.path()), 0, "file left open");
}

#[test]
fn prompted_missing_file_fails() {
    let f = TempPath::new("pmissing");
    let mut p = prompted(f.path(), PromptMode::Lines);
    p.h.run_until_idle();
    let sigs = p.sig.drain();
    let e = file_error(&sigs[0]);
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(e.path(), f.path());
    assert!(!p.h.is_alive(p.id));
}

#[test]
fn prompted_directory_fails_on_the_first_read() {
    let d = TempPath::new("pdir");
    std::fs::create_dir(d.path()).unwrap();
    let mut p = prompted(d.path(), PromptMode::Bytes);
    p.ask.send(10).unwrap();
    p.h.run_until_idle();
    let sigs = p.sig.drain();
    let e = file_error(&sigs[0]);
    assert_eq!(e.kind(), kind_of(EISDIR));
    assert_eq!(e.op(), FileOp::Read);
}

#[test]
fn prompted_permission_denied() {
    let (f, enforced) = unreadable_file("pdenied");
    let mut p = prompted(f.path(), PromptMode::Bytes);
    p.ask.send(100).unwrap();
    p.h.run_until_idle();
    let sigs = p.sig.drain();
    if enforced {
        assert_eq!(
            file_error(&sigs[0]).kind(),
            std::io::ErrorKind::PermissionDenied
        );
        assert!(!p.h.is_alive(p.id));
    } else {
        // Running as root: mode bits are not enforced, the read succeeds.
        assert_eq!(p.out.drain(), vec![Bytes::from_static(b"secret\n")]);
    }
}

#[test]
fn prompted_back_pressure_keeps_the_data() {
    let f = TempPath::with("pbp", b"abcdefgh");
    let mut h = Harness::new();
    let id = h.spawn(PromptedFileReader::new(f.path(), PromptMode::Bytes));
    let ask = h.feeder::<usize>(id, "inbox").unwrap();
    let out = h.bounded_collector::<Bytes>(id, "outbox", 1).unwrap();
    for _ in 0..4 {
        ask.send(2).unwrap();
    }
    h.run_until_idle();
    assert_eq!(out.len(), 1);
    assert!(h.is_sleeping(id), "waits for the consumer, requests held");
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(out.recv().unwrap());
        h.run_until_idle();
    }
    assert_eq!(concat(&got), b"abcdefgh");
}

// ------------------------------------------------------------ SimpleReader

#[test]
fn simple_reader_sends_lines_one_per_step() {
    let f = TempPath::with("sr", b"x\ny\nz\n");
    let mut h = Harness::new();
    let id = h.spawn(SimpleReader::new(f.path()));
    let out = h.collector::<Bytes>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    for n in 1..=3 {
        h.step().unwrap();
        assert_eq!(out.len(), n);
    }
    h.run_until_idle();
    assert_eq!(
        out.drain(),
        vec![
            Bytes::from_static(b"x\n"),
            Bytes::from_static(b"y\n"),
            Bytes::from_static(b"z\n")
        ]
    );
    assert_eq!(sig.drain(), vec![Signal::ProducerFinished]);
    assert!(!h.is_alive(id));
    assert_eq!(open_fds_on(f.path()), 0);
}

#[test]
fn simple_reader_honours_back_pressure() {
    let lines: Vec<String> = (0..50).map(|i| format!("line {i}\n")).collect();
    let f = TempPath::with("srbp", lines.concat().as_bytes());
    let mut h = Harness::new();
    let id = h.spawn(SimpleReader::new(f.path()));
    let out = h.bounded_collector::<Bytes>(id, "outbox", 4).unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    let mut got = Vec::new();
    while h.is_alive(id) {
        h.run_until_idle();
        assert!(out.len() <= 4);
        if h.is_alive(id) {
            assert!(h.is_sleeping(id));
        }
        got.extend(out.drain());
    }
    let got: Vec<String> = got
        .iter()
        .map(|b| String::from_utf8(b.to_vec()).unwrap())
        .collect();
    assert_eq!(got, lines);
    assert_eq!(sig.drain(), vec![Signal::ProducerFinished]);
}

#[test]
fn simple_reader_missing_file_and_shutdown() {
    let f = TempPath::new("srmissing");
    let mut h = Harness::new();
    let id = h.spawn(SimpleReader::new(f.path()));
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_until_idle();
    assert_eq!(
        file_error(&sig.recv().unwrap()).kind(),
        std::io::ErrorKind::NotFound
    );

    let g = TempPath::with("srstop", b"a\nb\n");
    let id = h.spawn(SimpleReader::new(g.path()));
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    let out = h.collector::<Bytes>(id, "outbox").unwrap();
    ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    assert!(out.is_empty());
    assert_eq!(sig.drain(), vec![Signal::Shutdown]);
}
