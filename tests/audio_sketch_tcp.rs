//! Sketch 24 (examples/ogg_streaming_server.rs): an Ogg file streamed over
//! TCP on 127.0.0.1 at its own bit rate to two clients at once, each
//! decoding it to a WAV file: both equal the file's own decode (and
//! oggdec's, within 1 LSB, frame for frame), and the stream took about
//! the file's duration (it was paced, not sent at once).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use kamaelia::axon::{Ended, Signal};

mod audio_support;
use audio_support::*;

#[allow(dead_code)]
#[path = "../examples/ogg_streaming_server.rs"]
mod ogg_streaming_server;
use ogg_streaming_server::*;

const LOCAL: ([u8; 4], u16) = ([127, 0, 0, 1], 0);

#[test]
fn two_clients_each_decode_the_whole_file_at_its_pace() {
    if !have_tools("two_clients_each_decode") {
        return;
    }
    let dir = TempDir::new("tcp-stream");
    let secs = 2.0;
    let ogg = make_ogg(dir.path(), "stereo", 44_100, 2, secs, 3, "Over TCP");
    let outs = [dir.path().join("one.wav"), dir.path().join("two.wav")];
    let o = run(
        SocketAddr::from(LOCAL),
        &ogg,
        &outs,
        Duration::from_secs(30),
    )
    .unwrap();
    assert_eq!(o.ended, Ended::Completed);
    assert!(!o.timed_out);
    assert_eq!(o.client_ends.len(), 2);
    for (_, sig) in &o.client_ends {
        assert_eq!(sig, &Signal::ProducerFinished, "each sink finished cleanly");
    }
    let direct = decode_core(&std::fs::read(&ogg).unwrap(), 4096).samples();
    let reference = oggdec(&ogg);
    for out in &outs {
        let (info, got) = read_wav(out);
        assert_eq!((info.rate, info.channels), (44_100, 2));
        assert!(
            got == direct,
            "{}: the file's decode, exactly",
            out.display()
        );
        let (worst, _) = max_diff(&got, &reference);
        assert!(worst <= 1, "oggdec differs by {worst}");
    }
    for d in &o.decoded {
        assert_eq!(d.ogg.pages.bad_crc, 0);
        assert_eq!(d.truncated_bytes, 0);
    }
    // Paced at the file's rate (plus the headroom): about its duration.
    let size = std::fs::metadata(&ogg).unwrap().len() as f64;
    let paced = size * 8.0 / o.bitrate as f64;
    let own = file_bitrate(&ogg).unwrap() as f64;
    assert!(
        (size * 8.0 / own - secs).abs() < 0.05,
        "the file's own rate: {own}"
    );
    let took = o.elapsed.as_secs_f64();
    assert!(
        took >= paced * 0.95,
        "streamed in {took:.2} s, paced {paced:.2} s"
    );
    assert!(
        took < paced + 2.0,
        "streamed in {took:.2} s, paced {paced:.2} s"
    );
}

#[test]
fn the_file_bit_rate_is_size_over_duration_and_junk_is_an_error() {
    if !have_tools("the_file_bit_rate") {
        return;
    }
    let dir = TempDir::new("tcp-rate");
    let ogg = make_ogg(dir.path(), "mono", 48_000, 1, 3.0, 5, "Rate");
    let size = std::fs::metadata(&ogg).unwrap().len() as f64;
    let rate = file_bitrate(&ogg).unwrap() as f64;
    assert!(
        (rate - size * 8.0 / 3.0).abs() <= 1.0 + rate * 0.001,
        "{rate}"
    );
    assert_eq!(
        stream_bitrate(&ogg).unwrap(),
        (rate * HEADROOM).ceil() as u64
    );
    let junk = dir.path().join("junk.ogg");
    std::fs::write(&junk, b"not an ogg file at all").unwrap();
    assert_eq!(
        file_bitrate(&junk).unwrap_err().kind(),
        std::io::ErrorKind::InvalidData
    );
    assert!(file_bitrate(Path::new("/nonexistent/x.ogg")).is_err());
    assert!(run(
        SocketAddr::from(LOCAL),
        &junk,
        &[dir.path().join("x.wav")],
        Duration::from_secs(5)
    )
    .is_err());
}

