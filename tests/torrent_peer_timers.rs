//! PeerSession's clocks and pipeline, on virtual time: the depth of the
//! request pipeline on a fast peer (slow start to the cap), a slow one and
//! one with a small `reqq`; keep-alive, idle and handshake time-outs;
//! request time-outs and snubbing. The rest: tests/torrent_peer.rs.

use std::time::{Duration, Instant};

use bytes::Bytes;
use kamaelia::protocol::torrent::peer::{DisconnectReason, PeerConfig, PeerEvent, PeerSession};
use kamaelia::protocol::torrent::pieces::{Bitfield, BlockRef, Layout};
use kamaelia::protocol::torrent::wire::{encode_metadata, ExtHandshake, Message, MetadataMsg};

mod peer_support;
use peer_support::*;

fn piece_msg(b: BlockRef) -> Message {
    Message::Piece {
        piece: b.piece,
        offset: b.offset,
        data: Bytes::from(vec![b.piece as u8; b.len as usize]),
    }
}

#[test]
fn extension_handshake_reqq_caps_the_pipeline_and_metadata_flows() {
    let t0 = Instant::now();
    let layout = Layout::new(64 * 262_144, 262_144).unwrap();
    let mut s = opened(layout, Bitfield::new(64), true, true, t0);
    let mut ext = ExtHandshake {
        reqq: Some(10),
        ..ExtHandshake::default()
    };
    ext.m.insert("ut_metadata".into(), 3);
    let mut bytes = bytes::BytesMut::new();
    ext.encode(&mut bytes).unwrap();
    s.on_bytes(&bytes, t0);
    s.on_bytes(&wire(&[Message::HaveAll, Message::Unchoke]), t0);
    let mut req = bytes::BytesMut::new();
    encode_metadata(&MetadataMsg::Request { piece: 0 }, 2, &mut req).unwrap();
    s.on_bytes(&req, t0);
    assert_eq!(
        drain(&mut s),
        vec![
            PeerEvent::ExtHandshake,
            PeerEvent::HaveAll,
            PeerEvent::Unchoked,
            PeerEvent::Metadata(MetadataMsg::Request { piece: 0 })
        ]
    );
    assert_eq!(s.peer_ext().unwrap().reqq, Some(10));
    // Our answer goes under the id the peer gave ut_metadata.
    s.take_output();
    let data = MetadataMsg::Data {
        piece: 0,
        total_size: 3,
        data: Bytes::from_static(b"abc"),
    };
    assert!(s.send_metadata(&data));
    let mut want = bytes::BytesMut::new();
    encode_metadata(&data, 3, &mut want).unwrap();
    assert_eq!(s.take_output(), want);
    // The pipeline never passes the peer's reqq, however fast it is.
    s.set_interested(true);
    let (depth, _) = run_pipeline(
        &mut s,
        &layout,
        t0,
        Duration::from_millis(1),
        usize::MAX,
        60,
    );
    assert_eq!(depth.iter().max(), Some(&10));
}

/// Requests what the session wants and lets the peer answer up to `per`
/// of the oldest each `step` of virtual time, for `rounds` rounds;
/// returns the depth after each round and the most out at once.
fn run_pipeline(
    s: &mut PeerSession,
    layout: &Layout,
    t0: Instant,
    step: Duration,
    per: usize,
    rounds: u32,
) -> (Vec<u32>, usize) {
    let blocks = all_blocks(layout);
    let mut next = 0;
    let mut most = 0;
    let mut depths = Vec::new();
    for r in 1..=rounds {
        let want = s.wants_requests();
        next += s.request(&blocks[next..(next + want).min(blocks.len())]);
        most = most.max(s.outstanding_len());
        s.take_output();
        let now = t0 + step * r;
        let answer: Vec<Message> = s.outstanding().take(per).copied().map(piece_msg).collect();
        s.on_bytes(&wire(&answer), now);
        s.on_tick(now);
        for e in drain(s) {
            assert!(matches!(e, PeerEvent::Block { late: false, .. }), "{e:?}");
        }
        depths.push(s.pipeline_depth());
    }
    (depths, most)
}

#[test]
fn pipeline_grows_from_four_to_the_cap_on_a_fast_peer() {
    let t0 = Instant::now();
    let layout = Layout::new(1024 * 262_144, 262_144).unwrap();
    let mut s = downloading(layout, true, t0);
    assert_eq!((s.pipeline_depth(), s.wants_requests()), (4, 4));
    // Every request answered a millisecond later: loopback.
    let (depths, most) = run_pipeline(
        &mut s,
        &layout,
        t0,
        Duration::from_millis(1),
        usize::MAX,
        12,
    );
    // Slow start: doubles each round trip, then the cap.
    assert_eq!(&depths[..6], &[8, 16, 32, 64, 128, 250]);
    assert!(depths[6..].iter().all(|&d| d == 250), "{depths:?}");
    assert_eq!(most, 250);
}

#[test]
fn pipeline_stays_small_for_a_slow_peer() {
    let t0 = Instant::now();
    let layout = Layout::new(64 * 262_144, 262_144).unwrap();
    let mut s = downloading(layout, true, t0);
    // One block a second: 16 KiB/s, two seconds of it is two blocks.
    let (depths, most) = run_pipeline(&mut s, &layout, t0, secs(1), 1, 60);
    assert!(depths.iter().all(|&d| d == 2), "{depths:?}");
    assert_eq!(most, 4, "the first four, before the rate was known");
    assert!(!s.is_snubbed() && !s.is_closed());
    // Four blocks a second: 8 in flight.
    let mut s = downloading(layout, true, t0);
    let (depths, _) = run_pipeline(&mut s, &layout, t0, Duration::from_millis(250), 1, 80);
    assert_eq!(depths.last(), Some(&8), "{depths:?}");
}

