//! PeerSessions wired back to back in memory, each hosted by a small owner
//! the way the torrent client will host them: a Picker, PieceBuffers, the
//! SHA-1 of each piece checked before it is had, haves sent, endgame
//! cancels, a bad piece banning its sender. Every byte downloaded is
//! compared with the source and every piece with its hash.

use std::time::{Duration, Instant};

use kamaelia::protocol::torrent::peer::{DisconnectReason, PeerConfig, PeerEvent, PeerSession};
use kamaelia::protocol::torrent::pieces::{Bitfield, BlockRef, Layout};
use kamaelia::protocol::torrent::storage::{Added, PieceBuffers};
use kamaelia::protocol::torrent::swarm::{PeerKey, Picker};
use sha1::{Digest, Sha1};

const HASH: [u8; 20] = [7; 20];

struct Conn {
    key: PeerKey,
    s: PeerSession,
    gone: Option<DisconnectReason>,
}

/// One side: a torrent's data (valid where `picker.have()` says), its
/// picker and its connections.
struct Node {
    layout: Layout,
    hashes: Vec<[u8; 20]>,
    data: Vec<u8>,
    picker: Picker,
    pieces: PieceBuffers,
    conns: Vec<Conn>,
    /// Serve wrong bytes for every piece (a hostile seed).
    corrupt: bool,
    blocks_in: u64,
    late: u64,
    failed: u32,
    /// Endgame cancels sent for a block another peer delivered.
    cancels_sent: u32,
    scratch: Vec<u8>,
    pick: Vec<BlockRef>,
}

fn source(len: usize) -> Vec<u8> {
    let mut x: u32 = 12345;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect()
}

fn hashes(layout: &Layout, data: &[u8]) -> Vec<[u8; 20]> {
    (0..layout.piece_count())
        .map(|p| {
            let at = layout.piece_offset(p) as usize;
            Sha1::digest(&data[at..at + layout.piece_len(p) as usize]).into()
        })
        .collect()
}

impl Node {
    /// A node with the pieces in `have` of `src`.
    fn new(layout: Layout, src: &[u8], have: &Bitfield) -> Node {
        let mut picker = Picker::new(layout, 99);
        let mut data = vec![0; src.len()];
        for p in have.ones() {
            picker.on_piece_verified(p).unwrap();
            let at = layout.piece_offset(p) as usize;
            let end = at + layout.piece_len(p) as usize;
            data[at..end].copy_from_slice(&src[at..end]);
        }
        Node {
            layout,
            hashes: hashes(&layout, src),
            data,
            picker,
            pieces: PieceBuffers::new(layout, 64),
            conns: Vec::new(),
            corrupt: false,
            blocks_in: 0,
            late: 0,
            failed: 0,
            cancels_sent: 0,
            scratch: Vec::new(),
            pick: Vec::new(),
        }
    }

    fn connect(&mut self, id: u8, config: &PeerConfig, now: Instant) -> usize {
        let key = PeerKey(self.conns.len() as u32);
        let s = PeerSession::new(
            [id; 20],
            HASH,
            self.layout,
            self.picker.have().clone(),
            config.clone(),
            now,
        );
        self.conns.push(Conn { key, s, gone: None });
        self.conns.len() - 1
    }

    fn conn_of(&mut self, key: PeerKey) -> &mut PeerSession {
        &mut self.conns[key.0 as usize].s
    }

