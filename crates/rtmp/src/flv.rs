//! FLV tag bodies as RTMP audio/video messages carry them (FLV spec v10.1 §E.4.2, §E.4.3;
//! Enhanced RTMP v1 for HEVC/AV1/VP9 FourCC video): headers, sequence headers, keyframes and
//! composition time.

/// FLV video codec id 7: AVC (H.264).
pub const CODEC_AVC: u8 = 7;
/// FLV video codec id 12: HEVC (H.265, the non-standard id used by many Chinese CDNs).
pub const CODEC_HEVC: u8 = 12;
/// FLV sound format 10: AAC.
pub const SOUND_AAC: u8 = 10;

/// Video codec of a video tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VideoCodec {
    /// H.264 (codec id 7, or Enhanced RTMP FourCC `avc1`).
    Avc,
    /// H.265 (codec id 12, or FourCC `hvc1`).
    Hevc,
    /// AV1 (FourCC `av01`).
    Av1,
    /// VP9 (FourCC `vp09`).
    Vp9,
    /// VP8 (FourCC `vp08`, Enhanced RTMP v2).
    Vp8,
    /// Another legacy codec id (2 Sorenson H.263, 4 VP6, ...).
    Other(u8),
}

/// Video tag header (FLV §E.4.3.1), legacy or Enhanced RTMP (`IsExHeader`, top bit of byte 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoTagHeader {
    /// Frame type: 1 keyframe, 2 inter, 3 disposable inter, 4 generated keyframe, 5 command.
    pub frame_type: u8,
    /// The codec.
    pub codec: VideoCodec,
    /// The body is a decoder configuration record (AVC/HEVC packet type 0 or Enhanced
    /// `PacketTypeSequenceStart`).
    pub is_sequence_header: bool,
    /// End of sequence (packet type 2 / `PacketTypeSequenceEnd`).
    pub is_end_of_sequence: bool,
    /// Composition time offset in ms (signed 24-bit; pts = dts + composition time).
    pub composition_time: i32,
    /// Offset in the tag body where the codec data (NALUs, record) begins: of the first track
    /// in a multitrack message.
    pub data_offset: usize,
    /// Enhanced RTMP v2 multitrack: what the message carries (see [`Multitrack`]).
    pub multitrack: Option<Multitrack>,
    /// Enhanced RTMP v2 ModEx `TimestampOffsetNano`: ns to add to the message timestamp (0–999 999).
    pub timestamp_nano_offset: u32,
}

/// Enhanced RTMP v2 packet types that wrap another (video and audio alike).
const VIDEO_PACKET_MULTITRACK: u8 = 6;
const VIDEO_PACKET_MOD_EX: u8 = 7;
const AUDIO_PACKET_MULTITRACK: u8 = 5;
const AUDIO_PACKET_MOD_EX: u8 = 7;
/// `AvMultitrackType` OneTrack: one track, its FourCC and id, no size.
pub const MULTITRACK_ONE_TRACK: u8 = 0;
/// `AvMultitrackType` ManyTracks: one FourCC for all, then per track id and size.
pub const MULTITRACK_MANY_TRACKS: u8 = 1;
/// `AvMultitrackType` ManyTracksManyCodecs: per track FourCC, id and size.
pub const MULTITRACK_MANY_TRACKS_MANY_CODECS: u8 = 2;

/// The multitrack part of an Enhanced RTMP v2 message (`videoPacketType`/`audioPacketType`
/// Multitrack): `[AvMultitrackType:4][PacketType:4]`, the FourCC (unless ManyTracksManyCodecs,
/// where each track has its own), then per track `[FourCC]` `trackId` UI8 and, unless
/// OneTrack, `sizeOfTrack` UI24 before the track's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Multitrack {
    /// `AvMultitrackType`: 0 OneTrack, 1 ManyTracks, 2 ManyTracksManyCodecs.
    pub kind: u8,
    /// The first track's id (0 is the default track).
    pub first_track_id: u8,
    /// The first track's body size (ManyTracks kinds), bytes from `data_offset`'s track start.
    pub first_track_size: Option<u32>,
}

