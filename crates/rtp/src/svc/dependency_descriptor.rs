//! The Dependency Descriptor RTP header extension (RTP Payload Format for AV1, Appendix A; URI
//! `https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension`):
//! what an SFU reads to drop spatial and temporal layers of an AV1 stream (and of VP8, VP9 or
//! H.264 when a WebRTC sender attaches it) without reading the payload.
//!
//! Every packet carries the mandatory fields; the packets that start a key frame also carry the
//! template dependency structure, which later packets refer to by template id:
//!
//! ```text
//! mandatory (3 bytes):  |S|E| template id (6) |   frame number (16)   |
//! extended (when the element is longer than 3 bytes), bit fields, MSB first:
//!   structure present (1), active decode targets present (1), custom DTIs (1),
//!   custom fdiffs (1), custom chains (1)
//!   structure: template id offset (6), decode targets − 1 (5),
//!              template layers: next_layer_idc (2) per template, until 3
//!              DTIs (2 × decode targets per template), fdiffs (1 + 4 per diff per template),
//!              chains (ns(decode targets + 1), ...), render resolutions (1, 16 + 16 per spatial layer)
//!   active decode targets bitmask (decode targets bits), when present
//!   then the frame's custom DTIs, fdiffs and chains (not read: a layer filter needs none)
//! ```
//!
//! A frame's spatial and temporal id are those of its template (`(template id + 64 − template
//! id offset) mod 64` indexes the structure's templates, §A.8.3).

use crate::RtpError;

/// The most frame dependency templates a structure may hold (template ids are 6 bits).
pub const MAX_TEMPLATES: usize = 64;

/// A template dependency structure (§A.8.2), as sent with a key frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameDependencyStructure {
    /// `template_id_offset`: the template id of the structure's first template.
    pub template_id_offset: u8,
    /// Decode targets (`DtCnt`, 1–32).
    pub decode_targets: u8,
    /// Each template's `(spatial id, temporal id)`, in template order (1–64).
    pub templates: Vec<(u8, u8)>,
    /// Each spatial layer's render width and height in pixels, lowest first (empty when the
    /// structure has none).
    pub resolutions: Vec<(u32, u32)>,
}

impl FrameDependencyStructure {
    /// Spatial layers: the highest template spatial id + 1.
    pub fn spatial_layers(&self) -> u8 {
        self.templates.iter().map(|&(s, _)| s).max().unwrap_or(0) + 1
    }

    /// Temporal layers: the highest template temporal id + 1.
    pub fn temporal_layers(&self) -> u8 {
        self.templates.iter().map(|&(_, t)| t).max().unwrap_or(0) + 1
    }

    /// The `(spatial id, temporal id)` of the template a frame names by `template_id`, or None
    /// when the structure has no such template.
    pub fn layer_of(&self, template_id: u8) -> Option<(u8, u8)> {
        let index = (usize::from(template_id) + MAX_TEMPLATES - usize::from(self.template_id_offset)) % MAX_TEMPLATES;
        self.templates.get(index).copied()
    }
}

/// One packet's dependency descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyDescriptor {
    /// `start_of_frame`: the packet starts a frame (one spatial layer's frame).
    pub start_of_frame: bool,
    /// `end_of_frame`: the packet ends a frame.
    pub end_of_frame: bool,
    /// `frame_dependency_template_id` (6 bits).
    pub template_id: u8,
    /// `frame_number` (16 bits, wrapping).
    pub frame_number: u16,
    /// The template dependency structure, when this packet carries one (key frames).
    pub structure: Option<FrameDependencyStructure>,
    /// `active_decode_targets_bitmask`, when this packet carries one (bit n: decode target n).
    pub active_decode_targets: Option<u32>,
}

