//! The VP9 RTP payload descriptor (RFC 9628 §4.2): what an SFU reads to drop spatial and
//! temporal layers without decoding.
//!
//! ```text
//!       0 1 2 3 4 5 6 7
//!      +-+-+-+-+-+-+-+-+
//!      |I|P|L|F|B|E|V|Z|  (required)
//!      +-+-+-+-+-+-+-+-+
//! I:   |M| PICTURE ID  |  (M: 15-bit picture ID, one more byte)
//! M:   | EXTENDED PID  |
//! L:   |  TID|U| SID |D|  (layer indices)
//!      |   TL0PICIDX   |  (non-flexible mode, F=0, only)
//! F,P: | P_DIFF      |N|  (flexible mode, inter-picture predicted: 1 to 3 reference indices)
//! V:   | SS            |  (scalability structure, §4.2.1)
//! ```
//!
//! Scalability structure (V=1):
//!
//! ```text
//!      | N_S |Y|G|-|-|-|  N_S + 1 spatial layers; Y: resolutions follow; G: picture group follows
//! Y:   | WIDTH (16) | HEIGHT (16) |  × (N_S + 1)
//! G:   |      N_G      |
//!      | TID |U| R |-|-|  then R × P_DIFF (8 bits), × N_G
//! ```

use crate::RtpError;

/// The most spatial layers the SS can describe (`N_S` is 3 bits).
pub const MAX_SPATIAL_LAYERS: usize = 8;

/// The scalability structure of a VP9 stream (RFC 9628 §4.2.1), sent with key frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vp9Scalability {
    /// Spatial layers (`N_S` + 1, 1–8).
    pub spatial_layers: u8,
    /// Each spatial layer's width and height in pixels, lowest first (empty when `Y` is 0).
    pub resolutions: Vec<(u16, u16)>,
    /// Temporal layers: the highest `TID` of the picture group + 1 (1 without a group).
    pub temporal_layers: u8,
}

/// One packet's VP9 payload descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vp9Descriptor {
    /// The picture ID (7 or 15 bits), when `I` is set.
    pub picture_id: Option<u16>,
    /// `P`: the picture is inter-picture predicted (not a key picture of its layer).
    pub inter_picture: bool,
    /// `F`: flexible mode (reference indices in the descriptor).
    pub flexible: bool,
    /// `B`: the packet starts a layer frame.
    pub begin: bool,
    /// `E`: the packet ends a layer frame.
    pub end: bool,
    /// `TID`, `U` (a switching-up point), `SID`, `D` (inter-layer dependency); 0 and false
    /// without the layer byte.
    pub temporal_id: u8,
    /// `U`: from this frame on, a higher temporal layer may be switched up to.
    pub switching_up: bool,
    /// `SID`: the spatial layer.
    pub spatial_id: u8,
    /// `D`: the frame depends on the spatial layer below.
    pub inter_layer: bool,
    /// `TL0PICIDX` (non-flexible mode with the layer byte).
    pub tl0_pic_idx: Option<u8>,
    /// The scalability structure (`V`).
    pub scalability: Option<Vp9Scalability>,
    /// Descriptor length in bytes: the VP9 frame data starts there.
    pub length: usize,
}

impl Vp9Descriptor {
    /// Whether the packet starts a key frame of the stream: spatial layer 0, not inter-picture
    /// predicted, at a layer frame start.
    pub fn starts_keyframe(&self) -> bool {
        self.begin && !self.inter_picture && self.spatial_id == 0
    }

    /// Reads the descriptor at the start of an RTP payload. Errors: `MalformedPayload` (its
    /// offset) when a field it announces runs past the payload, or more than 3 reference
    /// indices, or an SS picture group past the payload.
    pub fn parse(payload: &[u8]) -> Result<Vp9Descriptor, RtpError> {
        let mut r = Reader { data: payload, at: 0 };
        let b0 = r.byte()?;
        let (i, p, l, f, b, e, v) = (b0 & 0x80 != 0, b0 & 0x40 != 0, b0 & 0x20 != 0, b0 & 0x10 != 0, b0 & 0x08 != 0, b0 & 0x04 != 0, b0 & 0x02 != 0);
        let picture_id = if i {
            let m = r.byte()?;
            Some(if m & 0x80 != 0 { (u16::from(m & 0x7F) << 8) | u16::from(r.byte()?) } else { u16::from(m) })
        } else {
            None
        };
        let (mut temporal_id, mut switching_up, mut spatial_id, mut inter_layer, mut tl0_pic_idx) = (0, false, 0, false, None);
        if l {
            let layer = r.byte()?;
            temporal_id = layer >> 5;
            switching_up = layer & 0x10 != 0;
            spatial_id = (layer >> 1) & 0x07;
            inter_layer = layer & 0x01 != 0;
            if !f {
                tl0_pic_idx = Some(r.byte()?);
            }
        }
        if f && p {
            // reference indices: P_DIFF (7 bits) and N (another follows), at most 3
            let mut n = 0;
            loop {
                let at = r.at;
                let byte = r.byte()?;
                n += 1;
                if byte & 0x01 == 0 {
                    break;
                }
                if n == 3 {
                    return Err(RtpError::MalformedPayload { offset: at });
                }
            }
        }
        let scalability = if v { Some(read_scalability(&mut r)?) } else { None };
        Ok(Vp9Descriptor { picture_id, inter_picture: p, flexible: f, begin: b, end: e, temporal_id, switching_up, spatial_id, inter_layer, tl0_pic_idx, scalability, length: r.at })
    }
}

fn read_scalability(r: &mut Reader<'_>) -> Result<Vp9Scalability, RtpError> {
    let head = r.byte()?;
    let spatial_layers = (head >> 5) + 1;
    let (y, g) = (head & 0x10 != 0, head & 0x08 != 0);
    let mut resolutions = Vec::new();
    if y {
        for _ in 0..spatial_layers {
            let width = u16::from_be_bytes([r.byte()?, r.byte()?]);
            let height = u16::from_be_bytes([r.byte()?, r.byte()?]);
            resolutions.push((width, height));
        }
    }
    let mut temporal_layers = 1;
    if g {
        let n_g = r.byte()?;
        for _ in 0..n_g {
            let entry = r.byte()?;
            temporal_layers = temporal_layers.max((entry >> 5) + 1);
            let refs = (entry >> 2) & 0x03;
            for _ in 0..refs {
                r.byte()?;
            }
        }
    }
    Ok(Vp9Scalability { spatial_layers, resolutions, temporal_layers })
}

/// Bounds-checked byte reader over a payload.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, RtpError> {
        let b = *self.data.get(self.at).ok_or(RtpError::MalformedPayload { offset: self.at })?;
        self.at += 1;
        Ok(b)
    }
}
