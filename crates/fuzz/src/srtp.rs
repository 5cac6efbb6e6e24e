//! Fuzz harnesses of SRTP/SRTCP (sluice-srtp): unprotect reads every packet a peer sends, and
//! in DTLS-SRTP the peer holds the keys, so authenticated packets are untrusted too.
//!
//! Each harness runs two kinds of packets through a receiving context: the fuzz bytes as they
//! are (header and trailer parsing before authentication), and the fuzz bytes protected by a
//! sending context with the same keys (everything after authentication), then sometimes with
//! one byte flipped.
//!
//! Plain Rust with no libFuzzer dependency: `crates/srtp/tests/regressions.rs` includes this
//! file with `#[path]` and replays crash inputs through exactly the same code under
//! `cargo test -p sluice-srtp`. So it names crates only by absolute paths (`sluice_srtp::…`),
//! never `crate::`, and uses no crate sluice-srtp does not depend on.

use sluice_srtp::{Profile, SrtpContext, SrtpError, SrtpOptions};

/// The profile byte 0 picks (low 2 bits), and a small replay window and SSRC limit so that the
/// fuzzer reaches both.
fn contexts(choice: u8) -> (SrtpContext, SrtpContext) {
    let profile = Profile::ALL[choice as usize & 3];
    let key: Vec<u8> = (0..profile.master_key_len() as u8).collect();
    let salt: Vec<u8> = (0..profile.master_salt_len() as u8).map(|b| !b).collect();
    let options = SrtpOptions {
        replay_window: 16,
        max_ssrcs: 4,
    };
    let make = || SrtpContext::new(profile, &key, &salt, options).expect("valid keys");
    (make(), make())
}

/// The input after byte 0, as records `mode (1) | length (2, BE) | bytes (length, cut short at
/// the end)`. Mode bit 0: protect the bytes first (else unprotect them as they are); bit 1:
/// then flip the byte at `length % len` (xor the mode byte | 1).
fn records(mut data: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while let [mode, hi, lo, rest @ ..] = data {
        let n = (u16::from_be_bytes([*hi, *lo]) as usize).min(rest.len());
        out.push((*mode, &rest[..n]));
        data = &rest[n..];
    }
    out
}

/// Which receiver state an unprotect may change: (SSRCs known, rollover counter of this SSRC).
fn receiver_state(rx: &SrtpContext, ssrc: Option<u32>) -> (usize, Option<u32>) {
    (rx.ssrc_count(), ssrc.and_then(|s| rx.rollover_counter(s)))
}

fn ssrc_at(packet: &[u8], at: usize) -> Option<u32> {
    packet
        .get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Shared by both harnesses: `protect`/`unprotect` of one kind (RTP or RTCP), `ssrc_offset`
/// where the packet names its SSRC.
fn run(
    data: &[u8],
    protect: fn(&mut SrtpContext, &mut Vec<u8>) -> Result<(), SrtpError>,
    unprotect: fn(&mut SrtpContext, &mut [u8]) -> Result<usize, SrtpError>,
    ssrc_offset: usize,
) {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let (mut tx, mut rx) = contexts(choice);
    // SSRCs whose protected packet the receiver did not see intact: the sender's highest index
    // moved on and the receiver's did not, so their rollover counter estimates may differ
    // (RFC 3711 §3.3.1) and later packets may fail authentication legitimately.
    let mut desynced: Vec<u32> = Vec::new();
    for (mode, bytes) in records(rest) {
        let mut packet = bytes.to_vec();
        let protected = mode & 1 != 0 && protect(&mut tx, &mut packet).is_ok();
        if mode & 1 != 0 && !protected {
            continue;
        }
        let flipped = protected && mode & 2 != 0 && !packet.is_empty();
        if flipped {
            desynced.extend(ssrc_at(&packet, ssrc_offset));
            let at = bytes.len() % packet.len();
            packet[at] ^= mode | 1;
        }
        let ssrc = ssrc_at(&packet, ssrc_offset);
        let before = receiver_state(&rx, ssrc);
        let original_len = packet.len();
        match unprotect(&mut rx, &mut packet) {
            Ok(n) => {
                assert!(n < original_len, "the trailer is removed");
                assert!(!flipped, "a modified packet authenticated");
                if protected {
                    assert_eq!(&packet[..n], bytes, "unprotect(protect(p)) == p");
                }
                assert!(rx.ssrc_count() <= 4);
            }
            Err(e) => {
                assert_eq!(
                    receiver_state(&rx, ssrc),
                    before,
                    "state unchanged on error"
                );
                assert!(!e.to_string().is_empty());
                if protected && !flipped {
                    // Our own packet only fails on replay or the SSRC limit (the sender
                    // protects whatever sequence numbers and SSRCs the input names), or, once
                    // the two sides' indices may differ, on authentication or index range.
                    let desync = ssrc.is_some_and(|s| desynced.contains(&s));
                    assert!(
                        matches!(
                            e,
                            SrtpError::ReplayDuplicate
                                | SrtpError::ReplayOld
                                | SrtpError::TooManySsrcs
                        ) || (desync
                            && matches!(
                                e,
                                SrtpError::AuthenticationFailed | SrtpError::IndexExhausted
                            )),
                        "own packet rejected: {e:?}"
                    );
                    desynced.extend(ssrc);
                }
            }
        }
    }
}

/// SRTP unprotect (RFC 3711 §3.3, RFC 7714 §8), byte 0 picks the profile: never panics; a
/// packet the sender protected comes back unchanged (or fails only on replay or the SSRC
/// limit); a modified one never authenticates; a failed unprotect changes no state.
pub fn srtp_unprotect(data: &[u8]) {
    run(
        data,
        SrtpContext::protect_rtp_vec,
        SrtpContext::unprotect_rtp,
        8,
    );
}

/// SRTCP unprotect (RFC 3711 §3.4, RFC 7714 §9), byte 0 picks the profile: the same
/// properties as [`srtp_unprotect`], for RTCP compound packets (SSRC at bytes 4..8).
pub fn srtcp_unprotect(data: &[u8]) {
    run(
        data,
        SrtpContext::protect_rtcp_vec,
        SrtpContext::unprotect_rtcp,
        4,
    );
}

// ------------------------------------------------------------------ sdes_key_params

/// SDES key parameters (RFC 4568 §6.1, `a=crypto` in an RTP ingest's or relay's SDP, untrusted):
/// byte 0 picks the profile, the rest is the text (UTF-8, lossy). Never panics; a key that
/// parses has exactly the profile's key||salt length, an MKI length of 1..=128, and formats back
/// (`format_inline`) to text that parses to the same key||salt.
pub fn sdes_key_params(data: &[u8]) {
    let Some((&choice, text)) = data.split_first() else {
        return;
    };
    let profile = Profile::ALL[choice as usize & 3];
    let text = String::from_utf8_lossy(text);
    let Ok(key) = sluice_srtp::sdes::parse_inline(&text, profile) else {
        return;
    };
    assert_eq!(key.key_and_salt.len(), profile.master_key_len() + profile.master_salt_len());
    if let Some((_, len)) = key.mki {
        assert!((1..=128).contains(&len));
    }
    let again = sluice_srtp::sdes::parse_inline(&sluice_srtp::sdes::format_inline(&key.key_and_salt), profile)
        .expect("a formatted key parses");
    assert_eq!(again.key_and_salt, key.key_and_salt);
}
