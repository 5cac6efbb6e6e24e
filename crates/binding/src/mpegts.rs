//! MPEG-TS ↔ hub frames (FLV tag bodies, the hub's currency; ms timestamps) for SRT.
//!
//! `TsDemuxer`: bytes of a publisher's transport stream in, hub frames out — a video sequence
//! header before the first video frame and whenever the parameter sets change (H.264: the
//! legacy FLV AVC tag with an AVCDecoderConfigurationRecord; H.265: an Enhanced RTMP `hvc1`
//! sequence start with an HEVCDecoderConfigurationRecord), an AAC sequence header
//! (AudioSpecificConfig) or an Enhanced RTMP v2 Opus sequence start (RFC 7845 ID header)
//! likewise, then coded frames (AVC NALU / `hvc1` coded frames with their composition time) and
//! AAC raw frames or Opus packets (Enhanced RTMP `Opus` coded frames), dts/pts in ms. `TsMuxer`: hub frames in, 188-byte transport packets out, once per
//! stream for every SRT player.

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use sluice_mpegts::opus::{opus_head, opus_head_channels};
use sluice_mpegts::{DemuxEvent, TsDemuxer as Demuxer, TsMuxer as Muxer, UnitKind, VideoCodec as TsVideoCodec};
use sluice_rtmp::hevc::HevcDecoderConfigurationRecord;
use sluice_rtmp::flv::{
    AudioTagHeader, AvcDecoderConfigurationRecord, VideoCodec, VideoTagHeader, SOUND_AAC,
};

/// FLV AAC audio tag header byte: SoundFormat 10, 44 kHz, 16-bit, stereo (fixed for AAC).
const AAC_TAG: u8 = 0xAF;
/// Enhanced RTMP v2 `ExAudioTagHeader` of an Opus sequence start: SoundFormat 9 | AudioPacketType
/// 0, FourCC `Opus`.
const OPUS_SEQUENCE_START: [u8; 5] = [0x90, b'O', b'p', b'u', b's'];
/// The same for Opus coded frames (AudioPacketType 1).
const OPUS_CODED_FRAMES: [u8; 5] = [0x91, b'O', b'p', b'u', b's'];

/// One hub frame (see `ts/hub/media-frame.ts`).
#[napi(object)]
pub struct TsHubFrame {
    /// `"audio"` or `"video"`.
    pub kind: String,
    /// Decode time, ms on the publisher's timeline (starts near 0, never negative, increasing
    /// per kind).
    pub dts: f64,
    /// Presentation time, ms.
    pub pts: f64,
    /// A video keyframe (IDR).
    pub keyframe: bool,
    /// A sequence header (decoder configuration), not a frame.
    pub sequence_header: bool,
    /// The FLV tag body (FLV spec v10.1 §E.4.2.1 / §E.4.3.1).
    pub payload: Buffer,
}

/// Counters of a demuxer.
#[napi(object)]
pub struct TsDemuxStats {
    /// Transport packets read.
    pub packets: f64,
    /// Continuity counter gaps (lost transport packets).
    pub continuity_errors: f64,
    /// Bytes skipped to regain the 0x47 sync byte.
    pub resync_bytes: f64,
    /// PES packets or PSI sections dropped as malformed, truncated or over the limit.
    pub dropped: f64,
}

/// MPEG-TS demuxer for one publisher (ISO/IEC 13818-1; H.264 or H.265, and AAC/ADTS or Opus).
#[napi]
pub struct TsDemuxer {
    inner: Demuxer,
    events: Vec<DemuxEvent>,
    /// The codec of the last video configuration: what the video units that follow are.
    video_codec: TsVideoCodec,
    /// The audio stream is Opus (from its configuration event on).
    audio_opus: bool,
    last_dts: [f64; 2],
    unsupported: Vec<String>,
}

fn ms(ticks: i64) -> f64 {
    (ticks as f64 / 90.0).round()
}

#[napi]
impl TsDemuxer {
    /// `maxPesBytes`: largest access unit accepted (default 8 MiB); larger ones are dropped.
    #[napi(constructor)]
    pub fn new(max_pes_bytes: Option<u32>) -> Self {
        TsDemuxer {
            inner: Demuxer::new(max_pes_bytes.map_or(8 << 20, |n| n as usize)),
            events: Vec::new(),
            video_codec: TsVideoCodec::H264,
            audio_opus: false,
            last_dts: [-1.0; 2],
            unsupported: Vec::new(),
        }
    }

