//! H.265 over RTP, RFC 7798, without DONL (`sprop-max-don-diff` 0), 90 kHz clock.
//!
//! Input is one access unit in the length-prefixed form of ISO/IEC 14496-15 §8.3 (`hvcC`
//! streams: FLV codec id 12 and Enhanced RTMP `hvc1` coded frames): NAL units back to back,
//! each after its big-endian length in `nalu_length_size` bytes.
//!
//! ```text
//! NAL unit header (H.265 §7.3.1.2):  F(1) | Type(6) | LayerId(6) | TID(3)      (2 bytes)
//! AP  (§4.4.2, type 48): PayloadHdr | size (16) | NAL unit | size | NAL unit | …
//! FU  (§4.4.3, type 49): PayloadHdr | S(1) E(1) FuType(6) | fragment of the NAL payload
//! ```
//!
//! Per access unit: access unit delimiters (35), filler data (38) and the unspecified types
//! 48–63 (RFC 7798 uses 48–50 for its payload structures) are dropped; an IRAP
//! access unit (types 16–23) without its own VPS, SPS and PPS gets those given to
//! [`set_parameter_sets`](H265Packetizer::set_parameter_sets) in front; runs of NAL units that
//! fit one packet together go as an aggregation packet (AP), a NAL unit that fits alone as a
//! single NAL unit packet (§4.4.1), a larger one as fragmentation units (FU). The last packet
//! has the marker bit (§4.1). A malformed access unit is [`RtpError::MalformedAvcc`] and nothing
//! is emitted.

use super::{PacketBatch, Packetizer, PacketizerState};
use crate::RtpError;

/// RTP clock rate of H.265 in Hz (RFC 7798 §4.1).
pub const CLOCK_RATE: u32 = 90_000;

/// NAL unit types (H.265 Table 7-1).
pub const NAL_VPS: u8 = 32;
/// Sequence parameter set.
pub const NAL_SPS: u8 = 33;
/// Picture parameter set.
pub const NAL_PPS: u8 = 34;
const NAL_AUD: u8 = 35;
const NAL_FILLER: u8 = 38;
/// Payload type of an aggregation packet (RFC 7798 §4.4.2).
pub const AP: u8 = 48;
/// Payload type of a fragmentation unit (RFC 7798 §4.4.3).
pub const FU: u8 = 49;

/// The type of a NAL unit from its first header byte.
pub fn nal_type(first: u8) -> u8 {
    (first >> 1) & 0x3F
}

/// Packetizer for H.265 access units; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct H265Packetizer {
    state: PacketizerState,
    nalu_length_size: usize,
    /// VPS, SPS and PPS NAL units (without lengths), in that order.
    parameter_sets: Vec<Vec<u8>>,
}

impl H265Packetizer {
    /// A packetizer with 4-byte NAL unit lengths, sequence number 0 and the default MTU.
    /// [`RtpError::InvalidPayloadType`] above 127.
    pub fn new(ssrc: u32, payload_type: u8) -> Result<Self, RtpError> {
        Ok(H265Packetizer { state: PacketizerState::new(ssrc, payload_type)?, nalu_length_size: 4, parameter_sets: Vec::new() })
    }

    /// Sets the NAL unit length size (1, 2 or 4 bytes: `lengthSizeMinusOne + 1` of the
    /// `hvcC`). [`RtpError::InvalidNaluLengthSize`] otherwise.
    pub fn set_nalu_length_size(&mut self, size: u8) -> Result<(), RtpError> {
        if !matches!(size, 1 | 2 | 4) {
            return Err(RtpError::InvalidNaluLengthSize { size });
        }
        self.nalu_length_size = usize::from(size);
        Ok(())
    }

    /// The VPS, SPS and PPS (NAL units without lengths) to put in front of IRAP access units
    /// that lack them.
    pub fn set_parameter_sets(&mut self, vps: Vec<Vec<u8>>, sps: Vec<Vec<u8>>, pps: Vec<Vec<u8>>) {
        self.parameter_sets = vps.into_iter().chain(sps).chain(pps).filter(|n| n.len() >= 2).collect();
    }

