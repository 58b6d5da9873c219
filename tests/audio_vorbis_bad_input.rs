//! Bad input to the Vorbis decoder and the VorbisDecode component:
//! corrupt pages, a truncated stream, header packets replaced by garbage,
//! audio packets mangled behind good CRCs, a broken link in a chain, and
//! plain noise. Each gives a typed error or a counted skip, never a panic,
//! and the good audio around it still comes out. The test files come from
//! sox and oggenc (skipped with a note when missing, unless
//! `KAMAELIA_REQUIRE_INTEROP=1`); the noise tests need nothing.

mod audio_support;
use audio_support::*;
use kamaelia::audio::ogg::{OggReader, Packet, Page};
use kamaelia::audio::vorbis::{Decoded, VorbisDecoder, VorbisError};

/// A small deterministic generator for the mangling.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// `page` with its body replaced by `body` (same lacing), CRC made good.
fn with_body(page: &Page, body: &[u8]) -> Page {
    Page::build(
        page.flags(),
        page.granule_raw(),
        page.serial(),
        page.sequence(),
        page.segments(),
        body,
    )
}

fn sample_file(dir: &TempDir) -> (Vec<u8>, Vec<i16>) {
    let ogg = make_ogg(dir.path(), "bad", 44_100, 2, 3.0, 3, "Bad");
    (std::fs::read(&ogg).unwrap(), oggdec(&ogg))
}

#[test]
fn a_corrupt_page_is_skipped_and_decoding_goes_on() {
    if !have_tools("a_corrupt_page_is_skipped_and_decoding_goes_on") {
        return;
    }
    let dir = TempDir::new("vorbis-corrupt");
    let (mut data, want) = sample_file(&dir);
    let all = pages(&data);
    let mid = all.len() / 2;
    let offset: usize = all[..mid].iter().map(|p| p.as_bytes().len()).sum();
    data[offset + 60] ^= 0xff;
    let (got, stats, _) = decode_component(&data, 4096);
    assert_eq!(stats.ogg.pages.bad_crc, 1);
    assert_eq!(stats.ogg.pages.pages, all.len() as u64 - 1);
    assert_eq!(stats.ogg.packets.gaps, 1);
    assert_eq!(
        stats.vorbis.bad_audio, 0,
        "a bad page never reaches the decoder"
    );
    // What came out before the loss is exact; some audio follows it.
    let ours = got.samples();
    assert!(ours.len() < want.len());
    let before = all[mid - 1].granule().unwrap() as usize * 2;
    assert!(max_diff(&ours[..before], &want[..before]).0 <= 1);
    assert!(
        ours.len() > before + 44_100,
        "decoding went on after the bad page"
    );
}

#[test]
fn a_truncated_stream_gives_what_it_holds() {
    if !have_tools("a_truncated_stream_gives_what_it_holds") {
        return;
    }
    let dir = TempDir::new("vorbis-truncated");
    let (data, want) = sample_file(&dir);
    for cut in [data.len() / 3, data.len() - 10, 30, 5000] {
        let (got, stats, _) = decode_component(&data[..cut], 1024);
        assert!(stats.truncated_bytes > 0, "cut at {cut}");
        let ours = got.samples();
        assert!(ours.len() < want.len());
        assert!(max_diff(&ours, &want[..ours.len()]).0 <= 1);
    }
}

/// Each header in turn replaced by garbage (same length, good CRC): the
/// stream cannot be decoded, which is a typed error and counted skips.
#[test]
fn a_header_replaced_by_garbage() {
    if !have_tools("a_header_replaced_by_garbage") {
        return;
    }
    let dir = TempDir::new("vorbis-badhdr");
    let (data, _) = sample_file(&dir);
    let mut r = OggReader::new();
    r.push(&data);
    let packets: Vec<Packet> = std::iter::from_fn(|| r.next_packet()).collect();
    let mut rng = Rng(7);
    for which in 0..3 {
        let mut dec = VorbisDecoder::new();
        let mut errors = Vec::new();
        let mut audio = 0;
        for (i, p) in packets.iter().enumerate() {
            let mut p = p.clone();
            if i == which {
                let junk: Vec<u8> = (0..p.data.len()).map(|_| rng.next() as u8).collect();
                p.data = junk.into();
            }
            match dec.decode(&p) {
                Ok(Decoded::Audio(_)) => audio += 1,
                Ok(_) => {}
                Err(e) => errors.push(e),
            }
        }
        assert_eq!(audio, 0, "header {which} broken: no audio");
        assert_eq!(
            errors.len(),
            usize::from(which > 0),
            "header {which}: {errors:?}"
        );
        match (which, errors.first()) {
            (1, Some(VorbisError::Comment(_) | VorbisError::UnexpectedPacket { wanted: 3 })) => {}
            (2, Some(VorbisError::Setup(_) | VorbisError::UnexpectedPacket { wanted: 5 })) => {}
            (0, None) => {}
            other => panic!("header {which}: {other:?}"),
        }
        // A garbage first packet is not an identification header: the
        // stream is never taken up, and everything is skipped and counted.
        let s = dec.stats();
        assert_eq!(s.header_sets, 0);
        assert!(s.skipped_packets >= (packets.len() - 3) as u64, "{s:?}");
    }
    // A bad identification header that still says "vorbis" is a typed error.
    let mut dec = VorbisDecoder::new();
    let mut bad = packets[0].clone();
    let mut bytes = bad.data.to_vec();
    bytes[11] = 0; // zero channels
    bad.data = bytes.into();
    assert!(matches!(dec.decode(&bad), Err(VorbisError::Ident(_))));
    assert_eq!(dec.stats().bad_headers, 1);
}

