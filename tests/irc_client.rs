//! IrcClient driven step by step against a scripted server on virtual
//! time: registration, nick collisions, PING, a line split at every byte
//! position, flood control, long texts, injection refused, channel
//! tracking, quitting, and every way registration or the session ends.

use std::time::Duration;

use bytes::Bytes;
use kamaelia::axon::{Id, Signal};
use kamaelia::internet::{EndReason, NetError};
use kamaelia::protocol::irc::{
    Command, EncodeError, FloodControl, Heard, IrcClient, IrcConfig, IrcError, LineError, Message,
    StateHandle, Talk, MAX_LINE,
};
use kamaelia::testing::{Collector, Feeder, Harness};

struct Rig {
    h: Harness,
    id: Id,
    state: StateHandle,
    server: Feeder<Bytes>,
    talk: Feeder<Talk>,
    net_signal: Feeder<Signal>,
    control: Feeder<Signal>,
    wire: Collector<Bytes>,
    heard: Collector<Heard>,
    net_control: Collector<Signal>,
    signal: Collector<Signal>,
}

fn rig(config: IrcConfig) -> Rig {
    let mut h = Harness::new();
    let irc = IrcClient::new(config);
    let state = irc.state();
    let id = h.spawn(irc);
    Rig {
        server: h.feeder(id, "inbox").unwrap(),
        talk: h.feeder(id, "talk").unwrap(),
        net_signal: h.feeder(id, "net_signal").unwrap(),
        control: h.feeder(id, "control").unwrap(),
        wire: h.collector(id, "outbox").unwrap(),
        heard: h.collector(id, "heard").unwrap(),
        net_control: h.collector(id, "net_control").unwrap(),
        signal: h.collector(id, "signal").unwrap(),
        h,
        id,
        state,
    }
}

/// No pacing, so a test sees every line at once unless it tests pacing.
fn config(nick: &str) -> IrcConfig {
    let mut c = IrcConfig::new(nick).flood(FloodControl {
        burst: 1,
        interval: Duration::ZERO,
    });
    c.realname = "Real Name".into();
    c
}

impl Rig {
    fn say(&mut self, text: &str) {
        self.server
            .send(Bytes::copy_from_slice(text.as_bytes()))
            .unwrap();
        self.h.run_until_idle();
    }
    fn tell(&mut self, t: Talk) {
        self.talk.send(t).unwrap();
        self.h.run_until_idle();
    }
    /// The lines written since last asked, without CR LF; each must end
    /// with CR LF and be within the limit.
    fn sent(&self) -> Vec<String> {
        let bytes: Vec<u8> = self.wire.drain().concat();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.is_empty() || text.ends_with("\r\n"), "{text:?}");
        text.split_terminator("\r\n")
            .map(|l| {
                assert!(l.len() + 2 <= MAX_LINE, "{l}");
                l.to_string()
            })
            .collect()
    }
    /// Messages heard since last asked, as lines.
    fn heard_lines(&self) -> Vec<String> {
        self.heard
            .drain()
            .into_iter()
            .map(|h| match h {
                Heard::Message(m) => m.to_string(),
                other => format!("{other:?}"),
            })
            .collect()
    }
    /// Starts and registers as `nick`.
    fn registered(&mut self, nick: &str) {
        self.h.run_until_idle();
        self.say(&format!(":srv 001 {nick} :Welcome {nick}\r\n"));
        assert!(self.state.borrow().registered);
        self.heard.drain();
        self.sent();
    }
    fn failure(&self) -> IrcError {
        let sigs = self.signal.drain();
        assert_eq!(sigs.len(), 1, "{sigs:?}");
        match &sigs[0] {
            Signal::Failed(f) => f.downcast_ref::<IrcError>().expect("an IrcError").clone(),
            s => panic!("not a failure: {s:?}"),
        }
    }
}