    /// What the owner does after a session had bytes or a tick.
    fn service(&mut self, i: usize) {
        let key = self.conns[i].key;
        let mut cancels = Vec::new();
        while let Some(ev) = self.conns[i].s.poll_event() {
            let s = &self.conns[i].s;
            match ev {
                PeerEvent::Bitfield => self.picker.on_bitfield(key, s.peer_has()).unwrap(),
                PeerEvent::HaveAll => self.picker.on_have_all(key).unwrap(),
                PeerEvent::HaveNone => self.picker.on_have_none(key).unwrap(),
                PeerEvent::Have(p) => self.picker.on_have(key, p).unwrap(),
                PeerEvent::Choked if !s.is_fast() => {
                    self.picker.on_peer_choked(key);
                }
                PeerEvent::Returned(b) => {
                    self.picker.on_request_cancelled(key, b);
                }
                PeerEvent::Block { block, data, late } => {
                    self.blocks_in += 1;
                    self.late += u64::from(late);
                    let Ok(_) = self.picker.on_block_received(key, block, &mut cancels) else {
                        continue; // a duplicate in endgame
                    };
                    for other in cancels.drain(..) {
                        if self.conn_of(other).cancel(block) {
                            self.cancels_sent += 1;
                        }
                    }
                    self.pieces.start(block.piece).unwrap();
                    let added = self.pieces.add(block.piece, block.offset, data).unwrap();
                    if let Added::Complete(blocks) = added {
                        self.piece_done(block.piece, blocks);
                    }
                }
                PeerEvent::Disconnect(r) => {
                    let had = self.conns[i].s.peer_has().clone();
                    self.picker.on_peer_gone(key, &had);
                    self.conns[i].gone = Some(r);
                }
                _ => {}
            }
        }
        if self.conns[i].gone.is_some() {
            return;
        }
        let s = &mut self.conns[i].s;
        let want = !self.picker.is_complete() && self.picker.is_interesting(s.peer_has());
        s.set_interested(want);
        let n = s.wants_requests();
        if n > 0 {
            self.pick.clear();
            self.picker.pick_into(key, s.peer_has(), n, &mut self.pick);
            let took = s.request(&self.pick);
            for b in &self.pick[took..] {
                self.picker.on_request_cancelled(key, *b);
            }
        }
        while let Some(r) = s.pop_upload() {
            let at = (self.layout.piece_offset(r.piece) + u64::from(r.offset)) as usize;
            let block = &self.data[at..at + r.len as usize];
            if self.corrupt {
                self.scratch.clear();
                self.scratch.extend_from_slice(block);
                self.scratch[0] ^= 0xff;
                assert!(s.send_block(r, &self.scratch));
            } else {
                assert!(s.send_block(r, block));
            }
        }
    }

    fn piece_done(&mut self, piece: u32, blocks: Vec<bytes::Bytes>) {
        let mut h = Sha1::new();
        for b in &blocks {
            h.update(b);
        }
        let digest: [u8; 20] = h.finalize().into();
        if digest != self.hashes[piece as usize] {
            self.failed += 1;
            for sender in self.picker.on_piece_failed(piece).unwrap() {
                self.conn_of(sender).ban();
            }
            return;
        }
        let mut at = self.layout.piece_offset(piece) as usize;
        for b in &blocks {
            self.data[at..at + b.len()].copy_from_slice(b);
            at += b.len();
        }
        for (peer, b) in self.picker.on_piece_verified(piece).unwrap() {
            self.conn_of(peer).cancel(b);
        }
        for c in &mut self.conns {
            c.s.send_have(piece);
        }
    }
}

/// A link: (node, conn) at each end.
type Link = ((usize, usize), (usize, usize));

/// Runs until every node is complete or `rounds` pass (a millisecond of
/// virtual time each); returns the rounds taken. `cut` splits each
/// transfer in pieces of that many bytes.
fn run(nodes: &mut [Node], links: &[Link], rounds: u32, cut: usize, t0: Instant) -> u32 {
    for round in 1..=rounds {
        let now = t0 + Duration::from_millis(u64::from(round));
        for &(a, b) in links {
            for (from, to) in [(a, b), (b, a)] {
                let bytes = nodes[from.0].conns[from.1].s.take_output();
                for chunk in bytes.chunks(cut.max(1)) {
                    nodes[to.0].conns[to.1].s.on_bytes(chunk, now);
                }
            }
        }
        for n in nodes.iter_mut() {
            for i in 0..n.conns.len() {
                n.conns[i].s.on_tick(now);
                n.service(i);
            }
        }
        if nodes.iter().all(|n| n.picker.is_complete()) {
            return round;
        }
    }
    rounds
}

fn check_complete(n: &Node, src: &[u8]) {
    assert!(n.picker.is_complete());
    assert!(n.data == src, "bytes differ from the source");
    for p in 0..n.layout.piece_count() {
        let at = n.layout.piece_offset(p) as usize;
        let got: [u8; 20] = Sha1::digest(&n.data[at..at + n.layout.piece_len(p) as usize]).into();
        assert_eq!(got, n.hashes[p as usize]);
    }
    assert_eq!(n.pieces.in_flight(), 0);
}

