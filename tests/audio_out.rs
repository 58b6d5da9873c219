//! AudioOut on the fake device, step by step on virtual time: samples in
//! order, back-pressure through the ring and the bounded inbox, underruns,
//! the latency wait at the end, resampling, format changes and the typed
//! errors. No sound card or `audio-out` feature needed.

use std::time::Duration;

use kamaelia::audio::out::{AudioOut, AudioOutError, FakeDevice, FakeOutput, StreamFormat};
use kamaelia::audio::paced::PacedSource;
use kamaelia::audio::pcm::AudioChunk;
use kamaelia::axon::{link, Id, Scheduler, Signal};
use kamaelia::testing::{Collector, Feeder, Harness};

struct Rig {
    h: Harness,
    id: Id,
    data: Feeder<AudioChunk>,
    ctl: Feeder<Signal>,
    sig: Collector<Signal>,
}

fn rig(out: AudioOut) -> Rig {
    let mut h = Harness::new();
    let id = h.spawn(out);
    Rig {
        data: h.feeder(id, "inbox").unwrap(),
        ctl: h.feeder(id, "control").unwrap(),
        sig: h.collector(id, "signal").unwrap(),
        h,
        id,
    }
}

fn mono(rate: u32, samples: Vec<i16>) -> AudioChunk {
    AudioChunk {
        rate,
        channels: 1,
        samples,
    }
}

fn failure(sig: &Collector<Signal>) -> AudioOutError {
    match sig.drain().as_slice() {
        [Signal::Failed(f)] => f.downcast_ref::<AudioOutError>().unwrap().clone(),
        other => panic!("expected one failure, got {other:?}"),
    }
}

#[test]
fn plays_every_sample_in_order_then_waits_out_the_latency() {
    let (dev, fake) = FakeDevice::new();
    let mut r = rig(AudioOut::new(dev.with_latency(Duration::from_millis(30))));
    let input: Vec<i16> = (1..=300).collect();
    for c in input.chunks(100) {
        r.data.send(mono(1000, c.to_vec())).unwrap();
    }
    r.ctl.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert!(fake.is_open());
    assert_eq!(
        fake.format(),
        Some(StreamFormat {
            rate: 1000,
            channels: 1
        })
    );
    // The ring (200 ms = 200 samples) took what fit; the rest waits.
    assert_eq!(fake.buffered(), 200);
    let mut played = fake.pull(150).unwrap();
    r.h.run_until_idle();
    played.extend(fake.pull(150).unwrap());
    assert_eq!(played, input);
    // Ring empty: the stream stays open for the device's latency.
    r.h.run_until_idle();
    assert!(fake.is_open());
    assert!(r.sig.is_empty());
    r.h.advance(Duration::from_millis(29));
    r.h.run_until_idle();
    assert!(fake.is_open(), "closed before the latency drained");
    r.h.advance(Duration::from_millis(1));
    r.h.run_until_idle();
    assert!(!fake.is_open());
    assert_eq!(fake.opened_closed(), (1, 1));
    assert_eq!(r.sig.drain(), vec![Signal::ProducerFinished]);
    assert!(!r.h.is_alive(r.id));
}

#[test]
fn a_full_ring_pauses_the_producer_and_a_pull_wakes_it() {
    let (out, fake) = AudioOut::fake();
    let out = out.buffer(Duration::from_millis(100)).inbox_limit(2);
    let stats = out.stats();
    let mut h = Harness::new();
    // 1000 frames of a ramp, in chunks of 30, as fast as allowed.
    let src = PacedSource::new(1000, 1, 1000, |n, _| n as i16)
        .chunk_frames(30)
        .unpaced();
    link(&src.outbox, &out.inbox).unwrap();
    link(&src.signal, &out.control).unwrap();
    let sid = h.spawn(src);
    let oid = h.spawn(out);
    h.run_until_idle();
    // Ring: 100 samples, full (3 chunks and a third of one). Inbox: 2
    // chunks. The source holds one more and sleeps.
    assert_eq!(fake.buffered(), 100);
    assert!(h.is_sleeping(sid) && h.is_alive(sid));
    assert!(h.is_sleeping(oid));
    assert!(stats.counts().overruns >= 1);
    assert_eq!(h.run_until_idle(), 0, "everything waits for the device");
    let mut played = fake.pull(40).unwrap();
    // The pull freed 40 >= half the ring: it woke AudioOut (through the
    // Remote), which refilled the ring and took a chunk, which woke the
    // source.
    let steps = h.run_until_idle();
    assert!(steps >= 2, "AudioOut and then the source ran: {steps}");
    assert_eq!(fake.buffered(), 100);
    while h.is_alive(oid) {
        played.extend(fake.pull(70).unwrap_or_default());
        h.run_until_idle();
        h.advance(Duration::from_millis(20));
        h.run_until_idle();
    }
    let expected: Vec<i16> = (0..1000).collect();
    assert_eq!(&played[..1000], &expected[..]);
    assert!(played[1000..].iter().all(|&s| s == 0));
    let c = stats.counts();
    assert_eq!(c.played_frames, 1000);
    assert_eq!(c.underruns, 0, "{c:?}");
    assert!(!h.is_alive(sid));
}

