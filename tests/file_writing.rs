//! SimpleFileWriter and Append.

mod file_support;

use std::path::Path;

use bytes::Bytes;
use file_support::*;
use kamaelia::axon::{Component, Id, Signal};
use kamaelia::file::{Append, FileOp, SimpleFileWriter, WriteMode};
use kamaelia::testing::{Collector, Feeder, Harness};

struct W<T: 'static> {
    h: Harness,
    id: Id,
    data: Feeder<T>,
    ctl: Feeder<Signal>,
    sig: Collector<Signal>,
}

fn rig<T: 'static, C: Component>(c: C) -> W<T> {
    let mut h = Harness::new();
    let id = h.spawn(c);
    W {
        data: h.feeder(id, "inbox").unwrap(),
        ctl: h.feeder(id, "control").unwrap(),
        sig: h.collector(id, "signal").unwrap(),
        h,
        id,
    }
}

fn b(s: &'static [u8]) -> Bytes {
    Bytes::from_static(s)
}

#[test]
fn write_mode_truncates_and_writes_exact_bytes() {
    let f = TempPath::with("sw", b"previous contents, longer than the new");
    let mut w = rig::<Bytes, _>(SimpleFileWriter::new(f.path(), WriteMode::Write));
    w.h.run_until_idle();
    assert_eq!(f.read(), b"", "truncated when it starts");
    let binary: Vec<u8> = (0..=255u8).collect();
    w.data.send(b(b"hello ")).unwrap();
    w.data.send(Bytes::from(binary.clone())).unwrap();
    w.h.run_until_idle();
    // Each step flushes what it wrote.
    let mut want = b"hello ".to_vec();
    want.extend_from_slice(&binary);
    assert_eq!(f.read(), want);
    assert_eq!(open_fds_on(f.path()), 1, "held open while running");
    w.data.send(b(b"!")).unwrap();
    w.ctl.send(Signal::ProducerFinished).unwrap();
    w.h.run_until_idle();
    want.push(b'!');
    assert_eq!(f.read(), want);
    assert_eq!(w.sig.drain(), vec![Signal::ProducerFinished]);
    assert!(!w.h.is_alive(w.id));
    assert_eq!(open_fds_on(f.path()), 0, "file left open");
}

#[test]
fn append_mode_keeps_what_was_there() {
    let f = TempPath::with("sa", b"one\n");
    let mut w = rig::<String, _>(SimpleFileWriter::<String>::typed(
        f.path(),
        WriteMode::Append,
    ));
    w.data.send("two\n".to_string()).unwrap();
    w.data.send("three\n".to_string()).unwrap();
    w.ctl.send(Signal::ProducerFinished).unwrap();
    w.h.run_until_idle();
    assert_eq!(f.read(), b"one\ntwo\nthree\n");
    assert_eq!(w.sig.drain(), vec![Signal::ProducerFinished]);
}

#[test]
fn producer_finished_writes_everything_waiting_across_steps() {
    let f = TempPath::new("sbatch");
    let mut w = rig::<Bytes, _>(SimpleFileWriter::new(f.path(), WriteMode::Write));
    let mut want = Vec::new();
    for i in 0..500 {
        let line = format!("{i}\n");
        want.extend_from_slice(line.as_bytes());
        w.data.send(Bytes::from(line)).unwrap();
    }
    w.ctl.send(Signal::ProducerFinished).unwrap();
    w.h.step().unwrap();
    assert!(w.h.is_alive(w.id), "a step writes a bounded batch");
    w.h.run_until_idle();
    assert_eq!(f.read(), want);
    assert_eq!(w.sig.drain(), vec![Signal::ProducerFinished]);
}