fn pair(
    layout: Layout,
    a_has: Bitfield,
    b_has: Bitfield,
    config: PeerConfig,
    cut: usize,
) -> (Vec<Node>, u32) {
    let t0 = Instant::now();
    let src = source(layout.total_len() as usize);
    let mut nodes = vec![
        Node::new(layout, &src, &a_has),
        Node::new(layout, &src, &b_has),
    ];
    nodes[0].connect(1, &config, t0);
    nodes[1].connect(2, &config, t0);
    for n in &mut nodes {
        n.conns[0].s.unchoke();
    }
    let rounds = run(&mut nodes, &[((0, 0), (1, 0))], 5_000, cut, t0);
    for n in &nodes {
        check_complete(n, &src);
        assert!(n.conns[0].gone.is_none(), "{:?}", n.conns[0].gone);
        assert_eq!(n.failed, 0);
    }
    (nodes, rounds)
}

#[test]
fn a_seed_and_a_downloader_with_the_fast_and_extension_protocols() {
    // 2 MiB + a bit, in 64 KiB pieces: the last piece and block short.
    let layout = Layout::new(2 * 1024 * 1024 + 5_000, 65_536).unwrap();
    let n = layout.piece_count();
    let (nodes, rounds) = pair(
        layout,
        Bitfield::full(n),
        Bitfield::new(n),
        PeerConfig::default(),
        usize::MAX,
    );
    assert_eq!(nodes[1].blocks_in, 129);
    assert_eq!(nodes[1].late, 0);
    assert!(nodes[1].conns[0].s.is_fast() && nodes[1].conns[0].s.is_extended());
    // The pipeline opened up: far fewer rounds than blocks.
    assert!(rounds < 40, "{rounds} rounds");
}

#[test]
fn two_peers_with_halves_trade_both_ways() {
    let layout = Layout::new(1024 * 1024 - 333, 32_768).unwrap();
    let n = layout.piece_count();
    let mut even = Bitfield::new(n);
    let mut odd = Bitfield::new(n);
    for p in 0..n {
        if p % 2 == 0 {
            even.set(p)
        } else {
            odd.set(p)
        };
    }
    let (nodes, _) = pair(layout, even, odd, PeerConfig::default(), usize::MAX);
    // Each fetched the other half: 16 pieces of 2 blocks each way.
    assert_eq!((nodes[0].blocks_in, nodes[1].blocks_in), (32, 32));
}

#[test]
fn without_the_fast_extension_and_in_odd_cuts() {
    // The handshakes' reserved bits are ours; a peer without BEP 6 and 10
    // is the same session fed a handshake without them: build one node
    // whose peer sees no fast bit by stripping it on the wire.
    let layout = Layout::new(300_000, 32_768).unwrap();
    let n = layout.piece_count();
    let t0 = Instant::now();
    let src = source(layout.total_len() as usize);
    let mut nodes = vec![
        Node::new(layout, &src, &Bitfield::full(n)),
        Node::new(layout, &src, &Bitfield::new(n)),
    ];
    let config = PeerConfig::default();
    nodes[0].connect(1, &config, t0);
    nodes[1].connect(2, &config, t0);
    nodes[0].conns[0].s.unchoke();
    // Strip BEP 6 and 10 from both handshakes before they cross.
    for node in &mut nodes {
        // Nothing else is queued yet: the handshake is the open tail.
        let out = node.conns[0].s.output_mut().tail_mut();
        out[25] &= !0x10;
        out[27] &= !0x04;
    }
    run(&mut nodes, &[((0, 0), (1, 0))], 20_000, 1_000, t0);
    check_complete(&nodes[1], &src);
    assert!(!nodes[1].conns[0].s.is_fast() && !nodes[1].conns[0].s.is_extended());
    assert!(nodes[1].conns[0].gone.is_none());
    assert!(!nodes[0].conns[0].s.is_fast());
}

