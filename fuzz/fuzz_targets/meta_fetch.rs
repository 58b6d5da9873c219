//! A magnet link's metadata fetch (`MetaFetch`) fed a peer's handshake,
//! then arbitrary bytes cut at arbitrary boundaries, sometimes after a
//! well-formed extension handshake naming a metadata size the input
//! chooses: it never panics, its output stays bounded, an ending is
//! final, and a dictionary it accepts hashes to the info-hash.
//! Run with `cargo fuzz run meta_fetch`.
#![no_main]

use bytes::BytesMut;
use kamaelia::protocol::torrent::client::metafetch::{MetaFetch, MetaOutcome};
use kamaelia::protocol::torrent::wire::{ExtHandshake, Handshake, UT_METADATA};
use libfuzzer_sys::fuzz_target;
use sha1::{Digest, Sha1};

const HASH: [u8; 20] = [9; 20];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let mut f = MetaFetch::new(HASH, [1; 20]);
    let mut opening = BytesMut::new();
    Handshake::new(HASH, [2; 20]).encode(&mut opening);
    if mode & 1 != 0 {
        let ext = ExtHandshake {
            m: [(UT_METADATA.to_string(), mode >> 4)].into(),
            metadata_size: Some(u64::from(mode & 0x0e) * 5_000 + 1),
            ..ExtHandshake::default()
        };
        ext.encode(&mut opening).unwrap();
    }
    f.on_bytes(&opening);
    let mut ended: Option<MetaOutcome> = None;
    while !rest.is_empty() {
        let n = (usize::from(rest[0]) + 1).min(rest.len() - 1);
        let chunk = &rest[1..1 + n];
        rest = &rest[1 + n..];
        f.on_bytes(chunk);
        // It asks a few 16 KiB pieces at a time and answers requests with
        // small rejects: its output never grows far.
        assert!(f.output().len() < 64 * 1024, "output {}", f.output().len());
        f.output_mut().clear();
        match (&ended, f.outcome()) {
            (Some(e), now) => assert_eq!(e, now, "an ending is final"),
            (None, MetaOutcome::Pending) => {}
            (None, now) => ended = Some(now.clone()),
        }
        if let MetaOutcome::Done(info) = f.outcome() {
            let h: [u8; 20] = Sha1::digest(info).into();
            assert_eq!(h, HASH, "accepted a dictionary of another hash");
        }
    }
});
