//! MESSAGE-INTEGRITY (RFC 8489 §14.5) and FINGERPRINT (RFC 8489 §14.7) computations.
//!
//! Both cover the message up to (not including) their own attribute, with the header's length
//! field set as if the message ended right after their attribute: MESSAGE-INTEGRITY is computed
//! as if no FINGERPRINT followed it.

use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::message::HEADER_LEN;

/// XORed into the CRC-32 of FINGERPRINT (RFC 8489 §14.7): "STUN" in ASCII.
pub const FINGERPRINT_XOR: u32 = 0x5354_554E;

/// HMAC-SHA1 of `before` (the message up to where MESSAGE-INTEGRITY starts), with the header's
/// length field set to include the 24-byte MESSAGE-INTEGRITY attribute and nothing after it.
pub fn message_integrity(key: &[u8], before: &[u8]) -> [u8; 20] {
    debug_assert!(before.len() >= HEADER_LEN);
    let mut header = [0u8; HEADER_LEN];
    header.copy_from_slice(&before[..HEADER_LEN]);
    let length = (before.len() - HEADER_LEN + 24) as u16;
    header[2..4].copy_from_slice(&length.to_be_bytes());
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(&header);
    mac.update(&before[HEADER_LEN..]);
    mac.finalize().into_bytes().into()
}

/// CRC-32 of `before` (the message up to where FINGERPRINT starts, whose header already counts
/// the 8-byte FINGERPRINT attribute) XOR [`FINGERPRINT_XOR`].
pub fn fingerprint(before: &[u8]) -> u32 {
    let mut header = [0u8; HEADER_LEN];
    header.copy_from_slice(&before[..HEADER_LEN]);
    let length = (before.len() - HEADER_LEN + 8) as u16;
    header[2..4].copy_from_slice(&length.to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&header);
    crc.update(&before[HEADER_LEN..]);
    crc.finalize() ^ FINGERPRINT_XOR
}

/// Compares two MACs without an early exit.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
