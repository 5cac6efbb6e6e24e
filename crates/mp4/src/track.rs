//! [`Track`]: one track's sample entry and timescale, made from the FLV sequence header that
//! configures it (the tag body the hub caches as `videoSequenceHeader` / `audioSequenceHeader`).

use std::io::Cursor;

use mp4_atom::{Audio, Av01, Av1c, Avc1, Avcc, Codec, Decode, Dfla, Dops, Esds, Flac, FlacMetadataBlock, Hvc1, Hvcc, Mp4a, Opus, Visual, Vp08, Vp09, VpcC};
use sluice_rtmp::flv::{
    AudioSpecificConfig, AudioTagHeader, AvcDecoderConfigurationRecord, VideoCodec, VideoTagHeader,
    SOUND_AAC,
};
use sluice_rtmp::hevc::HevcDecoderConfigurationRecord;

use crate::Mp4Error;

/// Video or audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackKind {
    Video,
    Audio,
}

/// Video timescale: 90 kHz ticks, as MPEG-TS and RTP use.
pub const VIDEO_TIMESCALE: u32 = 90_000;

/// A track's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    pub kind: TrackKind,
    /// Ticks per second: 90 000 for video, the sample rate for audio.
    pub timescale: u32,
    /// The sample entry (`avc1`, `hvc1`, `mp4a`, `Opus`).
    pub codec: Codec,
    /// Pixels (H.264/H.265: from the SPS, cropped; AV1: the sequence header's maximum frame
    /// size; 0 for VP9, whose decoders read it from the first keyframe); 0 for audio.
    pub width: u16,
    pub height: u16,
    /// RFC 6381 codec string (`avc1.64001f`, `hvc1.1.6.L93.B0`, `mp4a.40.2`, `opus`), for HLS
    /// `CODECS` and MSE.
    pub codec_string: String,
    /// Ticks of one frame when nothing follows it (AAC 1024, Opus 960; video 3000, 30 fps).
    pub default_duration: u32,
    /// The sequence header's tag body it was made from (a different one is a new configuration).
    pub(crate) config: Vec<u8>,
}

/// Decodes `record` as the body of a box of type `kind` with `mp4-atom`.
fn decode_record<T: Decode>(kind: &[u8; 4], record: &[u8]) -> Result<T, Mp4Error> {
    let size = u32::try_from(record.len() + 8)
        .map_err(|_| Mp4Error::MalformedTag("configuration record too large".into()))?;
    let mut atom = Vec::with_capacity(record.len() + 8);
    atom.extend_from_slice(&size.to_be_bytes());
    atom.extend_from_slice(kind);
    atom.extend_from_slice(record);
    T::decode(&mut Cursor::new(atom.as_slice()))
        .map_err(|e| Mp4Error::MalformedTag(format!("{}: {e}", String::from_utf8_lossy(kind))))
}

/// `max_frame_width` and `max_frame_height` of the sequence header OBU among an av1C's
/// configOBUs (AV1 spec §5.5.1), with `scuffle-av1`.
fn av1_dimensions(config_obus: &[u8]) -> Option<(u16, u16)> {
    guarded(|| {
        let mut cursor = Cursor::new(config_obus);
        let header = scuffle_av1::ObuHeader::parse(&mut cursor).ok()?;
        if header.obu_type != scuffle_av1::ObuType::SequenceHeader {
            return None;
        }
        let seq = scuffle_av1::seq::SequenceHeaderObu::parse(header, &mut cursor).ok()?;
        Some((u16::try_from(seq.max_frame_width).ok()?, u16::try_from(seq.max_frame_height).ok()?))
    })
}

/// RFC 6381 string of AV1 (AV1-ISOBMFF §5: `av01.P.LLT.DD`).
fn av1_codec_string(c: &Av1c) -> String {
    let depth = if c.twelve_bit { 12 } else if c.high_bitdepth { 10 } else { 8 };
    format!("av01.{}.{:02}{}.{:02}", c.seq_profile, c.seq_level_idx_0, if c.seq_tier_0 { 'H' } else { 'M' }, depth)
}

fn visual(width: u16, height: u16) -> Visual {
    Visual {
        width,
        height,
        ..Visual::default()
    }
}

/// Runs a third-party bitstream parser on publisher input: a panic in it is a missing size
/// instead of a crash (Rust never panics across N-API).
fn guarded<T>(parse: impl FnOnce() -> Option<T> + std::panic::UnwindSafe) -> Option<T> {
    std::panic::catch_unwind(parse).ok().flatten()
}

