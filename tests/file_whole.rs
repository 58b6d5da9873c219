//! TriggeredFileReader and WholeFileWriter.

mod file_support;

use std::path::PathBuf;

use bytes::Bytes;
use file_support::*;
use kamaelia::axon::{link, Inbox, Outbox, Scheduler, Signal};
use kamaelia::file::{FileOp, TriggeredFileReader, WholeFileWriter};
use kamaelia::testing::Harness;

#[test]
fn triggered_reader_sends_each_whole_file() {
    let a = TempPath::with("ta", b"first file\n");
    let b = TempPath::with("tb", &[0u8, 1, 2, 255]);
    let e = TempPath::with("te", b"");
    let mut h = Harness::new();
    let id = h.spawn(TriggeredFileReader::new());
    let ask = h.feeder::<PathBuf>(id, "inbox").unwrap();
    let out = h.collector::<Bytes>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    for p in [&a, &b, &e, &a] {
        ask.send(p.path().to_path_buf()).unwrap();
    }
    h.run_until_idle();
    assert_eq!(
        out.drain(),
        vec![
            Bytes::from_static(b"first file\n"),
            Bytes::from_static(&[0, 1, 2, 255]),
            Bytes::new(),
            Bytes::from_static(b"first file\n"),
        ]
    );
    assert!(h.is_sleeping(id));
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    ctl.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert_eq!(sig.drain(), vec![Signal::ProducerFinished]);
    assert!(!h.is_alive(id));
    assert_eq!(open_fds_on(a.path()), 0);
}

#[test]
fn triggered_reader_takes_strings_too() {
    let a = TempPath::with("ts", b"via a String");
    let reader = TriggeredFileReader::<String>::typed();
    let ask = Outbox::outbox();
    let out = Inbox::inbox();
    link(&ask, &reader.inbox).unwrap();
    link(&reader.outbox, &out).unwrap();
    ask.send(a.path().to_str().unwrap().to_string()).unwrap();
    let mut s = Scheduler::new();
    s.spawn(reader);
    s.run_until_idle();
    assert_eq!(out.recv().as_deref(), Some(&b"via a String"[..]));
}

#[test]
fn triggered_reader_finishes_waiting_requests_but_shutdown_does_not() {
    let a = TempPath::with("tw", b"x");
    let mut h = Harness::new();
    let id = h.spawn(TriggeredFileReader::new());
    let ask = h.feeder::<PathBuf>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<Bytes>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    ask.send(a.path().to_path_buf()).unwrap();
    ask.send(a.path().to_path_buf()).unwrap();
    ctl.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), ["x", "x"]);
    assert_eq!(sig.drain(), vec![Signal::ProducerFinished]);
    assert!(!h.is_alive(id));

    let id = h.spawn(TriggeredFileReader::new());
    let ask = h.feeder::<PathBuf>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<Bytes>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    ask.send(a.path().to_path_buf()).unwrap();
    ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    assert!(out.is_empty());
    assert_eq!(sig.drain(), vec![Signal::Shutdown]);
}

#[test]
fn triggered_reader_errors_end_it_cleanly() {
    let missing = TempPath::new("tmissing");
    let dir = TempPath::new("tdir");
    std::fs::create_dir(dir.path()).unwrap();
    let (denied, enforced) = unreadable_file("tdenied");
    let mut cases = vec![
        (
            missing.path().to_path_buf(),
            Some(std::io::ErrorKind::NotFound),
        ),
        (dir.path().to_path_buf(), Some(kind_of(EISDIR))),
    ];
    if enforced {
        cases.push((
            denied.path().to_path_buf(),
            Some(std::io::ErrorKind::PermissionDenied),
        ));
    } else {
        // Root: mode 000 is readable; the read succeeds.
        cases.push((denied.path().to_path_buf(), None));
    }
    for (path, want) in cases {
        let mut h = Harness::new();
        let id = h.spawn(TriggeredFileReader::new());
        let ask = h.feeder::<PathBuf>(id, "inbox").unwrap();
        let out = h.collector::<Bytes>(id, "outbox").unwrap();
        let sig = h.collector::<Signal>(id, "signal").unwrap();
        ask.send(path.clone()).unwrap();
        h.run_until_idle();
        match want {
            Some(kind) => {
                let s = sig.recv().expect("a failure");
                let e = file_error(&s);
                assert_eq!(e.kind(), kind, "{}", path.display());
                assert_eq!(e.path(), path);
                assert_eq!(e.op(), FileOp::Read);
                assert!(!h.is_alive(id));
            }
            None => assert_eq!(out.drain(), vec![Bytes::from_static(b"secret\n")]),
        }
        assert_eq!(h.scheduler().stats().panicked, 0);
    }
}

