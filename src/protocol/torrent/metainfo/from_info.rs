//! A [`Metainfo`] from a bare info dictionary, as a magnet link's download
//! gets it from peers (BEP 9), with the trackers the link named.

use super::{encode_file, Metainfo, MetainfoError, Outer};
use crate::protocol::torrent::bencode::decode;

impl Metainfo {
    /// Reads `info` (an info dictionary's bytes, exactly: nothing before or
    /// after it) as the info of a .torrent whose trackers are `tiers`
    /// (BEP 12 tiers; `announce` is the first URL). The info-hash is the
    /// SHA-1 of `info` as given, so it can be checked against the link's.
    pub fn from_info_dict(info: &[u8], tiers: &[Vec<String>]) -> Result<Metainfo, MetainfoError> {
        // Checked alone first: bytes after the dictionary would otherwise
        // become keys of the file wrapped around it.
        let v = decode(info)?;
        if v.as_dict().is_none() {
            return Err(MetainfoError::WrongType {
                field: "info",
                expected: "a dictionary",
            });
        }
        let tiers: Vec<Vec<String>> = tiers.iter().filter(|t| !t.is_empty()).cloned().collect();
        let announce = tiers.first().and_then(|t| t.first()).map(String::as_str);
        let many = tiers.iter().map(Vec::len).sum::<usize>() > 1;
        let file = encode_file(
            info,
            &Outer {
                announce,
                announce_list: if many { &tiers } else { &[] },
                url_list: &[],
                creation_date: None,
                comment: None,
                created_by: None,
                encoding: None,
            },
        );
        Metainfo::from_bytes(&file)
    }
}
