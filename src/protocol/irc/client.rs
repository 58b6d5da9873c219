//! IrcClient: an IRC session over a byte connection. It registers, falls
//! back to other nicks when one is taken, answers PINGs and CTCP
//! VERSION/PING, keeps track of its channels, paces what it sends, and
//! passes on every message it hears, parsed.
//!
//! | box         | carries  | meaning                                                      |
//! |-------------|----------|--------------------------------------------------------------|
//! | inbox       | `Bytes`  | what the server sent, in chunks cut anywhere                 |
//! | talk        | [`Talk`] | commands to send: join, part, say, act, notice, nick, quit, raw |
//! | net_signal  | `Signal` | the connection's end (a `TcpClient`'s `signal`)              |
//! | control     | `Signal` | producer finished: quit (default message), then end; shutdown: close now |
//! | outbox      | `Bytes`  | lines for the server, one per message, CR LF ended           |
//! | heard       | [`Heard`]| every message heard, lines too long or unparsable, commands refused |
//! | net_control | `Signal` | to the connection: producer finished after QUIT (send, then close), shutdown otherwise |
//! | signal      | `Signal` | once, at the end: `ProducerFinished` after a quit, `Shutdown` when told, else `Failed(`[`IrcError`]`)` |
//!
//! Registration (PASS, NICK, USER) goes out at the first step; commands
//! from `talk` wait in the send queue until the server's welcome (001),
//! then go out through the flood control ([`FloodControl`], on the
//! scheduler's clock). Answers the server waits for (PONG) jump the
//! queue. A text too long for one line is sent as several, cut on UTF-8
//! boundaries, leaving room for the prefix the server adds when relaying
//! it. A command whose text holds CR, LF or NUL is refused (reported on
//! `heard`), never sent.
//!
//! Shutdown: a QUIT (from `talk`, or producer finished on `control`) is
//! sent after what is queued, the connection is told to finish, and the
//! client ends with `ProducerFinished` when the server closes (or after
//! `quit_timeout`). Registration refused, the server closing on its own,
//! a ping time-out or a failed connection end it with a typed
//! [`IrcError`] and close the connection.
//!
//! ```
//! use kamaelia::protocol::irc::{IrcClient, IrcConfig};
//! let irc = IrcClient::new(IrcConfig::new("kamaelia").join(&["#test"]));
//! let state = irc.state();
//! assert!(!state.borrow().registered);
//! ```

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use crate::axon::{Alarm, BoxSet, Component, Cx, Full, Inbox, Outbox, Signal, Step};
use crate::internet::NetError;

use super::config::{irc_eq, Heard, IrcConfig, IrcError, IrcState, StateHandle};
use super::ctcp::{Ctcp, CtcpKind};
use super::lines::{LineEvent, LineReader};
use super::message::Message;
use super::outgoing::{encode_talk, relay_prefix_len, Bucket, Talk};

/// Lines handled per step before others get a turn.
const LINES_PER_STEP: usize = 256;
/// CTCP requests are not answered while this many lines wait to be sent.
pub const CTCP_QUEUE_LIMIT: usize = 8;

/// How far a step's reading got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Read {
    /// Everything received has been handled.
    Drained,
    /// `heard` is full.
    Blocked,
    /// The step's budget ran out with lines left.
    More,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Start,
    Registering,
    Registered,
    /// QUIT has gone; waiting for the server to close.
    Quitting,
}

