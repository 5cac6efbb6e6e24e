//! H.264 and H.265 Annex B byte streams (ITU-T H.264 Annex B, H.265 Annex B: NAL units after
//! `00 00 01` or `00 00 00 01` start codes) to length-prefixed access units (ISO/IEC 14496-15
//! §5.3.4.2 / §8.3.4.2: each NAL unit after its 4-byte big-endian length), the form FLV and MP4
//! carry, and back.

/// Which NAL unit syntax a stream uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VideoCodec {
    /// H.264: a 1-byte NAL header, `nal_unit_type` in its low 5 bits (Table 7-1).
    #[default]
    H264,
    /// H.265: a 2-byte NAL header, `nal_unit_type` in bits 1–6 of the first byte (Table 7-1).
    H265,
}

/// What a NAL unit is to this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nal {
    /// A parameter set: 0 VPS (H.265), 1 SPS, 2 PPS.
    ParameterSet(usize),
    /// An access unit delimiter or filler data: dropped.
    Dropped,
    /// A slice of a random access picture (H.264 IDR, H.265 IRAP: BLA, IDR, CRA).
    RandomAccess,
    /// Anything else (other slices, SEI).
    Other,
}

impl VideoCodec {
    fn classify(self, nal: &[u8]) -> Nal {
        match self {
            VideoCodec::H264 => match nal[0] & 0x1F {
                7 => Nal::ParameterSet(1),
                8 => Nal::ParameterSet(2),
                9 | 12 => Nal::Dropped,
                5 => Nal::RandomAccess,
                _ => Nal::Other,
            },
            VideoCodec::H265 => match (nal[0] >> 1) & 0x3F {
                32 => Nal::ParameterSet(0),
                33 => Nal::ParameterSet(1),
                34 => Nal::ParameterSet(2),
                35 | 38 => Nal::Dropped,
                16..=23 => Nal::RandomAccess,
                _ => Nal::Other,
            },
        }
    }

    /// An access unit delimiter NAL unit (H.264: primary_pic_type 7, any slice; H.265:
    /// pic_type 2, any slice).
    fn access_unit_delimiter(self) -> &'static [u8] {
        match self {
            VideoCodec::H264 => &[0x09, 0xF0],
            VideoCodec::H265 => &[0x46, 0x01, 0x50],
        }
    }

    /// The parameter sets this codec needs before a random access picture (H.265: VPS, SPS,
    /// PPS; H.264: SPS, PPS).
    fn needed(self) -> std::ops::Range<usize> {
        match self {
            VideoCodec::H264 => 1..3,
            VideoCodec::H265 => 0..3,
        }
    }
}

/// One access unit out of [`AnnexBReader::read`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnexBAccessUnit {
    /// NAL units with 4-byte lengths; parameter sets, access unit delimiters and filler left out.
    pub avcc: Vec<u8>,
    /// Whether it holds a random access picture (H.264 IDR, H.265 IRAP).
    pub keyframe: bool,
    /// Whether a parameter set changed with this access unit (a new decoder configuration
    /// record goes ahead of it).
    pub parameter_sets_changed: bool,
}

/// Reads the access units of one video elementary stream and keeps its current parameter sets.
#[derive(Debug, Default)]
pub struct AnnexBReader {
    codec: VideoCodec,
    /// VPS (H.265 only), SPS, PPS, without start codes.
    sets: [Vec<u8>; 3],
}

/// The NAL units of an Annex B buffer (start codes removed, trailing zero bytes of a 4-byte
/// start code trimmed).
pub fn nal_units(b: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = next_start(b, 0).map(|(_, end)| end);
    std::iter::from_fn(move || {
        let start = at?;
        let (nal_end, next) = match next_start(b, start) {
            Some((s, e)) => (s, Some(e)),
            None => (b.len(), None),
        };
        at = next;
        let mut end = nal_end;
        while end > start && b[end - 1] == 0 {
            end -= 1;
        }
        Some(&b[start..end])
    })
    .filter(|n| !n.is_empty())
}

