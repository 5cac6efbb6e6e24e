//! Protocol control messages (RTMP 1.0 §5.4) and user control events (§6.2, §7.1.7):
//! parsing and the payload bytes to send.

use crate::error::RtmpError;

/// User control event (type 4 message): u16 BE event type, then event data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserControlEvent {
    /// 0: the stream (u32 message stream id) became functional.
    StreamBegin(u32),
    /// 1: playback of the stream ended.
    StreamEof(u32),
    /// 2: no more data on the stream.
    StreamDry(u32),
    /// 3: the client's buffer length for a stream (stream id, buffer in ms).
    SetBufferLength {
        /// Message stream id.
        stream_id: u32,
        /// Buffer length in milliseconds.
        buffer_ms: u32,
    },
    /// 4: the stream is a recorded one.
    StreamIsRecorded(u32),
    /// 6: ping request with the sender's timestamp (ms).
    PingRequest(u32),
    /// 7: ping response echoing the request's timestamp (ms).
    PingResponse(u32),
    /// Any other event type, with its data.
    Other {
        /// Event type.
        event_type: u16,
        /// First 4 bytes of event data (0 when shorter).
        value: u32,
    },
}

impl UserControlEvent {
    /// Parses a type-4 payload. Errors when it is shorter than 6 bytes (10 for SetBufferLength).
    pub fn parse(p: &[u8]) -> Result<Self, RtmpError> {
        let too_short = || RtmpError::ControlMessageTooShort {
            type_id: crate::message::USER_CONTROL,
            length: p.len(),
        };
        let (Some(t), Some(v)) = (p.get(0..2), p.get(2..6)) else {
            return Err(too_short());
        };
        let event_type = u16::from_be_bytes([t[0], t[1]]);
        let value = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
        Ok(match event_type {
            0 => UserControlEvent::StreamBegin(value),
            1 => UserControlEvent::StreamEof(value),
            2 => UserControlEvent::StreamDry(value),
            3 => {
                let b = p.get(6..10).ok_or_else(too_short)?;
                UserControlEvent::SetBufferLength {
                    stream_id: value,
                    buffer_ms: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
                }
            }
            4 => UserControlEvent::StreamIsRecorded(value),
            6 => UserControlEvent::PingRequest(value),
            7 => UserControlEvent::PingResponse(value),
            _ => UserControlEvent::Other { event_type, value },
        })
    }

    /// The event's fields as they go on the wire (RTMP 1.0 §7.1.7): event type, first value
    /// (usually a message stream id) and, for SetBufferLength, the buffer length in ms.
    pub fn fields(&self) -> (u16, u32, Option<u32>) {
        match *self {
            UserControlEvent::StreamBegin(v) => (0u16, v, None),
            UserControlEvent::StreamEof(v) => (1, v, None),
            UserControlEvent::StreamDry(v) => (2, v, None),
            UserControlEvent::SetBufferLength {
                stream_id,
                buffer_ms,
            } => (3, stream_id, Some(buffer_ms)),
            UserControlEvent::StreamIsRecorded(v) => (4, v, None),
            UserControlEvent::PingRequest(v) => (6, v, None),
            UserControlEvent::PingResponse(v) => (7, v, None),
            UserControlEvent::Other { event_type, value } => (event_type, value, None),
        }
    }

    /// The type-4 payload bytes of this event.
    pub fn to_payload(&self) -> Vec<u8> {
        let (event_type, value, extra) = self.fields();
        let mut out = Vec::with_capacity(10);
        out.extend_from_slice(&event_type.to_be_bytes());
        out.extend_from_slice(&value.to_be_bytes());
        if let Some(x) = extra {
            out.extend_from_slice(&x.to_be_bytes());
        }
        out
    }
}

/// Reads the u32 BE that starts a protocol control payload (types 1, 2, 3, 5, 6).
pub fn read_u32(type_id: u8, p: &[u8]) -> Result<u32, RtmpError> {
    match p.get(0..4) {
        Some(b) => Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(RtmpError::ControlMessageTooShort {
            type_id,
            length: p.len(),
        }),
    }
}
