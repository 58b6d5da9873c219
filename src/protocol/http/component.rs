//! HttpParser: the HTTP/1.x codec as a component, one per connection,
//! parsing message after message (keep-alive and pipelining). Kamaelia's
//! `HTTPParser` read one message per instance and then ended.
//!
//! Bytes come in on `inbox`, in pieces cut anywhere; the codec's
//! [`Event`]s come out of `outbox`, in order, wrapped in `Ok`. Bad input is
//! one `Err(HttpError)` on `outbox`, then `Signal::Failed(HttpError)` on
//! `signal`, and the component ends (nothing after a framing error can be
//! trusted).
//!
//! | box     | carries                      | meaning                                           |
//! |---------|------------------------------|---------------------------------------------------|
//! | inbox   | `Bytes`                      | the stream, in any pieces                         |
//! | control | `Signal`                     | producer finished: the stream has ended (the codec is told `eof`), pass on what it makes, then end; shutdown: end now |
//! | outbox  | `Result<Event, HttpError>`   | events in order; an error is the last message     |
//! | signal  | `Signal`                     | once, at the end: `ProducerFinished` after a clean end, `Failed(HttpError)` after bad input (a stream cut inside a message is `Truncated`), `Shutdown` when told to |
//!
//! Back-pressure: an event refused by a full `outbox` is kept and sent
//! first next time; no more input is fed to the codec meanwhile, so what
//! waits is bounded by the `inbox` limit and one event.
//!
//! It also ends (with `ProducerFinished`) when the codec is closed: after
//! a message that does not keep the connection alive, whatever follows is
//! not read.
//!
//! ```
//! use bytes::Bytes;
//! use kamaelia::axon::Signal;
//! use kamaelia::protocol::http::{Event, HttpParser, Parsed};
//! use kamaelia::testing::Harness;
//!
//! let mut h = Harness::new();
//! let id = h.spawn(HttpParser::request());
//! let input = h.feeder::<Bytes>(id, "inbox").unwrap();
//! let ctl = h.feeder::<Signal>(id, "control").unwrap();
//! let out = h.collector::<Parsed>(id, "outbox").unwrap();
//! input.send(Bytes::from_static(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")).unwrap();
//! ctl.send(Signal::ProducerFinished).unwrap();
//! h.run_until_idle();
//! let events = out.drain();
//! assert!(matches!(events[1], Ok(Event::End)));
//! assert_eq!(events.len(), 4); // Head, End, Head, End
//! assert!(!h.is_alive(id));
//! ```

use bytes::Bytes;

use crate::axon::{BoxSet, Component, Cx, Full, Inbox, Outbox, Signal, Step};

use super::{Event, HttpError, Limits, Mode, Parser};

/// What [`HttpParser`] sends: an event, or the error that ended it.
pub type Parsed = Result<Event, HttpError>;

/// Events handed out per step before others get a turn.
const EVENTS_PER_STEP: usize = 256;

/// The codec as a component; see the module documentation.
pub struct HttpParser {
    /// The byte stream.
    pub inbox: Inbox<Bytes>,
    /// End of stream or shutdown.
    pub control: Inbox<Signal>,
    /// Parsed events, then possibly one error.
    pub outbox: Outbox<Parsed>,
    /// Sent once, at the end.
    pub signal: Outbox<Signal>,
    parser: Parser,
    pending: Option<Parsed>,
    finished: bool,
    eof_told: bool,
}

impl HttpParser {
    /// A parser of requests (server side), default limits.
    pub fn request() -> Self {
        Self::new(Parser::request())
    }

    /// A parser of responses (client side), default limits. The method of
    /// each request sent must be told to [`HttpParser::codec_mut`] before
    /// its response is parsed (the answer to HEAD has no body).
    pub fn response() -> Self {
        Self::new(Parser::response())
    }

    /// A parser in `mode` with `limits`.
    pub fn with_limits(mode: Mode, limits: Limits) -> Self {
        Self::new(Parser::new(mode, limits))
    }

    /// Wraps a codec already made.
    pub fn new(parser: Parser) -> Self {
        HttpParser {
            inbox: Inbox::new("inbox", "bytes of an HTTP stream"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "parsed HTTP events"),
            signal: Outbox::signal(),
            parser,
            pending: None,
            finished: false,
            eof_told: false,
        }
    }

    /// The codec inside.
    pub fn codec_mut(&mut self) -> &mut Parser {
        &mut self.parser
    }

    /// Sends `m`; false (and `m` kept) when the outbox is full.
    fn send(&mut self, m: Parsed) -> bool {
        match self.outbox.send(m) {
            Ok(()) => true,
            Err(Full(m)) => {
                self.pending = Some(m);
                false
            }
        }
    }
}

impl Component for HttpParser {
    fn step(&mut self, cx: &mut Cx) -> Step {
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                let _ = self.signal.send(Signal::Shutdown);
                return Step::Done;
            }
            self.finished = true;
        }
        if let Some(m) = self.pending.take() {
            let err = m.as_ref().err().copied();
            if !self.send(m) {
                cx.hold_input();
                return Step::Pause;
            }
            if let Some(e) = err {
                let _ = self.signal.send(Signal::failed(e));
                return Step::Done;
            }
        }
        for _ in 0..EVENTS_PER_STEP {
            match self.parser.next_event() {
                Ok(Some(ev)) => {
                    if !self.send(Ok(ev)) {
                        cx.hold_input();
                        return Step::Pause;
                    }
                }
                Ok(None) => {
                    if self.parser.is_closed() {
                        let _ = self.signal.send(Signal::ProducerFinished);
                        return Step::Done;
                    }
                    if let Some(b) = self.inbox.recv() {
                        self.parser.feed(b);
                    } else if self.finished && !self.eof_told {
                        // The codec now closes, ends a close-delimited
                        // message or reports a truncated one.
                        self.parser.eof();
                        self.eof_told = true;
                    } else if self.finished {
                        let _ = self.signal.send(Signal::ProducerFinished);
                        return Step::Done;
                    } else {
                        return Step::Pause;
                    }
                }
                Err(e) => {
                    if !self.send(Err(e)) {
                        cx.hold_input();
                        return Step::Pause;
                    }
                    let _ = self.signal.send(Signal::failed(e));
                    return Step::Done;
                }
            }
        }
        Step::Yield
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}