/// Width and height of an H.264 SPS NAL unit (ITU-T H.264 §7.3.2.1.1, cropping applied).
fn avc_dimensions(sps: &[u8]) -> Option<(u16, u16)> {
    // h264-reader 0.9's decode_nal panics below 2 bytes; an SPS has at least 4
    if sps.len() < 4 {
        return None;
    }
    guarded(|| avc_dimensions_unguarded(sps))
}

fn avc_dimensions_unguarded(sps: &[u8]) -> Option<(u16, u16)> {
    let rbsp = h264_reader::rbsp::decode_nal(sps).ok()?;
    let sps = h264_reader::nal::sps::SeqParameterSet::from_bits(h264_reader::rbsp::BitReader::new(
        &*rbsp,
    ))
    .ok()?;
    let (w, h) = sps.pixel_dimensions().ok()?;
    Some((u16::try_from(w).ok()?, u16::try_from(h).ok()?))
}

/// Width and height of an H.265 SPS NAL unit (ITU-T H.265 §7.3.2.2, conformance window applied).
fn hevc_dimensions(sps: &[u8]) -> Option<(u16, u16)> {
    guarded(|| hevc_dimensions_unguarded(sps))
}

fn hevc_dimensions_unguarded(sps: &[u8]) -> Option<(u16, u16)> {
    let sps = scuffle_h265::SpsNALUnit::parse(Cursor::new(sps)).ok()?;
    Some((
        u16::try_from(sps.rbsp.cropped_width()).ok()?,
        u16::try_from(sps.rbsp.cropped_height()).ok()?,
    ))
}

impl Track {
    /// A video track from a sequence header tag body (legacy AVC/HEVC or Enhanced RTMP
    /// `avc1`/`hvc1`/`av01`/`vp09`/`vp08`). Errors: [`Mp4Error::MalformedTag`] (not a sequence header,
    /// a record that does not parse), [`Mp4Error::UnsupportedCodec`] (legacy codecs: Sorenson,
    /// VP6, screen video).
    pub fn video(body: &[u8]) -> Result<Track, Mp4Error> {
        let header = VideoTagHeader::parse(body)
            .ok_or_else(|| Mp4Error::MalformedTag("video tag header truncated".into()))?;
        if !header.is_sequence_header {
            return Err(Mp4Error::MalformedTag("not a video sequence header".into()));
        }
        let record = body.get(header.data_offset..).unwrap_or_default();
        let (codec, width, height, codec_string) = match header.codec {
            VideoCodec::Avc => {
                let avcc: Avcc = decode_record(b"avcC", record)?;
                let parsed = AvcDecoderConfigurationRecord::parse(record)
                    .ok_or_else(|| Mp4Error::MalformedTag("avcC".into()))?;
                let (w, h) = avcc
                    .sequence_parameter_sets
                    .first()
                    .and_then(|s| avc_dimensions(s))
                    .unwrap_or((0, 0));
                (
                    Codec::Avc1(Avc1 {
                        visual: visual(w, h),
                        avcc,
                        ..Avc1::default()
                    }),
                    w,
                    h,
                    parsed.codec_string(),
                )
            }
            VideoCodec::Hevc => {
                let hvcc: Hvcc = decode_record(b"hvcC", record)?;
                let parsed = HevcDecoderConfigurationRecord::parse(record)
                    .ok_or_else(|| Mp4Error::MalformedTag("hvcC".into()))?;
                let (w, h) = parsed
                    .sps
                    .first()
                    .and_then(|s| hevc_dimensions(s))
                    .unwrap_or((0, 0));
                (
                    Codec::Hvc1(Hvc1 {
                        visual: visual(w, h),
                        hvcc,
                        ..Hvc1::default()
                    }),
                    w,
                    h,
                    parsed.codec_string(),
                )
            }
            VideoCodec::Av1 => {
                // Enhanced RTMP `av01` SequenceStart: the AV1CodecConfigurationRecord (AV1-ISOBMFF §2.3)
                let av1c: Av1c = decode_record(b"av1C", record)?;
                let codec_string = av1_codec_string(&av1c);
                let (w, h) = av1_dimensions(&av1c.config_obus).unwrap_or((0, 0));
                (Codec::Av01(Av01 { visual: visual(w, h), av1c, ..Av01::default() }), w, h, codec_string)
            }
            VideoCodec::Vp9 => {
                // Enhanced RTMP `vp09` SequenceStart: the VPCodecConfigurationRecord, the body of
                // a version-1 `vpcC` FullBox (VP Codec ISO Media File Format Binding §2.2)
                let mut full_box = vec![1, 0, 0, 0];
                full_box.extend_from_slice(record);
                let vpcc: VpcC = decode_record(b"vpcC", &full_box)?;
                let codec_string = format!("vp09.{:02}.{:02}.{:02}", vpcc.profile, vpcc.level, vpcc.bit_depth);
                (Codec::Vp09(Vp09 { visual: visual(0, 0), vpcc, ..Vp09::default() }), 0, 0, codec_string)
            }
            VideoCodec::Vp8 => {
                // Enhanced RTMP v2 `vp08` SequenceStart: a VPCodecConfigurationRecord as for `vp09`
                let mut full_box = vec![1, 0, 0, 0];
                full_box.extend_from_slice(record);
                let vpcc: VpcC = decode_record(b"vpcC", &full_box)?;
                let codec_string = format!("vp08.{:02}.{:02}.{:02}", vpcc.profile, vpcc.level, vpcc.bit_depth);
                (Codec::Vp08(Vp08 { visual: visual(0, 0), vpcc, ..Vp08::default() }), 0, 0, codec_string)
            }
            other => return Err(Mp4Error::UnsupportedCodec(format!("video {other:?}"))),
        };
        Ok(Track {
            kind: TrackKind::Video,
            timescale: VIDEO_TIMESCALE,
            codec,
            width,
            height,
            codec_string,
            default_duration: 3000,
            config: body.to_vec(),
        })
    }