/// The next `00 00 01` at or after `from`: (its start, the first byte after it).
fn next_start(b: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while i + 3 <= b.len() {
        if b[i + 2] > 1 {
            i += 3;
        } else if b[i] == 0 && b[i + 1] == 0 && b[i + 2] == 1 {
            return Some((i, i + 3));
        } else {
            i += 1;
        }
    }
    None
}

impl AnnexBReader {
    /// A reader of `codec` with no parameter sets yet.
    pub fn new(codec: VideoCodec) -> Self {
        AnnexBReader {
            codec,
            sets: Default::default(),
        }
    }

    /// The codec it reads.
    pub fn codec(&self) -> VideoCodec {
        self.codec
    }

    /// The current parameter sets (without start codes) once all the codec needs were seen:
    /// SPS and PPS for H.264, VPS, SPS and PPS for H.265, in that order.
    pub fn parameter_sets(&self) -> Option<Vec<&[u8]>> {
        let needed = &self.sets[self.codec.needed()];
        needed
            .iter()
            .all(|s| !s.is_empty())
            .then(|| needed.iter().map(|s| &s[..]).collect())
    }

    /// One PES payload (an access unit in Annex B form) to length-prefixed NAL units. `None`
    /// when it holds no slice or SEI (only parameter sets, delimiters or filler). A NAL unit
    /// too short for its header is dropped.
    pub fn read(&mut self, pes: &[u8]) -> Option<AnnexBAccessUnit> {
        let mut avcc = Vec::with_capacity(pes.len() + 16);
        let mut keyframe = false;
        let mut changed = false;
        let header = if self.codec == VideoCodec::H265 { 2 } else { 1 };
        for nal in nal_units(pes).filter(|n| n.len() >= header) {
            match self.codec.classify(nal) {
                Nal::ParameterSet(i) => {
                    if self.sets[i] != nal {
                        self.sets[i] = nal.to_vec();
                        changed = true;
                    }
                }
                Nal::Dropped => {}
                kind => {
                    keyframe |= kind == Nal::RandomAccess;
                    avcc.extend_from_slice(&(nal.len() as u32).to_be_bytes());
                    avcc.extend_from_slice(nal);
                }
            }
        }
        (!avcc.is_empty()).then_some(AnnexBAccessUnit {
            avcc,
            keyframe,
            parameter_sets_changed: changed,
        })
    }
}