#[test]
fn underruns_count_only_while_the_stream_plays() {
    let (out, fake) = AudioOut::fake();
    let out = out.buffer(Duration::from_millis(100));
    let stats = out.stats();
    let mut r = rig(out);
    r.data.send(mono(1000, vec![7; 30])).unwrap();
    r.h.run_until_idle();
    // 30 of 100: not primed, so the device plays silence and takes nothing
    // (the start of a stream, not an underrun).
    assert_eq!(fake.pull(50).unwrap(), vec![0; 50]);
    assert_eq!(fake.buffered(), 30);
    assert_eq!(stats.counts().underruns, 0);
    r.data.send(mono(1000, vec![5; 60])).unwrap();
    r.h.run_until_idle();
    // 90 >= half the ring: primed, playing.
    assert_eq!(fake.pull(80).unwrap(), [vec![7; 30], vec![5; 50]].concat());
    assert_eq!(stats.counts().underruns, 0);
    // A pull of 20 finds 10: one underrun of 10 frames.
    assert_eq!(fake.pull(20).unwrap(), [vec![5; 10], vec![0; 10]].concat());
    let c = stats.counts();
    assert_eq!((c.underruns, c.underrun_frames), (1, 10));
    fake.pull(10).unwrap();
    assert_eq!(stats.counts().underruns, 2);
    // After the end of the stream, silence is no underrun.
    r.ctl.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    fake.pull(10).unwrap();
    assert_eq!(stats.counts().underruns, 2);
    assert_eq!(stats.counts().played_frames, 90);
}

#[test]
fn a_rate_the_device_lacks_is_resampled_linearly() {
    let (dev, fake) = FakeDevice::new();
    let mut r = rig(AudioOut::new(dev.with_rates(&[16_000, 48_000])));
    r.data
        .send(AudioChunk {
            rate: 8000,
            channels: 2,
            samples: vec![0, 0, 100, -100],
        })
        .unwrap();
    r.data
        .send(AudioChunk {
            rate: 8000,
            channels: 2,
            samples: vec![200, -200],
        })
        .unwrap();
    r.ctl.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(
        fake.format(),
        Some(StreamFormat {
            rate: 16_000,
            channels: 2
        })
    );
    let got = fake.pull(7).unwrap();
    assert_eq!(
        got,
        vec![0, 0, 50, -50, 100, -100, 150, -150, 200, -200, 200, -200, 0, 0]
    );
}

#[test]
fn a_new_format_closes_the_stream_and_opens_another() {
    let (dev, fake) = FakeDevice::new();
    let mut r = rig(AudioOut::new(dev.with_latency(Duration::from_millis(10))));
    r.data.send(mono(8000, vec![1, 2, 3])).unwrap();
    r.data
        .send(AudioChunk {
            rate: 16000,
            channels: 2,
            samples: vec![4, 5],
        })
        .unwrap();
    r.ctl.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(fake.pull(3).unwrap(), vec![1, 2, 3]);
    r.h.run_until_idle();
    r.h.advance(Duration::from_millis(10));
    r.h.run_until_idle();
    assert_eq!(fake.opened_closed(), (2, 1));
    assert_eq!(
        fake.format(),
        Some(StreamFormat {
            rate: 16000,
            channels: 2
        })
    );
    assert_eq!(fake.pull(1).unwrap(), vec![4, 5]);
    r.h.run_until_idle();
    r.h.advance(Duration::from_millis(10));
    r.h.run_until_idle();
    assert_eq!(fake.opened_closed(), (2, 2));
    assert_eq!(r.sig.drain(), vec![Signal::ProducerFinished]);
}

