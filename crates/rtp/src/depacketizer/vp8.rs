//! VP8 over RTP back to frames, RFC 7741.
//!
//! Each packet starts with the VP8 payload descriptor (§4.2), 1 to 6 bytes:
//!
//! ```text
//!       0 1 2 3 4 5 6 7
//!      +-+-+-+-+-+-+-+-+
//!      |X|R|N|S|R| PID |  required: X extensions follow, N non-reference frame,
//!      +-+-+-+-+-+-+-+-+            S start of a partition, PID partition index
//! X:   |I|L|T|K| RSV   |  present when X
//!      +-+-+-+-+-+-+-+-+
//! I:   |M| PictureID   |  present when I; M set: PictureID is 15 bits (one byte more)
//!      +-+-+-+-+-+-+-+-+
//! L:   |   TL0PICIDX   |  present when L
//!      +-+-+-+-+-+-+-+-+
//! T/K: |TID|Y| KEYIDX  |  present when T or K
//!      +-+-+-+-+-+-+-+-+
//! ```
//!
//! A frame starts in the packet with S set and PID 0 and ends at the marker bit (§4.1) or when
//! a packet with another timestamp arrives. The frame's first byte is the VP8 frame tag
//! (RFC 6386 §9.1): its bit 0 clear marks a key frame, whose bytes 3–5 are the start code
//! `9d 01 2a` and 6–9 the width and height (14 bits each, 2 bits of scaling).
//!
//! Loss: after [`lost`](Vp8Depacketizer::lost) the frame in progress is dropped, and so is
//! every following one until a key frame, because they may reference what was lost;
//! [`take_keyframe_request`](Vp8Depacketizer::take_keyframe_request) tells the caller to ask
//! the sender for one (PLI, RFC 4585 §6.3.1). The first frame out is always a key frame.

use crate::packet::RtpHeader;
use crate::RtpError;

/// Default largest frame, in bytes; a larger one is dropped as malformed.
pub const DEFAULT_MAX_FRAME: usize = 8 << 20;

/// One VP8 frame out of the depacketizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vp8Frame {
    /// RTP timestamp, 90 kHz ticks: the presentation time.
    pub timestamp: u32,
    /// The frame as the VP8 decoder takes it (RFC 6386 §9), descriptors removed.
    pub data: Vec<u8>,
    /// Whether it is a key frame (frame tag bit 0 clear).
    pub keyframe: bool,
    /// A key frame's width and height in pixels (RFC 6386 §9.2; scaling bits removed).
    pub size: Option<(u16, u16)>,
}

/// The depacketizer; see the [module docs](self).
#[derive(Debug)]
pub struct Vp8Depacketizer {
    frame: Vec<u8>,
    frame_timestamp: Option<u32>,
    /// The frame in progress had its start (S=1, PID=0) packet.
    started: bool,
    broken: bool,
    waiting_keyframe: bool,
    keyframe_request: bool,
    max_frame: usize,
}

impl Default for Vp8Depacketizer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

/// Length of the payload descriptor at the start of `payload`, and its S and PID fields.
/// [`RtpError::EmptyFrame`] for an empty payload, [`RtpError::MalformedPayload`] when the
/// descriptor runs past the payload.
pub fn payload_descriptor(payload: &[u8]) -> Result<(usize, bool, u8), RtpError> {
    let Some(&b0) = payload.first() else {
        return Err(RtpError::EmptyFrame);
    };
    let start = b0 & 0x10 != 0;
    let pid = b0 & 0x07;
    let mut at = 1;
    if b0 & 0x80 != 0 {
        let Some(&x) = payload.get(at) else {
            return Err(RtpError::MalformedPayload { offset: at });
        };
        at += 1;
        if x & 0x80 != 0 {
            // I: PictureID, 7 or 15 bits (M).
            let Some(&picture_id) = payload.get(at) else {
                return Err(RtpError::MalformedPayload { offset: at });
            };
            at += if picture_id & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            at += 1; // L: TL0PICIDX
        }
        if x & 0x30 != 0 {
            at += 1; // T or K: TID/Y/KEYIDX
        }
    }
    if at > payload.len() {
        return Err(RtpError::MalformedPayload { offset: payload.len() });
    }
    Ok((at, start, pid))
}

impl Vp8Depacketizer {
    /// A depacketizer waiting for its first key frame; frames over `max_frame` bytes are
    /// dropped.
    pub fn new(max_frame: usize) -> Self {
        Vp8Depacketizer {
            frame: Vec::new(),
            frame_timestamp: None,
            started: false,
            broken: false,
            waiting_keyframe: true,
            keyframe_request: false,
            max_frame,
        }
    }

