//! RequestLog: wraps the resource an [`HttpServer`] route makes for one
//! request and writes one line about it once its response is over:
//!
//! ```text
//! 127.0.0.1:53412 "GET /index.html HTTP/1.1" 200 1234
//! ```
//!
//! (the client's address, the request line, the status, the body bytes
//! the resource sent; `-` for a status when the response ended before
//! its head).
//!
//! The server finds a resource's boxes by name, so the wrapper has the
//! resource's boxes (`inbox`, `control`, `outbox`, `signal`) and runs the
//! real resource as its child, passing everything through:
//!
//! ```text
//! HttpConnection ──body──▶ RequestLog ──body──▶ resource
//!                ◀─Parts──            ◀─Parts──
//! ```
//!
//! | box     | carries  | meaning                                                   |
//! |---------|----------|-----------------------------------------------------------|
//! | inbox   | `Bytes`  | the request body: passed to the resource (dropped if it has no inbox) |
//! | control | `Signal` | passed to the resource                                    |
//! | outbox  | `Part`   | the resource's response, passed on (head and body counted) |
//! | signal  | `Signal` | not sent: the server does not read a resource's `signal` (a message there would only be counted undelivered) |
//!
//! It ends when the resource has ended and everything it sent has gone
//! on. The resource's own `signal` is linked to the wrapper and read, so
//! it is not left undelivered either. Responses the server makes itself (400, 408, 404 with no route,
//! ...) have no resource and are not logged: with a route for `/`, only
//! the malformed or timed-out requests go unlogged. (A hook in
//! `HttpServer` itself, called once per response it writes, would log
//! those as well; see the report of the `cli` branch.)
//!
//! [`HttpServer`]: kamaelia::protocol::http::HttpServer

use std::rc::Rc;

use bytes::Bytes;
use kamaelia::axon::{link_refs, BoxSet, Component, Cx, Full, Id, Inbox, Outbox, Signal, Step};
use kamaelia::protocol::http::{Part, Request, Version};

/// Where log lines go.
pub type LogSink = Rc<dyn Fn(String)>;

/// Parts held between the resource and this wrapper.
const PART_LIMIT: usize = 4;

/// Wraps a route's factory so that each request's resource is logged.
pub fn logged(
    factory: impl Fn(&Request) -> Box<dyn Component> + 'static,
    sink: LogSink,
) -> impl Fn(&Request) -> Box<dyn Component> + 'static {
    move |req| Box::new(RequestLog::new(factory(req), req, sink.clone())) as Box<dyn Component>
}

/// The request line as a log shows it: `"GET /path HTTP/1.1"`.
pub fn request_line(req: &Request) -> String {
    let version = match req.version {
        Version::Http10 => "HTTP/1.0",
        Version::Http11 => "HTTP/1.1",
    };
    format!(
        "\"{} {} {version}\"",
        String::from_utf8_lossy(&req.method),
        String::from_utf8_lossy(&req.target)
    )
}

/// One request's resource, logged; see the module documentation.
pub struct RequestLog {
    /// The request body.
    pub inbox: Inbox<Bytes>,
    /// Request end, shutdown.
    pub control: Inbox<Signal>,
    /// The response.
    pub outbox: Outbox<Part>,
    /// Not sent (see the module documentation).
    pub signal: Outbox<Signal>,
    from_resource: Inbox<Part>,
    resource_signal: Inbox<Signal>,
    to_body: Outbox<Bytes>,
    to_control: Outbox<Signal>,
    resource: Option<Box<dyn Component>>,
    child: Option<Id>,
    has_inbox: bool,
    resource_gone: bool,
    held: Option<Part>,
    prefix: String,
    status: Option<u16>,
    bytes: u64,
    logged: bool,
    sink: LogSink,
}

impl RequestLog {
    /// Logs `resource`, which answers `req`.
    pub fn new(resource: Box<dyn Component>, req: &Request, sink: LogSink) -> Self {
        let peer = req
            .peer
            .map(|p| p.to_string())
            .unwrap_or_else(|| "-".to_string());
        RequestLog {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "response parts"),
            signal: Outbox::signal(),
            from_resource: Inbox::new("fromresource", "the resource's response parts"),
            resource_signal: Inbox::new("resourcesignal", "the resource's end"),
            to_body: Outbox::new("toresource", "request body for the resource"),
            to_control: Outbox::new("toresourcecontrol", "signals for the resource"),
            resource: Some(resource),
            child: None,
            has_inbox: false,
            resource_gone: false,
            held: None,
            prefix: format!("{peer} {}", request_line(req)),
            status: None,
            bytes: 0,
            logged: false,
            sink,
        }
    }

    /// Links the resource's boxes to ours and starts it; false if its
    /// boxes do not fit (no `Part` outbox).
    fn start(&mut self, cx: &mut Cx, resource: Box<dyn Component>) -> bool {
        let mut set = BoxSet::default();
        resource.boxes(&mut set);
        self.from_resource.set_limit(Some(PART_LIMIT));
        let Some(out) = set.find("outbox") else {
            return false;
        };
        if link_refs(out, &self.from_resource.erased()).is_err() {
            return false;
        }
        if let Some(b) = set.find("inbox") {
            self.has_inbox = link_refs(&self.to_body.erased(), b).is_ok();
        }
        if let Some(b) = set.find("control") {
            let _ = link_refs(&self.to_control.erased(), b);
        }
        if let Some(b) = set.find("signal") {
            let _ = link_refs(b, &self.resource_signal.erased());
        }
        self.child = Some(cx.spawn_child_boxed(resource));
        true
    }

    fn write_log(&mut self) {
        if self.logged {
            return;
        }
        self.logged = true;
        let status = self
            .status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".to_string());
        (self.sink)(format!("{} {status} {}", self.prefix, self.bytes));
    }
}

impl Component for RequestLog {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if let Some(resource) = self.resource.take() {
            if !self.start(cx, resource) {
                // The server answers 500 when a resource ends without a head.
                self.write_log();
                return Step::Done;
            }
        }
        while self.resource_signal.recv().is_some() {}
        while let Some(sig) = self.control.recv() {
            let _ = self.to_control.send(sig);
        }
        while let Some(b) = self.inbox.recv() {
            if self.has_inbox {
                let _ = self.to_body.send(b);
            }
        }
        while let Some(exit) = cx.next_exit() {
            if Some(exit.id) == self.child {
                self.resource_gone = true;
            }
        }
        loop {
            let Some(part) = self.held.take().or_else(|| self.from_resource.recv()) else {
                break;
            };
            // Counted once sent: a refused part comes round again.
            let (status, len, end) = match &part {
                Part::Head(h) => (Some(h.status), 0, false),
                Part::Body(b) => (None, b.len() as u64, false),
                Part::End => (None, 0, true),
            };
            if let Err(Full(part)) = self.outbox.send(part) {
                self.held = Some(part);
                cx.hold_input();
                return Step::Pause;
            }
            if self.status.is_none() {
                self.status = status;
            }
            self.bytes += len;
            if end {
                self.write_log();
            }
        }
        if self.resource_gone {
            self.write_log();
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        kamaelia::boxes!(set; self.inbox, self.control, self.outbox, self.signal,
            self.from_resource, self.resource_signal, self.to_body, self.to_control);
    }
}
