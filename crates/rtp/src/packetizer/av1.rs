//! AV1 over RTP, the AOM "RTP Payload Format for AV1" (v1.0.0, §4–§5): one temporal unit in,
//! its OBUs out in packets that each start with the aggregation header.
//!
//! ```text
//! | RTP header (12 bytes) | Z Y W W N 0 0 0 | leb128 length | OBU element | leb128 length | … |
//! ```
//!
//! - Z: the first element continues an OBU fragment of the previous packet; Y: the last element
//!   continues in the next packet; W = 0: every element is preceded by its LEB128 length
//!   (§4.4, the simplest form every receiver reads); N: the first packet of a coded video
//!   sequence (a key frame's temporal unit).
//! - An OBU element is an OBU without its `obu_size` field (§5: `obu_has_size_field` cleared,
//!   as the format recommends); temporal delimiters, tile lists and padding are not sent
//!   (§5: "SHOULD be removed").
//! - A key frame's temporal unit gets the sequence header in front when it has none (from
//!   [`set_sequence_header`](Av1Packetizer::set_sequence_header), the `configOBUs` of the
//!   AV1CodecConfigurationRecord): a viewer that joins at it can decode.
//!
//! Input: a temporal unit in the low overhead bitstream format (AV1 spec §5.2: each OBU with
//! its `obu_size`; the last may lack it and then runs to the end), what Enhanced RTMP `av01`
//! coded frames and ISO BMFF `av01` samples carry. The marker bit is set on the temporal unit's
//! last packet.

use super::{PacketBatch, Packetizer, PacketizerState};
use crate::RtpError;

/// RTP clock rate of AV1 in Hz.
pub const CLOCK_RATE: u32 = 90_000;

const OBU_SEQUENCE_HEADER: u8 = 1;
const OBU_TEMPORAL_DELIMITER: u8 = 2;
const OBU_FRAME_HEADER: u8 = 3;
const OBU_FRAME: u8 = 6;
const OBU_TILE_LIST: u8 = 8;
const OBU_PADDING: u8 = 15;
const OBU_HAS_EXTENSION: u8 = 0x04;
const OBU_HAS_SIZE: u8 = 0x02;

/// One OBU of a low overhead bitstream: its header byte(s) and payload, without `obu_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Obu<'a> {
    /// `obu_type` (AV1 spec §6.2.2).
    pub obu_type: u8,
    /// The OBU header (1 byte, 2 with `obu_extension_flag`), as it came.
    pub header: &'a [u8],
    /// The OBU payload.
    pub payload: &'a [u8],
}

/// Reads a LEB128 value (AV1 spec §4.10.5, at most 8 bytes, at most 2^32 − 1): value and bytes
/// read, `None` when truncated or too large.
pub fn read_leb128(data: &[u8]) -> Option<(usize, usize)> {
    let mut value: u64 = 0;
    for i in 0..8 {
        let b = *data.get(i)?;
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return u32::try_from(value).ok().map(|v| (v as usize, i + 1));
        }
    }
    None
}

fn leb128_len(mut value: usize) -> usize {
    let mut n = 1;
    while value >= 0x80 {
        value >>= 7;
        n += 1;
    }
    n
}

fn write_leb128(out: &mut Vec<u8>, mut value: usize) {
    loop {
        let b = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Splits a low overhead bitstream into OBUs. [`RtpError::MalformedPayload`] (with the offset)
/// when an OBU header or size runs past the data, or the forbidden bit is set.
pub fn parse_obus(data: &[u8]) -> Result<Vec<Obu<'_>>, RtpError> {
    let mut obus = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let h = data[at];
        if h & 0x80 != 0 {
            return Err(RtpError::MalformedPayload { offset: at });
        }
        let header_len = if h & OBU_HAS_EXTENSION != 0 { 2 } else { 1 };
        let Some(header) = data.get(at..at + header_len) else {
            return Err(RtpError::MalformedPayload { offset: at });
        };
        let mut pos = at + header_len;
        let size = if h & OBU_HAS_SIZE != 0 {
            let (size, n) = read_leb128(&data[pos..]).ok_or(RtpError::MalformedPayload { offset: pos })?;
            pos += n;
            size
        } else {
            data.len() - pos
        };
        let Some(payload) = pos.checked_add(size).and_then(|end| data.get(pos..end)) else {
            return Err(RtpError::MalformedPayload { offset: pos });
        };
        obus.push(Obu { obu_type: (h >> 3) & 0x0f, header, payload });
        at = pos + size;
    }
    Ok(obus)
}

