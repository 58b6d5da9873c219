//! Helpers for the HTTP server tests: a served folder with traps around
//! it, and responses read back with the codec.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use std::collections::VecDeque;

use bytes::Bytes;
use kamaelia::axon::{BoxSet, Component, Cx, Full, Inbox, Outbox, Signal, Step};
use kamaelia::protocol::http::{Event, Headers, Parser, Part, ResponseHead};

/// A folder to serve (`root`) inside a scratch folder that also holds a
/// secret the server must never give out; removed when dropped.
pub struct Site {
    pub base: PathBuf,
    pub root: PathBuf,
}

/// 200 000 bytes of every value, so a body cut or shifted shows.
pub fn data_bin() -> Vec<u8> {
    (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

pub const HELLO: &[u8] = b"hello, static\n";
pub const SECRET: &[u8] = b"secret\n";

impl Site {
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let base = std::env::temp_dir().join(format!(
            "kamaelia-http-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&base);
        let root = base.join("root");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::create_dir_all(base.join("outside")).unwrap();
        fs::write(root.join("hello.txt"), HELLO).unwrap();
        fs::write(root.join("data.bin"), data_bin()).unwrap();
        fs::write(root.join("empty.txt"), b"").unwrap();
        fs::write(root.join("sub/index.html"), b"<p>sub</p>\n").unwrap();
        fs::write(root.join("a b.txt"), b"spaced\n").unwrap();
        fs::write(base.join("secret.txt"), SECRET).unwrap();
        fs::write(base.join("outside/secret.txt"), SECRET).unwrap();
        std::os::unix::fs::symlink("../secret.txt", root.join("link-out")).unwrap();
        std::os::unix::fs::symlink("../outside", root.join("dir-out")).unwrap();
        std::os::unix::fs::symlink("hello.txt", root.join("link-in")).unwrap();
        Site { base, root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.base);
    }
}

/// One response read back.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

/// The responses in `bytes` to requests with `methods`, in order; panics
/// on anything the codec refuses or on bytes left over.
pub fn responses(bytes: &[u8], methods: &[&str], closed: bool) -> Vec<Resp> {
    let mut p = Parser::response();
    for m in methods {
        p.expect_response_to(m.as_bytes());
    }
    p.feed(Bytes::copy_from_slice(bytes));
    if closed {
        p.eof();
    }
    let mut out: Vec<Resp> = Vec::new();
    loop {
        match p.next_event().expect("well-formed responses") {
            Some(Event::Head(h)) => {
                if h.is_interim() {
                    continue;
                }
                out.push(Resp {
                    status: h.status,
                    headers: h.headers,
                    body: Vec::new(),
                })
            }
            Some(Event::Body(b)) => out.last_mut().unwrap().body.extend_from_slice(&b),
            Some(Event::End) => {}
            Some(other) => panic!("unexpected {other:?}"),
            None => break,
        }
    }
    assert_eq!(p.buffered(), 0, "bytes left over after the responses");
    out
}

/// Streams its parts as given (a resource of unknown length when the head
/// has none), then ends.
pub struct Stream {
    inbox: Inbox<Bytes>,
    control: Inbox<Signal>,
    outbox: Outbox<Part>,
    signal: Outbox<Signal>,
    parts: VecDeque<Part>,
}

impl Stream {
    pub fn new(parts: Vec<Part>) -> Self {
        Stream {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::outbox(),
            signal: Outbox::signal(),
            parts: parts.into(),
        }
    }
}

impl Component for Stream {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while self.inbox.recv().is_some() {}
        while let Some(p) = self.parts.pop_front() {
            if let Err(Full(p)) = self.outbox.send(p) {
                self.parts.push_front(p);
                return Step::Pause;
            }
        }
        let _ = self.signal.send(Signal::ProducerFinished);
        Step::Done
    }
    fn boxes(&self, set: &mut BoxSet) {
        kamaelia::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}

/// Answers with the request body it read, once the request is complete.
pub struct Echo {
    inbox: Inbox<Bytes>,
    control: Inbox<Signal>,
    outbox: Outbox<Part>,
    signal: Outbox<Signal>,
    body: Vec<u8>,
}

impl Echo {
    pub fn new() -> Self {
        Echo {
            inbox: Inbox::inbox(),
            control: Inbox::control(),
            outbox: Outbox::outbox(),
            signal: Outbox::signal(),
            body: Vec::new(),
        }
    }
}

impl Component for Echo {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(b) = self.inbox.recv() {
            self.body.extend_from_slice(&b);
        }
        if let Some(sig) = self.control.recv() {
            if sig.is_finish() {
                let body = Bytes::from(std::mem::take(&mut self.body));
                let _ = self
                    .outbox
                    .send(Part::Head(ResponseHead::new(200).length(body.len() as u64)));
                let _ = self.outbox.send(Part::Body(body));
                let _ = self.outbox.send(Part::End);
            }
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }
    fn boxes(&self, set: &mut BoxSet) {
        kamaelia::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}
