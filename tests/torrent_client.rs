//! TorrentClient end to end on 127.0.0.1: one client seeds, others
//! download, all in one scheduler, each run bounded in time. The files
//! the downloaders write are compared byte for byte with the seed's.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kamaelia::axon::{link, Inbox, Scheduler, Signal};
use kamaelia::internet::TcpAcceptor;
use kamaelia::protocol::torrent::client::{
    peer_id_from, ClientConfig, ClientEvent, ClientRequest, TorrentClient, TorrentSource,
    TorrentState,
};
use kamaelia::protocol::torrent::maker::{make, MakeTorrent};
use kamaelia::protocol::torrent::metainfo::Metainfo;
use kamaelia::protocol::torrent::peer::{PeerConfig, PeerEvent, PeerSession};
use kamaelia::protocol::torrent::pieces::{Bitfield, BlockRef, Layout};

mod torrent_support;
use torrent_support::TempDir;

const LIMIT: Duration = Duration::from_secs(30);

struct Node {
    requests: kamaelia::axon::Address<ClientRequest>,
    control: kamaelia::axon::Address<Signal>,
    events: Inbox<ClientEvent>,
    signal: Inbox<Signal>,
    addr: Option<SocketAddr>,
}

fn config_of(n: u64, dir: &Path) -> ClientConfig {
    ClientConfig {
        peer_id: peer_id_from(n),
        download_dir: dir.to_path_buf(),
        seed_rng: n,
        ..ClientConfig::default()
    }
}

fn node(s: &mut Scheduler, n: u64, dir: &Path, listen: bool) -> Node {
    node_with(s, config_of(n, dir), listen)
}

fn node_with(s: &mut Scheduler, config: ClientConfig, listen: bool) -> Node {
    let acceptor = listen.then(|| {
        Box::new(TcpAcceptor::bind("127.0.0.1:0".parse().unwrap(), 128).unwrap())
            as Box<dyn kamaelia::internet::Acceptor>
    });
    let client = TorrentClient::new(config, acceptor);
    let addr = client.listen_addr();
    let (events, signal) = (Inbox::new("events", ""), Inbox::new("sig", ""));
    link(&client.outbox, &events).unwrap();
    link(&client.signal, &signal).unwrap();
    let node = Node {
        requests: client.inbox.address(),
        control: client.control.address(),
        events,
        signal,
        addr,
    };
    s.spawn(client);
    node
}

fn torrent_of(path: &Path, piece: u64) -> Bytes {
    let made = make(
        &MakeTorrent::new(path)
            .piece_length(piece)
            .creation_date(None),
    )
    .unwrap();
    made.torrent
}

fn create(n: &Node, token: u64, torrent: &Bytes, dir: &Path, peers: Vec<SocketAddr>) {
    n.requests
        .deliver(ClientRequest::Create {
            token,
            source: TorrentSource::Metainfo(torrent.clone()),
            save_dir: Some(dir.to_path_buf()),
            peers,
        })
        .unwrap();
}

/// Runs until `done` holds for the events seen so far (each node's kept
/// in order), or fails after LIMIT.
fn run_until(
    s: &mut Scheduler,
    nodes: &[&Node],
    seen: &mut Vec<Vec<ClientEvent>>,
    mut done: impl FnMut(&[Vec<ClientEvent>]) -> bool,
) {
    seen.resize(nodes.len(), Vec::new());
    let start = Instant::now();
    loop {
        s.run_for(Duration::from_millis(20));
        for (i, n) in nodes.iter().enumerate() {
            while let Some(ev) = n.events.recv() {
                seen[i].push(ev);
            }
        }
        if done(seen) {
            return;
        }
        assert!(
            start.elapsed() < LIMIT,
            "timed out; events: {:#?}",
            seen.iter()
                .map(|v| v
                    .iter()
                    .filter(|e| !matches!(e, ClientEvent::Status(_)))
                    .collect::<Vec<_>>())
                .collect::<Vec<_>>()
        );
    }
}

fn completed(events: &[ClientEvent]) -> bool {
    events.iter().any(|e| matches!(e, ClientEvent::Complete(_)))
}

