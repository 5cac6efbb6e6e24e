//! DTLS-SRTP keying (RFC 5764 §4.2): the exported material split into the two SRTP contexts.
//!
//! ```text
//! client_write_SRTP_master_key[k] | server_write_SRTP_master_key[k] |
//! client_write_SRTP_master_salt[s] | server_write_SRTP_master_salt[s]
//! ```
//! k and s by profile: 16/14 for AES_CM_128 (RFC 5764 §4.1.2), 16/12 and 32/12 for AEAD GCM
//! (RFC 7714 §14.2).

use sluice_srtp::{Profile, SrtpContext, SrtpOptions};

use crate::WebRtcError;

/// The SRTP profile of a DTLS-SRTP negotiation.
///
/// # Errors
/// [`WebRtcError::SrtpProfile`] for a profile `sluice-srtp` has no transform for.
pub fn srtp_profile(p: dimpl::SrtpProfile) -> Result<Profile, WebRtcError> {
    match p {
        dimpl::SrtpProfile::AES128_CM_SHA1_80 => Ok(Profile::AesCm128HmacSha1_80),
        dimpl::SrtpProfile::AEAD_AES_128_GCM => Ok(Profile::AeadAes128Gcm),
        dimpl::SrtpProfile::AEAD_AES_256_GCM => Ok(Profile::AeadAes256Gcm),
        #[allow(unreachable_patterns)]
        other => Err(WebRtcError::SrtpProfile(format!("{other:?}"))),
    }
}

/// `(outbound, inbound)` SRTP contexts from RFC 5764 keying `material`, for the side that was DTLS
/// client (`we_are_client`) or server.
///
/// # Errors
/// [`WebRtcError::SrtpProfile`] when `material` is not `2 × (key + salt)` bytes of `profile`,
/// [`WebRtcError::Srtp`] when a context cannot be made.
pub fn srtp_contexts(profile: Profile, material: &[u8], we_are_client: bool, options: SrtpOptions) -> Result<(SrtpContext, SrtpContext), WebRtcError> {
    let (k, s) = (profile.master_key_len(), profile.master_salt_len());
    if material.len() != 2 * (k + s) {
        return Err(WebRtcError::SrtpProfile(format!("keying material of {} bytes for {}", material.len(), profile.name())));
    }
    let client_key = &material[..k];
    let server_key = &material[k..2 * k];
    let client_salt = &material[2 * k..2 * k + s];
    let server_salt = &material[2 * k + s..];
    let make = |key: &[u8], salt: &[u8]| SrtpContext::new(profile, key, salt, options).map_err(|e| WebRtcError::Srtp(e.to_string()));
    let client = make(client_key, client_salt)?;
    let server = make(server_key, server_salt)?;
    Ok(if we_are_client { (client, server) } else { (server, client) })
}
