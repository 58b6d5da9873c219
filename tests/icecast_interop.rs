//! Icecast against a real `icecast2` server on 127.0.0.1, fed by `ffmpeg`
//! (an MP3 mount, with `icy-metaint`) and by `ezstream` (an Ogg mount,
//! without ICY metadata), with `curl` as the reference listener.
//!
//! Each test starts its own icecast2 on a free port with a config in a
//! temporary folder (as root, the config switches to the `icecast2` user,
//! or `nobody`, with `<changeowner>`: icecast2 refuses to run as root), a
//! source, and kills every process it started by its pid when it ends
//! (Drop guards), however it ends. Every wait is bounded.
//!
//! "The same window": our ripper and `curl -H 'Icy-MetaData: 1'` listen to
//! the same mount at about the same time, but cannot start at the same
//! byte (each gets icecast2's burst from where the queue stood when it
//! connected). So curl's capture is stripped of its metadata with our
//! [`IcyDemuxer`] at the `icy-metaint` curl's own saved headers give (for
//! Ogg, curl is asked without metadata and its capture is taken as it
//! is), then the two are aligned: a 64-byte probe from the middle of our
//! file must occur exactly once in curl's (the sources are noise, so MP3
//! and Vorbis frames do not repeat; a few probe positions are tried, in
//! case one falls on repeating header bytes), and from that alignment the
//! common run is extended both ways. The test asserts that it is at least 64 KiB
//! long and that it spans the whole overlap of the two windows: it starts
//! where one of the two starts and ends where one of the two ends. A title
//! set through icecast2's admin `updinfo` URL while both listen must show
//! up in our metadata and as a title change. A third test takes the MP3
//! source away and brings it back: the ripper must report the close, the
//! 404s while the mount has no source, and stream again.
//!
//! The three run in about 10 to 20 s (each is bounded: at most 7 s of
//! listening, 10 s for any wait).
//!
//! Skipped, with the reason printed, when icecast2, ffmpeg, ezstream or
//! curl is missing; with `KAMAELIA_REQUIRE_INTEROP=1` a skip is a failure
//! (set on CI, where the Debian packages `icecast2 ffmpeg ezstream curl`
//! are installed).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use interop_support::icecast::{icecast_with_mounts, status_of, wait_until, ADMIN_PW, SOURCE_PW};
use interop_support::{free_port, Proc, TempDir};
use kamaelia::protocol::http::icecast::{rip, IcyDemuxer, IcyEvent, RipEvent, RipOptions};

mod interop_support;

/// Audio bytes between metadata blocks on the MP3 mount (small, so many
/// blocks cross reads).
const METAINT: usize = 1000;

