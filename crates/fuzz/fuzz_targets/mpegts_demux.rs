//! `cargo +nightly fuzz run mpegts_demux` — see crates/fuzz/README.md and [`sluice_fuzz::mpegts_demux`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::mpegts_demux(data));