    /// The NAL units of `frame` to send, in order (borrowed), and whether it is IRAP.
    fn units<'a>(&'a self, frame: &'a [u8]) -> Result<Vec<&'a [u8]>, RtpError> {
        let n = self.nalu_length_size;
        let mut units = Vec::new();
        let (mut irap, mut vps, mut sps, mut pps) = (false, false, false, false);
        let mut at = 0;
        while at < frame.len() {
            let Some(len) = frame.get(at..at + n) else {
                return Err(RtpError::MalformedAvcc { offset: at, needed: n, available: frame.len() - at });
            };
            let len = len.iter().fold(0usize, |v, b| (v << 8) | usize::from(*b));
            let Some(nal) = frame.get(at + n..at + n + len) else {
                return Err(RtpError::MalformedAvcc { offset: at, needed: n + len, available: frame.len() - at });
            };
            at += n + len;
            if nal.len() < 2 {
                continue;
            }
            match nal_type(nal[0]) {
                // 48–63 are unspecified in H.265 and RFC 7798 uses 48–50 for its own payload
                // structures (AP, FU, PACI): sent as they are, a receiver would misread them
                NAL_AUD | NAL_FILLER | 48..=63 => continue,
                16..=23 => irap = true,
                NAL_VPS => vps = true,
                NAL_SPS => sps = true,
                NAL_PPS => pps = true,
                _ => {}
            }
            units.push(nal);
        }
        if irap && !(vps && sps && pps) && !self.parameter_sets.is_empty() {
            let mut with = Vec::with_capacity(units.len() + self.parameter_sets.len());
            with.extend(self.parameter_sets.iter().map(|p| p.as_slice()));
            with.extend(units);
            return Ok(with);
        }
        Ok(units)
    }
}

