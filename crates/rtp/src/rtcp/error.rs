//! [`RtcpError`]: why one RTCP packet of a compound packet was not read.

use std::fmt;

/// Why a part of a compound RTCP packet was not read. Parsing stops there: RFC 3550 §6.1 gives
/// no way to find the next packet after a broken length, so what came before is kept and the
/// rest is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtcpError {
    /// Fewer than the 4-byte common header, or than the header's length field says, or than
    /// the packet type's fixed part (the text names it).
    TooShort(&'static str),
    /// Version not 2 (RFC 3550 §6.4.1).
    BadVersion(u8),
    /// A count or length inside the packet that does not fit it (the text names it).
    Malformed(&'static str),
    /// The padding count (last byte, P bit set) is 0 or larger than the packet.
    BadPadding,
    /// A packet to write does not fit RTCP's fields (more than 31 report blocks or SSRCs, an
    /// SDES item over 255 bytes, a packet over 65 535 words...).
    TooLarge(&'static str),
}

impl RtcpError {
    /// A stable code for logs and the N-API layer, e.g. `RTCP_MALFORMED`.
    pub fn code(&self) -> &'static str {
        match self {
            RtcpError::TooShort(_) => "RTCP_TOO_SHORT",
            RtcpError::BadVersion(_) => "RTCP_BAD_VERSION",
            RtcpError::Malformed(_) => "RTCP_MALFORMED",
            RtcpError::BadPadding => "RTCP_BAD_PADDING",
            RtcpError::TooLarge(_) => "RTCP_TOO_LARGE",
        }
    }
}

impl fmt::Display for RtcpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RtcpError::TooShort(what) => write!(f, "RTCP packet too short: {what}"),
            RtcpError::BadVersion(v) => write!(f, "RTCP version {v}, not 2"),
            RtcpError::Malformed(what) => write!(f, "malformed RTCP packet: {what}"),
            RtcpError::BadPadding => write!(f, "RTCP padding count out of range"),
            RtcpError::TooLarge(what) => write!(f, "RTCP packet to write too large: {what}"),
        }
    }
}

impl std::error::Error for RtcpError {}
