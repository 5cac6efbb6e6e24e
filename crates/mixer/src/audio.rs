//! [`AudioMixer`]: each input's audio decoded to 48 kHz stereo, placed on the mixer clock,
//! summed with per-input gain, limited, and encoded once as AAC-LC.

use std::collections::VecDeque;

use opus::{Channels, Decoder as OpusDecoder};
use sluice_audio::{AacDecoder, AacEncoder, AAC_FRAME_SAMPLES};
use sluice_rtmp::flv::AudioTagHeader;

use crate::MixError;

/// The mix's sampling rate, Hz.
pub const SAMPLE_RATE: i64 = 48_000;
/// Samples per ms at 48 kHz.
const PER_MS: i64 = SAMPLE_RATE / 1000;
/// A chunk that lands within this many samples (40 ms) of where the input's audio so far ends
/// is appended there: timestamp jitter does not cut or stretch the audio.
const CONTINUITY_SAMPLES: i64 = 40 * PER_MS;
/// A gap up to this (1 s) is filled with silence; beyond, or backwards past the continuity
/// window, the input is placed anew.
const MAX_GAP_SAMPLES: i64 = SAMPLE_RATE;
/// Audio kept per input ahead of the mix, at most (2 s); older samples are dropped.
const MAX_QUEUED_SAMPLES: usize = 2 * SAMPLE_RATE as usize;
/// The limiter keeps peaks below this (−0.2 dBFS).
const CEILING: f32 = 0.977;
/// Limiter gain recovery per 1 024-sample block (about 0.45 s from full reduction to unity).
const RELEASE_PER_BLOCK: f32 = 0.05;
/// Largest Opus frame: 120 ms at 48 kHz (RFC 6716 §3.2.1).
const MAX_OPUS_SAMPLES: usize = 5_760;

enum Decoder {
    Aac(Box<AacDecoder>),
    Opus(OpusDecoder),
}

/// A mix without one input's own audio (what that participant hears), encoded as Opus.
struct Minus {
    encoder: opus::Encoder,
    /// Interleaved stereo samples waiting for a full 20 ms packet; `pcm[0]` is mixer sample
    /// `start`.
    pcm: Vec<f32>,
    start: i64,
    packet: Vec<u8>,
}

/// What one input's audio did, in 48 kHz samples (per channel).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AudioInputStats {
    /// The input.
    pub input: u32,
    /// Frames decoded and placed.
    pub frames: u64,
    /// Samples summed into the mix.
    pub mixed: u64,
    /// Samples that came too late for the block they belonged to (its start had been mixed).
    pub late: u64,
    /// Samples dropped because more than 2 s were queued ahead of the mix.
    pub overflow: u64,
    /// Times its audio was placed anew (a jump backwards or a gap over 1 s).
    pub resets: u64,
}

struct Input {
    id: u32,
    stats: AudioInputStats,
    decoder: Option<Decoder>,
    minus: Option<Box<Minus>>,
    gain: f32,
    /// Interleaved stereo samples; `queue[0]` plays at mixer sample `start`.
    queue: VecDeque<f32>,
    start: i64,
    scratch: Vec<f32>,
}

impl Input {
    fn end(&self) -> i64 {
        self.start + (self.queue.len() / 2) as i64
    }

    /// Places interleaved stereo `pcm` whose first sample plays at mixer sample `at`.
    fn place(&mut self, pcm: &[f32], at: i64) {
        let end = self.end();
        self.stats.frames += 1;
        if self.queue.is_empty() {
            self.start = at;
        } else if (at - end).abs() <= CONTINUITY_SAMPLES {
            // Contiguous: append where the audio so far ends.
        } else if at > end && at - end <= MAX_GAP_SAMPLES {
            self.queue
                .extend(std::iter::repeat_n(0.0, 2 * (at - end) as usize));
        } else {
            self.stats.resets += 1;
            self.queue.clear();
            self.start = at;
        }
        self.queue.extend(pcm.iter().copied());
        let over = (self.queue.len() / 2).saturating_sub(MAX_QUEUED_SAMPLES);
        if over > 0 {
            self.stats.overflow += over as u64;
            self.queue.drain(..2 * over);
            self.start += over as i64;
        }
    }
}

