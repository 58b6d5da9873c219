//! UDP tracker datagrams (BEP 15): the codec both ways, the server and the
//! client fed scripted datagrams. Run with `cargo fuzz run udp_tracker`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kamaelia_fuzz::udp_tracker::udp_tracker(data);
});
