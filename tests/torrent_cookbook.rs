//! The cookbook tool (`examples/torrent_cookbook.rs`, reference §4.6): its
//! line parser and router, its request maker, its `id:file:percent`
//! formatter, and the whole graph end to end on a FakeClient (a real
//! TorrentMaker thread, a real file reader, a real HTTP fetch from
//! 127.0.0.1). And the TorrentSeeder sketch (`examples/torrent_seeder.rs`)
//! end to end: `.torrent` files written beside their files, the files
//! seeded, missing ones refused.

#[allow(dead_code)]
#[path = "../examples/torrent_cookbook.rs"]
mod cookbook;

#[allow(dead_code)]
#[path = "../examples/torrent_seeder.rs"]
mod seeder;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use cookbook::{parse_instruction, Instruction, InstructionParser, ProgressFormatter, Requests};
use kamaelia::axon::{Address, Ended, Signal};
use kamaelia::protocol::http::client::{Fetched, HttpJob, Response, Url};
use kamaelia::protocol::torrent::client::{
    ClientEvent, ClientFactory, ClientParts, ClientRequest, FakeAction, FakeClient, FakeLog,
    StartError, TorrentSource, TorrentState, TorrentStatus,
};
use kamaelia::protocol::torrent::maker::{make, MadeTorrent, MakeTorrent};
use kamaelia::testing::Harness;
use kamaelia::util::{PassThrough, SharedBuffer};

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kamaelia-cookbook-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn lines_parse_to_exactly_one_instruction_each() {
    use Instruction::*;
    let cases: Vec<(&str, Instruction)> = vec![
        ("file:/tmp/song.ogg", MakeAndSeed("/tmp/song.ogg".into())),
        ("  file:a b.txt  ", MakeAndSeed("a b.txt".into())),
        (
            "torrent:http://host/x.torrent",
            Fetch("http://host/x.torrent".into()),
        ),
        (
            "torrent:HTTPS://host/x.torrent",
            Fetch("HTTPS://host/x.torrent".into()),
        ),
        ("torrent:/tmp/x.torrent", Read("/tmp/x.torrent".into())),
        (
            "torrent:httpdocs/x.torrent",
            Read("httpdocs/x.torrent".into()),
        ),
        (
            "magnet:?xt=urn:btih:00",
            Magnet("magnet:?xt=urn:btih:00".into()),
        ),
        ("", Nothing),
        ("   ", Nothing),
        ("file:", Unknown("file:".into())),
        ("torrent:", Unknown("torrent:".into())),
        ("FILE:/tmp/a", Unknown("FILE:/tmp/a".into())),
        ("hello", Unknown("hello".into())),
    ];
    for (line, want) in cases {
        assert_eq!(parse_instruction(line), want, "{line:?}");
    }
}

