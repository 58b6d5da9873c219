//! TorrentClient's timers on virtual time, step by step, no network:
//! scripted connections stand in for peers. What is checked: a status
//! message per torrent every second; a peer that closes before its
//! handshake is dialled again after 1, 2, 4, 8, 16 s, then every 30 s
//! (`redial_after`); a magnet link no peer serves fails after
//! `metadata_timeout` with `NoMetadata`, and its close is answered.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use kamaelia::internet::Transport;
use kamaelia::protocol::torrent::client::{
    ClientConfig, ClientEvent, ClientRequest, StartError, TorrentClient, TorrentSource,
    TorrentState,
};
use kamaelia::protocol::torrent::maker::{make, MakeTorrent};
use kamaelia::testing::scripted::ScriptedConn;
use kamaelia::testing::{Collector, Feeder, Harness};

mod torrent_support;
use torrent_support::TempDir;

/// A client whose every dial reaches a peer that closes at once; the
/// virtual times of the dials are kept.
fn client(
    h: &mut Harness,
    dir: &std::path::Path,
) -> (
    Feeder<ClientRequest>,
    Collector<ClientEvent>,
    Rc<Cell<usize>>,
) {
    let dials = Rc::new(Cell::new(0));
    let d2 = dials.clone();
    // The connector cannot read the scheduler's clock: it counts, and the
    // test stamps each dial with the virtual time of the step it came in.
    let connector = Box::new(move |_addr| {
        d2.set(d2.get() + 1);
        Ok(Box::new(ScriptedConn::new().eof()) as Box<dyn Transport>)
    });
    let config = ClientConfig {
        download_dir: dir.to_path_buf(),
        metadata_timeout: Duration::from_secs(120),
        ..ClientConfig::default()
    };
    let c = TorrentClient::new(config, None).with_connector(connector);
    let id = h.spawn(c);
    (
        h.feeder(id, "inbox").unwrap(),
        h.collector(id, "outbox").unwrap(),
        dials,
    )
}

/// Runs until the disk thread has answered the first check (a status
/// past `Checking`).
fn until_checked(h: &mut Harness, out: &Collector<ClientEvent>, seen: &mut Vec<ClientEvent>) {
    let start = std::time::Instant::now();
    loop {
        h.run_for(Duration::from_millis(100));
        seen.extend(out.drain());
        let checked = seen
            .iter()
            .any(|e| matches!(e, ClientEvent::Status(s) if s.state == TorrentState::Downloading));
        if checked {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{seen:?}");
        h.wait_for_wake(Duration::from_millis(100));
    }
}

#[test]
fn a_peer_closing_before_its_handshake_is_redialled_with_a_doubling_wait() {
    let dir = TempDir::new("timers-redial");
    let file = dir.file("f.bin", 70_000, 1);
    let torrent = make(
        &MakeTorrent::new(&file)
            .piece_length(32_768)
            .creation_date(None),
    )
    .unwrap()
    .torrent;
    let get = dir.path().join("get");
    let mut h = Harness::new();
    let (input, out, dials) = client(&mut h, &get);
    input
        .send(ClientRequest::Create {
            token: 1,
            source: TorrentSource::Metainfo(torrent),
            save_dir: None,
            peers: vec!["10.0.0.1:6881".parse().unwrap()],
        })
        .unwrap();
    let mut seen = Vec::new();
    until_checked(&mut h, &out, &mut seen);
    // Stamp each dial with the virtual second it happened in.
    let mut times = Vec::new();
    let t0 = h.now();
    for _ in 0..(100 * 10) {
        let before = dials.get();
        h.run_for(Duration::from_millis(100));
        let after = dials.get();
        for _ in before..after {
            times.push(h.now().duration_since(t0));
        }
    }
    assert!(dials.get() >= 7, "{times:?}");
    let gaps: Vec<u64> = times
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis().div_ceil(1000) as u64)
        .collect();
    // The first dial came with the check (before t0); the waits then
    // double from 1 s, each at the next 1 s tick, up to 30 s.
    assert_eq!(&gaps[..6], &[2, 4, 8, 16, 30, 30], "dial times {times:?}");
    // One status a second all along, none missed.
    let statuses = out
        .drain()
        .into_iter()
        .filter(|e| matches!(e, ClientEvent::Status(_)))
        .count();
    assert!(
        (99..=101).contains(&statuses),
        "{statuses} statuses in 100 s"
    );
}

#[test]
fn a_magnet_link_nobody_serves_fails_after_the_metadata_timeout() {
    let dir = TempDir::new("timers-magnet");
    let mut h = Harness::new();
    let (input, out, dials) = client(&mut h, dir.path());
    let link = format!(
        "magnet:?xt=urn:btih:{}&dn=lost&x.pe=10.0.0.2:6881",
        "ab".repeat(20)
    );
    input
        .send(ClientRequest::Create {
            token: 9,
            source: TorrentSource::Magnet(link),
            save_dir: None,
            peers: vec![],
        })
        .unwrap();
    h.run_for(Duration::from_secs(119));
    let events = out.drain();
    assert!(
        matches!(&events[0], ClientEvent::Created { token: 9, id: 1, name, .. } if name == "lost")
    );
    assert!(events
        .iter()
        .all(|e| !matches!(e, ClientEvent::Error { .. })));
    assert!(events.iter().any(|e| matches!(e, ClientEvent::Status(s) if s.state == TorrentState::Metadata && s.total_bytes == 0)));
    assert!(
        dials.get() >= 5,
        "the link's x.pe peer was dialled again and again"
    );
    h.run_for(Duration::from_secs(2));
    let events = out.drain();
    let errors: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, ClientEvent::Error { .. }))
        .collect();
    assert_eq!(
        errors,
        vec![&ClientEvent::Error {
            id: 1,
            reason: StartError::NoMetadata.to_string()
        }]
    );
    assert!(events.contains(&ClientEvent::Closed {
        id: 1,
        existed: true
    }));
}