#[test]
fn registration_sends_pass_nick_user_then_joins_after_the_welcome() {
    let mut r = rig(config("bob").password("sekrit").join(&["#a", "#b"]));
    r.tell(Talk::Privmsg("#a".into(), "early".into()));
    assert_eq!(
        r.sent(),
        ["PASS sekrit", "NICK bob", "USER bob 0 * :Real Name"],
        "commands wait for the welcome"
    );
    r.say(":srv NOTICE * :*** Looking up your hostname\r\n:srv 001 bob :Welcome to the net bob!bob@h\r\n");
    assert_eq!(r.sent(), ["JOIN #a", "JOIN #b", "PRIVMSG #a early"]);
    assert_eq!(
        r.heard_lines(),
        [
            ":srv NOTICE * :*** Looking up your hostname",
            ":srv 001 bob :Welcome to the net bob!bob@h"
        ]
    );
    let st = r.state.borrow().clone();
    assert!(st.registered);
    assert_eq!(st.nick, "bob");
    assert_eq!(st.lines_sent, 6);
    assert!(r.signal.is_empty());
    assert!(r.h.is_sleeping(r.id));
}

#[test]
fn a_taken_nick_falls_back_to_the_alternatives_then_to_numbered_nicks_then_fails() {
    let mut c = config("kamaeliabot");
    c.alt_nicks = vec!["kbot".into()];
    let mut r = rig(c);
    r.h.run_until_idle();
    assert_eq!(
        r.sent(),
        ["NICK kamaeliabot", "USER kamaeliabot 0 * :Real Name"]
    );
    r.say(":srv 433 * kamaeliabot :Nickname is already in use\r\n");
    assert_eq!(r.sent(), ["NICK kbot"]);
    r.say(":srv 432 * kbot :Erroneous nickname\r\n");
    assert_eq!(r.sent(), ["NICK kamaelia1"]);
    assert_eq!(r.state.borrow().nick, "kamaelia1");
    let mut tried = vec!["kamaeliabot".to_string(), "kbot".into(), "kamaelia1".into()];
    for d in 2..=9 {
        r.say(":srv 433 * x :Nickname is already in use\r\n");
        let want = format!("kamaelia{d}");
        assert_eq!(r.sent(), [format!("NICK {want}")]);
        tried.push(want);
    }
    r.say(":srv 433 * kamaelia9 :Nickname is already in use\r\n");
    assert_eq!(r.sent(), Vec::<String>::new());
    assert_eq!(r.failure(), IrcError::NoNickAvailable { tried });
    assert_eq!(r.net_control.drain(), [Signal::Shutdown]);
    assert_eq!(r.heard.len(), 11, "every 433 heard, the last too");
    assert!(!r.h.is_alive(r.id));
}

#[test]
fn a_collision_then_the_welcome_registers_under_the_fallback_nick() {
    let mut r = rig(config("bob").join(&["#k"]));
    r.h.run_until_idle();
    r.sent();
    r.say(":srv 433 * bob :Nickname is already in use\r\n:srv 001 bob1 :Welcome\r\n");
    assert_eq!(r.sent(), ["NICK bob1", "JOIN #k"]);
    assert_eq!(r.state.borrow().nick, "bob1");
    // After registration a 433 answers our own NICK: no fallback.
    r.tell(Talk::Nick("bob".into()));
    r.say(":srv 433 bob1 bob :Nickname is already in use\r\n");
    assert_eq!(r.sent(), ["NICK bob"]);
    assert_eq!(r.state.borrow().nick, "bob1");
    assert!(r.signal.is_empty());
}

#[test]
fn ping_is_answered_at_once_with_the_same_parameters_even_when_the_queue_is_paced() {
    let mut c = config("bob");
    c.flood = FloodControl {
        burst: 1,
        interval: Duration::from_secs(10),
    };
    let mut r = rig(c);
    r.h.run_until_idle();
    r.say(":srv 001 bob :hi\r\n");
    r.sent();
    r.heard.drain();
    for i in 0..3 {
        r.tell(Talk::Privmsg("#c".into(), format!("m{i}")));
    }
    assert_eq!(r.sent(), Vec::<String>::new(), "the bucket is empty");
    r.say("PING :irc.example.net\r\nPING tok more\r\n");
    assert_eq!(r.sent(), ["PONG irc.example.net", "PONG tok more"]);
    assert_eq!(r.heard_lines(), ["PING irc.example.net", "PING tok more"]);
}

