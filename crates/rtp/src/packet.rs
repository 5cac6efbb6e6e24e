//! The RTP fixed header (RFC 3550 §5.1), its CSRC list, header extension (§5.3.1, with the
//! RFC 8285 one-byte and two-byte element forms) and padding.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                           timestamp                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                             SSRC                              |
//! +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
//! |                    CSRC list (CC × 32 bits)                   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   profile (0xBEDE, 0x100x…)   |   length (32-bit words)       |  if X
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                  extension data (length × 4 bytes)            |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                            payload                            |
//! |                               +-------------------------------+
//! |                               | padding …       | pad count   |  if P
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! All multi-byte fields are big-endian. Parsing borrows the extension data from the packet
//! (no allocation) and never panics: every length is checked against the input.

use crate::RtpError;

/// The only RTP version (RFC 3550 §5.1, `V`).
pub const RTP_VERSION: u8 = 2;
/// Length of the fixed header in bytes (without CSRCs or extension).
pub const FIXED_HEADER_LEN: usize = 12;
/// Most CSRCs a header carries (the 4-bit `CC` field).
pub const MAX_CSRCS: usize = 15;
/// Header extension profile of the RFC 8285 §4.2 one-byte form.
pub const ONE_BYTE_PROFILE: u16 = 0xBEDE;
/// Header extension profile of the RFC 8285 §4.3 two-byte form: `0x100` in the top 12 bits,
/// the low 4 bits (`appbits`) are application-defined.
pub const TWO_BYTE_PROFILE: u16 = 0x1000;

/// A header extension (RFC 3550 §5.3.1): a 16-bit profile and the data that follows the
/// 4-byte extension header, borrowed from the packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderExtension<'a> {
    /// The "defined by profile" field: [`ONE_BYTE_PROFILE`], [`TWO_BYTE_PROFILE`]`| appbits`, or
    /// another profile's value.
    pub profile: u16,
    /// The extension data, a whole number of 32-bit words (the length field × 4 bytes).
    pub data: &'a [u8],
}

/// Which element layout a header extension uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionForm {
    /// RFC 8285 §4.2: one byte `ID(4) | L(4)`, then `L + 1` bytes; IDs 1–14.
    OneByte,
    /// RFC 8285 §4.3: `ID(8)`, `length(8)`, then `length` bytes; IDs 1–255.
    TwoByte {
        /// The low 4 bits of the profile, application-defined.
        appbits: u8,
    },
    /// A profile this crate does not interpret; [`HeaderExtension::elements`] yields nothing.
    Other(u16),
}

/// One RFC 8285 header extension element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionElement<'a> {
    /// The local identifier (1–14 one-byte, 1–255 two-byte), mapped to a URI by SDP `extmap`.
    pub id: u8,
    /// The element data (1–16 bytes one-byte, 0–255 bytes two-byte).
    pub data: &'a [u8],
}

impl<'a> HeaderExtension<'a> {
    /// The element layout named by [`profile`](Self::profile).
    pub fn form(&self) -> ExtensionForm {
        if self.profile == ONE_BYTE_PROFILE {
            ExtensionForm::OneByte
        } else if self.profile & 0xFFF0 == TWO_BYTE_PROFILE {
            ExtensionForm::TwoByte {
                appbits: (self.profile & 0x000F) as u8,
            }
        } else {
            ExtensionForm::Other(self.profile)
        }
    }

    /// The RFC 8285 elements in order, skipping padding bytes (ID 0) and stopping at a
    /// one-byte ID 15 (§4.2: "processing … terminates"). An element that runs past the data
    /// yields one [`RtpError::MalformedExtensionElement`] and ends the iteration.
    pub fn elements(&self) -> ExtensionElements<'a> {
        ExtensionElements {
            data: self.data,
            at: 0,
            form: self.form(),
            done: false,
        }
    }

    /// The data of the first well-formed element with this ID, if any.
    pub fn find(&self, id: u8) -> Option<&'a [u8]> {
        self.elements()
            .map_while(Result::ok)
            .find(|e| e.id == id)
            .map(|e| e.data)
    }
}

/// Iterator over the RFC 8285 elements of a [`HeaderExtension`].
#[derive(Debug, Clone)]
pub struct ExtensionElements<'a> {
    data: &'a [u8],
    at: usize,
    form: ExtensionForm,
    done: bool,
}

