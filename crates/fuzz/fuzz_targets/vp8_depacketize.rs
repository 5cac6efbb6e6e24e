//! `cargo +nightly fuzz run vp8_depacketize` — see crates/fuzz/README.md and [`sluice_fuzz::vp8_depacketize`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::vp8_depacketize(data));
