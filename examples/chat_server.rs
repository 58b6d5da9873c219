//! Sketch 7 of the classic catalogue
//! (`Examples/Introspection/IntrospectionTutorial/ChatServer.py`): a
//! multi-user TCP chat. Every connection publishes the lines it receives
//! to the backplane "CHAT_ONE" and subscribes to it, so each line goes to
//! every connected user.
//!
//! ```text
//!   per connection, made by ServerCore's factory (both TcpClients are the
//!   one connection: what it read, and what it writes):
//!
//!   TcpClient ──▶ Pipeline[ PureTransformer ──▶ PublishTo ─ ─ ▶ SubscribeTo ] ──▶ TcpClient
//!                           cut into lines,        │               ▲
//!                           prefix "[N] "          ▼               │
//!                                        Backplane("CHAT_ONE"), one for all
//!
//!   server.signal ──▶ backplane.control (the chat ends with the server)
//! ```
//!
//! What it shows:
//!
//! * a protocol built from stock parts: the per-connection component is a
//!   [`Pipeline`] of a [`PureTransformer`] (cut the bytes into lines and
//!   prefix each with `[N] `, N the connection's number), [`PublishTo`]
//!   and [`SubscribeTo`]; the original prefixed the peer's address and
//!   port instead, and did not cut lines (a line split over two reads got
//!   two prefixes);
//! * **the sender hears its own lines too**, as in the original: every
//!   connection subscribes to the same backplane it publishes to, so a
//!   user sees its line go out, in the one order everyone sees;
//! * a subscriber only hears what is published after it joined (no
//!   history); a user still hears its own first line, because the
//!   connection's publisher and subscriber start in the same round, the
//!   subscriber asks to join in its first step, and the backplane handles
//!   join requests before the lines waiting for it;
//! * when a user leaves, its connection tells the pipeline the input is
//!   over; the pipeline winds down front to back, the subscriber leaves the
//!   backplane, and the connection closes cleanly;
//! * in [`run`], scripted users ([`Party`]) join one at a time (each waits
//!   until its greeting comes back, so the join order, and therefore the
//!   connection numbers and who hears which greeting, are fixed), then all
//!   talk at once, and each leaves once it has heard every line; then the
//!   server is stopped, and its end stops the backplane. A [`Deadline`]
//!   stops the whole system if that has not happened in time.
//!
//! Bytes are what travel, on the wire and on the backplane. A partial line
//! (no newline yet) waits for the rest; one that is still partial when its
//! user leaves is dropped, and one longer than [`MAX_LINE`] is passed on as
//! a line of its own.
//!
//! Run it with `cargo run --example chat_server [ADDR]` (default
//! 127.0.0.1:1500; a bare port means 127.0.0.1:PORT), then connect a few
//! `nc 127.0.0.1 1500` and type. It serves until killed.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use kamaelia::axon::{link, BoxSet, Component, Cx, Ended, Inbox, Outbox, Scheduler, Signal, Step};
use kamaelia::chassis::Pipeline;
use kamaelia::internet::{ConnInfo, ServerCore, TcpClient};
use kamaelia::pipeline;
use kamaelia::util::{Backplane, PublishTo, PureTransformer, SubscribeTo};

#[path = "support/mod.rs"]
mod support;
pub use support::{Deadline, Sink};

/// The backplane every connection publishes to and subscribes from.
pub const CHANNEL: &str = "CHAT_ONE";

/// A partial line longer than this is passed on without waiting for its
/// newline (so a client that never sends one cannot grow the buffer).
pub const MAX_LINE: usize = 4096;

/// The transformer's function for connection `n`: gathers the bytes into
/// lines and gives each complete line (with its newline) back prefixed
/// with `[n] `, all the lines a chunk completed in one `Bytes`; `None`
/// while no line is complete.
pub fn line_prefixer(n: u64) -> impl FnMut(Bytes) -> Option<Bytes> {
    let tag = format!("[{n}] ");
    let mut partial: Vec<u8> = Vec::new();
    move |chunk: Bytes| {
        partial.extend_from_slice(&chunk);
        let cut = match partial.iter().rposition(|&b| b == b'\n') {
            Some(i) => i + 1,
            None if partial.len() > MAX_LINE => {
                partial.push(b'\n');
                partial.len()
            }
            None => return None,
        };
        let rest = partial.split_off(cut);
        let complete = std::mem::replace(&mut partial, rest);
        let mut out = Vec::with_capacity(complete.len() + 8 * tag.len());
        for line in complete.split_inclusive(|&b| b == b'\n') {
            out.extend_from_slice(tag.as_bytes());
            out.extend_from_slice(line);
        }
        Some(Bytes::from(out))
    }
}

