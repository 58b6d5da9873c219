//! The checks behind the BitTorrent fuzz targets (`bencode`, `metainfo`,
//! `magnet`), and the `bendy` oracle the bencode tests use
//! (`tests/torrent_bencode_oracle.rs` and `tests/torrent_fuzz.rs` include
//! this file, so CI runs the same checks without a fuzzer).
//!
//! What `bendy` 0.6 accepts, read from its source and checked by
//! `tests/torrent_bencode_oracle.rs` (`bendy_quirks`):
//!
//! * canonical integers only (`i0e`, no `i-0e`, no `i03e`), and string
//!   lengths without leading zeros (`01:a` is refused): the same as our
//!   strict mode;
//! * dictionary keys strictly increasing (so no duplicates);
//! * a nesting limit set on its `Decoder` (`Value::from_bencode` sets it to
//!   `Value`'s declared depth, 0, and so refuses every list and
//!   dictionary: the oracle builds its own `Decoder` with our depth limit);
//! * `FromBencode::from_bencode` ignores bytes after the first value
//!   (`i1exyz` is read as 1): the oracle asks the decoder for a second
//!   object and counts one as a refusal, as our whole-buffer decode does.
//!
//! No other difference has been found; the item limit (4,000,000 values)
//! has no counterpart in `bendy` but needs megabytes of input to reach.

use bendy::decoding::{Decoder, FromBencode};
use bendy::encoding::Encoder;
use bendy::value::Value as BValue;
use kamaelia::protocol::torrent::bencode::{
    decode, decode_strict, decode_with, Limits, Mode, Owned, Value,
};
use kamaelia::protocol::torrent::magnet::Magnet;
use kamaelia::protocol::torrent::metainfo::Metainfo;
use std::borrow::Cow;

/// `bendy`'s reading of a whole buffer: `Err` for anything it refuses,
/// including bytes after the value.
pub fn bendy_decode(buf: &[u8]) -> Result<BValue<'static>, String> {
    let mut d = Decoder::new(buf).with_max_depth(Limits::default().max_depth);
    let value = match d.next_object().map_err(|e| e.to_string())? {
        Some(object) => BValue::decode_bencode_object(object).map_err(|e| e.to_string())?,
        None => return Err("empty".into()),
    };
    let rest = match d.next_object() {
        Ok(None) => Ok(value.into_owned()),
        Ok(Some(_)) => Err("bytes after the value".into()),
        Err(e) => Err(e.to_string()),
    };
    rest
}

/// `bendy`'s encoding of a value.
pub fn bendy_encode(v: &BValue) -> Vec<u8> {
    let mut e = Encoder::new().with_max_depth(Limits::default().max_depth + 1);
    e.emit(v).expect("bendy encodes a value it built");
    e.get_output().expect("bendy finishes its output")
}

/// Our decoded value as a `bendy` value (dictionary keys into a map).
pub fn to_bendy(v: &Value) -> BValue<'static> {
    match v {
        Value::Int(i) => BValue::Integer(*i),
        Value::Bytes(b) => BValue::Bytes(Cow::Owned(b.to_vec())),
        Value::List(l) => BValue::List(l.iter().map(to_bendy).collect()),
        Value::Dict(d) => BValue::Dict(
            d.iter()
                .map(|(k, v)| (Cow::Owned(k.to_vec()), to_bendy(v)))
                .collect(),
        ),
    }
}

/// An [`Owned`] value as a `bendy` value.
pub fn owned_to_bendy(v: &Owned) -> BValue<'static> {
    match v {
        Owned::Int(i) => BValue::Integer(*i),
        Owned::Bytes(b) => BValue::Bytes(Cow::Owned(b.clone())),
        Owned::List(l) => BValue::List(l.iter().map(owned_to_bendy).collect()),
        Owned::Dict(d) => BValue::Dict(
            d.iter()
                .map(|(k, v)| (Cow::Owned(k.clone()), owned_to_bendy(v)))
                .collect(),
        ),
    }
}