// --------------------------------------------------------- WholeFileWriter

#[test]
fn whole_file_writer_writes_exact_bytes_and_emits_the_path() {
    let a = TempPath::new("wa");
    let b = TempPath::with("wb", b"old contents that are longer");
    let mut h = Harness::new();
    let id = h.spawn(WholeFileWriter::new());
    let jobs = h.feeder::<(PathBuf, Bytes)>(id, "inbox").unwrap();
    let out = h.collector::<PathBuf>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    let data: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    jobs.send((a.path().to_path_buf(), Bytes::from(data.clone())))
        .unwrap();
    jobs.send((b.path().to_path_buf(), Bytes::from_static(b"new")))
        .unwrap();
    h.run_until_idle();
    assert_eq!(
        out.drain(),
        vec![a.path().to_path_buf(), b.path().to_path_buf()]
    );
    assert_eq!(a.read(), data);
    assert_eq!(b.read(), b"new", "truncated");
    assert_eq!(open_fds_on(a.path()), 0);
    assert_eq!(open_fds_on(b.path()), 0);
    assert!(h.is_sleeping(id));
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    jobs.send((a.path().to_path_buf(), Bytes::from_static(b"last")))
        .unwrap();
    ctl.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert_eq!(a.read(), b"last", "waiting jobs are done before finishing");
    assert_eq!(sig.drain(), vec![Signal::ProducerFinished]);
    assert!(!h.is_alive(id));
}

#[test]
fn whole_file_writer_shutdown_skips_waiting_jobs() {
    let a = TempPath::new("wskip");
    let mut h = Harness::new();
    let id = h.spawn(WholeFileWriter::new());
    let jobs = h.feeder::<(PathBuf, Bytes)>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    jobs.send((a.path().to_path_buf(), Bytes::from_static(b"x")))
        .unwrap();
    ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    assert_eq!(sig.drain(), vec![Signal::Shutdown]);
    assert!(!a.path().exists());
}

#[test]
fn whole_file_writer_back_pressure_holds_the_next_job() {
    let a = TempPath::new("wbp1");
    let b = TempPath::new("wbp2");
    let mut h = Harness::new();
    let id = h.spawn(WholeFileWriter::new());
    let jobs = h.feeder::<(PathBuf, Bytes)>(id, "inbox").unwrap();
    let out = h.bounded_collector::<PathBuf>(id, "outbox", 1).unwrap();
    jobs.send((a.path().to_path_buf(), Bytes::from_static(b"1")))
        .unwrap();
    jobs.send((b.path().to_path_buf(), Bytes::from_static(b"2")))
        .unwrap();
    h.run_until_idle();
    // The second file is written, its path held: the consumer is full.
    assert_eq!(out.len(), 1);
    assert!(h.is_sleeping(id));
    assert_eq!(out.recv(), Some(a.path().to_path_buf()));
    h.run_until_idle();
    assert_eq!(out.recv(), Some(b.path().to_path_buf()));
}

#[test]
fn whole_file_writer_errors_end_it_cleanly() {
    let dir = TempPath::new("wdir");
    std::fs::create_dir(dir.path()).unwrap();
    let (denied, enforced) = unreadable_file("wdenied");
    let missing_parent = TempPath::new("wnoparent");
    let mut cases = vec![
        (PathBuf::from("/dev/full"), FileOp::Write, kind_of(ENOSPC)),
        (dir.path().to_path_buf(), FileOp::Open, kind_of(EISDIR)),
        (
            missing_parent.path().join("child"),
            FileOp::Open,
            std::io::ErrorKind::NotFound,
        ),
    ];
    if enforced {
        cases.push((
            denied.path().to_path_buf(),
            FileOp::Open,
            std::io::ErrorKind::PermissionDenied,
        ));
    }
    for (path, op, kind) in cases {
        let mut h = Harness::new();
        let id = h.spawn(WholeFileWriter::new());
        let jobs = h.feeder::<(PathBuf, Bytes)>(id, "inbox").unwrap();
        let out = h.collector::<PathBuf>(id, "outbox").unwrap();
        let sig = h.collector::<Signal>(id, "signal").unwrap();
        jobs.send((path.clone(), Bytes::from_static(b"data")))
            .unwrap();
        h.run_until_idle();
        assert!(out.is_empty());
        let s = sig.recv().expect("a failure");
        let e = file_error(&s);
        assert_eq!((e.op(), e.kind()), (op, kind), "{}", path.display());
        assert_eq!(e.path(), path);
        assert!(!h.is_alive(id));
        assert_eq!(h.scheduler().stats().panicked, 0);
    }
}
