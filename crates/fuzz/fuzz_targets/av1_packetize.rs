//! `cargo +nightly fuzz run av1_packetize` — see crates/fuzz/README.md and [`sluice_fuzz::av1_packetize`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::av1_packetize(data));
