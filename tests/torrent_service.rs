//! TorrentService and TorrentPatron (reference §4.5, defects 26-28 of §7),
//! step by step on virtual time, with a scripted FakeClient in place of the
//! real client: answers routed by token even out of order, events to the
//! holders of a torrent only, Close shared between holders, the clean end
//! when the last patron leaves (and the run ends), a fresh service after
//! that, the client dying, and wrong or hostile use.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use kamaelia::axon::{
    Address, BoxSet, Component, Cx, DefaultBoxes, Ended, Id, Inbox, Signal, Step,
};
use kamaelia::protocol::torrent::client::{
    ClientComponent, ClientEvent, ClientFactory, ClientParts, ClientPorts, ClientRequest,
    FakeAction, FakeClient, FakeLog, PatronError, PatronReply, ServiceEnd, ServiceRequest,
    StartError, TorrentPatron, TorrentSource, TorrentState, TorrentStatus, SERVICE_NAME,
    SHUTDOWN_NAME, STOP_TIMEOUT,
};
use kamaelia::testing::{Collector, Feeder, Harness};

/// The clients a factory made, in order: what each saw, and its script.
type Made = Rc<RefCell<Vec<(Rc<RefCell<FakeLog>>, Address<FakeAction>)>>>;

fn manual_factory() -> (ClientFactory, Made) {
    let made: Made = Rc::default();
    let m = made.clone();
    let f: ClientFactory = Rc::new(move || {
        let fake = FakeClient::manual();
        m.borrow_mut().push((fake.log(), fake.script.address()));
        ClientParts::new(fake)
    });
    (f, made)
}

struct User {
    id: Id,
    ask: Feeder<ClientRequest>,
    ctl: Feeder<Signal>,
    got: Collector<ClientEvent>,
    sig: Collector<Signal>,
}

fn patron(h: &mut Harness, f: &ClientFactory) -> User {
    let id = h.spawn(TorrentPatron::new(f.clone()));
    User {
        id,
        ask: h.feeder(id, "inbox").unwrap(),
        ctl: h.feeder(id, "control").unwrap(),
        got: h.collector(id, "outbox").unwrap(),
        sig: h.collector(id, "signal").unwrap(),
    }
}

fn create(token: u64, what: &'static str) -> ClientRequest {
    ClientRequest::Create {
        token,
        source: TorrentSource::Metainfo(Bytes::from_static(what.as_bytes())),
        save_dir: None,
        peers: vec![],
    }
}

fn created(token: u64, id: u32) -> ClientEvent {
    ClientEvent::Created {
        token,
        id,
        info_hash: [id as u8; 20],
        name: format!("t{id}"),
        save_dir: PathBuf::from(format!("./t{id}")),
    }
}

