//! PeerSession (src/protocol/torrent/peer) against a scripted peer, on
//! virtual time: the opening for each handshake variant, serving and
//! downloading, rejects and allowed-fast pieces, one exchange fed whole, a
//! byte at a time and split at every byte, and no allocation per block in
//! steady state. Timers and the pipeline: tests/torrent_peer_timers.rs.
//! Rules against hostile peers: tests/torrent_peer_hostile.rs; two sessions
//! downloading a torrent: tests/torrent_peer_pair.rs; the connection
//! dropping inside a message: tests/torrent_peer_faults.rs.

use std::time::{Duration, Instant};

use bytes::Bytes;
use kamaelia::protocol::torrent::peer::{DisconnectReason, PeerConfig, PeerEvent, PeerSession};
use kamaelia::protocol::torrent::pieces::{Bitfield, BlockRef, Layout, BLOCK_SIZE};
use kamaelia::protocol::torrent::wire::{ExtHandshake, Handshake, Message};

mod alloc_counter;
use alloc_counter::allocs;

mod peer_support;
use peer_support::*;

fn our_ext() -> Vec<u8> {
    let mut ext = ExtHandshake {
        reqq: Some(250),
        v: Some("kamaelia-rs".into()),
        ..ExtHandshake::default()
    };
    ext.m.insert("ut_metadata".into(), 2);
    let mut out = bytes::BytesMut::new();
    ext.encode(&mut out).unwrap();
    out.to_vec()
}

fn piece_msg(b: BlockRef) -> Message {
    Message::Piece {
        piece: b.piece,
        offset: b.offset,
        data: Bytes::from(vec![b.piece as u8; b.len as usize]),
    }
}

#[test]
fn our_handshake_goes_first_and_the_opening_fits_each_variant() {
    let t0 = Instant::now();
    let layout = Layout::new(3 * 16_384, 16_384).unwrap();
    let s = PeerSession::new(
        OUR,
        HASH,
        layout,
        Bitfield::new(3),
        PeerConfig::default(),
        t0,
    );
    assert_eq!(s.output().to_vec(), Handshake::new(HASH, OUR).to_bytes());

    let mut one = Bitfield::new(3);
    one.set(1);
    let cases: Vec<(bool, bool, Bitfield, Vec<u8>)> = vec![
        // fast + extension, nothing had: have-none, then our handshake.
        (true, true, Bitfield::new(3), {
            let mut v = wire(&[Message::HaveNone]);
            v.extend(our_ext());
            v
        }),
        (true, false, Bitfield::full(3), wire(&[Message::HaveAll])),
        (
            true,
            false,
            one.clone(),
            wire(&[Message::Bitfield(Bytes::from_static(&[0x40]))]),
        ),
        (
            false,
            false,
            one,
            wire(&[Message::Bitfield(Bytes::from_static(&[0x40]))]),
        ),
        (
            false,
            false,
            Bitfield::full(3),
            wire(&[Message::Bitfield(Bytes::from_static(&[0xe0]))]),
        ),
        // Nothing had and no fast extension: BEP 3 lets us say nothing.
        (false, false, Bitfield::new(3), vec![]),
        (false, true, Bitfield::new(3), our_ext()),
    ];
    for (fast, ext, have, want) in cases {
        let mut s = PeerSession::new(OUR, HASH, layout, have, PeerConfig::default(), t0);
        s.take_output();
        s.on_bytes(&peer_handshake(fast, ext), t0);
        assert_eq!(
            drain(&mut s),
            vec![PeerEvent::HandshakeDone {
                peer_id: THEM,
                fast,
                extended: ext
            }]
        );
        assert_eq!(s.take_output().to_vec(), want, "fast {fast} ext {ext}");
        assert_eq!(
            (s.is_fast(), s.is_extended(), s.peer_id()),
            (fast, ext, Some(THEM))
        );
    }
}

