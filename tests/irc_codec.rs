//! The IRC line codec alone: lines from chunks cut anywhere, the length
//! limits, lossy UTF-8, message parsing (prefix, numerics, trailing,
//! IRCv3 tags, CTCP), encoding that refuses injection, proptest round
//! trips, and the fuzz target's check over pseudo-random inputs.

use kamaelia::internet::simulate::SplitMix64;
use kamaelia::protocol::irc::{
    Command, Ctcp, CtcpKind, EncodeError, LineError, LineEvent, LineReader, Message, ParseError,
    Prefix, Tag, MAX_LINE, MAX_TAGS,
};
use proptest::prelude::*;

#[allow(dead_code)]
#[path = "../fuzz/src/irc.rs"]
mod fuzz_irc;

fn lines_of(chunks: &[&[u8]]) -> Vec<LineEvent> {
    let mut r = LineReader::new();
    let mut out = Vec::new();
    for c in chunks {
        r.push(c);
        while let Some(ev) = r.next_line() {
            out.push(ev);
        }
    }
    out
}

fn line(s: &str) -> LineEvent {
    LineEvent::Line(s.as_bytes().to_vec())
}

// ----- lines -----

#[test]
fn a_stream_cut_at_every_byte_position_gives_the_same_lines() {
    let stream = b":srv 001 bob :Welcome\r\nPING :tok\n:a!b@c PRIVMSG #x :hi\r\n";
    let want = vec![
        line(":srv 001 bob :Welcome"),
        line("PING :tok"),
        line(":a!b@c PRIVMSG #x :hi"),
    ];
    for i in 0..=stream.len() {
        for j in i..=stream.len() {
            let got = lines_of(&[&stream[..i], &stream[i..j], &stream[j..]]);
            assert_eq!(got, want, "cut at {i} and {j}");
        }
    }
    // One byte at a time.
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(lines_of(&bytes), want);
}

#[test]
fn a_line_without_its_end_is_held_until_the_end_arrives() {
    let mut r = LineReader::new();
    r.push(b"PING :x");
    assert_eq!(r.next_line(), None);
    assert_eq!(r.pending(), 7);
    r.push(b"\r");
    assert_eq!(r.next_line(), None);
    r.push(b"\n");
    assert_eq!(r.next_line(), Some(line("PING :x")));
    assert_eq!(r.pending(), 0);
}

#[test]
fn empty_lines_come_out_empty_and_only_the_last_cr_is_dropped() {
    assert_eq!(
        lines_of(&[b"\r\n\na\r\r\n"]),
        vec![line(""), line(""), line("a\r")]
    );
}

#[test]
fn the_longest_line_passes_and_one_byte_more_is_a_typed_error_then_the_next_line_is_whole() {
    let ok = format!("PRIVMSG #c :{}", "x".repeat(MAX_LINE - 2 - 12));
    assert_eq!(ok.len() + 2, MAX_LINE);
    let long = format!("PRIVMSG #c :{}", "x".repeat(MAX_LINE - 2 - 12 + 1));
    let stream = format!("{ok}\r\n{long}\r\nPING :after\r\n");
    let want = vec![
        LineEvent::Line(ok.clone().into_bytes()),
        LineEvent::Error(LineError::TooLong { len: MAX_LINE + 1 }),
        line("PING :after"),
    ];
    assert_eq!(lines_of(&[stream.as_bytes()]), want);
    // Cut anywhere, the over-long line is reported once (maybe before its
    // end arrives, with the length seen so far) and the next is whole.
    for cut in 0..stream.len() {
        let got = lines_of(&[&stream.as_bytes()[..cut], &stream.as_bytes()[cut..]]);
        assert_eq!(got.len(), 3, "cut at {cut}");
        assert_eq!(got[0], want[0], "cut at {cut}");
        assert!(
            matches!(got[1], LineEvent::Error(LineError::TooLong { len }) if len > MAX_LINE),
            "cut at {cut}: {:?}",
            got[1]
        );
        assert_eq!(got[2], want[2], "cut at {cut}");
    }
}