#[test]
fn a_server_stream_split_at_every_byte_position_is_heard_the_same() {
    let stream = ":srv 001 bob :Welcome bob\r\n:srv 005 bob CHANTYPES=# :are supported\r\nPING :abc\n:al!a@h PRIVMSG bob :\u{e9}t\u{e9}\r\n";
    let mut want = None;
    for cut in 0..=stream.len() {
        let mut r = rig(config("bob"));
        r.h.run_until_idle();
        r.sent();
        let b = stream.as_bytes();
        r.server.send(Bytes::copy_from_slice(&b[..cut])).unwrap();
        r.h.run_until_idle();
        r.server.send(Bytes::copy_from_slice(&b[cut..])).unwrap();
        r.h.run_until_idle();
        let got = (r.heard_lines(), r.sent(), r.state.borrow().registered);
        match &want {
            None => want = Some(got),
            Some(w) => assert_eq!(&got, w, "cut at {cut}"),
        }
    }
    let (heard, sent, registered) = want.unwrap();
    assert_eq!(heard.len(), 4);
    assert_eq!(heard[3], ":al!a@h PRIVMSG bob \u{e9}t\u{e9}");
    assert_eq!(sent, ["PONG abc"]);
    assert!(registered);
}

#[test]
fn the_send_queue_goes_out_in_a_burst_then_one_line_per_interval_on_virtual_time() {
    let mut c = config("bob");
    c.flood = FloodControl {
        burst: 3,
        interval: Duration::from_secs(1),
    };
    let mut r = rig(c);
    r.h.run_until_idle();
    assert_eq!(r.sent().len(), 2, "NICK and USER");
    // Long enough for the bucket to fill again.
    r.h.run_for(Duration::from_secs(5));
    for i in 0..8 {
        r.talk
            .send(Talk::Privmsg("#c".into(), format!("m{i}")))
            .unwrap();
    }
    r.say(":srv 001 bob :hi\r\n");
    assert_eq!(
        r.sent(),
        ["PRIVMSG #c m0", "PRIVMSG #c m1", "PRIVMSG #c m2"]
    );
    assert_eq!(r.state.borrow().queued, 5);
    r.h.run_for(Duration::from_millis(999));
    assert_eq!(r.sent(), Vec::<String>::new(), "not before the interval");
    r.h.run_for(Duration::from_millis(1));
    assert_eq!(r.sent(), ["PRIVMSG #c m3"]);
    r.h.run_for(Duration::from_secs(3));
    assert_eq!(
        r.sent(),
        ["PRIVMSG #c m4", "PRIVMSG #c m5", "PRIVMSG #c m6"]
    );
    r.h.run_for(Duration::from_secs(10));
    assert_eq!(r.sent(), ["PRIVMSG #c m7"]);
    assert_eq!(r.state.borrow().queued, 0);
    // Quiet again: a burst is allowed again.
    for i in 0..3 {
        r.talk
            .send(Talk::Notice("al".into(), format!("n{i}")))
            .unwrap();
    }
    r.h.run_until_idle();
    assert_eq!(r.sent().len(), 3);
}

#[test]
fn a_long_text_is_cut_to_fit_the_line_on_utf8_boundaries_with_room_for_the_relay_prefix() {
    let mut r = rig(config("bob"));
    r.registered("bob");
    // Three-byte characters, so a cut at any byte count may fall inside one.
    let text: String = "\u{20ac}ab".repeat(300);
    r.tell(Talk::Privmsg("#chan".into(), text.clone()));
    let lines = r.sent();
    assert!(lines.len() >= 3, "{}", lines.len());
    let mut joined = String::new();
    // Unknown prefix: nick + "!" + "~user" + "@" + 63 bytes of host.
    let relay = 1 + 3 + 2 + 3 + 1 + 63 + 1;
    for l in &lines {
        let body = l.strip_prefix("PRIVMSG #chan ").expect(l);
        assert!(l.len() + 2 + relay <= MAX_LINE, "{}", l.len());
        joined.push_str(body);
    }
    assert_eq!(joined, text);
    // All but the last are as full as the characters allow.
    for l in &lines[..lines.len() - 1] {
        assert!(l.len() + 2 + relay > MAX_LINE - 3, "{}", l.len());
    }
    // Once the server has shown our real prefix, the room grows.
    r.say(":bob!bob@h.x JOIN #chan\r\n");
    r.sent();
    r.tell(Talk::Action("#chan".into(), "x".repeat(1000)));
    let lines = r.sent();
    let room = MAX_LINE - 2 - (1 + "bob!bob@h.x".len() + 1) - "PRIVMSG #chan :".len() - 9;
    assert_eq!(lines.len(), 1000usize.div_ceil(room));
    let first = lines[0]
        .strip_prefix("PRIVMSG #chan :\u{1}ACTION ")
        .unwrap();
    assert_eq!(first.len(), room + 1, "the text and the closing \\x01");
    assert!(lines.iter().all(|l| l.ends_with('\u{1}')));
}