impl Multitrack {
    /// The message carries the default track only (a OneTrack message of track 0): a player of
    /// one track can take it as a plain message.
    pub fn is_default_track_only(&self) -> bool {
        self.kind == MULTITRACK_ONE_TRACK && self.first_track_id == 0
    }
}

/// The wrapping part of an Enhanced RTMP v2 header after byte 0, as [`ex_header`] reads it.
struct ExHeader {
    /// The wrapped packet type (ModEx and Multitrack unwrapped).
    packet_type: u8,
    multitrack: Option<Multitrack>,
    /// The (first track's) FourCC.
    fourcc: [u8; 4],
    /// ModEx `TimestampOffsetNano`.
    nano: u32,
    /// Offset of the FourCC (of a multitrack message: where its track list begins).
    fourcc_at: usize,
    /// Offset of the (first track's) body.
    data_at: usize,
}

/// The wrapping part of an Enhanced RTMP v2 header after byte 0: the ModEx loop, then the
/// Multitrack part, then the FourCC. `None` when the body is cut short or nests Multitrack.
fn ex_header(body: &[u8], mut packet_type: u8, mod_ex: u8, multitrack: u8) -> Option<ExHeader> {
    let mut at = 1;
    let mut nano = 0;
    while packet_type == mod_ex {
        // modExDataSize: UI8 + 1; 0xFF escapes to UI16 + 1
        let mut size = usize::from(*body.get(at)?) + 1;
        at += 1;
        if size == 256 {
            size = usize::from(u16::from_be_bytes(body.get(at..at + 2)?.try_into().ok()?)) + 1;
            at += 2;
        }
        let data = body.get(at..at + size)?;
        at += size;
        let b = *body.get(at)?;
        at += 1;
        if b >> 4 == 0 && data.len() >= 3 {
            // TimestampOffsetNano
            nano = u32::from_be_bytes([0, data[0], data[1], data[2]]).min(999_999);
        }
        packet_type = b & 0x0F;
    }
    let mut track = None;
    if packet_type == multitrack {
        let b = *body.get(at)?;
        at += 1;
        packet_type = b & 0x0F;
        if packet_type == multitrack {
            return None;
        }
        track = Some(b >> 4);
    }
    let fourcc_at = at;
    let fourcc: [u8; 4] = body.get(at..at + 4)?.try_into().ok()?;
    at += 4;
    let multitrack = match track {
        Some(kind) => {
            let first_track_id = *body.get(at)?;
            at += 1;
            let first_track_size = if kind != MULTITRACK_ONE_TRACK {
                let size = u32::from_be_bytes([0, *body.get(at)?, *body.get(at + 1)?, *body.get(at + 2)?]);
                at += 3;
                Some(size)
            } else {
                None
            };
            Some(Multitrack { kind, first_track_id, first_track_size })
        }
        None => None,
    };
    Some(ExHeader { packet_type, multitrack, fourcc, nano, fourcc_at, data_at: at })
}

/// One track of a message (see [`split_tracks`]): its Enhanced RTMP v2 track id (0 for a
/// plain message) and a message body carrying that track alone.
pub type TrackMessage<'a> = (u8, std::borrow::Cow<'a, [u8]>);