/// Samples per channel of one mix-minus Opus packet: 20 ms (RFC 7587 §4.2's default).
pub const MINUS_FRAME_SAMPLES: usize = 960;

/// One Opus packet of a mix without one input's audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedMinus {
    /// The input whose own audio is left out.
    pub input: u32,
    /// One Opus packet (RFC 6716), 20 ms, stereo, 48 kHz.
    pub packet: Vec<u8>,
    /// Mixer-clock time of its first sample, in 48 kHz samples.
    pub sample: i64,
}

/// One encoded AAC access unit of the mix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedAudio {
    /// The raw access unit (FLV AAC raw body after its 2-byte header).
    pub access_unit: Vec<u8>,
    /// Mixer-clock time of its first sample, in 48 kHz samples (the encoder delay taken off).
    pub sample: i64,
}

/// Mixes audio, sans-IO. Inputs are added and fed with FLV audio tag bodies whose mixer-clock
/// time is known; [`mix`](Self::mix) sums the next 1 024 samples of every input and encodes
/// them.
pub struct AudioMixer {
    inputs: Vec<Input>,
    encoder: AacEncoder,
    asc: Vec<u8>,
    delay: i64,
    unit: Vec<u8>,
    gain: f32,
    /// The next block's first sample on the mixer clock, once mixing started.
    next: Option<i64>,
    /// Access units output so far.
    units: i64,
    first: i64,
    /// Frames of input refused (malformed, unsupported codec).
    pub errors: u64,
}

impl AudioMixer {
    /// An AAC-LC stereo 48 kHz mix at `bitrate` bits/s. Errors: [`MixError::Audio`] when the
    /// AAC encoder cannot be made (a build without FDK AAC: `AUDIO_AAC_ENCODER_UNAVAILABLE`).
    pub fn new(bitrate: u32) -> Result<Self, MixError> {
        let encoder = AacEncoder::new(2, bitrate)?;
        let info = encoder.info()?;
        Ok(AudioMixer {
            inputs: Vec::new(),
            unit: vec![0; info.max_unit_bytes.max(1536)],
            asc: info.asc,
            delay: info.delay as i64,
            encoder,
            gain: 1.0,
            next: None,
            units: 0,
            first: 0,
            errors: 0,
        })
    }

    /// The AudioSpecificConfig of the output (the FLV AAC sequence header body after its
    /// 2-byte header).
    pub fn audio_specific_config(&self) -> &[u8] {
        &self.asc
    }

    /// Adds an input (no-op when `id` is there) with a linear `gain` (1.0 = unchanged).
    pub fn add_input(&mut self, id: u32, gain: f32) {
        if self.inputs.iter().all(|i| i.id != id) {
            self.inputs.push(Input {
                id,
                stats: AudioInputStats { input: id, ..AudioInputStats::default() },
                decoder: None,
                minus: None,
                gain,
                queue: VecDeque::new(),
                start: 0,
                scratch: Vec::new(),
            });
        }
    }

    /// Sets an input's linear gain (0.0 mutes it).
    pub fn set_gain(&mut self, id: u32, gain: f32) {
        if let Some(i) = self.inputs.iter_mut().find(|i| i.id == id) {
            i.gain = gain.clamp(0.0, 8.0);
        }
    }

    /// Whether input `id` also gets a mix of everyone but itself, encoded as Opus
    /// ([`EncodedMinus`]; a conference participant must not hear itself). Errors:
    /// [`MixError::UnknownInput`], [`MixError::Audio`] when libopus refuses (not expected).
    pub fn set_minus(&mut self, id: u32, on: bool, bitrate: u32) -> Result<(), MixError> {
        let input = self
            .inputs
            .iter_mut()
            .find(|i| i.id == id)
            .ok_or(MixError::UnknownInput(id))?;
        if !on {
            input.minus = None;
            return Ok(());
        }
        if input.minus.is_none() {
            let err = |e: opus::Error| MixError::Audio(format!("Opus encoder: {e}"));
            let mut encoder = opus::Encoder::new(
                SAMPLE_RATE as u32,
                Channels::Stereo,
                opus::Application::Voip,
            )
            .map_err(err)?;
            encoder
                .set_bitrate(opus::Bitrate::Bits(bitrate as i32))
                .map_err(err)?;
            input.minus = Some(Box::new(Minus {
                encoder,
                pcm: Vec::new(),
                start: 0,
                packet: vec![0; 4000],
            }));
        }
        Ok(())
    }