/// Whether `obus` start a key frame: the first frame (header) OBU has `show_existing_frame` 0
/// and `frame_type` KEY_FRAME (AV1 spec §5.9.2; streams without `reduced_still_picture_header`,
/// as every video stream).
pub fn is_key_frame(obus: &[Obu<'_>]) -> bool {
    obus.iter()
        .find(|o| o.obu_type == OBU_FRAME || o.obu_type == OBU_FRAME_HEADER)
        .and_then(|o| o.payload.first())
        .is_some_and(|b| b & 0x80 == 0 && (b >> 5) & 0x03 == 0)
}

/// Packetizer for AV1 temporal units; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Av1Packetizer {
    state: PacketizerState,
    /// The current sequence header OBU element (header with the size bit cleared, payload).
    sequence_header: Vec<u8>,
    /// Elements of the temporal unit being packetized (reused).
    elements: Vec<u8>,
    element_ends: Vec<usize>,
}

impl Av1Packetizer {
    /// A packetizer with sequence number 0 and the default MTU.
    /// [`RtpError::InvalidPayloadType`] above 127.
    pub fn new(ssrc: u32, payload_type: u8) -> Result<Self, RtpError> {
        Ok(Av1Packetizer {
            state: PacketizerState::new(ssrc, payload_type)?,
            sequence_header: Vec::new(),
            elements: Vec::new(),
            element_ends: Vec::new(),
        })
    }

    /// Keeps the sequence header OBU found in `obus` (a low overhead bitstream: the
    /// `configOBUs` of an AV1CodecConfigurationRecord, AV1-ISOBMFF §2.3.3) to put in front of
    /// key frames that lack one. [`RtpError::MalformedPayload`] when `obus` does not parse;
    /// without a sequence header in it, nothing changes.
    pub fn set_sequence_header(&mut self, obus: &[u8]) -> Result<(), RtpError> {
        if let Some(o) = parse_obus(obus)?.into_iter().find(|o| o.obu_type == OBU_SEQUENCE_HEADER) {
            self.sequence_header.clear();
            push_element(&mut self.sequence_header, &o);
        }
        Ok(())
    }

    fn split(&mut self, frame: &[u8]) -> Result<bool, RtpError> {
        let obus = parse_obus(frame)?;
        let key = is_key_frame(&obus);
        self.elements.clear();
        self.element_ends.clear();
        let has_sequence_header = obus.iter().any(|o| o.obu_type == OBU_SEQUENCE_HEADER);
        if key && !has_sequence_header && !self.sequence_header.is_empty() {
            self.elements.extend_from_slice(&self.sequence_header);
            self.element_ends.push(self.elements.len());
        }
        for o in &obus {
            if matches!(o.obu_type, OBU_TEMPORAL_DELIMITER | OBU_TILE_LIST | OBU_PADDING) {
                continue;
            }
            push_element(&mut self.elements, o);
            self.element_ends.push(self.elements.len());
        }
        Ok(key)
    }
}

/// An OBU element: the header with `obu_has_size_field` cleared, then the payload.
fn push_element(out: &mut Vec<u8>, o: &Obu<'_>) {
    out.push(o.header[0] & !OBU_HAS_SIZE);
    out.extend_from_slice(&o.header[1..]);
    out.extend_from_slice(o.payload);
}

