//! The crate's error type: one enum, every variant documented.

use std::fmt;

/// Everything that can go wrong reading or writing RTP. Parse errors concern one packet and
/// one packetize error concerns one frame: nothing is emitted for that frame and the
/// packetizer's state (sequence number) is left as it was, so the caller may log
/// [`RtpError::code`] and go on with the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtpError {
    /// The packet ended before a header field it announces (RFC 3550 §5.1: the 12-byte fixed
    /// header, `CC` CSRCs, the §5.3.1 extension header or its data).
    PacketTooShort {
        /// Bytes the header needs so far.
        needed: usize,
        /// Bytes the packet has.
        length: usize,
    },
    /// The version field (RFC 3550 §5.1, top two bits) was not 2.
    UnsupportedVersion {
        /// The version found (0, 1 or 3).
        version: u8,
    },
    /// The P bit was set but the padding count in the last byte (RFC 3550 §5.1) was 0 or
    /// larger than the bytes after the header.
    InvalidPadding {
        /// The padding count (last byte of the packet).
        count: u8,
        /// Bytes after the header, padding included.
        available: usize,
    },
    /// An RFC 8285 one-byte or two-byte header extension element ran past the end of the
    /// extension data.
    MalformedExtensionElement {
        /// Offset of the element within the extension data, in bytes.
        offset: usize,
    },
    /// Header extension data to write was not a whole number of 32-bit words or longer than
    /// 65 535 words (RFC 3550 §5.3.1).
    InvalidExtensionLength {
        /// The length in bytes.
        length: usize,
    },
    /// More than 15 CSRCs (the 4-bit `CC` field, RFC 3550 §5.1).
    TooManyCsrcs {
        /// The number of CSRCs given.
        count: usize,
    },
    /// The destination buffer was too small for what was to be written.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// A payload type above 127 (it is a 7-bit field, RFC 3550 §5.1).
    InvalidPayloadType {
        /// The payload type given.
        payload_type: u8,
    },
    /// An MTU outside what a packetizer supports.
    MtuOutOfRange {
        /// The MTU given, in bytes (the largest RTP packet, header included).
        mtu: usize,
        /// The smallest MTU supported, in bytes.
        min: usize,
        /// The largest MTU supported, in bytes.
        max: usize,
    },
    /// An AVCC NAL unit length size other than 1, 2 or 4 bytes (ISO/IEC 14496-15 §5.2.4.1,
    /// `lengthSizeMinusOne` + 1; 3 is not allowed).
    InvalidNaluLengthSize {
        /// The size given, in bytes.
        size: u8,
    },
    /// An AVCC access unit's length prefix, or the NAL unit it announces, ran past the end of
    /// the access unit.
    MalformedAvcc {
        /// Offset of the length prefix within the access unit, in bytes.
        offset: usize,
        /// Bytes the prefix (and its NAL unit) need from `offset`.
        needed: usize,
        /// Bytes left from `offset`.
        available: usize,
    },
    /// A frame of zero bytes where the payload format needs at least one (an Opus packet has at
    /// least its TOC byte, RFC 6716 §3.1).
    EmptyFrame,
    /// A frame that the payload format cannot split is larger than the MTU allows.
    PayloadTooLarge {
        /// The frame size in bytes.
        size: usize,
        /// The largest payload that fits the MTU, in bytes.
        max: usize,
    },
    /// A payload whose structure (aggregation sizes, fragment headers, AU headers) runs past
    /// its end or contradicts itself, e.g. an H.264 STAP-A size past the packet (RFC 6184
    /// §5.7.1), an FU-A continuation without its start (§5.8), RFC 3640 AU headers longer than
    /// the payload.
    MalformedPayload {
        /// Offset in the payload where the structure broke, in bytes.
        offset: usize,
    },
    /// A payload structure this depacketizer does not handle, e.g. H.264 interleaved-mode
    /// STAP-B, MTAP or FU-B (RFC 6184 types 25–27, 29).
    UnsupportedPayload {
        /// The payload's type field (the NAL unit type for H.264).
        kind: u8,
    },
    /// A [`PacketBatch`](crate::packetizer::PacketBatch) would exceed 4 GiB, the range of its
    /// `u32` end offsets.
    BatchTooLarge,
}

