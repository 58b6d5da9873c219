//! UDP peers on real sockets, 127.0.0.1 only: whole datagrams up to 64 KiB,
//! order, `(address, payload)`, retargeting, postbox addressing, shutdown
//! and finish, bind failure, back-pressure, empty reads; and classic sketch
//! 13 (examples/udp_chargen.rs).
//!
//! Systems that end by themselves run under `Scheduler::run_for`, which
//! gives up after a few seconds, so a lost datagram fails a test instead of
//! hanging it. Tests that look between steps drive the scheduler with
//! `run_until_idle` (a loopback send is in the receiver's socket when
//! `send_to` returns), or wait in its poll until what they look for has
//! happened, and give up after a deadline.

use std::cell::RefCell;
use std::net::{SocketAddr, UdpSocket as StdUdp};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use kamaelia::axon::{link, Ended, Inbox, Outbox, Scheduler, Signal};
use kamaelia::internet::udp::{Datagram, PostboxPeer, SimplePeer, TargettedPeer, RECV_BUFFER};
use kamaelia::testing::Harness;
use kamaelia::util::DataSource;

mod datagram_support;
use datagram_support::*;

#[allow(dead_code)]
#[path = "../examples/udp_chargen.rs"]
mod udp_chargen;

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn std_socket() -> StdUdp {
    let s = StdUdp::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Receives one datagram on a plain socket (5 s at most).
fn recv_text(s: &StdUdp) -> String {
    let mut buf = vec![0u8; RECV_BUFFER];
    let n = s.recv(&mut buf).expect("a datagram in time");
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

/// True if nothing arrives on `s` within 50 ms.
fn nothing_on(s: &StdUdp) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut buf = [0u8; 64];
    let r = s.recv(&mut buf);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    r.is_err()
}

/// Two SimplePeers, `a` sending to `b`, fed from `payloads` (then
/// producer finished); returns the first `want` datagrams `b` emitted and
/// `a`'s address.
fn send_between_simple_peers(payloads: Vec<Bytes>, want: usize) -> (Vec<Datagram>, SocketAddr) {
    let sa = std_socket();
    let sb = std_socket();
    let (a_addr, b_addr) = (sa.local_addr().unwrap(), sb.local_addr().unwrap());
    let a = SimplePeer::from_std(sa, b_addr).unwrap();
    let bp = SimplePeer::from_std(sb, a_addr).unwrap();
    let src = DataSource::new(payloads);
    link(&src.outbox, &a.inbox).unwrap();
    link(&src.signal, &a.control).unwrap();
    let mut s = Scheduler::new();
    let heard = collect(&mut s, &bp.outbox, &bp.control, want);
    s.spawn(bp);
    s.spawn(a);
    s.spawn(src);
    run_to_completion(&mut s);
    (heard.take(), a_addr)
}

// ---------------------------------------------------------------------------

#[test]
fn datagrams_arrive_in_order_as_address_then_payload() {
    let payloads: Vec<Bytes> = (0..50).map(|i| b(&format!("datagram {i}"))).collect();
    let (got, a_addr) = send_between_simple_peers(payloads.clone(), payloads.len());
    let want: Vec<Datagram> = payloads.into_iter().map(|p| (a_addr, p)).collect();
    assert_eq!(got, want);
}

#[test]
fn every_peer_emits_address_then_payload() {
    // One tuple order everywhere, checked by the compiler.
    fn simple(p: &SimplePeer) -> &Outbox<(SocketAddr, Bytes)> {
        &p.outbox
    }
    fn targetted(p: &TargettedPeer) -> &Outbox<(SocketAddr, Bytes)> {
        &p.outbox
    }
    fn postbox_in(p: &PostboxPeer) -> &Inbox<(SocketAddr, Bytes)> {
        &p.inbox
    }
    fn postbox_out(p: &PostboxPeer) -> &Outbox<(SocketAddr, Bytes)> {
        &p.outbox
    }
    let _ = (simple, targetted, postbox_in, postbox_out);

    // And at run time: the address is the sender's.
    let tx = std_socket();
    let peer = SimplePeer::bind(any_port(), tx.local_addr().unwrap()).unwrap();
    tx.send_to(b"who", peer.local_addr()).unwrap();
    let mut s = Scheduler::new();
    let heard = collect(&mut s, &peer.outbox, &peer.control, 1);
    s.spawn(peer);
    run_to_completion(&mut s);
    assert_eq!(heard.take(), vec![(tx.local_addr().unwrap(), b("who"))]);
}

#[test]
fn datagrams_up_to_64k_arrive_whole() {
    let big: Vec<u8> = (0..65_000u32).map(|i| (i % 251) as u8).collect();
    let max: Vec<u8> = (0..65_507u32).map(|i| (i % 241) as u8).collect();
    let payloads = vec![Bytes::from(big), b("x"), Bytes::from(max)];
    let (got, a_addr) = send_between_simple_peers(payloads.clone(), payloads.len());
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].1.len(), 65_000);
    assert_eq!(got[2].1.len(), 65_507);
    let want: Vec<Datagram> = payloads.into_iter().map(|p| (a_addr, p)).collect();
    assert_eq!(got, want);
}

