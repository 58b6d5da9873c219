//! The peer-wire and metadata fuzz checks (fuzz/src/wire.rs) over the
//! committed corpus and pseudo-random inputs, so CI exercises them without
//! a fuzzer: the seeds mutated (bytes changed, inserted, removed, cut
//! short) and plain noise. Coverage is counted, so a check that never
//! reaches its interesting side fails here.

use kamaelia::internet::simulate::SplitMix64;

#[path = "../fuzz/src/wire.rs"]
#[allow(dead_code)]
mod checks;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = format!("{}/fuzz/corpus/{target}", env!("CARGO_MANIFEST_DIR"));
    let mut all: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    all.sort();
    all
}

fn mutate(rng: &mut SplitMix64, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let n = v.len() as u64;
        match rng.below(5) {
            0 if n > 0 => v[rng.below(n) as usize] = rng.next_u64() as u8,
            1 => {
                let at = rng.below(n + 1) as usize;
                v.insert(at, rng.below(22) as u8);
            }
            2 if n > 0 => {
                v.remove(rng.below(n) as usize);
            }
            3 => v.truncate(rng.below(n + 1) as usize),
            _ if n > 1 => v[0] = rng.next_u64() as u8, // other limits, cuts
            _ => {}
        }
    }
    v
}

fn add(total: &mut checks::WireSummary, s: &checks::WireSummary) {
    total.messages += s.messages;
    total.handshakes += s.handshakes;
    total.ext_handshakes += s.ext_handshakes;
    total.metadata_msgs += s.metadata_msgs;
    total.completed += s.completed;
    total.mismatches += s.mismatches;
    if s.error.is_some() {
        total.error = s.error.clone();
    }
}

#[test]
fn the_committed_corpus_passes_and_reaches_every_part() {
    let mut wire = checks::WireSummary::default();
    let mut errors = 0;
    for data in corpus("peer_wire") {
        let s = checks::peer_wire(&data);
        errors += usize::from(s.error.is_some());
        add(&mut wire, &s);
    }
    assert!(wire.messages >= 25, "{wire:?}");
    assert!(wire.handshakes >= 1, "{wire:?}");
    assert!(wire.ext_handshakes >= 1, "{wire:?}");
    assert!(wire.metadata_msgs >= 3, "{wire:?}");
    assert!(errors >= 4, "the hostile seeds fail: {errors}");

    let mut meta = checks::WireSummary::default();
    for data in corpus("ut_metadata") {
        add(&mut meta, &checks::ut_metadata(&data));
    }
    assert!(meta.completed >= 4, "{meta:?}");
    assert!(meta.mismatches >= 2, "{meta:?}");
    assert!(
        meta.ext_handshakes >= 1 && meta.metadata_msgs >= 1,
        "{meta:?}"
    );
}

#[test]
fn mutated_seeds_and_noise_pass() {
    for (target, check) in [
        (
            "peer_wire",
            checks::peer_wire as fn(&[u8]) -> checks::WireSummary,
        ),
        ("ut_metadata", checks::ut_metadata),
    ] {
        let seeds = corpus(target);
        let mut rng = SplitMix64::new(0x3EED);
        let mut total = checks::WireSummary::default();
        for round in 0..1500 {
            let data = if round % 5 == 4 {
                (0..rng.below(300)).map(|_| rng.below(256) as u8).collect()
            } else {
                mutate(&mut rng, &seeds[round % seeds.len()])
            };
            add(&mut total, &check(&data));
        }
        assert!(
            total.messages + total.completed > 100,
            "{target}: {total:?}"
        );
    }
}
