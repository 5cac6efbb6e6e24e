//! `RtmpSession`: one RTMP connection's protocol state, fed once per socket read.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;
use sluice_rtmp::chunk::{encode_standalone, DecoderLimits};
use sluice_rtmp::command::Command;
use sluice_rtmp::control::UserControlEvent;
use sluice_rtmp::flv::{AudioTagHeader, VideoTagHeader};
use sluice_rtmp::handshake::HandshakeKind;
use sluice_rtmp::message::{AUDIO, VIDEO};
use sluice_rtmp::session::{Role, Session, SessionConfig, SessionEvent};

use crate::amf::{from_json, to_json};

/// Number of u32 slots per media message in `RtmpFeedResult.mediaIndex`.
pub const MEDIA_INDEX_STRIDE: usize = 7;
/// Media flag: keyframe (video frame type 1).
pub const FLAG_KEYFRAME: u32 = 1;
/// Media flag: sequence header (AVC/HEVC decoder configuration record, AAC AudioSpecificConfig).
pub const FLAG_SEQUENCE_HEADER: u32 = 2;

/// Options of an `RtmpSession`.
#[napi(object)]
pub struct RtmpSessionOptions {
    /// `"server"` (default) or `"client"`.
    pub role: Option<String>,
    /// Client only: `"complex"` (digest, default) or `"simple"` handshake.
    pub handshake: Option<String>,
    /// Largest chunk size (bytes) the peer may set. Default 65 536.
    pub max_chunk_size: Option<u32>,
    /// Largest message length (bytes) the peer may announce. Default 8 MiB.
    pub max_message_size: Option<u32>,
    /// Most bytes of partial messages held at once. Default 32 MiB.
    pub max_buffered: Option<u32>,
    /// Handshake time field (ms). Default 0.
    pub epoch_ms: Option<u32>,
}

/// A non-media event, in arrival order.
#[napi(object)]
pub struct RtmpEvent {
    /// `handshake`, `command`, `data`, `userControl`, `acknowledgement`, `windowAckSize`,
    /// `peerBandwidth`, `chunkSize` or `other`.
    pub kind: String,
    /// How many media messages of the same read came before this event.
    pub media_before: u32,
    /// Message stream id (commands, data, other).
    pub message_stream_id: Option<u32>,
    /// Timestamp in ms (commands, data, other).
    pub timestamp: Option<u32>,
    /// Command name, or `"simple"`/`"complex"` for `handshake`.
    pub name: Option<String>,
    /// Command transaction id.
    pub transaction_id: Option<f64>,
    /// Command object (AMF0 object as a JS object, or null).
    pub command_object: Option<Value>,
    /// Command arguments after the command object, or the values of a data message.
    pub values: Option<Vec<Value>>,
    /// User control event type (0 StreamBegin … 7 PingResponse), or message type id for `other`.
    pub event_type: Option<u32>,
    /// Acknowledgement sequence number, window size, chunk size, or the user control value.
    pub value: Option<f64>,
    /// Second value: SetBufferLength's buffer length (ms), Set Peer Bandwidth's limit type.
    pub value2: Option<f64>,
}

/// Everything one socket read produced.
#[napi(object)]
pub struct RtmpFeedResult {
    /// Bytes to write to the socket now (handshake replies, acknowledgements, ping responses).
    pub transmit: Option<Buffer>,
    /// Audio and video message payloads of this read, concatenated.
    pub media: Option<Buffer>,
    /// 7 u32 per media message: typeId (8/9), messageStreamId, timestamp (ms), offset and length
    /// in `media`, flags (1 keyframe, 2 sequence header), composition time (ms, signed 32-bit).
    pub media_index: Option<Uint32Array>,
    /// Non-media events in arrival order.
    pub events: Vec<RtmpEvent>,
    /// Set when the input was malformed: a stable code (`RTMP_CHUNK_MALFORMED`, ...). Everything
    /// before the fault is still returned above; the session must then be closed.
    pub error_code: Option<String>,
    /// Human-readable reason for `errorCode`.
    pub error_message: Option<String>,
}

/// One RTMP connection (client or server side), sans-IO: feed it socket bytes, write what it
/// returns. See `crates/rtmp/src/session.rs` for the protocol behaviour.
#[napi]
pub struct RtmpSession {
    inner: Session,
}

