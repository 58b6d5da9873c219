//! Torrent storage on real files in a temporary folder: the byte stream
//! mapped onto files (pieces across three files and an empty one, BEP 47
//! padding), every piece written then every file compared byte for byte,
//! block reads for uploads, the open-file limit, preallocation, re-check
//! of complete, truncated, corrupted and missing data, pieces assembled in
//! memory, and the typed errors of bad requests.

mod torrent_support;

use bytes::Bytes;
use kamaelia::protocol::torrent::metainfo::{FileEntry, Metainfo, MetainfoBuilder};
use kamaelia::protocol::torrent::pieces::{Bitfield, BlockRef, Layout, BLOCK_SIZE};
use kamaelia::protocol::torrent::storage::{
    recheck, Added, BlockError, PieceBuffers, Span, Storage, StorageError, StorageOptions,
};
use sha1::{Digest, Sha1};
use torrent_support::{content, TempDir};

/// A multi-file torrent of `files` (name, length) with real contents.
struct Torrent {
    meta: Metainfo,
    /// The whole byte stream.
    data: Vec<u8>,
    /// Each file's bytes.
    files: Vec<Vec<u8>>,
}

fn torrent(files: &[(&str, usize)], piece_length: usize) -> Torrent {
    let contents: Vec<Vec<u8>> = files
        .iter()
        .enumerate()
        .map(|(i, (_, len))| content(*len, i as u32 + 1))
        .collect();
    let data: Vec<u8> = contents.concat();
    let hashes = data
        .chunks(piece_length)
        .map(|c| Sha1::digest(c).into())
        .collect();
    let list = files
        .iter()
        .map(|(name, len)| (vec![name.to_string()], *len as u64))
        .collect();
    let meta = MetainfoBuilder::multi_file("t", list, piece_length as u64, hashes)
        .build()
        .unwrap();
    Torrent {
        meta,
        data,
        files: contents,
    }
}

/// A piece's blocks as the peer wire would hand them over.
fn blocks_of(data: &[u8], layout: &Layout, piece: u32) -> Vec<Bytes> {
    let start = layout.piece_offset(piece) as usize;
    (0..layout.blocks_in_piece(piece))
        .map(|b| {
            let r = layout.block(piece, b).unwrap();
            let at = start + r.offset as usize;
            Bytes::copy_from_slice(&data[at..at + r.len as usize])
        })
        .collect()
}

/// The pieces overlapping bytes [from, to) of the stream, worked out here
/// with plain arithmetic rather than through the crate.
fn pieces_overlapping(from: u64, to: u64, piece_length: u64) -> Vec<u32> {
    if from >= to {
        return Vec::new();
    }
    ((from / piece_length) as u32..=((to - 1) / piece_length) as u32).collect()
}

fn missing_of(have: &Bitfield) -> Vec<u32> {
    (0..have.len()).filter(|&i| !have.get(i)).collect()
}

/// a (10,000) + empty + b (3,000) + c (5,000) + d (40,000) + e (1): piece 0
/// (16 KiB) covers a, the empty file, b and the start of c.
const FILES: &[(&str, usize)] = &[
    ("a", 10_000),
    ("empty", 0),
    ("b", 3_000),
    ("c", 5_000),
    ("d", 40_000),
    ("e", 1),
];
const PIECE: usize = 16_384;

fn write_everything(t: &Torrent, s: &mut Storage) {
    let layout = *s.layout();
    // Last piece first: writes land out of order, as they do from a swarm.
    for p in (0..layout.piece_count()).rev() {
        s.write_piece(p, &blocks_of(&t.data, &layout, p)).unwrap();
    }
}

fn assert_files_match(t: &Torrent, dir: &TempDir) {
    for (i, (name, _)) in FILES.iter().enumerate() {
        let on_disk = std::fs::read(dir.path().join("t").join(name)).unwrap();
        assert_eq!(on_disk.len(), t.files[i].len(), "length of {name}");
        assert!(on_disk == t.files[i], "contents of {name}");
    }
}