#[test]
fn a_line_that_never_ends_is_reported_once_and_memory_stays_bounded() {
    let mut r = LineReader::new();
    let mut errors = 0;
    for _ in 0..1000 {
        r.push(&[b'x'; 1000]);
        while let Some(ev) = r.next_line() {
            assert!(matches!(ev, LineEvent::Error(LineError::TooLong { .. })));
            errors += 1;
        }
        assert!(r.pending() <= MAX_LINE, "{}", r.pending());
    }
    assert_eq!(errors, 1);
    r.push(b"\r\nPING :ok\r\n");
    assert_eq!(r.next_line(), Some(line("PING :ok")));
    assert_eq!(r.next_line(), None);
}

#[test]
fn tags_may_take_8191_bytes_on_top_of_the_512_byte_message_and_no_more() {
    let msg = format!("PRIVMSG #c :{}", "y".repeat(MAX_LINE - 2 - 12));
    let tags = |n: usize| format!("@k={} ", "t".repeat(n - 4));
    let ok = format!("{}{msg}", tags(MAX_TAGS));
    let bad = format!("{}{msg}", tags(MAX_TAGS + 1));
    let got = lines_of(&[format!("{ok}\r\n{bad}\r\nPING :z\n").as_bytes()]);
    assert_eq!(got[0], LineEvent::Line(ok.clone().into_bytes()));
    assert_eq!(
        got[1],
        LineEvent::Error(LineError::TagsTooLong { len: MAX_TAGS + 1 })
    );
    assert_eq!(got[2], line("PING :z"));
    let m = Message::parse(&ok).unwrap();
    assert_eq!(m.tag("k").unwrap().unwrap().len(), MAX_TAGS - 4);
    assert_eq!(m.params[1].len(), MAX_LINE - 2 - 12);
}

#[test]
fn bytes_that_are_not_utf8_are_replaced_and_the_message_is_marked_lossy() {
    let got = lines_of(&[b":a!b@c PRIVMSG #x :caf\xe9 ok\r\n"]);
    let LineEvent::Line(l) = &got[0] else {
        panic!("{got:?}")
    };
    let m = Message::parse_bytes(l).unwrap();
    assert!(m.lossy);
    assert_eq!(m.params, ["#x", "caf\u{fffd} ok"]);
    let clean = Message::parse_bytes(":a!b@c PRIVMSG #x :café".as_bytes()).unwrap();
    assert!(!clean.lossy);
    assert_eq!(clean.trailing(), Some("café"));
}

// ----- parsing -----

#[test]
fn prefix_command_numeric_params_and_trailing_are_parsed() {
    let m = Message::parse(":nick!~user@host.example PRIVMSG #chan :hello :there  x").unwrap();
    assert_eq!(
        m.prefix,
        Some(Prefix {
            nick: "nick".into(),
            user: Some("~user".into()),
            host: Some("host.example".into())
        })
    );
    assert_eq!(m.command, Command::Word("PRIVMSG".into()));
    assert_eq!(m.params, ["#chan", "hello :there  x"]);
    let n = Message::parse(":irc.example.net 433 * bob :Nickname is already in use").unwrap();
    assert_eq!(n.command, Command::Numeric(433));
    assert_eq!(n.command.numeric(), Some(433));
    assert_eq!(n.source_nick(), Some("irc.example.net"));
    assert_eq!(n.prefix.as_ref().unwrap().user, None);
    assert_eq!(n.params, ["*", "bob", "Nickname is already in use"]);
    let p = Message::parse("ping   tok   more").unwrap();
    assert_eq!(p.command, Command::word("PING"));
    assert_eq!(p.params, ["tok", "more"]);
    let e = Message::parse("JOIN #a :").unwrap();
    assert_eq!(e.params, ["#a", ""]);
    assert_eq!(Message::parse("005").unwrap().command, Command::Numeric(5));
}