/// Splits an Enhanced RTMP v2 multitrack message (video when `audio` is false) into one
/// message per track, each a plain single-track Enhanced RTMP body:
/// `[IsExHeader|FrameType|PacketType]` (video) or `[SoundFormat=9|AudioPacketType]` (audio),
/// the track's FourCC, then its body (for `avc1`/`hvc1` coded frames, the SI24 composition
/// time first), so [`VideoTagHeader::parse`]/[`AudioTagHeader::parse`] read it as a message
/// of that one track. Layout read (Enhanced RTMP v2 "Multitrack"): `[AvMultitrackType:4]
/// [PacketType:4]`, the FourCC unless ManyTracksManyCodecs, then per track `[FourCC:32]`
/// (ManyTracksManyCodecs only) `trackId` UI8 and, unless OneTrack, `sizeOfTrack` UI24 and that
/// many bytes (OneTrack: the rest of the message). ModEx data (the nanosecond offset) is not
/// carried into the parts. A message that is not multitrack is returned as it is, as track 0.
/// `None` when a header or a track's size runs past the body, or a ModEx sits inside the
/// Multitrack part.
pub fn split_tracks(body: &[u8], audio: bool) -> Option<Vec<TrackMessage<'_>>> {
    use std::borrow::Cow;
    let b0 = *body.first()?;
    let ex = if audio { b0 >> 4 == SOUND_EX_HEADER } else { b0 & 0x80 != 0 };
    if !ex {
        return Some(vec![(0, Cow::Borrowed(body))]);
    }
    let (mod_ex, multitrack) = if audio {
        (AUDIO_PACKET_MOD_EX, AUDIO_PACKET_MULTITRACK)
    } else {
        (VIDEO_PACKET_MOD_EX, VIDEO_PACKET_MULTITRACK)
    };
    let h = ex_header(body, b0 & 0x0F, mod_ex, multitrack)?;
    let Some(m) = h.multitrack else {
        return Some(vec![(0, Cow::Borrowed(body))]);
    };
    if h.packet_type == mod_ex {
        return None; // ModEx inside Multitrack: not a layout the spec has (ModEx wraps from outside)
    }
    let first = if audio { (SOUND_EX_HEADER << 4) | h.packet_type } else { 0x80 | (b0 & 0x70) | h.packet_type };
    let many_codecs = m.kind == MULTITRACK_MANY_TRACKS_MANY_CODECS;
    let mut at = h.fourcc_at;
    let mut fourcc = h.fourcc;
    if !many_codecs {
        at += 4;
    }
    let mut tracks = Vec::new();
    while at < body.len() {
        if many_codecs {
            fourcc = body.get(at..at + 4)?.try_into().ok()?;
            at += 4;
        }
        let track_id = *body.get(at)?;
        at += 1;
        let size = if m.kind == MULTITRACK_ONE_TRACK {
            body.len() - at
        } else {
            let size = u32::from_be_bytes([0, *body.get(at)?, *body.get(at + 1)?, *body.get(at + 2)?]) as usize;
            at += 3;
            size
        };
        let data = body.get(at..at.checked_add(size)?)?;
        at += size;
        let mut message = Vec::with_capacity(5 + size);
        message.push(first);
        message.extend_from_slice(&fourcc);
        message.extend_from_slice(data);
        tracks.push((track_id, Cow::Owned(message)));
        if m.kind == MULTITRACK_ONE_TRACK {
            break;
        }
    }
    Some(tracks)
}

impl VideoTagHeader {
    /// Whether this frame is a keyframe (frame type 1) carrying coded video.
    pub fn is_keyframe(&self) -> bool {
        self.frame_type == 1 && !self.is_end_of_sequence
    }

    /// Parses the first bytes of a video message; `None` when too short.
    pub fn parse(body: &[u8]) -> Option<Self> {
        let b0 = *body.first()?;
        if b0 & 0x80 != 0 {
            // Enhanced RTMP: [IsExHeader:1][FrameType:3][PacketType:4], the ModEx loop and the
            // Multitrack part (v2), [FourCC:4], per track [trackId][size], then the body.
            let ExHeader { packet_type, multitrack, fourcc, nano: timestamp_nano_offset, data_at: at, .. } = ex_header(body, b0 & 0x0F, VIDEO_PACKET_MOD_EX, VIDEO_PACKET_MULTITRACK)?;
            let codec = match &fourcc {
                b"avc1" => VideoCodec::Avc,
                b"hvc1" => VideoCodec::Hevc,
                b"av01" => VideoCodec::Av1,
                b"vp09" => VideoCodec::Vp9,
                b"vp08" => VideoCodec::Vp8,
                _ => VideoCodec::Other(0),
            };
            // CodedFrames (1) carries a SI24 composition time for avc1/hvc1 (CodedFramesX, 3: none).
            let (composition_time, data_offset) =
                if packet_type == 1 && matches!(codec, VideoCodec::Avc | VideoCodec::Hevc) {
                    (si24(body.get(at..at + 3)?), at + 3)
                } else {
                    (0, at)
                };
            return Some(VideoTagHeader {
                frame_type: (b0 >> 4) & 0x07,
                codec,
                // SequenceStart (0), or MPEG2TSSequenceStart (5, av01's AV1VideoDescriptor)
                is_sequence_header: packet_type == 0 || packet_type == 5,
                is_end_of_sequence: packet_type == 2,
                composition_time,
                data_offset,
                multitrack,
                timestamp_nano_offset,
            });
        }
        let frame_type = b0 >> 4;
        let codec = match b0 & 0x0F {
            CODEC_AVC => VideoCodec::Avc,
            CODEC_HEVC => VideoCodec::Hevc,
            other => VideoCodec::Other(other),
        };
        if matches!(codec, VideoCodec::Avc | VideoCodec::Hevc) {
            let packet_type = *body.get(1)?;
            Some(VideoTagHeader {
                frame_type,
                codec,
                is_sequence_header: packet_type == 0,
                is_end_of_sequence: packet_type == 2,
                composition_time: si24(body.get(2..5)?),
                data_offset: 5,
                multitrack: None,
                timestamp_nano_offset: 0,
            })
        } else {
            Some(VideoTagHeader {
                frame_type,
                codec,
                is_sequence_header: false,
                is_end_of_sequence: false,
                composition_time: 0,
                data_offset: 1,
                multitrack: None,
                timestamp_nano_offset: 0,
            })
        }
    }
}

