//! `parseRtcp` and `writeRtcp`: compound RTCP (RFC 3550 §6 and its feedback messages) between
//! the wire and plain JS objects. The rules live in `crates/rtp`'s `rtcp` module; this file only
//! maps its packet types to one object shape.
//!
//! One object shape for every packet type ([`RtcpPacketObject`]): `type` says which fields are
//! set, the rest are `undefined`. `ts/rtp/rtcp.ts` narrows it into a discriminated union.

use napi::bindgen_prelude::{Buffer, Error, Result, Status};
use napi_derive::napi;
use sluice_rtp::rtcp::{
    ntp_from_unix_ms, parse_compound, unix_ms_from_ntp, Fir, Goodbye, Nack, Pli, ReceiverReport,
    Remb, ReportBlock, RtcpPacket, SdesChunk, SenderReport, SourceDescription, TransportFeedback,
    TwccPacket,
};

/// One RFC 3550 §6.4.1 report block.
#[napi(object)]
pub struct RtcpReportBlock {
    /// The source the block is about.
    pub ssrc: u32,
    /// Fraction lost since the previous report, 0–255 (/256).
    pub fraction_lost: u32,
    /// Cumulative packets lost (24-bit signed).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_sequence: u32,
    /// Interarrival jitter in RTP timestamp units.
    pub jitter: u32,
    /// LSR: middle 32 bits of the NTP time of the last SR from the source, 0 if none.
    pub last_sr: u32,
    /// DLSR: delay since that SR, in 1/65 536 s.
    pub delay_since_last_sr: u32,
}

/// One SDES chunk: a source and its CNAME.
#[napi(object)]
pub struct RtcpSdesChunk {
    /// The source described.
    pub ssrc: u32,
    /// Its CNAME item (RFC 3550 §6.5.1), when present and UTF-8.
    pub cname: Option<String>,
}

/// One packet of a compound RTCP packet, or why the rest could not be read.
///
/// `type` and the fields it sets:
/// - `"sr"` (PT 200): `ssrc`, `ntpMs` (the NTP timestamp as Unix ms), `ntpMiddle` (its middle
///   32 bits, the LSR a receiver echoes), `rtpTimestamp`, `packets`, `octets`, `blocks`;
/// - `"rr"` (PT 201): `ssrc`, `blocks`;
/// - `"sdes"` (PT 202): `chunks`;  `"bye"` (PT 203): `sources`, `reason`;
/// - `"nack"` (PT 205 FMT 1): `senderSsrc`, `mediaSsrc`, `sequenceNumbers`;
/// - `"twcc"` (PT 205 FMT 15): `senderSsrc`, `mediaSsrc`, `baseSequence`, `referenceTime`
///   (units of 64 ms), `feedbackCount`, `arrivalsUs` (one per sequence number from
///   `baseSequence`: arrival time in µs on the receiver's clock, `null` when not received);
/// - `"pli"` (PT 206 FMT 1): `senderSsrc`, `mediaSsrc`;
/// - `"fir"` (PT 206 FMT 4, one object per FCI entry): `senderSsrc`, `mediaSsrc`, `firSequence`;
/// - `"remb"` (PT 206 FMT 15): `senderSsrc`, `bitrate` (bit/s), `ssrcs`;
/// - `"unknown"` (APP, XR, other feedback): `packetType`, `count`, `size` (bytes);
/// - `"malformed"` (parsing stopped here, nothing after it was read): `code` (`RTCP_*`),
///   `reason`.
#[napi(object)]
#[derive(Default)]
pub struct RtcpPacketObject {
    /// Which packet this is (see above).
    #[napi(js_name = "type")]
    pub kind: String,
    /// SR/RR: the reporter's SSRC.
    pub ssrc: Option<u32>,
    /// SR: NTP timestamp as ms since the Unix epoch.
    pub ntp_ms: Option<f64>,
    /// SR: the NTP timestamp's middle 32 bits.
    pub ntp_middle: Option<u32>,
    /// SR: the same instant in the stream's RTP clock.
    pub rtp_timestamp: Option<u32>,
    /// SR: packets sent (wraps at 2^32).
    pub packets: Option<u32>,
    /// SR: payload octets sent (wraps at 2^32).
    pub octets: Option<u32>,
    /// SR/RR: report blocks (at most 31).
    pub blocks: Option<Vec<RtcpReportBlock>>,
    /// SDES: chunks (at most 31).
    pub chunks: Option<Vec<RtcpSdesChunk>>,
    /// BYE: sources leaving (at most 31).
    pub sources: Option<Vec<u32>>,
    /// BYE: reason (UTF-8, lossy); malformed: what was wrong.
    pub reason: Option<String>,
    /// Feedback: the SSRC of the receiver that sent it.
    pub sender_ssrc: Option<u32>,
    /// NACK, PLI, FIR, TWCC: the media stream concerned.
    pub media_ssrc: Option<u32>,
    /// NACK: lost RTP sequence numbers (0–65 535).
    pub sequence_numbers: Option<Vec<u32>>,
    /// FIR: command sequence number (0–255).
    pub fir_sequence: Option<u32>,
    /// REMB: estimated bitrate in bit/s.
    pub bitrate: Option<f64>,
    /// REMB: the streams the estimate covers.
    pub ssrcs: Option<Vec<u32>>,
    /// TWCC: first transport-wide sequence number (0–65 535).
    pub base_sequence: Option<u32>,
    /// TWCC: reference time in units of 64 ms (24-bit signed).
    pub reference_time: Option<i32>,
    /// TWCC: feedback packet count (0–255).
    pub feedback_count: Option<u32>,
    /// TWCC: per sequence number, arrival in µs or null.
    pub arrivals_us: Option<Vec<Option<f64>>>,
    /// unknown: packet type (192–223 for RTCP).
    pub packet_type: Option<u32>,
    /// unknown: the 5-bit count/FMT field.
    pub count: Option<u32>,
    /// unknown: the packet's size in bytes.
    pub size: Option<u32>,
    /// malformed: `RTCP_TOO_SHORT`, `RTCP_BAD_VERSION`, `RTCP_MALFORMED`, `RTCP_BAD_PADDING`.
    pub code: Option<String>,
}

