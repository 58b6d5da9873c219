//! A logging bot: sits in one channel, writes what is said and done there
//! to a file, a line each, and answers `!count` (how many lines it has
//! logged) and `!help` in the channel.
//!
//! ```text
//!   SimpleIrcClient ──Heard──▶ LogBot ──▶ log file
//!          ▲                     │
//!          └──────── Talk ───────┘ (answers)
//! ```
//!
//! ```sh
//! cargo run --example irc_logbot -- HOST PORT NICK '#channel' channel.log
//! ```
//!
//! It runs until the server closes the connection (or it is killed); the
//! file is flushed after every step, so what was logged is on disk.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;

use kamaelia::axon::{BoxSet, Component, Cx, Ended, Inbox, Outbox, Scheduler, Signal, Step};
use kamaelia::graphline;
use kamaelia::internet::TcpClient;
use kamaelia::protocol::irc::{
    irc_eq, outformat, CtcpKind, Heard, IrcClient, IrcConfig, SimpleIrcClient, StateHandle, Talk,
};

/// Logs one channel's messages and answers commands.
///
/// | box     | carries  | meaning                                   |
/// |---------|----------|-------------------------------------------|
/// | inbox   | `Heard`  | what the IRC client heard                 |
/// | control | `Signal` | the IRC client's end: flush and end       |
/// | outbox  | `Talk`   | answers for the channel                   |
/// | signal  | `Signal` | the signal it ended with, passed on       |
pub struct LogBot {
    /// What was heard.
    pub inbox: Inbox<Heard>,
    /// The client's end.
    pub control: Inbox<Signal>,
    /// Answers.
    pub outbox: Outbox<Talk>,
    /// Passed on at the end.
    pub signal: Outbox<Signal>,
    channel: String,
    state: StateHandle,
    file: BufWriter<File>,
    logged: u64,
}

impl LogBot {
    /// Logs `channel` to `file` (appended to).
    pub fn new(channel: &str, file: File, state: StateHandle) -> LogBot {
        LogBot {
            inbox: Inbox::new("inbox", "what the client heard"),
            control: Inbox::control(),
            outbox: Outbox::new("outbox", "answers"),
            signal: Outbox::signal(),
            channel: channel.to_string(),
            state,
            file: BufWriter::new(file),
            logged: 0,
        }
    }

    /// Whether a heard message belongs to the channel's log.
    fn in_channel(&self, h: &Heard) -> bool {
        let Heard::Message(m) = h else { return false };
        let cmd = m.command.to_string();
        match cmd.as_str() {
            "PRIVMSG" | "NOTICE" | "JOIN" | "PART" | "KICK" | "TOPIC" => {
                m.param(0).is_some_and(|c| irc_eq(c, &self.channel))
            }
            _ => false,
        }
    }

    fn answer(&self, h: &Heard) -> Option<String> {
        let Heard::Message(m) = h else { return None };
        if !m.command.is("PRIVMSG") || m.ctcp().is_some_and(|c| c.kind == CtcpKind::Action) {
            return None;
        }
        match m.trailing()?.trim() {
            "!count" => Some(format!("{} lines logged", self.logged)),
            "!help" => Some("I log this channel. Commands: !count, !help".to_string()),
            _ => None,
        }
    }
}

impl Component for LogBot {
    fn step(&mut self, _cx: &mut Cx) -> Step {
        while let Some(h) = self.inbox.recv() {
            if !self.in_channel(&h) {
                continue;
            }
            let me = self.state.borrow().nick.clone();
            if let Some(line) = outformat(&h, &me) {
                if writeln!(self.file, "{line}").is_err() {
                    let _ = self.signal.send(Signal::Shutdown);
                    return Step::Done;
                }
                self.logged += 1;
            }
            if let Some(reply) = self.answer(&h) {
                let _ = self.outbox.send(Talk::Privmsg(self.channel.clone(), reply));
            }
        }
        let _ = self.file.flush();
        if let Some(sig) = self.control.recv() {
            let _ = self.signal.send(sig);
            return Step::Done;
        }
        Step::Pause
    }

    fn boxes(&self, set: &mut BoxSet) {
        kamaelia::boxes!(set; self.inbox, self.control, self.outbox, self.signal);
    }
}

/// How a run ended.
#[derive(Debug)]
pub struct Outcome {
    /// The scheduler's end.
    pub ended: Ended,
    /// The IRC client's end, as the bot passed it on.
    pub signals: Vec<Signal>,
}

/// Runs the bot until the connection ends.
pub fn run(
    host: &str,
    port: u16,
    nick: &str,
    channel: &str,
    log: &Path,
) -> std::io::Result<Outcome> {
    let file = OpenOptions::new().create(true).append(true).open(log)?;
    let irc = IrcClient::new(IrcConfig::new(nick).join(&[channel]));
    let bot = LogBot::new(channel, file, irc.state());
    let client = SimpleIrcClient::around(TcpClient::new(host, port), irc);
    let g = graphline! {
        "IRC" => client, "BOT" => bot;
        ("IRC", "outbox") => ("BOT", "inbox"),
        ("BOT", "outbox") => ("IRC", "inbox"),
        ("IRC", "signal") => ("BOT", "control"),
        ("BOT", "signal") => ("self", "signal"),
    }
    .expect("the boxes fit");
    let signals: Inbox<Signal> = Inbox::control();
    kamaelia::axon::link_refs(&g.find("signal").expect("signal"), &signals.erased())
        .expect("Signal");
    let mut sched = Scheduler::new();
    sched.spawn(g);
    let ended = sched.run();
    Ok(Outcome {
        ended,
        signals: std::iter::from_fn(|| signals.recv()).collect(),
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(host), Some(Ok(port)), Some(nick), Some(channel), Some(log)) = (
        args.first(),
        args.get(1).map(|p| p.parse::<u16>()),
        args.get(2),
        args.get(3),
        args.get(4),
    ) else {
        eprintln!("usage: irc_logbot HOST PORT NICK #channel LOGFILE");
        std::process::exit(2);
    };
    match run(host, port, nick, channel, Path::new(log)) {
        Ok(o) => match o.signals.first() {
            Some(Signal::Failed(f)) => eprintln!("irc_logbot: {f}"),
            s => eprintln!("irc_logbot: ended {s:?}"),
        },
        Err(e) => {
            eprintln!("irc_logbot: {log}: {e}");
            std::process::exit(1);
        }
    }
}