    /// Whether a key frame should be requested from the sender since the last call (after a
    /// loss, or while the first key frame has not come).
    pub fn take_keyframe_request(&mut self) -> bool {
        std::mem::take(&mut self.keyframe_request)
    }

    /// Packets were lost before the next one: the frame in progress is dropped and output
    /// resumes at the next key frame.
    pub fn lost(&mut self) {
        // Only a frame in progress is broken: a loss between frames spares the next one (a
        // key frame then plays at once).
        if self.frame_timestamp.is_some() {
            self.broken = true;
        }
        if !self.waiting_keyframe {
            self.waiting_keyframe = true;
            self.keyframe_request = true;
        }
    }

    /// Takes one RTP packet (header already parsed, `payload` without padding), in sequence
    /// order, and appends any frame it completes to `out` (at most two: the previous one when
    /// the timestamp changed without a marker, and this one at its marker).
    ///
    /// Errors concern this packet only (the frame it belonged to is dropped):
    /// [`RtpError::EmptyFrame`] for an empty payload or descriptor without data,
    /// [`RtpError::MalformedPayload`] for a descriptor that runs short,
    /// [`RtpError::PayloadTooLarge`] past the frame limit.
    pub fn push(
        &mut self,
        header: &RtpHeader<'_>,
        payload: &[u8],
        out: &mut Vec<Vp8Frame>,
    ) -> Result<(), RtpError> {
        if self.frame_timestamp.is_some_and(|t| t != header.timestamp) {
            self.finish(out);
        }
        self.frame_timestamp = Some(header.timestamp);
        let result = self.take_payload(payload);
        if result.is_err() {
            self.broken = true;
        }
        if header.marker {
            self.finish(out);
        }
        result
    }

