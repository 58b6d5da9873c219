//! `kamaelia play`, the built binary run for real: a generated Ogg file
//! (and the same over a TCP connection on 127.0.0.1) written with `--wav`
//! equals oggdec's decode within 1 LSB, frame for frame; the title and
//! the time are shown on stderr; failures are one line and status 1;
//! playing without the `audio-out` feature is status 2 with advice.
//!
//! Every child is killed when the test ends; every wait is bounded.

#![cfg(feature = "cli")]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod audio_support;
use audio_support::*;

mod cli_support;
use cli_support::{run_within, Guard, Output, BIN};

const DEADLINE: Duration = Duration::from_secs(30);

/// Runs `kamaelia args` to its end, within [`DEADLINE`] (killed past it).
fn kamaelia(args: &[&str]) -> Output {
    run_within(BIN, args, DEADLINE)
}

/// Asserts the WAV at `wav` is oggdec's decode of `ogg`, within 1 LSB.
fn assert_like_oggdec(wav: &Path, ogg: &Path, rate: u32, channels: u16) {
    let (info, got) = read_wav(wav);
    assert_eq!((info.rate, info.channels), (rate, channels));
    let want = oggdec(ogg);
    assert_eq!(
        got.len() / channels as usize,
        want.len() / channels as usize,
        "the same frame count"
    );
    let (worst, _) = max_diff(&got, &want);
    assert!(worst <= 1, "differs from oggdec by {worst}");
}

#[test]
fn a_file_written_as_wav_equals_oggdec_and_shows_title_and_time() {
    if !have_tools("cli play file") {
        return;
    }
    let dir = TempDir::new("cli-play-file");
    for (name, rate, ch, secs, title) in [
        ("stereo", 44_100, 2, 3.2, "Stereo Title"),
        ("mono", 48_000, 1, 1.5, "Mono"),
    ] {
        let ogg = make_ogg(dir.path(), name, rate, ch, secs, 4, title);
        let wav = dir.path().join(format!("{name}.wav"));
        let o = kamaelia(&[
            "play",
            ogg.to_str().unwrap(),
            "--wav",
            wav.to_str().unwrap(),
        ]);
        assert_eq!(o.code, Some(0), "{}", o.stderr);
        assert_like_oggdec(&wav, &ogg, rate, ch);
        // stderr is a pipe: plain lines, the title, then the time; the
        // last line is the end position.
        let lines: Vec<&str> = o.stderr.lines().collect();
        assert_eq!(
            lines.first(),
            Some(&&*format!("title: {title}")),
            "{lines:?}"
        );
        let end = format!("00:{:02}", secs as u64);
        assert_eq!(lines.last(), Some(&end.as_str()), "{lines:?}");
        assert!(
            lines[1..]
                .iter()
                .all(|l| l.len() == 5 && l.as_bytes()[2] == b':'),
            "{lines:?}"
        );
        assert!(lines.len() <= 3, "at most a line a second: {lines:?}");
    }
}

#[test]
fn on_a_terminal_the_time_is_redrawn_in_place() {
    if !have_tools("cli play tty") || !tools("cli play tty", &["script"], "util-linux") {
        return;
    }
    let dir = TempDir::new("cli-play-tty");
    let ogg = make_ogg(dir.path(), "tty", 44_100, 2, 2.5, 3, "On Screen");
    let wav = dir.path().join("tty.wav");
    // `script` runs it on a pseudo-terminal and copies what it wrote.
    let line = format!("{BIN} play '{}' --wav '{}'", ogg.display(), wav.display());
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script runs");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    assert!(text.contains("\rtitle: On Screen\n"), "{text:?}");
    assert!(
        text.ends_with("\r00:02\n"),
        "redrawn in place, then a newline: {text:?}"
    );
    assert_eq!(
        text.matches('\n').count(),
        2,
        "the title and the end: {text:?}"
    );
    assert_like_oggdec(&wav, &ogg, 44_100, 2);
}

#[test]
fn a_tcp_stream_written_as_wav_equals_oggdec() {
    if !have_tools("cli play tcp") {
        return;
    }
    let dir = TempDir::new("cli-play-tcp");
    let ogg = make_ogg(dir.path(), "tcp", 44_100, 2, 2.0, 3, "Over TCP");
    let data = std::fs::read(&ogg).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // One connection: the file in small writes, then close.
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        for piece in data.chunks(3000) {
            conn.write_all(piece).unwrap();
        }
    });
    let wav = dir.path().join("tcp.wav");
    let url = format!("tcp://127.0.0.1:{port}");
    let o = kamaelia(&["play", &url, "--wav", wav.to_str().unwrap()]);
    server.join().unwrap();
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.stderr.contains("title: Over TCP"), "{}", o.stderr);
    assert_like_oggdec(&wav, &ogg, 44_100, 2);
}

