//! Program-specific information (ISO/IEC 13818-1 §2.4.4): the program association table (PAT,
//! PID 0, table id 0x00) and the program map table (PMT, table id 0x02), with their CRC-32
//! (Annex A, CRC-32/MPEG-2).
//!
//! Section layout: `table_id:8 | section_syntax_indicator:1 '0' reserved:2 section_length:12 |
//! table_id_extension:16 | reserved:2 version:5 current_next:1 | section_number:8 |
//! last_section_number:8 | ... | CRC_32`. `section_length` ≤ 1021 (§2.4.4.3).

use crate::TsError;

const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_MPEG_2);

/// Largest `section_length` a PAT or PMT may have (§2.4.4.3, §2.4.4.8).
pub const MAX_SECTION_LENGTH: usize = 1021;

/// An elementary stream type from the PMT (Table 2-34 and the registrations in use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamType {
    /// 0x1B: H.264 (ITU-T H.264 | ISO/IEC 14496-10), Annex B byte stream.
    H264,
    /// 0x24: H.265.
    H265,
    /// 0x0F: AAC in ADTS (ISO/IEC 13818-7).
    AacAdts,
    /// 0x06 private data with the `Opus` registration descriptor (ETSI TS 102 366-style mapping).
    Opus,
    /// Any other stream type (the byte).
    Other(u8),
}

impl StreamType {
    /// The PMT byte of this stream type (`Opus` is 0x06).
    pub fn byte(self) -> u8 {
        match self {
            StreamType::H264 => 0x1B,
            StreamType::H265 => 0x24,
            StreamType::AacAdts => 0x0F,
            StreamType::Opus => 0x06,
            StreamType::Other(b) => b,
        }
    }
}

/// One elementary stream of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElementaryStream {
    /// Its PID.
    pub pid: u16,
    /// What it carries.
    pub stream_type: StreamType,
    /// Opus: the `channel_config_code` of the DVB extension descriptor (tag 0x7F, extension
    /// tag 0x80): 1 or 2 channels for mapping family 0, 0x80 dual mono, larger codes multichannel.
    pub channel_config: Option<u8>,
}

/// A program map table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProgramMap {
    /// `program_number`.
    pub program: u16,
    /// The PID whose adaptation fields carry the PCR.
    pub pcr_pid: u16,
    /// `version_number` (5 bits).
    pub version: u8,
    /// The program's elementary streams in PMT order.
    pub streams: Vec<ElementaryStream>,
}

/// Checks a whole section (`table_id` to `CRC_32` inclusive) and returns the bytes between the
/// common header (8 bytes) and the CRC.
fn section_body(section: &[u8], table_id: u8) -> Result<&[u8], TsError> {
    if section.len() < 12 {
        return Err(TsError::Truncated("PSI section"));
    }
    if section[0] != table_id {
        return Err(TsError::Truncated("PSI section of another table"));
    }
    let len = (usize::from(section[1] & 0x0F) << 8) | usize::from(section[2]);
    if !(9..=MAX_SECTION_LENGTH).contains(&len) || 3 + len > section.len() {
        return Err(TsError::Truncated("PSI section length"));
    }
    let whole = &section[..3 + len];
    if CRC.checksum(whole) != 0 {
        // CRC-32/MPEG-2 over a section including its CRC is 0.
        return Err(TsError::BadCrc);
    }
    Ok(&whole[8..whole.len() - 4])
}

/// The total length of a section starting at `b[0]` (`3 + section_length`), once 3 bytes are there.
pub(crate) fn section_total_length(b: &[u8]) -> Option<usize> {
    (b.len() >= 3).then(|| 3 + ((usize::from(b[1] & 0x0F) << 8) | usize::from(b[2])))
}

/// Parses a PAT section: `(program_number, program_map_PID)` for every program except
/// program 0 (the network PID).
pub fn parse_pat(section: &[u8]) -> Result<Vec<(u16, u16)>, TsError> {
    let body = section_body(section, 0x00)?;
    Ok(body
        .chunks_exact(4)
        .filter_map(|e| {
            let program = u16::from_be_bytes([e[0], e[1]]);
            let pid = u16::from_be_bytes([e[2] & 0x1F, e[3]]);
            (program != 0).then_some((program, pid))
        })
        .collect())
}

/// Parses a PMT section. An Opus stream is private data (0x06) with a registration descriptor
/// (tag 5) whose format identifier is `Opus`.
pub fn parse_pmt(section: &[u8]) -> Result<ProgramMap, TsError> {
    let body = section_body(section, 0x02)?;
    let program = u16::from_be_bytes([section[3], section[4]]);
    let version = (section[5] >> 1) & 0x1F;
    if body.len() < 4 {
        return Err(TsError::Truncated("PMT"));
    }
    let pcr_pid = u16::from_be_bytes([body[0] & 0x1F, body[1]]);
    let info_len = (usize::from(body[2] & 0x0F) << 8) | usize::from(body[3]);
    let mut at = 4 + info_len;
    let mut streams = Vec::new();
    while at + 5 <= body.len() {
        let stream_type = body[at];
        let pid = u16::from_be_bytes([body[at + 1] & 0x1F, body[at + 2]]);
        let es_info_len = (usize::from(body[at + 3] & 0x0F) << 8) | usize::from(body[at + 4]);
        let descriptors = body
            .get(at + 5..at + 5 + es_info_len)
            .ok_or(TsError::Truncated("PMT ES_info"))?;
        let stream_type = match stream_type {
            0x1B => StreamType::H264,
            0x24 => StreamType::H265,
            0x0F => StreamType::AacAdts,
            0x06 if has_registration(descriptors, b"Opus") => StreamType::Opus,
            b => StreamType::Other(b),
        };
        let channel_config = match (stream_type, descriptor(descriptors, 0x7F)) {
            (StreamType::Opus, Some([0x80, code, ..])) => Some(*code),
            _ => None,
        };
        streams.push(ElementaryStream {
            pid,
            stream_type,
            channel_config,
        });
        at += 5 + es_info_len;
    }
    Ok(ProgramMap {
        program,
        pcr_pid,
        version,
        streams,
    })
}