    /// Every input's counters.
    pub fn input_stats(&self) -> Vec<AudioInputStats> {
        self.inputs.iter().map(|i| i.stats).collect()
    }

    /// Removes an input; its queued audio is dropped.
    pub fn remove_input(&mut self, id: u32) {
        self.inputs.retain(|i| i.id != id);
    }

    /// Takes an FLV audio tag body of input `id` playing at `at_ms` on the mixer clock: an AAC
    /// or Enhanced RTMP Opus sequence header sets the decoder up, a frame is decoded and
    /// queued.
    ///
    /// Errors concern this body only: [`MixError::UnknownInput`],
    /// [`MixError::UnsupportedInput`] (truncated, a codec other than AAC and Opus, a frame
    /// before its sequence header), [`MixError::Audio`] (a frame the decoder refuses).
    pub fn push(&mut self, id: u32, body: &[u8], at_ms: i64) -> Result<(), MixError> {
        let result = self.push_inner(id, body, at_ms);
        if result.is_err() {
            self.errors += 1;
        }
        result
    }

    fn push_inner(&mut self, id: u32, body: &[u8], at_ms: i64) -> Result<(), MixError> {
        let input = self
            .inputs
            .iter_mut()
            .find(|i| i.id == id)
            .ok_or(MixError::UnknownInput(id))?;
        let h = AudioTagHeader::parse(body)
            .ok_or_else(|| MixError::UnsupportedInput("audio tag header truncated".into()))?;
        let data = body.get(h.data_offset..).unwrap_or_default();
        if h.is_sequence_header {
            input.decoder = Some(if h.is_opus() {
                Decoder::Opus(
                    OpusDecoder::new(SAMPLE_RATE as u32, Channels::Stereo)
                        .map_err(|e| MixError::Audio(e.to_string()))?,
                )
            } else if h.sound_format == 10 {
                Decoder::Aac(Box::new(AacDecoder::new(data)?))
            } else {
                return Err(MixError::UnsupportedInput(format!(
                    "audio sound format {}",
                    h.sound_format
                )));
            });
            return Ok(());
        }
        let mut pcm = std::mem::take(&mut input.scratch);
        pcm.clear();
        let decoded = match input.decoder.as_mut() {
            None => Err(MixError::UnsupportedInput(
                "audio frame before its sequence header".into(),
            )),
            Some(Decoder::Aac(d)) => {
                let stereo = d.channels() == 2;
                d.decode(data, |s| {
                    if stereo {
                        pcm.extend_from_slice(s)
                    } else {
                        pcm.extend(s.iter().flat_map(|&v| [v, v]))
                    }
                })
                .map_err(MixError::from)
            }
            Some(Decoder::Opus(d)) => {
                pcm.resize(2 * MAX_OPUS_SAMPLES, 0.0);
                match d.decode_float(data, &mut pcm, false) {
                    Ok(n) => {
                        pcm.truncate(2 * n);
                        Ok(())
                    }
                    Err(e) => Err(MixError::Audio(format!("Opus: {e}"))),
                }
            }
        };
        if decoded.is_ok() {
            input.place(&pcm, at_ms * PER_MS);
        }
        input.scratch = pcm;
        decoded
    }

    /// Mixer-clock sample where the next block starts, once mixing started.
    pub fn next_sample(&self) -> Option<i64> {
        self.next
    }

