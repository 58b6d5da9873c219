//! Heap allocations of the UDP tracker server in the steady state, counted
//! per thread by a counting global allocator (this test binary's own):
//! re-announces and scrapes from known peers cost none.

use bytes::Bytes;
use kamaelia::axon::{link, Inbox, Outbox, Scheduler};
use kamaelia::internet::udp::Datagram;
use kamaelia::protocol::torrent::tracker::swarm::{SwarmConfig, Swarms};
use kamaelia::protocol::torrent::tracker::udp_server::{UdpServerConfig, UdpTrackerServer};
use kamaelia::protocol::torrent::tracker::udp_wire::{self, Response};
use kamaelia::protocol::torrent::tracker::{AnnounceEvent, AnnounceRequest};
use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

mod alloc_counter;
use alloc_counter::allocs;

#[test]
fn re_announces_and_scrapes_allocate_nothing_in_the_steady_state() {
    const PEERS: u16 = 30;
    const ROUNDS: usize = 40;
    // A plain scheduler: the harness's trace allocates a name per step.
    let mut s = Scheduler::with_virtual_time();
    let swarms = Rc::new(RefCell::new(Swarms::new(SwarmConfig::default())));
    let server = UdpTrackerServer::new(swarms.clone(), UdpServerConfig::default());
    let input: Outbox<Datagram> = Outbox::outbox();
    let replies: Inbox<Datagram> = Inbox::inbox();
    link(&input, &server.inbox).unwrap();
    link(&server.outbox, &replies).unwrap();
    s.spawn(server);

    // Connect every peer, then build its announce and a scrape once.
    let addrs: Vec<SocketAddr> = (0..PEERS)
        .map(|i| SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 6000 + i)))
        .collect();
    let mut packets = Vec::new();
    for (i, a) in addrs.iter().enumerate() {
        let mut out = Vec::new();
        udp_wire::encode_connect_request(&mut out, 1);
        input.send((*a, Bytes::from(out))).unwrap();
        s.run_until_idle();
        let (_, reply) = replies.recv().unwrap();
        let Ok(Response::Connect { connection_id, .. }) = udp_wire::parse_response(&reply, false)
        else {
            panic!("no connect reply")
        };
        let req = AnnounceRequest {
            info_hash: [7; 20],
            peer_id: [i as u8; 20],
            port: a.port(),
            uploaded: 0,
            downloaded: 0,
            left: 10,
            event: AnnounceEvent::None,
            numwant: Some(50),
            key: None,
            ip: None,
            compact: true,
            tracker_id: None,
        };
        let mut out = Vec::new();
        udp_wire::encode_announce_request(&mut out, connection_id, 2, &req);
        packets.push((*a, Bytes::from(out)));
        let mut out = Vec::new();
        udp_wire::encode_scrape_request(&mut out, connection_id, 3, &[[7; 20], [8; 20]]);
        packets.push((*a, Bytes::from(out)));
    }
    let round = |s: &mut Scheduler| {
        for p in &packets {
            input.send(p.clone()).unwrap();
        }
        s.run_until_idle();
        let mut n = 0;
        while let Some((_, reply)) = replies.recv() {
            assert!(reply.len() >= 20);
            n += 1;
        }
        assert_eq!(n, packets.len());
    };
    for _ in 0..3 {
        round(&mut s); // warm up: peers join, queues and buffers grow
    }
    let before = allocs();
    for _ in 0..ROUNDS {
        round(&mut s);
    }
    let spent = allocs() - before;
    assert_eq!(
        spent,
        0,
        "{spent} allocations for {} datagrams",
        ROUNDS * packets.len()
    );
    assert_eq!(swarms.borrow().peers(), PEERS as usize);
}