#[test]
fn a_command_with_a_line_break_is_refused_and_nothing_is_sent() {
    let mut r = rig(config("bob"));
    r.registered("bob");
    let bad = [
        Talk::Privmsg("#c".into(), "hi\r\nQUIT :owned".into()),
        Talk::Action("#c".into(), "a\nb".into()),
        Talk::Join("#a b".into()),
        Talk::Part("#c".into(), Some("x\0".into())),
        Talk::Privmsg("#c\r\n".into(), "x".into()),
    ];
    for t in bad.clone() {
        r.tell(t);
    }
    assert_eq!(r.sent(), Vec::<String>::new());
    let heard = r.heard.drain();
    assert_eq!(heard.len(), bad.len());
    for (h, t) in heard.iter().zip(bad) {
        match h {
            Heard::Refused { talk, error } => {
                assert_eq!(talk, &t);
                assert!(
                    matches!(
                        error,
                        EncodeError::LineBreak { .. } | EncodeError::BadMiddle { .. }
                    ),
                    "{error:?}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
    r.tell(Talk::Privmsg("#c".into(), "fine".into()));
    assert_eq!(r.sent(), ["PRIVMSG #c fine"]);
}

#[test]
fn joined_channels_are_tracked_through_join_part_kick_and_nick_changes() {
    let mut r = rig(config("bob"));
    r.registered("bob");
    r.say(":bob!b@h JOIN #a\r\n:bob!b@h JOIN :#b\r\n:al!a@h JOIN #a\r\n");
    let chans = |r: &Rig| {
        r.state
            .borrow()
            .channels
            .iter()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(chans(&r), ["#a", "#b"]);
    r.say(":BOB!b@h PART #A :bye\r\n");
    assert_eq!(chans(&r), ["#b"]);
    r.say(":bob!b@h NICK :bobby\r\n");
    assert_eq!(r.state.borrow().nick, "bobby");
    r.say(":op!o@h KICK #b bobby :out\r\n");
    assert_eq!(chans(&r), Vec::<String>::new());
    r.say(":op!o@h KICK #c al :out\r\n");
    assert_eq!(r.heard.len(), 7);
}

#[test]
fn quit_goes_after_what_is_queued_then_the_connection_is_finished_and_the_end_is_clean() {
    let mut r = rig(config("bob"));
    r.registered("bob");
    r.talk
        .send(Talk::Privmsg("#c".into(), "last words".into()))
        .unwrap();
    r.talk.send(Talk::Quit(Some("bye now".into()))).unwrap();
    r.talk
        .send(Talk::Privmsg("#c".into(), "too late".into()))
        .unwrap();
    r.h.run_until_idle();
    assert_eq!(r.sent(), ["PRIVMSG #c :last words", "QUIT :bye now"]);
    assert_eq!(r.net_control.drain(), [Signal::ProducerFinished]);
    assert!(r.signal.is_empty());
    r.say("ERROR :Closing link (bob@h) [Quit: bye now]\r\n");
    r.net_signal.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.signal.drain(), [Signal::ProducerFinished]);
    assert_eq!(
        r.heard_lines(),
        ["ERROR :Closing link (bob@h) [Quit: bye now]"]
    );
    assert!(!r.h.is_alive(r.id));
}

#[test]
fn producer_finished_on_control_quits_with_the_default_message_and_gives_up_waiting_after_the_timeout(
) {
    let mut r = rig(config("bob"));
    r.registered("bob");
    r.control.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.sent(), ["QUIT Kamaelia"]);
    assert_eq!(r.net_control.drain(), [Signal::ProducerFinished]);
    r.h.run_for(Duration::from_millis(4999));
    assert!(r.signal.is_empty());
    r.h.run_for(Duration::from_millis(1));
    assert_eq!(r.signal.drain(), [Signal::ProducerFinished]);
    assert_eq!(r.net_control.drain(), [Signal::Shutdown]);
}

#[test]
fn shutdown_on_control_stops_at_once() {
    let mut r = rig(config("bob"));
    r.registered("bob");
    r.tell(Talk::Join("#x".into()));
    r.sent();
    r.control.send(Signal::Shutdown).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.signal.drain(), [Signal::Shutdown]);
    assert_eq!(r.net_control.drain(), [Signal::Shutdown]);
    assert_eq!(r.sent(), Vec::<String>::new());
    assert_eq!(r.h.scheduler().live(), 0);
}

#[test]
fn every_way_registration_fails_is_a_typed_error() {
    // The server closes during registration.
    let mut r = rig(config("bob"));
    r.h.run_until_idle();
    r.net_signal.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.failure(), IrcError::ServerClosed { registered: false });
    // ERROR, then the close.
    let mut r = rig(config("bob"));
    r.h.run_until_idle();
    r.say("ERROR :Closing link: (bob@h) [Too many connections]\r\n");
    r.net_signal.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(
        r.failure(),
        IrcError::ServerError {
            text: "Closing link: (bob@h) [Too many connections]".into(),
            registered: false
        }
    );
    // A bad password, a ban.
    for (line, want) in [
        (
            ":srv 464 bob :Password incorrect\r\n",
            IrcError::BadPassword("Password incorrect".into()),
        ),
        (
            ":srv 465 bob :You are banned\r\n",
            IrcError::Banned("You are banned".into()),
        ),
    ] {
        let mut r = rig(config("bob").password("x"));
        r.h.run_until_idle();
        r.say(line);
        assert_eq!(r.failure(), want);
        assert_eq!(r.net_control.drain(), [Signal::Shutdown]);
        assert_eq!(r.heard.len(), 1);
    }
    // Silence: the time-out, exactly.
    let mut r = rig(config("bob"));
    r.h.run_for(Duration::from_millis(59_999));
    assert!(r.signal.is_empty());
    r.h.run_for(Duration::from_millis(1));
    assert_eq!(r.failure(), IrcError::RegistrationTimedOut);
    // The connection fails.
    let mut r = rig(config("bob"));
    r.h.run_until_idle();
    let err = NetError {
        reason: EndReason::Refused,
        peer: "127.0.0.1:6667".into(),
        detail: String::new(),
    };
    r.net_signal.send(Signal::failed(err.clone())).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.failure(), IrcError::Connection(err));
}