fn object(kind: &str) -> RtcpPacketObject {
    RtcpPacketObject { kind: kind.to_owned(), ..Default::default() }
}

pub(crate) fn block_out(b: &ReportBlock) -> RtcpReportBlock {
    RtcpReportBlock {
        ssrc: b.ssrc,
        fraction_lost: b.fraction_lost as u32,
        cumulative_lost: b.cumulative_lost,
        highest_sequence: b.highest_sequence,
        jitter: b.jitter,
        last_sr: b.last_sr,
        delay_since_last_sr: b.delay_since_last_sr,
    }
}

fn block_in(b: &RtcpReportBlock) -> ReportBlock {
    ReportBlock {
        ssrc: b.ssrc,
        fraction_lost: b.fraction_lost.min(255) as u8,
        cumulative_lost: b.cumulative_lost,
        highest_sequence: b.highest_sequence,
        jitter: b.jitter,
        last_sr: b.last_sr,
        delay_since_last_sr: b.delay_since_last_sr,
    }
}

fn push_objects(packet: RtcpPacket, out: &mut Vec<RtcpPacketObject>) {
    match packet {
        RtcpPacket::SenderReport(sr) => out.push(RtcpPacketObject {
            ssrc: Some(sr.ssrc),
            ntp_ms: Some(unix_ms_from_ntp(sr.ntp_time)),
            ntp_middle: Some(sr.ntp_middle()),
            rtp_timestamp: Some(sr.rtp_timestamp),
            packets: Some(sr.packet_count),
            octets: Some(sr.octet_count),
            blocks: Some(sr.blocks.iter().map(block_out).collect()),
            ..object("sr")
        }),
        RtcpPacket::ReceiverReport(rr) => out.push(RtcpPacketObject {
            ssrc: Some(rr.ssrc),
            blocks: Some(rr.blocks.iter().map(block_out).collect()),
            ..object("rr")
        }),
        RtcpPacket::SourceDescription(sdes) => out.push(RtcpPacketObject {
            chunks: Some(
                sdes.chunks.iter().map(|c| RtcpSdesChunk { ssrc: c.ssrc, cname: c.cname().map(str::to_owned) }).collect(),
            ),
            ..object("sdes")
        }),
        RtcpPacket::Goodbye(bye) => out.push(RtcpPacketObject {
            sources: Some(bye.sources),
            reason: Some(String::from_utf8_lossy(&bye.reason).into_owned()),
            ..object("bye")
        }),
        RtcpPacket::Nack(nack) => out.push(RtcpPacketObject {
            sender_ssrc: Some(nack.sender_ssrc),
            media_ssrc: Some(nack.media_ssrc),
            sequence_numbers: Some(nack.lost.iter().map(|&s| s as u32).collect()),
            ..object("nack")
        }),
        RtcpPacket::TransportFeedback(f) => out.push(RtcpPacketObject {
            sender_ssrc: Some(f.sender_ssrc),
            media_ssrc: Some(f.media_ssrc),
            base_sequence: Some(f.base_sequence() as u32),
            reference_time: Some(f.reference_time),
            feedback_count: Some(f.feedback_count as u32),
            arrivals_us: Some(f.packets.iter().map(|p| p.arrival_us.map(|t| t as f64)).collect()),
            ..object("twcc")
        }),
        RtcpPacket::Pli(pli) => out.push(RtcpPacketObject {
            sender_ssrc: Some(pli.sender_ssrc),
            media_ssrc: Some(pli.media_ssrc),
            ..object("pli")
        }),
        RtcpPacket::Fir(fir) => out.extend(fir.entries.iter().map(|&(ssrc, seq)| RtcpPacketObject {
            sender_ssrc: Some(fir.sender_ssrc),
            media_ssrc: Some(ssrc),
            fir_sequence: Some(seq as u32),
            ..object("fir")
        })),
        RtcpPacket::Remb(remb) => out.push(RtcpPacketObject {
            sender_ssrc: Some(remb.sender_ssrc),
            bitrate: Some(remb.bitrate as f64),
            ssrcs: Some(remb.ssrcs),
            ..object("remb")
        }),
        RtcpPacket::Unknown(h) => out.push(RtcpPacketObject {
            packet_type: Some(h.packet_type as u32),
            count: Some(h.count as u32),
            size: Some(h.size as u32),
            ..object("unknown")
        }),
    }
}