#[test]
fn a_seed_sending_bad_data_is_banned_and_the_honest_one_completes_the_download() {
    // Pieces of one block: each piece has a single sender to ban.
    let layout = Layout::new(40 * 16_384 - 1_000, 16_384).unwrap();
    let n = layout.piece_count();
    let t0 = Instant::now();
    let src = source(layout.total_len() as usize);
    let mut nodes = vec![
        Node::new(layout, &src, &Bitfield::full(n)),
        Node::new(layout, &src, &Bitfield::full(n)),
        Node::new(layout, &src, &Bitfield::new(n)),
    ];
    nodes[0].corrupt = true;
    let config = PeerConfig::default();
    nodes[0].connect(10, &config, t0);
    nodes[1].connect(11, &config, t0);
    nodes[2].connect(12, &config, t0);
    nodes[2].connect(12, &config, t0);
    nodes[0].conns[0].s.unchoke();
    nodes[1].conns[0].s.unchoke();
    let links = [((0, 0), (2, 0)), ((1, 0), (2, 1))];
    run(&mut nodes, &links, 5_000, usize::MAX, t0);
    check_complete(&nodes[2], &src);
    assert!(nodes[2].failed >= 1);
    assert_eq!(nodes[2].conns[0].gone, Some(DisconnectReason::BadData));
    assert!(nodes[2].conns[1].gone.is_none());
}

#[test]
fn endgame_cancels_between_two_seeds() {
    let layout = Layout::new(8 * 65_536, 65_536).unwrap();
    let n = layout.piece_count();
    let t0 = Instant::now();
    let src = source(layout.total_len() as usize);
    let mut nodes = vec![
        Node::new(layout, &src, &Bitfield::full(n)),
        Node::new(layout, &src, &Bitfield::full(n)),
        Node::new(layout, &src, &Bitfield::new(n)),
    ];
    let config = PeerConfig::default();
    nodes[0].connect(10, &config, t0);
    nodes[1].connect(11, &config, t0);
    nodes[2].connect(12, &config, t0);
    nodes[2].connect(12, &config, t0);
    nodes[0].conns[0].s.unchoke();
    nodes[1].conns[0].s.unchoke();
    let links = [((0, 0), (2, 0)), ((1, 0), (2, 1))];
    run(&mut nodes, &links, 5_000, usize::MAX, t0);
    check_complete(&nodes[2], &src);
    // The last blocks were asked of both; the copy that lost was cancelled
    // (or came anyway and was dropped by the picker).
    assert!(nodes[2].cancels_sent > 0);
    assert!(nodes[2].blocks_in >= 32);
    assert!(nodes[2].conns.iter().all(|c| c.gone.is_none()));
}

/// A figure, not a check: blocks through two sessions in memory (no
/// picker, no hashing), as MB/s of payload. Run in release:
/// `cargo test --release --test torrent_peer_pair -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput_of_two_sessions_in_memory() {
    let layout = Layout::new(1 << 30, 1 << 20).unwrap();
    let n = layout.piece_count();
    let t0 = Instant::now();
    let mut seed = PeerSession::new(
        [1; 20],
        HASH,
        layout,
        Bitfield::full(n),
        PeerConfig::default(),
        t0,
    );
    let mut leech = PeerSession::new(
        [2; 20],
        HASH,
        layout,
        Bitfield::new(n),
        PeerConfig::default(),
        t0,
    );
    seed.unchoke();
    leech.set_interested(true);
    let blocks: Vec<BlockRef> = (0..n)
        .flat_map(|p| (0..layout.blocks_in_piece(p)).map(move |b| layout.block(p, b).unwrap()))
        .collect();
    let data = vec![3u8; 16_384];
    let (mut next, mut got, mut bytes) = (0, 0, 0u64);
    let mut now = t0;
    let wall = Instant::now();
    while got < blocks.len() {
        now += Duration::from_micros(10);
        let want = leech.wants_requests().min(blocks.len() - next);
        next += leech.request(&blocks[next..next + want]);
        let out = leech.take_output();
        seed.on_bytes(&out, now);
        while seed.poll_event().is_some() {}
        while let Some(r) = seed.pop_upload() {
            seed.send_block(r, &data[..r.len as usize]);
        }
        let out = seed.take_output();
        leech.on_bytes(&out, now);
        while let Some(e) = leech.poll_event() {
            if let PeerEvent::Block { data, .. } = e {
                bytes += data.len() as u64;
                got += 1;
            }
        }
    }
    let secs = wall.elapsed().as_secs_f64();
    assert_eq!(bytes, 1 << 30);
    println!(
        "{{\"bench\":\"peer_sessions_in_memory\",\"bytes\":{bytes},\"secs\":{secs:.3},\"mb_per_s\":{:.0}}}",
        bytes as f64 / secs / 1e6
    );
}
