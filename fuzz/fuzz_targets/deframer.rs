//! Arbitrary bytes into the frame decoder (streamed, cut anyhow, and as a
//! datagram) and the SRM packet decoder. Run with `cargo fuzz run deframer`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kamaelia_fuzz::deframer(data);
});
