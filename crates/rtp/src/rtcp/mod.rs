//! RTCP (RFC 3550 §6) and its feedback messages, sans-IO: compound packets in, typed packets
//! out, and the way back.
//!
//! - [`header`]: the common header and packet types.
//! - [`report`]: SR and RR with their report blocks (loss, jitter, LSR/DLSR round trip), NTP
//!   time helpers.
//! - [`sdes`]: SDES (CNAME) and BYE.
//! - [`feedback`]: generic NACK, PLI, FIR, REMB (RFC 4585, RFC 5104, draft-alvestrand-rmcat-remb).
//! - [`twcc`]: transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc).
//!
//! [`parse_compound`] walks a compound packet (RFC 3550 §6.1; reduced-size RTCP of RFC 5506 is
//! accepted too, so the first packet need not be a report) and yields one [`RtcpPacket`] per
//! part. Packet types it does not read come out as [`RtcpPacket::Unknown`]; the first malformed
//! part yields an [`RtcpError`] and ends the walk, since nothing after a broken length can be
//! found again. Every count and length read from the wire is checked against the datagram; a
//! TWCC feedback is capped at [`twcc::MAX_TWCC_STATUSES`] statuses.

mod error;
pub mod feedback;
pub mod header;
pub mod report;
pub mod sdes;
pub mod twcc;

pub use error::RtcpError;
pub use feedback::{Fir, Nack, Pli, Remb};
pub use header::Header;
pub use report::{ntp_from_unix_ms, unix_ms_from_ntp, ReceiverReport, ReportBlock, SenderReport};
pub use sdes::{Goodbye, SdesChunk, SourceDescription};
pub use twcc::{TransportFeedback, TwccPacket};

use header::pt;

/// One packet of a compound RTCP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket {
    /// SR (PT 200).
    SenderReport(SenderReport),
    /// RR (PT 201).
    ReceiverReport(ReceiverReport),
    /// SDES (PT 202).
    SourceDescription(SourceDescription),
    /// BYE (PT 203).
    Goodbye(Goodbye),
    /// Generic NACK (PT 205, FMT 1).
    Nack(Nack),
    /// Transport-wide CC feedback (PT 205, FMT 15).
    TransportFeedback(TransportFeedback),
    /// PLI (PT 206, FMT 1).
    Pli(Pli),
    /// FIR (PT 206, FMT 4).
    Fir(Fir),
    /// REMB (PT 206, FMT 15 with the `REMB` identifier).
    Remb(Remb),
    /// A packet this module does not read (APP, XR, other feedback types): its header only.
    Unknown(Header),
}

impl RtcpPacket {
    /// Reads the packet at the start of `buf` and returns it with its size in bytes.
    ///
    /// # Errors
    /// The packet's [`RtcpError`]; its size cannot be trusted then.
    pub fn read(buf: &[u8]) -> Result<(RtcpPacket, usize), RtcpError> {
        let header = Header::read(buf)?;
        let body = header.body(&buf[..header.size])?;
        let packet = match (header.packet_type, header.count) {
            (pt::SR, rc) => RtcpPacket::SenderReport(SenderReport::read(rc, body)?),
            (pt::RR, rc) => RtcpPacket::ReceiverReport(ReceiverReport::read(rc, body)?),
            (pt::SDES, sc) => RtcpPacket::SourceDescription(SourceDescription::read(sc, body)?),
            (pt::BYE, sc) => RtcpPacket::Goodbye(Goodbye::read(sc, body)?),
            (pt::RTPFB, feedback::FMT_NACK) => RtcpPacket::Nack(Nack::read(body)?),
            (pt::RTPFB, feedback::FMT_TWCC) => RtcpPacket::TransportFeedback(TransportFeedback::read(body)?),
            (pt::PSFB, feedback::FMT_PLI) => RtcpPacket::Pli(Pli::read(body)?),
            (pt::PSFB, feedback::FMT_FIR) => RtcpPacket::Fir(Fir::read(body)?),
            (pt::PSFB, feedback::FMT_AFB) => match Remb::read_if_remb(body)? {
                Some(remb) => RtcpPacket::Remb(remb),
                None => RtcpPacket::Unknown(header),
            },
            _ => RtcpPacket::Unknown(header),
        };
        Ok((packet, header.size))
    }

    /// Appends the packet to `out` (a compound packet is several writes into one buffer).
    ///
    /// # Errors
    /// [`RtcpError::TooLarge`] or [`RtcpError::Malformed`] from the packet type's `write`;
    /// [`RtcpError::Malformed`] for [`RtcpPacket::Unknown`], which has no body to write.
    /// Nothing is appended on error.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), RtcpError> {
        let start = out.len();
        let result = match self {
            RtcpPacket::SenderReport(p) => p.write(out),
            RtcpPacket::ReceiverReport(p) => p.write(out),
            RtcpPacket::SourceDescription(p) => p.write(out),
            RtcpPacket::Goodbye(p) => p.write(out),
            RtcpPacket::Nack(p) => p.write(out),
            RtcpPacket::TransportFeedback(p) => p.write(out),
            RtcpPacket::Pli(p) => p.write(out),
            RtcpPacket::Fir(p) => p.write(out),
            RtcpPacket::Remb(p) => p.write(out),
            RtcpPacket::Unknown(_) => Err(RtcpError::Malformed("an unknown packet has no body to write")),
        };
        if result.is_err() {
            out.truncate(start);
        }
        result
    }
}

/// Walks the compound packet `buf`: an iterator of its packets, ending after the last one or
/// after the first error.
pub fn parse_compound(buf: &[u8]) -> Compound<'_> {
    Compound { rest: buf }
}

/// The iterator of [`parse_compound`].
#[derive(Debug, Clone)]
pub struct Compound<'a> {
    rest: &'a [u8],
}

impl Iterator for Compound<'_> {
    type Item = Result<RtcpPacket, RtcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match RtcpPacket::read(self.rest) {
            Ok((packet, size)) => {
                self.rest = &self.rest[size..];
                Some(Ok(packet))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// RFC 5761 §4: whether a datagram on a port that multiplexes RTP and RTCP is RTCP (second byte,
/// the RTCP packet type, in 192–223; an RTP marker bit + payload type never is, as long as
/// payload types 64–95 are not used).
pub fn is_rtcp(datagram: &[u8]) -> bool {
    datagram.len() >= 8 && (192..=223).contains(&datagram[1])
}

#[cfg(test)]
mod tests;
