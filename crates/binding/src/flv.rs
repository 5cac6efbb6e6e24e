//! FLV tag and codec configuration parsing for the TS hub (called on sequence headers, not per
//! frame).

use napi_derive::napi;
use sluice_rtmp::flv::{
    AudioSpecificConfig, AudioTagHeader, AvcDecoderConfigurationRecord, VideoCodec, VideoTagHeader,
};

/// What a sequence header says about the codec.
#[napi(object)]
pub struct CodecInfo {
    /// `"H264"`, `"H265"`, `"AV1"`, `"VP9"`, `"AAC"`, `"MP3"`, `"Opus"`, `"FLAC"`, `"AC-3"`,
    /// `"E-AC-3"`, or `"flv-<id>"`.
    pub codec: String,
    /// RFC 6381 codec string when known (`avc1.64001f`, `mp4a.40.2`).
    pub codec_string: Option<String>,
    /// Audio sample rate in Hz.
    pub sample_rate: Option<u32>,
    /// Audio channel count.
    pub channels: Option<u32>,
    /// H.264 profile_idc.
    pub profile: Option<u32>,
    /// H.264 level_idc.
    pub level: Option<u32>,
    /// Enhanced RTMP v2: the message is for other tracks than the default track 0 alone
    /// (multitrack: not OneTrack, or a OneTrack message of a track other than 0).
    pub other_tracks: bool,
    /// Enhanced RTMP v2: the multitrack message's first track id (0 when not multitrack).
    pub track_id: u32,
}

fn other_tracks(m: Option<sluice_rtmp::flv::Multitrack>) -> (bool, u32) {
    m.map_or((false, 0), |m| (!m.is_default_track_only(), u32::from(m.first_track_id)))
}

/// Describes the codec of a video message body (FLV §E.4.3.1 / Enhanced RTMP), reading the
/// AVCDecoderConfigurationRecord when it is a sequence header. `null` when too short.
#[napi(js_name = "describeVideoTag")]
pub fn describe_video_tag(body: &[u8]) -> Option<CodecInfo> {
    let h = VideoTagHeader::parse(body)?;
    let codec = match h.codec {
        VideoCodec::Avc => "H264".to_string(),
        VideoCodec::Hevc => "H265".to_string(),
        VideoCodec::Av1 => "AV1".to_string(),
        VideoCodec::Vp9 => "VP9".to_string(),
        VideoCodec::Vp8 => "VP8".to_string(),
        VideoCodec::Other(id) => format!("flv-{id}"),
        _ => "unknown".to_string(),
    };
    let record = if h.codec == VideoCodec::Avc && h.is_sequence_header {
        body.get(h.data_offset..)
            .and_then(AvcDecoderConfigurationRecord::parse)
    } else {
        None
    };
    let (other_tracks, track_id) = other_tracks(h.multitrack);
    Some(CodecInfo {
        codec,
        codec_string: record.as_ref().map(|r| r.codec_string()),
        sample_rate: None,
        channels: None,
        profile: record.as_ref().map(|r| r.profile as u32),
        level: record.as_ref().map(|r| r.level as u32),
        other_tracks,
        track_id,
    })
}

/// Describes the codec of an audio message body (FLV §E.4.2.1, Enhanced RTMP v2 `Opus`), reading
/// the AudioSpecificConfig of an AAC sequence header and the ID header (RFC 7845 §5.1) of an Opus
/// sequence start. `null` when too short.
#[napi(js_name = "describeAudioTag")]
pub fn describe_audio_tag(body: &[u8]) -> Option<CodecInfo> {
    let h = AudioTagHeader::parse(body)?;
    let (other_tracks, track_id) = other_tracks(h.multitrack);
    let codec = match h.sound_format {
        10 => "AAC".to_string(),
        2 | 14 => "MP3".to_string(),
        9 => match h.fourcc.as_ref() {
            Some(b"Opus") => "Opus".to_string(),
            Some(b"fLaC") => "FLAC".to_string(),
            Some(b"ac-3") => "AC-3".to_string(),
            Some(b"ec-3") => "E-AC-3".to_string(),
            Some(b"mp4a") => "AAC".to_string(),
            Some(b".mp3") => "MP3".to_string(),
            Some(other) => String::from_utf8_lossy(other).into_owned(),
            None => "flv-9".to_string(),
        },
        id => format!("flv-{id}"),
    };
    let asc = if h.sound_format == 10 && h.is_sequence_header {
        body.get(h.data_offset..)
            .and_then(AudioSpecificConfig::parse)
    } else {
        None
    };
    if h.is_opus() {
        // Opus always runs at 48 kHz; the channel count is in the ID header of a sequence start.
        let channels = body
            .get(h.data_offset..)
            .filter(|_| h.is_sequence_header)
            .and_then(sluice_mpegts::opus::opus_head_channels);
        return Some(CodecInfo {
            codec,
            codec_string: Some("opus".into()),
            sample_rate: Some(48_000),
            channels: Some(channels.map_or(2, u32::from)),
            profile: None,
            level: None,
            other_tracks,
            track_id,
        });
    }
    let rates = [5512u32, 11025, 22050, 44100];
    Some(CodecInfo {
        codec,
        codec_string: asc.as_ref().map(|a| a.codec_string()),
        sample_rate: Some(asc.map_or(rates[h.sound_rate as usize & 3], |a| a.sample_rate)),
        channels: Some(asc.map_or(h.sound_type as u32 + 1, |a| a.channels as u32)),
        profile: None,
        level: None,
        other_tracks,
        track_id,
    })
}