/// Appends a length-prefixed access unit (`length_size`-byte lengths) to `out` in Annex B form:
/// an access unit delimiter first (H.222.0 §2.14 asks for one per access unit), then, before a
/// random access picture, `keyframe_sets` (unless the access unit carries its own), then every
/// NAL unit after a 4-byte start code. A NAL unit whose length runs past the buffer ends the
/// conversion (what came before is kept).
pub fn avcc_to_annexb(
    codec: VideoCodec,
    avcc: &[u8],
    length_size: usize,
    keyframe_sets: Option<&[Vec<u8>]>,
    out: &mut Vec<u8>,
) {
    const START: [u8; 4] = [0, 0, 0, 1];
    out.extend_from_slice(&START);
    out.extend_from_slice(codec.access_unit_delimiter());
    let mut wrote_sets = false;
    let mut at = 0;
    let length_size = length_size.clamp(1, 4);
    while at + length_size <= avcc.len() {
        let len = avcc[at..at + length_size]
            .iter()
            .fold(0usize, |a, &b| (a << 8) | usize::from(b));
        at += length_size;
        let Some(nal) = avcc.get(at..at + len) else {
            break;
        };
        at += len;
        if nal.len() < 2 {
            continue;
        }
        match codec.classify(nal) {
            Nal::Dropped => continue,
            Nal::ParameterSet(_) => wrote_sets = true,
            Nal::RandomAccess if !wrote_sets => {
                for set in keyframe_sets.unwrap_or_default() {
                    out.extend_from_slice(&START);
                    out.extend_from_slice(set);
                }
                wrote_sets = true;
            }
            _ => {}
        }
        out.extend_from_slice(&START);
        out.extend_from_slice(nal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annexb_to_avcc_and_back() {
        let sps = [0x67, 0x64, 0x00, 0x1F, 0xAC];
        let pps = [0x68, 0xEE, 0x3C, 0x80];
        let idr = [0x65, 0x88, 0x84, 0x00, 0x00, 0x03, 0x00];
        let mut pes = vec![0, 0, 0, 1, 9, 0xF0, 0, 0, 0, 1];
        pes.extend_from_slice(&sps);
        pes.extend_from_slice(&[0, 0, 1]);
        pes.extend_from_slice(&pps);
        pes.extend_from_slice(&[0, 0, 0, 1]);
        pes.extend_from_slice(&idr);
        let mut r = AnnexBReader::new(VideoCodec::H264);
        let au = r.read(&pes).unwrap();
        assert!(au.keyframe && au.parameter_sets_changed);
        assert_eq!(r.parameter_sets(), Some(vec![&sps[..], &pps[..]]));
        // Trailing zero bytes (trailing_zero_8bits, cabac_zero_words: padding) are trimmed.
        let mut expected = (idr.len() as u32 - 1).to_be_bytes().to_vec();
        expected.extend_from_slice(&idr[..idr.len() - 1]);
        assert_eq!(au.avcc, expected);

        let mut back = Vec::new();
        let sets: Vec<Vec<u8>> = r
            .parameter_sets()
            .unwrap()
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect();
        avcc_to_annexb(VideoCodec::H264, &au.avcc, 4, Some(&sets), &mut back);
        let nals: Vec<&[u8]> = nal_units(&back).collect();
        assert_eq!(
            nals,
            vec![&[9u8, 0xF0][..], &sps[..], &pps[..], &idr[..idr.len() - 1]]
        );
        // Same parameter sets again: not a change.
        assert!(!r.read(&pes).unwrap().parameter_sets_changed);
    }

    #[test]
    fn only_parameter_sets_is_no_access_unit() {
        let mut r = AnnexBReader::new(VideoCodec::H264);
        assert_eq!(r.read(&[0, 0, 1, 0x67, 1, 2, 3, 0, 0, 1, 0x68, 4]), None);
        assert!(r.parameter_sets().is_some());
        assert_eq!(r.read(&[1, 2, 3]), None);
    }

    #[test]
    fn h265_parameter_sets_and_irap() {
        let vps = [0x40, 0x01, 0x0C, 0x01];
        let sps = [0x42, 0x01, 0x01, 0x01, 0x60];
        let pps = [0x44, 0x01, 0xC1, 0x72];
        let cra = [0x2A, 0x01, 0xAF, 0x08];
        let trail = [0x02, 0x01, 0xD0, 0x09];
        let mut pes = Vec::new();
        for nal in [&[0x46u8, 0x01, 0x50][..], &vps, &sps, &pps, &cra] {
            pes.extend_from_slice(&[0, 0, 0, 1]);
            pes.extend_from_slice(nal);
        }
        let mut r = AnnexBReader::new(VideoCodec::H265);
        let au = r.read(&pes).unwrap();
        assert!(au.keyframe && au.parameter_sets_changed);
        assert_eq!(r.parameter_sets(), Some(vec![&vps[..], &sps[..], &pps[..]]));
        assert_eq!(au.avcc, [&[0, 0, 0, 4][..], &cra].concat());
        let p = r.read(&[&[0, 0, 1][..], &trail].concat()).unwrap();
        assert!(!p.keyframe && !p.parameter_sets_changed);

        let sets: Vec<Vec<u8>> = [vps.to_vec(), sps.to_vec(), pps.to_vec()].into();
        let mut back = Vec::new();
        avcc_to_annexb(VideoCodec::H265, &au.avcc, 4, Some(&sets), &mut back);
        let nals: Vec<&[u8]> = nal_units(&back).collect();
        assert_eq!(
            nals,
            vec![&[0x46u8, 0x01, 0x50][..], &vps, &sps, &pps, &cra]
        );
    }
}