/// Audio packets mangled behind good CRCs reach lewton: each is decoded or
/// refused with a typed error, and the frame count never runs away.
#[test]
fn mangled_audio_packets_never_panic() {
    if !have_tools("mangled_audio_packets_never_panic") {
        return;
    }
    let dir = TempDir::new("vorbis-mangled");
    let (data, want) = sample_file(&dir);
    let all = pages(&data);
    let headers = all.iter().take_while(|p| p.granule() == Some(0)).count();
    let mut rng = Rng(1);
    let mut refused = 0;
    for round in 0..40 {
        let mut mangled = all.clone();
        for _ in 0..3 {
            let i = headers + rng.below(all.len() - headers);
            let mut body = mangled[i].body().to_vec();
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(body.len().max(1));
                if let Some(b) = body.get_mut(at) {
                    *b = rng.next() as u8;
                }
            }
            mangled[i] = with_body(&mangled[i], &body);
        }
        let got = decode_core(&join(&mangled), 8192);
        refused += got.errors.len();
        assert!(
            got.errors
                .iter()
                .all(|e| matches!(e, VorbisError::Audio(_))),
            "round {round}"
        );
        assert!(got.frames() * 2 <= want.len() + 2 * 4096, "round {round}");
        assert_eq!(got.ogg.pages.bad_crc, 0);
    }
    eprintln!("{refused} mangled packets refused with typed errors in 40 rounds");
}

/// A chain whose second link has a broken setup header: the first link
/// plays, the second is skipped and counted, a third plays again.
#[test]
fn a_broken_link_in_a_chain() {
    if !have_tools("a_broken_link_in_a_chain") {
        return;
    }
    let dir = TempDir::new("vorbis-badlink");
    let a = make_ogg(dir.path(), "a", 44_100, 1, 1.0, 2, "A");
    let b = make_ogg(dir.path(), "b", 48_000, 2, 1.0, 2, "B");
    let c = make_ogg(dir.path(), "c", 22_050, 1, 1.0, 2, "C");
    let mut b_pages = pages(&std::fs::read(&b).unwrap());
    // The setup header is the last packet on the second page.
    let p = &b_pages[1];
    let mut body = p.body().to_vec();
    let n = body.len();
    for x in &mut body[n - 200..n - 10] {
        *x = 0x5a;
    }
    b_pages[1] = with_body(p, &body);
    let data = [
        std::fs::read(&a).unwrap(),
        join(&b_pages),
        std::fs::read(&c).unwrap(),
    ]
    .concat();
    let (got, stats, _) = decode_component(&data, 3000);
    assert_eq!(stats.vorbis.header_sets, 2);
    assert_eq!(stats.vorbis.bad_headers, 1);
    assert!(stats.vorbis.skipped_packets > 10);
    let rates: Vec<u32> = got.comments.iter().map(|c| c.rate).collect();
    assert_eq!(rates, [44_100, 22_050]);
    let frames = |rate| {
        got.chunks
            .iter()
            .filter(|c| c.rate == rate)
            .map(|c| c.frames())
            .sum::<usize>()
    };
    assert_eq!(frames(44_100), oggdec(&a).len());
    assert_eq!(frames(48_000), 0);
    assert_eq!(frames(22_050), oggdec(&c).len());
}