impl Packetizer for H265Packetizer {
    /// Packetizes one access unit; `rtp_timestamp` in 90 kHz ticks. An access unit with no NAL
    /// unit left emits nothing.
    fn packetize(&mut self, frame: &[u8], rtp_timestamp: u32, out: &mut PacketBatch) -> Result<(), RtpError> {
        let units = self.units(frame)?;
        if units.is_empty() {
            return Ok(());
        }
        let max = self.state.max_payload();
        let mut state = self.state.clone();
        out.all_or_nothing(&mut state, |state, out| emit(state, &units, max, rtp_timestamp, out))?;
        self.state = state;
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

fn emit(state: &mut PacketizerState, units: &[&[u8]], max: usize, ts: u32, out: &mut PacketBatch) -> Result<(), RtpError> {
    let mut i = 0;
    while i < units.len() {
        // As many following units as fit one AP (2-byte header, 2-byte size each).
        let mut size = 2;
        let mut j = i;
        while j < units.len() && size + 2 + units[j].len() <= max {
            size += 2 + units[j].len();
            j += 1;
        }
        let last = |k: usize| k == units.len();
        if j - i >= 2 {
            // PayloadHdr: F = OR of the units', type 48, the lowest LayerId and TID.
            let f = units[i..j].iter().fold(0u8, |f, u| f | (u[0] & 0x80));
            let layer = units[i..j].iter().map(|u| (u16::from(u[0] & 1) << 5) | u16::from(u[1] >> 3)).min().unwrap_or(0);
            let tid = units[i..j].iter().map(|u| u[1] & 7).min().unwrap_or(1);
            state.push_header(out, last(j), ts);
            out.data.push(f | (AP << 1) | (layer >> 5) as u8);
            out.data.push((((layer & 0x1F) as u8) << 3) | tid);
            for u in &units[i..j] {
                out.data.extend_from_slice(&(u.len() as u16).to_be_bytes());
                out.data.extend_from_slice(u);
            }
            out.end_packet()?;
            i = j;
            continue;
        }
        let nal = units[i];
        i += 1;
        if nal.len() <= max {
            state.push_header(out, last(i), ts);
            out.data.extend_from_slice(nal);
            out.end_packet()?;
            continue;
        }
        // FU: PayloadHdr (the NAL header with type 49), FU header, then the payload in pieces.
        let fu_type = nal_type(nal[0]);
        let header = [(nal[0] & 0x81) | (FU << 1), nal[1]];
        let piece = max - 3;
        let payload = &nal[2..];
        let count = payload.len().div_ceil(piece);
        for (k, chunk) in payload.chunks(piece).enumerate() {
            let end = k + 1 == count;
            state.push_header(out, end && last(i), ts);
            out.data.extend_from_slice(&header);
            out.data.push(if k == 0 { 0x80 } else { 0 } | if end { 0x40 } else { 0 } | fu_type);
            out.data.extend_from_slice(chunk);
            out.end_packet()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nal(t: u8, len: usize) -> Vec<u8> {
        let mut n = vec![t << 1, 1];
        n.extend((0..len - 2).map(|i| i as u8));
        n
    }

    fn avcc(units: &[Vec<u8>]) -> Vec<u8> {
        units.iter().flat_map(|u| [(u.len() as u32).to_be_bytes().to_vec(), u.clone()].concat()).collect()
    }

    /// Reassembles packets into NAL units (RFC 7798 receiver side).
    fn depacketize(out: &PacketBatch) -> Vec<Vec<u8>> {
        let mut units = Vec::new();
        let mut fu: Option<Vec<u8>> = None;
        for p in out.iter() {
            let payload = &p[12..];
            match nal_type(payload[0]) {
                AP => {
                    let mut at = 2;
                    while at < payload.len() {
                        let len = usize::from(u16::from_be_bytes([payload[at], payload[at + 1]]));
                        units.push(payload[at + 2..at + 2 + len].to_vec());
                        at += 2 + len;
                    }
                }
                FU => {
                    let h = payload[2];
                    if h & 0x80 != 0 {
                        fu = Some(vec![(payload[0] & 0x81) | ((h & 0x3F) << 1), payload[1]]);
                    }
                    fu.as_mut().unwrap().extend_from_slice(&payload[3..]);
                    if h & 0x40 != 0 {
                        units.push(fu.take().unwrap());
                    }
                }
                _ => units.push(payload.to_vec()),
            }
        }
        units
    }

    #[test]
    fn irap_gets_parameter_sets_aggregated_and_a_large_slice_fragmented() {
        let mut p = H265Packetizer::new(7, 96).unwrap();
        let (vps, sps, pps) = (nal(NAL_VPS, 24), nal(NAL_SPS, 40), nal(NAL_PPS, 8));
        p.set_parameter_sets(vec![vps.clone()], vec![sps.clone()], vec![pps.clone()]);
        let idr = nal(19, 5000);
        let mut out = PacketBatch::new();
        p.packetize(&avcc(&[nal(NAL_AUD, 3), idr.clone()]), 9000, &mut out).unwrap();
        assert_eq!(nal_type(out.get(0).unwrap()[12]), AP);
        assert_eq!(depacketize(&out), vec![vps, sps, pps, idr]);
        let markers: Vec<bool> = out.iter().map(|pk| pk[1] & 0x80 != 0).collect();
        assert_eq!(markers.iter().filter(|m| **m).count(), 1);
        assert!(markers.last().unwrap());
        assert!(out.iter().all(|pk| pk.len() <= crate::packetizer::DEFAULT_MTU));
    }

    #[test]
    fn small_slices_aggregate_single_fits_alone() {
        let mut p = H265Packetizer::new(7, 96).unwrap();
        let mut out = PacketBatch::new();
        let (a, b) = (nal(1, 100), nal(1, 200));
        p.packetize(&avcc(&[a.clone(), b.clone()]), 0, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(depacketize(&out), vec![a.clone(), b]);
        out.clear();
        p.packetize(&avcc(&[a.clone()]), 3000, &mut out).unwrap();
        assert_eq!(out.get(0).unwrap()[12..], a[..]);
    }

    #[test]
    fn malformed_appends_nothing() {
        let mut p = H265Packetizer::new(7, 96).unwrap();
        let mut out = PacketBatch::new();
        assert!(p.packetize(&[0, 0, 0, 9, 2, 1], 0, &mut out).is_err());
        assert!(out.is_empty());
        assert_eq!(p.state().sequence_number(), 0);
    }
}
