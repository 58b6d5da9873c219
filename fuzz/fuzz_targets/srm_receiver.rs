//! An arbitrary script of packets, garbage and time steps into an SRM
//! receiver under the test harness. Run with `cargo fuzz run srm_receiver`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kamaelia_fuzz::srm_receiver(data);
});
