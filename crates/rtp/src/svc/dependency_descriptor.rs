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
//!   then the frame's custom DTIs (2 bits per decode target), fdiffs and chains (not read)
//! ```
//!
//! A frame's spatial and temporal id are those of its template (`(template id + 64 − template
//! id offset) mod 64` indexes the structure's templates, §A.8.3).

use crate::RtpError;

/// The most frame dependency templates a structure may hold (template ids are 6 bits).
pub const MAX_TEMPLATES: usize = 64;

/// A frame's decode target indication for one decode target (§A.8.3.2, 2 bits on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeTargetIndication {
    /// 0: the frame is not in the decode target.
    NotPresent,
    /// 1: in it, and no later frame of it depends on this one.
    Discardable,
    /// 2: in it, and a switch point: from this frame on, the decode target decodes given this
    /// frame (its own references decoded).
    Switch,
    /// 3: in it, and later frames of it may depend on this one.
    Required,
}

impl DecodeTargetIndication {
    /// Decode target `decode_target`'s indication in a DTI word (2 bits per decode target,
    /// decode target n at bits 2n and 2n + 1).
    pub fn of(dtis: u64, decode_target: u8) -> DecodeTargetIndication {
        match (dtis >> (2 * u32::from(decode_target.min(31)))) & 3 {
            0 => DecodeTargetIndication::NotPresent,
            1 => DecodeTargetIndication::Discardable,
            2 => DecodeTargetIndication::Switch,
            _ => DecodeTargetIndication::Required,
        }
    }
}

/// A template dependency structure (§A.8.2), as sent with a key frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameDependencyStructure {
    /// `template_id_offset`: the template id of the structure's first template.
    pub template_id_offset: u8,
    /// Decode targets (`DtCnt`, 1–32).
    pub decode_targets: u8,
    /// Each template's `(spatial id, temporal id)`, in template order (1–64).
    pub templates: Vec<(u8, u8)>,
    /// Each template's decode target indications, in template order: 2 bits per decode
    /// target, decode target n at bits 2n and 2n + 1 ([`DecodeTargetIndication::of`]).
    pub dtis: Vec<u64>,
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

    /// The index into [`templates`](Self::templates) of template id `template_id`.
    fn index_of(&self, template_id: u8) -> usize {
        (usize::from(template_id) + MAX_TEMPLATES - usize::from(self.template_id_offset)) % MAX_TEMPLATES
    }

    /// The `(spatial id, temporal id)` of the template a frame names by `template_id`, or None
    /// when the structure has no such template.
    pub fn layer_of(&self, template_id: u8) -> Option<(u8, u8)> {
        self.templates.get(self.index_of(template_id)).copied()
    }

    /// The decode target indications (a DTI word) of template id `template_id`, or None when
    /// the structure has no such template.
    pub fn dtis_of(&self, template_id: u8) -> Option<u64> {
        self.dtis.get(self.index_of(template_id)).copied()
    }

    /// The decode target that is the operating point "spatial layers up to `max_spatial`,
    /// temporal up to `max_temporal`": of the decode targets whose frames (the templates
    /// present in it) all lie within those layers, the one reaching the highest (spatial,
    /// temporal) layer. None when no decode target lies within them.
    pub fn decode_target_of(&self, max_spatial: u8, max_temporal: u8) -> Option<u8> {
        (0..self.decode_targets)
            .filter_map(|dt| {
                let present = self.templates.iter().zip(&self.dtis).filter(|(_, &d)| DecodeTargetIndication::of(d, dt) != DecodeTargetIndication::NotPresent);
                let top = present.map(|(&layer, _)| layer).fold(None, |top: Option<(u8, u8)>, (s, t)| Some(top.map_or((s, t), |(ts, tt)| (ts.max(s), tt.max(t)))))?;
                (top.0 <= max_spatial && top.1 <= max_temporal).then_some((top, dt))
            })
            .max_by_key(|&(top, dt)| (top, std::cmp::Reverse(dt)))
            .map(|(_, dt)| dt)
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
    /// The frame's own decode target indications (`custom_dtis_flag`), a DTI word as in
    /// [`FrameDependencyStructure::dtis`], in place of its template's; read only when the
    /// structure (this packet's or `known`) gives their count.
    pub custom_dtis: Option<u64>,
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
        let (mut structure, mut active_decode_targets, mut custom_dtis) = (None, None, None);
        if data.len() > 3 {
            let structure_present = r.bits(1)? == 1;
            let active_present = r.bits(1)? == 1;
            let custom_dtis_present = r.bits(1)? == 1;
            r.bits(2)?; // custom fdiffs, chains: the frame's own, after its DTIs
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
            // frame_dependency_definition(): its custom DTIs come first (§A.8.3)
            if let Some(s) = structure.as_ref().or(known).filter(|_| custom_dtis_present) {
                custom_dtis = Some(read_dtis(&mut r, s.decode_targets)?);
            }
        }
        Ok(DependencyDescriptor { start_of_frame, end_of_frame, template_id, frame_number, structure, active_decode_targets, custom_dtis })
    }

    /// The frame's decode target indications: its own, else its template's in `structure`
    /// (None when it has no such template).
    pub fn dtis(&self, structure: &FrameDependencyStructure) -> Option<u64> {
        self.custom_dtis.or_else(|| structure.dtis_of(self.template_id))
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
    let dtis = templates.iter().map(|_| read_dtis(r, decode_targets)).collect::<Result<Vec<u64>, RtpError>>()?;
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
    Ok(FrameDependencyStructure { template_id_offset, decode_targets, templates, dtis, resolutions })
}

/// `decode_targets` DTIs of 2 bits (decode target 0 first) as a DTI word.
fn read_dtis(r: &mut BitReader<'_>, decode_targets: u8) -> Result<u64, RtpError> {
    (0..decode_targets).try_fold(0u64, |word, dt| Ok(word | (u64::from(r.bits(2)?) << (2 * u32::from(dt)))))
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
