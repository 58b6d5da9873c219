//! Icecast, deterministic: the ICY demuxer on byte vectors cut at every
//! boundary (small metaint, NUL padding, empty blocks, quoting, a hostile
//! length byte at the end, no metaint), the demux component, the
//! reconnecting client on scripted connections and virtual time (refused,
//! then a stream; back-off times; typed reasons; giving up), and the
//! ripper to a file. No network.

use std::time::Duration;

use bytes::Bytes;
use kamaelia::axon::Signal;
use kamaelia::protocol::http::client::{ErrorKind, UrlError};
use kamaelia::protocol::http::icecast::{
    Disconnect, DisconnectReason, GaveUp, IcecastClient, IcecastConfig, IcecastDemux, IcecastEvent,
    IcyDemuxer, IcyError, IcyEvent, Metadata, RipEvent, RipOptions, Ripper,
};
use kamaelia::protocol::http::{Event, Head, Parser};
use kamaelia::testing::scripted::{scripted_connector, ScriptedConn};
use kamaelia::testing::Harness;

// ----- the codec -----

/// A metadata block: length byte, text, NUL padding to a multiple of 16.
fn block(text: &[u8]) -> Vec<u8> {
    let len = text.len().div_ceil(16);
    let mut b = vec![len as u8];
    b.extend_from_slice(text);
    b.resize(1 + len * 16, 0);
    b
}

/// Audio bytes 0..n of a recognisable pattern, starting at `from`.
fn audio(from: usize, n: usize) -> Vec<u8> {
    (from..from + n).map(|i| (i * 7 % 251) as u8).collect()
}

/// What a demuxer made of a stream, in short: every run of audio joined,
/// metadata as its raw text.
#[derive(Debug, PartialEq, Eq)]
enum Item {
    Audio(Vec<u8>),
    Meta(Vec<u8>),
}

fn collapse(events: &[IcyEvent]) -> Vec<Item> {
    let mut out: Vec<Item> = Vec::new();
    for e in events {
        match e {
            IcyEvent::Audio(b) => {
                assert!(!b.is_empty(), "no empty audio events");
                match out.last_mut() {
                    Some(Item::Audio(a)) => a.extend_from_slice(b),
                    _ => out.push(Item::Audio(b.to_vec())),
                }
            }
            IcyEvent::Metadata(m) => out.push(Item::Meta(m.raw.to_vec())),
            other => panic!("the codec makes only audio and metadata: {other:?}"),
        }
    }
    out
}

fn demux_in_pieces(stream: &[u8], metaint: usize, cuts: &[usize]) -> (Vec<IcyEvent>, usize) {
    let mut d = IcyDemuxer::new(Some(metaint));
    let whole = Bytes::copy_from_slice(stream);
    let mut out = Vec::new();
    let mut at = 0;
    let mut most_held = 0;
    for &c in cuts.iter().chain(std::iter::once(&stream.len())) {
        d.push(whole.slice(at..c), &mut out);
        most_held = most_held.max(d.buffered());
        at = c;
    }
    assert_eq!(d.finish(), Ok(()));
    (out, most_held)
}

/// metaint 5: audio, a title block (NUL padded), audio, an empty block,
/// audio, a two-field block, a partial last audio run.
fn sample() -> (Vec<u8>, Vec<Item>) {
    let mut s = Vec::new();
    s.extend(audio(0, 5));
    s.extend(block(b"StreamTitle='First';"));
    s.extend(audio(5, 5));
    s.push(0);
    s.extend(audio(10, 5));
    s.extend(block(b"StreamTitle='Second';StreamUrl='http://x/';"));
    s.extend(audio(15, 3));
    let expected = vec![
        Item::Audio(audio(0, 5)),
        Item::Meta(b"StreamTitle='First';".to_vec()),
        Item::Audio(audio(5, 10)),
        Item::Meta(b"StreamTitle='Second';StreamUrl='http://x/';".to_vec()),
        Item::Audio(audio(15, 3)),
    ];
    (s, expected)
}