/// Reads a compound RTCP packet (RFC 3550 §6.1; reduced-size RTCP, RFC 5506, too) into one
/// object per packet (see [`RtcpPacketObject`]). Never throws: a malformed part becomes a last
/// object of type `"malformed"` and ends the walk; what came before it is kept.
#[napi(js_name = "parseRtcp")]
pub fn parse_rtcp(buf: &[u8]) -> Vec<RtcpPacketObject> {
    let mut out = Vec::new();
    for part in parse_compound(buf) {
        match part {
            Ok(packet) => push_objects(packet, &mut out),
            Err(e) => out.push(RtcpPacketObject {
                code: Some(e.code().to_owned()),
                reason: Some(e.to_string()),
                ..object("malformed")
            }),
        }
    }
    out
}

fn invalid(message: String) -> Error {
    Error::new(Status::InvalidArg, format!("RTCP_INVALID_ARGUMENT: {message}"))
}

fn required<T: Copy>(value: Option<T>, kind: &str, field: &str) -> Result<T> {
    value.ok_or_else(|| invalid(format!("a \"{kind}\" packet needs {field}")))
}

fn u16_of(value: u32, what: &str) -> Result<u16> {
    u16::try_from(value).map_err(|_| invalid(format!("{what} {value} is not 0-65535")))
}

