//! HMAC-SHA256 digests of the "complex" (Flash Player 9+ / FMS) RTMP handshake.
//!
//! The RTMP 1.0 specification (Adobe, 2012, §5.2) only describes the *simple*
//! handshake. The digest variant used by Flash Player 9+, Flash Media Server
//! and most encoders is not in the spec; the layout below is the one shared by
//! librtmp (`handshake.h`), FFmpeg (`rtmpproto.c`, `rtmpdigest.c`),
//! nginx-rtmp (`ngx_rtmp_handshake.c`) and SRS.
//!
//! # C1 / S1 with a digest (1536 bytes)
//!
//! ```text
//! offset  size  field
//! 0       4     time (u32 big-endian, ms)
//! 4       4     version, non-zero (e.g. 9.0.124.2 for a player, 4.5.0.1 for a server)
//! 8       1528  random bytes, 32 of which are the digest
//! ```
//!
//! The digest offset comes from one of two 764-byte halves ([`DigestScheme`]):
//!
//! * scheme 0, [`DigestScheme::DigestFirst`]:
//!   `offset = (p[8] + p[9] + p[10] + p[11]) % 728 + 12`, so the digest lies
//!   in `12..772`;
//! * scheme 1, [`DigestScheme::KeyFirst`]:
//!   `offset = (p[772] + p[773] + p[774] + p[775]) % 728 + 776`, so the digest
//!   lies in `776..1536`.
//!
//! The digest is `HMAC-SHA256(partial key, p[..offset] ++ p[offset + 32..])`
//! (1504 bytes of input): the partial key is the first 30 bytes of
//! [`FP_KEY`] for C1 and the first 36 bytes of [`FMS_KEY`] for S1.
//!
//! (librtmp calls these "offset algorithm" 0 and 1 in the same order; SRS
//! numbers them the other way round, "schema1" being our scheme 0.)
//!
//! # C2 / S2 with a digest (1536 bytes)
//!
//! ```text
//! offset  size  field
//! 0       1504  filler (random, or an echo of the peer's packet)
//! 1504    32    HMAC-SHA256(key, p[..1504])
//! ```
//!
//! with `key = HMAC-SHA256(full key, peer's C1/S1 digest)`, the full key being
//! all 68 bytes of [`FMS_KEY`] for S2 (peer digest = C1's) and all 62 bytes of
//! [`FP_KEY`] for C2 (peer digest = S1's).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::HANDSHAKE_SIZE;

type HmacSha256 = Hmac<Sha256>;

/// Length in bytes of an HMAC-SHA256 digest (32).
pub const DIGEST_LEN: usize = 32;

/// The 32 constant bytes that follow the ASCII part of both [`FP_KEY`] and
/// [`FMS_KEY`]:
/// `F0EEC24A8068BEE82E00D0D1029E7E576EEC5D2D29806FAB93B8E636CFEB31AE`.
pub const KEY_SUFFIX: [u8; 32] = [
    0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
    0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
];

/// Length of the Flash Player key prefix used to sign C1:
/// `"Genuine Adobe Flash Player 001"` (30 bytes).
pub const FP_KEY_PARTIAL_LEN: usize = 30;

/// Length of the Flash Media Server key prefix used to sign S1:
/// `"Genuine Adobe Flash Media Server 001"` (36 bytes).
pub const FMS_KEY_PARTIAL_LEN: usize = 36;

/// The full 62-byte Flash Player key: ASCII `"Genuine Adobe Flash Player 001"`
/// (30 bytes) followed by [`KEY_SUFFIX`] (32 bytes).
///
/// The first [`FP_KEY_PARTIAL_LEN`] bytes sign C1; the whole key derives the
/// C2 signing key from S1's digest.
pub const FP_KEY: [u8; 62] = concat_key::<62>(b"Genuine Adobe Flash Player 001");

/// The full 68-byte Flash Media Server key: ASCII
/// `"Genuine Adobe Flash Media Server 001"` (36 bytes) followed by
/// [`KEY_SUFFIX`] (32 bytes).
///
/// The first [`FMS_KEY_PARTIAL_LEN`] bytes sign S1; the whole key derives the
/// S2 signing key from C1's digest.
pub const FMS_KEY: [u8; 68] = concat_key::<68>(b"Genuine Adobe Flash Media Server 001");

