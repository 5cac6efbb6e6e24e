//! `cargo +nightly fuzz run srtcp_unprotect` — see crates/fuzz/README.md and [`sluice_fuzz::srtcp_unprotect`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::srtcp_unprotect(data));