fn event(kind: &str, media_before: u32) -> RtmpEvent {
    RtmpEvent {
        kind: kind.to_string(),
        media_before,
        message_stream_id: None,
        timestamp: None,
        name: None,
        transaction_id: None,
        command_object: None,
        values: None,
        event_type: None,
        value: None,
        value2: None,
    }
}

fn media_flags(type_id: u8, payload: &[u8]) -> (u32, i32) {
    if type_id == VIDEO {
        match VideoTagHeader::parse(payload) {
            Some(h) => {
                let mut flags = 0;
                if h.is_keyframe() && !h.is_sequence_header {
                    flags |= FLAG_KEYFRAME;
                }
                if h.is_sequence_header {
                    flags |= FLAG_SEQUENCE_HEADER;
                }
                (flags, h.composition_time)
            }
            None => (0, 0),
        }
    } else {
        match AudioTagHeader::parse(payload) {
            Some(h) if h.is_sequence_header => (FLAG_SEQUENCE_HEADER, 0),
            _ => (0, 0),
        }
    }
}

fn random_1528() -> [u8; 1528] {
    let mut r = [0u8; 1528];
    // The OS RNG only fails on platforms Node does not run on; zeros still complete a handshake.
    let _ = getrandom::getrandom(&mut r);
    r
}

#[napi]
impl RtmpSession {
    /// Creates a session. A client session has C0+C1 ready in `takeTransmit()`.
    #[napi(constructor)]
    pub fn new(options: Option<RtmpSessionOptions>) -> Result<Self> {
        let o = options.unwrap_or(RtmpSessionOptions {
            role: None,
            handshake: None,
            max_chunk_size: None,
            max_message_size: None,
            max_buffered: None,
            epoch_ms: None,
        });
        let defaults = DecoderLimits::default();
        let limits = DecoderLimits {
            max_chunk_size: o.max_chunk_size.unwrap_or(defaults.max_chunk_size),
            max_message_size: o.max_message_size.unwrap_or(defaults.max_message_size),
            max_buffered: o.max_buffered.map_or(defaults.max_buffered, |v| v as usize),
        };
        let role = match o.role.as_deref() {
            None | Some("server") => Role::Server,
            Some("client") => Role::Client(match o.handshake.as_deref() {
                Some("simple") => HandshakeKind::Simple,
                _ => HandshakeKind::Complex,
            }),
            Some(other) => {
                return Err(Error::new(
                    Status::InvalidArg,
                    format!("role must be \"server\" or \"client\", not {other:?}"),
                ))
            }
        };
        let config = SessionConfig { limits };
        Ok(RtmpSession {
            inner: Session::new(role, config, random_1528(), o.epoch_ms.unwrap_or(0)),
        })
    }

