//! Arbitrary bytes as one SRM packet (a datagram). Run with
//! `cargo fuzz run srm_packet`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kamaelia_fuzz::srm_packet(data);
});
