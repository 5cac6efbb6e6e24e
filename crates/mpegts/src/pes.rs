//! PES packets (ISO/IEC 13818-1 §2.4.3.6, §2.4.3.7):
//!
//! ```text
//! 00 00 01 | stream_id:8 | PES_packet_length:16 | '10' scrambling:2 prio:1 align:1 copyright:1 original:1 |
//! PTS_DTS_flags:2 ESCR:1 ES_rate:1 DSM:1 copy_info:1 CRC:1 ext:1 | PES_header_data_length:8 |
//! [PTS: 5 bytes] [DTS: 5 bytes] ... | data
//! ```
//!
//! PTS and DTS are 33-bit counts of a 90 kHz clock, each written as `'001x' | [32..30] '1' |
//! [29..15] '1' | [14..0] '1'`.

use crate::TsError;

/// A PES packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PesHeader {
    /// `stream_id` (0xE0–0xEF video, 0xC0–0xDF audio, 0xBD private stream 1).
    pub stream_id: u8,
    /// `PES_packet_length`: bytes after this field, 0 = unbounded (video).
    pub packet_length: usize,
    /// Presentation time, 90 kHz ticks (33 bits).
    pub pts: Option<u64>,
    /// Decode time, 90 kHz ticks (33 bits); absent means equal to the PTS.
    pub dts: Option<u64>,
    /// Where the elementary stream data begins.
    pub data_offset: usize,
}

/// Stream ids without the optional PES header (§2.4.3.7, Table 2-22 and the semantics of
/// `stream_id`): program stream map, padding, private stream 2, ECM, EMM, directory, DSMCC, H.222.1 E.
fn has_optional_header(stream_id: u8) -> bool {
    !matches!(
        stream_id,
        0xBC | 0xBE | 0xBF | 0xF0 | 0xF1 | 0xFF | 0xF2 | 0xF8
    )
}

fn read_timestamp(b: &[u8]) -> u64 {
    (u64::from((b[0] >> 1) & 0x07) << 30)
        | (u64::from(b[1]) << 22)
        | (u64::from(b[2] >> 1) << 15)
        | (u64::from(b[3]) << 7)
        | u64::from(b[4] >> 1)
}

fn write_timestamp(out: &mut Vec<u8>, prefix: u8, ts: u64) {
    let ts = ts & ((1 << 33) - 1);
    out.push((prefix << 4) | (((ts >> 30) as u8 & 0x07) << 1) | 1);
    out.push((ts >> 22) as u8);
    out.push((((ts >> 15) as u8) << 1) | 1);
    out.push((ts >> 7) as u8);
    out.push(((ts as u8) << 1) | 1);
}

impl PesHeader {
    /// Parses the start of a PES packet. Errors: [`TsError::BadPesStart`] without `00 00 01`,
    /// [`TsError::Truncated`] when the header runs past `b`.
    pub fn parse(b: &[u8]) -> Result<Self, TsError> {
        if b.len() < 6 {
            return Err(TsError::Truncated("PES header"));
        }
        if b[..3] != [0, 0, 1] {
            return Err(TsError::BadPesStart);
        }
        let stream_id = b[3];
        let packet_length = usize::from(u16::from_be_bytes([b[4], b[5]]));
        if !has_optional_header(stream_id) {
            return Ok(PesHeader {
                stream_id,
                packet_length,
                pts: None,
                dts: None,
                data_offset: 6,
            });
        }
        if b.len() < 9 {
            return Err(TsError::Truncated("PES header"));
        }
        let flags = b[7] >> 6;
        let header_len = usize::from(b[8]);
        let data_offset = 9 + header_len;
        if data_offset > b.len() {
            return Err(TsError::Truncated("PES header data"));
        }
        let (mut pts, mut dts) = (None, None);
        if flags & 0x02 != 0 {
            if header_len < 5 {
                return Err(TsError::Truncated("PES PTS"));
            }
            pts = Some(read_timestamp(&b[9..14]));
        }
        if flags == 0x03 {
            if header_len < 10 {
                return Err(TsError::Truncated("PES DTS"));
            }
            dts = Some(read_timestamp(&b[14..19]));
        }
        Ok(PesHeader {
            stream_id,
            packet_length,
            pts,
            dts,
            data_offset,
        })
    }

    /// Writes a PES header for `data_len` bytes of data with `pts` (and `dts` when it differs).
    /// `PES_packet_length` is 0 (unbounded) when the packet would be over 65 535 bytes or
    /// `unbounded` is set (video, §2.4.3.7).
    pub fn write(
        out: &mut Vec<u8>,
        stream_id: u8,
        pts: u64,
        dts: Option<u64>,
        data_len: usize,
        unbounded: bool,
    ) {
        let dts = dts.filter(|&d| d != pts);
        let header_len = if dts.is_some() { 10 } else { 5 };
        let length = 3 + header_len + data_len;
        out.extend_from_slice(&[0, 0, 1, stream_id]);
        let length = if unbounded || length > 0xFFFF {
            0
        } else {
            length as u16
        };
        out.extend_from_slice(&length.to_be_bytes());
        out.push(0x80);
        out.push(if dts.is_some() { 0xC0 } else { 0x80 });
        out.push(header_len as u8);
        match dts {
            Some(dts) => {
                write_timestamp(out, 0x3, pts);
                write_timestamp(out, 0x1, dts);
            }
            None => write_timestamp(out, 0x2, pts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_dts() {
        let mut b = Vec::new();
        PesHeader::write(&mut b, 0xE0, (1 << 33) - 5, Some(123_456), 100, true);
        let h = PesHeader::parse(&b).unwrap();
        assert_eq!(h.stream_id, 0xE0);
        assert_eq!(h.packet_length, 0);
        assert_eq!(h.pts, Some((1 << 33) - 5));
        assert_eq!(h.dts, Some(123_456));
        assert_eq!(h.data_offset, 19);
    }

    #[test]
    fn audio_pes_is_bounded() {
        let mut b = Vec::new();
        PesHeader::write(&mut b, 0xC0, 900, Some(900), 371, false);
        let h = PesHeader::parse(&b).unwrap();
        assert_eq!(
            (h.pts, h.dts, h.packet_length, h.data_offset),
            (Some(900), None, 3 + 5 + 371, 14)
        );
    }

    #[test]
    fn header_length_past_the_data_is_an_error() {
        let b = [0, 0, 1, 0xE0, 0, 0, 0x80, 0xC0, 10, 0x31, 0, 1, 0, 1];
        assert!(PesHeader::parse(&b).is_err());
    }
}
