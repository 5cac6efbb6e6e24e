//! The AudioSpecificConfig: the body of an FLV AAC sequence header (FLV §E.4.2.1,
//! AACPacketType 0), defined by ISO/IEC 14496-3 §1.6.2.1.

use crate::AudioError;

/// Sampling frequencies by samplingFrequencyIndex, in Hz (ISO/IEC 14496-3 Table 1.18). Indexes
/// 13 and 14 are reserved, 15 is the escape to an explicit 24-bit frequency.
pub const SAMPLING_FREQUENCIES: [u32; 13] = [
    96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000,
    7_350,
];

/// Audio object type 2, AAC LC (ISO/IEC 14496-3 Table 1.1).
pub const AOT_AAC_LC: u8 = 2;
/// Audio object type 5, SBR: HE-AAC with explicit hierarchical signalling (ISO/IEC 14496-3
/// Table 1.1, §1.6.5.2).
pub const AOT_SBR: u8 = 5;
/// Audio object type 29, PS: HE-AAC v2 with explicit hierarchical signalling.
pub const AOT_PS: u8 = 29;

/// Object types whose AudioSpecificConfig continues with a GASpecificConfig (ISO/IEC 14496-3
/// Table 1.15): AAC Main, LC, SSR, LTP, Scalable, TwinVQ and the ER AAC family.
const GA_OBJECT_TYPES: [u8; 12] = [1, 2, 3, 4, 6, 7, 17, 19, 20, 21, 22, 23];

/// What an AudioSpecificConfig says, as far as this crate needs it.
///
/// For HE-AAC (object type 5 or 29), `object_type`, `sample_rate` and `channel_configuration`
/// describe the core (AAC-LC at half the output rate, mono under PS); `sbr` and `ps` are set and
/// `extension_sample_rate` is the rate SBR would output.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AudioSpecificConfig {
    /// The core's audio object type (ISO/IEC 14496-3 Table 1.1): 2 for AAC LC.
    pub object_type: u8,
    /// The core's sampling frequency in Hz.
    pub sample_rate: u32,
    /// channelConfiguration (ISO/IEC 14496-3 Table 1.19): 1 mono, 2 stereo (L, R), 3–7 3.0 to
    /// 7.1, 0 = given by a program config element.
    pub channel_configuration: u8,
    /// Samples per frame and channel: 1024, or 960 when frameLengthFlag is set.
    pub frame_length: u16,
    /// Spectral band replication is signalled (object type 5 or 29, or the 0x2B7 sync
    /// extension).
    pub sbr: bool,
    /// Parametric stereo is signalled (object type 29, or the 0x548 sync extension).
    pub ps: bool,
    /// The SBR output sampling frequency in Hz, when signalled.
    pub extension_sample_rate: Option<u32>,
}

/// An MSB-first bit reader over a byte slice; every read is bounds-checked.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bits { data, pos: 0 }
    }

    fn left(&self) -> usize {
        self.data.len() * 8 - self.pos
    }

    /// Reads `n` ≤ 32 bits.
    fn read(&mut self, n: usize, what: &'static str) -> Result<u32, AudioError> {
        if n > self.left() {
            return Err(AudioError::MalformedAudioSpecificConfig(what));
        }
        let mut v: u32 = 0;
        for _ in 0..n {
            let byte = self.data[self.pos / 8];
            let bit = (byte >> (7 - self.pos % 8)) & 1;
            v = (v << 1) | bit as u32;
            self.pos += 1;
        }
        Ok(v)
    }

    /// GetAudioObjectType() (ISO/IEC 14496-3 Table 1.14): 5 bits, 31 escapes to 32 + 6 bits.
    fn object_type(&mut self) -> Result<u8, AudioError> {
        let t = self.read(5, "audioObjectType")?;
        if t == 31 {
            Ok(32 + self.read(6, "audioObjectTypeExt")? as u8)
        } else {
            Ok(t as u8)
        }
    }

    /// samplingFrequencyIndex and, for index 15, the 24-bit samplingFrequency.
    fn sampling_frequency(&mut self) -> Result<u32, AudioError> {
        let index = self.read(4, "samplingFrequencyIndex")? as usize;
        match index {
            0..=12 => Ok(SAMPLING_FREQUENCIES[index]),
            15 => match self.read(24, "samplingFrequency")? {
                0 => Err(AudioError::MalformedAudioSpecificConfig(
                    "samplingFrequency of 0 Hz",
                )),
                rate => Ok(rate),
            },
            _ => Err(AudioError::MalformedAudioSpecificConfig(
                "reserved samplingFrequencyIndex 13 or 14",
            )),
        }
    }
}