/// An IRC session; see the module documentation.
pub struct IrcClient {
    /// Bytes from the server.
    pub inbox: Inbox<Bytes>,
    /// Commands.
    pub talk: Inbox<Talk>,
    /// The connection's end.
    pub net_signal: Inbox<Signal>,
    /// Shutdown signals.
    pub control: Inbox<Signal>,
    /// Lines to the server.
    pub outbox: Outbox<Bytes>,
    /// What was heard.
    pub heard: Outbox<Heard>,
    /// Tells the connection to finish or stop.
    pub net_control: Outbox<Signal>,
    /// Sent once, at the end.
    pub signal: Outbox<Signal>,
    config: IrcConfig,
    state: StateHandle,
    phase: Phase,
    /// QUIT is in the queue: nothing more is taken from `talk`.
    quit_queued: bool,
    reader: LineReader,
    /// Encoded lines waiting for the flood control.
    queue: VecDeque<Bytes>,
    bucket: Bucket,
    /// When the bucket has a token again (the queue waits until then).
    bucket_wait: Option<Instant>,
    /// Lines refused by a full outbox, sent before anything else.
    held_out: VecDeque<Bytes>,
    held_heard: Option<Heard>,
    /// Nicks tried during registration.
    tried: Vec<String>,
    /// Our full prefix's length, once the server has shown it.
    prefix_len: Option<usize>,
    register_deadline: Option<Instant>,
    last_heard: Option<Instant>,
    ping_sent: Option<Instant>,
    quit_deadline: Option<Instant>,
    /// The text of an ERROR the server sent.
    server_error: Option<String>,
    alarm: Alarm,
    scratch: Vec<Vec<u8>>,
}

impl IrcClient {
    /// A client registering as `config` says.
    pub fn new(config: IrcConfig) -> IrcClient {
        let state = IrcState {
            nick: config.nick.clone(),
            ..IrcState::default()
        };
        IrcClient {
            inbox: Inbox::new("inbox", "bytes from the server"),
            talk: Inbox::new("talk", "commands to send"),
            net_signal: Inbox::new("net_signal", "the connection's end"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "lines to the server"),
            heard: Outbox::new("heard", "messages heard, parsed"),
            net_control: Outbox::new("net_control", "finish or stop the connection"),
            signal: Outbox::new("signal", "once at the end, with the reason"),
            config,
            state: std::rc::Rc::new(std::cell::RefCell::new(state)),
            phase: Phase::Start,
            quit_queued: false,
            reader: LineReader::new(),
            queue: VecDeque::new(),
            bucket: Bucket::default(),
            bucket_wait: None,
            held_out: VecDeque::new(),
            held_heard: None,
            tried: Vec::new(),
            prefix_len: None,
            register_deadline: None,
            last_heard: None,
            ping_sent: None,
            quit_deadline: None,
            server_error: None,
            alarm: Alarm::default(),
            scratch: Vec::new(),
        }
    }

    /// The session state, shared (read it between steps).
    pub fn state(&self) -> StateHandle {
        self.state.clone()
    }

    fn nick(&self) -> String {
        self.state.borrow().nick.clone()
    }

    fn registered(&self) -> bool {
        self.state.borrow().registered
    }

    /// Sends a line now (registration, PONG), bypassing the queue but
    /// using a token, so what follows is paced all the same.
    fn send_now(&mut self, cx: &mut Cx, m: Message) {
        match m.to_line() {
            Ok(l) => {
                self.bucket.force(&self.config.flood, cx.now());
                self.put_out(Bytes::from(l));
            }
            Err(error) => log::warn!("irc: not sent: {m}: {error}"),
        }
    }

    fn put_out(&mut self, line: Bytes) {
        self.state.borrow_mut().lines_sent += 1;
        if !self.held_out.is_empty() {
            self.held_out.push_back(line);
            return;
        }
        if let Err(Full(line)) = self.outbox.send(line) {
            self.held_out.push_back(line);
        }
    }

    /// Encodes a command into the queue, or reports why not.
    fn enqueue(&mut self, talk: Talk) -> bool {
        let prefix = relay_prefix_len(&self.nick(), &self.config.user, self.prefix_len);
        self.scratch.clear();
        match encode_talk(&talk, prefix, &self.config.quit_message, &mut self.scratch) {
            Ok(()) => {
                self.queue.extend(self.scratch.drain(..).map(Bytes::from));
                true
            }
            Err(error) => self.hear(Heard::Refused { talk, error }),
        }
    }

    /// Passes something heard on; false if it had to be held.
    fn hear(&mut self, h: Heard) -> bool {
        match self.heard.send(h) {
            Ok(()) => true,
            Err(Full(h)) => {
                self.held_heard = Some(h);
                false
            }
        }
    }

