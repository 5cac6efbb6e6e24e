//! AAC out of RTP, RFC 3640 `mpeg4-generic` in mode `AAC-hbr` (§3.3.6: 13-bit AU-size, 3-bit
//! AU-index/AU-index-delta, no CTS/DTS/RAP fields): several access units per packet (§3.2.2)
//! or one access unit in fragments (§3.2.3) back to raw AAC access units.
//!
//! ```text
//! | AU-headers-length (bits, 16) | AU-header × n (16 bits each) | AU 1 | AU 2 | … |
//! ```
//!
//! Access unit `i` of a packet has the timestamp `RTP timestamp + i × 1024` (AAC frames hold
//! 1024 samples; the RTP clock is the sampling rate). A fragmented access unit whose
//! fragments do not add up (a loss, see [`lost`](AacDepacketizer::lost)) is dropped.

use crate::RtpError;

/// Samples per AAC-LC access unit, the RTP timestamp step between access units.
pub const SAMPLES_PER_ACCESS_UNIT: u32 = 1024;

/// One raw AAC access unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AacAccessUnit {
    /// RTP timestamp in samples at the sampling rate.
    pub timestamp: u32,
    /// The raw access unit (no ADTS header).
    pub data: Vec<u8>,
}

/// The depacketizer; see the [module docs](self).
#[derive(Debug, Default)]
pub struct AacDepacketizer {
    /// Fragments of one access unit: (timestamp, announced size, bytes so far).
    fragment: Option<(u32, usize, Vec<u8>)>,
}

impl AacDepacketizer {
    /// A depacketizer with nothing in progress.
    pub fn new() -> Self {
        Self::default()
    }

    /// Packets were lost: a fragmented access unit in progress is dropped.
    pub fn lost(&mut self) {
        self.fragment = None;
    }

    /// Takes one RTP payload (in sequence order) with its RTP timestamp and marker bit and
    /// appends the access units it completes to `out`. [`RtpError::MalformedPayload`] when
    /// the AU headers run past the payload or announce more data than it has (nothing of this
    /// packet is appended); [`RtpError::EmptyFrame`] for a payload shorter than 2 bytes.
    pub fn push(
        &mut self,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
        out: &mut Vec<AacAccessUnit>,
    ) -> Result<(), RtpError> {
        if payload.len() < 2 {
            return Err(RtpError::EmptyFrame);
        }
        let headers_bits = u16::from_be_bytes([payload[0], payload[1]]) as usize;
        if headers_bits == 0 || !headers_bits.is_multiple_of(16) {
            return Err(RtpError::MalformedPayload { offset: 0 });
        }
        let count = headers_bits / 16;
        let data_start = 2 + 2 * count;
        let Some(headers) = payload.get(2..data_start) else {
            return Err(RtpError::MalformedPayload { offset: 2 });
        };
        let sizes = headers
            .chunks_exact(2)
            .map(|h| (u16::from_be_bytes([h[0], h[1]]) >> 3) as usize);
        let data = &payload[data_start..];
        if count == 1 {
            let size = (u16::from_be_bytes([headers[0], headers[1]]) >> 3) as usize;
            if size > data.len() || self.fragment.is_some() {
                return self.push_fragment(timestamp, marker, size, data, out);
            }
        }
        let total: usize = sizes.clone().sum();
        if total > data.len() {
            return Err(RtpError::MalformedPayload { offset: data_start });
        }
        self.fragment = None;
        let mut at = 0;
        for (i, size) in sizes.enumerate() {
            out.push(AacAccessUnit {
                timestamp: timestamp.wrapping_add(i as u32 * SAMPLES_PER_ACCESS_UNIT),
                data: data[at..at + size].to_vec(),
            });
            at += size;
        }
        Ok(())
    }

