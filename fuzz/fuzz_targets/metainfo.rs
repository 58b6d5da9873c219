//! Arbitrary bytes as a .torrent: no panic; an accepted one keeps its invariants, writes back and reads the same.
//! Run with `cargo fuzz run metainfo`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kamaelia_fuzz::torrent::metainfo_check(data);
});