    /// Mixes the block of 1 024 samples starting at `next_sample()` (or at `start_sample` for
    /// the first block) and encodes it. Appends the access unit the encoder gives back (none
    /// while it fills its delay).
    ///
    /// Gains apply per input; the sum goes through a peak limiter (instant attack, ramped
    /// within the block so it does not click, released over about half a second) so the mix
    /// never clips. Errors: [`MixError::Audio`] from the encoder (not expected).
    pub fn mix(
        &mut self,
        start_sample: i64,
        out: &mut Vec<EncodedAudio>,
        minus: &mut Vec<EncodedMinus>,
    ) -> Result<(), MixError> {
        let start = *self.next.get_or_insert_with(|| {
            self.first = start_sample;
            start_sample
        });
        let n = AAC_FRAME_SAMPLES;
        let mut sum = vec![0.0f32; 2 * n];
        // Each minus-enabled input's own contribution, to take out of its mix-minus.
        let mut own: Vec<Vec<f32>> = Vec::new();
        for input in &mut self.inputs {
            let mut mine = input.minus.is_some().then(|| vec![0.0f32; 2 * n]);
            let skip = (start - input.start).max(0) as usize;
            let from = 2 * skip.min(input.queue.len() / 2);
            let lead = (input.start - start).max(0) as usize;
            input.stats.late += (from / 2) as u64;
            input.stats.mixed += ((input.queue.len() - from) / 2).min(n.saturating_sub(lead)) as u64;
            for (k, v) in input
                .queue
                .iter()
                .skip(from)
                .take(2 * n.saturating_sub(lead))
                .enumerate()
            {
                sum[2 * lead + k] += v * input.gain;
                if let Some(m) = mine.as_mut() {
                    m[2 * lead + k] = v * input.gain;
                }
            }
            if let Some(m) = mine {
                own.push(m);
            }
            // Samples up to the block's end are consumed.
            let consumed =
                (start + n as i64 - input.start).clamp(0, (input.queue.len() / 2) as i64);
            input.queue.drain(..2 * consumed as usize);
            input.start += consumed;
        }
        // The gain this block needs to stay under the ceiling; the limiter takes it at once
        // (from the block's first sample) and releases towards unity a step per block.
        let peak = sum.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let needed = if peak > CEILING { CEILING / peak } else { 1.0 };
        let from = self.gain.min(needed);
        let target = needed.min(self.gain + RELEASE_PER_BLOCK).min(1.0);
        let mut pcm = vec![0i16; 2 * n];
        for (k, frame) in sum.chunks_exact(2).enumerate() {
            let g = from + (target - from) * (k as f32 / n as f32);
            for c in 0..2 {
                pcm[2 * k + c] = ((frame[c] * g).clamp(-1.0, 1.0) * 32767.0) as i16;
            }
        }
        // Mix-minus: the same sum and limiter gain, less the input's own audio.
        let mut k = 0;
        let mut result = Ok(());
        for input in &mut self.inputs {
            let (Some(m), id) = (input.minus.as_mut(), input.id) else {
                continue;
            };
            let mine = &own[k];
            k += 1;
            if m.pcm.is_empty() {
                m.start = start;
            }
            for (j, (s, o)) in sum.iter().zip(mine).enumerate() {
                let g = from + (target - from) * ((j / 2) as f32 / n as f32);
                m.pcm.push(((s - o) * g).clamp(-1.0, 1.0));
            }
            let step = 2 * MINUS_FRAME_SAMPLES;
            let mut used = 0;
            while m.pcm.len() - used >= step {
                match m
                    .encoder
                    .encode_float(&m.pcm[used..used + step], &mut m.packet)
                {
                    Ok(len) => minus.push(EncodedMinus {
                        input: id,
                        packet: m.packet[..len].to_vec(),
                        sample: m.start,
                    }),
                    Err(e) => result = Err(MixError::Audio(format!("Opus encoder: {e}"))),
                }
                used += step;
                m.start += MINUS_FRAME_SAMPLES as i64;
            }
            m.pcm.drain(..used);
        }
        self.gain = target;
        self.next = Some(start + n as i64);
        result?;
        let r = self.encoder.encode(&pcm, &mut self.unit)?;
        if r.output_size > 0 {
            out.push(EncodedAudio {
                access_unit: self.unit[..r.output_size.min(self.unit.len())].to_vec(),
                sample: self.first + self.units * n as i64 - self.delay,
            });
            self.units += 1;
        }
        Ok(())
    }
}
