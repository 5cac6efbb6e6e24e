//! The crate's error type: one enum, every variant documented.

use std::fmt;

/// Everything that can go wrong while setting up or running an [`AacToOpus`](crate::AacToOpus)
/// or an [`OpusToAac`](crate::OpusToAac).
///
/// Errors from the constructors mean the stream cannot be transcoded with this configuration.
/// Errors from [`AacToOpus::push`](crate::AacToOpus::push) and
/// [`OpusToAac::push`](crate::OpusToAac::push) concern one frame or packet only: the caller
/// drops it and keeps going, and the transcoder stays usable.
/// The caller logs [`AudioError::code`] and the `Display` text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AudioError {
    /// The AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1) ended before a field it needs, or
    /// carried a reserved value (sampling frequency index 13–14, channel configuration 8–15).
    MalformedAudioSpecificConfig(&'static str),
    /// The audio object type is not AAC-LC (2), nor HE-AAC (5) / HE-AAC v2 (29) over an AAC-LC
    /// core. ISO/IEC 14496-3 Table 1.1 lists the numbers: 1 AAC Main, 4 AAC LTP, 23 ER AAC LD …
    UnsupportedObjectType {
        /// The audio object type that was found (the core's type for HE-AAC).
        object_type: u8,
    },
    /// The sampling frequency is not one of the 13 of ISO/IEC 14496-3 Table 1.18
    /// (7 350 Hz to 96 000 Hz).
    UnsupportedSampleRate {
        /// The sampling frequency in Hz.
        sample_rate: u32,
    },
    /// The channel configuration is not 1 (mono) or 2 (stereo): 0 (channels given by a program
    /// config element) and 3–7 (3.0 to 7.1) are not decoded; see the crate docs.
    UnsupportedChannelConfiguration {
        /// The channelConfiguration field (ISO/IEC 14496-3 Table 1.19).
        channel_configuration: u8,
    },
    /// The GASpecificConfig's frameLengthFlag asks for 960-sample frames (ISO/IEC 14496-3
    /// §4.5.1.1); only 1024-sample frames are decoded.
    UnsupportedFrameLength {
        /// Samples per frame and channel.
        frame_length: u16,
    },
    /// The Opus bitrate is outside [`MIN_BITRATE`](crate::MIN_BITRATE) ..=
    /// [`MAX_BITRATE`](crate::MAX_BITRATE).
    InvalidBitrate {
        /// The requested bitrate in bits/s.
        bitrate: u32,
    },
    /// A frame's timestamp is negative or above [`MAX_PTS_MS`](crate::MAX_PTS_MS).
    InvalidTimestamp {
        /// The timestamp in ms.
        pts_ms: i64,
    },
    /// The AAC frame was empty or longer than [`MAX_FRAME_BYTES`](crate::MAX_FRAME_BYTES).
    FrameSize {
        /// The frame's length in bytes.
        length: usize,
    },
    /// The AAC decoder rejected the frame (bad Huffman code, element the configuration does not
    /// allow, truncated data …). Nothing was output for it.
    MalformedFrame(String),
    /// libopus refused a request (reported with the libopus function and message): the Opus
    /// encoder of an [`AacToOpus`](crate::AacToOpus), or setting up the Opus decoder of an
    /// [`OpusToAac`](crate::OpusToAac). Not expected with validated inputs.
    Encoder(String),
    /// The resampler refused a request. Not expected with validated inputs.
    Resampler(String),
    /// The output channel count asked of an [`OpusToAac`](crate::OpusToAac) is not 1 or 2.
    InvalidChannels {
        /// The requested channel count.
        channels: u32,
    },
    /// The AAC bitrate is outside [`MIN_AAC_BITRATE`](crate::MIN_AAC_BITRATE) ..=
    /// [`MAX_AAC_BITRATE`](crate::MAX_AAC_BITRATE).
    InvalidAacBitrate {
        /// The requested bitrate in bits/s.
        bitrate: u32,
    },
    /// The Opus packet was empty (RFC 6716 §3.4 R1: packets are at least one byte) or longer
    /// than [`MAX_OPUS_PACKET_BYTES`](crate::MAX_OPUS_PACKET_BYTES).
    OpusPacketSize {
        /// The packet's length in bytes.
        length: usize,
    },
    /// The Opus packet breaks the framing rules of RFC 6716 §3.4 (TOC, frame count and frame
    /// lengths, as checked by libopus' `opus_packet_parse`), or libopus refused to decode it.
    MalformedOpusPacket(String),
    /// The AAC encoder (FDK AAC) refused a request. Not expected with validated inputs.
    AacEncoder(String),
    /// This build has no AAC encoder: it was built without the `fdk-aac` feature (see the
    /// README's "Licences"). Opus cannot be transcoded to AAC.
    AacEncoderUnavailable,
}

