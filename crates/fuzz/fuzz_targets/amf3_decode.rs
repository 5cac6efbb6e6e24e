//! `cargo +nightly fuzz run amf3_decode` — see crates/fuzz/README.md and [`sluice_fuzz::amf3_decode`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::amf3_decode(data));