#[test]
fn the_parser_routes_each_line_to_its_box_and_refuses_missing_files() {
    let dir = temp_dir("parser");
    let song = dir.join("song.ogg");
    std::fs::write(&song, b"la").unwrap();
    let mut h = Harness::new();
    let id = h.spawn(InstructionParser::new());
    let lines = h.feeder::<String>(id, "inbox").unwrap();
    let files = h.collector::<PathBuf>(id, "outbox").unwrap();
    let fetch = h.collector::<HttpJob>(id, "fetch").unwrap();
    let read = h.collector::<PathBuf>(id, "read").unwrap();
    let magnet = h.collector::<String>(id, "magnet").unwrap();
    let errors = h.collector::<String>(id, "errors").unwrap();
    for l in [
        format!("file:{}", song.display()),
        format!("torrent:{}", song.display()),
        "torrent:http://127.0.0.1:1/a.torrent".to_string(),
        "magnet:?xt=urn:btih:ab".to_string(),
        "file:/no/such/file".to_string(),
        format!("torrent:{}", dir.display()), // a folder is no file
        "".to_string(),
        "what".to_string(),
    ] {
        lines.send(l).unwrap();
    }
    h.run_until_idle();
    assert_eq!(files.drain(), vec![song.clone()]);
    assert_eq!(read.drain(), vec![song]);
    assert_eq!(
        fetch.drain(),
        vec![HttpJob::Url("http://127.0.0.1:1/a.torrent".into())]
    );
    assert_eq!(magnet.drain(), vec!["magnet:?xt=urn:btih:ab".to_string()]);
    assert_eq!(
        errors.drain(),
        vec![
            "error: no such file: /no/such/file".to_string(),
            format!("error: no such file: {}", dir.display()),
            "error: not understood (file:PATH, torrent:URL, torrent:PATH or magnet:...): what"
                .to_string(),
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn status(id: u32, name: &str, have: u64, total: u64) -> ClientEvent {
    ClientEvent::Status(TorrentStatus {
        id,
        info_hash: [0; 20],
        name: name.to_string(),
        state: TorrentState::Downloading,
        total_bytes: total,
        have_bytes: have,
        pieces_have: if have == total { 4 } else { 0 },
        pieces_total: 4,
        downloaded: have,
        uploaded: 0,
        download_rate: 0,
        upload_rate: 0,
        peers: 0,
        seeds: 0,
    })
}

#[test]
fn progress_is_printed_only_when_the_whole_percentage_rises() {
    let mut f = ProgressFormatter::default();
    let created = ClientEvent::Created {
        token: 1,
        id: 1,
        info_hash: [0; 20],
        name: "song.ogg".into(),
        save_dir: "./song.ogg".into(),
    };
    assert_eq!(f.line(&created), None);
    let events = [
        status(1, "hash-name", 0, 1000),
        status(1, "hash-name", 9, 1000),    // 0.9%: still 0
        status(1, "hash-name", 50, 1000),   // 5
        status(2, "other", 500, 1000),      // another torrent, its status name
        status(1, "hash-name", 30, 1000),   // fell (a failed piece): nothing
        status(1, "hash-name", 59, 1000),   // 5 again: nothing
        status(1, "hash-name", 120, 1000),  // 12
        status(1, "hash-name", 999, 1000),  // 99, not 100 until every piece
        status(1, "hash-name", 1000, 1000), // 100
        status(1, "hash-name", 1000, 1000), // still 100: nothing
    ];
    let lines: Vec<String> = events.iter().filter_map(|e| f.line(e)).collect();
    assert_eq!(
        lines,
        vec![
            "1:song.ogg:0",
            "1:song.ogg:5",
            "2:other:50",
            "1:song.ogg:12",
            "1:song.ogg:99",
            "1:song.ogg:100"
        ]
    );
    // Failures are printed in the client's words; other events are not.
    let failed = ClientEvent::StartFailed {
        token: 3,
        reason: StartError::BadMetainfo("truncated".into()),
    };
    assert_eq!(
        f.line(&failed).as_deref(),
        Some("Torrent start failed: bad metainfo: truncated")
    );
    assert_eq!(f.line(&ClientEvent::Complete(1)), None);
    // Closed forgets the torrent: a later torrent with its id starts over.
    assert_eq!(
        f.line(&ClientEvent::Closed {
            id: 1,
            existed: true
        }),
        None
    );
    assert_eq!(f.line(&status(1, "new", 0, 10)).as_deref(), Some("1:new:0"));
}

#[test]
fn requests_are_numbered_and_made_torrents_seed_from_their_folder() {
    let mut h = Harness::new();
    let id = h.spawn(Requests::new());
    let made = h.feeder::<MadeTorrent>(id, "made").unwrap();
    let fetched = h.feeder::<Fetched>(id, "fetched").unwrap();
    let read = h.feeder::<Bytes>(id, "read").unwrap();
    let magnet = h.feeder::<String>(id, "magnet").unwrap();
    let out = h.collector::<ClientRequest>(id, "outbox").unwrap();
    let errors = h.collector::<String>(id, "errors").unwrap();
    let dir = temp_dir("requests");
    std::fs::write(dir.join("a.bin"), vec![1u8; 100]).unwrap();
    let m = make(&MakeTorrent::new(dir.join("a.bin")).creation_date(None)).unwrap();
    made.send(m.clone()).unwrap();
    h.run_until_idle();
    let url = Url::parse("http://127.0.0.1:9/x.torrent").unwrap();
    let response = |status: u16, body: &'static [u8]| -> Response {
        let head = kamaelia::protocol::http::Head {
            version: kamaelia::protocol::http::Version::Http11,
            method: Bytes::new(),
            target: Bytes::new(),
            status,
            reason: Bytes::new(),
            headers: kamaelia::protocol::http::Headers::new(),
            framing: kamaelia::protocol::http::Framing::None,
            keep_alive: false,
            icy: false,
        };
        Response {
            url: url.clone(),
            head,
            body: Bytes::from_static(body),
        }
    };
    fetched.send(Ok(response(200, b"d4:infoe"))).unwrap();
    fetched.send(Ok(response(404, b"gone"))).unwrap();
    h.run_until_idle();
    read.send(Bytes::from_static(b"file bytes")).unwrap();
    h.run_until_idle();
    magnet.send("magnet:?xt=urn:btih:ab".into()).unwrap();
    h.run_until_idle();
    let create = |token, source, save_dir| ClientRequest::Create {
        token,
        source,
        save_dir,
        peers: vec![],
    };
    assert_eq!(
        out.drain(),
        vec![
            create(
                1,
                TorrentSource::Metainfo(m.torrent.clone()),
                Some(dir.clone())
            ),
            create(
                2,
                TorrentSource::Metainfo(Bytes::from_static(b"d4:infoe")),
                None
            ),
            create(
                3,
                TorrentSource::Metainfo(Bytes::from_static(b"file bytes")),
                None
            ),
            create(
                4,
                TorrentSource::Magnet("magnet:?xt=urn:btih:ab".into()),
                None
            ),
        ]
    );
    assert_eq!(
        errors.drain(),
        vec!["error: http://127.0.0.1:9/x.torrent answered 404".to_string()]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------
// The whole tool, on an auto FakeClient.

type Made = Rc<RefCell<Vec<(Rc<RefCell<FakeLog>>, Address<FakeAction>)>>>;

fn auto_factory() -> (ClientFactory, Made) {
    let made: Made = Rc::default();
    let m = made.clone();
    let f: ClientFactory = Rc::new(move || {
        let fake = FakeClient::auto();
        m.borrow_mut().push((fake.log(), fake.script.address()));
        ClientParts::new(fake)
    });
    (f, made)
}

/// Runs until `done` holds, waiting for threads and sockets between
/// rounds (never sleeping, never moving virtual time); at most 10 s.
fn pump(h: &mut Harness, mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        h.run_until_idle();
        if done() {
            return;
        }
        h.wait_for_wake(Duration::from_millis(10));
    }
    panic!("not reached in time");
}

/// Serves `body` once, as HTTP/1.1 200, on 127.0.0.1.
fn serve_once(body: Vec<u8>) -> (String, std::thread::JoinHandle<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/chunk.torrent", l.local_addr().unwrap());
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 1024];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            req.extend_from_slice(&buf[..n]);
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(&body).unwrap();
        String::from_utf8_lossy(&req)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    });
    (url, t)
}

