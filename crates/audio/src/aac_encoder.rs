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
pub(crate) struct EncoderInfo {
    /// AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1).
    pub asc: Vec<u8>,
    /// Algorithmic delay in samples per channel.
    pub delay: usize,
    /// Largest access unit in bytes.
    pub max_unit_bytes: usize,
}

/// One `encode` call's result: interleaved samples taken, bytes of access unit written.
pub(crate) struct Encoded {
    pub input_consumed: usize,
    pub output_size: usize,
}

#[cfg(feature = "fdk-aac")]
pub(crate) use fdk::AacEncoder;
#[cfg(not(feature = "fdk-aac"))]
pub(crate) use unavailable::AacEncoder;

#[cfg(feature = "fdk-aac")]
mod fdk {
    use super::{Encoded, EncoderInfo};
    use crate::{AudioError, AAC_SAMPLE_RATE};
    use fdk_aac::enc::{AudioObjectType, BitRate, ChannelMode, Encoder, EncoderParams, Transport};

    /// FDK AAC, AAC-LC at 48 kHz, CBR, raw access units.
    pub(crate) struct AacEncoder(Encoder);

    impl AacEncoder {
        /// `channels` 1 or 2, `bitrate` in bits/s (validated by the caller).
        pub fn new(channels: usize, bitrate: u32) -> Result<Self, AudioError> {
            Encoder::new(EncoderParams {
                bit_rate: BitRate::Cbr(bitrate),
                sample_rate: AAC_SAMPLE_RATE,
                transport: Transport::Raw,
                channels: if channels == 1 { ChannelMode::Mono } else { ChannelMode::Stereo },
                audio_object_type: AudioObjectType::Mpeg4LowComplexity,
            })
            .map(AacEncoder)
            .map_err(|e| AudioError::AacEncoder(e.to_string()))
        }

        pub fn info(&self) -> Result<EncoderInfo, AudioError> {
            let info = self.0.info().map_err(|e| AudioError::AacEncoder(e.to_string()))?;
            let asc_len = (info.confSize as usize).min(info.confBuf.len());
            Ok(EncoderInfo {
                asc: info.confBuf[..asc_len].to_vec(),
                delay: info.nDelay as usize,
                max_unit_bytes: info.maxOutBufBytes as usize,
            })
        }

        /// Encodes interleaved 16-bit PCM into `out`.
        pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<Encoded, AudioError> {
            self.0
                .encode(pcm, out)
                .map(|i| Encoded { input_consumed: i.input_consumed, output_size: i.output_size })
                .map_err(|e| AudioError::AacEncoder(e.to_string()))
        }
    }
}

#[cfg(not(feature = "fdk-aac"))]
mod unavailable {
    use super::{Encoded, EncoderInfo};
    use crate::AudioError;

    /// No AAC encoder in this build: it cannot be made.
    pub(crate) enum AacEncoder {}

    impl AacEncoder {
        pub fn new(_channels: usize, _bitrate: u32) -> Result<Self, AudioError> {
            Err(AudioError::AacEncoderUnavailable)
        }

        pub fn info(&self) -> Result<EncoderInfo, AudioError> {
            match *self {}
        }

        pub fn encode(&mut self, _pcm: &[i16], _out: &mut [u8]) -> Result<Encoded, AudioError> {
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
