//! Fuzz crash reproducers, kept as tests: each input runs through the harness its fuzz target
//! runs (`crates/fuzz/src/webrtc.rs`, included below), under plain `cargo test -p sluice-webrtc`.

#[allow(dead_code)]
#[path = "../../fuzz/src/webrtc.rs"]
mod harness;

/// Empty input, garbage, a DTLS-looking record and an SRTCP-looking packet.
#[test]
fn harness_accepts_trivial_inputs() {
    for input in [&[][..], &[0], &[5, 22, 254, 253, 0, 0], &[12, 0x80, 200, 0, 6, 1, 2, 3, 4, 5, 6, 7, 8], &[0xFF; 64]] {
        harness::webrtc_peer(input);
    }
}
