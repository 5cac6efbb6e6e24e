//! The crate's error type: one enum, every variant documented.

use std::fmt;

use crate::handshake::HandshakeError;

/// Everything that can go wrong in an RTMP session. Each error closes the one session it
/// came from; the caller logs [`RtmpError::code`] and the `Display` text.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RtmpError {
    /// The handshake (RTMP 1.0 §5.2) failed, e.g. C0 named a version other than 3.
    Handshake(HandshakeError),
    /// The peer announced a chunk size (RTMP 1.0 §5.4.1) of 0, with the reserved top bit set, or
    /// above the configured maximum.
    ChunkSizeOutOfRange {
        /// The announced chunk size in bytes.
        requested: u32,
        /// The configured maximum in bytes.
        max: u32,
    },
    /// A message header announced a message length above the configured maximum.
    MessageTooLarge {
        /// The announced length in bytes.
        length: u32,
        /// The configured maximum in bytes.
        max: u32,
    },
    /// Partial messages across all chunk streams would buffer more than the configured limit.
    TooMuchBuffered {
        /// Bytes that would be buffered.
        buffered: usize,
        /// The configured limit in bytes.
        max: usize,
    },
    /// A fmt 1, 2 or 3 chunk arrived on a chunk stream that never had a fmt 0 header
    /// (RTMP 1.0 §5.3.1.2), so its message header cannot be completed.
    MissingPreviousHeader {
        /// The chunk stream id.
        csid: u32,
        /// The chunk's fmt (1, 2 or 3).
        fmt: u8,
    },
    /// A chunk header changed the length, type or stream of a message whose chunks were still
    /// arriving.
    HeaderChangedMidMessage {
        /// The chunk stream id.
        csid: u32,
    },
    /// A protocol control message (RTMP 1.0 §5.4) or user control event (§6.2) was shorter
    /// than its fixed layout.
    ControlMessageTooShort {
        /// The message type id.
        type_id: u8,
        /// Its payload length in bytes.
        length: usize,
    },
    /// An AMF0/AMF3 command or data message did not decode.
    Amf(sluice_amf0::Amf0Error),
    /// A command message did not start with a command name (string) and transaction id (number).
    MalformedCommand(String),
    /// An aggregate message (type 22) held a sub-message that ran past its end.
    MalformedAggregate,
    /// A call that needs the handshake to be complete came before it.
    HandshakeNotDone,
}

impl RtmpError {
    /// A stable domain code for logs and for JS error classes (`ts/errors.ts`).
    pub fn code(&self) -> &'static str {
        match self {
            RtmpError::Handshake(_) => "RTMP_HANDSHAKE_FAILED",
            RtmpError::ChunkSizeOutOfRange { .. } => "RTMP_CHUNK_SIZE_OUT_OF_RANGE",
            RtmpError::MessageTooLarge { .. } => "RTMP_MESSAGE_TOO_LARGE",
            RtmpError::TooMuchBuffered { .. } => "RTMP_TOO_MUCH_BUFFERED",
            RtmpError::MissingPreviousHeader { .. } | RtmpError::HeaderChangedMidMessage { .. } => {
                "RTMP_CHUNK_MALFORMED"
            }
            RtmpError::ControlMessageTooShort { .. } => "RTMP_CONTROL_MALFORMED",
            RtmpError::Amf(_) => "RTMP_AMF_MALFORMED",
            RtmpError::MalformedCommand(_) => "RTMP_COMMAND_MALFORMED",
            RtmpError::MalformedAggregate => "RTMP_AGGREGATE_MALFORMED",
            RtmpError::HandshakeNotDone => "RTMP_HANDSHAKE_NOT_DONE",
        }
    }
}

impl fmt::Display for RtmpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RtmpError::Handshake(e) => write!(f, "handshake failed: {e}"),
            RtmpError::ChunkSizeOutOfRange { requested, max } => {
                write!(f, "peer chunk size {requested} outside 1..={max}")
            }
            RtmpError::MessageTooLarge { length, max } => {
                write!(f, "message length {length} exceeds maximum {max}")
            }
            RtmpError::TooMuchBuffered { buffered, max } => {
                write!(f, "{buffered} bytes of partial messages exceed limit {max}")
            }
            RtmpError::MissingPreviousHeader { csid, fmt } => {
                write!(
                    f,
                    "fmt {fmt} chunk on csid {csid} without a previous fmt 0 header"
                )
            }
            RtmpError::HeaderChangedMidMessage { csid } => {
                write!(
                    f,
                    "chunk header on csid {csid} changed in the middle of a message"
                )
            }
            RtmpError::ControlMessageTooShort { type_id, length } => {
                write!(
                    f,
                    "control message type {type_id} too short ({length} bytes)"
                )
            }
            RtmpError::Amf(e) => write!(f, "AMF decode failed: {e}"),
            RtmpError::MalformedCommand(why) => write!(f, "malformed command: {why}"),
            RtmpError::MalformedAggregate => write!(f, "malformed aggregate message"),
            RtmpError::HandshakeNotDone => write!(f, "handshake not complete"),
        }
    }
}

impl std::error::Error for RtmpError {}

impl From<HandshakeError> for RtmpError {
    fn from(e: HandshakeError) -> Self {
        RtmpError::Handshake(e)
    }
}

impl From<sluice_amf0::Amf0Error> for RtmpError {
    fn from(e: sluice_amf0::Amf0Error) -> Self {
        RtmpError::Amf(e)
    }
}
