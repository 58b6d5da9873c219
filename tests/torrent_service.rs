//! TorrentService and TorrentPatron (reference §4.5, defects 26-28 of §7),
//! step by step on virtual time, with a scripted FakeClient in place of the
//! real client: answers routed by token even out of order, events to the
//! holders of a torrent only, Close shared between holders, the clean end
//! when the last patron leaves (and the run ends), a fresh service after
//! that, the client dying, the service stopped. Wrong-order and hostile
//! use are in `torrent_service_hostile.rs`.

mod service_support;

use std::time::Duration;

use kamaelia::axon::{Ended, Signal};
use kamaelia::protocol::torrent::client::{
    ClientEvent, ClientRequest, FakeAction, PatronError, ServiceEnd, StartError, TorrentPatron,
    SERVICE_NAME, SHUTDOWN_NAME,
};
use kamaelia::testing::{Collector, Feeder, Harness};
use service_support::*;

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

/// A user whose inbox is full (here it holds one event) is not sent every
/// status update once it reads again: of a torrent's statuses waiting,
/// only the newest is kept; its other events all come, in order.
#[test]
fn a_slow_user_gets_the_newest_status_and_every_other_event() {
    let (f, made) = manual_factory();
    let mut h = Harness::new();
    let id = h.spawn(TorrentPatron::new(f.clone()));
    let ask: Feeder<ClientRequest> = h.feeder(id, "inbox").unwrap();
    let got: Collector<ClientEvent> = h.bounded_collector(id, "outbox", 1).unwrap();
    h.run_until_idle();
    ask.send(create(1, "alpha")).unwrap();
    h.run_until_idle();
    emit(&made, 0, created(1, 2));
    h.run_until_idle();
    assert_eq!(got.drain(), vec![created(1, 2)]);
    for k in 0..500 {
        emit(&made, 0, status(2, k));
        if k == 250 {
            emit(&made, 0, ClientEvent::Complete(2));
        }
    }
    h.run_until_idle();
    let mut seen = Vec::new();
    for _ in 0..20 {
        let batch = got.drain();
        if batch.is_empty() {
            break;
        }
        seen.extend(batch);
        h.run_until_idle();
    }
    let completes = seen
        .iter()
        .filter(|e| **e == ClientEvent::Complete(2))
        .count();
    assert_eq!(completes, 1, "{seen:?}");
    assert_eq!(seen.last(), Some(&status(2, 499)), "{seen:?}");
    assert!(seen.len() <= 4, "statuses were not merged: {}", seen.len());
    let haves: Vec<u64> = seen
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Status(s) => Some(s.have_bytes),
            _ => None,
        })
        .collect();
    assert!(haves.windows(2).all(|w| w[0] < w[1]), "{haves:?}");
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
