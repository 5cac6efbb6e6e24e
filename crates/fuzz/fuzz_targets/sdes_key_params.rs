//! `cargo +nightly fuzz run sdes_key_params` — see crates/fuzz/README.md and [`sluice_fuzz::sdes_key_params`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::sdes_key_params(data));
