//! TorrentService under wrong-order and hostile use, straight on its
//! inbox: unregistering twice, requests from patrons not registered, a
//! reply box of the wrong type, answers for a patron that left, patrons
//! that end without leaving (a caught panic, or any component), a client
//! that will not end, an Add reaching a closing service.

mod service_support;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use kamaelia::axon::{
    Address, BoxSet, Component, Cx, DefaultBoxes, Ended, Id, Inbox, Signal, Step,
};
use kamaelia::protocol::torrent::client::{
    ClientComponent, ClientEvent, ClientFactory, ClientParts, ClientPorts, ClientRequest,
    FakeClient, PatronError, PatronReply, ServiceEnd, ServiceRequest, TorrentPatron,
    TorrentService, SERVICE_NAME, STOP_TIMEOUT,
};
use kamaelia::testing::{Feeder, Harness};
use service_support::*;

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
        let svc = TorrentService::get_or_create(cx, &self.f).unwrap();
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
    boom: Rc<Cell<bool>>,
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
    let boom = Rc::new(Cell::new(false));
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

/// A service left closing by its last patron (its client will not end),
/// registered again under the service's name by the test: the race in
/// which a patron finds a service that is closing.
fn closing_service_still_found() -> (Harness, ClientFactory, Id) {
    let f: ClientFactory = Rc::new(|| ClientParts::new(Stubborn(DefaultBoxes::new())));
    let mut h = Harness::new();
    let a = patron(&mut h, &f);
    h.run_until_idle();
    let svc = service_id(&mut h);
    let inbox = h.scheduler().find_box(svc, "inbox").unwrap();
    a.ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    assert!(h.scheduler().services().is_empty());
    h.scheduler().register_service(SERVICE_NAME, inbox).unwrap();
    (h, f, svc)
}

#[test]
fn a_patron_told_to_retry_looks_again_and_joins_a_fresh_service() {
    let (mut h, f, closing) = closing_service_still_found();
    let c = patron(&mut h, &f);
    assert_eq!(h.step().map(|(id, _)| id), Some(c.id)); // its Add goes to the closing one
    assert_eq!(h.step().map(|(id, _)| id), Some(closing)); // which answers Retry
    h.scheduler().deregister_service(SERVICE_NAME).unwrap();
    c.ask.send(ClientRequest::Close(5)).unwrap();
    h.run_until_idle();
    let fresh = service_id(&mut h);
    assert_ne!(fresh, closing);
    assert_eq!(
        c.got.drain(),
        vec![ClientEvent::Closed {
            id: 5,
            existed: false
        }]
    );
    assert!(c.sig.drain().is_empty());
}

#[test]
fn a_patron_told_to_retry_too_often_gives_up_with_a_typed_failure() {
    let (mut h, f, _closing) = closing_service_still_found();
    let c = patron(&mut h, &f);
    c.ask.send(ClientRequest::Close(5)).unwrap();
    h.run_until_idle();
    assert!(!h.is_alive(c.id));
    assert_eq!(
        c.sig.drain(),
        vec![Signal::failed(PatronError::TooManyRetries)]
    );
    assert!(c.got.drain().is_empty());
}

#[test]
fn a_client_that_cannot_be_linked_fails_every_waiting_patron_with_the_reason() {
    // The factory hands over a client whose outbox is linked elsewhere.
    let elsewhere: Rc<Inbox<ClientEvent>> = Rc::new(Inbox::inbox());
    let keep = elsewhere.clone();
    let f: ClientFactory = Rc::new(move || {
        let fake = FakeClient::manual();
        kamaelia::axon::link(&fake.outbox, &*keep).unwrap();
        ClientParts::new(fake)
    });
    let mut h = Harness::new();
    let a = patron(&mut h, &f);
    let b = patron(&mut h, &f);
    assert_eq!(
        h.scheduler().run_for(Duration::from_secs(1)),
        Some(Ended::Completed)
    );
    for u in [&a, &b] {
        let sig = u.sig.drain();
        assert_eq!(sig.len(), 1);
        let Signal::Failed(why) = &sig[0] else {
            panic!("{sig:?}")
        };
        assert!(
            matches!(
                why.downcast_ref::<PatronError>(),
                Some(PatronError::ServiceEnded(ServiceEnd::NoClient(_)))
            ),
            "{why}"
        );
    }
    assert!(h.scheduler().services().is_empty());
    assert_eq!(elsewhere.recv(), None);
}
