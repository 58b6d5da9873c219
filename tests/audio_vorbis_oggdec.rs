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

#[test]
fn chained_file_two_titles() {
    if !have_tools("chained_file_two_titles") {
        return;
    }
    let dir = TempDir::new("vorbis-chain");
    let a = make_ogg(dir.path(), "first", 44_100, 2, 2.0, 2, "First");
    let b = make_ogg(dir.path(), "second", 44_100, 2, 1.5, 6, "Second");
    let data = [std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap()].concat();
    let chained = dir.path().join("chained.ogg");
    std::fs::write(&chained, &data).unwrap();
    let want = oggdec(&chained);
    let want_a = oggdec(&a);
    assert_eq!(want_a.len(), 2 * 88_200);
    for piece in [data.len(), 4096, 333] {
        let got = decode_core(&data, piece);
        assert!(got.errors.is_empty(), "{:?}", got.errors);
        assert_eq!(got.samples().len(), want.len());
        assert!(max_diff(&got.samples(), &want).0 <= 1);
        let titles: Vec<_> = got.comments.iter().map(|c| c.title().unwrap()).collect();
        assert_eq!(titles, ["First", "Second"]);
        assert_ne!(got.comments[0].serial, got.comments[1].serial);
        assert_eq!(got.vorbis.header_sets, 2);
    }
    let (got, _, _) = decode_component(&data, 4096);
    assert_eq!(got.samples().len(), want.len());
    assert!(max_diff(&got.samples(), &want).0 <= 1);
    let titles: Vec<_> = got.comments.iter().map(|c| c.title().unwrap()).collect();
    assert_eq!(titles, ["First", "Second"]);
}

#[test]
fn chain_with_a_rate_and_channel_change() {
    if !have_tools("chain_with_a_rate_and_channel_change") {
        return;
    }
    let dir = TempDir::new("vorbis-chain-rate");
    let a = make_ogg(dir.path(), "mono22", 22_050, 1, 1.0, 1, "Mono");
    let b = make_ogg(dir.path(), "stereo48", 48_000, 2, 1.0, 4, "Stereo");
    let want_a = oggdec(&a);
    let want_b = oggdec(&b);
    let data = [std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap()].concat();
    let (got, stats, _) = decode_component(&data, 1500);
    assert_eq!(stats.vorbis.header_sets, 2);
    assert_eq!(stats.vorbis.bad_audio + stats.vorbis.bad_headers, 0);
    let (first, second): (Vec<_>, Vec<_>) = got.chunks.iter().partition(|c| c.rate == 22_050);
    assert!(first.iter().all(|c| c.channels == 1));
    assert!(second.iter().all(|c| c.rate == 48_000 && c.channels == 2));
    // All of the first link's chunks come before the second's.
    let switch = got.chunks.iter().position(|c| c.rate == 48_000).unwrap();
    assert_eq!(switch, first.len());
    let a_samples: Vec<i16> = first.iter().flat_map(|c| c.samples.clone()).collect();
    let b_samples: Vec<i16> = second.iter().flat_map(|c| c.samples.clone()).collect();
    assert!(max_diff(&a_samples, &want_a).0 <= 1);
    assert!(max_diff(&b_samples, &want_b).0 <= 1);
    let formats: Vec<_> = got.comments.iter().map(|c| (c.rate, c.channels)).collect();
    assert_eq!(formats, [(22_050, 1), (48_000, 2)]);
}

/// A listener joining mid-stream (as from an Icecast mount): the header
/// pages, then pages from the middle, with granules far from 0 and a
/// first page that may continue a packet it never saw. What it decodes
/// must be exactly the end of the whole file's decode.
#[test]
fn listener_joining_mid_stream() {
    if !have_tools("listener_joining_mid_stream") {
        return;
    }
    let dir = TempDir::new("vorbis-join");
    let ogg = make_ogg(dir.path(), "join", 44_100, 2, 4.0, 3, "Join");
    let want = oggdec(&ogg);
    let all = pages(&std::fs::read(&ogg).unwrap());
    let headers = all.iter().take_while(|p| p.granule() == Some(0)).count();
    assert!(
        headers >= 2,
        "oggenc puts the headers on pages of their own"
    );
    for join_at in [all.len() / 3, all.len() / 2, all.len() - 2] {
        let mut sent = all[..headers].to_vec();
        sent.extend_from_slice(&all[join_at..]);
        let data = join(&sent);
        let got = decode_core(&data, 4096);
        assert!(got.errors.is_empty(), "{:?}", got.errors);
        assert_eq!(got.ogg.packets.gaps, 1);
        let ours = got.samples();
        assert!(!ours.is_empty() && ours.len() < want.len());
        let tail = &want[want.len() - ours.len()..];
        assert!(max_diff(&ours, tail).0 <= 1, "joined at page {join_at}");
        // It starts one packet after the first whole packet heard, which
        // the page before it dates: no more than a long block's worth off.
        let before = all[join_at - 1].granule().unwrap();
        let skipped_frames = (want.len() - ours.len()) / 2;
        assert!(skipped_frames as u64 >= before);
        assert!(
            skipped_frames as u64 - before <= 2 * 2048,
            "{skipped_frames} vs {before}"
        );
    }
}

/// A first audio page whose granule position is smaller than what its
/// packets decode to: the difference is cut from the start (Vorbis I
/// §A.2), as oggdec does on the same file.
#[test]
fn leading_samples_cut_by_the_first_granule() {
    if !have_tools("leading_samples_cut_by_the_first_granule") {
        return;
    }
    let dir = TempDir::new("vorbis-lead");
    let ogg = make_ogg(dir.path(), "lead", 48_000, 2, 2.0, 4, "Lead");
    let plain = oggdec(&ogg);
    let original = std::fs::read(&ogg).unwrap();
    let plain_trims = decode_core(&original, 4096).vorbis.trimmed_frames;
    let mut all = pages(&original);
    let first_audio = all.iter().position(|p| p.granule() != Some(0)).unwrap();
    let p = &all[first_audio];
    let cut = 100;
    all[first_audio] = kamaelia::audio::ogg::Page::build(
        p.flags(),
        p.granule().unwrap() - cut,
        p.serial(),
        p.sequence(),
        p.segments(),
        &p.body(),
    );
    let data = join(&all);
    let edited = dir.path().join("edited.ogg");
    std::fs::write(&edited, &data).unwrap();
    let want = oggdec(&edited);
    assert_eq!(
        want.len(),
        plain.len() - 2 * cut as usize,
        "oggdec cuts too"
    );
    let got = decode_core(&data, 4096);
    assert_eq!(got.samples().len(), want.len());
    assert!(max_diff(&got.samples(), &want).0 <= 1);
    // The cut at the end is the same as the plain file's; the rest is the lead.
    assert_eq!(got.vorbis.trimmed_frames, plain_trims + cut);
}
