//! CTCP: requests and replies carried inside PRIVMSG and NOTICE text
//! between `\x01` bytes (`\x01ACTION waves\x01` is `/me waves`).
//!
//! ```
//! use kamaelia::protocol::irc::{Ctcp, CtcpKind};
//! let c = Ctcp::parse("\x01ACTION waves\x01").unwrap();
//! assert_eq!(c.kind, CtcpKind::Action);
//! assert_eq!(c.arg, "waves");
//! assert_eq!(c.to_text(), "\x01ACTION waves\x01");
//! ```

/// The CTCP commands the client knows.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CtcpKind {
    /// `/me`: an action.
    Action,
    /// A request for (or, in a NOTICE, the answer with) the client's version.
    Version,
    /// A round-trip probe, answered with the same argument.
    Ping,
    /// Any other, upper-cased.
    Other(String),
}

impl CtcpKind {
    /// The word on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            CtcpKind::Action => "ACTION",
            CtcpKind::Version => "VERSION",
            CtcpKind::Ping => "PING",
            CtcpKind::Other(s) => s,
        }
    }
}

/// One CTCP message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ctcp {
    /// The command.
    pub kind: CtcpKind,
    /// What follows the command (empty when nothing does).
    pub arg: String,
}

impl Ctcp {
    /// A CTCP message.
    pub fn new(kind: CtcpKind, arg: &str) -> Ctcp {
        Ctcp {
            kind,
            arg: arg.to_string(),
        }
    }

    /// Recognises a text that starts with `\x01` (the closing `\x01` is
    /// optional, as some clients leave it off).
    pub fn parse(text: &str) -> Option<Ctcp> {
        let body = text.strip_prefix('\x01')?;
        let body = body.strip_suffix('\x01').unwrap_or(body);
        let (word, arg) = body.split_once(' ').unwrap_or((body, ""));
        if word.is_empty() {
            return None;
        }
        let kind = match word.to_ascii_uppercase().as_str() {
            "ACTION" => CtcpKind::Action,
            "VERSION" => CtcpKind::Version,
            "PING" => CtcpKind::Ping,
            w => CtcpKind::Other(w.to_string()),
        };
        Some(Ctcp {
            kind,
            arg: arg.to_string(),
        })
    }

    /// The text to put in a PRIVMSG or NOTICE.
    pub fn to_text(&self) -> String {
        Self::wrap(self.kind.as_str(), &self.arg)
    }

    /// `\x01WORD arg\x01` (no space when `arg` is empty).
    pub(crate) fn wrap(word: &str, arg: &str) -> String {
        if arg.is_empty() {
            format!("\x01{word}\x01")
        } else {
            format!("\x01{word} {arg}\x01")
        }
    }
}