#[test]
fn the_server_closing_a_registered_session_is_reported_after_what_it_sent() {
    let mut r = rig(config("bob"));
    r.registered("bob");
    r.server
        .send(Bytes::from_static(
            b":al!a@h PRIVMSG bob :one\r\n:al!a@h PRIVMSG bob :two\r\n",
        ))
        .unwrap();
    r.net_signal.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.heard.len(), 2);
    assert_eq!(r.failure(), IrcError::ServerClosed { registered: true });
}

#[test]
fn a_silent_server_is_pinged_then_given_up_on() {
    let mut r = rig(config("bob"));
    r.registered("bob");
    r.h.run_for(Duration::from_secs(119));
    assert_eq!(r.sent(), Vec::<String>::new());
    r.h.run_for(Duration::from_secs(1));
    assert_eq!(r.sent(), ["PING kamaelia"]);
    // An answer resets it.
    r.say(":srv PONG srv :kamaelia\r\n");
    r.h.run_for(Duration::from_secs(119));
    assert_eq!(r.sent(), Vec::<String>::new());
    r.h.run_for(Duration::from_secs(1));
    assert_eq!(r.sent(), ["PING kamaelia"]);
    r.h.run_for(Duration::from_secs(59));
    assert!(r.signal.is_empty());
    r.h.run_for(Duration::from_secs(1));
    assert_eq!(r.failure(), IrcError::PingTimeout);
}