#[test]
fn a_failure_upstream_is_treated_as_finished_and_passed_on() {
    let f = TempPath::new("sfail");
    let mut w = rig::<Bytes, _>(SimpleFileWriter::new(f.path(), WriteMode::Write));
    w.data.send(b(b"kept")).unwrap();
    let upstream = Signal::failed(std::io::Error::other("upstream broke"));
    w.ctl.send(upstream.clone()).unwrap();
    w.h.run_until_idle();
    assert_eq!(f.read(), b"kept");
    assert_eq!(w.sig.drain(), vec![upstream]);
}

#[test]
fn shutdown_stops_at_once_and_closes() {
    let f = TempPath::new("sstop");
    let mut w = rig::<Bytes, _>(SimpleFileWriter::new(f.path(), WriteMode::Write));
    w.data.send(b(b"written")).unwrap();
    w.h.run_until_idle();
    w.data.send(b(b" dropped")).unwrap();
    w.ctl.send(Signal::Shutdown).unwrap();
    w.h.run_until_idle();
    assert_eq!(f.read(), b"written");
    assert_eq!(w.sig.drain(), vec![Signal::Shutdown]);
    assert!(!w.h.is_alive(w.id));
    assert_eq!(open_fds_on(f.path()), 0, "file left open");
}

fn expect_failure(sig: &Collector<Signal>, path: &Path, op: FileOp, kind: std::io::ErrorKind) {
    let s = sig.recv().expect("a failure");
    let e = file_error(&s);
    assert_eq!((e.op(), e.kind()), (op, kind), "{e}");
    assert_eq!(e.path(), path);
    assert!(sig.is_empty(), "one signal only");
}

#[test]
fn disk_full_is_reported() {
    for mode in [WriteMode::Write, WriteMode::Append] {
        let mut w = rig::<Bytes, _>(SimpleFileWriter::new("/dev/full", mode));
        w.data.send(b(b"no room")).unwrap();
        w.ctl.send(Signal::ProducerFinished).unwrap();
        w.h.run_until_idle();
        expect_failure(
            &w.sig,
            Path::new("/dev/full"),
            FileOp::Write,
            kind_of(ENOSPC),
        );
        assert!(!w.h.is_alive(w.id));
        assert_eq!(w.h.scheduler().stats().panicked, 0);
    }
}

#[test]
fn a_directory_or_missing_parent_fails_to_open() {
    let d = TempPath::new("sdir");
    std::fs::create_dir(d.path()).unwrap();
    let mut w = rig::<Bytes, _>(SimpleFileWriter::new(d.path(), WriteMode::Write));
    w.h.run_until_idle();
    expect_failure(&w.sig, d.path(), FileOp::Open, kind_of(EISDIR));
    assert!(!w.h.is_alive(w.id));

    let p = TempPath::new("snoparent");
    let path = p.path().join("file");
    let mut w = rig::<Bytes, _>(SimpleFileWriter::new(&path, WriteMode::Append));
    w.h.run_until_idle();
    expect_failure(&w.sig, &path, FileOp::Open, std::io::ErrorKind::NotFound);
}

#[test]
fn permission_denied_fails_to_open() {
    let (f, enforced) = unreadable_file("sdenied");
    let mut w = rig::<Bytes, _>(SimpleFileWriter::new(f.path(), WriteMode::Append));
    w.data.send(b(b"more")).unwrap();
    w.ctl.send(Signal::ProducerFinished).unwrap();
    w.h.run_until_idle();
    if enforced {
        expect_failure(
            &w.sig,
            f.path(),
            FileOp::Open,
            std::io::ErrorKind::PermissionDenied,
        );
    } else {
        // Root ignores the mode bits: the append succeeds.
        assert_eq!(w.sig.drain(), vec![Signal::ProducerFinished]);
        assert_eq!(f.read(), b"secret\nmore");
    }
    assert!(!w.h.is_alive(w.id));
}

// ------------------------------------------------------------------ Append

