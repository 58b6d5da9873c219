//! The HTTP/1.x codec (issue 11, reference §4.3, defect §7.20): every
//! message here is fed whole, split at every byte boundary, one byte at a
//! time and in three pieces, and must give exactly the events and the error
//! written down. Grouped by the categories of the usual parser corpora and
//! by RFC 9112 section.

use bytes::Bytes;
use kamaelia::protocol::http::{Event, Framing, Headers, HttpError, Limits, Mode, Parser, Version};

#[path = "../fuzz/src/http.rs"]
#[allow(dead_code)]
mod checks;
use checks::{split_everywhere, Outcome};

const GET: &[&[u8]] = &[b"GET"];

/// Requests, no end of stream.
fn req(stream: &[u8]) -> Outcome {
    split_everywhere(Mode::Request, Limits::default(), &[], stream, false)
}

/// Requests, then the end of the stream.
fn req_eof(stream: &[u8]) -> Outcome {
    split_everywhere(Mode::Request, Limits::default(), &[], stream, true)
}

/// Responses to `methods`, then the end of the stream.
fn resp(methods: &[&[u8]], stream: &[u8]) -> Outcome {
    split_everywhere(Mode::Response, Limits::default(), methods, stream, true)
}

/// Responses to `methods`, no end of stream.
fn resp_open(methods: &[&[u8]], stream: &[u8]) -> Outcome {
    split_everywhere(Mode::Response, Limits::default(), methods, stream, false)
}

fn fields(h: &[(&str, &str)]) -> Headers {
    let mut out = Headers::new();
    for (n, v) in h {
        out.push(
            Bytes::copy_from_slice(n.as_bytes()),
            Bytes::copy_from_slice(v.as_bytes()),
        );
    }
    out
}

fn rq(
    method: &str,
    target: &str,
    version: Version,
    h: &[(&str, &str)],
    framing: Framing,
    keep_alive: bool,
) -> Event {
    Event::Head(kamaelia::protocol::http::Head {
        version,
        method: Bytes::copy_from_slice(method.as_bytes()),
        target: Bytes::copy_from_slice(target.as_bytes()),
        status: 0,
        reason: Bytes::new(),
        headers: fields(h),
        framing,
        keep_alive,
        icy: false,
    })
}

fn rs(
    version: Version,
    status: u16,
    reason: &str,
    h: &[(&str, &str)],
    framing: Framing,
    keep_alive: bool,
) -> Event {
    Event::Head(kamaelia::protocol::http::Head {
        version,
        method: Bytes::new(),
        target: Bytes::new(),
        status,
        reason: Bytes::copy_from_slice(reason.as_bytes()),
        headers: fields(h),
        framing,
        keep_alive,
        icy: false,
    })
}

fn body(b: &[u8]) -> Event {
    Event::Body(Bytes::copy_from_slice(b))
}

fn ok(events: Vec<Event>) -> Outcome {
    Outcome {
        events,
        result: Ok(()),
        closed: false,
    }
}

fn closed(events: Vec<Event>) -> Outcome {
    Outcome {
        events,
        result: Ok(()),
        closed: true,
    }
}

fn err(events: Vec<Event>, e: HttpError) -> Outcome {
    Outcome {
        events,
        result: Err(e),
        closed: false,
    }
}

use Framing::{Chunked, Length, UntilClose};
use Version::{Http10, Http11};

const H: (&str, &str) = ("Host", "a");

/// The head of `POST / HTTP/1.1`, `Host: a`, `Transfer-Encoding: chunked`.
fn post_chunked() -> Event {
    rq(
        "POST",
        "/",
        Http11,
        &[H, ("Transfer-Encoding", "chunked")],
        Chunked,
        true,
    )
}

/// The head of `POST / HTTP/1.1`, `Host: a`, `Content-Length: n`.
fn post_length(n: u64) -> Event {
    let v = n.to_string();
    rq(
        "POST",
        "/",
        Http11,
        &[H, ("Content-Length", &v)],
        Length(n),
        true,
    )
}

// ---------------------------------------------------------------------------
// Samples

#[test]
fn a_simple_get() {
    let o = req(b"GET /index.html?q=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n");
    assert_eq!(
        o,
        ok(vec![
            rq(
                "GET",
                "/index.html?q=1",
                Http11,
                &[H, ("Accept", "*/*")],
                Framing::None,
                true
            ),
            Event::End
        ])
    );
}

#[test]
fn fields_keep_order_duplicates_and_case_and_look_up_without_case() {
    let o = req(
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nx-a:2\r\nSet-Cookie:  c=1 \t\r\nEmpty:\r\n\r\n",
    );
    let Event::Head(h) = &o.events[0] else {
        panic!("{o:?}")
    };
    assert_eq!(
        h.headers,
        fields(&[
            H,
            ("X-A", "1"),
            ("x-a", "2"),
            ("Set-Cookie", "c=1"),
            ("Empty", "")
        ])
    );
    assert_eq!(h.headers.get("x-A").map(|v| &v[..]), Some(&b"1"[..]));
    let all: Vec<&[u8]> = h.headers.get_all("X-a").map(|v| &v[..]).collect();
    assert_eq!(all, [&b"1"[..], b"2"]);
    assert_eq!(h.headers.get("missing"), None);
    assert_eq!(o.events[1..], [Event::End]);
}

