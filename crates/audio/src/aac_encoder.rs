//! The AAC-LC encoder behind [`OpusToAac`](crate::OpusToAac), one small interface over the
//! library that does the work.
//!
//! With the `fdk-aac` cargo feature (the default) it is Fraunhofer FDK AAC: AAC-LC, 48 kHz,
//! constant bitrate, raw access units (no ADTS). Without it the build carries no AAC encoder at
//! all (for redistributors who cannot accept FDK AAC's licence, see the README's "Licences"):
//! [`AacEncoder::new`] then fails with [`AudioError::AacEncoderUnavailable`], and nothing else
//! in the crate changes. No other AAC encoder is on crates.io; the README gives the measurement
//! against FFmpeg's native encoder and why it is not an option here.

/// What the encoder reports once set up.
pub struct AacEncoderInfo {
    /// AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1).
    pub asc: Vec<u8>,
    /// Algorithmic delay in samples per channel.
    pub delay: usize,
    /// Largest access unit in bytes.
    pub max_unit_bytes: usize,
}

/// One `encode` call's result.
pub struct AacEncoded {
    /// Interleaved samples taken from the input.
    pub input_consumed: usize,
    /// Bytes of access unit written (0 while the encoder fills its delay).
    pub output_size: usize,
}

#[cfg(feature = "fdk-aac")]
pub use fdk::AacEncoder;
#[cfg(not(feature = "fdk-aac"))]
pub use unavailable::AacEncoder;

#[cfg(feature = "fdk-aac")]
mod fdk {
    use super::{AacEncoded, AacEncoderInfo};
    use crate::{AudioError, AAC_SAMPLE_RATE};
    use fdk_aac::enc::{AudioObjectType, BitRate, ChannelMode, Encoder, EncoderParams, Transport};

    /// FDK AAC, AAC-LC at 48 kHz, CBR, raw access units.
    pub struct AacEncoder(Encoder);

    impl AacEncoder {
        /// AAC-LC at 48 kHz with `channels` (1 or 2) at `bitrate` bits/s (CBR; validated by
        /// the caller, see `MIN_AAC_BITRATE`..=`MAX_AAC_BITRATE`). Errors:
        /// [`AudioError::AacEncoder`].
        pub fn new(channels: usize, bitrate: u32) -> Result<Self, AudioError> {
            Encoder::new(EncoderParams {
                bit_rate: BitRate::Cbr(bitrate),
                sample_rate: AAC_SAMPLE_RATE,
                transport: Transport::Raw,
                channels: if channels == 1 {
                    ChannelMode::Mono
                } else {
                    ChannelMode::Stereo
                },
                audio_object_type: AudioObjectType::Mpeg4LowComplexity,
            })
            .map(AacEncoder)
            .map_err(|e| AudioError::AacEncoder(e.to_string()))
        }

        /// The AudioSpecificConfig, delay and largest access unit. Errors:
        /// [`AudioError::AacEncoder`].
        pub fn info(&self) -> Result<AacEncoderInfo, AudioError> {
            let info = self
                .0
                .info()
                .map_err(|e| AudioError::AacEncoder(e.to_string()))?;
            let asc_len = (info.confSize as usize).min(info.confBuf.len());
            Ok(AacEncoderInfo {
                asc: info.confBuf[..asc_len].to_vec(),
                delay: info.nDelay as usize,
                max_unit_bytes: info.maxOutBufBytes as usize,
            })
        }

        /// Encodes interleaved 16-bit PCM (one 1 024-sample frame per call) into `out`, which
        /// holds at least `info().max_unit_bytes`. Errors: [`AudioError::AacEncoder`].
        pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<AacEncoded, AudioError> {
            self.0
                .encode(pcm, out)
                .map(|i| AacEncoded {
                    input_consumed: i.input_consumed,
                    output_size: i.output_size,
                })
                .map_err(|e| AudioError::AacEncoder(e.to_string()))
        }
    }
}

#[cfg(not(feature = "fdk-aac"))]
mod unavailable {
    use super::{AacEncoded, AacEncoderInfo};
    use crate::AudioError;

    /// No AAC encoder in this build: it cannot be made.
    pub enum AacEncoder {}

    impl AacEncoder {
        /// Always [`AudioError::AacEncoderUnavailable`].
        pub fn new(_channels: usize, _bitrate: u32) -> Result<Self, AudioError> {
            Err(AudioError::AacEncoderUnavailable)
        }

        /// Unreachable: no value exists.
        pub fn info(&self) -> Result<AacEncoderInfo, AudioError> {
            match *self {}
        }

        /// Unreachable: no value exists.
        pub fn encode(&mut self, _pcm: &[i16], _out: &mut [u8]) -> Result<AacEncoded, AudioError> {
            match *self {}
        }
    }
}

/// Whether this build has an AAC encoder (the `fdk-aac` feature).
pub const AAC_ENCODER_AVAILABLE: bool = cfg!(feature = "fdk-aac");

#[cfg(test)]
mod tests {
    #[test]
    fn availability_follows_the_feature() {
        let made = super::AacEncoder::new(2, 128_000);
        assert_eq!(made.is_ok(), super::AAC_ENCODER_AVAILABLE);
        if let Err(e) = made.map(|_| ()) {
            assert_eq!(e, crate::AudioError::AacEncoderUnavailable);
            assert_eq!(e.code(), "AUDIO_AAC_ENCODER_UNAVAILABLE");
        }
    }
}
