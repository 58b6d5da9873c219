//! HttpParser, the codec as a component: message after message on one
//! instance, back-pressure, typed errors, clean ends.

use bytes::Bytes;
use kamaelia::axon::Signal;
use kamaelia::protocol::http::{Event, HttpError, HttpParser, Parsed};
use kamaelia::testing::Harness;

/// A compact, exact picture of an event sequence.
fn show(events: &[Parsed]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            Ok(Event::Head(h)) => format!(
                "head {} {}",
                String::from_utf8_lossy(&h.method),
                String::from_utf8_lossy(&h.target)
            ),
            Ok(Event::Body(b)) => format!("body {}", String::from_utf8_lossy(b)),
            Ok(Event::Trailers(t)) => format!("trailers {}", t.len()),
            Ok(Event::End) => "end".to_string(),
            Ok(Event::Tunnel(b)) => format!("tunnel {}", b.len()),
            Err(e) => format!("error {e:?}"),
        })
        .collect()
}

const PIPELINE: &[u8] = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n\
POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";

fn expected_pipeline() -> Vec<&'static str> {
    vec![
        "head GET /a",
        "end",
        "head POST /b",
        "body hello",
        "end",
        "head PUT /c",
        "body abc",
        "body de",
        "end",
    ]
}

#[test]
fn parses_pipelined_messages_cut_anywhere_on_one_instance() {
    for cut in [1, 2, 7, 13, 64, PIPELINE.len()] {
        let mut h = Harness::new();
        let id = h.spawn(HttpParser::request());
        let input = h.feeder::<Bytes>(id, "inbox").unwrap();
        let ctl = h.feeder::<Signal>(id, "control").unwrap();
        let out = h.collector::<Parsed>(id, "outbox").unwrap();
        let sig = h.collector::<Signal>(id, "signal").unwrap();
        let mut got = Vec::new();
        for piece in PIPELINE.chunks(cut) {
            input.send(Bytes::copy_from_slice(piece)).unwrap();
            h.run_until_idle();
            got.extend(out.drain());
        }
        assert!(h.is_alive(id), "still alive between messages (cut {cut})");
        ctl.send(Signal::ProducerFinished).unwrap();
        h.run_until_idle();
        got.extend(out.drain());
        // Bodies may come in several pieces when cut: join adjacent ones.
        let mut joined: Vec<String> = Vec::new();
        for s in show(&got) {
            match (joined.last_mut(), s.strip_prefix("body ")) {
                (Some(last), Some(more)) if last.starts_with("body ") && cut < 64 => {
                    last.push_str(more)
                }
                _ => joined.push(s),
            }
        }
        let mut want: Vec<String> = expected_pipeline().iter().map(|s| s.to_string()).collect();
        if cut < 64 {
            // "abc" and "de" are separate chunks but adjacent body events.
            want.splice(6..8, ["body abcde".to_string()]);
        }
        assert_eq!(joined, want, "cut {cut}");
        assert_eq!(sig.drain(), [Signal::ProducerFinished]);
        assert!(!h.is_alive(id));
    }
}

#[test]
fn a_full_outbox_holds_the_parser_back_and_loses_nothing() {
    let mut h = Harness::new();
    let id = h.spawn(HttpParser::request());
    let input = h.feeder::<Bytes>(id, "inbox").unwrap();
    let out = h.bounded_collector::<Parsed>(id, "outbox", 1).unwrap();
    input.send(Bytes::from_static(PIPELINE)).unwrap();
    h.run_until_idle();
    let mut got = Vec::new();
    let mut rounds = 0;
    while rounds < 100 {
        rounds += 1;
        assert!(out.len() <= 1, "the limit is kept");
        match out.recv() {
            Some(e) => got.push(e),
            None => break,
        }
        h.run_until_idle();
    }
    assert_eq!(show(&got), expected_pipeline());
    assert_eq!(rounds, expected_pipeline().len() + 1);
    assert!(h.is_alive(id));
}

#[test]
fn bad_input_is_one_typed_error_then_a_failed_signal() {
    let mut h = Harness::new();
    let id = h.spawn(HttpParser::request());
    let input = h.feeder::<Bytes>(id, "inbox").unwrap();
    let out = h.collector::<Parsed>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input
        .send(Bytes::from_static(
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\nPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        ))
        .unwrap();
    h.run_until_idle();
    assert_eq!(
        show(&out.drain()),
        [
            "head GET /",
            "end",
            "error TransferEncodingWithContentLength"
        ]
    );
    assert_eq!(
        sig.drain(),
        [Signal::failed(HttpError::TransferEncodingWithContentLength)]
    );
    assert!(!h.is_alive(id));
}

#[test]
fn a_stream_cut_inside_a_message_is_truncated() {
    let mut h = Harness::new();
    let id = h.spawn(HttpParser::request());
    let input = h.feeder::<Bytes>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<Parsed>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input
        .send(Bytes::from_static(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
        ))
        .unwrap();
    ctl.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert_eq!(
        show(&out.drain()),
        ["head POST /", "body abc", "error Truncated"]
    );
    assert_eq!(sig.drain(), [Signal::failed(HttpError::Truncated)]);
    assert!(!h.is_alive(id));
}

#[test]
fn ends_after_a_message_that_closes_the_connection() {
    let mut h = Harness::new();
    let id = h.spawn(HttpParser::request());
    let input = h.feeder::<Bytes>(id, "inbox").unwrap();
    let out = h.collector::<Parsed>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input
        .send(Bytes::from_static(
            b"GET /1 HTTP/1.0\r\n\r\nGET /2 HTTP/1.0\r\n\r\n",
        ))
        .unwrap();
    h.run_until_idle();
    assert_eq!(show(&out.drain()), ["head GET /1", "end"]);
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
    assert!(!h.is_alive(id));
}

#[test]
fn shutdown_ends_it_at_once() {
    let mut h = Harness::new();
    let id = h.spawn(HttpParser::request());
    let input = h.feeder::<Bytes>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<Parsed>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input
        .send(Bytes::from_static(b"GET / HTTP/1.1\r\nHo"))
        .unwrap();
    h.run_until_idle();
    ctl.send(Signal::Shutdown).unwrap();
    h.run_until_idle();
    assert!(out.is_empty());
    assert_eq!(sig.drain(), [Signal::Shutdown]);
    assert!(!h.is_alive(id));
}

#[test]
fn response_mode_body_runs_until_the_stream_ends() {
    let mut parser = HttpParser::response();
    parser.codec_mut().expect_response_to(b"GET");
    let mut h = Harness::new();
    let id = h.spawn(parser);
    let input = h.feeder::<Bytes>(id, "inbox").unwrap();
    let ctl = h.feeder::<Signal>(id, "control").unwrap();
    let out = h.collector::<Parsed>(id, "outbox").unwrap();
    let sig = h.collector::<Signal>(id, "signal").unwrap();
    input
        .send(Bytes::from_static(b"HTTP/1.0 200 OK\r\n\r\n\x00\xffdata"))
        .unwrap();
    h.run_until_idle();
    let first = out.drain();
    assert_eq!(first.len(), 2);
    assert_eq!(
        first[1],
        Ok(Event::Body(Bytes::from_static(b"\x00\xffdata")))
    );
    ctl.send(Signal::ProducerFinished).unwrap();
    h.run_until_idle();
    assert_eq!(out.drain(), [Ok(Event::End)]);
    assert_eq!(sig.drain(), [Signal::ProducerFinished]);
}
