//! Chunkifier and ChunkNamer.

use bytes::Bytes;
use kamaelia::axon::{Id, Signal, StepResult};
use kamaelia::testing::{Collector, Feeder, Harness};
use kamaelia::util::{ChunkNamer, Chunkifier};

/// A Chunkifier of `size`, its outbox leading to a collector holding at
/// most `limit` chunks (`None`: no limit).
struct Rig {
    h: Harness,
    id: Id,
    input: Feeder<Bytes>,
    ctl: Feeder<Signal>,
    out: Collector<Bytes>,
    sig: Collector<Signal>,
}

fn chunkifier(size: usize, limit: Option<usize>) -> Rig {
    let mut h = Harness::new();
    let id = h.spawn(Chunkifier::new(size));
    let out = match limit {
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

/// A small deterministic generator (xorshift), for cutting streams.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn stream(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

fn drain_all(h: &mut Harness, out: &Collector<Bytes>) -> Vec<Bytes> {
    let mut got = Vec::new();
    loop {
        h.run_until_idle();
        let batch = out.drain();
        if batch.is_empty() {
            return got;
        }
        got.extend(batch);
    }
}

#[test]
fn exact_chunks_whatever_the_cuts() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..40 {
        let size = 1 + rng.below(50) as usize;
        let data = stream(rng.below(2000) as usize);
        let mut r = chunkifier(size, None);
        let mut at = 0;
        while at < data.len() {
            let n = (rng.below(3 * size as u64) as usize).min(data.len() - at);
            r.input
                .send(Bytes::copy_from_slice(&data[at..at + n]))
                .unwrap();
            at += n;
            if rng.below(4) == 0 {
                r.h.run_until_idle();
            }
        }
        r.ctl.send(Signal::ProducerFinished).unwrap();
        let chunks = drain_all(&mut r.h, &r.out);
        let (last, full) = chunks
            .split_last()
            .map_or((None, &[][..]), |(l, f)| (Some(l), f));
        assert!(full.iter().all(|c| c.len() == size), "round {round}");
        if let Some(last) = last {
            assert!(!last.is_empty() && last.len() <= size, "round {round}");
        }
        assert_eq!(chunks.len(), data.len().div_ceil(size), "round {round}");
        assert_eq!(chunks.concat(), data, "round {round}: bytes and order kept");
        assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
        assert!(!r.h.is_alive(r.id));
    }
}

#[test]
fn chunks_inside_one_fragment_are_not_copied() {
    let mut r = chunkifier(4, None);
    let big = Bytes::from(stream(12));
    r.input.send(big.clone()).unwrap();
    r.h.run_until_idle();
    let chunks = r.out.drain();
    assert_eq!(chunks.len(), 3);
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(
            c.as_ptr(),
            big[i * 4..].as_ptr(),
            "chunk {i} is a slice of the input"
        );
    }
}

#[test]
fn a_chunk_spanning_fragments_is_joined() {
    let mut r = chunkifier(5, None);
    for piece in ["ab", "", "c", "defg", "hij"] {
        r.input.send(Bytes::from(piece)).unwrap();
    }
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), [Bytes::from("abcde"), Bytes::from("fghij")]);
}

#[test]
fn nothing_is_sent_before_a_chunk_is_full() {
    let mut h = Harness::new();
    let c = Chunkifier::new(10);
    assert_eq!(c.buffered(), 0);
    let id = h.spawn(c);
    let input = h.feeder::<Bytes>(id, "inbox").unwrap();
    let out = h.collector::<Bytes>(id, "outbox").unwrap();
    input.send(Bytes::from("123456789")).unwrap();
    h.run_until_idle();
    assert!(out.is_empty());
    assert!(h.is_sleeping(id));
    input.send(Bytes::from("0X")).unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), [Bytes::from("1234567890")]);
}

#[test]
fn finish_flushes_the_partial_chunk() {
    let mut r = chunkifier(4, None);
    r.input.send(Bytes::from("abcdefg")).unwrap();
    r.ctl.send(Signal::ProducerFinished).unwrap();
    assert_eq!(r.h.step(), Some((r.id, StepResult::Done)));
    assert_eq!(r.out.drain(), [Bytes::from("abcd"), Bytes::from("efg")]);
    assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
}