/// Audio tag header (FLV §E.4.2.1): `[SoundFormat:4][SoundRate:2][SoundSize:1][SoundType:1]`,
/// then for AAC an `AACPacketType` byte (0 sequence header, 1 raw). Enhanced RTMP v2
/// (`ExAudioTagHeader`, SoundFormat 9): `[SoundFormat=9:4][AudioPacketType:4][FourCC:32]`, then
/// the body; AudioPacketType 0 SequenceStart (Opus: the RFC 7845 §5.1 ID header), 1 CodedFrames.
/// Enhanced RTMP v2 ModEx (7) and Multitrack (5) wrappers are unwrapped: `packet_type` is the
/// wrapped type, `fourcc` and `data_offset` the first track's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioTagHeader {
    /// Sound format: 2 MP3, 10 AAC, 11 Speex, 7/8 G.711, 9 Enhanced RTMP (FourCC follows).
    pub sound_format: u8,
    /// Sound rate code 0..=3 (5.5, 11, 22, 44 kHz; AAC always says 3). Enhanced RTMP: 0.
    pub sound_rate: u8,
    /// 0 = 8-bit, 1 = 16-bit samples. Enhanced RTMP: 0.
    pub sound_size: u8,
    /// 0 mono, 1 stereo. Enhanced RTMP: 0.
    pub sound_type: u8,
    /// Enhanced RTMP: the AudioPacketType (0 SequenceStart, 1 CodedFrames, 2 SequenceEnd,
    /// 4 MultichannelConfig, 5 Multitrack, 7 ModEx).
    pub packet_type: Option<u8>,
    /// Enhanced RTMP: the codec's FourCC (`Opus`, `mp4a`, `fLaC`, `ac-3`, `ec-3`, `.mp3`; of
    /// the first track in a multitrack message).
    pub fourcc: Option<[u8; 4]>,
    /// The body is a decoder configuration (AAC packet type 0, Enhanced RTMP SequenceStart).
    pub is_sequence_header: bool,
    /// Offset in the tag body where the codec data begins (of the first track).
    pub data_offset: usize,
    /// Enhanced RTMP v2 multitrack: what the message carries (see [`Multitrack`]).
    pub multitrack: Option<Multitrack>,
    /// Enhanced RTMP v2 ModEx `TimestampOffsetNano`, ns (0–999 999).
    pub timestamp_nano_offset: u32,
}

/// FLV sound format 9: Enhanced RTMP `ExAudioTagHeader`.
pub const SOUND_EX_HEADER: u8 = 9;
/// Enhanced RTMP audio FourCC of Opus.
pub const FOURCC_OPUS: [u8; 4] = *b"Opus";