#[test]
fn ctcp_version_and_ping_are_answered_by_notice_and_actions_are_heard() {
    let mut r = rig(config("bob"));
    r.registered("bob");
    r.say(":al!a@h PRIVMSG bob :\u{1}VERSION\u{1}\r\n:al!a@h PRIVMSG bob :\u{1}PING 42\u{1}\r\n:al!a@h PRIVMSG #c :\u{1}ACTION waves\u{1}\r\n:srv PRIVMSG bob :\u{1}VERSION\u{1}\r\n");
    let v = concat!("kamaelia-rs ", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        r.sent(),
        [
            format!("NOTICE al :\u{1}VERSION {v}\u{1}"),
            "NOTICE al :\u{1}PING 42\u{1}".to_string()
        ]
    );
    let heard = r.heard.drain();
    assert_eq!(heard.len(), 4);
    let Heard::Message(m) = &heard[2] else {
        panic!()
    };
    assert_eq!(m.ctcp().unwrap().arg, "waves");
}

#[test]
fn lines_too_long_or_not_messages_are_reported_and_the_next_one_is_whole() {
    let mut r = rig(config("bob"));
    r.registered("bob");
    let long = format!(":al!a@h PRIVMSG #c :{}\r\n", "x".repeat(600));
    r.say(&format!(
        "{long}:srv 4x4 nope\r\n\r\n:al!a@h PRIVMSG #c :caf\u{e9}\r\n"
    ));
    let heard = r.heard.drain();
    assert_eq!(heard.len(), 3, "{heard:?}");
    assert!(matches!(
        heard[0],
        Heard::TooLong(LineError::TooLong { .. })
    ));
    assert!(matches!(&heard[1], Heard::Unparsed { line, .. } if line == ":srv 4x4 nope"));
    let Heard::Message(m) = &heard[2] else {
        panic!()
    };
    assert_eq!(m.command, Command::word("PRIVMSG"));
    assert_eq!(m.trailing(), Some("caf\u{e9}"));
    // Not UTF-8: passed on, marked.
    r.server
        .send(Bytes::from_static(b":al!a@h PRIVMSG #c :caf\xe9\r\n"))
        .unwrap();
    r.h.run_until_idle();
    let Some(Heard::Message(m)) = r.heard.recv() else {
        panic!()
    };
    assert!(m.lossy);
    assert_eq!(m.trailing(), Some("caf\u{fffd}"));
}

#[test]
fn a_full_heard_box_holds_reading_back_and_nothing_is_lost() {
    let mut h = Harness::new();
    let irc = IrcClient::new(config("bob"));
    let id = h.spawn(irc);
    let server: Feeder<Bytes> = h.feeder(id, "inbox").unwrap();
    let heard: Collector<Heard> = h.bounded_collector(id, "heard", 2).unwrap();
    let _wire: Collector<Bytes> = h.collector(id, "outbox").unwrap();
    let mut text = String::from(":srv 001 bob :hi\r\n");
    for i in 0..20 {
        text.push_str(&format!(":al!a@h PRIVMSG #c :m{i}\r\n"));
    }
    server.send(Bytes::from(text)).unwrap();
    let mut got = Vec::new();
    for _ in 0..50 {
        h.run_until_idle();
        assert!(heard.len() <= 2);
        got.extend(heard.drain());
        if got.len() == 21 {
            break;
        }
    }
    let texts: Vec<String> = got
        .iter()
        .skip(1)
        .map(|h| match h {
            Heard::Message(m) => m.trailing().unwrap().to_string(),
            o => panic!("{o:?}"),
        })
        .collect();
    assert_eq!(texts, (0..20).map(|i| format!("m{i}")).collect::<Vec<_>>());
    let _ = Message::new("X", &[]);
}

