//! VorbisDecode driven step by step on the harness: one audio chunk per
//! step and a yield after it (a long file never holds the scheduler),
//! sleeping while it waits for bytes, back-pressure from a bounded
//! consumer, comments on their own outbox, shutdown and producer-finished.
//! The test file comes from sox and oggenc (skipped with a note when
//! missing, unless `KAMAELIA_REQUIRE_INTEROP=1`).

mod audio_support;
use audio_support::*;
use bytes::Bytes;
use kamaelia::audio::vorbis::{VorbisComments, VorbisDecode};
use kamaelia::audio::AudioChunk;
use kamaelia::axon::{Signal, StepResult};
use kamaelia::testing::Harness;
use std::time::{Duration, Instant};

struct Rig {
    h: Harness,
    id: kamaelia::axon::Id,
    input: kamaelia::testing::Feeder<Bytes>,
    control: kamaelia::testing::Feeder<Signal>,
    audio: kamaelia::testing::Collector<AudioChunk>,
    comments: kamaelia::testing::Collector<VorbisComments>,
    signal: kamaelia::testing::Collector<Signal>,
}

fn rig(audio_limit: Option<usize>) -> Rig {
    let mut h = Harness::new();
    let id = h.spawn(VorbisDecode::new());
    let input = h.feeder(id, "inbox").unwrap();
    let control = h.feeder(id, "control").unwrap();
    let audio = match audio_limit {
        Some(n) => h.bounded_collector(id, "outbox", n).unwrap(),
        None => h.collector(id, "outbox").unwrap(),
    };
    let comments = h.collector(id, "comments").unwrap();
    let signal = h.collector(id, "signal").unwrap();
    Rig {
        h,
        id,
        input,
        control,
        audio,
        comments,
        signal,
    }
}

fn file(name: &str) -> Option<(TempDir, Vec<u8>, Vec<i16>)> {
    if !have_tools(name) {
        return None;
    }
    let dir = TempDir::new(name);
    let ogg = make_ogg(dir.path(), name, 44_100, 2, 2.0, 3, "Component");
    let data = std::fs::read(&ogg).unwrap();
    let want = oggdec(&ogg);
    Some((dir, data, want))
}

#[test]
fn one_chunk_per_step_then_a_yield() {
    let Some((_dir, data, want)) = file("one_chunk_per_step_then_a_yield") else {
        return;
    };
    let mut r = rig(None);
    r.input.send(Bytes::from(data)).unwrap();
    r.control.send(Signal::ProducerFinished).unwrap();
    let mut longest = Duration::ZERO;
    let mut steps = 0;
    let mut chunks = 0;
    loop {
        let t = Instant::now();
        let Some((id, result)) = r.h.step() else {
            break;
        };
        longest = longest.max(t.elapsed());
        assert_eq!(id, r.id);
        steps += 1;
        let got = r.audio.len();
        assert!(got <= 1, "at most one chunk per step, got {got}");
        chunks += got;
        let _ = r.audio.drain();
        if result == StepResult::Done {
            break;
        }
        assert_eq!(result, StepResult::Yield, "step {steps} while work is left");
    }
    assert!(!r.h.is_alive(r.id));
    assert_eq!(r.signal.drain(), vec![Signal::ProducerFinished]);
    // ~2 s of 44.1 kHz in 1024-frame or smaller packets: many steps.
    assert!(chunks > 80, "{chunks} chunks");
    assert_eq!(r.comments.drain().len(), 1);
    eprintln!(
        "{steps} steps for {chunks} chunks ({} frames); longest step {longest:?} (debug build)",
        want.len() / 2
    );
}

#[test]
fn sleeps_between_pieces_and_decodes_as_they_come() {
    let Some((_dir, data, want)) = file("sleeps_between_pieces_and_decodes_as_they_come") else {
        return;
    };
    let mut r = rig(None);
    let mut got = Vec::new();
    for piece in data.chunks(2500) {
        r.input.send(Bytes::copy_from_slice(piece)).unwrap();
        r.h.run_until_idle();
        assert!(r.h.is_sleeping(r.id), "waits for bytes without spinning");
        got.extend(r.audio.drain());
    }
    let title: Vec<_> = r
        .comments
        .drain()
        .iter()
        .map(|c| c.title().unwrap().to_string())
        .collect();
    assert_eq!(title, ["Component"]);
    r.control.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    got.extend(r.audio.drain());
    assert!(!r.h.is_alive(r.id));
    let samples: Vec<i16> = got.iter().flat_map(|c| c.samples.iter().copied()).collect();
    assert_eq!(samples.len(), want.len());
    assert!(max_diff(&samples, &want).0 <= 1);
}

#[test]
fn a_full_consumer_pauses_the_decoder() {
    let Some((_dir, data, want)) = file("a_full_consumer_pauses_the_decoder") else {
        return;
    };
    let mut r = rig(Some(2));
    r.input.send(Bytes::from(data)).unwrap();
    r.control.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    // Two chunks taken, a third held; the decoder sleeps, alive.
    assert_eq!(r.audio.len(), 2);
    assert!(r.h.is_alive(r.id) && r.h.is_sleeping(r.id));
    let mut samples = Vec::new();
    let mut rounds = 0;
    while r.h.is_alive(r.id) {
        for c in r.audio.drain() {
            samples.extend(c.samples);
        }
        r.h.run_until_idle();
        assert!(r.audio.len() <= 2);
        rounds += 1;
    }
    for c in r.audio.drain() {
        samples.extend(c.samples);
    }
    assert!(rounds > 40);
    assert_eq!(samples.len(), want.len(), "nothing lost to back-pressure");
    assert!(max_diff(&samples, &want).0 <= 1);
}

#[test]
fn shutdown_stops_at_once() {
    let Some((_dir, data, _)) = file("shutdown_stops_at_once") else {
        return;
    };
    let mut r = rig(None);
    r.input.send(Bytes::from(data)).unwrap();
    for _ in 0..10 {
        r.h.step();
    }
    let so_far = r.audio.drain().len();
    assert!(so_far > 0 && so_far < 10);
    r.control.send(Signal::Shutdown).unwrap();
    r.h.run_until_idle();
    assert!(!r.h.is_alive(r.id));
    assert!(r.audio.is_empty(), "nothing more after a shutdown");
    assert_eq!(r.signal.drain(), vec![Signal::Shutdown]);
}

#[test]
fn producer_finished_with_nothing_sent() {
    let mut r = rig(None);
    r.control.send(Signal::ProducerFinished).unwrap();
    assert_eq!(r.h.step(), Some((r.id, StepResult::Done)));
    assert_eq!(r.signal.drain(), vec![Signal::ProducerFinished]);
    assert!(r.audio.is_empty() && r.comments.is_empty());
}
