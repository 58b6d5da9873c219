//! AudioOut on a real ALSA stack through cpal (feature `audio-out`), with
//! no sound card: ALSA's `file` plugin (samples checked), a configuration
//! without devices (the typed error), and a private PulseAudio null sink
//! (real-time pacing, and the tail recorded by `parec`).
//!
//! Each test points `ALSA_CONFIG_PATH` at an `asound.conf` of its own in a
//! temporary folder (ALSA then reads nothing else), so they run one at a
//! time. Missing programs skip a test with a note, or fail it when
//! `KAMAELIA_REQUIRE_INTEROP=1`.

#![cfg(feature = "audio-out")]

mod interop_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use interop_support::{eventually, tools, Proc, TempDir};
use kamaelia::audio::out::{AudioOut, AudioOutCounts, AudioOutError};
use kamaelia::audio::paced::PacedSource;
use kamaelia::axon::{link, Inbox, Scheduler, Signal};

/// ALSA's configuration is per process: one test at a time.
static ALSA: Mutex<()> = Mutex::new(());

fn required() -> bool {
    std::env::var_os("KAMAELIA_REQUIRE_INTEROP").is_some_and(|v| v == "1")
}

fn skip(test: &str, why: &str) {
    let msg = format!("{test}: skipped: {why}");
    if required() {
        panic!("{msg}");
    }
    eprintln!("{msg}");
}

/// Uses `conf` as the whole ALSA configuration.
fn alsa_config(dir: &Path, conf: &str) {
    let path = dir.join("asound.conf");
    std::fs::write(&path, conf).unwrap();
    std::env::set_var("ALSA_CONFIG_PATH", &path);
}

/// Noise from a seed: every sample differs from its neighbours, so a
/// recording is easy to line up with it.
fn noise(n: usize, seed: u64) -> Vec<i16> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 48) as i16
        })
        .collect()
}

fn without_silence(v: &[i16]) -> Vec<i16> {
    v.iter().copied().filter(|&s| s != 0).collect()
}

