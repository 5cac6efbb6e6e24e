//! `AacToOpusTranscoder`: an RTMP publisher's AAC to Opus for WebRTC viewers, once per stream;
//! `OpusToAacTranscoder`: a WebRTC publisher's Opus to AAC-LC for RTMP/FLV players.
//! See `crates/audio` for the pipelines, timing and latency.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use sluice_audio::asc::AudioSpecificConfig;
use sluice_audio::{
    AacFrame, AacToOpus, AudioError, OpusPacket, OpusToAac, DEFAULT_AAC_BITRATE,
    DEFAULT_BITRATE_MONO, DEFAULT_BITRATE_STEREO,
};

/// The Opus packets one call produced, back to back in one Buffer.
#[napi(object)]
pub struct OpusFrames {
    /// The packets, concatenated. Packet `i` is `data.subarray(i ? ends[i - 1] : 0, ends[i])`:
    /// one 20 ms Opus frame, an RTP payload as is (RFC 7587).
    pub data: Buffer,
    /// End offset in `data` of each packet, in bytes.
    pub ends: Uint32Array,
    /// Timestamp of each packet in 48 kHz ticks (the RTP clock of RFC 7587, before the
    /// sender's random offset): continuous, `+ 960` per packet, the first one at the first
    /// frame's `ptsMs × 48`. Exact up to 2^53.
    pub timestamps: Float64Array,
}

fn to_napi(e: AudioError) -> Error {
    Error::new(Status::InvalidArg, format!("{}: {e}", e.code()))
}

/// One stream's AAC → Opus transcoder, sans-IO: push each raw AAC frame, send what it returns.
/// Throws `AUDIO_*: reason` errors (`AUDIO_FRAME_MALFORMED` for a frame the decoder refuses:
/// drop that frame and keep pushing).
#[napi]
pub struct AacToOpusTranscoder {
    inner: AacToOpus,
    packets: Vec<OpusPacket>,
}

impl AacToOpusTranscoder {
    fn frames(&mut self) -> OpusFrames {
        let size = self.packets.iter().map(|p| p.data.len()).sum();
        let mut data = Vec::with_capacity(size);
        let mut ends = Vec::with_capacity(self.packets.len());
        let mut timestamps = Vec::with_capacity(self.packets.len());
        for p in self.packets.drain(..) {
            data.extend_from_slice(&p.data);
            ends.push(data.len() as u32);
            timestamps.push(p.timestamp as f64);
        }
        OpusFrames {
            data: data.into(),
            ends: Uint32Array::new(ends),
            timestamps: Float64Array::new(timestamps),
        }
    }
}

#[napi]
impl AacToOpusTranscoder {
    /// `audioSpecificConfig`: the AAC sequence header body (the FLV audio tag body after its
    /// 2-byte header; ISO/IEC 14496-3 §1.6.2.1). `bitrate`: Opus target in bits/s, 6 000 to
    /// 510 000; default 96 000 for stereo, 48 000 for mono. Throws `AUDIO_CONFIG_MALFORMED`,
    /// `AUDIO_CONFIG_UNSUPPORTED` (not AAC-LC/HE-AAC, more than 2 channels, 960-sample frames,
    /// a rate outside ISO/IEC 14496-3 Table 1.18) or `AUDIO_BITRATE_INVALID`.
    #[napi(constructor)]
    pub fn new(audio_specific_config: &[u8], bitrate: Option<u32>) -> Result<Self> {
        let bitrate = match bitrate {
            Some(b) => b,
            None => {
                let config = AudioSpecificConfig::parse(audio_specific_config).map_err(to_napi)?;
                if config.channel_configuration == 1 {
                    DEFAULT_BITRATE_MONO
                } else {
                    DEFAULT_BITRATE_STEREO
                }
            }
        };
        Ok(AacToOpusTranscoder {
            inner: AacToOpus::new(audio_specific_config, bitrate).map_err(to_napi)?,
            packets: Vec::with_capacity(4),
        })
    }