    /// Feeds one socket read. Never throws for malformed input: see `errorCode`.
    #[napi]
    pub fn feed(&mut self, data: &[u8]) -> RtmpFeedResult {
        let result = self.inner.handle_input(data);
        let mut pending = Vec::new();
        let mut media_len = 0;
        while let Some(e) = self.inner.poll_event() {
            if let SessionEvent::Media { payload, .. } = &e {
                media_len += payload.len();
            }
            pending.push(e);
        }
        let mut media: Vec<u8> = Vec::with_capacity(media_len);
        let mut index: Vec<u32> = Vec::new();
        let mut events = Vec::new();
        for e in pending {
            let before = (index.len() / MEDIA_INDEX_STRIDE) as u32;
            match e {
                SessionEvent::Media {
                    type_id,
                    message_stream_id,
                    timestamp,
                    payload,
                } => {
                    let (flags, cts) = media_flags(type_id, &payload);
                    index.extend_from_slice(&[
                        type_id as u32,
                        message_stream_id,
                        timestamp,
                        media.len() as u32,
                        payload.len() as u32,
                        flags,
                        cts as u32,
                    ]);
                    media.extend_from_slice(&payload);
                }
                SessionEvent::HandshakeDone { kind } => {
                    let mut ev = event("handshake", before);
                    ev.name = Some(match kind {
                        HandshakeKind::Simple => "simple".into(),
                        HandshakeKind::Complex => "complex".into(),
                    });
                    events.push(ev);
                }
                SessionEvent::Command {
                    message_stream_id,
                    timestamp,
                    command,
                } => {
                    let mut ev = event("command", before);
                    ev.message_stream_id = Some(message_stream_id);
                    ev.timestamp = Some(timestamp);
                    ev.transaction_id = Some(command.transaction_id);
                    ev.command_object = Some(to_json(&command.command_object));
                    ev.values = Some(command.arguments.iter().map(to_json).collect());
                    ev.name = Some(command.name);
                    events.push(ev);
                }
                SessionEvent::Data {
                    message_stream_id,
                    timestamp,
                    values,
                } => {
                    let mut ev = event("data", before);
                    ev.message_stream_id = Some(message_stream_id);
                    ev.timestamp = Some(timestamp);
                    ev.values = Some(values.iter().map(to_json).collect());
                    events.push(ev);
                }
                SessionEvent::UserControl(u) => {
                    let mut ev = event("userControl", before);
                    let (t, v, v2) = match u {
                        UserControlEvent::StreamBegin(v) => (0, v, None),
                        UserControlEvent::StreamEof(v) => (1, v, None),
                        UserControlEvent::StreamDry(v) => (2, v, None),
                        UserControlEvent::SetBufferLength {
                            stream_id,
                            buffer_ms,
                        } => (3, stream_id, Some(buffer_ms)),
                        UserControlEvent::StreamIsRecorded(v) => (4, v, None),
                        UserControlEvent::PingRequest(v) => (6, v, None),
                        UserControlEvent::PingResponse(v) => (7, v, None),
                        UserControlEvent::Other { event_type, value } => {
                            (event_type as u32, value, None)
                        }
                        _ => (u32::MAX, 0, None),
                    };
                    ev.event_type = Some(t);
                    ev.value = Some(v as f64);
                    ev.value2 = v2.map(|x| x as f64);
                    events.push(ev);
                }
                SessionEvent::Acknowledgement(v) => {
                    let mut ev = event("acknowledgement", before);
                    ev.value = Some(v as f64);
                    events.push(ev);
                }
                SessionEvent::WindowAckSize(v) => {
                    let mut ev = event("windowAckSize", before);
                    ev.value = Some(v as f64);
                    events.push(ev);
                }
                SessionEvent::PeerBandwidth { size, limit_type } => {
                    let mut ev = event("peerBandwidth", before);
                    ev.value = Some(size as f64);
                    ev.value2 = Some(limit_type as f64);
                    events.push(ev);
                }
                SessionEvent::ChunkSize(v) => {
                    let mut ev = event("chunkSize", before);
                    ev.value = Some(v as f64);
                    events.push(ev);
                }
                SessionEvent::Other(m) => {
                    let mut ev = event("other", before);
                    ev.event_type = Some(m.type_id as u32);
                    ev.message_stream_id = Some(m.message_stream_id);
                    ev.timestamp = Some(m.timestamp);
                    events.push(ev);
                }
                _ => {}
            }
        }
        let (error_code, error_message) = match result {
            Ok(()) => (None, None),
            Err(e) => (Some(e.code().to_string()), Some(e.to_string())),
        };
        RtmpFeedResult {
            transmit: self.take_transmit(),
            media: (!index.is_empty()).then(|| media.into()),
            media_index: (!index.is_empty()).then(|| Uint32Array::new(index)),
            events,
            error_code,
            error_message,
        }
    }

    /// Bytes queued by `send*` calls since the last call, or null.
    #[napi]
    pub fn take_transmit(&mut self) -> Option<Buffer> {
        let out = self.inner.take_transmit();
        (!out.is_empty()).then(|| out.into())
    }

    /// Whether the handshake has completed.
    #[napi(getter)]
    pub fn handshake_done(&self) -> bool {
        self.inner.is_handshake_done()
    }

    /// Total bytes received.
    #[napi(getter)]
    pub fn bytes_received(&self) -> f64 {
        self.inner.bytes_received() as f64
    }

    /// Our outgoing chunk size in bytes.
    #[napi(getter)]
    pub fn chunk_size(&self) -> u32 {
        self.inner.chunk_size()
    }

