//! Fragmented MP4 (ISO/IEC 14496-12 movie fragments, CMAF-style: one `moof` + `mdat` per
//! fragment, `tfdt` in every track fragment, sample data offsets relative to the `moof`) from
//! the hub's frames, sans-IO: FLV tag bodies with their ms timestamps in, bytes out. Used for
//! recordings (a file is the init segment then fragments appended, playable while it grows and
//! after a crash up to its last whole fragment) and for LL-HLS segments and parts.
//!
//! - [`track`]: sample entries from FLV sequence headers — H.264 (`avc1` + `avcC`, ISO/IEC
//!   14496-15 §5.4), H.265 (`hvc1` + `hvcC`, §8.4), Enhanced RTMP AV1 (`av01` + `av1C`,
//!   AV1-ISOBMFF §2.3) and VP9 (`vp09` + `vpcC`, VP codec binding §2.2), AAC (`mp4a` + `esds`,
//!   ISO/IEC 14496-14 §5.6), Opus (`Opus` + `dOps`, "Encapsulation of Opus in ISO BMFF" §4.3)
//!   and FLAC (`fLaC` + `dfLa`, "Encapsulation of FLAC in ISO BMFF" §3.3); timescales 90 000
//!   for video and the sample rate for audio.
//! - [`ac3`]: AC-3 (`ac-3` + `dac3`) and E-AC-3 (`ec-3` + `dec3`, ETSI TS 102 366 Annex F)
//!   tracks from their first frame (Enhanced RTMP has no sequence start for them).
//! - [`Fmp4Muxer`]: the timeline (ms → track ticks from the first frame on, durations from the
//!   next frame's decode time, composition offsets from FLV's composition time), the init
//!   segment (`ftyp` + `moov` with `mvex`) and fragments cut where the caller says.
//! - [`playback`]: a recording's index (init segment, fragments and their times) and fragments
//!   moved on the timeline, to serve a time range of several files as one fMP4.
//!
//! Box encoding is the `mp4-atom` crate's.

pub mod ac3;
mod error;
mod fragment;
mod muxer;
pub mod playback;
pub mod track;

pub use error::Mp4Error;
pub use fragment::Fragment;
pub use muxer::{Fmp4Muxer, MuxedTrack, Pushed};
pub use track::{Track, TrackKind};
