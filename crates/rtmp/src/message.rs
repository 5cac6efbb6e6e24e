//! RTMP messages (RTMP 1.0 §5.4, §6, §7): the unit the chunk stream carries.

use crate::chunk::Payload;

/// Set Chunk Size (RTMP 1.0 §5.4.1): payload u32 BE, top bit 0, 1..=0x7FFFFFFF bytes.
pub const SET_CHUNK_SIZE: u8 = 1;
/// Abort Message (§5.4.2): payload u32 BE csid whose partial message is discarded.
pub const ABORT: u8 = 2;
/// Acknowledgement (§5.4.3): payload u32 BE sequence number = bytes received so far.
pub const ACKNOWLEDGEMENT: u8 = 3;
/// User Control Message (§6.2): u16 BE event type + event data.
pub const USER_CONTROL: u8 = 4;
/// Window Acknowledgement Size (§5.4.4): payload u32 BE window in bytes.
pub const WINDOW_ACK_SIZE: u8 = 5;
/// Set Peer Bandwidth (§5.4.5): u32 BE window in bytes + u8 limit type (0 hard, 1 soft, 2 dynamic).
pub const SET_PEER_BANDWIDTH: u8 = 6;
/// Audio message (§7.1.4): an FLV audio tag body.
pub const AUDIO: u8 = 8;
/// Video message (§7.1.5): an FLV video tag body.
pub const VIDEO: u8 = 9;
/// Data message, AMF3 (§7.1.2): a 0x00 format byte then AMF0 values with the AMF3 switch.
pub const DATA_AMF3: u8 = 15;
/// Shared object message, AMF3 (§7.1.3).
pub const SHARED_OBJECT_AMF3: u8 = 16;
/// Command message, AMF3 (§7.1.1): a 0x00 format byte then AMF0 values with the AMF3 switch.
pub const COMMAND_AMF3: u8 = 17;
/// Data message, AMF0 (§7.1.2), e.g. `@setDataFrame`/`onMetaData`.
pub const DATA_AMF0: u8 = 18;
/// Shared object message, AMF0 (§7.1.3).
pub const SHARED_OBJECT_AMF0: u8 = 19;
/// Command message, AMF0 (§7.1.1): name, transaction id, command object, arguments.
pub const COMMAND_AMF0: u8 = 20;
/// Aggregate message (§7.1.6): a run of FLV tags (11-byte header, body, u32 back pointer).
pub const AGGREGATE: u8 = 22;

/// Chunk stream id for protocol control messages (§5.4: csid 2, message stream id 0).
pub const CSID_PROTOCOL_CONTROL: u32 = 2;
/// Chunk stream id this crate uses for commands.
pub const CSID_COMMAND: u32 = 3;
/// Chunk stream id this crate uses for audio messages.
pub const CSID_AUDIO: u32 = 4;
/// Chunk stream id this crate uses for data messages (metadata).
pub const CSID_DATA: u32 = 5;
/// Chunk stream id this crate uses for video messages.
pub const CSID_VIDEO: u32 = 6;

/// One complete RTMP message as reassembled from (or to be split into) chunks. `P` is where
/// its payload is: shared slab memory, or for [`crate::chunk::ChunkDecoder::push_in_place`] a
/// [`crate::chunk::Body`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<P = Payload> {
    /// Chunk stream id it travelled on (2..=65599).
    pub csid: u32,
    /// Absolute timestamp in milliseconds (32-bit, wraps).
    pub timestamp: u32,
    /// Message type id (see the constants in this module).
    pub type_id: u8,
    /// Message stream id (0 for protocol control and NetConnection commands).
    pub message_stream_id: u32,
    /// The message payload (shared memory, see [`crate::chunk::arena`]).
    pub payload: P,
}