#[test]
fn lines_that_are_not_messages_are_typed_errors() {
    assert_eq!(Message::parse(""), Err(ParseError::NoCommand));
    assert_eq!(Message::parse("   "), Err(ParseError::NoCommand));
    assert_eq!(Message::parse(":only.prefix"), Err(ParseError::NoCommand));
    assert_eq!(
        Message::parse("PRIV-MSG x"),
        Err(ParseError::BadCommand("PRIV-MSG".into()))
    );
    assert_eq!(
        Message::parse("4321 x"),
        Err(ParseError::BadCommand("4321".into()))
    );
    assert_eq!(Message::parse("@=v PING"), Err(ParseError::EmptyTagKey));
}

#[test]
fn ircv3_tags_are_unescaped_and_escaped_back() {
    let m = Message::parse(
        r"@time=2024-05-01T10:00:00.000Z;msgid=a\sb\:c\\d\r\n;+draft/typing=active;flag;bad=x\ PRIVMSG #c :hi",
    )
    .unwrap();
    assert_eq!(m.tag("time"), Some(Some("2024-05-01T10:00:00.000Z")));
    assert_eq!(m.tag("msgid"), Some(Some("a b;c\\d\r\n")));
    assert_eq!(m.tag("+draft/typing"), Some(Some("active")));
    assert_eq!(m.tag("flag"), Some(None));
    assert_eq!(
        m.tag("bad"),
        Some(Some("x")),
        "a lone backslash at the end is dropped"
    );
    assert_eq!(m.tag("none"), None);
    let wire = m.to_line().unwrap();
    assert!(wire.starts_with(
        br"@time=2024-05-01T10:00:00.000Z;msgid=a\sb\:c\\d\r\n;+draft/typing=active;flag;bad=x "
    ));
    let mut again = Message::parse_bytes(&wire[..wire.len() - 2]).unwrap();
    again.lossy = m.lossy;
    assert_eq!(again, m);
}

#[test]
fn ctcp_action_version_and_ping_are_recognised() {
    let act = Message::parse(":a!b@c PRIVMSG #x :\x01ACTION waves hello\x01").unwrap();
    assert_eq!(act.ctcp(), Some(Ctcp::new(CtcpKind::Action, "waves hello")));
    let ver = Message::parse(":a!b@c PRIVMSG bob :\x01VERSION\x01").unwrap();
    assert_eq!(ver.ctcp(), Some(Ctcp::new(CtcpKind::Version, "")));
    let ping = Message::parse(":a!b@c PRIVMSG bob :\x01ping 12345").unwrap();
    assert_eq!(ping.ctcp(), Some(Ctcp::new(CtcpKind::Ping, "12345")));
    let other = Message::parse(":a!b@c NOTICE bob :\x01TIME Mon\x01").unwrap();
    assert_eq!(
        other.ctcp(),
        Some(Ctcp::new(CtcpKind::Other("TIME".into()), "Mon"))
    );
    assert_eq!(Message::parse(":a PRIVMSG #x :plain").unwrap().ctcp(), None);
    assert_eq!(
        Message::parse(":a PRIVMSG #x :\x01\x01").unwrap().ctcp(),
        None
    );
    assert_eq!(
        Message::parse(":a JOIN :\x01ACTION x").unwrap().ctcp(),
        None
    );
    assert_eq!(Ctcp::new(CtcpKind::Ping, "").to_text(), "\x01PING\x01");
}

// ----- encoding -----

#[test]
fn only_the_last_parameter_gets_a_colon_and_only_when_it_needs_one() {
    let enc =
        |c: &str, p: &[&str]| String::from_utf8(Message::new(c, p).to_line().unwrap()).unwrap();
    assert_eq!(enc("join", &["#c"]), "JOIN #c\r\n");
    assert_eq!(
        enc("PRIVMSG", &["#c", "hi there"]),
        "PRIVMSG #c :hi there\r\n"
    );
    assert_eq!(enc("PRIVMSG", &["#c", ":)"]), "PRIVMSG #c ::)\r\n");
    assert_eq!(enc("PART", &["#c", ""]), "PART #c :\r\n");
    assert_eq!(
        enc("USER", &["u", "0", "*", "Real Name"]),
        "USER u 0 * :Real Name\r\n"
    );
    assert_eq!(enc("QUIT", &[]), "QUIT\r\n");
}