#[test]
fn the_demuxer_gives_the_same_split_however_the_stream_is_cut() {
    let (s, expected) = sample();
    let (whole, _) = demux_in_pieces(&s, 5, &[]);
    assert_eq!(collapse(&whole), expected);
    // Exact events for the whole stream: one audio slice per run read.
    assert_eq!(whole.len(), 6);
    // One cut at every position.
    for i in 0..=s.len() {
        let (ev, _) = demux_in_pieces(&s, 5, &[i]);
        assert_eq!(collapse(&ev), expected, "cut at {i}");
    }
    // Two cuts at every pair of positions.
    for i in 0..=s.len() {
        for j in i..=s.len() {
            let (ev, _) = demux_in_pieces(&s, 5, &[i, j]);
            assert_eq!(collapse(&ev), expected, "cuts at {i}, {j}");
        }
    }
    // One byte at a time: a block waits for its rest, and no more than one
    // block is ever held.
    let cuts: Vec<usize> = (1..s.len()).collect();
    let (ev, held) = demux_in_pieces(&s, 5, &cuts);
    assert_eq!(collapse(&ev), expected);
    assert_eq!(held, 47, "at most one block (48 bytes) minus its last byte");
}

#[test]
fn metadata_blocks_are_parsed_with_nul_padding_and_titles() {
    let (s, _) = sample();
    let (ev, _) = demux_in_pieces(&s, 5, &[]);
    let metas: Vec<&Metadata> = ev
        .iter()
        .filter_map(|e| match e {
            IcyEvent::Metadata(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(metas.len(), 2, "the empty block makes no event");
    assert_eq!(metas[0].title(), Some("First"));
    assert_eq!(metas[0].fields.len(), 1);
    assert_eq!(metas[1].title(), Some("Second"));
    assert_eq!(metas[1].get("StreamUrl"), Some("http://x/"));
    assert_eq!(metas[1].fields.len(), 2);
}

#[test]
fn metadata_quoting_edge_cases() {
    let p = |s: &[u8]| Metadata::parse(s);
    let fields = |m: &Metadata| {
        m.fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
    };
    // An apostrophe inside a title: no escaping in ICY.
    assert_eq!(p(b"StreamTitle='It's';").title(), Some("It's"));
    // Doubled quotes are kept as sent.
    assert_eq!(p(b"StreamTitle='It''s';").title(), Some("It''s"));
    // `';` inside a value that is not followed by a key.
    assert_eq!(
        fields(&p(b"StreamTitle='a';b';StreamUrl='u';")),
        ["StreamTitle=a';b", "StreamUrl=u"]
    );
    // `';` followed by a key ends the value.
    assert_eq!(
        fields(&p(b"StreamTitle='Rock'n'Roll';StreamUrl='';\0\0\0")),
        ["StreamTitle=Rock'n'Roll", "StreamUrl="]
    );
    // Empty title; no closing `;`; no closing quote.
    assert_eq!(p(b"StreamTitle='';").title(), Some(""));
    assert_eq!(p(b"StreamTitle='x'").title(), Some("x"));
    assert_eq!(p(b"StreamTitle='x").title(), Some("x"));
    // The text ends at the first NUL, even with more after it.
    let m = p(b"StreamTitle='x';\0StreamUrl='y';");
    assert_eq!(fields(&m), ["StreamTitle=x"]);
    assert_eq!(&m.raw[..], b"StreamTitle='x';");
    // All padding, or garbage: no fields, no panic.
    assert!(p(&[0; 16]).fields.is_empty());
    assert!(p(b"garbage without pairs").fields.is_empty());
    assert_eq!(fields(&p(b"A='1';junk;B='2';")), ["A=1';junk;B='2"]);
    // A repeated key keeps the last value.
    assert_eq!(p(b"T='1';T='2';").get("T"), Some("2"));
    // Latin-1 when not UTF-8; UTF-8 when it is.
    assert_eq!(p(b"StreamTitle='Caf\xe9';").title(), Some("Café"));
    assert_eq!(p("StreamTitle='Café';".as_bytes()).title(), Some("Café"));
    // Separators and white space between pairs.
    assert_eq!(fields(&p(b"A='1'; B='2';;")), ["A=1", "B=2"]);
}

#[test]
fn a_hostile_length_byte_at_the_end_is_a_typed_error() {
    let mut s = audio(0, 4);
    s.push(255); // 4080 bytes announced
    s.extend_from_slice(b"StreamTitle='cut");
    for cut in 0..=s.len() {
        let mut d = IcyDemuxer::new(Some(4));
        let whole = Bytes::copy_from_slice(&s);
        let mut out = Vec::new();
        d.push(whole.slice(..cut), &mut out);
        d.push(whole.slice(cut..), &mut out);
        assert_eq!(collapse(&out), [Item::Audio(audio(0, 4))]);
        assert_eq!(
            d.finish(),
            Err(IcyError::TruncatedMetadata {
                expected: 4080,
                got: 16
            })
        );
        // Ready for a new stream afterwards.
        let mut out = Vec::new();
        d.push(Bytes::from_static(b"abcd\x00ef"), &mut out);
        assert_eq!(collapse(&out), [Item::Audio(b"abcdef".to_vec())]);
        assert_eq!(d.finish(), Ok(()));
    }
    // Ending right after an audio run, before its length byte, is clean.
    let mut d = IcyDemuxer::new(Some(4));
    d.push(Bytes::from_static(b"abcd"), &mut Vec::new());
    assert_eq!(d.finish(), Ok(()));
}

#[test]
fn without_metaint_everything_is_audio() {
    let s: Vec<u8> = (0..=255u8).chain([0, 1, 255, 0]).collect();
    for metaint in [None, Some(0)] {
        let mut d = IcyDemuxer::new(metaint);
        let mut out = Vec::new();
        let whole = Bytes::from(s.clone());
        d.push(whole.slice(..100), &mut out);
        d.push(whole.slice(100..), &mut out);
        assert_eq!(
            out,
            [
                IcyEvent::Audio(whole.slice(..100)),
                IcyEvent::Audio(whole.slice(100..))
            ]
        );
        assert_eq!(d.finish(), Ok(()));
    }
}

// ----- the demux component -----

fn head(text: &[u8]) -> Head {
    let mut p = Parser::response();
    p.expect_response_to(b"GET");
    let mut ev = Vec::new();
    p.push(Bytes::copy_from_slice(text), &mut ev).unwrap();
    match ev.remove(0) {
        Event::Head(h) => h,
        other => panic!("{other:?}"),
    }
}

fn closed(failures: u32, retry: u64) -> Disconnect {
    Disconnect {
        reason: DisconnectReason::Closed,
        failures,
        retry_in: Some(Duration::from_millis(retry)),
    }
}

fn shown(events: &[IcyEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            IcyEvent::Header(i) => format!(
                "header {} {:?} {:?} {:?}",
                i.status, i.content_type, i.metaint, i.name
            ),
            IcyEvent::Audio(b) => format!("audio {}", String::from_utf8_lossy(b)),
            IcyEvent::Metadata(m) => format!("meta {:?}", m.title()),
            IcyEvent::Error(e) => format!("error {e:?}"),
            IcyEvent::Disconnected(d) => format!("gone {:?}", d.reason),
        })
        .collect()
}

#[test]
fn the_demux_component_follows_each_connection_and_reports_cut_blocks() {
    let mut h = Harness::new();
    let id = h.spawn(IcecastDemux::new());
    let input = h.feeder::<IcecastEvent>(id, "inbox").unwrap();
    let control = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<IcyEvent>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    let send = |e| input.send(e).unwrap();
    send(IcecastEvent::Head(head(
        b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-metaint: 3\r\nicy-name: Test FM\r\n\r\n",
    )));
    send(IcecastEvent::Body(Bytes::from_static(
        b"abc\x01StreamTitle=",
    )));
    // "StreamTitle='';" and one NUL: exactly 16 bytes.
    send(IcecastEvent::Body(Bytes::from_static(b"'';\0de")));
    send(IcecastEvent::Body(Bytes::from_static(
        b"f\x02StreamTitle='B",
    )));
    send(IcecastEvent::Disconnected(closed(0, 500)));
    // A second connection, without metadata.
    send(IcecastEvent::Head(head(b"ICY 200 OK\r\n\r\n")));
    send(IcecastEvent::Body(Bytes::from_static(b"\x01\x02")));
    // A third with a bad metaint: its body is dropped.
    send(IcecastEvent::Head(head(
        b"HTTP/1.0 200 OK\r\nicy-metaint: lots\r\n\r\n",
    )));
    send(IcecastEvent::Body(Bytes::from_static(b"zzz")));
    h.run_until_idle();
    assert_eq!(
        shown(&out.drain()),
        [
            "header 200 Some(\"audio/mpeg\") Some(3) Some(\"Test FM\")",
            "audio abc",
            "meta Some(\"\")",
            "audio de",
            "audio f",
            "error TruncatedMetadata { expected: 32, got: 14 }",
            "gone Closed",
            "header 200 None None None",
            "audio \u{1}\u{2}",
            "error BadMetaint(\"lots\")",
        ]
    );
    assert!(h.is_alive(id));
    control.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert!(!h.is_alive(id));
    assert!(out.is_empty());
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
}

#[test]
fn the_demux_component_reports_a_block_cut_by_the_end_and_stops_on_shutdown() {
    let mut h = Harness::new();
    let id = h.spawn(IcecastDemux::new());
    let input = h.feeder::<IcecastEvent>(id, "inbox").unwrap();
    let control = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<IcyEvent>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input
        .send(IcecastEvent::Head(head(
            b"ICY 200 OK\r\nicy-metaint: 2\r\n\r\n",
        )))
        .unwrap();
    input
        .send(IcecastEvent::Body(Bytes::from_static(b"ab\xffxyz")))
        .unwrap();
    control.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert_eq!(
        shown(&out.drain()),
        [
            "header 200 None Some(2) None",
            "audio ab",
            "error TruncatedMetadata { expected: 4080, got: 3 }",
        ]
    );
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
    assert!(!h.is_alive(id));

    // Shutdown: at once, what waits is dropped.
    let id = h.spawn(IcecastDemux::new());
    let input = h.feeder::<IcecastEvent>(id, "inbox").unwrap();
    let control = h.feeder::<Signal>(id, "control").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input
        .send(IcecastEvent::Body(Bytes::from_static(b"x")))
        .unwrap();
    control.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    assert!(!h.is_alive(id));
    assert_eq!(sig.drain(), [Signal::Shutdown]);
}

#[test]
fn the_demux_component_holds_back_when_its_consumer_is_full() {
    let mut h = Harness::new();
    let id = h.spawn(IcecastDemux::new());
    let input = h.feeder::<IcecastEvent>(id, "inbox").unwrap();
    let out = h.bounded_collector::<IcyEvent>(id, "outbox", 2).unwrap();
    input
        .send(IcecastEvent::Head(head(
            b"ICY 200 OK\r\nicy-metaint: 1\r\n\r\n",
        )))
        .unwrap();
    // a, 0, b, 0, c, 0, d: four audio events.
    input
        .send(IcecastEvent::Body(Bytes::from_static(b"a\0b\0c\0d")))
        .unwrap();
    h.run_until_idle();
    assert_eq!(out.len(), 2);
    let mut got = out.drain();
    h.run_until_idle();
    got.extend(out.drain());
    h.run_until_idle();
    got.extend(out.drain());
    assert_eq!(
        shown(&got),
        [
            "header 200 None Some(1) None",
            "audio a",
            "audio b",
            "audio c",
            "audio d"
        ]
    );
}

// ----- the client on scripted connections -----

const STREAM_HEAD: &[u8] = b"HTTP/1.0 200 OK\r\nContent-Type: audio/mpeg\r\nicy-metaint: 4\r\n\r\n";

/// Runs a client on virtual time for at most `d`, recording each event
/// with the time it came out (ms since the start).
fn run_client(
    client: IcecastClient,
    d: Duration,
) -> (
    Vec<(u64, IcecastEvent)>,
    Vec<Signal>,
    Harness,
    kamaelia::axon::Id,
) {
    let mut h = Harness::new();
    let start = h.now();
    let id = h.spawn(client);
    let out = h.collector::<IcecastEvent>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    let end = start + d;
    let mut events = Vec::new();
    let mut steps = 0;
    loop {
        while h.step().is_some() {
            steps += 1;
            assert!(steps < 100_000, "runaway");
            let t = h.now().duration_since(start).as_millis() as u64;
            events.extend(out.drain().into_iter().map(|e| (t, e)));
        }
        match h.scheduler().next_deadline().filter(|t| *t <= end) {
            Some(t) => h.advance(t.saturating_duration_since(h.now())),
            None => break,
        }
    }
    (events, sig.drain(), h, id)
}

fn failed(kind: ErrorKind) -> impl Fn(&DisconnectReason) -> bool {
    move |r| matches!(r, DisconnectReason::Failed(e) if e.kind == kind)
}

#[test]
fn the_client_asks_for_metadata_and_backs_off_refused_then_streams() {
    let ok = ScriptedConn::new()
        .reply(STREAM_HEAD)
        .reply(b"abcd\x00efgh")
        .eof();
    let log = ok.log();
    // Connections: refused, refused, the stream, then refused (the
    // connector ran out) three times: it gives up.
    let conns = vec![
        ScriptedConn::new().fault_at(1, kamaelia::testing::scripted::Fault::Refused),
        ScriptedConn::new().fault_at(1, kamaelia::testing::scripted::Fault::Refused),
        ok,
    ];
    let config = IcecastConfig {
        max_attempts: Some(3),
        first_delay: Duration::from_millis(500),
        max_delay: Duration::from_millis(1500),
        ..IcecastConfig::default()
    };
    let client = IcecastClient::new("http://127.0.0.1:8000/live.mp3")
        .config(config)
        .with_connector(scripted_connector(conns));
    let (events, signals, mut h, id) = run_client(client, Duration::from_secs(60));
    let refused = failed(ErrorKind::Refused);
    let mut it = events.iter();
    let mut gone = |t: u64, failures: u32, retry: Option<u64>| {
        let (at, ev) = it.next().expect("an event");
        let IcecastEvent::Disconnected(d) = ev else {
            panic!("{ev:?}")
        };
        assert_eq!(*at, t);
        assert_eq!(d.failures, failures);
        assert_eq!(d.retry_in, retry.map(Duration::from_millis));
        d.reason.clone()
    };
    // Back-off: 500 ms, then 1000 ms.
    assert!(refused(&gone(0, 1, Some(500))));
    assert!(refused(&gone(500, 2, Some(1000))));
    // The stream at 1500 ms.
    let (t, ev) = it.next().unwrap();
    assert_eq!(*t, 1500);
    let IcecastEvent::Head(hd) = ev else {
        panic!("{ev:?}")
    };
    assert_eq!(hd.status, 200);
    assert_eq!(
        hd.headers.get("icy-metaint").map(|v| v.to_vec()),
        Some(b"4".to_vec())
    );
    let mut body = Vec::new();
    let mut it2 = it.clone();
    for (_, ev) in it2.by_ref() {
        match ev {
            IcecastEvent::Body(b) => body.extend_from_slice(b),
            _ => break,
        }
    }
    assert_eq!(body, b"abcd\x00efgh", "the body as sent, metadata and all");
    let mut it = events
        .iter()
        .skip_while(|(_, e)| !matches!(e, IcecastEvent::Body(_)))
        .skip_while(|(_, e)| matches!(e, IcecastEvent::Body(_)));
    let mut gone = |t: u64, failures: u32, retry: Option<u64>| {
        let (at, ev) = it.next().expect("an event");
        let IcecastEvent::Disconnected(d) = ev else {
            panic!("{ev:?}")
        };
        assert_eq!(*at, t);
        assert_eq!(d.failures, failures);
        assert_eq!(d.retry_in, retry.map(Duration::from_millis));
        d.reason.clone()
    };
    // The server closed: the failures start again from 0, first delay.
    assert_eq!(gone(1500, 0, Some(500)), DisconnectReason::Closed);
    assert!(refused(&gone(2000, 1, Some(500))));
    assert!(refused(&gone(2500, 2, Some(1000))));
    // The third failure in a row: no more attempts.
    assert!(refused(&gone(3500, 3, None)));
    assert!(it.next().is_none());
    assert_eq!(signals.len(), 1);
    let Signal::Failed(f) = &signals[0] else {
        panic!("{signals:?}")
    };
    let g = f.downcast_ref::<GaveUp>().expect("GaveUp");
    assert_eq!(g.failures, 3);
    assert!(refused(&g.last));
    assert!(!h.is_alive(id));
    assert_eq!(h.scheduler().live(), 0, "nothing left running");

    let written = String::from_utf8(log.borrow().written.clone()).unwrap();
    assert_eq!(
        written,
        "GET /live.mp3 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nIcy-MetaData: 1\r\n\
         User-Agent: kamaelia-rs/0.1\r\nConnection: close\r\n\r\n"
    );
}

#[test]
fn back_off_doubles_up_to_its_maximum() {
    let c = IcecastConfig {
        first_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(1000),
        ..IcecastConfig::default()
    };
    let ms: Vec<u128> = (0..8).map(|n| c.delay(n).as_millis()).collect();
    assert_eq!(ms, [100, 100, 200, 400, 800, 1000, 1000, 1000]);
    assert_eq!(c.delay(u32::MAX), Duration::from_millis(1000));
}

#[test]
fn a_404_is_not_passed_on_and_is_retried_with_its_status() {
    let conns = vec![
        ScriptedConn::new()
            .reply(b"HTTP/1.0 404 File Not Found\r\nContent-Type: text/html\r\n\r\n<b>no</b>")
            .eof(),
        ScriptedConn::new()
            .reply(b"ICY 200 OK\r\n\r\nmp3")
            .read_error(std::io::ErrorKind::ConnectionReset),
    ];
    let config = IcecastConfig {
        max_attempts: Some(1),
        ..IcecastConfig::default()
    };
    let client = IcecastClient::new("http://127.0.0.1:8000/m")
        .config(config)
        .with_connector(scripted_connector(conns));
    let (events, signals, mut h, _) = run_client(client, Duration::from_secs(60));
    let shown: Vec<String> = events
        .iter()
        .map(|(t, e)| match e {
            IcecastEvent::Head(hd) => format!("{t} head {} {:?}", hd.status, hd.icy),
            IcecastEvent::Body(b) => format!("{t} body {}", String::from_utf8_lossy(b)),
            IcecastEvent::Disconnected(d) => format!(
                "{t} gone {:?} {} {:?}",
                d.reason.error().map(|e| e.kind.clone()),
                d.failures,
                d.retry_in
            ),
        })
        .collect();
    assert_eq!(
        shown,
        ["0 gone Some(Status(404)) 1 None".to_string(),],
        "max_attempts 1: one failure ends it"
    );
    assert_eq!(signals.len(), 1);
    assert_eq!(h.scheduler().live(), 0);

    // With more attempts: the 404, then the stream, then its reset.
    let conns = vec![
        ScriptedConn::new()
            .reply(b"HTTP/1.0 404 File Not Found\r\n\r\n<b>no</b>")
            .eof(),
        ScriptedConn::new()
            .reply(b"ICY 200 OK\r\n\r\nmp3")
            .read_error(std::io::ErrorKind::ConnectionReset),
    ];
    let config = IcecastConfig {
        max_attempts: Some(2),
        ..IcecastConfig::default()
    };
    let client = IcecastClient::new("http://127.0.0.1:8000/m")
        .config(config)
        .with_connector(scripted_connector(conns));
    let (events, signals, _, _) = run_client(client, Duration::from_secs(60));
    let kinds: Vec<String> = events
        .iter()
        .map(|(t, e)| match e {
            IcecastEvent::Head(hd) => format!("{t} head {} icy={}", hd.status, hd.icy),
            IcecastEvent::Body(b) => format!("{t} body {}", String::from_utf8_lossy(b)),
            IcecastEvent::Disconnected(d) => format!(
                "{t} gone {:?} {} {:?}",
                d.reason.error().map(|e| e.kind.clone()),
                d.failures,
                d.retry_in
            ),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "0 gone Some(Status(404)) 1 Some(500ms)",
            "500 head 200 icy=true",
            "500 body mp3",
            "500 gone Some(Reset) 0 Some(500ms)",
            "1000 gone Some(Refused) 1 Some(500ms)",
            "1500 gone Some(Refused) 2 None",
        ]
    );
    assert_eq!(signals.len(), 1);
}

#[test]
fn a_bad_url_gives_up_at_once_without_connecting() {
    let client = IcecastClient::new("ftp://127.0.0.1/x").with_connector(scripted_connector(vec![]));
    let (events, signals, mut h, _) = run_client(client, Duration::from_secs(60));
    assert_eq!(events.len(), 1);
    let IcecastEvent::Disconnected(d) = &events[0].1 else {
        panic!()
    };
    assert_eq!(d.retry_in, None);
    assert!(matches!(
        d.reason.error().map(|e| &e.kind),
        Some(ErrorKind::BadUrl(UrlError::UnsupportedScheme(_)))
    ));
    let Signal::Failed(f) = &signals[0] else {
        panic!()
    };
    assert_eq!(f.downcast_ref::<GaveUp>().unwrap().failures, 1);
    assert_eq!(h.scheduler().live(), 0);
}

#[test]
fn shutdown_while_streaming_or_waiting_ends_cleanly() {
    // While streaming: the connection stays open (no eof).
    let conn = ScriptedConn::new().reply(STREAM_HEAD).reply(b"abcd");
    let log = conn.log();
    let mut h = Harness::new();
    let id = h.spawn(
        IcecastClient::new("http://127.0.0.1:8000/live")
            .with_connector(scripted_connector(vec![conn])),
    );
    let control = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<IcecastEvent>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_for(Duration::from_secs(1));
    let got = out.drain();
    assert_eq!(got.len(), 2, "head and body");
    assert!(matches!(&got[0], IcecastEvent::Head(hd) if hd.status == 200));
    assert_eq!(got[1], IcecastEvent::Body(Bytes::from_static(b"abcd")));
    assert!(!log.borrow().dropped);
    control.send(Signal::Shutdown).unwrap();
    h.run_for(Duration::from_secs(1));
    assert_eq!(sig.drain(), [Signal::Shutdown]);
    assert!(log.borrow().dropped, "the connection closed");
    assert_eq!(h.scheduler().live(), 0);
    assert!(out.is_empty(), "no disconnect reported after a shutdown");

    // While waiting to reconnect: at once.
    let mut h = Harness::new();
    let id = h.spawn(
        IcecastClient::new("http://127.0.0.1:8000/live").with_connector(scripted_connector(vec![])),
    );
    let control = h.feeder::<Signal>(id, "control").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_until_idle();
    assert!(h.is_alive(id), "waiting for its back-off");
    control.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
    assert_eq!(h.scheduler().live(), 0);
}

// ----- the ripper -----

#[test]
fn the_ripper_writes_audio_only_and_reports_title_changes() {
    let mut s1 = Vec::new();
    s1.extend_from_slice(STREAM_HEAD);
    s1.extend(audio(0, 4));
    s1.extend(block(b"StreamTitle='One';"));
    s1.extend(audio(4, 4));
    s1.extend(block(b"StreamTitle='One';"));
    s1.extend(audio(8, 4));
    s1.extend(block(b"StreamTitle='Two';"));
    s1.extend(audio(12, 2));
    // The second connection: the same title again is no change.
    let mut s2 = Vec::new();
    s2.extend_from_slice(STREAM_HEAD);
    s2.extend(audio(100, 4));
    s2.extend(block(b"StreamTitle='Two';"));
    s2.extend(audio(104, 4));
    s2.extend(block(b"StreamTitle='Three';"));
    s2.extend(audio(108, 4));
    let conns = vec![
        ScriptedConn::new().reply(&s1[..50]).reply(&s1[50..]).eof(),
        ScriptedConn::new().reply(&s2).eof(),
    ];
    let path = std::env::temp_dir().join(format!("icy-rip-test-{}", std::process::id()));
    let opts = RipOptions {
        max_bytes: Some(14 + 10),
        ..RipOptions::default()
    };
    let ripper = Ripper::with_connector(
        "http://127.0.0.1:8000/live.mp3",
        &path,
        opts,
        scripted_connector(conns),
    );
    let summary = ripper.summary_handle();
    let mut h = Harness::new();
    let id = h.spawn(ripper);
    let out = h.collector::<RipEvent>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_for(Duration::from_secs(10));
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
    assert_eq!(h.scheduler().live(), 0);
    let titles: Vec<String> = out
        .drain()
        .into_iter()
        .filter_map(|e| match e {
            RipEvent::Title(t) => Some(t),
            _ => None,
        })
        .collect();
    assert_eq!(titles, ["One", "Two", "Three"]);
    let file = std::fs::read(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let mut expected = audio(0, 14);
    expected.extend(audio(100, 10));
    assert_eq!(file, expected, "audio only, cut at the byte limit");
    let s = summary();
    assert_eq!((s.bytes, s.titles, s.disconnects), (24, 3, 1));
}

#[test]
fn the_ripper_fails_with_a_typed_file_error() {
    let dir = std::env::temp_dir().join(format!("icy-rip-dir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conn = ScriptedConn::new().reply(STREAM_HEAD).reply(b"abcd");
    let log = conn.log();
    let ripper = Ripper::with_connector(
        "http://127.0.0.1:8000/x",
        &dir, // a directory: cannot be opened as a file
        RipOptions::default(),
        scripted_connector(vec![conn]),
    );
    let mut h = Harness::new();
    let id = h.spawn(ripper);
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_for(Duration::from_secs(5));
    let _ = std::fs::remove_dir(&dir);
    let got = sig.drain();
    assert_eq!(got.len(), 1);
    match kamaelia::protocol::http::icecast::RipError::from_signal(&got[0]) {
        Some(kamaelia::protocol::http::icecast::RipError::File { kind, .. }) => {
            assert_eq!(kind, std::io::ErrorKind::IsADirectory)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.scheduler().live(), 0, "the client was stopped too");
    assert!(log.borrow().dropped, "the connection closed");
}

#[test]
fn the_ripper_stops_after_its_duration() {
    let conn = ScriptedConn::new()
        .reply(STREAM_HEAD)
        .reply(b"abcd\x00efgh");
    let path = std::env::temp_dir().join(format!("icy-rip-time-{}", std::process::id()));
    let opts = RipOptions {
        duration: Some(Duration::from_secs(30)),
        ..RipOptions::default()
    };
    let ripper = Ripper::with_connector(
        "http://127.0.0.1:8000/x",
        &path,
        opts,
        scripted_connector(vec![conn]),
    );
    let mut h = Harness::new();
    let id = h.spawn(ripper);
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    h.run_for(Duration::from_millis(29_999));
    assert!(h.is_alive(id));
    assert!(sig.is_empty());
    h.run_for(Duration::from_millis(1));
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
    assert_eq!(h.scheduler().live(), 0);
    assert_eq!(std::fs::read(&path).unwrap(), b"abcdefgh");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn the_client_holds_back_when_its_consumer_is_full() {
    let mut conn = ScriptedConn::new().reply(STREAM_HEAD);
    for i in 0..10u8 {
        conn = conn.reply(&[b'a' + i; 3]);
    }
    let conn = conn.eof();
    let mut h = Harness::new();
    let id = h.spawn(
        IcecastClient::new("http://127.0.0.1:8000/live")
            .with_connector(scripted_connector(vec![conn])),
    );
    let out = h
        .bounded_collector::<IcecastEvent>(id, "outbox", 1)
        .unwrap();
    let mut got = Vec::new();
    for _ in 0..100 {
        h.run_until_idle();
        assert!(out.len() <= 1, "refused past the limit");
        match out.recv() {
            Some(IcecastEvent::Disconnected(d)) => {
                assert_eq!(d.reason, DisconnectReason::Closed);
                break;
            }
            Some(e) => got.push(e),
            None => {}
        }
    }
    assert!(matches!(&got[0], IcecastEvent::Head(_)));
    let body: Vec<u8> = got[1..]
        .iter()
        .flat_map(|e| match e {
            IcecastEvent::Body(b) => b.to_vec(),
            other => panic!("{other:?}"),
        })
        .collect();
    let want: Vec<u8> = (0..10u8).flat_map(|i| [b'a' + i; 3]).collect();
    assert_eq!(body, want, "every byte, in order");
}
