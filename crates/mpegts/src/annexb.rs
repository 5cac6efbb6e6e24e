//! H.264 Annex B byte stream (ITU-T H.264 Annex B: NAL units after `00 00 01` or `00 00 00 01`
//! start codes) to AVCC access units (ISO/IEC 14496-15 §5.3.4.2: each NAL unit after its 4-byte
//! big-endian length), the form FLV and MP4 carry, and back.

/// NAL unit types (H.264 Table 7-1) this module acts on.
const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;
const NAL_AUD: u8 = 9;
const NAL_FILLER: u8 = 12;

/// One access unit out of [`AnnexBReader::read`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnexBAccessUnit {
    /// NAL units in AVCC form; SPS, PPS, access unit delimiters and filler data left out.
    pub avcc: Vec<u8>,
    /// Whether it holds an IDR slice (type 5).
    pub keyframe: bool,
    /// Whether the SPS or PPS changed with this access unit (a new decoder configuration
    /// record goes ahead of it).
    pub parameter_sets_changed: bool,
}

/// Reads the access units of one H.264 elementary stream and keeps its current SPS and PPS.
#[derive(Debug, Default)]
pub struct AnnexBReader {
    sps: Vec<u8>,
    pps: Vec<u8>,
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
    /// A reader with no parameter sets yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current SPS and PPS (without start codes), once both were seen.
    pub fn parameter_sets(&self) -> Option<(&[u8], &[u8])> {
        (!self.sps.is_empty() && !self.pps.is_empty()).then_some((&self.sps[..], &self.pps[..]))
    }

    /// One PES payload (an access unit in Annex B form) to AVCC. `None` when it holds no
    /// coded slice or SEI (only parameter sets, delimiters or filler).
    pub fn read(&mut self, pes: &[u8]) -> Option<AnnexBAccessUnit> {
        let mut avcc = Vec::with_capacity(pes.len() + 16);
        let mut keyframe = false;
        let mut changed = false;
        for nal in nal_units(pes) {
            match nal[0] & 0x1F {
                NAL_SPS => {
                    if self.sps != nal {
                        self.sps = nal.to_vec();
                        changed = true;
                    }
                }
                NAL_PPS => {
                    if self.pps != nal {
                        self.pps = nal.to_vec();
                        changed = true;
                    }
                }
                NAL_AUD | NAL_FILLER => {}
                t => {
                    keyframe |= t == NAL_IDR;
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

/// Appends an AVCC access unit (`length_size`-byte lengths) to `out` in Annex B form: an access
/// unit delimiter first (H.222.0 §2.14 asks for one per access unit), then, before an IDR, the
/// parameter sets, then every NAL unit after a 4-byte start code. NAL units whose length runs
/// past the buffer end the conversion (what came before is kept).
pub fn avcc_to_annexb(
    avcc: &[u8],
    length_size: usize,
    keyframe_sets: Option<(&[u8], &[u8])>,
    out: &mut Vec<u8>,
) {
    const START: [u8; 4] = [0, 0, 0, 1];
    out.extend_from_slice(&START);
    out.extend_from_slice(&[NAL_AUD, 0xF0]);
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
        if nal.is_empty() {
            continue;
        }
        let t = nal[0] & 0x1F;
        if t == NAL_AUD {
            continue;
        }
        if t == NAL_IDR && !wrote_sets {
            if let Some((sps, pps)) = keyframe_sets {
                for set in [sps, pps] {
                    out.extend_from_slice(&START);
                    out.extend_from_slice(set);
                }
            }
            wrote_sets = true;
        }
        if t == NAL_SPS || t == NAL_PPS {
            wrote_sets = true;
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
        let mut r = AnnexBReader::new();
        let au = r.read(&pes).unwrap();
        assert!(au.keyframe && au.parameter_sets_changed);
        assert_eq!(r.parameter_sets(), Some((&sps[..], &pps[..])));
        // Trailing zero bytes (trailing_zero_8bits, cabac_zero_words: padding) are trimmed.
        let mut expected = (idr.len() as u32 - 1).to_be_bytes().to_vec();
        expected.extend_from_slice(&idr[..idr.len() - 1]);
        assert_eq!(au.avcc, expected);

        let mut back = Vec::new();
        avcc_to_annexb(&au.avcc, 4, r.parameter_sets(), &mut back);
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
        let mut r = AnnexBReader::new();
        assert_eq!(r.read(&[0, 0, 1, 0x67, 1, 2, 3, 0, 0, 1, 0x68, 4]), None);
        assert!(r.parameter_sets().is_some());
        assert_eq!(r.read(&[1, 2, 3]), None);
    }
}
