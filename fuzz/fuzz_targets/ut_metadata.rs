//! The metadata exchange (BEP 9, 10): extension handshakes, `ut_metadata`
//! messages and the assembler fed good, forged and malformed pieces.
//! Run with `cargo fuzz run ut_metadata`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kamaelia_fuzz::wire::ut_metadata(data);
});
