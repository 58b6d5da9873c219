//! What the TorrentService tests share: a factory of manual FakeClients
//! that keeps each one's log and script, patrons with their boxes fed and
//! collected, and the messages the tests use.
#![allow(dead_code)]

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use bytes::Bytes;
use kamaelia::axon::{Address, Id, Signal};
use kamaelia::protocol::torrent::client::{
    ClientEvent, ClientFactory, ClientParts, ClientRequest, FakeAction, FakeClient, FakeLog,
    TorrentPatron, TorrentSource, TorrentState, TorrentStatus, SERVICE_NAME,
};
use kamaelia::testing::{Collector, Feeder, Harness};

/// The clients a factory made, in order: what each saw, and its script.
pub type Made = Rc<RefCell<Vec<(Rc<RefCell<FakeLog>>, Address<FakeAction>)>>>;

pub fn manual_factory() -> (ClientFactory, Made) {
    let made: Made = Rc::default();
    let m = made.clone();
    let f: ClientFactory = Rc::new(move || {
        let fake = FakeClient::manual();
        m.borrow_mut().push((fake.log(), fake.script.address()));
        ClientParts::new(fake)
    });
    (f, made)
}

pub struct User {
    pub id: Id,
    pub ask: Feeder<ClientRequest>,
    pub ctl: Feeder<Signal>,
    pub got: Collector<ClientEvent>,
    pub sig: Collector<Signal>,
}

pub fn patron(h: &mut Harness, f: &ClientFactory) -> User {
    let id = h.spawn(TorrentPatron::new(f.clone()));
    User {
        id,
        ask: h.feeder(id, "inbox").unwrap(),
        ctl: h.feeder(id, "control").unwrap(),
        got: h.collector(id, "outbox").unwrap(),
        sig: h.collector(id, "signal").unwrap(),
    }
}

pub fn create(token: u64, what: &'static str) -> ClientRequest {
    ClientRequest::Create {
        token,
        source: TorrentSource::Metainfo(Bytes::from_static(what.as_bytes())),
        save_dir: None,
        peers: vec![],
    }
}

pub fn created(token: u64, id: u32) -> ClientEvent {
    ClientEvent::Created {
        token,
        id,
        info_hash: [id as u8; 20],
        name: format!("t{id}"),
        save_dir: PathBuf::from(format!("./t{id}")),
    }
}

pub fn status(id: u32, have: u64) -> ClientEvent {
    ClientEvent::Status(TorrentStatus {
        id,
        info_hash: [id as u8; 20],
        name: format!("t{id}"),
        state: TorrentState::Downloading,
        total_bytes: 100,
        have_bytes: have,
        pieces_have: 0,
        pieces_total: 4,
        downloaded: have,
        uploaded: 0,
        download_rate: 0,
        upload_rate: 0,
        peers: 1,
        seeds: 1,
    })
}

pub fn requests(made: &Made, n: usize) -> Vec<ClientRequest> {
    made.borrow()[n].0.borrow_mut().requests.drain(..).collect()
}

pub fn emit(made: &Made, n: usize, ev: ClientEvent) {
    made.borrow()[n].1.deliver(FakeAction::Emit(ev)).unwrap();
}

pub fn client_id(made: &Made, n: usize) -> Id {
    made.borrow()[n].0.borrow().id.unwrap()
}

pub fn service_id(h: &mut Harness) -> Id {
    h.scheduler()
        .lookup_service(SERVICE_NAME)
        .unwrap()
        .component
}

/// Two patrons joined to one service with a manual fake client.
pub fn two_patrons() -> (Harness, Made, User, User) {
    let (f, made) = manual_factory();
    let mut h = Harness::new();
    let a = patron(&mut h, &f);
    let b = patron(&mut h, &f);
    h.run_until_idle();
    assert_eq!(made.borrow().len(), 1, "one client for both");
    (h, made, a, b)
}

/// A and B each create a torrent with their own token 1; the client
/// answers in reverse order. A holds torrent 2, B torrent 1.
pub fn two_torrents() -> (Harness, Made, User, User) {
    let (mut h, made, a, b) = two_patrons();
    a.ask.send(create(1, "alpha")).unwrap();
    h.run_until_idle();
    b.ask.send(create(1, "beta")).unwrap();
    h.run_until_idle();
    assert_eq!(
        requests(&made, 0),
        vec![create(1, "alpha"), create(2, "beta")]
    );
    emit(&made, 0, created(2, 1));
    emit(&made, 0, created(1, 2));
    h.run_until_idle();
    assert_eq!(a.got.drain(), vec![created(1, 2)]);
    assert_eq!(b.got.drain(), vec![created(1, 1)]);
    (h, made, a, b)
}
