//! AAC over RTP, RFC 3640 `mpeg4-generic` in mode `AAC-hbr` (§3.3.6): `sizeLength=13`,
//! `indexLength=3`, `indexDeltaLength=3`, the SDP that ffmpeg, GStreamer and live555 use.
//!
//! ```text
//! | RTP header | AU-headers-length (16 bits, = 16) | AU-size (13) | AU-index (3) = 0 | AU |
//! ```
//!
//! One raw AAC access unit (no ADTS header, 1024 samples) per packet; the RTP timestamp is in
//! samples at the audio's sampling rate (the SDP's clock rate). An access unit larger than the
//! MTU payload is fragmented (§3.2.3): every fragment carries the same AU header with the
//! whole AU-size, the marker bit is set on the last fragment only. Unfragmented packets have
//! the marker bit set (§3.2.3: "set to 1 ... when the packet contains one or more complete
//! access units").

use super::{PacketBatch, Packetizer, PacketizerState};
use crate::RtpError;

/// Largest access unit the 13-bit AU-size field can carry, in bytes.
pub const MAX_ACCESS_UNIT: usize = (1 << 13) - 1;

/// Packetizer for raw AAC access units; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct AacPacketizer {
    state: PacketizerState,
    clock_rate: u32,
}

impl AacPacketizer {
    /// A packetizer with sequence number 0 and the default MTU, for audio sampled at
    /// `sample_rate` Hz (the RTP clock rate). [`RtpError::InvalidPayloadType`] above 127.
    pub fn new(ssrc: u32, payload_type: u8, sample_rate: u32) -> Result<Self, RtpError> {
        Ok(AacPacketizer {
            state: PacketizerState::new(ssrc, payload_type)?,
            clock_rate: sample_rate,
        })
    }
}

impl Packetizer for AacPacketizer {
    /// Packetizes one raw AAC access unit; `rtp_timestamp` in samples.
    /// [`RtpError::EmptyFrame`] for zero bytes, [`RtpError::PayloadTooLarge`] above
    /// [`MAX_ACCESS_UNIT`].
    fn packetize(
        &mut self,
        frame: &[u8],
        rtp_timestamp: u32,
        out: &mut PacketBatch,
    ) -> Result<(), RtpError> {
        if frame.is_empty() {
            return Err(RtpError::EmptyFrame);
        }
        if frame.len() > MAX_ACCESS_UNIT {
            return Err(RtpError::PayloadTooLarge {
                size: frame.len(),
                max: MAX_ACCESS_UNIT,
            });
        }
        let au_header = ((frame.len() as u16) << 3).to_be_bytes();
        let per_packet = self.state.max_payload() - 4;
        out.all_or_nothing(&mut self.state, |state, out| {
            let fragments = frame.chunks(per_packet);
            let count = fragments.len();
            for (i, fragment) in fragments.enumerate() {
                state.push_header(out, i + 1 == count, rtp_timestamp);
                out.data.extend_from_slice(&[0, 16, au_header[0], au_header[1]]);
                out.data.extend_from_slice(fragment);
                out.end_packet()?;
            }
            Ok(())
        })?;
        Ok(())
    }

    fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    fn state(&self) -> &PacketizerState {
        &self.state
    }

    fn state_mut(&mut self) -> &mut PacketizerState {
        &mut self.state
    }
}