    /// An audio track from a sequence header tag body: AAC (`AACPacketType` 0, the
    /// AudioSpecificConfig) or Enhanced RTMP Opus (SequenceStart, the RFC 7845 §5.1 ID header).
    /// Errors as [`video`](Self::video).
    pub fn audio(body: &[u8]) -> Result<Track, Mp4Error> {
        let header = AudioTagHeader::parse(body)
            .ok_or_else(|| Mp4Error::MalformedTag("audio tag header truncated".into()))?;
        if !header.is_sequence_header {
            return Err(Mp4Error::MalformedTag(
                "not an audio sequence header".into(),
            ));
        }
        let config = body.get(header.data_offset..).unwrap_or_default();
        // legacy AAC (sound format 10) or Enhanced RTMP v2 `mp4a`: an AudioSpecificConfig
        if header.sound_format == SOUND_AAC || header.fourcc == Some(*b"mp4a") {
            let asc = AudioSpecificConfig::parse(config)
                .ok_or_else(|| Mp4Error::MalformedTag("AudioSpecificConfig".into()))?;
            if asc.sample_rate == 0 || config.len() < 2 {
                return Err(Mp4Error::MalformedTag(
                    "AudioSpecificConfig without a sample rate".into(),
                ));
            }
            let mut esds = Esds::default();
            esds.es_desc.es_id = 2;
            let dc = &mut esds.es_desc.dec_config;
            dc.object_type_indication = 0x40; // Audio ISO/IEC 14496-3
            dc.stream_type = 5; // AudioStream
            dc.up_stream = 0;
            dc.dec_specific = Some(mp4_atom::esds::DecoderSpecific {
                profile: config[0] >> 3,
                freq_index: ((config[0] & 0x07) << 1) | (config[1] >> 7),
                chan_conf: (config[1] >> 3) & 0x0F,
                raw: config.to_vec(),
            });
            let audio = Audio {
                data_reference_index: 1,
                channel_count: u16::from(asc.channels.max(1)),
                sample_size: 16,
                sample_rate: (asc.sample_rate.min(65_535) as u16).into(),
            };
            return Ok(Track {
                kind: TrackKind::Audio,
                timescale: asc.sample_rate,
                codec: Codec::Mp4a(Mp4a {
                    audio,
                    esds,
                    btrt: None,
                    taic: None,
                }),
                width: 0,
                height: 0,
                codec_string: asc.codec_string(),
                default_duration: 1024,
                config: body.to_vec(),
            });
        }
        if header.is_opus() {
            // RFC 7845 §5.1: "OpusHead", version, channel count, pre-skip (LE), input sample
            // rate (LE), output gain (LE), channel mapping family.
            if config.len() < 19 || &config[..8] != b"OpusHead" {
                return Err(Mp4Error::MalformedTag("Opus ID header".into()));
            }
            if config[18] != 0 {
                return Err(Mp4Error::UnsupportedCodec(format!(
                    "Opus channel mapping family {}",
                    config[18]
                )));
            }
            let channels = config[9];
            let dops = Dops {
                output_channel_count: channels,
                pre_skip: u16::from_le_bytes([config[10], config[11]]),
                input_sample_rate: u32::from_le_bytes([
                    config[12], config[13], config[14], config[15],
                ]),
                output_gain: i16::from_le_bytes([config[16], config[17]]),
                channel_mapping: None,
            };
            let audio = Audio {
                data_reference_index: 1,
                channel_count: u16::from(channels.max(1)),
                sample_size: 16,
                sample_rate: 48_000u16.into(),
            };
            return Ok(Track {
                kind: TrackKind::Audio,
                timescale: 48_000,
                codec: Codec::Opus(Opus {
                    audio,
                    dops,
                    btrt: None,
                }),
                width: 0,
                height: 0,
                codec_string: "opus".into(),
                default_duration: 960,
                config: body.to_vec(),
            });
        }
        if header.fourcc == Some(*b"fLaC") {
            return flac_track(config, body);
        }
        Err(Mp4Error::UnsupportedCodec(format!(
            "FLV sound format {}",
            header.sound_format
        )))
    }
}

