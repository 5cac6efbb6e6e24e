//! Chunk stream (RTMP 1.0 §5.3): demux ([`ChunkDecoder`]) and mux ([`ChunkEncoder`]).
//!
//! Chunk layout: basic header (1–3 bytes: fmt in the top 2 bits, csid 2–63 inline, 64–319 as
//! `0` + u8 + 64, 64–65599 as `1` + u16 LE + 64), message header (fmt 0: 11 bytes
//! timestamp u24 BE, length u24 BE, type u8, message stream id u32 LE; fmt 1: 7 bytes
//! delta, length, type; fmt 2: 3 bytes delta; fmt 3: none), extended timestamp (u32 BE when the
//! 24-bit field is 0xFFFFFF, also repeated on fmt 3 chunks of that message), then at most
//! chunk-size bytes of payload.

pub mod arena;
mod decoder;
mod encoder;

pub use arena::Payload;
pub use decoder::{Body, ChunkDecoder, DecoderLimits};
pub use encoder::{encode_standalone, standalone_len, ChunkEncoder};

/// The chunk size every RTMP connection starts with (§5.4.1).
pub const DEFAULT_CHUNK_SIZE: u32 = 128;
/// Smallest chunk stream id a basic header can carry (0 and 1 select the longer forms).
pub const MIN_CSID: u32 = 2;
/// Largest chunk stream id (3-byte basic header: 65535 + 64).
pub const MAX_CSID: u32 = 65599;
/// The 24-bit timestamp field value that announces an extended timestamp.
pub const EXTENDED_TIMESTAMP_MARK: u32 = 0xFF_FFFF;

#[cfg(test)]
mod in_place_tests;
#[cfg(test)]
mod tests;