/// The protocol for one connection: lines from the client, prefixed, are
/// published to [`CHANNEL`]; everything published there goes back to the
/// client (its own lines included).
///
/// | box     | carries  | meaning                                          |
/// |---------|----------|--------------------------------------------------|
/// | inbox   | `Bytes`  | what the client sent (to the transformer)        |
/// | control | `Signal` | producer finished (the client left) or shutdown: the pipeline winds down front to back, the subscriber leaves the backplane |
/// | outbox  | `Bytes`  | every line published on the backplane (from the subscriber) |
/// | signal  | `Signal` | the signal, once every stage has ended (closes the connection) |
pub fn chat_protocol(info: &ConnInfo) -> Box<dyn Component> {
    let p: Pipeline = pipeline![
        PureTransformer::new(line_prefixer(info.number)),
        PublishTo::<Bytes>::new(CHANNEL),
        SubscribeTo::<Bytes>::new(CHANNEL),
    ]
    .expect("the chat pipeline's stages fit together");
    Box::new(p)
}

/// The chat server on `addr` (port 0 picks a free port), writing a line
/// `#N joined from PEER` to `trace` per connection. It needs a
/// [`Backplane`] named [`CHANNEL`] running beside it.
pub fn server(addr: SocketAddr, trace: Sink) -> io::Result<ServerCore> {
    Ok(ServerCore::with_acceptor(
        support::listen(addr)?,
        move |info| {
            let peer = info.peer.map(|p| p.to_string()).unwrap_or_default();
            let _ = writeln!(trace.borrow_mut(), "#{} joined from {peer}", info.number);
            chat_protocol(info)
        },
    ))
}

/// One scripted user: its connection and what it heard.
struct User {
    client: Option<TcpClient>,
    say: Outbox<Bytes>,
    leave: Outbox<Signal>,
    heard: Inbox<Bytes>,
    end: Inbox<Signal>,
    lines: Vec<String>,
    partial: Vec<u8>,
    expect: usize,
    left: bool,
}

/// What one scripted user heard (each line without its newline) and how
/// its connection ended.
pub type Heard = (Vec<String>, Option<Signal>);

/// Scripted users of the chat. The first line of each user's script is
/// its greeting; users join one at a time, each connecting and sending its
/// greeting once the previous one has heard its own greeting back (so
/// user `k`, from 0, is connection number `k + 1`). When all have joined,
/// every user sends the rest of its lines at once; each leaves (half-closes
/// its connection) once it has heard every line it should: the greetings
/// of itself and of those who joined after it, and everybody's other
/// lines. When every user's connection has ended, the server is told to
/// shut down.
///
/// | box  | carries  | meaning                                             |
/// |------|----------|-----------------------------------------------------|
/// | stop | `Signal` | `Shutdown` for the server, once every user has gone |
///
/// Each user also has a connection of its own (a child `TcpClient`),
/// linked to four boxes of the party: `sayK` and `leaveK` (to the
/// connection's inbox and control), `heardK` and `endK` (from its outbox
/// and signal).
pub struct Party {
    /// Stops the server at the end.
    pub stop: Outbox<Signal>,
    users: Vec<User>,
    joined: usize,
    talking: bool,
    record: Rc<RefCell<Vec<Heard>>>,
}

impl Party {
    /// Users connecting to `addr`, each with its script (greeting first).
    pub fn new(addr: SocketAddr, scripts: &[&[&str]]) -> (Self, Rc<RefCell<Vec<Heard>>>) {
        let users = scripts
            .iter()
            .enumerate()
            .map(|(k, script)| {
                let client = TcpClient::to_addr(addr);
                let say = Outbox::named(format!("say{k}"), "lines for the chat".into());
                let leave = Outbox::named(format!("leave{k}"), "half-closes the connection".into());
                let heard = Inbox::named(format!("heard{k}"), "what the chat sent".into());
                let end = Inbox::named(format!("end{k}"), "how the connection ended".into());
                let linked = [
                    link(&say, &client.inbox),
                    link(&leave, &client.control),
                    link(&client.outbox, &heard),
                    link(&client.signal, &end),
                ];
                for l in linked {
                    l.expect("fresh boxes link");
                }
                let lines = if script.is_empty() {
                    vec![format!("hello from user {k}")]
                } else {
                    script.iter().map(|l| l.to_string()).collect()
                };
                User {
                    client: Some(client),
                    say,
                    leave,
                    heard,
                    end,
                    lines,
                    partial: Vec::new(),
                    expect: 0,
                    left: false,
                }
            })
            .collect();
        let record = Rc::new(RefCell::new(vec![(Vec::new(), None); scripts.len()]));
        let party = Party {
            stop: Outbox::new("stop", "shutdown for the server"),
            users,
            joined: 0,
            talking: false,
            record: record.clone(),
        };
        (party, record)
    }

    fn line(s: &str) -> Bytes {
        Bytes::from(format!("{s}\n"))
    }
}

