//! The peer wire (BEP 3, 6, 10) and the metadata exchange (BEP 9).
//!
//! [`peer_wire`]: the first byte chooses the limits (piece count known or
//! not, small caps so the oversize paths are reached), whether a handshake
//! comes first, and how the rest is cut into pushes (and into the most
//! each read may take, reading as from a socket). The decoder must give
//! the same messages and the same error however the stream is cut or
//! read; what it decodes must encode back to exactly the bytes it
//! consumed; it never buffers more than one largest message and one push;
//! extended payloads are read as extension handshakes and `ut_metadata`
//! messages, and what reads must write back and read the same.
//!
//! [`ut_metadata`]: the input read as an extension handshake and as a
//! `ut_metadata` payload (round trips as above); then the input, stretched
//! to a size the first bytes choose, is an info dictionary fetched through
//! a [`MetadataAssembler`] by a script of good, forged, misnumbered and
//! cut pieces, every message through the wire encoding and the decoder.
//! A model says what each step must answer: complete with exactly the
//! bytes served, a hash mismatch (and a reset) when a forged piece got in,
//! the typed errors for the rest.
//!
//! Run with `cargo fuzz run peer_wire` and `cargo fuzz run ut_metadata`.

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use kamaelia::internet::simulate::SplitMix64;
use kamaelia::protocol::torrent::wire::{
    encode, encode_metadata, serve_metadata, Decoder, ExtHandshake, Handshake, Limits, Message,
    MetadataAssembler, MetadataError, MetadataMsg, MetadataProgress, ReadUninit, WireError,
    DEFAULT_READ_CHUNK, HANDSHAKE_LEN, METADATA_PIECE_SIZE,
};
use sha1::{Digest, Sha1};

/// What one input came to, for the plain tests to check coverage.
#[derive(Clone, Debug, Default)]
pub struct WireSummary {
    /// Messages decoded.
    pub messages: usize,
    /// Handshakes decoded.
    pub handshakes: usize,
    /// Extension handshakes read.
    pub ext_handshakes: usize,
    /// `ut_metadata` messages read.
    pub metadata_msgs: usize,
    /// Metadata fetched whole and verified.
    pub completed: usize,
    /// Hash mismatches caught.
    pub mismatches: usize,
    /// The decoder's error, if any.
    pub error: Option<WireError>,
}

/// Cuts `len` bytes into pushes as `seed` says.
fn cuts(seed: u8, len: usize) -> Vec<usize> {
    let mut rng = SplitMix64::new(u64::from(seed));
    let biggest = [1, 2, 3, 5, 13, 17, 64, 4096][usize::from(seed % 8)];
    let mut out = Vec::new();
    let mut at = 0;
    while at < len {
        let n = (1 + rng.below(biggest) as usize).min(len - at);
        out.push(n);
        at += n;
    }
    out
}

fn limits_for(seed: u8) -> Limits {
    Limits {
        max_block: if seed & 0x10 != 0 { 64 } else { 16 * 1024 },
        max_extended: if seed & 0x20 != 0 { 300 } else { 128 * 1024 },
        piece_count: (seed & 0x40 != 0).then_some(u32::from(seed & 0x0f) * 3 + 1),
    }
}

type Run = (Option<Handshake>, Vec<Message>, Result<(), WireError>);

/// How the stream's bytes reach the decoder.
#[derive(Clone, Copy)]
enum Feed {
    /// `push`, each cut whole.
    Push,
    /// `read_uninit_from` a source holding the rest of the stream, each
    /// cut the most a read may take; then reads until the source is dry.
    Read,
}

/// The rest of a stream, handed out as a socket would: as much as asked.
struct Rest<'a>(&'a [u8]);

// SAFETY: it writes exactly the first `n` bytes of `buf` and returns `n`.
unsafe impl ReadUninit for Rest<'_> {
    fn read_uninit(&mut self, buf: &mut [MaybeUninit<u8>]) -> std::io::Result<usize> {
        let n = buf.len().min(self.0.len());
        for (slot, &b) in buf.iter_mut().zip(&self.0[..n]) {
            slot.write(b);
        }
        self.0 = &self.0[n..];
        Ok(n)
    }
}