impl Track {
    /// An audio track from a coded frame of a codec without a sequence start: Enhanced RTMP v2
    /// `ac-3` and `ec-3` (see [`crate::ac3`]). `Ok(None)` for any other tag (those are configured
    /// by their sequence header). Errors: [`Mp4Error::MalformedTag`].
    pub fn audio_from_frame(body: &[u8]) -> Result<Option<Track>, Mp4Error> {
        let Some(header) = AudioTagHeader::parse(body) else {
            return Err(Mp4Error::MalformedTag("audio tag header truncated".into()));
        };
        let e_ac3 = match header.fourcc.as_ref() {
            Some(b"ac-3") => false,
            Some(b"ec-3") => true,
            _ => return Ok(None),
        };
        if header.packet_type != Some(1) {
            return Ok(None);
        }
        let c = crate::ac3::frame_config(body.get(header.data_offset..).unwrap_or_default(), e_ac3)?;
        Ok(Some(Track {
            kind: TrackKind::Audio,
            timescale: c.sample_rate,
            codec: c.codec,
            width: 0,
            height: 0,
            codec_string: c.codec_string.into(),
            default_duration: c.samples_per_frame,
            config: c.config,
        }))
    }
}

/// Enhanced RTMP v2 `fLaC` SequenceStart: "fLaC", then the STREAMINFO metadata block (RFC 9639
/// §8.1–8.2); the `dfLa` box holds the metadata blocks after a FullBox header ("Encapsulation
/// of FLAC in ISO BMFF" §3.3.2).
fn flac_track(config: &[u8], body: &[u8]) -> Result<Track, Mp4Error> {
    if config.len() < 4 + 4 + 34 || &config[..4] != b"fLaC" {
        return Err(Mp4Error::MalformedTag("FLAC sequence start".into()));
    }
    let mut full_box = vec![0, 0, 0, 0];
    full_box.extend_from_slice(&config[4..]);
    let dfla: Dfla = decode_record(b"dfLa", &full_box)?;
    let Some(FlacMetadataBlock::StreamInfo { sample_rate, num_channels_minus_one, bits_per_sample_minus_one, maximum_block_size, .. }) = dfla.blocks.first().cloned() else {
        return Err(Mp4Error::MalformedTag("FLAC sequence start without STREAMINFO".into()));
    };
    if sample_rate == 0 {
        return Err(Mp4Error::MalformedTag("FLAC STREAMINFO without a sample rate".into()));
    }
    let audio = Audio {
        data_reference_index: 1,
        channel_count: u16::from(num_channels_minus_one) + 1,
        sample_size: u16::from(bits_per_sample_minus_one) + 1,
        sample_rate: (sample_rate.min(65_535) as u16).into(),
    };
    Ok(Track {
        kind: TrackKind::Audio,
        timescale: sample_rate,
        codec: Codec::Flac(Flac { audio, dfla }),
        width: 0,
        height: 0,
        codec_string: "flac".into(),
        default_duration: u32::from(maximum_block_size.max(1)),
        config: body.to_vec(),
    })
}
