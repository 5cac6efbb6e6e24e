//! Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01
//! §3.1): for each transport-wide sequence number the receiver saw (or missed), when it arrived.
//!
//! ```text
//! |V|P| FMT=15 | PT=205 | length | SSRC of packet sender | SSRC of media source |
//! | base sequence number (16) | packet status count (16) |
//! | reference time (24, signed, ×64 ms) | feedback packet count (8) |
//! | packet chunks (16 bits each) ... | receive deltas (1 or 2 bytes each) ... | zero padding |
//! run length chunk:    0 | symbol (2) | run length (13)
//! status vector chunk: 1 | 0 | 14 one-bit symbols   or   1 | 1 | 7 two-bit symbols
//! symbols: 00 not received, 01 received with a small delta (u8 × 250 µs),
//!          10 received with a large or negative delta (i16 × 250 µs), 11 reserved
//! ```

use super::feedback::FMT_TWCC;
use super::header::{begin, finish, pt, u16_at, u32_at};
use super::RtcpError;

/// Most packet statuses accepted in one feedback packet (Chromium sends far fewer; a run-length
/// chunk could otherwise declare 8 191 packets in 2 bytes).
pub const MAX_TWCC_STATUSES: usize = 16_384;
/// Receive delta unit in µs.
pub const DELTA_UNIT_US: i64 = 250;
/// Reference time unit in µs (64 ms).
pub const REFERENCE_UNIT_US: i64 = 64_000;

/// One packet of a transport-wide CC feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwccPacket {
    /// Transport-wide sequence number.
    pub sequence: u16,
    /// Arrival time in µs on the receiver's clock (reference time × 64 ms + the receive deltas
    /// so far), `None` when not received.
    pub arrival_us: Option<i64>,
}

/// A transport-wide CC feedback packet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TransportFeedback {
    /// The receiver's SSRC.
    pub sender_ssrc: u32,
    /// The media source SSRC (senders set it; meaningless for transport-wide feedback).
    pub media_ssrc: u32,
    /// Reference time in units of 64 ms (24-bit signed).
    pub reference_time: i32,
    /// Feedback packet count: increments with each feedback sent, to detect lost feedback.
    pub feedback_count: u8,
    /// Statuses from the base sequence number on, one per consecutive sequence number.
    pub packets: Vec<TwccPacket>,
}

const NOT_RECEIVED: u8 = 0;
const SMALL: u8 = 1;
const LARGE: u8 = 2;

impl TransportFeedback {
    pub(crate) fn read(body: &[u8]) -> Result<Self, RtcpError> {
        if body.len() < 16 {
            return Err(RtcpError::TooShort("transport-wide CC fixed part"));
        }
        let base = u16_at(body, 8);
        let count = u16_at(body, 10) as usize;
        if count > MAX_TWCC_STATUSES {
            return Err(RtcpError::Malformed("more packet statuses than accepted"));
        }
        let reference_time = (u32_at(body, 12) as i32) >> 8;
        let feedback_count = body[15];
        let mut symbols = Vec::with_capacity(count);
        let mut at = 16;
        while symbols.len() < count {
            if body.len() < at + 2 {
                return Err(RtcpError::Malformed("packet chunks beyond the packet"));
            }
            let chunk = u16_at(body, at);
            at += 2;
            let left = count - symbols.len();
            if chunk & 0x8000 == 0 {
                let symbol = ((chunk >> 13) & 0x03) as u8;
                let run = (chunk & 0x1FFF) as usize;
                symbols.extend(std::iter::repeat_n(symbol, run.min(left)));
            } else if chunk & 0x4000 == 0 {
                symbols.extend((0..14).rev().map(|i| ((chunk >> i) & 1) as u8).take(left));
            } else {
                symbols.extend((0..7).rev().map(|i| ((chunk >> (2 * i)) & 3) as u8).take(left));
            }
        }
        let mut arrival = reference_time as i64 * REFERENCE_UNIT_US;
        let mut packets = Vec::with_capacity(count);
        for (i, symbol) in symbols.into_iter().enumerate() {
            let sequence = base.wrapping_add(i as u16);
            let delta = match symbol {
                NOT_RECEIVED => {
                    packets.push(TwccPacket { sequence, arrival_us: None });
                    continue;
                }
                SMALL => {
                    let d = *body.get(at).ok_or(RtcpError::Malformed("receive deltas beyond the packet"))? as i64;
                    at += 1;
                    d
                }
                LARGE => {
                    if body.len() < at + 2 {
                        return Err(RtcpError::Malformed("receive deltas beyond the packet"));
                    }
                    let d = u16_at(body, at) as i16 as i64;
                    at += 2;
                    d
                }
                _ => return Err(RtcpError::Malformed("reserved packet status symbol")),
            };
            arrival += delta * DELTA_UNIT_US;
            packets.push(TwccPacket { sequence, arrival_us: Some(arrival) });
        }
        Ok(TransportFeedback { sender_ssrc: u32_at(body, 0), media_ssrc: u32_at(body, 4), reference_time, feedback_count, packets })
    }