impl AudioTagHeader {
    /// Parses the first bytes of an audio message; `None` when too short.
    pub fn parse(body: &[u8]) -> Option<Self> {
        let b0 = *body.first()?;
        let sound_format = b0 >> 4;
        if sound_format == SOUND_EX_HEADER {
            // [SoundFormat=9:4][AudioPacketType:4], the ModEx loop and the Multitrack part
            // (v2), [FourCC:4], per track [trackId][size], then the body.
            let ExHeader { packet_type, multitrack, fourcc, nano: timestamp_nano_offset, data_at: at, .. } = ex_header(body, b0 & 0x0F, AUDIO_PACKET_MOD_EX, AUDIO_PACKET_MULTITRACK)?;
            return Some(AudioTagHeader {
                sound_format,
                sound_rate: 0,
                sound_size: 0,
                sound_type: 0,
                packet_type: Some(packet_type),
                fourcc: Some(fourcc),
                is_sequence_header: packet_type == 0,
                data_offset: at,
                multitrack,
                timestamp_nano_offset,
            });
        }
        let (is_sequence_header, data_offset) = if sound_format == SOUND_AAC {
            (*body.get(1)? == 0, 2)
        } else {
            (false, 1)
        };
        Some(AudioTagHeader {
            sound_format,
            sound_rate: (b0 >> 2) & 0x03,
            sound_size: (b0 >> 1) & 0x01,
            sound_type: b0 & 0x01,
            packet_type: None,
            fourcc: None,
            is_sequence_header,
            data_offset,
            multitrack: None,
            timestamp_nano_offset: 0,
        })
    }

    /// An Enhanced RTMP Opus tag (sequence start or coded frames).
    pub fn is_opus(&self) -> bool {
        self.fourcc == Some(FOURCC_OPUS)
    }
}

/// AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.2.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcDecoderConfigurationRecord {
    /// profile_idc (66 baseline, 77 main, 100 high, ...).
    pub profile: u8,
    /// profile_compatibility flags.
    pub compatibility: u8,
    /// level_idc (e.g. 31 = 3.1).
    pub level: u8,
    /// NALU length field size in bytes (1, 2 or 4).
    pub nalu_length_size: u8,
    /// Sequence parameter sets.
    pub sps: Vec<Vec<u8>>,
    /// Picture parameter sets.
    pub pps: Vec<Vec<u8>>,
}

impl AvcDecoderConfigurationRecord {
    /// Parses a record; `None` when truncated or its version is not 1.
    pub fn parse(b: &[u8]) -> Option<Self> {
        if *b.first()? != 1 {
            return None;
        }
        let mut at = 5;
        let read_sets = |count_mask: u8, at: &mut usize| -> Option<Vec<Vec<u8>>> {
            let count = (*b.get(*at)? & count_mask) as usize;
            *at += 1;
            let mut sets = Vec::with_capacity(count);
            for _ in 0..count {
                let len = u16::from_be_bytes([*b.get(*at)?, *b.get(*at + 1)?]) as usize;
                sets.push(b.get(*at + 2..*at + 2 + len)?.to_vec());
                *at += 2 + len;
            }
            Some(sets)
        };
        let sps = read_sets(0x1F, &mut at)?;
        let pps = read_sets(0xFF, &mut at)?;
        Some(AvcDecoderConfigurationRecord {
            profile: *b.get(1)?,
            compatibility: *b.get(2)?,
            level: *b.get(3)?,
            nalu_length_size: (*b.get(4)? & 0x03) + 1,
            sps,
            pps,
        })
    }

    /// A record for one SPS and one PPS (NAL units without start codes or lengths), with
    /// 4-byte NAL unit lengths; profile, compatibility and level come from SPS bytes 1–3.
    /// `None` when the SPS is shorter than 4 bytes or a set is longer than 65 535 bytes.
    pub fn from_parameter_sets(sps: &[u8], pps: &[u8]) -> Option<Self> {
        if sps.len() < 4 || sps.len() > 0xFFFF || pps.len() > 0xFFFF {
            return None;
        }
        Some(AvcDecoderConfigurationRecord {
            profile: sps[1],
            compatibility: sps[2],
            level: sps[3],
            nalu_length_size: 4,
            sps: vec![sps.to_vec()],
            pps: vec![pps.to_vec()],
        })
    }

