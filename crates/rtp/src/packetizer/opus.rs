//! Opus over RTP, RFC 7587: one Opus packet (RFC 6716 §3, TOC byte first, one or more frames
//! of 2.5–120 ms together) per RTP packet, unchanged, with a 48 kHz timestamp whatever the
//! audio's actual sampling rate (§4.1).
//!
//! ```text
//! | RTP header (12 bytes) | Opus packet: TOC | frames … |
//! ```
//!
//! The marker bit is 0, except on the packet after a call to
//! [`mark_next_packet`](OpusPacketizer::mark_next_packet): the caller, which sees the gaps,
//! calls it when audio resumes after a DTX/silence period (first packet of a talkspurt,
//! RFC 7587 §4.1 and RFC 3551 §4.1). Opus packets are never fragmented: one larger than the
//! MTU payload is [`RtpError::PayloadTooLarge`].

use super::{PacketBatch, Packetizer, PacketizerState};
use crate::RtpError;

/// RTP clock rate of Opus in Hz (RFC 7587 §4.1), independent of the audio's sampling rate.
pub const CLOCK_RATE: u32 = 48_000;

/// Packetizer for Opus packets; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct OpusPacketizer {
    state: PacketizerState,
    mark_next: bool,
}

impl OpusPacketizer {
    /// A packetizer with sequence number 0 and the default MTU.
    /// [`RtpError::InvalidPayloadType`] above 127.
    pub fn new(ssrc: u32, payload_type: u8) -> Result<Self, RtpError> {
        Ok(OpusPacketizer {
            state: PacketizerState::new(ssrc, payload_type)?,
            mark_next: false,
        })
    }

    /// Sets the marker bit on the next packet only (first packet of a talkspurt).
    pub fn mark_next_packet(&mut self) {
        self.mark_next = true;
    }
}

impl Packetizer for OpusPacketizer {
    /// Packetizes one Opus packet; `rtp_timestamp` is in 48 kHz ticks (960 per 20 ms).
    /// [`RtpError::EmptyFrame`] for zero bytes, [`RtpError::PayloadTooLarge`] above the MTU
    /// payload.
    fn packetize(
        &mut self,
        frame: &[u8],
        rtp_timestamp: u32,
        out: &mut PacketBatch,
    ) -> Result<(), RtpError> {
        if frame.is_empty() {
            return Err(RtpError::EmptyFrame);
        }
        let max = self.state.max_payload();
        if frame.len() > max {
            return Err(RtpError::PayloadTooLarge {
                size: frame.len(),
                max,
            });
        }
        out.data
            .reserve(crate::packet::FIXED_HEADER_LEN + frame.len());
        out.ends.reserve(1);
        let marker = self.mark_next;
        out.all_or_nothing(&mut self.state, |state, out| {
            state.push_header(out, marker, rtp_timestamp);
            out.data.extend_from_slice(frame);
            out.end_packet()
        })?;
        self.mark_next = false;
        Ok(())
    }

    fn clock_rate(&self) -> u32 {
        CLOCK_RATE
    }

    fn state(&self) -> &PacketizerState {
        &self.state
    }

    fn state_mut(&mut self) -> &mut PacketizerState {
        &mut self.state
    }
}
