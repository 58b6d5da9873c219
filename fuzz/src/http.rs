//! The checks behind the HTTP fuzz targets, and the split-feeding helpers
//! the codec tests use (`tests/http_codec.rs` and `tests/http_fuzz.rs`
//! include this file).
//!
//! For the fuzz targets the first input byte chooses how the rest is cut
//! and which limits apply; in response mode the second chooses the method
//! of the request answered. Whatever the bytes, the parser must not panic,
//! must give the same events and the same error however the stream is
//! cut, and must hold no more than its limits allow.

use bytes::Bytes;
use kamaelia::internet::simulate::SplitMix64;
use kamaelia::protocol::http::{Event, Framing, HttpError, Limits, Mode, Parser, Version};

/// The events of a stream (adjacent body and tunnel pieces merged) and how
/// it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The events, pieces merged.
    pub events: Vec<Event>,
    /// The error that stopped the parser, if any.
    pub result: Result<(), HttpError>,
    /// Whether the parser was closed at the end.
    pub closed: bool,
}

/// Merges adjacent [`Event::Body`] pieces, and adjacent [`Event::Tunnel`]
/// pieces: how the body is cut depends on how the input was.
pub fn merge(events: Vec<Event>) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::with_capacity(events.len());
    for e in events {
        match (out.last_mut(), e) {
            (Some(Event::Body(a)), Event::Body(b)) | (Some(Event::Tunnel(a)), Event::Tunnel(b)) => {
                let mut v = a.to_vec();
                v.extend_from_slice(&b);
                *a = Bytes::from(v);
            }
            (_, e) => out.push(e),
        }
    }
    out
}