#[test]
fn a_quit_asked_before_the_welcome_goes_after_registration_and_what_was_queued() {
    let mut r = rig(config("bob"));
    r.talk.send(Talk::Join("#c".into())).unwrap();
    r.talk.send(Talk::Quit(None)).unwrap();
    r.talk.send(Talk::Join("#late".into())).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.sent(), ["NICK bob", "USER bob 0 * :Real Name"]);
    assert!(r.net_control.is_empty());
    r.say(":srv 001 bob :hi\r\n");
    assert_eq!(r.sent(), ["JOIN #c", "QUIT Kamaelia"]);
    assert_eq!(r.net_control.drain(), [Signal::ProducerFinished]);
    r.net_signal.send(Signal::ProducerFinished).unwrap();
    r.h.run_until_idle();
    assert_eq!(r.signal.drain(), [Signal::ProducerFinished]);
}

#[test]
fn a_full_connection_inbox_holds_lines_back_in_order_and_nothing_is_lost() {
    let mut h = Harness::new();
    let id = h.spawn(IrcClient::new(config("bob")));
    let server: Feeder<Bytes> = h.feeder(id, "inbox").unwrap();
    let talk: Feeder<Talk> = h.feeder(id, "talk").unwrap();
    let wire: Collector<Bytes> = h.bounded_collector(id, "outbox", 1).unwrap();
    let _heard: Collector<Heard> = h.collector(id, "heard").unwrap();
    h.run_until_idle();
    let mut got = Vec::new();
    got.extend(wire.drain());
    for i in 0..10 {
        talk.send(Talk::Privmsg("#c".into(), format!("m{i}")))
            .unwrap();
    }
    server
        .send(Bytes::from_static(b":srv 001 bob :hi\r\nPING :p\r\n"))
        .unwrap();
    for _ in 0..40 {
        h.run_until_idle();
        assert!(wire.len() <= 1);
        got.extend(wire.drain());
    }
    let text = String::from_utf8(got.concat()).unwrap();
    let mut want = String::from("NICK bob\r\nUSER bob 0 * :Real Name\r\nPONG p\r\n");
    for i in 0..10 {
        want.push_str(&format!("PRIVMSG #c m{i}\r\n"));
    }
    assert_eq!(text, want);
}

#[test]
fn a_flood_of_ctcp_requests_does_not_grow_the_send_queue() {
    let mut c = config("bob");
    c.flood = FloodControl {
        burst: 1,
        interval: Duration::from_secs(2),
    };
    let mut r = rig(c);
    r.h.run_for(Duration::from_secs(10));
    r.registered("bob");
    let flood = ":al!a@h PRIVMSG #c :\u{1}VERSION\u{1}\r\n".repeat(500);
    r.say(&flood);
    assert_eq!(r.heard.len(), 500, "every request heard");
    assert_eq!(
        r.state.borrow().queued,
        kamaelia::protocol::irc::CTCP_QUEUE_LIMIT
    );
    // Paced out, one every 2 s, and no more.
    r.h.run_for(Duration::from_secs(60));
    let sent = r.sent();
    assert_eq!(
        sent.len(),
        kamaelia::protocol::irc::CTCP_QUEUE_LIMIT + 1,
        "{sent:?}"
    );
    assert!(sent
        .iter()
        .all(|l| l.starts_with("NOTICE al :\u{1}VERSION")));
}

#[test]
fn after_a_nick_change_long_texts_leave_room_for_the_new_prefix() {
    let mut r = rig(config("bob"));
    r.registered("bob");
    r.say(":bob!bob@h.x JOIN #c\r\n:bob!bob@h.x NICK :bob_the_longer\r\n");
    r.sent();
    r.tell(Talk::Privmsg("#c".into(), "y".repeat(2000)));
    let lines = r.sent();
    let relay = 1 + "bob_the_longer!bob@h.x".len() + 1;
    for l in &lines {
        assert!(relay + l.len() + 2 <= MAX_LINE, "{}", l.len());
    }
    // As full as fits (one byte is kept for the ':' a text with a space
    // needs; this one has none).
    assert_eq!(relay + lines[0].len() + 2, MAX_LINE - 1);
}
