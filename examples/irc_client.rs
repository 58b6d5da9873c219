//! Sketch 26 of the classic catalogue (`_IRC/BasicDemo.py`): a console
//! IRC client.
//!
//! ```text
//!   console ──lines──▶ informat ──Talk──▶ SimpleIrcClient ──Heard──▶ outformat ──▶ console
//!                                         (IrcClient + TcpClient)
//! ```
//!
//! ```sh
//! cargo run --example irc_client -- HOST PORT NICK '#channel'
//! ```
//!
//! Type text to say it to the channel; `/join #other` (which becomes the
//! channel plain text goes to), `/part`, `/msg nick text`, `/me action`,
//! `/notice nick text`, `/nick new`, `/quit [message]`, `/raw LINE` or any
//! other `/command args`. The end of input (Ctrl-D) quits too. The
//! original did not log in, lost lines cut across reads, and did not run
//! on Python 3 at all.

use std::io::{BufRead, Write};
use std::time::Duration;

use kamaelia::axon::{line_reader, link_refs, Ended, Inbox, Outbox, Scheduler, Signal};
use kamaelia::internet::TcpClient;
use kamaelia::pipeline;
use kamaelia::protocol::irc::{informat, outformat, Heard, IrcClient, IrcConfig, SimpleIrcClient};
use kamaelia::util::{ConsoleEchoer, PureTransformer};

/// How a run ended.
#[derive(Debug)]
pub struct Outcome {
    /// The scheduler's end.
    pub ended: Ended,
    /// The signal the pipeline ended with.
    pub signals: Vec<Signal>,
}

/// Connects to `host:port` as `nick`, joins `channel`, and runs until the
/// input ends (then quits) or the server goes (then the reader is told to
/// stop: its thread, blocked on the console, is left behind); what is
/// heard is written to `out`, a line each.
pub fn run<R: BufRead + Send + 'static>(
    host: &str,
    port: u16,
    nick: &str,
    channel: &str,
    input: R,
    out: impl Write + 'static,
) -> Outcome {
    let irc = IrcClient::new(IrcConfig::new(nick).join(&[channel]));
    let state = irc.state();
    let client = SimpleIrcClient::around(TcpClient::new(host, port), irc);
    // Plain text goes to the channel joined last.
    let mut current = channel.to_string();
    let to_talk = PureTransformer::new(move |line: String| {
        let talk = informat(&line, &current)?;
        if let kamaelia::protocol::irc::Talk::Join(c) = &talk {
            current = c.clone();
        }
        Some(talk)
    });
    let to_text = PureTransformer::new(move |h: Heard| outformat(&h, &state.borrow().nick));
    let p = pipeline![
        line_reader(input),
        to_talk,
        client,
        to_text,
        ConsoleEchoer::<String>::new().newline(true).writer(out),
    ]
    .expect("the boxes fit");
    let signals: Inbox<Signal> = Inbox::control();
    link_refs(&p.find("signal").expect("a signal box"), &signals.erased()).expect("Signal");
    let stop: Outbox<Signal> = Outbox::new("stop", "ends the console reader");
    link_refs(&stop.erased(), &p.find("control").expect("a control box")).expect("Signal");
    let mut sched = Scheduler::new();
    sched.spawn(p);
    let mut stopped = false;
    let ended = loop {
        if let Some(ended) = sched.run_for(Duration::from_millis(100)) {
            break ended;
        }
        // The screen's end (the client is gone): the reader may still wait
        // for a line that will never be used.
        if !stopped && !signals.is_empty() {
            stopped = true;
            let _ = stop.send(Signal::Shutdown);
        }
    };
    Outcome {
        ended,
        signals: std::iter::from_fn(|| signals.recv()).collect(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(host), Some(Ok(port)), Some(nick), Some(channel)) = (
        args.first(),
        args.get(1).map(|p| p.parse::<u16>()),
        args.get(2),
        args.get(3),
    ) else {
        eprintln!("usage: irc_client HOST PORT NICK #channel");
        std::process::exit(2);
    };
    let o = run(
        host,
        port,
        nick,
        channel,
        std::io::BufReader::new(std::io::stdin()),
        std::io::stdout(),
    );
    // Exit at once: the console reader's thread may still be blocked.
    match o.signals.first() {
        Some(Signal::Failed(f)) => {
            eprintln!("irc_client: {f}");
            std::process::exit(1);
        }
        _ => {
            eprintln!("irc_client: bye");
            std::process::exit(0);
        }
    }
}