    fn register(&mut self, cx: &mut Cx) {
        if let Some(pw) = self.config.password.clone() {
            self.send_now(cx, Message::new("PASS", &[&pw]));
        }
        let nick = self.config.nick.clone();
        self.tried.push(nick.clone());
        self.send_now(cx, Message::new("NICK", &[&nick]));
        let (user, real) = (self.config.user.clone(), self.config.realname.clone());
        self.send_now(cx, Message::new("USER", &[&user, "0", "*", &real]));
        self.register_deadline = Some(cx.now() + self.config.register_timeout);
        self.phase = Phase::Registering;
    }

    /// Ends: tells the connection, signals once.
    fn end(&mut self, cx: &mut Cx, net: Signal, sig: Signal) -> Step {
        self.alarm.clear(cx);
        let _ = self.net_control.send(net);
        let _ = self.signal.send(sig);
        Step::Done
    }

    fn fail(&mut self, cx: &mut Cx, e: IrcError) -> Step {
        log::debug!("irc: {e}");
        self.end(cx, Signal::Shutdown, Signal::failed(e))
    }

    /// Handles one message from the server; `Err` ends the client.
    fn on_message(&mut self, cx: &mut Cx, m: &Message) -> Result<(), IrcError> {
        let me = self.nick();
        let from_me = m.source_nick().is_some_and(|n| irc_eq(n, &me));
        if from_me && self.prefix_len.is_none() {
            if let Some(p) = m.prefix.as_ref().filter(|p| p.host.is_some()) {
                self.prefix_len = Some(p.wire_len());
            }
        }
        let cmd = &m.command;
        if cmd.is("PING") {
            let mut pong = Message::new("PONG", &[]);
            pong.params.clone_from(&m.params);
            self.send_now(cx, pong);
        } else if cmd.is("ERROR") {
            self.server_error = Some(m.trailing().unwrap_or("").to_string());
        } else if let Some(n) = cmd.numeric() {
            self.on_numeric(cx, n, m)?;
        } else if cmd.is("JOIN") && from_me {
            if let Some(c) = m.param(0) {
                self.state.borrow_mut().channels.insert(c.to_string());
            }
        } else if cmd.is("PART") && from_me {
            if let Some(c) = m.param(0) {
                self.forget_channel(c);
            }
        } else if cmd.is("KICK") && m.param(1).is_some_and(|n| irc_eq(n, &me)) {
            let c = m.param(0).unwrap_or("").to_string();
            self.forget_channel(&c);
        } else if cmd.is("NICK") && from_me {
            if let Some(n) = m.param(0) {
                // Our prefix as relayed changes length with the nick.
                self.prefix_len = self.prefix_len.map(|l| l - me.len() + n.len());
                self.state.borrow_mut().nick = n.to_string();
            }
        } else if cmd.is("PRIVMSG") {
            self.answer_ctcp(m);
        }
        Ok(())
    }

    fn forget_channel(&mut self, c: &str) {
        self.state.borrow_mut().channels.retain(|x| !irc_eq(x, c));
    }

    fn on_numeric(&mut self, cx: &mut Cx, n: u16, m: &Message) -> Result<(), IrcError> {
        let text = || m.trailing().unwrap_or("").to_string();
        match n {
            1 if self.phase == Phase::Registering => {
                {
                    let mut st = self.state.borrow_mut();
                    st.registered = true;
                    if let Some(nick) = m.param(0) {
                        st.nick = nick.to_string();
                    }
                }
                self.phase = Phase::Registered;
                self.register_deadline = None;
                let joins: Vec<Talk> = self
                    .config
                    .channels
                    .iter()
                    .cloned()
                    .map(Talk::Join)
                    .collect();
                // Joins go first, ahead of whatever the program queued.
                let queued = std::mem::take(&mut self.queue);
                for j in joins {
                    self.enqueue(j);
                }
                self.queue.extend(queued);
            }
            // Nick in use, erroneous, collision, unavailable.
            432 | 433 | 436 | 437 if self.phase == Phase::Registering => {
                let Some(next) = self.config.fallback_nick(self.tried.len() - 1) else {
                    return Err(IrcError::NoNickAvailable {
                        tried: self.tried.clone(),
                    });
                };
                self.tried.push(next.clone());
                self.state.borrow_mut().nick = next.clone();
                self.send_now(cx, Message::new("NICK", &[&next]));
            }
            464 => return Err(IrcError::BadPassword(text())),
            465 => return Err(IrcError::Banned(text())),
            _ => {}
        }
        Ok(())
    }

