//! Fuzz crash reproducers, kept as tests (DESIGN.md: "crash reproducers become regression
//! tests"). Each input runs through the very harness its fuzz target runs
//! (`crates/fuzz/src/srtp.rs`, included below), so a reproducer fails here exactly as it
//! crashed there, under plain `cargo test -p sluice-srtp`.
//!
//! To add one: `xxd -i crates/fuzz/artifacts/<target>/crash-<hash>` (or `cargo fuzz fmt`), paste
//! the bytes into a test named after what it broke, call `harness::<target>(&bytes)`, fix the
//! bug, and keep the test. Minimise first with `cargo +nightly fuzz tmin`.

#[allow(dead_code)]
#[path = "../../fuzz/src/srtp.rs"]
mod harness;

/// The inputs every harness must survive, as a smoke test that the included harness code
/// builds and runs here: empty input, short garbage.
#[test]
fn harnesses_accept_trivial_inputs() {
    for input in [&[][..], &[0], &[3], &[0xFF; 64]] {
        harness::srtp_unprotect(input);
        harness::srtcp_unprotect(input);
        harness::sdes_key_params(input);
    }
    // A real key for AES_CM_128_HMAC_SHA1_80 with lifetime and MKI, and one of the wrong length.
    let mut input = vec![0u8];
    input.extend_from_slice(b"inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32");
    harness::sdes_key_params(&input);
    input.truncate(20);
    harness::sdes_key_params(&input);
}

/// Every profile: an RTP and an RTCP packet protected, unprotected intact, protected again and
/// unprotected with a byte flipped, then replayed.
#[test]
fn srtp_harnesses_replay_protected_packets() {
    let rtp = [0x80u8, 96, 0, 7, 0, 0, 0, 9, 0, 0, 0, 5, 1, 2, 3, 4, 5, 6];
    let rtcp = [0x80u8, 200, 0, 6, 0, 0, 0, 5, 9, 9, 9, 9, 8, 8, 8, 8];
    for profile in 0..4u8 {
        for packet in [&rtp[..], &rtcp[..]] {
            let mut input = vec![profile];
            for mode in [1u8, 3, 1, 0] {
                input.extend_from_slice(&[mode, 0, packet.len() as u8]);
                input.extend_from_slice(packet);
            }
            harness::srtp_unprotect(&input);
            harness::srtcp_unprotect(&input);
        }
    }
}