fn create_count(made: &Made) -> usize {
    made.borrow()
        .first()
        .map(|(log, _)| {
            log.borrow()
                .requests
                .iter()
                .filter(|r| matches!(r, ClientRequest::Create { .. }))
                .count()
        })
        .unwrap_or(0)
}

fn torrent_of(path: &Path) -> MadeTorrent {
    make(&MakeTorrent::new(path).creation_date(None)).unwrap()
}

#[test]
fn the_tool_makes_reads_fetches_and_follows_torrents_end_to_end() {
    let dir = temp_dir("tool");
    let song = dir.join("song.ogg");
    std::fs::write(&song, vec![7u8; 1000]).unwrap();
    let other = dir.join("other.bin");
    std::fs::write(&other, vec![8u8; 2000]).unwrap();
    let other_torrent = dir.join("other.torrent");
    std::fs::write(&other_torrent, &torrent_of(&other).torrent).unwrap();
    let third = dir.join("third.bin");
    std::fs::write(&third, vec![9u8; 3000]).unwrap();
    let third_made = torrent_of(&third);

    let (factory, made) = auto_factory();
    let console = PassThrough::<String>::new();
    let say = console.inbox.address();
    let screen = SharedBuffer::new();
    let g = cookbook::cookbook(Box::new(console), screen.clone(), factory).unwrap();
    let stop = g.find("control").unwrap().address::<Signal>().unwrap();
    let mut h = Harness::new();
    h.spawn(g);
    h.run_until_idle();

    say.deliver(format!("file:{}", song.display())).unwrap();
    pump(&mut h, || create_count(&made) == 1);
    say.deliver(format!("torrent:{}", other_torrent.display()))
        .unwrap();
    pump(&mut h, || create_count(&made) == 2);
    let (url, server) = serve_once(third_made.torrent.to_vec());
    say.deliver(format!("torrent:{url}")).unwrap();
    pump(&mut h, || create_count(&made) == 3);
    assert_eq!(server.join().unwrap(), "GET /chunk.torrent HTTP/1.1");
    say.deliver("magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=mag".into())
        .unwrap();
    say.deliver("torrent:/no/such.torrent".into()).unwrap();
    say.deliver("bogus".into()).unwrap();
    pump(&mut h, || create_count(&made) == 4);

    assert_eq!(made.borrow().len(), 1, "one client");
    let requests = made.borrow()[0].0.borrow().requests.clone();
    let seen: Vec<(u64, Option<PathBuf>)> = requests
        .iter()
        .map(|r| match r {
            ClientRequest::Create {
                token, save_dir, ..
            } => (*token, save_dir.clone()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        seen,
        vec![(1, Some(dir.clone())), (2, None), (3, None), (4, None)]
    );

    // The client reports progress (a status a second: each is taken
    // before the next comes; a burst would reach a slow reader merged,
    // the newest status per torrent): only rises are printed.
    let script = made.borrow()[0].1.clone();
    for ev in [
        status(1, "song.ogg", 0, 1000),
        status(2, "other.bin", 500, 2000),
        status(1, "song.ogg", 1000, 1000),
        status(2, "other.bin", 400, 2000),
        status(3, "third.bin", 3000, 3000),
    ] {
        script.deliver(FakeAction::Emit(ev)).unwrap();
        h.run_until_idle();
    }
    assert_eq!(
        screen.text(),
        "error: no such file: /no/such.torrent\n\
         error: not understood (file:PATH, torrent:URL, torrent:PATH or magnet:...): bogus\n\
         1:song.ogg:0\n\
         2:other.bin:25\n\
         1:song.ogg:100\n\
         3:third.bin:100\n"
    );

    // A shutdown on the graphline ends every part, the shared client too.
    stop.deliver(Signal::Shutdown).unwrap();
    pump(&mut h, || h_done(&made));
    assert_eq!(
        h.scheduler().run_for(Duration::from_secs(5)),
        Some(Ended::Completed)
    );
    assert!(h.scheduler().services().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

fn h_done(made: &Made) -> bool {
    made.borrow()[0].0.borrow().ended.is_some()
}

// ---------------------------------------------------------------------------
// The TorrentSeeder sketch.

#[test]
fn torrent_path_and_seed_request() {
    assert_eq!(
        seeder::torrent_path(Path::new("/a/b/song.ogg")),
        PathBuf::from("/a/b/song.ogg.torrent")
    );
    assert_eq!(
        seeder::torrent_path(Path::new("noext")),
        PathBuf::from("noext.torrent")
    );
    let dir = temp_dir("seedreq");
    std::fs::write(dir.join("x"), b"x").unwrap();
    let m = torrent_of(&dir.join("x"));
    assert_eq!(
        seeder::seed_request(3, m.clone()),
        ClientRequest::Create {
            token: 3,
            source: TorrentSource::Metainfo(m.torrent),
            save_dir: Some(dir.clone()),
            peers: vec![],
        }
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_seeder_writes_each_torrent_beside_its_file_and_seeds_it() {
    let dir = temp_dir("seeder");
    let a = dir.join("a.ogg");
    let b = dir.join("b.ogg");
    std::fs::write(&a, vec![1u8; 5000]).unwrap();
    std::fs::write(&b, vec![2u8; 7000]).unwrap();
    let (factory, made) = auto_factory();
    let console = PassThrough::<String>::new();
    let say = console.inbox.address();
    let screen = SharedBuffer::new();
    let g = seeder::seeder(Box::new(console), screen.clone(), factory).unwrap();
    let stop = g.find("control").unwrap().address::<Signal>().unwrap();
    let mut h = Harness::new();
    h.spawn(g);
    say.deliver(a.display().to_string()).unwrap();
    say.deliver(format!("{}/missing.ogg", dir.display()))
        .unwrap();
    say.deliver(format!("  {}  ", b.display())).unwrap();
    let (at, bt) = (dir.join("a.ogg.torrent"), dir.join("b.ogg.torrent"));
    pump(&mut h, || {
        create_count(&made) == 2 && screen.text().lines().count() == 5
    });
    // Each .torrent written is the one seeded, for the right file.
    let requests = made.borrow()[0].0.borrow().requests.clone();
    let mut seeded = Vec::new();
    for r in &requests {
        let ClientRequest::Create {
            token,
            source: TorrentSource::Metainfo(t),
            save_dir,
            ..
        } = r
        else {
            panic!("unexpected {r:?}")
        };
        assert_eq!(save_dir.as_deref(), Some(dir.as_path()));
        seeded.push((*token, t.clone()));
    }
    assert_eq!(seeded.len(), 2);
    assert_eq!((seeded[0].0, seeded[1].0), (1, 2));
    assert_eq!(std::fs::read(&at).unwrap(), seeded[0].1.to_vec());
    assert_eq!(std::fs::read(&bt).unwrap(), seeded[1].1.to_vec());
    let mut lines: Vec<String> = screen.text().lines().map(str::to_string).collect();
    lines.sort();
    let mut want = vec![
        format!("error: no such file: {}/missing.ogg", dir.display()),
        format!("wrote {}", at.display()),
        format!("wrote {}", bt.display()),
        format!("New torrent 1 created in {}", dir.display()),
        format!("New torrent 2 created in {}", dir.display()),
    ];
    want.sort();
    assert_eq!(lines, want);
    stop.deliver(Signal::Shutdown).unwrap();
    assert_eq!(
        h.scheduler().run_for(Duration::from_secs(5)),
        Some(Ended::Completed)
    );
    assert!(h.scheduler().services().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
