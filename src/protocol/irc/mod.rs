//! IRC: a line codec, a client component that registers, answers PINGs,
//! tracks its channels and paces what it sends, and the prefab that puts
//! it on a TCP connection (Kamaelia's `IRC_Client` and
//! `SimpleIRCClientPrefab`, which did not work: they split each read on
//! `\n` alone, so a line across two reads was lost, and never logged in).
//!
//! * [`LineReader`]: byte chunks cut anywhere in, whole lines out, with
//!   the RFC 1459 and IRCv3 length limits as typed errors.
//! * [`Message`]: a parsed line (tags, prefix, command, parameters) and
//!   its encoding, which refuses line breaks inside parameters.
//! * [`Ctcp`]: ACTION, VERSION, PING inside PRIVMSG and NOTICE text.
//! * [`IrcClient`]: the session component (`talk` in, `heard` out).
//! * [`SimpleIrcClient`]: the client on a TCP connection, as a Graphline;
//!   [`informat`] and [`outformat`] for a console.

mod client;
mod config;
mod ctcp;
mod lines;
mod message;
mod outgoing;
mod prefab;

pub use client::{IrcClient, CTCP_QUEUE_LIMIT};
pub use config::{irc_eq, Heard, IrcConfig, IrcError, IrcState, StateHandle};
pub use ctcp::{Ctcp, CtcpKind};
pub use lines::{LineError, LineEvent, LineReader, MAX_LINE, MAX_TAGS};
pub use message::{
    escape_tag_value, unescape_tag_value, Command, EncodeError, Message, ParseError, Prefix, Tag,
};
pub use outgoing::{split_text, FloodControl, Talk};
pub use prefab::{informat, outformat, SimpleIrcClient};