#[test]
fn append_appends_and_forwards_a_copy() {
    let f = TempPath::with("aa", b"log:\n");
    let mut w = rig::<String, _>(Append::<String>::typed(f.path()));
    let out = w.h.collector::<String>(w.id, "outbox").unwrap();
    w.data.send("a\n".to_string()).unwrap();
    w.data.send("b\n".to_string()).unwrap();
    w.h.run_until_idle();
    assert_eq!(f.read(), b"log:\na\nb\n");
    assert_eq!(out.drain(), vec!["a\n".to_string(), "b\n".to_string()]);
    w.ctl.send(Signal::ProducerFinished).unwrap();
    w.h.run_until_idle();
    assert_eq!(w.sig.drain(), vec![Signal::ProducerFinished]);
    assert_eq!(open_fds_on(f.path()), 0);
}

#[test]
fn append_options_blat_no_forward_and_closed_between_steps() {
    let f = TempPath::with("ab", b"old\n");
    let a = Append::new(f.path())
        .blat_file(true)
        .forwarder(false)
        .hold_open(false);
    let mut w = rig::<Bytes, _>(a);
    let out = w.h.collector::<Bytes>(w.id, "outbox").unwrap();
    w.h.run_until_idle();
    assert_eq!(f.read(), b"", "blat_file empties the file at the start");
    w.data.send(b(b"x\n")).unwrap();
    w.h.run_until_idle();
    assert_eq!(open_fds_on(f.path()), 0, "closed between steps");
    // Someone else appends meanwhile: with the file not held open, we append
    // after it.
    std::fs::OpenOptions::new()
        .append(true)
        .open(f.path())
        .and_then(|mut o| std::io::Write::write_all(&mut o, b"other\n"))
        .unwrap();
    w.data.send(b(b"y\n")).unwrap();
    w.ctl.send(Signal::ProducerFinished).unwrap();
    w.h.run_until_idle();
    assert_eq!(f.read(), b"x\nother\ny\n");
    assert!(out.is_empty(), "not forwarding");
    assert_eq!(w.sig.drain(), vec![Signal::ProducerFinished]);
}

#[test]
fn append_back_pressure_stops_taking_input() {
    let f = TempPath::new("abp");
    let mut w = rig::<Bytes, _>(Append::new(f.path()));
    let out = w.h.bounded_collector::<Bytes>(w.id, "outbox", 1).unwrap();
    for s in [&b"1"[..], b"2", b"3"] {
        w.data.send(Bytes::copy_from_slice(s)).unwrap();
    }
    w.ctl.send(Signal::ProducerFinished).unwrap();
    w.h.run_until_idle();
    // "1" forwarded, "2" written but its copy refused: "3" waits.
    assert_eq!(f.read(), b"12");
    assert!(w.h.is_sleeping(w.id));
    let mut got = Vec::new();
    while w.h.is_alive(w.id) {
        got.extend(out.recv());
        w.h.run_until_idle();
    }
    got.extend(out.drain());
    assert_eq!(got, vec![b(b"1"), b(b"2"), b(b"3")]);
    assert_eq!(f.read(), b"123");
    assert_eq!(w.sig.drain(), vec![Signal::ProducerFinished]);
}

#[test]
fn append_disk_full_and_shutdown() {
    let mut w = rig::<Bytes, _>(Append::new("/dev/full"));
    w.data.send(b(b"x")).unwrap();
    w.h.run_until_idle();
    expect_failure(
        &w.sig,
        Path::new("/dev/full"),
        FileOp::Write,
        kind_of(ENOSPC),
    );
    assert!(!w.h.is_alive(w.id));

    let f = TempPath::new("astop");
    let mut w = rig::<Bytes, _>(Append::new(f.path()));
    w.ctl.send(Signal::Shutdown).unwrap();
    w.data.send(b(b"dropped")).unwrap();
    w.h.run_until_idle();
    assert_eq!(w.sig.drain(), vec![Signal::Shutdown]);
    assert!(!w.h.is_alive(w.id));
}
