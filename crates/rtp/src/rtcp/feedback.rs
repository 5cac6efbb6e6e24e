//! Feedback messages (RFC 4585 §6.1 common format): generic NACK (§6.2.1), PLI (§6.3.1), FIR
//! (RFC 5104 §4.3.1) and REMB (draft-alvestrand-rmcat-remb-03 §2.2). Transport-wide congestion
//! control feedback is in [`super::twcc`].
//!
//! ```text
//! |V|P| FMT | PT=205/206 | length | SSRC of packet sender | SSRC of media source | FCI ...
//! NACK FCI:  | PID (16) | BLP (16) |                  (one word per lost run of ≤ 17)
//! FIR FCI:   | SSRC (32) | seq nr (8) | reserved (24) |  (media source SSRC is 0)
//! REMB FCI:  | 'R' 'E' 'M' 'B' | num SSRC (8) | BR exp (6) | BR mantissa (18) | SSRC ... |
//! ```

use super::header::{begin, finish, pt, u16_at, u32_at};
use super::RtcpError;

/// FMT of generic NACK (RFC 4585 §6.2.1).
pub const FMT_NACK: u8 = 1;
/// FMT of transport-wide CC feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1).
pub const FMT_TWCC: u8 = 15;
/// FMT of PLI (RFC 4585 §6.3.1).
pub const FMT_PLI: u8 = 1;
/// FMT of FIR (RFC 5104 §4.3.1).
pub const FMT_FIR: u8 = 4;
/// FMT of application-layer feedback, REMB's (RFC 4585 §6.4).
pub const FMT_AFB: u8 = 15;

/// Sequence numbers a receiver asks to have sent again (generic NACK).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Nack {
    /// The receiver's SSRC.
    pub sender_ssrc: u32,
    /// The stream the losses are in.
    pub media_ssrc: u32,
    /// Lost RTP sequence numbers, in the order the FCI lists them.
    pub lost: Vec<u16>,
}

impl Nack {
    pub(crate) fn read(body: &[u8]) -> Result<Self, RtcpError> {
        if body.len() < 8 {
            return Err(RtcpError::TooShort("feedback SSRCs"));
        }
        let mut lost = Vec::new();
        for word in body[8..].chunks_exact(4) {
            let pid = u16_at(word, 0);
            let blp = u16_at(word, 2);
            lost.push(pid);
            lost.extend((0..16).filter(|i| blp & (1 << i) != 0).map(|i| pid.wrapping_add(i + 1)));
        }
        Ok(Nack { sender_ssrc: u32_at(body, 0), media_ssrc: u32_at(body, 4), lost })
    }

    /// Appends the packet to `out`, packing `lost` (sorted, duplicates removed, in sequence
    /// number order modulo 2^16 from the smallest) into PID + BLP words.
    ///
    /// # Errors
    /// [`RtcpError::TooLarge`] when the words exceed 65 535.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), RtcpError> {
        let mut seqs = self.lost.clone();
        seqs.sort_unstable();
        seqs.dedup();
        let start = begin(out, FMT_NACK, pt::RTPFB);
        out.extend_from_slice(&self.sender_ssrc.to_be_bytes());
        out.extend_from_slice(&self.media_ssrc.to_be_bytes());
        let mut word: Option<(u16, u16)> = None;
        for s in seqs {
            match word {
                Some((pid, ref mut blp)) if s.wrapping_sub(pid) >= 1 && s.wrapping_sub(pid) <= 16 => {
                    *blp |= 1 << (s.wrapping_sub(pid) - 1)
                }
                _ => {
                    if let Some((pid, blp)) = word {
                        out.extend_from_slice(&pid.to_be_bytes());
                        out.extend_from_slice(&blp.to_be_bytes());
                    }
                    word = Some((s, 0));
                }
            }
        }
        if let Some((pid, blp)) = word {
            out.extend_from_slice(&pid.to_be_bytes());
            out.extend_from_slice(&blp.to_be_bytes());
        }
        finish(out, start)
    }
}

/// A picture loss indication: send a keyframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pli {
    /// The receiver's SSRC.
    pub sender_ssrc: u32,
    /// The video stream that needs a keyframe.
    pub media_ssrc: u32,
}