#[test]
fn interest_and_unchoke_said_before_the_handshake_follow_the_opening() {
    let t0 = Instant::now();
    let layout = Layout::new(3 * 16_384, 16_384).unwrap();
    let mut s = PeerSession::new(
        OUR,
        HASH,
        layout,
        Bitfield::full(3),
        PeerConfig::default(),
        t0,
    );
    s.unchoke();
    s.set_interested(true);
    assert_eq!(s.output().len(), 68);
    s.take_output();
    s.on_bytes(&peer_handshake(true, false), t0);
    let want = wire(&[Message::HaveAll, Message::Unchoke, Message::Interested]);
    assert_eq!(s.take_output().to_vec(), want);
}

#[test]
fn serving_the_peer_requests_cancels_and_chokes() {
    let t0 = Instant::now();
    let layout = Layout::new(4 * 32_768, 32_768).unwrap();
    let mut s = opened(layout, Bitfield::full(4), true, false, t0);
    let b = |p, i| layout.block(p, i).unwrap();
    s.on_bytes(&wire(&[Message::HaveNone, Message::Interested]), t0);
    assert_eq!(
        drain(&mut s),
        vec![PeerEvent::HaveNone, PeerEvent::Interest(true)]
    );
    s.unchoke();
    assert_eq!(s.take_output().to_vec(), wire(&[Message::Unchoke]));
    let reqs: Vec<Message> = (0..4).map(|i| Message::Request(b(i, 1))).collect();
    s.on_bytes(&wire(&reqs), t0);
    assert_eq!(s.peer_requests(), 4);
    // Cancelled before it was handed out: never served.
    s.on_bytes(&wire(&[Message::Cancel(b(1, 1))]), t0);
    assert_eq!(s.pop_upload(), Some(b(0, 1)));
    assert_eq!(s.pop_upload(), Some(b(2, 1)));
    // Cancelled while being read: send_block drops it.
    s.on_bytes(&wire(&[Message::Cancel(b(2, 1))]), t0);
    let data = vec![5u8; 16_384];
    assert!(s.send_block(b(0, 1), &data));
    assert!(!s.send_block(b(2, 1), &data));
    assert!(!s.send_block(b(3, 1), &data), "not handed out yet");
    // BEP 6: each cancel answered with a reject, the block with itself.
    let want = wire(&[
        Message::Reject(b(1, 1)),
        Message::Reject(b(2, 1)),
        Message::Piece {
            piece: 0,
            offset: 16_384,
            data: Bytes::from(data.clone()),
        },
    ]);
    assert_eq!(s.take_output().to_vec(), want);
    // Choking a fast peer rejects what is left; an allowed-fast piece stays.
    assert!(s.allow_fast(3));
    assert!(!s.allow_fast(3));
    s.on_bytes(&wire(&[Message::Request(b(1, 0))]), t0);
    s.choke();
    let want = wire(&[
        Message::AllowedFast(3),
        Message::Choke,
        Message::Reject(b(1, 0)),
    ]);
    assert_eq!(s.take_output().to_vec(), want);
    assert_eq!(s.pop_upload(), Some(b(3, 1)));
    assert!(s.send_block(b(3, 1), &data));
    // While choked: rejected, but the allowed-fast piece is served.
    s.take_output();
    s.on_bytes(
        &wire(&[Message::Request(b(0, 0)), Message::Request(b(3, 0))]),
        t0,
    );
    assert_eq!(s.take_output().to_vec(), wire(&[Message::Reject(b(0, 0))]));
    assert_eq!(s.pop_upload(), Some(b(3, 0)));
    assert_eq!(s.upload_rate(t0 + secs(1)), 2 * 16_384);
    assert!(!s.is_closed());
}