    fn take_payload(&mut self, payload: &[u8]) -> Result<(), RtpError> {
        let (at, start, pid) = payload_descriptor(payload)?;
        let data = &payload[at..];
        if data.is_empty() {
            return Err(RtpError::EmptyFrame);
        }
        if start && pid == 0 {
            if self.started || !self.frame.is_empty() {
                // A second frame start under one timestamp.
                self.broken = true;
            }
            self.started = true;
        } else if !self.started {
            // Joining mid-frame (first packets, after a loss): expected then, malformed in a
            // gapless sequence.
            self.broken = true;
            if self.waiting_keyframe {
                return Ok(());
            }
            return Err(RtpError::MalformedPayload { offset: 0 });
        }
        if self.frame.len() + data.len() > self.max_frame {
            return Err(RtpError::PayloadTooLarge {
                size: self.frame.len() + data.len(),
                max: self.max_frame,
            });
        }
        self.frame.extend_from_slice(data);
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<Vp8Frame>) {
        let Some(timestamp) = self.frame_timestamp.take() else {
            return;
        };
        let broken = std::mem::take(&mut self.broken);
        let started = std::mem::take(&mut self.started);
        let data = std::mem::take(&mut self.frame);
        if broken || !started || data.len() < 3 {
            if !self.waiting_keyframe {
                self.waiting_keyframe = true;
            }
            self.keyframe_request = true;
            return;
        }
        let keyframe = data[0] & 0x01 == 0;
        let size = if keyframe {
            // Key frame header: start code, then 2-byte little-endian width and height.
            if data.len() < 10 || data[3..6] != [0x9d, 0x01, 0x2a] {
                self.waiting_keyframe = true;
                self.keyframe_request = true;
                return;
            }
            Some((
                u16::from_le_bytes([data[6], data[7]]) & 0x3fff,
                u16::from_le_bytes([data[8], data[9]]) & 0x3fff,
            ))
        } else {
            None
        };
        if self.waiting_keyframe {
            if !keyframe {
                self.keyframe_request = true;
                return;
            }
            self.waiting_keyframe = false;
        }
        out.push(Vp8Frame { timestamp, data, keyframe, size });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, if marker { 0x80 | 96 } else { 96 }];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 1]);
        p.extend_from_slice(payload);
        p
    }

    fn push(d: &mut Vp8Depacketizer, p: &[u8], out: &mut Vec<Vp8Frame>) -> Result<(), RtpError> {
        let (h, off, len) = RtpHeader::parse(p).unwrap();
        d.push(&h, &p[off..off + len], out)
    }

    /// A key frame tag (RFC 6386 §9.1) for 640x360 followed by `rest`.
    fn key_frame(rest: &[u8]) -> Vec<u8> {
        let mut f = vec![0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01];
        f.extend_from_slice(rest);
        f
    }

    #[test]
    fn descriptor_lengths() {
        assert_eq!(payload_descriptor(&[0x10, 1]).unwrap(), (1, true, 0));
        // X, I with a 15-bit PictureID, L, T.
        assert_eq!(payload_descriptor(&[0x90, 0xE0, 0x81, 0x23, 0x05, 0x40, 9]).unwrap(), (6, true, 0));
        // X, I with a 7-bit PictureID.
        assert_eq!(payload_descriptor(&[0x81, 0x80, 0x05, 9]).unwrap(), (3, false, 1));
        assert!(matches!(payload_descriptor(&[0x90, 0xE0, 0x81]), Err(RtpError::MalformedPayload { .. })));
        assert!(matches!(payload_descriptor(&[]), Err(RtpError::EmptyFrame)));
    }

    #[test]
    fn key_frame_over_three_packets_then_inter_frame() {
        let frame = key_frame(&[7; 30]);
        let mut d = Vp8Depacketizer::default();
        let mut out = Vec::new();
        let mut p1 = vec![0x90, 0x80, 0x11];
        p1.extend_from_slice(&frame[..12]);
        let mut p2 = vec![0x80, 0x80, 0x11];
        p2.extend_from_slice(&frame[12..25]);
        let mut p3 = vec![0x00];
        p3.extend_from_slice(&frame[25..]);
        push(&mut d, &packet(1, 900, false, &p1), &mut out).unwrap();
        push(&mut d, &packet(2, 900, false, &p2), &mut out).unwrap();
        assert!(out.is_empty());
        push(&mut d, &packet(3, 900, true, &p3), &mut out).unwrap();
        assert_eq!(out, vec![Vp8Frame { timestamp: 900, data: frame, keyframe: true, size: Some((640, 360)) }]);
        push(&mut d, &packet(4, 3900, true, &[0x10, 0x51, 0, 0, 4]), &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert!(!out[1].keyframe);
        assert_eq!(out[1].data, [0x51, 0, 0, 4]);
        assert!(!d.take_keyframe_request());
    }

    #[test]
    fn inter_frames_before_a_key_frame_ask_for_one() {
        let mut d = Vp8Depacketizer::default();
        let mut out = Vec::new();
        push(&mut d, &packet(1, 0, true, &[0x10, 0x51, 0, 0, 4]), &mut out).unwrap();
        assert!(out.is_empty());
        assert!(d.take_keyframe_request());
        push(&mut d, &packet(2, 3000, true, &[[0x10].as_slice(), &key_frame(&[1])].concat()), &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert!(out[0].keyframe);
    }

    #[test]
    fn loss_drops_until_the_next_key_frame() {
        let mut d = Vp8Depacketizer::default();
        let mut out = Vec::new();
        push(&mut d, &packet(1, 0, true, &[[0x10].as_slice(), &key_frame(&[1])].concat()), &mut out).unwrap();
        d.lost();
        assert!(d.take_keyframe_request());
        // The continuation of a frame whose start was lost, then an inter frame: dropped.
        push(&mut d, &packet(5, 3000, true, &[0x00, 1, 2, 3]), &mut out).unwrap();
        push(&mut d, &packet(6, 6000, true, &[0x10, 0x51, 0, 0, 4]), &mut out).unwrap();
        assert_eq!(out.len(), 1);
        push(&mut d, &packet(7, 9000, true, &[[0x10].as_slice(), &key_frame(&[2])].concat()), &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert!(out[1].keyframe);
    }

    #[test]
    fn a_loss_between_frames_spares_the_next_key_frame() {
        let mut d = Vp8Depacketizer::default();
        let mut out = Vec::new();
        push(&mut d, &packet(1, 0, true, &[[0x10].as_slice(), &key_frame(&[1])].concat()), &mut out).unwrap();
        d.lost();
        push(&mut d, &packet(9, 9000, true, &[[0x10].as_slice(), &key_frame(&[2])].concat()), &mut out).unwrap();
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn a_frame_past_the_limit_is_dropped() {
        let mut d = Vp8Depacketizer::new(16);
        let mut out = Vec::new();
        let big = [[0x10].as_slice(), &key_frame(&[0; 20])].concat();
        assert!(matches!(push(&mut d, &packet(1, 0, true, &big), &mut out), Err(RtpError::PayloadTooLarge { .. })));
        assert!(out.is_empty());
    }
}
