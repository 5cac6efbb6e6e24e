//! H.264 over RTP back to access units, RFC 6184 packetization-mode 0 and 1: single NAL unit
//! packets (§5.6, types 1–23), STAP-A (§5.7.1, type 24) and FU-A (§5.8, type 28).
//!
//! Output access units are in AVCC form (ISO/IEC 14496-15 §5.3.4.2: each NAL unit preceded by
//! its 4-byte big-endian length), what FLV and MP4 carry. SPS (type 7) and PPS (type 8) are
//! taken out of the access unit and kept as the current parameter sets
//! ([`parameter_sets`](H264Depacketizer::parameter_sets)); access unit delimiters (type 9) and
//! filler data (type 12) are dropped.
//!
//! An access unit ends at the marker bit (§5.1) or when a packet with another timestamp
//! arrives. Loss: after [`lost`](H264Depacketizer::lost) (a gap the reordering buffer gave up
//! on) the access unit in progress is dropped, and so is every following one until an IDR
//! access unit (type 5) arrives, because they reference what was lost;
//! [`take_keyframe_request`](H264Depacketizer::take_keyframe_request) tells the caller to ask
//! the sender for one (PLI, RFC 4585 §6.3.1). The first access unit out is always an IDR.
//! STAP-B, MTAP and FU-B (interleaved mode, types 25–27 and 29) are refused per packet.

use crate::packet::RtpHeader;
use crate::RtpError;

/// RTP clock rate of H.264 in Hz (RFC 6184 §5.1).
pub const CLOCK_RATE: u32 = 90_000;
/// Default largest access unit, in bytes; a larger one is dropped as malformed.
pub const DEFAULT_MAX_ACCESS_UNIT: usize = 8 << 20;

const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;
const NAL_AUD: u8 = 9;
const NAL_FILLER: u8 = 12;
const STAP_A: u8 = 24;
const FU_A: u8 = 28;

/// One access unit out of the depacketizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H264AccessUnit {
    /// RTP timestamp, 90 kHz ticks: the presentation time.
    pub timestamp: u32,
    /// The NAL units in AVCC form (4-byte big-endian length before each); SPS/PPS excluded.
    pub data: Vec<u8>,
    /// Whether it holds an IDR slice (type 5).
    pub keyframe: bool,
    /// Whether the SPS or PPS changed since the previous access unit out (the caller sends a
    /// new decoder configuration record ahead of this access unit).
    pub parameter_sets_changed: bool,
}

/// The depacketizer; see the [module docs](self).
#[derive(Debug)]
pub struct H264Depacketizer {
    au: Vec<u8>,
    au_timestamp: Option<u32>,
    au_keyframe: bool,
    /// Offset in `au` of the length prefix of the FU-A NAL unit being reassembled.
    fu_start: Option<usize>,
    broken: bool,
    waiting_keyframe: bool,
    keyframe_request: bool,
    sps: Vec<u8>,
    pps: Vec<u8>,
    parameter_sets_changed: bool,
    max_access_unit: usize,
}

impl Default for H264Depacketizer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_ACCESS_UNIT)
    }
}

impl H264Depacketizer {
    /// A depacketizer waiting for its first IDR; access units over `max_access_unit` bytes
    /// are dropped.
    pub fn new(max_access_unit: usize) -> Self {
        H264Depacketizer {
            au: Vec::new(),
            au_timestamp: None,
            au_keyframe: false,
            fu_start: None,
            broken: false,
            waiting_keyframe: true,
            keyframe_request: false,
            sps: Vec::new(),
            pps: Vec::new(),
            parameter_sets_changed: false,
            max_access_unit,
        }
    }

    /// The current SPS and PPS (NAL units without start codes or lengths), once both were seen.
    pub fn parameter_sets(&self) -> Option<(&[u8], &[u8])> {
        (!self.sps.is_empty() && !self.pps.is_empty()).then_some((&self.sps[..], &self.pps[..]))
    }