#[test]
fn a_piece_spans_three_files_and_an_empty_one() {
    let t = torrent(FILES, PIECE);
    let dir = TempDir::new("storage-spans");
    let s = Storage::new(&t.meta, dir.path(), StorageOptions::default()).unwrap();
    let spans: Vec<Span> = s.file_map().spans(0, PIECE as u64).collect();
    let span = |file, file_offset, len| Span {
        file,
        file_offset,
        len,
        padding: false,
    };
    assert_eq!(
        spans,
        vec![span(0, 0, 10_000), span(2, 0, 3_000), span(3, 0, 3_384)]
    );
    // Piece 1 starts inside c and ends inside d.
    let spans: Vec<Span> = s.file_map().spans(PIECE as u64, PIECE as u64).collect();
    assert_eq!(spans, vec![span(3, 3_384, 1_616), span(4, 0, 14_768)]);
    // The last piece: the end of d and all of e.
    let last = s.layout().piece_count() - 1;
    let off = s.layout().piece_offset(last);
    let spans: Vec<Span> = s
        .file_map()
        .spans(off, u64::from(s.layout().piece_len(last)))
        .collect();
    assert_eq!(spans.last(), Some(&span(5, 0, 1)));
    assert_eq!(s.file_path(1), dir.path().join("t").join("empty"));
}

#[test]
fn every_piece_written_then_every_file_matches() {
    let t = torrent(FILES, PIECE);
    let dir = TempDir::new("storage-write-all");
    let mut s = Storage::new(&t.meta, dir.path(), StorageOptions::default()).unwrap();
    assert_eq!(s.layout().piece_count(), 4);
    // Nothing is made before the first write.
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    write_everything(&t, &mut s);
    assert_files_match(&t, &dir);
    // Read back through the storage, piece by piece and block by block.
    let layout = *s.layout();
    let mut buf = Vec::new();
    for p in 0..layout.piece_count() {
        s.read_piece(p, &mut buf).unwrap();
        let start = layout.piece_offset(p) as usize;
        assert!(buf == t.data[start..start + buf.len()], "piece {p}");
        for b in 0..layout.blocks_in_piece(p) {
            let r = layout.block(p, b).unwrap();
            let got = s.read_block(&r).unwrap();
            let at = start + r.offset as usize;
            assert_eq!(got, t.data[at..at + r.len as usize], "block {r:?}");
        }
    }
    // An unaligned request (allowed by the wire) across a file boundary.
    let odd = BlockRef {
        piece: 0,
        offset: 9_990,
        len: 3_100,
    };
    assert_eq!(s.read_block(&odd).unwrap(), t.data[9_990..13_090]);
    assert_eq!(recheck(&mut s, t.meta.pieces()).unwrap().count(), 4);
}

#[test]
fn five_files_through_two_open_handles() {
    let files: &[(&str, usize)] = &[
        ("f0", 7_000),
        ("f1", 9_000),
        ("f2", 12_000),
        ("f3", 5_000),
        ("f4", 20_000),
    ];
    let t = torrent(files, 8_192);
    let dir = TempDir::new("storage-open-limit");
    let opts = StorageOptions {
        max_open_files: 2,
        preallocate: false,
    };
    let mut s = Storage::new(&t.meta, dir.path(), opts).unwrap();
    let layout = *s.layout();
    for p in 0..layout.piece_count() {
        s.write_piece(p, &blocks_of(&t.data, &layout, p)).unwrap();
        assert!(s.open_count() <= 2, "{} handles open", s.open_count());
    }
    // Reading from the start again reopens files closed to make room.
    let opened_after_writes = s.files_opened();
    let mut buf = vec![0; t.data.len()];
    s.read_at(0, &mut buf).unwrap();
    assert!(buf == t.data);
    assert!(s.open_count() <= 2);
    assert!(
        s.files_opened() > opened_after_writes,
        "evicted files were reopened"
    );
    for (i, (name, _)) in files.iter().enumerate() {
        assert!(std::fs::read(dir.path().join("t").join(name)).unwrap() == t.files[i]);
    }
    assert_eq!(
        recheck(&mut s, t.meta.pieces()).unwrap().count(),
        layout.piece_count()
    );
    assert!(s.open_count() <= 2);
}

