//! Scalable video for JS: reading a stream's layers from a key frame, so a feed knows which
//! operating points to offer (`sluice_rtp::svc`; the filtering itself is
//! `RtpRewriter.setSvcFilter`).

use napi_derive::napi;
use sluice_rtp::packet::RtpHeader;
use sluice_rtp::svc::{DependencyDescriptor, Vp9Descriptor};

/// A scalable stream's layers, from a key frame's VP9 scalability structure (RFC 9628
/// §4.2.1) or Dependency Descriptor template structure (AV1 RTP §A.8.2).
#[napi(object)]
pub struct SvcStructure {
    /// Spatial layers (1–8).
    pub spatial_layers: u32,
    /// Temporal layers (1–8).
    pub temporal_layers: u32,
    /// Each spatial layer's `[width, height]`, lowest first (empty when the structure has none).
    pub resolutions: Vec<Vec<u32>>,
}

/// The scalability structure in a VP9 RTP payload (the descriptor first), or null when the
/// payload has none (`V` = 0) or its descriptor cannot be read.
#[napi]
pub fn vp9_structure(payload: &[u8]) -> Option<SvcStructure> {
    let ss = Vp9Descriptor::parse(payload).ok()?.scalability?;
    Some(SvcStructure {
        spatial_layers: u32::from(ss.spatial_layers),
        temporal_layers: u32::from(ss.temporal_layers),
        resolutions: ss.resolutions.iter().map(|&(w, h)| vec![u32::from(w), u32::from(h)]).collect(),
    })
}

/// The template structure in an RTP packet's (header included) Dependency Descriptor
/// extension `extensionId` (1–255), or null when the packet has none there (only key frames'
/// first packets carry one) or it cannot be read.
#[napi]
pub fn dependency_structure(packet: &[u8], extension_id: u32) -> Option<SvcStructure> {
    let id = u8::try_from(extension_id).ok()?;
    let (header, _, _) = RtpHeader::parse(packet).ok()?;
    let s = DependencyDescriptor::parse(header.extension?.find(id)?, None).ok()?.structure?;
    Some(SvcStructure {
        spatial_layers: u32::from(s.spatial_layers()),
        temporal_layers: u32::from(s.temporal_layers()),
        resolutions: s.resolutions.iter().map(|&(w, h)| vec![w, h]).collect(),
    })
}
