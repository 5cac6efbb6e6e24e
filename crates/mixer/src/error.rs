//! [`MixError`]: everything the mixer reports, with stable codes.

/// A mixer error. Input errors concern one frame of one input: the caller drops that frame and
/// the mix goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MixError {
    /// A configuration value out of range (size, rate, bitrate, layout).
    InvalidConfig(String),
    /// A frame for an input id that was never added (or was removed).
    UnknownInput(u32),
    /// An FLV video or audio tag body that is truncated or of a codec the mixer does not take.
    UnsupportedInput(String),
    /// The H.264 decoder refused an access unit (a corrupt or unsupported bitstream).
    Decode(String),
    /// The H.264 or audio encoder failed (not expected).
    Encode(String),
    /// An audio codec error from `sluice-audio` or libopus.
    Audio(String),
}

impl MixError {
    /// Stable code: `MIX_INVALID_CONFIG`, `MIX_UNKNOWN_INPUT`, `MIX_UNSUPPORTED_INPUT`,
    /// `MIX_DECODE_FAILED`, `MIX_ENCODE_FAILED`, `MIX_AUDIO_FAILED`.
    pub fn code(&self) -> &'static str {
        match self {
            MixError::InvalidConfig(_) => "MIX_INVALID_CONFIG",
            MixError::UnknownInput(_) => "MIX_UNKNOWN_INPUT",
            MixError::UnsupportedInput(_) => "MIX_UNSUPPORTED_INPUT",
            MixError::Decode(_) => "MIX_DECODE_FAILED",
            MixError::Encode(_) => "MIX_ENCODE_FAILED",
            MixError::Audio(_) => "MIX_AUDIO_FAILED",
        }
    }
}

impl std::fmt::Display for MixError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MixError::InvalidConfig(m) => write!(f, "invalid mix configuration: {m}"),
            MixError::UnknownInput(id) => write!(f, "no mix input {id}"),
            MixError::UnsupportedInput(m) => write!(f, "unsupported input: {m}"),
            MixError::Decode(m) => write!(f, "H.264 decoding failed: {m}"),
            MixError::Encode(m) => write!(f, "encoding failed: {m}"),
            MixError::Audio(m) => write!(f, "audio: {m}"),
        }
    }
}

impl std::error::Error for MixError {}

impl From<sluice_audio::AudioError> for MixError {
    fn from(e: sluice_audio::AudioError) -> Self {
        MixError::Audio(format!("{}: {e}", e.code()))
    }
}