#[test]
fn preallocation_sets_every_file_to_its_length() {
    let t = torrent(FILES, PIECE);
    let dir = TempDir::new("storage-prealloc");
    let opts = StorageOptions {
        preallocate: true,
        ..StorageOptions::default()
    };
    let mut s = Storage::new(&t.meta, dir.path(), opts).unwrap();
    let layout = *s.layout();
    s.write_piece(0, &blocks_of(&t.data, &layout, 0)).unwrap();
    for (name, len) in FILES {
        let meta = std::fs::metadata(dir.path().join("t").join(name)).unwrap();
        assert_eq!(meta.len(), *len as u64, "{name}");
    }
    // Preallocated zeros are not good pieces.
    let have = recheck(&mut s, t.meta.pieces()).unwrap();
    assert_eq!(missing_of(&have), vec![1, 2, 3]);

    // Without preallocation the files only grow as far as written.
    let dir2 = TempDir::new("storage-no-prealloc");
    let mut s = Storage::new(&t.meta, dir2.path(), StorageOptions::default()).unwrap();
    s.write_piece(0, &blocks_of(&t.data, &layout, 0)).unwrap();
    let len = |n: &str| {
        std::fs::metadata(dir2.path().join("t").join(n))
            .unwrap()
            .len()
    };
    assert_eq!((len("a"), len("empty"), len("b")), (10_000, 0, 3_000));
    assert_eq!((len("c"), len("d"), len("e")), (3_384, 0, 0));
}

#[test]
fn recheck_finds_exactly_the_damaged_pieces() {
    let t = torrent(FILES, PIECE);
    let dir = TempDir::new("storage-recheck");
    let mut s = Storage::new(&t.meta, dir.path(), StorageOptions::default()).unwrap();
    write_everything(&t, &mut s);
    let full = recheck(&mut s, t.meta.pieces()).unwrap();
    assert!(full.is_full());
    assert_eq!(full, Bitfield::full(4));

    let file = |n: &str| dir.path().join("t").join(n);
    let offset_of = |i: usize| t.meta.files()[i].offset;

    // d cut to 20,000 of its 40,000 bytes: bytes [38,000, 58,000) missing.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(file("d"))
        .unwrap();
    f.set_len(20_000).unwrap();
    drop(f);
    let have = recheck(&mut s, t.meta.pieces()).unwrap();
    let expect = pieces_overlapping(offset_of(4) + 20_000, offset_of(5), PIECE as u64);
    assert_eq!(expect, vec![2, 3]);
    assert_eq!(missing_of(&have), expect);

    // Put d back; flip one byte of b (piece 0 only).
    std::fs::write(file("d"), &t.files[4]).unwrap();
    let mut b = t.files[2].clone();
    b[2_999] ^= 0x01;
    std::fs::write(file("b"), &b).unwrap();
    let have = recheck(&mut s, t.meta.pieces()).unwrap();
    assert_eq!(missing_of(&have), vec![0]);

    // One byte at the very start of piece 1 (inside c) as well.
    let mut c = t.files[3].clone();
    c[3_384] ^= 0x80;
    std::fs::write(file("c"), &c).unwrap();
    assert_eq!(
        missing_of(&recheck(&mut s, t.meta.pieces()).unwrap()),
        vec![0, 1]
    );

    // A deleted file and a deleted empty file: missing pieces, not errors.
    std::fs::write(file("b"), &t.files[2]).unwrap();
    std::fs::write(file("c"), &t.files[3]).unwrap();
    std::fs::remove_file(file("e")).unwrap();
    std::fs::remove_file(file("empty")).unwrap();
    assert_eq!(
        missing_of(&recheck(&mut s, t.meta.pieces()).unwrap()),
        vec![3]
    );
}

