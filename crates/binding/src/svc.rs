//! Scalable video for JS: reading a VP9 stream's scalability structure, so a feed knows which
//! operating points to offer (`sluice_rtp::svc`; the filtering itself is `RtpRewriter.setSvcFilter`).

use napi_derive::napi;
use sluice_rtp::svc::Vp9Descriptor;

/// A VP9 stream's layers, from the scalability structure of a key picture (RFC 9628 §4.2.1).
#[napi(object)]
pub struct Vp9Structure {
    /// Spatial layers (1–8).
    pub spatial_layers: u32,
    /// Temporal layers (1–8).
    pub temporal_layers: u32,
    /// Each spatial layer's `[width, height]`, lowest first (empty when the SS has none).
    pub resolutions: Vec<Vec<u32>>,
}

/// The scalability structure in a VP9 RTP payload (the descriptor first), or null when the
/// payload has none (`V` = 0) or its descriptor cannot be read.
#[napi]
pub fn vp9_structure(payload: &[u8]) -> Option<Vp9Structure> {
    let ss = Vp9Descriptor::parse(payload).ok()?.scalability?;
    Some(Vp9Structure {
        spatial_layers: u32::from(ss.spatial_layers),
        temporal_layers: u32::from(ss.temporal_layers),
        resolutions: ss.resolutions.iter().map(|&(w, h)| vec![u32::from(w), u32::from(h)]).collect(),
    })
}
