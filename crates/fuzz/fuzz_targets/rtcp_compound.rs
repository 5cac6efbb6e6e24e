//! `cargo +nightly fuzz run rtcp_compound` — see crates/fuzz/README.md and [`sluice_fuzz::rtcp_compound`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::rtcp_compound(data));
