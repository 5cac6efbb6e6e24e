//! `cargo +nightly fuzz run h264_depacketize` — see crates/fuzz/README.md and [`sluice_fuzz::h264_depacketize`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::h264_depacketize(data));