    /// The peer's chunk size in bytes.
    #[napi(getter)]
    pub fn peer_chunk_size(&self) -> u32 {
        self.inner.peer_chunk_size()
    }

    /// Queues one message (chunked with the smallest fmt). `timestamp` in ms.
    #[napi]
    pub fn send_message(
        &mut self,
        csid: u32,
        timestamp: u32,
        type_id: u32,
        message_stream_id: u32,
        payload: &[u8],
    ) {
        self.inner
            .send_message(csid, timestamp, type_id as u8, message_stream_id, payload);
    }

    /// Queues a type-20 command: name, transaction id, command object, then arguments.
    #[napi]
    pub fn send_command(
        &mut self,
        message_stream_id: u32,
        name: String,
        transaction_id: f64,
        command_object: Value,
        arguments: Option<Vec<Value>>,
    ) {
        let command = Command {
            name,
            transaction_id,
            command_object: from_json(&command_object),
            arguments: arguments
                .unwrap_or_default()
                .iter()
                .map(from_json)
                .collect(),
        };
        self.inner.send_command(message_stream_id, &command);
    }

    /// Queues a type-18 data message with these AMF0 values.
    #[napi]
    pub fn send_data(&mut self, message_stream_id: u32, timestamp: u32, values: Vec<Value>) {
        let values: Vec<_> = values.iter().map(from_json).collect();
        self.inner.send_data(message_stream_id, timestamp, &values);
    }

    /// Queues a user control event (RTMP 1.0 §7.1.7): type 0 StreamBegin, 1 StreamEOF,
    /// 2 StreamDry, 3 SetBufferLength (value2 = buffer ms), 4 StreamIsRecorded, 6 PingRequest,
    /// 7 PingResponse.
    #[napi]
    pub fn send_user_control(&mut self, event_type: u32, value: u32, value2: Option<u32>) {
        let e = match event_type {
            0 => UserControlEvent::StreamBegin(value),
            1 => UserControlEvent::StreamEof(value),
            2 => UserControlEvent::StreamDry(value),
            3 => UserControlEvent::SetBufferLength {
                stream_id: value,
                buffer_ms: value2.unwrap_or(0),
            },
            4 => UserControlEvent::StreamIsRecorded(value),
            6 => UserControlEvent::PingRequest(value),
            7 => UserControlEvent::PingResponse(value),
            t => UserControlEvent::Other {
                event_type: t as u16,
                value,
            },
        };
        self.inner.send_user_control(e);
    }

    /// Queues Set Chunk Size and uses it for what follows (bytes).
    #[napi]
    pub fn set_chunk_size(&mut self, size: u32) {
        self.inner.set_chunk_size(size);
    }

    /// Queues Window Acknowledgement Size (bytes).
    #[napi]
    pub fn send_window_ack_size(&mut self, size: u32) {
        self.inner.send_window_ack_size(size);
    }

    /// Queues Set Peer Bandwidth (bytes; limit type 0 hard, 1 soft, 2 dynamic).
    #[napi]
    pub fn send_peer_bandwidth(&mut self, size: u32, limit_type: u32) {
        self.inner.send_peer_bandwidth(size, limit_type as u8);
    }
}

/// Muxes one message without per-connection state (fmt 0 then fmt 3 chunks of `chunkSize`
/// bytes), so the same bytes can be written to every player whose outgoing chunk size is
/// `chunkSize`. `timestamp` in ms.
#[napi(js_name = "muxMessage")]
pub fn mux_message(
    csid: u32,
    timestamp: u32,
    type_id: u32,
    message_stream_id: u32,
    payload: &[u8],
    chunk_size: u32,
) -> Buffer {
    let mut out = Vec::new(); // sized exactly by encode_standalone
    encode_standalone(
        csid,
        timestamp,
        type_id as u8,
        message_stream_id,
        payload,
        chunk_size,
        &mut out,
    );
    out.into()
}

/// Media type ids, re-exported for TS.
#[napi]
pub const RTMP_AUDIO: u32 = AUDIO as u32;
/// Video message type id.
#[napi]
pub const RTMP_VIDEO: u32 = VIDEO as u32;