impl AudioError {
    /// A stable domain code for logs and for JS error classes (`ts/errors.ts`).
    pub fn code(&self) -> &'static str {
        match self {
            AudioError::MalformedAudioSpecificConfig(_) => "AUDIO_CONFIG_MALFORMED",
            AudioError::UnsupportedObjectType { .. }
            | AudioError::UnsupportedSampleRate { .. }
            | AudioError::UnsupportedChannelConfiguration { .. }
            | AudioError::UnsupportedFrameLength { .. } => "AUDIO_CONFIG_UNSUPPORTED",
            AudioError::InvalidBitrate { .. } => "AUDIO_BITRATE_INVALID",
            AudioError::InvalidTimestamp { .. } => "AUDIO_TIMESTAMP_INVALID",
            AudioError::FrameSize { .. }
            | AudioError::MalformedFrame(_)
            | AudioError::OpusPacketSize { .. }
            | AudioError::MalformedOpusPacket(_) => "AUDIO_FRAME_MALFORMED",
            AudioError::InvalidChannels { .. } => "AUDIO_CONFIG_UNSUPPORTED",
            AudioError::InvalidAacBitrate { .. } => "AUDIO_BITRATE_INVALID",
            AudioError::Encoder(_) | AudioError::AacEncoder(_) => "AUDIO_ENCODER_FAILED",
            AudioError::Resampler(_) => "AUDIO_RESAMPLER_FAILED",
            AudioError::AacEncoderUnavailable => "AUDIO_AAC_ENCODER_UNAVAILABLE",
        }
    }
}

impl fmt::Display for AudioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AudioError::MalformedAudioSpecificConfig(why) => {
                write!(f, "malformed AudioSpecificConfig: {why}")
            }
            AudioError::UnsupportedObjectType { object_type } => write!(
                f,
                "audio object type {object_type} is not supported (AAC-LC, HE-AAC and HE-AAC v2 are)"
            ),
            AudioError::UnsupportedSampleRate { sample_rate } => {
                write!(f, "sampling frequency {sample_rate} Hz is not supported")
            }
            AudioError::UnsupportedChannelConfiguration {
                channel_configuration,
            } => write!(
                f,
                "channel configuration {channel_configuration} is not supported (1 and 2 are)"
            ),
            AudioError::UnsupportedFrameLength { frame_length } => write!(
                f,
                "{frame_length}-sample AAC frames are not supported (1024 are)"
            ),
            AudioError::InvalidBitrate { bitrate } => write!(
                f,
                "Opus bitrate {bitrate} bit/s outside {}..={}",
                crate::MIN_BITRATE,
                crate::MAX_BITRATE
            ),
            AudioError::InvalidTimestamp { pts_ms } => {
                write!(f, "timestamp {pts_ms} ms outside 0..={}", crate::MAX_PTS_MS)
            }
            AudioError::FrameSize { length } => write!(
                f,
                "AAC frame of {length} bytes outside 1..={}",
                crate::MAX_FRAME_BYTES
            ),
            AudioError::MalformedFrame(why) => write!(f, "AAC frame not decodable: {why}"),
            AudioError::Encoder(why) => write!(f, "libopus: {why}"),
            AudioError::Resampler(why) => write!(f, "resampler: {why}"),
            AudioError::InvalidChannels { channels } => {
                write!(f, "{channels} AAC output channels asked (1 and 2 are supported)")
            }
            AudioError::InvalidAacBitrate { bitrate } => write!(
                f,
                "AAC bitrate {bitrate} bit/s outside {}..={}",
                crate::MIN_AAC_BITRATE,
                crate::MAX_AAC_BITRATE
            ),
            AudioError::OpusPacketSize { length } => write!(
                f,
                "Opus packet of {length} bytes outside 1..={}",
                crate::MAX_OPUS_PACKET_BYTES
            ),
            AudioError::MalformedOpusPacket(why) => write!(f, "Opus packet not decodable: {why}"),
            AudioError::AacEncoder(why) => write!(f, "AAC encoder: {why}"),
            AudioError::AacEncoderUnavailable => {
                write!(f, "no AAC encoder in this build (built without the fdk-aac feature)")
            }
        }
    }
}

impl std::error::Error for AudioError {}
