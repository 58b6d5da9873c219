//! One connection of a magnet link's torrent before its info dictionary
//! is known (BEP 9): our handshake and extension handshake, the peer's,
//! then `ut_metadata` requests until the dictionary is whole and its
//! SHA-1 is the info-hash. Everything else the peer says (its bitfield,
//! haves, unchoke) is read and let go. A pure state machine like
//! [`PeerSession`](crate::protocol::torrent::peer::PeerSession): bytes
//! in, bytes out, an outcome. The fuzz target `meta_fetch` feeds it
//! arbitrary bytes.
//!
//! ```
//! use kamaelia::protocol::torrent::client::metafetch::{MetaFetch, MetaOutcome};
//! use kamaelia::protocol::torrent::wire::Handshake;
//! let mut f = MetaFetch::new([7; 20], [1; 20]);
//! assert!(!f.output().is_empty()); // our handshake and extension handshake
//! f.on_bytes(&Handshake::new([8; 20], [2; 20]).to_bytes());
//! assert!(matches!(f.outcome(), MetaOutcome::Failed(_))); // another torrent
//! ```

use std::io;

use bytes::{Bytes, BytesMut};

use crate::protocol::torrent::tracker::{InfoHash, PeerId};
use crate::protocol::torrent::wire::{
    encode_metadata, Decoder, ExtHandshake, Handshake, Limits, Message, MetadataAssembler,
    MetadataMsg, MetadataProgress, EXT_HANDSHAKE_ID, UT_METADATA,
};

/// The id we give `ut_metadata` in our extension handshake.
const OUR_UT_METADATA: u8 = 2;
/// Metadata pieces asked of one peer at once.
const IN_FLIGHT: u32 = 4;

/// Where a metadata fetch stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetaOutcome {
    /// Still talking.
    Pending,
    /// The info dictionary, checked against the info-hash.
    Done(Bytes),
    /// This peer cannot give it (the reason, for the log): close.
    Failed(String),
}

/// One peer asked for a magnet link's metadata.
pub struct MetaFetch {
    info_hash: InfoHash,
    our_id: PeerId,
    decoder: Decoder,
    out: BytesMut,
    greeted: bool,
    /// The peer's id for `ut_metadata`.
    ut: Option<u8>,
    assembler: Option<MetadataAssembler>,
    asked: u32,
    outcome: MetaOutcome,
}

impl MetaFetch {
    /// A fetch of `info_hash`'s metadata; our handshake and extension
    /// handshake are written at once.
    pub fn new(info_hash: InfoHash, our_id: PeerId) -> MetaFetch {
        let mut out = BytesMut::with_capacity(256);
        Handshake::new(info_hash, our_id).encode(&mut out);
        let ours = ExtHandshake {
            m: [(UT_METADATA.to_string(), OUR_UT_METADATA)].into(),
            v: Some("kamaelia-rs".into()),
            ..ExtHandshake::default()
        };
        // Only a payload over 4 GiB fails to encode.
        let _ = ours.encode(&mut out);
        MetaFetch {
            info_hash,
            our_id,
            decoder: Decoder::new(Limits::default()),
            out,
            greeted: false,
            ut: None,
            assembler: None,
            asked: 0,
            outcome: MetaOutcome::Pending,
        }
    }

    /// Bytes to send, not yet taken.
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    /// Bytes to send.
    pub fn output_mut(&mut self) -> &mut BytesMut {
        &mut self.out
    }

    /// Reads once from `r` (at most `max` bytes) and acts on it. `Ok(0)`:
    /// the peer closed.
    pub fn read_from(&mut self, r: &mut impl io::Read, max: usize) -> io::Result<usize> {
        let n = self.decoder.read_from(r, max)?;
        if n == 0 {
            self.fail("the peer closed the connection");
        } else {
            self.decode();
        }
        Ok(n)
    }

    /// Bytes from the peer (tests and the fuzz target feed them this way).
    pub fn on_bytes(&mut self, bytes: &[u8]) {
        self.decoder.push(bytes);
        self.decode();
    }

    /// Where it stands.
    pub fn outcome(&self) -> &MetaOutcome {
        &self.outcome
    }

    fn fail(&mut self, why: impl Into<String>) {
        if self.outcome == MetaOutcome::Pending {
            self.outcome = MetaOutcome::Failed(why.into());
        }
    }

    fn decode(&mut self) {
        if self.outcome != MetaOutcome::Pending {
            return;
        }
        if !self.greeted {
            match self.decoder.take_handshake() {
                Ok(None) => return,
                Ok(Some(h)) if h.info_hash != self.info_hash => {
                    return self.fail("handshake for another torrent")
                }
                Ok(Some(h)) if h.peer_id == self.our_id => {
                    return self.fail("connected to ourselves")
                }
                Ok(Some(h)) if !h.supports_extensions() => {
                    return self.fail("the peer does not speak the extension protocol")
                }
                Ok(Some(_)) => self.greeted = true,
                Err(e) => return self.fail(e.to_string()),
            }
        }
        loop {
            let m = match self.decoder.next() {
                Ok(Some(m)) => m,
                Ok(None) => return,
                Err(e) => return self.fail(e.to_string()),
            };
            if let Message::Extended { id, payload } = m {
                self.on_extended(id, &payload);
                if self.outcome != MetaOutcome::Pending {
                    return;
                }
            }
        }
    }

