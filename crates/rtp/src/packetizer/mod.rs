//! Packetizers: one media frame in, RTP packets out, appended to a caller-owned
//! [`PacketBatch`]. One file per payload format.
//!
//! A packetizer is created once per outgoing stream (not per subscriber): the same packets are
//! handed to every subscriber. Each owns a [`PacketizerState`] — SSRC, payload type, next
//! sequence number and MTU — and writes plain 12-byte RTP headers (no CSRCs, no extension,
//! no padding); a transport that adds header extensions rewrites them itself.
//!
//! The rule for every [`Packetizer::packetize`] call: it appends zero or more packets to the
//! batch and advances the sequence number by as many; on error it appends nothing and the
//! sequence number is unchanged.

pub mod aac;
pub mod av1;
pub mod h264;
pub mod h265;
pub mod opus;

pub use aac::AacPacketizer;
pub use av1::Av1Packetizer;
pub use h264::H264Packetizer;
pub use h265::H265Packetizer;
pub use opus::OpusPacketizer;

use crate::packet::{FIXED_HEADER_LEN, RTP_VERSION};
use crate::RtpError;

/// Default MTU: the largest RTP packet in bytes, header included. 1200 leaves room for IPv6,
/// UDP, TURN/SRTP overheads and header extensions under a 1280-byte path MTU.
pub const DEFAULT_MTU: usize = 1200;
/// Smallest MTU in bytes: the 12-byte header plus a 2-byte FU-A header and one payload byte.
pub const MIN_MTU: usize = FIXED_HEADER_LEN + 3;
/// Largest MTU in bytes (RTP over TCP framing, RFC 4571, has a 16-bit length).
pub const MAX_MTU: usize = 65_535;

/// A reusable output buffer: packets back to back in [`data`](Self::data), the end offset of
/// each in [`ends`](Self::ends) (packet `i` is `data[ends[i-1]..ends[i]]`, with `ends[-1]` = 0).
///
/// Packetizers append; the caller [`clear`](Self::clear)s it when the packets have been sent,
/// which keeps the allocations for the next frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PacketBatch {
    /// All packets, back to back.
    pub data: Vec<u8>,
    /// End offset in `data` of each packet, in bytes, ascending.
    pub ends: Vec<u32>,
}

impl PacketBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch with room for `bytes` bytes and `packets` packets.
    pub fn with_capacity(bytes: usize, packets: usize) -> Self {
        PacketBatch {
            data: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(packets),
        }
    }

    /// Removes all packets, keeping the capacity.
    pub fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }

    /// Number of packets.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no packets.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Packet `index`, or `None` past the end (or if `ends` was edited out of order).
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let end = *self.ends.get(index)? as usize;
        let start = match index {
            0 => 0,
            i => self.ends[i - 1] as usize,
        };
        self.data.get(start..end)
    }

    /// The packets in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len()).map_while(move |i| self.get(i))
    }

    fn mark(&self) -> (usize, usize) {
        (self.data.len(), self.ends.len())
    }

    fn rollback(&mut self, (data, ends): (usize, usize)) {
        self.data.truncate(data);
        self.ends.truncate(ends);
    }

    /// Runs `emit` on `state` and this batch all or nothing (the rule of every
    /// [`Packetizer::packetize`]): on error the packets it appended are removed and the
    /// sequence number is restored. Returns the mark the packets start at.
    fn all_or_nothing(
        &mut self,
        state: &mut PacketizerState,
        emit: impl FnOnce(&mut PacketizerState, &mut PacketBatch) -> Result<(), RtpError>,
    ) -> Result<(usize, usize), RtpError> {
        let mark = self.mark();
        let first_sequence_number = state.sequence_number();
        match emit(state, self) {
            Ok(()) => Ok(mark),
            Err(e) => {
                self.rollback(mark);
                state.set_sequence_number(first_sequence_number);
                Err(e)
            }
        }
    }

    fn end_packet(&mut self) -> Result<(), RtpError> {
        let end = u32::try_from(self.data.len()).map_err(|_| RtpError::BatchTooLarge)?;
        self.ends.push(end);
        Ok(())
    }

    /// Sets the marker bit of the last packet, if it was appended after `since`.
    fn set_marker_on_last(&mut self, since: (usize, usize)) {
        if self.ends.len() > since.1 {
            let start = match self.ends.len() {
                1 => 0,
                n => self.ends[n - 2] as usize,
            };
            if let Some(b) = self.data.get_mut(start + 1) {
                *b |= 0x80;
            }
        }
    }
}

