//! Sender and receiver reports (RFC 3550 §6.4.1, §6.4.2) and their report blocks.
//!
//! ```text
//! SR: |V|P|RC| PT=200 | length | SSRC of sender |
//!     | NTP timestamp, most significant word | NTP timestamp, least significant word |
//!     | RTP timestamp | sender's packet count | sender's octet count | report blocks (24 B each)
//! RR: |V|P|RC| PT=201 | length | SSRC of packet sender | report blocks
//! report block: | SSRC | fraction lost (8) | cumulative lost (24, signed) |
//!               | extended highest sequence number | jitter | LSR | DLSR |
//! ```

use super::header::{begin, finish, pt, u32_at};
use super::RtcpError;

/// Bytes of one report block.
pub const REPORT_BLOCK_LEN: usize = 24;
/// Most report blocks in one SR or RR (the 5-bit RC field).
pub const MAX_REPORT_BLOCKS: usize = 31;

/// What a receiver says about one source (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block is about.
    pub ssrc: u32,
    /// Packets lost since the previous report, as a fraction of 256.
    pub fraction_lost: u8,
    /// Packets lost since reception began (24-bit signed; duplicates can make it negative).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles << 16 | highest).
    pub highest_sequence: u32,
    /// Interarrival jitter, in RTP timestamp units.
    pub jitter: u32,
    /// LSR: the middle 32 bits of the NTP timestamp of the last SR from the source, 0 if none.
    pub last_sr: u32,
    /// DLSR: delay since that SR, in 1/65 536 s.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    fn read(b: &[u8]) -> ReportBlock {
        let lost = u32_at(b, 4) & 0x00FF_FFFF;
        ReportBlock {
            ssrc: u32_at(b, 0),
            fraction_lost: b[4],
            cumulative_lost: ((lost << 8) as i32) >> 8,
            highest_sequence: u32_at(b, 8),
            jitter: u32_at(b, 12),
            last_sr: u32_at(b, 16),
            delay_since_last_sr: u32_at(b, 20),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        let lost = self.cumulative_lost.clamp(-0x80_0000, 0x7F_FFFF) as u32 & 0x00FF_FFFF;
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(&(((self.fraction_lost as u32) << 24) | lost).to_be_bytes());
        out.extend_from_slice(&self.highest_sequence.to_be_bytes());
        out.extend_from_slice(&self.jitter.to_be_bytes());
        out.extend_from_slice(&self.last_sr.to_be_bytes());
        out.extend_from_slice(&self.delay_since_last_sr.to_be_bytes());
    }

    /// Round-trip time in 1/65 536 s (RFC 3550 §6.4.1: A − LSR − DLSR), where `arrival` is the
    /// middle 32 bits of the NTP time the block arrived at; `None` without an LSR. A negative
    /// result (clock skew) is 0.
    pub fn round_trip(&self, arrival: u32) -> Option<u32> {
        if self.last_sr == 0 {
            return None;
        }
        let rtt = arrival.wrapping_sub(self.last_sr).wrapping_sub(self.delay_since_last_sr);
        Some(if rtt > 0x7FFF_FFFF { 0 } else { rtt })
    }
}

fn read_blocks(body: &[u8], count: u8) -> Result<Vec<ReportBlock>, RtcpError> {
    let count = count as usize;
    if body.len() < count * REPORT_BLOCK_LEN {
        return Err(RtcpError::Malformed("report count beyond the packet"));
    }
    Ok((0..count).map(|i| ReportBlock::read(&body[i * REPORT_BLOCK_LEN..])).collect())
}

/// A sender report (RFC 3550 §6.4.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SenderReport {
    /// The sender's SSRC.
    pub ssrc: u32,
    /// NTP timestamp (RFC 5905 §6: 32.32 fixed-point seconds since 1900).
    pub ntp_time: u64,
    /// The same instant in the RTP clock of the sender's stream.
    pub rtp_timestamp: u32,
    /// Packets sent since the start (wraps).
    pub packet_count: u32,
    /// Payload octets sent since the start (wraps).
    pub octet_count: u32,
    /// Reports about the sources the sender receives.
    pub blocks: Vec<ReportBlock>,
}