#[test]
fn a_payload_too_large_for_udp_is_dropped_and_the_peer_goes_on() {
    let too_big = Bytes::from(vec![7u8; 65_508]);
    let (got, a_addr) = send_between_simple_peers(vec![b("before"), too_big, b("after")], 2);
    assert_eq!(got, vec![(a_addr, b("before")), (a_addr, b("after"))]);
}

#[test]
fn targetted_peer_sends_to_its_latest_target() {
    let r1 = std_socket();
    let r2 = std_socket();
    let peer = TargettedPeer::bind(any_port(), None).unwrap();
    let peer_addr = peer.local_addr();
    let feed: Outbox<Bytes> = Outbox::outbox();
    let aim: Outbox<SocketAddr> = Outbox::new("aim", "targets");
    let ctl: Outbox<Signal> = Outbox::signal();
    let heard: Inbox<Datagram> = Inbox::inbox();
    let ended: Inbox<Signal> = Inbox::inbox();
    link(&feed, &peer.inbox).unwrap();
    link(&aim, &peer.target).unwrap();
    link(&ctl, &peer.control).unwrap();
    link(&peer.outbox, &heard).unwrap();
    link(&peer.signal, &ended).unwrap();
    let mut s = Scheduler::new();
    let id = s.spawn(peer);

    // No target yet: the payload waits, and the peer sleeps meanwhile.
    feed.send(b("early")).unwrap();
    pump(&mut s, |s| s.is_sleeping(id));
    assert!(nothing_on(&r1) && nothing_on(&r2));
    assert!(s.is_alive(id));

    // The first target: the waiting payload goes there, then new ones.
    aim.send(r1.local_addr().unwrap()).unwrap();
    s.run_until_idle();
    assert_eq!(recv_text(&r1), "early");
    feed.send(b("one")).unwrap();
    s.run_until_idle();
    assert_eq!(recv_text(&r1), "one");

    // Retarget.
    aim.send(r2.local_addr().unwrap()).unwrap();
    feed.send(b("two")).unwrap();
    feed.send(b("three")).unwrap();
    s.run_until_idle();
    assert_eq!(recv_text(&r2), "two");
    assert_eq!(recv_text(&r2), "three");
    assert!(nothing_on(&r1));

    // It receives from anyone, address first.
    r1.send_to(b"reply", peer_addr).unwrap();
    pump(&mut s, |_| !heard.is_empty());
    assert_eq!(heard.recv(), Some((r1.local_addr().unwrap(), b("reply"))));

    ctl.send(Signal::ProducerFinished).unwrap();
    s.run_until_idle();
    assert!(!s.is_alive(id));
    assert_eq!(ended.recv(), Some(Signal::ProducerFinished));
}

