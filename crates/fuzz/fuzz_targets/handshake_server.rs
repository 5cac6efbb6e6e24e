//! `cargo +nightly fuzz run handshake_server` — see crates/fuzz/README.md and [`sluice_fuzz::handshake_server`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::handshake_server(data));
