//! IRC messages: parsed from a line, encoded to one.
//!
//! A line is `[@tags ][:prefix ]COMMAND [params...] [:trailing]`
//! (RFC 1459 §2.3.1, IRCv3 message tags). [`Message::parse`] takes a line
//! without its CR LF; [`Message::encode`] writes one with it, and refuses
//! (with an [`EncodeError`]) anything that would not come back the same:
//! CR, LF or NUL anywhere (so text can never smuggle a second command
//! onto the wire), a space, a leading `:` or an empty value in any
//! parameter but the last. Only the last parameter is written with a
//! leading `:`, and only when it needs one. The original put a `:` before
//! every parameter that had a space, which made later parameters vanish.
//!
//! ```
//! use kamaelia::protocol::irc::{Command, Message};
//! let m = Message::parse(":nick!user@host PRIVMSG #c :hello there").unwrap();
//! assert_eq!(m.command, Command::word("PRIVMSG"));
//! assert_eq!(m.params, ["#c", "hello there"]);
//! assert_eq!(m.prefix.as_ref().unwrap().nick, "nick");
//! assert_eq!(m.to_line().unwrap(), b":nick!user@host PRIVMSG #c :hello there\r\n");
//! ```

use std::fmt;

use super::ctcp::Ctcp;
use super::lines::{MAX_LINE, MAX_TAGS};

/// Where a message came from: `nick!user@host`, or a server's name (then
/// only `nick` is set, to the name).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Prefix {
    /// The nick, or the server's name.
    pub nick: String,
    /// The user (ident) part, after `!`.
    pub user: Option<String>,
    /// The host part, after `@`.
    pub host: Option<String>,
}

impl Prefix {
    /// Splits `nick!user@host` (either part may be missing).
    pub fn parse(s: &str) -> Prefix {
        let (rest, host) = match s.split_once('@') {
            Some((r, h)) => (r, Some(h.to_string())),
            None => (s, None),
        };
        let (nick, user) = match rest.split_once('!') {
            Some((n, u)) => (n, Some(u.to_string())),
            None => (rest, None),
        };
        Prefix {
            nick: nick.to_string(),
            user,
            host,
        }
    }

    /// Bytes it takes on the wire, without the `:` and the space.
    pub fn wire_len(&self) -> usize {
        self.nick.len()
            + self.user.as_ref().map_or(0, |u| u.len() + 1)
            + self.host.as_ref().map_or(0, |h| h.len() + 1)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.nick)?;
        if let Some(u) = &self.user {
            write!(f, "!{u}")?;
        }
        if let Some(h) = &self.host {
            write!(f, "@{h}")?;
        }
        Ok(())
    }
}

/// A command word (upper-cased) or a three-digit numeric reply.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// A named command such as `PRIVMSG`, in upper case.
    Word(String),
    /// A numeric reply such as `001` (RPL_WELCOME).
    Numeric(u16),
}

impl Command {
    /// A named command (upper-cased here).
    pub fn word(s: &str) -> Command {
        Command::Word(s.to_ascii_uppercase())
    }

    /// Parses a command token: letters, or exactly three digits.
    pub fn parse(s: &str) -> Result<Command, ParseError> {
        let b = s.as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_digit) {
            let n = b.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
            return Ok(Command::Numeric(n));
        }
        if !b.is_empty() && b.iter().all(u8::is_ascii_alphabetic) {
            return Ok(Command::word(s));
        }
        Err(ParseError::BadCommand(s.to_string()))
    }

    /// True for the named command `w` (given in upper case).
    pub fn is(&self, w: &str) -> bool {
        matches!(self, Command::Word(x) if x == w)
    }

    /// The numeric, if it is one.
    pub fn numeric(&self) -> Option<u16> {
        match self {
            Command::Numeric(n) => Some(*n),
            Command::Word(_) => None,
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Word(w) => f.write_str(w),
            Command::Numeric(n) => write!(f, "{n:03}"),
        }
    }
}

/// One IRCv3 message tag: a key and its value, unescaped (`None` when the
/// tag has no `=`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tag {
    /// The key, with any `+` (client-only) or vendor prefix.
    pub key: String,
    /// The value, unescaped.
    pub value: Option<String>,
}

/// An IRC message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Message {
    /// IRCv3 tags, in the order sent.
    pub tags: Vec<Tag>,
    /// Who sent it, when the server says.
    pub prefix: Option<Prefix>,
    /// The command or numeric.
    pub command: Command,
    /// The parameters, the trailing one last (without its `:`).
    pub params: Vec<String>,
    /// The line was not valid UTF-8: bad bytes were replaced by U+FFFD.
    pub lossy: bool,
}

