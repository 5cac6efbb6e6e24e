//! [`AacDecoder`]: raw AAC-LC frames in, 48 kHz interleaved `f32` PCM out. The first stage of
//! [`AacToOpus`](crate::AacToOpus) and of every AAC input of a mix.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};
use symphonia_codec_aac::AacDecoder as SymphoniaAac;
use symphonia_core::codecs::audio::well_known::CODEC_ID_AAC;
use symphonia_core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia_core::packet::PacketRef;
use symphonia_core::units::{Duration, Timestamp};

use crate::asc::{AudioSpecificConfig, AOT_AAC_LC};
use crate::{AudioError, AAC_FRAME_SAMPLES, MAX_FRAME_BYTES, OUTPUT_SAMPLE_RATE};

/// Decodes one AAC stream to PCM at 48 kHz, sans-IO: Symphonia's AAC-LC decoder, then rubato's
/// FFT resampler for streams not at 48 kHz.
///
/// Each [`decode`](Self::decode) (or [`silence`](Self::silence)) takes one 1 024-sample frame
/// at the stream's rate and hands the 48 kHz samples it yields to a callback, interleaved with
/// the stream's channel count (1 or 2). The resampler holds back
/// [`delay_samples`](Self::delay_samples) (half an FFT block), so the first call yields fewer
/// samples; the caller trims that delay if it keeps timestamps exact.
pub struct AacDecoder {
    config: AudioSpecificConfig,
    channels: usize,
    decoder: SymphoniaAac,
    resampler: Option<Fft<f32>>,
    /// One decoded frame, interleaved, at the input rate.
    decoded: Vec<f32>,
    /// Resampler output scratch, interleaved, at 48 kHz.
    resampled: Vec<f32>,
}

impl std::fmt::Debug for AacDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AacDecoder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl AacDecoder {
    /// A decoder for the stream an AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1: the FLV AAC
    /// sequence header body after its 2-byte header) describes. Accepted: AAC-LC at any of the
    /// 13 sampling frequencies of Table 1.18, channel configuration 1 or 2, 1 024-sample
    /// frames; HE-AAC (v2) decodes through its AAC-LC core.
    ///
    /// Errors: [`AudioError::UnsupportedObjectType`], [`AudioError::UnsupportedSampleRate`],
    /// [`AudioError::UnsupportedChannelConfiguration`], [`AudioError::UnsupportedFrameLength`],
    /// and those of [`AudioSpecificConfig::parse`].
    pub fn new(audio_specific_config: &[u8]) -> Result<Self, AudioError> {
        let config = AudioSpecificConfig::parse(audio_specific_config)?;
        if config.object_type != AOT_AAC_LC {
            return Err(AudioError::UnsupportedObjectType {
                object_type: config.object_type,
            });
        }
        let Some(sfi) = config.sampling_frequency_index() else {
            return Err(AudioError::UnsupportedSampleRate {
                sample_rate: config.sample_rate,
            });
        };
        if !(1..=2).contains(&config.channel_configuration) {
            return Err(AudioError::UnsupportedChannelConfiguration {
                channel_configuration: config.channel_configuration,
            });
        }
        if config.frame_length as usize != AAC_FRAME_SAMPLES {
            return Err(AudioError::UnsupportedFrameLength {
                frame_length: config.frame_length,
            });
        }
        let channels = config.channel_configuration as usize;
        // The decoder is given the AAC-LC core's config only (2 bytes: object type 2, the
        // frequency index, the channel configuration, GASpecificConfig flags 0), so HE-AAC
        // streams decode through their core.
        let core_asc = [
            (AOT_AAC_LC << 3) | (sfi >> 1),
            ((sfi & 1) << 7) | (config.channel_configuration << 3),
        ];
        let mut params = AudioCodecParameters::new();
        params
            .for_codec(CODEC_ID_AAC)
            .with_extra_data(Box::new(core_asc));
        let decoder = SymphoniaAac::try_new(&params, &AudioDecoderOptions::default())
            .map_err(|e| AudioError::MalformedFrame(format!("decoder setup: {e}")))?;
        let resampler = if config.sample_rate == OUTPUT_SAMPLE_RATE {
            None
        } else {
            // Fixed input: one AAC frame per call. rubato picks FFT blocks of ~256 input
            // frames; its delay is half an output block.
            Some(
                Fft::<f32>::new(
                    config.sample_rate as usize,
                    OUTPUT_SAMPLE_RATE as usize,
                    AAC_FRAME_SAMPLES,
                    channels,
                    FixedSync::Input,
                )
                .map_err(|e| AudioError::Resampler(e.to_string()))?,
            )
        };
        let resampled_len = resampler.as_ref().map_or(0, |r| r.output_frames_max()) * channels;
        Ok(AacDecoder {
            config,
            channels,
            decoder,
            resampler,
            decoded: Vec::with_capacity(AAC_FRAME_SAMPLES * channels),
            resampled: vec![0.0; resampled_len],
        })
    }

