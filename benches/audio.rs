//! Benchmarks of the media parts (issue 14). Run with
//! `cargo bench --bench audio`; `BENCH_QUICK=1` makes a short run;
//! `BENCH_ROWS=a,b` runs only those rows. Every measurement is one JSON
//! line on stdout.
//!
//! The test sound is made in a temporary folder by `sox` (a 440 Hz sine on
//! the left, pink noise on the right, 44.1 kHz stereo; 10 minutes, 1 minute
//! quick) and encoded by `oggenc -q 3`. Without sox, oggenc or oggdec the
//! rows are skipped with a note on stderr.
//!
//! * `vorbis_decode`: decode speed in seconds of audio per second, ours
//!   (our Ogg reader and lewton's packet decoder, to interleaved `i16`,
//!   the file in memory pushed in 64 KiB pieces) against `oggdec -Q -o
//!   /dev/null` (libvorbis, writing a WAV to nowhere) on the same file,
//!   rounds interleaved (3; 2 quick), medians. Both by CPU time (ours: this
//!   thread's CPU clock; oggdec: `getrusage(RUSAGE_CHILDREN)`, which counts
//!   its reading of the file too) and by wall clock. `ratio_cpu` is ours
//!   over oggdec's; the goal is >= 0.9. Checked: the same frame count.
//!   Also `lewton_alone_ratio_cpu`: lewton's packet decoder by itself on
//!   the packets taken out of the file beforehand, with none of our code
//!   timed (no Ogg parsing or CRC, no trimming, no conversion to `i16`):
//!   the most a decoder built on lewton could reach here.
//! * `vorbis_component`: the whole `VorbisDecode` component stepped on the
//!   harness, the file sent as 64 KiB messages: audio seconds per second
//!   and the longest single step (what a long decode costs the rest of the
//!   scheduler's components in latency), with the 99.9th percentile, by
//!   wall clock (which includes being preempted on a busy machine) and by
//!   this thread's CPU clock.
//! * `playback_cpu`: CPU per second of playback through `AudioOut` at
//!   real-time pace: a file (`secs` s; 20, 5 quick) read in 16 KiB blocks,
//!   decoded by `VorbisDecode` and played by `AudioOut` on a real
//!   scheduler, the whole pipeline paced by the device. The device is the
//!   fake one, pulled by a thread of its own every 10 ms as a sound card's
//!   callback would; with the `audio-out` feature a second run uses cpal
//!   on ALSA's `null` device (an `asound.conf` of its own through
//!   `ALSA_CONFIG_PATH`). Reported: the process's CPU (scheduler, decoder,
//!   device thread) and the scheduler thread's alone, in ms per second of
//!   audio played, and as a share of one core; underruns and overruns;
//!   `paced`: whether the run took the audio's own time. ALSA's `null`
//!   device does not pace (its callback asks again as soon as it is
//!   served, so it "plays" far faster than real time and counts
//!   underruns), so its row says `paced: false` and measures the CPU per
//!   second of audio of the pipeline running flat out, not at real time.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::procs::{children_cpu_ns, loadavg};
use common::{clock_ns, median, quick, want, Json, CLOCK_THREAD_CPUTIME_ID};
use kamaelia::audio::ogg::OggReader;
use kamaelia::audio::out::{AudioDevice, AudioOut};
use kamaelia::audio::vorbis::{Decoded, VorbisComments, VorbisDecode, VorbisDecoder};
use kamaelia::audio::AudioChunk;
use kamaelia::axon::{link, Inbox, Scheduler, Signal};
use kamaelia::file::{ReadFileAdaptor, ReadMode};
use kamaelia::testing::Harness;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const PIECE: usize = 64 << 10;
const RATE: u32 = 44_100;

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(cmd: &mut Command) {
    let st = cmd.status().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(st.success(), "{cmd:?} failed");
}

/// Makes the test file: `secs` of 44.1 kHz stereo, oggenc -q 3.
fn make_file(dir: &Path, secs: u32) -> PathBuf {
    let wav = dir.join("bench.wav");
    let ogg = dir.join("bench.ogg");
    run(Command::new("sox")
        .args(["-R", "-n", "-r", &RATE.to_string(), "-c", "2", "-b", "16"])
        .arg(&wav)
        .args([
            "synth",
            &secs.to_string(),
            "sine",
            "440",
            "pinknoise",
            "vol",
            "0.5",
        ]));
    run(Command::new("oggenc")
        .args(["-Q", "-q", "3", "-o"])
        .arg(&ogg)
        .arg(&wav));
    let _ = std::fs::remove_file(&wav);
    ogg
}