impl AudioSpecificConfig {
    /// Parses an AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1, Table 1.15) up to the end of
    /// the GASpecificConfig's first fields (§4.4.1, Table 4.1), then the backward-compatible
    /// SBR/PS sync extensions (0x2B7, 0x548) when present. Trailing bytes are ignored.
    ///
    /// Errors: [`AudioError::MalformedAudioSpecificConfig`] when a field is cut short or
    /// reserved; [`AudioError::UnsupportedObjectType`] when the (core) object type has no
    /// GASpecificConfig (CELP, HVXC, ALS, USAC …), whose layout this parser does not follow.
    pub fn parse(data: &[u8]) -> Result<Self, AudioError> {
        let mut b = Bits::new(data);
        let mut object_type = b.object_type()?;
        let sample_rate = b.sampling_frequency()?;
        let channel_configuration = b.read(4, "channelConfiguration")? as u8;
        if channel_configuration > 7 {
            return Err(AudioError::MalformedAudioSpecificConfig(
                "reserved channelConfiguration 8-15",
            ));
        }
        let mut sbr = false;
        let mut ps = false;
        let mut extension_sample_rate = None;
        let explicit = object_type == AOT_SBR || object_type == AOT_PS;
        if explicit {
            sbr = true;
            ps = object_type == AOT_PS;
            extension_sample_rate = Some(b.sampling_frequency()?);
            object_type = b.object_type()?;
            if object_type == 22 {
                // extensionChannelConfiguration of ER BSAC.
                b.read(4, "extensionChannelConfiguration")?;
            }
        }
        if !GA_OBJECT_TYPES.contains(&object_type) {
            return Err(AudioError::UnsupportedObjectType { object_type });
        }
        // GASpecificConfig: frameLengthFlag, dependsOnCoreCoder (+ coreCoderDelay),
        // extensionFlag. A program_config_element follows when channelConfiguration is 0; it is
        // not read (such streams are refused by the transcoder).
        let frame_length = if b.read(1, "frameLengthFlag")? == 1 {
            960
        } else {
            1024
        };
        if b.read(1, "dependsOnCoreCoder")? == 1 {
            b.read(14, "coreCoderDelay")?;
        }
        let extension_flag = b.read(1, "extensionFlag")?;
        if !explicit && channel_configuration != 0 && extension_flag == 0 && b.left() >= 16 {
            // Backward-compatible explicit signalling (§1.6.5.2): a sync extension after the
            // GASpecificConfig. A cut-short extension is ignored: the core stays decodable.
            let _ = Self::sync_extension(&mut b, &mut sbr, &mut ps, &mut extension_sample_rate);
        }
        Ok(AudioSpecificConfig {
            object_type,
            sample_rate,
            channel_configuration,
            frame_length,
            sbr,
            ps,
            extension_sample_rate,
        })
    }

    fn sync_extension(
        b: &mut Bits<'_>,
        sbr: &mut bool,
        ps: &mut bool,
        extension_sample_rate: &mut Option<u32>,
    ) -> Result<(), AudioError> {
        if b.read(11, "syncExtensionType")? != 0x2B7 {
            return Ok(());
        }
        if b.object_type()? != AOT_SBR {
            return Ok(());
        }
        if b.read(1, "sbrPresentFlag")? == 1 {
            *sbr = true;
            *extension_sample_rate = Some(b.sampling_frequency()?);
            if b.left() >= 12 && b.read(11, "syncExtensionType")? == 0x548 {
                *ps = b.read(1, "psPresentFlag")? == 1;
            }
        }
        Ok(())
    }

    /// Channels of the core per channelConfiguration (ISO/IEC 14496-3 Table 1.19): 1–6 are
    /// that many channels, 7 is 7.1 (8), 0 (program config element) is unknown: 0.
    pub fn channels(&self) -> u8 {
        match self.channel_configuration {
            7 => 8,
            c => c,
        }
    }

