//! PacedSource on virtual time: each chunk at its due time, the samples it
//! generates, a slow consumer, and shutdown.

use std::time::Duration;

use kamaelia::audio::paced::PacedSource;
use kamaelia::audio::pcm::AudioChunk;
use kamaelia::axon::Signal;
use kamaelia::testing::Harness;

#[test]
fn each_chunk_goes_out_at_its_due_time() {
    let mut h = Harness::new();
    let id = h.spawn(PacedSource::new(1000, 1, 95, |n, _| n as i16).chunk_frames(20));
    let out = h.collector::<AudioChunk>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    let start = h.now();
    let mut times = Vec::new();
    let mut samples = Vec::new();
    while h.is_alive(id) {
        h.run_until_idle();
        for c in out.drain() {
            times.push(h.now().duration_since(start).as_millis());
            samples.extend(c.samples);
        }
        let next = h.scheduler().next_deadline();
        match next {
            Some(d) => {
                let now = h.now();
                h.advance(d.duration_since(now));
            }
            None => break,
        }
    }
    // 95 frames at 1 kHz in chunks of 20: at 0, 20, 40, 60 and 80 ms.
    assert_eq!(times, vec![0, 20, 40, 60, 80]);
    assert_eq!(samples, (0..95).collect::<Vec<i16>>());
    assert_eq!(sig.drain(), vec![Signal::ProducerFinished]);
}

#[test]
fn a_second_of_audio_takes_a_second_of_virtual_time() {
    let mut h = Harness::new();
    let id = h.spawn(PacedSource::sine(44100, 2, 440.0, 8000, 44100));
    let out = h.collector::<AudioChunk>(id, "outbox").unwrap();
    // Chunks of 882 frames (20 ms): the 50th and last is due at 980 ms.
    h.run_for(Duration::from_millis(979));
    let frames: usize = out.drain().iter().map(|c| c.frames()).sum();
    assert_eq!(frames, 49 * 882);
    assert!(h.is_alive(id));
    h.run_for(Duration::from_millis(1));
    assert_eq!(out.drain().iter().map(|c| c.frames()).sum::<usize>(), 882);
    assert!(!h.is_alive(id), "finished with the last chunk");
}

#[test]
fn the_generators_give_their_samples() {
    let mut h = Harness::new();
    let id = h.spawn(PacedSource::from_samples(8000, 2, vec![1, 2, 3, 4, 5]).unpaced());
    let out = h.collector::<AudioChunk>(id, "outbox").unwrap();
    h.run_until_idle();
    let all: Vec<AudioChunk> = out.drain();
    assert_eq!(
        all,
        vec![AudioChunk {
            rate: 8000,
            channels: 2,
            samples: vec![1, 2, 3, 4]
        }]
    );

    let id = h.spawn(PacedSource::sine(8000, 1, 2000.0, 1000, 4).unpaced());
    let out = h.collector::<AudioChunk>(id, "outbox").unwrap();
    h.run_until_idle();
    // A quarter of the rate: 0, peak, 0, -peak.
    assert_eq!(out.drain()[0].samples, vec![0, 1000, 0, -1000]);

    let id = h.spawn(PacedSource::noise(8000, 1, 1000, 42).unpaced());
    let out = h.collector::<AudioChunk>(id, "outbox").unwrap();
    h.run_until_idle();
    let s: Vec<i16> = out.drain().into_iter().flat_map(|c| c.samples).collect();
    let mut distinct = s.clone();
    distinct.sort();
    distinct.dedup();
    assert!(
        distinct.len() > 980,
        "noise repeats: {} distinct",
        distinct.len()
    );
}

#[test]
fn a_full_consumer_holds_the_chunk_and_pauses_the_source() {
    let mut h = Harness::new();
    let id = h.spawn(
        PacedSource::new(1000, 1, 100, |n, _| n as i16)
            .chunk_frames(10)
            .unpaced(),
    );
    let out = h.bounded_collector::<AudioChunk>(id, "outbox", 3).unwrap();
    h.run_until_idle();
    assert_eq!(out.len(), 3);
    assert!(h.is_sleeping(id));
    let mut got = Vec::new();
    while got.len() < 100 {
        got.extend(out.drain().into_iter().flat_map(|c| c.samples));
        h.run_until_idle();
    }
    assert_eq!(got, (0..100).collect::<Vec<i16>>());
}

#[test]
fn shutdown_stops_it() {
    let mut h = Harness::new();
    let id = h.spawn(PacedSource::sine(8000, 1, 440.0, 100, 80000));
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_for(Duration::from_millis(50));
    ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    assert!(!h.is_alive(id));
    assert_eq!(sig.drain(), vec![Signal::Shutdown]);
}
