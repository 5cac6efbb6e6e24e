//! RTMP handshake, sans-IO (RTMP 1.0 specification, Adobe 2012, §5.2).
//!
//! # Wire format
//!
//! ```text
//! client                                     server
//!   C0 (1 byte) + C1 (1536 bytes)  ------->
//!                                  <-------  S0 (1) + S1 (1536) + S2 (1536)
//!   C2 (1536 bytes)                ------->
//!   chunk stream ...               <------>  chunk stream ...
//! ```
//!
//! * C0/S0 (§5.2.2): one byte, the RTMP version, [`RTMP_VERSION`] (3). Anything
//!   else (6 = RTMPE, 8/9 = encrypted variants, garbage) is rejected with
//!   [`HandshakeError::UnsupportedVersion`].
//! * C1/S1 (§5.2.3), [`HANDSHAKE_SIZE`] (1536) bytes:
//!   `time: u32 BE (ms) | zero: 4 bytes | random: 1528 bytes`. In the complex
//!   handshake the zero field is a non-zero version and the random block
//!   carries an HMAC-SHA256 digest (see [`digest`]).
//! * C2/S2 (§5.2.4), 1536 bytes:
//!   `time: u32 BE (peer's C1/S1 time) | time2: u32 BE | random echo: 1528 bytes`
//!   in the simple handshake; `1504 bytes | 32-byte HMAC-SHA256` in the complex
//!   one (see [`digest`]).
//!
//! # Kinds
//!
//! [`HandshakeKind::Simple`] is the handshake of §5.2. [`HandshakeKind::Complex`]
//! is the digest handshake of Flash Player 9+ / FMS, which the specification
//! does not describe; our layout follows librtmp, FFmpeg, nginx-rtmp and SRS.
//! Flash Player refuses a server without it (it then plays no H.264/AAC), while
//! encoders such as FFmpeg and OBS accept both.
//!
//! # Sans-IO
//!
//! [`ServerHandshake`] and [`ClientHandshake`] own no socket, clock or RNG: the
//! caller passes 1528 random bytes and a time, then feeds received bytes in
//! pieces of any size and sends whatever the state machine appends to `out`.
//! `feed` returns how many input bytes it consumed; once `is_done()` the rest
//! belongs to the chunk stream. No input makes them panic.
#![forbid(unsafe_code)]

use core::fmt;

mod client;
pub mod digest;
mod server;

#[cfg(test)]
mod tests;

pub use self::client::ClientHandshake;
pub use self::digest::DigestScheme;
pub use self::server::ServerHandshake;

/// The RTMP version carried by C0/S0 (§5.2.2): 3, plain RTMP.
pub const RTMP_VERSION: u8 = 3;

/// Size of C1, S1, C2 and S2 in bytes (§5.2.3, §5.2.4): 1536.
pub const HANDSHAKE_SIZE: usize = 1536;

/// Size of the random block of C1/S1 (bytes 8..1536): 1528.
pub const RANDOM_SIZE: usize = HANDSHAKE_SIZE - 8;

/// Version bytes (C1 bytes 4..8) sent by [`ClientHandshake`] in a complex C1:
/// Flash Player 9.0.124.2, as FFmpeg sends (`09 00 7C 02`).
pub const CLIENT_VERSION: [u8; 4] = [9, 0, 124, 2];

/// Version bytes (S1 bytes 4..8) sent by [`ServerHandshake`] in a complex S1:
/// `04 05 00 01` (FMS 4.5.0.1).
pub const SERVER_VERSION: [u8; 4] = [4, 5, 0, 1];

/// Which handshake the peer used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeKind {
    /// The handshake of the RTMP 1.0 spec (§5.2): C1/S1 bytes 4..8 are zero
    /// (or anything without a valid digest) and C2/S2 echo the peer's packet.
    Simple,
    /// The digest handshake (Flash Player 9+ / FMS): C1/S1 carry an
    /// HMAC-SHA256 digest at an offset given by [`DigestScheme`], and C2/S2
    /// end with a digest keyed on the peer's one (see [`digest`]).
    Complex,
}