#[test]
fn a_slow_stream_shows_about_a_line_a_second_off_a_terminal() {
    if !have_tools("cli play slow") {
        return;
    }
    let dir = TempDir::new("cli-play-slow");
    let ogg = make_ogg(dir.path(), "slow", 44_100, 2, 4.0, 6, "Slowly"); // many pages
    let data = std::fs::read(&ogg).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // The file in 30 pieces over 3 s, as a paced server would send it.
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let start = Instant::now();
        for (k, piece) in data.chunks(data.len().div_ceil(30)).enumerate() {
            let at = start + Duration::from_millis(100 * k as u64);
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
            conn.write_all(piece).unwrap();
        }
    });
    let wav = dir.path().join("slow.wav");
    let url = format!("tcp://127.0.0.1:{port}");
    let start = Instant::now();
    let o = kamaelia(&["play", &url, "--wav", wav.to_str().unwrap()]);
    let took = start.elapsed().as_secs_f64();
    server.join().unwrap();
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines[0], "title: Slowly");
    let times: Vec<u64> = lines[1..]
        .iter()
        .map(|l| {
            let (m, s) = l.split_once(':').expect("mm:ss");
            m.parse::<u64>().unwrap() * 60 + s.parse::<u64>().unwrap()
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
    assert_eq!(times.last(), Some(&4), "{lines:?}");
    // A line a second while it comes, and the last one: 3 to 5 lines in ~3 s.
    assert!(took >= 2.8, "{took}");
    assert!(
        times.len() >= 3 && times.len() as f64 <= took + 2.0,
        "{took:.1} s: {lines:?}"
    );
    assert_like_oggdec(&wav, &ogg, 44_100, 2);
}

#[test]
fn failures_are_one_line_and_status_1() {
    let dir = TempDir::new("cli-play-bad");
    let wav = dir.path().join("x.wav");
    let wav = wav.to_str().unwrap();
    let junk = dir.path().join("junk.ogg");
    std::fs::write(&junk, vec![7u8; 5000]).unwrap();
    let refused = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port() // closed when `l` drops
    };
    let cases = [
        vec!["play", "/nonexistent/file.ogg", "--wav", wav],
        vec!["play", junk.to_str().unwrap(), "--wav", wav],
        vec!["play", "tcp://127.0.0.1", "--wav", wav],
    ];
    let refused_url = format!("tcp://127.0.0.1:{refused}");
    let refused_case = vec!["play", refused_url.as_str(), "--wav", wav];
    // An Icecast URL that never answers: 3 attempts (0.5 s, 1 s apart), then
    // the client gives up.
    let http_url = format!("http://127.0.0.1:{refused}/live.ogg");
    let http_case = vec!["play", http_url.as_str(), "--wav", wav];
    for args in cases.iter().chain([&refused_case, &http_case]) {
        let o = kamaelia(args);
        assert_eq!(o.code, Some(1), "{args:?}: {}", o.stderr);
        let lines: Vec<&str> = o.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
        assert!(lines[0].starts_with("kamaelia: "), "{lines:?}");
    }
    let o = kamaelia(&["play"]);
    assert_eq!(o.code, Some(2), "a usage error: {}", o.stderr);
}

#[cfg(not(feature = "audio-out"))]
#[test]
fn playing_without_the_audio_feature_says_what_to_do_and_exits_2() {
    let dir = TempDir::new("cli-play-noaudio");
    std::fs::write(dir.path().join("a.ogg"), b"OggS").unwrap();
    let file = dir.path().join("a.ogg");
    // Whatever the source (even one that does not exist), before any work.
    for source in [
        file.to_str().unwrap(),
        "/nonexistent.ogg",
        "tcp://127.0.0.1:9",
    ] {
        let o = kamaelia(&["play", source]);
        assert_eq!(o.code, Some(2), "{}", o.stderr);
        assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
        assert!(o.stderr.contains("--wav"), "{}", o.stderr);
        assert!(o.stderr.contains("--features audio-out"), "{}", o.stderr);
    }
}