#[test]
fn line_breaks_and_nul_in_any_parameter_are_refused_and_nothing_is_written() {
    for (i, bad) in ["x\r\nQUIT :owned", "x\nJOIN #evil", "x\ry", "x\0y"]
        .iter()
        .enumerate()
    {
        let mut out = b"before".to_vec();
        let m = Message::new("PRIVMSG", &["#c", bad]);
        assert_eq!(
            m.encode(&mut out),
            Err(EncodeError::LineBreak { index: 1 }),
            "{i}"
        );
        assert_eq!(out, b"before", "nothing written");
        let m = Message::new("PRIVMSG", &[bad, "text"]);
        assert_eq!(m.to_line(), Err(EncodeError::LineBreak { index: 0 }));
    }
    let mut m = Message::new("PING", &["x"]);
    m.prefix = Some(Prefix::parse("a\r\nb"));
    assert_eq!(
        m.to_line(),
        Err(EncodeError::LineBreak { index: usize::MAX })
    );
    let mut m = Message::new("PING", &["x"]);
    m.tags.push(Tag {
        key: "k".into(),
        value: Some("a\0".into()),
    });
    assert_eq!(
        m.to_line(),
        Err(EncodeError::LineBreak { index: usize::MAX })
    );
}

#[test]
fn spaces_colons_and_empties_are_refused_outside_the_last_parameter() {
    for bad in ["two words", ":colon", ""] {
        assert_eq!(
            Message::new("PRIVMSG", &[bad, "text"]).to_line(),
            Err(EncodeError::BadMiddle { index: 0 }),
            "{bad:?}"
        );
    }
    assert!(matches!(
        Message::new("BAD-CMD", &[]).to_line(),
        Err(EncodeError::BadCommand(_))
    ));
    let mut m = Message::new("PING", &["x"]);
    m.tags.push(Tag {
        key: "bad key".into(),
        value: None,
    });
    assert_eq!(m.to_line(), Err(EncodeError::BadTagKey("bad key".into())));
}

#[test]
fn a_line_over_512_bytes_is_refused() {
    // No space in it: no colon before it.
    let text = "z".repeat(MAX_LINE - 2 - "PRIVMSG #c ".len());
    assert_eq!(
        Message::new("PRIVMSG", &["#c", &text])
            .to_line()
            .unwrap()
            .len(),
        MAX_LINE
    );
    let text = text + "z";
    assert_eq!(
        Message::new("PRIVMSG", &["#c", &text]).to_line(),
        Err(EncodeError::TooLong { len: MAX_LINE + 1 })
    );
}

// ----- properties -----

fn middle() -> impl Strategy<Value = String> {
    "[^ :\r\n\0][^ \r\n\0]{0,12}"
}

fn trailing() -> impl Strategy<Value = String> {
    "[^\r\n\0]{0,40}"
}