/// The first SPS and PPS of an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.2.4.1).
#[napi(object)]
pub struct AvcParameterSets {
    /// Sequence parameter set NAL unit (no start code or length).
    pub sps: napi::bindgen_prelude::Buffer,
    /// Picture parameter set NAL unit (no start code or length).
    pub pps: napi::bindgen_prelude::Buffer,
}

/// The first SPS and PPS of an AVCDecoderConfigurationRecord (the FLV AVC sequence header body
/// after its 5-byte tag header); `null` when truncated, not version 1, or without one of them.
#[napi(js_name = "avcParameterSets")]
pub fn avc_parameter_sets(record: &[u8]) -> Option<AvcParameterSets> {
    let r = AvcDecoderConfigurationRecord::parse(record)?;
    Some(AvcParameterSets {
        sps: r.sps.into_iter().next()?.into(),
        pps: r.pps.into_iter().next()?.into(),
    })
}

/// An AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.2.4.1, 4-byte NAL unit lengths) for
/// one SPS and one PPS; `null` when the SPS is shorter than 4 bytes or a set exceeds 65 535.
#[napi(js_name = "avcDecoderConfigurationRecord")]
pub fn avc_decoder_configuration_record(
    sps: &[u8],
    pps: &[u8],
) -> Option<napi::bindgen_prelude::Buffer> {
    AvcDecoderConfigurationRecord::from_parameter_sets(sps, pps).map(|r| r.to_bytes().into())
}

/// An AVC keyframe's FLV tag body with its stream's SPS and PPS put in-band, ahead of its NAL
/// units: `keyframe` is an FLV AVC NALU body (5-byte header, then NAL units with the lengths
/// of the record), `sequenceHeader` the AVC sequence header body (5-byte header, then the
/// AVCDecoderConfigurationRecord, ISO/IEC 14496-15 §5.2.4.1). Parsers that read parameter sets
/// only from the first sequence header (ffmpeg's, in a stream copy) then follow a change of
/// configuration at a switch. `null` when either body is not what it should be.
#[napi(js_name = "avcKeyframeWithParameterSets")]
pub fn avc_keyframe_with_parameter_sets(
    keyframe: &[u8],
    sequence_header: &[u8],
) -> Option<napi::bindgen_prelude::Buffer> {
    let h = VideoTagHeader::parse(keyframe)?;
    let s = VideoTagHeader::parse(sequence_header)?;
    if h.codec != VideoCodec::Avc
        || s.codec != VideoCodec::Avc
        || !s.is_sequence_header
        || h.is_sequence_header
    {
        return None;
    }
    let record = AvcDecoderConfigurationRecord::parse(sequence_header.get(s.data_offset..)?)?;
    let length_size = usize::from(record.nalu_length_size);
    if !(1..=4).contains(&length_size) {
        return None;
    }
    let mut out = keyframe.get(..h.data_offset)?.to_vec();
    for set in record.sps.iter().chain(&record.pps) {
        if length_size < 4 && set.len() >> (8 * length_size) != 0 {
            return None;
        }
        let len = set.len().to_be_bytes();
        out.extend_from_slice(len.get(len.len() - length_size..)?);
        out.extend_from_slice(set);
    }
    out.extend_from_slice(keyframe.get(h.data_offset..)?);
    Some(out.into())
}
