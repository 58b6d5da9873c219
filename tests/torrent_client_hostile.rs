//! TorrentClient against a lying peer, over real sockets on 127.0.0.1: a
//! "seed" (a thread speaking the protocol with the project's
//! `PeerSession`) that answers every request with wrong bytes. Its first
//! piece fails its hash, it is banned (disconnected), nothing of its data
//! reaches the file, and the download completes from the honest seed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kamaelia::axon::{link, Address, Inbox, Scheduler, Signal};
use kamaelia::internet::{Acceptor, TcpAcceptor};
use kamaelia::protocol::torrent::client::{
    peer_id_from, ClientConfig, ClientEvent, ClientRequest, TorrentClient, TorrentSource,
};
use kamaelia::protocol::torrent::maker::{make, MakeTorrent};
use kamaelia::protocol::torrent::metainfo::Metainfo;
use kamaelia::protocol::torrent::peer::{PeerConfig, PeerEvent, PeerSession};
use kamaelia::protocol::torrent::pieces::{Bitfield, Layout};

mod torrent_support;
use torrent_support::TempDir;

/// A peer that has every piece and sends garbage for each block asked.
/// Returns its address, and the count of blocks it sent, of its
/// connections that ended and of those it took.
fn liar(meta: &Metainfo) -> (SocketAddr, Arc<AtomicU64>, Arc<AtomicU64>, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (sent, ended) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let taken = Arc::new(AtomicU64::new(0));
    let (s2, e2, t2) = (sent.clone(), ended.clone(), taken.clone());
    let layout = Layout::of(meta).unwrap();
    let hash = meta.info_hash();
    std::thread::spawn(move || {
        // One connection at a time, for at most 30 s each.
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            t2.fetch_add(1, Ordering::SeqCst);
            stream
                .set_read_timeout(Some(Duration::from_millis(20)))
                .unwrap();
            let now = Instant::now();
            let mut s = PeerSession::new(
                *b"-XX0001-liarliarliar",
                hash,
                layout,
                Bitfield::full(layout.piece_count()),
                PeerConfig::default(),
                now,
            );
            let mut buf = vec![0u8; 65536];
            let end = now + Duration::from_secs(30);
            while Instant::now() < end && !s.is_closed() {
                let out = s.take_output();
                if !out.is_empty() && stream.write_all(&out).is_err() {
                    break;
                }
                match stream.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => s.on_bytes(&buf[..n], Instant::now()),
                    Err(_) => {}
                }
                while let Some(ev) = s.poll_event() {
                    if ev == PeerEvent::Interest(true) {
                        s.unchoke();
                    }
                }
                while let Some(r) = s.pop_upload() {
                    s.send_block(r, &vec![0xEE; r.len as usize]);
                    s2.fetch_add(1, Ordering::SeqCst);
                }
            }
            e2.fetch_add(1, Ordering::SeqCst);
        }
    });
    (addr, sent, ended, taken)
}

struct Node {
    requests: Address<ClientRequest>,
    control: Address<Signal>,
    events: Inbox<ClientEvent>,
    addr: Option<SocketAddr>,
}

fn node(s: &mut Scheduler, n: u64, listen: bool) -> Node {
    let config = ClientConfig {
        peer_id: peer_id_from(n),
        seed_rng: n,
        ..ClientConfig::default()
    };
    let acceptor = listen.then(|| {
        Box::new(TcpAcceptor::bind("127.0.0.1:0".parse().unwrap(), 16).unwrap())
            as Box<dyn Acceptor>
    });
    let c = TorrentClient::new(config, acceptor);
    let events = Inbox::new("events", "");
    link(&c.outbox, &events).unwrap();
    let node = Node {
        requests: c.inbox.address(),
        control: c.control.address(),
        events,
        addr: c.listen_addr(),
    };
    s.spawn(c);
    node
}

#[test]
fn a_peer_sending_bad_data_is_banned_and_the_download_completes_from_the_honest_one() {
    let dir = TempDir::new("client-liar");
    let file = dir.file("seed/x.bin", 600_000, 9);
    let made = make(
        &MakeTorrent::new(&file)
            .piece_length(32_768)
            .creation_date(None),
    )
    .unwrap();
    let torrent: Bytes = made.torrent;
    let meta = Metainfo::from_bytes(&torrent).unwrap();
    let (liar_addr, sent, ended, taken) = liar(&meta);
    let mut s = Scheduler::new();
    let seed = node(&mut s, 1, true);
    let get = node(&mut s, 2, false);
    let create = |n: &Node, dir: std::path::PathBuf, peers: Vec<SocketAddr>| {
        n.requests
            .deliver(ClientRequest::Create {
                token: 1,
                source: TorrentSource::Metainfo(torrent.clone()),
                save_dir: Some(dir),
                peers,
            })
            .unwrap();
    };
    create(&seed, dir.path().join("seed"), vec![]);
    // The liar first, so it is asked before the honest seed is met.
    create(&get, dir.path().join("get"), vec![liar_addr]);
    let start = Instant::now();
    let mut added = false;
    let mut complete = false;
    while !complete {
        s.run_for(Duration::from_millis(20));
        while let Some(ev) = get.events.recv() {
            complete |= ev == ClientEvent::Complete(1);
        }
        while seed.events.recv().is_some() {}
        // The honest seed is told of once the liar has been caught.
        if !added && ended.load(Ordering::SeqCst) > 0 {
            get.requests
                .deliver(ClientRequest::AddPeer(1, seed.addr.unwrap()))
                .unwrap();
            added = true;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "not complete: liar sent {} blocks, ended {}",
            sent.load(Ordering::SeqCst),
            ended.load(Ordering::SeqCst)
        );
    }
    assert!(
        sent.load(Ordering::SeqCst) >= 2,
        "the liar sent at least a piece"
    );
    assert!(
        ended.load(Ordering::SeqCst) >= 1,
        "the liar was disconnected"
    );
    assert_eq!(
        std::fs::read(dir.path().join("get/x.bin")).unwrap(),
        std::fs::read(&file).unwrap()
    );
    // Banned: not dialled again (a peer that merely left would be, 1 s on).
    let until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < until {
        s.run_for(Duration::from_millis(50));
    }
    assert_eq!(
        taken.load(Ordering::SeqCst),
        1,
        "the liar was dialled again"
    );
    for n in [&seed, &get] {
        n.control.deliver(Signal::Shutdown).unwrap();
    }
    let start = Instant::now();
    while s.run_for(Duration::from_millis(50)).is_none() {
        assert!(start.elapsed() < Duration::from_secs(10));
    }
}