/// Ours: (frames, thread CPU ns, wall ns).
fn decode_ours(data: &[u8]) -> (u64, u64, u64) {
    let cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    let t0 = Instant::now();
    let mut reader = OggReader::new();
    let mut dec = VorbisDecoder::new();
    let mut frames = 0u64;
    for piece in data.chunks(PIECE) {
        reader.push(piece);
        while let Some(p) = reader.next_packet() {
            if let Ok(Decoded::Audio(c)) = dec.decode(&p) {
                frames += c.frames() as u64;
                std::hint::black_box(&c.samples);
            }
        }
    }
    let wall = t0.elapsed().as_nanos() as u64;
    (frames, clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0, wall)
}

/// lewton alone, with nothing of ours: the packets taken out of the file
/// beforehand, then only lewton's header readers and packet decoder to
/// planar `f32` (its cheapest output) are timed. (frames, thread CPU ns.)
/// This is the most our decoder could reach on top of lewton.
fn decode_lewton_alone(packets: &[Bytes]) -> (u64, u64) {
    use lewton::audio::{read_audio_packet_generic, PreviousWindowRight};
    use lewton::header::{read_header_ident, read_header_setup};
    let cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    let ident = read_header_ident(&packets[0]).expect("ident header");
    let sizes = (ident.blocksize_0, ident.blocksize_1);
    let setup = read_header_setup(&packets[2], ident.audio_channels, sizes).expect("setup");
    let mut pwr = PreviousWindowRight::new();
    let mut frames = 0u64;
    for p in &packets[3..] {
        let planar: Vec<Vec<f32>> =
            read_audio_packet_generic(&ident, &setup, p, &mut pwr).expect("audio packet");
        frames += planar[0].len() as u64;
        std::hint::black_box(&planar);
    }
    (frames, clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0)
}

/// The file's packets, in order (one logical stream).
fn packets(data: &[u8]) -> Vec<Bytes> {
    let mut reader = OggReader::new();
    reader.push(data);
    std::iter::from_fn(|| reader.next_packet())
        .map(|p| p.data)
        .collect()
}

/// oggdec: (CPU ns, wall ns).
fn decode_oggdec(ogg: &Path) -> (u64, u64) {
    let cpu0 = children_cpu_ns();
    let t0 = Instant::now();
    run(Command::new("oggdec")
        .args(["-Q", "-o", "/dev/null"])
        .arg(ogg));
    let wall = t0.elapsed().as_nanos() as u64;
    (children_cpu_ns() - cpu0, wall)
}

/// The frames oggdec decodes (its raw output's length).
fn oggdec_frames(ogg: &Path) -> u64 {
    let out = Command::new("oggdec")
        .args(["-Q", "-R", "-o", "-"])
        .arg(ogg)
        .output()
        .expect("oggdec");
    out.stdout.len() as u64 / 4
}