fn same_file(a: &Path, b: &Path) {
    let (x, y) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    assert_eq!(x.len(), y.len(), "{} and {}", a.display(), b.display());
    assert!(x == y, "{} differs from {}", b.display(), a.display());
}

fn shut(s: &mut Scheduler, nodes: &[&Node]) {
    for n in nodes {
        n.control.deliver(Signal::Shutdown).unwrap();
    }
    let start = Instant::now();
    while s.run_for(Duration::from_millis(50)).is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the clients did not end"
        );
    }
    for n in nodes {
        assert_eq!(n.signal.recv(), Some(Signal::Shutdown));
    }
}

#[test]
fn one_seed_one_downloader_over_loopback() {
    let dir = TempDir::new("client-pair");
    let seed_dir = dir.path().join("seed");
    let get_dir = dir.path().join("get");
    std::fs::create_dir_all(&seed_dir).unwrap();
    std::fs::create_dir_all(&get_dir).unwrap();
    // 3 MiB and a bit: the last piece is short.
    let file = dir.file("seed/data.bin", 3 * 1024 * 1024 + 12_345, 7);
    let torrent = torrent_of(&file, 64 * 1024);
    let mut s = Scheduler::new();
    let seed = node(&mut s, 1, &seed_dir, true);
    let get = node(&mut s, 2, &get_dir, false);
    create(&seed, 10, &torrent, &seed_dir, vec![]);
    create(&get, 20, &torrent, &get_dir, vec![seed.addr.unwrap()]);
    let mut seen = Vec::new();
    run_until(&mut s, &[&seed, &get], &mut seen, |ev| {
        completed(&ev[0]) && completed(&ev[1])
    });
    // The seed was complete at its check; the downloader's answer names
    // its token, and its last status says seeding.
    assert!(matches!(
        seen[0][0],
        ClientEvent::Created {
            token: 10,
            id: 1,
            ..
        }
    ));
    assert!(matches!(
        seen[1][0],
        ClientEvent::Created {
            token: 20,
            id: 1,
            ..
        }
    ));
    same_file(&file, &get_dir.join("data.bin"));
    run_until(&mut s, &[&seed, &get], &mut seen, |ev| {
        ev[1].iter().rev().find_map(|e| match e {
            ClientEvent::Status(st) => {
                Some(st.state == TorrentState::Seeding && st.pieces_have == st.pieces_total)
            }
            _ => None,
        }) == Some(true)
    });
    shut(&mut s, &[&seed, &get]);
}

#[test]
fn already_downloading_and_bad_metainfo_are_answered_by_token() {
    let dir = TempDir::new("client-answers");
    let file = dir.file("a.bin", 100_000, 3);
    let torrent = torrent_of(&file, 32 * 1024);
    let mut s = Scheduler::new();
    let n = node(&mut s, 1, dir.path(), false);
    create(&n, 5, &torrent, dir.path(), vec![]);
    create(&n, 6, &torrent, dir.path(), vec![]);
    create(
        &n,
        7,
        &Bytes::from_static(b"d4:infoi3ee"),
        dir.path(),
        vec![],
    );
    n.requests
        .deliver(ClientRequest::Create {
            token: 8,
            source: TorrentSource::Magnet("magnet:?xt=urn:btih:zz".into()),
            save_dir: None,
            peers: vec![],
        })
        .unwrap();
    n.requests.deliver(ClientRequest::Close(42)).unwrap();
    let mut seen = Vec::new();
    run_until(&mut s, &[&n], &mut seen, |ev| completed(&ev[0]));
    let answers: Vec<_> = seen[0]
        .iter()
        .filter(|e| !matches!(e, ClientEvent::Status(_)))
        .collect();
    assert!(matches!(
        answers[0],
        ClientEvent::Created {
            token: 5,
            id: 1,
            ..
        }
    ));
    assert_eq!(
        answers[1],
        &ClientEvent::AlreadyDownloading { token: 6, id: 1 }
    );
    assert!(matches!(
        answers[2],
        ClientEvent::StartFailed { token: 7, .. }
    ));
    assert!(matches!(
        answers[3],
        ClientEvent::StartFailed { token: 8, .. }
    ));
    assert_eq!(
        answers[4],
        &ClientEvent::Closed {
            id: 42,
            existed: false
        }
    );
    // The data was all there: complete at the check.
    assert_eq!(answers[5], &ClientEvent::Complete(1));
    n.requests.deliver(ClientRequest::Close(1)).unwrap();
    run_until(&mut s, &[&n], &mut seen, |ev| {
        ev[0].contains(&ClientEvent::Closed {
            id: 1,
            existed: true,
        })
    });
    shut(&mut s, &[&n]);
}

