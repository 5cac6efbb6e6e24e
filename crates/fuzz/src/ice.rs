//! Harness for sluice-ice (STUN parsing and the ICE-lite agent). Replayed by
//! `crates/ice/tests/regressions.rs`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// `stun_message`: the input is one datagram to the shared WebRTC port.
///
/// Checks besides "no panic": a message that parses re-parses from its own bytes with the same
/// attributes; the agent answers only requests, a success answer parses, verifies with the
/// agent's password and maps the source, an error answer is never larger than the request; an
/// agent that refused changes no state; the demux classification of a parsed message is STUN.
pub fn stun_message(data: &[u8]) {
    let Ok(message) = sluice_ice::Message::parse(data) else {
        return;
    };
    assert_eq!(
        sluice_ice::demux::classify(data),
        sluice_ice::demux::DatagramKind::Stun
    );
    let again = sluice_ice::Message::parse(message.as_bytes()).expect("re-parse");
    assert!(message.attributes().eq(again.attributes()));
    for a in message.attributes() {
        assert!(a.offset + 4 + a.value.len() <= data.len());
    }
    let _ = message.username();
    let _ = message.error_code();
    let _ = message.xor_mapped_address();

    // The password fuzzers are most likely to hit: none (a wrong MESSAGE-INTEGRITY).
    let now = Instant::now();
    let config = sluice_ice::IceLiteConfig::new("fuzzUfrag", "fuzzPasswordfuzzPassword");
    let mut agent = sluice_ice::IceLite::new(config, now).expect("valid credentials");
    let source: SocketAddr = "[2001:db8::1]:5000".parse().unwrap();
    let mut out = Vec::new();
    match agent.handle_stun(&message, source, now, &mut out) {
        sluice_ice::StunOutcome::Answered => {
            let answer = sluice_ice::Message::parse(&out).expect("our answer parses");
            answer
                .verify_integrity(b"fuzzPasswordfuzzPassword")
                .expect("our answer verifies");
            assert_eq!(answer.xor_mapped_address(), Some(source));
            assert!(agent.knows(source));
        }
        sluice_ice::StunOutcome::Refused(code) => {
            assert!(out.len() <= data.len(), "an error answer never amplifies");
            let answer = sluice_ice::Message::parse(&out).expect("our answer parses");
            assert_eq!(answer.error_code().map(|e| e.0), Some(code));
            assert!(!agent.knows(source));
            assert_eq!(agent.state(), sluice_ice::IceState::Checking);
        }
        sluice_ice::StunOutcome::Ignored => assert!(out.is_empty()),
    }
    agent.handle_timeout(now + Duration::from_secs(3600));
    assert_eq!(agent.state(), sluice_ice::IceState::Closed);
}
