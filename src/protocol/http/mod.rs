//! HTTP/1.x: a streaming message parser that never touches a socket.
//!
//! Kamaelia's `HTTPParser` read one message per instance, decoded every
//! byte as text (so an MP3 body from an Icecast server broke it), kept only
//! the last of repeated headers and guessed at bad framing. This codec is
//! the part of its replacement with no scheduler in sight: bytes go in, in
//! pieces cut anywhere, and events come out:
//!
//! * [`Event::Head`]: the start line and header fields ([`Head`]), with the
//!   body framing ([`Framing`]) and whether the connection may be kept
//!   alive;
//! * [`Event::Body`]: body bytes, any bytes, as slices of the input
//!   (no copy);
//! * [`Event::Trailers`]: the trailer fields of a chunked body, if any;
//! * [`Event::End`]: the message is complete. On a kept-alive connection
//!   the next message starts with the next byte (pipelining);
//! * [`Event::Tunnel`]: bytes after a `CONNECT` or `101 Switching
//!   Protocols`, or after an upgrade the server accepted
//!   ([`Parser::start_tunnel`]), which are no longer HTTP.
//!
//! The same events come out however the input is cut. A [`Parser`] is made
//! for requests (server side) or responses (client side). In response mode
//! it must be told the method of each request sent
//! ([`Parser::expect_response_to`]): the response to `HEAD` has no body.
//! A response with neither Content-Length nor chunked framing runs until
//! [`Parser::eof`]; a Content-Length or chunked body cut short by the end of
//! the stream is [`HttpError::Truncated`]. Several 1xx responses may come
//! before the final one. The `ICY 200 OK` status line of SHOUTcast servers
//! is read as HTTP/1.0.
//!
//! # Framing and smuggling
//!
//! Body framing follows RFC 9112 §6. Anything two parsers could read two
//! ways is an error, never a guess: Transfer-Encoding together with
//! Content-Length, differing Content-Length values, a request
//! Transfer-Encoding not ending in `chunked`, folded lines (obs-fold), a CR
//! without LF, a line ended by LF alone, whitespace before a colon, a chunk
//! size that is not plain hexadecimal or overflows 64 bits, chunk data not
//! followed by CRLF. Each is an [`HttpError`], and [`HttpError::status`] is
//! the status a server answers it with (400 for most).
//!
//! # Limits and memory
//!
//! [`Limits`] bound the start line, the number of fields and the bytes of
//! the head, the chunk-size line and the body; crossing one is a typed
//! error as soon as it is certain. A head (or trailer section) that
//! arrives whole in one input piece is read where it is: its fields are
//! slices of that piece. The parser copies only a head that arrives in
//! several pieces (at most [`Limits::max_head_bytes`]) and one chunk-size
//! line (at most [`Limits::max_chunk_line`]); body bytes are handed on as
//! slices of the input. A head's field list given back with
//! [`Parser::reuse`] holds the next head's fields, so a steady stream of
//! messages allocates nothing per message. Input fed with [`Parser::feed`] is held until the events it makes
//! are taken with [`Parser::next_event`], so a component wrapping the parser
//! can stop taking events when its outbox is full and hold nothing more.
//!
//! Each line of a head is read once: checked, split into name and value,
//! and, for the fields that decide framing and keep-alive (Host,
//! Content-Length, Transfer-Encoding, Connection), noted on the way; the
//! field rules are httparse's (the fuzz target `http_head` holds the two
//! to agreeing).
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use kamaelia::protocol::http::{Event, Framing, Parser};
//!
//! let mut p = Parser::request();
//! let mut events = Vec::new();
//! // A pipelined pair, cut in an awkward place.
//! p.push(Bytes::from_static(b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chu"), &mut events)
//!     .unwrap();
//! p.push(Bytes::from_static(b"nked\r\n\r\n3\r\n\x00\xffb\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), &mut events)
//!     .unwrap();
//! let Event::Head(head) = &events[0] else { panic!() };
//! assert_eq!(&head.method[..], b"POST");
//! assert_eq!(head.framing, Framing::Chunked);
//! assert!(head.keep_alive);
//! assert_eq!(events[1], Event::Body(Bytes::from_static(b"\x00\xffb")));
//! assert_eq!(events[2], Event::End);
//! let Event::Head(next) = &events[3] else { panic!() };
//! assert_eq!(&next.target[..], b"/");
//! assert_eq!(events[4], Event::End);
//! assert_eq!(events.len(), 5);
//!
//! // A SHOUTcast server, whose body runs until the connection closes.
//! let mut p = Parser::response();
//! p.expect_response_to(b"GET");
//! let mut events = Vec::new();
//! p.push(Bytes::from_static(b"ICY 200 OK\r\nicy-metaint: 8192\r\n\r\nmp3..."), &mut events).unwrap();
//! p.eof();
//! p.drain(&mut events).unwrap();
//! let Event::Head(head) = &events[0] else { panic!() };
//! assert!(head.icy && head.status == 200 && head.framing == Framing::UntilClose);
//! assert_eq!(&events[1..], [Event::Body(Bytes::from_static(b"mp3...")), Event::End]);
//! ```

mod head;
mod lines;
mod parser;

// Clients (issue 11, client parts).
pub mod client;
// Icecast streams (issue 11, Icecast part).
pub mod icecast;

pub use head::{Framing, Head, Headers, HttpError, Version};
pub use parser::{Event, Limits, Mode, Parser};

// Server side (issue 11).
mod component;
mod response;
mod server;
mod sse;
mod static_files;

pub use component::{HttpParser, Parsed};
pub use response::{
    encode_body, encode_end, encode_head, http_date, parse_http_date, reason, simple_response,
    BodyMode, Part, ResponseHead,
};
pub use server::{
    Answer, Factory, Fixed, HttpConnection, HttpServer, Request, Router, ServerConfig,
};
pub use sse::{EventStream, LongPoll, SseEvent, HEARTBEAT};
pub use static_files::{
    content_type, parse_range, percent_decode, FileResource, RangeAsk, StaticFiles, FILE_READ,
};
