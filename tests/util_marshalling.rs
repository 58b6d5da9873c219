//! Marshaller and DeMarshaller: round trips, the built-in `Marshal`
//! encodings, bad input (skipped and counted, or a typed failure),
//! back-pressure and the shutdown convention.

use std::convert::Infallible;
use std::fmt::Debug;

use bytes::Bytes;
use kamaelia::axon::{link_refs, Id, Inbox, Scheduler, Signal, StepResult};
use kamaelia::pipeline;
use kamaelia::testing::{Collector, Feeder, Harness};
use kamaelia::util::{DataSource, DeMarshaller, DemarshalError, LengthError, Marshal, Marshaller};

fn b(x: &'static [u8]) -> Bytes {
    Bytes::from_static(x)
}

struct Rig<I: 'static, O: 'static> {
    h: Harness,
    id: Id,
    input: Feeder<I>,
    ctl: Feeder<Signal>,
    out: Collector<O>,
    sig: Collector<Signal>,
}

fn rig<I: 'static, O: 'static>(
    c: impl kamaelia::axon::Component,
    limit: Option<usize>,
) -> Rig<I, O> {
    let mut h = Harness::new();
    let id = h.spawn(c);
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

// ---------------------------------------------------------------- Marshal

fn round_trip<T: Marshal + PartialEq + Debug>(v: T) {
    let data = v.marshal();
    match T::demarshal(&data) {
        Ok(back) => assert_eq!(back, v),
        Err(e) => panic!("{v:?} -> {data:?} does not decode: {e}"),
    }
}

#[test]
fn marshal_round_trips() {
    round_trip(String::from("héllo, wörld"));
    round_trip(String::new());
    round_trip(b"\x00\xffraw".to_vec());
    round_trip(b(b"\x00\xffbytes"));
    round_trip(0u8);
    round_trip(u16::MAX);
    round_trip(0xdead_beef_u32);
    round_trip(u64::MAX - 1);
    round_trip(u128::MAX / 3);
    round_trip(i8::MIN);
    round_trip(-2i16);
    round_trip(i32::MIN);
    round_trip(-1i64);
    round_trip(i128::MIN + 7);
    round_trip(1.5f32);
    round_trip(-0.1f64);
    let nan = f64::demarshal(&f64::NAN.marshal()).unwrap();
    assert!(nan.is_nan());
}

#[test]
fn marshal_numbers_are_big_endian_and_exactly_their_width() {
    assert_eq!(0x0102_0304u32.marshal(), b(&[1, 2, 3, 4]));
    assert_eq!((-1i16).marshal(), b(&[0xff, 0xff]));
    assert_eq!(7u8.marshal(), b(&[7]));
    assert_eq!(1u64.marshal(), b(&[0, 0, 0, 0, 0, 0, 0, 1]));
    assert_eq!(1.0f32.marshal(), b(&[0x3f, 0x80, 0, 0]));
    assert_eq!(
        u32::demarshal(&b(&[1, 2, 3])),
        Err(LengthError {
            expected: 4,
            got: 3
        })
    );
    assert_eq!(
        u8::demarshal(&b(b"")),
        Err(LengthError {
            expected: 1,
            got: 0
        })
    );
    assert_eq!(
        i64::demarshal(&b(&[0; 9])).unwrap_err().to_string(),
        "expected 8 bytes, got 9"
    );
}

#[test]
fn marshal_strings_are_utf8() {
    assert_eq!(String::from("é").marshal(), b("é".as_bytes()));
    assert!(String::demarshal(&b(b"ok\xff")).is_err());
}

// ---------------------------------------------------------------- round trips

#[test]
fn standard_round_trip_through_a_pipeline() {
    let words: Vec<String> = ["one", "", "thrée", "four"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let p = pipeline![
        DataSource::new(words.clone()),
        Marshaller::<String>::standard(),
        DeMarshaller::<String, _>::standard(),
    ]
    .unwrap();
    let out: Inbox<String> = Inbox::inbox();
    let sig: Inbox<Signal> = Inbox::control();
    link_refs(&p.outbox().unwrap(), &out.erased()).unwrap();
    link_refs(&p.find("signal").unwrap(), &sig.erased()).unwrap();
    let mut s = Scheduler::with_virtual_time();
    s.spawn(p);
    assert_eq!(s.run(), kamaelia::axon::Ended::Completed);
    let got: Vec<String> = std::iter::from_fn(|| out.recv()).collect();
    assert_eq!(got, words);
    assert_eq!(sig.recv(), Some(Signal::ProducerFinished));
    assert_eq!(s.stats().undelivered, 0);
}

#[derive(Clone, Debug, PartialEq)]
struct Point {
    x: i32,
    y: i32,
}

fn encode_point(p: &Point) -> Bytes {
    format!("{},{}", p.x, p.y).into()
}

fn decode_point(data: &Bytes) -> Result<Point, String> {
    let s = std::str::from_utf8(data).map_err(|e| e.to_string())?;
    let (x, y) = s
        .split_once(',')
        .ok_or_else(|| format!("no comma in {s:?}"))?;
    let num = |t: &str| t.parse::<i32>().map_err(|e| format!("{t:?}: {e}"));
    Ok(Point {
        x: num(x)?,
        y: num(y)?,
    })
}

#[test]
fn round_trip_with_functions() {
    let mut m = rig::<Point, Bytes>(Marshaller::new(encode_point), None);
    let mut d = rig::<Bytes, Point>(DeMarshaller::new(decode_point), None);
    let points = [
        Point { x: 1, y: -2 },
        Point { x: 0, y: 0 },
        Point { x: 300, y: 4 },
    ];
    for p in &points {
        m.input.send(p.clone()).unwrap();
    }
    m.h.run_until_idle();
    let wire = m.out.drain();
    assert_eq!(wire, [b(b"1,-2"), b(b"0,0"), b(b"300,4")]);
    for w in wire {
        d.input.send(w).unwrap();
    }
    d.h.run_until_idle();
    assert_eq!(d.out.drain(), points);
    assert!(m.h.is_sleeping(m.id) && d.h.is_sleeping(d.id));
}

#[test]
fn an_encoder_may_keep_state() {
    let mut n = 0u8;
    let mut m = rig::<&'static str, Bytes>(
        Marshaller::new(move |s: &&str| {
            n += 1;
            let mut v = vec![n];
            v.extend_from_slice(s.as_bytes());
            v.into()
        }),
        None,
    );
    m.input.send("a").unwrap();
    m.input.send("b").unwrap();
    m.h.run_until_idle();
    assert_eq!(m.out.drain(), [b(b"\x01a"), b(b"\x02b")]);
}

// ---------------------------------------------------------------- bad input

#[test]
fn bad_input_is_skipped_and_counted() {
    let d = DeMarshaller::<u16, _>::standard();
    let errors = d.errors();
    let mut r = rig::<Bytes, u16>(d, None);
    for x in [b(&[0, 1]), b(&[1]), b(&[0, 2]), b(&[1, 2, 3]), b(&[0, 3])] {
        r.input.send(x).unwrap();
    }
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), [1, 2, 3]);
    assert_eq!(errors.get(), 2);
    assert!(r.sig.is_empty(), "no failure reported on signal");
    assert!(r.h.is_alive(r.id));
    r.ctl.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
    assert!(!r.h.is_alive(r.id));
    assert_eq!(errors.get(), 2, "readable after the end");
}