#[test]
fn targetted_peer_finishing_without_a_target_drops_what_waits() {
    let peer = TargettedPeer::bind(any_port(), None).unwrap();
    let feed: Outbox<Bytes> = Outbox::outbox();
    let ctl: Outbox<Signal> = Outbox::signal();
    let ended: Inbox<Signal> = Inbox::inbox();
    link(&feed, &peer.inbox).unwrap();
    link(&ctl, &peer.control).unwrap();
    link(&peer.signal, &ended).unwrap();
    feed.send(b("nowhere to go")).unwrap();
    ctl.send(Signal::ProducerFinished).unwrap();
    let mut s = Scheduler::new();
    s.spawn(peer);
    run_to_completion(&mut s);
    assert_eq!(ended.recv(), Some(Signal::ProducerFinished));
    // Taken from its inbox and dropped, not left there.
    assert_eq!(s.stats().undelivered, 0);
}

#[test]
fn postbox_peer_sends_each_payload_where_it_says() {
    let r1 = std_socket();
    let r2 = std_socket();
    let (a1, a2) = (r1.local_addr().unwrap(), r2.local_addr().unwrap());
    let peer = PostboxPeer::bind(any_port()).unwrap();
    let src = DataSource::new(vec![
        (a1, b("to r1")),
        (a2, b("to r2")),
        (a1, b("r1 again")),
    ]);
    link(&src.outbox, &peer.inbox).unwrap();
    link(&src.signal, &peer.control).unwrap();
    let mut s = Scheduler::new();
    s.spawn(peer);
    s.spawn(src);
    run_to_completion(&mut s);
    assert_eq!(recv_text(&r1), "to r1");
    assert_eq!(recv_text(&r1), "r1 again");
    assert_eq!(recv_text(&r2), "to r2");
    assert!(nothing_on(&r2));
}

#[test]
fn a_postbox_peer_linked_to_itself_echoes() {
    // What it emits is what it takes, so its outbox linked to its own
    // inbox sends every datagram back where it came from.
    let echo = PostboxPeer::bind(any_port()).unwrap();
    let echo_addr = echo.local_addr();
    let ctl: Outbox<Signal> = Outbox::signal();
    link(&echo.outbox, &echo.inbox).unwrap();
    link(&ctl, &echo.control).unwrap();
    let client = std_socket();
    let mut s = Scheduler::new();
    let id = s.spawn(echo);
    for m in ["ping", "pong", ""] {
        client.send_to(m.as_bytes(), echo_addr).unwrap();
    }
    s.run_until_idle();
    for m in ["ping", "pong", ""] {
        let mut buf = [0u8; 16];
        let (n, from) = client.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (m.as_bytes(), echo_addr));
    }
    ctl.send(Signal::Shutdown).unwrap();
    run_to_completion(&mut s);
    assert!(!s.is_alive(id));
}

#[test]
fn shutdown_stops_at_once_without_sending_what_waits() {
    let r = std_socket();
    let peer = SimplePeer::bind(any_port(), r.local_addr().unwrap()).unwrap();
    let feed: Outbox<Bytes> = Outbox::outbox();
    let ctl: Outbox<Signal> = Outbox::signal();
    let ended: Inbox<Signal> = Inbox::inbox();
    link(&feed, &peer.inbox).unwrap();
    link(&ctl, &peer.control).unwrap();
    link(&peer.signal, &ended).unwrap();
    for m in ["a", "b", "c"] {
        feed.send(b(m)).unwrap();
    }
    ctl.send(Signal::Shutdown).unwrap();
    let mut s = Scheduler::new();
    s.spawn(peer);
    run_to_completion(&mut s);
    assert_eq!(ended.recv(), Some(Signal::Shutdown));
    assert!(nothing_on(&r));
    // The three payloads were left in its inbox when it ended.
    assert_eq!(s.stats().undelivered, 3);
}

