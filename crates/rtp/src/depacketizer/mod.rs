//! Depacketizers: RTP packets in (in sequence order, out of a [`ReorderBuffer`]), media
//! frames out. One file per payload format, mirroring [`packetizer`](crate::packetizer).
//!
//! The flow for one received stream:
//! 1. [`ReorderBuffer::push`] each packet as it arrives; send a NACK for
//!    [`ReorderBuffer::take_missing`];
//! 2. [`ReorderBuffer::pop`] until `None`: a [`Released::Packet`] goes to the payload
//!    format's depacketizer, a [`Released::Lost`] (or a [`PushOutcome::Restarted`]) to its
//!    `lost()`;
//! 3. for video, send a PLI when the depacketizer asks for a keyframe.

pub mod aac;
pub mod h264;
pub mod reorder;
pub mod vp8;

pub use aac::{AacAccessUnit, AacDepacketizer};
pub use h264::{H264AccessUnit, H264Depacketizer};
pub use reorder::{PushOutcome, Released, ReorderBuffer};
pub use vp8::{Vp8Depacketizer, Vp8Frame};