#[test]
fn recheck_of_an_empty_folder_is_all_missing_without_error() {
    let t = torrent(FILES, PIECE);
    let dir = TempDir::new("storage-recheck-empty");
    let mut s = Storage::new(
        &t.meta,
        dir.path().join("nothing-here"),
        StorageOptions::default(),
    )
    .unwrap();
    let have = recheck(&mut s, t.meta.pieces()).unwrap();
    assert_eq!((have.len(), have.count()), (4, 0));
    // The re-check made nothing.
    assert!(!dir.path().join("nothing-here").exists());
    // A hash list of the wrong size is refused.
    assert!(matches!(
        recheck(&mut s, &t.meta.pieces()[1..]),
        Err(StorageError::HashCount {
            pieces: 4,
            hashes: 3
        })
    ));
}

#[test]
fn padding_files_are_never_written_and_read_as_zeros() {
    let dir = TempDir::new("storage-padding");
    let entry = |name: &str, length: u64, padding: bool| FileEntry {
        path: vec!["t".into(), name.into()],
        length,
        offset: 0,
        padding,
    };
    // BEP 47: a padding file aligns b to the 16 KiB piece boundary.
    let files = [
        entry("a", 10_000, false),
        FileEntry {
            path: vec!["t".into(), ".pad".into(), "6384".into()],
            length: 6_384,
            offset: 0,
            padding: true,
        },
        entry("b", 16_384, false),
    ];
    let mut data = content(10_000, 5);
    data.extend(std::iter::repeat_n(0u8, 6_384));
    data.extend(content(16_384, 6));
    let mut s = Storage::from_files(&files, 16_384, dir.path(), StorageOptions::default()).unwrap();
    let layout = *s.layout();
    for p in 0..2 {
        s.write_piece(p, &blocks_of(&data, &layout, p)).unwrap();
    }
    assert!(!dir.path().join("t").join(".pad").exists());
    assert!(std::fs::read(dir.path().join("t/a")).unwrap() == data[..10_000]);
    assert!(std::fs::read(dir.path().join("t/b")).unwrap() == data[16_384..]);
    let mut buf = vec![0xAA; 32_768];
    s.read_at(0, &mut buf).unwrap();
    assert!(buf == data, "padding reads as zeros");
    let hashes: Vec<[u8; 20]> = data
        .chunks(16_384)
        .map(|c| Sha1::digest(c).into())
        .collect();
    assert!(recheck(&mut s, &hashes).unwrap().is_full());
}

