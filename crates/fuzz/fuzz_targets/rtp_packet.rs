//! `cargo +nightly fuzz run rtp_packet` — see crates/fuzz/README.md and [`sluice_fuzz::rtp_packet`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::rtp_packet(data));
