//! The BitTorrent fuzz checks (fuzz/src/torrent.rs) over pseudo-random
//! inputs, so CI exercises them without a fuzzer: valid bencode, .torrent
//! files and magnet links mutated (bytes changed, pieces of syntax
//! inserted, cut short), and plain noise. Each run counts what was
//! accepted and refused, so a check that never reaches its interesting
//! side fails here.

use kamaelia::internet::simulate::SplitMix64;
use kamaelia::protocol::torrent::metainfo::MetainfoBuilder;

#[path = "../fuzz/src/torrent.rs"]
#[allow(dead_code)]
mod checks;

const SYNTAX: &[&[u8]] = &[
    b"i", b"e", b"l", b"d", b":", b"0", b"1", b"9", b"-", b"i0e", b"0:", b"le", b"de", b"%", b"&",
    b"=", b"+", b"/", b"..", b"\0",
];

fn mutate(rng: &mut SplitMix64, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..=rng.below(3) {
        let n = v.len() as u64;
        match rng.below(5) {
            0 if n > 0 => v[rng.below(n) as usize] = rng.next_u64() as u8,
            1 => {
                let s = SYNTAX[rng.below(SYNTAX.len() as u64) as usize];
                let at = rng.below(n + 1) as usize;
                v.splice(at..at, s.iter().copied());
            }
            2 if n > 0 => {
                v.remove(rng.below(n) as usize);
            }
            3 => v.truncate(rng.below(n + 1) as usize),
            _ => {
                // A digit changed: lengths and integers are where bencode
                // goes wrong.
                if let Some(p) = v.iter().position(|b| b.is_ascii_digit()) {
                    let skip = rng.below(n) as usize;
                    let p = (p + skip) % v.len();
                    if v[p].is_ascii_digit() {
                        v[p] = b'0' + rng.below(10) as u8;
                    }
                }
            }
        }
    }
    v
}

fn noise(rng: &mut SplitMix64) -> Vec<u8> {
    let len = rng.below(40) as usize;
    (0..len)
        .map(|_| {
            if rng.below(2) == 0 {
                b"ield0123456789:-"[rng.below(16) as usize]
            } else {
                rng.next_u64() as u8
            }
        })
        .collect()
}

#[test]
fn bencode_checks_over_mutations_and_noise() {
    let seeds: &[&[u8]] = &[
        b"d3:cow3:moo4:spaml1:a1:bee",
        b"d1:ai-42e1:b0:1:cl4:spami0ee1:dde1:e5:\x00\xff\x01\x02\x03e",
        b"d1:bi1e1:ai2ee",
        b"l01:ai00ei-0ee",
        b"lllleeeei9223372036854775807e",
    ];
    let mut rng = SplitMix64::new(12);
    let (mut strict, mut lenient_only, mut refused) = (0, 0, 0);
    for i in 0..20_000 {
        let input = if i % 4 == 3 {
            noise(&mut rng)
        } else {
            mutate(&mut rng, seeds[i % seeds.len()])
        };
        let v = checks::bencode_check(&input);
        match (v.strict, v.lenient) {
            (true, _) => strict += 1,
            (false, true) => lenient_only += 1,
            (false, false) => refused += 1,
        }
    }
    eprintln!("bencode: strict {strict}, lenient only {lenient_only}, refused {refused}");
    assert!(strict > 400 && lenient_only > 400 && refused > 1000);
}

#[test]
fn metainfo_checks_over_mutations() {
    let seed = MetainfoBuilder::multi_file(
        "t",
        vec![
            (vec!["a".into(), "b".into()], 3),
            (vec!["c".into()], 16_384),
        ],
        16_384,
        vec![[1; 20], [2; 20]],
    )
    .announce("http://127.0.0.1:1/a")
    .tier(vec!["http://127.0.0.1:1/a".into()])
    .web_seed("http://127.0.0.1:2/")
    .comment("c")
    .build()
    .unwrap()
    .to_bytes();
    let mut rng = SplitMix64::new(13);
    let mut accepted = 0;
    let runs = 20_000;
    for _ in 0..runs {
        if checks::metainfo_check(&mutate(&mut rng, &seed)) {
            accepted += 1;
        }
    }
    eprintln!("metainfo: {accepted} of {runs} accepted");
    assert!(accepted > 500 && accepted < runs - 1000);
}

#[test]
fn magnet_checks_over_mutations() {
    let seed = b"magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=a+b%20c\
        &tr=udp%3A%2F%2F127.0.0.1%3A6969&x.pe=127.0.0.1:6881&x.pe=[::1]:1";
    let b32 = b"magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK&tr.1=http://a/";
    let mut rng = SplitMix64::new(14);
    let mut accepted = 0;
    let runs = 20_000;
    for i in 0..runs {
        let s: &[u8] = if i % 2 == 0 { seed } else { b32 };
        if checks::magnet_check(&mutate(&mut rng, s)) {
            accepted += 1;
        }
    }
    eprintln!("magnet: {accepted} of {runs} accepted");
    assert!(accepted > 1000 && accepted < runs - 1000);
}