impl Pli {
    pub(crate) fn read(body: &[u8]) -> Result<Self, RtcpError> {
        if body.len() < 8 {
            return Err(RtcpError::TooShort("feedback SSRCs"));
        }
        Ok(Pli { sender_ssrc: u32_at(body, 0), media_ssrc: u32_at(body, 4) })
    }

    /// Appends the 12-byte packet to `out`.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), RtcpError> {
        let start = begin(out, FMT_PLI, pt::PSFB);
        out.extend_from_slice(&self.sender_ssrc.to_be_bytes());
        out.extend_from_slice(&self.media_ssrc.to_be_bytes());
        finish(out, start)
    }
}

/// A full intra request: a keyframe from each listed stream, each with a command sequence
/// number that a repeated request keeps.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fir {
    /// The requester's SSRC.
    pub sender_ssrc: u32,
    /// (media SSRC, command sequence number) per FCI entry.
    pub entries: Vec<(u32, u8)>,
}

impl Fir {
    pub(crate) fn read(body: &[u8]) -> Result<Self, RtcpError> {
        if body.len() < 8 {
            return Err(RtcpError::TooShort("feedback SSRCs"));
        }
        let entries = body[8..].chunks_exact(8).map(|e| (u32_at(e, 0), e[4])).collect();
        Ok(Fir { sender_ssrc: u32_at(body, 0), entries })
    }

    /// Appends the packet to `out`.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), RtcpError> {
        let start = begin(out, FMT_FIR, pt::PSFB);
        out.extend_from_slice(&self.sender_ssrc.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        for (ssrc, seq) in &self.entries {
            out.extend_from_slice(&ssrc.to_be_bytes());
            out.extend_from_slice(&[*seq, 0, 0, 0]);
        }
        finish(out, start)
    }
}

/// A receiver estimated maximum bitrate: what the receiver thinks the path carries, in bit/s.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Remb {
    /// The receiver's SSRC.
    pub sender_ssrc: u32,
    /// Estimated bitrate in bit/s (mantissa × 2^exp on the wire; rounded down to 18 bits of
    /// precision when written).
    pub bitrate: u64,
    /// The streams the estimate covers.
    pub ssrcs: Vec<u32>,
}

impl Remb {
    pub(crate) fn read_if_remb(body: &[u8]) -> Result<Option<Self>, RtcpError> {
        if body.len() < 16 || &body[8..12] != b"REMB" {
            return Ok(None);
        }
        let n = body[12] as usize;
        let exp = body[13] >> 2;
        let mantissa = ((body[13] as u64 & 0x03) << 16) | u16_at(body, 14) as u64;
        if body.len() < 16 + 4 * n {
            return Err(RtcpError::Malformed("REMB SSRC count beyond the packet"));
        }
        let ssrcs = (0..n).map(|i| u32_at(body, 16 + 4 * i)).collect();
        let bitrate = mantissa.checked_shl(exp as u32).filter(|b| b >> exp == mantissa).unwrap_or(u64::MAX);
        Ok(Some(Remb { sender_ssrc: u32_at(body, 0), bitrate, ssrcs }))
    }

    /// Appends the packet to `out`.
    ///
    /// # Errors
    /// [`RtcpError::TooLarge`] with more than 255 SSRCs.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), RtcpError> {
        if self.ssrcs.len() > 255 {
            return Err(RtcpError::TooLarge("more than 255 REMB SSRCs"));
        }
        let mut exp = 0u8;
        while (self.bitrate >> exp) >= (1 << 18) {
            exp += 1;
        }
        let mantissa = (self.bitrate >> exp) as u32;
        let start = begin(out, FMT_AFB, pt::PSFB);
        out.extend_from_slice(&self.sender_ssrc.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(b"REMB");
        out.push(self.ssrcs.len() as u8);
        out.push((exp << 2) | ((mantissa >> 16) as u8 & 0x03));
        out.extend_from_slice(&(mantissa as u16).to_be_bytes());
        self.ssrcs.iter().for_each(|s| out.extend_from_slice(&s.to_be_bytes()));
        finish(out, start)
    }
}