fn vorbis_decode(ogg: &Path, data: &[u8], secs: u32) {
    let rounds = if quick() { 2 } else { 3 };
    let (mut ours_cpu, mut ours_wall, mut theirs_cpu, mut theirs_wall) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut lewton_cpu = Vec::new();
    let packets = packets(data);
    let mut frames = 0;
    for _ in 0..rounds {
        let (f, cpu, wall) = decode_ours(data);
        frames = f;
        ours_cpu.push(cpu as f64 / 1e9);
        ours_wall.push(wall as f64 / 1e9);
        let (untrimmed, cpu) = decode_lewton_alone(&packets);
        assert!(untrimmed >= frames, "lewton alone decodes the whole file");
        lewton_cpu.push(cpu as f64 / 1e9);
        let (cpu, wall) = decode_oggdec(ogg);
        theirs_cpu.push(cpu as f64 / 1e9);
        theirs_wall.push(wall as f64 / 1e9);
    }
    let want_frames = oggdec_frames(ogg);
    assert_eq!(frames, want_frames, "our frame count equals oggdec's");
    let audio_s = frames as f64 / RATE as f64;
    let ours_x_cpu = audio_s / median(&mut ours_cpu);
    let ours_x_wall = audio_s / median(&mut ours_wall);
    let oggdec_x_cpu = audio_s / median(&mut theirs_cpu);
    let oggdec_x_wall = audio_s / median(&mut theirs_wall);
    let ratio_cpu = ours_x_cpu / oggdec_x_cpu;
    let lewton_x_cpu = audio_s / median(&mut lewton_cpu);
    Json::new("audio")
        .text("row", "vorbis_decode")
        .int("file_s", secs as u64)
        .int("file_bytes", data.len() as u64)
        .int("frames", frames)
        .int("rounds", rounds)
        .num("ours_x_realtime_cpu", ours_x_cpu)
        .num("ours_x_realtime_wall", ours_x_wall)
        .num("oggdec_x_realtime_cpu", oggdec_x_cpu)
        .num("oggdec_x_realtime_wall", oggdec_x_wall)
        .num("ratio_cpu", ratio_cpu)
        .num("ratio_wall", ours_x_wall / oggdec_x_wall)
        .num("lewton_alone_x_realtime_cpu", lewton_x_cpu)
        .num("lewton_alone_ratio_cpu", lewton_x_cpu / oggdec_x_cpu)
        .num("goal_ratio", 0.9)
        .flag("meets_goal", ratio_cpu >= 0.9)
        .num("loadavg", loadavg())
        .print();
}

fn vorbis_component(data: &[u8], secs: u32) {
    let mut h = Harness::new();
    let id = h.spawn(VorbisDecode::new());
    let input = h.feeder::<Bytes>(id, "inbox").unwrap();
    let control = h.feeder::<Signal>(id, "control").unwrap();
    let audio = h.collector::<AudioChunk>(id, "outbox").unwrap();
    let _comments = h.collector::<VorbisComments>(id, "comments").unwrap();
    let data = Bytes::copy_from_slice(data);
    for at in (0..data.len()).step_by(PIECE) {
        input
            .send(data.slice(at..(at + PIECE).min(data.len())))
            .unwrap();
    }
    control.send(Signal::ProducerFinished).unwrap();
    let mut steps: Vec<Duration> = Vec::new();
    let mut step_cpu: Vec<u64> = Vec::new();
    let mut frames = 0u64;
    let cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    let t0 = Instant::now();
    loop {
        let t = Instant::now();
        let c = clock_ns(CLOCK_THREAD_CPUTIME_ID);
        if h.step().is_none() {
            break;
        }
        step_cpu.push(clock_ns(CLOCK_THREAD_CPUTIME_ID) - c);
        steps.push(t.elapsed());
        while let Some(c) = audio.recv() {
            frames += c.frames() as u64;
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = (clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0) as f64 / 1e9;
    steps.sort();
    let longest = steps.last().copied().unwrap_or_default();
    let p999 = steps[(steps.len() * 999 / 1000).min(steps.len() - 1)];
    let mean = steps.iter().sum::<Duration>() / steps.len() as u32;
    step_cpu.sort();
    let cpu_longest = step_cpu.last().copied().unwrap_or(0);
    let cpu_p999 = step_cpu[(step_cpu.len() * 999 / 1000).min(step_cpu.len() - 1)];
    let audio_s = frames as f64 / RATE as f64;
    Json::new("audio")
        .text("row", "vorbis_component")
        .int("file_s", secs as u64)
        .int("frames", frames)
        .int("steps", steps.len() as u64)
        .num("x_realtime_cpu", audio_s / cpu)
        .num("x_realtime_wall", audio_s / wall)
        .num("step_mean_us", mean.as_secs_f64() * 1e6)
        .num("step_p999_us", p999.as_secs_f64() * 1e6)
        .num("step_longest_us", longest.as_secs_f64() * 1e6)
        .num("step_cpu_p999_us", cpu_p999 as f64 / 1e3)
        .num("step_cpu_longest_us", cpu_longest as f64 / 1e3)
        .num("loadavg", loadavg())
        .print();
}

/// Plays `ogg` through `AudioOut` on `device` on a real scheduler; `pull`,
/// if given, is the device's callback, run every 10 ms on a thread.
fn playback(
    name: &str,
    ogg: &Path,
    secs: u32,
    device: impl AudioDevice,
    pull: Option<Box<dyn FnMut() + Send>>,
) {
    let reader = ReadFileAdaptor::file(ogg, ReadMode::Block(16 << 10));
    let dec = VorbisDecode::new();
    dec.inbox.set_limit(Some(4));
    let out = AudioOut::new(device);
    let stats = out.stats();
    let end: Inbox<Signal> = Inbox::inbox();
    link(&reader.outbox, &dec.inbox).unwrap();
    link(&reader.signal, &dec.control).unwrap();
    link(&dec.outbox, &out.inbox).unwrap();
    link(&dec.signal, &out.control).unwrap();
    link(&out.signal, &end).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let callback = pull.map(|mut pull| {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (t0, period) = (Instant::now(), Duration::from_millis(10));
            let mut k = 0u32;
            while !stop.load(Ordering::Relaxed) {
                k += 1;
                let at = t0 + period * k;
                std::thread::sleep(at.saturating_duration_since(Instant::now()));
                pull();
            }
        })
    });
    let mut s = Scheduler::new();
    s.spawn(reader);
    s.spawn(dec);
    s.spawn(out);
    let cpu0 = clock_ns(common::CLOCK_PROCESS_CPUTIME_ID);
    let sched0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    let t0 = Instant::now();
    s.run();
    let wall = t0.elapsed().as_secs_f64();
    let sched = (clock_ns(CLOCK_THREAD_CPUTIME_ID) - sched0) as f64 / 1e9;
    let cpu = (clock_ns(common::CLOCK_PROCESS_CPUTIME_ID) - cpu0) as f64 / 1e9;
    stop.store(true, Ordering::Relaxed);
    if let Some(t) = callback {
        t.join().unwrap();
    }
    let ended = end.recv();
    let c = stats.counts();
    let audio_s = c.played_frames as f64 / RATE as f64;
    Json::new("audio")
        .text("row", "playback_cpu")
        .text("device", name)
        .int("file_s", secs as u64)
        .text("ended", &format!("{ended:?}"))
        .num("audio_s", audio_s)
        .num("wall_s", wall)
        .num("cpu_ms_per_audio_s", cpu * 1e3 / audio_s)
        .num("scheduler_cpu_ms_per_audio_s", sched * 1e3 / audio_s)
        .num("cpu_percent_of_a_core", cpu / wall * 100.0)
        .flag("paced", wall >= audio_s * 0.95)
        .int("underruns", c.underruns)
        .int("overruns", c.overruns)
        .num("loadavg", loadavg())
        .print();
}

