//! Arbitrary bytes into every `Marshal` type's demarshaller and through
//! `DeMarshaller` components. Run with `cargo fuzz run demarshal`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kamaelia_fuzz::demarshal(data);
});