impl Component for Party {
    fn step(&mut self, cx: &mut Cx) -> Step {
        let mut record = self.record.borrow_mut();
        for (u, (got, ended)) in self.users.iter_mut().zip(record.iter_mut()) {
            while let Some(b) = u.heard.recv() {
                u.partial.extend_from_slice(&b);
            }
            while let Some(i) = u.partial.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = u.partial.drain(..=i).collect();
                got.push(String::from_utf8_lossy(&line[..i]).into_owned());
            }
            if let Some(sig) = u.end.recv() {
                *ended = Some(sig);
            }
        }
        while cx.next_exit().is_some() {}
        // Joining, one at a time.
        while self.joined < self.users.len() {
            let k = self.joined;
            let u = &mut self.users[k];
            if let Some(client) = u.client.take() {
                cx.spawn_child(client);
                let _ = u.say.send(Self::line(&u.lines[0]));
            }
            let mine = format!("[{}] {}", k + 1, u.lines[0]);
            let (got, ended) = &record[k];
            if !got.contains(&mine) && ended.is_none() {
                return Step::Pause;
            }
            self.joined += 1;
        }
        // Everyone is in: talk.
        if !self.talking {
            self.talking = true;
            let n = self.users.len();
            let talk: usize = self.users.iter().map(|u| u.lines.len() - 1).sum();
            for (k, u) in self.users.iter_mut().enumerate() {
                for l in &u.lines[1..] {
                    let _ = u.say.send(Self::line(l));
                }
                u.expect = (n - k) + talk;
            }
        }
        for (u, (got, ended)) in self.users.iter_mut().zip(record.iter()) {
            if !u.left && (got.len() >= u.expect || ended.is_some()) {
                u.left = true;
                let _ = u.leave.send(Signal::ProducerFinished);
            }
        }
        if record.iter().all(|(_, ended)| ended.is_some()) {
            let _ = self.stop.send(Signal::Shutdown);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.stop);
        for u in &self.users {
            set.add(&u.say).add(&u.leave).add(&u.heard).add(&u.end);
        }
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The address the server listened on.
    pub addr: SocketAddr,
    /// What each scripted user heard, line by line (without newlines), in
    /// the order the users were given.
    pub heard: Vec<Vec<String>>,
    /// How each user's connection ended (`ProducerFinished`: a clean close
    /// by the server after the user left).
    pub user_ends: Vec<Option<Signal>>,
    /// The backplane's end signal (the server's `Shutdown`, passed on).
    pub backplane_end: Option<Signal>,
    /// Whether the deadline stopped the system.
    pub timed_out: bool,
    /// How the scheduler's run ended.
    pub ended: Ended,
}

/// Runs the chat server on `addr` with the backplane beside it and, if
/// `users` is not empty, a [`Party`] of scripted users (greeting first in
/// each script). When the users have all gone the server is stopped, and
/// its end stops the backplane; if that takes longer than `limit` the
/// system is stopped. With no users and no limit it serves until killed.
pub fn run(
    addr: SocketAddr,
    users: &[&[&str]],
    limit: Option<Duration>,
    trace: Sink,
) -> io::Result<Outcome> {
    let server = server(addr, trace.clone())?;
    let addr = server
        .local_addr()
        .expect("a bound listener has an address");
    let _ = writeln!(trace.borrow_mut(), "chat server listening on {addr}");
    let backplane = Backplane::<Bytes>::new(CHANNEL);
    link(&server.signal, &backplane.control).expect("fresh boxes link");
    let mut s = Scheduler::new();
    let mut report = None;
    if let Some(after) = limit {
        let (deadline, r) = Deadline::new(after);
        link(&backplane.signal, &deadline.control).expect("fresh boxes link");
        s.spawn(deadline);
        report = Some(r);
    }
    // The backplane before the server, so it is registered before any
    // connection looks for it.
    s.spawn(backplane);
    let mut record = None;
    if !users.is_empty() {
        let (party, r) = Party::new(addr, users);
        link(&party.stop, &server.control).expect("fresh boxes link");
        s.spawn(party);
        record = Some(r);
    }
    s.spawn(server);
    let ended = s.run();
    let (heard, user_ends) = record
        .map(|r| std::mem::take(&mut *r.borrow_mut()))
        .unwrap_or_default()
        .into_iter()
        .unzip();
    let report = report.map(|r| r.borrow().clone()).unwrap_or_default();
    Ok(Outcome {
        addr,
        heard,
        user_ends,
        backplane_end: report.end,
        timed_out: report.fired,
        ended,
    })
}

fn main() {
    let addr = support::address_or_exit("chat_server", std::env::args().nth(1).as_deref());
    if let Err(e) = run(addr, &[], None, support::stdout()) {
        eprintln!("chat_server: cannot listen on {addr}: {e}");
        std::process::exit(1);
    }
}
