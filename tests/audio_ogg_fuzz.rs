//! The Ogg and Vorbis fuzz checks (fuzz/src/audio.rs) over the committed
//! corpus and pseudo-random mutations of it, so CI exercises them without
//! a fuzzer: bytes changed, runs inserted and deleted, streams cut short,
//! all cut into pieces every way the first byte can choose.

use kamaelia::internet::simulate::SplitMix64;

#[path = "../fuzz/src/audio.rs"]
#[allow(dead_code)]
mod checks;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = format!("{}/fuzz/corpus/{target}", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn mutate(rng: &mut SplitMix64, data: &[u8]) -> Vec<u8> {
    let mut d = data.to_vec();
    d[0] = rng.below(256) as u8;
    for _ in 0..1 + rng.below(6) {
        let at = 1 + rng.below(d.len() as u64 - 1) as usize;
        match rng.below(4) {
            0 => d[at] = rng.below(256) as u8,
            1 => {
                let n = (rng.below(64) as usize).min(d.len() - at);
                d.drain(at..at + n);
            }
            2 => {
                let run: Vec<u8> = (0..rng.below(64)).map(|_| rng.below(256) as u8).collect();
                d.splice(at..at, run);
            }
            _ => d.truncate(at.max(2)),
        }
        if d.len() < 3 {
            break;
        }
    }
    d
}

#[test]
fn the_committed_corpus_passes() {
    let mut frames = 0;
    for data in corpus("ogg_pages") {
        let (pages, packets) = checks::ogg_pages(&data);
        assert!(pages > 0 && packets > 0);
    }
    for data in corpus("vorbis_decode") {
        frames += checks::vorbis_decode(&data);
    }
    assert!(frames > 2400, "the seeds decode ({frames} frames)");
}

#[test]
fn ogg_pages_survives_mutations() {
    let mut rng = SplitMix64::new(11);
    for data in corpus("ogg_pages") {
        for _ in 0..150 {
            checks::ogg_pages(&mutate(&mut rng, &data));
        }
    }
}

#[test]
fn vorbis_decode_survives_mutations() {
    let mut rng = SplitMix64::new(12);
    let mut frames = 0;
    for data in corpus("vorbis_decode") {
        for _ in 0..60 {
            frames += checks::vorbis_decode(&mutate(&mut rng, &data));
        }
    }
    assert!(frames > 0, "mutated streams still decode in part");
}

#[test]
fn noise_and_empty() {
    let mut rng = SplitMix64::new(13);
    assert_eq!(checks::ogg_pages(&[]), (0, 0));
    assert_eq!(checks::vorbis_decode(&[]), 0);
    for len in [1, 2, 27, 300, 5000] {
        let noise: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
        checks::ogg_pages(&noise);
        checks::vorbis_decode(&noise);
    }
}
