//! Bencode decoding and metainfo reading.
//!
//! The input: a generated metainfo of about 9 MB (30,000 files in
//! folders two deep, 32 KiB pieces: about 320,000 piece hashes), canonical so that strict mode
//! and `bendy` take it too; checked once that every reader accepts it.
//! Rounds interleave the readers (the same bytes, the same run), and each
//! row prints the median MB/s of its rounds with the smallest and largest:
//!
//! * `bencode_decode_lenient`, `bencode_decode_strict`: our `decode_with`
//!   into a borrowed `Value` tree;
//! * `metainfo_from_bytes`: `Metainfo::from_bytes` (lenient decode, every
//!   field and path checked, collisions looked for, the info-hash's SHA-1
//!   over the info dictionary);
//! * `bendy_value`: `bendy`'s `Value` tree (its byte strings copied), the
//!   reference; `bendy_tokens`: `bendy`'s token stream only (structure and
//!   key order checked, nothing built), a floor for a scan.
//!
//! `ratio_to_bendy` on our rows: our MB/s over `bendy_value`'s.

use std::hint::black_box;
use std::time::Instant;

use bendy::decoding::{Decoder, FromBencode};
use bendy::value::Value as BValue;
use kamaelia::protocol::torrent::bencode::{decode_with, Limits, Mode};
use kamaelia::protocol::torrent::metainfo::{Metainfo, MetainfoBuilder};

use crate::common::{median, quick, want, Json};

const FILES: usize = 30_000;
const PIECE_LENGTH: u64 = 32_768;

pub fn run() {
    let rows = [
        "bencode_decode_lenient",
        "bencode_decode_strict",
        "metainfo_from_bytes",
        "bendy_value",
        "bendy_tokens",
    ];
    if !rows.iter().any(|r| want(r)) {
        return;
    }
    let bytes = metainfo();
    let rounds = if quick() { 3 } else { 15 };
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); rows.len()];
    let limits = Limits::default();
    for _ in 0..rounds {
        for (i, row) in rows.iter().enumerate() {
            if !want(row) {
                continue;
            }
            let t = Instant::now();
            match i {
                0 => drop(black_box(
                    decode_with(&bytes, Mode::Lenient, &limits).unwrap(),
                )),
                1 => drop(black_box(
                    decode_with(&bytes, Mode::Strict, &limits).unwrap(),
                )),
                2 => drop(black_box(Metainfo::from_bytes(&bytes).unwrap())),
                3 => drop(black_box(bendy_value(&bytes))),
                _ => drop(black_box(bendy_tokens(&bytes))),
            }
            times[i].push(t.elapsed().as_secs_f64());
        }
    }
    let mb = bytes.len() as f64 / 1e6;
    let mbps = |t: &mut Vec<f64>| -> (f64, f64, f64) {
        let med = mb / median(t);
        let best = mb / t.iter().cloned().fold(f64::INFINITY, f64::min);
        let worst = mb / t.iter().cloned().fold(0.0, f64::max);
        (med, best, worst)
    };
    let bendy = if times[3].is_empty() {
        None
    } else {
        Some(mbps(&mut times[3]).0)
    };
    for (i, row) in rows.iter().enumerate() {
        if times[i].is_empty() {
            continue;
        }
        let (med, best, worst) = mbps(&mut times[i]);
        let mut j = Json::new(row)
            .int("input_bytes", bytes.len() as u64)
            .int("files", FILES as u64)
            .int("rounds", times[i].len() as u64)
            .num("mb_per_s", med)
            .num("mb_per_s_best", best)
            .num("mb_per_s_worst", worst);
        if i < 3 {
            if let Some(b) = bendy {
                j = j.num("ratio_to_bendy", med / b);
            }
        }
        j.print();
    }
}

/// About 10 MB of canonical metainfo: many files, many pieces.
fn metainfo() -> Vec<u8> {
    let mut files = Vec::with_capacity(FILES);
    let mut total: u64 = 0;
    for i in 0..FILES {
        let len = 200_000 + (i as u64 * 7919) % 300_000;
        total += len;
        let path = vec![
            format!("disc {:02}", i / 1000),
            format!("part {:03}", (i / 10) % 100),
            format!("track {i:05} of the collection.flac"),
        ];
        files.push((path, len));
    }
    let count = total.div_ceil(PIECE_LENGTH) as usize;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let pieces = (0..count)
        .map(|_| {
            let mut p = [0u8; 20];
            for b in &mut p {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            p
        })
        .collect();
    let m = MetainfoBuilder::multi_file("collection", files, PIECE_LENGTH, pieces)
        .announce("http://127.0.0.1:6969/announce")
        .comment("bench")
        .build()
        .expect("the bench's metainfo is valid");
    let bytes = m.to_bytes();
    // Every reader takes it (else the rows would time an early error).
    decode_with(&bytes, Mode::Strict, &Limits::default()).unwrap();
    bendy_value(&bytes);
    assert!(bendy_tokens(&bytes) > FILES);
    bytes
}

fn bendy_value(bytes: &[u8]) -> BValue<'static> {
    let mut d = Decoder::new(bytes).with_max_depth(Limits::default().max_depth);
    let object = d.next_object().unwrap().unwrap();
    BValue::decode_bencode_object(object).unwrap().into_owned()
}

fn bendy_tokens(bytes: &[u8]) -> usize {
    let mut n = 0;
    for t in Decoder::new(bytes).tokens() {
        t.unwrap();
        n += 1;
    }
    n
}
