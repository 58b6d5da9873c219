//! SimpleIrcClient (IrcClient on a TcpClient, as a Graphline) over a
//! scripted connection on virtual time: a whole session, and a fault walk
//! over the registration (every operation of the connection refused,
//! reset, short or would-block in turn); and informat / outformat.

use std::time::Duration;

use kamaelia::axon::Signal;
use kamaelia::internet::{EndReason, TcpClient};
use kamaelia::protocol::irc::{
    informat, outformat, FloodControl, Heard, IrcClient, IrcConfig, IrcError, Message,
    SimpleIrcClient, Talk,
};
use kamaelia::testing::scripted::{scripted_connector, ConnLog, Fault, ScriptedConn};
use kamaelia::testing::Harness;

const SCRIPT: [&[u8]; 3] = [
    b":srv NOTICE * :*** Looking up your hostname\r\n:srv 001 bob :Wel",
    b"come bob\r\n:srv 005 bob CHANTYPES=# :are supported\r\n",
    b":bob!bob@h JOIN #c\r\n:al!a@h PRIVMSG #c :hi bob\r\n",
];

struct Run {
    written: String,
    log: ConnLog,
    heard: Vec<String>,
    signals: Vec<Signal>,
    registered: bool,
    live: usize,
}

impl Run {
    fn error(&self) -> Option<IrcError> {
        match self.signals.as_slice() {
            [Signal::Failed(f)] => Some(f.downcast_ref::<IrcError>().expect("IrcError").clone()),
            _ => None,
        }
    }
}

/// The script above, then silence: the client registers, joins, says
/// something, quits, and (as the scripted server never closes) ends
/// after its quit time-out.
fn session(fault: Option<(usize, Fault)>) -> Run {
    let mut conn = ScriptedConn::new().slow_connect(1);
    for chunk in SCRIPT {
        conn = conn.reply(chunk);
    }
    if let Some((n, f)) = fault {
        conn = conn.fault_at(n, f);
    }
    let log = conn.log();
    let tcp = TcpClient::new("10.0.0.1", 6667).with_connector(scripted_connector(vec![conn]));
    let irc = IrcClient::new(IrcConfig::new("bob").join(&["#c"]).flood(FloodControl {
        burst: 2,
        interval: Duration::from_millis(500),
    }));
    let state = irc.state();
    let g = SimpleIrcClient::around(tcp, irc);
    let mut h = Harness::new();
    let id = h.spawn(g);
    let talk = h.feeder::<Talk>(id, "inbox").unwrap();
    let heard = h.collector::<Heard>(id, "outbox").unwrap();
    let signal = h.collector::<Signal>(id, "signal").unwrap();
    talk.send(Talk::Privmsg("#c".into(), "hello all".into()))
        .unwrap();
    talk.send(Talk::Action("#c".into(), "waves".into()))
        .unwrap();
    talk.send(Talk::Quit(Some("bye".into()))).unwrap();
    h.run_for(Duration::from_secs(30));
    let heard = heard
        .drain()
        .into_iter()
        .map(|x| match x {
            Heard::Message(m) => m.to_string(),
            o => format!("{o:?}"),
        })
        .collect();
    let log = log.borrow().clone();
    let registered = state.borrow().registered;
    Run {
        written: String::from_utf8(log.written.clone()).unwrap(),
        log,
        heard,
        signals: signal.drain(),
        registered,
        live: h.scheduler().live(),
    }
}

#[test]
fn a_whole_session_over_the_prefab() {
    let r = session(None);
    assert_eq!(
        r.written,
        "NICK bob\r\nUSER bob 0 * :Kamaelia IRC client\r\nJOIN #c\r\nPRIVMSG #c :hello all\r\n\
         PRIVMSG #c :\u{1}ACTION waves\u{1}\r\nQUIT bye\r\n"
    );
    assert_eq!(
        r.heard,
        [
            ":srv NOTICE * :*** Looking up your hostname",
            ":srv 001 bob :Welcome bob",
            ":srv 005 bob CHANTYPES=# :are supported",
            ":bob!bob@h JOIN #c",
            ":al!a@h PRIVMSG #c :hi bob",
        ]
    );
    assert!(r.registered);
    assert_eq!(r.signals, [Signal::ProducerFinished]);
    assert!(r.log.write_closed, "QUIT, then the sending side closed");
    assert!(r.log.dropped);
    assert_eq!(r.live, 0, "the graphline and both children ended");
}

#[test]
fn every_operation_of_the_registration_failing_ends_with_a_typed_reason_or_completes_exactly() {
    let clean = session(None);
    let total = clean.log.ops;
    assert!(total >= 8, "{total}");
    let mut failures = 0;
    let mut late = 0;
    for n in 1..=total {
        for fault in [
            Fault::Refused,
            Fault::Reset,
            Fault::ShortWrite,
            Fault::WouldBlock,
        ] {
            let r = session(Some((n, fault)));
            let ctx = format!("{fault:?} at op {n} of {total}");
            assert!(r.log.dropped, "{ctx}: the connection was closed");
            assert_eq!(r.live, 0, "{ctx}: everything ended");
            assert!(
                clean.written.starts_with(&r.written),
                "{ctx}: {:?}",
                r.written
            );
            assert!(clean.heard.starts_with(&r.heard), "{ctx}: {:?}", r.heard);
            match (fault, r.error()) {
                (Fault::ShortWrite | Fault::WouldBlock, e) => {
                    assert_eq!(e, None, "{ctx}: harmless");
                    assert_eq!(r.written, clean.written, "{ctx}");
                    assert_eq!(r.heard, clean.heard, "{ctx}");
                    assert_eq!(r.signals, [Signal::ProducerFinished], "{ctx}");
                }
                (_, None) => {
                    // Only once QUIT has been handed to the connection may
                    // a failure end cleanly (the session is over as asked).
                    assert_eq!(r.signals, [Signal::ProducerFinished], "{ctx}");
                    let before_quit = clean.written.strip_suffix("QUIT bye\r\n").unwrap();
                    assert!(r.written.starts_with(before_quit), "{ctx}");
                    assert_eq!(r.heard, clean.heard, "{ctx}");
                    late += 1;
                }
                (f, Some(IrcError::Connection(e))) => {
                    let want = if f == Fault::Refused {
                        EndReason::Refused
                    } else {
                        EndReason::Reset
                    };
                    assert_eq!(e.reason, want, "{ctx}");
                    assert_ne!(
                        (&r.written, &r.heard),
                        (&clean.written, &clean.heard),
                        "{ctx}: a failure comes before the end"
                    );
                    failures += 1;
                }
                (_, Some(e)) => panic!("{ctx}: {e:?}"),
            }
        }
    }
    assert!(failures >= total, "{failures} of {total}");
    // A refusal or reset of the QUIT's write, or of the reads after it.
    assert!(late >= 2 && late < total, "{late}");
}