    fn on_extended(&mut self, id: u8, payload: &Bytes) {
        if id == EXT_HANDSHAKE_ID {
            let theirs = match ExtHandshake::parse(payload) {
                Ok(h) => h,
                Err(e) => return self.fail(e.to_string()),
            };
            let Some(ut) = theirs.id_of(UT_METADATA) else {
                return self.fail("the peer does not serve metadata");
            };
            let Some(size) = theirs.metadata_size else {
                return self.fail("the peer did not say the metadata's size");
            };
            match MetadataAssembler::new(self.info_hash, size) {
                Ok(a) => {
                    self.ut = Some(ut);
                    self.assembler = Some(a);
                    self.ask();
                }
                Err(e) => self.fail(e.to_string()),
            }
            return;
        }
        if id != OUR_UT_METADATA {
            return; // another extension we did not offer: let go
        }
        let msg = match MetadataMsg::parse(payload) {
            Ok(Some(m)) => m,
            Ok(None) => return, // an unknown msg_type: ignored (BEP 9)
            Err(e) => return self.fail(e.to_string()),
        };
        let Some(a) = self.assembler.as_mut() else {
            return self.fail("metadata before the extension handshake");
        };
        match msg {
            MetadataMsg::Data {
                piece,
                total_size,
                data,
            } => {
                self.asked = self.asked.saturating_sub(1);
                match a.accept(piece, total_size, &data) {
                    Ok(MetadataProgress::Complete(info)) => self.outcome = MetaOutcome::Done(info),
                    Ok(MetadataProgress::NeedMore) => self.ask(),
                    Err(e) => self.fail(e.to_string()),
                }
            }
            MetadataMsg::Reject { .. } => self.fail("the peer rejected a metadata request"),
            // We serve nothing before we have it: a reject each.
            MetadataMsg::Request { piece } => {
                if let Some(ut) = self.ut {
                    let _ = encode_metadata(&MetadataMsg::Reject { piece }, ut, &mut self.out);
                }
            }
        }
    }

    fn ask(&mut self) {
        let (Some(a), Some(ut)) = (self.assembler.as_mut(), self.ut) else {
            return;
        };
        while self.asked < IN_FLIGHT {
            let Some(piece) = a.next_request() else {
                return;
            };
            let _ = encode_metadata(&MetadataMsg::Request { piece }, ut, &mut self.out);
            self.asked += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::torrent::wire::serve_metadata;
    use sha1::{Digest, Sha1};

    /// A peer that serves `info` (its side of the exchange, by hand).
    fn serving_peer(info: &Bytes, hash: InfoHash, fetch_out: &[u8]) -> (BytesMut, u32) {
        let mut d = Decoder::new(Limits::default());
        d.push(fetch_out);
        let h = d.take_handshake().unwrap().unwrap();
        assert_eq!(h.info_hash, hash);
        let mut out = BytesMut::new();
        Handshake::new(hash, [9; 20]).encode(&mut out);
        let mut served = 0;
        while let Some(m) = d.next().unwrap() {
            let Message::Extended { id, payload } = m else {
                continue;
            };
            if id == EXT_HANDSHAKE_ID {
                let theirs = ExtHandshake::parse(&payload).unwrap();
                assert_eq!(theirs.id_of(UT_METADATA), Some(OUR_UT_METADATA));
                let mine = ExtHandshake {
                    m: [(UT_METADATA.to_string(), 5)].into(),
                    metadata_size: Some(info.len() as u64),
                    ..ExtHandshake::default()
                };
                mine.encode(&mut out).unwrap();
            } else if id == 5 {
                let Some(MetadataMsg::Request { piece }) = MetadataMsg::parse(&payload).unwrap()
                else {
                    panic!("a request")
                };
                encode_metadata(&serve_metadata(info, piece), OUR_UT_METADATA, &mut out).unwrap();
                served += 1;
            }
        }
        (out, served)
    }

    #[test]
    fn fetches_a_two_piece_dictionary_and_checks_its_hash() {
        let mut raw = b"d4:name3:abc12:piece lengthi16384e6:pieces20:".to_vec();
        raw.extend_from_slice(&[1; 20]);
        raw.extend_from_slice(b"6:lengthi5e3:pad20000:");
        raw.extend(std::iter::repeat_n(b'x', 20_000));
        raw.push(b'e');
        let info = Bytes::from(raw);
        let hash: InfoHash = Sha1::digest(&info).into();
        let mut f = MetaFetch::new(hash, [1; 20]);
        // Our opening, then the peer's handshake and extension handshake.
        let opening = f.output_mut().split();
        let (reply, _) = serving_peer(&info, hash, &opening);
        f.on_bytes(&reply);
        assert_eq!(f.outcome(), &MetaOutcome::Pending);
        // Our requests (both pieces at once), then the peer's data.
        let mut all = opening.to_vec();
        all.extend_from_slice(&f.output_mut().split());
        let (reply2, served) = serving_peer(&info, hash, &all);
        assert_eq!(served, 2);
        f.on_bytes(&reply2[reply.len()..]);
        assert_eq!(f.outcome(), &MetaOutcome::Done(info));
    }

    #[test]
    fn the_wrong_torrent_or_no_extension_protocol_fails() {
        let mut f = MetaFetch::new([1; 20], [2; 20]);
        let mut b = BytesMut::new();
        Handshake::new([3; 20], [4; 20]).encode(&mut b);
        f.on_bytes(&b);
        assert!(matches!(f.outcome(), MetaOutcome::Failed(w) if w.contains("another torrent")));
        let mut f = MetaFetch::new([1; 20], [2; 20]);
        let mut h = Handshake::new([1; 20], [4; 20]);
        h.reserved = [0; 8];
        let mut b = BytesMut::new();
        h.encode(&mut b);
        f.on_bytes(&b);
        assert!(matches!(f.outcome(), MetaOutcome::Failed(w) if w.contains("extension")));
    }
}