fn status(id: u32, have: u64) -> ClientEvent {
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

fn requests(made: &Made, n: usize) -> Vec<ClientRequest> {
    made.borrow()[n].0.borrow_mut().requests.drain(..).collect()
}

fn emit(made: &Made, n: usize, ev: ClientEvent) {
    made.borrow()[n].1.deliver(FakeAction::Emit(ev)).unwrap();
}

fn client_id(made: &Made, n: usize) -> Id {
    made.borrow()[n].0.borrow().id.unwrap()
}

fn service_id(h: &mut Harness) -> Id {
    h.scheduler()
        .lookup_service(SERVICE_NAME)
        .unwrap()
        .component
}

/// Two patrons joined to one service with a manual fake client.
fn two_patrons() -> (Harness, Made, User, User) {
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
fn two_torrents() -> (Harness, Made, User, User) {
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

#[test]
fn two_patrons_share_one_client_and_answers_go_by_token_not_order() {
    let (mut h, made, a, b) = two_torrents();
    // A start failure, answered before an earlier create: by token again.
    a.ask.send(create(7, "gamma")).unwrap();
    b.ask.send(create(8, "delta")).unwrap();
    h.run_until_idle();
    assert_eq!(
        requests(&made, 0),
        vec![create(3, "gamma"), create(4, "delta")]
    );
    let reason = StartError::BadMetainfo("x".into());
    emit(
        &made,
        0,
        ClientEvent::StartFailed {
            token: 4,
            reason: reason.clone(),
        },
    );
    emit(&made, 0, created(3, 3));
    h.run_until_idle();
    assert_eq!(a.got.drain(), vec![created(7, 3)]);
    assert_eq!(
        b.got.drain(),
        vec![ClientEvent::StartFailed { token: 8, reason }]
    );
    assert_eq!(h.scheduler().services(), vec![SERVICE_NAME, SHUTDOWN_NAME]);
}

#[test]
fn status_goes_to_the_holders_of_the_torrent_only() {
    let (mut h, made, a, b) = two_torrents();
    emit(&made, 0, status(1, 10));
    emit(&made, 0, status(2, 20));
    emit(&made, 0, status(9, 90)); // nobody's
    emit(&made, 0, ClientEvent::Complete(2));
    emit(
        &made,
        0,
        ClientEvent::Error {
            id: 1,
            reason: "disk".into(),
        },
    );
    h.run_until_idle();
    assert_eq!(a.got.drain(), vec![status(2, 20), ClientEvent::Complete(2)]);
    assert_eq!(
        b.got.drain(),
        vec![
            status(1, 10),
            ClientEvent::Error {
                id: 1,
                reason: "disk".into()
            }
        ]
    );
}

#[test]
fn already_downloading_goes_to_the_asker_who_then_gets_that_torrents_events() {
    let (mut h, made, a, b) = two_torrents();
    a.ask.send(create(5, "beta again")).unwrap();
    h.run_until_idle();
    assert_eq!(requests(&made, 0), vec![create(3, "beta again")]);
    emit(
        &made,
        0,
        ClientEvent::AlreadyDownloading { token: 3, id: 1 },
    );
    emit(&made, 0, status(1, 50));
    h.run_until_idle();
    assert_eq!(
        a.got.drain(),
        vec![
            ClientEvent::AlreadyDownloading { token: 5, id: 1 },
            status(1, 50)
        ]
    );
    assert_eq!(b.got.drain(), vec![status(1, 50)]);
}

#[test]
fn close_of_a_shared_torrent_only_lets_go_until_the_last_holder_closes() {
    let (mut h, made, a, b) = two_torrents();
    a.ask.send(create(5, "beta again")).unwrap();
    h.run_until_idle();
    requests(&made, 0);
    emit(
        &made,
        0,
        ClientEvent::AlreadyDownloading { token: 3, id: 1 },
    );
    h.run_until_idle();
    a.got.drain();
    // A lets go of torrent 1; B still holds it: the client is not asked.
    a.ask.send(ClientRequest::Close(1)).unwrap();
    h.run_until_idle();
    assert_eq!(
        a.got.drain(),
        vec![ClientEvent::Closed {
            id: 1,
            existed: true
        }]
    );
    assert_eq!(requests(&made, 0), vec![]);
    emit(&made, 0, status(1, 60));
    h.run_until_idle();
    assert_eq!(a.got.drain(), vec![]);
    assert_eq!(b.got.drain(), vec![status(1, 60)]);
    // B, the last holder, closes it in the client; the answer is B's.
    b.ask.send(ClientRequest::Close(1)).unwrap();
    h.run_until_idle();
    assert_eq!(requests(&made, 0), vec![ClientRequest::Close(1)]);
    emit(
        &made,
        0,
        ClientEvent::Closed {
            id: 1,
            existed: true,
        },
    );
    h.run_until_idle();
    assert_eq!(
        b.got.drain(),
        vec![ClientEvent::Closed {
            id: 1,
            existed: true
        }]
    );
    assert_eq!(a.got.drain(), vec![]);
}

#[test]
fn closing_a_torrent_never_created_or_someone_elses_is_answered_not_forwarded() {
    let (mut h, made, a, b) = two_torrents();
    a.ask.send(ClientRequest::Close(42)).unwrap();
    a.ask.send(ClientRequest::Close(1)).unwrap(); // B's
    a.ask
        .send(ClientRequest::AddPeer(1, "127.0.0.1:6881".parse().unwrap()))
        .unwrap();
    b.ask
        .send(ClientRequest::AddPeer(1, "127.0.0.1:6882".parse().unwrap()))
        .unwrap();
    h.run_until_idle();
    assert_eq!(
        a.got.drain(),
        vec![
            ClientEvent::Closed {
                id: 42,
                existed: false
            },
            ClientEvent::Closed {
                id: 1,
                existed: false
            },
        ]
    );
    // Only the holder's AddPeer reaches the client.
    assert_eq!(
        requests(&made, 0),
        vec![ClientRequest::AddPeer(1, "127.0.0.1:6882".parse().unwrap())]
    );
    assert_eq!(b.got.drain(), vec![]);
}

#[test]
fn the_last_patron_leaving_stops_the_client_and_the_run_ends() {
    let (mut h, made, a, b) = two_torrents();
    let svc = service_id(&mut h);
    let client = client_id(&made, 0);
    a.ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    assert_eq!(a.sig.drain(), vec![Signal::Shutdown]);
    assert!(!h.is_alive(a.id));
    // A's torrent, which nobody else holds, is closed; the service stays.
    assert_eq!(requests(&made, 0), vec![ClientRequest::Close(2)]);
    assert!(h.is_alive(svc) && h.is_alive(client));
    b.ctl.send(Signal::Shutdown).unwrap();
    // Bounded: all of it ends within a few steps and no time.
    assert_eq!(
        h.scheduler().run_for(Duration::from_secs(1)),
        Some(Ended::Completed)
    );
    assert_eq!(b.sig.drain(), vec![Signal::Shutdown]);
    assert_eq!(requests(&made, 0), vec![ClientRequest::Close(1)]);
    assert_eq!(made.borrow()[0].0.borrow().ended, Some(Signal::Shutdown));
    assert!(h.scheduler().services().is_empty());
}

#[test]
fn a_patron_after_the_service_ended_starts_a_fresh_one() {
    let (f, made) = manual_factory();
    let mut h = Harness::new();
    let a = patron(&mut h, &f);
    h.run_until_idle();
    let first = service_id(&mut h);
    a.ctl.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert!(!h.is_alive(first));
    assert_eq!(a.sig.drain(), vec![Signal::ProducerFinished]);
    let c = patron(&mut h, &f);
    h.run_until_idle();
    let second = service_id(&mut h);
    assert_ne!(first, second);
    assert_eq!(made.borrow().len(), 2);
    c.ask.send(create(1, "again")).unwrap();
    h.run_until_idle();
    assert_eq!(requests(&made, 1), vec![create(1, "again")]);
    emit(&made, 1, created(1, 1));
    h.run_until_idle();
    assert_eq!(c.got.drain(), vec![created(1, 1)]);
}

#[test]
fn producer_finished_waits_for_the_answers_then_leaves() {
    let (f, made) = manual_factory();
    let mut h = Harness::new();
    let a = patron(&mut h, &f);
    a.ask.send(create(5, "alpha")).unwrap();
    a.ctl.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert!(h.is_alive(a.id), "waits for the answer to its Create");
    assert_eq!(requests(&made, 0), vec![create(1, "alpha")]);
    emit(&made, 0, created(1, 1));
    assert_eq!(
        h.scheduler().run_for(Duration::from_secs(1)),
        Some(Ended::Completed)
    );
    assert_eq!(a.got.drain(), vec![created(5, 1)]);
    assert_eq!(a.sig.drain(), vec![Signal::ProducerFinished]);
    // It left, so its torrent was closed before the client stopped.
    assert_eq!(requests(&made, 0), vec![ClientRequest::Close(1)]);
}

#[test]
fn a_client_that_dies_is_reported_to_every_patron_and_the_service_ends() {
    let (mut h, made, a, b) = two_torrents();
    let svc = service_id(&mut h);
    let svc_sig: Collector<Signal> = h.collector(svc, "signal").unwrap();
    made.borrow()[0]
        .1
        .deliver(FakeAction::End(Signal::Shutdown))
        .unwrap();
    assert_eq!(
        h.scheduler().run_for(Duration::from_secs(1)),
        Some(Ended::Completed)
    );
    let why = PatronError::ServiceEnded(ServiceEnd::ClientEnded("Shutdown".into()));
    assert_eq!(a.sig.drain(), vec![Signal::failed(why.clone())]);
    assert_eq!(b.sig.drain(), vec![Signal::failed(why)]);
    assert_eq!(
        svc_sig.drain(),
        vec![Signal::failed(ServiceEnd::ClientEnded("Shutdown".into()))]
    );
    assert!(h.scheduler().services().is_empty());
}

#[test]
fn the_service_told_to_stop_dismisses_its_patrons_and_stops_the_client() {
    let (mut h, made, a, b) = two_torrents();
    let stop = h
        .scheduler()
        .lookup_service(SHUTDOWN_NAME)
        .unwrap()
        .inbox
        .address::<Signal>()
        .unwrap();
    stop.deliver(Signal::Shutdown).unwrap();
    assert_eq!(
        h.scheduler().run_for(Duration::from_secs(1)),
        Some(Ended::Completed)
    );
    let why = PatronError::ServiceEnded(ServiceEnd::Stopped("Shutdown".into()));
    assert_eq!(a.sig.drain(), vec![Signal::failed(why.clone())]);
    assert_eq!(b.sig.drain(), vec![Signal::failed(why)]);
    assert_eq!(made.borrow()[0].0.borrow().ended, Some(Signal::Shutdown));
}

// ---------------------------------------------------------------------------
// Wrong-order and hostile use, straight on the service's inbox.

struct Raw {
    to: Address<ServiceRequest>,
    replies: Inbox<PatronReply>,
    who: Id,
}

fn raw(h: &mut Harness, who: Id) -> Raw {
    let svc = h.scheduler().lookup_service(SERVICE_NAME).unwrap();
    Raw {
        to: svc.inbox.address().unwrap(),
        replies: Inbox::new("raw", "replies"),
        who,
    }
}

impl Raw {
    fn send(&self, req: ServiceRequest) {
        self.to.deliver(req).unwrap();
    }
    fn add(&self) {
        self.send(ServiceRequest::Add {
            patron: self.who,
            reply: self.replies.erased(),
        });
    }
    fn drain(&self) -> Vec<PatronReply> {
        std::iter::from_fn(|| self.replies.recv()).collect()
    }
}

#[test]
fn unregistering_twice_and_asking_when_not_registered_are_dropped_not_panics() {
    let (mut h, made, a, _b) = two_torrents();
    let svc = service_id(&mut h);
    // An id that is no patron: the fake client's own.
    let r = raw(&mut h, client_id(&made, 0));
    r.send(ServiceRequest::PassOn {
        patron: r.who,
        request: create(1, "never registered"),
    });
    r.add();
    h.run_until_idle();
    assert_eq!(r.drain(), vec![PatronReply::Joined]);
    r.add(); // twice: answered Joined again, still one registration
    r.send(ServiceRequest::Remove { patron: r.who });
    r.send(ServiceRequest::Remove { patron: r.who });
    r.send(ServiceRequest::PassOn {
        patron: r.who,
        request: ClientRequest::Close(1),
    });
    h.run_until_idle();
    assert_eq!(r.drain(), vec![PatronReply::Joined]);
    assert_eq!(requests(&made, 0), vec![], "nothing reached the client");
    // The service goes on serving the real patrons.
    assert!(h.is_alive(svc));
    a.ask.send(ClientRequest::Close(99)).unwrap();
    h.run_until_idle();
    assert_eq!(
        a.got.drain(),
        vec![ClientEvent::Closed {
            id: 99,
            existed: false
        }]
    );
}

#[test]
fn a_reply_box_of_the_wrong_type_is_refused_cleanly() {
    let (mut h, made, a, _b) = two_torrents();
    let r = raw(&mut h, client_id(&made, 0));
    let wrong: Inbox<u32> = Inbox::new("wrong", "not replies");
    r.send(ServiceRequest::Add {
        patron: r.who,
        reply: wrong.erased(),
    });
    r.send(ServiceRequest::PassOn {
        patron: r.who,
        request: create(1, "x"),
    });
    h.run_until_idle();
    assert_eq!(wrong.recv(), None);
    assert_eq!(requests(&made, 0), vec![]);
    a.ask.send(ClientRequest::Close(99)).unwrap();
    h.run_until_idle();
    assert_eq!(
        a.got.drain(),
        vec![ClientEvent::Closed {
            id: 99,
            existed: false
        }]
    );
}

#[test]
fn answers_for_a_patron_that_left_close_the_torrent_it_started() {
    let (mut h, made, a, b) = two_torrents();
    a.ask.send(create(3, "late")).unwrap();
    h.run_until_idle();
    assert_eq!(requests(&made, 0), vec![create(3, "late")]);
    a.ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    assert_eq!(requests(&made, 0), vec![ClientRequest::Close(2)]);
    // The answer comes after A has gone: nobody holds torrent 3, so it is
    // closed, and its Closed goes to nobody.
    emit(&made, 0, created(3, 3));
    h.run_until_idle();
    assert_eq!(requests(&made, 0), vec![ClientRequest::Close(3)]);
    emit(
        &made,
        0,
        ClientEvent::Closed {
            id: 3,
            existed: true,
        },
    );
    h.run_until_idle();
    assert_eq!(b.got.drain(), vec![]);
}

/// Registers with the service, then ends without leaving.
struct Vanisher {
    replies: Inbox<PatronReply>,
    io: DefaultBoxes<(), ()>,
    f: ClientFactory,
    joined: bool,
}

impl Component for Vanisher {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if self.joined {
            return Step::Done;
        }
        let svc = kamaelia::protocol::torrent::client::TorrentService::get_or_create(cx, &self.f)
            .unwrap();
        svc.inbox
            .address::<ServiceRequest>()
            .unwrap()
            .deliver(ServiceRequest::Add {
                patron: cx.id(),
                reply: self.replies.erased(),
            })
            .unwrap();
        self.joined = true;
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        self.io.list(set);
        set.add(&self.replies);
    }
}

#[test]
fn a_patron_that_ends_without_leaving_is_noticed_at_the_next_wake_and_the_run_ends() {
    let (f, made) = manual_factory();
    let mut h = Harness::new();
    let v = h.spawn(Vanisher {
        replies: Inbox::new("replies", "replies"),
        io: DefaultBoxes::new(),
        f: f.clone(),
        joined: false,
    });
    h.run_until_idle();
    assert!(!h.is_alive(v));
    let svc = service_id(&mut h);
    // Its end wakes nobody; the service notices the cut link when next
    // woken (here by an event of the client) and, with no patron left,
    // ends.
    emit(&made, 0, status(1, 1));
    assert_eq!(
        h.scheduler().run_for(Duration::from_secs(1)),
        Some(Ended::Completed)
    );
    assert!(!h.is_alive(svc));
    assert_eq!(made.borrow()[0].0.borrow().ended, Some(Signal::Shutdown));
}

/// A TorrentPatron inside a component that panics on demand.
struct Panicky {
    inner: TorrentPatron,
    boom: Rc<std::cell::Cell<bool>>,
}

impl Component for Panicky {
    fn step(&mut self, cx: &mut Cx) -> Step {
        assert!(!self.boom.get(), "boom");
        self.inner.step(cx)
    }
    fn boxes(&self, set: &mut BoxSet) {
        self.inner.boxes(set)
    }
}

#[test]
fn a_patron_dropped_after_a_panic_still_leaves_and_its_torrents_close() {
    let (f, made) = manual_factory();
    let mut h = Harness::new();
    h.scheduler().immortalise(true);
    let boom = Rc::new(std::cell::Cell::new(false));
    let p = h.spawn(Panicky {
        inner: TorrentPatron::new(f.clone()),
        boom: boom.clone(),
    });
    let ask: Feeder<ClientRequest> = h.feeder(p, "inbox").unwrap();
    ask.send(create(1, "alpha")).unwrap();
    h.run_until_idle();
    emit(&made, 0, created(1, 1));
    h.run_until_idle();
    boom.set(true);
    ask.send(create(2, "beta")).unwrap();
    assert_eq!(
        h.scheduler().run_for(Duration::from_secs(1)),
        Some(Ended::Completed)
    );
    assert!(!h.is_alive(p));
    assert_eq!(
        requests(&made, 0),
        vec![create(1, "alpha"), ClientRequest::Close(1)]
    );
    assert_eq!(made.borrow()[0].0.borrow().ended, Some(Signal::Shutdown));
}

/// A client that never ends on its own: it ignores its control.
struct Stubborn(DefaultBoxes<ClientRequest, ClientEvent>);

impl Component for Stubborn {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while self.0.inbox.recv().is_some() {}
        while self.0.control.recv().is_some() {}
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        self.0.list(set)
    }
}

impl ClientComponent for Stubborn {
    fn client_ports(&self) -> ClientPorts<'_> {
        ClientPorts {
            inbox: &self.0.inbox,
            control: &self.0.control,
            outbox: &self.0.outbox,
            signal: &self.0.signal,
        }
    }
}