    /// Answers CTCP VERSION and PING requests sent to us (unless the
    /// queue is already long: a flood of requests must not grow it).
    fn answer_ctcp(&mut self, m: &Message) {
        if self.queue.len() >= CTCP_QUEUE_LIMIT {
            return;
        }
        let (Some(c), Some(from)) = (m.ctcp(), m.prefix.as_ref()) else {
            return;
        };
        if from.user.is_none() {
            return; // from a server, not a person
        }
        let reply = match c.kind {
            CtcpKind::Version => Ctcp::new(CtcpKind::Version, &self.config.version),
            CtcpKind::Ping => c.clone(),
            _ => return,
        };
        let to = from.nick.clone();
        self.enqueue(Talk::Raw(Message::new("NOTICE", &[&to, &reply.to_text()])));
    }

    /// Reads lines and handles them, up to a step's worth.
    fn read_lines(&mut self, cx: &mut Cx) -> Result<Read, IrcError> {
        if let Some(h) = self.held_heard.take() {
            if !self.hear(h) {
                return Ok(Read::Blocked);
            }
        }
        for _ in 0..LINES_PER_STEP {
            let ev = match self.reader.next_line() {
                Some(ev) => ev,
                None => match self.inbox.recv() {
                    Some(chunk) => {
                        self.reader.push(&chunk);
                        continue;
                    }
                    None => return Ok(Read::Drained),
                },
            };
            self.last_heard = Some(cx.now());
            self.ping_sent = None;
            let (h, outcome) = match ev {
                LineEvent::Error(e) => (Heard::TooLong(e), Ok(())),
                LineEvent::Line(l) if l.is_empty() => continue,
                LineEvent::Line(l) => match Message::parse_bytes(&l) {
                    Ok(m) => {
                        let outcome = self.on_message(cx, &m);
                        (Heard::Message(m), outcome)
                    }
                    Err(error) => {
                        let line = String::from_utf8_lossy(&l).into_owned();
                        (Heard::Unparsed { line, error }, Ok(()))
                    }
                },
            };
            // What ends the session is heard too, before the end.
            let passed = self.hear(h);
            outcome?;
            if !passed {
                return Ok(Read::Blocked);
            }
        }
        Ok(Read::More)
    }

    /// Takes commands from `talk` while not quitting.
    fn take_talk(&mut self) {
        while !self.quit_queued && self.phase != Phase::Quitting {
            let Some(t) = self.talk.recv() else { break };
            self.enqueue_talk(t);
        }
    }

    /// Queues a command; QUIT goes behind what waits (before the welcome
    /// too: it goes once registration is over, after what was queued).
    fn enqueue_talk(&mut self, t: Talk) {
        let quit = matches!(t, Talk::Quit(_));
        if self.enqueue(t) && quit {
            self.quit_queued = true;
        }
    }

    fn quit_sent(&mut self, cx: &mut Cx) {
        self.phase = Phase::Quitting;
        self.quit_deadline = Some(cx.now() + self.config.quit_timeout);
        let _ = self.net_control.send(Signal::ProducerFinished);
    }

    /// Sends what the flood control allows.
    fn flush_queue(&mut self, cx: &mut Cx) {
        while let Some(l) = self.held_out.pop_front() {
            if let Err(Full(l)) = self.outbox.send(l) {
                self.held_out.push_front(l);
                return;
            }
        }
        if self.phase != Phase::Registered {
            return;
        }
        self.bucket_wait = None;
        // Lines wait in the queue (not in `held_out`) while the connection
        // is full, so the bucket is not spent on lines that cannot go.
        while !self.queue.is_empty() && self.held_out.is_empty() {
            if let Err(at) = self.bucket.take(&self.config.flood, cx.now()) {
                self.bucket_wait = Some(at);
                break;
            }
            let l = self.queue.pop_front().expect("not empty");
            self.put_out(l);
            if self.queue.is_empty() && self.quit_queued {
                self.quit_sent(cx);
            }
        }
        self.state.borrow_mut().queued = self.queue.len();
    }

