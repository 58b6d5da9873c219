//! The ICY demuxer fuzz check (fuzz/src/icy.rs) over the committed corpus
//! and pseudo-random inputs, so CI exercises it without a fuzzer: valid
//! streams mutated (bytes changed, length bytes made hostile, cut short)
//! and plain noise, at every metadata interval from 0 to 31.

use kamaelia::internet::simulate::SplitMix64;
use kamaelia::protocol::http::icecast::IcyError;

#[path = "../fuzz/src/icy.rs"]
#[allow(dead_code)]
mod checks;

/// A valid stream with blocks every `metaint` bytes.
fn valid(rng: &mut SplitMix64, metaint: usize, blocks: usize) -> Vec<u8> {
    let mut s = Vec::new();
    for i in 0..blocks {
        s.extend((0..metaint).map(|_| rng.below(256) as u8));
        if metaint == 0 {
            break;
        }
        let text = match rng.below(4) {
            0 => Vec::new(),
            1 => format!("StreamTitle='Song {i}';").into_bytes(),
            2 => format!("StreamTitle='It''s {i}';StreamUrl='http://x/{i}';").into_bytes(),
            _ => (0..rng.below(40)).map(|_| rng.below(256) as u8).collect(),
        };
        let n = text.len().div_ceil(16);
        s.push(n as u8);
        s.extend_from_slice(&text);
        s.resize(s.len() + (n * 16 - text.len()), 0);
    }
    s
}

#[test]
fn the_committed_corpus_passes() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/icy_demux");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        checks::icy_demux(&data);
        n += 1;
    }
    assert!(n >= 5, "the seeds are there");
}

#[test]
fn mutated_streams_and_noise_match_the_reference() {
    let mut rng = SplitMix64::new(0x1c9);
    let (mut metas, mut truncated, mut clean) = (0, 0, 0);
    for round in 0..3000 {
        let seed = rng.below(256) as u8;
        let metaint = (seed & 31) as usize;
        let mut s = if round % 5 == 4 {
            (0..rng.below(300)).map(|_| rng.below(256) as u8).collect()
        } else {
            let blocks = 1 + rng.below(6) as usize;
            valid(&mut rng, metaint, blocks)
        };
        match rng.below(4) {
            0 if !s.is_empty() => {
                let i = rng.below(s.len() as u64) as usize;
                s[i] = rng.below(256) as u8;
            }
            1 if !s.is_empty() => {
                let i = rng.below(s.len() as u64) as usize;
                s.truncate(i);
            }
            2 if metaint > 0 && s.len() > metaint => s[metaint] = 255,
            _ => {}
        }
        let mut data = vec![seed];
        data.extend_from_slice(&s);
        let split = checks::icy_demux(&data);
        metas += split.items.iter().filter(|(audio, _)| !audio).count();
        match split.end {
            Err(IcyError::TruncatedMetadata { .. }) => truncated += 1,
            Err(e) => panic!("{e}"),
            Ok(()) => clean += 1,
        }
    }
    // The inputs reach every path.
    assert!(metas > 1000, "{metas} metadata blocks");
    assert!(truncated > 200, "{truncated} streams cut inside a block");
    assert!(clean > 1000, "{clean} clean ends");
}