#[test]
fn bad_requests_get_typed_errors() {
    let t = torrent(FILES, PIECE);
    let dir = TempDir::new("storage-errors");
    let mut s = Storage::new(&t.meta, dir.path(), StorageOptions::default()).unwrap();
    let layout = *s.layout();
    let total = t.data.len() as u64;
    let mut buf = [0u8; 10];
    assert!(matches!(
        s.read_at(total - 5, &mut buf),
        Err(StorageError::OutOfRange { offset, len: 10, total: tt }) if offset == total - 5 && tt == total
    ));
    assert!(matches!(
        s.write_at(u64::MAX - 2, &buf),
        Err(StorageError::OutOfRange { .. })
    ));
    let past = BlockRef {
        piece: 0,
        offset: 16_000,
        len: 1_000,
    };
    assert!(matches!(s.read_block(&past), Err(StorageError::BadBlock(b)) if b == past));
    assert!(matches!(
        s.write_piece(9, &[]),
        Err(StorageError::NoSuchPiece(9))
    ));
    // Piece 2 is one 16 KiB block; half of it is not the piece.
    let half = blocks_of(&t.data, &layout, 2)[0].slice(..8_192);
    assert!(matches!(
        s.write_piece(2, &[half]),
        Err(StorageError::PieceLength {
            piece: 2,
            expected: 16_384,
            got: 8_192
        })
    ));
    // Nothing was written by any of those.
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    // Reading data that is not there: missing, naming the file.
    let e = s.read_block(&layout.block(0, 0).unwrap()).unwrap_err();
    assert!(e.is_missing(), "{e}");
    assert_eq!(e.path(), Some(dir.path().join("t/a").as_path()));
    assert!(e.to_string().contains("t/a"), "{e}");
    // A file standing where a folder must go: an I/O error naming it.
    std::fs::write(dir.path().join("t"), b"in the way").unwrap();
    let e = s
        .write_piece(0, &blocks_of(&t.data, &layout, 0))
        .unwrap_err();
    assert!(
        matches!(&e, StorageError::Io { .. }) && !e.is_missing(),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains(&*dir.path().join("t").to_string_lossy()),
        "{e}"
    );
    // Paths that could leave the folder are refused outright.
    for bad in [&[".."][..], &["t", "x/y"], &[""], &["t", "."]] {
        let f = [FileEntry {
            path: bad.iter().map(|c| c.to_string()).collect(),
            length: 1,
            offset: 0,
            padding: false,
        }];
        assert!(matches!(
            Storage::from_files(&f, 16_384, dir.path(), StorageOptions::default()),
            Err(StorageError::UnsafePath(_))
        ));
    }
    assert!(matches!(
        Storage::from_files(&[], 0, dir.path(), StorageOptions::default()),
        Err(StorageError::Layout(_))
    ));
}

#[test]
fn piece_buffers_hold_only_pieces_in_flight() {
    let t = torrent(FILES, PIECE);
    let layout = Layout::of(&t.meta).unwrap();
    let mut bufs = PieceBuffers::new(layout, 2);
    let block = |p: u32, b: u32| {
        let r = layout.block(p, b).unwrap();
        let at = (layout.piece_offset(p) + u64::from(r.offset)) as usize;
        Bytes::copy_from_slice(&t.data[at..at + r.len as usize])
    };
    // Unsolicited: nothing kept.
    assert_eq!(bufs.add(0, 0, block(0, 0)), Err(BlockError::NotInFlight(0)));
    bufs.start(0).unwrap();
    bufs.start(3).unwrap();
    bufs.start(0).unwrap(); // already in flight: fine
    assert_eq!(bufs.start(1), Err(BlockError::TooManyPieces { limit: 2 }));
    assert_eq!(bufs.start(4), Err(BlockError::TooManyPieces { limit: 2 }));
    // The last piece (58,001 - 49,152 = 8,849 bytes) is one short block.
    assert_eq!(layout.blocks_in_piece(3), 1);
    let wrong = Bytes::from(vec![0; 16_384]);
    assert!(matches!(
        bufs.add(3, 0, wrong),
        Err(BlockError::WrongLength {
            piece: 3,
            offset: 0,
            expected: 8_849,
            got: 16_384
        })
    ));
    assert_eq!(
        bufs.add(0, 100, block(0, 0)),
        Err(BlockError::BadOffset {
            piece: 0,
            offset: 100
        })
    );
    assert_eq!(
        bufs.add(0, BLOCK_SIZE, block(0, 0)),
        Err(BlockError::BadOffset {
            piece: 0,
            offset: BLOCK_SIZE
        })
    );
    // Piece 0 is a single 16 KiB block, so it completes at once.
    match bufs.add(0, 0, block(0, 0)).unwrap() {
        Added::Complete(blocks) => assert_eq!(blocks, vec![block(0, 0)]),
        other => panic!("{other:?}"),
    }
    assert!(!bufs.contains(0));
    assert_eq!(bufs.add(0, 0, block(0, 0)), Err(BlockError::NotInFlight(0)));
    assert_eq!(bufs.bytes_held(), 0);
    assert!(bufs.abandon(3) && !bufs.abandon(3));
    assert_eq!(bufs.in_flight(), 0);
}

