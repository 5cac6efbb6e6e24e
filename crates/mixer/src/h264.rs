//! H.264 through OpenH264: [`H264Decoder`] takes FLV AVC tag bodies (length-prefixed NAL
//! units, ISO/IEC 14496-15 §5.3.4.2) and gives [`Picture`]s; [`H264Encoder`] takes pictures and
//! gives length-prefixed access units plus, when they change, an
//! AVCDecoderConfigurationRecord (§5.2.4.1) for the FLV sequence header.

use openh264::decoder::{DecodedYUV, Decoder, DecoderConfig};
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, IntraFramePeriod, RateControlMode,
    SpsPpsStrategy, UsageType,
};
use openh264::formats::{YUVSlices, YUVSource};
use openh264::{OpenH264API, Timestamp};
use sluice_mpegts::{avcc_to_annexb, AnnexBReader, VideoCodec};
use sluice_rtmp::flv::AvcDecoderConfigurationRecord;

use crate::picture::Picture;
use crate::MixError;

/// Largest accepted access unit, bytes: 4 MiB bounds a 1080p intra frame many times over.
pub const MAX_ACCESS_UNIT_BYTES: usize = 4 << 20;

/// Decodes one input's H.264 (Baseline, Main or High profile, 8-bit 4:2:0).
pub struct H264Decoder {
    decoder: Decoder,
    length_size: usize,
    /// SPS and PPS from the sequence header, put ahead of each IDR access unit that lacks them.
    sets: Vec<Vec<u8>>,
    annexb: Vec<u8>,
}

impl H264Decoder {
    /// A decoder that waits for a sequence header. Errors: [`MixError::Decode`] when OpenH264
    /// cannot be set up (not expected).
    pub fn new() -> Result<Self, MixError> {
        let decoder = Decoder::with_api_config(OpenH264API::from_source(), DecoderConfig::new())
            .map_err(|e| MixError::Decode(e.to_string()))?;
        Ok(H264Decoder {
            decoder,
            length_size: 4,
            sets: Vec::new(),
            annexb: Vec::new(),
        })
    }

    /// Takes an AVCDecoderConfigurationRecord (the FLV AVC sequence header body after its
    /// 5-byte header). Errors: [`MixError::UnsupportedInput`] when it does not parse.
    pub fn configure(&mut self, record: &[u8]) -> Result<(), MixError> {
        let r = AvcDecoderConfigurationRecord::parse(record).ok_or_else(|| {
            MixError::UnsupportedInput(
                "AVCDecoderConfigurationRecord truncated or not version 1".into(),
            )
        })?;
        self.length_size = usize::from(r.nalu_length_size).clamp(1, 4);
        self.sets = r.sps.into_iter().chain(r.pps).collect();
        Ok(())
    }

    /// Decodes one access unit (NAL units with `length_size`-byte lengths, the FLV AVC NALU
    /// body after its 5-byte header). `Ok(None)` while the decoder has no picture to give.
    ///
    /// Errors: [`MixError::UnsupportedInput`] over [`MAX_ACCESS_UNIT_BYTES`],
    /// [`MixError::Decode`] for a bitstream OpenH264 refuses (the next IDR recovers).
    pub fn decode(&mut self, access_unit: &[u8]) -> Result<Option<Picture>, MixError> {
        if access_unit.len() > MAX_ACCESS_UNIT_BYTES {
            return Err(MixError::UnsupportedInput(format!(
                "access unit of {} bytes",
                access_unit.len()
            )));
        }
        self.annexb.clear();
        avcc_to_annexb(
            VideoCodec::H264,
            access_unit,
            self.length_size,
            Some(&self.sets),
            &mut self.annexb,
        );
        let picture = self
            .decoder
            .decode(&self.annexb)
            .map_err(|e| MixError::Decode(e.to_string()))?;
        Ok(picture.map(|p: DecodedYUV<'_>| Picture::copy_from(&p)))
    }
}

/// One encoded access unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedVideo {
    /// NAL units with 4-byte lengths; an IDR access unit starts with the SPS and PPS.
    pub access_unit: Vec<u8>,
    /// An IDR picture.
    pub keyframe: bool,
    /// The AVCDecoderConfigurationRecord, when the parameter sets are new or changed (send
    /// it as a sequence header ahead of this access unit).
    pub record: Option<Vec<u8>>,
}

/// The encoder's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EncoderSettings {
    /// Output size in px (even).
    pub width: u32,
    /// Output size in px (even).
    pub height: u32,
    /// Frames per second.
    pub frame_rate: f32,
    /// Target bitrate, bits/s.
    pub bitrate: u32,
    /// Frames between IDR pictures (a keyframe is also made on request).
    pub keyframe_interval: u32,
}

/// Encodes the mix once: OpenH264, constrained baseline, bitrate rate control (which may skip
/// a picture when the rate buffer overflows, as WebRTC's use of OpenH264 does; `encode` then
/// gives nothing for it), one thread, low complexity (real-time).
pub struct H264Encoder {
    encoder: Encoder,
    reader: AnnexBReader,
    bitstream: Vec<u8>,
}

