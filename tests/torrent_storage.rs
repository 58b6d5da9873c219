//! Torrent storage on real files in a temporary folder: the byte stream
//! mapped onto files (pieces across three files and an empty one, BEP 47
//! padding), every piece written then every file compared byte for byte,
//! block reads for uploads, the open-file limit, preallocation, re-check
//! of complete, truncated, corrupted and missing data, pieces assembled in
//! memory, and the typed errors of bad requests.

mod torrent_support;

use bytes::Bytes;
use kamaelia::protocol::torrent::metainfo::{FileEntry, MetainfoBuilder};
use kamaelia::protocol::torrent::pieces::{Bitfield, BlockRef, Layout};
use kamaelia::protocol::torrent::storage::{recheck, Span, Storage, StorageError, StorageOptions};
use sha1::{Digest, Sha1};
use torrent_support::{content, Synthetic, TempDir};

/// A multi-file torrent of `files` (name, length) with real contents.
type Torrent = Synthetic;

fn torrent(files: &[(&str, usize)], piece_length: usize) -> Torrent {
    Synthetic::new(files, piece_length, 1)
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
        ..StorageOptions::default()
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
fn recheck_reads_a_piece_whose_file_ends_exactly_at_its_last_byte() {
    // The re-check looks each file's length up once and skips the pieces
    // that reach past it: the edge is exact, byte for byte.
    let t = torrent(FILES, PIECE);
    let dir = TempDir::new("storage-recheck-edge");
    let mut s = Storage::new(&t.meta, dir.path(), StorageOptions::default()).unwrap();
    write_everything(&t, &mut s);
    let d = dir.path().join("t").join("d");
    let d_start = t.meta.files()[4].offset;
    // Piece 2 ends inside d: d must hold this many bytes for it.
    let piece2_end = 3 * PIECE as u64 - d_start;
    for (len, missing) in [
        (piece2_end, vec![3]),
        (piece2_end - 1, vec![2, 3]),
        (t.files[4].len() as u64, vec![]),
    ] {
        // d's first `len` bytes, as a cut (or whole) file holds them.
        std::fs::write(&d, &t.files[4][..len as usize]).unwrap();
        let have = recheck(&mut s, t.meta.pieces()).unwrap();
        assert_eq!(missing_of(&have), missing, "d cut to {len} bytes");
    }
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
fn a_single_file_torrent_lives_at_root_slash_name() {
    let data = content(50_000, 4);
    let hashes = data
        .chunks(32_768)
        .map(|c| Sha1::digest(c).into())
        .collect();
    let meta = MetainfoBuilder::single_file("song.ogg", 50_000, 32_768, hashes)
        .build()
        .unwrap();
    let dir = TempDir::new("storage-single");
    let mut s = Storage::new(&meta, dir.path(), StorageOptions::default()).unwrap();
    let layout = *s.layout();
    s.write_piece(1, &blocks_of(&data, &layout, 1)).unwrap();
    assert_eq!(
        missing_of(&recheck(&mut s, meta.pieces()).unwrap()),
        vec![0]
    );
    s.write_piece(0, &blocks_of(&data, &layout, 0)).unwrap();
    assert!(std::fs::read(dir.path().join("song.ogg")).unwrap() == data);
    assert!(recheck(&mut s, meta.pieces()).unwrap().is_full());
}

#[test]
fn upload_blocks_from_a_mapping_are_the_bytes_a_read_gives() {
    // x: one 2 MiB window and a bit, so its blocks come from two windows;
    // blocks 2 and 4 of piece 2 straddle x's and y's ends; the torrent's
    // last block (in z) is 100 bytes. 134 blocks in all.
    let files: &[(&str, usize)] = &[("x", (2 << 20) + 40_000), ("y", 30_000), ("z", 12_020)];
    let t = torrent(files, 1 << 20);
    let dir = TempDir::new("storage-mapped");
    let mut s = Storage::new(&t.meta, dir.path(), StorageOptions::default()).unwrap();
    write_everything(&t, &mut s);
    let layout = *s.layout();
    let (mut mapped, mut read) = (0, 0);
    for p in 0..layout.piece_count() {
        for b in 0..layout.blocks_in_piece(p) {
            let block = layout.block(p, b).unwrap();
            let mut want = vec![0; block.len as usize];
            s.read_block_into(&block, &mut want).unwrap();
            match s.mapped_block(&block) {
                Some(got) => {
                    assert!(got[..] == want[..], "block {block:?}");
                    mapped += 1;
                }
                None => read += 1,
            }
        }
    }
    assert_eq!((mapped, read), (131, 3));
    assert_eq!(s.windows_mapped(), 3, "x's two windows and y's one");
    // Off: every block is read.
    let opts = StorageOptions {
        mapped_reads: false,
        ..StorageOptions::default()
    };
    let mut off = Storage::new(&t.meta, dir.path(), opts).unwrap();
    assert_eq!(off.mapped_block(&layout.block(0, 0).unwrap()), None);
    // A run of whole blocks maps as one; a block outside the torrent never.
    let run = BlockRef {
        piece: 0,
        offset: 0,
        len: 16 * 16_384,
    };
    let mut want = vec![0; run.len as usize];
    s.read_block_into(&run, &mut want).unwrap();
    assert!(s.mapped_block(&run).unwrap()[..] == want[..]);
    let outside = BlockRef {
        piece: layout.piece_count(),
        offset: 0,
        len: 16_384,
    };
    assert_eq!(s.mapped_block(&outside), None);
}