/// The tools, or why the test is skipped.
fn tools(test: &str) -> bool {
    let missing: Vec<&str> = ["icecast2", "ffmpeg", "ezstream", "curl"]
        .into_iter()
        .filter(|t| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "{test}: skipped: {} not installed (Debian: apt-get install -y icecast2 ffmpeg \
         ezstream curl; stop the icecast2 service the package may start)",
        missing.join(", ")
    );
    if std::env::var_os("KAMAELIA_REQUIRE_INTEROP").is_some_and(|v| v == "1") {
        panic!("{msg}");
    }
    let _ = writeln!(std::io::stderr(), "{msg}");
    false
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// icecast2 on `port` with the MP3 mount's metadata interval set.
fn icecast(dir: &Path, port: u16) -> Proc {
    icecast_with_mounts(
        dir,
        port,
        &format!(
            "<mount type=\"normal\"><mount-name>/live.mp3</mount-name>\
             <mp3-metadata-interval>{METAINT}</mp3-metadata-interval></mount>"
        ),
    )
}

/// ffmpeg: pink noise as 128 kbit/s MP3 to `/live.mp3`, in real time.
fn mp3_source(port: u16) -> Proc {
    let child = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i"])
        .arg("anoisesrc=color=pink:seed=7:sample_rate=44100:amplitude=0.3")
        .args([
            "-c:a",
            "libmp3lame",
            "-b:a",
            "128k",
            "-content_type",
            "audio/mpeg",
        ])
        .args(["-ice_name", "Kamaelia test", "-f", "mp3"])
        .arg(format!(
            "icecast://source:{SOURCE_PW}@127.0.0.1:{port}/live.mp3"
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ffmpeg starts");
    Proc(child)
}

/// curl saving `path` for `secs` seconds; its head goes to `headers`.
fn curl(port: u16, path: &str, meta: bool, out: &Path, headers: &Path, secs: u32) -> Proc {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "--max-time", &secs.to_string()]);
    if meta {
        cmd.args(["-H", "Icy-MetaData: 1"]);
    }
    let child = cmd
        .arg("-D")
        .arg(headers)
        .arg("-o")
        .arg(out)
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .stdin(Stdio::null())
        .spawn()
        .expect("curl starts");
    Proc(child)
}

/// Waits (bounded) for a process to end by itself.
fn wait_exit(p: &mut Proc, limit: Duration) {
    let end = Instant::now() + limit;
    while p.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < end, "{:?} did not end", p.0);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The common run of `ours` and `theirs` through a probe from the middle
/// of ours: (start in ours, start in theirs, length).
fn common_run(ours: &[u8], theirs: &[u8]) -> (usize, usize, usize) {
    assert!(ours.len() > 16384 && theirs.len() > 4096);
    // A probe from our middle found exactly once in theirs (a few tries,
    // in case one falls on bytes that repeat, such as frame headers).
    let (p, q) = (0..8)
        .find_map(|k| {
            let p = ours.len() / 2 + k * 997;
            let probe = &ours[p..p + 64];
            let mut hits = theirs
                .windows(64)
                .enumerate()
                .filter(|(_, w)| *w == probe)
                .map(|(i, _)| i);
            match (hits.next(), hits.next()) {
                (Some(q), None) => Some((p, q)),
                _ => None,
            }
        })
        .expect("a probe from our middle is in curl's capture, once");
    let mut back = 0;
    while back < p && back < q && ours[p - back - 1] == theirs[q - back - 1] {
        back += 1;
    }
    let mut fwd = 0;
    while p + fwd < ours.len() && q + fwd < theirs.len() && ours[p + fwd] == theirs[q + fwd] {
        fwd += 1;
    }
    (p - back, q - back, back + fwd)
}

/// Asserts the common run covers the whole overlap of the two windows.
fn assert_same_window(ours: &[u8], theirs: &[u8], what: &str) {
    let (a, b, n) = common_run(ours, theirs);
    eprintln!(
        "{what}: ours {} bytes, curl's {} bytes, common run {n} bytes at {a} (ours) / {b} (curl)",
        ours.len(),
        theirs.len()
    );
    assert!(n >= 64 * 1024, "{what}: a common run of {n} bytes only");
    assert!(
        a == 0 || b == 0,
        "{what}: the run starts where one window starts"
    );
    assert!(
        a + n == ours.len() || b + n == theirs.len(),
        "{what}: the run ends where one window ends"
    );
}

fn metaint_of(headers: &Path) -> usize {
    let h = std::fs::read_to_string(headers)
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        h.starts_with("http/1.0 200"),
        "icecast2 answers HTTP/1.0: {h}"
    );
    h.lines()
        .find_map(|l| l.strip_prefix("icy-metaint:"))
        .expect("curl got icy-metaint")
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn an_mp3_mount_ripped_equals_curl_with_metadata_removed_and_titles_arrive() {
    if !tools("icecast_interop mp3") {
        return;
    }
    let started = Instant::now();
    let dir = TempDir::new("icy-mp3");
    let port = free_port();
    let _server = icecast(&dir.0, port);
    let _source = mp3_source(port);
    wait_until("the MP3 mount", Duration::from_secs(10), || {
        status_of(port, "/live.mp3") == Some(200)
    });
    // Let the queue fill a little, so both get a burst.
    std::thread::sleep(Duration::from_millis(1500));

    let theirs_path = dir.0.join("curl.bin");
    let theirs_head = dir.0.join("curl.head");
    let mut listener = curl(port, "/live.mp3", true, &theirs_path, &theirs_head, 7);
    // A title set through the admin interface while both listen.
    let title = format!("Kamaelia's test {}", std::process::id());
    let updinfo = {
        let url = format!(
            "http://127.0.0.1:{port}/admin/metadata?mount=/live.mp3&mode=updinfo&song={}",
            title.replace(' ', "%20").replace('\'', "%27")
        );
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(2));
            Command::new("curl")
                .args([
                    "-s",
                    "--max-time",
                    "5",
                    "-u",
                    &format!("admin:{ADMIN_PW}"),
                    &url,
                ])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        })
    };
    let ours_path = dir.0.join("ours.mp3");
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let seen2 = seen.clone();
    let opts = RipOptions {
        duration: Some(Duration::from_secs(6)),
        ..RipOptions::default()
    };
    let summary = rip(
        &format!("http://127.0.0.1:{port}/live.mp3"),
        &ours_path,
        opts,
        move |ev| seen2.borrow_mut().push(ev.clone()),
    )
    .expect("the rip succeeds");
    wait_exit(&mut listener, Duration::from_secs(10));
    let answer = updinfo.join().unwrap().unwrap();
    assert!(answer.contains("Metadata update successful"), "{answer}");

    let ours = std::fs::read(&ours_path).unwrap();
    assert_eq!(summary.bytes, ours.len() as u64);
    let events = seen.borrow();
    let RipEvent::Connected(info) = &events[0] else {
        panic!("{:?}", events[0])
    };
    assert_eq!(info.metaint, Some(METAINT));
    assert_eq!(info.content_type.as_deref(), Some("audio/mpeg"));
    assert_eq!(info.head.status, 200);
    assert!(!info.head.icy, "icecast2 answers HTTP/1.0, not ICY");
    let titles: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            RipEvent::Title(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert!(titles.contains(&title.as_str()), "{titles:?}");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, RipEvent::Disconnected(_) | RipEvent::Error(_))),
        "no disconnect or error in the window"
    );

    // curl's capture, metadata removed by our demuxer.
    let metaint = metaint_of(&theirs_head);
    assert_eq!(metaint, METAINT);
    let raw = std::fs::read(&theirs_path).unwrap();
    let mut d = IcyDemuxer::new(Some(metaint));
    let mut out = Vec::new();
    d.push(Bytes::from(raw), &mut out);
    let mut theirs = Vec::new();
    let mut their_titles = Vec::new();
    for e in out {
        match e {
            IcyEvent::Audio(b) => theirs.extend_from_slice(&b),
            IcyEvent::Metadata(m) => their_titles.extend(m.title().map(str::to_string)),
            other => panic!("{other:?}"),
        }
    }
    assert!(their_titles.contains(&title), "curl saw the title too");
    assert_same_window(&ours, &theirs, "mp3");
    eprintln!("mp3 interop: {:?}", started.elapsed());
}