fn packet_in(p: &RtcpPacketObject) -> Result<RtcpPacket> {
    let k = p.kind.as_str();
    let blocks = || p.blocks.as_deref().unwrap_or_default().iter().map(block_in).collect();
    Ok(match k {
        "sr" => RtcpPacket::SenderReport(SenderReport {
            ssrc: required(p.ssrc, k, "ssrc")?,
            ntp_time: ntp_from_unix_ms(required(p.ntp_ms, k, "ntpMs")?),
            rtp_timestamp: required(p.rtp_timestamp, k, "rtpTimestamp")?,
            packet_count: p.packets.unwrap_or(0),
            octet_count: p.octets.unwrap_or(0),
            blocks: blocks(),
        }),
        "rr" => RtcpPacket::ReceiverReport(ReceiverReport { ssrc: required(p.ssrc, k, "ssrc")?, blocks: blocks() }),
        "sdes" => RtcpPacket::SourceDescription(SourceDescription {
            chunks: p
                .chunks
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(|c| SdesChunk {
                    ssrc: c.ssrc,
                    items: c.cname.iter().map(|n| (sluice_rtp::rtcp::sdes::SDES_CNAME, n.as_bytes().to_vec())).collect(),
                })
                .collect(),
        }),
        "bye" => RtcpPacket::Goodbye(Goodbye {
            sources: p.sources.clone().unwrap_or_default(),
            reason: p.reason.clone().unwrap_or_default().into_bytes(),
        }),
        "nack" => RtcpPacket::Nack(Nack {
            sender_ssrc: required(p.sender_ssrc, k, "senderSsrc")?,
            media_ssrc: required(p.media_ssrc, k, "mediaSsrc")?,
            lost: p.sequence_numbers.as_deref().unwrap_or_default().iter().map(|&s| (s & 0xFFFF) as u16).collect(),
        }),
        "pli" => RtcpPacket::Pli(Pli {
            sender_ssrc: required(p.sender_ssrc, k, "senderSsrc")?,
            media_ssrc: required(p.media_ssrc, k, "mediaSsrc")?,
        }),
        "fir" => RtcpPacket::Fir(Fir {
            sender_ssrc: required(p.sender_ssrc, k, "senderSsrc")?,
            entries: vec![(required(p.media_ssrc, k, "mediaSsrc")?, p.fir_sequence.unwrap_or(0) as u8)],
        }),
        "remb" => {
            let bitrate = required(p.bitrate, k, "bitrate")?;
            if !(bitrate >= 0.0 && bitrate.is_finite()) {
                return Err(invalid(format!("REMB bitrate {bitrate} is not a finite non-negative number")));
            }
            RtcpPacket::Remb(Remb {
                sender_ssrc: required(p.sender_ssrc, k, "senderSsrc")?,
                bitrate: bitrate as u64,
                ssrcs: p.ssrcs.clone().unwrap_or_default(),
            })
        }
        "twcc" => {
            let base = u16_of(required(p.base_sequence, k, "baseSequence")?, "baseSequence")?;
            let arrivals = p.arrivals_us.as_deref().unwrap_or_default();
            RtcpPacket::TransportFeedback(TransportFeedback {
                sender_ssrc: required(p.sender_ssrc, k, "senderSsrc")?,
                media_ssrc: p.media_ssrc.unwrap_or(0),
                reference_time: required(p.reference_time, k, "referenceTime")?,
                feedback_count: p.feedback_count.unwrap_or(0) as u8,
                packets: arrivals
                    .iter()
                    .enumerate()
                    .map(|(i, a)| TwccPacket { sequence: base.wrapping_add(i as u16), arrival_us: a.map(|t| t as i64) })
                    .collect(),
            })
        }
        other => return Err(invalid(format!("cannot write a packet of type \"{other}\""))),
    })
}

/// Writes `packets` back to back as one compound RTCP packet (RFC 3550 §6.1): the objects
/// `parseRtcp` returns, or made by hand with the fields their `type` needs (`"sr"`: `ssrc`,
/// `ntpMs`, `rtpTimestamp`, `packets`, `octets`, `blocks`; `"rr"`: `ssrc`, `blocks`; `"nack"`:
/// `senderSsrc`, `mediaSsrc`, `sequenceNumbers` (packed into PID + BLP words); `"pli"`,
/// `"fir"`, `"remb"`, `"sdes"`, `"bye"`, `"twcc"` likewise).
///
/// Throws `RTCP_INVALID_ARGUMENT` for a missing field or a type that cannot be written
/// (`"unknown"`, `"malformed"`), and `RTCP_TOO_LARGE` / `RTCP_MALFORMED` when a packet does not
/// fit RTCP's fields (more than 31 report blocks, a BYE reason over 255 bytes, a packet over
/// 65 535 words...).
#[napi(js_name = "writeRtcp")]
pub fn write_rtcp(packets: Vec<RtcpPacketObject>) -> Result<Buffer> {
    let mut out = Vec::with_capacity(64 * packets.len());
    for p in &packets {
        packet_in(p)?
            .write(&mut out)
            .map_err(|e| Error::new(Status::InvalidArg, format!("{}: {e}", e.code())))?;
    }
    Ok(out.into())
}
