//! `cargo +nightly fuzz run h265_packetize` — see crates/fuzz/README.md and [`sluice_fuzz::h265_packetize`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::h265_packetize(data));
