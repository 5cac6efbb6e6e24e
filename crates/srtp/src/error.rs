use std::fmt;

/// Why a packet was not protected or unprotected, or why a context could not be built.
///
/// Every error leaves the context's state as it was: a rejected packet never moves a rollover
/// counter or a replay window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SrtpError {
    /// The master key or master salt has the wrong length for the profile (bytes).
    InvalidKeyLength {
        /// Bytes the profile needs.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// An option is out of range (the text names it and the range).
    InvalidOption(&'static str),
    /// Unknown protection profile name.
    UnknownProfile,
    /// Shorter than the smallest packet of its kind (RTP: 12-byte header + tag; RTCP: 8-byte
    /// header, + 4-byte SRTCP index + tag when protected).
    TooShort,
    /// Longer than [`MAX_PACKET_LEN`](crate::MAX_PACKET_LEN).
    TooLong,
    /// Not RTP/RTCP version 2, or the CSRC list / header extension runs past the end.
    Malformed(&'static str),
    /// The caller's buffer has no room for the trailer (auth tag, SRTCP index).
    BufferTooSmall {
        /// Bytes the protected packet needs.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The authentication tag does not match (wrong key, tampered or truncated packet).
    AuthenticationFailed,
    /// The packet index was already received (RFC 3711 §3.3.2).
    ReplayDuplicate,
    /// The packet index is older than the replay window (RFC 3711 §3.3.2).
    ReplayOld,
    /// A packet for a new SSRC arrived while the context already tracks `max_ssrcs` streams.
    TooManySsrcs,
    /// The 48-bit SRTP index or 31-bit SRTCP index is used up: the master key must be
    /// replaced (RFC 3711 §9.2).
    IndexExhausted,
}

impl SrtpError {
    /// A stable code for logs and the N-API layer, e.g. `SRTP_AUTH_FAILED`.
    pub fn code(&self) -> &'static str {
        match self {
            SrtpError::InvalidKeyLength { .. } => "SRTP_INVALID_KEY_LENGTH",
            SrtpError::InvalidOption(_) => "SRTP_INVALID_OPTION",
            SrtpError::UnknownProfile => "SRTP_UNKNOWN_PROFILE",
            SrtpError::TooShort => "SRTP_TOO_SHORT",
            SrtpError::TooLong => "SRTP_TOO_LONG",
            SrtpError::Malformed(_) => "SRTP_MALFORMED",
            SrtpError::BufferTooSmall { .. } => "SRTP_BUFFER_TOO_SMALL",
            SrtpError::AuthenticationFailed => "SRTP_AUTH_FAILED",
            SrtpError::ReplayDuplicate => "SRTP_REPLAY_DUPLICATE",
            SrtpError::ReplayOld => "SRTP_REPLAY_OLD",
            SrtpError::TooManySsrcs => "SRTP_TOO_MANY_SSRCS",
            SrtpError::IndexExhausted => "SRTP_INDEX_EXHAUSTED",
        }
    }

    /// A small negative number per kind, for per-packet status arrays (0 means success):
    /// -1 auth failed, -2 replay duplicate, -3 replay old, -4 too short, -5 malformed,
    /// -6 too long, -7 buffer too small, -8 too many SSRCs, -9 index exhausted,
    /// -10 anything else (configuration errors).
    pub fn status(&self) -> i32 {
        match self {
            SrtpError::AuthenticationFailed => -1,
            SrtpError::ReplayDuplicate => -2,
            SrtpError::ReplayOld => -3,
            SrtpError::TooShort => -4,
            SrtpError::Malformed(_) => -5,
            SrtpError::TooLong => -6,
            SrtpError::BufferTooSmall { .. } => -7,
            SrtpError::TooManySsrcs => -8,
            SrtpError::IndexExhausted => -9,
            SrtpError::InvalidKeyLength { .. }
            | SrtpError::InvalidOption(_)
            | SrtpError::UnknownProfile => -10,
        }
    }

    /// True for [`ReplayDuplicate`](SrtpError::ReplayDuplicate) and
    /// [`ReplayOld`](SrtpError::ReplayOld).
    pub fn is_replay(&self) -> bool {
        matches!(self, SrtpError::ReplayDuplicate | SrtpError::ReplayOld)
    }
}

impl fmt::Display for SrtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SrtpError::InvalidKeyLength { expected, actual } => {
                write!(
                    f,
                    "key material is {actual} bytes, the profile needs {expected}"
                )
            }
            SrtpError::InvalidOption(what) => write!(f, "invalid option: {what}"),
            SrtpError::UnknownProfile => write!(f, "unknown SRTP protection profile"),
            SrtpError::TooShort => write!(f, "packet too short"),
            SrtpError::TooLong => write!(f, "packet longer than {} bytes", crate::MAX_PACKET_LEN),
            SrtpError::Malformed(why) => write!(f, "malformed packet: {why}"),
            SrtpError::BufferTooSmall { needed, available } => {
                write!(f, "buffer of {available} bytes cannot hold {needed}")
            }
            SrtpError::AuthenticationFailed => write!(f, "authentication failed"),
            SrtpError::ReplayDuplicate => write!(f, "replayed packet (index already received)"),
            SrtpError::ReplayOld => write!(f, "replayed packet (index older than the window)"),
            SrtpError::TooManySsrcs => write!(f, "too many SSRCs in one context"),
            SrtpError::IndexExhausted => write!(f, "packet index exhausted, rekey"),
        }
    }
}

impl std::error::Error for SrtpError {}