    /// Transcodes one raw AAC frame (an FLV AAC raw message body minus its 2-byte header) with
    /// its timestamp in ms. Returns the Opus packets completed by it (usually one, sometimes
    /// zero or two). Throws `AUDIO_FRAME_MALFORMED` or `AUDIO_TIMESTAMP_INVALID` for this frame
    /// only; the transcoder stays usable and fills the hole with silence.
    #[napi]
    pub fn push(&mut self, aac_frame: &[u8], pts_ms: f64) -> Result<OpusFrames> {
        let pts = if pts_ms.is_finite() {
            pts_ms.floor() as i64
        } else {
            -1
        };
        let result = self.inner.push(aac_frame, pts, &mut self.packets);
        if let Err(e) = result {
            self.packets.clear();
            return Err(to_napi(e));
        }
        Ok(self.frames())
    }

    /// Ends the stream: returns the audio still buffered (the last packet padded with
    /// silence). The next `push` starts a new time line at its own timestamp.
    #[napi]
    pub fn flush(&mut self) -> Result<OpusFrames> {
        let result = self.inner.flush(&mut self.packets);
        if let Err(e) = result {
            self.packets.clear();
            return Err(to_napi(e));
        }
        Ok(self.frames())
    }

    /// Sampling rate of the AAC input in Hz (for HE-AAC: its AAC-LC core's, which is what is
    /// decoded). The output is always 48 000.
    #[napi(getter)]
    pub fn sample_rate(&self) -> u32 {
        self.inner.sample_rate()
    }

    /// Channels of the input and of the Opus output: 1 or 2.
    #[napi(getter)]
    pub fn channels(&self) -> u32 {
        self.inner.channels() as u32
    }

    /// The Opus target bitrate in bits/s.
    #[napi(getter)]
    pub fn bitrate(&self) -> u32 {
        self.inner.bitrate()
    }

    /// Algorithmic delay added, in 48 kHz samples (resampler + Opus lookahead); trimmed from
    /// the output so timestamps are exact, but it is wall-clock latency.
    #[napi(getter)]
    pub fn delay_samples(&self) -> u32 {
        self.inner.delay_samples()
    }
}

/// The AAC access units one call produced, back to back in one Buffer.
#[napi(object)]
pub struct AacFrames {
    /// The units, concatenated. Unit `i` is `data.subarray(i ? ends[i - 1] : 0, ends[i])`: one
    /// raw AAC-LC access unit (no ADTS), an FLV AAC raw tag body after its 2-byte header
    /// (`0xAF 0x01`).
    pub data: Buffer,
    /// End offset in `data` of each unit, in bytes.
    pub ends: Uint32Array,
    /// Presentation time of each unit in ms: the input's RTP timestamp (48 kHz), extended
    /// across 2^32 wraps (the first packet's as is), divided by 48. Fractional: units are
    /// 1 024 samples = 21.333… ms apart. Subtract the base the RTP time maps to, then round
    /// for FLV.
    pub timestamps: Float64Array,
}

/// Options of `new OpusToAacTranscoder(...)`.
#[napi(object)]
pub struct OpusToAacOptions {
    /// AAC output channels, 1 or 2 (default 2). The Opus stream may be mono or stereo either
    /// way: libopus mixes down or duplicates.
    #[napi(ts_type = "1 | 2")]
    pub channels: Option<u32>,
    /// AAC-LC bitrate in bits/s, 8 000 to 320 000 (default 128 000), constant.
    pub bitrate: Option<u32>,
}

/// One stream's Opus → AAC-LC transcoder (48 kHz out), sans-IO: push each Opus RTP payload
/// with its RTP timestamp, mux what it returns as FLV AAC raw tags after a sequence header
/// made of `audioSpecificConfig`. Lost packets and DTX silences (timestamp gaps up to 1 s) are
/// concealed by libopus; late and duplicate packets are dropped; a longer jump restarts the
/// time line at the new timestamp. Throws `AUDIO_*: reason` errors (`AUDIO_FRAME_MALFORMED`
/// for a packet libopus refuses: drop that packet and keep pushing).
#[napi]
pub struct OpusToAacTranscoder {
    inner: OpusToAac,
    frames: Vec<AacFrame>,
}

impl OpusToAacTranscoder {
    fn take(&mut self) -> AacFrames {
        let size = self.frames.iter().map(|f| f.data.len()).sum();
        let mut data = Vec::with_capacity(size);
        let mut ends = Vec::with_capacity(self.frames.len());
        let mut timestamps = Vec::with_capacity(self.frames.len());
        for f in self.frames.drain(..) {
            data.extend_from_slice(&f.data);
            ends.push(data.len() as u32);
            timestamps.push(f.pts_ms());
        }
        AacFrames {
            data: data.into(),
            ends: Uint32Array::new(ends),
            timestamps: Float64Array::new(timestamps),
        }
    }

