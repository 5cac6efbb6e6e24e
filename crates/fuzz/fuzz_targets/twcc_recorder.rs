//! `cargo +nightly fuzz run twcc_recorder` — see crates/fuzz/README.md and [`sluice_fuzz::twcc_recorder`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::twcc_recorder(data));