#[test]
fn fail_on_error_stops_with_a_typed_failure() {
    let d = DeMarshaller::<u16, _>::standard().fail_on_error(true);
    let errors = d.errors();
    let mut r = rig::<Bytes, u16>(d, None);
    for x in [b(&[0, 1]), b(&[1, 2, 3]), b(&[0, 2])] {
        r.input.send(x).unwrap();
    }
    assert_eq!(r.h.step(), Some((r.id, StepResult::Done)));
    assert_eq!(r.out.drain(), [1], "what came before the bad input");
    let sig = r.sig.drain();
    assert_eq!(sig.len(), 1);
    let Signal::Failed(f) = &sig[0] else {
        panic!("expected a failure, got {sig:?}")
    };
    let e = f
        .downcast_ref::<DemarshalError<LengthError>>()
        .expect("a DemarshalError<LengthError>");
    assert_eq!(
        *e.error(),
        LengthError {
            expected: 2,
            got: 3
        }
    );
    assert_eq!(e.input(), &b(&[1, 2, 3]));
    assert_eq!(
        f.to_string(),
        "cannot decode 3 bytes: expected 2 bytes, got 3"
    );
    assert_eq!(errors.get(), 1);
    assert_eq!(
        r.h.scheduler().stats().undelivered,
        1,
        "the input after it is left"
    );
}