    /// Takes transport stream bytes (any split) and returns the frames they complete, in order.
    /// Never throws: bad packets are dropped and counted (`stats`, `takeError`).
    #[napi]
    pub fn push(&mut self, data: &[u8]) -> Vec<TsHubFrame> {
        self.inner.push(data, &mut self.events);
        self.frames()
    }

    /// The end of the stream: the frames still waiting for a following PES (the last video
    /// access unit).
    #[napi]
    pub fn flush(&mut self) -> Vec<TsHubFrame> {
        self.inner.flush(&mut self.events);
        self.frames()
    }

    fn frames(&mut self) -> Vec<TsHubFrame> {
        let mut out = Vec::with_capacity(self.events.len());
        for event in self.events.drain(..) {
            match event {
                DemuxEvent::VideoConfig { codec, sets, dts } => {
                    let body = match (codec, &sets[..]) {
                        (TsVideoCodec::H264, [sps, pps]) => {
                            let Some(record) = AvcDecoderConfigurationRecord::from_parameter_sets(sps, pps) else { continue };
                            [&[0x17, 0, 0, 0, 0][..], &record.to_bytes()].concat()
                        }
                        (TsVideoCodec::H265, [vps, sps, pps]) => {
                            let Some(record) = HevcDecoderConfigurationRecord::from_parameter_sets(vps, sps, pps) else { continue };
                            // Enhanced RTMP: IsExHeader | FrameType 1 | PacketTypeSequenceStart, FourCC.
                            [&[0x90][..], b"hvc1", &record.to_bytes()].concat()
                        }
                        _ => continue,
                    };
                    self.video_codec = codec;
                    let t = ms(dts).max(0.0);
                    out.push(TsHubFrame { kind: "video".into(), dts: t, pts: t, keyframe: true, sequence_header: true, payload: body.into() });
                }
                DemuxEvent::OpusConfig { channels, dts } => {
                    self.audio_opus = true;
                    let t = ms(dts).max(0.0);
                    out.push(TsHubFrame {
                        kind: "audio".into(),
                        dts: t,
                        pts: t,
                        keyframe: false,
                        sequence_header: true,
                        payload: [&OPUS_SEQUENCE_START[..], &opus_head(channels)].concat().into(),
                    });
                }
                DemuxEvent::AacConfig { config, dts, .. } => {
                    self.audio_opus = false;
                    let t = ms(dts).max(0.0);
                    out.push(TsHubFrame {
                        kind: "audio".into(),
                        dts: t,
                        pts: t,
                        keyframe: false,
                        sequence_header: true,
                        payload: vec![AAC_TAG, 0, config[0], config[1]].into(),
                    });
                }
                DemuxEvent::Unit(u) => {
                    let video = u.kind == UnitKind::Video;
                    let slot = &mut self.last_dts[usize::from(video)];
                    let mut dts = ms(u.dts).max(0.0);
                    if dts < *slot || (video && dts == *slot) {
                        dts = *slot + if video { 1.0 } else { 0.0 };
                    }
                    *slot = dts;
                    let pts = ms(u.pts).max(dts);
                    let body = if video {
                        let cts = ((pts - dts) as i32).clamp(0, 0x7F_FFFF);
                        let mut b = Vec::with_capacity(9 + u.data.len());
                        match self.video_codec {
                            TsVideoCodec::H264 => b.extend_from_slice(&[if u.keyframe { 0x17 } else { 0x27 }, 1]),
                            // Enhanced RTMP: IsExHeader | FrameType | PacketTypeCodedFrames, FourCC.
                            TsVideoCodec::H265 => {
                                b.push(if u.keyframe { 0x91 } else { 0xA1 });
                                b.extend_from_slice(b"hvc1");
                            }
                        }
                        b.extend_from_slice(&cts.to_be_bytes()[1..]);
                        b.extend_from_slice(&u.data);
                        b
                    } else if self.audio_opus {
                        [&OPUS_CODED_FRAMES[..], &u.data].concat()
                    } else {
                        let mut b = Vec::with_capacity(2 + u.data.len());
                        b.extend_from_slice(&[AAC_TAG, 1]);
                        b.extend_from_slice(&u.data);
                        b
                    };
                    out.push(TsHubFrame {
                        kind: if video { "video" } else { "audio" }.into(),
                        dts,
                        pts,
                        keyframe: u.keyframe,
                        sequence_header: false,
                        payload: body.into(),
                    });
                }
                DemuxEvent::Unsupported { pid, stream_type } => {
                    self.unsupported.push(format!(
                        "PID {pid:#x}: stream type {:#04x}",
                        stream_type.byte()
                    ));
                }
            }
        }
        out
    }

