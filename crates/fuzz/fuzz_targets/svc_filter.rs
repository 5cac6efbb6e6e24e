//! `cargo +nightly fuzz run svc_filter` — see crates/fuzz/README.md and [`sluice_fuzz::svc_filter`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::svc_filter(data));