fn has_registration(d: &[u8], id: &[u8; 4]) -> bool {
    descriptor(d, 5).is_some_and(|body| body.get(..4) == Some(&id[..]))
}

/// The body of the first descriptor with `tag` in a descriptor loop (`tag:8 length:8 body`).
fn descriptor(mut d: &[u8], wanted: u8) -> Option<&[u8]> {
    while d.len() >= 2 {
        let (tag, len) = (d[0], usize::from(d[1]));
        let body = d.get(2..2 + len)?;
        if tag == wanted {
            return Some(body);
        }
        d = &d[2 + len..];
    }
    None
}

/// Builds a section: `table_id`, `table_id_extension`, `version`, then `body`, then CRC-32.
fn build_section(table_id: u8, extension: u16, version: u8, body: &[u8]) -> Vec<u8> {
    let len = 5 + body.len() + 4;
    let mut s = Vec::with_capacity(3 + len);
    s.push(table_id);
    s.push(0xB0 | ((len >> 8) as u8 & 0x0F));
    s.push(len as u8);
    s.extend_from_slice(&extension.to_be_bytes());
    s.push(0xC1 | ((version & 0x1F) << 1));
    s.push(0);
    s.push(0);
    s.extend_from_slice(body);
    let crc = CRC.checksum(&s);
    s.extend_from_slice(&crc.to_be_bytes());
    s
}

/// A PAT with one program.
pub(crate) fn build_pat(program: u16, pmt_pid: u16) -> Vec<u8> {
    let mut body = program.to_be_bytes().to_vec();
    body.extend_from_slice(&(0xE000 | pmt_pid).to_be_bytes());
    build_section(0x00, 1, 0, &body)
}

/// A PMT for `map` (Opus gets its registration descriptor and, with a `channel_config`, the
/// DVB extension descriptor carrying it).
pub(crate) fn build_pmt(map: &ProgramMap) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&(0xE000 | map.pcr_pid).to_be_bytes());
    body.extend_from_slice(&0xF000u16.to_be_bytes());
    for s in &map.streams {
        body.push(s.stream_type.byte());
        body.extend_from_slice(&(0xE000 | s.pid).to_be_bytes());
        if s.stream_type == StreamType::Opus {
            let registration = [5, 4, b'O', b'p', b'u', b's'];
            match s.channel_config {
                Some(code) => {
                    body.extend_from_slice(&[0xF0, 10]);
                    body.extend_from_slice(&registration);
                    body.extend_from_slice(&[0x7F, 2, 0x80, code]);
                }
                None => {
                    body.extend_from_slice(&[0xF0, 6]);
                    body.extend_from_slice(&registration);
                }
            }
        } else {
            body.extend_from_slice(&0xF000u16.to_be_bytes());
        }
    }
    build_section(0x02, map.program, map.version, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pat_and_pmt_round_trip() {
        let pat = build_pat(1, 0x1000);
        assert_eq!(parse_pat(&pat).unwrap(), vec![(1, 0x1000)]);
        let map = ProgramMap {
            program: 1,
            pcr_pid: 0x100,
            version: 3,
            streams: vec![
                ElementaryStream {
                    pid: 0x100,
                    stream_type: StreamType::H264,
                    channel_config: None,
                },
                ElementaryStream {
                    pid: 0x101,
                    stream_type: StreamType::AacAdts,
                    channel_config: None,
                },
                ElementaryStream {
                    pid: 0x102,
                    stream_type: StreamType::Opus,
                    channel_config: Some(2),
                },
                ElementaryStream {
                    pid: 0x103,
                    stream_type: StreamType::Opus,
                    channel_config: None,
                },
            ],
        };
        assert_eq!(parse_pmt(&build_pmt(&map)).unwrap(), map);
    }

    #[test]
    fn ffmpeg_pat_vector() {
        // The PAT section ffmpeg's mpegts muxer writes (program 1, PMT PID 0x1000).
        let pat = [
            0x00, 0xB0, 0x0D, 0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01, 0xF0, 0x00, 0x2A, 0xB1,
            0x04, 0xB2,
        ];
        assert_eq!(parse_pat(&pat).unwrap(), vec![(1, 0x1000)]);
        assert_eq!(build_pat(1, 0x1000), pat.to_vec());
    }

    #[test]
    fn corrupted_section_fails_its_crc() {
        let mut pat = build_pat(1, 0x1000);
        pat[9] ^= 1;
        assert_eq!(parse_pat(&pat), Err(TsError::BadCrc));
    }
}