/// Polls `check` every 50 ms for at most 10 s; whether it came true.
fn within_10s(mut check: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while !check() {
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

fn read_s16(path: &Path) -> Vec<i16> {
    std::fs::read(path)
        .unwrap_or_default()
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// This process's CPU time so far (user + system), from /proc (USER_HZ
/// is 100 on Linux).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let Some(close) = stat.rfind(')') else {
        return Duration::ZERO;
    };
    let ticks: u64 = stat[close + 1..]
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

struct Played {
    signals: Vec<Signal>,
    /// CPU time of the whole process during the run (scheduler, device
    /// threads, ALSA plugin).
    cpu: Duration,
    counts: AudioOutCounts,
    /// How long the device took to pull the stream, estimated from the
    /// time it took from 10% to 90% of it (the start, when the device's
    /// own buffers fill, and the end are left out).
    playing: Option<Duration>,
    /// From the start of the run to the device's first pull of data.
    first_pull: Option<Duration>,
    wall: Duration,
}

/// Plays `samples` through the default ALSA device, on a real-time
/// scheduler, for at most `limit`.
fn play(samples: Vec<i16>, rate: u32, channels: u16, limit: Duration) -> Played {
    let total = (samples.len() / usize::from(channels)) as u64;
    let out = AudioOut::default_device();
    let stats = out.stats();
    let src = PacedSource::from_samples(rate, channels, samples).unpaced();
    link(&src.outbox, &out.inbox).unwrap();
    link(&src.signal, &out.control).unwrap();
    let sig = Inbox::inbox();
    link(&out.signal, &sig).unwrap();
    // Watches the counters to time the playing itself (the device's
    // opening and the latency wait at the end are not playing).
    let done = Arc::new(AtomicBool::new(false));
    let watch = {
        let (stats, done) = (stats.clone(), done.clone());
        std::thread::spawn(move || {
            let begun = Instant::now();
            let mut first_pull = None;
            let (mut first, mut last) = (None, None);
            while !done.load(Ordering::SeqCst) && last.is_none() {
                let played = stats.counts().played_frames;
                if played > 0 && first_pull.is_none() {
                    first_pull = Some(begun.elapsed());
                }
                if played * 10 >= total && first.is_none() {
                    first = Some(Instant::now());
                }
                if played * 10 >= total * 9 {
                    last = Some(Instant::now());
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            let playing = first.zip(last).map(|(a, b)| (b - a).mul_f64(1.0 / 0.8));
            (playing, first_pull)
        })
    };
    let mut s = Scheduler::new();
    s.spawn(src);
    s.spawn(out);
    let start = Instant::now();
    let cpu0 = cpu_time();
    let ended = s.run_for(limit);
    let cpu = cpu_time() - cpu0;
    let wall = start.elapsed();
    done.store(true, Ordering::SeqCst);
    assert!(ended.is_some(), "not finished within {limit:?}");
    let (playing, first_pull) = watch.join().unwrap();
    Played {
        signals: std::iter::from_fn(|| sig.recv()).collect(),
        cpu,
        counts: stats.counts(),
        playing,
        first_pull,
        wall,
    }
}

#[test]
fn the_alsa_file_plugin_records_exactly_what_was_played() {
    let _one = ALSA.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("alsa-file");
    let file = dir.path().join("out.raw");
    // The file plugin writes what is played to a file; its slave, the
    // null plugin, takes everything at once (no clock).
    alsa_config(
        dir.path(),
        &format!(
            "pcm.!default {{\n type file\n slave.pcm {{ type null }}\n file \"{}\"\n format \"raw\"\n}}\n",
            file.display()
        ),
    );
    let sent = noise(22050, 11); // half a second of 22.05 kHz stereo
    let p = play(sent.clone(), 22050, 2, Duration::from_secs(20));
    eprintln!("alsa file plugin: {:?}, {:?}", p.wall, p.counts);
    if let [Signal::Failed(f)] = p.signals.as_slice() {
        return skip("alsa file plugin", &format!("ALSA unusable here: {f}"));
    }
    assert_eq!(p.signals, vec![Signal::ProducerFinished]);
    assert_eq!(p.counts.played_frames, 11025);
    let written = read_s16(&file);
    // The null slave pulls far faster than real time, so the stream
    // underruns: silence before, between and after, and between the
    // silences every sample we sent, in order.
    assert!(
        written.len() >= sent.len(),
        "only {} samples written",
        written.len()
    );
    assert!(
        without_silence(&written) == without_silence(&sent),
        "the samples written differ from those played"
    );
}

#[test]
fn an_alsa_configuration_without_devices_is_a_typed_error() {
    let _one = ALSA.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("alsa-none");
    alsa_config(dir.path(), "# no devices at all\n");
    let p = play(noise(800, 3), 8000, 1, Duration::from_secs(20));
    eprintln!("no device: {:?}", p.signals);
    match p.signals.as_slice() {
        [Signal::Failed(f)] => {
            let e = f.downcast_ref::<AudioOutError>().expect("an AudioOutError");
            assert!(matches!(e, AudioOutError::NoDevice(_)), "{e:?}");
        }
        other => panic!("expected NoDevice, got {other:?}"),
    }
    assert_eq!(p.counts.streams_opened, 0);
}

fn pulse_plugin() -> Option<PathBuf> {
    let dirs = [
        "/usr/lib/x86_64-linux-gnu/alsa-lib",
        "/usr/lib/aarch64-linux-gnu/alsa-lib",
        "/usr/lib/alsa-lib",
        "/usr/lib64/alsa-lib",
    ];
    dirs.iter()
        .map(|d| Path::new(d).join("libasound_module_pcm_pulse.so"))
        .find(|p| p.exists())
}

#[test]
fn a_pulseaudio_null_sink_plays_in_real_time_and_gets_the_tail() {
    let _one = ALSA.lock().unwrap_or_else(|e| e.into_inner());
    const TEST: &str = "pulseaudio null sink";
    if !tools(
        TEST,
        &["pulseaudio", "parec"],
        "pulseaudio pulseaudio-utils libasound2-plugins",
    ) {
        return;
    }
    if pulse_plugin().is_none() {
        return skip(
            TEST,
            "ALSA's pulse plugin is not installed (Debian: libasound2-plugins)",
        );
    }
    let dir = TempDir::new("pulse");
    let sock = dir.path().join("sock");
    let server = format!("unix:{}", sock.display());
    // A private server: only the unix protocol and a null sink; its home
    // and runtime folders in the temporary folder.
    let pa = Proc(
        Command::new("pulseaudio")
            .args([
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--use-pid-file=no",
            ])
            .arg("-L")
            .arg(format!(
                "module-native-protocol-unix socket={} auth-anonymous=1",
                sock.display()
            ))
            .args(["-L", "module-null-sink rate=44100 channels=2"])
            .env("HOME", dir.path())
            .env("XDG_RUNTIME_DIR", dir.path())
            .env("XDG_CONFIG_HOME", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    if !within_10s(|| sock.exists()) {
        return skip(TEST, "pulseaudio did not start (no socket after 10 s)");
    }
    let rec = dir.path().join("rec.raw");
    let parec = Proc(
        Command::new("parec")
            .args([
                "-d",
                "null.monitor",
                "--format=s16le",
                "--rate=44100",
                "--channels=2",
            ])
            .env("PULSE_SERVER", &server)
            .env("HOME", dir.path())
            .stdout(std::fs::File::create(&rec).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Recording (the monitor of an idle sink gives silence) before playing.
    if !within_10s(|| std::fs::metadata(&rec).is_ok_and(|m| m.len() > 0)) {
        return skip(TEST, "parec records nothing from the null sink's monitor");
    }
    alsa_config(
        dir.path(),
        &format!("pcm.!default {{\n type pulse\n server \"{server}\"\n}}\n"),
    );
    const SECONDS: f64 = 4.0;
    let sent = noise(4 * 88200, 5);
    let p = play(sent.clone(), 44100, 2, Duration::from_secs(20));
    if let [Signal::Failed(f)] = p.signals.as_slice() {
        return skip(TEST, &format!("ALSA's pulse device unusable here: {f}"));
    }
    assert_eq!(p.signals, vec![Signal::ProducerFinished]);
    let playing = p
        .playing
        .expect("the watcher saw the stream play")
        .as_secs_f64();
    eprintln!(
        "pulseaudio null sink: {SECONDS} s of audio played in {playing:.3} s ({:.2}x real time, from 10% to 90%); \
         {:.3} s from start to end, device open and latency wait included \
         (first pull after {:?}); \
         {:.1} ms CPU per second of audio (whole process); {:?}",
        playing / SECONDS,
        p.wall.as_secs_f64(),
        p.first_pull,
        p.cpu.as_secs_f64() * 1000.0 / SECONDS,
        p.counts
    );
    assert!(
        (0.5 * SECONDS..2.0 * SECONDS).contains(&playing),
        "{SECONDS} s of audio took {playing:.3} s"
    );
    // The whole stream, its tail included, reached the sink: the monitor
    // recorded every sample, in order, after some silence.
    let want = without_silence(&sent);
    eventually("the whole stream recorded", || {
        without_silence(&read_s16(&rec)).len() >= want.len()
    });
    let got = without_silence(&read_s16(&rec));
    assert!(
        got == want,
        "recorded {} non-silent samples, not the {} sent",
        got.len(),
        want.len()
    );
    drop(parec);
    drop(pa);
}