/// Why a line is not a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Nothing but spaces (or tags and a prefix) on the line.
    NoCommand,
    /// The command is neither letters nor three digits.
    BadCommand(String),
    /// A tag with an empty key.
    EmptyTagKey,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::NoCommand => f.write_str("no command on the line"),
            ParseError::BadCommand(c) => write!(f, "bad command {c:?}"),
            ParseError::EmptyTagKey => f.write_str("a message tag with an empty key"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Why a message cannot be sent as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// CR, LF or NUL in a parameter (`index`), prefix or tag: it would end
    /// the line early and start another command.
    LineBreak {
        /// Which parameter (`usize::MAX`: the prefix or a tag).
        index: usize,
    },
    /// A parameter other than the last is empty, has a space or starts
    /// with `:`.
    BadMiddle {
        /// Which parameter.
        index: usize,
    },
    /// The command is neither letters nor three digits.
    BadCommand(String),
    /// A tag key that is empty or has characters a key cannot have.
    BadTagKey(String),
    /// A prefix part with a space (or empty nick).
    BadPrefix,
    /// The line would be longer than the limit (`len` bytes, CR LF
    /// included, without tags).
    TooLong {
        /// Bytes it would take.
        len: usize,
    },
    /// The tags would be longer than their limit.
    TagsTooLong {
        /// Bytes they would take.
        len: usize,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::LineBreak { index } if *index == usize::MAX => {
                f.write_str("CR, LF or NUL in the prefix or a tag")
            }
            EncodeError::LineBreak { index } => {
                write!(f, "CR, LF or NUL in parameter {index}")
            }
            EncodeError::BadMiddle { index } => write!(
                f,
                "parameter {index} is empty, has a space or starts with ':' but is not the last"
            ),
            EncodeError::BadCommand(c) => write!(f, "bad command {c:?}"),
            EncodeError::BadTagKey(k) => write!(f, "bad tag key {k:?}"),
            EncodeError::BadPrefix => f.write_str("bad prefix"),
            EncodeError::TooLong { len } => {
                write!(f, "a line of {len} bytes (the limit is {MAX_LINE})")
            }
            EncodeError::TagsTooLong { len } => {
                write!(f, "tags of {len} bytes (the limit is {MAX_TAGS})")
            }
        }
    }
}

impl std::error::Error for EncodeError {}

fn has_break(s: &str) -> bool {
    s.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

fn valid_tag_key(k: &str) -> bool {
    let k = k.strip_prefix('+').unwrap_or(k);
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'/' | b'.' | b'_'))
}

impl Message {
    /// A message with no tags or prefix.
    pub fn new(command: &str, params: &[&str]) -> Message {
        Message {
            tags: Vec::new(),
            prefix: None,
            command: Command::word(command),
            params: params.iter().map(|p| p.to_string()).collect(),
            lossy: false,
        }
    }

    /// Parses a line (without its CR LF) as received: bytes that are not
    /// UTF-8 become U+FFFD and the message is marked [`Message::lossy`].
    pub fn parse_bytes(line: &[u8]) -> Result<Message, ParseError> {
        match std::str::from_utf8(line) {
            Ok(s) => Message::parse(s),
            Err(_) => {
                let mut m = Message::parse(&String::from_utf8_lossy(line))?;
                m.lossy = true;
                Ok(m)
            }
        }
    }

