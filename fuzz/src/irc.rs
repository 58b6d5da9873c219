//! The check behind the `irc_line` fuzz target: arbitrary bytes, cut into
//! pieces as the first byte says, into the IRC line reader; every line
//! parsed; every message that encodes comes back the same when parsed
//! again. Nothing may panic, no line may be longer than the limits, and
//! no encoded line may hold a CR, LF or NUL before its end.
//!
//! Shared by `fuzz_targets/irc_line.rs` and the main crate's
//! `tests/irc_codec.rs` (which runs it over pseudo-random inputs, so CI
//! exercises it without a fuzzer). Kept out of `lib.rs` on purpose: it is
//! included by path.

use kamaelia::protocol::irc::{LineEvent, LineReader, Message, MAX_LINE, MAX_TAGS};

/// What one input came to.
#[derive(Debug, Default)]
pub struct IrcSummary {
    /// Lines given.
    pub lines: usize,
    /// Lines over a limit.
    pub errors: usize,
    /// Lines that parsed.
    pub parsed: usize,
    /// Parsed messages that encoded again (and parsed back the same).
    pub round_trips: usize,
}

/// Runs one input; panics only on a broken invariant.
pub fn irc_line(data: &[u8]) -> IrcSummary {
    let mut s = IrcSummary::default();
    let Some((&seed, stream)) = data.split_first() else {
        return s;
    };
    let mut reader = LineReader::new();
    let mut at = 0;
    let mut step = usize::from(seed % 17) + 1;
    while at < stream.len() {
        let n = step.min(stream.len() - at);
        reader.push(&stream[at..at + n]);
        at += n;
        step = (step * 7 + usize::from(seed)) % 613 + 1;
        while let Some(ev) = reader.next_line() {
            check(ev, &mut s);
        }
        assert!(reader.pending() <= MAX_LINE + MAX_TAGS, "held too much");
    }
    s
}

fn check(ev: LineEvent, s: &mut IrcSummary) {
    match ev {
        LineEvent::Error(_) => s.errors += 1,
        LineEvent::Line(line) => {
            s.lines += 1;
            assert!(!line.contains(&b'\n'));
            assert!(line.len() <= MAX_LINE + MAX_TAGS);
            let Ok(m) = Message::parse_bytes(&line) else {
                return;
            };
            s.parsed += 1;
            let _ = m.ctcp();
            let Ok(wire) = m.to_line() else {
                return;
            };
            let body = &wire[..wire.len() - 2];
            assert!(wire.ends_with(b"\r\n"));
            assert!(
                !body.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0)),
                "{wire:?}"
            );
            let again = Message::parse_bytes(body).expect("an encoded message parses");
            let mut want = m.clone();
            want.lossy = false;
            assert_eq!(again, want, "round trip of {line:?}");
            s.round_trips += 1;
        }
    }
}