#[test]
fn producer_finished_sends_what_waits_then_stops() {
    let r = std_socket();
    let peer = SimplePeer::bind(any_port(), r.local_addr().unwrap()).unwrap();
    let feed: Outbox<Bytes> = Outbox::outbox();
    let ctl: Outbox<Signal> = Outbox::signal();
    let ended: Inbox<Signal> = Inbox::inbox();
    link(&feed, &peer.inbox).unwrap();
    link(&ctl, &peer.control).unwrap();
    link(&peer.signal, &ended).unwrap();
    for m in ["a", "b", "c"] {
        feed.send(b(m)).unwrap();
    }
    ctl.send(Signal::ProducerFinished).unwrap();
    let mut s = Scheduler::new();
    s.spawn(peer);
    run_to_completion(&mut s);
    assert_eq!(ended.recv(), Some(Signal::ProducerFinished));
    for m in ["a", "b", "c"] {
        assert_eq!(recv_text(&r), m);
    }
    assert_eq!(s.stats().undelivered, 0);
}

#[test]
fn binding_a_port_in_use_is_an_error_from_the_constructor() {
    let taken = StdUdp::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let e = SimplePeer::bind(addr, addr).err().expect("port in use");
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    let e = TargettedPeer::bind(addr, None).err().expect("port in use");
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    let e = PostboxPeer::bind(addr).err().expect("port in use");
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    // Two peers, the second on the first's port.
    let first = PostboxPeer::bind(any_port()).unwrap();
    assert!(PostboxPeer::bind(first.local_addr()).is_err());
}

#[test]
fn a_full_consumer_keeps_datagrams_in_order_and_stops_reading() {
    // The harness's bounded collector is a consumer the scheduler knows, so
    // taking from it wakes a refused producer (a bare `Inbox::bounded`
    // owned by no component would not).
    let sock = StdUdp::bind("127.0.0.1:0").unwrap();
    let spy = sock.try_clone().unwrap(); // sees what is left in the kernel
    let tx = std_socket();
    let peer = SimplePeer::from_std(sock, tx.local_addr().unwrap()).unwrap();
    let peer_addr = peer.local_addr();
    let mut h = Harness::new();
    let id = h.spawn(peer);
    let heard = h.bounded_collector::<Datagram>(id, "outbox", 2).unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    for i in 0..10 {
        tx.send_to(format!("{i}").as_bytes(), peer_addr).unwrap();
    }
    let s = h.scheduler();
    pump(s, |s| heard.len() == 2 && s.is_sleeping(id));

    // Two delivered, the third kept by the peer, the rest still in the
    // kernel: the peer stopped reading.
    let mut buf = [0u8; 8];
    let (n, _) = spy.peek_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"3");
    // It stays asleep while the scheduler waits in its poll for 20 ms.
    let steps = s.stats().steps;
    assert_eq!(s.run_for(Duration::from_millis(20)), None);
    assert_eq!(heard.len(), 2);
    assert!(s.is_sleeping(id));
    assert_eq!(s.stats().steps, steps, "a blocked peer must not spin");

    // Taking one wakes it; everything arrives in order.
    let mut got = Vec::new();
    while got.len() < 10 {
        match heard.recv() {
            Some((from, p)) => {
                assert_eq!(from, tx.local_addr().unwrap());
                got.push(String::from_utf8(p.to_vec()).unwrap());
            }
            None => pump(s, |_| !heard.is_empty()),
        }
    }
    let want: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    assert_eq!(got, want);
    ctl.send(Signal::Shutdown).unwrap();
    s.run_until_idle();
    assert!(!s.is_alive(id));
}

#[test]
fn finishing_delivers_the_kept_datagram_and_reads_no_more() {
    let tx = std_socket();
    let peer = SimplePeer::bind(any_port(), tx.local_addr().unwrap()).unwrap();
    let peer_addr = peer.local_addr();
    let mut h = Harness::new();
    let id = h.spawn(peer);
    let heard = h.bounded_collector::<Datagram>(id, "outbox", 1).unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let ended = h.collector::<Signal>(id, "signal").unwrap();
    for m in ["0", "1", "2", "3"] {
        tx.send_to(m.as_bytes(), peer_addr).unwrap();
    }
    let s = h.scheduler();
    pump(s, |s| heard.len() == 1 && s.is_sleeping(id));
    // "0" delivered, "1" kept. Finish: "1" must still come, "2" must not.
    ctl.send(Signal::ProducerFinished).unwrap();
    s.run_until_idle();
    assert!(s.is_alive(id), "waits for room for the kept datagram");
    assert_eq!(heard.recv().map(|d| d.1), Some(b("0")));
    s.run_until_idle();
    assert_eq!(heard.recv().map(|d| d.1), Some(b("1")));
    assert!(!s.is_alive(id));
    assert!(heard.is_empty());
    assert_eq!(ended.recv(), Some(Signal::ProducerFinished));
}

