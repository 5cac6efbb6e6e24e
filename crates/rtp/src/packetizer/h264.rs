//! H.264 over RTP, RFC 6184, packetization-mode=1 (non-interleaved), 90 kHz clock.
//!
//! Input is one access unit in AVCC form (ISO/IEC 14496-15 §5.3.4.2): NAL units back to back,
//! each preceded by its big-endian length in `nalu_length_size` (1, 2 or 4) bytes — exactly
//! the body of an FLV AVC NALU video tag after its 5-byte header.
//!
//! ```text
//! AVCC:  | len (N bytes) | NAL unit | len | NAL unit | …
//! NAL unit header (H.264 §7.3.1):  F(1) | NRI(2) | type(5)
//! ```
//!
//! Per access unit:
//! 1. NAL units of type 9 (access unit delimiter) and 12 (filler data) are dropped, and so are
//!    types 0 and 24–31, which H.264 leaves unspecified and RFC 6184 §5.2 uses for its own
//!    payload structures. Zero-length entries are skipped.
//! 2. If the access unit holds an IDR slice (type 5) and does not carry both an SPS (7) and a
//!    PPS (8) itself, the parameter sets given to
//!    [`set_parameter_sets`](H264Packetizer::set_parameter_sets) go first, as one STAP-A
//!    (several if they do not fit one packet).
//! 3. With aggregation on (the default), runs of consecutive NAL units that fit one packet
//!    together go as a STAP-A (§5.7.1); otherwise a NAL unit that fits the payload goes as a
//!    single NAL unit packet (§5.6) and a larger one as FU-A fragments (§5.8) of even size.
//! 4. Every packet carries the access unit's timestamp; the last one has the marker bit (§5.1).
//!
//! A malformed AVCC (a length prefix or NAL unit past the end) is [`RtpError::MalformedAvcc`]
//! and nothing is emitted for that access unit.

use std::ops::Range;

use super::{PacketBatch, Packetizer, PacketizerState};
use crate::RtpError;

/// RTP clock rate of H.264 in Hz (RFC 6184 §8.1).
pub const CLOCK_RATE: u32 = 90_000;

/// NAL unit type: coded slice of a non-IDR picture.
pub const NAL_SLICE: u8 = 1;
/// NAL unit type: coded slice of an IDR picture.
pub const NAL_IDR: u8 = 5;
/// NAL unit type: supplemental enhancement information.
pub const NAL_SEI: u8 = 6;
/// NAL unit type: sequence parameter set.
pub const NAL_SPS: u8 = 7;
/// NAL unit type: picture parameter set.
pub const NAL_PPS: u8 = 8;
/// NAL unit type: access unit delimiter (dropped).
pub const NAL_AUD: u8 = 9;
/// NAL unit type: filler data (dropped).
pub const NAL_FILLER: u8 = 12;
/// RTP payload type: single-time aggregation packet A (RFC 6184 §5.7.1).
pub const STAP_A: u8 = 24;
/// RTP payload type: fragmentation unit A (RFC 6184 §5.8).
pub const FU_A: u8 = 28;

/// The low 5 bits of a NAL unit header: its type.
pub fn nal_type(header: u8) -> u8 {
    header & 0x1F
}

/// Packetizer for H.264 access units in AVCC form; see the [module docs](self) for the rules.
#[derive(Debug, Clone)]
pub struct H264Packetizer {
    state: PacketizerState,
    nalu_length_size: u8,
    aggregation: bool,
    /// SPS then PPS NAL units, back to back; `parameter_set_ranges` delimits them.
    parameter_sets: Vec<u8>,
    parameter_set_ranges: Vec<Range<usize>>,
    /// Scratch: the NAL units of the current access unit (reused between calls).
    nalus: Vec<Range<usize>>,
}

