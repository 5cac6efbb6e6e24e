//! `cargo +nightly fuzz run bwe_feedback` — see crates/fuzz/README.md and [`sluice_fuzz::bwe_feedback`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::bwe_feedback(data));