impl SenderReport {
    pub(crate) fn read(count: u8, body: &[u8]) -> Result<Self, RtcpError> {
        if body.len() < 24 {
            return Err(RtcpError::TooShort("sender info"));
        }
        Ok(SenderReport {
            ssrc: u32_at(body, 0),
            ntp_time: ((u32_at(body, 4) as u64) << 32) | u32_at(body, 8) as u64,
            rtp_timestamp: u32_at(body, 12),
            packet_count: u32_at(body, 16),
            octet_count: u32_at(body, 20),
            blocks: read_blocks(&body[24..], count)?,
        })
    }

    /// The middle 32 bits of [`ntp_time`](Self::ntp_time): what a receiver echoes as LSR.
    pub fn ntp_middle(&self) -> u32 {
        (self.ntp_time >> 16) as u32
    }

    /// Appends the packet to `out`.
    ///
    /// # Errors
    /// [`RtcpError::TooLarge`] with more than 31 blocks.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), RtcpError> {
        if self.blocks.len() > MAX_REPORT_BLOCKS {
            return Err(RtcpError::TooLarge("more than 31 report blocks"));
        }
        let start = begin(out, self.blocks.len() as u8, pt::SR);
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(&self.ntp_time.to_be_bytes());
        out.extend_from_slice(&self.rtp_timestamp.to_be_bytes());
        out.extend_from_slice(&self.packet_count.to_be_bytes());
        out.extend_from_slice(&self.octet_count.to_be_bytes());
        self.blocks.iter().for_each(|b| b.write(out));
        finish(out, start)
    }
}

/// A receiver report (RFC 3550 §6.4.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReceiverReport {
    /// The reporter's SSRC.
    pub ssrc: u32,
    /// One block per source received.
    pub blocks: Vec<ReportBlock>,
}

impl ReceiverReport {
    pub(crate) fn read(count: u8, body: &[u8]) -> Result<Self, RtcpError> {
        if body.len() < 4 {
            return Err(RtcpError::TooShort("receiver report SSRC"));
        }
        Ok(ReceiverReport { ssrc: u32_at(body, 0), blocks: read_blocks(&body[4..], count)? })
    }

    /// Appends the packet to `out`.
    ///
    /// # Errors
    /// [`RtcpError::TooLarge`] with more than 31 blocks.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), RtcpError> {
        if self.blocks.len() > MAX_REPORT_BLOCKS {
            return Err(RtcpError::TooLarge("more than 31 report blocks"));
        }
        let start = begin(out, self.blocks.len() as u8, pt::RR);
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        self.blocks.iter().for_each(|b| b.write(out));
        finish(out, start)
    }
}

/// Seconds from the NTP era 0 epoch (1900-01-01) to the Unix epoch.
pub const NTP_UNIX_OFFSET_S: u64 = 2_208_988_800;

/// A Unix time in ms as an NTP timestamp (RFC 5905 §6, 32.32 fixed point since 1900).
pub fn ntp_from_unix_ms(unix_ms: f64) -> u64 {
    let ms = unix_ms.max(0.0);
    let seconds = (ms / 1000.0).floor();
    let fraction = ((ms - seconds * 1000.0) / 1000.0 * 4_294_967_296.0) as u64;
    (((seconds as u64 + NTP_UNIX_OFFSET_S) & 0xFFFF_FFFF) << 32) | (fraction & 0xFFFF_FFFF)
}

/// An NTP timestamp as a Unix time in ms (era 0).
pub fn unix_ms_from_ntp(ntp: u64) -> f64 {
    let seconds = (ntp >> 32) as f64 - NTP_UNIX_OFFSET_S as f64;
    seconds * 1000.0 + (ntp & 0xFFFF_FFFF) as f64 / 4_294_967_296.0 * 1000.0
}
