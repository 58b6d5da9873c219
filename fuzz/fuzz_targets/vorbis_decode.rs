//! See fuzz/src/audio.rs for the check. Run with `cargo fuzz run vorbis_decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kamaelia_fuzz::audio::vorbis_decode(data);
});
