//! Arbitrary bytes into the chunk decoder, strict and resync, cut anyhow.
//! Run with `cargo fuzz run dechunker`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kamaelia_fuzz::dechunker(data);
});
