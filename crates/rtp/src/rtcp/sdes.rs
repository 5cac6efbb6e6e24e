//! Source description (RFC 3550 §6.5): chunks of items per SSRC; WebRTC sends CNAME.
//!
//! ```text
//! |V|P|SC| PT=202 | length | chunk: | SSRC | item: type (1) | length (1) | text | ... | 0 + pad to 32 bits |
//! ```

use super::header::{begin, finish, pt, u32_at};
use super::RtcpError;

/// SDES item type CNAME (RFC 3550 §6.5.1).
pub const SDES_CNAME: u8 = 1;

/// One SDES chunk: a source and its items (type, text bytes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SdesChunk {
    /// The source described.
    pub ssrc: u32,
    /// Items in order: type (1 CNAME, 2 NAME, ... RFC 3550 §6.5) and value (≤ 255 bytes).
    pub items: Vec<(u8, Vec<u8>)>,
}

impl SdesChunk {
    /// The CNAME item as text, if present and UTF-8.
    pub fn cname(&self) -> Option<&str> {
        self.items.iter().find(|(t, _)| *t == SDES_CNAME).and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// A source description packet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceDescription {
    /// One chunk per source (at most 31).
    pub chunks: Vec<SdesChunk>,
}

impl SourceDescription {
    pub(crate) fn read(count: u8, body: &[u8]) -> Result<Self, RtcpError> {
        let mut chunks = Vec::with_capacity(count as usize);
        let mut at = 0;
        for _ in 0..count {
            if body.len() < at + 4 {
                return Err(RtcpError::Malformed("SDES chunk beyond the packet"));
            }
            let mut chunk = SdesChunk { ssrc: u32_at(body, at), items: Vec::new() };
            at += 4;
            loop {
                let Some(&kind) = body.get(at) else {
                    return Err(RtcpError::Malformed("SDES item list without its end"));
                };
                if kind == 0 {
                    at = (at + 4) & !3; // the null item, then padding to the next word
                    break;
                }
                let Some(&len) = body.get(at + 1) else {
                    return Err(RtcpError::Malformed("SDES item header beyond the packet"));
                };
                let value = body.get(at + 2..at + 2 + len as usize).ok_or(RtcpError::Malformed("SDES item beyond the packet"))?;
                chunk.items.push((kind, value.to_vec()));
                at += 2 + len as usize;
            }
            chunks.push(chunk);
        }
        Ok(SourceDescription { chunks })
    }

    /// Appends the packet to `out`.
    ///
    /// # Errors
    /// [`RtcpError::TooLarge`] with more than 31 chunks or an item over 255 bytes.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), RtcpError> {
        if self.chunks.len() > 31 {
            return Err(RtcpError::TooLarge("more than 31 SDES chunks"));
        }
        let start = begin(out, self.chunks.len() as u8, pt::SDES);
        for chunk in &self.chunks {
            let chunk_start = out.len();
            out.extend_from_slice(&chunk.ssrc.to_be_bytes());
            for (kind, value) in &chunk.items {
                if value.len() > 255 || *kind == 0 {
                    out.truncate(start);
                    return Err(RtcpError::TooLarge("SDES item over 255 bytes or of type 0"));
                }
                out.push(*kind);
                out.push(value.len() as u8);
                out.extend_from_slice(value);
            }
            out.push(0);
            while !(out.len() - chunk_start).is_multiple_of(4) {
                out.push(0);
            }
        }
        finish(out, start)
    }
}

/// A goodbye (RFC 3550 §6.6): sources leaving, with an optional reason.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Goodbye {
    /// The sources leaving (at most 31).
    pub sources: Vec<u32>,
    /// Reason for leaving (≤ 255 bytes), may be empty.
    pub reason: Vec<u8>,
}

impl Goodbye {
    pub(crate) fn read(count: u8, body: &[u8]) -> Result<Self, RtcpError> {
        let n = count as usize * 4;
        if body.len() < n {
            return Err(RtcpError::Malformed("BYE source count beyond the packet"));
        }
        let sources = (0..count as usize).map(|i| u32_at(body, i * 4)).collect();
        let reason = match body.get(n) {
            Some(&len) => body.get(n + 1..n + 1 + len as usize).ok_or(RtcpError::Malformed("BYE reason beyond the packet"))?.to_vec(),
            None => Vec::new(),
        };
        Ok(Goodbye { sources, reason })
    }

    /// Appends the packet to `out`.
    ///
    /// # Errors
    /// [`RtcpError::TooLarge`] with more than 31 sources or a reason over 255 bytes.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), RtcpError> {
        if self.sources.len() > 31 || self.reason.len() > 255 {
            return Err(RtcpError::TooLarge("more than 31 BYE sources or a reason over 255 bytes"));
        }
        let start = begin(out, self.sources.len() as u8, pt::BYE);
        self.sources.iter().for_each(|s| out.extend_from_slice(&s.to_be_bytes()));
        if !self.reason.is_empty() {
            out.push(self.reason.len() as u8);
            out.extend_from_slice(&self.reason);
        }
        finish(out, start)
    }
}
