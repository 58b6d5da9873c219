//! Arbitrary bytes as a magnet link: no panic; an accepted one prints to a link that reads back the same.
//! Run with `cargo fuzz run magnet`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kamaelia_fuzz::torrent::magnet_check(data);
});