/// Offset of the trailing digest in a digest-style C2/S2: `1536 - 32 = 1504`.
pub const RESPONSE_DIGEST_OFFSET: usize = HANDSHAKE_SIZE - DIGEST_LEN;

/// `prefix ++ KEY_SUFFIX` as a fixed array, evaluated at compile time
/// (a length mismatch is a compile error, never a run-time panic).
const fn concat_key<const N: usize>(prefix: &[u8]) -> [u8; N] {
    assert!(prefix.len() + KEY_SUFFIX.len() == N);
    let mut out = [0u8; N];
    let mut i = 0;
    while i < prefix.len() {
        out[i] = prefix[i];
        i += 1;
    }
    let mut j = 0;
    while j < KEY_SUFFIX.len() {
        out[prefix.len() + j] = KEY_SUFFIX[j];
        j += 1;
    }
    out
}

/// Where the 32-byte digest of a C1/S1 sits (not in the RTMP 1.0 spec; see
/// the module docs for the layout shared by librtmp, FFmpeg and nginx-rtmp).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestScheme {
    /// Scheme 0 ("digest first"): offset =
    /// `(p[8] + p[9] + p[10] + p[11]) % 728 + 12`, digest within `12..772`.
    /// Used by FFmpeg, librtmp (default) and OBS for C1, and by nginx-rtmp
    /// for every S1.
    DigestFirst,
    /// Scheme 1 ("key first"): offset =
    /// `(p[772] + p[773] + p[774] + p[775]) % 728 + 776`, digest within
    /// `776..1536`.
    KeyFirst,
}

impl DigestScheme {
    /// Both schemes, in the order they are tried when looking for a digest
    /// (scheme 0 first).
    pub const ALL: [DigestScheme; 2] = [DigestScheme::DigestFirst, DigestScheme::KeyFirst];

    /// Numeric id of the scheme: 0 for [`DigestScheme::DigestFirst`], 1 for
    /// [`DigestScheme::KeyFirst`] (the number returned by
    /// [`find_c1_digest`](super::find_c1_digest)).
    pub const fn id(self) -> u8 {
        match self {
            DigestScheme::DigestFirst => 0,
            DigestScheme::KeyFirst => 1,
        }
    }

    /// Inverse of [`DigestScheme::id`]: `Some` for 0 and 1, `None` otherwise.
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(DigestScheme::DigestFirst),
            1 => Some(DigestScheme::KeyFirst),
            _ => None,
        }
    }

    /// Index of the first of the four bytes whose sum selects the offset:
    /// 8 for scheme 0, 772 for scheme 1.
    pub const fn base(self) -> usize {
        match self {
            DigestScheme::DigestFirst => 8,
            DigestScheme::KeyFirst => 772,
        }
    }

    /// Offset of the 32-byte digest inside a 1536-byte C1/S1 under this
    /// scheme: `sum(p[base..base + 4]) % 728 + base + 4`.
    ///
    /// Always in `12..=739` (scheme 0) or `776..=1503` (scheme 1), so the
    /// digest never overlaps the four offset bytes and `offset + 32 <= 1536`.
    pub fn digest_offset(self, packet: &[u8; HANDSHAKE_SIZE]) -> usize {
        let base = self.base();
        let sum: usize = packet[base..base + 4].iter().map(|&b| usize::from(b)).sum();
        sum % 728 + base + 4
    }
}

