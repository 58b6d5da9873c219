//! Bencode: values, both modes, offsets of errors, hostile input.

use kamaelia::protocol::torrent::bencode::{
    decode, decode_prefix, decode_strict, decode_with, encode, ErrorKind, Limits, Mode, Owned,
    Value,
};

fn err_of(buf: &[u8], mode: Mode) -> (usize, ErrorKind) {
    let e = decode_with(buf, mode, &Limits::default()).unwrap_err();
    (e.offset, e.kind)
}

#[test]
fn reads_every_kind_of_value() {
    let v = decode(b"d1:ai-42e1:b0:1:cl4:spami0ee1:dde1:e5:\x00\xff\x01\x02\x03e").unwrap();
    let d = v.as_dict().unwrap();
    assert_eq!(d.len(), 5);
    assert_eq!(d.get(b"a"), Some(&Value::Int(-42)));
    assert_eq!(d.get(b"b").and_then(Value::as_bytes), Some(&b""[..]));
    let c = d.get(b"c").and_then(Value::as_list).unwrap();
    assert_eq!(c, &[Value::Bytes(b"spam"), Value::Int(0)]);
    assert!(d.get(b"d").and_then(Value::as_dict).unwrap().is_empty());
    assert_eq!(
        d.get(b"e").and_then(Value::as_bytes),
        Some(&[0u8, 0xff, 1, 2, 3][..])
    );
    assert_eq!(d.get(b"zz"), None);
    assert!(d.is_sorted());
}

#[test]
fn integer_extremes() {
    assert_eq!(
        decode(b"i9223372036854775807e").unwrap(),
        Value::Int(i64::MAX)
    );
    assert_eq!(
        decode(b"i-9223372036854775808e").unwrap(),
        Value::Int(i64::MIN)
    );
    assert_eq!(
        err_of(b"i9223372036854775808e", Mode::Lenient),
        (0, ErrorKind::NumberOverflow)
    );
    assert_eq!(err_of(b"ie", Mode::Lenient), (0, ErrorKind::BadNumber));
    assert_eq!(err_of(b"i-e", Mode::Lenient), (0, ErrorKind::BadNumber));
    assert_eq!(
        err_of(b"i1-2e", Mode::Lenient),
        (2, ErrorKind::UnexpectedByte(b'-'))
    );
    assert_eq!(err_of(b"i12", Mode::Lenient), (3, ErrorKind::UnexpectedEnd));
}

#[test]
fn strict_mode_wants_canonical_input_and_lenient_reads_it_anyway() {
    for (input, offset) in [
        (&b"i03e"[..], 0),
        (b"i-0e", 0),
        (b"03:abc", 0),
        (b"li1ei-0ee", 4),
    ] {
        assert_eq!(
            err_of(input, Mode::Strict),
            (offset, ErrorKind::NonCanonicalNumber),
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert!(decode(input).is_ok());
    }
    assert_eq!(decode(b"i03e").unwrap(), Value::Int(3));
    assert_eq!(decode(b"03:abc").unwrap(), Value::Bytes(b"abc"));

    let unsorted = b"d1:bi1e1:ai2ee";
    assert_eq!(err_of(unsorted, Mode::Strict), (7, ErrorKind::UnsortedKeys));
    let v = decode(unsorted).unwrap();
    let d = v.as_dict().unwrap();
    assert!(!d.is_sorted());
    assert_eq!(d.get(b"a"), Some(&Value::Int(2)));
    assert_eq!(d.get(b"b"), Some(&Value::Int(1)));
    let keys: Vec<&[u8]> = d.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, [&b"b"[..], b"a"], "entries keep the order found");
}

#[test]
fn duplicate_keys_are_an_error_in_both_modes() {
    assert_eq!(
        err_of(b"d1:ai1e1:ai2ee", Mode::Strict),
        (7, ErrorKind::DuplicateKey)
    );
    assert_eq!(
        err_of(b"d1:ai1e1:ai2ee", Mode::Lenient),
        (7, ErrorKind::DuplicateKey)
    );
    // Unsorted, the duplicate far from its twin: found once the
    // dictionary is closed, reported at the later key's bytes.
    let e = decode(b"d1:bi1e1:ci1e1:ai1e1:bi9ee").unwrap_err();
    assert_eq!((e.offset, e.kind), (21, ErrorKind::DuplicateKey));
}

#[test]
fn structural_errors_carry_their_offset() {
    assert_eq!(err_of(b"", Mode::Lenient), (0, ErrorKind::UnexpectedEnd));
    assert_eq!(
        err_of(b"x", Mode::Lenient),
        (0, ErrorKind::UnexpectedByte(b'x'))
    );
    assert_eq!(
        err_of(b"di1ei2ee", Mode::Lenient),
        (1, ErrorKind::KeyNotString)
    );
    assert_eq!(
        err_of(b"l1:a", Mode::Lenient),
        (4, ErrorKind::UnexpectedEnd)
    );
    assert_eq!(
        err_of(b"i1ei2e", Mode::Lenient),
        (3, ErrorKind::TrailingBytes)
    );
    assert_eq!(
        err_of(b"5:abc", Mode::Lenient),
        (0, ErrorKind::LengthBeyondInput)
    );
    assert_eq!(
        err_of(b"l3:abc-", Mode::Lenient),
        (6, ErrorKind::UnexpectedByte(b'-'))
    );
}