#[test]
fn finish_on_an_exact_multiple_sends_no_empty_chunk() {
    let mut r = chunkifier(3, None);
    r.input.send(Bytes::from("abcdef")).unwrap();
    r.ctl.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), [Bytes::from("abc"), Bytes::from("def")]);
    assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
}

#[test]
fn shutdown_drops_the_partial_chunk() {
    let mut r = chunkifier(4, None);
    r.input.send(Bytes::from("abcdef")).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), [Bytes::from("abcd")]);
    r.ctl.send(Signal::Shutdown).unwrap();
    r.h.run_until_idle();
    assert!(r.out.is_empty(), "no flush on shutdown");
    assert_eq!(r.sig.drain(), [Signal::Shutdown]);
    assert!(!r.h.is_alive(r.id));
}

#[test]
fn back_pressure_keeps_chunks_and_order() {
    let mut r = chunkifier(3, Some(2));
    let data = stream(100);
    for piece in data.chunks(7) {
        r.input.send(Bytes::copy_from_slice(piece)).unwrap();
    }
    r.ctl.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.out.len(), 2);
    assert!(r.h.is_sleeping(r.id), "sleeps while its consumer is full");
    let steps = r.h.scheduler().stats().steps;
    r.h.run_until_idle();
    assert_eq!(r.h.scheduler().stats().steps, steps, "no busy waiting");
    assert!(r.sig.is_empty());
    let mut got = Vec::new();
    while let Some(c) = r.out.recv() {
        got.push(c);
        r.h.run_until_idle();
    }
    assert_eq!(got.len(), 34);
    assert_eq!(got.concat(), data);
    assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
    assert!(!r.h.is_alive(r.id));
}

#[test]
fn a_huge_message_is_chunked_over_several_steps() {
    let mut r = chunkifier(1, None);
    let data = stream(5000);
    r.input.send(Bytes::from(data.clone())).unwrap();
    assert_eq!(r.h.step(), Some((r.id, StepResult::Yield)));
    assert!(r.out.len() < 5000);
    r.h.run_until_idle();
    let got = r.out.drain();
    assert_eq!(got.len(), 5000);
    assert_eq!(got.concat(), data);
}

#[test]
#[should_panic(expected = "chunk size above zero")]
fn zero_chunk_size_is_refused() {
    let _ = Chunkifier::new(0);
}

// ---------------------------------------------------------------- ChunkNamer

#[test]
fn chunk_namer_numbers_from_one() {
    let mut h = Harness::new();
    let id = h.spawn(ChunkNamer::new("/data/x-", ".ts"));
    let input = h.feeder::<Bytes>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<(String, Bytes)>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    for p in ["a", "b", "c"] {
        input.send(Bytes::from(p)).unwrap();
    }
    ctl.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert_eq!(
        out.drain(),
        [
            ("/data/x-chunk1.ts".to_string(), Bytes::from("a")),
            ("/data/x-chunk2.ts".to_string(), Bytes::from("b")),
            ("/data/x-chunk3.ts".to_string(), Bytes::from("c")),
        ]
    );
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
}

#[test]
fn chunk_namer_defaults_and_other_types() {
    let mut h = Harness::new();
    let id = h.spawn(ChunkNamer::<Vec<u8>>::with_type("", ""));
    let input = h.feeder::<Vec<u8>>(id, "inbox").unwrap();
    let out = h
        .bounded_collector::<(String, Vec<u8>)>(id, "outbox", 1)
        .unwrap();
    input.send(vec![1]).unwrap();
    input.send(vec![2]).unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), [("chunk1".to_string(), vec![1])]);
    h.run_until_idle();
    assert_eq!(out.drain(), [("chunk2".to_string(), vec![2])]);
}

#[test]
fn chunk_namer_shutdown() {
    let mut h = Harness::new();
    let id = h.spawn(ChunkNamer::new("", ""));
    let input = h.feeder::<Bytes>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<(String, Bytes)>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input.send(Bytes::from("x")).unwrap();
    ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    assert!(out.is_empty());
    assert_eq!(sig.drain(), [Signal::Shutdown]);
}
