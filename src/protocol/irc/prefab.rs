//! SimpleIrcClient: an [`IrcClient`] on a [`TcpClient`], as one
//! Graphline; and `informat` / `outformat`, which turn console lines into
//! commands and what is heard into lines to show (Kamaelia's
//! `SimpleIRCClientPrefab`, `informat` and `outformat`).
//!
//! | box     | carries   | meaning                                              |
//! |---------|-----------|------------------------------------------------------|
//! | inbox   | [`Talk`]  | commands (to the client's `talk`)                    |
//! | control | `Signal`  | producer finished: quit, then end; shutdown: close now |
//! | outbox  | [`Heard`] | what the client heard                                |
//! | signal  | `Signal`  | the client's end: `ProducerFinished` after a quit, else `Shutdown` or `Failed(`[`IrcError`](super::IrcError)`)` |
//!
//! Inside: `TCP.outbox → IRC.inbox`, `IRC.outbox → TCP.inbox`, the
//! connection's end `TCP.signal → IRC.net_signal`, and `IRC.net_control →
//! TCP.control`, so the client decides when the connection closes. The
//! graphline ends once both have ended.
//!
//! ```no_run
//! use kamaelia::axon::Scheduler;
//! use kamaelia::pipeline;
//! use kamaelia::protocol::irc::{informat, outformat, IrcConfig, SimpleIrcClient};
//! use kamaelia::util::{ConsoleEchoer, PureTransformer};
//! let irc = SimpleIrcClient::new("127.0.0.1", 6667, IrcConfig::new("kamaelia").join(&["#k"]));
//! let p = pipeline![
//!     kamaelia::axon::console_reader(),
//!     PureTransformer::new(|l: String| informat(&l, "#k")),
//!     irc,
//!     PureTransformer::new(|h| outformat(&h, "kamaelia")),
//!     ConsoleEchoer::<String>::new().newline(true),
//! ]
//! .unwrap();
//! let mut s = Scheduler::new();
//! s.spawn(p);
//! s.run();
//! ```

use crate::chassis::Graphline;
use crate::internet::TcpClient;

use super::client::IrcClient;
use super::config::{irc_eq, Heard, IrcConfig};
use super::ctcp::CtcpKind;
use super::message::Message;
use super::outgoing::Talk;

/// Builds the graphline; see the module documentation.
pub struct SimpleIrcClient;

impl SimpleIrcClient {
    /// A client for `host:port`, registering as `config` says.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(host: &str, port: u16, config: IrcConfig) -> Graphline {
        Self::around(TcpClient::new(host, port), IrcClient::new(config))
    }

    /// The graphline around a given connection and client (tests pass a
    /// scripted connection; a program keeps the client's state handle).
    pub fn around(tcp: TcpClient, irc: IrcClient) -> Graphline {
        Graphline::builder()
            .child("IRC", irc)
            .child("TCP", tcp)
            .link(("self", "inbox"), ("IRC", "talk"))
            .link(("self", "control"), ("IRC", "control"))
            .link(("IRC", "heard"), ("self", "outbox"))
            .link(("IRC", "signal"), ("self", "signal"))
            .link(("IRC", "outbox"), ("TCP", "inbox"))
            .link(("TCP", "outbox"), ("IRC", "inbox"))
            .link(("TCP", "signal"), ("IRC", "net_signal"))
            .link(("IRC", "net_control"), ("TCP", "control"))
            .build()
            .expect("the IRC and TCP boxes fit")
    }
}