#[test]
fn piece_buffer_takes_blocks_in_any_order_and_refuses_duplicates() {
    let layout = Layout::new(100_000, 65_536).unwrap();
    let data = content(100_000, 9);
    let mut bufs = PieceBuffers::new(layout, 1);
    bufs.start(0).unwrap();
    let blocks = blocks_of(&data, &layout, 0);
    assert_eq!(blocks.len(), 4);
    let order = [2usize, 0, 3, 1];
    for (n, &i) in order.iter().enumerate() {
        let offset = i as u32 * BLOCK_SIZE;
        let got = bufs.add(0, offset, blocks[i].clone()).unwrap();
        if n < 3 {
            assert_eq!(
                got,
                Added::Partial {
                    missing: 3 - n as u32
                }
            );
            assert_eq!(
                bufs.add(0, offset, blocks[i].clone()),
                Err(BlockError::Duplicate { piece: 0, offset })
            );
            assert_eq!(bufs.bytes_held(), (n as u64 + 1) * 16_384);
        } else {
            assert_eq!(got, Added::Complete(blocks.clone()));
        }
    }
    // The blocks come back in piece order, whatever order they came in.
    let joined: Vec<u8> = blocks.iter().flat_map(|b| b.iter().copied()).collect();
    assert!(joined == data[..65_536]);
}

mod properties {
    use super::*;
    use kamaelia::protocol::torrent::storage::FileMap;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// The spans of any range are exactly the files' bytes in it, byte
        /// for byte, worked out here the slow way: each byte's file found by
        /// walking the list.
        #[test]
        fn spans_match_a_byte_by_byte_walk(
            lens in proptest::collection::vec(0u64..40, 1..8),
            pads in proptest::collection::vec(any::<bool>(), 8),
            start in 0u64..300,
            len in 0u64..300,
        ) {
            let files: Vec<FileEntry> = lens.iter().enumerate().map(|(i, &l)| FileEntry {
                path: vec!["t".into(), format!("f{i}")],
                length: l,
                offset: 0,
                padding: pads[i],
            }).collect();
            let map = FileMap::new(&files);
            let total: u64 = lens.iter().sum();
            let mut expected: Vec<(usize, u64)> = Vec::new();
            for byte in start..(start + len).min(total) {
                let mut at = 0;
                for (i, &l) in lens.iter().enumerate() {
                    if byte < at + l {
                        expected.push((i, byte - at));
                        break;
                    }
                    at += l;
                }
            }
            let mut got: Vec<(usize, u64)> = Vec::new();
            for s in map.spans(start, len) {
                prop_assert!(s.len > 0);
                prop_assert_eq!(s.padding, pads[s.file]);
                got.extend((0..s.len).map(|k| (s.file, s.file_offset + k)));
            }
            prop_assert_eq!(got, expected);
            prop_assert_eq!(map.contains(start, len), start + len <= total);
        }

        /// Whatever blocks a peer sends, piece buffers never panic and never
        /// hold more than their pieces in flight.
        #[test]
        fn piece_buffers_stay_bounded(
            total in 1u64..200_000,
            ops in proptest::collection::vec((0u32..16, 0u32..70_000, 0usize..20_000, any::<bool>()), 0..60),
        ) {
            let layout = Layout::new(total, 32_768).unwrap();
            let mut bufs = PieceBuffers::new(layout, 3);
            for (piece, offset, len, start) in ops {
                if start {
                    let _ = bufs.start(piece);
                }
                if let Ok(Added::Complete(blocks)) = bufs.add(piece, offset, Bytes::from(vec![0; len])) {
                    let sum: usize = blocks.iter().map(Bytes::len).sum();
                    prop_assert_eq!(sum as u32, layout.piece_len(piece));
                }
                prop_assert!(bufs.in_flight() <= 3);
                prop_assert!(bufs.bytes_held() <= 3 * 32_768);
            }
        }
    }
}
