//! The Ogg page parser and demultiplexer on pages built in the test:
//! bytes at every boundary, garbage and resync, bad CRCs, lacing across
//! pages, several logical streams, chains, lost pages, a listener joining
//! mid-stream, and the memory bounds. Every count is asserted exactly.

use kamaelia::audio::ogg::{
    Demux, OggReader, Packet, Page, PageParser, FLAG_BOS, FLAG_CONTINUED, FLAG_EOS, MAX_PAGE,
};

/// Lacing values for packets laid on one page (each packet whole).
fn lacing(packets: &[usize]) -> Vec<u8> {
    let mut l = Vec::new();
    for &n in packets {
        l.extend(std::iter::repeat_n(255u8, n / 255));
        l.push((n % 255) as u8);
    }
    l
}

fn body(packets: &[usize], fill: u8) -> Vec<u8> {
    packets
        .iter()
        .enumerate()
        .flat_map(|(i, &n)| std::iter::repeat_n(fill.wrapping_add(i as u8), n))
        .collect()
}

fn page(flags: u8, granule: u64, serial: u32, seq: u32, packets: &[usize]) -> Page {
    Page::build(
        flags,
        granule,
        serial,
        seq,
        &lacing(packets),
        &body(packets, seq as u8 * 16),
    )
}

fn bytes(pages: &[&Page]) -> Vec<u8> {
    pages
        .iter()
        .flat_map(|p| p.as_bytes().iter().copied())
        .collect()
}

fn read_all(data: &[u8], piece: usize) -> (Vec<Packet>, OggReader) {
    let mut r = OggReader::new();
    let mut out = Vec::new();
    for part in data.chunks(piece) {
        r.push(part);
        while let Some(p) = r.next_packet() {
            out.push(p);
        }
    }
    (out, r)
}

fn sizes(packets: &[Packet]) -> Vec<usize> {
    packets.iter().map(|p| p.data.len()).collect()
}

#[test]
fn pages_at_every_boundary() {
    let a = page(FLAG_BOS, 0, 1, 0, &[30, 0, 255, 7]);
    let b = page(0, 500, 1, 1, &[600]);
    let c = page(FLAG_EOS, 900, 1, 2, &[1]);
    let data = bytes(&[&a, &b, &c]);
    for piece in 1..=data.len() {
        let (packets, r) = read_all(&data, piece);
        assert_eq!(
            sizes(&packets),
            [30, 0, 255, 7, 600, 1],
            "pieces of {piece}"
        );
        assert_eq!(r.stats().pages.pages, 3);
        assert_eq!(r.stats().pages.skipped_bytes, 0);
        assert_eq!(r.buffered(), 0);
    }
    let (packets, _) = read_all(&data, 1);
    let flags: Vec<_> = packets.iter().map(|p| (p.bos, p.eos, p.granule)).collect();
    assert_eq!(
        flags,
        [
            (true, false, None),
            (false, false, None),
            (false, false, None),
            (false, false, Some(0)),
            (false, false, Some(500)),
            (false, true, Some(900)),
        ]
    );
    // Packet bytes are the page's bytes.
    assert!(packets[4].data.iter().all(|&x| x == 16));
}

#[test]
fn garbage_is_skipped_and_counted() {
    let a = page(FLAG_BOS, 0, 1, 0, &[10]);
    let b = page(0, 5, 1, 1, &[20]);
    let mut data = b"junk before OggS that is not a page ".to_vec();
    let lead = data.len();
    data.extend_from_slice(a.as_bytes());
    data.extend_from_slice(b"OgOgg");
    data.extend_from_slice(b.as_bytes());
    data.extend_from_slice(b"trailing Og");
    for piece in [1, 3, 64, data.len()] {
        let (packets, r) = read_all(&data, piece);
        assert_eq!(sizes(&packets), [10, 20]);
        let s = r.stats().pages;
        // "OggS" inside the junk is a false start: its header fails the CRC
        // (or the version check) and the search goes on from the next byte.
        assert_eq!(s.pages, 2);
        assert_eq!(s.bad_crc + s.bad_version, 1, "{s:?}");
        // Everything but the pages is skipped, or held while it could
        // still begin a pattern: at most 3 bytes ("Og" here, or " Og"
        // when the bytes come one at a time and fewer than 4 are held).
        assert_eq!(
            s.skipped_bytes + r.buffered() as u64,
            (lead + 5 + 11) as u64,
            "{s:?}"
        );
        assert!((2..=3).contains(&r.buffered()));
        assert_eq!(s.resyncs, 3);
    }
}