    /// The samplingFrequencyIndex of `sample_rate` (ISO/IEC 14496-3 Table 1.18), when it is one
    /// of the table's frequencies.
    pub fn sampling_frequency_index(&self) -> Option<u8> {
        SAMPLING_FREQUENCIES
            .iter()
            .position(|&r| r == self.sample_rate)
            .map(|i| i as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // ISO/IEC 14496-3 §1.6.2.1: AAC LC (2), 44 100 Hz (index 4), stereo (2), GASpecificConfig
    // all zero: 00010 0100 0010 0 0 0 = 0x12 0x10 — what ffmpeg and OBS put in FLV.
    #[test]
    fn iso14496_3_1_6_2_1_lc_44100_stereo() {
        let asc = AudioSpecificConfig::parse(&[0x12, 0x10]).unwrap();
        assert_eq!(asc.object_type, AOT_AAC_LC);
        assert_eq!(asc.sample_rate, 44_100);
        assert_eq!(asc.channel_configuration, 2);
        assert_eq!(asc.frame_length, 1024);
        assert!(!asc.sbr && !asc.ps);
        assert_eq!(asc.sampling_frequency_index(), Some(4));
    }

    #[test]
    fn iso14496_3_1_6_2_1_lc_48000_mono() {
        // 00010 0011 0001 000 = 0x11 0x88
        let asc = AudioSpecificConfig::parse(&[0x11, 0x88]).unwrap();
        assert_eq!((asc.sample_rate, asc.channel_configuration), (48_000, 1));
    }

    #[test]
    fn iso14496_3_1_6_2_1_escape_frequency() {
        // AOT 2, index 15, 24-bit 44 100 (0x00AC44), channel 2, GA flags 0:
        // 00010 1111 0000 0000 1010 1100 0100 0100 0010 000 (+ 5 pad bits)
        let asc = AudioSpecificConfig::parse(&[0x17, 0x80, 0x56, 0x22, 0x10, 0x00]).unwrap();
        assert_eq!(asc.sample_rate, 44_100);
        assert_eq!(asc.channel_configuration, 2);
        assert_eq!(asc.sampling_frequency_index(), Some(4));
    }

    #[test]
    fn iso14496_3_1_6_5_2_explicit_hierarchical_he_aac() {
        // AOT 5, core index 6 (24 000), channel 2, extension index 3 (48 000), core AOT 2,
        // GA flags 0: 00101 0110 0010 0011 00010 000 = 0x2B 0x11 0x88 0x00 (trailing pad)
        let asc = AudioSpecificConfig::parse(&[0x2B, 0x11, 0x88, 0x00]).unwrap();
        assert_eq!(asc.object_type, AOT_AAC_LC);
        assert_eq!(asc.sample_rate, 24_000);
        assert_eq!(asc.extension_sample_rate, Some(48_000));
        assert!(asc.sbr && !asc.ps);
    }

    #[test]
    fn iso14496_3_1_6_5_2_backward_compatible_sbr_sync_extension() {
        // LC 22 050 (index 7) stereo, then 0x2B7, AOT 5, sbrPresentFlag 1, index 4 (44 100):
        // 00010 0111 0010 000 | 010 1011 0111 | 00101 | 1 | 0100 (+ 1 pad bit)
        let asc = AudioSpecificConfig::parse(&[0x13, 0x90, 0x56, 0xE5, 0xA0]).unwrap();
        assert_eq!(asc.sample_rate, 22_050);
        assert!(asc.sbr);
        assert_eq!(asc.extension_sample_rate, Some(44_100));
    }

    #[test]
    fn truncated_and_reserved_fields_are_malformed() {
        for bad in [&[][..], &[0x12], &[0x16, 0x90], &[0x12, 0x40]] {
            assert!(matches!(
                AudioSpecificConfig::parse(bad),
                Err(AudioError::MalformedAudioSpecificConfig(_))
            ));
        }
    }

    #[test]
    fn non_ga_object_types_are_unsupported() {
        // AOT 8 (CELP), 44 100, mono
        let r = AudioSpecificConfig::parse(&[0x42, 0x08]);
        assert_eq!(r, Err(AudioError::UnsupportedObjectType { object_type: 8 }));
    }

    #[test]
    fn every_short_input_parses_or_errors() {
        for len in 0..4usize {
            let mut buf = vec![0u8; len];
            for seed in 0u32..4096 {
                for (i, b) in buf.iter_mut().enumerate() {
                    *b = (seed.wrapping_mul(2_654_435_761).rotate_left(i as u32 * 8)) as u8;
                }
                let _ = AudioSpecificConfig::parse(&buf);
            }
        }
    }
}