impl H264Packetizer {
    /// A packetizer with 4-byte NAL unit lengths, aggregation on, no parameter sets, sequence
    /// number 0 and the default MTU. [`RtpError::InvalidPayloadType`] above 127.
    pub fn new(ssrc: u32, payload_type: u8) -> Result<Self, RtpError> {
        Ok(H264Packetizer {
            state: PacketizerState::new(ssrc, payload_type)?,
            nalu_length_size: 4,
            aggregation: true,
            parameter_sets: Vec::new(),
            parameter_set_ranges: Vec::new(),
            nalus: Vec::new(),
        })
    }

    /// Size in bytes of each AVCC length prefix.
    pub fn nalu_length_size(&self) -> u8 {
        self.nalu_length_size
    }

    /// Sets the AVCC length prefix size (`lengthSizeMinusOne + 1` of the
    /// AVCDecoderConfigurationRecord); [`RtpError::InvalidNaluLengthSize`] unless 1, 2 or 4.
    pub fn set_nalu_length_size(&mut self, size: u8) -> Result<(), RtpError> {
        if !matches!(size, 1 | 2 | 4) {
            return Err(RtpError::InvalidNaluLengthSize { size });
        }
        self.nalu_length_size = size;
        Ok(())
    }

    /// Whether small consecutive NAL units are aggregated into STAP-A packets.
    pub fn aggregation(&self) -> bool {
        self.aggregation
    }

    /// Turns STAP-A aggregation of the access unit's NAL units on or off (parameter sets sent
    /// before an IDR are aggregated either way).
    pub fn set_aggregation(&mut self, on: bool) {
        self.aggregation = on;
    }

    /// Sets the SPS and PPS NAL units (no length prefix or start code), as in the
    /// AVCDecoderConfigurationRecord, to send before IDR access units that lack them.
    /// Empty entries are ignored.
    pub fn set_parameter_sets(&mut self, sps: Vec<Vec<u8>>, pps: Vec<Vec<u8>>) {
        self.parameter_sets.clear();
        self.parameter_set_ranges.clear();
        for nal in sps.iter().chain(pps.iter()).filter(|n| !n.is_empty()) {
            let start = self.parameter_sets.len();
            self.parameter_sets.extend_from_slice(nal);
            self.parameter_set_ranges
                .push(start..self.parameter_sets.len());
        }
    }

    /// The stored parameter sets (SPS first, then PPS).
    pub fn parameter_sets(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.parameter_set_ranges
            .iter()
            .map(|r| &self.parameter_sets[r.clone()])
    }

    /// Splits `frame` into `self.nalus`, dropping what the rules drop. Returns whether it has
    /// an IDR slice, an SPS and a PPS.
    fn split_avcc(&mut self, frame: &[u8]) -> Result<(bool, bool, bool), RtpError> {
        self.nalus.clear();
        let prefix = self.nalu_length_size as usize;
        let (mut idr, mut sps, mut pps) = (false, false, false);
        let mut at = 0;
        while at < frame.len() {
            let available = frame.len() - at;
            if available < prefix {
                return Err(RtpError::MalformedAvcc {
                    offset: at,
                    needed: prefix,
                    available,
                });
            }
            let len = frame[at..at + prefix]
                .iter()
                .fold(0usize, |n, &b| (n << 8) | b as usize);
            if len > available - prefix {
                let needed = prefix.saturating_add(len);
                return Err(RtpError::MalformedAvcc {
                    offset: at,
                    needed,
                    available,
                });
            }
            let nal = at + prefix..at + prefix + len;
            at = nal.end;
            let Some(&header) = frame.get(nal.start) else {
                continue;
            };
            match nal_type(header) {
                0 | NAL_AUD | NAL_FILLER | 24..=31 => continue,
                NAL_IDR => idr = true,
                NAL_SPS => sps = true,
                NAL_PPS => pps = true,
                _ => {}
            }
            self.nalus.push(nal);
        }
        Ok((idr, sps, pps))
    }
}

