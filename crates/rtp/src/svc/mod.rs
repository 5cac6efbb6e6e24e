//! Scalable video (SVC) forwarding: which packets of a layered stream one operating point
//! keeps, sans-IO.
//!
//! A VP9 SVC publisher (Chromium's `scalabilityMode` `L1T3`, `L3T3_KEY`...) sends every spatial
//! and temporal layer on one SSRC, each packet marked with its layer in the payload descriptor
//! ([`vp9`]). An [`SvcFilter`] keeps the packets of one operating point (spatial layers up to
//! `max_spatial`, temporal up to `max_temporal`) and says where a picture now ends: the last
//! packet of the highest spatial layer kept carries the marker bit (RFC 9628 §4.1: the marker
//! ends a picture), so a receiver of a lower operating point sees whole pictures. The RTP
//! rewriter then numbers what is kept without holes (`egress::RtpRewriter::skip` for the rest).

pub mod vp9;

use crate::RtpError;
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
    },
}

/// One operating point of a VP9 SVC stream: spatial layers `0..=max_spatial`, temporal layers
/// `0..=max_temporal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SvcFilter {
    /// The highest spatial layer kept (`SID`).
    pub max_spatial: u8,
    /// The highest temporal layer kept (`TID`).
    pub max_temporal: u8,
}

impl SvcFilter {
    /// Decides for one packet: `payload` is its RTP payload (the VP9 descriptor first),
    /// `marker` its marker bit. Errors: a malformed descriptor (`MalformedPayload`); the caller
    /// drops such a packet.
    pub fn admit(&self, payload: &[u8], marker: bool) -> Result<SvcVerdict, RtpError> {
        let d = Vp9Descriptor::parse(payload)?;
        if d.spatial_id > self.max_spatial || d.temporal_id > self.max_temporal {
            return Ok(SvcVerdict::Drop);
        }
        Ok(SvcVerdict::Forward { marker: marker || (d.end && d.spatial_id == self.max_spatial) })
    }
}

#[cfg(test)]
mod tests;
