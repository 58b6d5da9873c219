//! The HTTP head parser against httparse: the same head when we read one,
//! none when httparse rejects the bytes.
//! Run with `cargo fuzz run http_head`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kamaelia_fuzz::http::head_differential(data);
});