/// A console line to a command: `/join #c`, `/part [#c] [reason]`, `/msg
/// nick text`, `/notice nick text`, `/me action` (to `channel`), `/nick
/// n`, `/quit [message]`, `/raw LINE` (any other `/cmd args` is sent as
/// `CMD args`); plain text is said to `channel`. `None` for an empty line
/// or one missing what its command needs.
pub fn informat(line: &str, channel: &str) -> Option<Talk> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return None;
    }
    let Some(cmd) = line.strip_prefix('/') else {
        return Some(Talk::Privmsg(channel.to_string(), line.to_string()));
    };
    let (word, rest) = cmd.split_once(' ').unwrap_or((cmd, ""));
    let rest = rest.trim_start();
    let (first, tail) = rest.split_once(' ').unwrap_or((rest, ""));
    let need = |s: &str| (!s.is_empty()).then(|| s.to_string());
    match word.to_ascii_lowercase().as_str() {
        "join" => Some(Talk::Join(need(first)?)),
        "part" | "leave" => {
            if first.starts_with(['#', '&', '+', '!']) {
                Some(Talk::Part(first.to_string(), need(tail)))
            } else {
                Some(Talk::Part(channel.to_string(), need(rest)))
            }
        }
        "msg" | "privmsg" => Some(Talk::Privmsg(need(first)?, need(tail)?)),
        "notice" => Some(Talk::Notice(need(first)?, need(tail)?)),
        "me" => Some(Talk::Action(channel.to_string(), need(rest)?)),
        "nick" => Some(Talk::Nick(need(first)?)),
        "quit" => Some(Talk::Quit(need(rest))),
        "raw" | "quote" => Message::parse(rest).ok().map(Talk::Raw),
        _ => Message::parse(cmd).ok().map(Talk::Raw),
    }
}

/// What was heard, as a line to show (`me` is our nick, to tell private
/// messages from channel ones); `None` for what is not worth showing
/// (PING, PONG).
pub fn outformat(heard: &Heard, me: &str) -> Option<String> {
    let m = match heard {
        Heard::Message(m) => m,
        Heard::TooLong(e) => return Some(format!("!!! {e}")),
        Heard::Unparsed { line, error } => return Some(format!("!!! {error}: {line}")),
        Heard::Refused { talk, error } => return Some(format!("!!! not sent ({error}): {talk:?}")),
    };
    let who = m.source_nick().unwrap_or("*");
    let p = |i: usize| m.param(i).unwrap_or("");
    let reason = |i: usize| match m.param(i) {
        Some(r) if !r.is_empty() => format!(" ({r})"),
        _ => String::new(),
    };
    let cmd = m.command.to_string();
    let line = match cmd.as_str() {
        "PING" | "PONG" => return None,
        "PRIVMSG" | "NOTICE" => {
            let to_me = irc_eq(p(0), me);
            let place = if to_me {
                String::new()
            } else {
                format!("[{}] ", p(0))
            };
            match m.ctcp() {
                Some(c) if c.kind == CtcpKind::Action => format!("{place}* {who} {}", c.arg),
                Some(c) => format!("{place}*** CTCP {} from {who} {}", c.kind.as_str(), c.arg),
                None if cmd == "NOTICE" => format!("{place}-{who}- {}", p(1)),
                None if to_me => format!("*{who}* {}", p(1)),
                None => format!("{place}<{who}> {}", p(1)),
            }
        }
        "JOIN" => format!("*** {who} has joined {}", p(0)),
        "PART" => format!("*** {who} has left {}{}", p(0), reason(1)),
        "QUIT" => format!("*** {who} has quit{}", reason(0)),
        "NICK" => format!("*** {who} is now known as {}", p(0)),
        "KICK" => format!(
            "*** {} was kicked from {} by {who}{}",
            p(1),
            p(0),
            reason(2)
        ),
        "TOPIC" => format!("*** {who} sets the topic of {}: {}", p(0), p(1)),
        "MODE" => format!("*** {who} sets mode {}", m.params.join(" ")),
        "ERROR" => format!("*** ERROR: {}", p(0)),
        _ if m.command.numeric().is_some() => {
            // The first parameter is our nick: not worth showing.
            format!("*** {}", m.params.get(1..).unwrap_or(&[]).join(" "))
        }
        _ => m.to_string(),
    };
    Some(line)
}
