//! Scalable video (SVC) forwarding: which packets of a layered stream one operating point
//! keeps, sans-IO.
//!
//! A scalable publisher (Chromium's `scalabilityMode` `L1T3`, `L3T3_KEY`...) sends every spatial
//! and temporal layer on one SSRC, each packet marked with its layer: VP9 in its payload
//! descriptor ([`vp9`], RFC 9628), AV1 (and VP8 or H.264 temporal layers, where a WebRTC
//! sender attaches it) in the Dependency Descriptor header extension
//! ([`dependency_descriptor`]). An [`SvcFilter`] keeps the packets of one operating point
//! (spatial layers up to `max_spatial`, temporal up to `max_temporal`) and says where a picture
//! now ends: the last packet of the highest spatial layer kept carries the marker bit (RFC 9628
//! §4.1, AV1 RTP §4.2: the marker ends a picture / temporal unit), so a receiver of a lower
//! operating point sees whole pictures. The RTP rewriter then numbers what is kept without
//! holes (`egress::RtpRewriter::skip` for the rest).
//!
//! It also says where a receiver of a lower operating point may move up to this one without a
//! key frame (a *switching point*): at a frame of the base layer (S0 T0, which every operating
//! point holds, so the receiver has it and its references) after which this operating point's
//! frames depend on nothing the receiver lacks — VP9's `U` (switching up point, RFC 9628 §4.2:
//! later higher temporal layer pictures do not depend on earlier ones above this picture's
//! `TID`), for operating points of spatial layer 0 only (`U` says nothing about spatial
//! layers); the Dependency Descriptor's `Switch` indication for this operating point's decode
//! target (AV1 RTP §A.8.3.2).

pub mod dependency_descriptor;
pub mod vp9;

use crate::packet::RtpHeader;
use crate::RtpError;
pub use dependency_descriptor::{DecodeTargetIndication, DependencyDescriptor, FrameDependencyStructure};
pub use vp9::{Vp9Descriptor, Vp9Scalability};

/// What an operating point does with one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SvcVerdict {
    /// Not in this operating point: left out.
    Drop,
    /// Kept; `marker`: it must carry the marker bit (it ends the picture as this operating
    /// point sees it).
    Forward {
        /// Set the RTP marker bit.
        marker: bool,
        /// It starts a switching point into this operating point (see the [module docs](self)).
        switch_point: bool,
    },
}

/// Where a packet's layer is read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Layering {
    /// The VP9 payload descriptor.
    Vp9,
    /// The Dependency Descriptor extension with this id; its layers are the templates of the
    /// last structure seen (none yet: every packet is left out), the operating point its decode
    /// target in that structure (none: no switching points).
    DependencyDescriptor { extension_id: u8, structure: Option<Box<FrameDependencyStructure>>, decode_target: Option<u8> },
}

/// One operating point of a scalable stream: spatial layers `0..=max_spatial`, temporal layers
/// `0..=max_temporal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SvcFilter {
    /// The highest spatial layer kept (VP9 `SID`, DD template spatial id).
    pub max_spatial: u8,
    /// The highest temporal layer kept (VP9 `TID`, DD template temporal id).
    pub max_temporal: u8,
    layering: Layering,
}

impl SvcFilter {
    /// An operating point of a VP9 stream, read from each packet's payload descriptor.
    pub fn vp9(max_spatial: u8, max_temporal: u8) -> SvcFilter {
        SvcFilter { max_spatial, max_temporal, layering: Layering::Vp9 }
    }

    /// An operating point read from the Dependency Descriptor extension `extension_id` (the
    /// publisher's `extmap` id, 1–255). It learns the template structure from the packets that
    /// carry one (key frames); until the first, it keeps nothing.
    pub fn dependency_descriptor(max_spatial: u8, max_temporal: u8, extension_id: u8) -> SvcFilter {
        SvcFilter { max_spatial, max_temporal, layering: Layering::DependencyDescriptor { extension_id, structure: None, decode_target: None } }
    }

    /// Decides for one RTP packet (header included). Errors: a malformed RTP header, VP9
    /// descriptor or dependency descriptor (`MalformedPayload`); the caller drops such a
    /// packet. A packet without the dependency descriptor, or naming a template the
    /// structure does not have, is left out (`Drop`).
    pub fn admit(&mut self, packet: &[u8]) -> Result<SvcVerdict, RtpError> {
        let (header, payload_at, payload_len) = RtpHeader::parse(packet)?;
        let (spatial, temporal, end, switch_point) = match &mut self.layering {
            Layering::Vp9 => {
                let d = Vp9Descriptor::parse(&packet[payload_at..payload_at + payload_len])?;
                let switch_point = self.max_spatial == 0 && d.begin && d.spatial_id == 0 && d.temporal_id == 0 && d.switching_up;
                (d.spatial_id, d.temporal_id, d.end, switch_point)
            }
            Layering::DependencyDescriptor { extension_id, structure, decode_target } => {
                let Some(data) = header.extension.and_then(|e| e.find(*extension_id)) else { return Ok(SvcVerdict::Drop) };
                let mut d = DependencyDescriptor::parse(data, structure.as_deref())?;
                if let Some(s) = d.structure.take() {
                    *decode_target = s.decode_target_of(self.max_spatial, self.max_temporal);
                    *structure = Some(Box::new(s));
                }
                let Some(s) = structure.as_deref() else { return Ok(SvcVerdict::Drop) };
                let Some((spatial, temporal)) = s.layer_of(d.template_id) else { return Ok(SvcVerdict::Drop) };
                let switch = |dt: u8| d.dtis(s).is_some_and(|w| DecodeTargetIndication::of(w, dt) == DecodeTargetIndication::Switch);
                let switch_point = d.start_of_frame && (spatial, temporal) == (0, 0) && decode_target.is_some_and(switch);
                (spatial, temporal, d.end_of_frame, switch_point)
            }
        };
        if spatial > self.max_spatial || temporal > self.max_temporal {
            return Ok(SvcVerdict::Drop);
        }
        Ok(SvcVerdict::Forward { marker: header.marker || (end && spatial == self.max_spatial), switch_point })
    }
}

#[cfg(test)]
mod tests;