/// Emits `units` (ranges into `src`) as STAP-A, single NAL unit or FU-A packets.
fn emit_units(
    state: &mut PacketizerState,
    out: &mut PacketBatch,
    src: &[u8],
    units: &[Range<usize>],
    timestamp: u32,
    aggregate: bool,
) -> Result<(), RtpError> {
    let max_payload = state.max_payload();
    let mut i = 0;
    while i < units.len() {
        let first = &src[units[i].clone()];
        if aggregate {
            // STAP-A: 1-byte header, then a u16 size and the NAL unit per unit (§5.7.1).
            let mut size = 1 + 2 + first.len();
            let mut j = i + 1;
            while j < units.len() && size + 2 + units[j].len() <= max_payload {
                size += 2 + units[j].len();
                j += 1;
            }
            if j - i >= 2 && size <= max_payload {
                let group = &units[i..j];
                let (f, nri) = group.iter().fold((0u8, 0u8), |(f, nri), r| {
                    let h = src[r.start];
                    (f | (h & 0x80), nri.max(h & 0x60))
                });
                state.push_header(out, false, timestamp);
                out.data.push(f | nri | STAP_A);
                for r in group {
                    out.data.extend_from_slice(&(r.len() as u16).to_be_bytes());
                    out.data.extend_from_slice(&src[r.clone()]);
                }
                out.end_packet()?;
                i = j;
                continue;
            }
        }
        if first.len() <= max_payload {
            // Single NAL unit packet (§5.6): the NAL unit as is.
            state.push_header(out, false, timestamp);
            out.data.extend_from_slice(first);
            out.end_packet()?;
        } else {
            // FU-A (§5.8): FU indicator F|NRI|28, FU header S|E|R|type, then a fragment of the
            // NAL unit without its header byte. Fragments are of even size (±1 byte).
            let header = first[0];
            let body = &first[1..];
            let max_fragment = max_payload - 2;
            let count = body.len().div_ceil(max_fragment);
            let (base, extra) = (body.len() / count, body.len() % count);
            let mut at = 0;
            for k in 0..count {
                let size = base + usize::from(k < extra);
                let s = if k == 0 { 0x80 } else { 0 };
                let e = if k == count - 1 { 0x40 } else { 0 };
                state.push_header(out, false, timestamp);
                out.data.push((header & 0xE0) | FU_A);
                out.data.push(s | e | nal_type(header));
                out.data.extend_from_slice(&body[at..at + size]);
                out.end_packet()?;
                at += size;
            }
        }
        i += 1;
    }
    Ok(())
}

impl Packetizer for H264Packetizer {
    /// Packetizes one AVCC access unit; `rtp_timestamp` is in 90 kHz ticks. An access unit
    /// with no NAL unit left after the drop rules emits nothing.
    fn packetize(
        &mut self,
        frame: &[u8],
        rtp_timestamp: u32,
        out: &mut PacketBatch,
    ) -> Result<(), RtpError> {
        let (idr, sps, pps) = self.split_avcc(frame)?;
        let send_parameter_sets = idr && !(sps && pps);
        let max_fragment = self.state.max_payload() - 2;
        // One allocation per call at most, even for a fresh batch.
        out.ends
            .reserve(frame.len() / max_fragment + self.nalus.len() + 2);
        out.data.reserve(
            frame.len()
                + frame.len() / max_fragment * 14
                + (self.nalus.len() + 2) * 16
                + if send_parameter_sets {
                    self.parameter_sets.len() + 32
                } else {
                    0
                },
        );
        let (parameter_sets, parameter_set_ranges) = (&self.parameter_sets, &self.parameter_set_ranges);
        let (nalus, aggregation) = (&self.nalus, self.aggregation);
        let mark = out.all_or_nothing(&mut self.state, |state, out| {
            if send_parameter_sets {
                emit_units(state, out, parameter_sets, parameter_set_ranges, rtp_timestamp, true)?;
            }
            emit_units(state, out, frame, nalus, rtp_timestamp, aggregation)
        })?;
        out.set_marker_on_last(mark);
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