#[test]
fn one_seed_four_downloaders_at_once_each_also_told_of_the_others() {
    let dir = TempDir::new("client-four");
    let seed_dir = dir.path().join("seed");
    std::fs::create_dir_all(&seed_dir).unwrap();
    let file = dir.file("seed/data.bin", 2 * 1024 * 1024 + 999, 11);
    let torrent = torrent_of(&file, 32 * 1024);
    let mut s = Scheduler::new();
    let seed = node(&mut s, 1, &seed_dir, true);
    create(&seed, 1, &torrent, &seed_dir, vec![]);
    let mut gets = Vec::new();
    let mut addrs = vec![seed.addr.unwrap()];
    for i in 0..4 {
        let d = dir.path().join(format!("get{i}"));
        std::fs::create_dir_all(&d).unwrap();
        let n = node(&mut s, 10 + i, &d, true);
        create(&n, 1, &torrent, &d, addrs.clone());
        addrs.push(n.addr.unwrap());
        gets.push((n, d));
    }
    let mut all: Vec<&Node> = vec![&seed];
    all.extend(gets.iter().map(|(n, _)| n));
    let mut seen = Vec::new();
    run_until(&mut s, &all, &mut seen, |ev| {
        ev[1..].iter().all(|e| completed(e))
    });
    for (_, d) in &gets {
        same_file(&file, &d.join("data.bin"));
    }
    shut(&mut s, &all);
}

#[test]
fn a_magnet_link_gets_its_metadata_from_the_seed_then_the_data() {
    let dir = TempDir::new("client-magnet");
    let seed_dir = dir.path().join("seed");
    let get_dir = dir.path().join("get");
    std::fs::create_dir_all(&seed_dir).unwrap();
    std::fs::create_dir_all(&get_dir).unwrap();
    let file = dir.file("seed/m.bin", 1_000_000, 5);
    let torrent = torrent_of(&file, 32 * 1024);
    let meta = kamaelia::protocol::torrent::metainfo::Metainfo::from_bytes(&torrent).unwrap();
    let mut s = Scheduler::new();
    let seed = node(&mut s, 1, &seed_dir, true);
    let get = node(&mut s, 2, &get_dir, false);
    create(&seed, 1, &torrent, &seed_dir, vec![]);
    let mut magnet = meta.magnet();
    magnet.peers.push(seed.addr.unwrap().to_string());
    get.requests
        .deliver(ClientRequest::Create {
            token: 3,
            source: TorrentSource::Magnet(magnet.to_string()),
            save_dir: Some(get_dir.clone()),
            peers: vec![],
        })
        .unwrap();
    let mut seen = Vec::new();
    run_until(&mut s, &[&seed, &get], &mut seen, |ev| completed(&ev[1]));
    same_file(&file, &get_dir.join("m.bin"));
    let ours: Vec<_> = seen[1]
        .iter()
        .filter(|e| !matches!(e, ClientEvent::Status(_)))
        .collect();
    // Created (named by the link's dn), then the metadata, then complete.
    assert!(
        matches!(ours[0], ClientEvent::Created { token: 3, id: 1, name, .. } if name == "m.bin")
    );
    match ours[1] {
        ClientEvent::MetadataReceived { id: 1, metainfo } => {
            let got =
                kamaelia::protocol::torrent::metainfo::Metainfo::from_bytes(metainfo).unwrap();
            assert_eq!(got.info_hash(), meta.info_hash());
            assert_eq!(got.raw_info(), meta.raw_info());
        }
        other => panic!("expected the metadata, got {other:?}"),
    }
    assert_eq!(ours[2], &ClientEvent::Complete(1));
    shut(&mut s, &[&seed, &get]);
}

