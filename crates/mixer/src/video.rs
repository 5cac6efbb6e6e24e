//! [`VideoMixer`]: each input's H.264 or VP8 decoded as it comes, the pictures due at each output
//! tick composed into the layout, the canvas encoded once.

use std::collections::VecDeque;

use sluice_rtmp::flv::{VideoCodec, VideoTagHeader};

use crate::h264::{EncodedVideo, EncoderSettings, H264Decoder, H264Encoder};
use crate::layout::{Layout, Rect};
use crate::picture::{Picture, Scaler, Yuv};
#[cfg(feature = "vp8")]
use crate::vp8::Vp8Decoder;
use crate::MixError;

/// Decoded pictures kept per input ahead of the output, at most; older ones are dropped.
const MAX_QUEUED_PICTURES: usize = 16;

/// An input's decoder, of the codec its sequence header named.
enum Decoder {
    H264(H264Decoder),
    #[cfg(feature = "vp8")]
    Vp8(Vp8Decoder),
}

struct Input {
    id: u32,
    /// Made by the input's sequence header, of its codec.
    decoder: Option<Decoder>,
    /// Decoded pictures with their mixer-clock times, oldest first.
    queue: VecDeque<(i64, Picture, i64)>,
    /// The picture on screen, and when it arrived (mixer clock).
    current: Option<(Picture, i64)>,
    changed: bool,
    /// The current picture scaled for its cell.
    scaled: Option<(Rect, Picture)>,
    /// Mixer-clock time of the input's last video, for the stall timeout.
    last_seen: i64,
}

/// Counters of a video mix.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VideoStats {
    /// Access units decoded, all inputs.
    pub decoded: u64,
    /// Video bodies refused or failed to decode, all inputs.
    pub errors: u64,
    /// Pictures composed and encoded.
    pub encoded: u64,
}

/// Composes video, sans-IO.
pub struct VideoMixer {
    settings: EncoderSettings,
    layout: Layout,
    background: Yuv,
    timeout_ms: i64,
    inputs: Vec<Input>,
    canvas: Picture,
    scaler: Scaler,
    encoder: H264Encoder,
    /// Counters.
    pub stats: VideoStats,
}

impl VideoMixer {
    /// A mix of `settings.width × height` on `background`; inputs without video for
    /// `timeout_ms` leave the layout. Errors: [`MixError::InvalidConfig`],
    /// [`MixError::Encode`].
    pub fn new(
        settings: EncoderSettings,
        layout: Layout,
        background: Yuv,
        timeout_ms: i64,
    ) -> Result<Self, MixError> {
        if !(16..=3840).contains(&settings.width)
            || !(16..=2160).contains(&settings.height)
            || settings.width % 2 + settings.height % 2 != 0
        {
            return Err(MixError::InvalidConfig(format!(
                "size {}x{} (even, 16x16 to 3840x2160)",
                settings.width, settings.height
            )));
        }
        if !(1.0..=60.0).contains(&settings.frame_rate) {
            return Err(MixError::InvalidConfig(format!(
                "frame rate {} (1 to 60)",
                settings.frame_rate
            )));
        }
        if !(50_000..=50_000_000).contains(&settings.bitrate) {
            return Err(MixError::InvalidConfig(format!(
                "video bitrate {} (50 kbit/s to 50 Mbit/s)",
                settings.bitrate
            )));
        }
        Ok(VideoMixer {
            encoder: H264Encoder::new(&settings)?,
            canvas: Picture::filled(settings.width, settings.height, background),
            settings,
            layout,
            background,
            timeout_ms,
            inputs: Vec::new(),
            scaler: Scaler::default(),
            stats: VideoStats::default(),
        })
    }

    /// Adds an input at the end of the layout order (no-op when `id` is there).
    pub fn add_input(&mut self, id: u32) -> Result<(), MixError> {
        if self.inputs.iter().all(|i| i.id != id) {
            self.inputs.push(Input {
                id,
                decoder: None,
                queue: VecDeque::new(),
                current: None,
                changed: false,
                scaled: None,
                last_seen: i64::MIN / 2,
            });
        }
        Ok(())
    }

    /// Removes an input: its cell goes at the next picture.
    pub fn remove_input(&mut self, id: u32) {
        self.inputs.retain(|i| i.id != id);
    }

    /// Changes the layout from the next picture on.
    pub fn set_layout(&mut self, layout: Layout) {
        self.layout = layout;
        for i in &mut self.inputs {
            i.scaled = None;
        }
    }

    /// The next picture is a keyframe (a new viewer, a PLI).
    pub fn request_keyframe(&mut self) {
        self.encoder.request_keyframe();
    }

    /// Takes an FLV video tag body of input `id` shown at `at_ms` on the mixer clock, arrived at
    /// `now_ms`: a sequence header (AVC record, or Enhanced RTMP `vp08` SequenceStart) makes
    /// the input's decoder, a frame is decoded.
    ///
    /// Errors concern this body only: [`MixError::UnknownInput`], [`MixError::UnsupportedInput`]
    /// (truncated, a codec other than H.264, a frame before its sequence header),
    /// [`MixError::Decode`].
    pub fn push(&mut self, id: u32, body: &[u8], at_ms: i64, now_ms: i64) -> Result<(), MixError> {
        let result = self.push_inner(id, body, at_ms, now_ms);
        match &result {
            Ok(true) => self.stats.decoded += 1,
            Ok(false) => {}
            Err(_) => self.stats.errors += 1,
        }
        result.map(|_| ())
    }

