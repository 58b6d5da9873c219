//! IRC against real servers on 127.0.0.1: `ngircd` and `inspircd`.
//!
//! Each test starts its server in the foreground on a free port with a
//! config written to a temporary folder (no DNS, no ident, no PAM, no
//! per-address connection limit), waits for its port (bounded), then two
//! of our clients (`SimpleIrcClient`, one scheduler) register, join a
//! channel, exchange channel and private messages and actions (and a text
//! long enough to be cut into several lines), one changes nick, and both
//! quit; every message is checked on the other side. The server is killed
//! by its pid when the test ends, however it ends (a Drop guard). Every
//! wait is bounded (the scheduler runs in slices of 50 ms until what is
//! awaited has come, for at most 20 s).
//!
//! Skipped, with the reason printed, when a server is missing; with
//! `KAMAELIA_REQUIRE_INTEROP=1` a skip is a failure (CI installs the
//! Debian packages `ngircd inspircd`).

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod interop_support;
use interop_support::{free_port, Proc, TempDir};

use kamaelia::axon::{link_refs, Inbox, Outbox, Scheduler, Signal};
use kamaelia::internet::TcpClient;
use kamaelia::protocol::irc::{
    CtcpKind, FloodControl, Heard, IrcClient, IrcConfig, Message, SimpleIrcClient, StateHandle,
    Talk,
};