#[test]
fn an_empty_read_does_not_crash_and_empty_datagrams_arrive() {
    let tx = std_socket();
    let peer = SimplePeer::bind(any_port(), tx.local_addr().unwrap()).unwrap();
    let peer_addr = peer.local_addr();
    let heard: Inbox<Datagram> = Inbox::inbox();
    let ctl: Outbox<Signal> = Outbox::signal();
    link(&peer.outbox, &heard).unwrap();
    link(&ctl, &peer.control).unwrap();
    let mut s = Scheduler::new();
    let id = s.spawn(peer);
    // Nothing to read: the first step finds the socket empty and sleeps.
    let (who, _) = s.step().expect("the peer runs");
    assert_eq!(who, id);
    s.run_until_idle();
    assert!(s.is_alive(id) && s.is_sleeping(id));
    assert!(heard.is_empty());

    // A zero-length datagram is a datagram.
    tx.send_to(b"", peer_addr).unwrap();
    tx.send_to(b"after", peer_addr).unwrap();
    pump(&mut s, |_| heard.len() == 2);
    let from = tx.local_addr().unwrap();
    assert_eq!(heard.recv(), Some((from, Bytes::new())));
    assert_eq!(heard.recv(), Some((from, b("after"))));
    ctl.send(Signal::Shutdown).unwrap();
    run_to_completion(&mut s);
}

#[test]
fn an_idle_peer_sleeps_between_datagrams() {
    let tx = std_socket();
    let peer = SimplePeer::bind(any_port(), tx.local_addr().unwrap()).unwrap();
    let peer_addr = peer.local_addr();
    let mut s = Scheduler::new();
    let heard = collect(&mut s, &peer.outbox, &peer.control, 3);
    s.spawn(peer);
    let sender = std::thread::spawn(move || {
        for m in ["x", "y", "z"] {
            std::thread::sleep(Duration::from_millis(20));
            tx.send_to(m.as_bytes(), peer_addr).unwrap();
        }
    });
    run_to_completion(&mut s);
    sender.join().unwrap();
    assert_eq!(heard.take().len(), 3);
    // Woken by readiness, not polling: a handful of steps, and the
    // scheduler waited in poll.
    assert!(s.stats().steps <= 24, "steps: {}", s.stats().steps);
    assert!(s.stats().waits >= 1);
}

// ---------------------------------------------------------------------------
// Sketch 13

#[test]
fn udp_chargen_sends_hello_world_from_peer_to_peer() {
    let screen = Rc::new(RefCell::new(Vec::new()));
    let o = udp_chargen::run(100, PATIENCE, screen.clone()).unwrap();
    assert!(!o.timed_out, "lost: {} of 100 arrived", o.received.len());
    assert_eq!(o.ended, Ended::Completed);
    let want: Vec<(SocketAddr, String)> = (0..100)
        .map(|_| (o.sender, udp_chargen::LINE.to_string()))
        .collect();
    assert_eq!(o.received, want);
    let text = String::from_utf8(screen.borrow().clone()).unwrap();
    assert_eq!(text, "Hello World\n".repeat(100));
}

#[test]
fn udp_chargen_with_nothing_to_send() {
    let o = udp_chargen::run(0, PATIENCE, Rc::new(RefCell::new(Vec::new()))).unwrap();
    assert_eq!(o.ended, Ended::Completed);
    assert!(o.received.is_empty());
}