#[test]
fn an_ogg_mount_from_ezstream_has_no_metadata_and_equals_curl() {
    if !tools("icecast_interop ogg") {
        return;
    }
    let started = Instant::now();
    let dir = TempDir::new("icy-ogg");
    let port = free_port();
    // An Ogg Vorbis file of noise (high quality: many bytes a second), longer
    // than the window, so the loop does not repeat bytes within it.
    let ogg = dir.0.join("noise.ogg");
    run_ok(
        Command::new("ffmpeg")
            .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
            .arg("anoisesrc=color=white:seed=11:sample_rate=44100:amplitude=0.5:duration=15")
            .args(["-ac", "2", "-c:a", "libvorbis", "-q:a", "8"])
            .arg(&ogg),
    );
    let _server = icecast(&dir.0, port);
    let conf = dir.0.join("ezstream.xml");
    std::fs::write(
        &conf,
        format!(
            "<ezstream>
  <servers><server><hostname>127.0.0.1</hostname><port>{port}</port>
    <password>{SOURCE_PW}</password></server></servers>
  <streams><stream><mountpoint>/live.ogg</mountpoint><format>Ogg</format></stream></streams>
  <intakes><intake><type>file</type><filename>{}</filename><stream_once>No</stream_once></intake></intakes>
</ezstream>
",
            ogg.display()
        ),
    )
    .unwrap();
    // ezstream refuses a config file others can read.
    run_ok(Command::new("chmod").arg("0600").arg(&conf));
    let child = Command::new("ezstream")
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ezstream starts");
    let _source = Proc(child);
    wait_until("the Ogg mount", Duration::from_secs(10), || {
        status_of(port, "/live.ogg") == Some(200)
    });
    std::thread::sleep(Duration::from_millis(1500));

    let theirs_path = dir.0.join("curl.ogg");
    let theirs_head = dir.0.join("curl.head");
    let mut listener = curl(port, "/live.ogg", false, &theirs_path, &theirs_head, 6);
    let ours_path = dir.0.join("ours.ogg");
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let seen2 = seen.clone();
    let opts = RipOptions {
        duration: Some(Duration::from_secs(5)),
        ..RipOptions::default()
    };
    rip(
        &format!("http://127.0.0.1:{port}/live.ogg"),
        &ours_path,
        opts,
        move |ev| seen2.borrow_mut().push(ev.clone()),
    )
    .expect("the rip succeeds");
    wait_exit(&mut listener, Duration::from_secs(10));
    let events = seen.borrow();
    let RipEvent::Connected(info) = &events[0] else {
        panic!("{:?}", events[0])
    };
    assert_eq!(info.metaint, None, "Ogg mounts carry no ICY metadata");
    assert_eq!(info.content_type.as_deref(), Some("application/ogg"));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, RipEvent::Metadata(_) | RipEvent::Title(_))),
        "no metadata blocks"
    );
    let ours = std::fs::read(&ours_path).unwrap();
    let theirs = std::fs::read(&theirs_path).unwrap();
    assert_eq!(&ours[..4], b"OggS", "an Ogg stream from its first page");
    assert_same_window(&ours, &theirs, "ogg");
    eprintln!("ogg interop: {:?}", started.elapsed());
}