/// A download under a limit of `rate` bytes a second takes at least the
/// time the limit allows (after its burst of 64 KiB). Only the lower
/// bound is checked: a slow machine may take longer, never less.
fn limited_download(seed_limit: Option<u64>, per_torrent_limit: Option<u64>) -> Duration {
    let dir = TempDir::new("client-limit");
    let seed_dir = dir.path().join("seed");
    let get_dir = dir.path().join("get");
    std::fs::create_dir_all(&seed_dir).unwrap();
    std::fs::create_dir_all(&get_dir).unwrap();
    let file = dir.file("seed/l.bin", 512 * 1024, 4);
    let torrent = torrent_of(&file, 32 * 1024);
    let mut s = Scheduler::new();
    let config = ClientConfig {
        peer_id: peer_id_from(1),
        upload_limit: seed_limit,
        ..ClientConfig::default()
    };
    let acceptor = TcpAcceptor::bind("127.0.0.1:0".parse().unwrap(), 16).unwrap();
    let client = TorrentClient::new(
        config,
        Some(Box::new(acceptor) as Box<dyn kamaelia::internet::Acceptor>),
    );
    let seed_addr = client.listen_addr().unwrap();
    let (events, signal) = (Inbox::new("events", ""), Inbox::new("sig", ""));
    link(&client.outbox, &events).unwrap();
    link(&client.signal, &signal).unwrap();
    let seed = Node {
        requests: client.inbox.address(),
        control: client.control.address(),
        events,
        signal,
        addr: Some(seed_addr),
    };
    s.spawn(client);
    let get = node(&mut s, 2, &get_dir, false);
    create(&seed, 1, &torrent, &seed_dir, vec![]);
    let mut seen = Vec::new();
    run_until(&mut s, &[&seed, &get], &mut seen, |ev| completed(&ev[0]));
    let start = Instant::now();
    create(&get, 1, &torrent, &get_dir, vec![seed_addr]);
    // Taken in order with the create: the torrent exists by then.
    if let Some(rate) = per_torrent_limit {
        get.requests
            .deliver(ClientRequest::SetLimits {
                id: Some(1),
                upload: 0,
                download: rate,
            })
            .unwrap();
    }
    run_until(&mut s, &[&seed, &get], &mut seen, |ev| completed(&ev[1]));
    let took = start.elapsed();
    same_file(&file, &get_dir.join("l.bin"));
    shut(&mut s, &[&seed, &get]);
    took
}

#[test]
fn a_global_upload_limit_holds_the_seed_to_its_rate() {
    // 512 KiB at 256 KiB/s after a 64 KiB burst: at least 1.75 s.
    let took = limited_download(Some(256 * 1024), None);
    assert!(took >= Duration::from_millis(1700), "took {took:?}");
}

#[test]
fn a_per_torrent_download_limit_holds_the_downloader_to_its_rate() {
    let took = limited_download(None, Some(256 * 1024));
    assert!(took >= Duration::from_millis(1700), "took {took:?}");
}

/// A leecher the test drives on the scheduler's thread: the project's
/// `PeerSession` over a non-blocking socket, pumped between scheduler runs.
struct Leecher {
    stream: TcpStream,
    session: PeerSession,
    unsent: Vec<u8>,
}

impl Leecher {
    fn connect(to: SocketAddr, meta: &Metainfo) -> Leecher {
        let layout = Layout::of(meta).unwrap();
        let session = PeerSession::new(
            *b"-XX0001-leecherleech",
            meta.info_hash(),
            layout,
            Bitfield::new(layout.piece_count()),
            PeerConfig::default(),
            Instant::now(),
        );
        let stream = TcpStream::connect(to).unwrap();
        stream.set_nonblocking(true).unwrap();
        Leecher {
            stream,
            session,
            unsent: Vec::new(),
        }
    }