impl Packetizer for Av1Packetizer {
    /// Packetizes one temporal unit (low overhead bitstream); `rtp_timestamp` in 90 kHz ticks.
    /// A temporal unit with nothing left to send (only a temporal delimiter) emits nothing.
    /// [`RtpError::MalformedPayload`] when its OBUs do not parse.
    fn packetize(&mut self, frame: &[u8], rtp_timestamp: u32, out: &mut PacketBatch) -> Result<(), RtpError> {
        let key = self.split(frame)?;
        if self.element_ends.is_empty() {
            return Ok(());
        }
        let (elements, ends) = (&self.elements, &self.element_ends);
        out.all_or_nothing(&mut self.state, |state, out| packetize_elements(state, elements, ends, key, rtp_timestamp, out))
            .map(|_| ())
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

/// Packs the elements (`elements`, element `i` ending at `ends[i]`) into packets; see the
/// [module docs](self) for the aggregation header.
fn packetize_elements(
    state: &mut PacketizerState,
    elements: &[u8],
    ends: &[usize],
    key: bool,
    rtp_timestamp: u32,
    out: &mut PacketBatch,
) -> Result<(), RtpError> {
    let max = state.max_payload();
    // Payload of the packet being filled: aggregation header, then length + element pieces.
    let mut payload: Vec<u8> = Vec::with_capacity(max);
    let mut aggregation = if key { 0x08 } else { 0x00 };
    payload.push(0);
    let mut start = 0;
    for (i, &end) in ends.iter().enumerate() {
        let mut rest = &elements[start..end];
        start = end;
        while !rest.is_empty() {
            let space = max - payload.len();
            if space < 2 {
                // Nothing of this element fits: the packet ends at an element boundary.
                payload[0] = aggregation;
                emit(state, out, &payload, false, rtp_timestamp)?;
                aggregation = 0;
                payload.truncate(1);
                continue;
            }
            let whole = leb128_len(rest.len()) + rest.len() <= space;
            let take = if whole { rest.len() } else { space - leb128_len(space) };
            write_leb128(&mut payload, take);
            payload.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if !rest.is_empty() {
                // A fragment: Y here, Z on the next packet.
                payload[0] = aggregation | 0x40;
                emit(state, out, &payload, false, rtp_timestamp)?;
                aggregation = 0x80;
                payload.truncate(1);
            }
        }
        if i + 1 == ends.len() && payload.len() > 1 {
            payload[0] = aggregation;
            emit(state, out, &payload, true, rtp_timestamp)?;
        }
    }
    Ok(())
}

fn emit(state: &mut PacketizerState, out: &mut PacketBatch, payload: &[u8], marker: bool, ts: u32) -> Result<(), RtpError> {
    state.push_header(out, marker, ts);
    out.data.extend_from_slice(payload);
    out.end_packet()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OBU with a size field: header byte for `obu_type`, LEB128 size, payload.
    fn obu(obu_type: u8, payload: &[u8]) -> Vec<u8> {
        let mut o = vec![(obu_type << 3) | OBU_HAS_SIZE];
        write_leb128(&mut o, payload.len());
        o.extend_from_slice(payload);
        o
    }

    /// Reassembles packets into OBUs with size fields (the receiver's side, §4.4 and §5).
    fn depacketize(batch: &PacketBatch) -> (Vec<u8>, Vec<u8>) {
        let mut obus = Vec::new();
        let mut aggregation_headers = Vec::new();
        let mut fragment: Vec<u8> = Vec::new();
        for p in batch.iter() {
            let payload = &p[12..];
            aggregation_headers.push(payload[0]);
            assert_eq!(payload[0] & 0x30, 0, "W = 0");
            let mut at = 1;
            let mut first = true;
            while at < payload.len() {
                let (len, n) = read_leb128(&payload[at..]).unwrap();
                at += n;
                let piece = &payload[at..at + len];
                at += len;
                let continues = first && payload[0] & 0x80 != 0;
                let last = at == payload.len();
                if !continues {
                    assert!(fragment.is_empty());
                }
                fragment.extend_from_slice(piece);
                if !(last && payload[0] & 0x40 != 0) {
                    let h = fragment[0];
                    assert_eq!(h & OBU_HAS_SIZE, 0, "no obu_size in elements");
                    obus.extend_from_slice(&obu((h >> 3) & 0x0f, &fragment[1..]));
                    fragment.clear();
                }
                first = false;
            }
        }
        (obus, aggregation_headers)
    }

    #[test]
    fn leb128_round_trip() {
        for v in [0usize, 1, 127, 128, 300, 16_383, 16_384, 1 << 28] {
            let mut b = Vec::new();
            write_leb128(&mut b, v);
            assert_eq!(b.len(), leb128_len(v));
            assert_eq!(read_leb128(&b), Some((v, b.len())));
        }
        assert_eq!(read_leb128(&[0x80]), None);
    }

    #[test]
    fn small_inter_frame_one_packet_temporal_delimiter_removed() {
        let tu = [obu(OBU_TEMPORAL_DELIMITER, &[]), obu(OBU_FRAME, &[0x30, 1, 2, 3])].concat();
        let mut p = Av1Packetizer::new(1, 45).unwrap();
        let mut out = PacketBatch::new();
        p.packetize(&tu, 9000, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        let packet = out.get(0).unwrap();
        assert_eq!(packet[1], 0x80 | 45, "marker on the last packet");
        assert_eq!(&packet[12..], &[0x00, 5, OBU_FRAME << 3, 0x30, 1, 2, 3]);
    }

    #[test]
    fn key_frame_gets_the_sequence_header_and_n_and_fragments_reassemble() {
        let sequence_header = obu(OBU_SEQUENCE_HEADER, &[0, 0, 0, 0x42, 0xAB, 0x1F]);
        let frame: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
        let mut key = frame.clone();
        key[0] = 0x10; // show_existing_frame 0, frame_type KEY_FRAME (0)
        let tu = [obu(OBU_TEMPORAL_DELIMITER, &[]), obu(OBU_FRAME, &key)].concat();
        let mut p = Av1Packetizer::new(1, 45).unwrap();
        p.set_sequence_header(&sequence_header).unwrap();
        let mut out = PacketBatch::new();
        p.packetize(&tu, 0, &mut out).unwrap();
        assert!(out.len() >= 5);
        assert!(out.iter().all(|pk| pk.len() <= crate::packetizer::DEFAULT_MTU));
        let (obus, headers) = depacketize(&out);
        assert_eq!(obus, [sequence_header.clone(), obu(OBU_FRAME, &key)].concat());
        assert_eq!(headers[0] & 0x08, 0x08, "N on the first packet");
        assert!(headers[1..].iter().all(|h| h & 0x08 == 0));
        assert_eq!(headers[0] & 0x80, 0);
        assert!(headers[1..].iter().all(|h| h & 0x80 != 0), "every later packet continues the frame OBU");
        assert_eq!(headers.last().unwrap() & 0x40, 0);
        let markers: Vec<bool> = out.iter().map(|pk| pk[1] & 0x80 != 0).collect();
        assert_eq!(markers.iter().filter(|m| **m).count(), 1);
        assert!(markers.last().unwrap());

        // An inter frame: no sequence header, no N.
        let mut inter = frame;
        inter[0] = 0x30; // frame_type INTER (1)
        out.clear();
        p.packetize(&obu(OBU_FRAME, &inter), 3000, &mut out).unwrap();
        let (obus, headers) = depacketize(&out);
        assert_eq!(obus, obu(OBU_FRAME, &inter));
        assert!(headers.iter().all(|h| h & 0x08 == 0));
    }

    #[test]
    fn malformed_input_appends_nothing() {
        let mut p = Av1Packetizer::new(1, 45).unwrap();
        let mut out = PacketBatch::new();
        assert!(p.packetize(&[(OBU_FRAME << 3) | OBU_HAS_SIZE, 10, 1, 2], 0, &mut out).is_err());
        assert!(p.packetize(&[0x80], 0, &mut out).is_err());
        assert!(out.is_empty());
        assert_eq!(p.state().sequence_number(), 0);
        p.packetize(&obu(OBU_TEMPORAL_DELIMITER, &[]), 0, &mut out).unwrap();
        assert!(out.is_empty());
    }
}
