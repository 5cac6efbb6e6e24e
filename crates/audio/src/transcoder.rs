//! [`AacToOpus`]: AAC frames in, 20 ms Opus packets at 48 kHz out.

use opus::{Application, Bitrate, Channels, Encoder};

use crate::asc::AudioSpecificConfig;
use crate::{AacDecoder, AudioError};

/// The Opus output sampling rate in Hz (RFC 7587 §4: the RTP clock rate of Opus is always
/// 48 000).
pub const OUTPUT_SAMPLE_RATE: u32 = 48_000;
/// Samples per channel in one Opus packet: 20 ms at 48 kHz, the WebRTC default frame duration
/// (RFC 7587 §4.2 recommends 20 ms).
pub const FRAME_SAMPLES: usize = 960;
/// Samples per channel in one AAC frame (ISO/IEC 14496-3 §4.5.1.1, frameLengthFlag 0).
pub const AAC_FRAME_SAMPLES: usize = 1024;
/// Lowest accepted Opus bitrate in bits/s (libopus clamps below 6 kb/s; RFC 6716 §2.1.1).
pub const MIN_BITRATE: u32 = 6_000;
/// Highest accepted Opus bitrate in bits/s (libopus' ceiling for two channels).
pub const MAX_BITRATE: u32 = 510_000;
/// Default Opus bitrate for a stereo stream, in bits/s: transparent-ish music quality
/// (RFC 7587 §3.1.1 names 64–128 kb/s for fullband stereo music).
pub const DEFAULT_BITRATE_STEREO: u32 = 96_000;
/// Default Opus bitrate for a mono stream, in bits/s.
pub const DEFAULT_BITRATE_MONO: u32 = 48_000;
/// Largest accepted input timestamp in ms (2^40 ms ≈ 35 years): keeps every product with a
/// sampling rate inside `i64`. FLV's 32-bit ms timestamps wrap after 49.7 days; the caller
/// extends them.
pub const MAX_PTS_MS: i64 = 1 << 40;
/// Largest accepted raw AAC frame in bytes. ISO/IEC 14496-3 §4.5.3.2 bounds a frame by the
/// decoder input buffer, 6144 bits (768 bytes) per channel; this allows eight channels' worth
/// plus slack, and stops absurd inputs before they reach the decoder.
pub const MAX_FRAME_BYTES: usize = 8192;
/// Largest timestamp gap, in ms, filled with silence (see [`AacToOpus::push`]). Longer jumps
/// are taken as a timestamp discontinuity, not as lost audio.
pub const MAX_GAP_FILL_MS: i64 = 1_000;
/// Room for one encoded packet: RFC 6716 §3.2.1 bounds a 20 ms frame at 1275 bytes; 4000 is
/// libopus' recommended `max_data_bytes`.
const MAX_PACKET_BYTES: usize = 4000;

/// One encoded Opus packet (RFC 6716 §3): one 20 ms frame, ready to be an RTP payload
/// (RFC 7587).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusPacket {
    /// The packet bytes (TOC byte first).
    pub data: Vec<u8>,
    /// Timestamp of the packet's first sample in 48 kHz ticks (the RTP clock of RFC 7587 §4.1,
    /// before the random offset a sender adds): the first AAC frame's `pts_ms × 48`, then
    /// `+ 960` per packet.
    pub timestamp: u64,
}

/// Where the output stands on the input's time line.
#[derive(Debug, Clone, Copy)]
struct Timeline {
    /// The first frame's timestamp in ms; input time zero.
    first_pts_ms: i64,
    /// Input-rate sample frames taken since then (decoded and silence).
    input_frames: u64,
    /// Timestamp of the next packet in 48 kHz ticks.
    next_timestamp: u64,
}