#[test]
fn a_bad_crc_drops_the_page_and_its_packets() {
    let a = page(FLAG_BOS, 0, 1, 0, &[10]);
    // A packet spanning b and c: the corrupt b takes it down.
    let b = Page::build(0, u64::MAX, 1, 1, &[255], &[1; 255]);
    let c = Page::build(FLAG_CONTINUED, 40, 1, 2, &[5, 3], &[2; 8]);
    let d = page(FLAG_EOS, 50, 1, 3, &[4]);
    let mut data = bytes(&[&a, &b, &c, &d]);
    let at = a.as_bytes().len() + 100;
    data[at] ^= 0x40;
    for piece in [1, 7, data.len()] {
        let (packets, r) = read_all(&data, piece);
        assert_eq!(sizes(&packets), [10, 3, 4], "pieces of {piece}");
        let s = r.stats();
        assert_eq!((s.pages.pages, s.pages.bad_crc), (3, 1));
        assert_eq!(s.pages.skipped_bytes, b.as_bytes().len() as u64);
        assert_eq!(s.packets.gaps, 1);
        assert_eq!(s.packets.orphans, 1);
        // The first whole packet after the loss says so.
        assert!(packets[1].after_gap && !packets[2].after_gap);
        assert_eq!(packets[1].granule, Some(40));
    }
}

#[test]
fn a_packet_laced_across_many_pages() {
    let big: Vec<u8> = (0..255 * 5 + 17).map(|i| i as u8).collect();
    let p0 = Page::build(FLAG_BOS, u64::MAX, 3, 0, &[255, 255], &big[..510]);
    let p1 = Page::build(FLAG_CONTINUED, u64::MAX, 3, 1, &[255, 255], &big[510..1020]);
    let p2 = Page::build(FLAG_CONTINUED, u64::MAX, 3, 2, &[255], &big[1020..1275]);
    let p3 = Page::build(
        FLAG_CONTINUED | FLAG_EOS,
        77,
        3,
        3,
        &[17, 2],
        &[&big[1275..], &[9, 9][..]].concat(),
    );
    let data = bytes(&[&p0, &p1, &p2, &p3]);
    for piece in [1, 100, data.len()] {
        let (packets, _) = read_all(&data, piece);
        assert_eq!(packets.len(), 2);
        assert_eq!(&packets[0].data[..], &big[..]);
        assert!(packets[0].bos && packets[0].granule.is_none());
        assert_eq!(
            (&packets[1].data[..], packets[1].granule, packets[1].eos),
            (&[9u8, 9][..], Some(77), true)
        );
    }
}

#[test]
fn several_logical_streams_interleaved() {
    let a0 = page(FLAG_BOS, 0, 0xa, 0, &[1]);
    let b0 = page(FLAG_BOS, 0, 0xb, 0, &[2]);
    let a1 = page(0, 10, 0xa, 1, &[3, 4]);
    let b1 = Page::build(0, u64::MAX, 0xb, 1, &[255], &[5; 255]);
    let a2 = page(FLAG_EOS, 20, 0xa, 2, &[6]);
    let b2 = Page::build(FLAG_CONTINUED | FLAG_EOS, 30, 0xb, 2, &[1], &[5]);
    let data = bytes(&[&a0, &b0, &a1, &b1, &a2, &b2]);
    let (packets, r) = read_all(&data, 13);
    let got: Vec<_> = packets.iter().map(|p| (p.serial, p.data.len())).collect();
    assert_eq!(
        got,
        [(0xa, 1), (0xb, 2), (0xa, 3), (0xa, 4), (0xa, 6), (0xb, 256)]
    );
    assert_eq!(r.stats().packets.gaps, 0);
    assert_eq!(r.stats().packets.orphans, 0);
}

#[test]
fn a_chain_starts_a_new_serial() {
    let a0 = page(FLAG_BOS, 0, 1, 0, &[1]);
    let a1 = page(FLAG_EOS, 9, 1, 1, &[2]);
    let b0 = page(FLAG_BOS, 0, 2, 0, &[3]);
    let b1 = page(FLAG_EOS, 9, 2, 1, &[4]);
    // And the same serial again after its end (a looping source may reuse it).
    let c0 = page(FLAG_BOS, 0, 1, 0, &[5]);
    let data = bytes(&[&a0, &a1, &b0, &b1, &c0]);
    let (packets, r) = read_all(&data, 5);
    let got: Vec<_> = packets
        .iter()
        .map(|p| (p.serial, p.data.len(), p.bos, p.eos))
        .collect();
    assert_eq!(
        got,
        [
            (1, 1, true, false),
            (1, 2, false, true),
            (2, 3, true, false),
            (2, 4, false, true),
            (1, 5, true, false)
        ]
    );
    assert_eq!(r.stats().packets.gaps, 0);
}

