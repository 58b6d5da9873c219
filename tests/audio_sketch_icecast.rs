//! Icecast to speakers (examples/icecast_play.rs) against a real icecast2
//! on 127.0.0.1 fed by ezstream looping two Ogg files with different
//! titles: decoded audio arrives (and a whole file's worth of it equals
//! that file's own decode, sample for sample), and the title is printed
//! each time it changes, never twice in a row.
//!
//! Skipped, with the reason printed, when icecast2, ezstream, sox or
//! oggenc is missing; `KAMAELIA_REQUIRE_INTEROP=1` makes that a failure.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use kamaelia::audio::wav_writer::WavWriter;
use kamaelia::axon::{Ended, Outbox, Scheduler, Signal};

mod audio_support;
use audio_support::icecast::{ezstream, have_icecast};
use audio_support::interop_support::free_port;
use audio_support::*;

#[allow(dead_code)]
#[path = "../examples/icecast_play.rs"]
mod icecast_play;
use icecast_play::*;

/// Where `needle` starts in `hay`, if it occurs.
fn find(hay: &[i16], needle: &[i16]) -> Option<usize> {
    let probe = &needle[..needle.len().min(256)];
    (0..hay.len().saturating_sub(needle.len()) + 1)
        .find(|&i| hay[i..i + probe.len()] == *probe && hay[i..i + needle.len()] == *needle)
}

#[test]
fn an_ogg_mount_is_decoded_and_its_titles_printed_as_they_change() {
    if !have_tools("icecast_play") || !have_icecast("icecast_play") {
        return;
    }
    let dir = TempDir::new("icecast-play");
    let first = make_ogg(dir.path(), "first", 44_100, 2, 2.0, 2, "First Song");
    let second = make_ogg(dir.path(), "second", 44_100, 2, 1.5, 2, "Second Song");
    let port = free_port();
    let _server = audio_support::icecast::icecast(dir.path(), port);
    let _source = ezstream(
        dir.path(),
        port,
        "/live.ogg",
        &[first.clone(), second.clone()],
    );

    let wav = dir.path().join("heard.wav");
    let titles = Rc::new(RefCell::new(Vec::<u8>::new()));
    let stop = Outbox::signal();
    let mut s = Scheduler::new();
    let url = format!("http://127.0.0.1:{port}/live.ogg");
    let p = spawn_player(
        &mut s,
        &url,
        Box::new(WavWriter::new(&wav)),
        titles.clone(),
        &stop,
    )
    .unwrap();
    // icecast2's burst on connect (64 KiB) holds several loops of the two
    // small files; then it goes on at the source's pace.
    s.run_for(Duration::from_secs(5));
    stop.send(Signal::Shutdown).unwrap();
    assert_eq!(
        s.run_for(Duration::from_secs(10)),
        Some(Ended::Completed),
        "a shutdown ends the whole chain"
    );
    assert!(!s.is_alive(p.sink));

    let text = String::from_utf8(titles.borrow().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    eprintln!("titles: {lines:?}");
    assert!(lines.len() >= 2, "the titles alternate: {lines:?}");
    for l in &lines {
        assert!(
            *l == "title: First Song" || *l == "title: Second Song",
            "{l:?}"
        );
    }
    assert!(
        lines.windows(2).all(|w| w[0] != w[1]),
        "printed only on a change"
    );

    let d = p.stats.get();
    assert!(d.vorbis.header_sets >= 3, "a chain per file: {d:?}");
    let (info, heard) = read_wav(&wav);
    assert_eq!((info.rate, info.channels), (44_100, 2));
    assert!(
        heard.len() >= 3 * 44_100 * 2,
        "seconds of audio: {}",
        heard.len()
    );
    // Every link after the first one heard whole: the file's own decode.
    for f in [&first, &second] {
        let own = decode_core(&std::fs::read(f).unwrap(), 4096).samples();
        assert!(
            find(&heard, &own).is_some(),
            "{} decoded whole, sample for sample, within the stream",
            f.display()
        );
    }
}
