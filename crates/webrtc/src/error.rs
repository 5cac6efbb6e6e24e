//! [`WebRtcError`]: why a peer could not be made, or closed.

use std::fmt;

/// What went wrong; every variant has a stable [`code`](WebRtcError::code).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebRtcError {
    /// The certificate could not be made.
    Certificate(String),
    /// An `a=fingerprint` value that is not `sha-256` with 32 hex bytes.
    Fingerprint(&'static str),
    /// ICE credentials out of RFC 8839's ranges.
    IceCredentials(String),
    /// The DTLS engine gave up (a fatal alert, a timeout, a protocol error); the peer is closed.
    Dtls(String),
    /// The peer's certificate does not match the fingerprint of its SDP.
    FingerprintMismatch,
    /// DTLS negotiated an SRTP profile this build cannot use, or none.
    SrtpProfile(String),
    /// SRTP protection failed (the packet is dropped; the peer goes on).
    Srtp(String),
    /// Media was sent before the peer was connected or after it closed.
    NotConnected,
}

impl WebRtcError {
    /// A stable code for logs and the N-API layer, e.g. `WEBRTC_DTLS_FAILED`.
    pub fn code(&self) -> &'static str {
        match self {
            WebRtcError::Certificate(_) => "WEBRTC_CERTIFICATE_FAILED",
            WebRtcError::Fingerprint(_) => "WEBRTC_FINGERPRINT_INVALID",
            WebRtcError::IceCredentials(_) => "WEBRTC_ICE_CREDENTIALS_INVALID",
            WebRtcError::Dtls(_) => "WEBRTC_DTLS_FAILED",
            WebRtcError::FingerprintMismatch => "WEBRTC_FINGERPRINT_MISMATCH",
            WebRtcError::SrtpProfile(_) => "WEBRTC_SRTP_PROFILE_UNSUPPORTED",
            WebRtcError::Srtp(_) => "WEBRTC_SRTP_FAILED",
            WebRtcError::NotConnected => "WEBRTC_NOT_CONNECTED",
        }
    }
}

impl fmt::Display for WebRtcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebRtcError::Certificate(why) => write!(f, "certificate: {why}"),
            WebRtcError::Fingerprint(why) => write!(f, "fingerprint: {why}"),
            WebRtcError::IceCredentials(why) => write!(f, "ICE credentials: {why}"),
            WebRtcError::Dtls(why) => write!(f, "DTLS: {why}"),
            WebRtcError::FingerprintMismatch => write!(f, "the peer's DTLS certificate does not match its SDP fingerprint"),
            WebRtcError::SrtpProfile(why) => write!(f, "SRTP profile: {why}"),
            WebRtcError::Srtp(why) => write!(f, "SRTP: {why}"),
            WebRtcError::NotConnected => write!(f, "the peer is not connected"),
        }
    }
}

impl std::error::Error for WebRtcError {}
