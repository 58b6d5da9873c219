//! RawAudioMixer: sums aligned sample for sample, clipping at the 16-bit
//! limits, sources that end or stall, format mismatches, the finish, and a
//! slow consumer.

use kamaelia::audio::mixer::{clip, mix_into, RawAudioMixer};
use kamaelia::audio::pcm::AudioChunk;
use kamaelia::axon::{Id, Signal};
use kamaelia::testing::{Collector, Feeder, Harness};

struct Rig {
    h: Harness,
    id: Id,
    input: Feeder<(u32, AudioChunk)>,
    ctl: Feeder<Signal>,
    out: Collector<AudioChunk>,
    sig: Collector<Signal>,
}

fn rig(m: RawAudioMixer, out_limit: Option<usize>) -> Rig {
    let mut h = Harness::new();
    let id = h.spawn(m);
    let out = match out_limit {
        Some(n) => h.bounded_collector(id, "outbox", n).unwrap(),
        None => h.collector(id, "outbox").unwrap(),
    };
    Rig {
        input: h.feeder(id, "inbox").unwrap(),
        ctl: h.feeder(id, "control").unwrap(),
        sig: h.collector(id, "signal").unwrap(),
        out,
        h,
        id,
    }
}

fn st(samples: Vec<i16>) -> AudioChunk {
    AudioChunk {
        rate: 8000,
        channels: 2,
        samples,
    }
}

fn all(out: &Collector<AudioChunk>) -> Vec<i16> {
    out.drain().into_iter().flat_map(|c| c.samples).collect()
}

#[test]
fn sums_clip_at_both_limits_and_never_wrap() {
    let mut r = rig(RawAudioMixer::new().block_frames(3), None);
    r.input
        .send((1, st(vec![32767, -32768, 20000, -20000, 100, -1])))
        .unwrap();
    r.input
        .send((2, st(vec![1, -1, 20000, -20000, -100, 1])))
        .unwrap();
    r.input
        .send((3, st(vec![32767, -32768, 0, 0, 5, 0])))
        .unwrap();
    r.h.run_until_idle();
    let out = r.out.drain();
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].rate, out[0].channels), (8000, 2));
    assert_eq!(out[0].samples, vec![32767, -32768, 32767, -32768, 5, 0]);
    assert_eq!(clip(i32::MAX), i16::MAX);
    assert_eq!(clip(-40000), i16::MIN);
    let mut acc = vec![];
    mix_into(&mut acc, &[i16::MAX, i16::MIN]);
    mix_into(&mut acc, &[i16::MAX, i16::MIN, 3]);
    assert_eq!(acc, vec![65534, -65536, 3]);
}

#[test]
fn the_clip_counter_counts_clipped_samples() {
    let m = RawAudioMixer::new().block_frames(2);
    let stats = m.stats();
    let mut r = rig(m, None);
    r.input
        .send((1, st(vec![30000, 30000, 1, -30000])))
        .unwrap();
    r.input.send((2, st(vec![30000, 1, 1, -30000]))).unwrap();
    r.h.run_until_idle();
    assert_eq!(all(&r.out), vec![32767, 30001, 2, -32768]);
    assert_eq!(stats.clipped(), 2);
}

#[test]
fn blocks_wait_for_every_live_source() {
    let mut r = rig(RawAudioMixer::new().block_frames(2), None);
    r.input.send((1, st(vec![1; 8]))).unwrap();
    r.input.send((2, st(vec![10; 2]))).unwrap();
    r.h.run_until_idle();
    // Source 2 has half a block: nothing goes out.
    assert!(r.out.is_empty());
    r.input.send((2, st(vec![10; 6]))).unwrap();
    r.h.run_until_idle();
    assert_eq!(all(&r.out), vec![11; 8]);
}

