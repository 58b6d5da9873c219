//! Arbitrary bytes into the IRC line reader and message parser, cut
//! anyhow; what parses must encode back the same.
//! Run with `cargo fuzz run irc_line`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../src/irc.rs"]
mod irc;

fuzz_target!(|data: &[u8]| {
    irc::irc_line(data);
});