impl RtpError {
    /// A stable domain code for logs and for JS error classes (`ts/errors.ts`).
    pub fn code(&self) -> &'static str {
        match self {
            RtpError::PacketTooShort { .. }
            | RtpError::UnsupportedVersion { .. }
            | RtpError::InvalidPadding { .. } => "RTP_PACKET_MALFORMED",
            RtpError::MalformedExtensionElement { .. } => "RTP_EXTENSION_MALFORMED",
            RtpError::InvalidExtensionLength { .. }
            | RtpError::TooManyCsrcs { .. }
            | RtpError::InvalidPayloadType { .. }
            | RtpError::MtuOutOfRange { .. }
            | RtpError::InvalidNaluLengthSize { .. } => "RTP_INVALID_ARGUMENT",
            RtpError::BufferTooSmall { .. } => "RTP_BUFFER_TOO_SMALL",
            RtpError::MalformedAvcc { .. } => "RTP_AVCC_MALFORMED",
            RtpError::EmptyFrame => "RTP_FRAME_EMPTY",
            RtpError::PayloadTooLarge { .. } => "RTP_PAYLOAD_TOO_LARGE",
            RtpError::BatchTooLarge => "RTP_BATCH_TOO_LARGE",
            RtpError::MalformedPayload { .. } => "RTP_PAYLOAD_MALFORMED",
            RtpError::UnsupportedPayload { .. } => "RTP_PAYLOAD_UNSUPPORTED",
        }
    }
}

impl fmt::Display for RtpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RtpError::PacketTooShort { needed, length } => {
                write!(f, "RTP packet of {length} bytes is shorter than its header ({needed} bytes)")
            }
            RtpError::UnsupportedVersion { version } => {
                write!(f, "RTP version {version}, expected 2")
            }
            RtpError::InvalidPadding { count, available } => {
                write!(f, "RTP padding count {count} invalid with {available} bytes after the header")
            }
            RtpError::MalformedExtensionElement { offset } => {
                write!(f, "RTP header extension element at offset {offset} runs past the extension")
            }
            RtpError::InvalidExtensionLength { length } => write!(
                f,
                "RTP header extension of {length} bytes is not a whole number of 32-bit words up to 65535"
            ),
            RtpError::TooManyCsrcs { count } => write!(f, "{count} CSRCs, at most 15"),
            RtpError::BufferTooSmall { needed, available } => {
                write!(f, "buffer of {available} bytes, {needed} needed")
            }
            RtpError::InvalidPayloadType { payload_type } => {
                write!(f, "payload type {payload_type} outside 0..=127")
            }
            RtpError::MtuOutOfRange { mtu, min, max } => {
                write!(f, "MTU {mtu} outside {min}..={max} bytes")
            }
            RtpError::InvalidNaluLengthSize { size } => {
                write!(f, "NAL unit length size {size}, expected 1, 2 or 4 bytes")
            }
            RtpError::MalformedAvcc { offset, needed, available } => write!(
                f,
                "AVCC NAL unit at offset {offset} needs {needed} bytes, {available} left"
            ),
            RtpError::EmptyFrame => write!(f, "empty frame"),
            RtpError::PayloadTooLarge { size, max } => {
                write!(f, "frame of {size} bytes exceeds the largest payload of {max} bytes")
            }
            RtpError::BatchTooLarge => write!(f, "packet batch would exceed 4 GiB"),
            RtpError::MalformedPayload { offset } => {
                write!(f, "RTP payload structure broken at offset {offset}")
            }
            RtpError::UnsupportedPayload { kind } => {
                write!(f, "RTP payload type field {kind} is not supported")
            }
        }
    }
}

impl std::error::Error for RtpError {}