/// What one input came to, for the plain tests to check coverage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    pub lenient: bool,
    pub strict: bool,
}

/// Arbitrary bytes through both modes and `bendy`:
/// * no panic;
/// * strict accepts ⇒ lenient accepts the same value, the value re-encodes
///   to the input byte for byte, and `bendy` reads the same value;
/// * strict refuses ⇒ `bendy` refuses;
/// * lenient accepts ⇒ its re-encoding (entries in the order found) reads
///   back leniently to the same value, and the canonical re-encoding
///   (`to_owned_value`) is accepted by strict mode and by `bendy`.
pub fn bencode_check(data: &[u8]) -> Verdict {
    let strict = decode_strict(data);
    let lenient = decode(data);
    let oracle = bendy_decode(data);
    match (&strict, &oracle) {
        (Ok(s), Ok(b)) => assert_eq!(&to_bendy(s), b, "strict and bendy read different values"),
        (Err(_), Err(_)) => {}
        (Ok(_), Err(e)) => panic!("strict accepts, bendy refuses: {e}"),
        (Err(e), Ok(_)) => panic!("bendy accepts, strict refuses: {e}"),
    }
    if let Ok(s) = &strict {
        let l = lenient
            .as_ref()
            .expect("strict accepts but lenient refuses");
        assert_eq!(s, l, "strict and lenient read different values");
        let mut out = Vec::with_capacity(data.len());
        s.encode_into(&mut out);
        assert_eq!(out, data, "a strict value does not re-encode to its input");
    }
    if let Ok(l) = &lenient {
        let mut again = Vec::new();
        l.encode_into(&mut again);
        let back = decode(&again).expect("our own re-encoding is refused");
        assert_eq!(to_bendy(&back), to_bendy(l));
        let canonical = l.to_owned_value().encode();
        let c = decode_strict(&canonical).expect("the canonical re-encoding is refused");
        assert_eq!(to_bendy(&c), to_bendy(l));
        assert_eq!(
            bendy_decode(&canonical).as_ref().ok(),
            Some(&to_bendy(l)),
            "bendy refuses or misreads our canonical encoding"
        );
    }
    // A tiny limit must refuse cleanly, never panic.
    let small = Limits {
        max_depth: 2,
        max_items: 8,
    };
    let _ = decode_with(data, Mode::Lenient, &small);
    Verdict {
        lenient: lenient.is_ok(),
        strict: strict.is_ok(),
    }
}

/// Arbitrary bytes as a .torrent: no panic; what is accepted keeps its
/// invariants and survives `to_bytes` and the magnet link.
pub fn metainfo_check(data: &[u8]) -> bool {
    let Ok(m) = Metainfo::from_bytes(data) else {
        return false;
    };
    let total: u64 = m.files().iter().map(|f| f.length).sum();
    assert_eq!(total, m.total_length());
    let pieces = total.div_ceil(m.piece_length());
    assert_eq!(pieces, m.piece_count() as u64);
    let mut offset = 0;
    for f in m.files() {
        assert_eq!(f.offset, offset);
        offset += f.length;
        assert!(!f.path.is_empty());
    }
    let again = Metainfo::from_bytes(&m.to_bytes()).expect("our own encoding is refused");
    assert_eq!(again.info_hash(), m.info_hash());
    assert_eq!(again, m);
    let link = m.magnet().to_string();
    let back: Magnet = link.parse().expect("our own magnet link is refused");
    assert_eq!(back.info_hash, m.info_hash());
    true
}

/// Arbitrary bytes as a magnet link: no panic; what is accepted prints to
/// a link that reads back the same.
pub fn magnet_check(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(m) = text.parse::<Magnet>() else {
        return false;
    };
    let printed = m.to_string();
    let back: Magnet = printed.parse().expect("our own magnet link is refused");
    assert_eq!(back, m);
    true
}
