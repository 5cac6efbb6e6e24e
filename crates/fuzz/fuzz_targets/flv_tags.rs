//! `cargo +nightly fuzz run flv_tags` — see crates/fuzz/README.md and [`sluice_fuzz::flv_tags`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::flv_tags(data));