#[test]
fn an_icecast_mount_plays_to_wav_with_its_title_on_stderr() {
    use audio_support::icecast::{ezstream, have_icecast, icecast};
    if !have_tools("cli play icecast") || !have_icecast("cli play icecast") {
        return;
    }
    let dir = TempDir::new("cli-play-icecast");
    let ogg = make_ogg(dir.path(), "song", 44_100, 2, 2.0, 2, "On Air");
    let port = audio_support::interop_support::free_port();
    let _server = icecast(dir.path(), port);
    let source = ezstream(dir.path(), port, "/radio.ogg", std::slice::from_ref(&ogg));
    let wav = dir.path().join("radio.wav");
    let url = format!("http://127.0.0.1:{port}/radio.ogg");
    // A live mount: still playing after 3 s; when the source goes away,
    // icecast2 closes the stream, which is the end: status 0.
    let mut source = Some(source);
    let mut g = Guard(
        Command::new(BIN)
            .args(["play", &url, "--wav", wav.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kamaelia starts"),
    );
    let mut err = g.0.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        g.0.try_wait().unwrap().is_none(),
        "still playing the live mount"
    );
    drop(source.take()); // ezstream killed
    let start = Instant::now();
    let status = loop {
        if let Some(s) = g.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "play did not end with the stream"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = reader.join().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.first(), Some(&"title: On Air"), "{lines:?}");
    assert!(
        lines
            .iter()
            .skip(1)
            .all(|l| *l == "title: On Air" || l.len() == 5),
        "{lines:?}"
    );
    assert!(lines.len() >= 2, "a time line: {lines:?}");
    // The WAV was closed properly (its sizes patched) and holds the
    // file's decode.
    let (info, heard) = read_wav(&wav);
    let bytes = std::fs::metadata(&wav).unwrap().len();
    assert_eq!(
        info.data_len,
        Some(bytes - info.data_offset),
        "sizes patched"
    );
    assert_eq!((info.rate, info.channels), (44_100, 2));
    let own = decode_core(&std::fs::read(&ogg).unwrap(), 4096).samples();
    assert!(heard.len() >= own.len(), "{} samples", heard.len());
    let probe = &own[..512];
    assert!(
        heard.windows(probe.len()).any(|w| w == probe),
        "the file's audio is in the stream"
    );
}

/// With the `audio-out` feature, without --wav: played through cpal on
/// ALSA's `file` plugin (what is played goes to a raw file; its slave is
/// the null device): the samples played are the decode's (oggdec's within
/// 1 LSB), with silence where the unpaced null device underran.
#[cfg(feature = "audio-out")]
#[test]
fn playing_goes_through_the_sound_device() {
    if !have_tools("cli play alsa") {
        return;
    }
    let dir = TempDir::new("cli-play-alsa");
    let ogg = make_ogg(dir.path(), "alsa", 44_100, 2, 1.5, 4, "Speakers");
    let raw = dir.path().join("played.raw");
    let conf = dir.path().join("asound.conf");
    std::fs::write(
        &conf,
        format!(
            "pcm.!default {{\n type file\n slave.pcm {{ type null }}\n file \"{}\"\n format \"raw\"\n}}\n",
            raw.display()
        ),
    )
    .unwrap();
    let child = Command::new(BIN)
        .args(["play", ogg.to_str().unwrap()])
        .env("ALSA_CONFIG_PATH", &conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kamaelia starts");
    let mut g = Guard(child);
    let mut err = g.0.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = g.0.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < DEADLINE, "play did not end");
        std::thread::sleep(Duration::from_millis(10));
    };
    let stderr = reader.join().unwrap();
    if status.code() == Some(1) && stderr.contains("no audio output device") {
        let msg = format!("cli play alsa: skipped: ALSA unusable here: {stderr}");
        if std::env::var_os("KAMAELIA_REQUIRE_INTEROP").is_some_and(|v| v == "1") {
            panic!("{msg}");
        }
        eprintln!("{msg}");
        return;
    }
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("title: Speakers"), "{stderr}");
    let played: Vec<i16> = std::fs::read(&raw)
        .unwrap()
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    // ALSA's null slave takes samples far faster than real time, so the
    // ring underruns: silence before, between and after; between the
    // silences, every sample of our decode (as --wav writes it), in order.
    let ours = decode_core(&std::fs::read(&ogg).unwrap(), 4096).samples();
    let (worst, _) = max_diff(&ours, &oggdec(&ogg));
    assert!(worst <= 1, "our decode differs from oggdec by {worst}");
    let no_silence = |v: &[i16]| v.iter().copied().filter(|&x| x != 0).collect::<Vec<_>>();
    assert!(played.len() >= ours.len(), "the whole file was played");
    assert!(
        no_silence(&played) == no_silence(&ours),
        "the samples played are the decode's"
    );
}