#[test]
fn a_client_leaving_early_does_not_disturb_the_other() {
    use kamaelia::audio::wav_writer::WavWriter;
    use kamaelia::axon::{link_refs, Outbox};
    if !have_tools("a_client_leaving_early") {
        return;
    }
    let dir = TempDir::new("tcp-leave");
    let ogg = make_ogg(dir.path(), "leave", 44_100, 2, 2.0, 4, "Leaving");
    let rate = stream_bitrate(&ogg).unwrap();
    let server = server(SocketAddr::from(LOCAL), &ogg, rate).unwrap();
    let addr = server.local_addr().unwrap();
    let mut s = kamaelia::axon::Scheduler::new();
    let (watcher, ends) = Watcher::new(2);
    let server = s.spawn(server);
    let watcher = s.spawn(watcher);
    s.link((watcher, "outbox"), (server, "control")).unwrap();
    let (stays, leaves) = (dir.path().join("stays.wav"), dir.path().join("leaves.wav"));
    let mut ids = Vec::new();
    for out in [&stays, &leaves] {
        let c = spawn_client(&mut s, addr, Box::new(WavWriter::new(out))).unwrap();
        s.link((c.sink, "signal"), (watcher, "inbox")).unwrap();
        ids.push(c);
    }
    let stop: Outbox<Signal> = Outbox::signal();
    link_refs(&stop.erased(), &s.find_box(ids[1].conn, "control").unwrap()).unwrap();
    assert_eq!(
        s.run_for(Duration::from_millis(800)),
        None,
        "still streaming"
    );
    stop.send(Signal::Shutdown).unwrap();
    assert_eq!(s.run_for(Duration::from_secs(20)), Some(Ended::Completed));
    let ends = ends.borrow();
    assert_eq!(ends.len(), 2);
    assert_eq!(ends[0].1, Signal::Shutdown, "the one that left, first");
    assert_eq!(ends[1].1, Signal::ProducerFinished);
    let direct = decode_core(&std::fs::read(&ogg).unwrap(), 4096).samples();
    let (_, whole) = read_wav(&stays);
    assert!(whole == direct, "the client that stayed got the whole file");
    let (_, part) = read_wav(&leaves);
    assert!(
        !part.is_empty() && part.len() < direct.len() / 2,
        "{}",
        part.len()
    );
    assert!(
        direct.starts_with(&part),
        "what it got is the start of the file"
    );
}

#[test]
fn a_client_of_no_server_ends_with_a_failure_and_an_empty_wav() {
    use kamaelia::audio::wav_writer::WavWriter;
    use kamaelia::axon::{Inbox, Scheduler};
    let dir = TempDir::new("tcp-refused");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // closed again at once
    let wav = dir.path().join("none.wav");
    let mut s = Scheduler::new();
    let c = spawn_client(
        &mut s,
        SocketAddr::from(([127, 0, 0, 1], port)),
        Box::new(WavWriter::new(&wav)),
    )
    .unwrap();
    let end: Inbox<Signal> = Inbox::inbox();
    kamaelia::axon::link_refs(&s.find_box(c.sink, "signal").unwrap(), &end.erased()).unwrap();
    assert_eq!(s.run_for(Duration::from_secs(10)), Some(Ended::Completed));
    assert!(
        matches!(end.recv(), Some(Signal::Failed(_))),
        "a refused connection is a failure"
    );
    let (_, samples) = read_wav(&wav);
    assert!(samples.is_empty());
    assert_eq!(c.stats.get().vorbis.frames, 0);
}
