//! `cargo +nightly fuzz run chunk_decoder` — see crates/fuzz/README.md and [`sluice_fuzz::chunk_decoder`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::chunk_decoder(data));