    /// The record's bytes (§5.2.4.1.1): version 1, profile, compatibility, level,
    /// `0xFC | lengthSizeMinusOne`, `0xE0 | numOfSPS`, each SPS with a 16-bit length,
    /// `numOfPPS`, each PPS with a 16-bit length. At most 31 SPS and 255 PPS are written.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![
            1,
            self.profile,
            self.compatibility,
            self.level,
            0xFC | (self.nalu_length_size.clamp(1, 4) - 1),
        ];
        let sps = &self.sps[..self.sps.len().min(31)];
        b.push(0xE0 | sps.len() as u8);
        for set in sps {
            b.extend_from_slice(&(set.len() as u16).to_be_bytes());
            b.extend_from_slice(set);
        }
        let pps = &self.pps[..self.pps.len().min(255)];
        b.push(pps.len() as u8);
        for set in pps {
            b.extend_from_slice(&(set.len() as u16).to_be_bytes());
            b.extend_from_slice(set);
        }
        b
    }

    /// The RFC 6381 codec string, e.g. `avc1.64001f`.
    pub fn codec_string(&self) -> String {
        format!(
            "avc1.{:02x}{:02x}{:02x}",
            self.profile, self.compatibility, self.level
        )
    }
}

/// AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1), the AAC sequence header body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioSpecificConfig {
    /// Audio object type (2 = AAC-LC, 5 = SBR, 29 = PS).
    pub object_type: u8,
    /// Sampling frequency in Hz.
    pub sample_rate: u32,
    /// Channel configuration (1 mono, 2 stereo, ...).
    pub channels: u8,
}

const AAC_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

impl AudioSpecificConfig {
    /// Parses the first bytes of an AudioSpecificConfig; `None` when truncated or invalid.
    pub fn parse(b: &[u8]) -> Option<Self> {
        let mut bits = BitReader { data: b, pos: 0 };
        let mut object_type = bits.read(5)? as u8;
        if object_type == 31 {
            object_type = 32 + bits.read(6)? as u8;
        }
        let index = bits.read(4)?;
        let sample_rate = if index == 15 {
            bits.read(24)?
        } else {
            *AAC_RATES.get(index as usize)?
        };
        let channels = bits.read(4)? as u8;
        Some(AudioSpecificConfig {
            object_type,
            sample_rate,
            channels,
        })
    }

    /// The RFC 6381 codec string, e.g. `mp4a.40.2`.
    pub fn codec_string(&self) -> String {
        format!("mp4a.40.{}", self.object_type)
    }
}

struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    fn read(&mut self, n: u32) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = *self.data.get(self.pos / 8)?;
            v = v << 1 | ((byte >> (7 - self.pos % 8)) & 1) as u32;
            self.pos += 1;
        }
        Some(v)
    }
}

