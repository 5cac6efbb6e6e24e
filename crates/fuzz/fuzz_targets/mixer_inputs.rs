//! `cargo +nightly fuzz run mixer_inputs` — see crates/fuzz/README.md and [`sluice_fuzz::mixer_inputs`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::mixer_inputs(data));