#[test]
fn no_device_is_a_typed_error() {
    let (dev, fake) = FakeDevice::new();
    let mut r = rig(AudioOut::new(dev.missing()));
    r.data.send(mono(44100, vec![0; 10])).unwrap();
    r.h.run_until_idle();
    assert!(matches!(failure(&r.sig), AudioOutError::NoDevice(_)));
    assert!(!r.h.is_alive(r.id));
    assert!(!fake.is_open());
}

#[test]
fn too_many_channels_is_a_typed_error() {
    let (dev, _fake) = FakeDevice::new();
    let mut r = rig(AudioOut::new(dev.with_max_channels(2)));
    r.data
        .send(AudioChunk {
            rate: 48000,
            channels: 6,
            samples: vec![0; 12],
        })
        .unwrap();
    r.h.run_until_idle();
    assert_eq!(
        failure(&r.sig),
        AudioOutError::UnsupportedChannels { channels: 6 }
    );
}

#[test]
fn malformed_chunks_are_typed_errors() {
    for (rate, channels, n) in [(0, 1, 4), (8000, 0, 4), (8000, 2, 3)] {
        let (out, _fake) = AudioOut::fake();
        let mut r = rig(out);
        r.data
            .send(AudioChunk {
                rate,
                channels,
                samples: vec![1; n],
            })
            .unwrap();
        r.h.run_until_idle();
        assert_eq!(
            failure(&r.sig),
            AudioOutError::BadChunk {
                rate,
                channels,
                samples: n
            }
        );
    }
}

#[test]
fn shutdown_closes_the_stream_at_once() {
    let (out, fake) = AudioOut::fake();
    let mut r = rig(out);
    r.data.send(mono(1000, vec![1; 500])).unwrap();
    r.h.run_until_idle();
    assert!(fake.is_open());
    r.ctl.send(Signal::Shutdown).unwrap();
    r.h.run_until_idle();
    assert!(!fake.is_open());
    assert_eq!(r.sig.drain(), vec![Signal::Shutdown]);
}

#[test]
fn an_empty_stream_ends_without_opening_the_device() {
    let (out, fake) = AudioOut::fake();
    let mut r = rig(out);
    r.data.send(mono(1000, vec![])).unwrap();
    r.ctl.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(fake.opened_closed(), (0, 0));
    assert_eq!(r.sig.drain(), vec![Signal::ProducerFinished]);
}