#[test]
fn a_closure_error_need_not_be_a_std_error() {
    let mut r = rig::<Bytes, Point>(DeMarshaller::new(decode_point).fail_on_error(true), None);
    r.input.send(b(b"1,x")).unwrap();
    r.h.run_until_idle();
    assert!(r.out.is_empty());
    let Some(Signal::Failed(f)) = r.sig.recv() else {
        panic!("expected a failure")
    };
    let e = f.downcast_ref::<DemarshalError<String>>().unwrap();
    assert_eq!(e.error(), "\"x\": invalid digit found in string");
    assert_eq!(e.input(), &b(b"1,x"));
}

#[test]
fn bad_utf8_is_skipped() {
    let d = DeMarshaller::<String, _>::default();
    let errors = d.errors();
    let mut r = rig::<Bytes, String>(d, None);
    for x in [b(b"a"), b(b"\xc3"), b(b"\xc3\xa9")] {
        r.input.send(x).unwrap();
    }
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), ["a", "é"]);
    assert_eq!(errors.get(), 1);
}

#[test]
fn infallible_decoders_never_count() {
    let d = DeMarshaller::<Vec<u8>, Infallible>::standard();
    let errors = d.errors();
    let mut r = rig::<Bytes, Vec<u8>>(d, None);
    r.input.send(b(b"")).unwrap();
    r.input.send(b(b"\xff")).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), [vec![], vec![0xff]]);
    assert_eq!(errors.get(), 0);
}

// ---------------------------------------------------------------- back-pressure

#[test]
fn marshaller_back_pressure_keeps_everything_in_order() {
    let mut r = rig::<u32, Bytes>(Marshaller::<u32>::default(), Some(2));
    for i in 1..=5u32 {
        r.input.send(i).unwrap();
    }
    assert_eq!(
        r.h.step(),
        Some((r.id, StepResult::Sleep)),
        "refused: sleeps"
    );
    assert_eq!(r.h.step(), None, "not spinning");
    let mut got = Vec::new();
    for _ in 0..10 {
        got.extend(r.out.drain());
        r.h.run_until_idle();
    }
    let want: Vec<Bytes> = (1..=5u32).map(|i| i.marshal()).collect();
    assert_eq!(got, want);
}

#[test]
fn demarshaller_back_pressure_keeps_everything_in_order() {
    let d = DeMarshaller::<u8, _>::standard();
    let errors = d.errors();
    let mut r = rig::<Bytes, u8>(d, Some(1));
    for x in [b(&[1]), b(&[]), b(&[2]), b(&[3]), b(&[9, 9]), b(&[4])] {
        r.input.send(x).unwrap();
    }
    r.h.run_until_idle();
    assert!(r.h.is_sleeping(r.id));
    assert_eq!(r.out.len(), 1);
    let mut got = Vec::new();
    while let Some(v) = r.out.recv() {
        got.push(v);
        r.h.run_until_idle();
    }
    assert_eq!(got, [1, 2, 3, 4]);
    assert_eq!(errors.get(), 2);
}

#[test]
fn producer_finished_waits_for_room_for_what_is_pending() {
    let mut r = rig::<u8, Bytes>(Marshaller::<u8>::standard(), Some(1));
    for i in [1, 2, 3] {
        r.input.send(i).unwrap();
    }
    r.ctl.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), [b(&[1])]);
    assert!(r.sig.is_empty(), "2 and 3 still to send");
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), [b(&[2])]);
    assert!(r.sig.is_empty(), "3 still to send");
    r.h.run_until_idle();
    // 3 went out in the step that sent the signal.
    assert_eq!(r.out.drain(), [b(&[3])]);
    assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
    assert!(!r.h.is_alive(r.id));
}