    /// The AudioSpecificConfig as parsed.
    pub fn config(&self) -> &AudioSpecificConfig {
        &self.config
    }

    /// Channels of the input and of the PCM handed out: 1 or 2.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Whether the stream is resampled (its rate is not 48 kHz).
    pub fn resamples(&self) -> bool {
        self.resampler.is_some()
    }

    /// The resampler's delay in 48 kHz samples (half an FFT output block: 160 at 44.1 kHz, 320
    /// at 22.05 kHz, 0 at 48 kHz).
    pub fn delay_samples(&self) -> u32 {
        self.resampler.as_ref().map_or(0, |r| r.output_delay()) as u32
    }

    /// Decodes one raw AAC frame (one raw_data_block, ISO/IEC 14496-3 §4.4.2.1, no ADTS
    /// header: the FLV AAC raw body after its 2-byte header) and hands its 48 kHz samples to
    /// `emit` (interleaved; none, one or two slices).
    ///
    /// Errors concern this frame only: [`AudioError::FrameSize`] (empty or over
    /// [`MAX_FRAME_BYTES`]), [`AudioError::MalformedFrame`], [`AudioError::Resampler`].
    pub fn decode(&mut self, aac_frame: &[u8], emit: impl FnMut(&[f32])) -> Result<(), AudioError> {
        if aac_frame.is_empty() || aac_frame.len() > MAX_FRAME_BYTES {
            return Err(AudioError::FrameSize {
                length: aac_frame.len(),
            });
        }
        let packet = PacketRef::new(
            0,
            Timestamp::new(0),
            Duration::from(AAC_FRAME_SAMPLES as u64),
            aac_frame,
        );
        let buf = self
            .decoder
            .decode_ref(&packet)
            .map_err(|e| AudioError::MalformedFrame(e.to_string()))?;
        if buf.frames() != AAC_FRAME_SAMPLES || buf.num_planes() != self.channels {
            return Err(AudioError::MalformedFrame(format!(
                "decoder returned {} frames of {} channels",
                buf.frames(),
                buf.num_planes()
            )));
        }
        buf.copy_to_vec_interleaved(&mut self.decoded);
        // A damaged frame can decode to huge or non-finite values, which would spread through
        // the resampler's FFT into whole blocks: cap at ±2.0 (+6 dBFS, libopus' own analysis
        // cap) and zero NaN.
        for v in &mut self.decoded {
            *v = if v.is_nan() { 0.0 } else { v.clamp(-2.0, 2.0) };
        }
        self.emit_decoded(emit)
    }

    /// One frame of silence (a lost frame, or the tail pushed through the resampler), handed
    /// out like [`decode`](Self::decode)'s.
    pub fn silence(&mut self, emit: impl FnMut(&[f32])) -> Result<(), AudioError> {
        self.decoded.clear();
        self.decoded.resize(AAC_FRAME_SAMPLES * self.channels, 0.0);
        self.emit_decoded(emit)
    }

    /// Forgets codec and resampler state (a new time line follows).
    pub fn reset(&mut self) {
        self.decoder.reset();
        if let Some(r) = self.resampler.as_mut() {
            r.reset();
        }
    }

    fn emit_decoded(&mut self, mut emit: impl FnMut(&[f32])) -> Result<(), AudioError> {
        let Some(resampler) = self.resampler.as_mut() else {
            emit(&self.decoded);
            return Ok(());
        };
        let err = |e: &dyn std::fmt::Display| AudioError::Resampler(e.to_string());
        let input = InterleavedSlice::new(&self.decoded[..], self.channels, AAC_FRAME_SAMPLES)
            .map_err(|e| err(&e))?;
        let frames_out = self.resampled.len() / self.channels;
        let mut output =
            InterleavedSlice::new_mut(&mut self.resampled[..], self.channels, frames_out)
                .map_err(|e| err(&e))?;
        let (_, produced) = resampler
            .process_into_buffer(&input, &mut output, None)
            .map_err(|e| err(&e))?;
        emit(&self.resampled[..produced * self.channels]);
        Ok(())
    }
}
