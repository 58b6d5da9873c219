//! TorrentService with the real TorrentClient inside, on a real scheduler:
//! two patrons share one client (one torrent between them, answers by
//! token), and when both have left the client is stopped and `run()`
//! returns: the original's service hung forever at this point.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use kamaelia::axon::{link, Inbox, Scheduler, Signal};
use kamaelia::internet::{Acceptor, TcpAcceptor};
use kamaelia::protocol::torrent::client::{
    ClientConfig, ClientEvent, ClientFactory, ClientParts, ClientRequest, TorrentClient,
    TorrentPatron, TorrentSource,
};
use kamaelia::protocol::torrent::maker::{make, MakeTorrent};

mod torrent_support;
use torrent_support::TempDir;

#[test]
fn two_patrons_share_the_real_client_and_the_run_ends_when_both_leave() {
    let dir = TempDir::new("service-real");
    let file = dir.file("shared.bin", 200_000, 6);
    let torrent = make(
        &MakeTorrent::new(&file)
            .piece_length(32_768)
            .creation_date(None),
    )
    .unwrap()
    .torrent;
    let save = dir.path().to_path_buf();
    let factory: ClientFactory = Rc::new(move || {
        let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let acceptor = TcpAcceptor::bind(listen, 16).unwrap();
        let config = ClientConfig {
            download_dir: save.clone(),
            ..ClientConfig::default()
        };
        ClientParts::new(TorrentClient::new(
            config,
            Some(Box::new(acceptor) as Box<dyn Acceptor>),
        ))
    });
    let mut s = Scheduler::new();
    let mut users = Vec::new();
    for token in [1, 2] {
        let p = TorrentPatron::new(factory.clone());
        let (got, sig) = (Inbox::new("got", ""), Inbox::new("sig", ""));
        link(&p.outbox, &got).unwrap();
        link(&p.signal, &sig).unwrap();
        p.inbox
            .address()
            .deliver(ClientRequest::Create {
                token,
                source: TorrentSource::Metainfo(torrent.clone()),
                save_dir: None,
                peers: vec![],
            })
            .unwrap();
        users.push((p.control.address(), got, sig, Vec::new()));
        s.spawn(p);
    }
    // Both answered, by their own tokens; the torrent is complete (the
    // data is in the download folder) and both hear so.
    let start = Instant::now();
    loop {
        s.run_for(Duration::from_millis(20));
        for (_, got, _, seen) in users.iter_mut() {
            while let Some(ev) = got.recv() {
                seen.push(ev);
            }
        }
        let done = users.iter().all(|u| {
            u.3.iter()
                .any(|e| matches!(e, ClientEvent::Status(st) if st.pieces_have == st.pieces_total))
        });
        if done {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{:?}",
            users.iter().map(|u| &u.3).collect::<Vec<_>>()
        );
    }
    let answers: Vec<Vec<&ClientEvent>> = users
        .iter()
        .map(|u| u.3.iter().filter(|e| e.token().is_some()).collect())
        .collect();
    // One created it, the other was told it runs already, each by its token.
    let created =
        |e: &ClientEvent, t| matches!(e, ClientEvent::Created { token, id: 1, .. } if *token == t);
    let already = |e: &ClientEvent, t| *e == ClientEvent::AlreadyDownloading { token: t, id: 1 };
    assert_eq!(answers[0].len(), 1);
    assert_eq!(answers[1].len(), 1);
    assert!(
        (created(answers[0][0], 1) && already(answers[1][0], 2))
            || (already(answers[0][0], 1) && created(answers[1][0], 2)),
        "{answers:?}"
    );
    // Both leave: the service stops the client and the run ends.
    for (control, ..) in &users {
        control.deliver(Signal::Shutdown).unwrap();
    }
    let start = Instant::now();
    while s.run_for(Duration::from_millis(50)).is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the run did not end"
        );
    }
    for (_, _, sig, _) in &users {
        assert_eq!(sig.recv(), Some(Signal::Shutdown));
    }
}
