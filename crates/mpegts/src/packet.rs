//! The transport packet header (ISO/IEC 13818-1 §2.4.3.2) and adaptation field (§2.4.3.4).

use crate::TsError;

/// Bytes in a transport packet.
pub const PACKET_SIZE: usize = 188;
/// The first byte of every transport packet.
pub const SYNC_BYTE: u8 = 0x47;
/// The null packet PID (§2.4.3.3, Table 2-3).
pub const NULL_PID: u16 = 0x1FFF;

/// A parsed packet header; `payload` is the byte range of the payload inside the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsHeader {
    /// `payload_unit_start_indicator`: a PES or PSI section starts in this payload.
    pub payload_unit_start: bool,
    /// Packet identifier (13 bits).
    pub pid: u16,
    /// `continuity_counter` (4 bits), incremented per payload-carrying packet of a PID.
    pub continuity_counter: u8,
    /// Whether the packet carries a payload (`adaptation_field_control` 01 or 11).
    pub has_payload: bool,
    /// `discontinuity_indicator` of the adaptation field.
    pub discontinuity: bool,
    /// `program_clock_reference` in 27 MHz ticks (base × 300 + extension), when present.
    pub pcr: Option<u64>,
    /// Start of the payload inside the packet (4 + adaptation field).
    pub payload_offset: usize,
}

impl TsHeader {
    /// Parses one 188-byte packet's header. Errors: [`TsError::LostSync`] without 0x47,
    /// [`TsError::Truncated`] when the adaptation field length runs past the packet.
    pub fn parse(p: &[u8; PACKET_SIZE]) -> Result<Self, TsError> {
        if p[0] != SYNC_BYTE {
            return Err(TsError::LostSync);
        }
        let payload_unit_start = p[1] & 0x40 != 0;
        let pid = u16::from_be_bytes([p[1] & 0x1F, p[2]]);
        let afc = (p[3] >> 4) & 0x03;
        let continuity_counter = p[3] & 0x0F;
        let mut header = TsHeader {
            payload_unit_start,
            pid,
            continuity_counter,
            has_payload: afc & 0x01 != 0,
            discontinuity: false,
            pcr: None,
            payload_offset: 4,
        };
        if afc & 0x02 != 0 {
            let len = p[4] as usize;
            if 5 + len > PACKET_SIZE {
                return Err(TsError::Truncated("adaptation field"));
            }
            if len > 0 {
                let flags = p[5];
                header.discontinuity = flags & 0x80 != 0;
                if flags & 0x10 != 0 && len >= 7 {
                    let b = &p[6..12];
                    let base = (u64::from(b[0]) << 25)
                        | (u64::from(b[1]) << 17)
                        | (u64::from(b[2]) << 9)
                        | (u64::from(b[3]) << 1)
                        | u64::from(b[4] >> 7);
                    let ext = (u64::from(b[4] & 0x01) << 8) | u64::from(b[5]);
                    header.pcr = Some(base * 300 + ext);
                }
            }
            header.payload_offset = 5 + len;
        }
        Ok(header)
    }
}

/// Writes a packet header: `pid`, PUSI, continuity counter and, when `adaptation` is given,
/// an adaptation field of that many bytes after its length byte (flags byte first; stuffing
/// 0xFF for the rest), with `pcr` (27 MHz) when given. Returns the payload offset.
pub(crate) fn write_header(
    p: &mut [u8; PACKET_SIZE],
    pid: u16,
    start: bool,
    cc: u8,
    adaptation: Option<usize>,
    pcr: Option<u64>,
    random_access: bool,
) -> usize {
    p[0] = SYNC_BYTE;
    p[1] = (if start { 0x40 } else { 0 }) | ((pid >> 8) as u8 & 0x1F);
    p[2] = pid as u8;
    match adaptation {
        None => {
            p[3] = 0x10 | (cc & 0x0F);
            4
        }
        Some(len) => {
            p[3] = 0x30 | (cc & 0x0F);
            p[4] = len as u8;
            if len > 0 {
                let mut flags = 0u8;
                if random_access {
                    flags |= 0x40;
                }
                let mut at = 6;
                if let Some(pcr) = pcr {
                    flags |= 0x10;
                    let base = (pcr / 300) & ((1 << 33) - 1);
                    let ext = pcr % 300;
                    p[6] = (base >> 25) as u8;
                    p[7] = (base >> 17) as u8;
                    p[8] = (base >> 9) as u8;
                    p[9] = (base >> 1) as u8;
                    p[10] = (((base & 1) as u8) << 7) | 0x7E | ((ext >> 8) as u8 & 0x01);
                    p[11] = ext as u8;
                    at = 12;
                }
                p[5] = flags;
                for b in &mut p[at..5 + len] {
                    *b = 0xFF;
                }
            }
            5 + len
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_with_pcr() {
        let mut p = [0u8; PACKET_SIZE];
        let off = write_header(
            &mut p,
            0x100,
            true,
            7,
            Some(7),
            Some(123_456_789 * 300 + 299),
            true,
        );
        assert_eq!(off, 12);
        let h = TsHeader::parse(&p).unwrap();
        assert_eq!(h.pid, 0x100);
        assert!(h.payload_unit_start && h.has_payload);
        assert_eq!(h.continuity_counter, 7);
        assert_eq!(h.pcr, Some(123_456_789 * 300 + 299));
        assert_eq!(h.payload_offset, 12);
    }

    #[test]
    fn adaptation_field_past_the_packet_is_an_error() {
        let mut p = [0u8; PACKET_SIZE];
        p[0] = SYNC_BYTE;
        p[3] = 0x30;
        p[4] = 184;
        assert_eq!(
            TsHeader::parse(&p),
            Err(TsError::Truncated("adaptation field"))
        );
        p[4] = 183;
        assert!(TsHeader::parse(&p).is_ok());
    }
}
