//! The client's settings, what it hears, its typed end, and the state a
//! program can look at while it runs.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use crate::internet::NetError;

use super::lines::LineError;
use super::message::{EncodeError, Message, ParseError};
use super::outgoing::{FloodControl, Talk};

/// How the client registers and behaves.
#[derive(Clone, Debug)]
pub struct IrcConfig {
    /// The nick asked for first.
    pub nick: String,
    /// Nicks to try, in order, when the server says one is taken or not
    /// allowed; after them, the nick cut to 8 bytes with a digit 1..9.
    pub alt_nicks: Vec<String>,
    /// The user (ident) name.
    pub user: String,
    /// The real name.
    pub realname: String,
    /// The server password (sent as PASS first), if any.
    pub password: Option<String>,
    /// Channels joined once registered.
    pub channels: Vec<String>,
    /// Pacing of the send queue.
    pub flood: FloodControl,
    /// How long registration may take before the client gives up.
    pub register_timeout: Duration,
    /// Silence from the server after which the client sends a PING.
    pub ping_after: Duration,
    /// How long that PING may go unanswered (nothing at all heard) before
    /// the connection is taken as dead.
    pub ping_timeout: Duration,
    /// How long to wait, after QUIT, for the server to close.
    pub quit_timeout: Duration,
    /// The QUIT message when none is given.
    pub quit_message: String,
    /// The answer to a CTCP VERSION.
    pub version: String,
}

impl IrcConfig {
    /// Defaults for `nick`: user name the nick, no password, default
    /// pacing, 60 s to register, PING after 120 s of silence.
    pub fn new(nick: &str) -> IrcConfig {
        IrcConfig {
            nick: nick.to_string(),
            alt_nicks: Vec::new(),
            user: nick.to_ascii_lowercase(),
            realname: "Kamaelia IRC client".to_string(),
            password: None,
            channels: Vec::new(),
            flood: FloodControl::default(),
            register_timeout: Duration::from_secs(60),
            ping_after: Duration::from_secs(120),
            ping_timeout: Duration::from_secs(60),
            quit_timeout: Duration::from_secs(5),
            quit_message: "Kamaelia".to_string(),
            version: concat!("kamaelia-rs ", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }

    /// Sets the channels joined once registered.
    pub fn join(mut self, channels: &[&str]) -> Self {
        self.channels = channels.iter().map(|c| c.to_string()).collect();
        self
    }

    /// Sets the server password.
    pub fn password(mut self, pw: &str) -> Self {
        self.password = Some(pw.to_string());
        self
    }

    /// Sets the pacing.
    pub fn flood(mut self, fc: FloodControl) -> Self {
        self.flood = fc;
        self
    }

    /// The `k`-th nick to fall back on (from 0), if any is left.
    pub(crate) fn fallback_nick(&self, k: usize) -> Option<String> {
        if let Some(n) = self.alt_nicks.get(k) {
            return Some(n.clone());
        }
        let d = k - self.alt_nicks.len() + 1;
        if d > 9 {
            return None;
        }
        let mut cut = self.nick.len().min(8);
        while !self.nick.is_char_boundary(cut) {
            cut -= 1;
        }
        Some(format!("{}{d}", &self.nick[..cut]))
    }
}

/// What the client passes on from `heard`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Heard {
    /// A message from the server (every one, PINGs included).
    Message(Message),
    /// A line over the length limits (skipped).
    TooLong(LineError),
    /// A line that is not a message (shown lossily).
    Unparsed {
        /// The line.
        line: String,
        /// Why.
        error: ParseError,
    },
    /// A command from `talk` that was not sent, and why (a line break in
    /// its text, a space in a channel name...).
    Refused {
        /// The command.
        talk: Talk,
        /// Why.
        error: EncodeError,
    },
}

/// Why the client ended other than by quitting: carried by
/// `Signal::Failed` on its `signal` box.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IrcError {
    /// Every nick tried was taken or refused.
    NoNickAvailable {
        /// The nicks tried, in order.
        tried: Vec<String>,
    },
    /// The server refused the password (464).
    BadPassword(String),
    /// The server bans us (465).
    Banned(String),
    /// Registration did not complete in time.
    RegistrationTimedOut,
    /// The server sent ERROR (and closed).
    ServerError {
        /// Its text.
        text: String,
        /// Whether registration had completed.
        registered: bool,
    },
    /// The server closed the connection without a word.
    ServerClosed {
        /// Whether registration had completed.
        registered: bool,
    },
    /// Nothing heard, even after a PING.
    PingTimeout,
    /// The TCP connection failed (refused, reset, unreachable...).
    Connection(NetError),
}

impl fmt::Display for IrcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IrcError::NoNickAvailable { tried } => {
                write!(f, "no nick available (tried {})", tried.join(", "))
            }
            IrcError::BadPassword(t) => write!(f, "password refused: {t}"),
            IrcError::Banned(t) => write!(f, "banned: {t}"),
            IrcError::RegistrationTimedOut => f.write_str("registration timed out"),
            IrcError::ServerError { text, registered } => write!(
                f,
                "server error{}: {text}",
                if *registered {
                    ""
                } else {
                    " during registration"
                }
            ),
            IrcError::ServerClosed { registered } => write!(
                f,
                "server closed the connection{}",
                if *registered {
                    ""
                } else {
                    " during registration"
                }
            ),
            IrcError::PingTimeout => f.write_str("ping timeout"),
            IrcError::Connection(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for IrcError {}

/// What the client knows of its session, shared with the program (read it
/// between steps; the client alone writes it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IrcState {
    /// Our nick, as the server knows it.
    pub nick: String,
    /// Registration has completed.
    pub registered: bool,
    /// Channels we are in, as the server spelt them.
    pub channels: BTreeSet<String>,
    /// Lines sent.
    pub lines_sent: u64,
    /// Lines waiting for the flood control.
    pub queued: usize,
}

/// A shared view of [`IrcState`].
pub type StateHandle = Rc<RefCell<IrcState>>;

/// IRC's case-insensitive comparison (RFC 1459 casemapping: `[]\~` are
/// the upper case of `{}|^`).
pub fn irc_eq(a: &str, b: &str) -> bool {
    fn fold(c: u8) -> u8 {
        match c {
            b'[' => b'{',
            b']' => b'}',
            b'\\' => b'|',
            b'~' => b'^',
            c => c.to_ascii_lowercase(),
        }
    }
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| fold(x) == fold(y))
}