#[test]
fn keep_alive_after_two_minutes_and_idle_after_three() {
    let t0 = Instant::now();
    let layout = Layout::new(16_384, 16_384).unwrap();
    let mut s = opened(layout, Bitfield::new(1), true, false, t0);
    assert_eq!(s.next_deadline(), t0 + secs(120));
    s.on_tick(t0 + secs(119));
    assert!(s.output().is_empty());
    s.on_tick(t0 + secs(120));
    assert_eq!(s.take_output().to_vec(), vec![0, 0, 0, 0]);
    assert_eq!(s.next_deadline(), t0 + secs(180));
    // The peer's keep-alive keeps it alive.
    s.on_bytes(&[0, 0, 0, 0], t0 + secs(150));
    s.on_tick(t0 + secs(240));
    assert_eq!(s.take_output().to_vec(), vec![0, 0, 0, 0]);
    assert_eq!(s.next_deadline(), t0 + secs(330));
    s.on_tick(t0 + secs(329));
    assert!(drain(&mut s).is_empty());
    s.on_tick(t0 + secs(330));
    assert_eq!(
        drain(&mut s),
        vec![PeerEvent::Disconnect(DisconnectReason::Idle)]
    );
    assert!(s.is_closed());
}

#[test]
fn no_handshake_in_time() {
    let t0 = Instant::now();
    let layout = Layout::new(16_384, 16_384).unwrap();
    let mut s = PeerSession::new(
        OUR,
        HASH,
        layout,
        Bitfield::new(1),
        PeerConfig::default(),
        t0,
    );
    s.on_bytes(&peer_handshake(true, true)[..40], t0 + secs(10));
    assert_eq!(s.next_deadline(), t0 + secs(30));
    s.on_tick(t0 + secs(29));
    assert!(drain(&mut s).is_empty());
    s.on_tick(t0 + secs(30));
    assert_eq!(
        drain(&mut s),
        vec![PeerEvent::Disconnect(DisconnectReason::HandshakeTimeout)]
    );
}

#[test]
fn requests_time_out_one_at_a_time_and_a_silent_peer_is_snubbed() {
    let t0 = Instant::now();
    let layout = Layout::new(4 * 32_768, 32_768).unwrap();
    let mut s = downloading(layout, true, t0);
    let blocks = all_blocks(&layout);
    assert_eq!(s.request(&blocks[..4]), 4);
    s.take_output();
    assert_eq!(s.next_deadline(), t0 + secs(30));
    s.on_tick(t0 + secs(29));
    assert!(drain(&mut s).is_empty());
    s.on_tick(t0 + secs(30));
    assert_eq!(drain(&mut s), vec![PeerEvent::Returned(blocks[0])]);
    assert_eq!(
        s.take_output().to_vec(),
        wire(&[Message::Cancel(blocks[0])])
    );
    s.on_tick(t0 + secs(59));
    assert!(drain(&mut s).is_empty());
    s.on_tick(t0 + secs(60));
    assert_eq!(
        drain(&mut s),
        vec![PeerEvent::Snubbed(true), PeerEvent::Returned(blocks[1])]
    );
    assert!(s.is_snubbed());
    assert_eq!(s.wants_requests(), 0, "a snubbed peer keeps one out");
    // A block: no longer snubbed. The timed-out one comes late.
    s.on_bytes(
        &wire(&[piece_msg(blocks[2]), piece_msg(blocks[0])]),
        t0 + secs(61),
    );
    let ev = drain(&mut s);
    assert_eq!(ev[0], PeerEvent::Snubbed(false));
    assert!(matches!(ev[1], PeerEvent::Block { late: false, .. }));
    assert!(matches!(ev[2], PeerEvent::Block { late: true, .. }));
    assert_eq!(ev.len(), 3);
    assert!(!s.is_snubbed());
}

#[test]
fn a_near_peer_keeps_a_few_milliseconds_in_flight_a_far_one_two_seconds() {
    let t0 = Instant::now();
    let layout = Layout::new(1024 * 262_144, 262_144).unwrap();
    // 4 blocks a millisecond (64 MiB/s), 100 µs away: 4 ms of that is 16
    // blocks, so the near cap of 32 holds.
    let mut near = downloading(layout, true, t0);
    near.set_round_trip(Duration::from_micros(100));
    let (depths, most) = run_pipeline(&mut near, &layout, t0, Duration::from_millis(1), 4, 400);
    // Slow start: one more per block, four blocks a round.
    assert_eq!(&depths[..7], &[8, 12, 16, 20, 24, 28, 32]);
    assert!(depths[7..].iter().all(|&d| d == 32), "{depths:?}");
    assert_eq!(most, 32);
    // 16 blocks a millisecond (256 MiB/s): 4 ms of it is 64 blocks, more
    // than the near cap, so that many (the meter reads a little under the
    // rate, the first millisecond having had no block).
    let mut fast = downloading(layout, true, t0);
    fast.set_round_trip(Duration::from_micros(100));
    let (depths, _) = run_pipeline(&mut fast, &layout, t0, Duration::from_millis(1), 16, 400);
    let last = *depths.last().unwrap();
    assert!((60..=64).contains(&last), "{depths:?}");
    // The same 64 MiB/s peer 50 ms away: two seconds of its rate, capped
    // at 250.
    let mut far = downloading(layout, true, t0);
    far.set_round_trip(Duration::from_millis(50));
    let (depths, most) = run_pipeline(&mut far, &layout, t0, Duration::from_millis(1), 4, 400);
    assert_eq!(depths.last(), Some(&250), "{depths:?}");
    assert_eq!(most, 250);
}