/// The device on a thread of its own, as cpal's callback is: its pulls
/// wake the scheduler through the Remote, and a real-time run ends with
/// every sample played.
#[test]
fn a_device_thread_drives_a_real_time_scheduler() {
    let (dev, fake) = FakeDevice::new();
    let out = AudioOut::new(dev.with_latency(Duration::from_millis(5)))
        .buffer(Duration::from_millis(20))
        .inbox_limit(1);
    let stats = out.stats();
    let src = PacedSource::noise(8000, 2, 8000, 7)
        .unpaced()
        .chunk_frames(64);
    let expected: Vec<i16> = {
        let mut h = Harness::new();
        let id = h.spawn(PacedSource::noise(8000, 2, 8000, 7).unpaced());
        let c = h.collector::<AudioChunk>(id, "outbox").unwrap();
        h.run_until_idle();
        c.drain().into_iter().flat_map(|c| c.samples).collect()
    };
    link(&src.outbox, &out.inbox).unwrap();
    link(&src.signal, &out.control).unwrap();
    let device_side: FakeOutput = fake.clone();
    let device = std::thread::spawn(move || {
        // A device callback of 32 frames every 100 µs, until the stream
        // has been open and closed (bounded at 20 s).
        let end = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < end {
            device_side.pull(32);
            if device_side.opened_closed() == (1, 1) {
                return true;
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        false
    });
    let mut s = Scheduler::new();
    s.spawn(src);
    s.spawn(out);
    s.run();
    assert!(device.join().unwrap(), "the stream never closed");
    // This device pulls far faster than real time, so it underruns: the
    // stream's samples come out whole and in order, with silence between.
    let nonzero = |v: &[i16]| v.iter().copied().filter(|&x| x != 0).collect::<Vec<_>>();
    let played = nonzero(&fake.played());
    assert!(played == nonzero(&expected), "the samples differ");
    assert_eq!(stats.counts().played_frames, 8000);
}

/// This process's CPU time so far (user + system), from /proc.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|x| x.parse().unwrap())
        .collect();
    // /proc counts in USER_HZ, 100 a second on Linux.
    Duration::from_millis((f[0] + f[1]) * 10)
}

/// The bench row "CPU per second of playback through AudioOut": 5 s of
/// 44.1 kHz stereo from an unpaced source (as a decoder would be) through
/// AudioOut to a fake device pulled at real time by a thread (10 ms
/// callbacks of 441 frames). Prints the figure; run with
/// `cargo test --release --test audio_out -- --ignored --nocapture`.
#[test]
#[ignore]
fn cpu_per_second_of_playback() {
    const SECONDS: u64 = 5;
    let (out, fake) = AudioOut::fake();
    let stats = out.stats();
    let src = PacedSource::sine(44100, 2, 440.0, 10000, 44100 * SECONDS)
        .unpaced()
        .chunk_frames(1024);
    link(&src.outbox, &out.inbox).unwrap();
    link(&src.signal, &out.control).unwrap();
    let device = std::thread::spawn(move || {
        let start = std::time::Instant::now();
        let mut tick = 0u32;
        let mut buf_frames = 0u64;
        while fake.opened_closed() != (1, 1) && start.elapsed() < Duration::from_secs(30) {
            if let Some(b) = fake.pull(441) {
                buf_frames += b.len() as u64 / 2;
            }
            tick += 1;
            let next = start + Duration::from_millis(10) * tick;
            std::thread::sleep(next.saturating_duration_since(std::time::Instant::now()));
        }
        buf_frames
    });
    let cpu0 = cpu_time();
    let t0 = std::time::Instant::now();
    let mut s = Scheduler::new();
    s.spawn(src);
    s.spawn(out);
    s.run();
    let _ = device.join().unwrap();
    let (cpu, wall) = (cpu_time() - cpu0, t0.elapsed());
    let per_s = cpu.as_secs_f64() * 1000.0 / SECONDS as f64;
    println!(
        "AudioOut, fake device at real time: {SECONDS} s of 44.1 kHz stereo in {:.2} s; \
         {per_s:.1} ms CPU per second of playback ({:.2}% of a core, source + AudioOut + device thread); {:?}",
        wall.as_secs_f64(),
        per_s / 10.0,
        stats.counts()
    );
    assert_eq!(stats.counts().played_frames, 44100 * SECONDS);
}

/// A source paced at the stream's rate and a device pulling at the same
/// rate, both on virtual time: after the ring primes, no underrun; every
/// sample comes out once, in order, after the priming silence; the stream
/// closes the device's latency after the last sample.
#[test]
fn a_paced_source_and_a_device_at_the_same_rate_never_underrun() {
    let (dev, fake) = FakeDevice::new();
    let out = AudioOut::new(dev.with_latency(Duration::from_millis(10)));
    let stats = out.stats();
    let mut h = Harness::new();
    // 1 s at 1 kHz mono: chunks of 20 frames every 20 ms.
    let src = PacedSource::new(1000, 1, 1000, |n, _| n as i16 + 1).chunk_frames(20);
    link(&src.outbox, &out.inbox).unwrap();
    link(&src.signal, &out.control).unwrap();
    h.spawn(src);
    let oid = h.spawn(out);
    let mut played = Vec::new();
    let mut ticks = 0;
    while h.is_alive(oid) && ticks < 500 {
        h.run_until_idle();
        if let Some(b) = fake.pull(10) {
            played.extend(b);
        }
        h.run_until_idle();
        h.advance(Duration::from_millis(10));
        ticks += 1;
    }
    assert!(!h.is_alive(oid), "not finished after {ticks} ticks");
    let start = played.iter().position(|&s| s != 0).unwrap();
    let expected: Vec<i16> = (1..=1000).collect();
    assert_eq!(&played[start..start + 1000], &expected[..]);
    assert!(played[start + 1000..].iter().all(|&s| s == 0));
    // The ring primes at half its 200 ms: about 100 ms of lead.
    assert!((80..=120).contains(&start), "{start} frames of lead");
    let c = stats.counts();
    assert_eq!((c.underruns, c.played_frames), (0, 1000), "{c:?}");
}
