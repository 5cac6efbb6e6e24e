//! Chunk stream mux (RTMP 1.0 §5.3.1): messages in, chunk bytes out.

use std::collections::HashMap;

use super::{DEFAULT_CHUNK_SIZE, EXTENDED_TIMESTAMP_MARK};

/// What the peer's decoder remembers of the last header sent on a chunk stream.
#[derive(Debug, Clone, Copy)]
struct PrevHeader {
    timestamp: u32,
    /// The delta a fmt 3 new message adds on the peer's side (after fmt 0: its timestamp field).
    delta: u32,
    length: u32,
    type_id: u8,
    message_stream_id: u32,
    /// The last fmt 0/1/2 header carried an extended timestamp with this value.
    extended: Option<u32>,
}

/// Splits messages into chunks for one connection, choosing the smallest fmt per chunk from
/// the previous header on each chunk stream: fmt 0 for a new stream id or a timestamp that goes
/// back, fmt 1 when only the delta is reusable, fmt 2 when length and type repeat, fmt 3 when
/// the delta repeats too.
#[derive(Debug)]
pub struct ChunkEncoder {
    chunk_size: u32,
    streams: HashMap<u32, PrevHeader>,
}

impl Default for ChunkEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkEncoder {
    /// An encoder at the default chunk size of 128 bytes.
    pub fn new() -> Self {
        ChunkEncoder {
            chunk_size: DEFAULT_CHUNK_SIZE,
            streams: HashMap::new(),
        }
    }

    /// The chunk size (bytes) used for the next messages. Call after sending Set Chunk Size.
    pub fn set_chunk_size(&mut self, size: u32) {
        self.chunk_size = size.max(1);
    }

    /// The current outgoing chunk size in bytes.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Appends the chunks of one message to `out`. `timestamp` is absolute, in ms.
    pub fn encode(
        &mut self,
        csid: u32,
        timestamp: u32,
        type_id: u8,
        message_stream_id: u32,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) {
        let length = payload.len() as u32;
        let prev = self.streams.get(&csid).copied();
        let (fmt, time_field) = match prev {
            Some(p) if p.message_stream_id == message_stream_id && timestamp >= p.timestamp => {
                let delta = timestamp - p.timestamp;
                let same_shape = p.length == length && p.type_id == type_id;
                match (same_shape, delta == p.delta) {
                    (true, true) => (3, delta),
                    (true, false) => (2, delta),
                    _ => (1, delta),
                }
            }
            _ => (0, timestamp),
        };
        let extended = match (fmt, prev) {
            (3, Some(p)) => p.extended.map(|_| time_field),
            _ => (time_field >= EXTENDED_TIMESTAMP_MARK).then_some(time_field),
        };
        write_basic_header(fmt, csid, out);
        if fmt <= 2 {
            let field = if extended.is_some() {
                EXTENDED_TIMESTAMP_MARK
            } else {
                time_field
            };
            out.extend_from_slice(&field.to_be_bytes()[1..]);
        }
        if fmt <= 1 {
            out.extend_from_slice(&length.to_be_bytes()[1..]);
            out.push(type_id);
        }
        if fmt == 0 {
            out.extend_from_slice(&message_stream_id.to_le_bytes());
        }
        if let Some(ext) = extended {
            out.extend_from_slice(&ext.to_be_bytes());
        }
        // The value fmt 3 continuations repeat: this header's, or the one it inherits.
        let continuation_ext = extended.or(if fmt == 3 {
            prev.and_then(|p| p.extended)
        } else {
            None
        });
        write_payload(
            csid,
            payload,
            self.chunk_size as usize,
            continuation_ext,
            out,
        );
        let header = PrevHeader {
            timestamp,
            delta: time_field,
            length,
            type_id,
            message_stream_id,
            extended: if fmt == 3 {
                prev.and_then(|p| p.extended)
            } else {
                extended
            },
        };
        self.streams.insert(csid, header);
    }
}

/// Encodes a message without any per-connection state: a fmt 0 first chunk (absolute
/// timestamp, ms) and fmt 3 continuations at `chunk_size` bytes. These bytes are valid on any
/// connection whose outgoing chunk size is `chunk_size`, whatever was sent before, so a stream's
/// media message is muxed once and the same bytes are written to every player.
pub fn encode_standalone(
    csid: u32,
    timestamp: u32,
    type_id: u8,
    message_stream_id: u32,
    payload: &[u8],
    chunk_size: u32,
    out: &mut Vec<u8>,
) {
    let chunk_size = chunk_size.max(1) as usize;
    out.reserve(standalone_len(csid, timestamp, payload.len(), chunk_size));
    write_basic_header(0, csid, out);
    let extended = (timestamp >= EXTENDED_TIMESTAMP_MARK).then_some(timestamp);
    let field = if extended.is_some() {
        EXTENDED_TIMESTAMP_MARK
    } else {
        timestamp
    };
    out.extend_from_slice(&field.to_be_bytes()[1..]);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.push(type_id);
    out.extend_from_slice(&message_stream_id.to_le_bytes());
    if let Some(ext) = extended {
        out.extend_from_slice(&ext.to_be_bytes());
    }
    write_payload(csid, payload, chunk_size, extended, out);
}

/// Exact length of [`encode_standalone`]'s output: fmt 0 header, payload, and a fmt 3 basic
/// header (plus the repeated extended timestamp) before every chunk after the first.
pub fn standalone_len(csid: u32, timestamp: u32, payload_len: usize, chunk_size: usize) -> usize {
    let basic = match csid {
        2..=63 => 1,
        64..=319 => 2,
        _ => 3,
    };
    let ext = if timestamp >= EXTENDED_TIMESTAMP_MARK {
        4
    } else {
        0
    };
    let chunks = payload_len.div_ceil(chunk_size.max(1)).max(1);
    basic + 11 + ext + payload_len + (chunks - 1) * (basic + ext)
}

/// Writes the payload in chunk-size pieces, with a fmt 3 basic header (and the repeated
/// extended timestamp) before every piece after the first.
fn write_payload(
    csid: u32,
    payload: &[u8],
    chunk_size: usize,
    ext: Option<u32>,
    out: &mut Vec<u8>,
) {
    let mut pieces = payload.chunks(chunk_size.max(1));
    if let Some(first) = pieces.next() {
        out.extend_from_slice(first);
    }
    for piece in pieces {
        write_basic_header(3, csid, out);
        if let Some(ext) = ext {
            out.extend_from_slice(&ext.to_be_bytes());
        }
        out.extend_from_slice(piece);
    }
}

/// Basic header (§5.3.1.1): 1 byte for csid 2–63, 2 bytes for 64–319, 3 bytes up to 65599.
fn write_basic_header(fmt: u8, csid: u32, out: &mut Vec<u8>) {
    let fmt = fmt << 6;
    match csid {
        2..=63 => out.push(fmt | csid as u8),
        64..=319 => out.extend_from_slice(&[fmt, (csid - 64) as u8]),
        _ => {
            let id = csid.clamp(64, super::MAX_CSID) - 64;
            out.extend_from_slice(&[fmt | 1, id as u8, (id >> 8) as u8]);
        }
    }
}
