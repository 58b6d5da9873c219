//! Arbitrary bytes into the HTTP response parser, cut anyhow: no panic, the
//! same events however cut, memory within the limits.
//! Run with `cargo fuzz run http_response`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kamaelia_fuzz::http::response(data);
});
