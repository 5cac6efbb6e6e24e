//! HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 §8.3.3.1.2), the body of an Enhanced RTMP
//! `hvc1` sequence start and of MP4's `hvcC`:
//!
//! ```text
//! configurationVersion = 1 (8) | general_profile_space (2) general_tier_flag (1) general_profile_idc (5)
//! general_profile_compatibility_flags (32) | general_constraint_indicator_flags (48) | general_level_idc (8)
//! '1111' min_spatial_segmentation_idc (12) | '111111' parallelismType (2) | '111111' chromaFormat (2)
//! '11111' bitDepthLumaMinus8 (3) | '11111' bitDepthChromaMinus8 (3) | avgFrameRate (16)
//! constantFrameRate (2) numTemporalLayers (3) temporalIdNested (1) lengthSizeMinusOne (2)
//! numOfArrays (8) | per array: array_completeness (1) '0' NAL_unit_type (6), numNalus (16),
//!                   per NAL unit: nalUnitLength (16) nalUnit
//! ```
//!
//! The profile, tier, level, chroma format and bit depths come from the SPS (H.265 §7.3.2.2),
//! read after removing its emulation prevention bytes.

/// An HEVC decoder configuration record: the header fields and the parameter sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HevcDecoderConfigurationRecord {
    /// The 12 bytes of the SPS's general profile_tier_level (profile space, tier, profile,
    /// compatibility flags, constraint flags, level), as the record carries them.
    pub general_profile_tier_level: [u8; 12],
    /// chroma_format_idc (1 = 4:2:0).
    pub chroma_format: u8,
    /// bit_depth_luma_minus8.
    pub bit_depth_luma_minus8: u8,
    /// bit_depth_chroma_minus8.
    pub bit_depth_chroma_minus8: u8,
    /// sps_max_sub_layers_minus1 + 1.
    pub temporal_layers: u8,
    /// sps_temporal_id_nesting_flag.
    pub temporal_id_nested: bool,
    /// NAL unit length field size in bytes (1, 2 or 4).
    pub nalu_length_size: u8,
    /// VPS NAL units (type 32).
    pub vps: Vec<Vec<u8>>,
    /// SPS NAL units (type 33).
    pub sps: Vec<Vec<u8>>,
    /// PPS NAL units (type 34).
    pub pps: Vec<Vec<u8>>,
}

/// An RBSP bit reader (big-endian bits, Exp-Golomb).
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Bits<'_> {
    fn bit(&mut self) -> Option<u32> {
        let byte = *self.data.get(self.pos / 8)?;
        let bit = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Some(u32::from(bit))
    }
    fn bits(&mut self, n: u32) -> Option<u32> {
        (0..n).try_fold(0u32, |v, _| Some((v << 1) | self.bit()?))
    }
    fn skip(&mut self, n: usize) -> Option<()> {
        self.pos += n;
        (self.pos <= self.data.len() * 8).then_some(())
    }
    /// ue(v), H.265 §9.2; at most 31 leading zeros.
    fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        Some(((1u64 << zeros) - 1 + u64::from(self.bits(zeros)?)) as u32)
    }
}