fn playback_rows(dir: &Path) {
    let secs = if quick() { 5 } else { 20 };
    let sub = dir.join("playback");
    std::fs::create_dir_all(&sub).unwrap();
    let ogg = make_file(&sub, secs);
    let (device, output) = kamaelia::audio::out::FakeDevice::new();
    let frames = (RATE / 100) as usize;
    playback(
        "fake",
        &ogg,
        secs,
        device,
        Some(Box::new(move || {
            let _ = output.pull(frames);
        })),
    );
    #[cfg(feature = "audio-out")]
    {
        let conf = sub.join("asound.conf");
        std::fs::write(&conf, "pcm.!default { type null }\n").unwrap();
        std::env::set_var("ALSA_CONFIG_PATH", &conf);
        playback(
            "alsa_null",
            &ogg,
            secs,
            kamaelia::audio::out::CpalDevice::default_output(),
            None,
        );
    }
}

fn main() {
    if !["sox", "oggenc", "oggdec"].iter().all(|t| have(t)) {
        eprintln!("audio bench: skipped: needs sox, oggenc and oggdec (Debian: sox vorbis-tools)");
        return;
    }
    let secs = if quick() { 60 } else { 600 };
    let dir =
        Dir(std::env::temp_dir().join(format!("kamaelia-audio-bench-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let t = Instant::now();
    let ogg = make_file(&dir.0, secs);
    let data = std::fs::read(&ogg).unwrap();
    eprintln!(
        "audio bench: {secs} s test file made in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    if want("vorbis_decode") {
        vorbis_decode(&ogg, &data, secs);
    }
    if want("vorbis_component") {
        vorbis_component(&data, secs);
    }
    if want("playback_cpu") {
        playback_rows(&dir.0);
    }
}