#[test]
fn blocks_given_as_bytes_go_out_uncopied_between_the_other_messages() {
    let t0 = Instant::now();
    let layout = Layout::new(4 * 32_768, 32_768).unwrap();
    let mut s = opened(layout, Bitfield::new(4), true, false, t0);
    s.on_bytes(&wire(&[Message::HaveNone]), t0);
    s.unchoke();
    s.take_output();
    s.send_have(0);
    let b = |p, i| layout.block(p, i).unwrap();
    s.on_bytes(
        &wire(&[Message::Request(b(0, 0)), Message::Request(b(0, 1))]),
        t0,
    );
    let (x, y) = (
        Bytes::from(vec![3u8; 16_384]),
        Bytes::from(vec![4u8; 16_384]),
    );
    assert_eq!(s.pop_upload(), Some(b(0, 0)));
    assert_eq!(s.pop_upload(), Some(b(0, 1)));
    assert!(s.send_block_bytes(b(0, 0), x.clone()));
    s.send_have(1);
    assert!(!s.send_block_bytes(b(0, 0), x.clone()), "already sent");
    assert!(!s.send_block_bytes(b(0, 1), x.slice(1..)), "wrong length");
    assert!(s.send_block_bytes(b(0, 1), y.clone()));
    // The blocks are queued as they are, not copied.
    let mut io = [std::io::IoSlice::new(&[]); 8];
    let n = s.output().slices(&mut io);
    assert!(io[..n].iter().any(|s| s.as_ptr() == x.as_ptr()));
    assert!(io[..n].iter().any(|s| s.as_ptr() == y.as_ptr()));
    let piece = |block: BlockRef, data: &Bytes| Message::Piece {
        piece: block.piece,
        offset: block.offset,
        data: data.clone(),
    };
    let want = wire(&[
        Message::Have(0),
        piece(b(0, 0), &x),
        Message::Have(1),
        piece(b(0, 1), &y),
    ]);
    assert_eq!(s.output().len(), want.len());
    assert_eq!(s.take_output().to_vec(), want);
    assert_eq!(s.upload_rate(t0 + secs(1)), 2 * 16_384);
}

#[test]
fn uploads_wait_while_the_output_is_full() {
    let t0 = Instant::now();
    let layout = Layout::new(64 * 16_384, 16_384).unwrap();
    let mut s = opened(layout, Bitfield::full(64), true, false, t0);
    s.on_bytes(&wire(&[Message::HaveNone]), t0);
    s.unchoke();
    let reqs: Vec<Message> = all_blocks(&layout)
        .into_iter()
        .map(Message::Request)
        .collect();
    s.on_bytes(&wire(&reqs), t0);
    let data = vec![1u8; 16_384];
    let mut served = 0;
    while let Some(r) = s.pop_upload() {
        assert!(s.send_block(r, &data));
        served += 1;
    }
    // 256 KiB ahead: 16 blocks, the messages' heads over it by a little.
    assert_eq!(served, 16);
    assert!(s.output().len() <= 256 * 1024 + 16 * 13 + 64);
    s.take_output();
    assert!(s.pop_upload().is_some());
}

#[test]
fn downloading_blocks_and_a_choke_without_the_fast_extension() {
    let t0 = Instant::now();
    let layout = Layout::new(4 * 32_768, 32_768).unwrap();
    let mut s = downloading(layout, false, t0);
    assert_eq!(s.wants_requests(), 4);
    let blocks = all_blocks(&layout);
    // The peer's bitfield lacks nothing; a block of piece 9 ends the run.
    let mut ask = blocks[..3].to_vec();
    ask.push(BlockRef {
        piece: 9,
        offset: 0,
        len: 16_384,
    });
    ask.push(blocks[3]);
    assert_eq!(s.request(&ask), 3);
    assert_eq!(s.request(&blocks[..1]), 0, "already out");
    assert_eq!(s.wants_requests(), 1);
    let want: Vec<Message> = blocks[..3].iter().copied().map(Message::Request).collect();
    assert_eq!(s.take_output().to_vec(), wire(&want));
    s.on_bytes(&wire(&[piece_msg(blocks[1])]), t0 + secs(1));
    match &drain(&mut s)[..] {
        [PeerEvent::Block {
            block,
            data,
            late: false,
        }] => {
            assert_eq!((*block, data.len()), (blocks[1], 16_384));
        }
        other => panic!("{other:?}"),
    }
    // Choked: without BEP 6 the two still out are void.
    s.on_bytes(&wire(&[Message::Choke]), t0 + secs(1));
    assert_eq!(drain(&mut s), vec![PeerEvent::Choked]);
    assert_eq!((s.outstanding_len(), s.wants_requests()), (0, 0));
    assert_eq!(s.request(&blocks[4..5]), 0, "choked");
    // One crossed the choke: late, not unsolicited.
    s.on_bytes(&wire(&[piece_msg(blocks[0])]), t0 + secs(1));
    assert!(matches!(
        drain(&mut s)[..],
        [PeerEvent::Block { late: true, .. }]
    ));
    s.on_bytes(&wire(&[Message::Unchoke, Message::Have(2)]), t0 + secs(1));
    // A have for a piece the bitfield had already is not news.
    assert_eq!(drain(&mut s), vec![PeerEvent::Unchoked]);
    assert!(s.wants_requests() > 0);
}

