//! The fuzz checks of the SRM packet parser, the SRM receiver and sender
//! state machines and the demarshallers (fuzz/src/lib.rs), run over
//! pseudo-random inputs so that CI exercises them without a fuzzer; and
//! the inputs the fuzzer found, kept as regression tests.

use bytes::Bytes;
use kamaelia::internet::simulate::SplitMix64;
use kamaelia::protocol::framing::FramingError;
use kamaelia::protocol::srm::Packet;

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod fuzz_checks;

fn random_bytes(rng: &mut SplitMix64, most: u64) -> Vec<u8> {
    let n = rng.below(most + 1);
    (0..n).map(|_| rng.next_u64() as u8).collect()
}

/// A valid packet, as the fuzzer's corpus holds them.
fn random_packet(rng: &mut SplitMix64) -> Bytes {
    let p = match rng.below(3) {
        0 => Packet::Data {
            seq: rng.next_u64() >> (1 + rng.below(63)),
            payload: Bytes::from(random_bytes(rng, 40)),
        },
        1 => Packet::Status {
            next: rng.next_u64() >> rng.below(64),
            finished: rng.chance(0.5),
        },
        _ => Packet::Nak(
            (0..rng.below(6))
                .map(|_| {
                    let first = rng.below(100);
                    first..first + rng.below(20)
                })
                .collect(),
        ),
    };
    p.encode(fuzz_checks::FUZZ_MAX).unwrap()
}

#[test]
fn fuzz_srm_packet_checks_over_random_inputs() {
    let mut rng = SplitMix64::new(0x5A3);
    let (mut decoded, mut corrupt, mut truncated, mut oversize) = (0, 0, 0, 0);
    for _ in 0..5000 {
        let mut input = random_packet(&mut rng).to_vec();
        match rng.below(4) {
            0 => {}
            1 => {
                let i = rng.below(input.len() as u64) as usize;
                input[i] ^= 1 << rng.below(8);
            }
            2 => input.truncate(rng.below(input.len() as u64) as usize),
            _ => input = random_bytes(&mut rng, 60),
        }
        let mut with_mode = vec![rng.next_u64() as u8];
        with_mode.extend_from_slice(&input);
        let s = fuzz_checks::srm_packet(&with_mode);
        decoded += s.decoded;
        match s.error {
            None => {}
            Some(FramingError::Corrupt { .. }) => corrupt += 1,
            Some(FramingError::Truncated { .. }) => truncated += 1,
            Some(FramingError::Oversize { .. }) => oversize += 1,
        }
    }
    assert!(
        decoded > 1000 && corrupt > 500 && truncated > 500,
        "{decoded} {corrupt} {truncated} {oversize}"
    );
}

#[derive(Debug, Default)]
struct SrmCoverage {
    runs: u64,
    delivered: u64,
    gaps: u64,
    naks: u64,
    beyond_window: u64,
    ended_early: u64,
}

impl SrmCoverage {
    fn add(&mut self, s: fuzz_checks::SrmSummary) {
        self.runs += 1;
        self.delivered += s.delivered;
        self.gaps += s.gaps;
        self.naks += s.naks;
        self.beyond_window += s.beyond_window;
        self.ended_early += u64::from(s.ended_early);
    }
}

/// A script: a few header bytes, then ops leaning on small sequence
/// numbers so that in-order runs, gaps and repairs all happen.
fn random_script(rng: &mut SplitMix64) -> Vec<u8> {
    let mut v: Vec<u8> = (0..5).map(|_| rng.next_u64() as u8).collect();
    for _ in 0..rng.below(200) {
        let op = rng.next_u64() as u8;
        v.push(if rng.chance(0.8) { op & 0x7F } else { op });
        let arg = rng.below(12) as u8;
        v.push(arg);
        v.extend(random_bytes(rng, 2));
    }
    v
}

#[test]
fn fuzz_srm_receiver_checks_over_random_inputs() {
    let mut rng = SplitMix64::new(0xEC3);
    let mut cov = SrmCoverage::default();
    for _ in 0..1500 {
        let script = random_script(&mut rng);
        cov.add(fuzz_checks::srm_receiver(&script));
    }
    assert!(
        cov.delivered > 1000
            && cov.gaps > 1000
            && cov.naks > 500
            && cov.beyond_window > 100
            && cov.ended_early > 10,
        "{cov:?}"
    );
}

#[test]
fn fuzz_srm_sender_checks_over_random_inputs() {
    let mut rng = SplitMix64::new(0x5E4);
    let mut cov = SrmCoverage::default();
    for _ in 0..1500 {
        let script = random_script(&mut rng);
        cov.add(fuzz_checks::srm_sender(&script));
    }
    assert!(
        cov.delivered > 3000 && cov.naks > 500 && cov.ended_early > 10,
        "{cov:?}"
    );
}

#[test]
fn fuzz_demarshal_checks_over_random_inputs() {
    let mut rng = SplitMix64::new(0xDE3);
    let mut decoded = 0;
    for _ in 0..3000 {
        let input = random_bytes(&mut rng, 40);
        decoded += fuzz_checks::demarshal(&input).decoded;
    }
    assert!(decoded > 3000, "{decoded}");
}

/// Every input kept in the fuzz corpus (the seeds, the minimised finds and
/// the crashes found, once fixed) passes its target's check.
#[test]
fn every_corpus_input_passes_its_check() {
    type Check = fn(&[u8]);
    let targets: [(&str, Check); 6] = [
        ("deframer", |d| {
            fuzz_checks::deframer(d);
        }),
        ("dechunker", |d| {
            fuzz_checks::dechunker(d);
        }),
        ("srm_packet", |d| {
            fuzz_checks::srm_packet(d);
        }),
        ("srm_receiver", |d| {
            fuzz_checks::srm_receiver(d);
        }),
        ("srm_sender", |d| {
            fuzz_checks::srm_sender(d);
        }),
        ("demarshal", |d| {
            fuzz_checks::demarshal(d);
        }),
    ];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (target, check) in targets {
        let mut n = 0;
        for entry in std::fs::read_dir(root.join(target)).unwrap() {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let r = std::panic::catch_unwind(|| check(&data));
            assert!(r.is_ok(), "{} fails its check", path.display());
            n += 1;
        }
        assert!(n >= 3, "{target}: {n} corpus inputs");
    }
}
