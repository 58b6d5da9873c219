//! Arbitrary bytes through our bencode decoder in both modes and bendy: no panic, strict ⇒ lenient with the same value, strict input re-encodes to itself, bendy agrees with strict mode.
//! Run with `cargo fuzz run bencode`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kamaelia_fuzz::torrent::bencode_check(data);
});