    /// The first packet's sequence number (0 when empty).
    pub fn base_sequence(&self) -> u16 {
        self.packets.first().map_or(0, |p| p.sequence)
    }

    /// Appends the packet to `out`. `packets` must be consecutive sequence numbers; arrival
    /// times are rounded down to 250 µs relative to `reference_time` × 64 ms, and must not go
    /// back by more than 8.19 s from one received packet to the next.
    ///
    /// # Errors
    /// [`RtcpError::TooLarge`] with more than [`MAX_TWCC_STATUSES`] packets or a delta out of
    /// the 16-bit range; [`RtcpError::Malformed`] when sequence numbers are not consecutive.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), RtcpError> {
        if self.packets.len() > MAX_TWCC_STATUSES {
            return Err(RtcpError::TooLarge("more than 16 384 packet statuses"));
        }
        let base = self.base_sequence();
        let mut symbols = Vec::with_capacity(self.packets.len());
        let mut deltas: Vec<u8> = Vec::new();
        let mut previous = self.reference_time as i64 * REFERENCE_UNIT_US;
        for (i, p) in self.packets.iter().enumerate() {
            if p.sequence != base.wrapping_add(i as u16) {
                return Err(RtcpError::Malformed("sequence numbers not consecutive"));
            }
            match p.arrival_us {
                None => symbols.push(NOT_RECEIVED),
                Some(t) => {
                    let ticks = (t - previous).div_euclid(DELTA_UNIT_US);
                    previous += ticks * DELTA_UNIT_US;
                    if (0..=255).contains(&ticks) {
                        symbols.push(SMALL);
                        deltas.push(ticks as u8);
                    } else if (i16::MIN as i64..=i16::MAX as i64).contains(&ticks) {
                        symbols.push(LARGE);
                        deltas.extend_from_slice(&(ticks as i16).to_be_bytes());
                    } else {
                        return Err(RtcpError::TooLarge("receive delta beyond the 16-bit range"));
                    }
                }
            }
        }
        let start = begin(out, FMT_TWCC, pt::RTPFB);
        out.extend_from_slice(&self.sender_ssrc.to_be_bytes());
        out.extend_from_slice(&self.media_ssrc.to_be_bytes());
        out.extend_from_slice(&base.to_be_bytes());
        out.extend_from_slice(&(symbols.len() as u16).to_be_bytes());
        out.extend_from_slice(&(((self.reference_time as u32) << 8) | self.feedback_count as u32).to_be_bytes());
        let mut i = 0;
        while i < symbols.len() {
            let run = symbols[i..].iter().take_while(|s| **s == symbols[i]).count();
            let chunk: u16 = if run >= 14 {
                let run = run.min(0x1FFF);
                let c = ((symbols[i] as u16) << 13) | run as u16;
                i += run;
                c
            } else if symbols[i..].iter().take(14).all(|s| *s != LARGE) {
                let c = (0..14).fold(0x8000u16, |c, k| c | ((*symbols.get(i + k).unwrap_or(&0) as u16 & 1) << (13 - k)));
                i += 14;
                c
            } else {
                let c = (0..7).fold(0xC000u16, |c, k| c | ((*symbols.get(i + k).unwrap_or(&0) as u16) << (12 - 2 * k)));
                i += 7;
                c
            };
            out.extend_from_slice(&chunk.to_be_bytes());
        }
        out.extend_from_slice(&deltas);
        finish(out, start)
    }
}
