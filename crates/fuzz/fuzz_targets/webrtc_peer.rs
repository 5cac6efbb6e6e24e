//! `cargo +nightly fuzz run webrtc_peer` — see crates/fuzz/README.md and [`sluice_fuzz::webrtc_peer`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::webrtc_peer(data));
