//! `cargo +nightly fuzz run rtp_egress` — see crates/fuzz/README.md and [`sluice_fuzz::rtp_egress`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::rtp_egress(data));