impl H264Encoder {
    /// Errors: [`MixError::Encode`] when OpenH264 refuses the settings.
    pub fn new(s: &EncoderSettings) -> Result<Self, MixError> {
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(s.bitrate))
            .max_frame_rate(FrameRate::from_hz(s.frame_rate))
            .rate_control_mode(RateControlMode::Bitrate)
            .skip_frames(true)
            .usage_type(UsageType::CameraVideoRealTime)
            .complexity(Complexity::Low)
            .sps_pps_strategy(SpsPpsStrategy::ConstantId)
            .intra_frame_period(IntraFramePeriod::from_num_frames(s.keyframe_interval))
            .num_threads(1);
        let encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| MixError::Encode(e.to_string()))?;
        Ok(H264Encoder {
            encoder,
            reader: AnnexBReader::new(VideoCodec::H264),
            bitstream: Vec::new(),
        })
    }

    /// The next picture is an IDR picture.
    pub fn request_keyframe(&mut self) {
        self.encoder.force_intra_frame();
    }

    /// Encodes `picture` shown at `timestamp_ms`. `Ok(None)` when the encoder produced nothing
    /// for it. Errors: [`MixError::Encode`].
    pub fn encode(
        &mut self,
        picture: &Picture,
        timestamp_ms: u64,
    ) -> Result<Option<EncodedVideo>, MixError> {
        let (w, h) = (picture.width() as usize, picture.height() as usize);
        let (y, u, v) = picture.planes();
        let source = YUVSlices::new((y, u, v), (w, h), (w, w / 2, w / 2));
        debug_assert_eq!(source.dimensions(), (w, h));
        let stream = self
            .encoder
            .encode_at(&source, Timestamp::from_millis(timestamp_ms))
            .map_err(|e| MixError::Encode(e.to_string()))?;
        self.bitstream.clear();
        stream.write_vec(&mut self.bitstream);
        let Some(au) = self.reader.read(&self.bitstream) else {
            return Ok(None);
        };
        let record = if au.parameter_sets_changed {
            self.reader
                .parameter_sets()
                .and_then(|sets| {
                    AvcDecoderConfigurationRecord::from_parameter_sets(sets[0], sets[1])
                })
                .map(|r| r.to_bytes())
        } else {
            None
        };
        // Parameter sets in-band ahead of every IDR picture as well: a stream switched to the
        // mix (co-hosting) keeps its player's parser on the mix's configuration.
        let mut access_unit = au.avcc;
        if au.keyframe {
            if let Some(sets) = self.reader.parameter_sets() {
                let mut with_sets = Vec::with_capacity(access_unit.len() + 64);
                for set in sets {
                    with_sets.extend_from_slice(&(set.len() as u32).to_be_bytes());
                    with_sets.extend_from_slice(set);
                }
                with_sets.extend_from_slice(&access_unit);
                access_unit = with_sets;
            }
        }
        Ok(Some(EncodedVideo {
            access_unit,
            keyframe: au.keyframe,
            record,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::picture::BLACK;

    #[test]
    fn an_encoded_picture_decodes_to_the_same_colours() {
        let mut enc = H264Encoder::new(&EncoderSettings {
            width: 64,
            height: 48,
            frame_rate: 30.0,
            bitrate: 500_000,
            keyframe_interval: 60,
        })
        .unwrap();
        let mut picture = Picture::filled(64, 48, BLACK);
        let red = [81, 90, 240];
        picture.fill(
            crate::layout::Rect {
                x: 32,
                y: 0,
                width: 32,
                height: 48,
            },
            red,
        );
        let first = enc.encode(&picture, 0).unwrap().unwrap();
        assert!(first.keyframe);
        let record = first
            .record
            .clone()
            .expect("parameter sets with the first access unit");
        let mut dec = H264Decoder::new().unwrap();
        dec.configure(&record).unwrap();
        let out = dec.decode(&first.access_unit).unwrap().expect("a picture");
        assert_eq!((out.width(), out.height()), (64, 48));
        let close = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 6);
        assert!(close(out.pixel(48, 24), red), "{:?}", out.pixel(48, 24));
        assert!(close(out.pixel(8, 24), BLACK), "{:?}", out.pixel(8, 24));
        let second = enc.encode(&picture, 33).unwrap().unwrap();
        assert!(!second.keyframe && second.record.is_none());
        enc.request_keyframe();
        assert!(enc.encode(&picture, 66).unwrap().unwrap().keyframe);
    }

    #[test]
    fn garbage_is_an_error_or_nothing_never_a_panic() {
        let mut dec = H264Decoder::new().unwrap();
        assert!(dec.configure(&[1, 2]).is_err());
        for au in [
            &[0u8, 0, 0, 5, 0x65, 1, 2, 3, 4][..],
            &[0xFF; 64][..],
            &[][..],
        ] {
            let _ = dec.decode(au);
        }
    }
}