#[test]
fn joining_mid_stream_drops_the_orphan_piece() {
    // The first page heard continues a packet from before we joined.
    let p5 = Page::build(FLAG_CONTINUED, 1000, 7, 5, &[100, 20], &[1; 120]);
    let p6 = page(0, 2000, 7, 6, &[30]);
    let data = bytes(&[&p5, &p6]);
    let (packets, r) = read_all(&data, 9);
    assert_eq!(sizes(&packets), [20, 30]);
    assert_eq!(packets[0].granule, Some(1000));
    assert!(packets[0].after_gap);
    assert_eq!(r.stats().packets.orphans, 1);
    // A whole page of orphan continuation, then the packet's end.
    let q5 = Page::build(FLAG_CONTINUED, u64::MAX, 8, 5, &[255], &[1; 255]);
    let q6 = Page::build(FLAG_CONTINUED, 70, 8, 6, &[4, 6], &[2; 10]);
    let (packets, r) = read_all(&bytes(&[&q5, &q6]), 1000);
    assert_eq!(sizes(&packets), [6]);
    assert_eq!(r.stats().packets.orphans, 2);
}

#[test]
fn a_page_that_fails_to_continue_drops_the_partial_packet() {
    let a = Page::build(FLAG_BOS, u64::MAX, 1, 0, &[255], &[1; 255]);
    // Not flagged as a continuation though a packet is open.
    let b = page(0, 9, 1, 1, &[3]);
    let (packets, r) = read_all(&bytes(&[&a, &b]), 50);
    assert_eq!(sizes(&packets), [3]);
    assert!(packets[0].after_gap);
    assert_eq!(r.stats().packets.dropped_partial, 1);
}

#[test]
fn bounds_on_packet_size_and_stream_count() {
    let mut d = Demux::with_limits(300, 2);
    let p0 = Page::build(FLAG_BOS, u64::MAX, 1, 0, &[255], &[1; 255]);
    let p1 = Page::build(FLAG_CONTINUED, u64::MAX, 1, 1, &[255], &[1; 255]);
    let p2 = Page::build(FLAG_CONTINUED, 5, 1, 2, &[10, 7], &[1; 17]);
    for p in [&p0, &p1, &p2] {
        d.push_page(p);
    }
    let got: Vec<_> = std::iter::from_fn(|| d.next_packet()).collect();
    assert_eq!(sizes(&got), [7]);
    assert!(got[0].after_gap);
    assert_eq!(d.stats().oversized, 1);
    // Three streams with room for two: the one heard from longest ago goes.
    for serial in [10, 11, 12] {
        d.push_page(&page(FLAG_BOS, 0, serial, 0, &[1]));
    }
    d.push_page(&page(0, 1, 10, 1, &[1]));
    // Stream 1 (never ended) goes for 11, 10 for 12, 11 for 10 again.
    assert_eq!(d.stats().evicted_streams, 3);
    // Stream 10 was forgotten; its page is heard as a new stream's (joined late).
    let got: Vec<_> = std::iter::from_fn(|| d.next_packet()).collect();
    assert_eq!(got.len(), 4);
    assert!(got[3].after_gap);
}

#[test]
fn a_lost_page_is_a_counted_gap() {
    let a = page(FLAG_BOS, 0, 1, 0, &[1]);
    let c = page(0, 9, 1, 2, &[2]);
    let (packets, r) = read_all(&bytes(&[&a, &c]), 100);
    assert_eq!(sizes(&packets), [1, 2]);
    assert!(packets[1].after_gap);
    assert_eq!(r.stats().packets.gaps, 1);
}

#[test]
fn a_largest_page_and_a_false_giant() {
    let full = Page::build(FLAG_BOS, 1, 1, 0, &[255; 255], &vec![3; 255 * 255]);
    assert_eq!(full.as_bytes().len(), MAX_PAGE);
    // A fake header claiming a full page, then a real page: the parser
    // waits for the claimed length, the CRC fails, and it finds the page.
    let mut fake = b"OggS\0\0".to_vec();
    fake.extend_from_slice(&[0; 20]);
    fake.push(255);
    fake.extend_from_slice(&[255; 255]);
    let mut data = fake.clone();
    data.extend_from_slice(full.as_bytes());
    let mut p = PageParser::new();
    p.push(&data);
    assert_eq!(p.next_page().as_ref(), Some(&full));
    assert_eq!(p.stats().bad_crc, 1);
    assert_eq!(p.stats().skipped_bytes, fake.len() as u64);
    assert_eq!(p.buffered(), 0);
}