fn run(stream: &[u8], pieces: &[usize], limits: Limits, handshake: bool, feed: Feed) -> Run {
    let mut d = Decoder::new(limits);
    let mut hs = None;
    let mut out = Vec::new();
    let mut at = 0;
    let largest = limits.largest() as usize;
    let mut src = Rest(stream);
    // After the cuts, reads of a chunk until the source is dry.
    let dry = std::iter::repeat_n(
        DEFAULT_READ_CHUNK,
        match feed {
            Feed::Push => 0,
            Feed::Read => stream.len() + 1,
        },
    );
    for n in pieces.iter().copied().chain(dry) {
        match feed {
            Feed::Push => {
                d.push(&stream[at..at + n]);
                at += n;
            }
            Feed::Read => {
                let got = d.read_uninit_from(&mut src, n).expect("reads from memory");
                assert!(got <= n, "read {got} of at most {n}");
                if got == 0 && n > 0 {
                    break; // dry
                }
            }
        }
        let r = (|| -> Result<(), WireError> {
            if handshake && hs.is_none() {
                let peeked = d.peek_info_hash();
                let taken = d.take_handshake();
                match (&peeked, &taken) {
                    (Ok(Some(p)), Ok(Some(h))) => assert_eq!(p, &h.info_hash),
                    (Ok(Some(_)), Ok(None)) => assert!(d.buffered() < HANDSHAKE_LEN),
                    (Ok(None), t) => assert!(matches!(t, Ok(None)) && d.buffered() < 48),
                    (Err(p), Err(t)) => assert_eq!(p, t),
                    (p, t) => panic!("peek {p:?} and take {t:?} disagree"),
                }
                hs = taken?;
                if hs.is_none() {
                    return Ok(());
                }
            }
            while let Some(m) = d.next()? {
                out.push(m);
            }
            Ok(())
        })();
        if let Err(e) = r {
            assert_eq!(d.finish(), Err(e.clone()), "errors are final");
            return (hs, out, Err(e));
        }
        assert!(
            d.buffered() <= 4 + largest.max(HANDSHAKE_LEN) + n,
            "memory bound: {} buffered",
            d.buffered()
        );
    }
    (hs, out, d.finish())
}

/// Reads an extended payload both ways; round trips what reads.
fn extension_payload(payload: &Bytes, s: &mut WireSummary) {
    if let Ok(hs) = ExtHandshake::parse(payload) {
        s.ext_handshakes += 1;
        assert_eq!(ExtHandshake::parse(&hs.to_bytes()).as_ref(), Ok(&hs));
    }
    if let Ok(Some(m)) = MetadataMsg::parse(payload) {
        s.metadata_msgs += 1;
        let mut wire = BytesMut::new();
        encode_metadata(&m, 1, &mut wire).expect("small");
        let mut d = Decoder::new(Limits::default());
        d.push(&wire);
        let Ok(Some(Message::Extended { id: 1, payload })) = d.next() else {
            panic!("our ut_metadata message decodes")
        };
        assert_eq!(MetadataMsg::parse(&payload), Ok(Some(m)));
    }
}

/// The peer-wire decoder over arbitrary bytes. See the module docs.
pub fn peer_wire(data: &[u8]) -> WireSummary {
    let Some((&seed, stream)) = data.split_first() else {
        return WireSummary::default();
    };
    let limits = limits_for(seed);
    let handshake = seed & 0x80 != 0;
    let whole = run(
        stream,
        &[stream.len()][..usize::from(!stream.is_empty())],
        limits,
        handshake,
        Feed::Push,
    );
    let pushes = cuts(seed, stream.len());
    let cut = run(stream, &pushes, limits, handshake, Feed::Push);
    assert_eq!(whole, cut, "cutting the stream changed the result");
    // Read as from a socket: the decoder may take less than each read
    // offers (it cuts reads to end on message boundaries).
    let read = run(stream, &pushes, limits, handshake, Feed::Read);
    assert_eq!(whole, read, "reading the stream changed the result");
    let (hs, msgs, result) = whole;
    let mut again = BytesMut::new();
    if let Some(h) = &hs {
        h.encode(&mut again);
    }
    let mut s = WireSummary {
        handshakes: usize::from(hs.is_some()),
        messages: msgs.len(),
        ..WireSummary::default()
    };
    for m in &msgs {
        encode(m, &mut again).expect("decoded messages are small");
        match m {
            Message::Extended { payload, .. } => extension_payload(payload, &mut s),
            Message::Piece { data, .. } => assert!(data.len() <= limits.max_block as usize),
            Message::Bitfield(b) => {
                if let Some(n) = limits.piece_count {
                    assert!(
                        kamaelia::protocol::torrent::pieces::Bitfield::from_bytes(b, n).is_ok()
                    );
                }
            }
            _ => {}
        }
    }
    assert!(
        stream.starts_with(&again),
        "messages re-encode to the input"
    );
    match &result {
        Ok(()) => assert_eq!(again.len(), stream.len(), "clean end at a boundary"),
        Err(WireError::Truncated { buffered }) => {
            assert_eq!(again.len() + buffered, stream.len())
        }
        Err(_) => {}
    }
    s.error = result.err();
    s
}