/// Transcodes one AAC stream (an RTMP publisher's audio) to Opus for WebRTC viewers, sans-IO.
///
/// Pipeline: AAC-LC decoder (Symphonia) → f32 PCM at the stream's rate → FFT resampler to
/// 48 kHz (rubato; skipped for 48 kHz input) → libopus encoder, 20 ms frames, VBR at the
/// configured bitrate, `OPUS_APPLICATION_AUDIO`.
///
/// Drain rule: every [`push`](Self::push) appends all packets that became complete to the
/// caller's vector; nothing is held back that could be output. [`flush`](Self::flush) ends the
/// stream and outputs the rest.
///
/// Timing: packet timestamps are continuous (`first + n × 960`). Output sample `j` (counted
/// from the first packet's timestamp) plays the input sample at `first_pts + j / 48 kHz`: the
/// resampler's delay and the encoder's lookahead are trimmed from the start of the stream
/// rather than shifted into the timestamps, so audio stays in sync with video. The price is the
/// stream's first [`delay_samples`](Self::delay_samples) of audio (6.5 ms at 48 kHz, 9.8 ms at
/// 44.1 kHz, 22.5 ms at 8 kHz). The wall-clock latency added is
/// [`delay_samples`](Self::delay_samples) plus framing (< 20 ms waiting for a full packet,
/// and for resampled input up to one FFT block held inside the resampler).
pub struct AacToOpus {
    channels: usize,
    bitrate: u32,
    decoder: AacDecoder,
    encoder: Encoder,
    /// Encoder lookahead in 48 kHz samples (`OPUS_GET_LOOKAHEAD`).
    lookahead: usize,
    /// 48 kHz PCM waiting to be encoded, interleaved.
    pcm: Vec<f32>,
    /// 48 kHz frames appended to `pcm` since the time line began (after trimming).
    pcm_total: u64,
    /// 48 kHz frames still to drop at the start (resampler delay + encoder lookahead).
    trim: usize,
    /// Encoded packet scratch.
    packet: Vec<u8>,
    timeline: Option<Timeline>,
}

impl std::fmt::Debug for AacToOpus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AacToOpus")
            .field("config", self.decoder.config())
            .field("bitrate", &self.bitrate)
            .field("delay_samples", &self.delay_samples())
            .finish_non_exhaustive()
    }
}

impl AacToOpus {
    /// Creates a transcoder for the stream an AAC sequence header describes.
    ///
    /// `audio_specific_config`: the AAC sequence header body, AudioSpecificConfig (ISO/IEC
    /// 14496-3 §1.6.2.1), i.e. the FLV audio tag body after its 2-byte header. `bitrate`: the
    /// Opus target in bits/s, [`MIN_BITRATE`]..=[`MAX_BITRATE`] (see
    /// [`DEFAULT_BITRATE_STEREO`]).
    ///
    /// Output is 48 kHz Opus with the input's channel count: mono AAC gives mono Opus, stereo
    /// gives stereo. Accepted: AAC-LC at any of the 13 sampling frequencies of ISO/IEC 14496-3
    /// Table 1.18 (7.35–96 kHz), channel configuration 1 or 2, 1024-sample frames. HE-AAC and
    /// HE-AAC v2 (SBR/PS, explicit or implicit signalling) are decoded through their AAC-LC
    /// core: the output then has the core's bandwidth (about a quarter of the SBR output rate,
    /// e.g. ≤ 11 kHz for 44.1 kHz HE-AAC) and HE-AAC v2 comes out mono.
    pub fn new(audio_specific_config: &[u8], bitrate: u32) -> Result<Self, AudioError> {
        let decoder = AacDecoder::new(audio_specific_config)?;
        if !(MIN_BITRATE..=MAX_BITRATE).contains(&bitrate) {
            return Err(AudioError::InvalidBitrate { bitrate });
        }
        let channels = decoder.channels();

        let opus_channels = if channels == 1 {
            Channels::Mono
        } else {
            Channels::Stereo
        };
        let opus_err = |e: opus::Error| AudioError::Encoder(e.to_string());
        let mut encoder = Encoder::new(OUTPUT_SAMPLE_RATE, opus_channels, Application::Audio)
            .map_err(opus_err)?;
        encoder
            .set_bitrate(Bitrate::Bits(bitrate as i32))
            .map_err(opus_err)?;
        let lookahead = encoder.get_lookahead().map_err(opus_err)?.max(0) as usize;

        let mut t = AacToOpus {
            channels,
            bitrate,
            decoder,
            encoder,
            lookahead,
            pcm: Vec::with_capacity(4 * FRAME_SAMPLES * channels),
            pcm_total: 0,
            trim: 0,
            packet: vec![0; MAX_PACKET_BYTES],
            timeline: None,
        };
        t.trim = t.delay_samples() as usize;
        Ok(t)
    }