#[test]
fn fast_peer_rejects_and_allowed_fast_pieces() {
    let t0 = Instant::now();
    let layout = Layout::new(4 * 32_768, 32_768).unwrap();
    let mut s = opened(layout, Bitfield::new(4), true, false, t0);
    s.on_bytes(
        &wire(&[
            Message::HaveAll,
            Message::AllowedFast(1),
            Message::Suggest(2),
        ]),
        t0,
    );
    assert_eq!(
        drain(&mut s),
        vec![
            PeerEvent::HaveAll,
            PeerEvent::AllowedFast(1),
            PeerEvent::Suggest(2)
        ]
    );
    s.set_interested(true);
    assert_eq!(s.wants_requests(), 0, "choked");
    let b = |p, i| layout.block(p, i).unwrap();
    assert_eq!(s.request(&[b(0, 0)]), 0, "not allowed fast");
    assert_eq!(s.request(&[b(1, 0), b(1, 1), b(0, 0)]), 2);
    assert_eq!(s.allowed_fast(), &[1]);
    s.on_bytes(&wire(&[Message::Reject(b(1, 1)), Message::Unchoke]), t0);
    assert_eq!(
        drain(&mut s),
        vec![PeerEvent::Returned(b(1, 1)), PeerEvent::Unchoked]
    );
    assert_eq!(s.request(&[b(0, 0)]), 1);
    // A fast peer's choke keeps the requests out.
    s.on_bytes(&wire(&[Message::Choke]), t0);
    assert_eq!(drain(&mut s), vec![PeerEvent::Choked]);
    assert_eq!(s.outstanding_len(), 2);
    s.on_bytes(&wire(&[piece_msg(b(0, 0)), Message::Reject(b(1, 0))]), t0);
    assert!(matches!(
        drain(&mut s)[..],
        [PeerEvent::Block { late: false, .. }, PeerEvent::Returned(_)]
    ));
    assert_eq!(s.outstanding_len(), 0);
}