    /// Whether a keyframe should be requested from the sender since the last call (after a
    /// loss, or while the first IDR has not come).
    pub fn take_keyframe_request(&mut self) -> bool {
        std::mem::take(&mut self.keyframe_request)
    }

    /// Packets were lost before the next one: the access unit in progress is dropped and
    /// output resumes at the next IDR.
    pub fn lost(&mut self) {
        // Only an access unit in progress is broken: a loss between access units spares the
        // next one (an IDR then plays at once).
        if self.au_timestamp.is_some() {
            self.broken = true;
        }
        self.fu_start = None;
        if !self.waiting_keyframe {
            self.waiting_keyframe = true;
            self.keyframe_request = true;
        }
    }

    /// Takes one RTP packet (header already parsed, `payload` without padding), in sequence
    /// order, and appends any access unit it completes to `out` (at most two: the previous
    /// one when the timestamp changed without a marker, and this one at its marker).
    ///
    /// Errors concern this packet only (the access unit it belonged to is dropped):
    /// [`RtpError::EmptyFrame`] for an empty payload, [`RtpError::UnsupportedPayload`] for
    /// interleaved-mode packet types, [`RtpError::MalformedPayload`] for a STAP-A or FU-A
    /// that runs short or an FU-A without its start, [`RtpError::PayloadTooLarge`] past the
    /// access unit limit.
    pub fn push(
        &mut self,
        header: &RtpHeader<'_>,
        payload: &[u8],
        out: &mut Vec<H264AccessUnit>,
    ) -> Result<(), RtpError> {
        if self.au_timestamp.is_some_and(|t| t != header.timestamp) {
            self.finish(out);
        }
        self.au_timestamp = Some(header.timestamp);
        let result = self.take_payload(payload);
        if result.is_err() {
            self.broken = true;
            self.fu_start = None;
        }
        if header.marker {
            self.finish(out);
        }
        result
    }

    fn take_payload(&mut self, payload: &[u8]) -> Result<(), RtpError> {
        let Some(&nal_header) = payload.first() else {
            return Err(RtpError::EmptyFrame);
        };
        let nal_type = nal_header & 0x1F;
        if self.fu_start.is_some() && nal_type != FU_A {
            // The FU-A in progress never got its end fragment.
            self.broken = true;
            self.fu_start = None;
        }
        match nal_type {
            1..=23 => self.take_nal(payload),
            STAP_A => {
                let mut at = 1;
                while at < payload.len() {
                    let Some(size) = payload.get(at..at + 2) else {
                        return Err(RtpError::MalformedPayload { offset: at });
                    };
                    let size = u16::from_be_bytes([size[0], size[1]]) as usize;
                    let Some(nal) = payload.get(at + 2..at + 2 + size).filter(|n| !n.is_empty())
                    else {
                        return Err(RtpError::MalformedPayload { offset: at });
                    };
                    self.take_nal(nal)?;
                    at += 2 + size;
                }
                Ok(())
            }
            FU_A => {
                let Some(&fu_header) = payload.get(1) else {
                    return Err(RtpError::MalformedPayload { offset: 1 });
                };
                let (start, end) = (fu_header & 0x80 != 0, fu_header & 0x40 != 0);
                let data = &payload[2..];
                if start {
                    if self.fu_start.is_some() {
                        self.broken = true;
                    }
                    let nal_header = (nal_header & 0xE0) | (fu_header & 0x1F);
                    self.reserve(5 + data.len())?;
                    self.fu_start = Some(self.au.len());
                    self.au.extend_from_slice(&[0, 0, 0, 0, nal_header]);
                    self.au.extend_from_slice(data);
                } else {
                    if self.fu_start.is_none() {
                        self.broken = true;
                        // Joining mid-unit (first packets, after a loss) is expected; in a
                        // gapless sequence it is malformed.
                        if self.waiting_keyframe {
                            return Ok(());
                        }
                        return Err(RtpError::MalformedPayload { offset: 1 });
                    }
                    self.reserve(data.len())?;
                    self.au.extend_from_slice(data);
                }
                if end {
                    if let Some(fu_start) = self.fu_start.take() {
                        let nal_len = (self.au.len() - fu_start - 4) as u32;
                        self.au[fu_start..fu_start + 4].copy_from_slice(&nal_len.to_be_bytes());
                        self.classify(fu_start);
                    }
                }
                Ok(())
            }
            other => Err(RtpError::UnsupportedPayload { kind: other }),
        }
    }