/// What every packetizer keeps between frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketizerState {
    ssrc: u32,
    payload_type: u8,
    sequence_number: u16,
    mtu: usize,
}

impl PacketizerState {
    /// A state with sequence number 0 and the [`DEFAULT_MTU`]. RFC 3550 §5.1 wants a random
    /// initial sequence number: this crate has no randomness, so the caller sets one with
    /// [`set_sequence_number`](Self::set_sequence_number).
    /// [`RtpError::InvalidPayloadType`] above 127.
    pub fn new(ssrc: u32, payload_type: u8) -> Result<Self, RtpError> {
        check_payload_type(payload_type)?;
        Ok(PacketizerState {
            ssrc,
            payload_type,
            sequence_number: 0,
            mtu: DEFAULT_MTU,
        })
    }

    /// Synchronization source identifier written into every packet.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Changes the SSRC for the following packets.
    pub fn set_ssrc(&mut self, ssrc: u32) {
        self.ssrc = ssrc;
    }

    /// Payload type (0–127).
    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// Changes the payload type; [`RtpError::InvalidPayloadType`] above 127.
    pub fn set_payload_type(&mut self, payload_type: u8) -> Result<(), RtpError> {
        check_payload_type(payload_type)?;
        self.payload_type = payload_type;
        Ok(())
    }

    /// Sequence number of the next packet.
    pub fn sequence_number(&self) -> u16 {
        self.sequence_number
    }

    /// Sets the sequence number of the next packet.
    pub fn set_sequence_number(&mut self, sequence_number: u16) {
        self.sequence_number = sequence_number;
    }

    /// Largest RTP packet in bytes, header included.
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// Sets the MTU; [`RtpError::MtuOutOfRange`] outside [`MIN_MTU`]..=[`MAX_MTU`].
    pub fn set_mtu(&mut self, mtu: usize) -> Result<(), RtpError> {
        if !(MIN_MTU..=MAX_MTU).contains(&mtu) {
            return Err(RtpError::MtuOutOfRange {
                mtu,
                min: MIN_MTU,
                max: MAX_MTU,
            });
        }
        self.mtu = mtu;
        Ok(())
    }

    /// Largest payload per packet in bytes: the MTU minus the 12-byte header.
    pub fn max_payload(&self) -> usize {
        self.mtu - FIXED_HEADER_LEN
    }

    /// Appends a 12-byte header with the next sequence number (then advanced, wrapping) and
    /// the given marker; the caller appends the payload and calls `end_packet`.
    fn push_header(&mut self, out: &mut PacketBatch, marker: bool, timestamp: u32) {
        let seq = self.sequence_number.to_be_bytes();
        let ts = timestamp.to_be_bytes();
        let ssrc = self.ssrc.to_be_bytes();
        out.data.extend_from_slice(&[
            RTP_VERSION << 6,
            if marker { 0x80 } else { 0 } | self.payload_type,
            seq[0],
            seq[1],
            ts[0],
            ts[1],
            ts[2],
            ts[3],
            ssrc[0],
            ssrc[1],
            ssrc[2],
            ssrc[3],
        ]);
        self.sequence_number = self.sequence_number.wrapping_add(1);
    }
}

fn check_payload_type(payload_type: u8) -> Result<(), RtpError> {
    if payload_type > 0x7F {
        return Err(RtpError::InvalidPayloadType { payload_type });
    }
    Ok(())
}

/// Turns media frames into RTP packets of one payload format.
pub trait Packetizer {
    /// Packetizes one frame (a video access unit, an audio packet) with the given RTP
    /// timestamp (in [`clock_rate`](Self::clock_rate) ticks), appending the packets to `out`.
    /// On error nothing is appended and the sequence number is unchanged.
    fn packetize(
        &mut self,
        frame: &[u8],
        rtp_timestamp: u32,
        out: &mut PacketBatch,
    ) -> Result<(), RtpError>;

    /// The RTP clock rate of the payload format in Hz (90 000 for H.264, 48 000 for Opus).
    fn clock_rate(&self) -> u32;

    /// SSRC, payload type, next sequence number and MTU.
    fn state(&self) -> &PacketizerState;

    /// Mutable access to SSRC, payload type, next sequence number and MTU.
    fn state_mut(&mut self) -> &mut PacketizerState;
}