#[test]
fn demarshaller_producer_finished_waits_too() {
    let mut r = rig::<Bytes, u8>(DeMarshaller::<u8, _>::standard(), Some(1));
    for x in [b(&[1]), b(&[2])] {
        r.input.send(x).unwrap();
    }
    r.ctl.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), [1]);
    assert!(r.sig.is_empty());
    r.h.run_until_idle();
    assert_eq!(r.out.drain(), [2]);
    assert_eq!(r.sig.drain(), [Signal::ProducerFinished]);
    assert!(!r.h.is_alive(r.id));
}

// ---------------------------------------------------------------- shutdown

#[test]
fn shutdown_ends_both_at_once() {
    let mut m = rig::<u8, Bytes>(Marshaller::<u8>::standard(), None);
    m.input.send(1).unwrap();
    m.ctl.send(Signal::Shutdown).unwrap();
    assert_eq!(m.h.step(), Some((m.id, StepResult::Done)));
    assert!(m.out.is_empty());
    assert_eq!(m.sig.drain(), [Signal::Shutdown]);

    let mut d = rig::<Bytes, u8>(DeMarshaller::<u8, _>::standard(), Some(1));
    d.input.send(b(&[1])).unwrap();
    d.input.send(b(&[2])).unwrap();
    d.h.run_until_idle();
    // One sent, one held for lack of room: shutdown does not wait for it.
    d.ctl.send(Signal::Shutdown).unwrap();
    d.h.run_until_idle();
    assert_eq!(d.out.drain(), [1]);
    assert_eq!(d.sig.drain(), [Signal::Shutdown]);
    assert!(!d.h.is_alive(d.id));
}

#[test]
fn a_failure_on_control_is_forwarded_after_the_pending_input() {
    let mut d = rig::<Bytes, u8>(DeMarshaller::<u8, _>::standard(), None);
    d.input.send(b(&[5])).unwrap();
    let failed = Signal::failed(std::io::Error::other("upstream"));
    d.ctl.send(failed.clone()).unwrap();
    d.h.run_until_idle();
    assert_eq!(d.out.drain(), [5]);
    assert_eq!(d.sig.drain(), [failed]);
}

#[test]
fn standard_marshalling_hands_over_owned_buffers() {
    let mut s = rig::<String, Bytes>(Marshaller::<String>::standard(), None);
    let text = String::from("no copy");
    let at = text.as_ptr();
    s.input.send(text).unwrap();
    let mut v = rig::<Vec<u8>, Bytes>(Marshaller::<Vec<u8>>::standard(), None);
    let raw = vec![1, 2, 3];
    let raw_at = raw.as_ptr();
    v.input.send(raw).unwrap();
    s.h.run_until_idle();
    v.h.run_until_idle();
    let (sb, vb) = (s.out.recv().unwrap(), v.out.recv().unwrap());
    assert_eq!((&sb[..], &vb[..]), (&b"no copy"[..], &[1u8, 2, 3][..]));
    assert_eq!(sb.as_ptr(), at, "the String's buffer, not a copy");
    assert_eq!(vb.as_ptr(), raw_at, "the Vec's buffer, not a copy");
    // The consuming form gives the same bytes as `marshal`.
    assert_eq!(
        String::from("x").into_marshalled(),
        String::from("x").marshal()
    );
    assert_eq!(7u16.into_marshalled(), 7u16.marshal());
}

#[test]
fn the_standard_codecs_are_the_default_type() {
    // `Marshaller<T>` and `DeMarshaller<T, E>` still name the standard ones.
    let m: Marshaller<u32> = Marshaller::standard();
    let d: DeMarshaller<u32, LengthError> = DeMarshaller::standard();
    let d2: DeMarshaller<u32, LengthError> = DeMarshaller::default();
    let mut h = Harness::new();
    let (m, d, _d2) = (h.spawn(m), h.spawn(d), h.spawn(d2));
    h.scheduler().link((m, "outbox"), (d, "inbox")).unwrap();
    let input = h.feeder::<u32>(m, "inbox").unwrap();
    let out = h.collector::<u32>(d, "outbox").unwrap();
    input.send(0xDEAD_BEEF).unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), [0xDEAD_BEEF]);
}