    /// Parses a line (without its CR LF). Runs of spaces between parts are
    /// taken as one, as servers do.
    pub fn parse(line: &str) -> Result<Message, ParseError> {
        let mut rest = line.trim_start_matches(' ');
        let mut tags = Vec::new();
        if let Some(t) = rest.strip_prefix('@') {
            let (t, r) = t.split_once(' ').unwrap_or((t, ""));
            tags = parse_tags(t)?;
            rest = r.trim_start_matches(' ');
        }
        let mut prefix = None;
        if let Some(p) = rest.strip_prefix(':') {
            let (p, r) = p.split_once(' ').unwrap_or((p, ""));
            prefix = Some(Prefix::parse(p));
            rest = r.trim_start_matches(' ');
        }
        let (cmd, r) = rest.split_once(' ').unwrap_or((rest, ""));
        if cmd.is_empty() {
            return Err(ParseError::NoCommand);
        }
        let command = Command::parse(cmd)?;
        rest = r;
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start_matches(' ');
            if rest.is_empty() {
                break;
            }
            if let Some(t) = rest.strip_prefix(':') {
                params.push(t.to_string());
                break;
            }
            let (p, r) = rest.split_once(' ').unwrap_or((rest, ""));
            params.push(p.to_string());
            rest = r;
        }
        Ok(Message {
            tags,
            prefix,
            command,
            params,
            lossy: false,
        })
    }

    /// The nick (or server) it came from, if the server said.
    pub fn source_nick(&self) -> Option<&str> {
        self.prefix.as_ref().map(|p| p.nick.as_str())
    }

    /// Parameter `i`, if there is one.
    pub fn param(&self, i: usize) -> Option<&str> {
        self.params.get(i).map(String::as_str)
    }

    /// The last parameter (the text of a PRIVMSG, the reason of a QUIT).
    pub fn trailing(&self) -> Option<&str> {
        self.params.last().map(String::as_str)
    }

    /// The value of tag `key` (`Some(None)`: present without a value).
    pub fn tag(&self, key: &str) -> Option<Option<&str>> {
        self.tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_deref())
    }

    /// The CTCP request or reply a PRIVMSG or NOTICE carries, if any.
    pub fn ctcp(&self) -> Option<Ctcp> {
        if !(self.command.is("PRIVMSG") || self.command.is("NOTICE")) || self.params.len() < 2 {
            return None;
        }
        Ctcp::parse(self.trailing()?)
    }

    /// Writes the line, CR LF included, to `out`; on an error nothing is
    /// written.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.check()?;
        let start = out.len();
        if !self.tags.is_empty() {
            out.push(b'@');
            for (i, t) in self.tags.iter().enumerate() {
                if i > 0 {
                    out.push(b';');
                }
                out.extend_from_slice(t.key.as_bytes());
                if let Some(v) = &t.value {
                    out.push(b'=');
                    escape_tag_value(v, out);
                }
            }
            out.push(b' ');
            let len = out.len() - start;
            if len > MAX_TAGS {
                out.truncate(start);
                return Err(EncodeError::TagsTooLong { len });
            }
        }
        let body = out.len();
        if let Some(p) = &self.prefix {
            out.push(b':');
            out.extend_from_slice(p.to_string().as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(self.command.to_string().as_bytes());
        let last = self.params.len().saturating_sub(1);
        for (i, p) in self.params.iter().enumerate() {
            out.push(b' ');
            if i == last && (p.is_empty() || p.starts_with(':') || p.contains(' ')) {
                out.push(b':');
            }
            out.extend_from_slice(p.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        let len = out.len() - body;
        if len > MAX_LINE {
            out.truncate(start);
            return Err(EncodeError::TooLong { len });
        }
        Ok(())
    }

    /// The line, CR LF included.
    pub fn to_line(&self) -> Result<Vec<u8>, EncodeError> {
        let mut v = Vec::with_capacity(64);
        self.encode(&mut v)?;
        Ok(v)
    }

    /// Everything [`Message::encode`] refuses, but the length.
    pub(crate) fn check(&self) -> Result<(), EncodeError> {
        if Command::parse(&self.command.to_string()).as_ref() != Ok(&self.command) {
            return Err(EncodeError::BadCommand(self.command.to_string()));
        }
        for t in &self.tags {
            if !valid_tag_key(&t.key) {
                return Err(EncodeError::BadTagKey(t.key.clone()));
            }
            if t.value.as_deref().is_some_and(|v| v.contains('\0')) {
                return Err(EncodeError::LineBreak { index: usize::MAX });
            }
        }
        if let Some(p) = &self.prefix {
            let parts = [Some(&p.nick), p.user.as_ref(), p.host.as_ref()];
            for s in parts.into_iter().flatten() {
                if has_break(s) {
                    return Err(EncodeError::LineBreak { index: usize::MAX });
                }
                if s.contains(' ') || s.is_empty() {
                    return Err(EncodeError::BadPrefix);
                }
            }
            if p.nick.starts_with('@') || p.nick.contains('!') || p.nick.contains('@') {
                return Err(EncodeError::BadPrefix);
            }
            if p.user.as_deref().is_some_and(|u| u.contains('@')) {
                return Err(EncodeError::BadPrefix);
            }
        }
        let last = self.params.len().saturating_sub(1);
        for (i, p) in self.params.iter().enumerate() {
            if has_break(p) {
                return Err(EncodeError::LineBreak { index: i });
            }
            if i < last && (p.is_empty() || p.starts_with(':') || p.contains(' ')) {
                return Err(EncodeError::BadMiddle { index: i });
            }
        }
        Ok(())
    }
}

impl fmt::Display for Message {
    /// The line as text, without CR LF (for logs; not checked).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.prefix {
            write!(f, ":{p} ")?;
        }
        write!(f, "{}", self.command)?;
        let last = self.params.len().saturating_sub(1);
        for (i, p) in self.params.iter().enumerate() {
            if i == last && (p.is_empty() || p.starts_with(':') || p.contains(' ')) {
                write!(f, " :{p}")?;
            } else {
                write!(f, " {p}")?;
            }
        }
        Ok(())
    }
}

fn parse_tags(s: &str) -> Result<Vec<Tag>, ParseError> {
    let mut tags = Vec::new();
    for item in s.split(';').filter(|i| !i.is_empty()) {
        let (key, value) = match item.split_once('=') {
            Some((k, v)) => (k, Some(unescape_tag_value(v))),
            None => (item, None),
        };
        if key.is_empty() || key == "+" {
            return Err(ParseError::EmptyTagKey);
        }
        tags.push(Tag {
            key: key.to_string(),
            value,
        });
    }
    Ok(tags)
}

/// IRCv3 tag value unescaping: `\:` `;`, `\s` space, `\\` `\`, `\r` CR,
/// `\n` LF; a backslash before anything else is dropped, and one at the
/// end too.
pub fn unescape_tag_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// IRCv3 tag value escaping, the inverse of [`unescape_tag_value`].
pub fn escape_tag_value(v: &str, out: &mut Vec<u8>) {
    for c in v.chars() {
        match c {
            ';' => out.extend_from_slice(b"\\:"),
            ' ' => out.extend_from_slice(b"\\s"),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\n' => out.extend_from_slice(b"\\n"),
            c => {
                let mut b = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
}
