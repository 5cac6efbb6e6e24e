//! `RtpDepacketizer`: one received RTP stream (a WHIP track, an RTP/SRTP ingest, a relay link)
//! back to media frames, with the NACK and PLI decisions. See `crates/rtp`'s `depacketizer`
//! module for the rules.

use napi::bindgen_prelude::{Buffer, Error, Result, Status};
use napi_derive::napi;
use sluice_rtmp::flv::AvcDecoderConfigurationRecord;
use sluice_rtp::depacketizer::{
    AacDepacketizer, H264Depacketizer, PushOutcome, Released, ReorderBuffer, Vp8Depacketizer,
};
use sluice_rtp::packet::RtpHeader;
use sluice_rtp::RtpError;

/// Options of `new RtpDepacketizer(options)`.
#[napi(object)]
pub struct DepacketizerOptions {
    /// `"H264"` (RFC 6184), `"VP8"` (RFC 7741), `"AAC"` (RFC 3640 mpeg4-generic AAC-hbr) or
    /// `"OPUS"` (RFC 7587).
    pub codec: String,
    /// How long a missing packet is waited for before the frame it belonged to is dropped,
    /// in ms (default 100).
    pub max_delay_ms: Option<u32>,
    /// Packets held for reordering, at most (default 512, at most 32 768).
    pub capacity: Option<u32>,
}

/// One media frame out.
#[napi(object)]
pub struct DepacketizedFrame {
    /// RTP timestamp (presentation time) in the codec's clock: 90 kHz ticks for video, samples
    /// at the sampling rate for AAC, 48 kHz ticks for Opus.
    pub timestamp: u32,
    /// H.264: an access unit in AVCC form (4-byte NAL unit lengths, SPS/PPS/AUD removed).
    /// VP8: one frame (RFC 6386 §9). AAC: one raw access unit. Opus: one Opus packet.
    pub data: Buffer,
    /// H.264: holds an IDR slice. VP8: a key frame. Always true for audio.
    pub keyframe: bool,
    /// H.264 only, when the SPS or PPS changed (and on the first frame): the
    /// AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.2.4.1) to send ahead of this frame.
    /// VP8, on the first key frame: the VPCodecConfigurationRecord (VP codec ISO media file
    /// format binding §2.2, the body of a version-1 `vpcC` box) of 8-bit 4:2:0 BT.709 video.
    pub decoder_config: Option<Buffer>,
}

/// What one `push()` or `poll()` produced.
#[napi(object)]
pub struct DepacketizeResult {
    /// Frames completed, in order.
    pub frames: Vec<DepacketizedFrame>,
    /// Sequence numbers newly seen missing: send a generic NACK for them (RFC 4585 §6.2.1).
    pub nack: Vec<u32>,
    /// The depacketizer waits for a keyframe: send a PLI (RFC 4585 §6.3.1), rate-limited.
    pub keyframe_request: bool,
    /// Packets given up on by this call (never arrived within `maxDelayMs`).
    pub lost: u32,
    /// The pushed packet was dropped: `"CODE: reason"` (`RTP_PACKET_MALFORMED`,
    /// `RTP_PAYLOAD_MALFORMED`, `RTP_DUPLICATE`, `RTP_TOO_LATE`...). The stream goes on.
    pub dropped: Option<String>,
    /// When to call `poll()` if nothing else arrives, in the caller's ms clock (a hole is
    /// pending), or undefined.
    pub deadline_ms: Option<f64>,
}

/// VPCodecConfigurationRecord of VP8 (VP codec ISO media file format binding §2.2): profile 0,
/// level 10, 8 bits, 4:2:0 colocated (1), limited range, BT.709 primaries, transfer and
/// matrix (1, 1, 1), no codec initialization data.
const VP8_CONFIGURATION_RECORD: [u8; 8] = [0, 10, (8 << 4) | (1 << 1), 1, 1, 1, 0, 0];

enum Codec {
    H264(H264Depacketizer),
    /// The depacketizer, and whether the configuration record went out.
    Vp8(Vp8Depacketizer, bool),
    Aac(AacDepacketizer),
    Opus,
}

/// Reordering buffer + payload depacketizer for one RTP stream (one SSRC), sans-IO: `push`
/// each received (already SRTP-unprotected) packet with its arrival time, `poll` at the
/// returned deadline. Nothing is thrown for bad packets: they come back in `dropped`.
#[napi]
pub struct RtpDepacketizer {
    buffer: ReorderBuffer,
    codec: Codec,
}

fn code(e: &RtpError) -> String {
    format!("{}: {e}", e.code())
}

#[napi]
impl RtpDepacketizer {
    /// Throws `RTP_INVALID_ARGUMENT` for an unknown codec.
    #[napi(constructor)]
    pub fn new(options: DepacketizerOptions) -> Result<Self> {
        let codec = match options.codec.to_ascii_uppercase().as_str() {
            "H264" => Codec::H264(H264Depacketizer::default()),
            "VP8" => Codec::Vp8(Vp8Depacketizer::default(), false),
            "AAC" | "MPEG4-GENERIC" => Codec::Aac(AacDepacketizer::new()),
            "OPUS" => Codec::Opus,
            other => {
                return Err(Error::new(
                    Status::InvalidArg,
                    format!("RTP_INVALID_ARGUMENT: codec {other:?}, expected H264, VP8, AAC or OPUS"),
                ))
            }
        };
        Ok(RtpDepacketizer {
            buffer: ReorderBuffer::new(
                options.max_delay_ms.unwrap_or(100),
                options.capacity.unwrap_or(512) as usize,
            ),
            codec,
        })
    }