    /// Transcodes one raw AAC frame: an FLV AAC raw message body (AACPacketType 1) minus its
    /// 2-byte header, i.e. one raw_data_block (ISO/IEC 14496-3 §4.4.2.1) without ADTS header.
    /// `pts_ms` is its timestamp in ms (0..=[`MAX_PTS_MS`]). Appends zero or more complete
    /// 20 ms Opus packets to `out` (one or two: an AAC frame is 21.3 ms at 48 kHz, 23.2 ms at
    /// 44.1 kHz; none for the very first frame, whose start is trimmed); the n-th packet since the first push (or since
    /// [`flush`](Self::flush)) has timestamp `first_pts_ms × 48 + n × 960`.
    ///
    /// The first frame's `pts_ms` anchors the time line; later timestamps are only read to
    /// detect lost frames: when a frame starts at least half an AAC frame later than the
    /// samples taken so far reach (frames the caller dropped, e.g. after an error here, or the
    /// publisher never sent), whole frames of silence are inserted first, up to
    /// [`MAX_GAP_FILL_MS`]. Otherwise timestamps are ignored (jitter, drift, or a jump larger
    /// than the limit): the output stays continuous.
    ///
    /// Errors concern this frame only and leave `out` and the time line untouched:
    /// [`AudioError::InvalidTimestamp`], [`AudioError::FrameSize`],
    /// [`AudioError::MalformedFrame`]. The caller drops the frame and pushes the next one.
    pub fn push(
        &mut self,
        aac_frame: &[u8],
        pts_ms: i64,
        out: &mut Vec<OpusPacket>,
    ) -> Result<(), AudioError> {
        if !(0..=MAX_PTS_MS).contains(&pts_ms) {
            return Err(AudioError::InvalidTimestamp { pts_ms });
        }
        // Decoded samples wait here until the gap before them is filled.
        let mut decoded = Vec::new();
        self.decoder
            .decode(aac_frame, |pcm| decoded.extend_from_slice(pcm))?;

        let rate = self.sample_rate() as i64;
        let timeline = match self.timeline {
            Some(t) => t,
            None => {
                let t = Timeline {
                    first_pts_ms: pts_ms,
                    input_frames: 0,
                    next_timestamp: pts_ms as u64 * (OUTPUT_SAMPLE_RATE as u64 / 1000),
                };
                self.timeline = Some(t);
                t
            }
        };
        // Both operands are below 2^40 × 96 000 < 2^57.
        let at = (pts_ms - timeline.first_pts_ms) * rate / 1000;
        let gap = at - timeline.input_frames as i64;
        if gap > 0 && gap <= MAX_GAP_FILL_MS * rate / 1000 {
            let half = AAC_FRAME_SAMPLES as i64 / 2;
            let missing = ((gap + half) / AAC_FRAME_SAMPLES as i64) as usize;
            for _ in 0..missing {
                self.feed_silence()?;
            }
        }
        self.count_input_frame();
        self.append(&decoded);
        self.encode_ready(out)
    }

    /// Ends the stream: pushes the audio still inside the resampler and encoder out as
    /// packets, the last one padded with silence, so the output covers the whole input
    /// duration (rounded up to 20 ms). Then resets: the next [`push`](Self::push) starts a new
    /// time line anchored at its own timestamp (and again loses its first
    /// [`delay_samples`](Self::delay_samples) to the trimmed delay). Does nothing when no frame was pushed since the last flush.
    pub fn flush(&mut self, out: &mut Vec<OpusPacket>) -> Result<(), AudioError> {
        let Some(timeline) = self.timeline else {
            return Ok(());
        };
        let rate = self.sample_rate() as u64;
        // Input duration in 48 kHz samples, rounded up.
        let span = (timeline.input_frames * OUTPUT_SAMPLE_RATE as u64).div_ceil(rate);
        // Encoder input sample i plays at output j = i + lookahead: real audio is needed up to
        // span - lookahead; the rest of the last packet is silence.
        let real = span.saturating_sub(self.lookahead as u64);
        let total = span.div_ceil(FRAME_SAMPLES as u64) * FRAME_SAMPLES as u64;
        if self.decoder.resamples() {
            // Silence through the resampler pushes out its delay line; a few blocks suffice.
            let mut rounds = 0;
            while self.pcm_total < real && rounds < 16 {
                let mut tail = Vec::new();
                self.decoder.silence(|pcm| tail.extend_from_slice(pcm))?;
                self.append(&tail);
                rounds += 1;
            }
        }
        let queued = self.pcm.len() / self.channels;
        let excess = (self.pcm_total.saturating_sub(real) as usize).min(queued);
        self.pcm.truncate((queued - excess) * self.channels);
        self.pcm_total -= excess as u64;
        let pad = total.saturating_sub(self.pcm_total) as usize;
        self.pcm.resize(self.pcm.len() + pad * self.channels, 0.0);
        self.pcm_total += pad as u64;
        let result = self.encode_ready(out);
        self.reset();
        result
    }