/// One exchange, as a seed sees a downloader: the same events, output and
/// requests however the bytes are cut.
#[test]
fn one_exchange_fed_whole_byte_by_byte_and_split_at_every_byte() {
    let t0 = Instant::now();
    let layout = Layout::new(3_000, 1_000).unwrap();
    let b = |p| layout.block(p, 0).unwrap();
    let mut stream = peer_handshake(true, true);
    let mut ext = ExtHandshake::default();
    ext.m.insert("ut_metadata".into(), 5);
    let mut e = bytes::BytesMut::new();
    ext.encode(&mut e).unwrap();
    stream.extend(wire(&[Message::HaveNone]));
    stream.extend(e.to_vec());
    stream.extend(wire(&[
        Message::Interested,
        Message::Request(b(0)),
        Message::Request(b(1)),
        Message::Cancel(b(1)),
        Message::KeepAlive,
        Message::Have(2),
        Message::Request(b(2)),
    ]));
    let run = |cuts: &[usize]| {
        let mut s = PeerSession::new(
            OUR,
            HASH,
            layout,
            Bitfield::full(3),
            PeerConfig::default(),
            t0,
        );
        s.unchoke();
        let mut at = 0;
        for &c in cuts.iter().chain(std::iter::once(&stream.len())) {
            s.on_bytes(&stream[at..c], t0);
            at = c;
        }
        let served: Vec<BlockRef> = std::iter::from_fn(|| s.pop_upload()).collect();
        (
            drain(&mut s),
            s.take_output().to_vec(),
            served,
            s.peer_has().clone(),
        )
    };
    let whole = run(&[]);
    let mut ev = vec![PeerEvent::HandshakeDone {
        peer_id: THEM,
        fast: true,
        extended: true,
    }];
    ev.extend([
        PeerEvent::HaveNone,
        PeerEvent::ExtHandshake,
        PeerEvent::Interest(true),
        PeerEvent::Have(2),
    ]);
    assert_eq!(whole.0, ev);
    assert_eq!(whole.2, vec![b(0), b(2)]);
    let mut out = Handshake::new(HASH, OUR).to_bytes().to_vec();
    out.extend(wire(&[Message::HaveAll]));
    out.extend(our_ext());
    out.extend(wire(&[Message::Unchoke, Message::Reject(b(1))]));
    assert_eq!(whole.1, out);
    let bytewise: Vec<usize> = (1..stream.len()).collect();
    assert_eq!(run(&bytewise), whole);
    for cut in 0..=stream.len() {
        assert_eq!(run(&[cut]), whole, "cut at {cut}");
    }
}

/// The downloading side of an exchange, its blocks split at every byte.
#[test]
fn blocks_arrive_the_same_split_at_every_byte() {
    let t0 = Instant::now();
    let layout = Layout::new(3_000, 1_000).unwrap();
    let blocks = all_blocks(&layout);
    let answer = wire(&[
        piece_msg(blocks[1]),
        Message::Have(0),
        piece_msg(blocks[0]),
        Message::Unchoke,
    ]);
    let run = |cut: Option<usize>| {
        let mut s = downloading(layout, true, t0);
        assert_eq!(s.request(&blocks[..2]), 2);
        match cut {
            None => s.on_bytes(&answer, t0),
            Some(c) => {
                s.on_bytes(&answer[..c], t0);
                s.on_bytes(&answer[c..], t0);
            }
        }
        (drain(&mut s), s.outstanding_len(), s.is_closed())
    };
    let whole = run(None);
    assert_eq!(whole.0.len(), 2);
    assert_eq!(whole.1, 0);
    for cut in 0..=answer.len() {
        assert_eq!(run(Some(cut)), whole, "cut at {cut}");
    }
}

/// Two sessions back to back, a seed and a downloader, moving blocks: after
/// a warm-up nothing is allocated per block on either side.
#[test]
fn no_allocation_per_block_in_steady_state() {
    let t0 = Instant::now();
    let layout = Layout::new(1024 * 262_144, 262_144).unwrap();
    let n = layout.piece_count();
    let mut seed = PeerSession::new(
        THEM,
        HASH,
        layout,
        Bitfield::full(n),
        PeerConfig::default(),
        t0,
    );
    let mut leech = PeerSession::new(
        OUR,
        HASH,
        layout,
        Bitfield::new(n),
        PeerConfig::default(),
        t0,
    );
    seed.unchoke();
    leech.set_interested(true);
    let blocks = all_blocks(&layout);
    let data = vec![3u8; BLOCK_SIZE as usize];
    let mut next = 0;
    let mut got = 0usize;
    let mut before = None;
    let mut now = t0;
    while got < 6_000 {
        now += Duration::from_micros(100);
        if got >= 1_000 && before.is_none() {
            before = Some(allocs());
        }
        let want = leech.wants_requests();
        next += leech.request(&blocks[next..next + want]);
        let out = leech.take_output();
        seed.on_bytes(&out, now);
        while seed.poll_event().is_some() {}
        while let Some(r) = seed.pop_upload() {
            assert!(seed.send_block(r, &data[..r.len as usize]));
        }
        let out = seed.take_output();
        leech.on_bytes(&out, now);
        while let Some(e) = leech.poll_event() {
            if let PeerEvent::Block { data, .. } = e {
                assert_eq!(data.len(), BLOCK_SIZE as usize);
                got += 1;
            }
        }
        seed.on_tick(now);
        leech.on_tick(now);
    }
    let made = allocs() - before.unwrap();
    assert_eq!(made, 0, "allocations over 5,000 blocks");
    assert_eq!(leech.pipeline_depth(), 250);
    assert!(!seed.is_closed() && !leech.is_closed());
}