    /// Takes one RTP packet (RFC 3550 §5.1, plain, not SRTP) that arrived at `nowMs` (any
    /// monotonic ms clock, the same for `poll`).
    #[napi]
    pub fn push(&mut self, packet: &[u8], now_ms: f64) -> DepacketizeResult {
        let now = now_ms.max(0.0) as u64;
        let mut result = empty();
        match RtpHeader::parse(packet) {
            Err(e) => result.dropped = Some(code(&e)),
            Ok((header, _, _)) => match self.buffer.push(header.sequence_number, packet, now) {
                PushOutcome::Accepted => {}
                PushOutcome::Restarted => self.codec_lost(),
                PushOutcome::Duplicate => {
                    result.dropped = Some("RTP_DUPLICATE: sequence number already held".into())
                }
                PushOutcome::TooLate => {
                    result.dropped = Some("RTP_TOO_LATE: sequence number already played out".into())
                }
            },
        }
        result.nack = self
            .buffer
            .take_missing()
            .into_iter()
            .map(u32::from)
            .collect();
        self.drain(now, &mut result);
        result
    }

    /// Gives up on holes whose deadline has passed at `nowMs` and returns what that releases.
    #[napi]
    pub fn poll(&mut self, now_ms: f64) -> DepacketizeResult {
        let mut result = empty();
        self.drain(now_ms.max(0.0) as u64, &mut result);
        result
    }
}

fn empty() -> DepacketizeResult {
    DepacketizeResult {
        frames: Vec::new(),
        nack: Vec::new(),
        keyframe_request: false,
        lost: 0,
        dropped: None,
        deadline_ms: None,
    }
}

impl RtpDepacketizer {
    fn codec_lost(&mut self) {
        match &mut self.codec {
            Codec::H264(d) => d.lost(),
            Codec::Vp8(d, _) => d.lost(),
            Codec::Aac(d) => d.lost(),
            Codec::Opus => {}
        }
    }

    fn drain(&mut self, now: u64, result: &mut DepacketizeResult) {
        let mut video = Vec::new();
        let mut vp8 = Vec::new();
        let mut audio = Vec::new();
        loop {
            let (packet, lost) = match self.buffer.pop(now) {
                None => break,
                Some(Released::Lost { count, .. }) => (None, count),
                Some(Released::Packet { data, .. }) => (Some(data), 0),
            };
            let Some(packet) = packet else {
                result.lost = result.lost.saturating_add(lost as u32);
                self.codec_lost();
                continue;
            };
            // Parsed before it was held, so this succeeds.
            let Ok((header, offset, len)) = RtpHeader::parse(packet) else {
                continue;
            };
            let payload = &packet[offset..offset + len];
            if payload.is_empty() {
                // Padding only (RFC 3550 §5.1: senders probe bandwidth with such packets on
                // the media SSRC when RTX is not negotiated): it took a sequence number, so the
                // reorder buffer saw no hole, and it belongs to no frame.
                continue;
            }
            let outcome = match &mut self.codec {
                Codec::H264(d) => d.push(&header, payload, &mut video),
                Codec::Vp8(d, _) => d.push(&header, payload, &mut vp8),
                Codec::Aac(d) => d.push(header.timestamp, header.marker, payload, &mut audio),
                Codec::Opus => {
                    result.frames.push(DepacketizedFrame {
                        timestamp: header.timestamp,
                        data: payload.to_vec().into(),
                        keyframe: true,
                        decoder_config: None,
                    });
                    Ok(())
                }
            };
            if let Err(e) = outcome {
                result.dropped = Some(code(&e));
            }
        }
        if let Codec::H264(d) = &mut self.codec {
            for au in video {
                // Built only for the (rare) access unit after an SPS/PPS change.
                let decoder_config = if au.parameter_sets_changed {
                    d.parameter_sets()
                        .and_then(|(sps, pps)| {
                            AvcDecoderConfigurationRecord::from_parameter_sets(sps, pps)
                        })
                        .map(|r| Buffer::from(r.to_bytes()))
                } else {
                    None
                };
                result.frames.push(DepacketizedFrame {
                    timestamp: au.timestamp,
                    data: au.data.into(),
                    keyframe: au.keyframe,
                    decoder_config,
                });
            }
            result.keyframe_request = d.take_keyframe_request();
        }
        if let Codec::Vp8(d, config_sent) = &mut self.codec {
            for frame in vp8 {
                let decoder_config = (frame.keyframe && !*config_sent).then(|| {
                    *config_sent = true;
                    Buffer::from(VP8_CONFIGURATION_RECORD.to_vec())
                });
                result.frames.push(DepacketizedFrame {
                    timestamp: frame.timestamp,
                    data: frame.data.into(),
                    keyframe: frame.keyframe,
                    decoder_config,
                });
            }
            result.keyframe_request = d.take_keyframe_request();
        }
        for au in audio {
            result.frames.push(DepacketizedFrame {
                timestamp: au.timestamp,
                data: au.data.into(),
                keyframe: true,
                decoder_config: None,
            });
        }
        result.deadline_ms = self.buffer.next_deadline_ms().map(|d| d as f64);
    }
}
