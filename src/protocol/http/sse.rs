//! Responses fed from a [`Backplane`](crate::util::Backplane): Server-Sent
//! Events ([`EventStream`]) and long-poll ([`LongPoll`]). Each is a
//! resource component that subscribes to the backplane (a
//! [`SubscribeTo`] child) for as long as its response lasts.
//!
//! * **EventStream**: `200`, `Content-Type: text/event-stream`, a body of
//!   unknown length (chunked) that stays open: one event per message
//!   published, a comment line every `heartbeat` (so proxies keep the
//!   connection and a dead client is found when the write fails). It ends
//!   (the last chunk) when the backplane ends, or when more than
//!   `max_backlog` messages wait for a client too slow to take them (the
//!   backplane is never held back by one slow client; a browser's
//!   EventSource reconnects).
//! * **LongPoll**: waits for the next message published and answers it as
//!   the whole body (`200`, with a length); `204` when none comes within
//!   the time-out, `503` when there is no such backplane.
//!
//! Both answer HEAD with the head alone, and stop (unsubscribing) when the
//! connection goes.
//!
//! | box     | carries  | meaning                                              |
//! |---------|----------|------------------------------------------------------|
//! | inbox   | `Bytes`  | the request body: read and dropped                   |
//! | control | `Signal` | shutdown: unsubscribe and stop (the connection went); producer finished (request complete): ignored |
//! | events  | `T`      | from the subscriber child: what is published         |
//! | outbox  | `Part`   | the response                                         |
//! | signal  | `Signal` | once, at the end                                     |
//!
//! ```
//! use kamaelia::protocol::http::{EventStream, Router, SseEvent};
//! let router = Router::new()
//!     .route("/events", EventStream::<String>::factory("news", |s: &String| SseEvent::data(s.clone())));
//! # drop(router);
//! ```

use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::axon::{link, BoxSet, Component, Cx, Full, Inbox, Outbox, Signal, Step, TimerKey};
use crate::util::SubscribeTo;

use super::{Part, Request, ResponseHead};

/// One Server-Sent Event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// `id:` (for a reconnecting client's `Last-Event-ID`).
    pub id: Option<String>,
    /// `event:` (the type; none means `message`).
    pub event: Option<String>,
    /// `data:`, one line per line.
    pub data: String,
}

impl SseEvent {
    /// An event with data only.
    pub fn data(data: impl Into<String>) -> Self {
        SseEvent {
            data: data.into(),
            ..Self::default()
        }
    }

    /// The event as it goes on the wire. CR and LF in `id` and `event` are
    /// dropped, and `data` is cut into `data:` lines at every line end a
    /// browser knows (CRLF, LF and a bare CR), so no field can forge
    /// another.
    pub fn encode(&self) -> Bytes {
        let mut out = String::with_capacity(self.data.len() + 16);
        for (name, value) in [("id: ", &self.id), ("event: ", &self.event)] {
            if let Some(v) = value {
                out.push_str(name);
                out.extend(v.chars().filter(|c| !matches!(c, '\r' | '\n')));
                out.push('\n');
            }
        }
        for line in self.data.replace("\r\n", "\n").split(['\r', '\n']) {
            out.push_str("data: ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        Bytes::from(out)
    }
}

/// A comment line sent when nothing else was.
pub const HEARTBEAT: &[u8] = b": keep-alive\n\n";

type Format<T> = Rc<dyn Fn(&T) -> SseEvent>;
type Answer<T> = Rc<dyn Fn(&T) -> (String, Bytes)>;

enum Kind<T> {
    Stream {
        format: Format<T>,
        heartbeat: Duration,
        max_backlog: usize,
    },
    Poll {
        answer: Answer<T>,
        timeout: Duration,
    },
}

/// The shared machinery: a subscriber child, parts queued for the
/// connection, timers.
struct Fed<T: Clone + 'static> {
    inbox: Inbox<Bytes>,
    control: Inbox<Signal>,
    events: Inbox<T>,
    outbox: Outbox<Part>,
    signal: Outbox<Signal>,
    to_sub: Outbox<Signal>,
    backplane: String,
    kind: Kind<T>,
    is_head: bool,
    started: bool,
    sub_alive: bool,
    ended: bool,
    parts: VecDeque<Part>,
    deadline: Option<Instant>,
    timer: Option<(Instant, TimerKey)>,
}

impl<T: Clone + 'static> Fed<T> {
    fn new(backplane: &str, kind: Kind<T>, req: &Request) -> Self {
        Fed {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            events: Inbox::new("events", "what the backplane publishes"),
            outbox: Outbox::new("outbox", "response parts"),
            signal: Outbox::signal(),
            to_sub: Outbox::new("_sub", "shutdown for the subscriber"),
            backplane: backplane.to_string(),
            kind,
            is_head: req.is_head(),
            started: false,
            sub_alive: false,
            ended: false,
            parts: VecDeque::new(),
            deadline: None,
            timer: None,
        }
    }