/// HMAC-SHA256 of the concatenation of `parts` under `key`.
///
/// HMAC accepts keys of any length (longer than 64 bytes ones, such as the
/// 68-byte [`FMS_KEY`], are hashed first, RFC 2104 §2).
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; DIGEST_LEN] {
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        // `Hmac<Sha256>` accepts every key length, so this arm is never taken;
        // it exists only so that no code path can panic.
        Err(_) => return [0u8; DIGEST_LEN],
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Digest of a 1536-byte C1/S1 whose digest sits at `offset`:
/// `HMAC-SHA256(key, packet[..offset] ++ packet[offset + 32..])`.
///
/// Returns `None` if `offset + 32 > 1536`.
pub fn packet_digest(
    packet: &[u8; HANDSHAKE_SIZE],
    offset: usize,
    key: &[u8],
) -> Option<[u8; DIGEST_LEN]> {
    let end = offset.checked_add(DIGEST_LEN)?;
    let before = packet.get(..offset)?;
    let after = packet.get(end..)?;
    Some(hmac_sha256(key, &[before, after]))
}

/// Compares two byte strings without an early exit.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks the digest of a C1/S1 under one scheme: `Some(offset)` if the 32
/// bytes at `scheme.digest_offset(packet)` equal [`packet_digest`] with `key`.
pub fn verify_digest(
    packet: &[u8; HANDSHAKE_SIZE],
    scheme: DigestScheme,
    key: &[u8],
) -> Option<usize> {
    let offset = scheme.digest_offset(packet);
    let expected = packet_digest(packet, offset, key)?;
    let found = packet.get(offset..offset + DIGEST_LEN)?;
    ct_eq(&expected, found).then_some(offset)
}

/// Looks for a valid digest in a C1/S1 under both schemes (scheme 0 first)
/// with `key` (the 30-byte Flash Player prefix for C1, the 36-byte FMS prefix
/// for S1). Returns the scheme and the digest offset.
pub fn find_digest(packet: &[u8; HANDSHAKE_SIZE], key: &[u8]) -> Option<(DigestScheme, usize)> {
    DigestScheme::ALL
        .iter()
        .find_map(|&scheme| verify_digest(packet, scheme, key).map(|off| (scheme, off)))
}

/// Computes the digest of a C1/S1 under `scheme` with `key` and stores it in
/// place; returns the digest offset. Bytes 0..8 (time, version) and the rest
/// of the random block are left as they are.
pub fn write_digest(packet: &mut [u8; HANDSHAKE_SIZE], scheme: DigestScheme, key: &[u8]) -> usize {
    let offset = scheme.digest_offset(packet);
    if let Some(digest) = packet_digest(packet, offset, key) {
        if let Some(slot) = packet.get_mut(offset..offset + DIGEST_LEN) {
            slot.copy_from_slice(&digest);
        }
    }
    offset
}

/// The 32 digest bytes of a C1/S1 at `offset` (as returned by
/// [`find_digest`]); `None` if `offset + 32 > 1536`.
pub fn digest_at(packet: &[u8; HANDSHAKE_SIZE], offset: usize) -> Option<[u8; DIGEST_LEN]> {
    let end = offset.checked_add(DIGEST_LEN)?;
    let mut out = [0u8; DIGEST_LEN];
    out.copy_from_slice(packet.get(offset..end)?);
    Some(out)
}

/// Signing key of a digest-style C2/S2:
/// `HMAC-SHA256(full_key, peer_digest)`, with `full_key` = the 68-byte
/// [`FMS_KEY`] for S2 (peer digest = C1's) or the 62-byte [`FP_KEY`] for C2
/// (peer digest = S1's).
pub fn response_key(peer_digest: &[u8; DIGEST_LEN], full_key: &[u8]) -> [u8; DIGEST_LEN] {
    hmac_sha256(full_key, &[peer_digest])
}

/// Signs a digest-style C2/S2 in place: bytes `1504..1536` become
/// `HMAC-SHA256(response_key(peer_digest, full_key), packet[..1504])`.
/// Bytes `0..1504` are left as they are.
pub fn sign_response(
    packet: &mut [u8; HANDSHAKE_SIZE],
    peer_digest: &[u8; DIGEST_LEN],
    full_key: &[u8],
) {
    let key = response_key(peer_digest, full_key);
    let (body, tail) = packet.split_at_mut(RESPONSE_DIGEST_OFFSET);
    tail.copy_from_slice(&hmac_sha256(&key, &[body]));
}

/// Checks the trailing digest of a digest-style C2/S2 (see
/// [`sign_response`]): for an S2 pass C1's digest and [`FMS_KEY`], for a C2
/// S1's digest and [`FP_KEY`].
pub fn verify_response(
    packet: &[u8; HANDSHAKE_SIZE],
    peer_digest: &[u8; DIGEST_LEN],
    full_key: &[u8],
) -> bool {
    let key = response_key(peer_digest, full_key);
    let (body, tail) = packet.split_at(RESPONSE_DIGEST_OFFSET);
    ct_eq(&hmac_sha256(&key, &[body]), tail)
}