impl<'a> Iterator for ExtensionElements<'a> {
    type Item = Result<ExtensionElement<'a>, RtpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let start = self.at;
            let Some(&b0) = self.data.get(start) else {
                self.done = true;
                return None;
            };
            let (id, header_len, len) = match self.form {
                ExtensionForm::OneByte => {
                    let id = b0 >> 4;
                    if id == 15 {
                        self.done = true;
                        return None;
                    }
                    (id, 1, (b0 & 0x0F) as usize + 1)
                }
                ExtensionForm::TwoByte { .. } => {
                    let len = match self.data.get(start + 1) {
                        Some(&l) => l as usize,
                        // A lone trailing 0 is padding; anything else is cut short.
                        None if b0 == 0 => 0,
                        None => {
                            self.done = true;
                            return Some(Err(RtpError::MalformedExtensionElement {
                                offset: start,
                            }));
                        }
                    };
                    (b0, 2, len)
                }
                ExtensionForm::Other(_) => {
                    self.done = true;
                    return None;
                }
            };
            if id == 0 {
                // Padding byte (RFC 8285 §4.2, §4.3).
                self.at = start + 1;
                continue;
            }
            let data_start = start + header_len;
            let Some(data) = self.data.get(data_start..data_start + len) else {
                self.done = true;
                return Some(Err(RtpError::MalformedExtensionElement { offset: start }));
            };
            self.at = data_start + len;
            return Some(Ok(ExtensionElement { id, data }));
        }
    }
}

