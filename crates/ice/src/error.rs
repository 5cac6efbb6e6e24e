use std::fmt;

/// Why a datagram was not taken as a STUN message, or why a request was refused.
///
/// Every error leaves the agent as it was: a rejected datagram never selects a pair, refreshes
/// consent or changes a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StunError {
    /// Shorter than the 20-byte header, or than the header's message length says.
    TooShort,
    /// Longer than [`MAX_MESSAGE_LEN`](crate::MAX_MESSAGE_LEN), or than the header says.
    TooLong,
    /// Not a STUN message: the first two bits are not 0, or the magic cookie is wrong
    /// (RFC 8489 §5).
    NotStun,
    /// A STUN message whose structure is broken (the text says where): a message length that
    /// is not a multiple of 4, an attribute running past the end, an attribute after
    /// FINGERPRINT, a non-FINGERPRINT attribute after MESSAGE-INTEGRITY (RFC 8489 §14.5), an
    /// attribute of the wrong size.
    Malformed(&'static str),
    /// The FINGERPRINT attribute does not match the message (RFC 8489 §14.7).
    BadFingerprint,
    /// MESSAGE-INTEGRITY is absent, or does not verify with the key (RFC 8489 §9.1.3).
    BadIntegrity,
    /// A binding request without USERNAME, or whose USERNAME is not `local:remote` with this
    /// agent's ufrag first (RFC 8445 §7.2.2).
    BadUsername,
    /// An option given to a constructor is out of range (the text says which).
    InvalidOption(&'static str),
}

impl StunError {
    /// A stable code for logs and the N-API layer, e.g. `STUN_BAD_INTEGRITY`.
    pub fn code(&self) -> &'static str {
        match self {
            StunError::TooShort => "STUN_TOO_SHORT",
            StunError::TooLong => "STUN_TOO_LONG",
            StunError::NotStun => "STUN_NOT_STUN",
            StunError::Malformed(_) => "STUN_MALFORMED",
            StunError::BadFingerprint => "STUN_BAD_FINGERPRINT",
            StunError::BadIntegrity => "STUN_BAD_INTEGRITY",
            StunError::BadUsername => "STUN_BAD_USERNAME",
            StunError::InvalidOption(_) => "STUN_INVALID_OPTION",
        }
    }
}

impl fmt::Display for StunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StunError::TooShort => write!(f, "STUN message too short"),
            StunError::TooLong => write!(
                f,
                "STUN message longer than its header says or than {} bytes",
                crate::MAX_MESSAGE_LEN
            ),
            StunError::NotStun => write!(f, "not a STUN message (first bits or magic cookie)"),
            StunError::Malformed(why) => write!(f, "malformed STUN message: {why}"),
            StunError::BadFingerprint => write!(f, "STUN FINGERPRINT does not match"),
            StunError::BadIntegrity => write!(f, "STUN MESSAGE-INTEGRITY missing or wrong"),
            StunError::BadUsername => write!(f, "STUN USERNAME missing or not for this agent"),
            StunError::InvalidOption(what) => write!(f, "invalid option: {what}"),
        }
    }
}

impl std::error::Error for StunError {}
