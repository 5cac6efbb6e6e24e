//! Sluice's RTP core, sans-IO: headers in and out, media frames in, RTP packets out.
//!
//! - [`packet`]: the RTP header (RFC 3550 §5.1): CSRCs, header extension (§5.3.1 with the
//!   RFC 8285 one-byte and two-byte forms) and padding; parse and write into caller buffers.
//! - [`packetizer`]: the [`Packetizer`](packetizer::Packetizer) trait, the reusable
//!   [`PacketBatch`](packetizer::PacketBatch) output and one file per payload format:
//!   [`h264`](packetizer::h264) (RFC 6184, packetization-mode=1) and
//!   [`opus`](packetizer::opus) (RFC 7587) and [`aac`](packetizer::aac) (RFC 3640
//!   `mpeg4-generic`, AAC-hbr).
//! - [`depacketizer`]: the way back: a time-bounded [`ReorderBuffer`](depacketizer::ReorderBuffer)
//!   reporting gaps for NACK and loss, and H.264 (RFC 6184 single NAL unit, STAP-A, FU-A → AVCC
//!   access units, dropping what a loss broke until the next IDR) and AAC (RFC 3640)
//!   depacketizers. Opus needs none: one RTP payload is one Opus packet (RFC 7587 §4.2).
//! - [`egress`]: what every RTP sender shares: the retransmission ring, sequence offsets, the
//!   per-subscriber rewriter and the stream-to-subscribers fan-out.
//! - [`rtcp`]: compound RTCP packets (RFC 3550 §6): SR/RR with report blocks, SDES, BYE, generic
//!   NACK, PLI, FIR, REMB and transport-wide CC feedback, parsed into
//!   [`RtcpPacket`](rtcp::RtcpPacket)s and written back.
//!
//! - [`svc`]: scalable video forwarding: the VP9 payload descriptor (RFC 9628 §4.2) and the
//!   [`SvcFilter`](svc::SvcFilter) that keeps one operating point's packets.
//! - [`bwe`]: send-side bandwidth estimation from transport-wide CC feedback (delay-based
//!   trendline detector with AIMD, loss-based bound; draft-ietf-rmcat-gcc-02).
//!
//! Nothing here touches a socket, a clock or a random number generator (initial sequence
//! numbers and SSRCs come from the caller); every length read from input is bounded and
//! malformed input is an [`RtpError`], never a panic.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bwe;
pub mod depacketizer;
pub mod egress;
mod error;
pub mod packet;
pub mod packetizer;
pub mod rtcp;
pub mod svc;

pub use error::RtpError;
