//! `cargo +nightly fuzz run simulcast_layers` — see crates/fuzz/README.md and [`sluice_fuzz::simulcast_layers`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::simulcast_layers(data));