#[test]
fn a_refused_connection_ends_the_prefab_with_a_typed_error() {
    let tcp = TcpClient::new("10.0.0.1", 6667).with_connector(scripted_connector(vec![]));
    let g = SimpleIrcClient::around(tcp, IrcClient::new(IrcConfig::new("bob")));
    let mut h = Harness::new();
    let id = h.spawn(g);
    let signal = h.collector::<Signal>(id, "signal").unwrap();
    h.run_for(Duration::from_secs(1));
    let sigs = signal.drain();
    let [Signal::Failed(f)] = sigs.as_slice() else {
        panic!("{sigs:?}")
    };
    match f.downcast_ref::<IrcError>() {
        Some(IrcError::Connection(e)) => assert_eq!(e.reason, EndReason::Refused),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.scheduler().live(), 0);
}

#[test]
fn informat_turns_console_lines_into_commands() {
    let c = "#k";
    let s = |x: &str| x.to_string();
    assert_eq!(
        informat("hello there\n", c),
        Some(Talk::Privmsg(s(c), s("hello there")))
    );
    assert_eq!(informat("/join #x", c), Some(Talk::Join(s("#x"))));
    assert_eq!(informat("/JOIN", c), None);
    assert_eq!(informat("/part", c), Some(Talk::Part(s(c), None)));
    assert_eq!(
        informat("/part #x gone fishing", c),
        Some(Talk::Part(s("#x"), Some(s("gone fishing"))))
    );
    assert_eq!(
        informat("/part gone", c),
        Some(Talk::Part(s(c), Some(s("gone"))))
    );
    assert_eq!(
        informat("/msg al hi you", c),
        Some(Talk::Privmsg(s("al"), s("hi you")))
    );
    assert_eq!(informat("/msg al", c), None);
    assert_eq!(
        informat("/notice al psst", c),
        Some(Talk::Notice(s("al"), s("psst")))
    );
    assert_eq!(
        informat("/me waves", c),
        Some(Talk::Action(s(c), s("waves")))
    );
    assert_eq!(informat("/nick bobby", c), Some(Talk::Nick(s("bobby"))));
    assert_eq!(informat("/quit", c), Some(Talk::Quit(None)));
    assert_eq!(
        informat("/quit see you", c),
        Some(Talk::Quit(Some(s("see you"))))
    );
    assert_eq!(
        informat("/raw MODE #k +t", c),
        Some(Talk::Raw(Message::new("MODE", &["#k", "+t"])))
    );
    assert_eq!(
        informat("/whois al", c),
        Some(Talk::Raw(Message::new("WHOIS", &["al"])))
    );
    assert_eq!(informat("/w-x", c), None);
    assert_eq!(informat("   ", c), None);
}

#[test]
fn outformat_renders_what_is_heard_for_a_console() {
    let f = |line: &str| outformat(&Heard::Message(Message::parse(line).unwrap()), "bob");
    let s = |x: &str| Some(x.to_string());
    assert_eq!(f(":al!a@h PRIVMSG #c :hi all"), s("[#c] <al> hi all"));
    assert_eq!(f(":al!a@h PRIVMSG bob :psst"), s("*al* psst"));
    assert_eq!(
        f(":al!a@h PRIVMSG #c :\u{1}ACTION waves\u{1}"),
        s("[#c] * al waves")
    );
    assert_eq!(f(":al!a@h NOTICE #c :note"), s("[#c] -al- note"));
    assert_eq!(f(":al!a@h JOIN #c"), s("*** al has joined #c"));
    assert_eq!(f(":al!a@h PART #c :bye"), s("*** al has left #c (bye)"));
    assert_eq!(f(":al!a@h QUIT :gone"), s("*** al has quit (gone)"));
    assert_eq!(f(":al!a@h NICK al2"), s("*** al is now known as al2"));
    assert_eq!(
        f(":op!o@h KICK #c al :out"),
        s("*** al was kicked from #c by op (out)")
    );
    assert_eq!(f(":srv 332 bob #c :the topic"), s("*** #c the topic"));
    assert_eq!(f("PING :x"), None);
    assert_eq!(f("ERROR :Closing link"), s("*** ERROR: Closing link"));
    let refused = Heard::Refused {
        talk: Talk::Join("#a b".into()),
        error: kamaelia::protocol::irc::EncodeError::BadMiddle { index: 0 },
    };
    assert!(outformat(&refused, "bob")
        .unwrap()
        .starts_with("!!! not sent"));
}
