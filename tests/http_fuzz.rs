//! The HTTP fuzz checks (fuzz/src/http.rs) over pseudo-random inputs, so CI
//! exercises them without a fuzzer: valid messages mutated (bytes changed,
//! pieces of syntax inserted, cut short), and plain noise.

use kamaelia::internet::simulate::SplitMix64;
use kamaelia::protocol::http::{Event, HttpError};

#[path = "../fuzz/src/http.rs"]
#[allow(dead_code)]
mod checks;
use checks::Agreement;

const REQUESTS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nT: 1\r\n\r\n",
    b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n",
    b"\r\nCONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n\r\nraw",
];

const RESPONSES: &[&[u8]] = &[
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"ICY 200 OK\r\nicy-metaint: 8\r\n\r\n\x00\x01\x02",
    b"HTTP/1.0 200 OK\r\n\r\nuntil close",
    b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n\r\nws",
];

const SYNTAX: &[&[u8]] = &[
    b"\r\n",
    b"\r",
    b"\n",
    b" ",
    b"\t",
    b":",
    b";",
    b",",
    b"\"",
    b"0",
    b"f",
    b"Content-Length: 2\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Connection: close\r\n",
    b"Host: b\r\n",
    b"ffffffffffffffffff\r\n",
    b"HTTP/1.1 ",
];

fn mutate(rng: &mut SplitMix64, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..rng.below(3) {
        let at = rng.below(v.len() as u64 + 1) as usize;
        match rng.below(4) {
            0 if at < v.len() => v[at] = rng.below(256) as u8,
            1 => {
                let s = SYNTAX[rng.below(SYNTAX.len() as u64) as usize];
                v.splice(at..at, s.iter().copied());
            }
            2 if at < v.len() => {
                v.remove(at);
            }
            _ => v.truncate(at),
        }
    }
    v
}

/// `n` inputs: `prefix` random bytes (the checks' choices), then a message.
fn inputs(seed: u64, prefix: usize, corpus: &[&[u8]], n: usize) -> Vec<Vec<u8>> {
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::new();
    for i in 0..n {
        let mut data: Vec<u8> = (0..prefix).map(|_| rng.below(256) as u8).collect();
        if i % 10 == 9 {
            let len = rng.below(200) as usize;
            data.extend((0..len).map(|_| rng.below(256) as u8));
        } else {
            let base = corpus[rng.below(corpus.len() as u64) as usize];
            data.extend(mutate(&mut rng, base));
        }
        out.push(data);
    }
    out
}

#[test]
fn the_request_check_over_pseudo_random_inputs() {
    let (mut heads, mut errors) = (0, 0);
    for data in inputs(1, 1, REQUESTS, 3000) {
        let o = checks::request(&data);
        heads += o
            .events
            .iter()
            .filter(|e| matches!(e, Event::Head(_)))
            .count();
        errors += usize::from(o.result.is_err());
    }
    // Both paths are reached.
    assert!(
        heads > 1000 && errors > 300,
        "{heads} heads, {errors} errors"
    );
}

#[test]
fn the_response_check_over_pseudo_random_inputs() {
    let (mut heads, mut errors) = (0, 0);
    for data in inputs(2, 2, RESPONSES, 3000) {
        let o = checks::response(&data);
        heads += o
            .events
            .iter()
            .filter(|e| matches!(e, Event::Head(_)))
            .count();
        errors += usize::from(o.result.is_err());
    }
    assert!(
        heads > 1000 && errors > 300,
        "{heads} heads, {errors} errors"
    );
}

#[test]
fn the_head_agrees_with_httparse_over_pseudo_random_inputs() {
    let mut seen = [0usize; 3];
    let mut stricter = std::collections::BTreeMap::new();
    let mut all: Vec<&[u8]> = REQUESTS.to_vec();
    all.extend_from_slice(RESPONSES);
    for mut data in inputs(3, 1, &all, 5000) {
        // The first byte chooses the mode: match it to the message mostly.
        let response = data.get(1..5) == Some(b"HTTP") || data.get(1..4) == Some(b"ICY");
        data[0] = (data[0] & !1) | u8::from(response);
        seen[match checks::head_differential(&data) {
            Agreement::BothHead => 0,
            Agreement::BothRejected => 1,
            Agreement::Stricter(e) => {
                *stricter.entry(format!("{e:?}")).or_insert(0) += 1;
                2
            }
            Agreement::Other => 2,
        }] += 1;
    }
    // head_differential asserts each refusal is one we chose.
    eprintln!("agreement {seen:?}, stricter {stricter:?}");
    assert!(seen[0] > 1000 && seen[1] > 300, "{seen:?}");
}

#[test]
fn the_checks_on_tiny_inputs() {
    assert_eq!(checks::request(&[]).result, Ok(()));
    assert_eq!(checks::response(&[1]).result, Ok(()));
    assert_eq!(checks::head_differential(&[]), Agreement::Other);
    // A seed asking for the end of the stream, and half a head.
    assert_eq!(
        checks::request(b"\x40GET / HT").result,
        Err(HttpError::Truncated)
    );
}

#[test]
fn the_differential_check_on_known_heads() {
    use checks::head_differential as diff;
    assert_eq!(
        diff(b"\x00GET /a?b HTTP/1.1\r\nHost: a\r\nX:  y \r\n\r\n"),
        Agreement::BothHead
    );
    assert_eq!(
        diff(b"\x01HTTP/1.0 404 Not Found\r\nA: 1\r\n\r\n"),
        Agreement::BothHead
    );
    assert_eq!(
        diff(b"\x00GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
        Agreement::BothRejected
    );
    assert_eq!(
        diff(b"\x00GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n"),
        Agreement::BothRejected
    );
    assert_eq!(
        diff(b"\x00GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"),
        Agreement::Stricter(HttpError::BadStartLine)
    );
    assert_eq!(
        diff(b"\x01HTTP/1.1 099 Odd\r\n\r\n"),
        Agreement::Stricter(HttpError::BadStartLine)
    );
    assert_eq!(
        diff(b"\x00GET / HTTP/1.1\nHost: a\n\n"),
        Agreement::Stricter(HttpError::BareLf)
    );
    assert_eq!(
        diff(b"\x00GET / HTTP/1.1\r\n\r\n"),
        Agreement::Stricter(HttpError::MissingHost)
    );
    assert_eq!(diff(b"\x01ICY 200 OK\r\n\r\n"), Agreement::Other);
}
