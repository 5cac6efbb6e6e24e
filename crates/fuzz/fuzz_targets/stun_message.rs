//! `cargo +nightly fuzz run stun_message` — see crates/fuzz/README.md and [`sluice_fuzz::stun_message`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sluice_fuzz::stun_message(data));