/// An RTP header (RFC 3550 §5.1). `'a` borrows the header extension data.
///
/// The padding count is part of the header value because the `P` bit lives in the first byte;
/// the padding bytes themselves come after the payload (see [`RtpHeader::write_packet`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtpHeader<'a> {
    /// `M`: meaning defined by the payload format (last packet of a video access unit, first
    /// packet of an audio talkspurt).
    pub marker: bool,
    /// `PT`, 7 bits (0–127).
    pub payload_type: u8,
    /// Sequence number, +1 per packet, wrapping at 65 535 → 0.
    pub sequence_number: u16,
    /// Sampling instant of the first payload octet, in units of the payload's clock rate
    /// (90 kHz for video, 48 kHz for Opus).
    pub timestamp: u32,
    /// Synchronization source identifier.
    pub ssrc: u32,
    csrcs: [u32; MAX_CSRCS],
    csrc_count: u8,
    /// The header extension (`X` bit), if any.
    pub extension: Option<HeaderExtension<'a>>,
    /// Padding bytes after the payload, the count byte included (`P` bit set when non-zero).
    pub padding: u8,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl<'a> RtpHeader<'a> {
    /// A header with no CSRCs, extension, padding or marker.
    pub fn new(payload_type: u8, sequence_number: u16, timestamp: u32, ssrc: u32) -> Self {
        RtpHeader {
            payload_type,
            sequence_number,
            timestamp,
            ssrc,
            ..Default::default()
        }
    }

    /// The contributing sources (`CC` entries).
    pub fn csrcs(&self) -> &[u32] {
        &self.csrcs[..self.csrc_count as usize]
    }

    /// Replaces the contributing sources; [`RtpError::TooManyCsrcs`] above 15.
    pub fn set_csrcs(&mut self, csrcs: &[u32]) -> Result<(), RtpError> {
        if csrcs.len() > MAX_CSRCS {
            return Err(RtpError::TooManyCsrcs { count: csrcs.len() });
        }
        self.csrcs[..csrcs.len()].copy_from_slice(csrcs);
        self.csrc_count = csrcs.len() as u8;
        Ok(())
    }

    /// Bytes [`write_into`](Self::write_into) writes: 12 + 4 × CC, plus 4 + the extension
    /// data when there is an extension.
    pub fn header_len(&self) -> usize {
        FIXED_HEADER_LEN
            + 4 * self.csrc_count as usize
            + self.extension.map_or(0, |e| 4 + e.data.len())
    }

    /// Parses the header at the start of `packet`.
    ///
    /// Returns the header, the payload offset (first byte after the CSRCs and extension) and
    /// the payload length (padding excluded), so the payload is
    /// `packet[offset..offset + len]`. Errors: [`RtpError::PacketTooShort`],
    /// [`RtpError::UnsupportedVersion`], [`RtpError::InvalidPadding`]. The RFC 8285 elements
    /// are only checked when iterated ([`HeaderExtension::elements`]).
    pub fn parse(packet: &'a [u8]) -> Result<(RtpHeader<'a>, usize, usize), RtpError> {
        let length = packet.len();
        if length < FIXED_HEADER_LEN {
            return Err(RtpError::PacketTooShort {
                needed: FIXED_HEADER_LEN,
                length,
            });
        }
        let b0 = packet[0];
        let version = b0 >> 6;
        if version != RTP_VERSION {
            return Err(RtpError::UnsupportedVersion { version });
        }
        let has_padding = b0 & 0x20 != 0;
        let has_extension = b0 & 0x10 != 0;
        let csrc_count = b0 & 0x0F;
        let mut header = RtpHeader {
            marker: packet[1] & 0x80 != 0,
            payload_type: packet[1] & 0x7F,
            sequence_number: be16(packet, 2),
            timestamp: be32(packet, 4),
            ssrc: be32(packet, 8),
            csrc_count,
            ..Default::default()
        };
        let mut at = FIXED_HEADER_LEN + 4 * csrc_count as usize;
        if length < at {
            return Err(RtpError::PacketTooShort { needed: at, length });
        }
        for (i, csrc) in header.csrcs[..csrc_count as usize].iter_mut().enumerate() {
            *csrc = be32(packet, FIXED_HEADER_LEN + 4 * i);
        }
        if has_extension {
            if length < at + 4 {
                return Err(RtpError::PacketTooShort {
                    needed: at + 4,
                    length,
                });
            }
            let profile = be16(packet, at);
            let data_len = 4 * be16(packet, at + 2) as usize;
            let data_start = at + 4;
            let Some(data) = packet.get(data_start..data_start + data_len) else {
                return Err(RtpError::PacketTooShort {
                    needed: data_start + data_len,
                    length,
                });
            };
            header.extension = Some(HeaderExtension { profile, data });
            at = data_start + data_len;
        }
        let mut end = length;
        if has_padding {
            let count = packet[length - 1];
            let available = length - at;
            if count == 0 || count as usize > available {
                return Err(RtpError::InvalidPadding { count, available });
            }
            header.padding = count;
            end -= count as usize;
        }
        Ok((header, at, end - at))
    }

    /// Writes the header ([`header_len`](Self::header_len) bytes) at the start of `buf` and
    /// returns its length. The `P` bit is set when [`padding`](Self::padding) is non-zero; the
    /// caller then appends the payload and the padding (or uses
    /// [`write_packet`](Self::write_packet)).
    ///
    /// Errors: [`RtpError::InvalidPayloadType`] above 127,
    /// [`RtpError::InvalidExtensionLength`], [`RtpError::BufferTooSmall`].
    pub fn write_into(&self, buf: &mut [u8]) -> Result<usize, RtpError> {
        if self.payload_type > 0x7F {
            return Err(RtpError::InvalidPayloadType {
                payload_type: self.payload_type,
            });
        }
        let ext_words = match self.extension {
            Some(e) if e.data.len() % 4 != 0 || e.data.len() / 4 > u16::MAX as usize => {
                return Err(RtpError::InvalidExtensionLength {
                    length: e.data.len(),
                });
            }
            Some(e) => (e.data.len() / 4) as u16,
            None => 0,
        };
        let needed = self.header_len();
        if buf.len() < needed {
            return Err(RtpError::BufferTooSmall {
                needed,
                available: buf.len(),
            });
        }
        buf[0] = (RTP_VERSION << 6)
            | if self.padding > 0 { 0x20 } else { 0 }
            | if self.extension.is_some() { 0x10 } else { 0 }
            | self.csrc_count;
        buf[1] = if self.marker { 0x80 } else { 0 } | self.payload_type;
        buf[2..4].copy_from_slice(&self.sequence_number.to_be_bytes());
        buf[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        buf[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        let mut at = FIXED_HEADER_LEN;
        for csrc in self.csrcs() {
            buf[at..at + 4].copy_from_slice(&csrc.to_be_bytes());
            at += 4;
        }
        if let Some(e) = self.extension {
            buf[at..at + 2].copy_from_slice(&e.profile.to_be_bytes());
            buf[at + 2..at + 4].copy_from_slice(&ext_words.to_be_bytes());
            buf[at + 4..at + 4 + e.data.len()].copy_from_slice(e.data);
            at += 4 + e.data.len();
        }
        Ok(at)
    }

    /// Writes a whole packet into `buf`: the header, `payload`, then
    /// [`padding`](Self::padding) bytes (zeros, the last one holding the count). Returns the
    /// packet length. Errors as [`write_into`](Self::write_into).
    pub fn write_packet(&self, payload: &[u8], buf: &mut [u8]) -> Result<usize, RtpError> {
        let needed = self.header_len() + payload.len() + self.padding as usize;
        if buf.len() < needed {
            return Err(RtpError::BufferTooSmall {
                needed,
                available: buf.len(),
            });
        }
        let at = self.write_into(buf)?;
        buf[at..at + payload.len()].copy_from_slice(payload);
        if self.padding > 0 {
            let pad = &mut buf[at + payload.len()..needed];
            pad.fill(0);
            pad[pad.len() - 1] = self.padding;
        }
        Ok(needed)
    }
}
