//! A PeerSession fed arbitrary bytes after a valid handshake, cut at
//! arbitrary boundaries, with the owner's calls (unchoke, request, serve,
//! cancel, choke, time passing, the output written whole or in part)
//! interleaved as the input says: it never panics, ends at most once, and
//! its output and buffers stay bounded. Blocks are served both copied
//! (`send_block`) and as `Bytes` queued uncopied (`send_block_bytes`).
//! Run with `cargo fuzz run peer_session`.
#![no_main]

use std::time::{Duration, Instant};

use bytes::Bytes;
use kamaelia::protocol::torrent::peer::{PeerConfig, PeerEvent, PeerSession};
use kamaelia::protocol::torrent::pieces::{Bitfield, Layout};
use kamaelia::protocol::torrent::wire::Handshake;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let t0 = Instant::now();
    // 5 pieces of 32 KiB, the last short: 10 blocks, a 1-byte bitfield.
    let layout = Layout::new(4 * 32_768 + 5_000, 32_768).unwrap();
    let mut have = Bitfield::new(5);
    for p in 0..5 {
        if mode & (1 << p) != 0 {
            have.set(p);
        }
    }
    let config = PeerConfig {
        max_output: 64 * 1024,
        ..PeerConfig::default()
    };
    let max_output = config.max_output;
    let mut s = PeerSession::new([1; 20], [9; 20], layout, have, config, t0);
    let mut hs = Handshake::new([9; 20], [2; 20]);
    if mode & 0x20 != 0 {
        hs.reserved[7] &= !0x04;
    }
    if mode & 0x40 != 0 {
        hs.reserved[5] &= !0x10;
    }
    s.on_bytes(&hs.to_bytes(), t0);
    let block = vec![0xa5u8; 16_384];
    let shared = Bytes::from(block.clone());
    let mut now = t0;
    let mut ended = 0;
    let mut rest = rest;
    while !rest.is_empty() {
        // A control byte: how much to feed next, and one owner action.
        let ctl = rest[0];
        rest = &rest[1..];
        let n = (usize::from(ctl & 0x1f) * 7 + 1).min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        s.on_bytes(chunk, now);
        match ctl >> 5 {
            0 => s.unchoke(),
            1 => {
                s.set_interested(true);
                let want = s.wants_requests();
                let blocks: Vec<_> = (0..5)
                    .flat_map(|p| (0..2).filter_map(move |b| layout.block(p, b)))
                    .take(want)
                    .collect();
                s.request(&blocks);
            }
            2 => {
                while let Some(r) = s.pop_upload() {
                    if ctl & 1 == 0 {
                        s.send_block(r, &block[..r.len as usize]);
                    } else {
                        s.send_block_bytes(r, shared.slice(..r.len as usize));
                    }
                }
            }
            3 => {
                let first = s.outstanding().next().copied();
                if let Some(b) = first {
                    s.cancel(b);
                }
            }
            4 => s.choke(),
            5 => {
                now += Duration::from_secs(u64::from(ctl & 0x1f) * 4);
                s.on_tick(now);
            }
            6 if ctl & 1 == 0 => {
                let _ = s.take_output();
            }
            6 => {
                // A socket that took part of it.
                let took = (usize::from(ctl & 0x1e) * 997).min(s.output().len());
                let before = s.output().to_vec();
                s.output_mut().advance(took);
                assert_eq!(s.output().to_vec(), before[took..]);
            }
            _ => s.send_have(u32::from(ctl & 7)),
        }
        while let Some(e) = s.poll_event() {
            if let PeerEvent::Disconnect(_) = e {
                ended += 1;
            }
        }
        assert!(ended <= 1);
        // At most one message past the bound before the session ends.
        assert!(s.output().len() <= max_output + 16_384 + 64);
        assert!(s.buffered() <= 64 * 1024 + 256 + 16_384 + 13);
        assert!(s.peer_requests() <= 250);
        assert!(s.outstanding_len() <= 250);
    }
    s.on_eof();
    while s.poll_event().is_some() {}
});
