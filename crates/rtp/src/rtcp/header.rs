//! The common RTCP header (RFC 3550 §6.4.1) and a reader/writer of big-endian fields.
//!
//! ```text
//!  0                   1                   2                   3
//! |V=2|P| RC/FMT  |      PT       |             length            |
//! length: the packet's size in 32-bit words minus one, header included.
//! ```

use super::RtcpError;

/// Bytes of the common header.
pub const HEADER_LEN: usize = 4;

/// Packet types (RFC 3550 §12.1, RFC 4585 §6.1).
pub mod pt {
    /// Sender report (RFC 3550 §6.4.1).
    pub const SR: u8 = 200;
    /// Receiver report (RFC 3550 §6.4.2).
    pub const RR: u8 = 201;
    /// Source description (RFC 3550 §6.5).
    pub const SDES: u8 = 202;
    /// Goodbye (RFC 3550 §6.6).
    pub const BYE: u8 = 203;
    /// Application-defined (RFC 3550 §6.7).
    pub const APP: u8 = 204;
    /// Transport-layer feedback (RFC 4585 §6.2): generic NACK, transport-wide CC.
    pub const RTPFB: u8 = 205;
    /// Payload-specific feedback (RFC 4585 §6.3): PLI, FIR, REMB.
    pub const PSFB: u8 = 206;
}

/// The common header of one packet of a compound packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The P bit.
    pub padding: bool,
    /// Report count, source count or feedback message type (FMT), 5 bits.
    pub count: u8,
    /// Packet type.
    pub packet_type: u8,
    /// The whole packet's size in bytes (`(length + 1) * 4`), header included.
    pub size: usize,
}

impl Header {
    /// Reads the header at the start of `buf`, checking that the packet fits in `buf`.
    pub fn read(buf: &[u8]) -> Result<Header, RtcpError> {
        if buf.len() < HEADER_LEN {
            return Err(RtcpError::TooShort("common header"));
        }
        let version = buf[0] >> 6;
        if version != 2 {
            return Err(RtcpError::BadVersion(version));
        }
        let size = (u16::from_be_bytes([buf[2], buf[3]]) as usize + 1) * 4;
        if size > buf.len() {
            return Err(RtcpError::TooShort("length field beyond the datagram"));
        }
        Ok(Header { padding: buf[0] & 0x20 != 0, count: buf[0] & 0x1F, packet_type: buf[1], size })
    }

    /// The packet's body without its header and padding.
    pub fn body<'a>(&self, packet: &'a [u8]) -> Result<&'a [u8], RtcpError> {
        let mut end = self.size;
        if self.padding {
            let pad = packet[self.size - 1] as usize;
            if pad == 0 || pad > self.size - HEADER_LEN {
                return Err(RtcpError::BadPadding);
            }
            end -= pad;
        }
        Ok(&packet[HEADER_LEN..end])
    }
}

/// Big-endian reads at fixed offsets of a body whose size the caller checked.
pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Starts a packet in `out`: the header with a zero length, fixed by [`finish`].
pub(crate) fn begin(out: &mut Vec<u8>, count: u8, packet_type: u8) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0x80 | (count & 0x1F), packet_type, 0, 0]);
    start
}

/// Pads the packet begun at `start` to 32 bits with zeros and writes its length field.
pub(crate) fn finish(out: &mut Vec<u8>, start: usize) -> Result<(), RtcpError> {
    while !(out.len() - start).is_multiple_of(4) {
        out.push(0);
    }
    let words = (out.len() - start) / 4 - 1;
    if words > u16::MAX as usize {
        out.truncate(start);
        return Err(RtcpError::TooLarge("more than 65 535 words"));
    }
    out[start + 2..start + 4].copy_from_slice(&(words as u16).to_be_bytes());
    Ok(())
}