    /// Writes what the session has to say, reads what has come, and
    /// returns the session's events.
    fn pump(&mut self) -> Vec<PeerEvent> {
        self.unsent.extend_from_slice(&self.session.take_output());
        while !self.unsent.is_empty() {
            match self.stream.write(&self.unsent) {
                Ok(n) => drop(self.unsent.drain(..n)),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("leecher write: {e}"),
            }
        }
        let mut buf = [0u8; 65536];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("the client closed the leecher's connection"),
                Ok(n) => self.session.on_bytes(&buf[..n], Instant::now()),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("leecher read: {e}"),
            }
        }
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }
}

#[test]
fn uploads_of_the_newest_verified_pieces_come_from_memory_older_ones_from_disk() {
    // 8 pieces of 32 KiB; the downloader keeps 64 KiB (two pieces) of
    // its newest verified pieces in memory.
    const PIECE: usize = 32 * 1024;
    let dir = TempDir::new("client-recent");
    let (seed_dir, get_dir) = (dir.path().join("seed"), dir.path().join("get"));
    let file = dir.file("seed/r.bin", 8 * PIECE, 5);
    let torrent = torrent_of(&file, PIECE as u64);
    let meta = Metainfo::from_bytes(&torrent).unwrap();
    let mut s = Scheduler::new();
    let seed = node(&mut s, 1, &seed_dir, true);
    let get_config = ClientConfig {
        recent_pieces: 2 * PIECE,
        ..config_of(2, &get_dir)
    };
    let get = node_with(&mut s, get_config, true);
    create(&seed, 1, &torrent, &seed_dir, vec![]);
    create(&get, 1, &torrent, &get_dir, vec![seed.addr.unwrap()]);
    let mut seen = Vec::new();
    run_until(&mut s, &[&seed, &get], &mut seen, |ev| completed(&ev[1]));
    // The downloader's file now says something else than what it got: a
    // block read from disk is 0xAA, one served from memory the original.
    let original = std::fs::read(&file).unwrap();
    std::fs::write(get_dir.join("r.bin"), vec![0xAA; original.len()]).unwrap();

    let mut leecher = Leecher::connect(get.addr.unwrap(), &meta);
    let mut got: Vec<(u32, Bytes)> = Vec::new();
    let (mut asked, start) = (false, Instant::now());
    while got.len() < 8 {
        s.run_for(Duration::from_millis(5));
        while get.events.recv().is_some() {}
        while seed.events.recv().is_some() {}
        for ev in leecher.pump() {
            match ev {
                PeerEvent::Bitfield | PeerEvent::HaveAll => leecher.session.set_interested(true),
                PeerEvent::Unchoked if !asked => {
                    let first_blocks: Vec<BlockRef> = (0..8)
                        .map(|piece| BlockRef {
                            piece,
                            offset: 0,
                            len: 16_384,
                        })
                        .collect();
                    assert_eq!(leecher.session.request(&first_blocks), 8);
                    asked = true;
                }
                PeerEvent::Block { block, data, .. } => got.push((block.piece, data)),
                _ => {}
            }
        }
        assert!(
            start.elapsed() < LIMIT,
            "the leecher got {} of 8 blocks (asked: {asked})",
            got.len()
        );
    }
    got.sort_by_key(|(piece, _)| *piece);
    let (mut from_memory, mut from_disk) = (Vec::new(), Vec::new());
    for (piece, data) in &got {
        let at = *piece as usize * PIECE;
        if data[..] == original[at..at + 16_384] {
            from_memory.push(*piece);
        } else if data.iter().all(|&b| b == 0xAA) {
            from_disk.push(*piece);
        } else {
            panic!("piece {piece}'s block is neither the original nor what is on disk");
        }
    }
    assert_eq!(got.len(), 8, "one answer per request");
    assert_eq!(from_memory.len(), 2, "kept in memory: {from_memory:?}");
    assert_eq!(from_disk.len(), 6, "read from disk: {from_disk:?}");
    shut(&mut s, &[&seed, &get]);
}
