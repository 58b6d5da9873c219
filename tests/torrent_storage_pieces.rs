//! Pieces assembled in memory (`PieceBuffers`: blocks in any order,
//! unsolicited, misaligned, wrong-length and duplicate blocks refused, at
//! most the pieces in flight held) and two properties: the file map's spans
//! match a byte-by-byte walk, and piece buffers stay bounded whatever a
//! peer sends.

mod torrent_support;

use bytes::Bytes;
use kamaelia::protocol::torrent::metainfo::FileEntry;
use kamaelia::protocol::torrent::pieces::{Layout, BLOCK_SIZE};
use kamaelia::protocol::torrent::storage::{Added, BlockError, PieceBuffers};
use torrent_support::content;

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

#[test]
fn piece_buffers_hold_only_pieces_in_flight() {
    // The layout of tests/torrent_storage.rs: 58,001 bytes in 16 KiB pieces.
    let data = content(58_001, 1);
    let layout = Layout::new(58_001, 16_384).unwrap();
    let mut bufs = PieceBuffers::new(layout, 2);
    let block = |p: u32, b: u32| {
        let r = layout.block(p, b).unwrap();
        let at = (layout.piece_offset(p) + u64::from(r.offset)) as usize;
        Bytes::copy_from_slice(&data[at..at + r.len as usize])
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
