//! AAC in ADTS (ISO/IEC 13818-7 §6.2, ISO/IEC 14496-3 §1.A.2.2): each raw AAC frame behind a 7-byte
//! header (9 with CRC):
//!
//! ```text
//! syncword 0xFFF:12 | ID:1 layer:2 protection_absent:1 | profile:2 sampling_frequency_index:4
//! private:1 channel_configuration:3 original:1 home:1 | copyright_id:2 frame_length:13
//! buffer_fullness:11 number_of_raw_data_blocks:2 | [crc:16]
//! ```
//!
//! `frame_length` counts the header. One frame holds 1024 samples per raw data block.

use crate::TsError;

/// Sampling frequencies by `sampling_frequency_index` (ISO/IEC 14496-3 Table 1.18).
pub const SAMPLE_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// A parsed ADTS header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdtsHeader {
    /// Audio object type (`profile + 1`: 2 = AAC-LC).
    pub object_type: u8,
    /// `sampling_frequency_index` (0–12).
    pub sampling_index: u8,
    /// `channel_configuration`.
    pub channels: u8,
    /// Header bytes (7, or 9 with CRC).
    pub header_length: usize,
    /// `frame_length`: header and raw data.
    pub frame_length: usize,
    /// Raw data blocks in the frame (1–4).
    pub blocks: usize,
}

impl AdtsHeader {
    /// Parses a header at the start of `b`. Errors: [`TsError::Truncated`] under 7 bytes,
    /// [`TsError::BadAdts`] without the syncword or with a reserved sampling index or a
    /// `frame_length` shorter than its header.
    pub fn parse(b: &[u8]) -> Result<Self, TsError> {
        if b.len() < 7 {
            return Err(TsError::Truncated("ADTS header"));
        }
        if b[0] != 0xFF || b[1] & 0xF0 != 0xF0 {
            return Err(TsError::BadAdts("no syncword"));
        }
        let header_length = if b[1] & 0x01 != 0 { 7 } else { 9 };
        let object_type = (b[2] >> 6) + 1;
        let sampling_index = (b[2] >> 2) & 0x0F;
        if usize::from(sampling_index) >= SAMPLE_RATES.len() {
            return Err(TsError::BadAdts("reserved sampling frequency index"));
        }
        let channels = ((b[2] & 0x01) << 2) | (b[3] >> 6);
        let frame_length =
            (usize::from(b[3] & 0x03) << 11) | (usize::from(b[4]) << 3) | usize::from(b[5] >> 5);
        if frame_length < header_length {
            return Err(TsError::BadAdts("frame_length shorter than the header"));
        }
        Ok(AdtsHeader {
            object_type,
            sampling_index,
            channels,
            header_length,
            frame_length,
            blocks: usize::from(b[6] & 0x03) + 1,
        })
    }

    /// Sampling frequency in Hz.
    pub fn sample_rate(&self) -> u32 {
        SAMPLE_RATES[usize::from(self.sampling_index)]
    }

    /// The 2-byte AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1) for this stream.
    pub fn audio_specific_config(&self) -> [u8; 2] {
        [
            (self.object_type << 3) | (self.sampling_index >> 1),
            ((self.sampling_index & 1) << 7) | (self.channels << 3),
        ]
    }

    /// Writes a 7-byte header (no CRC) for `raw_len` bytes of one raw data block.
    /// `object_type` 1–4, `sampling_index` 0–12, `channels` 0–7 (masked).
    pub fn write(
        out: &mut Vec<u8>,
        object_type: u8,
        sampling_index: u8,
        channels: u8,
        raw_len: usize,
    ) {
        let len = (raw_len + 7).min(0x1FFF);
        let profile = object_type.saturating_sub(1) & 0x03;
        out.extend_from_slice(&[
            0xFF,
            0xF1,
            (profile << 6) | ((sampling_index & 0x0F) << 2) | ((channels >> 2) & 0x01),
            ((channels & 0x03) << 6) | ((len >> 11) as u8 & 0x03),
            (len >> 3) as u8,
            ((len as u8 & 0x07) << 5) | 0x1F,
            0xFC,
        ]);
    }
}

/// One raw AAC frame of a PES payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdtsFrame<'a> {
    /// Its header.
    pub header: AdtsHeader,
    /// The raw data block(s) without the header.
    pub raw: &'a [u8],
}

/// The ADTS frames of a PES payload in order; stops at the first bad or truncated header
/// (returning it as the last item's error).
pub fn frames(mut b: &[u8]) -> impl Iterator<Item = Result<AdtsFrame<'_>, TsError>> {
    std::iter::from_fn(move || {
        if b.is_empty() {
            return None;
        }
        let header = match AdtsHeader::parse(b) {
            Ok(h) => h,
            Err(e) => {
                b = &[];
                return Some(Err(e));
            }
        };
        let Some(frame) = b.get(..header.frame_length) else {
            b = &[];
            return Some(Err(TsError::Truncated("ADTS frame")));
        };
        b = &b[header.frame_length..];
        Some(Ok(AdtsFrame {
            header,
            raw: &frame[header.header_length..],
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_config() {
        let mut b = Vec::new();
        AdtsHeader::write(&mut b, 2, 4, 2, 300);
        b.extend_from_slice(&[0xAB; 300]);
        AdtsHeader::write(&mut b, 2, 4, 2, 10);
        b.extend_from_slice(&[0xCD; 10]);
        let f: Vec<_> = frames(&b).collect::<Result<_, _>>().unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].header.sample_rate(), 44100);
        assert_eq!(f[0].header.channels, 2);
        assert_eq!(f[0].raw.len(), 300);
        assert_eq!(f[1].raw, &[0xCD; 10][..]);
        // AAC-LC, 44.1 kHz, stereo: 0x12 0x10 (the AudioSpecificConfig ffmpeg writes).
        assert_eq!(f[0].header.audio_specific_config(), [0x12, 0x10]);
    }

    #[test]
    fn truncated_frame_is_an_error() {
        let mut b = Vec::new();
        AdtsHeader::write(&mut b, 2, 3, 1, 100);
        b.extend_from_slice(&[0; 50]);
        let f: Vec<_> = frames(&b).collect();
        assert_eq!(f, vec![Err(TsError::Truncated("ADTS frame"))]);
    }
}