/// Parses `stream` fed in pieces of the given lengths (which must add up to
/// its length), then `eof` if asked. In response mode each of `methods` is
/// announced first. Checks the memory bound after every piece.
pub fn parse_pieces(
    mode: Mode,
    limits: Limits,
    methods: &[&[u8]],
    stream: &[u8],
    pieces: &[usize],
    eof: bool,
) -> Outcome {
    let mut p = Parser::new(mode, limits);
    for m in methods {
        p.expect_response_to(m);
    }
    let bound = p.limits().max_head_bytes + p.limits().max_chunk_line;
    let mut events = Vec::new();
    let mut at = 0;
    let mut result = Ok(());
    for &n in pieces {
        // Keep the input as one buffer so body pieces can be checked to
        // be slices of it.
        let piece = Bytes::copy_from_slice(&stream[at..at + n]);
        at += n;
        result = p.push(piece, &mut events);
        assert!(p.held() <= bound, "held {} > {}", p.held(), bound);
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() && eof {
        p.eof();
        result = p.drain(&mut events);
    }
    if let Err(e) = result {
        // Spent: it keeps saying so.
        assert_eq!(p.next_event(), Err(e));
    }
    Outcome {
        events: merge(events),
        result,
        closed: p.is_closed(),
    }
}

/// Parses `stream` whole, then split at every byte boundary into two
/// pieces, then one byte at a time, then in three pieces at a few places,
/// and asserts every run gives the same [`Outcome`]; returns it.
pub fn split_everywhere(
    mode: Mode,
    limits: Limits,
    methods: &[&[u8]],
    stream: &[u8],
    eof: bool,
) -> Outcome {
    let len = stream.len();
    let whole = parse_pieces(mode, limits, methods, stream, &[len], eof);
    for i in 1..len {
        let split = parse_pieces(mode, limits, methods, stream, &[i, len - i], eof);
        assert_eq!(split, whole, "split at {i}");
    }
    let bytes = parse_pieces(mode, limits, methods, stream, &vec![1; len], eof);
    assert_eq!(bytes, whole, "one byte at a time");
    for i in (1..len).step_by(7) {
        let j = (i + 3).min(len);
        let three = parse_pieces(mode, limits, methods, stream, &[i, j - i, len - j], eof);
        assert_eq!(three, whole, "split at {i} and {j}");
    }
    whole
}

/// Cuts `len` bytes into pieces as `seed` says.
fn cuts(seed: u8, len: usize) -> Vec<usize> {
    let mut rng = SplitMix64::new(seed as u64);
    let biggest = [1, 2, 3, 7, 24, 64, 301, 5000][(seed % 8) as usize];
    let mut out = Vec::new();
    let mut at = 0;
    while at < len {
        let n = (1 + rng.below(biggest) as usize).min(len - at);
        out.push(n);
        at += n;
    }
    out
}

/// Small limits when `seed` says, so the limit paths are reached.
fn limits(seed: u8) -> Limits {
    if seed & 0x80 == 0 {
        Limits::default()
    } else {
        Limits {
            max_start_line: 40,
            max_headers: 4,
            max_head_bytes: 120,
            max_chunk_line: 12,
            max_body: Some(50),
        }
    }
}

fn same_however_cut(mode: Mode, methods: &[&[u8]], seed: u8, stream: &[u8]) -> Outcome {
    let limits = limits(seed);
    let eof = seed & 0x40 != 0;
    let whole = parse_pieces(mode, limits, methods, stream, &[stream.len()], eof);
    let cut = parse_pieces(
        mode,
        limits,
        methods,
        stream,
        &cuts(seed, stream.len()),
        eof,
    );
    assert_eq!(cut, whole, "cut as seed {seed} says");
    check_consistent(&whole);
    whole
}

/// What every outcome must satisfy, whatever the input.
fn check_consistent(o: &Outcome) {
    let mut in_message = false;
    for e in &o.events {
        match e {
            Event::Head(h) => {
                assert!(!in_message, "a head inside a message");
                in_message = true;
                if h.framing == Framing::UntilClose || h.icy {
                    assert!(!h.keep_alive);
                }
                if h.icy {
                    assert_eq!(h.version, Version::Http10);
                }
            }
            Event::Body(b) => assert!(in_message && !b.is_empty()),
            Event::Trailers(t) => assert!(in_message && !t.is_empty()),
            Event::End => {
                assert!(in_message, "an end outside a message");
                in_message = false;
            }
            Event::Tunnel(b) => assert!(!in_message && !b.is_empty()),
        }
    }
}

/// Request parser over arbitrary bytes.
pub fn request(data: &[u8]) -> Outcome {
    let Some((&seed, stream)) = data.split_first() else {
        return parse_pieces(Mode::Request, Limits::default(), &[], b"", &[], true);
    };
    same_however_cut(Mode::Request, &[], seed, stream)
}

/// Response parser over arbitrary bytes; the second byte chooses the
/// method of the request answered.
pub fn response(data: &[u8]) -> Outcome {
    let [seed, method, stream @ ..] = data else {
        return parse_pieces(Mode::Response, Limits::default(), &[], b"", &[], true);
    };
    let methods: &[&[u8]] = match method % 4 {
        0 => &[b"HEAD", b"GET"],
        1 => &[b"CONNECT"],
        _ => &[b"GET", b"GET"],
    };
    same_however_cut(Mode::Response, methods, *seed, stream)
}

/// What the differential check compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agreement {
    /// Both read a head, the same one.
    BothHead,
    /// httparse rejected it, and so did we.
    BothRejected,
    /// httparse reads a head that we refuse with this error (we are
    /// stricter: bare LF, obs-text in targets, status codes below 100,
    /// Host and framing rules, limits).
    Stricter(HttpError),
    /// Neither has a complete head, or it is an ICY head.
    Other,
}

/// A head as httparse reads it: method, target, minor version, status,
/// reason.
type TheirHead = (Vec<u8>, Vec<u8>, u8, u16, Vec<u8>);