fn si24(b: &[u8]) -> i32 {
    let v = (b[0] as i32) << 16 | (b[1] as i32) << 8 | b[2] as i32;
    (v << 8) >> 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avc_config_record_round_trip() {
        let sps = [0x67, 0x64, 0x00, 0x1F, 0xAC];
        let pps = [0x68, 0xEB, 0xE3];
        let record = AvcDecoderConfigurationRecord::from_parameter_sets(&sps, &pps).unwrap();
        let bytes = record.to_bytes();
        assert_eq!(bytes[..6], [1, 0x64, 0x00, 0x1F, 0xFF, 0xE1]);
        assert_eq!(AvcDecoderConfigurationRecord::parse(&bytes), Some(record));
        assert!(AvcDecoderConfigurationRecord::from_parameter_sets(&sps[..3], &pps).is_none());
    }

    #[test]
    fn avc_keyframe_with_negative_composition_time() {
        let h = VideoTagHeader::parse(&[0x17, 1, 0xFF, 0xFF, 0xD8, 0, 0, 0, 1]).unwrap();
        assert!(h.is_keyframe());
        assert!(!h.is_sequence_header);
        assert_eq!(h.codec, VideoCodec::Avc);
        assert_eq!(h.composition_time, -40);
    }

    #[test]
    fn enhanced_rtmp_hevc_sequence_start() {
        let h = VideoTagHeader::parse(&[0x90, b'h', b'v', b'c', b'1', 1]).unwrap();
        assert_eq!(h.codec, VideoCodec::Hevc);
        assert!(h.is_sequence_header);
        assert_eq!(h.frame_type, 1);
    }

    #[test]
    fn enhanced_rtmp_opus_sequence_start_and_frames() {
        // ExAudioTagHeader: SoundFormat 9 | AudioPacketType 0 (SequenceStart), FourCC "Opus",
        // then an RFC 7845 ID header.
        let start = [&[0x90][..], b"Opus", b"OpusHead", &[1, 2, 0x38, 1, 0x80, 0xBB, 0, 0, 0, 0, 0]].concat();
        let h = AudioTagHeader::parse(&start).unwrap();
        assert!(h.is_opus() && h.is_sequence_header);
        assert_eq!((h.sound_format, h.packet_type, h.data_offset), (SOUND_EX_HEADER, Some(0), 5));
        let coded = AudioTagHeader::parse(&[0x91, b'O', b'p', b'u', b's', 0xFC, 0xFF, 0xFE]).unwrap();
        assert!(coded.is_opus() && !coded.is_sequence_header);
        assert_eq!(coded.data_offset, 5);
        // Multitrack OneTrack (track 0) sequence start: unwrapped; without its trackId or with a
        // truncated FourCC: None.
        let multi = AudioTagHeader::parse(&[0x95, 0x00, b'O', b'p', b'u', b's', 0]).unwrap();
        assert_eq!((multi.fourcc, multi.is_sequence_header, multi.data_offset), (Some(FOURCC_OPUS), true, 7));
        assert_eq!(AudioTagHeader::parse(&[0x95, 0x00, b'O', b'p', b'u', b's']), None);
        assert_eq!(AudioTagHeader::parse(&[0x91, b'O', b'p']), None);
    }

    #[test]
    fn aac_sequence_header_and_config() {
        let h = AudioTagHeader::parse(&[0xAF, 0x00, 0x12, 0x10]).unwrap();
        assert!(h.is_sequence_header);
        let asc = AudioSpecificConfig::parse(&[0x12, 0x10]).unwrap();
        assert_eq!(
            (asc.object_type, asc.sample_rate, asc.channels),
            (2, 44100, 2)
        );
        assert_eq!(asc.codec_string(), "mp4a.40.2");
    }

    #[test]
    fn avc_record() {
        let rec = [
            1, 0x64, 0, 0x1F, 0xFF, 0xE1, 0, 2, 0x67, 0x64, 1, 0, 2, 0x68, 0xEE,
        ];
        let r = AvcDecoderConfigurationRecord::parse(&rec).unwrap();
        assert_eq!(r.codec_string(), "avc1.64001f");
        assert_eq!(r.nalu_length_size, 4);
        assert_eq!(r.sps, vec![vec![0x67, 0x64]]);
        assert_eq!(r.pps, vec![vec![0x68, 0xEE]]);
        assert!(AvcDecoderConfigurationRecord::parse(&rec[..10]).is_none());
    }

    /// Enhanced RTMP v2 (veovera v2, "ExVideoTagHeader"): a ModEx TimestampOffsetNano before a
    /// Multitrack ManyTracks message of two avc1 CodedFrames tracks.
    #[test]
    fn enhanced_v2_mod_ex_and_multitrack_video() {
        let mut body = vec![0x80 | (1 << 4) | 7]; // keyframe, ModEx
        body.extend([2, 0x01, 0x86, 0xA0]); // modExDataSize 3 (UI8 + 1), 100 000 ns
        body.push(6); // TimestampOffsetNano (0), next packet type Multitrack (6)
        body.push((1 << 4) | 1); // ManyTracks, CodedFrames
        body.extend(b"avc1");
        body.extend([0, 0, 0, 7]); // track 0, size 7
        body.extend([0, 0, 40, 0, 0, 0, 1]); // cts 40, NALU length…
        body.extend([1, 0, 0, 4, 0, 0, 0, 0]); // track 1, size 4, …
        let h = VideoTagHeader::parse(&body).unwrap();
        assert_eq!(h.codec, VideoCodec::Avc);
        assert!(h.is_keyframe() && !h.is_sequence_header);
        assert_eq!(h.timestamp_nano_offset, 100_000);
        assert_eq!(h.multitrack, Some(Multitrack { kind: MULTITRACK_MANY_TRACKS, first_track_id: 0, first_track_size: Some(7) }));
        assert_eq!(h.composition_time, 40);
        assert_eq!(h.data_offset, 18);
        // split into plain avc1 CodedFrames messages, one per track (ModEx dropped)
        let tracks = split_tracks(&body, false).unwrap();
        assert_eq!(tracks.len(), 2);
        assert_eq!((tracks[0].0, &tracks[0].1[..]), (0, &[0x91, b'a', b'v', b'c', b'1', 0, 0, 40, 0, 0, 0, 1][..]));
        assert_eq!((tracks[1].0, &tracks[1].1[..]), (1, &[0x91, b'a', b'v', b'c', b'1', 0, 0, 0, 0][..]));
        let h1 = VideoTagHeader::parse(&tracks[0].1).unwrap();
        assert!(h1.is_keyframe() && h1.multitrack.is_none() && h1.composition_time == 40 && h1.data_offset == 8);
        // ModEx inside Multitrack (fuzz-found): refused, the split would be read as ModEx again
        assert_eq!(split_tracks(&[0x96, 0x07, 0, 0, 0x86, 0, 1, 0xE0, 0xE0, 0xE0, 0xE0, 0, 0xFF, 0xFF], false), None);
        // a track size past the end: refused; a plain message: itself, track 0
        assert_eq!(split_tracks(&body[..body.len() - 1], false), None);
        let plain = [0x17, 1, 0, 0, 0, 9];
        assert_eq!(split_tracks(&plain, false).unwrap(), vec![(0, std::borrow::Cow::Borrowed(&plain[..]))]);
        // a OneTrack sequence start of track 0 is the default track only
        let one = [0x80 | (1 << 4) | 6, 0x00, b'h', b'v', b'c', b'1', 0, 1, 2, 3];
        let h = VideoTagHeader::parse(&one).unwrap();
        assert!(h.is_sequence_header && h.codec == VideoCodec::Hevc && h.multitrack.unwrap().is_default_track_only());
        assert_eq!(h.data_offset, 7);
        let tracks = split_tracks(&one, false).unwrap();
        assert_eq!((tracks.len(), tracks[0].0, &tracks[0].1[..]), (1, 0, &[0x90, b'h', b'v', b'c', b'1', 1, 2, 3][..]));
        // nested Multitrack, cut ModEx data, a 0xFF size escape cut short: refused
        assert_eq!(VideoTagHeader::parse(&[0x96, 0x06, b'a', b'v', b'c', b'1', 0]), None);
        assert_eq!(VideoTagHeader::parse(&[0x97, 5, 1, 2]), None);
        assert_eq!(VideoTagHeader::parse(&[0x97, 0xFF, 0x01]), None);
    }

    /// Enhanced RTMP v2 audio: Multitrack ManyTracksManyCodecs (Opus then mp4a) and a plain
    /// `fLaC` sequence start.
    #[test]
    fn enhanced_v2_multitrack_audio() {
        let mut body = vec![0x90 | 5, (2 << 4) | 1]; // ExHeader Multitrack; ManyTracksManyCodecs, CodedFrames
        body.extend(b"Opus");
        body.extend([0, 0, 0, 2, 0xAA, 0xBB]);
        body.extend(b"mp4a");
        body.extend([1, 0, 0, 1, 0xCC]);
        let h = AudioTagHeader::parse(&body).unwrap();
        assert!(h.is_opus() && !h.is_sequence_header);
        assert_eq!(h.packet_type, Some(1));
        assert_eq!(h.multitrack.unwrap().kind, MULTITRACK_MANY_TRACKS_MANY_CODECS);
        assert_eq!(&body[h.data_offset..h.data_offset + 2], &[0xAA, 0xBB]);
        let tracks = split_tracks(&body, true).unwrap();
        assert_eq!((tracks[0].0, &tracks[0].1[..]), (0, &[0x91, b'O', b'p', b'u', b's', 0xAA, 0xBB][..]));
        assert_eq!((tracks[1].0, &tracks[1].1[..]), (1, &[0x91, b'm', b'p', b'4', b'a', 0xCC][..]));
        assert!(AudioTagHeader::parse(&tracks[1].1).unwrap().fourcc == Some(*b"mp4a"));
        let flac = AudioTagHeader::parse(&[0x90, b'f', b'L', b'a', b'C', b'f', b'L', b'a', b'C']).unwrap();
        assert!(flac.is_sequence_header && flac.fourcc == Some(*b"fLaC") && flac.data_offset == 5 && flac.multitrack.is_none());
    }
}