#[test]
fn a_post_with_a_binary_body() {
    let mut msg = b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 256\r\n\r\n".to_vec();
    let all: Vec<u8> = (0..=255).collect();
    msg.extend_from_slice(&all);
    let o = req(&msg);
    assert_eq!(
        o,
        ok(vec![
            rq(
                "POST",
                "/up",
                Http11,
                &[H, ("Content-Length", "256")],
                Length(256),
                true
            ),
            body(&all),
            Event::End
        ])
    );
}

#[test]
fn body_pieces_are_slices_of_the_input() {
    let input = Bytes::from_static(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
    let mut p = Parser::request();
    let mut ev = Vec::new();
    p.push(input.clone(), &mut ev).unwrap();
    let Event::Body(b) = &ev[1] else {
        panic!("{ev:?}")
    };
    assert_eq!(&b[..], b"hello");
    assert_eq!(b.as_ptr(), input[input.len() - 5..].as_ptr());
}

#[test]
fn events_are_taken_one_at_a_time_and_input_is_held_until_then() {
    let mut p = Parser::request();
    p.feed(Bytes::from_static(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi",
    ));
    assert!(matches!(p.next_event(), Ok(Some(Event::Head(_)))));
    assert_eq!(p.buffered(), 2);
    assert_eq!(p.next_event(), Ok(Some(body(b"hi"))));
    assert_eq!(p.next_event(), Ok(Some(Event::End)));
    assert_eq!(p.next_event(), Ok(None));
    assert!(p.is_idle());
    assert_eq!(p.buffered(), 0);
}

// ---------------------------------------------------------------------------
// RFC 9112 §2.2: message parsing, line endings

#[test]
fn empty_lines_before_a_request_are_ignored() {
    let o = req(b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        o,
        ok(vec![
            rq("GET", "/", Http11, &[H], Framing::None, true),
            Event::End
        ])
    );
}

#[test]
fn a_bare_cr_is_an_error() {
    for m in [
        &b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"[..],
        b"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\r\n",
    ] {
        assert_eq!(req(m), err(vec![], HttpError::BareCr), "{m:?}");
    }
}

#[test]
fn a_bare_lf_is_an_error() {
    for m in [
        &b"GET / HTTP/1.1\nHost: a\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: a\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n\n",
        b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    ] {
        assert_eq!(req(m), err(vec![], HttpError::BareLf), "{m:?}");
    }
}

#[test]
fn whitespace_after_the_start_line_is_an_error() {
    let o = req(b"GET / HTTP/1.1\r\n Host: a\r\n\r\n");
    assert_eq!(o, err(vec![], HttpError::WhitespaceAfterStartLine));
}

// ---------------------------------------------------------------------------
// Request line (§3), methods and targets (llhttp "method", "uri", "invalid")

#[test]
fn methods_are_tokens_kept_as_sent() {
    let o = req(b"M-SEARCH * HTTP/1.1\r\nHost: a\r\n\r\nget / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        o,
        ok(vec![
            rq("M-SEARCH", "*", Http11, &[H], Framing::None, true),
            Event::End,
            rq("get", "/", Http11, &[H], Framing::None, true),
            Event::End
        ])
    );
}

#[test]
fn target_forms() {
    let o = req(b"GET http://a.example/x?y#z HTTP/1.1\r\nHost: a\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        o,
        ok(vec![
            rq(
                "GET",
                "http://a.example/x?y#z",
                Http11,
                &[H],
                Framing::None,
                true
            ),
            Event::End,
            rq("OPTIONS", "*", Http11, &[H], Framing::None, true),
            Event::End
        ])
    );
}

#[test]
fn malformed_request_lines() {
    for m in [
        &b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n"[..],
        b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
        b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /\r\n\r\n",
        b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / http/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1x\r\nHost: a\r\n\r\n",
        b" GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    ] {
        assert_eq!(req(m), err(vec![], HttpError::BadStartLine), "{m:?}");
    }
}

#[test]
fn versions_other_than_1_0_and_1_1() {
    for m in [
        &b"GET / HTTP/2.0\r\nHost: a\r\n\r\n"[..],
        b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
        b"GET / HTTP/0.9\r\n\r\n",
    ] {
        assert_eq!(req(m), err(vec![], HttpError::BadVersion), "{m:?}");
    }
    assert_eq!(HttpError::BadVersion.status(), 505);
}

// ---------------------------------------------------------------------------
// §3.2: Host

#[test]
fn host_is_required_once_in_1_1() {
    assert_eq!(
        req(b"GET / HTTP/1.1\r\n\r\n"),
        err(vec![], HttpError::MissingHost)
    );
    assert_eq!(
        req(b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"),
        err(vec![], HttpError::DuplicateHost)
    );
    assert_eq!(
        req(b"GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"),
        err(vec![], HttpError::DuplicateHost)
    );
    assert_eq!(
        req_eof(b"GET / HTTP/1.0\r\n\r\n"),
        closed(vec![
            rq("GET", "/", Http10, &[], Framing::None, false),
            Event::End
        ])
    );
}

// ---------------------------------------------------------------------------
// §5.1, §5.2: field syntax

#[test]
fn whitespace_before_a_colon_is_an_error() {
    for m in [
        &b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length\t: 5\r\n\r\nhello",
    ] {
        assert_eq!(
            req(m),
            err(vec![], HttpError::WhitespaceBeforeColon),
            "{m:?}"
        );
    }
}

#[test]
fn obs_fold_is_an_error() {
    for m in [
        &b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\t2\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n ,chunked\r\n\r\n",
    ] {
        assert_eq!(req(m), err(vec![], HttpError::ObsFold), "{m:?}");
    }
}

#[test]
fn malformed_fields() {
    for m in [
        &b"GET / HTTP/1.1\r\nHost: a\r\nNo colon\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: a\r\n: empty name\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nBad(name): 1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX\x01: 1\r\n\r\n",
    ] {
        assert_eq!(req(m), err(vec![], HttpError::BadHeader), "{m:?}");
    }
}

#[test]
fn obs_text_in_a_value_is_kept() {
    let o = req(b"GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\tau lait\r\n\r\n");
    let Event::Head(h) = &o.events[0] else {
        panic!("{o:?}")
    };
    assert_eq!(&h.headers.get("x").unwrap()[..], b"caf\xc3\xa9\tau lait");
}

// ---------------------------------------------------------------------------
// §6.1, §6.3: framing, and the smuggling cases (llhttp "transfer-encoding",
// "content-length")

#[test]
fn transfer_encoding_with_content_length_is_an_error() {
    for m in [
        &b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ] {
        assert_eq!(
            req(m),
            err(vec![], HttpError::TransferEncodingWithContentLength),
            "{m:?}"
        );
    }
    assert_eq!(
        resp(
            GET,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
        ),
        err(vec![], HttpError::TransferEncodingWithContentLength)
    );
}

#[test]
fn a_request_transfer_encoding_must_end_in_one_chunked() {
    for m in [
        &b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunkedx\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,\r\n\r\n",
    ] {
        assert_eq!(req(m), err(vec![], HttpError::BadTransferEncoding), "{m:?}");
    }
}

#[test]
fn chunked_last_among_codings_and_across_fields_and_in_any_case() {
    let o = req(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: , CHUNKED\r\n\r\n2\r\nzz\r\n0\r\n\r\n");
    assert_eq!(
        o,
        ok(vec![
            rq(
                "POST",
                "/",
                Http11,
                &[
                    H,
                    ("Transfer-Encoding", "gzip"),
                    ("Transfer-Encoding", ", CHUNKED")
                ],
                Chunked,
                true
            ),
            body(b"zz"),
            Event::End
        ])
    );
}

#[test]
fn transfer_encoding_in_an_http_1_0_request_is_an_error() {
    let o = req(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    assert_eq!(o, err(vec![], HttpError::TransferEncodingInHttp10));
}

#[test]
fn content_length_values() {
    let o =
        req(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\ncontent-length:3\r\n\r\nabc");
    assert_eq!(
        o,
        ok(vec![
            rq(
                "POST",
                "/",
                Http11,
                &[H, ("Content-Length", "3, 3"), ("content-length", "3")],
                Length(3),
                true
            ),
            body(b"abc"),
            Event::End
        ])
    );
    for (v, e) in [
        (
            "3\r\nContent-Length: 4",
            HttpError::ConflictingContentLength,
        ),
        ("3, 4", HttpError::ConflictingContentLength),
        ("+3", HttpError::BadContentLength),
        ("-3", HttpError::BadContentLength),
        ("0x3", HttpError::BadContentLength),
        ("3 3", HttpError::BadContentLength),
        ("3,", HttpError::BadContentLength),
        ("", HttpError::BadContentLength),
        ("18446744073709551616", HttpError::BadContentLength),
    ] {
        let m = format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {v}\r\n\r\nabc");
        assert_eq!(req(m.as_bytes()), err(vec![], e), "{v:?}");
    }
}

#[test]
fn a_request_without_length_has_no_body() {
    // The bytes after it are the next request, not a body.
    let o = req(b"POST / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        o,
        ok(vec![
            rq("POST", "/", Http11, &[H], Framing::None, true),
            Event::End,
            rq("GET", "/", Http11, &[H], Framing::None, true),
            Event::End
        ])
    );
}

#[test]
fn a_zero_content_length() {
    let o = req(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(
        o,
        ok(vec![
            rq(
                "POST",
                "/",
                Http11,
                &[H, ("Content-Length", "0")],
                Length(0),
                true
            ),
            Event::End
        ])
    );
}

// ---------------------------------------------------------------------------
// §7.1: chunked

#[test]
fn chunks_extensions_and_trailers() {
    let o = req(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;name=value;flag ; q=\"a \\\"b\\\"\"\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n\
        000\r\nExpires: never\r\nX-Sum: 1\r\n\r\n",
    );
    assert_eq!(
        o,
        ok(vec![
            rq(
                "POST",
                "/",
                Http11,
                &[H, ("Transfer-Encoding", "chunked")],
                Chunked,
                true
            ),
            body(b"helloabcdefghijklmnopqrstuvwxyz"),
            Event::Trailers(fields(&[("Expires", "never"), ("X-Sum", "1")])),
            Event::End
        ])
    );
}

#[test]
fn bad_chunk_sizes() {
    for (line, e) in [
        ("x", HttpError::BadChunkSize),
        ("", HttpError::BadChunkSize),
        (" 5", HttpError::BadChunkSize),
        ("5 ", HttpError::BadChunkSize),
        ("-1", HttpError::BadChunkSize),
        ("0x5", HttpError::BadChunkSize),
        ("5 5", HttpError::BadChunkSize),
        ("5;", HttpError::BadChunkExtension),
        ("5;a=", HttpError::BadChunkExtension),
        ("5;a=\"b", HttpError::BadChunkExtension),
        ("5;a=b c", HttpError::BadChunkExtension),
        ("5;a\x00", HttpError::BadChunkExtension),
        ("10000000000000000", HttpError::ChunkSizeOverflow),
        ("fffffffffffffffff", HttpError::ChunkSizeOverflow),
    ] {
        let m = format!(
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n{line}\r\nhello\r\n0\r\n\r\n"
        );
        assert_eq!(req(m.as_bytes()), err(vec![post_chunked()], e), "{line:?}");
    }
}

#[test]
fn a_huge_chunk_size_that_fits_waits_for_its_data() {
    let o = req(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc",
    );
    assert_eq!(o, ok(vec![post_chunked(), body(b"abc")]));
}

#[test]
fn chunk_data_must_end_in_crlf() {
    for tail in [
        &b"hello!\r\n0\r\n\r\n"[..],
        b"hello\n0\r\n\r\n",
        b"hello\rx0\r\n\r\n",
    ] {
        let mut m =
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n".to_vec();
        m.extend_from_slice(tail);
        assert_eq!(
            req(&m),
            err(vec![post_chunked(), body(b"hello")], HttpError::BadChunkEnd),
            "{tail:?}"
        );
    }
}

#[test]
fn chunk_lines_and_trailers_need_crlf() {
    let m =
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n";
    assert_eq!(req(m), err(vec![post_chunked()], HttpError::BareLf));
    let m = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\n\r\n";
    assert_eq!(req(m), err(vec![post_chunked()], HttpError::BareLf));
    let m =
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n 2\r\n\r\n";
    assert_eq!(req(m), err(vec![post_chunked()], HttpError::ObsFold));
    let m = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX : 1\r\n\r\n";
    assert_eq!(
        req(m),
        err(vec![post_chunked()], HttpError::WhitespaceBeforeColon)
    );
}

// ---------------------------------------------------------------------------
// Pipelining and keep-alive (llhttp "pipelining", "connection")

#[test]
fn pipelined_requests_come_out_in_order() {
    let o = req(b"POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx\
        POST /2 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\ny\r\n0\r\n\r\n\
        GET /3 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        o,
        ok(vec![
            rq(
                "POST",
                "/1",
                Http11,
                &[H, ("Content-Length", "1")],
                Length(1),
                true
            ),
            body(b"x"),
            Event::End,
            rq(
                "POST",
                "/2",
                Http11,
                &[H, ("Transfer-Encoding", "chunked")],
                Chunked,
                true
            ),
            body(b"y"),
            Event::End,
            rq("GET", "/3", Http11, &[H], Framing::None, true),
            Event::End,
        ])
    );
}

#[test]
fn connection_close_ends_the_stream_and_what_follows_is_ignored() {
    let o = req(b"GET /1 HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(
        o,
        closed(vec![
            rq(
                "GET",
                "/1",
                Http11,
                &[H, ("Connection", "keep-alive, Close")],
                Framing::None,
                false
            ),
            Event::End
        ])
    );
}

#[test]
fn http_1_0_keeps_alive_only_when_asked() {
    let o = req(b"GET /1 HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\nGET /3 HTTP/1.0\r\n\r\n");
    assert_eq!(
        o,
        closed(vec![
            rq(
                "GET",
                "/1",
                Http10,
                &[("Connection", "Keep-Alive")],
                Framing::None,
                true
            ),
            Event::End,
            rq("GET", "/2", Http10, &[], Framing::None, false),
            Event::End
        ])
    );
}

#[test]
fn end_of_stream_between_and_inside_messages() {
    assert_eq!(
        req_eof(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n\r\n"),
        closed(vec![
            rq("GET", "/", Http11, &[H], Framing::None, true),
            Event::End
        ])
    );
    assert_eq!(
        req_eof(b"GET / HTTP/1.1\r\nHost"),
        err(vec![], HttpError::Truncated)
    );
    let o = req_eof(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel");
    assert_eq!(
        o,
        err(vec![post_length(5), body(b"hel")], HttpError::Truncated)
    );
    let o =
        req_eof(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    assert_eq!(
        o,
        err(vec![post_chunked(), body(b"hello")], HttpError::Truncated)
    );
    let o =
        req_eof(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n");
    assert_eq!(o, err(vec![post_chunked()], HttpError::Truncated));
}

// ---------------------------------------------------------------------------
// Responses

#[test]
fn a_response_with_a_length_then_one_until_close() {
    let o = resp(
        &[b"GET", b"GET"],
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 404 Not Found\r\n\r\nno such\r\nthing",
    );
    assert_eq!(
        o,
        closed(vec![
            rs(
                Http11,
                200,
                "OK",
                &[("Content-Length", "2")],
                Length(2),
                true
            ),
            body(b"hi"),
            Event::End,
            rs(Http11, 404, "Not Found", &[], UntilClose, false),
            body(b"no such\r\nthing"),
            Event::End
        ])
    );
}

#[test]
fn a_close_delimited_body_waits_for_the_end_of_the_stream() {
    let o = resp_open(GET, b"HTTP/1.0 200 OK\r\n\r\nabc");
    assert_eq!(
        o,
        ok(vec![
            rs(Http10, 200, "OK", &[], UntilClose, false),
            body(b"abc")
        ])
    );
}

#[test]
fn responses_without_a_body() {
    let o = resp(
        &[b"HEAD", b"GET", b"GET", b"GET"],
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n\
          HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n\
          HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n\
          HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz",
    );
    assert_eq!(
        o,
        closed(vec![
            rs(
                Http11,
                200,
                "OK",
                &[("Content-Length", "10")],
                Framing::None,
                true
            ),
            Event::End,
            rs(
                Http11,
                204,
                "No Content",
                &[("Content-Length", "10")],
                Framing::None,
                true
            ),
            Event::End,
            rs(
                Http11,
                304,
                "Not Modified",
                &[("Transfer-Encoding", "chunked")],
                Framing::None,
                true
            ),
            Event::End,
            rs(
                Http11,
                200,
                "OK",
                &[("Content-Length", "1")],
                Length(1),
                true
            ),
            body(b"z"),
            Event::End,
        ])
    );
}

#[test]
fn several_1xx_before_the_final_response() {
    let o = resp(
        &[b"HEAD", b"GET"],
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n\
          HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n\
          HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody",
    );
    assert_eq!(
        o,
        closed(vec![
            rs(Http11, 100, "Continue", &[], Framing::None, true),
            Event::End,
            rs(
                Http11,
                103,
                "Early Hints",
                &[("Link", "</s.css>")],
                Framing::None,
                true
            ),
            Event::End,
            // The final response to HEAD: no body despite its length.
            rs(
                Http11,
                200,
                "OK",
                &[("Content-Length", "4")],
                Framing::None,
                true
            ),
            Event::End,
            rs(
                Http11,
                200,
                "OK",
                &[("Content-Length", "4")],
                Length(4),
                true
            ),
            body(b"body"),
            Event::End,
        ])
    );
}

#[test]
fn a_chunked_response_with_trailers() {
    let o = resp(
        GET,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          3\r\nabc\r\n0\r\nETag: \"x\"\r\n\r\nignored",
    );
    assert_eq!(
        o,
        closed(vec![
            rs(
                Http11,
                200,
                "OK",
                &[("Transfer-Encoding", "chunked"), ("Connection", "close")],
                Chunked,
                false
            ),
            body(b"abc"),
            Event::Trailers(fields(&[("ETag", "\"x\"")])),
            Event::End,
        ])
    );
}

#[test]
fn a_response_transfer_encoding_not_ending_in_chunked_runs_until_close() {
    let o = resp(
        GET,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
    );
    assert_eq!(
        o,
        closed(vec![
            rs(
                Http11,
                200,
                "OK",
                &[("Transfer-Encoding", "chunked, gzip")],
                UntilClose,
                false
            ),
            body(b"0\r\n\r\n"),
            Event::End
        ])
    );
    // HTTP/1.0 with Transfer-Encoding: faulty framing, read until close.
    let o = resp(
        GET,
        b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    assert_eq!(
        o,
        closed(vec![
            rs(
                Http10,
                200,
                "OK",
                &[("Transfer-Encoding", "chunked")],
                UntilClose,
                false
            ),
            body(b"0\r\n\r\n"),
            Event::End
        ])
    );
    assert_eq!(
        resp(
            GET,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked, chunked\r\n\r\n"
        ),
        err(vec![], HttpError::BadTransferEncoding)
    );
}

#[test]
fn status_lines() {
    let o = resp(
        &[b"GET", b"GET", b"GET"],
        b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\nHTTP/1.1 299 \r\nContent-Length: 0\r\n\r\n\
          HTTP/1.1 599 Odd \xe9 reason\t!\r\nContent-Length: 0\r\n\r\n",
    );
    let mut odd = rs(Http11, 599, "", &[("Content-Length", "0")], Length(0), true);
    if let Event::Head(h) = &mut odd {
        h.reason = Bytes::from_static(b"Odd \xe9 reason\t!");
    }
    assert_eq!(
        o,
        closed(vec![
            rs(Http11, 200, "", &[("Content-Length", "0")], Length(0), true),
            Event::End,
            rs(Http11, 299, "", &[("Content-Length", "0")], Length(0), true),
            Event::End,
            odd,
            Event::End,
        ])
    );
    for m in [
        &b"HTTP/1.1 20 OK\r\n\r\n"[..],
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 099 OK\r\n\r\n",
        b"HTTP/1.1  200 OK\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1 200 O\x00K\r\n\r\n",
        b"HTTP/1.1\r\n\r\n",
        b"\r\nHTTP/1.1 200 OK\r\n\r\n",
        b"SHOUT 200 OK\r\n\r\n",
    ] {
        assert_eq!(resp(GET, m), err(vec![], HttpError::BadStartLine), "{m:?}");
    }
}

#[test]
fn icy_is_http_1_0() {
    let o = resp(
        GET,
        b"ICY 200 OK\r\nicy-name: Radio\r\nicy-metaint: 16\r\nContent-Type: audio/mpeg\r\n\r\n\xff\xfb\x90\x00",
    );
    let mut head = rs(
        Http10,
        200,
        "OK",
        &[
            ("icy-name", "Radio"),
            ("icy-metaint", "16"),
            ("Content-Type", "audio/mpeg"),
        ],
        UntilClose,
        false,
    );
    if let Event::Head(h) = &mut head {
        h.icy = true;
    }
    assert_eq!(o, closed(vec![head, body(b"\xff\xfb\x90\x00"), Event::End]));
    // Only in response mode.
    assert_eq!(
        req(b"ICY 200 OK\r\n\r\n"),
        err(vec![], HttpError::BadStartLine)
    );
}

#[test]
fn response_smuggling_and_field_errors() {
    assert_eq!(
        resp(
            GET,
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
        ),
        err(vec![], HttpError::ConflictingContentLength)
    );
    assert_eq!(
        resp(GET, b"HTTP/1.1 200 OK\r\nX: 1\r\n 2\r\n\r\n"),
        err(vec![], HttpError::ObsFold)
    );
    assert_eq!(
        resp(GET, b"HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\na"),
        err(vec![], HttpError::WhitespaceBeforeColon)
    );
}

// ---------------------------------------------------------------------------
// Tunnels: CONNECT, 101

#[test]
fn connect_and_upgrade_leave_http() {
    let o = req(b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n\x16\x03\x01GET / HTTP/1.1\r\n");
    assert_eq!(
        o,
        ok(vec![
            rq(
                "CONNECT",
                "a:443",
                Http11,
                &[("Host", "a:443")],
                Framing::Tunnel,
                true
            ),
            Event::End,
            Event::Tunnel(Bytes::from_static(b"\x16\x03\x01GET / HTTP/1.1\r\n"))
        ])
    );
    let o = resp(
        &[b"CONNECT"],
        b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03",
    );
    assert_eq!(
        o,
        ok(vec![
            rs(
                Http11,
                200,
                "Connection established",
                &[],
                Framing::Tunnel,
                true
            ),
            Event::End,
            Event::Tunnel(Bytes::from_static(b"\x16\x03"))
        ])
    );
    let o = resp(
        GET,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05",
    );
    assert_eq!(
        o,
        ok(vec![
            rs(
                Http11,
                101,
                "Switching Protocols",
                &[("Upgrade", "websocket"), ("Connection", "Upgrade")],
                Framing::Tunnel,
                true
            ),
            Event::End,
            Event::Tunnel(Bytes::from_static(b"\x81\x05"))
        ])
    );
    // A refused CONNECT: the connection stays HTTP.
    let o = resp(
        &[b"CONNECT"],
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(
        o,
        closed(vec![
            rs(
                Http11,
                403,
                "Forbidden",
                &[("Content-Length", "1")],
                Length(1),
                true
            ),
            body(b"x"),
            Event::End,
            rs(
                Http11,
                200,
                "OK",
                &[("Content-Length", "0")],
                Length(0),
                true
            ),
            Event::End,
        ])
    );
}

// ---------------------------------------------------------------------------
// Limits

fn small() -> Limits {
    Limits {
        max_start_line: 32,
        max_headers: 3,
        max_head_bytes: 100,
        max_chunk_line: 8,
        max_body: Some(10),
    }
}

fn small_req(stream: &[u8]) -> Outcome {
    split_everywhere(Mode::Request, small(), &[], stream, false)
}

#[test]
fn limits_on_the_head() {
    // A start line of exactly 32 bytes with its CRLF passes, 33 does not,
    // and an endless one fails once 32 bytes are in.
    let fits = b"GET /2345678901234567 HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_eq!(
        small_req(fits),
        ok(vec![
            rq(
                "GET",
                "/2345678901234567",
                Http11,
                &[H],
                Framing::None,
                true
            ),
            Event::End
        ])
    );
    let over = b"GET /23456789012345678 HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_eq!(small_req(over), err(vec![], HttpError::StartLineTooLong));
    assert_eq!(
        small_req(&[b'A'; 32]),
        err(vec![], HttpError::StartLineTooLong)
    );
    assert_eq!(small_req(&[b'A'; 31]), ok(vec![]));
    assert_eq!(HttpError::StartLineTooLong.status(), 414);

    let three = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
    assert_eq!(
        small_req(three),
        ok(vec![
            rq(
                "GET",
                "/",
                Http11,
                &[H, ("A", "1"), ("B", "2")],
                Framing::None,
                true
            ),
            Event::End
        ])
    );
    let four = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert_eq!(small_req(four), err(vec![], HttpError::TooManyHeaders));

    let mut big = b"GET / HTTP/1.1\r\nHost: a\r\nA: ".to_vec();
    big.extend_from_slice(&[b'x'; 68]);
    big.extend_from_slice(b"\r\n\r\n");
    assert_eq!(big.len(), 100);
    let xs = "x".repeat(68);
    assert_eq!(
        small_req(&big),
        ok(vec![
            rq("GET", "/", Http11, &[H, ("A", &xs)], Framing::None, true),
            Event::End
        ])
    );
    big.insert(30, b'x');
    assert_eq!(small_req(&big), err(vec![], HttpError::HeadTooLarge));
    assert_eq!(HttpError::HeadTooLarge.status(), 431);
}

#[test]
fn limits_on_trailers() {
    let m = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\n\r\n";
    assert_eq!(
        small_req(m),
        err(vec![post_chunked()], HttpError::TooManyHeaders)
    );
}

#[test]
fn limits_on_chunk_lines() {
    // 8 bytes with CRLF pass, 9 do not.
    let m =
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;a=bc\r\nx\r\n0\r\n\r\n";
    assert_eq!(
        small_req(m),
        ok(vec![post_chunked(), body(b"x"), Event::End])
    );
    let m = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;a=bcd\r\nx\r\n0\r\n\r\n";
    assert_eq!(
        small_req(m),
        err(vec![post_chunked()], HttpError::ChunkLineTooLong)
    );
    // Leading zeros are bounded by the line limit, not an overflow.
    let m =
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n000001\r\nx\r\n0\r\n\r\n";
    assert_eq!(
        small_req(m),
        ok(vec![post_chunked(), body(b"x"), Event::End])
    );
    let m = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000000000000000000001\r\n";
    assert_eq!(
        small_req(m),
        err(vec![post_chunked()], HttpError::ChunkLineTooLong)
    );
}

#[test]
fn limits_on_bodies() {
    let m = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world";
    assert_eq!(
        small_req(m),
        err(vec![post_length(11)], HttpError::BodyTooLarge)
    );
    assert_eq!(HttpError::BodyTooLarge.status(), 413);
    let m = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhello worl";
    assert_eq!(
        small_req(m),
        ok(vec![post_length(10), body(b"hello worl"), Event::End])
    );
    // Chunked: the sum of chunk sizes.
    let m = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    assert_eq!(
        small_req(m),
        err(
            vec![post_chunked(), body(b"hello")],
            HttpError::BodyTooLarge
        )
    );
    // Until close: what fits comes out, then the error.
    let lim = Limits {
        max_body: Some(3),
        ..Limits::default()
    };
    let o = split_everywhere(
        Mode::Response,
        lim,
        GET,
        b"HTTP/1.1 200 OK\r\n\r\nabcd",
        true,
    );
    let head = rs(Http11, 200, "OK", &[], UntilClose, false);
    assert_eq!(
        o,
        err(vec![head.clone(), body(b"abc")], HttpError::BodyTooLarge)
    );
    let o = split_everywhere(
        Mode::Response,
        lim,
        GET,
        b"HTTP/1.1 200 OK\r\n\r\nabc",
        true,
    );
    assert_eq!(o, closed(vec![head, body(b"abc"), Event::End]));
}

#[test]
fn the_body_limit_can_be_set_per_message_after_its_head() {
    let mut p = Parser::new(Mode::Request, small());
    p.feed(Bytes::from_static(
        b"PUT /big HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\n\r\n01234567890123456789\
          PUT /small HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\n\r\n01234567890123456789",
    ));
    assert!(matches!(p.next_event(), Ok(Some(Event::Head(_)))));
    p.set_max_body(Some(20));
    assert_eq!(p.next_event(), Ok(Some(body(b"01234567890123456789"))));
    assert_eq!(p.next_event(), Ok(Some(Event::End)));
    assert!(matches!(p.next_event(), Ok(Some(Event::Head(_)))));
    p.set_max_body(Some(19));
    assert_eq!(p.next_event(), Err(HttpError::BodyTooLarge));
    assert_eq!(p.next_event(), Err(HttpError::BodyTooLarge));
}

#[test]
fn memory_stays_bounded_on_an_endless_head_or_body() {
    let mut p = Parser::request();
    let mut ev = Vec::new();
    let mut r = Ok(());
    for _ in 0..100 {
        r = p.push(Bytes::from_static(&[b'a'; 1000]), &mut ev);
        assert!(p.held() <= 8 << 10);
        if r.is_err() {
            break;
        }
    }
    assert_eq!(r, Err(HttpError::StartLineTooLong));
    // A body is never held.
    let mut p = Parser::response();
    p.push(Bytes::from_static(b"HTTP/1.1 200 OK\r\n\r\n"), &mut ev)
        .unwrap();
    for _ in 0..100 {
        p.push(Bytes::from_static(&[b'a'; 1000]), &mut ev).unwrap();
        assert_eq!(p.held(), 0);
        assert_eq!(p.buffered(), 0);
    }
}

#[test]
fn errors_are_final() {
    let mut p = Parser::request();
    let mut ev = Vec::new();
    let e = p.push(
        Bytes::from_static(b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
        &mut ev,
    );
    assert_eq!(e, Err(HttpError::WhitespaceBeforeColon));
    assert_eq!(
        p.push(
            Bytes::from_static(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            &mut ev
        ),
        e
    );
    assert!(ev.is_empty());
    assert_eq!(p.held(), 0);
}

// ---------------------------------------------------------------------------
// What llhttp accepts only with a lenient flag is an error here, or (data
// after a close) ignored.

#[test]
fn llhttp_lenient_cases_are_refused() {
    // (message, body before the error if a chunked head came out, error)
    type Case = (&'static [u8], Option<&'static [u8]>, HttpError);
    let cases: [Case; 9] = [
        // lenient headers: a control byte in a value
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n",
            None,
            HttpError::BadHeader,
        ),
        // lenient chunked length: Transfer-Encoding with Content-Length
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            None,
            HttpError::TransferEncodingWithContentLength,
        ),
        // lenient transfer encoding: chunked not last in a request
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
            None,
            HttpError::BadTransferEncoding,
        ),
        // lenient version
        (b"GET / HTTP/5.6\r\nHost: a\r\n\r\n", None, HttpError::BadVersion),
        // optional LF after CR
        (b"GET / HTTP/1.1\rHost: a\r\n\r\n", None, HttpError::BareCr),
        // optional CR before LF
        (b"GET / HTTP/1.1\r\nHost: a\n\n", None, HttpError::BareLf),
        // optional CRLF after a chunk
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx0\r\n\r\n",
            Some(b"x"),
            HttpError::BadChunkEnd,
        ),
        // spaces after a chunk size
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1 \r\nx\r\n0\r\n\r\n",
            Some(b""),
            HttpError::BadChunkSize,
        ),
        // spaces before a header colon
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nX  : 1\r\n\r\n",
            None,
            HttpError::WhitespaceBeforeColon,
        ),
    ];
    for (m, before, e) in cases {
        let mut events = Vec::new();
        if let Some(b) = before {
            events.push(post_chunked());
            if !b.is_empty() {
                events.push(body(b));
            }
        }
        assert_eq!(req(m), err(events, e), "{m:?}");
    }
    // Data after a response that closes the connection is not parsed.
    let o = resp(
        &[b"GET", b"GET"],
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n\r\n",
    );
    assert_eq!(
        o,
        closed(vec![
            rs(
                Http11,
                200,
                "OK",
                &[("Connection", "close"), ("Content-Length", "1")],
                Length(1),
                false
            ),
            body(b"x"),
            Event::End
        ])
    );
}

#[test]
fn an_accepted_upgrade_turns_the_rest_into_a_tunnel() {
    let msg = Bytes::from_static(
        b"GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x85",
    );
    // Without the switch the bytes after the head are the start of the
    // next request.
    let mut p = Parser::request();
    let mut ev = Vec::new();
    p.push(msg.clone(), &mut ev).unwrap();
    assert_eq!(ev.len(), 2);
    assert_eq!(p.held(), 2);
    // With it, taken event by event, they are a tunnel.
    let mut p = Parser::request();
    p.feed(msg);
    assert_eq!(
        p.next_event(),
        Ok(Some(rq(
            "GET",
            "/chat",
            Http11,
            &[H, ("Upgrade", "websocket"), ("Connection", "Upgrade")],
            Framing::None,
            true
        )))
    );
    // Not inside a message.
    assert!(!p.start_tunnel());
    assert_eq!(p.next_event(), Ok(Some(Event::End)));
    assert!(p.start_tunnel());
    assert_eq!(
        p.next_event(),
        Ok(Some(Event::Tunnel(Bytes::from_static(b"\x81\x85"))))
    );
    assert_eq!(p.next_event(), Ok(None));
}

#[test]
fn nothing_is_held_after_an_error_or_a_close() {
    let mut p = Parser::request();
    let mut ev = Vec::new();
    let _ = p.push(
        Bytes::from_static(b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
        &mut ev,
    );
    p.feed(Bytes::from_static(b"more"));
    assert_eq!(p.buffered(), 0);
    let mut p = Parser::request();
    p.push(Bytes::from_static(b"GET / HTTP/1.0\r\n\r\n"), &mut ev)
        .unwrap();
    assert!(p.is_closed());
    p.feed(Bytes::from_static(b"GET / HTTP/1.0\r\n\r\n"));
    assert_eq!(p.buffered(), 0);
}

/// A 4 KiB field line and one with a bad byte at its end, split at every
/// boundary and a byte at a time: the scanner carries its search on across
/// pieces (each byte looked at once; see the count in lines.rs's tests),
/// and what it finds is the same whatever the pieces.
#[test]
fn a_4_kib_field_line_in_any_pieces_reads_the_same() {
    let value = "v".repeat(4096);
    let stream = format!("GET / HTTP/1.1\r\nHost: a\r\nX-Long: {value}\r\nY: 1\r\n\r\n");
    assert_eq!(
        req(stream.as_bytes()),
        ok(vec![
            rq(
                "GET",
                "/",
                Http11,
                &[H, ("X-Long", &value), ("Y", "1")],
                Framing::None,
                true
            ),
            Event::End
        ])
    );
    let bad = format!("GET / HTTP/1.1\r\nHost: a\r\nX-Long: {value}\x01\r\n\r\n");
    assert_eq!(req(bad.as_bytes()), err(vec![], HttpError::BadHeader));
    let bare_cr = format!("GET / HTTP/1.1\r\nHost: a\r\nX-Long: {value}\rz\r\n\r\n");
    assert_eq!(req(bare_cr.as_bytes()), err(vec![], HttpError::BareCr));
}