/// Why a handshake failed. Once a state machine has failed, every later
/// `feed` returns the same error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// C0 (server side) or S0 (client side) was not [`RTMP_VERSION`] (3);
    /// carries the byte received. The check is strict: 6 (RTMPE, encrypted
    /// RTMP) and 8/9 (RTMPE variants) are rejected too. Reported as soon as
    /// that first byte arrives.
    UnsupportedVersion(u8),
    /// [`ClientHandshake::feed`] was called before [`ClientHandshake::start`]:
    /// C0+C1 have not been produced yet, so S0/S1/S2 cannot be answered.
    NotStarted,
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::UnsupportedVersion(6) => {
                f.write_str("unsupported RTMP version 6 (RTMPE, encrypted RTMP, is not supported)")
            }
            HandshakeError::UnsupportedVersion(v) => {
                write!(f, "unsupported RTMP version {v} (expected {RTMP_VERSION})")
            }
            HandshakeError::NotStarted => {
                f.write_str("client handshake fed before start() produced C0+C1")
            }
        }
    }
}

impl std::error::Error for HandshakeError {}

/// Finds and checks the digest of a C1 (complex handshake), trying scheme 0
/// (digest offset from bytes 8..12) and then scheme 1 (offset from bytes
/// 772..776) with the 30-byte Flash Player key prefix
/// (`"Genuine Adobe Flash Player 001"`).
///
/// Returns `Some((scheme, digest_offset))` if valid, where `scheme` is
/// [`DigestScheme::id`] (0 or 1) and `c1[digest_offset..digest_offset + 32]`
/// is the digest; `None` for a simple or unsigned C1. C1 layout:
/// `time: u32 BE | version: 4 bytes | 1528 bytes holding the digest`.
pub fn find_c1_digest(c1: &[u8; HANDSHAKE_SIZE]) -> Option<(u8, usize)> {
    digest::find_digest(c1, &digest::FP_KEY[..digest::FP_KEY_PARTIAL_LEN])
        .map(|(scheme, offset)| (scheme.id(), offset))
}

/// Finds and checks the digest of an S1 (complex handshake), like
/// [`find_c1_digest`] but with the 36-byte Flash Media Server key prefix
/// (`"Genuine Adobe Flash Media Server 001"`). Returns
/// `Some((scheme id, digest_offset))` if valid.
pub fn find_s1_digest(s1: &[u8; HANDSHAKE_SIZE]) -> Option<(u8, usize)> {
    digest::find_digest(s1, &digest::FMS_KEY[..digest::FMS_KEY_PARTIAL_LEN])
        .map(|(scheme, offset)| (scheme.id(), offset))
}

/// Writes a big-endian u32 to the first four bytes of `dst` (no-op if shorter).
fn put_u32_be(dst: &mut [u8], value: u32) {
    if let Some(slot) = dst.get_mut(..4) {
        slot.copy_from_slice(&value.to_be_bytes());
    }
}

/// Copies as much of `input` as still fits into `buf` (up to `cap` bytes in
/// total) and returns how many bytes it took.
fn fill(buf: &mut Vec<u8>, cap: usize, input: &[u8]) -> usize {
    let take = cap.saturating_sub(buf.len()).min(input.len());
    buf.extend_from_slice(input.get(..take).unwrap_or(&[]));
    take
}

/// Copies a 1536-byte slice into an array (zero-filled if `src` is shorter).
fn to_packet(src: &[u8]) -> Box<[u8; HANDSHAKE_SIZE]> {
    let mut packet = Box::new([0u8; HANDSHAKE_SIZE]);
    let n = src.len().min(HANDSHAKE_SIZE);
    packet[..n].copy_from_slice(&src[..n]);
    packet
}
