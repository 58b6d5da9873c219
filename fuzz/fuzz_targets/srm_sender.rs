//! An arbitrary script of payloads, NAKs, garbage, time steps and signals
//! into an SRM sender under the test harness. Run with
//! `cargo fuzz run srm_sender`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kamaelia_fuzz::srm_sender(data);
});