    fn end_with(&mut self, parts: impl IntoIterator<Item = Part>) {
        self.parts.extend(parts);
        self.parts.push_back(Part::End);
        self.ended = true;
    }

    fn start(&mut self, cx: &mut Cx) {
        self.started = true;
        match &self.kind {
            Kind::Stream { heartbeat, .. } => {
                let head = ResponseHead::new(200)
                    .header("Content-Type", "text/event-stream")
                    .header("Cache-Control", "no-cache");
                self.parts.push_back(Part::Head(head));
                if self.is_head {
                    self.end_with([]);
                    return;
                }
                self.deadline = Some(cx.now() + *heartbeat);
            }
            Kind::Poll { timeout, .. } => {
                if self.is_head {
                    let head = ResponseHead::new(200).header("Cache-Control", "no-cache");
                    self.end_with([Part::Head(head)]);
                    return;
                }
                self.deadline = Some(cx.now() + *timeout);
            }
        }
        let sub = SubscribeTo::<T>::new(&self.backplane);
        if link(&sub.outbox, &self.events).is_err() || link(&self.to_sub, &sub.control).is_err() {
            self.end_with([Part::Head(ResponseHead::new(500).length(0))]);
            return;
        }
        cx.spawn_child(sub);
        self.sub_alive = true;
    }

    fn step(&mut self, cx: &mut Cx) -> Step {
        while self.inbox.recv().is_some() {}
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                let _ = self.to_sub.send(Signal::Shutdown);
                let _ = self.signal.send(Signal::Shutdown);
                return Step::Done;
            }
        }
        if !self.started {
            self.start(cx);
        }
        while cx.next_exit().is_some() {
            self.sub_alive = false;
        }
        if !self.ended {
            self.take_events(cx);
        }
        while let Some(p) = self.parts.pop_front() {
            if let Err(Full(p)) = self.outbox.send(p) {
                self.parts.push_front(p);
                cx.hold_input();
                return Step::Pause;
            }
        }
        if self.ended {
            if self.sub_alive {
                let _ = self.to_sub.send(Signal::Shutdown);
            }
            let _ = self.signal.send(Signal::ProducerFinished);
            return Step::Done;
        }
        if let Some(at) = self.deadline {
            if self.timer.is_none_or(|(t, _)| t != at) {
                if let Some((_, k)) = self.timer.take() {
                    cx.cancel_timer(k);
                }
                self.timer = Some((at, cx.wake_at(at)));
            }
        }
        cx.hold_input();
        Step::Pause
    }

    /// Turns published messages (and the clock) into parts.
    fn take_events(&mut self, cx: &mut Cx) {
        let now = cx.now();
        match &self.kind {
            Kind::Stream {
                format,
                heartbeat,
                max_backlog,
            } => {
                if self.events.len() > *max_backlog {
                    // Nothing queued can go (the connection is not taking
                    // parts): end now, which the connection takes as the
                    // end of the response.
                    log::info!("http: an event stream's client fell behind; ended");
                    self.parts.clear();
                    self.ended = true;
                    return;
                }
                let mut sent = false;
                // Only as much as the connection takes: the rest waits in
                // `events`, where the backlog is measured. A refused part
                // waits in `parts` (and the refusal wakes this one).
                while self.parts.is_empty() {
                    let Some(m) = self.events.recv() else { break };
                    sent = true;
                    if let Err(Full(p)) = self.outbox.send(Part::Body(format(&m).encode())) {
                        self.parts.push_back(p);
                    }
                }
                if sent {
                    self.deadline = Some(now + *heartbeat);
                } else if self.deadline.is_some_and(|d| now >= d) {
                    self.parts
                        .push_back(Part::Body(Bytes::from_static(HEARTBEAT)));
                    self.deadline = Some(now + *heartbeat);
                }
                if !self.sub_alive && self.events.is_empty() {
                    // The backplane ended (or was never there).
                    self.end_with([]);
                }
            }
            Kind::Poll { answer, .. } => {
                if let Some(m) = self.events.recv() {
                    let (ctype, body) = answer(&m);
                    let head = ResponseHead::new(200)
                        .header("Content-Type", ctype)
                        .header("Cache-Control", "no-cache")
                        .length(body.len() as u64);
                    self.end_with([Part::Head(head), Part::Body(body)]);
                } else if !self.sub_alive {
                    let body = Bytes::from_static(b"503 Service Unavailable\n");
                    let head = ResponseHead::new(503)
                        .header("Content-Type", "text/plain; charset=utf-8")
                        .length(body.len() as u64);
                    self.end_with([Part::Head(head), Part::Body(body)]);
                } else if self.deadline.is_some_and(|d| now >= d) {
                    self.end_with([Part::Head(
                        ResponseHead::new(204).header("Cache-Control", "no-cache"),
                    )]);
                }
            }
        }
    }

    fn boxes(&self, set: &mut BoxSet) {
        crate::boxes!(set; self.inbox, self.control, self.events, self.outbox, self.signal, self.to_sub);
    }
}

