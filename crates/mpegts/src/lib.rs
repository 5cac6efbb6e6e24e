//! MPEG-2 transport streams (ISO/IEC 13818-1) as SRT carries them, sans-IO: bytes in, elementary
//! stream units out ([`TsDemuxer`]), and units in, 188-byte packets out ([`TsMuxer`]).
//!
//! Layout of one transport packet (§2.4.3.2), 188 bytes:
//!
//! ```text
//! 0x47 | TEI:1 PUSI:1 prio:1 PID:13 | scrambling:2 adaptation_field_control:2 CC:4 | [adaptation field] [payload]
//! ```
//!
//! Program-specific information (PAT on PID 0, the PMT it names; §2.4.4) says which PID carries
//! which elementary stream; PES packets (§2.4.3.6) carry access units with their 33-bit 90 kHz
//! PTS/DTS. Supported elementary streams: H.264 (stream type 0x1B) and H.265 (0x24), Annex B byte
//! streams, AAC in ADTS (0x0F), and Opus (private data 0x06 with the `Opus` registration
//! descriptor, [`opus`]). Others are reported by [`StreamType`] and skipped.

mod adts;
mod annexb;
mod demux;
mod error;
mod mux;
pub mod opus;
mod packet;
mod pes;
mod psi;
mod timestamp;

pub use adts::{AdtsFrame, AdtsHeader};
pub use annexb::{avcc_to_annexb, AnnexBAccessUnit, AnnexBReader, VideoCodec};
pub use demux::{DemuxEvent, DemuxStats, TsDemuxer, Unit, UnitKind};
pub use error::TsError;
pub use mux::TsMuxer;
pub use packet::{TsHeader, PACKET_SIZE, SYNC_BYTE};
pub use pes::PesHeader;
pub use psi::{ElementaryStream, ProgramMap, StreamType};
pub use timestamp::{TimestampUnwrapper, PTS_CLOCK_HZ, PTS_WRAP};

/// Packets per SRT live-mode payload (7 × 188 = 1316 bytes, the payload size SRT tools use).
pub const PACKETS_PER_DATAGRAM: usize = 7;