#[test]
fn noise_is_skipped_and_counted() {
    let mut rng = Rng(3);
    let noise: Vec<u8> = (0..100_000).map(|_| rng.next() as u8).collect();
    let (got, stats, _) = decode_component(&noise, 4096);
    assert!(got.chunks.is_empty() && got.comments.is_empty());
    assert_eq!(stats.ogg.pages.pages, 0);
    assert!(stats.ogg.pages.skipped_bytes + stats.truncated_bytes == noise.len() as u64);
}

/// Pages that are good Ogg but whose packets are not Vorbis, and Vorbis
/// packets in the wrong order: skipped and counted.
#[test]
fn not_vorbis_and_out_of_order() {
    use kamaelia::audio::ogg::{FLAG_BOS, FLAG_EOS};
    let p0 = Page::build(FLAG_BOS, 0, 5, 0, &[8], b"OpusHead");
    let p1 = Page::build(FLAG_EOS, 960, 5, 1, &[3], b"abc");
    // A comment header before any identification header.
    let p2 = Page::build(
        FLAG_BOS | FLAG_EOS,
        0,
        6,
        0,
        &[12],
        b"\x03vorbis\0\0\0\0\x01",
    );
    let data = join(&[p0, p1, p2]);
    let got = decode_core(&data, 10);
    assert!(got.chunks.is_empty() && got.errors.is_empty());
    assert_eq!(got.vorbis.skipped_packets, 3);
    // An identification header, then an audio packet where the comments go.
    let ident = {
        let mut v = b"\x01vorbis".to_vec();
        v.extend_from_slice(&0u32.to_le_bytes());
        v.push(2);
        v.extend_from_slice(&44_100u32.to_le_bytes());
        v.extend_from_slice(&[0; 12]);
        v.push(0xb8);
        v.push(1);
        v
    };
    let q0 = Page::build(FLAG_BOS, 0, 9, 0, &[ident.len() as u8], &ident);
    let q1 = Page::build(FLAG_EOS, 0, 9, 1, &[4], &[0, 1, 2, 3]);
    let got = decode_core(&join(&[q0, q1]), 1000);
    assert_eq!(got.errors, [VorbisError::UnexpectedPacket { wanted: 3 }]);
}

/// A 60-byte setup header claiming a codebook of 2^23 entries of 2^16
/// dimensions: lewton 0.10 would try to allocate 2 TB for it and abort the
/// process. The decoder refuses it first, with a typed error.
#[test]
fn a_hostile_setup_header_is_refused_not_allocated() {
    use kamaelia::audio::ogg::{FLAG_BOS, FLAG_EOS};
    fn pack(fields: &[(u64, u32)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (pos, bit) in fields
            .iter()
            .flat_map(|&(v, n)| (0..n).map(move |i| (v >> i) & 1 == 1))
            .enumerate()
        {
            if pos % 8 == 0 {
                out.push(0);
            }
            if bit {
                *out.last_mut().unwrap() |= 1 << (pos % 8);
            }
        }
        out
    }
    let mut ident = b"\x01vorbis".to_vec();
    ident.extend_from_slice(&0u32.to_le_bytes());
    ident.push(2);
    ident.extend_from_slice(&44_100u32.to_le_bytes());
    ident.extend_from_slice(&[0; 12]);
    ident.extend_from_slice(&[0xb8, 1]);
    let mut comment = b"\x03vorbis".to_vec();
    comment.extend_from_slice(&[0; 8]);
    comment.push(1);
    let giant = [
        (0, 8),
        (0x56_4342, 24),
        (0xffff, 16),
        (1 << 23, 24),
        (1, 1),
        (0, 5),
        (1 << 23, 24),
        (2, 4),
        (0, 64),
        (7, 4),
        (0, 1),
        (0, 64),
    ];
    let setup = [b"\x05vorbis".as_slice(), &pack(&giant)].concat();
    let p0 = Page::build(FLAG_BOS, 0, 1, 0, &[ident.len() as u8], &ident);
    let p1 = Page::build(
        0,
        0,
        1,
        1,
        &[comment.len() as u8, setup.len() as u8],
        &[comment, setup].concat(),
    );
    let p2 = Page::build(FLAG_EOS, 1000, 1, 2, &[3], &[0, 0, 0]);
    let got = decode_core(&join(&[p0, p1, p2]), 1000);
    assert!(
        matches!(got.errors[..], [VorbisError::Setup(_)]),
        "{:?}",
        got.errors
    );
    assert_eq!(got.vorbis.bad_headers, 1);
    assert!(got.chunks.is_empty());
}