impl DependencyDescriptor {
    /// Reads one extension element's data. `known`: the structure in force (an earlier key
    /// frame's), which gives the width of an active decode targets mask sent without a
    /// structure (without it such a mask is not read). Errors: `MalformedPayload` (the bit
    /// offset / 8) when it is shorter than 3 bytes or a field runs past it, or a structure with
    /// more than [`MAX_TEMPLATES`] templates or a spatial id above 3.
    pub fn parse(data: &[u8], known: Option<&FrameDependencyStructure>) -> Result<DependencyDescriptor, RtpError> {
        let mut r = BitReader { data, bit: 0 };
        let start_of_frame = r.bits(1)? == 1;
        let end_of_frame = r.bits(1)? == 1;
        let template_id = r.bits(6)? as u8;
        let frame_number = r.bits(16)? as u16;
        let (mut structure, mut active_decode_targets) = (None, None);
        if data.len() > 3 {
            let structure_present = r.bits(1)? == 1;
            let active_present = r.bits(1)? == 1;
            r.bits(3)?; // custom DTIs, fdiffs, chains: the frame's own, after these fields
            if structure_present {
                let s = read_structure(&mut r)?;
                active_decode_targets = Some(if s.decode_targets >= 32 { u32::MAX } else { (1u32 << s.decode_targets) - 1 });
                structure = Some(s);
            }
            if active_present {
                // the mask is as wide as the structure in force has decode targets
                if let Some(s) = structure.as_ref().or(known) {
                    active_decode_targets = Some(r.bits(u32::from(s.decode_targets))?);
                }
            }
        }
        Ok(DependencyDescriptor { start_of_frame, end_of_frame, template_id, frame_number, structure, active_decode_targets })
    }
}

/// §A.8.2 `template_dependency_structure()`.
fn read_structure(r: &mut BitReader<'_>) -> Result<FrameDependencyStructure, RtpError> {
    let template_id_offset = r.bits(6)? as u8;
    let decode_targets = r.bits(5)? as u8 + 1;
    // template_layers(): each template's layer, next_layer_idc 0 same, 1 next temporal, 2 next spatial, 3 end
    let mut templates = Vec::new();
    let (mut spatial, mut temporal) = (0u8, 0u8);
    loop {
        if templates.len() == MAX_TEMPLATES {
            return Err(r.malformed());
        }
        templates.push((spatial, temporal));
        match r.bits(2)? {
            0 => {}
            1 => temporal = (temporal + 1).min(7),
            2 => {
                temporal = 0;
                spatial += 1;
                if spatial > 3 {
                    return Err(r.malformed());
                }
            }
            _ => break,
        }
    }
    // template_dtis(): 2 bits per template and decode target
    r.skip(templates.len() * usize::from(decode_targets) * 2)?;
    // template_fdiffs(): for each template, (follows flag (1), fdiff − 1 (4))* then a 0 flag
    for _ in 0..templates.len() {
        while r.bits(1)? == 1 {
            r.skip(4)?;
        }
    }
    // template_chains(): chain count ns(DtCnt + 1), then the protected-by table and 4-bit fdiffs
    let chains = r.ns(u32::from(decode_targets) + 1)?;
    if chains > 0 {
        for _ in 0..decode_targets {
            r.ns(chains)?;
        }
        r.skip(templates.len() * chains as usize * 4)?;
    }
    // render_resolutions(), when flagged: 16-bit width − 1 and height − 1 per spatial layer
    let mut resolutions = Vec::new();
    if r.bits(1)? == 1 {
        let spatial_layers = templates.iter().map(|&(s, _)| s).max().unwrap_or(0) + 1;
        for _ in 0..spatial_layers {
            let width = r.bits(16)? + 1;
            let height = r.bits(16)? + 1;
            resolutions.push((width, height));
        }
    }
    Ok(FrameDependencyStructure { template_id_offset, decode_targets, templates, resolutions })
}

/// Bounds-checked MSB-first bit reader over an extension element.
struct BitReader<'a> {
    data: &'a [u8],
    bit: usize,
}

impl BitReader<'_> {
    fn malformed(&self) -> RtpError {
        RtpError::MalformedPayload { offset: self.bit / 8 }
    }

    /// `f(n)`: the next `n` bits (0–32), MSB first.
    fn bits(&mut self, n: u32) -> Result<u32, RtpError> {
        if self.bit + n as usize > self.data.len() * 8 {
            return Err(self.malformed());
        }
        let mut v: u64 = 0;
        for _ in 0..n {
            let byte = self.data[self.bit / 8];
            v = (v << 1) | u64::from((byte >> (7 - self.bit % 8)) & 1);
            self.bit += 1;
        }
        Ok(v as u32)
    }

    fn skip(&mut self, n: usize) -> Result<(), RtpError> {
        if self.bit + n > self.data.len() * 8 {
            return Err(self.malformed());
        }
        self.bit += n;
        Ok(())
    }

    /// `ns(n)` (§A.8.1, non-symmetric unsigned): a value in `0..n`.
    fn ns(&mut self, n: u32) -> Result<u32, RtpError> {
        let w = 32 - n.leading_zeros();
        let m = (1u32 << w) - n;
        let v = self.bits(w - 1)?;
        if v < m {
            return Ok(v);
        }
        Ok((v << 1) - m + self.bits(1)?)
    }
}
