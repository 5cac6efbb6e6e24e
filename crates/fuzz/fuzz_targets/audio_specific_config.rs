//! `cargo +nightly fuzz run audio_specific_config` — see crates/fuzz/README.md and [`sluice_fuzz::audio_specific_config`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::audio_specific_config(data));