    fn reserve(&self, more: usize) -> Result<(), RtpError> {
        if self.au.len() + more > self.max_access_unit {
            return Err(RtpError::PayloadTooLarge {
                size: self.au.len() + more,
                max: self.max_access_unit,
            });
        }
        Ok(())
    }

    /// Looks at the whole NAL unit whose length prefix is at `at` in `au`: keeps parameter
    /// sets aside and drops delimiters/filler.
    fn classify(&mut self, at: usize) {
        let nal_type = self.au[at + 4] & 0x1F;
        match nal_type {
            NAL_SPS | NAL_PPS => {
                let nal = self.au[at + 4..].to_vec();
                let current = if nal_type == NAL_SPS {
                    &mut self.sps
                } else {
                    &mut self.pps
                };
                if *current != nal {
                    *current = nal;
                    self.parameter_sets_changed = true;
                }
                self.au.truncate(at);
            }
            NAL_AUD | NAL_FILLER => self.au.truncate(at),
            NAL_IDR => self.au_keyframe = true,
            _ => {}
        }
    }

    fn take_nal(&mut self, nal: &[u8]) -> Result<(), RtpError> {
        self.reserve(4 + nal.len())?;
        let at = self.au.len();
        self.au.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        self.au.extend_from_slice(nal);
        self.classify(at);
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<H264AccessUnit>) {
        let Some(timestamp) = self.au_timestamp.take() else {
            return;
        };
        let keyframe = std::mem::take(&mut self.au_keyframe);
        // Both taken unconditionally (no `||` short circuit): `au` is emptied below whatever
        // happens, and an FU-A start offset left behind would point past its end, so that the
        // next end fragment sliced `au` out of range.
        let fu_unfinished = self.fu_start.take().is_some();
        let broken = std::mem::take(&mut self.broken) || fu_unfinished;
        if broken {
            if !self.waiting_keyframe {
                self.waiting_keyframe = true;
            }
            self.keyframe_request = true;
            self.au.clear();
            return;
        }
        if self.au.is_empty() {
            return;
        }
        if self.waiting_keyframe {
            if !keyframe || self.parameter_sets().is_none() {
                self.keyframe_request = true;
                self.au.clear();
                return;
            }
            self.waiting_keyframe = false;
        }
        out.push(H264AccessUnit {
            timestamp,
            data: std::mem::take(&mut self.au),
            keyframe,
            parameter_sets_changed: std::mem::take(&mut self.parameter_sets_changed),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(ts: u32, marker: bool) -> RtpHeader<'static> {
        let mut h = RtpHeader::new(96, 0, ts, 1);
        h.marker = marker;
        h
    }

    fn push(
        d: &mut H264Depacketizer,
        ts: u32,
        marker: bool,
        payload: &[u8],
    ) -> Vec<H264AccessUnit> {
        let mut out = Vec::new();
        d.push(&header(ts, marker), payload, &mut out).unwrap();
        out
    }

    const SPS: &[u8] = &[0x67, 0x42, 0xC0, 0x1E, 0x8C];
    const PPS: &[u8] = &[0x68, 0xCE, 0x3C, 0x80];

    fn stap(nals: &[&[u8]]) -> Vec<u8> {
        let mut p = vec![0x78];
        for n in nals {
            p.extend_from_slice(&(n.len() as u16).to_be_bytes());
            p.extend_from_slice(n);
        }
        p
    }

    fn avcc(nals: &[&[u8]]) -> Vec<u8> {
        let mut p = Vec::new();
        for n in nals {
            p.extend_from_slice(&(n.len() as u32).to_be_bytes());
            p.extend_from_slice(n);
        }
        p
    }

    #[test]
    fn stap_a_then_fu_a_idr_then_single_p() {
        let mut d = H264Depacketizer::default();
        assert!(push(&mut d, 900, false, &stap(&[SPS, PPS])).is_empty());
        assert!(push(&mut d, 900, false, &[0x7C, 0x85, 1, 2, 3]).is_empty());
        assert!(push(&mut d, 900, false, &[0x7C, 0x05, 4, 5]).is_empty());
        let au = push(&mut d, 900, true, &[0x7C, 0x45, 6]);
        assert_eq!(au.len(), 1);
        assert_eq!(au[0].data, avcc(&[&[0x65, 1, 2, 3, 4, 5, 6]]));
        assert!(au[0].keyframe && au[0].parameter_sets_changed);
        assert_eq!(d.parameter_sets(), Some((SPS, PPS)));
        let au = push(&mut d, 3900, true, &[0x41, 9, 9]);
        assert_eq!(au[0].data, avcc(&[&[0x41, 9, 9]]));
        assert!(!au[0].keyframe && !au[0].parameter_sets_changed);
        assert_eq!(au[0].timestamp, 3900);
    }

    #[test]
    fn timestamp_change_ends_an_access_unit_without_marker() {
        let mut d = H264Depacketizer::default();
        push(&mut d, 0, false, &stap(&[SPS, PPS, &[0x65, 1]]));
        let au = push(&mut d, 3000, false, &[0x41, 2]);
        assert_eq!(au.len(), 1);
        assert_eq!(au[0].timestamp, 0);
        let au = push(&mut d, 6000, true, &[0x41, 3]);
        assert_eq!(
            au.iter().map(|a| a.timestamp).collect::<Vec<_>>(),
            [3000, 6000]
        );
    }

    #[test]
    fn waits_for_idr_and_drops_after_loss_until_next_idr() {
        let mut d = H264Depacketizer::default();
        assert!(push(&mut d, 0, true, &[0x41, 1]).is_empty());
        assert!(d.take_keyframe_request());
        assert_eq!(
            push(&mut d, 10, true, &stap(&[SPS, PPS, &[0x65, 1]])).len(),
            1
        );
        d.lost();
        assert!(push(&mut d, 20, true, &[0x41, 2]).is_empty());
        assert!(d.take_keyframe_request());
        assert!(push(&mut d, 30, true, &[0x41, 3]).is_empty());
        let au = push(&mut d, 40, true, &[0x65, 4]);
        assert!(au[0].keyframe && !au[0].parameter_sets_changed);
        assert_eq!(push(&mut d, 50, true, &[0x41, 5]).len(), 1);
    }

    #[test]
    fn fu_a_missing_its_end_is_dropped() {
        let mut d = H264Depacketizer::default();
        push(&mut d, 0, true, &stap(&[SPS, PPS, &[0x65, 1]]));
        push(&mut d, 10, false, &[0x7C, 0x81, 1]);
        let au = push(&mut d, 10, true, &[0x41, 2]);
        assert!(au.is_empty());
        assert!(d.take_keyframe_request());
    }

    #[test]
    fn malformed_payloads_are_errors_not_panics() {
        for p in [
            &[][..],
            &[0x78, 0, 9, 1],
            &[0x78, 0],
            &[0x7C],
            &[0x7C, 0x05, 1],
            &[0x79, 1],
            &[0x7D, 1],
        ] {
            let mut d = H264Depacketizer::default();
            push(&mut d, 0, true, &stap(&[SPS, PPS, &[0x65, 1]]));
            let mut out = Vec::new();
            assert!(d.push(&header(10, true), p, &mut out).is_err(), "{p:?}");
            assert!(out.is_empty());
        }
    }

    #[test]
    fn access_unit_size_is_bounded() {
        let mut d = H264Depacketizer::new(100);
        let mut out = Vec::new();
        push(&mut d, 0, false, &stap(&[SPS, PPS]));
        let big = [0x65u8; 200];
        assert!(matches!(
            d.push(&header(0, true), &big, &mut out),
            Err(RtpError::PayloadTooLarge { .. })
        ));
        assert!(out.is_empty());
    }
}
