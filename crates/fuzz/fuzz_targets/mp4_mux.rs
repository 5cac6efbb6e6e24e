//! `cargo +nightly fuzz run mp4_mux` — see crates/fuzz/README.md and [`sluice_fuzz::mp4_mux`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::mp4_mux(data));
