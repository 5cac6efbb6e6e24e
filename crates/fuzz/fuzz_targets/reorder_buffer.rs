//! `cargo +nightly fuzz run reorder_buffer` — see crates/fuzz/README.md and [`sluice_fuzz::reorder_buffer`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::reorder_buffer(data));