/// A Server-Sent Events response fed from a backplane; see the module
/// documentation.
pub struct EventStream<T: Clone + 'static>(Fed<T>);

impl<T: Clone + 'static> EventStream<T> {
    /// Streams what is published on `backplane`, each message made an
    /// event by `format`; a heartbeat every 15 s; ended when more than 256
    /// messages wait.
    pub fn new(backplane: &str, format: impl Fn(&T) -> SseEvent + 'static, req: &Request) -> Self {
        Self::with(
            backplane,
            Rc::new(format),
            Duration::from_secs(15),
            256,
            req,
        )
    }

    fn with(
        backplane: &str,
        format: Format<T>,
        heartbeat: Duration,
        max_backlog: usize,
        req: &Request,
    ) -> Self {
        let kind = Kind::Stream {
            format,
            heartbeat,
            max_backlog,
        };
        EventStream(Fed::new(backplane, kind, req))
    }

    /// A handler factory with the defaults of [`EventStream::new`].
    pub fn factory(
        backplane: &str,
        format: impl Fn(&T) -> SseEvent + 'static,
    ) -> impl Fn(&Request) -> Box<dyn Component> + 'static {
        Self::factory_with(backplane, format, Duration::from_secs(15), 256)
    }

    /// A handler factory with a chosen heartbeat and backlog.
    pub fn factory_with(
        backplane: &str,
        format: impl Fn(&T) -> SseEvent + 'static,
        heartbeat: Duration,
        max_backlog: usize,
    ) -> impl Fn(&Request) -> Box<dyn Component> + 'static {
        let name = backplane.to_string();
        let format: Format<T> = Rc::new(format);
        move |req| {
            Box::new(Self::with(
                &name,
                format.clone(),
                heartbeat,
                max_backlog,
                req,
            )) as Box<dyn Component>
        }
    }
}

impl<T: Clone + 'static> Component for EventStream<T> {
    fn step(&mut self, cx: &mut Cx) -> Step {
        self.0.step(cx)
    }
    fn boxes(&self, set: &mut BoxSet) {
        self.0.boxes(set)
    }
}

/// A long-poll response fed from a backplane; see the module
/// documentation.
pub struct LongPoll<T: Clone + 'static>(Fed<T>);

impl<T: Clone + 'static> LongPoll<T> {
    /// Answers the next message published on `backplane` as `answer`
    /// makes it (content type, body), or 204 after `timeout`.
    pub fn new(
        backplane: &str,
        answer: impl Fn(&T) -> (String, Bytes) + 'static,
        timeout: Duration,
        req: &Request,
    ) -> Self {
        let kind = Kind::Poll {
            answer: Rc::new(answer),
            timeout,
        };
        LongPoll(Fed::new(backplane, kind, req))
    }

    /// A handler factory.
    pub fn factory(
        backplane: &str,
        answer: impl Fn(&T) -> (String, Bytes) + 'static,
        timeout: Duration,
    ) -> impl Fn(&Request) -> Box<dyn Component> + 'static {
        let name = backplane.to_string();
        let answer: Answer<T> = Rc::new(answer);
        move |req| {
            let kind = Kind::Poll {
                answer: answer.clone(),
                timeout,
            };
            Box::new(LongPoll(Fed::new(&name, kind, req))) as Box<dyn Component>
        }
    }
}

impl<T: Clone + 'static> Component for LongPoll<T> {
    fn step(&mut self, cx: &mut Cx) -> Step {
        self.0.step(cx)
    }
    fn boxes(&self, set: &mut BoxSet) {
        self.0.boxes(set)
    }
}
