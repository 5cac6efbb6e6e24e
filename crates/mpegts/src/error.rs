use std::fmt;

/// What was wrong with the input. A demuxer error concerns one packet or one PES (it is
/// dropped, counted and the demuxer goes on); it never poisons the demuxer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TsError {
    /// A 188-byte packet did not start with the sync byte 0x47.
    LostSync,
    /// A header field points past the end of its packet or section.
    Truncated(&'static str),
    /// A PSI section failed its CRC-32 (§2.4.4, Annex A).
    BadCrc,
    /// A PES packet did not start with the start code prefix 00 00 01.
    BadPesStart,
    /// An access unit over the configured limit, dropped.
    TooLarge(usize),
    /// An ADTS header with a reserved or impossible value.
    BadAdts(&'static str),
}

impl fmt::Display for TsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TsError::LostSync => write!(f, "transport packet without the 0x47 sync byte"),
            TsError::Truncated(what) => write!(f, "truncated {what}"),
            TsError::BadCrc => write!(f, "PSI section CRC-32 mismatch"),
            TsError::BadPesStart => write!(f, "PES packet without the 00 00 01 start code"),
            TsError::TooLarge(n) => write!(f, "access unit of {n} bytes over the limit"),
            TsError::BadAdts(what) => write!(f, "bad ADTS header: {what}"),
        }
    }
}

impl std::error::Error for TsError {}
