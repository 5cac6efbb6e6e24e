//! [`Mp4Error`]: what the muxer refuses, with stable codes.

use std::fmt;

/// Why a tag or a fragment could not be muxed. The muxer's state is unchanged by a refused tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mp4Error {
    /// A tag body too short for its header, or a sequence header that does not parse.
    MalformedTag(String),
    /// A codec fMP4 cannot carry here (FLV Sorenson/VP6, MP3, Speex, G.711...).
    UnsupportedCodec(String),
    /// Coded frames before the track's sequence header.
    NoSequenceHeader(&'static str),
    /// `mp4-atom` refused to encode a box (a bug or an impossible size).
    Encode(String),
}

impl Mp4Error {
    /// The stable code (`MP4_*`) JS sees at the start of the message.
    pub fn code(&self) -> &'static str {
        match self {
            Mp4Error::MalformedTag(_) => "MP4_MALFORMED_TAG",
            Mp4Error::UnsupportedCodec(_) => "MP4_UNSUPPORTED_CODEC",
            Mp4Error::NoSequenceHeader(_) => "MP4_NO_SEQUENCE_HEADER",
            Mp4Error::Encode(_) => "MP4_ENCODE_FAILED",
        }
    }
}

impl fmt::Display for Mp4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mp4Error::MalformedTag(why) => write!(f, "malformed tag: {why}"),
            Mp4Error::UnsupportedCodec(what) => write!(f, "unsupported codec: {what}"),
            Mp4Error::NoSequenceHeader(kind) => {
                write!(f, "{kind} frame before its sequence header")
            }
            Mp4Error::Encode(why) => write!(f, "cannot encode: {why}"),
        }
    }
}

impl std::error::Error for Mp4Error {}

impl From<mp4_atom::Error> for Mp4Error {
    fn from(e: mp4_atom::Error) -> Self {
        Mp4Error::Encode(e.to_string())
    }
}