#[test]
fn a_closing_service_answers_retry_and_gives_up_on_a_client_that_will_not_end() {
    let f: ClientFactory = Rc::new(|| ClientParts::new(Stubborn(DefaultBoxes::new())));
    let mut h = Harness::new();
    let a = patron(&mut h, &f);
    h.run_until_idle();
    let svc = service_id(&mut h);
    let r = raw(&mut h, a.id);
    a.ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    // Closing: its names are gone at once, so newcomers start afresh...
    assert!(h.is_alive(svc));
    assert!(h.scheduler().services().is_empty());
    // ...and an Add that reaches it anyway is told to look again.
    r.add();
    h.run_until_idle();
    assert_eq!(r.drain(), vec![PatronReply::Retry]);
    // A fresh patron meanwhile gets a fresh service.
    let c = patron(&mut h, &f);
    h.run_until_idle();
    assert_ne!(service_id(&mut h), svc);
    c.ask.send(ClientRequest::Close(1)).unwrap();
    h.run_until_idle();
    assert_eq!(
        c.got.drain(),
        vec![ClientEvent::Closed {
            id: 1,
            existed: false
        }]
    );
    // The stubborn client is waited for STOP_TIMEOUT, no more.
    h.advance(STOP_TIMEOUT - Duration::from_millis(1));
    h.run_until_idle();
    assert!(h.is_alive(svc));
    h.advance(Duration::from_millis(1));
    h.run_until_idle();
    assert!(!h.is_alive(svc));
}