/// Differential check of the head against httparse: when we read a head,
/// httparse reads the same start line and fields from the same bytes; when
/// httparse rejects the bytes, we read no head. The first byte chooses
/// requests or responses.
pub fn head_differential(data: &[u8]) -> Agreement {
    let Some((&which, stream)) = data.split_first() else {
        return Agreement::Other;
    };
    let mode = if which & 1 == 0 {
        Mode::Request
    } else {
        Mode::Response
    };
    let mut p = Parser::new(mode, Limits::default());
    p.feed(Bytes::copy_from_slice(stream));
    let (ours, our_error) = match p.next_event() {
        Ok(Some(Event::Head(h))) => (Some(h), None),
        Ok(_) => (None, None),
        Err(e) => (None, Some(e)),
    };
    let mut fields = vec![httparse::EMPTY_HEADER; 128];
    let theirs: Result<Option<TheirHead>, ()> = match mode {
        Mode::Request => {
            let mut r = httparse::Request::new(&mut fields);
            match r.parse(stream) {
                Ok(httparse::Status::Complete(_)) => Ok(Some((
                    r.method.unwrap_or("").as_bytes().to_vec(),
                    r.path.unwrap_or("").as_bytes().to_vec(),
                    r.version.unwrap_or(9),
                    0,
                    Vec::new(),
                ))),
                Ok(httparse::Status::Partial) => Ok(None),
                Err(_) => Err(()),
            }
        }
        Mode::Response => {
            let mut r = httparse::Response::new(&mut fields);
            match r.parse(stream) {
                Ok(httparse::Status::Complete(_)) => Ok(Some((
                    Vec::new(),
                    Vec::new(),
                    r.version.unwrap_or(9),
                    r.code.unwrap_or(0),
                    r.reason.unwrap_or("").as_bytes().to_vec(),
                ))),
                Ok(httparse::Status::Partial) => Ok(None),
                Err(_) => Err(()),
            }
        }
    };
    let theirs_fields: Vec<(Vec<u8>, Vec<u8>)> = fields
        .iter()
        .take_while(|f| !f.name.is_empty())
        .map(|f| (f.name.as_bytes().to_vec(), f.value.to_vec()))
        .collect();
    match (ours, theirs) {
        (Some(h), _) if h.icy => Agreement::Other,
        (Some(h), Ok(Some((method, target, version, status, reason)))) => {
            assert_eq!(&h.method[..], &method[..]);
            assert_eq!(&h.target[..], &target[..]);
            let v = match h.version {
                Version::Http10 => 0,
                Version::Http11 => 1,
            };
            assert_eq!(v, version);
            assert_eq!(h.status, status);
            // httparse gives an empty reason when it holds obs-text.
            if h.reason.is_ascii() {
                assert_eq!(&h.reason[..], &reason[..]);
            }
            let ours: Vec<(Vec<u8>, Vec<u8>)> = h
                .headers
                .iter()
                .map(|(n, v)| (n.to_vec(), v.to_vec()))
                .collect();
            assert_eq!(ours, theirs_fields);
            Agreement::BothHead
        }
        (Some(h), theirs) => panic!("we read {h:?}, httparse {theirs:?}"),
        (None, Err(())) => Agreement::BothRejected,
        (None, Ok(Some(head))) => match our_error {
            Some(e) => {
                assert!(stricter_by_choice(e, stream, &head), "{e:?} on {stream:?}");
                Agreement::Stricter(e)
            }
            None => Agreement::Other,
        },
        (None, Ok(None)) => Agreement::Other,
    }
}

/// True when refusing, with `e`, a head that httparse reads (`theirs`:
/// method, target, minor version, status, reason) is one of our choices:
/// line ends without CR, targets of ASCII only, status codes from 100,
/// no empty line before a status line, the Host and framing rules, limits.
fn stricter_by_choice(e: HttpError, stream: &[u8], theirs: &TheirHead) -> bool {
    match e {
        HttpError::BareLf
        | HttpError::MissingHost
        | HttpError::DuplicateHost
        | HttpError::BadContentLength
        | HttpError::ConflictingContentLength
        | HttpError::TransferEncodingWithContentLength
        | HttpError::BadTransferEncoding
        | HttpError::TransferEncodingInHttp10
        | HttpError::StartLineTooLong
        | HttpError::HeadTooLarge
        | HttpError::TooManyHeaders => true,
        HttpError::BadStartLine => {
            let (_, target, _, status, _) = theirs;
            // A response when the target is empty.
            target.iter().any(|&b| b >= 0x80)
                || target.is_empty() && *status < 100
                || stream.starts_with(b"\r\n")
                || stream.starts_with(b"\n")
        }
        _ => false,
    }
}
