//! Generated pipelined requests and responses, written out and parsed back
//! however the stream is cut: exactly the heads, bodies and trailers
//! written come out, in order.

use bytes::Bytes;
use kamaelia::protocol::http::{Event, Framing, Head, Headers, Mode, Parser, Version};
use proptest::prelude::*;

#[path = "../fuzz/src/http.rs"]
#[allow(dead_code)]
mod checks;

/// Chunk sizes (cycled), whether to add extensions, trailer fields.
type Chunking = (Vec<usize>, bool, Vec<(String, String)>);

#[derive(Clone, Debug)]
struct Msg {
    method: &'static str,
    target: String,
    status: u16,
    fields: Vec<(String, String)>,
    body: Vec<u8>,
    /// None: Content-Length; Some: chunk sizes cycled, extensions, trailers.
    chunked: Option<Chunking>,
}

fn field() -> impl Strategy<Value = (String, String)> {
    (
        "X-[A-Za-z0-9!#$%&'*+.^_`|~-]{1,10}",
        "([!-~]([ -~\t]{0,18}[!-~])?)?",
    )
}

fn msg() -> impl Strategy<Value = Msg> {
    (
        prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH", "X-CUSTOM"]),
        "/[!-~]{0,30}",
        prop::sample::select(vec![200u16, 201, 404, 500, 299, 999]),
        prop::collection::vec(field(), 0..6),
        prop::collection::vec(any::<u8>(), 0..300),
        prop::option::of((
            prop::collection::vec(1usize..50, 1..5),
            any::<bool>(),
            prop::collection::vec(field(), 0..3),
        )),
    )
        .prop_map(|(method, target, status, fields, body, chunked)| Msg {
            method,
            target,
            status,
            fields,
            body,
            chunked,
        })
}

/// Writes `m` and returns the events it must give.
fn write(m: &Msg, mode: Mode, out: &mut Vec<u8>) -> Vec<Event> {
    let mut headers = Headers::new();
    let mut push = |out: &mut Vec<u8>, n: &str, v: &str| {
        out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        headers.push(
            Bytes::copy_from_slice(n.as_bytes()),
            Bytes::copy_from_slice(v.as_bytes()),
        );
    };
    match mode {
        Mode::Request => {
            out.extend_from_slice(format!("{} {} HTTP/1.1\r\n", m.method, m.target).as_bytes());
            push(out, "Host", "example.org");
        }
        Mode::Response => {
            out.extend_from_slice(format!("HTTP/1.1 {} Fine\r\n", m.status).as_bytes())
        }
    }
    for (n, v) in &m.fields {
        push(out, n, v);
    }
    let framing = match &m.chunked {
        None => {
            push(out, "Content-Length", &m.body.len().to_string());
            Framing::Length(m.body.len() as u64)
        }
        Some(_) => {
            push(out, "Transfer-Encoding", "gzip, chunked");
            Framing::Chunked
        }
    };
    out.extend_from_slice(b"\r\n");
    let mut trailers = Headers::new();
    match &m.chunked {
        None => out.extend_from_slice(&m.body),
        Some((sizes, ext, tr)) => {
            let mut rest = &m.body[..];
            let mut i = 0;
            while !rest.is_empty() {
                let n = sizes[i % sizes.len()].min(rest.len());
                i += 1;
                out.extend_from_slice(format!("{n:X}").as_bytes());
                if *ext {
                    out.extend_from_slice(b" ; a=1;b=\"q \\\" ;\"\t;c");
                }
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(&rest[..n]);
                out.extend_from_slice(b"\r\n");
                rest = &rest[n..];
            }
            out.extend_from_slice(b"0\r\n");
            for (n, v) in tr {
                out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
                trailers.push(
                    Bytes::copy_from_slice(n.as_bytes()),
                    Bytes::copy_from_slice(v.as_bytes()),
                );
            }
            out.extend_from_slice(b"\r\n");
        }
    }
    let request = mode == Mode::Request;
    let mut events = vec![Event::Head(Head {
        version: Version::Http11,
        method: if request {
            Bytes::from_static(m.method.as_bytes())
        } else {
            Bytes::new()
        },
        target: if request {
            Bytes::copy_from_slice(m.target.as_bytes())
        } else {
            Bytes::new()
        },
        status: if request { 0 } else { m.status },
        reason: if request {
            Bytes::new()
        } else {
            Bytes::from_static(b"Fine")
        },
        headers,
        framing,
        keep_alive: true,
        icy: false,
    })];
    if !m.body.is_empty() {
        events.push(Event::Body(Bytes::copy_from_slice(&m.body)));
    }
    if !trailers.is_empty() {
        events.push(Event::Trailers(trailers));
    }
    events.push(Event::End);
    events
}

fn check(mode: Mode, msgs: &[Msg], points: &[usize]) -> Result<(), TestCaseError> {
    let mut stream = Vec::new();
    let mut want = Vec::new();
    for m in msgs {
        want.extend(write(m, mode, &mut stream));
    }
    let mut cuts: Vec<usize> = points.iter().map(|p| p % (stream.len() + 1)).collect();
    cuts.push(0);
    cuts.push(stream.len());
    cuts.sort_unstable();
    let mut p = Parser::new(mode, Default::default());
    for _ in msgs {
        p.expect_response_to(b"GET");
    }
    let mut got = Vec::new();
    for w in cuts.windows(2) {
        p.push(Bytes::copy_from_slice(&stream[w[0]..w[1]]), &mut got)
            .unwrap();
    }
    p.eof();
    p.drain(&mut got).unwrap();
    prop_assert_eq!(checks::merge(got), want);
    prop_assert!(p.is_closed());
    Ok(())
}

proptest! {
    #[test]
    fn requests_round_trip_however_cut(
        msgs in prop::collection::vec(msg(), 1..4),
        points in prop::collection::vec(any::<usize>(), 0..30),
    ) {
        check(Mode::Request, &msgs, &points)?;
    }

    #[test]
    fn responses_round_trip_however_cut(
        msgs in prop::collection::vec(msg(), 1..4),
        points in prop::collection::vec(any::<usize>(), 0..30),
    ) {
        check(Mode::Response, &msgs, &points)?;
    }
}
