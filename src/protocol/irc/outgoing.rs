//! What the client sends: the commands its `talk` inbox takes, their
//! encoding (long texts cut to fit a line, on a UTF-8 boundary), and the
//! token bucket that paces them.

use std::time::{Duration, Instant};

use super::ctcp::Ctcp;
use super::lines::MAX_LINE;
use super::message::{EncodeError, Message};

/// A command for [`IrcClient`](super::IrcClient)'s `talk` inbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Talk {
    /// Joins a channel.
    Join(String),
    /// Joins a channel that has a key.
    JoinWithKey(String, String),
    /// Leaves a channel, with an optional reason.
    Part(String, Option<String>),
    /// Says something to a channel or a nick; a text too long for one line
    /// goes as several.
    Privmsg(String, String),
    /// A notice to a channel or a nick (never answered automatically).
    Notice(String, String),
    /// `/me`: a CTCP ACTION to a channel or a nick.
    Action(String, String),
    /// Changes nick.
    Nick(String),
    /// Leaves the server with an optional message (the default one
    /// otherwise), after what is queued has gone; then the client ends.
    Quit(Option<String>),
    /// Any other command, sent as it is (checked like any other).
    Raw(Message),
}

/// The token bucket on the send queue: up to `burst` lines at once, then
/// one every `interval` (servers disconnect a client that floods them).
/// Kept on the scheduler's clock, so virtual time in tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FloodControl {
    /// Lines that may go at once after a quiet spell (at least 1).
    pub burst: u32,
    /// Time per line after that; zero: no pacing.
    pub interval: Duration,
}

impl Default for FloodControl {
    /// 5 lines at once, then one every 2 seconds: within what common
    /// servers allow (ngIRCd, InspIRCd, Solanum) without penalty.
    fn default() -> Self {
        FloodControl {
            burst: 5,
            interval: Duration::from_secs(2),
        }
    }
}

/// The bucket's state: `clock` runs ahead of now by the time the lines
/// sent recently have used; a line may go while it is less than the
/// burst's worth ahead (the algorithm of RFC 1459 §8.10, as clients use it).
#[derive(Clone, Debug, Default)]
pub(crate) struct Bucket {
    clock: Option<Instant>,
}

impl Bucket {
    /// Takes a token now, or says when one will be there.
    pub(crate) fn take(&mut self, fc: &FloodControl, now: Instant) -> Result<(), Instant> {
        if fc.interval.is_zero() {
            return Ok(());
        }
        let clock = self.clock.map_or(now, |c| c.max(now));
        let window = fc.interval * fc.burst.max(1);
        if clock + fc.interval <= now + window {
            self.clock = Some(clock + fc.interval);
            Ok(())
        } else {
            Err(clock + fc.interval - window)
        }
    }

    /// Uses a token whether or not one is there (registration, replies
    /// the server waits for), so what follows is paced all the same.
    pub(crate) fn force(&mut self, fc: &FloodControl, now: Instant) {
        if self.take(fc, now).is_err() {
            self.clock = self.clock.map(|c| c + fc.interval);
        }
    }
}

/// The most bytes a server may put before our command when it relays it:
/// `:nick!user@host ` (nick and user as given; 63 bytes of host, the
/// longest DNS label a server shows, unless we know our real prefix).
pub(crate) fn relay_prefix_len(nick: &str, user: &str, known: Option<usize>) -> usize {
    match known {
        Some(n) => n + 2,
        None => 1 + nick.len() + 2 + user.len() + 1 + 63 + 1,
    }
}

/// Cuts `text` into pieces of at most `max` bytes, each ending on a UTF-8
/// character boundary. An empty text is one empty piece.
pub fn split_text(text: &str, max: usize) -> Vec<&str> {
    let max = max.max(4); // one character always fits
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    if !rest.is_empty() || out.is_empty() {
        out.push(rest);
    }
    out
}

/// Encodes a talk command into lines (more than one for a long text),
/// appending each to `out`. `prefix_len` is what the server may add
/// before each when relaying it. On an error nothing is appended.
pub(crate) fn encode_talk(
    talk: &Talk,
    prefix_len: usize,
    quit_default: &str,
    out: &mut Vec<Vec<u8>>,
) -> Result<(), EncodeError> {
    let one = |m: Message, out: &mut Vec<Vec<u8>>| -> Result<(), EncodeError> {
        out.push(m.to_line()?);
        Ok(())
    };
    // Channels, keys and nicks are never the trailing parameter on the
    // wire: a space in one would make it two.
    let middle = |s: &str| {
        if s.is_empty() || s.starts_with(':') || s.contains(' ') {
            Err(EncodeError::BadMiddle { index: 0 })
        } else {
            Ok(())
        }
    };
    match talk {
        Talk::Join(c) | Talk::Part(c, _) | Talk::Nick(c) | Talk::JoinWithKey(c, _) => middle(c)?,
        _ => {}
    }
    if let Talk::JoinWithKey(_, k) = talk {
        middle(k)?;
    }
    match talk {
        Talk::Join(c) => one(Message::new("JOIN", &[c]), out),
        Talk::JoinWithKey(c, k) => one(Message::new("JOIN", &[c, k]), out),
        Talk::Part(c, None) => one(Message::new("PART", &[c]), out),
        Talk::Part(c, Some(r)) => one(Message::new("PART", &[c, r]), out),
        Talk::Nick(n) => one(Message::new("NICK", &[n]), out),
        Talk::Quit(r) => one(
            Message::new("QUIT", &[r.as_deref().unwrap_or(quit_default)]),
            out,
        ),
        Talk::Raw(m) => one(m.clone(), out),
        Talk::Privmsg(t, text) => split_into("PRIVMSG", t, text, None, prefix_len, out),
        Talk::Notice(t, text) => split_into("NOTICE", t, text, None, prefix_len, out),
        Talk::Action(t, text) => split_into("PRIVMSG", t, text, Some("ACTION"), prefix_len, out),
    }
}

fn split_into(
    cmd: &str,
    target: &str,
    text: &str,
    ctcp: Option<&str>,
    prefix_len: usize,
    out: &mut Vec<Vec<u8>>,
) -> Result<(), EncodeError> {
    // Check the whole text (and target) first, so a refusal sends nothing.
    Message::new(cmd, &[target, "x"]).to_line()?;
    Message::new(cmd, &["x", text]).check()?;
    let wrap = ctcp.map_or(0, |w| w.len() + 3); // \x01WORD space ... \x01
    let fixed = prefix_len + cmd.len() + 1 + target.len() + 2 + wrap + 2;
    let room = MAX_LINE.saturating_sub(fixed);
    if room < 4 {
        return Err(EncodeError::TooLong { len: fixed + 4 });
    }
    let start = out.len();
    for piece in split_text(text, room) {
        let body = match ctcp {
            Some(w) => Ctcp::wrap(w, piece),
            None => piece.to_string(),
        };
        match Message::new(cmd, &[target, &body]).to_line() {
            Ok(l) => out.push(l),
            Err(e) => {
                out.truncate(start);
                return Err(e);
            }
        }
    }
    Ok(())
}
