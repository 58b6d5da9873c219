//! Our bencode against `bendy` (the oracle): canonical values generated,
//! encoded by `Owned`, read by our strict decoder and by `bendy` to the
//! same value, and encoded by `bendy` to the same bytes; the same bytes
//! mutated (a byte changed, inserted, removed, the end cut) read the same
//! way by both or refused by both. The differences found in `bendy`
//! itself are pinned in `bendy_quirks`.

use std::collections::BTreeMap;

use kamaelia::protocol::torrent::bencode::{decode, decode_strict, ErrorKind, Owned};
use proptest::prelude::*;

#[path = "../fuzz/src/torrent.rs"]
#[allow(dead_code)]
mod checks;
use checks::{bencode_check, bendy_decode, bendy_encode, owned_to_bendy, to_bendy};

fn value() -> impl Strategy<Value = Owned> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Owned::Int),
        (-300i64..300).prop_map(Owned::Int),
        proptest::collection::vec(any::<u8>(), 0..24).prop_map(Owned::Bytes),
        "[a-z]{0,6}".prop_map(|s| Owned::Bytes(s.into_bytes())),
    ];
    leaf.prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Owned::List),
            proptest::collection::btree_map(
                proptest::collection::vec(any::<u8>(), 0..6),
                inner,
                0..8
            )
            .prop_map(Owned::Dict),
        ]
    })
}

#[derive(Clone, Debug)]
enum Mutation {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Cut(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Bytes that matter to bencode, and any byte.
    let byte = prop_oneof![
        prop::sample::select(b"ield0123456789:-".to_vec()),
        any::<u8>(),
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), byte).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Cut),
    ]
}

fn apply(mut bytes: Vec<u8>, m: &[Mutation]) -> Vec<u8> {
    for m in m {
        let n = bytes.len();
        match *m {
            Mutation::Set(i, b) if n > 0 => bytes[i % n] = b,
            Mutation::Insert(i, b) => bytes.insert(i % (n + 1), b),
            Mutation::Remove(i) if n > 0 => {
                bytes.remove(i % n);
            }
            Mutation::Cut(i) => bytes.truncate(i % (n + 1)),
            _ => {}
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn canonical_values_agree_with_bendy(v in value()) {
        let ours = v.encode();
        let strict = decode_strict(&ours).expect("strict refuses Owned's encoding");
        let oracle = bendy_decode(&ours).expect("bendy refuses Owned's encoding");
        prop_assert_eq!(&to_bendy(&strict), &oracle);
        prop_assert_eq!(&owned_to_bendy(&v), &oracle);
        prop_assert_eq!(strict.to_owned_value(), v.clone());
        prop_assert_eq!(bendy_encode(&owned_to_bendy(&v)), ours.clone());
        // Lenient reads canonical input the same.
        prop_assert_eq!(decode(&ours).unwrap(), strict);
        bencode_check(&ours);
    }

    #[test]
    fn mutated_values_agree_with_bendy(
        v in value(),
        m in proptest::collection::vec(mutation(), 1..4),
    ) {
        let bytes = apply(v.encode(), &m);
        // Accept/refuse and the value, in both modes, against bendy.
        bencode_check(&bytes);
    }
}

#[test]
fn unsorted_and_duplicate_keys() {
    // Lenient reads unsorted keys; strict and bendy refuse them.
    let unsorted = b"d1:bi1e1:ai2ee";
    assert!(decode(unsorted).is_ok());
    assert_eq!(
        decode_strict(unsorted).unwrap_err().kind,
        ErrorKind::UnsortedKeys
    );
    assert!(bendy_decode(unsorted).is_err());
    let v = bencode_check(unsorted);
    assert!(v.lenient && !v.strict);
    // Duplicates: refused by all three.
    let dup = b"d1:ai1e1:ai2ee";
    assert_eq!(decode(dup).unwrap_err().kind, ErrorKind::DuplicateKey);
    assert!(bendy_decode(dup).is_err());
}

/// What `bendy` 0.6 itself does, pinned so an upgrade that changes it is
/// noticed (fuzz/src/torrent.rs explains how the oracle works around it).
#[test]
fn bendy_quirks() {
    use bendy::decoding::FromBencode;
    use bendy::value::Value as BValue;

    // Leading zeros in a length: refused by bendy, as by our strict mode;
    // our lenient mode reads them.
    assert!(bendy_decode(b"01:a").is_err());
    assert_eq!(
        decode_strict(b"01:a").unwrap_err().kind,
        ErrorKind::NonCanonicalNumber
    );
    assert_eq!(decode(b"01:a").unwrap().as_bytes(), Some(&b"a"[..]));
    // Non-canonical integers: refused by bendy and strict mode.
    for bad in [&b"i-0e"[..], b"i03e", b"i-03e", b"i+3e", b"ie", b"i-e"] {
        assert!(bendy_decode(bad).is_err(), "{bad:?}");
        assert!(decode_strict(bad).is_err(), "{bad:?}");
    }
    // `from_bencode` ignores bytes after the first value...
    assert_eq!(BValue::from_bencode(b"i1exyz").unwrap(), BValue::Integer(1));
    // ...and refuses every list and dictionary: `Value` declares depth 0.
    assert!(BValue::from_bencode(b"le").is_err());
    // The oracle's reading counts trailing bytes as a refusal, like ours.
    assert!(bendy_decode(b"i1exyz").is_err());
    assert_eq!(
        decode(b"i1exyz").unwrap_err().kind,
        ErrorKind::TrailingBytes
    );
    // Depth: both take 64 levels and refuse 65.
    let nest = |n: usize| {
        let mut v = vec![b'l'; n];
        v.extend(std::iter::repeat_n(b'e', n));
        v
    };
    assert!(bendy_decode(&nest(64)).is_ok());
    assert!(decode_strict(&nest(64)).is_ok());
    assert!(bendy_decode(&nest(65)).is_err());
    assert_eq!(
        decode_strict(&nest(65)).unwrap_err().kind,
        ErrorKind::TooDeep
    );
    // i64's extremes and one past.
    let min = b"i-9223372036854775808e";
    assert_eq!(bendy_decode(min).unwrap(), BValue::Integer(i64::MIN));
    assert!(bendy_decode(b"i9223372036854775808e").is_err());
    assert!(decode(b"i9223372036854775808e").is_err());
    // Empty keys and values are canonical.
    let m: BTreeMap<Vec<u8>, Owned> = [(Vec::new(), Owned::Bytes(Vec::new()))].into();
    let e = Owned::Dict(m).encode();
    assert_eq!(e, b"d0:0:e");
    assert!(bendy_decode(&e).is_ok());
}
