//! `cargo +nightly fuzz run dependency_descriptor` — see crates/fuzz/README.md and [`sluice_fuzz::dependency_descriptor`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::dependency_descriptor(data));