    /// Output of a call that may have failed part way: on error the units it completed before
    /// failing are dropped with the error (none in practice: errors come before decoding).
    fn finish(&mut self, result: std::result::Result<(), AudioError>) -> Result<AacFrames> {
        if let Err(e) = result {
            self.frames.clear();
            return Err(to_napi(e));
        }
        Ok(self.take())
    }
}

#[napi]
impl OpusToAacTranscoder {
    /// Throws `AUDIO_CONFIG_UNSUPPORTED` (channels not 1 or 2), `AUDIO_BITRATE_INVALID`, or
    /// `AUDIO_AAC_ENCODER_UNAVAILABLE` in a build without the `fdk-aac` feature
    /// (`npm run build:native:no-fdk`).
    #[napi(constructor)]
    pub fn new(options: Option<OpusToAacOptions>) -> Result<Self> {
        let (channels, bitrate) = options.map_or((None, None), |o| (o.channels, o.bitrate));
        Ok(OpusToAacTranscoder {
            inner: OpusToAac::new(
                channels.unwrap_or(2),
                bitrate.unwrap_or(DEFAULT_AAC_BITRATE),
            )
            .map_err(to_napi)?,
            frames: Vec::with_capacity(4),
        })
    }

    /// Transcodes one Opus packet (an RTP payload, RFC 7587) with its RTP timestamp (48 kHz,
    /// 0 to 2^32 - 1). Returns the AAC units completed by it (usually zero or one, more after
    /// a gap). Throws `AUDIO_FRAME_MALFORMED` for this packet only (empty, over 65 535 bytes,
    /// or breaking RFC 6716 §3.4); the transcoder stays usable and conceals its slot.
    #[napi]
    pub fn push(&mut self, opus_packet: &[u8], rtp_timestamp: u32) -> Result<AacFrames> {
        let result = self
            .inner
            .push(opus_packet, rtp_timestamp, &mut self.frames);
        self.finish(result)
    }

    /// Ends the stream: returns the audio still buffered (the last unit padded with silence).
    /// The next `push` starts a new time line at its own timestamp.
    #[napi]
    pub fn flush(&mut self) -> Result<AacFrames> {
        let result = self.inner.flush(&mut self.frames);
        self.finish(result)
    }

    /// The AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1) of the output: the FLV AAC sequence
    /// header body after its 2-byte header (`0xAF 0x00`). `11 90` for stereo, `11 88` mono.
    #[napi(getter)]
    pub fn audio_specific_config(&self) -> Buffer {
        self.inner.audio_specific_config().to_vec().into()
    }

    /// AAC output sampling rate in Hz: 48 000.
    #[napi(getter)]
    pub fn sample_rate(&self) -> u32 {
        self.inner.sample_rate()
    }

    /// Channels of the AAC output: 1 or 2.
    #[napi(getter)]
    pub fn channels(&self) -> u32 {
        self.inner.channels() as u32
    }

    /// The AAC bitrate in bits/s.
    #[napi(getter)]
    pub fn bitrate(&self) -> u32 {
        self.inner.bitrate()
    }

    /// Algorithmic delay added, in 48 kHz samples (the AAC encoder's, 2 048); trimmed from the
    /// output so timestamps are exact, but it is wall-clock latency.
    #[napi(getter)]
    pub fn delay_samples(&self) -> u32 {
        self.inner.delay_samples()
    }

    /// 48 kHz samples synthesised so far for lost or DTX-skipped packets.
    #[napi(getter)]
    pub fn concealed_samples(&self) -> f64 {
        self.inner.stats().concealed_samples as f64
    }

    /// Late or duplicate packets dropped so far.
    #[napi(getter)]
    pub fn late_packets(&self) -> f64 {
        self.inner.stats().late_packets as f64
    }

    /// Timestamp jumps over 1 s that restarted the time line so far.
    #[napi(getter)]
    pub fn discontinuities(&self) -> f64 {
        self.inner.stats().discontinuities as f64
    }
}