    /// The connection ended: how that ends the client.
    fn net_ended(&mut self, cx: &mut Cx, sig: Signal) -> Step {
        let registered = self.registered();
        if self.phase == Phase::Quitting {
            return self.end(cx, Signal::Shutdown, Signal::ProducerFinished);
        }
        let e = match (&sig, self.server_error.take()) {
            (_, Some(text)) => IrcError::ServerError { text, registered },
            (Signal::Failed(f), None) => match f.downcast_ref::<NetError>() {
                Some(n) => IrcError::Connection(n.clone()),
                None => IrcError::ServerClosed { registered },
            },
            _ => IrcError::ServerClosed { registered },
        };
        self.fail(cx, e)
    }

    /// Time-outs; `Some` ends the client.
    fn check_timers(&mut self, cx: &mut Cx) -> Option<Step> {
        let now = cx.now();
        if self.register_deadline.is_some_and(|t| now >= t) {
            return Some(self.fail(cx, IrcError::RegistrationTimedOut));
        }
        if self.quit_deadline.is_some_and(|t| now >= t) {
            return Some(self.end(cx, Signal::Shutdown, Signal::ProducerFinished));
        }
        if self.phase == Phase::Registered {
            let quiet_since = *self.last_heard.get_or_insert(now);
            match self.ping_sent {
                Some(t) if now >= t + self.config.ping_timeout => {
                    return Some(self.fail(cx, IrcError::PingTimeout));
                }
                None if now >= quiet_since + self.config.ping_after => {
                    self.ping_sent = Some(now);
                    self.send_now(cx, Message::new("PING", &["kamaelia"]));
                }
                _ => {}
            }
        }
        None
    }

    fn next_deadline(&self) -> Option<Instant> {
        let ping = match (self.phase, self.ping_sent, self.last_heard) {
            (Phase::Registered, Some(t), _) => Some(t + self.config.ping_timeout),
            (Phase::Registered, None, Some(t)) => Some(t + self.config.ping_after),
            _ => None,
        };
        [
            self.register_deadline,
            self.quit_deadline,
            self.bucket_wait,
            ping,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

impl IrcClient {
    /// Sets the one timer for the nearest deadline. A timer already armed
    /// for sooner is kept (its wake finds nothing due and arms again), so
    /// the ping deadline moving on with every line heard costs nothing.
    fn arm(&mut self, cx: &mut Cx) {
        let next = self.next_deadline();
        let keep = match (self.alarm.deadline(), next) {
            (Some(armed), Some(n)) => armed > cx.now() && armed <= n,
            _ => false,
        };
        if !keep {
            self.alarm.set_to(cx, next);
        }
    }
}

impl Component for IrcClient {
    fn step(&mut self, cx: &mut Cx) -> Step {
        if self.phase == Phase::Start {
            self.register(cx);
        }
        let mut finish = false;
        while let Some(sig) = self.control.recv() {
            if sig.is_shutdown() {
                return self.end(cx, Signal::Shutdown, Signal::Shutdown);
            }
            finish = true;
        }
        let read = match self.read_lines(cx) {
            Ok(r) => r,
            Err(e) => return self.fail(cx, e),
        };
        if read == Read::Drained {
            // The connection's end counts once what came before it is read.
            if let Some(sig) = self.net_signal.recv() {
                return self.net_ended(cx, sig);
            }
        }
        self.take_talk();
        if finish && !self.quit_queued && self.phase != Phase::Quitting {
            // Producer finished: what came on `talk` before it goes first.
            self.enqueue_talk(Talk::Quit(None));
        }
        if let Some(end) = self.check_timers(cx) {
            return end;
        }
        self.flush_queue(cx);
        self.arm(cx);
        if read == Read::More {
            return Step::Yield;
        }
        if read == Read::Blocked || !self.held_out.is_empty() || !self.talk.is_empty() {
            // Waiting for room on `heard` or `outbox`; or quitting, when
            // commands that came too late stay in `talk`.
            cx.hold_input();
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        set.add(&self.inbox)
            .add(&self.talk)
            .add(&self.net_signal)
            .add(&self.control)
            .add(&self.outbox)
            .add(&self.heard)
            .add(&self.net_control)
            .add(&self.signal);
    }
}
