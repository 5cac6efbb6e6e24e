//! Fuzz crash reproducers, kept as tests (DESIGN.md: "crash reproducers become regression
//! tests"). Each input runs through the very harness its fuzz target runs
//! (`crates/fuzz/src/audio.rs`, included below), so a reproducer fails here exactly as it
//! crashed there, under plain `cargo test -p sluice-audio`.

#[allow(dead_code)]
#[path = "../../fuzz/src/audio.rs"]
mod harness;

/// Empty input, short garbage, and real configs: AAC-LC 44.1 kHz stereo (`12 10`), 48 kHz
/// stereo (`11 90`), HE-AAC with the SBR sync extension, HE-AAC v2 (object type 29).
#[test]
fn harness_accepts_trivial_and_real_configs() {
    for input in [&[][..], &[0], &[0xFF; 16], &[0x12, 0x10], &[0x11, 0x90], &[0x13, 0x10, 0x56, 0xE5, 0x98], &[0xEB, 0x09, 0x88, 0x00]] {
        harness::audio_specific_config(input);
    }
}