#[test]
fn cancels_answered_as_bep6_says() {
    let t0 = Instant::now();
    let layout = Layout::new(4 * 32_768, 32_768).unwrap();
    let b = |p, i| layout.block(p, i).unwrap();
    // Serving a peer without BEP 6: a cancel is not answered.
    let mut s = opened(layout, Bitfield::full(4), false, false, t0);
    s.unchoke();
    s.take_output();
    s.on_bytes(
        &wire(&[Message::Request(b(0, 0)), Message::Cancel(b(0, 0))]),
        t0,
    );
    assert!(s.output().is_empty());
    assert_eq!(s.pop_upload(), None);
    // Downloading from a fast peer: its reject answers our cancel, so the
    // block will not come; if it does, nobody asked for it.
    let mut s = downloading(layout, true, t0);
    assert_eq!(s.request(&[b(0, 0), b(0, 1)]), 2);
    assert!(s.cancel(b(0, 0)));
    s.on_bytes(&wire(&[Message::Reject(b(0, 0))]), t0);
    assert!(drain(&mut s).is_empty(), "already returned when cancelled");
    for _ in 0..8 {
        s.on_bytes(&wire(&[piece_msg(b(0, 0))]), t0);
    }
    assert!(drain(&mut s).is_empty());
    s.on_bytes(&wire(&[piece_msg(b(0, 0))]), t0);
    assert_eq!(
        drain(&mut s),
        vec![PeerEvent::Disconnect(DisconnectReason::UnsolicitedPieces)]
    );
}

/// Reading straight into the decoder gives what `on_bytes` gives.
#[test]
fn read_from_a_reader_in_small_reads() {
    let t0 = Instant::now();
    let layout = Layout::new(3_000, 1_000).unwrap();
    let blocks = all_blocks(&layout);
    let mut stream = peer_handshake(true, false);
    stream.extend(wire(&[Message::HaveAll, Message::Unchoke]));
    let mut s = PeerSession::new(
        OUR,
        HASH,
        layout,
        Bitfield::new(3),
        PeerConfig::default(),
        t0,
    );
    let mut r = &stream[..];
    while s.read_from(&mut r, 7, t0).unwrap() > 0 {}
    let ev = drain(&mut s);
    assert_eq!(&ev[1..], &[PeerEvent::HaveAll, PeerEvent::Unchoked]);
    s.set_interested(true);
    assert_eq!(s.request(&blocks), 3);
    let answer = wire(&blocks.iter().copied().map(piece_msg).collect::<Vec<_>>());
    let mut r = &answer[..];
    let mut reads = 0;
    while s.read_from(&mut r, 100, t0).unwrap() > 0 {
        reads += 1;
    }
    assert_eq!(reads, answer.len().div_ceil(100));
    let got: Vec<BlockRef> = drain(&mut s)
        .into_iter()
        .map(|e| match e {
            PeerEvent::Block {
                block,
                late: false,
                data,
            } => {
                assert_eq!(&data[..], &vec![block.piece as u8; 1_000][..]);
                block
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, blocks);
    s.on_eof();
    assert_eq!(
        drain(&mut s),
        vec![PeerEvent::Disconnect(DisconnectReason::PeerClosed)]
    );
}