    /// Forgets the stream: clears buffered audio and codec state; the next push starts a new
    /// time line anchored at its own timestamp.
    pub fn reset(&mut self) {
        self.decoder.reset();
        // Resetting a valid encoder cannot fail (OPUS_RESET_STATE only clears memory).
        let _ = self.encoder.reset_state();
        self.pcm.clear();
        self.pcm_total = 0;
        self.trim = self.delay_samples() as usize;
        self.timeline = None;
    }

    /// The AudioSpecificConfig as parsed.
    pub fn config(&self) -> &AudioSpecificConfig {
        self.decoder.config()
    }

    /// Sampling rate of the decoded input in Hz: the AudioSpecificConfig's (for HE-AAC, its
    /// AAC-LC core's).
    pub fn sample_rate(&self) -> u32 {
        self.decoder.config().sample_rate
    }

    /// Channels of the input and of the Opus output: 1 or 2.
    pub fn channels(&self) -> u8 {
        self.channels as u8
    }

    /// The Opus target bitrate in bits/s.
    pub fn bitrate(&self) -> u32 {
        self.bitrate
    }

    /// Algorithmic delay in 48 kHz samples: the resampler's (half an FFT output block: 160 at
    /// 44.1 kHz, 320 at 22.05 kHz, 0 at 48 kHz) plus libopus' lookahead (312, 6.5 ms, for
    /// `OPUS_APPLICATION_AUDIO`). It is trimmed from the start of the output, so timestamps are
    /// exact; it still adds this much wall-clock latency.
    pub fn delay_samples(&self) -> u32 {
        self.decoder.delay_samples() + self.lookahead as u32
    }

    /// One input frame taken onto the time line.
    fn count_input_frame(&mut self) {
        if let Some(t) = self.timeline.as_mut() {
            t.input_frames += AAC_FRAME_SAMPLES as u64;
        }
    }

    /// One frame of silence in place of a lost one.
    fn feed_silence(&mut self) -> Result<(), AudioError> {
        self.count_input_frame();
        let mut pcm = Vec::new();
        self.decoder.silence(|s| pcm.extend_from_slice(s))?;
        self.append(&pcm);
        Ok(())
    }

    /// Appends interleaved 48 kHz samples, dropping the first `trim` frames of a time line.
    fn append(&mut self, samples: &[f32]) {
        let frames = samples.len() / self.channels;
        let skip = self.trim.min(frames);
        self.trim -= skip;
        self.pcm.extend_from_slice(&samples[skip * self.channels..]);
        self.pcm_total += (frames - skip) as u64;
    }

    /// Encodes every complete 20 ms frame waiting in `pcm`.
    fn encode_ready(&mut self, out: &mut Vec<OpusPacket>) -> Result<(), AudioError> {
        let step = FRAME_SAMPLES * self.channels;
        let mut used = 0;
        let mut result = Ok(());
        let Some(t) = self.timeline.as_mut() else {
            return Ok(());
        };
        while self.pcm.len() - used >= step {
            let frame = &self.pcm[used..used + step];
            used += step;
            // A packet libopus refuses leaves a 20 ms hole; the time line still advances.
            match self.encoder.encode_float(frame, &mut self.packet) {
                Ok(len) => out.push(OpusPacket {
                    data: self.packet[..len].to_vec(),
                    timestamp: t.next_timestamp,
                }),
                Err(e) if result.is_ok() => result = Err(AudioError::Encoder(e.to_string())),
                Err(_) => {}
            }
            t.next_timestamp += FRAME_SAMPLES as u64;
        }
        self.pcm.drain(..used);
        result
    }
}