    fn push_fragment(
        &mut self,
        timestamp: u32,
        marker: bool,
        size: usize,
        data: &[u8],
        out: &mut Vec<AacAccessUnit>,
    ) -> Result<(), RtpError> {
        let fragment = match self.fragment.take() {
            Some(f) if f.0 == timestamp && f.1 == size => Some(f),
            _ => None,
        };
        let (ts, size, mut bytes) = fragment.unwrap_or((timestamp, size, Vec::with_capacity(size)));
        if bytes.len() + data.len() > size {
            return Err(RtpError::MalformedPayload { offset: 2 });
        }
        bytes.extend_from_slice(data);
        if bytes.len() == size {
            out.push(AacAccessUnit {
                timestamp: ts,
                data: bytes,
            });
        } else if !marker {
            self.fragment = Some((ts, size, bytes));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::RtpHeader;
    use crate::packetizer::{AacPacketizer, PacketBatch, Packetizer};

    fn roundtrip(frame: &[u8], mtu: usize) -> (usize, Vec<AacAccessUnit>) {
        let mut p = AacPacketizer::new(1, 97, 44_100).unwrap();
        p.state_mut().set_mtu(mtu).unwrap();
        let mut batch = PacketBatch::new();
        p.packetize(frame, 4096, &mut batch).unwrap();
        let mut d = AacDepacketizer::new();
        let mut out = Vec::new();
        for i in 0..batch.len() {
            let pkt = batch.get(i).unwrap();
            let (h, off, len) = RtpHeader::parse(pkt).unwrap();
            d.push(h.timestamp, h.marker, &pkt[off..off + len], &mut out)
                .unwrap();
        }
        (batch.len(), out)
    }

    #[test]
    fn one_access_unit_per_packet() {
        let frame: Vec<u8> = (0..300).map(|i| i as u8).collect();
        let (packets, out) = roundtrip(&frame, 1200);
        assert_eq!(packets, 1);
        assert_eq!(
            out,
            vec![AacAccessUnit {
                timestamp: 4096,
                data: frame
            }]
        );
    }

    #[test]
    fn fragmented_access_unit() {
        let frame: Vec<u8> = (0..1000).map(|i| i as u8).collect();
        let (packets, out) = roundtrip(&frame, 300);
        assert_eq!(packets, 4);
        assert_eq!(out[0].data, frame);
    }

    #[test]
    fn several_access_units_in_one_packet() {
        // AU-headers-length 32 bits: sizes 2 and 3.
        let payload = [0, 32, 0, 2 << 3, 0, 3 << 3, 1, 2, 3, 4, 5];
        let mut out = Vec::new();
        AacDepacketizer::new()
            .push(1000, true, &payload, &mut out)
            .unwrap();
        assert_eq!(
            out[0],
            AacAccessUnit {
                timestamp: 1000,
                data: vec![1, 2]
            }
        );
        assert_eq!(
            out[1],
            AacAccessUnit {
                timestamp: 2024,
                data: vec![3, 4, 5]
            }
        );
    }

    #[test]
    fn lost_fragment_drops_the_access_unit() {
        let frame: Vec<u8> = (0..1000).map(|i| i as u8).collect();
        let mut p = AacPacketizer::new(1, 97, 48_000).unwrap();
        p.state_mut().set_mtu(300).unwrap();
        let mut batch = PacketBatch::new();
        p.packetize(&frame, 0, &mut batch).unwrap();
        let mut d = AacDepacketizer::new();
        let mut out = Vec::new();
        for i in [0usize, 2, 3] {
            if i == 2 {
                d.lost();
            }
            let pkt = batch.get(i).unwrap();
            let (h, off, len) = RtpHeader::parse(pkt).unwrap();
            d.push(h.timestamp, h.marker, &pkt[off..off + len], &mut out)
                .unwrap();
        }
        assert!(out.is_empty());
    }

    #[test]
    fn malformed_headers_are_errors() {
        let mut d = AacDepacketizer::new();
        let mut out = Vec::new();
        for p in [
            &[0u8][..],
            &[0, 0],
            &[0, 15, 0, 0],
            &[0, 48, 0, 8],
            &[0, 32, 0, 16, 0, 16, 1],
        ] {
            assert!(d.push(0, true, p, &mut out).is_err(), "{p:?}");
        }
        assert!(out.is_empty());
    }
}
