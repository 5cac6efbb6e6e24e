//! The RTP egress pipeline: what every way RTP leaves Sluice shares, sans-IO.
//!
//! - [`RetransmissionRing`]: the packets last sent on one track, by sequence number, for NACK
//!   (RFC 4585 §6.2.1). The one ring every sender uses.
//! - [`SequenceOffsets`]: a subscriber's history of sequence-number offsets (a GOP replay sent
//!   to it alone shifts its numbering against the stream's), so a NACKed subscriber sequence
//!   number maps back to the stream packet it was.
//! - [`RtpRewriter`]: one forwarded track re-numbered for its receiver (SSRC, payload type,
//!   sequence number, timestamp; RFC 3550 §5.1), continuous across publisher restarts.
//! - [`SenderClock`]: one sent track's RTP clock against the wallclock, for sender reports
//!   (RFC 3550 §6.4.1).
//! - [`Fanout`]: streams and their subscribers: each stream packet once into the stream's ring,
//!   then the per-subscriber targets (payload type, sequence offset), GOP replays injected for
//!   one subscriber, NACK resolution, sender reports with each subscriber's counts, and the lag
//!   policy (skip to the next keyframe).
//! - [`patch_into`]: a stream packet written for one subscriber (payload type, sequence offset),
//!   and [`add_timestamp_offset`] for its timeline after a simulcast layer switch.
//! - [`kept_extension`]: the one header extension element a forwarded packet keeps (an AV1 SVC
//!   stream's Dependency Descriptor), written under a placeholder id each transport maps.
//! - [`layers`]: which simulcast layer a subscriber's bandwidth estimate carries ([`Fanout`]
//!   switches it at the layer's keyframe, numbering and timeline continuous).
//!
//! Transports (the native WebRTC port, node-datachannel tracks, SFU downlinks, plain RTP
//! forwarders) are adapters around these: they protect and send what comes out.

mod fanout;
pub mod kept_extension;
pub mod layers;
mod offsets;
mod rewriter;
mod ring;
mod sender_clock;

pub use layers::LayerSelector;
pub use fanout::{Fanout, FanoutCounters, FanoutTarget, FrameStart, MediaKind, NackResolution, Pace, SubscriberConfig, SubscriberReport, MAX_LAG_MS, RESUME_LAG_MS, SWITCH_POINT_WAIT_MS};
pub use offsets::SequenceOffsets;
pub use rewriter::RtpRewriter;
pub use ring::RetransmissionRing;
pub use sender_clock::SenderClock;

/// The sequence number (bytes 2–3) of an RTP packet at least 4 bytes long.
pub(crate) fn sequence_number(packet: &[u8]) -> u16 {
    u16::from_be_bytes([packet[2], packet[3]])
}

/// Adds `ts_offset` to the RTP timestamp (bytes 4–7) of the RTP packet in `packet` (RTCP and
/// anything under 12 bytes unchanged): a subscriber's timeline after a simulcast layer switch.
pub fn add_timestamp_offset(packet: &mut [u8], ts_offset: u32) {
    if ts_offset == 0 || packet.len() < crate::packet::FIXED_HEADER_LEN || crate::rtcp::is_rtcp(packet) {
        return;
    }
    let ts = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]).wrapping_add(ts_offset);
    packet[4..8].copy_from_slice(&ts.to_be_bytes());
}

/// Writes `packet` into `out` with payload type `payload_type` (7 bits) and `seq_offset` added
/// to its sequence number (mod 2^16); RTCP (RFC 5761 §4 demultiplexing by the second byte)
/// is copied unchanged. Returns the bytes written.
///
/// Errors: [`RtpError::PacketTooShort`](crate::RtpError::PacketTooShort) under 12 bytes,
/// [`RtpError::BufferTooSmall`](crate::RtpError::BufferTooSmall) when `out` cannot hold it.
pub fn patch_into(packet: &[u8], out: &mut [u8], payload_type: u8, seq_offset: u16) -> Result<usize, crate::RtpError> {
    let len = packet.len();
    if len < crate::packet::FIXED_HEADER_LEN {
        return Err(crate::RtpError::PacketTooShort { needed: crate::packet::FIXED_HEADER_LEN, length: len });
    }
    if out.len() < len {
        return Err(crate::RtpError::BufferTooSmall { needed: len, available: out.len() });
    }
    out[..len].copy_from_slice(packet);
    if !crate::rtcp::is_rtcp(packet) {
        out[1] = (out[1] & 0x80) | (payload_type & 0x7F);
        let seq = sequence_number(packet).wrapping_add(seq_offset);
        out[2..4].copy_from_slice(&seq.to_be_bytes());
    }
    Ok(len)
}

#[cfg(test)]
mod tests;
