//! The `.torrent` file's bencoding, key for key as mktorrent 1.1 writes it.

use sha1::{Digest, Sha1};

use super::walk::Layout;
use super::MakeTorrent;
use crate::protocol::torrent::bencode::Owned;
use crate::protocol::torrent::tracker::InfoHash;

/// Encodes the torrent for `req` with these files and piece hashes;
/// returns its bytes and its info-hash.
///
/// The info-hash is the SHA-1 of the info dictionary's encoding, which is
/// exactly the bytes the file carries (`Owned` encodes canonically, and the
/// file is that same encoding).
pub fn encode_torrent(
    req: &MakeTorrent,
    name: &[u8],
    layout: &Layout,
    piece_length: u64,
    pieces: Vec<u8>,
) -> (Vec<u8>, InfoHash) {
    let mut info = Owned::dict();
    if layout.single_file {
        info.insert("length", int(layout.total_length));
    } else {
        let files = layout
            .files
            .iter()
            .map(|f| {
                let mut d = Owned::dict();
                d.insert("length", int(f.length));
                let path = f
                    .components
                    .iter()
                    .map(|c| Owned::Bytes(c.clone()))
                    .collect();
                d.insert("path", Owned::List(path));
                d
            })
            .collect();
        info.insert("files", Owned::List(files));
    }
    info.insert("name", name);
    info.insert("piece length", int(piece_length));
    info.insert("pieces", Owned::Bytes(pieces));
    if req.private {
        info.insert("private", 1);
    }
    let info_bytes = info.encode();
    let info_hash: InfoHash = Sha1::digest(&info_bytes).into();

    let mut top = Owned::dict();
    let urls: usize = req.trackers.iter().map(Vec::len).sum();
    if let Some(first) = req.trackers.iter().flatten().next() {
        top.insert("announce", first.as_str());
    }
    if urls > 1 {
        let tiers = req
            .trackers
            .iter()
            .filter(|t| !t.is_empty())
            .map(|t| Owned::List(t.iter().map(|u| Owned::from(u.as_str())).collect()))
            .collect();
        top.insert("announce-list", Owned::List(tiers));
    }
    if let Some(c) = &req.comment {
        top.insert("comment", c.as_str());
    }
    if let Some(by) = &req.created_by {
        top.insert("created by", by.as_str());
    }
    if let Some(date) = req.creation_date {
        top.insert("creation date", date);
    }
    top.insert("info", info);
    (top.encode(), info_hash)
}

/// Lengths are file sizes: below 2^63 on any real file system.
fn int(n: u64) -> Owned {
    Owned::Int(i64::try_from(n).unwrap_or(i64::MAX))
}
