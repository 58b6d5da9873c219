//! The ICY demuxer against a byte-at-a-time reference, however the stream
//! is cut. Run with `cargo fuzz run icy_demux`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kamaelia_fuzz::icy::icy_demux(data);
});
