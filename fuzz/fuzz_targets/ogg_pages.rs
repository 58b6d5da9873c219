//! See fuzz/src/audio.rs for the check. Run with `cargo fuzz run ogg_pages`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kamaelia_fuzz::audio::ogg_pages(data);
});