#[test]
fn the_client_reconnects_when_the_source_goes_and_comes_back() {
    if !tools("icecast_interop reconnect") {
        return;
    }
    let started = Instant::now();
    let dir = TempDir::new("icy-again");
    let port = free_port();
    let _server = icecast(&dir.0, port);
    let source = mp3_source(port);
    wait_until("the MP3 mount", Duration::from_secs(10), || {
        status_of(port, "/live.mp3") == Some(200)
    });
    // The source goes after 2 s (icecast2 closes its listeners), and a new
    // one comes 1.5 s later; the ripper retries meanwhile (404s).
    let swap = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        drop(source);
        std::thread::sleep(Duration::from_millis(1500));
        mp3_source(port)
    });
    let ours_path = dir.0.join("ours.mp3");
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let seen2 = seen.clone();
    let opts = RipOptions {
        duration: Some(Duration::from_secs(7)),
        config: kamaelia::protocol::http::icecast::IcecastConfig {
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_millis(800),
            max_attempts: Some(20),
            ..Default::default()
        },
        ..RipOptions::default()
    };
    let summary = rip(
        &format!("http://127.0.0.1:{port}/live.mp3"),
        &ours_path,
        opts,
        move |ev| seen2.borrow_mut().push(ev.clone()),
    )
    .expect("the rip succeeds");
    let _source2 = swap.join().unwrap();
    let events = seen.borrow();
    let shown: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            RipEvent::Connected(i) => Some(format!("connected {:?}", i.metaint)),
            RipEvent::Disconnected(d) => Some(match d.reason.error() {
                None => "closed".to_string(),
                Some(e) => format!("failed {:?}", e.kind),
            }),
            RipEvent::Error(e) => Some(format!("error {e:?}")),
            _ => None,
        })
        .collect();
    eprintln!("reconnect: {shown:?}");
    assert_eq!(shown[0], format!("connected {:?}", Some(METAINT)));
    assert_eq!(shown[1], "closed", "the source went: {shown:?}");
    let rest = &shown[2..];
    let again = rest
        .iter()
        .position(|s| s.starts_with("connected"))
        .expect("connected again");
    assert!(
        rest[..again]
            .iter()
            .all(|s| s == "failed Status(404)" || s == "failed Refused"),
        "only 404s (no source yet) while waiting: {shown:?}"
    );
    assert_eq!(rest.len(), again + 1, "streaming to the end: {shown:?}");
    assert_eq!(summary.disconnects as usize, 1 + again);
    let ours = std::fs::read(&ours_path).unwrap();
    assert_eq!(summary.bytes, ours.len() as u64);
    assert!(ours.len() > 64 * 1024, "{} bytes", ours.len());
    eprintln!("reconnect interop: {:?}", started.elapsed());
}