/// Reads bytes off the input as a script; zeros past its end.
struct Script<'a> {
    data: &'a [u8],
    at: usize,
}

impl Script<'_> {
    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }
    fn done(&self) -> bool {
        self.at >= self.data.len()
    }
}

/// Sends `msg` through the wire encoding and the decoder, and back.
fn over_the_wire(msg: &MetadataMsg) -> MetadataMsg {
    let mut wire = BytesMut::new();
    encode_metadata(msg, 2, &mut wire).expect("small");
    let mut d = Decoder::new(Limits::default());
    d.push(&wire);
    let Ok(Some(Message::Extended { id: 2, payload })) = d.next() else {
        panic!("our message decodes")
    };
    MetadataMsg::parse(&payload)
        .expect("our message parses")
        .expect("a known type")
}

/// The metadata exchange. See the module docs.
pub fn ut_metadata(data: &[u8]) -> WireSummary {
    let mut s = WireSummary::default();
    let whole = Bytes::copy_from_slice(data);
    extension_payload(&whole, &mut s);
    if data.len() < 3 {
        return s;
    }
    // The info: the input stretched to 1..=3 pieces and a bit.
    let size =
        1 + usize::from(u16::from_be_bytes([data[0], data[1]])) % (3 * METADATA_PIECE_SIZE + 100);
    let info: Bytes = (0..size)
        .map(|i| data[i % data.len()] ^ (i / data.len()) as u8)
        .collect::<Vec<u8>>()
        .into();
    let hash: [u8; 20] = Sha1::digest(&info).into();
    let mut a = MetadataAssembler::new(hash, size as u64).expect("within the limit");
    let count = a.piece_count();
    assert_eq!(count as usize, size.div_ceil(METADATA_PIECE_SIZE));
    let mut have = vec![false; count as usize];
    let mut forged = false;
    let mut script = Script { data, at: 2 };
    while !script.done() {
        let op = script.u8();
        let piece = u32::from(script.u8()) % (count + 1);
        let served = over_the_wire(&serve_metadata(&info, piece));
        let MetadataMsg::Data {
            total_size, data, ..
        } = served
        else {
            assert_eq!(piece, count, "only past the end is rejected");
            continue;
        };
        assert_eq!(total_size, size as u64);
        let (total, bytes, forge) = match op % 6 {
            0 | 1 => (total_size, data.to_vec(), false),
            2 => {
                let mut b = data.to_vec();
                let i = usize::from(op) % b.len();
                b[i] ^= 1 + (op >> 3);
                (total_size, b, true)
            }
            3 => (total_size + 1 + u64::from(op >> 3), data.to_vec(), false),
            4 => (total_size, data[..data.len() - 1].to_vec(), false),
            _ => {
                if let Some(p) = a.next_request() {
                    assert!(p < count && !have[p as usize]);
                }
                if op & 0x40 != 0 {
                    a.release(piece);
                }
                continue;
            }
        };
        let msg = over_the_wire(&MetadataMsg::Data {
            piece,
            total_size: total,
            data: Bytes::from(bytes),
        });
        let MetadataMsg::Data {
            piece,
            total_size,
            data,
        } = msg
        else {
            panic!("data stays data")
        };
        let r = a.accept(piece, total_size, &data);
        if total_size != size as u64 {
            assert!(matches!(r, Err(MetadataError::WrongTotalSize { .. })));
            continue;
        }
        if op % 6 == 4 {
            assert!(matches!(r, Err(MetadataError::WrongPieceLength { .. })));
            continue;
        }
        let i = piece as usize;
        if have[i] {
            assert_eq!(r, Ok(MetadataProgress::NeedMore), "a duplicate is ignored");
            continue;
        }
        have[i] = true;
        forged |= forge;
        if have.iter().any(|h| !h) {
            assert_eq!(r, Ok(MetadataProgress::NeedMore));
        } else if forged {
            assert_eq!(r, Err(MetadataError::HashMismatch));
            assert_eq!(a.missing(), count, "reset");
            s.mismatches += 1;
            have.iter_mut().for_each(|h| *h = false);
            forged = false;
        } else {
            assert_eq!(r, Ok(MetadataProgress::Complete(info.clone())));
            s.completed += 1;
            return s;
        }
    }
    s
}
