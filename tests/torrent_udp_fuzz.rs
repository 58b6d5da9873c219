//! The UDP tracker fuzz check (fuzz/src/udp_tracker.rs) over the committed
//! corpus and pseudo-random inputs, so CI exercises it without a fuzzer:
//! the corpus scripts mutated (bytes changed, chunks cut short) and plain
//! noise.

use kamaelia::internet::simulate::SplitMix64;

#[path = "../fuzz/src/udp_tracker.rs"]
#[allow(dead_code)]
mod checks;

fn corpus() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/udp_tracker");
    let mut all: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    all.sort();
    all
}

#[test]
fn the_committed_corpus_passes_and_reaches_every_part() {
    let mut total = checks::UdpSummary::default();
    for data in corpus() {
        let s = checks::udp_tracker(&data);
        total.chunks += s.chunks;
        total.requests += s.requests;
        total.server_replies += s.server_replies;
        total.client_answers += s.client_answers;
    }
    // The seeds make the server answer and the client take answers: a
    // check that never got that far would prove nothing.
    assert!(total.requests >= 8, "{total:?}");
    assert!(total.server_replies >= 8, "{total:?}");
    assert!(total.client_answers >= 2, "{total:?}");
}

#[test]
fn mutated_scripts_and_noise_pass() {
    let seeds = corpus();
    let mut rng = SplitMix64::new(0x5EED);
    for round in 0..600 {
        let mut data = if round % 5 == 4 {
            (0..rng.below(400)).map(|_| rng.below(256) as u8).collect()
        } else {
            seeds[round % seeds.len()].clone()
        };
        for _ in 0..1 + rng.below(6) {
            if data.is_empty() {
                break;
            }
            let at = rng.below(data.len() as u64) as usize;
            match rng.below(3) {
                0 => data[at] = rng.below(256) as u8,
                1 => data[at] ^= 1 << rng.below(8),
                _ => data.truncate(at),
            }
        }
        checks::udp_tracker(&data);
    }
}
