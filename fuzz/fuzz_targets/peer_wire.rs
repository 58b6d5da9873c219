//! The peer-wire decoder (BEP 3, 6, 10) over arbitrary bytes, cut at
//! arbitrary boundaries, with a round trip of what decodes.
//! Run with `cargo fuzz run peer_wire`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kamaelia_fuzz::wire::peer_wire(data);
});
