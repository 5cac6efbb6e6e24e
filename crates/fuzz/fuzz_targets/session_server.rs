//! `cargo +nightly fuzz run session_server` — see crates/fuzz/README.md and [`sluice_fuzz::session_server`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::session_server(data));