/// The server's binary, or why the test is skipped.
fn server_binary(name: &str, test: &str) -> Option<PathBuf> {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .or_else(|| {
            let p = PathBuf::from("/usr/sbin").join(name);
            p.exists().then_some(p)
        });
    if found.is_some() {
        return found;
    }
    let msg = format!("{test}: skipped: {name} not installed (Debian: apt-get install -y {name})");
    if std::env::var_os("KAMAELIA_REQUIRE_INTEROP").is_some_and(|v| v == "1") {
        panic!("{msg}");
    }
    let _ = writeln!(std::io::stderr(), "{msg}");
    None
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Starts the server and waits (at most 10 s) until it accepts.
fn start(mut cmd: Command, port: u16, log: &Path) -> Proc {
    let out = std::fs::File::create(log).unwrap();
    let err = out.try_clone().unwrap();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("the server starts");
    let mut p = Proc(child);
    let end = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = p.0.try_wait() {
            panic!(
                "the server exited ({status}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < end,
            "the server did not listen within 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    p
}

fn ngircd(bin: &Path, dir: &Path, port: u16) -> Proc {
    let conf = dir.join("ngircd.conf");
    std::fs::write(
        &conf,
        format!(
            "[Global]\n\tName = irc.ngircd.test\n\tInfo = kamaelia interop\n\
             \tAdminInfo1 = test\n\tAdminInfo2 = test\n\tAdminEMail = test@localhost\n\
             \tListen = 127.0.0.1\n\tPorts = {port}\n\tMotdPhrase = \"hello\"\n\
             \tPidFile = {}\n\
             [Limits]\n\tMaxConnectionsIP = 0\n\tMaxConnections = 0\n\
             [Options]\n\tDNS = no\n\tIdent = no\n\tPAM = no\n",
            dir.join("ngircd.pid").display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(bin);
    cmd.arg("-n").arg("-f").arg(&conf);
    start(cmd, port, &dir.join("ngircd.out"))
}

fn inspircd(bin: &Path, dir: &Path, port: u16) -> Proc {
    let conf = dir.join("inspircd.conf");
    let d = dir.display();
    std::fs::write(
        &conf,
        format!(
            "<server name=\"irc.inspircd.test\" description=\"kamaelia interop\" network=\"Test\">\n\
             <admin name=\"test\" nick=\"test\" email=\"test@localhost\">\n\
             <bind address=\"127.0.0.1\" port=\"{port}\" type=\"clients\">\n\
             <connect name=\"main\" allow=\"*\" timeout=\"20\" pingfreq=\"120\" \
               hardsendq=\"1048576\" softsendq=\"65536\" recvq=\"65536\" localmax=\"100\" \
               globalmax=\"100\" resolvehostnames=\"no\" useident=\"no\" fakelag=\"no\" \
               threshold=\"100\" commandrate=\"100000\">\n\
             <dns server=\"127.0.0.1\" timeout=\"1\">\n\
             <pid file=\"{d}/inspircd.pid\">\n\
             <log method=\"file\" type=\"* -USERINPUT -USEROUTPUT\" level=\"default\" target=\"{d}/inspircd.log\">\n\
             <options prefixquit=\"Quit: \" syntaxhints=\"no\" announcets=\"yes\" hostintopic=\"yes\">\n\
             <security hideserver=\"\" userstats=\"Pu\" customversion=\"\" flatlinks=\"no\" \
               hidesplits=\"no\" hideulines=\"no\" hidebans=\"no\" maxtargets=\"20\">\n\
             <performance quietbursts=\"yes\" softlimit=\"1024\" somaxconn=\"128\" netbuffersize=\"10240\">\n\
             <whowas groupsize=\"10\" maxgroups=\"1000\" maxkeep=\"3d\">\n"
        ),
    )
    .unwrap();
    let mut cmd = Command::new(bin);
    cmd.arg("--nofork").arg("--config").arg(&conf);
    if is_root() {
        cmd.arg("--runasroot");
    }
    start(cmd, port, &dir.join("inspircd.out"))
}

/// One of our clients, seen from the test.
struct Client {
    nick: String,
    talk: Outbox<Talk>,
    heard: Inbox<Heard>,
    signal: Inbox<Signal>,
    state: StateHandle,
    log: Vec<Message>,
}

impl Client {
    fn new(sched: &mut Scheduler, port: u16, nick: &str, channel: &str) -> Client {
        let irc = IrcClient::new(IrcConfig::new(nick).join(&[channel]).flood(FloodControl {
            burst: 4,
            interval: Duration::from_millis(300),
        }));
        let state = irc.state();
        let g = SimpleIrcClient::around(TcpClient::new("127.0.0.1", port), irc);
        let talk = Outbox::new("talk", "the test's commands");
        let heard = Inbox::new("heard", "what the client heard");
        let signal = Inbox::control();
        link_refs(&talk.erased(), &g.find("inbox").unwrap()).unwrap();
        link_refs(&g.find("outbox").unwrap(), &heard.erased()).unwrap();
        link_refs(&g.find("signal").unwrap(), &signal.erased()).unwrap();
        sched.spawn(g);
        Client {
            nick: nick.to_string(),
            talk,
            heard,
            signal,
            state,
            log: Vec::new(),
        }
    }

    fn say(&self, t: Talk) {
        self.talk.send(t).unwrap();
    }

    fn pump(&mut self) {
        while let Some(h) = self.heard.recv() {
            match h {
                Heard::Message(m) => self.log.push(m),
                other => panic!("{}: {other:?}", self.nick),
            }
        }
    }

    /// Messages heard of `command` from `from` to `to` (any when empty).
    fn texts(&self, command: &str, from: &str, to: &str) -> Vec<String> {
        self.log
            .iter()
            .filter(|m| m.command.is(command))
            .filter(|m| from.is_empty() || m.source_nick() == Some(from))
            .filter(|m| to.is_empty() || m.param(0) == Some(to))
            .map(|m| m.trailing().unwrap_or("").to_string())
            .collect()
    }
}

/// Runs the scheduler in slices until `done` holds (at most 20 s).
fn until(
    sched: &mut Scheduler,
    cs: &mut [&mut Client],
    what: &str,
    done: impl Fn(&[&mut Client]) -> bool,
) {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        for c in cs.iter_mut() {
            c.pump();
        }
        if done(cs) {
            return;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        sched.run_for(Duration::from_millis(50));
    }
}

/// The whole conversation against a server on `port`.
fn conversation(port: u16) {
    let chan = "#kamaelia";
    let mut s = Scheduler::new();
    let mut a = Client::new(&mut s, port, "kam_a", chan);
    let mut b = Client::new(&mut s, port, "kam_b", chan);
    until(&mut s, &mut [&mut a, &mut b], "both in the channel", |cs| {
        cs.iter().all(|c| {
            let st = c.state.borrow();
            st.registered && st.channels.iter().any(|x| x == chan)
        })
    });
    assert_eq!(a.texts("JOIN", "kam_a", "").len(), 1);

    let hello = "hello from A, \u{e7}a va? \u{2713}";
    a.say(Talk::Privmsg(chan.into(), hello.into()));
    b.say(Talk::Privmsg(chan.into(), "hello from B".into()));
    a.say(Talk::Privmsg("kam_b".into(), "psst B".into()));
    b.say(Talk::Privmsg("kam_a".into(), "psst A".into()));
    a.say(Talk::Action(chan.into(), "waves".into()));
    b.say(Talk::Action("kam_a".into(), "nods".into()));
    until(&mut s, &mut [&mut a, &mut b], "messages both ways", |cs| {
        cs[0].texts("PRIVMSG", "kam_b", "").len() == 3
            && cs[1].texts("PRIVMSG", "kam_a", "").len() == 3
    });
    assert_eq!(
        b.texts("PRIVMSG", "kam_a", chan),
        [hello, "\u{1}ACTION waves\u{1}"]
    );
    assert_eq!(b.texts("PRIVMSG", "kam_a", "kam_b"), ["psst B"]);
    assert_eq!(a.texts("PRIVMSG", "kam_b", chan), ["hello from B"]);
    assert_eq!(
        a.texts("PRIVMSG", "kam_b", "kam_a"),
        ["psst A", "\u{1}ACTION nods\u{1}"]
    );
    let action = a
        .log
        .iter()
        .rev()
        .find(|m| m.command.is("PRIVMSG"))
        .and_then(Message::ctcp)
        .unwrap();
    assert_eq!(
        (action.kind, action.arg.as_str()),
        (CtcpKind::Action, "nods")
    );

    // A text too long for one line arrives whole, in pieces that fit.
    let long: String = (0..120).map(|i| format!("\u{fc}{i:04}-")).collect();
    assert!(long.len() > 512);
    a.say(Talk::Privmsg(chan.into(), long.clone()));
    until(&mut s, &mut [&mut a, &mut b], "the long text", |cs| {
        cs[1].texts("PRIVMSG", "kam_a", chan)[2..].concat().len() >= long.len()
    });
    let pieces = b.texts("PRIVMSG", "kam_a", chan)[2..].to_vec();
    assert!(pieces.len() >= 2, "{pieces:?}");
    assert_eq!(pieces.concat(), long);

    // A changes nick; B sees it, and writes to the new nick.
    a.say(Talk::Nick("kam_a2".into()));
    until(&mut s, &mut [&mut a, &mut b], "the nick change", |cs| {
        cs[0].state.borrow().nick == "kam_a2" && cs[1].texts("NICK", "kam_a", "").len() == 1
    });
    assert_eq!(
        b.log
            .iter()
            .find(|m| m.command.is("NICK"))
            .unwrap()
            .param(0),
        Some("kam_a2")
    );
    b.say(Talk::Privmsg("kam_a2".into(), "after the change".into()));
    until(
        &mut s,
        &mut [&mut a, &mut b],
        "a message to the new nick",
        |cs| cs[0].texts("PRIVMSG", "kam_b", "kam_a2") == ["after the change"],
    );
    assert_eq!(a.state.borrow().channels.iter().collect::<Vec<_>>(), [chan]);

    // Both quit; B sees A's reason; both end cleanly.
    a.say(Talk::Quit(Some("A leaving".into())));
    until(&mut s, &mut [&mut a, &mut b], "A's quit", |cs| {
        cs[1].texts("QUIT", "kam_a2", "").len() == 1
    });
    assert!(
        b.texts("QUIT", "kam_a2", "")[0].contains("A leaving"),
        "{:?}",
        b.texts("QUIT", "kam_a2", "")
    );
    b.say(Talk::Quit(Some("B leaving".into())));
    until(&mut s, &mut [&mut a, &mut b], "both ended", |cs| {
        cs.iter().all(|c| !c.signal.is_empty())
    });
    for c in [&a, &b] {
        assert_eq!(
            c.signal.recv(),
            Some(Signal::ProducerFinished),
            "{}",
            c.nick
        );
        assert!(c.texts("ERROR", "", "").len() <= 1);
    }
    assert_eq!(
        s.run_for(Duration::from_secs(5)),
        Some(kamaelia::axon::Ended::Completed)
    );
}

#[test]
fn two_clients_talk_through_ngircd() {
    let Some(bin) = server_binary("ngircd", "two_clients_talk_through_ngircd") else {
        return;
    };
    let dir = TempDir::new("ngircd");
    let port = free_port();
    let _server = ngircd(&bin, &dir.0, port);
    conversation(port);
}

#[test]
fn two_clients_talk_through_inspircd() {
    let Some(bin) = server_binary("inspircd", "two_clients_talk_through_inspircd") else {
        return;
    };
    let dir = TempDir::new("inspircd");
    let port = free_port();
    let _server = inspircd(&bin, &dir.0, port);
    conversation(port);
}
