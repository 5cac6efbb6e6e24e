//! Fuzz crash reproducers, kept as tests. Each input runs through the very harness its fuzz
//! target runs (`crates/fuzz/src/ice.rs`, included below) under plain `cargo test -p sluice-ice`.
//! To add one: paste the bytes of `crates/fuzz/artifacts/stun_message/crash-<hash>` into a test
//! named after what it broke and call `harness::stun_message(&bytes)`.

#[allow(dead_code)]
#[path = "../../fuzz/src/ice.rs"]
mod harness;

use sluice_ice::attribute::*;
use sluice_ice::{Class, MessageBuilder, METHOD_BINDING};

/// Empty, short, garbage and header-only inputs.
#[test]
fn harness_accepts_trivial_inputs() {
    let mut header_only = vec![0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42];
    header_only.extend_from_slice(&[0; 12]);
    for input in [&[][..], &[0], &[3; 20], &[0xFF; 64], &header_only] {
        harness::stun_message(input);
    }
}

/// A check the harness' agent answers, one it refuses (wrong password), one it ignores (a
/// response).
#[test]
fn harness_answers_refuses_and_ignores() {
    for (password, class) in [
        ("fuzzPasswordfuzzPassword", Class::Request),
        ("anotherPasswordanotherPassword", Class::Request),
        ("fuzzPasswordfuzzPassword", Class::SuccessResponse),
    ] {
        let mut out = Vec::new();
        MessageBuilder::new(&mut out, class, METHOD_BINDING, &[9; 12])
            .attribute(ATTR_USERNAME, b"fuzzUfrag:peer")
            .attribute(ATTR_USE_CANDIDATE, &[])
            .message_integrity(password.as_bytes())
            .fingerprint();
        harness::stun_message(&out);
    }
}

/// stun_message, found in its first 3 000 runs: a message type whose first byte is 0x0A (two
/// zero bits, so "STUN" to RFC 8489 §5) parsed, while the RFC 7983 demultiplexer routes first
/// bytes 4–19 elsewhere. Now both say "not STUN".
#[test]
fn first_byte_outside_rfc7983_stun_range_is_not_stun() {
    let input = [0x0a, 0, 0, 0, 0x21, 0x12, 0xa4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x62];
    harness::stun_message(&input);
    assert!(sluice_ice::Message::parse(&input).is_err());
}