/// `kamaelia rip` (the program) on a real mount: the title set before it
/// connects is printed, exactly `--bytes` of audio are saved, and no
/// metadata is left in them.
#[cfg(feature = "cli")]
#[test]
fn the_kamaelia_rip_command_saves_audio_and_prints_the_title() {
    if !tools("icecast_interop rip command") {
        return;
    }
    let dir = TempDir::new("icy-rip-cmd");
    let port = free_port();
    let _server = icecast(&dir.0, port);
    let _source = mp3_source(port);
    wait_until("the MP3 mount", Duration::from_secs(10), || {
        status_of(port, "/live.mp3") == Some(200)
    });
    let title = format!("Rip command {}", std::process::id());
    let answer = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "5",
            "-u",
            &format!("admin:{ADMIN_PW}"),
            &format!(
                "http://127.0.0.1:{port}/admin/metadata?mount=/live.mp3&mode=updinfo&song={}",
                title.replace(' ', "%20")
            ),
        ])
        .output()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer.stdout);
    assert!(answer.contains("Metadata update successful"), "{answer}");

    let out_path = dir.0.join("ripped.mp3");
    let out = Command::new(env!("CARGO_BIN_EXE_kamaelia"))
        .args([
            "rip",
            &format!("http://127.0.0.1:{port}/live.mp3"),
            "-o",
            out_path.to_str().unwrap(),
            "--bytes",
            "20000",
            "--seconds",
            "20",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(format!("connected: audio/mpeg (metadata every {METAINT} bytes)").as_str()),
        "{stdout}"
    );
    // The burst icecast2 sends on connect may still carry the title from
    // before the update (none): the last title printed is the new one.
    let titles: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("title: "))
        .collect();
    assert_eq!(
        titles.last().copied(),
        Some(format!("title: {title}").as_str()),
        "{stdout}"
    );
    assert_eq!(
        lines.last().copied(),
        Some(
            format!(
                "saved 20000 bytes to {} ({} title changes, 0 disconnects)",
                out_path.display(),
                titles.len()
            )
            .as_str()
        ),
        "{stdout}"
    );
    let saved = std::fs::read(&out_path).unwrap();
    assert_eq!(saved.len(), 20_000);
    assert!(
        !saved.windows(11).any(|w| w == b"StreamTitle"),
        "metadata left in the audio"
    );
}