    fn push_inner(
        &mut self,
        id: u32,
        body: &[u8],
        at_ms: i64,
        now_ms: i64,
    ) -> Result<bool, MixError> {
        let input = self
            .inputs
            .iter_mut()
            .find(|i| i.id == id)
            .ok_or(MixError::UnknownInput(id))?;
        let h = VideoTagHeader::parse(body)
            .ok_or_else(|| MixError::UnsupportedInput("video tag header truncated".into()))?;
        if !matches!(h.codec, VideoCodec::Avc | VideoCodec::Vp8) {
            return Err(MixError::UnsupportedInput(format!(
                "video codec {:?} (H.264 or VP8 only)",
                h.codec
            )));
        }
        let data = body.get(h.data_offset..).unwrap_or_default();
        if h.is_sequence_header {
            input.decoder = Some(match h.codec {
                #[cfg(feature = "vp8")]
                VideoCodec::Vp8 => Decoder::Vp8(Vp8Decoder::new()?),
                #[cfg(not(feature = "vp8"))]
                VideoCodec::Vp8 => {
                    return Err(MixError::UnsupportedInput(
                        "VP8: this build has no VP8 decoder (cargo feature vp8, libvpx)".into(),
                    ))
                }
                _ => {
                    let mut d = H264Decoder::new()?;
                    d.configure(data)?;
                    Decoder::H264(d)
                }
            });
            return Ok(false);
        }
        if h.is_end_of_sequence || data.is_empty() {
            return Ok(false);
        }
        input.last_seen = now_ms;
        let picture = match (&mut input.decoder, h.codec) {
            (Some(Decoder::H264(d)), VideoCodec::Avc) => d.decode(data)?,
            #[cfg(feature = "vp8")]
            (Some(Decoder::Vp8(d)), VideoCodec::Vp8) => d.decode(data)?,
            _ => {
                return Err(MixError::UnsupportedInput(
                    "video frame before its sequence header".into(),
                ))
            }
        };
        if let Some(picture) = picture {
            input
                .queue
                .push_back((at_ms + i64::from(h.composition_time), picture, now_ms));
            if input.queue.len() > MAX_QUEUED_PICTURES {
                input.queue.pop_front();
            }
        }
        Ok(true)
    }

    /// Composes the picture shown at `at_ms` (mixer clock) and encodes it. Returns the encoded
    /// access unit (if the encoder gave one) and the arrival time of the newest input picture
    /// it shows for the first time (for the mix latency), or `None`.
    pub fn compose(
        &mut self,
        at_ms: i64,
        now_ms: i64,
        encode_timestamp_ms: u64,
    ) -> Result<(Option<EncodedVideo>, Option<i64>), MixError> {
        let mut newest: Option<i64> = None;
        for input in &mut self.inputs {
            while input.queue.front().is_some_and(|(t, _, _)| *t <= at_ms) {
                if let Some((_, picture, arrived)) = input.queue.pop_front() {
                    input.current = Some((picture, arrived));
                    input.changed = true;
                }
            }
            if input.changed {
                if let Some((_, arrived)) = &input.current {
                    newest = Some(newest.map_or(*arrived, |n: i64| n.max(*arrived)));
                }
            }
        }
        let timeout = self.timeout_ms;
        let visible: Vec<usize> = (0..self.inputs.len())
            .filter(|&k| {
                self.inputs[k].current.is_some() && now_ms - self.inputs[k].last_seen <= timeout
            })
            .collect();
        let full = Rect {
            x: 0,
            y: 0,
            width: self.canvas.width(),
            height: self.canvas.height(),
        };
        self.canvas.fill(full, self.background);
        let cells = self
            .layout
            .cells(visible.len(), (self.settings.width, self.settings.height));
        for (&k, cell) in visible.iter().zip(cells) {
            let input = &mut self.inputs[k];
            let Some((picture, _)) = &input.current else {
                continue;
            };
            let fit = cell.fit((picture.width(), picture.height()));
            if fit.width == 0 || fit.height == 0 {
                continue;
            }
            let stale = input.changed || input.scaled.as_ref().is_none_or(|(r, _)| *r != fit);
            if stale {
                input.scaled = Some((fit, self.scaler.scale(picture, fit.width, fit.height)));
            }
            if let Some((r, scaled)) = &input.scaled {
                self.canvas.blit(scaled, *r);
            }
        }
        for input in &mut self.inputs {
            input.changed = false;
        }
        let encoded = self.encoder.encode(&self.canvas, encode_timestamp_ms)?;
        self.stats.encoded += 1;
        Ok((encoded, newest))
    }

    /// The canvas as last composed.
    pub fn canvas(&self) -> &Picture {
        &self.canvas
    }

    /// Inputs now in the layout at `now_ms`.
    pub fn visible(&self, now_ms: i64) -> usize {
        self.inputs
            .iter()
            .filter(|i| i.current.is_some() && now_ms - i.last_seen <= self.timeout_ms)
            .count()
    }
}