#[test]
fn a_2_gib_length_prefix_is_refused_without_allocating() {
    let e = decode(b"2147483648:abc").unwrap_err();
    assert_eq!((e.offset, e.kind), (0, ErrorKind::LengthBeyondInput));
    let e = decode(b"99999999999999999999999:abc").unwrap_err();
    assert_eq!((e.offset, e.kind), (0, ErrorKind::NumberOverflow));
}

#[test]
fn deep_nesting_stops_at_the_depth_limit() {
    let mut deep = vec![b'l'; 10_000];
    deep.extend(vec![b'e'; 10_000]);
    let e = decode(&deep).unwrap_err();
    assert_eq!((e.offset, e.kind), (64, ErrorKind::TooDeep));
    let mut dicts = b"d1:a".repeat(10_000);
    dicts.extend(b"i0e");
    dicts.extend(vec![b'e'; 10_000]);
    assert_eq!(decode(&dicts).unwrap_err().kind, ErrorKind::TooDeep);

    let mut ok = vec![b'l'; 64];
    ok.extend(vec![b'e'; 64]);
    assert!(decode(&ok).is_ok());
    let tight = Limits {
        max_depth: 2,
        ..Limits::default()
    };
    assert_eq!(
        decode_with(b"llleee", Mode::Lenient, &tight)
            .unwrap_err()
            .offset,
        2
    );
}

#[test]
fn the_item_limit_bounds_what_one_decode_builds() {
    let limits = Limits {
        max_items: 3,
        ..Limits::default()
    };
    assert!(decode_with(b"li1ei2ee", Mode::Lenient, &limits).is_ok());
    let e = decode_with(b"li1ei2ei3ee", Mode::Lenient, &limits).unwrap_err();
    assert_eq!((e.offset, e.kind), (7, ErrorKind::TooManyItems));
}

#[test]
fn a_dictionary_keeps_its_raw_bytes_as_found() {
    // Unsorted and with a leading zero: a re-encoding would differ, the
    // raw span does not.
    let file = b"d8:announce3:url4:infod6:lengthi03e4:name1:xee";
    let v = decode(file).unwrap();
    let info = v
        .as_dict()
        .unwrap()
        .get(b"info")
        .unwrap()
        .as_dict()
        .unwrap();
    assert_eq!(info.raw(), &b"d6:lengthi03e4:name1:xe"[..]);
    let mut re = Vec::new();
    v.as_dict()
        .unwrap()
        .get(b"info")
        .unwrap()
        .encode_into(&mut re);
    assert_eq!(re, b"d6:lengthi3e4:name1:xe");
}

#[test]
fn a_prefix_decode_leaves_what_follows() {
    let msg = b"d8:msg_typei1e5:piecei0eeRAW PIECE DATA";
    let (v, used) = decode_prefix(msg, Mode::Lenient, &Limits::default()).unwrap();
    assert_eq!(used, 25);
    assert_eq!(&msg[used..], b"RAW PIECE DATA");
    assert_eq!(
        v.as_dict()
            .unwrap()
            .get(b"msg_type")
            .and_then(Value::as_int),
        Some(1)
    );
}

#[test]
fn owned_values_encode_canonically_and_round_trip() {
    let mut o = Owned::dict();
    o.insert("zeta", -7);
    o.insert(b"\x00bin".as_slice(), b"\xff".as_slice());
    o.insert("alpha", Owned::List(vec![Owned::from("x"), Owned::Int(0)]));
    o.insert("nested", Owned::dict());
    let bytes = o.encode();
    assert_eq!(
        bytes,
        b"d4:\x00bin1:\xff5:alphal1:xi0ee6:nestedde4:zetai-7ee".to_vec()
    );
    let back = decode_strict(&bytes).unwrap();
    assert_eq!(back.to_owned_value(), o);
    let mut again = Vec::new();
    back.encode_into(&mut again);
    assert_eq!(again, bytes);
}

#[test]
fn single_item_writers() {
    let mut out = Vec::new();
    encode::int(&mut out, 0);
    encode::int(&mut out, i64::MIN);
    encode::bytes(&mut out, b"");
    encode::bytes(&mut out, b"0123456789");
    assert_eq!(out, b"i0ei-9223372036854775808e0:10:0123456789".to_vec());
}

#[test]
fn errors_say_what_and_where() {
    let e = decode(b"l5:abce").unwrap_err();
    assert_eq!(
        e.to_string(),
        "bencode: string length runs past the input at byte 1"
    );
}