    /// Counters so far.
    #[napi(getter)]
    pub fn stats(&self) -> TsDemuxStats {
        let s = self.inner.stats();
        TsDemuxStats {
            packets: s.packets as f64,
            continuity_errors: s.continuity_errors as f64,
            resync_bytes: s.resync_bytes as f64,
            dropped: s.dropped as f64,
        }
    }

    /// The latest input problem as text (each also counts in `stats`), or null; cleared by the call.
    #[napi]
    pub fn take_error(&mut self) -> Option<String> {
        self.inner.take_error().map(|e| e.to_string())
    }

    /// Streams of the PMT this demuxer skips (e.g. `PID 0x102: stream type 0x24`), each once;
    /// cleared by the call.
    #[napi]
    pub fn take_unsupported(&mut self) -> Vec<String> {
        std::mem::take(&mut self.unsupported)
    }
}

/// MPEG-TS muxer for one hub stream (H.264 or H.265, and AAC or Opus; see `sluice_mpegts::TsMuxer`).
#[napi]
pub struct TsMuxer {
    inner: Muxer,
}

impl Default for TsMuxer {
    fn default() -> Self {
        Self::new()
    }
}

#[napi]
impl TsMuxer {
    #[napi(constructor)]
    pub fn new() -> Self {
        TsMuxer {
            inner: Muxer::new(),
        }
    }

    /// One hub frame: `kind` `"audio"`/`"video"`, `dtsMs` its decode time in ms, `payload` its FLV
    /// tag body. Returns the transport packets (a multiple of 188 bytes), or null for a sequence
    /// header (kept for what follows), a codec not carried here (H.264 and H.265 — legacy or
    /// Enhanced RTMP tags —, AAC, and Enhanced RTMP Opus in mono or stereo are), or a frame
    /// before its sequence header.
    #[napi]
    pub fn frame(&mut self, kind: String, dts_ms: f64, payload: &[u8]) -> Option<Buffer> {
        let dts = (dts_ms * 90.0).round() as i64;
        let mut out = Vec::new();
        if kind == "video" {
            let h = VideoTagHeader::parse(payload)?;
            if !matches!(h.codec, VideoCodec::Avc | VideoCodec::Hevc) || h.is_end_of_sequence {
                return None;
            }
            let data = payload.get(h.data_offset..)?;
            if h.is_sequence_header {
                if h.codec == VideoCodec::Avc {
                    let record = AvcDecoderConfigurationRecord::parse(data)?;
                    let (sps, pps) = (record.sps.first()?, record.pps.first()?);
                    self.inner.set_avc_config(sps, pps, usize::from(record.nalu_length_size));
                } else {
                    let r = HevcDecoderConfigurationRecord::parse(data)?;
                    let sets = vec![r.vps.first()?.clone(), r.sps.first()?.clone(), r.pps.first()?.clone()];
                    self.inner.set_video_config(TsVideoCodec::H265, sets, usize::from(r.nalu_length_size));
                }
                return None;
            }
            let pts = dts + i64::from(h.composition_time) * 90;
            self.inner.video(data, dts, pts, h.is_keyframe(), &mut out);
        } else {
            let h = AudioTagHeader::parse(payload)?;
            let data = payload.get(h.data_offset..)?;
            if h.is_opus() {
                match h.packet_type {
                    // An empty sequence start means stereo (Enhanced RTMP v2, "Opus").
                    Some(0) => {
                        self.inner.set_opus_config(opus_head_channels(data).unwrap_or(2));
                    }
                    Some(1) => self.inner.opus(data, dts, &mut out),
                    _ => {}
                }
                return (!out.is_empty()).then(|| out.into());
            }
            if h.sound_format != SOUND_AAC {
                return None;
            }
            if h.is_sequence_header {
                self.inner.set_aac_config(data);
                return None;
            }
            self.inner.audio(data, dts, &mut out);
        }
        (!out.is_empty()).then(|| out.into())
    }
}