/// The RBSP of a NAL unit: its bytes without the 2-byte header and without the emulation
/// prevention bytes (`00 00 03` → `00 00`, H.265 §7.4.2).
fn rbsp(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal.iter().skip(2) {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

impl HevcDecoderConfigurationRecord {
    /// A record for one VPS, SPS and PPS (NAL units without start codes or lengths), 4-byte NAL
    /// lengths, header fields read from the SPS. `None` when the SPS is too short or malformed
    /// up to its bit depths, or a set is over 65 535 bytes.
    pub fn from_parameter_sets(vps: &[u8], sps: &[u8], pps: &[u8]) -> Option<Self> {
        if [vps, sps, pps]
            .iter()
            .any(|s| s.len() < 3 || s.len() > 0xFFFF)
        {
            return None;
        }
        let r = rbsp(sps);
        let mut b = Bits { data: &r, pos: 0 };
        b.skip(4)?; // sps_video_parameter_set_id
        let max_sub_layers_minus1 = b.bits(3)?;
        let temporal_id_nested = b.bit()? == 1;
        let general_profile_tier_level: [u8; 12] = r.get(1..13)?.try_into().ok()?;
        b.skip(96)?;
        // Sub-layer presence flags, the alignment to 8 entries, then each present sub-layer's
        // profile (88 bits) and level (8 bits) (H.265 §7.3.3).
        let mut present = Vec::new();
        for _ in 0..max_sub_layers_minus1 {
            present.push((b.bit()?, b.bit()?));
        }
        if max_sub_layers_minus1 > 0 {
            b.skip(2 * (8 - max_sub_layers_minus1 as usize))?;
        }
        for (profile, level) in present {
            b.skip(88 * profile as usize + 8 * level as usize)?;
        }
        b.ue()?; // sps_seq_parameter_set_id
        let chroma_format = b.ue()?;
        if chroma_format > 3 {
            return None;
        }
        if chroma_format == 3 {
            b.skip(1)?; // separate_colour_plane_flag
        }
        b.ue()?; // pic_width_in_luma_samples
        b.ue()?; // pic_height_in_luma_samples
        if b.bit()? == 1 {
            for _ in 0..4 {
                b.ue()?; // conformance window offsets
            }
        }
        let luma = b.ue()?;
        let chroma = b.ue()?;
        if luma > 8 || chroma > 8 {
            return None;
        }
        Some(HevcDecoderConfigurationRecord {
            general_profile_tier_level,
            chroma_format: chroma_format as u8,
            bit_depth_luma_minus8: luma as u8,
            bit_depth_chroma_minus8: chroma as u8,
            temporal_layers: max_sub_layers_minus1 as u8 + 1,
            temporal_id_nested,
            nalu_length_size: 4,
            vps: vec![vps.to_vec()],
            sps: vec![sps.to_vec()],
            pps: vec![pps.to_vec()],
        })
    }

    /// Parses a record; `None` when truncated or its version is not 1. Arrays of other NAL unit
    /// types (SEI) are skipped.
    pub fn parse(b: &[u8]) -> Option<Self> {
        if *b.first()? != 1 || b.len() < 23 {
            return None;
        }
        let mut record = HevcDecoderConfigurationRecord {
            general_profile_tier_level: b[1..13].try_into().ok()?,
            chroma_format: b[16] & 0x03,
            bit_depth_luma_minus8: b[17] & 0x07,
            bit_depth_chroma_minus8: b[18] & 0x07,
            temporal_layers: (b[21] >> 3) & 0x07,
            temporal_id_nested: b[21] & 0x04 != 0,
            nalu_length_size: (b[21] & 0x03) + 1,
            vps: Vec::new(),
            sps: Vec::new(),
            pps: Vec::new(),
        };
        let mut at = 23;
        for _ in 0..b[22] {
            let nal_type = b.get(at)? & 0x3F;
            let count = u16::from_be_bytes([*b.get(at + 1)?, *b.get(at + 2)?]);
            at += 3;
            for _ in 0..count {
                let len = usize::from(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]));
                let nal = b.get(at + 2..at + 2 + len)?.to_vec();
                at += 2 + len;
                match nal_type {
                    32 => record.vps.push(nal),
                    33 => record.sps.push(nal),
                    34 => record.pps.push(nal),
                    _ => {}
                }
            }
        }
        Some(record)
    }

    /// The record's bytes (layout in the [module docs](self)); min_spatial_segmentation_idc,
    /// parallelismType, avgFrameRate and constantFrameRate are written as 0 (unknown).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![1];
        b.extend_from_slice(&self.general_profile_tier_level);
        b.extend_from_slice(&[
            0xF0,
            0x00,
            0xFC,
            0xFC | (self.chroma_format & 0x03),
            0xF8 | (self.bit_depth_luma_minus8 & 0x07),
            0xF8 | (self.bit_depth_chroma_minus8 & 0x07),
            0,
            0,
            ((self.temporal_layers & 0x07) << 3)
                | (u8::from(self.temporal_id_nested) << 2)
                | (self.nalu_length_size.clamp(1, 4) - 1),
        ]);
        let arrays = [(32u8, &self.vps), (33, &self.sps), (34, &self.pps)];
        b.push(arrays.iter().filter(|(_, s)| !s.is_empty()).count() as u8);
        for (nal_type, sets) in arrays.iter().filter(|(_, s)| !s.is_empty()) {
            b.push(0x80 | nal_type);
            b.extend_from_slice(&(sets.len() as u16).to_be_bytes());
            for set in sets.iter() {
                b.extend_from_slice(&(set.len() as u16).to_be_bytes());
                b.extend_from_slice(set);
            }
        }
        b
    }

    /// The RFC 6381 codec string, e.g. `hvc1.1.6.L93.B0` (ISO/IEC 14496-15 Annex E.3).
    pub fn codec_string(&self) -> String {
        let p = &self.general_profile_tier_level;
        let space = ["", "A", "B", "C"][usize::from(p[0] >> 6)];
        let profile = p[0] & 0x1F;
        let compat = u32::from_be_bytes([p[1], p[2], p[3], p[4]]).reverse_bits();
        let tier = if p[0] & 0x20 != 0 { 'H' } else { 'L' };
        let mut s = format!("hvc1.{space}{profile}.{compat:X}.{tier}{}", p[11]);
        let constraints = &p[5..11];
        let last = constraints.iter().rposition(|&c| c != 0);
        if let Some(last) = last {
            for c in &constraints[..=last] {
                s.push_str(&format!(".{c:X}"));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // x265 3.5 (ffmpeg 5.1 -c:v libx265, 320x240, Main profile, level 2): VPS and SPS.
    const VPS: [u8; 24] = [
        0x40, 0x01, 0x0C, 0x01, 0xFF, 0xFF, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00,
        0x03, 0x00, 0x00, 0x03, 0x00, 0x3C, 0x95, 0x98, 0x09,
    ];
    const SPS: [u8; 42] = [
        0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00,
        0x03, 0x00, 0x3C, 0xA0, 0x0A, 0x08, 0x0F, 0x16, 0x59, 0x59, 0xA4, 0x93, 0x2B, 0xC0, 0x5A,
        0x02, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x00, 0x03, 0x00, 0x32, 0x10,
    ];
    const PPS: [u8; 7] = [0x44, 0x01, 0xC1, 0x72, 0xB4, 0x62, 0x40];

    #[test]
    fn record_from_x265_parameter_sets_round_trips() {
        let r =
            HevcDecoderConfigurationRecord::from_parameter_sets(&VPS, &SPS, &PPS).expect("record");
        assert_eq!(r.general_profile_tier_level[0] & 0x1F, 1, "Main profile");
        assert_eq!(
            r.general_profile_tier_level[11], 60,
            "level 2 (60 = 2.0 × 30)"
        );
        assert_eq!(r.chroma_format, 1);
        assert_eq!((r.bit_depth_luma_minus8, r.bit_depth_chroma_minus8), (0, 0));
        assert_eq!(r.temporal_layers, 1);
        assert_eq!(r.codec_string(), "hvc1.1.6.L60.90");
        let bytes = r.to_bytes();
        assert_eq!(HevcDecoderConfigurationRecord::parse(&bytes), Some(r));
    }

    #[test]
    fn truncated_records_and_sets_are_refused() {
        let r = HevcDecoderConfigurationRecord::from_parameter_sets(&VPS, &SPS, &PPS)
            .unwrap()
            .to_bytes();
        for n in 0..r.len() {
            let _ = HevcDecoderConfigurationRecord::parse(&r[..n]);
        }
        assert!(HevcDecoderConfigurationRecord::parse(&r[..r.len() - 1]).is_none());
        assert!(
            HevcDecoderConfigurationRecord::from_parameter_sets(&VPS, &SPS[..10], &PPS).is_none()
        );
    }
}
