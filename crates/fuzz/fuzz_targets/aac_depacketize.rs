//! `cargo +nightly fuzz run aac_depacketize` — see crates/fuzz/README.md and [`sluice_fuzz::aac_depacketize`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::aac_depacketize(data));