fn message() -> impl Strategy<Value = Message> {
    let tag = (
        "\\+?[a-z][a-z0-9/.-]{0,8}",
        proptest::option::of("[^\0]{0,10}"),
    )
        .prop_map(|(key, value)| Tag { key, value });
    let prefix = proptest::option::of((
        "[a-zA-Z][a-zA-Z0-9_.]{0,8}",
        proptest::option::of("~?[a-z]{1,8}"),
        proptest::option::of("[a-z0-9.]{1,20}"),
    ))
    .prop_map(|p| p.map(|(nick, user, host)| Prefix { nick, user, host }));
    let command = prop_oneof![
        "[A-Z]{1,10}".prop_map(Command::Word),
        (0u16..1000).prop_map(Command::Numeric),
    ];
    (
        proptest::collection::vec(tag, 0..4),
        prefix,
        command,
        proptest::collection::vec(middle(), 0..5),
        proptest::option::of(trailing()),
    )
        .prop_map(|(tags, prefix, command, mut params, last)| {
            params.extend(last);
            Message {
                tags,
                prefix,
                command,
                params,
                lossy: false,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_encodable_message_parses_back_the_same(m in message()) {
        let wire = m.to_line().unwrap();
        prop_assert!(wire.ends_with(b"\r\n"));
        let body = &wire[..wire.len() - 2];
        prop_assert!(!body.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)));
        // Through the line reader, cut in two anywhere, too.
        for cut in [0, body.len() / 3, body.len()] {
            let got = lines_of(&[&wire[..cut], &wire[cut..]]);
            prop_assert_eq!(got.len(), 1);
            let LineEvent::Line(l) = &got[0] else { panic!("{:?}", got) };
            prop_assert_eq!(&Message::parse_bytes(l).unwrap(), &m);
        }
    }

    #[test]
    fn lines_cut_anyhow_come_out_as_when_whole(
        ls in proptest::collection::vec("[^\r\n]{0,60}", 0..8),
        crlf in proptest::collection::vec(any::<bool>(), 8),
        cuts in proptest::collection::vec(0usize..600, 0..6),
    ) {
        let mut stream = Vec::new();
        for (i, l) in ls.iter().enumerate() {
            stream.extend_from_slice(l.as_bytes());
            stream.extend_from_slice(if crlf[i] { b"\r\n" } else { b"\n" });
        }
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(stream.len())).collect();
        cuts.sort();
        let mut chunks = Vec::new();
        let mut at = 0;
        for c in cuts {
            chunks.push(&stream[at..c]);
            at = c;
        }
        chunks.push(&stream[at..]);
        let want: Vec<LineEvent> = ls.iter().map(|l| LineEvent::Line(l.as_bytes().to_vec())).collect();
        prop_assert_eq!(lines_of(&chunks), want);
    }

    #[test]
    fn text_with_a_line_break_is_never_encoded(a in trailing(), b in trailing(), brk in prop_oneof![Just("\r"), Just("\n"), Just("\0")]) {
        let text = format!("{a}{brk}{b}");
        let r = Message::new("PRIVMSG", &["#c", &text]).to_line();
        prop_assert_eq!(r, Err(EncodeError::LineBreak { index: 1 }));
    }
}

// ----- the fuzz target's check, without a fuzzer -----

#[test]
fn the_fuzz_check_holds_over_pseudo_random_streams_and_the_seed_corpus() {
    let mut rng = SplitMix64::new(15);
    let pieces: [&[u8]; 12] = [
        b":srv 001 bob :Welcome\r\n",
        b"PING :x\n",
        b"@a=b\\s;c :n!u@h PRIVMSG #c :\x01ACTION w\x01\r\n",
        b":n!u@h NOTICE bob :hi\r\n",
        b"\r\n",
        b"\xff\xfe",
        b" ",
        b":",
        b"@",
        b"\r",
        b"433",
        b"PRIVMSG",
    ];
    let mut totals = fuzz_irc::IrcSummary::default();
    for _ in 0..3000 {
        let mut data = vec![rng.below(256) as u8];
        for _ in 0..rng.below(40) {
            data.extend_from_slice(pieces[rng.below(pieces.len() as u64) as usize]);
            if rng.below(10) == 0 {
                let n = rng.below(700) as usize;
                data.extend(std::iter::repeat_n(b'x', n));
            }
        }
        let s = fuzz_irc::irc_line(&data);
        totals.lines += s.lines;
        totals.errors += s.errors;
        totals.parsed += s.parsed;
        totals.round_trips += s.round_trips;
    }
    assert!(totals.round_trips > 1000, "{totals:?}");
    assert!(totals.errors > 10, "{totals:?}");
    assert!(totals.parsed < totals.lines, "{totals:?}");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/irc_line");
    let mut seeds = 0;
    for f in std::fs::read_dir(dir).unwrap() {
        let s = fuzz_irc::irc_line(&std::fs::read(f.unwrap().path()).unwrap());
        assert!(s.lines > 0);
        seeds += 1;
    }
    assert!(seeds >= 5);
}