#[test]
fn a_finished_source_plays_out_then_silence_then_is_forgotten() {
    let mut r = rig(RawAudioMixer::new().block_frames(2), None);
    r.input.send((1, st(vec![1; 12]))).unwrap();
    r.input.send((2, st(vec![100; 2]))).unwrap();
    r.input.send((2, st(vec![]))).unwrap(); // source 2 ends
    r.h.run_until_idle();
    let out = r.out.drain();
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].samples, vec![101, 101, 1, 1]);
    assert_eq!(out[1].samples, vec![1; 4]);
    // Source 1 alone now: it is not held back by source 2 any more.
    assert_eq!(out[2].samples, vec![1; 4]);
}

#[test]
fn the_finish_mixes_what_is_left_unpadded_then_forwards() {
    let mut r = rig(RawAudioMixer::new().block_frames(4), None);
    r.input.send((7, st(vec![3; 6]))).unwrap();
    r.input.send((9, st(vec![4; 2]))).unwrap();
    r.ctl.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(all(&r.out), vec![7, 7, 3, 3, 3, 3]);
    assert_eq!(r.sig.drain(), vec![Signal::ProducerFinished]);
    assert!(!r.h.is_alive(r.id));
}

#[test]
fn a_chunk_of_another_format_is_dropped_and_counted() {
    let m = RawAudioMixer::new().block_frames(1);
    let stats = m.stats();
    let mut r = rig(m, None);
    r.input.send((1, st(vec![5, 5]))).unwrap();
    r.input
        .send((
            2,
            AudioChunk {
                rate: 44100,
                channels: 2,
                samples: vec![9, 9],
            },
        ))
        .unwrap();
    r.input
        .send((
            3,
            AudioChunk {
                rate: 8000,
                channels: 0,
                samples: vec![9],
            },
        ))
        .unwrap();
    r.h.run_until_idle();
    assert_eq!(all(&r.out), vec![5, 5]);
    assert_eq!(stats.mismatched(), 2);
}

#[test]
fn a_slow_consumer_pauses_the_mixer_without_losing_blocks() {
    let mut r = rig(RawAudioMixer::new().block_frames(1), Some(2));
    r.input.send((1, st((0..20).collect()))).unwrap();
    r.input.send((2, st(vec![1000; 20]))).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.out.len(), 2);
    assert!(r.h.is_sleeping(r.id));
    let mut got = Vec::new();
    while got.len() < 20 {
        got.extend(all(&r.out));
        r.h.run_until_idle();
    }
    let expected: Vec<i16> = (0..20).map(|i| i + 1000).collect();
    assert_eq!(got, expected);
}

#[test]
fn shutdown_stops_at_once() {
    let mut r = rig(RawAudioMixer::new().block_frames(4), None);
    r.input.send((1, st(vec![3; 2]))).unwrap();
    r.ctl.send(Signal::Shutdown).unwrap();
    r.h.run_until_idle();
    assert!(r.out.is_empty());
    assert_eq!(r.sig.drain(), vec![Signal::Shutdown]);
}

#[test]
fn a_stalled_source_holds_the_mix_back_only_so_far() {
    let mut r = rig(RawAudioMixer::new().block_frames(1).max_lag_blocks(3), None);
    r.input.send((1, st(vec![1; 2]))).unwrap();
    r.input.send((2, st(vec![10; 2]))).unwrap();
    r.h.run_until_idle();
    assert_eq!(all(&r.out), vec![11, 11]);
    // Source 2 stalls; source 1 gets 2, then 3 blocks ahead.
    r.input.send((1, st(vec![2; 4]))).unwrap();
    r.h.run_until_idle();
    assert!(r.out.is_empty(), "two blocks ahead: still waiting");
    r.input.send((1, st(vec![3; 2]))).unwrap();
    r.h.run_until_idle();
    // Three ahead: the mix goes on without source 2 until source 1 is
    // back under the limit.
    assert_eq!(all(&r.out), vec![2, 2]);
    // Source 2 comes back: its samples join the mix from here on.
    r.input.send((2, st(vec![20; 4]))).unwrap();
    r.h.run_until_idle();
    assert_eq!(all(&r.out), vec![22, 22, 23, 23]);
}
